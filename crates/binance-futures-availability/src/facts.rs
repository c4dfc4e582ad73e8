//! The facts the tool traffics in: what was observed about one daily file, what kind of
//! contract a symbol folder is, and what a day's 1d kline says of its trading. `vision` produces them, `store` keeps them; neither knows the other.

use chrono::{DateTime, Datelike as _, NaiveDate, Utc};
use serde::Serialize;

/// The day Binance USD-M futures began trading; no question about USD-M may name an earlier
/// day (`Market::first_day` gives each market's).
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

/// The first day of Binance Vision's archive: spot's first klines, 2017-08-17. No question
/// about any market may name an earlier day; each market's own first day is later or the same
/// (`Market::first_day`), checked where the question names its market.
pub const VISION_START: NaiveDate = match NaiveDate::from_ymd_opt(2017, 8, 17) {
    Some(d) => d,
    None => panic!("valid constant date"),
};

/// Why a day given by a user cannot be asked about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DayError {
    /// Not exactly `YYYY-MM-DD`.
    #[error("{text:?} is not a date of the form YYYY-MM-DD")]
    Malformed {
        /// The text given.
        text: String,
    },
    /// Before the first day of the archive of any market.
    #[error("{day} is before {VISION_START}, the first day of any market on Binance Vision")]
    BeforeVision {
        /// The day given.
        day: NaiveDate,
    },
    /// Before the first day of the market the question is about: a spot day of 2018 is a day
    /// of spot's history and none of USD-M's.
    #[error("{day} is before {first}, the first day of {}", .market.title())]
    BeforeMarket {
        /// The day given.
        day: NaiveDate,
        /// The market asked about.
        market: Market,
        /// Its first day (`Market::first_day`).
        first: NaiveDate,
    },
    /// After today (UTC).
    #[error("{day} is after today ({today}, UTC)")]
    AfterToday {
        /// The day given.
        day: NaiveDate,
        /// Today (UTC).
        today: NaiveDate,
    },
    /// A range whose start is after its end.
    #[error("the start {start} is after the end {end}")]
    Reversed {
        /// The range's start.
        start: NaiveDate,
        /// The range's end.
        end: NaiveDate,
    },
}

/// The one grammar of a day a user asks about, for every front end (the CLI, the Python
/// package): exactly `YYYY-MM-DD`, within `VISION_START ..= today` (UTC). Whether the day is
/// in the history of the market asked about is the question's to check (`Market::check_day`),
/// as the market is named apart from the day.
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
    if day < VISION_START {
        return Err(DayError::BeforeVision { day });
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
    /// The symbol folder the file is in.
    pub symbol: String,
    /// The day the file covers.
    pub date: NaiveDate,
    /// Its size in bytes, as listed.
    pub size: u64,
    /// When it was last written, as listed.
    pub last_modified: DateTime<Utc>,
}

/// Perpetual (incl. TradFi perpetuals and settled folders) or dated delivery contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Contract {
    /// No expiry (TradFi perpetuals and settled folders included).
    Perpetual,
    /// A dated contract, delivered on its day.
    Delivery,
}

named!(Contract {
    Perpetual = "perpetual",
    Delivery = "delivery",
});

/// Which contracts a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ContractFilter {
    /// Perpetual contracts only.
    #[default]
    Perpetual,
    /// Delivery contracts only.
    Delivery,
    /// Both.
    All,
}

// The names every front end accepts (`--contract`, Python's `contract=`).
named!(ContractFilter {
    Perpetual = "perpetual",
    Delivery = "delivery",
    All = "all",
});

impl ContractFilter {
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
    /// Perpetual or delivery.
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

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// Its last day.
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

    /// Whether `day` falls in it.
    pub fn contains(self, day: NaiveDate) -> bool {
        Month::of(day) == self
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.first.format("%Y-%m"))
    }
}

/// A period as the bucket's file names write it: `2024-01-15` for a day, `2024-01` for a month.
impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Span::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Span::Month(m) => m.fmt(f),
        }
    }
}

/// Days `first ..= last`, never reversed: the one shape of a range of days. Serialized as
/// `[first, last]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayRange {
    first: NaiveDate,
    last: NaiveDate,
}

impl DayRange {
    /// `first ..= last`, or `DayError::Reversed` when `first` is after `last`.
    pub fn new(first: NaiveDate, last: NaiveDate) -> Result<DayRange, DayError> {
        check_order(first, last)?;
        Ok(DayRange { first, last })
    }

    /// The range of one day.
    pub fn day(day: NaiveDate) -> DayRange {
        DayRange {
            first: day,
            last: day,
        }
    }

    /// The first day, inclusive.
    pub fn first(self) -> NaiveDate {
        self.first
    }

    /// The last day, inclusive.
    pub fn last(self) -> NaiveDate {
        self.last
    }

    /// How many days it holds (at least 1).
    pub fn days(self) -> i64 {
        (self.last - self.first).num_days() + 1
    }

    /// Whether `day` is in it.
    pub fn contains(self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last
    }

    /// Whether `next` starts on the day after this range ends (so the two make one run).
    fn followed_by(self, next: DayRange) -> bool {
        self.last.succ_opt() == Some(next.first)
    }
}

impl Serialize for DayRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.first, self.last).serialize(s)
    }
}

/// Consecutive days of one `key`, merged: what [`runs`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run<K> {
    /// What the days have in common (a symbol, a kind of gap, …).
    pub key: K,
    /// The days, `first ..= last`.
    pub days: DayRange,
}

/// Merges ranges in order into runs: a range joins the run before it when it has the same key
/// and starts the day after that run ends; otherwise it starts a new run. The one "merge
/// consecutive days" of the library (gaps, unchecked days, mismatches).
///
/// ```
/// # use binance_futures_availability::facts::{runs, DayRange};
/// # use chrono::NaiveDate;
/// let d = |day| DayRange::day(NaiveDate::from_ymd_opt(2024, 1, day).unwrap());
/// let merged = runs([("a", d(1)), ("a", d(2)), ("b", d(3)), ("b", d(5))]);
/// assert_eq!(merged.iter().map(|r| (r.key, r.days.days())).collect::<Vec<_>>(),
///            [("a", 2), ("b", 1), ("b", 1)]);
/// ```
pub fn runs<K: PartialEq>(ranges: impl IntoIterator<Item = (K, DayRange)>) -> Vec<Run<K>> {
    let mut merged: Vec<Run<K>> = Vec::new();
    for (key, days) in ranges {
        match merged.last_mut() {
            Some(run) if run.key == key && run.days.followed_by(days) => run.days.last = days.last,
            _ => merged.push(Run { key, days }),
        }
    }
    merged
}

/// Which folder a file lies in: one file per day, or one per month. No third value: text that
/// is neither is refused where it is read (`parse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Partition {
    /// `daily/`: one file per day.
    Daily,
    /// `monthly/`: one file per month.
    Monthly,
}

// As the bucket spells the folders, and as `trading_files.kind` stores them.
named!(Partition {
    Daily = "daily",
    Monthly = "monthly",
});

impl Partition {
    /// Both, daily first.
    pub const ALL: [Partition; 2] = [Partition::Daily, Partition::Monthly];
}

/// What a klines file covers: one day (a daily file) or one month (a monthly file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Span {
    /// A daily file's day.
    Day(NaiveDate),
    /// A monthly file's month.
    Month(Month),
}

impl Span {
    /// The first day the file covers.
    pub fn first_day(self) -> NaiveDate {
        match self {
            Span::Day(d) => d,
            Span::Month(m) => m.first_day(),
        }
    }

    /// The last day the file covers.
    pub fn last_day(self) -> NaiveDate {
        match self {
            Span::Day(d) => d,
            Span::Month(m) => m.last_day(),
        }
    }

    /// Whether the file covers `day`.
    pub fn contains(self, day: NaiveDate) -> bool {
        self.first_day() <= day && day <= self.last_day()
    }

    /// The folder a file of this span lies in.
    pub fn partition(self) -> Partition {
        match self {
            Span::Day(_) => Partition::Daily,
            Span::Month(_) => Partition::Monthly,
        }
    }

    /// The span of the `partition` file whose first day is `first`.
    pub fn of(partition: Partition, first: NaiveDate) -> Span {
        match partition {
            Partition::Daily => Span::Day(first),
            Partition::Monthly => Span::Month(Month::of(first)),
        }
    }
}

/// One day of one symbol's trading, as its 1d kline states it. Prices and volumes are the
/// file's decimals read as `f64` (15–17 significant digits; the files carry at most 8 decimals
/// on values below 10^10, so ranking and means are unaffected).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyTrading {
    /// The day (UTC).
    pub date: NaiveDate,
    /// The first trade's price.
    pub open: f64,
    /// The highest price.
    pub high: f64,
    /// The lowest price.
    pub low: f64,
    /// The last trade's price.
    pub close: f64,
    /// Base-asset volume.
    pub volume: f64,
    /// Quote-asset volume (USDT for …USDT): what universes rank by.
    pub quote_volume: f64,
    /// Trades in the day; 0 on the days a delisted pair's file carries the price forward. At
    /// most `i64::MAX`, as `vision::read_1d_file` accepts and the store keeps.
    pub trades: u64,
    /// Base-asset volume bought by takers.
    pub taker_buy_volume: f64,
    /// Quote-asset volume bought by takers.
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
    fn runs_merge_only_consecutive_days_of_one_key() {
        let one = |s| DayRange::day(d(s));
        let merged = runs([
            ("a", one("2024-02-28")),
            ("a", one("2024-02-29")),
            ("a", one("2024-03-01")),
            // A day skipped: a new run.
            ("a", one("2024-03-03")),
            // Another key on the next day: a new run.
            ("b", one("2024-03-04")),
            (
                "b",
                DayRange::new(d("2024-03-05"), d("2024-03-31")).unwrap(),
            ),
        ]);
        let shown: Vec<(&str, NaiveDate, NaiveDate)> = merged
            .iter()
            .map(|r| (r.key, r.days.first(), r.days.last()))
            .collect();
        assert_eq!(
            shown,
            [
                ("a", d("2024-02-28"), d("2024-03-01")),
                ("a", d("2024-03-03"), d("2024-03-03")),
                ("b", d("2024-03-04"), d("2024-03-31")),
            ]
        );
        assert!(runs(Vec::<((), DayRange)>::new()).is_empty());
        assert_eq!(
            DayRange::new(d("2024-01-02"), d("2024-01-01")),
            Err(DayError::Reversed {
                start: d("2024-01-02"),
                end: d("2024-01-01")
            })
        );
        assert_eq!(
            DayRange::new(d("2024-01-01"), d("2024-01-31"))
                .unwrap()
                .days(),
            31
        );
        assert_eq!(
            serde_json::to_string(&one("2024-01-05")).unwrap(),
            r#"["2024-01-05","2024-01-05"]"#
        );
    }

    #[test]
    fn partitions_and_spans_agree() {
        for p in [Partition::Daily, Partition::Monthly] {
            assert_eq!(Partition::parse(p.as_str()), Some(p));
            assert_eq!(Span::of(p, d("2024-02-01")).partition(), p);
        }
        assert_eq!(Partition::parse("weekly"), None);
        assert_eq!(
            Span::of(Partition::Monthly, d("2024-02-10")),
            Span::Month(Month::new(2024, 2).unwrap())
        );
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

/// One market of the bucket (its identity; `vision::market` holds its grammar and layout). UM
/// is the default: the original tool's, and every answer's when
/// none is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Market {
    /// `data/spot/`.
    Spot,
    /// `data/futures/um/`: USD-M futures.
    #[default]
    Um,
    /// `data/futures/cm/`: COIN-M futures.
    Cm,
    /// `data/option/`.
    Option,
}

/// A text that names no market.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a market (one of spot, um, cm, option)")]
pub struct UnknownMarket {
    /// The text given.
    pub text: String,
}

impl Market {
    /// Every market, in the order the bucket lists them.
    pub const ALL: [Market; 4] = [Market::Spot, Market::Um, Market::Cm, Market::Option];

    /// The market's one text form, the first segment of a dataset's (`um/daily/klines/1m`).
    pub const fn name(self) -> &'static str {
        match self {
            Market::Spot => "spot",
            Market::Um => "um",
            Market::Cm => "cm",
            Market::Option => "option",
        }
    }

    /// What a sentence calls it: "Binance USD-M futures".
    pub const fn title(self) -> &'static str {
        match self {
            Market::Spot => "Binance spot on Vision",
            Market::Um => "Binance USD-M futures",
            Market::Cm => "Binance COIN-M futures on Vision",
            Market::Option => "Binance options on Vision",
        }
    }

    /// Where its partitions sit in the bucket: `data/futures/um/` and so on.
    pub const fn root(self) -> &'static str {
        match self {
            Market::Spot => "data/spot/",
            Market::Um => "data/futures/um/",
            Market::Cm => "data/futures/cm/",
            Market::Option => "data/option/",
        }
    }
}

impl std::fmt::Display for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Market {
    type Err = UnknownMarket;

    fn from_str(text: &str) -> Result<Market, UnknownMarket> {
        Market::ALL
            .into_iter()
            .find(|m| m.name() == text)
            .ok_or_else(|| UnknownMarket {
                text: text.to_string(),
            })
    }
}
