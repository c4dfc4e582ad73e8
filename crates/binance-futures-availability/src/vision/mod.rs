//! Everything that speaks to Binance Vision: markets and datasets as values (`market`,
//! `dataset`: each dataset owns its key grammar), symbol names and key days (`keys`), S3
//! listing with paging (`list`), the one window lister for any dataset (`window`), the
//! file-reader seam (`file`: fetch, CHECKSUM, unzip) and the klines format on it (`klines`),
//! HEAD probes, and the HTTP client with its retry policy and typed errors (`client`). It
//! returns facts and knows nothing of DuckDB.

mod client;
mod dataset;
mod file;
mod keys;
mod klines;
mod list;
mod market;
mod urls;
mod window;

pub use client::{
    ClientConfig, Endpoints, MAX_LISTING_BYTES, ObjectMeta, RetryPolicy, Stats, VisionClient,
};
pub use dataset::{DataType, Dataset, DatasetError, Folder, Interval, KeyReader, Partition};
pub use file::{
    ChecksumDefect, FetchError, FileError, MAX_CSV_BYTES, Problem, fetch_file, read_file,
    unzip_csv, verify_checksum,
};
pub use keys::{BadSymbol, check_symbol};
pub use klines::{
    Field, Kline, MAX_1D_ZIP_BYTES, RowError, Time, TimeUnit, ValueError, fetch_1d_file, parse_csv,
    read_1d_file,
};
pub use list::{
    DISCOVERY_MAX_PAGES, FOLDER_MAX_PAGES, LEVEL_MAX_PAGES, LISTING_MAX_NAME_BYTES, ListPage,
    ListedObject, Lister, MAX_NAME_BYTES, MAX_PAGE_NAMES, MAX_TOKEN_BYTES, Oversize, PageError,
    PageObject, Stall,
};
pub use market::{Instrument, Market, SymbolName, UnknownMarket, settled_base};
pub use urls::public_url;
pub use window::{DAYS_PER_PAGE, Extent, ListedFile, Window, list_window};

/// Why a request to Vision did not give an answer, after the retries the policy allows.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed: {cause}, after {attempts} attempt{} ({url})", if *.attempts == 1 { "" } else { "s" })]
pub struct VisionError {
    /// What was asked, naming the key or prefix (`HEAD data/…/BTCUSDT-1m-2024-01-01.zip`).
    pub what: String,
    /// The URL of the last attempt, credentials shown as `***`.
    pub url: String,
    /// Attempts made, the first included: 1 when the failure was not worth retrying, up to the
    /// policy's `max_attempts` when it was.
    pub attempts: u32,
    /// What went wrong on the last attempt.
    #[source]
    pub cause: Cause,
}

impl VisionError {
    /// The run was stopped (SIGTERM, the circuit breaker) while this request waited or ran.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.cause, Cause::Cancelled)
    }

    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self.cause {
            Cause::Status { status, .. } => Some(status),
            _ => None,
        }
    }
}

/// Why a client could not be set up: a bad endpoint (the caller's input) or no HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `--s3-url` or `--data-url` (or `BFA_S3_URL`, `BFA_DATA_URL`) does not parse.
    #[error("the endpoint {url} is not a valid URL: {source}")]
    BadUrl {
        /// The endpoint as given, anything between `//` and `@` shown as `***`.
        url: String,
        /// The URL parser's reason.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An endpoint parses, but is not one a request can be sent to: another scheme
    /// (`ftp:`, `file:`) or no host (`mailto:`).
    #[error("the endpoint {url} is not an http(s) URL")]
    NotHttp {
        /// The endpoint as given, credentials shown as `***`.
        url: String,
    },
    /// The TLS backend or the system would not give reqwest a client: the machine's fault,
    /// not the caller's.
    #[error("the HTTP client could not be built: {0}")]
    Client(#[source] reqwest::Error),
}

impl SetupError {
    /// An endpoint the caller gave is malformed (exit 2), as opposed to a failing machine.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, SetupError::BadUrl { .. } | SetupError::NotHttp { .. })
    }
}

/// The message of `e` followed by those of its sources: reqwest's own says "error sending
/// request", the cause ("connection refused", "operation timed out") is further down.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The last failure behind a `VisionError`.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    /// The server answered with an error status (for a file's HEAD or GET, 404 is no error: it
    /// says the file does not exist). 5xx and 429 are retried, others are not.
    #[error("HTTP {status}{}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(), hint(*status))]
    Status {
        /// The HTTP status of the last attempt.
        status: u16,
        /// The S3 error document's `<Code>` (`SlowDown`, `AccessDenied`), when the body was
        /// one and the code a plain word.
        code: Option<String>,
    },
    /// The request did not get an answer: connection, TLS, timeout. Shown with its sources.
    #[error("{}", chain(.0))]
    Transport(#[source] reqwest::Error),
    /// A listing page's body could not be read as one (not UTF-8, not a ListBucketResult, a
    /// field missing); retried, since most often it is a body cut short.
    #[error("the listing could not be read: {0}")]
    BadListing(PageError),
    /// A body past its cap: read no further (a real listing page is ~0.3 MB, a 1d klines zip
    /// under 10 KB).
    #[error(
        "the response is larger than {limit} bytes, far more than any listing page or klines file"
    )]
    TooLarge {
        /// The cap in bytes: `MAX_LISTING_BYTES` for a listing page, the caller's limit for a
        /// file.
        limit: usize,
    },
    /// Paging that would never end: the listing is abandoned rather than followed forever.
    #[error("the listing does not progress: {0}")]
    Stalled(Stall),
    /// A page no S3 server sends (more names than a page holds, a key of 10 kB): refused, not
    /// retried, and not kept.
    #[error("the listing is not one S3 would send: {0}")]
    Oversize(Oversize),
    /// The run was stopped (SIGTERM, the circuit breaker) while the request waited or ran;
    /// not a failure of Vision.
    #[error("stopped on request")]
    Cancelled,
}

fn hint(status: u16) -> &'static str {
    match status {
        403 => " (the bucket is public, so 403 means an outage or a block, not a missing file)",
        451 => " (unavailable for legal reasons: blocked from this country)",
        _ => "",
    }
}
