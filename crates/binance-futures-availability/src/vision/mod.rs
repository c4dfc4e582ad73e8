//! Everything that speaks to Binance Vision: the key grammar (`keys`), S3 listing with paging
//! (`list`), where listing pages become facts about daily files (`daily`), HEAD probes, and the
//! HTTP client with its retry policy and typed errors (`client`). It returns facts and knows
//! nothing of DuckDB.

mod client;
mod daily;
mod keys;
mod list;

pub use client::{
    ClientConfig, Endpoints, MAX_LISTING_BYTES, ObjectMeta, RetryPolicy, Stats, VisionClient,
};
pub use daily::{DAYS_PER_PAGE, Extent, Listed, list_daily_files};
pub use keys::{
    BadSymbol, Folder, KLINES_ROOT, check_symbol, classify, daily_1m_folder, daily_1m_key,
    folder_symbol, parse_daily_1m_key, start_after_day,
};
pub use list::{DISCOVERY_MAX_PAGES, ListPage, ListedObject, Lister, Stall};

/// Why a request to Vision did not give an answer, after the retries the policy allows.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed: {cause}, after {attempts} attempt{} ({url})", if *.attempts == 1 { "" } else { "s" })]
pub struct VisionError {
    /// What was asked, naming the key or prefix (`HEAD data/…/BTCUSDT-1m-2024-01-01.zip`).
    pub what: String,
    pub url: String,
    pub attempts: u32,
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

/// The last failure behind a `VisionError`.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    #[error("HTTP {status}{}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(), hint(*status))]
    Status { status: u16, code: Option<String> },
    #[error("{0}")]
    Transport(String),
    #[error("the listing could not be read: {0}")]
    BadListing(String),
    /// A body past `ClientConfig::max_body_bytes`: read no further (a real page is ~0.3 MB).
    #[error("the response is larger than {limit} bytes, far more than any listing page")]
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
