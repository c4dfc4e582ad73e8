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

/// Why a day given by a user cannot be asked about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DayError {
    #[error("{text:?} is not a date of the form YYYY-MM-DD")]
    Malformed { text: String },
    #[error("{day} is before {TRADING_START}, the first day of Binance USD-M futures")]
    BeforeTrading { day: NaiveDate },
    #[error("{day} is after today ({today}, UTC)")]
    AfterToday { day: NaiveDate, today: NaiveDate },
    #[error("the start {start} is after the end {end}")]
    Reversed { start: NaiveDate, end: NaiveDate },
}

/// The one grammar of a day a user asks about, for every front end (the CLI, the Python
/// package): exactly `YYYY-MM-DD`, within `TRADING_START ..= today` (UTC).
///
/// ```
/// # use binance_futures_availability::facts::{parse_day, DayError};
/// # use chrono::NaiveDate;
/// let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
/// assert_eq!(parse_day("2024-01-15", today), Ok(NaiveDate::from_ymd_opt(2024, 1, 15).unwrap()));
/// assert!(matches!(parse_day("2024-1-15", today), Err(DayError::Malformed { .. })));
/// assert!(matches!(parse_day("2026-12-02", today), Err(DayError::AfterToday { .. })));
/// ```
pub fn parse_day(text: &str, today: NaiveDate) -> Result<NaiveDate, DayError> {
    // chrono alone accepts `2024-1-15` and `+2024-01-15`; the length pins the one spelling.
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| DayError::Malformed {
            text: text.to_string(),
        })?;
    check_day(day, today)
}

/// A day given as a date (not text) is held to the same range as `parse_day`.
pub fn check_day(day: NaiveDate, today: NaiveDate) -> Result<NaiveDate, DayError> {
    if day < TRADING_START {
        return Err(DayError::BeforeTrading { day });
    }
    if day > today {
        return Err(DayError::AfterToday { day, today });
    }
    Ok(day)
}

/// `start ..= end` is a range only when `start` is not after `end`.
pub fn check_order(start: NaiveDate, end: NaiveDate) -> Result<(), DayError> {
    if start > end {
        return Err(DayError::Reversed { start, end });
    }
    Ok(())
}

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
    /// The names every front end accepts (`--contract`, Python's `contract=`).
    pub const NAMES: [&'static str; 3] = ["perpetual", "delivery", "all"];

    /// One of `NAMES`.
    pub fn parse(name: &str) -> Option<ContractFilter> {
        match name {
            "perpetual" => Some(ContractFilter::Perpetual),
            "delivery" => Some(ContractFilter::Delivery),
            "all" => Some(ContractFilter::All),
            _ => None,
        }
    }

    /// Whether a symbol of `contract` is among the contracts asked for.
    pub fn admits(self, contract: Contract) -> bool {
        self.contract().is_none_or(|want| want == contract)
    }

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
