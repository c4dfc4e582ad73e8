//! The S3 protocol over the key index: ListObjects V1/V2 pages rendered as the real bucket's XML,
//! and S3 error documents.

use std::fmt::Write;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::escape::escape;

use crate::BUCKET;
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
    Key(std::borrow::Cow<'a, crate::Object>),
    Folder(String),
}

/// Renders one page of a listing.
pub fn list(corpus: &Corpus, q: &ListQuery) -> String {
    let (entries, truncated) = page(corpus, q);
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
pub(crate) fn page<'a>(corpus: &'a Corpus, q: &ListQuery) -> (Vec<Entry<'a>>, bool) {
    let resume = q.continue_after.as_deref().or(q.start_after.as_deref());
    let mut i = match resume {
        Some(after) => {
            // Resuming after a folder skips everything in it; after a key, everything up to it.
            let folder = q
                .delimiter
                .as_deref()
                .is_some_and(|d| after.ends_with(d) && after.starts_with(&q.prefix));
            if folder {
                corpus.skip_prefix(after)
            } else {
                corpus.lower_bound(after)
            }
        }
        None => corpus.lower_bound(&q.prefix),
    };
    let objects = corpus.objects();
    let mut entries: Vec<Entry> = Vec::new();
    let mut truncated = false;
    while i < objects.len() {
        let o = &objects[i];
        if !o.key.starts_with(&q.prefix) {
            break;
        }
        if resume.is_some_and(|r| o.key.as_str() <= r) {
            i += 1;
            continue;
        }
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
                i = corpus.skip_prefix(&folder);
                entries.push(Entry::Folder(folder));
            }
            None => {
                entries.push(Entry::Key(std::borrow::Cow::Borrowed(o)));
                i += 1;
            }
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
            let _ = write!(
                x,
                "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>&quot;{}&quot;</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
                name(&o.key),
                o.last_modified.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                o.etag,
                o.size
            );
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
