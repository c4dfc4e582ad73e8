//! Everything that speaks to Binance Vision: the key grammar (`keys`), S3 listing with paging
//! (`list`), where listing pages become facts about daily files (`daily`), what a klines file
//! holds once fetched (`klines`: CHECKSUM, zip, CSV), the 1d folders' listings and fetches
//! (`oned`), HEAD probes, and the
//! HTTP client with its retry policy and typed errors (`client`). It returns facts and knows
//! nothing of DuckDB.

mod client;
mod daily;
mod keys;
mod klines;
mod list;
mod oned;
mod urls;

pub use client::{
    ClientConfig, Endpoints, MAX_LISTING_BYTES, ObjectMeta, RetryPolicy, Stats, VisionClient,
};
pub use daily::{DAYS_PER_PAGE, Extent, Listed, list_daily_files};
pub use keys::{
    BadSymbol, Folder, KLINES_ROOT, MONTHLY_KLINES_ROOT, check_symbol, classify, daily_1m_folder,
    daily_1m_key, folder_symbol, kline_1d_folder, kline_1d_key, parse_daily_1m_key,
    parse_kline_1d_key, settled_base, start_after_1d_day, start_after_day,
};
pub use klines::{ChecksumDefect, KlineFileError, Problem, read_1d_file};
pub use list::{DISCOVERY_MAX_PAGES, ListPage, ListedObject, Lister, Stall};
pub use oned::{
    FetchError, Listed1d, MAX_1D_ZIP_BYTES, OneDayFolder, fetch_1d_file, list_1d_files,
};

/// Why a request to Vision did not give an answer, after the retries the policy allows.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed: {cause}, after {attempts} attempt{} ({url})", if *.attempts == 1 { "" } else { "s" })]
pub struct VisionError {
    /// What was asked, naming the key or prefix (`HEAD data/…/BTCUSDT-1m-2024-01-01.zip`).
    pub what: String,
    pub url: String,
    pub attempts: u32,
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
    #[error("the endpoint {url} is not a valid URL: {source}")]
    BadUrl {
        url: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the endpoint {url} is not an http(s) URL")]
    NotHttp { url: String },
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
    #[error("HTTP {status}{}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(), hint(*status))]
    Status { status: u16, code: Option<String> },
    /// The request did not get an answer: connection, TLS, timeout. Shown with its sources.
    #[error("{}", chain(.0))]
    Transport(#[source] reqwest::Error),
    #[error("the listing could not be read: {0}")]
    BadListing(String),
    /// A body past its cap: read no further (a real listing page is ~0.3 MB, a 1d klines zip
    /// under 10 KB).
    #[error(
        "the response is larger than {limit} bytes, far more than any listing page or klines file"
    )]
    TooLarge { limit: usize },
    /// Paging that would never end: the listing is abandoned rather than followed forever.
    #[error("the listing does not progress: {0}")]
    Stalled(Stall),
    /// The server redirected somewhere the client will not follow.
    #[error("{0}")]
    Redirect(String),
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
