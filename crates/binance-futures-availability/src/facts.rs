//! The facts the tool traffics in: what was observed about one daily file, and what kind of
//! contract a symbol folder is. `vision` produces them, `store` keeps them; neither knows the other.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// The day Binance USD-M futures began trading; no query may ask about an earlier day.
pub const TRADING_START: NaiveDate = match NaiveDate::from_ymd_opt(2019, 9, 25) {
    Some(d) => d,
    None => panic!("valid constant date"),
};

/// The first day any UM daily archive exists on Vision. Days between `TRADING_START` and this
/// day have no files for any symbol, so collection never asks for them.
pub const ARCHIVE_START: NaiveDate = match NaiveDate::from_ymd_opt(2019, 12, 31) {
    Some(d) => d,
    None => panic!("valid constant date"),
};

/// One daily 1m-klines file that was seen in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFact {
    pub symbol: String,
    pub date: NaiveDate,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    pub etag: Option<String>,
}

/// Perpetual (incl. TradFi perpetuals and settled folders) or dated delivery contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Contract {
    Perpetual,
    Delivery,
}

impl Contract {
    pub fn as_str(self) -> &'static str {
        match self {
            Contract::Perpetual => "perpetual",
            Contract::Delivery => "delivery",
        }
    }

    pub fn parse(s: &str) -> Option<Contract> {
        match s {
            "perpetual" => Some(Contract::Perpetual),
            "delivery" => Some(Contract::Delivery),
            _ => None,
        }
    }
}

/// Which contracts a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContractFilter {
    #[default]
    Perpetual,
    Delivery,
    All,
}

impl ContractFilter {
    /// The contract to match, or `None` for all.
    pub fn contract(self) -> Option<Contract> {
        match self {
            ContractFilter::Perpetual => Some(Contract::Perpetual),
            ContractFilter::Delivery => Some(Contract::Delivery),
            ContractFilter::All => None,
        }
    }
}

/// What a symbol folder's name says about the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolClass {
    pub contract: Contract,
    /// The quote asset (USDT, USDC, BUSD, USD1, …), if the name ends in a known one.
    pub quote_asset: Option<String>,
    /// A `…SETTLED` / `…_SETTLED` folder: the history of a contract that was settled and relisted.
    pub settled: bool,
    /// The delivery day of a dated contract (`BTCUSDT_260925` → 2026-09-25).
    pub delivery_date: Option<NaiveDate>,
}
