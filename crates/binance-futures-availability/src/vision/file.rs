//! The file-reader seam every dataset's files go through: a listed file is fetched with its
//! `.CHECKSUM` under one permit, refused unless it is the version listed, verified against its
//! sha256 (`<64 hex digits><spaces><file name>`), and unpacked (exactly one CSV, named after the
//! zip, bounded in size); only then does a reader of its format (`klines`) see its text.
//!
//! Anything else is an error naming the key: such a file is never stored, and the next run
//! fetches it again. What must not be known here: DuckDB, a format's columns.

use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::dataset::{DataType, Dataset, Interval};
use super::klines::RowError;
use super::window::ListedFile;
use super::{Cause, VisionClient, VisionError};

/// The largest CHECKSUM read: real ones are ~100 bytes.
const MAX_CHECKSUM_BYTES: usize = 4 << 10;

/// The largest CSV accepted once unpacked. A real 1m day is ~205 KB (1,440 rows); a monthly 1d
/// file ~31 rows of ~150 bytes. The bound keeps a hostile zip (a few KB that unpack to
/// gigabytes) from filling memory.
pub const MAX_CSV_BYTES: u64 = 4 * 1024 * 1024;

/// A file of the bucket that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct FileError {
    /// The file's key (`data/futures/um/daily/klines/BTCUSDT/1d/BTCUSDT-1d-2024-01-01.zip`).
    pub key: String,
    /// What is wrong with it.
    #[source]
    pub problem: Problem,
}

/// Why a file of the bucket cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The key is not that of a file the reader reads: a daily or monthly file of that type
    /// and interval, in any market.
    #[error(
        "this is not the key of a daily or monthly {}{data_type} file",
        .interval.map(|i| format!("{i} ")).unwrap_or_default()
    )]
    NotAKeyOf {
        /// The type the reader reads (`klines`).
        data_type: DataType,
        /// Its interval (`1d`), for a kline type.
        interval: Option<Interval>,
    },
    /// The listing named the file, but a GET of it answered 404: deleted (or moved) between
    /// the listing and the fetch.
    #[error("it was listed, but fetching it answered 404: it is gone since")]
    Vanished,
    /// A GET of `KEY.CHECKSUM` answered 404. The file is not read unverified.
    #[error("it has no .CHECKSUM beside it (404), so it cannot be verified")]
    ChecksumMissing,
    /// Described, never quoted: a CHECKSUM is whatever the server sent, and its text would go
    /// on into the log, the run record, `status` and `/v1/status`.
    #[error("its CHECKSUM ({bytes} bytes) is not `<sha256>  <file name>`: {defect}")]
    ChecksumMalformed {
        /// The CHECKSUM's length in bytes, all that is shown of it.
        bytes: usize,
        /// What is wrong with its text.
        defect: ChecksumDefect,
    },
    /// The CHECKSUM is well-formed, but names a file other than the zip beside it.
    #[error("its CHECKSUM is for {}, another file", shown_name(.named, *.bytes))]
    ChecksumForAnother {
        /// The name, when it is one a klines file could have; else only its length is shown.
        named: Option<String>,
        /// The length in bytes of the name it gives.
        bytes: usize,
    },
    /// The zip's bytes are not the ones its CHECKSUM vouches for: damaged on the way or at
    /// rest, or a CHECKSUM of another upload.
    #[error("its sha256 is {actual}, but its CHECKSUM says {expected}")]
    ChecksumMismatch {
        /// The digest the CHECKSUM states, 64 hex digits as written there.
        expected: String,
        /// The sha256 of the zip as downloaded, 64 lower-case hex digits.
        actual: String,
    },
    /// The bytes passed their CHECKSUM, but the zip reader cannot open them as an archive.
    #[error("it is not a readable zip")]
    BadZip(#[source] zip::result::ZipError),
    /// The zip holds no file, or more than one.
    #[error("it holds {entries} files, where a klines zip holds exactly one, {expected:?}")]
    Entries {
        /// Files in the zip.
        entries: usize,
        /// The name of the one CSV it should hold: `X.csv` for `X.zip`.
        expected: String,
    },
    /// The zip's one file is not named after the zip.
    #[error("it holds {found:?}, where a klines zip holds {expected:?}")]
    EntryName {
        /// The name it holds, cut to 120 characters.
        found: String,
        /// `X.csv`, for `X.zip`.
        expected: String,
    },
    /// The CSV unpacks past `MAX_CSV_BYTES` (4 MiB, some 20 times a 1m day): unpacking stops
    /// there, so a zip bomb costs no more memory than that.
    #[error("its CSV is larger than {MAX_CSV_BYTES} bytes once unpacked")]
    TooLarge,
    /// Inflating the CSV failed part-way: a damaged stream, or a compression the reader lacks.
    #[error("its CSV could not be unpacked")]
    Unpack(#[source] std::io::Error),
    /// The CSV's bytes are not UTF-8 text.
    #[error("its CSV is not UTF-8")]
    NotUtf8,
    /// The CSV is empty, or holds a header line only.
    #[error("its CSV holds no rows")]
    Empty,
    /// A row the format's reader refuses, with its line (1-based, the header counted).
    #[error("line {line}: {error}")]
    Row {
        /// The line the row is on, 1-based, the header line counted.
        line: usize,
        /// Why the row is refused.
        error: RowError,
    },
    /// The body fetched is not the version the listing shows (its size, or its Last-Modified
    /// where the server sends one): a CDN's cached copy of an earlier upload, or a re-upload
    /// since the listing. Storing it would record old rows under the new version, never read
    /// again.
    #[error(
        "the listing shows {listed_size} bytes last modified {}, but the download is \
         {got_size} bytes{}: a copy other than the one listed (a CDN cache not yet refreshed, or \
         a re-upload since the listing); nothing of it is stored, and the next run that lists it \
         fetches it again",
        stamp(*.listed_modified),
        .got_modified.map(|t| format!(" last modified {}", stamp(t))).unwrap_or_default()
    )]
    NotAsListed {
        /// Bytes, as the listing states them.
        listed_size: u64,
        /// The upload time the listing states.
        listed_modified: DateTime<Utc>,
        /// Bytes of the body downloaded.
        got_size: u64,
        /// The download's `Last-Modified`, when the server sent one.
        got_modified: Option<DateTime<Utc>>,
    },
    /// A day after the run's last: not over when the run started, or not one it checks.
    #[error("it states {date}, after {end}, the last day this run checks; nothing of it is stored")]
    AfterEnd {
        /// The latest day the file states.
        date: NaiveDate,
        /// The run's last day.
        end: NaiveDate,
    },
}

/// What is wrong with a CHECKSUM's text, said without repeating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumDefect {
    /// Its bytes are not UTF-8.
    #[error("it is not UTF-8 text")]
    NotUtf8,
    /// A bare CR at the end, where LF, CRLF or nothing is accepted.
    #[error("its line ends in CR without LF")]
    LineEndsInCr,
    /// A control character before the line's end: more than one line, or a tab.
    #[error("it holds a control character (a second line, a tab or a CR)")]
    Control,
    /// One word, or nothing: no digest and name to tell apart.
    #[error("no space separates a digest from a file name")]
    NoSpace,
    /// What comes before the first space is not 64 hex digits.
    #[error("it begins with {chars} characters before a space, where a sha256 is 64 hex digits")]
    Digest {
        /// Its length, in characters.
        chars: usize,
    },
    /// Spaces follow the digest, and nothing else.
    #[error("no file name follows the digest")]
    NoName,
}

/// A file name a CHECKSUM gives, quoted when it could be a klines file's (letters of any
/// script, digits, `-`, `_`, `.`, at most 100), else only its length.
fn shown_name(named: &Option<String>, bytes: usize) -> String {
    match named {
        Some(name) => format!("{name:?}"),
        None => format!("a name of {bytes} bytes that no klines file has"),
    }
}

fn plausible_name(name: &str) -> bool {
    name.chars().count() <= 100
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Checks `zip` against its CHECKSUM: `<64 hex digits><spaces><file name>`, one line ending
/// in LF, CRLF or nothing (real copies have a newline or not; CRLF is a copy saved on Windows,
/// still verifiable), the name that of `key`'s file.
pub fn verify_checksum(key: &str, zip: &[u8], checksum: &str) -> Result<(), FileError> {
    let fail = |problem| FileError {
        key: key.to_string(),
        problem,
    };
    let malformed = |defect| {
        fail(Problem::ChecksumMalformed {
            bytes: checksum.len(),
            defect,
        })
    };
    let line = checksum
        .strip_suffix("\r\n")
        .or_else(|| checksum.strip_suffix('\n'))
        .unwrap_or(checksum);
    if line.ends_with('\r') {
        return Err(malformed(ChecksumDefect::LineEndsInCr));
    }
    if line.chars().any(char::is_control) {
        return Err(malformed(ChecksumDefect::Control));
    }
    let (expected, named) = line
        .split_once(' ')
        .ok_or_else(|| malformed(ChecksumDefect::NoSpace))?;
    let named = named.trim_start_matches(' ');
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed(ChecksumDefect::Digest {
            chars: expected.chars().count(),
        }));
    }
    if named.is_empty() {
        return Err(malformed(ChecksumDefect::NoName));
    }
    let file = key.rsplit('/').next().unwrap_or(key);
    if named != file {
        return Err(fail(Problem::ChecksumForAnother {
            named: plausible_name(named).then(|| named.to_string()),
            bytes: named.len(),
        }));
    }
    let actual: String = Sha256::digest(zip)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(fail(Problem::ChecksumMismatch {
            expected: expected.to_string(),
            actual,
        }));
    }
    Ok(())
}

/// The one CSV of a klines zip, named as the zip is (`X.zip` holds `X.csv`).
pub fn unzip_csv(key: &str, zip: &[u8]) -> Result<String, FileError> {
    let fail = |problem| FileError {
        key: key.to_string(),
        problem,
    };
    let file = key.rsplit('/').next().unwrap_or(key);
    let expected = format!("{}.csv", file.strip_suffix(".zip").unwrap_or(file));
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|e| fail(Problem::BadZip(e)))?;
    if archive.len() != 1 {
        return Err(fail(Problem::Entries {
            entries: archive.len(),
            expected,
        }));
    }
    let entry = archive.by_index(0).map_err(|e| fail(Problem::BadZip(e)))?;
    if entry.name() != expected {
        return Err(fail(Problem::EntryName {
            found: entry.name().chars().take(120).collect(),
            expected,
        }));
    }
    let mut bytes = Vec::new();
    // One byte past the limit tells "too large" from "exactly at it".
    entry
        .take(MAX_CSV_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(Problem::Unpack(e)))?;
    if bytes.len() as u64 > MAX_CSV_BYTES {
        return Err(fail(Problem::TooLarge));
    }
    String::from_utf8(bytes).map_err(|_| fail(Problem::NotUtf8))
}

/// Reads a fetched file: `zip` as fetched from `key`, `checksum` as fetched from
/// `key.CHECKSUM`, verified and unpacked, its CSV text handed to `read` (a format's reader).
pub fn read_file<R>(
    key: &str,
    zip: &[u8],
    checksum: &str,
    read: impl FnOnce(&str) -> Result<R, Problem>,
) -> Result<R, FileError> {
    verify_checksum(key, zip, checksum)?;
    let csv = unzip_csv(key, zip)?;
    read(&csv).map_err(|problem| FileError {
        key: key.to_string(),
        problem,
    })
}

/// Why a listed file gave nothing: the request failed, or what came back is not a file.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A GET of the zip or its CHECKSUM failed after the retries the policy allows, or the run
    /// was stopped while it waited or ran.
    #[error(transparent)]
    Request(#[from] VisionError),
    /// The server answered, but with no file that can be used: gone, not the version listed,
    /// failing its CHECKSUM, or refused by the format's reader.
    #[error(transparent)]
    File(#[from] FileError),
}

impl FetchError {
    /// The run was stopped (SIGTERM, the circuit breaker) while the file was fetched: no fault
    /// of the file, and a run's driver does not count it as a failure.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, FetchError::Request(e) if e.is_cancelled())
    }
}

/// Fetches `symbol`'s file of `dataset` that `listed` names, and its `.CHECKSUM`, and reads it
/// with `read` (`read_file`). A file gone since the listing, a download that is not the version
/// `listed` (another size, or another Last-Modified where the server sends one: a stale CDN
/// copy), a missing CHECKSUM, a zip over `max_zip_bytes` and anything `read_file` refuses is an
/// error naming the key; nothing of such a file is stored, and the next run fetches it again.
pub async fn fetch_file<R>(
    client: &VisionClient,
    permits: &Semaphore,
    dataset: Dataset,
    symbol: &str,
    listed: &ListedFile,
    max_zip_bytes: usize,
    read: impl FnOnce(&str) -> Result<R, Problem>,
) -> Result<R, FetchError> {
    let key = dataset.key(symbol, listed.span.first_day());
    let checksum_key = format!("{key}.CHECKSUM");
    let fail = |problem| FileError {
        key: key.clone(),
        problem,
    };
    let (zip, checksum) = {
        let _permit = permits
            .acquire()
            .await
            .map_err(|_| client.error(format!("GET {key}"), &[], Cause::Cancelled))?;
        // Both at once under one permit: a file costs one round trip, not two, and
        // `--concurrency` counts it as one request (documented there).
        tokio::try_join!(
            client.get_object(&key, max_zip_bytes),
            client.get_object(&checksum_key, MAX_CHECKSUM_BYTES)
        )?
    };
    let (zip, meta) = zip.ok_or_else(|| fail(Problem::Vanished))?;
    // Listings carry milliseconds, `Last-Modified` whole seconds.
    let modified_differs = meta
        .last_modified
        .is_some_and(|t| t.timestamp() != listed.last_modified.timestamp());
    if meta.size != listed.size || modified_differs {
        return Err(fail(Problem::NotAsListed {
            listed_size: listed.size,
            listed_modified: listed.last_modified,
            got_size: meta.size,
            got_modified: meta.last_modified,
        })
        .into());
    }
    let (checksum, _) = checksum.ok_or_else(|| fail(Problem::ChecksumMissing))?;
    let bytes = checksum.len();
    let checksum = String::from_utf8(checksum).map_err(|_| {
        fail(Problem::ChecksumMalformed {
            bytes,
            defect: ChecksumDefect::NotUtf8,
        })
    })?;
    Ok(read_file(&key, &zip, &checksum, read)?)
}
