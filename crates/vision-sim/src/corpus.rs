//! The key index: every object sorted by key in UTF-8 byte order, as S3 lists them, and the
//! compact description (`CorpusSpec`) tests write instead of millions of keys.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What a key is, as the generator knows it (independently of any client's key parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A daily 1m-klines `.zip` of the folder's symbol.
    Daily1m { date: NaiveDate },
    /// Anything else: CHECKSUM siblings, other intervals, stray keys.
    Other,
}

/// One object of the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    pub etag: String,
    pub kind: ObjectKind,
}

/// All objects, sorted by key.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    objects: Vec<Object>,
}

/// A compact description of a bucket: symbols with their date ranges, gaps and sizes.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CorpusSpec {
    pub symbols: Vec<SymbolSpec>,
    /// Keys served as they are (zero-byte), to check that clients ignore them.
    #[serde(default)]
    pub stray_keys: Vec<String>,
}

/// One symbol folder of a `CorpusSpec`.
#[derive(Debug, Clone, Deserialize)]
pub struct SymbolSpec {
    pub name: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// Inclusive ranges of days without a file.
    #[serde(default)]
    pub gaps: Vec<(NaiveDate, NaiveDate)>,
    /// Size of every daily file; 57 000 bytes when absent.
    #[serde(default)]
    pub size: Option<u64>,
    /// Other interval folders with the same days (`1h`, `1d`, …).
    #[serde(default)]
    pub other_intervals: Vec<String>,
}

pub const ROOT: &str = "data/futures/um/daily/klines/";

/// `<sha256 of the file's bytes>  <file name>`, with no trailing newline, as some real copies are.
pub fn checksum_body(zip_key: &str, size: u64) -> String {
    let name = zip_key.rsplit('/').next().unwrap_or(zip_key);
    let digest = Sha256::digest(zip_body(zip_key, size));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}  {name}")
}

/// The bytes served for a data file: deterministic filler of the advertised size.
pub fn zip_body(key: &str, size: u64) -> Vec<u8> {
    key.bytes().cycle().take(size as usize).collect()
}

/// When a daily file was uploaded: the next morning UTC, 06:50–08:40, varied per key.
pub fn upload_time(date: NaiveDate, salt: u64) -> DateTime<Utc> {
    let minutes = 6 * 60 + 50 + (salt % 110) as i64;
    let seconds = (salt / 110 % 60) as i64;
    Utc.from_utc_datetime(
        &(date + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default(),
    ) + Duration::minutes(minutes)
        + Duration::seconds(seconds)
}

/// FNV-1a, to vary sizes and times deterministically without a random generator.
pub fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

impl Corpus {
    pub fn from_objects(mut objects: Vec<Object>) -> Corpus {
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        objects.dedup_by(|a, b| a.key == b.key);
        Corpus { objects }
    }

    /// Builds the objects a spec describes: each day's `.zip` and its `.zip.CHECKSUM`.
    pub fn from_spec(spec: &CorpusSpec) -> Corpus {
        let mut objects = Vec::new();
        for s in &spec.symbols {
            let mut day = s.first;
            while day <= s.last {
                if !s.gaps.iter().any(|(a, b)| *a <= day && day <= *b) {
                    let key = daily_key(&s.name, "1m", day);
                    let size = s.size.unwrap_or(57_000);
                    push_file(
                        &mut objects,
                        key,
                        size,
                        upload_time(day, hash(&s.name)),
                        ObjectKind::Daily1m { date: day },
                    );
                    for interval in &s.other_intervals {
                        let key = daily_key(&s.name, interval, day);
                        push_file(
                            &mut objects,
                            key,
                            size / 40,
                            upload_time(day, 7),
                            ObjectKind::Other,
                        );
                    }
                }
                day += Duration::days(1);
            }
        }
        for key in &spec.stray_keys {
            objects.push(Object {
                key: key.clone(),
                size: 0,
                last_modified: Utc
                    .timestamp_opt(1_647_853_082, 0)
                    .single()
                    .unwrap_or_default(),
                etag: format!("{:032x}", hash(key)),
                kind: ObjectKind::Other,
            });
        }
        Corpus::from_objects(objects)
    }

    pub fn objects(&self) -> &[Object] {
        &self.objects
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Object> {
        self.objects
            .binary_search_by(|o| o.key.as_str().cmp(key))
            .ok()
            .map(|i| &self.objects[i])
    }

    /// Every daily 1m-klines file: `(symbol, object)`, in key order.
    pub fn daily_1m_files(&self) -> impl Iterator<Item = (&str, NaiveDate, &Object)> {
        self.objects.iter().filter_map(|o| match o.kind {
            ObjectKind::Daily1m { date } => {
                let symbol = o.key.strip_prefix(ROOT)?.split('/').next()?;
                Some((symbol, date, o))
            }
            ObjectKind::Other => None,
        })
    }

    /// Adds or replaces a symbol's daily 1m file (and its CHECKSUM): a late upload or a replacement.
    pub fn put_daily_file(
        &mut self,
        symbol: &str,
        date: NaiveDate,
        size: u64,
        last_modified: DateTime<Utc>,
    ) {
        let mut new = Vec::new();
        push_file(
            &mut new,
            daily_key(symbol, "1m", date),
            size,
            last_modified,
            ObjectKind::Daily1m { date },
        );
        for object in new {
            match self.objects.binary_search_by(|o| o.key.cmp(&object.key)) {
                Ok(i) => self.objects[i] = object,
                Err(i) => self.objects.insert(i, object),
            }
        }
    }

    /// Removes a symbol's daily file and its CHECKSUM (to build "not yet uploaded" states).
    pub fn remove_daily_file(&mut self, symbol: &str, date: NaiveDate) {
        let key = daily_key(symbol, "1m", date);
        self.objects
            .retain(|o| !(o.key == key || o.key == format!("{key}.CHECKSUM")));
    }

    /// The position of the first key that is `>= key`.
    pub(crate) fn lower_bound(&self, key: &str) -> usize {
        self.objects.partition_point(|o| o.key.as_str() < key)
    }

    /// The position of the first key after every key that starts with `prefix`.
    pub(crate) fn skip_prefix(&self, prefix: &str) -> usize {
        self.objects
            .partition_point(|o| o.key.as_str() < prefix || o.key.starts_with(prefix))
    }
}

pub fn daily_key(symbol: &str, interval: &str, date: NaiveDate) -> String {
    format!(
        "{ROOT}{symbol}/{interval}/{symbol}-{interval}-{}.zip",
        date.format("%Y-%m-%d")
    )
}

/// A data file and its CHECKSUM sibling.
pub fn push_file(
    objects: &mut Vec<Object>,
    key: String,
    size: u64,
    last_modified: DateTime<Utc>,
    kind: ObjectKind,
) {
    let checksum_key = format!("{key}.CHECKSUM");
    let name_len = key.rsplit('/').next().map_or(0, str::len);
    let checksum_size = (64 + 2 + name_len) as u64;
    let h = hash(&key) ^ size;
    objects.push(Object {
        key: checksum_key,
        size: checksum_size,
        last_modified,
        etag: format!("{:016x}{:016x}", h.rotate_left(7), h),
        kind: ObjectKind::Other,
    });
    objects.push(Object {
        etag: format!("{:016x}{:016x}", h, h.rotate_left(13)),
        key,
        size,
        last_modified,
        kind,
    });
}
