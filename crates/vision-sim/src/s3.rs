//! The S3 protocol over the key index: ListObjects V1/V2 pages rendered as the real bucket's XML,
//! and S3 error documents.

use std::fmt::Write;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::escape::escape;

use crate::BUCKET;
use std::borrow::Cow;

use crate::Object;
use crate::corpus::Corpus;

/// What `encoding-type=url` leaves as it is (S3 encodes like a URL path).
const URL_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// A listing request, V1 or V2.
#[derive(Debug, Default)]
pub struct ListQuery {
    pub v2: bool,
    pub prefix: String,
    pub delimiter: Option<String>,
    pub max_keys: usize,
    /// V1 `marker`, V2 `start-after`.
    pub start_after: Option<String>,
    /// V2 `continuation-token`, already decoded into the last key or folder returned.
    pub continue_after: Option<String>,
    pub url_encoding: bool,
}

pub(crate) enum Entry<'a> {
    Key(Cow<'a, Object>),
    Folder(String),
}

/// Where a walk over the keys starts.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// At the first key `>=` this.
    At(&'a str),
    /// At the first key `>` this (`start-after`, `marker`, a continuation after a key).
    After(&'a str),
    /// At the first key past every key that starts with this (a continuation after a folder).
    Past(&'a str),
}

impl Start<'_> {
    /// Whether `key` comes before the start.
    pub fn excludes(&self, key: &str) -> bool {
        match *self {
            Start::At(s) => key < s,
            Start::After(s) => key <= s,
            Start::Past(p) => key < p || key.starts_with(p),
        }
    }

    /// For a subtree whose every key starts with `s`: whether the start excludes all of it,
    /// none of it, or some.
    pub fn subtree(&self, s: &str) -> Subtree {
        match *self {
            Start::At(t) | Start::After(t) if s < t && !t.starts_with(s) => Subtree::Skip,
            Start::At(t) if s >= t => Subtree::Take,
            Start::After(t) if s > t => Subtree::Take,
            Start::At(_) | Start::After(_) => Subtree::Descend,
            Start::Past(p) if s.starts_with(p) || (s < p && !p.starts_with(s)) => Subtree::Skip,
            Start::Past(p) if s > p => Subtree::Take,
            Start::Past(_) => Subtree::Descend,
        }
    }
}

/// What a start makes of a subtree of keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subtree {
    /// Every key of it comes before the start.
    Skip,
    /// Some keys do, some do not: look inside.
    Descend,
    /// No key of it comes before the start.
    Take,
}

/// Both starts at once: a key is excluded when either excludes it.
pub fn both(a: Start, b: Start, s: &str) -> Subtree {
    match (a.subtree(s), b.subtree(s)) {
        (Subtree::Skip, _) | (_, Subtree::Skip) => Subtree::Skip,
        (Subtree::Take, Subtree::Take) => Subtree::Take,
        _ => Subtree::Descend,
    }
}

/// A bucket's keys as a listing walks them: in UTF-8 byte order from any start. A sorted
/// `Corpus` and the generated `VisionAt` both are one, so pages and objects are served the same
/// way from either.
pub trait Keys {
    /// The objects whose keys start with `prefix`, in byte order, from `start` on.
    fn walk<'a>(
        &'a self,
        prefix: &str,
        start: Start,
    ) -> Box<dyn Iterator<Item = Cow<'a, Object>> + 'a>;

    /// The object stored under `key`, if there is one.
    fn get_object(&self, key: &str) -> Option<Cow<'_, Object>>;
}

impl Keys for Corpus {
    fn walk<'a>(
        &'a self,
        prefix: &str,
        start: Start,
    ) -> Box<dyn Iterator<Item = Cow<'a, Object>> + 'a> {
        let objects = self.objects();
        let from = objects.partition_point(|o| o.key.as_str() < prefix || start.excludes(&o.key));
        let prefix = prefix.to_string();
        Box::new(
            objects[from..]
                .iter()
                .take_while(move |o| o.key.starts_with(&prefix))
                .map(Cow::Borrowed),
        )
    }

    fn get_object(&self, key: &str) -> Option<Cow<'_, Object>> {
        self.get(key).map(Cow::Borrowed)
    }
}

/// Renders one page of a listing.
pub fn list(keys: &(impl Keys + ?Sized), q: &ListQuery) -> String {
    let (entries, truncated) = page(keys, q);
    let next = entries
        .last()
        .filter(|_| truncated)
        .map(|e| token(e.name()));
    render(q, &entries, next)
}

impl Entry<'_> {
    pub(crate) fn name(&self) -> &str {
        match self {
            Entry::Key(o) => &o.key,
            Entry::Folder(f) => f,
        }
    }
}

/// The entries of one page, and whether more follow.
pub(crate) fn page<'a, K: Keys + ?Sized>(keys: &'a K, q: &ListQuery) -> (Vec<Entry<'a>>, bool) {
    let resume = q.continue_after.as_deref().or(q.start_after.as_deref());
    let start = match resume {
        // Resuming after a folder skips everything in it; after a key, everything up to it.
        Some(after)
            if q.delimiter
                .as_deref()
                .is_some_and(|d| after.ends_with(d) && after.starts_with(&q.prefix)) =>
        {
            Start::Past(after)
        }
        Some(after) => Start::After(after),
        None => Start::At(&q.prefix),
    };
    let mut walk = keys.walk(&q.prefix, start);
    let mut entries: Vec<Entry> = Vec::new();
    let mut truncated = false;
    while let Some(o) = walk.next() {
        if entries.len() == q.max_keys {
            truncated = true;
            break;
        }
        let rest = &o.key[q.prefix.len()..];
        match q
            .delimiter
            .as_deref()
            .and_then(|d| rest.find(d).map(|at| at + d.len()))
        {
            Some(end) => {
                let folder = format!("{}{}", q.prefix, &rest[..end]);
                walk = keys.walk(&q.prefix, Start::Past(&folder));
                entries.push(Entry::Folder(folder));
            }
            None => entries.push(Entry::Key(o)),
        }
    }
    (entries, truncated)
}

/// The XML of a page; `next` is the continuation token (V2) when the page is truncated.
pub(crate) fn render(q: &ListQuery, entries: &[Entry], next: Option<String>) -> String {
    let truncated = next.is_some();
    let name = |s: &str| -> String {
        if q.url_encoding {
            utf8_percent_encode(s, URL_KEEP).to_string()
        } else {
            escape(s).into_owned()
        }
    };
    let last = entries.last().map(|e| e.name().to_string());
    let mut x = String::with_capacity(200 + entries.len() * 330);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        x,
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{BUCKET}</Name>"
    );
    let _ = write!(x, "<Prefix>{}</Prefix>", name(&q.prefix));
    if q.v2 {
        if let Some(s) = &q.start_after {
            let _ = write!(x, "<StartAfter>{}</StartAfter>", name(s));
        }
        if let Some(t) = &q.continue_after {
            let _ = write!(
                x,
                "<ContinuationToken>{}</ContinuationToken>",
                escape(token(t))
            );
        }
        let _ = write!(x, "<KeyCount>{}</KeyCount>", entries.len());
    } else {
        let _ = write!(
            x,
            "<Marker>{}</Marker>",
            name(q.start_after.as_deref().unwrap_or(""))
        );
    }
    let _ = write!(x, "<MaxKeys>{}</MaxKeys>", q.max_keys);
    if let Some(d) = &q.delimiter {
        let _ = write!(x, "<Delimiter>{}</Delimiter>", name(d));
    }
    if q.url_encoding {
        x.push_str("<EncodingType>url</EncodingType>");
    }
    let _ = write!(x, "<IsTruncated>{truncated}</IsTruncated>");
    if let Some(next) = &next {
        if q.v2 {
            let _ = write!(
                x,
                "<NextContinuationToken>{}</NextContinuationToken>",
                escape(next)
            );
        } else if q.delimiter.is_some()
            && let Some(last) = &last
        {
            // Like S3, NextMarker only comes with a delimiter.
            let _ = write!(x, "<NextMarker>{}</NextMarker>", name(last));
        }
    }
    for e in entries {
        if let Entry::Key(o) = e {
            x.push_str("<Contents><Key>");
            if q.url_encoding {
                let _ = write!(x, "{}", utf8_percent_encode(&o.key, URL_KEEP));
            } else {
                push_escaped(&mut x, &o.key);
            }
            x.push_str("</Key><LastModified>");
            push_time(&mut x, &o.last_modified);
            x.push_str("</LastModified><ETag>&quot;");
            x.push_str(&o.etag);
            x.push_str("&quot;</ETag><Size>");
            push_u64(&mut x, o.size);
            x.push_str("</Size><StorageClass>STANDARD</StorageClass></Contents>");
        }
    }
    for e in entries {
        if let Entry::Folder(f) = e {
            let _ = write!(
                x,
                "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
                name(f)
            );
        }
    }
    x.push_str("</ListBucketResult>");
    x
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, as `format("%Y-%m-%dT%H:%M:%S%.3fZ")` writes it for years
/// 1000-9999, without chrono's formatter (a third of the time of a listed key).
fn push_time(x: &mut String, t: &chrono::DateTime<chrono::Utc>) {
    use chrono::{Datelike, Timelike};
    let t = t.naive_utc();
    let year = t.year();
    if !(1000..=9999).contains(&year) {
        let _ = write!(x, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
        return;
    }
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut two = |at: usize, n: u32| {
        b[at] = b'0' + (n / 10 % 10) as u8;
        b[at + 1] = b'0' + (n % 10) as u8;
    };
    let year = year as u32;
    two(0, year / 100);
    two(2, year % 100);
    two(5, t.month());
    two(8, t.day());
    two(11, t.hour());
    two(14, t.minute());
    two(17, t.second());
    let ms = t.and_utc().timestamp_subsec_millis().min(999);
    two(20, ms / 10);
    b[22] = b'0' + (ms % 10) as u8;
    x.push_str(std::str::from_utf8(&b).unwrap_or("1970-01-01T00:00:00.000Z"));
}

/// A name as XML text: as it is when nothing needs escaping (nearly every key), without
/// quick-xml's scan and copy.
fn push_escaped(x: &mut String, s: &str) {
    if s.bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'\'' | b'"'))
    {
        x.push_str(&escape(s));
    } else {
        x.push_str(s);
    }
}

fn push_u64(x: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    x.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

/// Continuation tokens are opaque to clients: hex of the last key or folder returned.
pub fn token(after: &str) -> String {
    after.bytes().map(|b| format!("{b:02x}")).collect()
}

pub fn untoken(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// An S3 error document.
pub fn error_xml(code: &str, message: &str, resource: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>SIM</RequestId></Error>",
        escape(message),
        escape(resource)
    )
}
