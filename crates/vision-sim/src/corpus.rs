//! The key index: every object sorted by key in UTF-8 byte order, as S3 lists them, and the
//! compact description (`CorpusSpec`) tests write instead of millions of keys.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::trading;

/// What a key is, as the generator knows it (independently of any client's key parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A daily 1m-klines `.zip` of the folder's symbol.
    Daily1m { date: NaiveDate },
    /// A daily 1d-klines `.zip`: a real zip holding the day's row (`trading::file_day`; after
    /// `last_trade`, a zero-trade day).
    Daily1d {
        date: NaiveDate,
        last_trade: Option<NaiveDate>,
    },
    /// A monthly 1d-klines `.zip` of the month starting `first`: the rows of the days whose bit
    /// is set in `days` (bit 0 is the 1st), as `trading::monthly_trade` writes them.
    Monthly1d {
        first: NaiveDate,
        days: u32,
        last_trade: Option<NaiveDate>,
    },
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
    /// The morning the bucket shows, for the monthly files that have appeared by then
    /// (default: today, UTC).
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
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
    /// Other interval folders with the same days (`1h`, …; `1d` files are real ones, always).
    #[serde(default)]
    pub other_intervals: Vec<String>,
    /// The last this many days of files are zero-trade days: delisted, files still coming.
    #[serde(default)]
    pub zero_trade_tail: u32,
}

pub const ROOT: &str = "data/futures/um/daily/klines/";
pub const MONTHLY_ROOT: &str = "data/futures/um/monthly/klines/";

/// `<sha256 of the file's bytes>  <file name>`, with no trailing newline, as some real copies are.
pub fn checksum_body(zip: &Object) -> String {
    digest_line(&zip.key, &object_bytes(zip))
}

/// A CHECKSUM line for `bytes` under the file name of `zip_key` (the faults use it on other
/// bytes than the file's).
pub(crate) fn digest_line(zip_key: &str, bytes: &[u8]) -> String {
    let name = zip_key.rsplit('/').next().unwrap_or(zip_key);
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{hex}  {name}")
}

/// The bytes served for a data file: a real zip for 1d klines, deterministic filler of the
/// advertised size for the rest.
pub fn object_bytes(o: &Object) -> Vec<u8> {
    match kline_file(o) {
        Some((name, csv)) => trading::zip_bytes(&name, &csv, o.size),
        None => o.key.bytes().cycle().take(o.size as usize).collect(),
    }
}

/// For a 1d-klines object: its CSV's name and its CSV.
fn kline_file(o: &Object) -> Option<(String, String)> {
    let file = o.key.rsplit('/').next()?;
    let rows = kline_rows(o)?;
    let spot = o.key.starts_with(SPOT_PREFIX);
    Some((file.replace(".zip", ".csv"), trading::csv_in(&rows, spot)))
}

/// The rows a 1d-klines object's file states, in its market's shape (COIN-M's in contracts,
/// `trading::in_contracts`); `None` for any other object. What an oracle compares a database
/// with: the corpus's own numbers.
pub fn kline_rows(o: &Object) -> Option<Vec<trading::DayTrade>> {
    let symbol = o.key.rsplit('/').nth(2)?;
    let rows: Vec<trading::DayTrade> = match o.kind {
        ObjectKind::Daily1d { date, last_trade } => {
            vec![trading::file_day(symbol, last_trade, date)]
        }
        ObjectKind::Monthly1d {
            first,
            days,
            last_trade,
        } => first
            .iter_days()
            .take(31)
            .enumerate()
            .filter(|(i, _)| days & (1 << i) != 0)
            .map(|(_, day)| trading::monthly_trade(symbol, last_trade, day))
            .collect(),
        ObjectKind::Daily1m { .. } | ObjectKind::Other => return None,
    };
    Some(if o.key.starts_with(CM_PREFIX) {
        rows.into_iter()
            .map(|t| trading::in_contracts(symbol, t))
            .collect()
    } else {
        rows
    })
}

/// Every COIN-M key starts so; its 1d rows count contracts.
const CM_PREFIX: &str = "data/futures/cm/";
/// Every spot key starts so; its 1d rows from 2025 state microseconds.
pub const SPOT_PREFIX: &str = "data/spot/";

/// The size a 1d-klines object is listed with: chosen from its key, larger than its zip can
/// be (a daily row is under 250 bytes, a month under 31 of them plus the header), and reached
/// by padding the zip's comment (`trading::zip_bytes`). Building every zip to learn its length
/// would quadruple the corpus's build time (1.2 s → 5 s for the realistic one).
pub(crate) fn kline_size(key: &str, kind: ObjectKind) -> u64 {
    let h = hash(key);
    match kind {
        ObjectKind::Monthly1d { .. } => 9_000 + h % 1_000,
        _ => 700 + h % 200,
    }
}

/// `data/futures/um/monthly/klines/{S}/1d/{S}-1d-{YYYY-MM}.zip`
pub fn monthly_1d_key(symbol: &str, first: NaiveDate) -> String {
    monthly_1d_key_in(MONTHLY_ROOT, symbol, first)
}

/// `{monthly_root}{S}/1d/{S}-1d-{YYYY-MM}.zip`, for any market's monthly klines root.
pub fn monthly_1d_key_in(monthly_root: &str, symbol: &str, first: NaiveDate) -> String {
    format!(
        "{monthly_root}{symbol}/1d/{symbol}-1d-{}.zip",
        first.format("%Y-%m")
    )
}

/// A symbol's 1d-klines files for the days of its life in `days` (sorted): a daily file each,
/// and a monthly file for each month that ended, `1 + hash % 5` days after its end, before
/// `as_of` (a month's file appears some days after it ends). Days after `last_trade` are
/// zero-trade days.
pub fn push_1d_files(
    objects: &mut Vec<Object>,
    symbol: &str,
    days: &[NaiveDate],
    last_trade: Option<NaiveDate>,
    as_of: NaiveDate,
    uploaded: impl Fn(NaiveDate) -> DateTime<Utc>,
) {
    push_1d_files_in(
        (ROOT, MONTHLY_ROOT),
        objects,
        symbol,
        days,
        last_trade,
        as_of,
        uploaded,
    );
}

/// A folder's daily 1m files of `days` (sized and timed from its name) and its daily and
/// monthly 1d files, under a market's roots: what COIN-M's and spot's generators push for each
/// folder.
pub(crate) fn push_klines_in(
    roots: (&str, &str),
    objects: &mut Vec<Object>,
    symbol: &str,
    days: &[NaiveDate],
    last_trade: Option<NaiveDate>,
    as_of: NaiveDate,
) {
    let salt = hash(symbol);
    for &d in days {
        push_file(
            objects,
            daily_key_in(roots.0, symbol, "1m", d),
            40_000 + hash(&format!("{symbol}{d}")) % 20_000,
            upload_time(d, salt),
            ObjectKind::Daily1m { date: d },
        );
    }
    push_1d_files_in(roots, objects, symbol, days, last_trade, as_of, |d| {
        upload_time(d, salt)
    });
}

/// `push_1d_files` under any market's daily and monthly klines roots.
pub fn push_1d_files_in(
    (root, monthly_root): (&str, &str),
    objects: &mut Vec<Object>,
    symbol: &str,
    days: &[NaiveDate],
    last_trade: Option<NaiveDate>,
    as_of: NaiveDate,
    uploaded: impl Fn(NaiveDate) -> DateTime<Utc>,
) {
    let mut months: Vec<(NaiveDate, u32)> = Vec::new();
    for &day in days {
        let key = daily_key_in(root, symbol, "1d", day);
        let kind = ObjectKind::Daily1d {
            date: day,
            last_trade,
        };
        let size = kline_size(&key, kind);
        push_file(objects, key, size, uploaded(day), kind);
        let first = day.with_day(1).unwrap_or(day);
        let bit = 1u32 << (day.day() - 1);
        match months.last_mut() {
            Some((m, mask)) if *m == first => *mask |= bit,
            _ => months.push((first, bit)),
        }
    }
    for (first, mask) in months {
        let last = first
            .checked_add_months(chrono::Months::new(1))
            .and_then(|n| n.pred_opt())
            .unwrap_or(first);
        let appears = last + Duration::days(1 + (hash(&format!("{symbol}{first}")) % 5) as i64);
        if appears >= as_of {
            continue;
        }
        let key = monthly_1d_key_in(monthly_root, symbol, first);
        let kind = ObjectKind::Monthly1d {
            first,
            days: mask,
            last_trade,
        };
        let size = kline_size(&key, kind);
        let at = Utc.from_utc_datetime(&appears.and_hms_opt(3, 0, 0).unwrap_or_default());
        push_file(objects, key, size, at, kind);
    }
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
    /// Both buckets' objects in one (a key in both is `self`'s): a bucket of two markets.
    pub fn merged(self, other: Corpus) -> Corpus {
        let mut objects = self.objects;
        objects.extend(other.objects);
        Corpus::from_objects(objects)
    }

    pub fn from_objects(mut objects: Vec<Object>) -> Corpus {
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        objects.dedup_by(|a, b| a.key == b.key);
        Corpus { objects }
    }

    /// Builds the objects a spec describes: each day's `.zip` and its `.zip.CHECKSUM`.
    pub fn from_spec(spec: &CorpusSpec) -> Corpus {
        let mut objects = Vec::new();
        let as_of = spec.as_of.unwrap_or_else(|| Utc::now().date_naive());
        for s in &spec.symbols {
            let mut day = s.first;
            let mut lived = Vec::new();
            while day <= s.last {
                if !s.gaps.iter().any(|(a, b)| *a <= day && day <= *b) {
                    lived.push(day);
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
            let salt = hash(&s.name);
            let last_trade = (s.zero_trade_tail > 0)
                .then(|| s.last - Duration::days(i64::from(s.zero_trade_tail)));
            push_1d_files(&mut objects, &s.name, &lived, last_trade, as_of, |d| {
                upload_time(d, salt)
            });
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
        self.daily_1m_files_in(ROOT)
    }

    /// The daily 1m files under another market's daily klines folder (`CM_ROOT`).
    pub fn daily_1m_files_in<'a>(
        &'a self,
        root: &'a str,
    ) -> impl Iterator<Item = (&'a str, NaiveDate, &'a Object)> {
        self.objects.iter().filter_map(move |o| match o.kind {
            ObjectKind::Daily1m { date } => {
                let symbol = o.key.strip_prefix(root)?.split('/').next()?;
                Some((symbol, date, o))
            }
            ObjectKind::Daily1d { .. } | ObjectKind::Monthly1d { .. } | ObjectKind::Other => None,
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

    /// Takes an object out (a CHECKSUM not uploaded, a monthly file not there yet); `insert`
    /// puts it back, as a late upload.
    pub fn remove(&mut self, key: &str) -> Option<Object> {
        let i = self
            .objects
            .binary_search_by(|o| o.key.as_str().cmp(key))
            .ok()?;
        Some(self.objects.remove(i))
    }

    /// Adds or replaces an object.
    pub fn insert(&mut self, object: Object) {
        match self.objects.binary_search_by(|o| o.key.cmp(&object.key)) {
            Ok(i) => self.objects[i] = object,
            Err(i) => self.objects.insert(i, object),
        }
    }
}

pub fn daily_key(symbol: &str, interval: &str, date: NaiveDate) -> String {
    daily_key_in(ROOT, symbol, interval, date)
}

/// `{root}{S}/{interval}/{S}-{interval}-{YYYY-MM-DD}.zip`, for any market's daily kline-type root.
pub fn daily_key_in(root: &str, symbol: &str, interval: &str, date: NaiveDate) -> String {
    format!(
        "{root}{symbol}/{interval}/{symbol}-{interval}-{}.zip",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn every_1d_zip_is_exactly_the_size_listed_and_its_checksum_is_its_sha256() {
        let spec = CorpusSpec {
            symbols: ["AERGOUSDTSETTLEDSETTLED", "币安人生USDT", "1000000BOBUSDT"]
                .iter()
                .map(|name| SymbolSpec {
                    name: name.to_string(),
                    first: d("2021-11-20"),
                    last: d("2022-03-10"),
                    gaps: vec![(d("2022-01-05"), d("2022-01-07"))],
                    size: None,
                    other_intervals: vec![],
                    zero_trade_tail: 0,
                })
                .collect(),
            stray_keys: vec![],
            as_of: Some(d("2022-03-11")),
        };
        let corpus = Corpus::from_spec(&spec);
        let mut seen = (0, 0);
        for o in corpus.objects() {
            if !matches!(
                o.kind,
                ObjectKind::Daily1d { .. } | ObjectKind::Monthly1d { .. }
            ) {
                continue;
            }
            let bytes = object_bytes(o);
            assert_eq!(bytes.len() as u64, o.size, "{}", o.key);
            let sum = corpus.get(&format!("{}.CHECKSUM", o.key)).unwrap();
            let body = checksum_body(o);
            assert_eq!(body.len() as u64, sum.size, "{}", sum.key);
            let hex: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(body.starts_with(&hex));
            match o.kind {
                ObjectKind::Monthly1d { .. } => seen.1 += 1,
                _ => seen.0 += 1,
            }
        }
        // 111 days less 3 missing, per symbol; Nov, Dec, Jan, Feb complete before 03-11 (March
        // is not over): 4 monthly files each.
        assert_eq!(seen, (3 * 108, 3 * 4));
        let jan = corpus
            .get(&monthly_1d_key("币安人生USDT", d("2022-01-01")))
            .unwrap();
        assert_eq!(
            jan.kind,
            ObjectKind::Monthly1d {
                first: d("2022-01-01"),
                days: !0b111_0000 & 0x7fff_ffff,
                last_trade: None,
            }
        );
    }
}
