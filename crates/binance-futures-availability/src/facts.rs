//! The facts the tool traffics in: what was observed about one daily file, what kind of
//! contract a symbol folder is, and what a day's 1d kline says of its trading. `vision` produces them, `store` keeps them; neither knows the other.

use chrono::{DateTime, Datelike as _, NaiveDate, Utc};
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

/// A calendar month (UTC), the span of a monthly klines file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    /// The month of `year`-`month` (1..=12), or `None` for no such month.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|first| Month { first })
    }

    /// The month `day` falls in.
    pub fn of(day: NaiveDate) -> Month {
        // Day 1 of an existing day's month always exists.
        Month {
            first: day.with_day0(0).unwrap_or(day),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first.pred_opt().unwrap_or(self.first)
    }

    /// The month after this one.
    pub fn next(self) -> Month {
        Month {
            first: self
                .first
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(self.first),
        }
    }

    pub fn contains(self, day: NaiveDate) -> bool {
        Month::of(day) == self
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.first.format("%Y-%m"))
    }
}

/// What a klines file covers: one day (a daily file) or one month (a monthly file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Span {
    Day(NaiveDate),
    Month(Month),
}

impl Span {
    pub fn first_day(self) -> NaiveDate {
        match self {
            Span::Day(d) => d,
            Span::Month(m) => m.first_day(),
        }
    }

    pub fn last_day(self) -> NaiveDate {
        match self {
            Span::Day(d) => d,
            Span::Month(m) => m.last_day(),
        }
    }

    pub fn contains(self, day: NaiveDate) -> bool {
        self.first_day() <= day && day <= self.last_day()
    }
}

/// One day of one symbol's trading, as its 1d kline states it. Prices and volumes are the
/// file's decimals read as `f64` (15–17 significant digits; the files carry at most 8 decimals
/// on values below 10^10, so ranking and means are unaffected).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyTrading {
    pub date: NaiveDate,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    /// Base-asset volume.
    pub volume: f64,
    /// Quote-asset volume (USDT for …USDT): what universes rank by.
    pub quote_volume: f64,
    /// Trades in the day; 0 on the days a delisted pair's file carries the price forward. At
    /// most `i64::MAX`, as `vision::read_1d_file` accepts and the store keeps.
    pub trades: u64,
    pub taker_buy_volume: f64,
    pub taker_buy_quote_volume: f64,
}

impl DailyTrading {
    /// A day is tradable when it has trades: a file alone is not proof of trading.
    pub fn tradable(&self) -> bool {
        self.trades > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn months_know_their_days_across_leap_years_and_year_ends() {
        let feb = Month::new(2024, 2).unwrap();
        assert_eq!(
            (feb.first_day(), feb.last_day()),
            (d("2024-02-01"), d("2024-02-29"))
        );
        assert_eq!(Month::new(2023, 2).unwrap().last_day(), d("2023-02-28"));
        let dec = Month::of(d("2019-12-31"));
        assert_eq!(dec.to_string(), "2019-12");
        assert_eq!(dec.next(), Month::new(2020, 1).unwrap());
        assert!(dec.contains(d("2019-12-01")) && !dec.contains(d("2020-01-01")));
        assert_eq!(Month::new(2024, 13), None);
        assert_eq!(Month::new(2024, 0), None);
        let span = Span::Month(feb);
        assert!(span.contains(d("2024-02-29")) && !span.contains(d("2024-03-01")));
        assert_eq!(Span::Day(d("2024-02-10")).last_day(), d("2024-02-10"));
    }
}
