//! S3 ListObjectsV2 with paging: where a listing page becomes keys and folder names.
//! Pages are pulled one at a time (`Lister::next_page`), so nothing holds a whole listing.
//!
//! A listing must make progress or end: a continuation token seen before, keys that do not
//! increase, or more pages than the caller's plan allows end it with `Cause::Stalled` instead of
//! following a broken or hostile server forever (an unchecked loop reached 18 GB in 10 minutes).

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;

use super::dataset::{Dataset, Folder};
use super::{Cause, VisionClient, VisionError};

/// Pages a discovery of a dataset's symbol folders may take: 100,000 folders at 1000 a page,
/// ~90× the 1,1xx the UM klines root holds and ~28× spot's ~3,600.
pub const DISCOVERY_MAX_PAGES: u32 = 100;

/// Keys and folders an S3 page holds at most (`max-keys` is 1000 by default and at most).
pub const MAX_PAGE_NAMES: usize = 1000;

/// Bytes a key (or a folder's prefix) of S3 can be: 1024 of UTF-8.
pub const MAX_NAME_BYTES: usize = 1024;

/// Bytes of a continuation token this client follows. S3's are ~100-300 characters (MinIO's
/// carry the key they resume after, so up to ~1.4 kB): a longer one is refused rather than
/// sent back in a URL and kept with every token seen.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Bytes of names (keys and folders) one listing may hand out: 64 MiB, ~6× the ~10 MB of the
/// widest folder of the bucket (spot BTCUSDT's klines, ~10⁵ keys; the ~137,000 keys of the
/// `/data/…` tree). With `MAX_NAME_BYTES` and `MAX_PAGE_NAMES` it bounds what a caller that
/// keeps every name (a folder of strays, a level's folders) can be made to hold, whatever the
/// page bound: 5,000 pages of 1000 names of 1 kB would be 5 GB.
pub const LISTING_MAX_NAME_BYTES: u64 = 64 << 20;

/// A page no S3 server sends: more names than a page holds, a name or a token longer than S3
/// makes them. Not retried: the same server sends the same page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Oversize {
    /// More keys and folders than `MAX_PAGE_NAMES`.
    #[error("page {page} lists {names} keys and folders, more than the 1000 an S3 page holds")]
    TooManyNames {
        /// The page, counted from 1.
        page: u32,
        /// Its keys and folders.
        names: usize,
    },
    /// A key or folder longer than `MAX_NAME_BYTES`.
    #[error(
        "page {page} lists a name of {bytes} bytes, longer than the 1024 an S3 key can be: {name:?}"
    )]
    NameTooLong {
        /// The page, counted from 1.
        page: u32,
        /// The name's length in bytes.
        bytes: usize,
        /// The name, cut to 200 characters.
        name: String,
    },
    /// A continuation token longer than `MAX_TOKEN_BYTES`.
    #[error(
        "page {page} hands out a continuation token of {bytes} bytes, longer than the {max} this client follows"
    )]
    TokenTooLong {
        /// The page, counted from 1.
        page: u32,
        /// The token's length in bytes.
        bytes: usize,
        /// `MAX_TOKEN_BYTES`.
        max: usize,
    },
}

/// How a listing failed to progress.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stall {
    /// The server sent a token it had sent before: following it would list the same pages
    /// again, for ever.
    #[error("page {page} hands back a continuation token an earlier page gave")]
    RepeatedToken {
        /// The page that repeated it, counted from 1.
        page: u32,
    },
    /// S3 lists in ascending order, so a name at or before the greatest one so far means the
    /// listing went back.
    #[error("page {page} goes back to {key:?}, at or before where the listing already was")]
    KeysNotIncreasing {
        /// The page it is on, counted from 1.
        page: u32,
        /// The key or folder that went back, cut to 200 characters.
        key: String,
    },
    /// The caller could not hold what the listing gave: the folders a crawl lists at once,
    /// with this page, would be held in more than the crawl's bound (a folder far bigger than
    /// any of the layout, or keys far longer).
    #[error(
        "the folders being listed would hold {held} bytes with this page, over the {limit} \
         the crawl keeps in memory"
    )]
    TooMuchHeld {
        /// What the folders in flight would hold, in bytes.
        held: usize,
        /// The crawl's bound, in bytes.
        limit: usize,
    },
    /// Pages kept coming past the number the caller's window or discovery can need.
    #[error("it did not end within {max} pages, more than the plan allows")]
    TooManyPages {
        /// The caller's bound, in pages.
        max: u32,
    },
    /// The listing handed out more bytes of names than the caller can be asked to keep: no
    /// folder of the bucket holds that many.
    #[error(
        "its keys and folders passed {mib} MiB of names by page {page}, more than any folder of the bucket holds"
    )]
    TooManyNameBytes {
        /// The page that passed it, counted from 1.
        page: u32,
        /// The bound, `LISTING_MAX_NAME_BYTES` in MiB.
        mib: u64,
    },
    /// A key or folder that does not start with the prefix asked for (or a folder that is the
    /// prefix itself): S3 lists only what is under the prefix, so the server is not answering
    /// the question asked, and the name would be filed in the wrong place.
    #[error("page {page} lists {key:?}, which is not under the prefix asked for")]
    OutsidePrefix {
        /// The page it is on, counted from 1.
        page: u32,
        /// The key or folder, cut to 200 characters.
        key: String,
    },
    /// A page that says more follow but lists no key and no folder: nothing moved forward.
    #[error("page {page} is truncated but lists nothing")]
    EmptyPage {
        /// The page, counted from 1.
        page: u32,
    },
}

/// Why a body is not a ListBucketResult page. Element names and values are kept as found (cut
/// to 200 characters where a server chooses them).
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The body is not UTF-8. It is read strictly: replacing bad bytes would quietly change a
    /// name.
    #[error("the listing is not UTF-8: {0}")]
    NotUtf8(std::str::Utf8Error),
    /// The body is not well-formed XML (quick-xml's reason).
    #[error("{0}")]
    Xml(quick_xml::Error),
    /// An entity or character reference that does not unescape (`&nosuch;`).
    #[error("{0}")]
    Escape(quick_xml::escape::EscapeError),
    /// An element that holds text in a listing (`Key`, `Size`, …) holds elements instead.
    #[error("<{element}> holds markup where text belongs")]
    Markup {
        /// The element's name, cut to 200 characters.
        element: String,
    },
    /// The root element is another: the body is no listing at all (a proxy's page, another
    /// XML document).
    #[error("the document is a <{element}>, not a ListBucketResult")]
    NotAListing {
        /// The root element's name, cut to 200 characters.
        element: String,
    },
    /// `IsTruncated` is neither `true` nor `false`, so whether more pages follow is unknown.
    #[error("IsTruncated is {text:?}")]
    IsTruncated {
        /// Its text, cut to 200 characters.
        text: String,
    },
    /// A `Contents` entry without a `Key`.
    #[error("an entry has no Key")]
    NoKey,
    /// A `CommonPrefixes` entry without a `Prefix`.
    #[error("a CommonPrefixes has no Prefix")]
    NoPrefix,
    /// A `Size` that is not a whole number of bytes an object can have (at most 5 TiB).
    #[error("Size is {text:?}")]
    Size {
        /// Its text, cut to 200 characters.
        text: String,
    },
    /// An entry whose `LastModified` is missing or not an RFC 3339 time: without it, which
    /// upload of the file was listed is unknown.
    #[error("the entry {key} has no valid LastModified")]
    LastModified {
        /// The entry's key, as listed, cut to 200 characters.
        key: String,
    },
    /// An end tag with no element open: after `</ListBucketResult>`, or before it began.
    #[error("an unexpected end tag")]
    UnexpectedEnd,
    /// The body ends inside the document: most often a response cut short, so retried.
    #[error("the page ends before </ListBucketResult>")]
    Unfinished,
    /// A name sent percent-encoded (`encoding-type=url`) decodes to bytes that are not UTF-8.
    #[error("a url-encoded name is not UTF-8: {0}")]
    NameNotUtf8(std::str::Utf8Error),
    /// `IsTruncated` is `true`, but no `NextContinuationToken` says where the next page
    /// starts.
    #[error("the page is truncated but carries no NextContinuationToken")]
    NoToken,
}

/// An element's name as an error shows it.
fn element_name(element: &[u8]) -> String {
    String::from_utf8_lossy(element).chars().take(200).collect()
}

/// One object of a listing page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// The key, decoded (`data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip`).
    pub key: String,
    /// Bytes, as the listing states them.
    pub size: u64,
    /// When the object was last uploaded, to the millisecond, as the listing states it.
    pub last_modified: DateTime<Utc>,
}

/// One object of a listing page, its key borrowed from the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageObject<'a> {
    /// The key, decoded.
    pub key: &'a str,
    /// Bytes, as the listing states them.
    pub size: u64,
    /// When the object was last uploaded, to the millisecond, as the listing states it.
    pub last_modified: DateTime<Utc>,
}

impl From<PageObject<'_>> for ListedObject {
    fn from(o: PageObject<'_>) -> ListedObject {
        ListedObject {
            key: o.key.to_string(),
            size: o.size,
            last_modified: o.last_modified,
        }
    }
}

/// Where one name lies in a page's `names`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Name {
    start: usize,
    end: usize,
}

impl Name {
    /// Appends `text` to `names`: where it lies.
    fn push(names: &mut String, text: &str) -> Name {
        let start = names.len();
        names.push_str(text);
        Name {
            start,
            end: names.len(),
        }
    }

    fn len(self) -> usize {
        self.end - self.start
    }
}

/// A `Contents` entry: its key in `names`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    key: Name,
    size: u64,
    last_modified: DateTime<Utc>,
}

/// One page: its objects, its folders (`CommonPrefixes`), and the token of the next page.
///
/// Every name of the page is held in one `String`, end to end, and handed out borrowed: a
/// crawl reads ~2 × 10⁸ keys, and a `String` each (an allocation, its free, and the page's
/// `Vec` of them) was 8.6 % of its CPU (BENCHMARKS.md, session 18).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The keys and folders, decoded, end to end.
    names: String,
    objects: Vec<Entry>,
    prefixes: Vec<Name>,
    /// Where the next page starts; `None` on the last page.
    pub next_token: Option<String>,
}

impl ListPage {
    /// The page's keys, in ascending order (a page holds at most 1000 keys and folders).
    pub fn objects(
        &self,
    ) -> impl DoubleEndedIterator<Item = PageObject<'_>> + ExactSizeIterator + '_ {
        self.objects.iter().map(|e| PageObject {
            key: &self.names[e.key.start..e.key.end],
            size: e.size,
            last_modified: e.last_modified,
        })
    }

    /// The folders the delimiter groups keys into (`data/futures/um/daily/klines/BTCUSDT/`),
    /// decoded, in ascending order; none when the listing has no delimiter.
    pub fn common_prefixes(
        &self,
    ) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + '_ {
        self.prefixes.iter().map(|n| &self.names[n.start..n.end])
    }

    /// Bytes of its keys and folders.
    fn name_bytes(&self) -> usize {
        let keys = self.objects.iter().map(|e| e.key.len());
        keys.chain(self.prefixes.iter().map(|n| n.len())).sum()
    }

    /// A page of these objects, folders and token, as a parsed one would hold them.
    #[cfg(test)]
    pub(crate) fn of(
        objects: impl IntoIterator<Item = ListedObject>,
        prefixes: &[&str],
        next_token: Option<String>,
    ) -> ListPage {
        let mut page = ListPage {
            next_token,
            ..ListPage::default()
        };
        for o in objects {
            let key = Name::push(&mut page.names, &o.key);
            page.objects.push(Entry {
                key,
                size: o.size,
                last_modified: o.last_modified,
            });
        }
        for p in prefixes {
            let name = Name::push(&mut page.names, p);
            page.prefixes.push(name);
        }
        page
    }
}

/// Where the reader is in a ListBucketResult document.
enum Place {
    /// Before the root element.
    Outside,
    /// Among the root's children.
    Root,
    /// Inside one `Contents`, with what it said so far.
    Contents {
        key: Option<Name>,
        size: u64,
        last_modified: Option<DateTime<Utc>>,
    },
    /// Inside one `CommonPrefixes`.
    Prefixes(Option<Name>),
    /// After `</ListBucketResult>`.
    Done,
}

/// What a page says, its names not decoded yet: `EncodingType` may come after them.
#[derive(Debug, Default, PartialEq)]
struct RawPage {
    page: ListPage,
    truncated: bool,
    url_encoded: bool,
}

/// Reads one ListBucketResult document. With `encoding-type=url`, names come percent-encoded.
///
/// A page as S3 writes it (and vision-sim) is read by `scan`, a reader of that one plain
/// shape which copies each key and folder name into the page's one buffer (an entry allocates
/// only for a name holding an entity); anything else in it (a comment, an attribute, `<X/>`,
/// nested elements, an entity to check, a field that is not valid) sends the whole page to
/// `read_events`, the general reader, which says what is wrong. What `scan`
/// accepts, `read_events` reads the same (a test holds them to it), so only speed differs:
/// `read_events` was ~45 % of a catalog crawl's CPU (BENCHMARKS.md, session 14).
pub(super) fn parse_page(xml: &str) -> Result<ListPage, PageError> {
    let raw = match scan(xml) {
        Some(raw) => raw,
        None => read_events(xml)?,
    };
    let RawPage {
        mut page,
        truncated,
        url_encoded,
    } = raw;
    if url_encoded {
        let mut decoded = String::with_capacity(page.names.len());
        let names = page.objects.iter_mut().map(|e| &mut e.key);
        for name in names.chain(page.prefixes.iter_mut()) {
            let text = page.names[name.start..name.end].replace('+', " ");
            let text = percent_decode_str(&text)
                .decode_utf8()
                .map_err(PageError::NameNotUtf8)?;
            *name = Name::push(&mut decoded, &text);
        }
        page.names = decoded;
    }
    match (truncated, &page.next_token) {
        (true, None) => Err(PageError::NoToken),
        (false, Some(_)) => {
            page.next_token = None;
            Ok(page)
        }
        _ => Ok(page),
    }
}

/// The general reader: any well-formed document, driven by quick-xml's event reader rather
/// than serde (deserialising each entry into owned strings, the ETag and storage class
/// included, was 32 % of a backfill's CPU, BENCHMARKS.md session 9). Only the fields a listing
/// needs are kept; every other element is skipped whole.
fn read_events(xml: &str) -> Result<RawPage, PageError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut place = Place::Outside;
    let mut page = RawPage::default();
    loop {
        let event = reader.read_event().map_err(PageError::Xml)?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.name()), false),
            Event::Empty(e) => (Some(e.name()), true),
            _ => (None, false),
        };
        if let Some(name) = start {
            let element = name.as_ref();
            // The text of a leaf element (empty for `<X/>`), unescaped.
            let mut text = || -> Result<String, PageError> {
                if empty {
                    return Ok(String::new());
                }
                let raw = reader.read_text(name).map_err(PageError::Xml)?;
                if raw.contains('<') {
                    return Err(PageError::Markup {
                        element: element_name(element),
                    });
                }
                quick_xml::escape::unescape(&raw)
                    .map(|t| t.into_owned())
                    .map_err(PageError::Escape)
            };
            match (&mut place, element) {
                (Place::Outside, b"ListBucketResult") => place = Place::Root,
                (Place::Outside, _) => {
                    return Err(PageError::NotAListing {
                        element: element_name(element),
                    });
                }
                (Place::Root, b"IsTruncated") => page.truncated = is_truncated(&text()?)?,
                (Place::Root, b"NextContinuationToken") => {
                    page.page.next_token = Some(text()?);
                }
                (Place::Root, b"EncodingType") => page.url_encoded = text()? == "url",
                (Place::Root, b"Contents") if empty => return Err(PageError::NoKey),
                (Place::Root, b"Contents") => {
                    place = Place::Contents {
                        key: None,
                        size: 0,
                        last_modified: None,
                    }
                }
                (Place::Root, b"CommonPrefixes") if empty => {
                    return Err(PageError::NoPrefix);
                }
                (Place::Root, b"CommonPrefixes") => place = Place::Prefixes(None),
                (Place::Contents { key, .. }, b"Key") => {
                    *key = Some(Name::push(&mut page.page.names, &text()?));
                }
                (Place::Contents { size, .. }, b"Size") => *size = parse_size(&text()?)?,
                (Place::Contents { last_modified, .. }, b"LastModified") => {
                    *last_modified = parse_last_modified(&text()?);
                }
                (Place::Prefixes(prefix), b"Prefix") => {
                    *prefix = Some(Name::push(&mut page.page.names, &text()?));
                }
                // Anything else (Name, Prefix, MaxKeys, ETag, StorageClass, …) is read past.
                _ if !empty => {
                    reader.read_to_end(name).map_err(PageError::Xml)?;
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::End(_) => match std::mem::replace(&mut place, Place::Root) {
                Place::Contents {
                    key,
                    size,
                    last_modified,
                } => {
                    let entry = object(&page.page.names, key, size, last_modified)?;
                    page.page.objects.push(entry);
                }
                Place::Prefixes(prefix) => {
                    let prefix = prefix.ok_or(PageError::NoPrefix)?;
                    page.page.prefixes.push(prefix);
                }
                Place::Root => place = Place::Done,
                Place::Outside | Place::Done => return Err(PageError::UnexpectedEnd),
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if !matches!(place, Place::Done) {
        return Err(PageError::Unfinished);
    }
    Ok(page)
}

fn is_truncated(text: &str) -> Result<bool, PageError> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(PageError::IsTruncated {
            text: other.chars().take(200).collect(),
        }),
    }
}

/// The largest object S3 stores, 5 TiB: a listing stating more is not one S3 sent (and every
/// size within it fits the `BIGINT` columns sizes are written to).
const MAX_OBJECT_BYTES: u64 = 5 << 40;

fn parse_size(text: &str) -> Result<u64, PageError> {
    text.parse()
        .ok()
        .filter(|size| *size <= MAX_OBJECT_BYTES)
        .ok_or_else(|| PageError::Size {
            text: text.chars().take(200).collect(),
        })
}

/// A `LastModified`; `None` when it is not an RFC 3339 time. S3's own spelling
/// (`2024-01-16T07:00:00.000Z`) is read by hand, the same instant chrono reads from it; any
/// other goes to chrono.
fn parse_last_modified(text: &str) -> Option<DateTime<Utc>> {
    s3_time(text).or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` exactly, a real day and a time without a leap second; `None`
/// for anything else (which chrono then reads, or refuses).
fn s3_time(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() != 24 || b[23] != b'Z' {
        return None;
    }
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        if b[i] != c {
            return None;
        }
    }
    let n = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (hour, minute, second) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if second > 59 {
        return None;
    }
    let day = chrono::NaiveDate::from_ymd_opt(n(0..4)? as i32, n(5..7)?, n(8..10)?)?;
    let time = chrono::NaiveTime::from_hms_milli_opt(hour, minute, second, n(20..23)?)?;
    Some(day.and_time(time).and_utc())
}

/// A `Contents` entry, once it ends (its key, if any, in `names`).
fn object(
    names: &str,
    key: Option<Name>,
    size: u64,
    last_modified: Option<DateTime<Utc>>,
) -> Result<Entry, PageError> {
    let key = key.ok_or(PageError::NoKey)?;
    let Some(last_modified) = last_modified else {
        return Err(PageError::LastModified {
            key: names[key.start..key.end].chars().take(200).collect(),
        });
    };
    Ok(Entry {
        key,
        size,
        last_modified,
    })
}

/// Reads a page of the one shape S3 writes — an optional `<?xml …?>` declaration, then
/// `<ListBucketResult>` (or with one `xmlns="…"`) holding only whitespace, leaf elements
/// `<Name>text</Name>`, and `Contents` and `CommonPrefixes` that hold only whitespace and leaf
/// elements — keeping what `read_events` keeps. `None` for anything else, and for a page
/// `read_events` would refuse (a field that is not valid, an entry without a key): the caller
/// then reads it with `read_events`, which says why.
fn scan(xml: &str) -> Option<RawPage> {
    scan_entries(xml, true)
}

/// `scan`, reading each `Contents` entry of S3's own order and spelling at once
/// (`Scanner::s3_entry`) when `s3_entries` is set, else child by child (what `s3_entry` is
/// held to in tests).
fn scan_entries(xml: &str, s3_entries: bool) -> Option<RawPage> {
    let mut c = Scanner { s: xml, i: 0 };
    if c.eat("<?xml ") {
        let end = c.rest().find("?>")?;
        if c.rest()[..end].contains(['<', '>']) {
            return None;
        }
        c.i += end + 2;
        c.skip_space();
    }
    if !c.eat("<ListBucketResult") {
        return None;
    }
    if c.eat(" xmlns=\"") {
        let end = c.rest().find('"')?;
        if c.rest()[..end].contains(['<', '>', '&']) {
            return None;
        }
        c.i += end + 1;
    }
    if !c.eat(">") {
        return None;
    }
    // S3 writes ~330 bytes an entry, ~90 of them its key.
    let mut page = RawPage::default();
    page.page
        .objects
        .reserve((xml.len() / 160).min(MAX_PAGE_NAMES));
    page.page.names.reserve(xml.len() / 3);
    loop {
        c.skip_space();
        if c.eat("</ListBucketResult>") {
            break;
        }
        match c.start_tag()? {
            b"Contents" => {
                let (at, names) = (c.i, page.page.names.len());
                if let Some(entry) = s3_entries
                    .then(|| c.s3_entry(&mut page.page.names))
                    .flatten()
                {
                    page.page.objects.push(entry);
                    continue;
                }
                // Not S3's own order and spelling: read again, child by child.
                c.i = at;
                page.page.names.truncate(names);
                let (mut key, mut size, mut last_modified) = (None, 0, None);
                while let Some(element) = c.child(b"Contents>")? {
                    match element {
                        b"Key" => key = Some(c.name(element, &mut page.page.names)?),
                        b"Size" => {
                            // An entity in a size is left to `read_events`, which unescapes.
                            let (text, amp) = c.raw_text(element)?;
                            if amp {
                                return None;
                            }
                            size = parse_size(text).ok()?;
                        }
                        b"LastModified" => {
                            // An entity in a time is left to `read_events`, which unescapes.
                            let (text, amp) = c.raw_text(element)?;
                            if amp {
                                return None;
                            }
                            last_modified = parse_last_modified(text);
                        }
                        _ => c.skip_text(element)?,
                    }
                }
                let entry = object(&page.page.names, key, size, last_modified).ok()?;
                page.page.objects.push(entry);
            }
            b"CommonPrefixes" => {
                let mut prefix = None;
                while let Some(element) = c.child(b"CommonPrefixes>")? {
                    match element {
                        b"Prefix" => prefix = Some(c.name(element, &mut page.page.names)?),
                        _ => c.skip_text(element)?,
                    }
                }
                page.page.prefixes.push(prefix?);
            }
            b"IsTruncated" => page.truncated = is_truncated(&c.text(b"IsTruncated")?).ok()?,
            b"NextContinuationToken" => {
                page.page.next_token = Some(c.text(b"NextContinuationToken")?);
            }
            b"EncodingType" => page.url_encoded = c.text(b"EncodingType")? == "url",
            other => c.skip_text(other)?,
        }
    }
    c.skip_space();
    (c.i == xml.len()).then_some(page)
}

/// `scan`'s place in the document.
struct Scanner<'a> {
    s: &'a str,
    /// A byte offset, always at a character boundary (only ASCII bytes are stepped over).
    i: usize,
}

impl<'a> Scanner<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn eat(&mut self, literal: &str) -> bool {
        let found = self.rest().starts_with(literal);
        if found {
            self.i += literal.len();
        }
        found
    }

    fn skip_space(&mut self) {
        let b = self.s.as_bytes();
        while b
            .get(self.i)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.i += 1;
        }
    }

    /// `<Name>`, a name of ASCII letters and no attribute: the name.
    fn start_tag(&mut self) -> Option<&'a [u8]> {
        let b = &self.s.as_bytes()[self.i..];
        if b.first() != Some(&b'<') {
            return None;
        }
        let len = b[1..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        if len == 0 || b.get(1 + len) != Some(&b'>') {
            return None;
        }
        self.i += len + 2;
        Some(&b[1..=len])
    }

    /// The next child of an entry: its name, or `None` (in `Some`) at the entry's end tag,
    /// `</` and `end`.
    fn child(&mut self, end: &[u8]) -> Option<Option<&'a [u8]>> {
        self.skip_space();
        let b = &self.s.as_bytes()[self.i..];
        if b.get(1) == Some(&b'/') {
            let n = end.len();
            return (b.len() >= n + 2 && b[0] == b'<' && same(&b[2..n + 2], end)).then(|| {
                self.i += n + 2;
                None
            });
        }
        self.start_tag().map(Some)
    }

    /// The text of the element just opened, as written, and past its end tag, which must
    /// follow it directly; and whether it holds an `&`. `None` when markup comes first, or an
    /// `&` does not end in `;` before the next `&` (quick-xml refuses such a document).
    fn raw_text(&mut self, element: &[u8]) -> Option<(&'a str, bool)> {
        let b = &self.s.as_bytes()[self.i..];
        let mut len = memchr::memchr2(b'<', b'&', b)?;
        let amp = b[len] == b'&';
        if amp {
            len += memchr::memchr(b'<', &b[len..])?;
            let mut refs = b[..len].split(|c| *c == b'&').skip(1);
            if !refs.all(|r| r.contains(&b';')) {
                return None;
            }
        }
        let n = element.len();
        let end = &b[len..];
        if !(end.len() >= n + 3
            && end[1] == b'/'
            && same(&end[2..n + 2], element)
            && end[n + 2] == b'>')
        {
            return None;
        }
        let text = &self.s[self.i..self.i + len];
        self.i += len + n + 3;
        Some((text, amp))
    }

    /// The text, unescaped (`None` for an entity quick-xml does not know).
    fn text(&mut self, element: &[u8]) -> Option<String> {
        match self.raw_text(element)? {
            (raw, true) => quick_xml::escape::unescape(raw)
                .ok()
                .map(|t| t.into_owned()),
            (raw, false) => Some(raw.to_owned()),
        }
    }

    /// The text, unescaped, appended to `names`: where it lies.
    fn name(&mut self, element: &[u8], names: &mut String) -> Option<Name> {
        Some(match self.raw_text(element)? {
            (raw, true) => Name::push(names, &quick_xml::escape::unescape(raw).ok()?),
            (raw, false) => Name::push(names, raw),
        })
    }

    fn skip_text(&mut self, element: &[u8]) -> Option<()> {
        self.raw_text(element).map(|_| ())
    }

    /// A `Contents` entry as S3 writes it, just after `<Contents>`: `Key`, `LastModified` in
    /// S3's own spelling, `ETag`, `Size` in digits and `StorageClass`, in that order, without
    /// whitespace, through `</Contents>`; `None` for anything else (the caller then reads the
    /// entry child by child, from where it began, and drops what this pushed to `names`).
    ///
    /// Each child's tag is compared whole instead of its name being read and matched, and the
    /// time, the size and the ETag are read where they lie: the child-by-child reader was
    /// 0.27 µs a key, a quarter of a crawl's CPU (BENCHMARKS.md, sessions 18 and 19). What it
    /// accepts, the child-by-child reader reads the same (a test holds them to it): every
    /// entry of the bucket is this shape.
    fn s3_entry(&mut self, names: &mut String) -> Option<Entry> {
        self.expect("<Key>")?;
        let key = self.name(b"Key", names)?;
        self.expect("<LastModified>")?;
        // The 24 bytes of `YYYY-MM-DDTHH:MM:SS.mmmZ` hold no `<` or `&`: `s3_time` reads
        // only digits and its separators.
        let last_modified = s3_time(self.s.get(self.i..self.i + 24)?)?;
        self.i += 24;
        // `&quot;…&quot;`: its two references end in `;`, and the hash between holds no `&`
        // or `<` (anything else is read child by child).
        self.expect("</LastModified><ETag>&quot;")?;
        self.plain_text_then("&quot;</ETag><Size>")?;
        let b = &self.s.as_bytes()[self.i..];
        let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        // 13 digits hold 5 TiB (5,497,558,138,880); a longer size is left to `parse_size`.
        if digits == 0 || digits > 13 {
            return None;
        }
        let size = b[..digits]
            .iter()
            .fold(0u64, |n, c| n * 10 + u64::from(c - b'0'));
        if size > MAX_OBJECT_BYTES {
            return None;
        }
        self.i += digits;
        self.expect("</Size><StorageClass>")?;
        self.plain_text_then("</StorageClass></Contents>")?;
        Some(Entry {
            key,
            size,
            last_modified,
        })
    }

    /// `literal`, stepped over; `None` when something else comes.
    fn expect(&mut self, literal: &str) -> Option<()> {
        self.eat(literal).then_some(())
    }

    /// Text without `&` or `<`, then `end`, stepped over; `None` when the first `&` or `<`
    /// does not begin `end`.
    fn plain_text_then(&mut self, end: &str) -> Option<()> {
        self.i += memchr::memchr2(b'&', b'<', &self.s.as_bytes()[self.i..])?;
        self.expect(end)
    }
}

/// Two short names are equal (a loop the compiler keeps inline: a tag name is a few bytes,
/// and `memcmp` called for each was a tenth of `scan`'s time).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Pulls the pages of one listing in order, following continuation tokens to the end.
pub struct Lister {
    client: VisionClient,
    prefix: String,
    delimiter: Option<String>,
    start_after: Option<String>,
    token: Option<String>,
    done: bool,
    /// Progress: pages so far, every token handed out, and the greatest name listed.
    pages: u32,
    max_pages: u32,
    tokens: std::collections::HashSet<String>,
    last: Option<String>,
    /// Bytes of names handed out so far, against `LISTING_MAX_NAME_BYTES`.
    name_bytes: u64,
}

impl Lister {
    /// The next page, or `None` when the listing is complete.
    pub async fn next_page(&mut self) -> Result<Option<ListPage>, VisionError> {
        if self.done {
            return Ok(None);
        }
        let mut params: Vec<(&str, &str)> = vec![("list-type", "2"), ("prefix", &self.prefix)];
        if let Some(d) = &self.delimiter {
            params.push(("delimiter", d));
        }
        match &self.token {
            Some(t) => params.push(("continuation-token", t)),
            None => {
                if let Some(s) = &self.start_after {
                    params.push(("start-after", s));
                }
            }
        }
        let what = if self.prefix.is_empty() {
            "listing the bucket's root".to_string()
        } else {
            format!("listing {}", self.prefix)
        };
        if self.client.is_cancelled() {
            return Err(self.client.error(what, &params, Cause::Cancelled));
        }
        if self.pages == self.max_pages {
            let stall = Stall::TooManyPages {
                max: self.max_pages,
            };
            return Err(self.client.error(what, &params, Cause::Stalled(stall)));
        }
        let page = self
            .client
            .get_parsed(what.clone(), &params, parse_page)
            .await?;
        self.pages += 1;
        if let Err(oversize) = within_bounds(self.pages, &page) {
            return Err(self.client.error(what, &params, Cause::Oversize(oversize)));
        }
        self.name_bytes += page.name_bytes() as u64;
        if self.name_bytes > LISTING_MAX_NAME_BYTES {
            let stall = Stall::TooManyNameBytes {
                page: self.pages,
                mib: LISTING_MAX_NAME_BYTES >> 20,
            };
            return Err(self.client.error(what, &params, Cause::Stalled(stall)));
        }
        let checked = progress(
            &self.prefix,
            &mut self.tokens,
            &mut self.last,
            self.pages,
            &page,
        );
        if let Err(stall) = checked {
            return Err(self.client.error(what, &params, Cause::Stalled(stall)));
        }
        self.token = page.next_token.clone();
        self.done = self.token.is_none();
        Ok(Some(page))
    }
}

/// Checks that page `page_no` is one S3 could send: at most `MAX_PAGE_NAMES` names, none
/// longer than `MAX_NAME_BYTES`, a token no longer than `MAX_TOKEN_BYTES`.
fn within_bounds(page_no: u32, page: &ListPage) -> Result<(), Oversize> {
    let names = page.objects.len() + page.prefixes.len();
    if names > MAX_PAGE_NAMES {
        return Err(Oversize::TooManyNames {
            page: page_no,
            names,
        });
    }
    let long = page
        .objects()
        .map(|o| o.key)
        .chain(page.common_prefixes())
        .find(|n| n.len() > MAX_NAME_BYTES);
    if let Some(name) = long {
        return Err(Oversize::NameTooLong {
            page: page_no,
            bytes: name.len(),
            name: name.chars().take(200).collect(),
        });
    }
    match &page.next_token {
        Some(t) if t.len() > MAX_TOKEN_BYTES => Err(Oversize::TokenTooLong {
            page: page_no,
            bytes: t.len(),
            max: MAX_TOKEN_BYTES,
        }),
        _ => Ok(()),
    }
}

/// Checks that page `page_no` moved the listing forward: its token is new, its names come after
/// `last`. Remembers both.
fn progress(
    prefix: &str,
    tokens: &mut std::collections::HashSet<String>,
    last: &mut Option<String>,
    page_no: u32,
    page: &ListPage,
) -> Result<(), Stall> {
    let outside = page
        .objects()
        .map(|o| o.key)
        .find(|k| !k.starts_with(prefix))
        .or_else(|| {
            page.common_prefixes()
                .find(|f| !f.starts_with(prefix) || f.len() == prefix.len())
        });
    if let Some(name) = outside {
        return Err(Stall::OutsidePrefix {
            page: page_no,
            key: name.chars().take(200).collect(),
        });
    }
    let greatest = page
        .objects()
        .next_back()
        .map(|o| o.key)
        .max(page.common_prefixes().next_back());
    if let Some(token) = &page.next_token {
        if greatest.is_none() {
            return Err(Stall::EmptyPage { page: page_no });
        }
        if !tokens.insert(token.clone()) {
            return Err(Stall::RepeatedToken { page: page_no });
        }
    }
    // Keys and folders each come sorted, interleaved in one order: both must only grow.
    let increasing = |names: &mut dyn Iterator<Item = &str>| {
        let mut previous = last.as_deref();
        for name in names {
            if previous.is_some_and(|p| name <= p) {
                return Err(Stall::KeysNotIncreasing {
                    page: page_no,
                    key: name.chars().take(200).collect(),
                });
            }
            previous = Some(name);
        }
        Ok(())
    };
    increasing(&mut page.objects().map(|o| o.key))?;
    increasing(&mut page.common_prefixes())?;
    if let Some(g) = greatest {
        *last = Some(g.to_string());
    }
    Ok(())
}

impl VisionClient {
    /// A listing of `prefix`, optionally grouped by `delimiter` and starting after a key, that
    /// gives up after `max_pages` pages: the caller knows how many its window can need.
    pub fn lister(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        start_after: Option<String>,
        max_pages: u32,
    ) -> Lister {
        Lister {
            client: self.clone(),
            prefix: prefix.to_string(),
            delimiter: delimiter.map(str::to_string),
            // A name at or before `start-after` is the listing going back, as any other.
            last: start_after.clone(),
            start_after,
            token: None,
            done: false,
            pages: 0,
            max_pages,
            tokens: Default::default(),
            name_bytes: 0,
        }
    }

    /// Every symbol folder of `dataset` (`Dataset::UM_DAILY_1M`: the UM daily klines root, over
    /// 1000 folders, so paged), in bucket order. A folder whose name cannot be a symbol (`..`,
    /// control characters) is skipped with a warning.
    pub async fn discover_symbols(&self, dataset: Dataset) -> Result<Vec<String>, VisionError> {
        let prefix = dataset.prefix();
        let mut lister = self.lister(&prefix, Some("/"), None, DISCOVERY_MAX_PAGES);
        let mut symbols = Vec::new();
        while let Some(page) = lister.next_page().await? {
            for prefix in page.common_prefixes() {
                match dataset.folder_of(prefix) {
                    Some(Folder::Symbol(name)) => symbols.push(name.to_string()),
                    Some(Folder::Refused(why)) => {
                        tracing::warn!("skipping a folder of the listing: {why}")
                    }
                    Some(Folder::Empty) | None => {}
                }
            }
        }
        Ok(symbols)
    }
}

/// Pages one level of a listing with a delimiter may take (`VisionClient::list_level`): the
/// widest level of the bucket, spot's daily klines, holds ~3,600 symbol folders (4 pages).
pub const LEVEL_MAX_PAGES: u32 = DISCOVERY_MAX_PAGES;

/// Pages a flat listing of one folder may take (`VisionClient::list_all`): 5 × 10⁶ keys, ~25×
/// the largest folder of the layout (spot BTCUSDT's klines: 16 intervals × ~3,000 days × 2 keys
/// ≈ 10⁵), and ~35× the 137,212 keys of the `/data/…` tree outside it.
pub const FOLDER_MAX_PAGES: u32 = 5_000;

impl VisionClient {
    /// One level of the bucket under `prefix` (`delimiter=/`): its sub-folders and the keys
    /// directly in it, in bucket order.
    pub async fn list_level(
        &self,
        prefix: &str,
    ) -> Result<(Vec<String>, Vec<ListedObject>), VisionError> {
        let mut lister = self.lister(prefix, Some("/"), None, LEVEL_MAX_PAGES);
        let (mut folders, mut objects) = (Vec::new(), Vec::new());
        while let Some(page) = lister.next_page().await? {
            folders.extend(page.common_prefixes().map(str::to_string));
            objects.extend(page.objects().map(ListedObject::from));
        }
        Ok((folders, objects))
    }

    /// Every key under `prefix` (after `start_after`, if given), flat (no delimiter), in bucket
    /// order, handed to `page` a page at a time (so a caller keeps what it needs of a big
    /// folder, not every key of it; it stops the listing with a `Stall` when it cannot hold
    /// more); each page is requested under a `permits` permit, so that every folder of a crawl
    /// shares one bound.
    pub async fn list_all(
        &self,
        permits: &tokio::sync::Semaphore,
        prefix: &str,
        start_after: Option<String>,
        mut page: impl FnMut(&ListPage) -> Result<(), Stall> + Send,
    ) -> Result<(), VisionError> {
        let mut lister = self.lister(prefix, None, start_after, FOLDER_MAX_PAGES);
        loop {
            let next = {
                // The crawl closes its permits only when it stops.
                let _permit = permits
                    .acquire()
                    .await
                    .map_err(|_| self.error(format!("listing {prefix}"), &[], Cause::Cancelled))?;
                lister.next_page().await?
            };
            match next {
                Some(next) => page(&next).map_err(|stall| {
                    let params = [("list-type", "2"), ("prefix", prefix)];
                    self.error(format!("listing {prefix}"), &params, Cause::Stalled(stall))
                })?,
                None => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_outside_the_prefix_stops_the_listing() {
        let listed = |objects: &[&str], folders: &[&str]| {
            let objects = objects.iter().map(|k| ListedObject {
                key: (*k).into(),
                size: 1,
                last_modified: DateTime::default(),
            });
            ListPage::of(objects, folders, None)
        };
        let check =
            |page: &ListPage| progress("data/", &mut Default::default(), &mut None, 1, page);
        assert_eq!(check(&listed(&["data/a.zip"], &["data/spot/"])), Ok(()));
        for (page, name) in [
            (listed(&["data/a.zip", "data2/b.zip"], &[]), "data2/b.zip"),
            (listed(&[], &["data/spot/", "spot/"]), "spot/"),
            // The prefix itself as a folder: walking it would list the same level again.
            (listed(&[], &["data/"]), "data/"),
        ] {
            assert_eq!(
                check(&page),
                Err(Stall::OutsidePrefix {
                    page: 1,
                    key: name.into()
                })
            );
        }
    }

    #[test]
    fn a_page_s3_could_send_is_within_bounds_and_one_past_any_bound_is_not() {
        let listed = |names: usize, bytes: usize, token: usize| {
            let objects = (0..names).map(|i| ListedObject {
                key: format!("{i:0bytes$}"),
                size: 1,
                last_modified: DateTime::default(),
            });
            ListPage::of(objects, &[], (token > 0).then(|| "t".repeat(token)))
        };
        let limits = (MAX_PAGE_NAMES, MAX_NAME_BYTES, MAX_TOKEN_BYTES);
        assert_eq!(
            within_bounds(1, &listed(limits.0, limits.1, limits.2)),
            Ok(())
        );
        assert!(matches!(
            within_bounds(2, &listed(limits.0 + 1, 8, 0)),
            Err(Oversize::TooManyNames {
                page: 2,
                names: 1001
            })
        ));
        assert!(matches!(
            within_bounds(3, &listed(1, limits.1 + 1, 0)),
            Err(Oversize::NameTooLong { page: 3, bytes: 1025, ref name }) if name.len() == 200
        ));
        assert!(matches!(
            within_bounds(4, &listed(1, 8, limits.2 + 1)),
            Err(Oversize::TokenTooLong {
                page: 4,
                bytes: 4097,
                ..
            })
        ));
    }

    #[test]
    fn a_real_delimiter_page_gives_folders_and_not_the_prefix_echo() {
        let fixtures = include_str!("../../../../fixtures/bucket/listbucket_examples.xml");
        let doc = fixtures
            .split("<!-- 2)")
            .nth(1)
            .and_then(|d| d.split_once("-->"))
            .map(|(_, d)| d)
            .unwrap();
        let doc = doc.split("<!--").next().unwrap();
        let page = parse_page(doc).unwrap();
        assert!(page.objects().next().is_none() && page.next_token.is_none());
        assert_eq!(
            page.common_prefixes().collect::<Vec<_>>(),
            [
                "data/futures/um/daily/klines/BTCUSDT//",
                "data/futures/um/daily/klines/BTCUSDT/12h/",
                "data/futures/um/daily/klines/BTCUSDT/1h/"
            ]
        );
    }

    #[test]
    fn entities_unicode_and_url_encoding_are_decoded() {
        let xml = r#"<ListBucketResult><Prefix>p/</Prefix><IsTruncated>true</IsTruncated><NextContinuationToken>t+1/=</NextContinuationToken>
            <Contents><Key>k/币安人生USDT &amp; co</Key><LastModified>2022-03-21T08:58:02.000Z</LastModified><ETag>&quot;4c65&quot;</ETag><Size>1387</Size></Contents></ListBucketResult>"#;
        let page = parse_page(xml).unwrap();
        let object = page.objects().next().unwrap();
        assert_eq!(object.key, "k/币安人生USDT & co");
        assert_eq!(
            object.last_modified.to_rfc3339(),
            "2022-03-21T08:58:02+00:00"
        );
        assert_eq!(page.next_token.as_deref(), Some("t+1/="));
        let encoded = r#"<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>
            <Contents><Key>k/%E5%B8%81%E5%AE%89USDT</Key><LastModified>2022-03-21T08:58:02.000Z</LastModified><Size>1</Size></Contents>
            <CommonPrefixes><Prefix>d/%E5%B8%81/</Prefix></CommonPrefixes></ListBucketResult>"#;
        let page = parse_page(encoded).unwrap();
        assert_eq!(
            (
                page.objects().next().unwrap().key,
                page.common_prefixes().next().unwrap()
            ),
            ("k/币安USDT", "d/币/")
        );
    }

    /// A page as vision-sim (and S3) writes it: `n` keys of one daily klines folder, each
    /// file followed by its `.CHECKSUM`, with ETag and StorageClass.
    fn s3_page(n: usize) -> String {
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>data.binance.vision</Name><Prefix>data/spot/daily/klines/BTCUSDT/</Prefix><KeyCount>1000</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>646174612f73706f74</NextContinuationToken>",
        );
        let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        for i in 0..n {
            let d = day + chrono::Duration::days((i / 2) as i64);
            let sidecar = if i % 2 == 1 { ".CHECKSUM" } else { "" };
            xml.push_str(&format!(
                "<Contents><Key>data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-{d}.zip{sidecar}</Key><LastModified>{}T08:13:46.{:03}Z</LastModified><ETag>&quot;3ccd78ce6e7c9ed8af19cdcf93db{i:04}&quot;</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
                d.succ_opt().unwrap(),
                i % 1000,
                50_000 + i
            ));
        }
        xml + "</ListBucketResult>"
    }

    /// Documents of every shape the tests know: S3's, the fixtures', entities, url encoding,
    /// and the malformed ones.
    fn documents() -> Vec<String> {
        let fixtures = include_str!("../../../../fixtures/bucket/listbucket_examples.xml");
        let mut docs: Vec<String> = fixtures
            .split("<!--")
            .filter_map(|d| d.split_once("-->").map(|(_, d)| d.trim().to_string()))
            .filter(|d| d.contains("ListBucketResult"))
            .collect();
        docs.push(s3_page(6));
        docs.push(r#"<ListBucketResult><Prefix>p/</Prefix><IsTruncated>true</IsTruncated><NextContinuationToken>t+1/=</NextContinuationToken>
            <Contents><Key>k/币安人生USDT &amp; co</Key><LastModified>2022-03-21T08:58:02.000Z</LastModified><ETag>&quot;4c65&quot;</ETag><Size>1387</Size></Contents></ListBucketResult>"#.into());
        docs.push(r#"<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>
            <Contents><Key>k/%E5%B8%81%E5%AE%89USDT</Key><LastModified>2022-03-21T08:58:02+01:00</LastModified><Size>1</Size></Contents>
            <CommonPrefixes><Prefix>d/%E5%B8%81/</Prefix></CommonPrefixes></ListBucketResult>"#.into());
        docs.push("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><LastModified>2024-02-29T23:59:59.999Z</LastModified></Contents><Contents><Key>l</Key><LastModified>2024-02-29T23:59:60.000Z</LastModified></Contents></ListBucketResult>".into());
        docs
    }

    /// Deterministic small numbers for the mutation tests (xorshift).
    struct Dice(u64);

    impl Dice {
        fn next(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        /// `chars` with one or two mutations between `from` and its last `tail` characters:
        /// a character deleted, one of `alphabet` inserted, or a piece of up to 11 doubled.
        fn mutate(
            &mut self,
            chars: &[char],
            from: usize,
            tail: usize,
            alphabet: &[char],
        ) -> String {
            let mut m = chars.to_vec();
            for _ in 0..1 + self.next(2) {
                let at = from + self.next(m.len() - from - tail);
                match self.next(3) {
                    0 => {
                        m.remove(at);
                    }
                    1 => m.insert(at, alphabet[self.next(alphabet.len())]),
                    _ => {
                        let len = self.next(12).min(m.len() - at);
                        let piece: Vec<char> = m[at..at + len].to_vec();
                        m.splice(at..at, piece);
                    }
                }
            }
            m.into_iter().collect()
        }
    }

    /// The plain reader (`scan`) must read whatever it accepts exactly as the general one
    /// does: every document above and ~40,000 mutations of them (a character deleted,
    /// inserted, or a piece doubled), deterministic.
    #[test]
    fn the_plain_reader_reads_what_it_accepts_as_the_general_reader_does() {
        let docs = documents();
        for doc in &docs {
            if let Some(raw) = scan(doc) {
                assert_eq!(read_events(doc).ok(), Some(raw), "{doc}");
            }
        }
        assert!(
            scan(&s3_page(6)).is_some(),
            "S3's own shape is read by scan"
        );
        let alphabet: Vec<char> = "<>/&;:. \n\"?!-=TZ0189aKx币#".chars().collect();
        let mut dice = Dice(0x2545_f491_4f6c_dd1d);
        let (mut accepted, mut tried) = (0, 0);
        for doc in &docs {
            let chars: Vec<char> = doc.chars().collect();
            for _ in 0..4000 {
                let m = dice.mutate(&chars, 0, 0, &alphabet);
                tried += 1;
                if let Some(raw) = scan(&m) {
                    accepted += 1;
                    assert_eq!(read_events(&m).ok(), Some(raw), "{m}");
                }
            }
        }
        assert!(accepted > tried / 10, "{accepted} of {tried}");
    }

    /// An entry read at once (`Scanner::s3_entry`) must be read as child by child: S3's pages,
    /// entries one step off its shape (each tag, time, size and ETag bent), and ~60,000
    /// mutations inside the entries, deterministic. Whatever the entry reader accepts, the
    /// child-by-child reader and the general one read the same.
    #[test]
    fn an_entry_read_at_once_is_read_as_child_by_child() {
        let s3 = s3_page(4);
        // S3's own entries are the ones read at once.
        for entry in s3.split("<Contents>").skip(1) {
            let mut names = String::new();
            let mut c = Scanner { s: entry, i: 0 };
            assert!(c.s3_entry(&mut names).is_some(), "{entry}");
            assert!(
                matches!(&entry[c.i..], "" | "</ListBucketResult>"),
                "{entry}"
            );
        }
        let same = |doc: &str| {
            let fast = scan_entries(doc, true);
            assert_eq!(fast, scan_entries(doc, false), "{doc}");
            if let Some(raw) = &fast {
                assert_eq!(read_events(doc).ok().as_ref(), Some(raw), "{doc}");
            }
            fast.is_some()
        };
        assert!(same(&s3));
        let entry = s3.split("<Contents>").nth(1).unwrap().to_string();
        for (from, to) in [
            ("<Size>50000</Size>", "<Size>+50000</Size>"),
            ("<Size>50000</Size>", "<Size>0000000000000050000</Size>"),
            ("<Size>50000</Size>", "<Size>5497558138880</Size>"),
            ("<Size>50000</Size>", "<Size>5497558138881</Size>"),
            ("<Size>50000</Size>", "<Size>99999999999999</Size>"),
            ("<Size>50000</Size>", "<Size></Size>"),
            ("<Size>50000</Size>", "<Size>5&#48;</Size>"),
            ("<Size>50000</Size>", "<Size> 50000</Size>"),
            ("&quot;</ETag>", "&amp;quot;</ETag>"),
            ("&quot;</ETag>", "&quot;&quot;</ETag>"),
            ("&quot;</ETag>", "&quot</ETag>"),
            ("<ETag>&quot;", "<ETag>&quot;&nosuch;"),
            ("<ETag>&quot;", "<ETag>&quot;&nosuch"),
            ("<ETag>&quot;", "<ETag>\""),
            ("STANDARD", "ST&amp;NDARD"),
            ("STANDARD", "ST&NDARD"),
            ("STANDARD", ""),
            ("STANDARD", "<X/>"),
            (".000Z", ".000+00:00"),
            (".000Z", "Z"),
            ("T08", "t08"),
            ("</Key>", "</Key> "),
            ("</Size>", "</Size>\n"),
            ("</Key><LastModified>", "</Key><Size>1</Size><LastModified>"),
            ("<StorageClass>STANDARD</StorageClass>", ""),
            ("</StorageClass>", "</StorageClass><Key>k</Key>"),
            ("</StorageClass>", "</StorageClass><Size>7</Size>"),
            ("<Key>data", "<Key>d&amp;ata"),
            ("<Key>data", "<Key>d&ata"),
        ] {
            assert!(entry.contains(from), "{from}");
            let bent = s3.replacen(&entry, &entry.replacen(from, to, 1), 1);
            same(&bent);
        }
        // Mutations inside the entries only, where `s3_entry` reads.
        let chars: Vec<char> = s3.chars().collect();
        let first = s3[..s3.find("<Contents>").unwrap()].chars().count();
        let alphabet: Vec<char> = "<>/&;:.+ \n\"0189aKx币#".chars().collect();
        let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
        let (mut accepted, tried) = (0, 60_000);
        for _ in 0..tried {
            let m = dice.mutate(&chars, first, 20, &alphabet);
            accepted += usize::from(same(&m));
        }
        assert!(accepted > tried / 10, "{accepted} of {tried}");
    }

    #[test]
    fn s3_times_read_by_hand_are_the_instants_chrono_reads() {
        for text in [
            "2022-03-21T08:58:02.000Z",
            "2024-02-29T23:59:59.999Z",
            "0000-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
            "2023-02-29T00:00:00.000Z",
            "2024-13-01T00:00:00.000Z",
            "2024-01-01T24:00:00.000Z",
            "2024-01-01T23:60:00.000Z",
            "2024-01-01T23:59:60.000Z",
            "2024-01-01t23:59:59.000Z",
            "2024-01-01T23:59:59.000z",
            "2024-01-01T23:59:59,000Z",
            "2024-01-01T23:59:5+.000Z",
            "+024-01-01T23:59:59.000Z",
            "2024-01-01T23:59:59.000+00:00",
            "2024-01-01T23:59:59Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.with_timezone(&Utc));
            if let Some(by_hand) = s3_time(text) {
                assert_eq!(Some(by_hand), chrono, "{text}");
            }
            assert_eq!(parse_last_modified(text), chrono, "{text}");
        }
        assert!(s3_time("2022-03-21T08:58:02.000Z").is_some());
    }

    /// What reading a page costs a key: `cargo test --release --lib -- --ignored
    /// a_page_costs --nocapture` (BENCHMARKS.md, session 14).
    #[test]
    #[ignore = "a measurement, not a test"]
    fn a_page_costs() {
        let xml = s3_page(1000);
        let rounds = 2000;
        let time = |what: &str, f: &dyn Fn() -> usize| {
            let t = std::time::Instant::now();
            let mut n = 0;
            for _ in 0..rounds {
                n += f();
            }
            let ns = t.elapsed().as_nanos() as f64 / (rounds * 1000) as f64;
            println!("{what}: {ns:.0} ns a key ({n})");
        };
        time("parse_page", &|| parse_page(&xml).unwrap().objects().len());
        time("scan, child by child", &|| {
            scan_entries(&xml, false).unwrap().page.objects().len()
        });
        time("read_events (the general reader)", &|| {
            read_events(&xml).unwrap().page.objects().len()
        });
        let page = parse_page(&xml).unwrap();
        time("Dataset::read_key", &|| {
            page.objects()
                .filter(|o| Dataset::read_key(o.key).is_some())
                .count()
        });
    }

    #[test]
    fn malformed_pages_are_errors_not_empty_listings() {
        assert!(
            parse_page("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")
                .is_err()
        );
        assert!(parse_page("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>").is_err());
        assert!(parse_page("<<<not xml").is_err());
        for (xml, why) in [
            (
                "<Error><Code>AccessDenied</Code></Error>",
                "not a ListBucketResult",
            ),
            (
                "<ListBucketResult><IsTruncated>false</IsTruncated>",
                "ends before",
            ),
            (
                "<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>",
                "IsTruncated",
            ),
            (
                "<ListBucketResult><Contents><Key>k</Key><LastModified>2022-03-21T08:58:02.000Z</LastModified><Size>-1</Size></Contents></ListBucketResult>",
                "Size",
            ),
            (
                "<ListBucketResult><Contents><Key>k<b>x</b></Key><LastModified>2022-03-21T08:58:02.000Z</LastModified></Contents></ListBucketResult>",
                "markup",
            ),
            (
                "<ListBucketResult><Contents><LastModified>2022-03-21T08:58:02.000Z</LastModified></Contents></ListBucketResult>",
                "no Key",
            ),
            (
                "<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
                "LastModified",
            ),
            (
                "<ListBucketResult><CommonPrefixes></CommonPrefixes></ListBucketResult>",
                "no Prefix",
            ),
            (
                "<ListBucketResult><CommonPrefixes/></ListBucketResult>",
                "no Prefix",
            ),
            ("<ListBucketResult><Contents/></ListBucketResult>", "no Key"),
        ] {
            let err = parse_page(xml).map(|p| p.objects().len()).unwrap_err();
            let err = err.to_string();
            assert!(err.contains(why), "{xml}: {err}");
        }
        // The listing's own <Prefix> and unknown elements are read past, nested or not.
        let page = parse_page("<ListBucketResult><Prefix>p/</Prefix><Owner><ID>x</ID><DisplayName/></Owner><IsTruncated>false</IsTruncated><KeyCount/></ListBucketResult>").unwrap();
        assert!(page.objects().next().is_none() && page.common_prefixes().next().is_none());
    }
}
