//! Defaults that name the outside world, in one place: the real endpoints and the database path.
//! Everything else receives them as configuration (flags and environment), so tests point the
//! tool at a local simulated bucket.

use crate::facts::Market;
use std::path::PathBuf;

/// How the tool introduces itself to Binance's servers.
pub const USER_AGENT: &str = concat!("binance-futures-availability/", env!("CARGO_PKG_VERSION"));

/// Path-style S3 URL of the bucket, for listing. Override with `--s3-url` / `BFA_S3_URL`.
pub const DEFAULT_S3_URL: &str = "https://s3-ap-northeast-1.amazonaws.com/data.binance.vision";

/// Where files are served (CloudFront). Override with `--data-url` / `BFA_DATA_URL`.
pub const DEFAULT_DATA_URL: &str = "https://data.binance.vision";

/// `~/.cache/binance-futures/availability.duckdb`, as the original tool kept it (its
/// `Path.home()` is `%USERPROFILE%` on Windows, as std's `home_dir` is there).
pub fn default_db_path() -> PathBuf {
    #[cfg(unix)]
    let home = std::env::var_os("HOME").map(PathBuf::from);
    #[cfg(not(unix))]
    let home = std::env::home_dir();
    let home = home.unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache")
        .join("binance-futures")
        .join("availability.duckdb")
}

/// Binance's list of a market's instruments, for `validate`: USD-M's contracts (fapi), COIN-M's
/// (dapi), spot's pairs. Override with `--exchange-info` / `BFA_EXCHANGE_INFO_URL` (a URL or a
/// saved response file). `None` for options, which no database keeps.
pub const fn exchange_info_url(market: Market) -> Option<&'static str> {
    match market {
        Market::Um => Some("https://fapi.binance.com/fapi/v1/exchangeInfo"),
        Market::Cm => Some("https://dapi.binance.com/dapi/v1/exchangeInfo"),
        Market::Spot => Some("https://api.binance.com/api/v3/exchangeInfo"),
        Market::Option => None,
    }
}
