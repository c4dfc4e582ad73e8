//! Datasets as values: a market, a partition (daily or monthly), a data type and, for the four
//! kline types, an interval — with ONE text form, `MARKET/PARTITION/TYPE[/INTERVAL]`
//! (`um/daily/klines/1m`, `spot/monthly/aggTrades`, `cm/daily/indexPriceKlines/1h`,
//! `option/daily/BVOLIndex`; TYPE spelled as in the bucket), read by `FromStr` and written by
//! `Display`. A dataset owns its key grammar: the folder of a symbol, the key of the file that
//! holds a day, the `start-after` value a listing begins from, and the strict reading of a listed
//! key (anything else is never a data file).
//!
//! ```text
//! data/MARKET/PARTITION/TYPE/SYMBOL/[INTERVAL/]NAME.zip     (+ NAME.zip.CHECKSUM beside it)
//!   NAME  SYMBOL-INTERVAL-PERIOD (kline types) | SYMBOL-TYPE-PERIOD (every other type)
//!   PERIOD  YYYY-MM-DD (daily) | YYYY-MM (monthly)
//! ```
//!
//! What must not be known here: HTTP, DuckDB, a run's plan.

use chrono::NaiveDate;

use super::keys::{BadSymbol, check_symbol, iso_day};
use super::market::{Market, UnknownMarket};
pub use crate::facts::Partition;
use crate::facts::{Month, Span};

/// A data type, spelled as the bucket's folder is (`aggTrades`, `BVOLIndex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataType {
    /// `klines`: candlesticks of the traded price, one folder per interval. Spot and futures.
    Klines,
    /// `markPriceKlines`: candlesticks of the mark price, the one liquidations are judged by.
    /// Futures only.
    MarkPriceKlines,
    /// `indexPriceKlines`: candlesticks of the index price a contract tracks. Futures only;
    /// COIN-M files them under the pair (`BTCUSD`), not a contract.
    IndexPriceKlines,
    /// `premiumIndexKlines`: candlesticks of the premium of a contract over its index, from
    /// which the funding rate is computed. Futures only.
    PremiumIndexKlines,
    /// `aggTrades`: trades of one taker order at one price, merged into one row.
    AggTrades,
    /// `trades`: every trade.
    Trades,
    /// `fundingRate`: the rate at each funding time. Futures, monthly files only.
    FundingRate,
    /// `metrics`: open interest and long/short ratios. Futures, daily files only.
    Metrics,
    /// `bookDepth`: order-book depth at distances from the price. Futures, daily files only.
    BookDepth,
    /// `bookTicker`: the best bid and ask. Futures only.
    BookTicker,
    /// `liquidationSnapshot`: liquidation orders. COIN-M, daily files only.
    LiquidationSnapshot,
    /// `BVOLIndex`: the options' volatility index, filed under the index (`BTCBVOLUSDT`).
    /// Option, daily files only.
    BvolIndex,
    /// `EOHSummary`: end-of-hour summaries of the options on an underlying, filed under it
    /// (`BTCUSDT`). Option, daily files only.
    EohSummary,
}

impl DataType {
    /// The 13 data types of the bucket.
    pub const ALL: [DataType; 13] = [
        DataType::Klines,
        DataType::MarkPriceKlines,
        DataType::IndexPriceKlines,
        DataType::PremiumIndexKlines,
        DataType::AggTrades,
        DataType::Trades,
        DataType::FundingRate,
        DataType::Metrics,
        DataType::BookDepth,
        DataType::BookTicker,
        DataType::LiquidationSnapshot,
        DataType::BvolIndex,
        DataType::EohSummary,
    ];

    /// The type's folder, as the bucket spells it and the text form writes it (`aggTrades`,
    /// `BVOLIndex`).
    pub const fn name(self) -> &'static str {
        match self {
            DataType::Klines => "klines",
            DataType::MarkPriceKlines => "markPriceKlines",
            DataType::IndexPriceKlines => "indexPriceKlines",
            DataType::PremiumIndexKlines => "premiumIndexKlines",
            DataType::AggTrades => "aggTrades",
            DataType::Trades => "trades",
            DataType::FundingRate => "fundingRate",
            DataType::Metrics => "metrics",
            DataType::BookDepth => "bookDepth",
            DataType::BookTicker => "bookTicker",
            DataType::LiquidationSnapshot => "liquidationSnapshot",
            DataType::BvolIndex => "BVOLIndex",
            DataType::EohSummary => "EOHSummary",
        }
    }

    /// The kline types have an interval folder, and their file names carry the interval where
    /// every other type's carry the type.
    pub const fn has_interval(self) -> bool {
        matches!(
            self,
            DataType::Klines
                | DataType::MarkPriceKlines
                | DataType::IndexPriceKlines
                | DataType::PremiumIndexKlines
        )
    }
}

/// A kline interval, spelled as its folder is. `1mo` replaced `1M` (case-insensitive file
/// systems); `1s` exists for spot only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    /// `1s`: a second. Spot only.
    S1,
    /// `1m`: a minute, 1,440 rows a day; availability is kept from these files.
    M1,
    /// `3m`: three minutes.
    M3,
    /// `5m`: five minutes.
    M5,
    /// `15m`: fifteen minutes.
    M15,
    /// `30m`: thirty minutes.
    M30,
    /// `1h`: an hour.
    H1,
    /// `2h`: two hours.
    H2,
    /// `4h`: four hours.
    H4,
    /// `6h`: six hours.
    H6,
    /// `8h`: eight hours.
    H8,
    /// `12h`: twelve hours.
    H12,
    /// `1d`: a UTC day; a day's trading is read from these.
    D1,
    /// `3d`: three days. Not in spot's daily folders.
    D3,
    /// `1w`: a week. Not in spot's daily folders.
    W1,
    /// `1mo`: a calendar month (the folder was `1M` before). Not in spot's daily folders.
    Mo1,
}

impl Interval {
    /// The 16 intervals of the bucket, shortest first.
    pub const ALL: [Interval; 16] = [
        Interval::S1,
        Interval::M1,
        Interval::M3,
        Interval::M5,
        Interval::M15,
        Interval::M30,
        Interval::H1,
        Interval::H2,
        Interval::H4,
        Interval::H6,
        Interval::H8,
        Interval::H12,
        Interval::D1,
        Interval::D3,
        Interval::W1,
        Interval::Mo1,
    ];

    /// The interval's folder, as file names and the text form carry it too (`1m`, `1mo`).
    pub const fn name(self) -> &'static str {
        match self {
            Interval::S1 => "1s",
            Interval::M1 => "1m",
            Interval::M3 => "3m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::M30 => "30m",
            Interval::H1 => "1h",
            Interval::H2 => "2h",
            Interval::H4 => "4h",
            Interval::H6 => "6h",
            Interval::H8 => "8h",
            Interval::H12 => "12h",
            Interval::D1 => "1d",
            Interval::D3 => "3d",
            Interval::W1 => "1w",
            Interval::Mo1 => "1mo",
        }
    }
}

macro_rules! text_form {
    ($t:ty, $what:literal) => {
        impl $t {
            /// The value of this name, as the bucket spells it; `None` for any other text.
            fn by_name(text: &str) -> Option<$t> {
                <$t>::ALL.into_iter().find(|v| v.name() == text)
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $t {
            type Err = DatasetError;

            fn from_str(text: &str) -> Result<$t, DatasetError> {
                <$t>::ALL
                    .into_iter()
                    .find(|v| v.name() == text)
                    .ok_or_else(|| DatasetError::Unknown {
                        what: $what,
                        text: text.to_string(),
                        accepted: <$t>::ALL.map(|v| v.name()).join(", "),
                    })
            }
        }
    };
}

/// `Partition`'s text is `facts`'s table (`named!`, also what `trading_files.kind` stores).
impl std::str::FromStr for Partition {
    type Err = DatasetError;

    fn from_str(text: &str) -> Result<Partition, DatasetError> {
        Partition::parse(text).ok_or_else(|| DatasetError::Unknown {
            what: "partition",
            text: text.to_string(),
            accepted: Partition::NAMES.join(", "),
        })
    }
}

text_form!(DataType, "data type");
text_form!(Interval, "kline interval");

/// Why a text or a combination is not a dataset of the bucket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasetError {
    /// The text is not three or four parts separated by `/` (`futures/um/daily/klines/1m`
    /// has five).
    #[error(
        "{text:?} is not a dataset: it is written MARKET/PARTITION/TYPE[/INTERVAL], \
         e.g. um/daily/klines/1m or spot/monthly/aggTrades"
    )]
    Shape {
        /// The whole text as given.
        text: String,
    },
    /// The first part names no market.
    #[error(transparent)]
    Market(#[from] UnknownMarket),
    /// A later part names no partition, data type or interval (they are case-sensitive:
    /// `Klines`, `1M` are refused).
    #[error("{text:?} is not a {what} (one of {accepted})")]
    Unknown {
        /// Which part: `partition`, `data type` or `kline interval`.
        what: &'static str,
        /// That part as given.
        text: String,
        /// Every name the part may have, as the bucket spells them.
        accepted: String,
    },
    /// Each part is valid, but the market does not publish that type in that partition
    /// (`um/daily/fundingRate`, `option/monthly/BVOLIndex`).
    #[error("the bucket has no {market}/{partition}/{data_type} folder")]
    NotOffered {
        /// The market named.
        market: Market,
        /// The partition it lacks the type in.
        partition: Partition,
        /// The type it has no folder of there.
        data_type: DataType,
    },
    /// A kline type named without its interval (`um/daily/klines`).
    #[error("{data_type} files are filed by interval: name one (e.g. {data_type}/1m)")]
    NoInterval {
        /// The kline type, whose files lie in one folder per interval.
        data_type: DataType,
    },
    /// An interval given to a type whose files have none (`um/daily/aggTrades/1m`).
    #[error("{data_type} files have no interval, so {interval} names none of them")]
    NeedlessInterval {
        /// The type, one of the nine that are not klines.
        data_type: DataType,
        /// The interval given to it.
        interval: Interval,
    },
    /// Klines of an interval the market does not publish in that partition: `1s` outside spot,
    /// `3d`, `1w` and `1mo` in spot's daily folders.
    #[error("{market}/{partition} has no {interval} klines")]
    IntervalNotOffered {
        /// The market named.
        market: Market,
        /// The partition named.
        partition: Partition,
        /// The interval it has no klines folder of.
        interval: Interval,
    },
}

/// One dataset of the bucket. Constructed checked (`Dataset::new`, `FromStr`), so every value
/// names folders the bucket has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dataset {
    market: Market,
    partition: Partition,
    data_type: DataType,
    interval: Option<Interval>,
}

impl Dataset {
    /// USD-M daily 1m klines: the availability the original tool keeps.
    pub const UM_DAILY_1M: Dataset = Dataset::klines(Market::Um, Partition::Daily, Interval::M1);
    /// USD-M daily 1d klines: a day's trading, for the days no monthly file covers yet.
    pub const UM_DAILY_1D: Dataset = Dataset::klines(Market::Um, Partition::Daily, Interval::D1);
    /// USD-M monthly 1d klines: a month of days in one file.
    pub const UM_MONTHLY_1D: Dataset =
        Dataset::klines(Market::Um, Partition::Monthly, Interval::D1);

    /// Klines of an interval every market with klines (spot, UM, CM; not option) has in both
    /// partitions (`1m`, `1d`, …), for the constants above and a kept market's datasets;
    /// checked by a test, not at run time. `Dataset::new` checks any other combination.
    pub const fn klines(market: Market, partition: Partition, interval: Interval) -> Dataset {
        Dataset {
            market,
            partition,
            data_type: DataType::Klines,
            interval: Some(interval),
        }
    }

    /// The dataset of `market`, `partition`, `data_type` and, for the kline types, `interval`,
    /// if the bucket has its folders.
    pub fn new(
        market: Market,
        partition: Partition,
        data_type: DataType,
        interval: Option<Interval>,
    ) -> Result<Dataset, DatasetError> {
        if !market.offers(partition, data_type) {
            return Err(DatasetError::NotOffered {
                market,
                partition,
                data_type,
            });
        }
        match (data_type.has_interval(), interval) {
            (true, None) => return Err(DatasetError::NoInterval { data_type }),
            (false, Some(interval)) => {
                return Err(DatasetError::NeedlessInterval {
                    data_type,
                    interval,
                });
            }
            (true, Some(interval)) => {
                // `1s` is spot's alone; spot's daily folders stop at `1d`.
                let offered = match (market, partition, interval) {
                    (Market::Spot, _, Interval::S1) => true,
                    (_, _, Interval::S1) => false,
                    (
                        Market::Spot,
                        Partition::Daily,
                        Interval::D3 | Interval::W1 | Interval::Mo1,
                    ) => false,
                    _ => true,
                };
                if !offered {
                    return Err(DatasetError::IntervalNotOffered {
                        market,
                        partition,
                        interval,
                    });
                }
            }
            (false, None) => {}
        }
        Ok(Dataset {
            market,
            partition,
            data_type,
            interval,
        })
    }

    /// The market, whose root every key starts with (`data/futures/um/`).
    pub fn market(self) -> Market {
        self.market
    }

    /// Daily or monthly: whether one file holds a day or a month.
    pub fn partition(self) -> Partition {
        self.partition
    }

    /// The data type, the folder under the partition.
    pub fn data_type(self) -> DataType {
        self.data_type
    }

    /// The interval of a kline type's files; `None` for every other type.
    pub fn interval(self) -> Option<Interval> {
        self.interval
    }

    /// The same data type and interval in the other partition (`um/daily/klines/1d` ↔
    /// `um/monthly/klines/1d`), if the bucket has it.
    pub fn in_partition(self, partition: Partition) -> Result<Dataset, DatasetError> {
        Dataset::new(self.market, partition, self.data_type, self.interval)
    }

    /// The folder holding one sub-folder per symbol: `data/futures/um/daily/klines/`.
    pub fn prefix(self) -> String {
        format!(
            "{}{}/{}/",
            self.market.root(),
            self.partition.as_str(),
            self.data_type.name()
        )
    }

    /// The folder of one symbol's files: `data/futures/um/daily/klines/{S}/1m/`.
    pub fn folder(self, symbol: &str) -> String {
        match self.interval {
            Some(i) => format!("{}{symbol}/{}/", self.prefix(), i.name()),
            None => format!("{}{symbol}/", self.prefix()),
        }
    }

    /// What a file name carries between symbol and period: the interval, else the type.
    fn tag(self) -> &'static str {
        self.interval.map_or(self.data_type.name(), Interval::name)
    }

    /// The span of the file that holds `day`: the day, or its month.
    pub fn span(self, day: NaiveDate) -> Span {
        Span::of(self.partition, day)
    }

    /// `{folder}{S}-{tag}-{period}`: a key without `.zip`, which sorts just before the file's
    /// key and its CHECKSUM's, and after every earlier period's.
    fn stem(self, symbol: &str, span: Span) -> String {
        let period = match span {
            Span::Day(d) => d.format("%Y-%m-%d").to_string(),
            Span::Month(m) => m.to_string(),
        };
        format!("{}{symbol}-{}-{period}", self.folder(symbol), self.tag())
    }

    /// The key of `symbol`'s file that holds `day`:
    /// `data/futures/um/daily/klines/{S}/1m/{S}-1m-{YYYY-MM-DD}.zip`,
    /// `data/futures/um/monthly/klines/{S}/1d/{S}-1d-{YYYY-MM}.zip`.
    pub fn key(self, symbol: &str, day: NaiveDate) -> String {
        self.stem(symbol, self.span(day)) + ".zip"
    }

    /// A `start-after` value from which a listing of `symbol`'s folder begins at the file that
    /// holds `day`: a prefix of that file's keys, so it sorts just before them.
    pub fn start_after(self, symbol: &str, day: NaiveDate) -> String {
        self.stem(symbol, self.span(day))
    }

    /// Reads a listed key back into `(symbol, span)` if, and only if, it is exactly a file of
    /// this dataset: CHECKSUM siblings, other intervals or types, the other partition's period,
    /// stray files, impossible or unpadded periods and another symbol's name inside the folder
    /// all give `None`.
    pub fn parse(self, key: &str) -> Option<(&str, Span)> {
        // `prefix()`, piece by piece: a crawl reads ~10⁸ keys, and building the prefix for
        // each was most of this function's cost.
        let rest = key
            .strip_prefix(self.market.root())?
            .strip_prefix(self.partition.as_str())?
            .strip_prefix('/')?
            .strip_prefix(self.data_type.name())?
            .strip_prefix('/')?;
        self.parse_in_prefix(rest)
    }

    /// `parse` of what follows `prefix()` in a key (`BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip`).
    fn parse_in_prefix(self, rest: &str) -> Option<(&str, Span)> {
        let (symbol, rest) = rest.split_once('/')?;
        if symbol.is_empty() {
            return None;
        }
        let file = match self.interval {
            Some(i) => rest.strip_prefix(i.name())?.strip_prefix('/')?,
            None => rest,
        };
        let period = file
            .strip_suffix(".zip")?
            .strip_prefix(symbol)?
            .strip_prefix('-')?
            .strip_prefix(self.tag())?
            .strip_prefix('-')?;
        Some((symbol, self.read_period(period)?))
    }

    /// A key's period (`2024-01-01` daily, `2024-01` monthly), strictly.
    fn read_period(self, period: &str) -> Option<Span> {
        Some(match self.partition {
            Partition::Daily => Span::Day(iso_day(period)?),
            Partition::Monthly => Span::Month(iso_month(period)?),
        })
    }

    /// Reads any data key back into its dataset, symbol and span: the dataset is the one its
    /// path names (`data/spot/daily/klines/BTCUSDT/1d/…` is `spot/daily/klines/1d`), and the
    /// key must be exactly a file of it (`parse`).
    pub fn read_key(key: &str) -> Option<(Dataset, &str, Span)> {
        let market = Market::ALL
            .into_iter()
            .find(|m| key.starts_with(m.root()))?;
        // By name, not `FromStr`, whose error for a stray's folder would build a message; and
        // without building the dataset's prefix again: a crawl reads every key of the bucket.
        let (partition, rest) = key[market.root().len()..].split_once('/')?;
        let partition = Partition::parse(partition)?;
        let (data_type, in_prefix) = rest.split_once('/')?;
        let data_type = DataType::by_name(data_type)?;
        let interval = if data_type.has_interval() {
            let (_symbol, rest) = in_prefix.split_once('/')?;
            Some(Interval::by_name(rest.split_once('/')?.0)?)
        } else {
            None
        };
        let dataset = Dataset::new(market, partition, data_type, interval).ok()?;
        // `key` is `prefix()` and `in_prefix`: `parse(key)`, without matching the prefix again.
        let (symbol, span) = dataset.parse_in_prefix(in_prefix)?;
        Some((dataset, symbol, span))
    }

    /// Reads a `CommonPrefixes` entry of `prefix()`; `None` when it is not one at all.
    pub fn folder_of(self, common_prefix: &str) -> Option<Folder<'_>> {
        let name = common_prefix
            .strip_prefix(self.prefix().as_str())?
            .strip_suffix('/')?;
        if name.is_empty() {
            return Some(Folder::Empty);
        }
        Some(match check_symbol(name) {
            Ok(()) => Folder::Symbol(name),
            Err(e) => Folder::Refused(e),
        })
    }
}

/// `Dataset::read_key` for the keys of one listing, in bucket order. A leaf's files differ only
/// in their periods, so a key that begins with the last file's stem (everything before its
/// period, `data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-`) and ends in a period and `.zip` is
/// that leaf's: what `read_key` checks up to the period was checked on that file, and a period
/// holds no `/` or `.` that could move where it splits the key. Only the period is read then:
/// a crawl reads ~2 × 10⁸ keys, ~390 files of each of ~2.5 × 10⁵ leaves (`read_key` was 5.4 %
/// of its CPU, BENCHMARKS.md session 18).
#[derive(Debug, Default)]
pub struct KeyReader {
    /// The last file's key up to its period; empty before the first.
    stem: String,
    /// Its dataset, and where its symbol lies in it.
    last: Option<(Dataset, std::ops::Range<usize>)>,
}

impl KeyReader {
    /// What `Dataset::read_key(key)` gives.
    pub fn read<'k>(&mut self, key: &'k str) -> Option<(Dataset, &'k str, Span)> {
        if let Some((dataset, symbol)) = &self.last
            && let Some(period) = key
                .strip_prefix(self.stem.as_str())
                .and_then(|rest| rest.strip_suffix(".zip"))
            && let Some(span) = dataset.read_period(period)
        {
            return Some((*dataset, &key[symbol.clone()], span));
        }
        let (dataset, symbol, span) = Dataset::read_key(key)?;
        let period = match span {
            Span::Day(_) => "YYYY-MM-DD".len(),
            Span::Month(_) => "YYYY-MM".len(),
        };
        self.stem.clear();
        self.stem
            .push_str(&key[..key.len() - period - ".zip".len()]);
        // `read_key`'s symbol is the first folder after the dataset's prefix.
        let at = dataset.market.root().len()
            + dataset.partition.as_str().len()
            + dataset.data_type.name().len()
            + "//".len();
        self.last = Some((dataset, at..at + symbol.len()));
        Some((dataset, symbol, span))
    }
}

/// What a `CommonPrefixes` entry of a dataset's prefix names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Folder<'a> {
    /// A symbol's folder, by its name (which `check_symbol` accepts).
    Symbol(&'a str),
    /// The real bucket has an empty-named folder (`…/klines//`): not a symbol, and expected.
    Empty,
    /// A folder whose name cannot be a symbol (`..`, a control character, …): skipped, and said.
    Refused(BadSymbol),
}

/// `YYYY-MM` exactly (seven bytes, zero-padded, a real month): the bucket's one unpadded
/// month (`ADABKRW-1d-2020-8.zip`, without a CHECKSUM) is not read as a file.
fn iso_month(s: &str) -> Option<Month> {
    let (year, month) = s.split_once('-')?;
    if year.len() != 4
        || month.len() != 2
        || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Month::new(year.parse().ok()?, month.parse().ok()?)
}

impl std::fmt::Display for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.market, self.partition, self.data_type)?;
        match self.interval {
            Some(i) => write!(f, "/{i}"),
            None => Ok(()),
        }
    }
}

impl std::str::FromStr for Dataset {
    type Err = DatasetError;

    fn from_str(text: &str) -> Result<Dataset, DatasetError> {
        let parts: Vec<&str> = text.split('/').collect();
        let (market, partition, data_type, interval) = match parts[..] {
            [m, p, t] => (m, p, t, None),
            [m, p, t, i] => (m, p, t, Some(i)),
            _ => {
                return Err(DatasetError::Shape {
                    text: text.to_string(),
                });
            }
        };
        Dataset::new(
            market.parse()?,
            partition.parse()?,
            data_type.parse()?,
            interval.map(str::parse).transpose()?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn every_dataset_round_trips_through_its_one_text_form() {
        let mut n = 0;
        for market in Market::ALL {
            for partition in Partition::ALL {
                for data_type in DataType::ALL {
                    for interval in std::iter::once(None).chain(Interval::ALL.map(Some)) {
                        let Ok(ds) = Dataset::new(market, partition, data_type, interval) else {
                            continue;
                        };
                        n += 1;
                        assert_eq!(ds.to_string().parse::<Dataset>(), Ok(ds), "{ds}");
                    }
                }
            }
        }
        // 43 prefixes; kline types have 12 to 16 intervals each.
        assert!(n > 43 * 2, "{n}");
        for text in [
            "um/daily/klines/1m",
            "spot/monthly/aggTrades",
            "cm/daily/indexPriceKlines/1h",
            "option/daily/BVOLIndex",
            "spot/daily/klines/1s",
            "um/monthly/klines/1mo",
        ] {
            assert_eq!(text.parse::<Dataset>().unwrap().to_string(), text);
        }
        for (text, says) in [
            ("um/daily/klines", "filed by interval"),
            ("um/daily/aggTrades/1m", "have no interval"),
            ("um/daily/fundingRate", "no um/daily/fundingRate folder"),
            ("option/monthly/BVOLIndex", "no option/monthly/BVOLIndex"),
            ("um/daily/klines/1s", "no 1s klines"),
            ("spot/daily/klines/1w", "no 1w klines"),
            ("futures/um/daily/klines/1m", "not a dataset"),
            ("um/weekly/klines/1m", "\"weekly\" is not a partition"),
            ("um/daily/Klines/1m", "\"Klines\" is not a data type"),
            ("um/daily/klines/1M", "\"1M\" is not a kline interval"),
            ("usdm/daily/klines/1m", "\"usdm\" is not a market"),
            ("", "not a dataset"),
        ] {
            let e = text.parse::<Dataset>().unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn todays_datasets_are_values_with_the_keys_they_always_had() {
        assert_eq!(Dataset::UM_DAILY_1M.to_string(), "um/daily/klines/1m");
        assert_eq!(Dataset::UM_DAILY_1D.to_string(), "um/daily/klines/1d");
        assert_eq!(Dataset::UM_MONTHLY_1D.to_string(), "um/monthly/klines/1d");
        for ds in [
            Dataset::UM_DAILY_1M,
            Dataset::UM_DAILY_1D,
            Dataset::UM_MONTHLY_1D,
        ] {
            assert_eq!(ds.to_string().parse::<Dataset>(), Ok(ds));
        }
        assert_eq!(
            Dataset::UM_DAILY_1M.key("BTCUSDT", d("2024-01-15")),
            "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-15.zip"
        );
        assert_eq!(
            Dataset::UM_MONTHLY_1D.key("BTCUSDT", d("2024-02-10")),
            "data/futures/um/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2024-02.zip"
        );
        assert_eq!(
            Dataset::UM_DAILY_1D.in_partition(Partition::Monthly),
            Ok(Dataset::UM_MONTHLY_1D)
        );
        let other = |t: &str| t.parse::<Dataset>().unwrap();
        assert_eq!(
            other("spot/monthly/aggTrades").key("BTCUSDT", d("2024-02-10")),
            "data/spot/monthly/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-02.zip"
        );
        assert_eq!(
            other("cm/daily/indexPriceKlines/1h").key("BTCUSD", d("2024-02-10")),
            "data/futures/cm/daily/indexPriceKlines/BTCUSD/1h/BTCUSD-1h-2024-02-10.zip"
        );
        assert_eq!(
            other("option/daily/BVOLIndex").key("BTCBVOLUSDT", d("2024-02-10")),
            "data/option/daily/BVOLIndex/BTCBVOLUSDT/BTCBVOLUSDT-BVOLIndex-2024-02-10.zip"
        );
    }

    #[test]
    fn keys_round_trip_including_unicode_and_settled_names() {
        let datasets = [
            Dataset::UM_DAILY_1M,
            Dataset::UM_DAILY_1D,
            Dataset::UM_MONTHLY_1D,
            "spot/daily/aggTrades".parse().unwrap(),
            "cm/monthly/markPriceKlines/1mo".parse().unwrap(),
        ];
        for ds in datasets {
            for symbol in [
                "BTCUSDT",
                "币安人生USDT",
                "ICPUSDT_SETTLED",
                "AERGOUSDTSETTLEDSETTLED",
                "BTCUSDT_260925",
            ] {
                let day = d("2024-02-29");
                let key = ds.key(symbol, day);
                assert_eq!(ds.parse(&key), Some((symbol, ds.span(day))), "{key}");
                assert!(key.starts_with(&ds.folder(symbol)));
                assert!(ds.start_after(symbol, day) < key);
                let earlier = match ds.partition() {
                    Partition::Daily => d("2024-02-28"),
                    Partition::Monthly => d("2024-01-31"),
                };
                assert!(ds.start_after(symbol, day) > ds.key(symbol, earlier) + ".CHECKSUM");
                // No other dataset reads this key as its own.
                for other in datasets.iter().filter(|o| **o != ds) {
                    assert_eq!(other.parse(&key), None, "{other} read {key}");
                }
            }
        }
    }

    #[test]
    fn only_exact_daily_1m_keys_are_data_days() {
        let root = Dataset::UM_DAILY_1M.prefix();
        for key in [
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip.CHECKSUM"),
            format!("{root}BTCUSDT/1h/BTCUSDT-1h-2024-01-01.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-02-30.zip"),
            format!("{root}BTCUSDT/1m/ETHUSDT-1m-2024-01-01.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-1-01.zip"),
            // Ten bytes, but not zero-padded digits: chrono's parser took some of these.
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-1-001.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-+024-01-01.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-01-+1.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-01- 1.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024/01/01.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-00-10.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-٢٠٢٤-01-01.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-01.zip"),
            format!("{root}BTCUSDT/1m/readme.txt"),
            format!("{root}BTCUSDT/1m/"),
            format!("{root}/1m/-1m-2024-01-01.zip"),
            "data/futures/cm/daily/klines/BTCUSD_PERP/1m/BTCUSD_PERP-1m-2024-01-01.zip".to_string(),
        ] {
            assert_eq!(Dataset::UM_DAILY_1M.parse(&key), None, "{key}");
        }
    }

    #[test]
    fn only_exact_1d_keys_of_their_partition_parse() {
        let daily = Dataset::UM_DAILY_1D.prefix();
        let monthly = Dataset::UM_MONTHLY_1D.prefix();
        for key in [
            format!("{daily}BTCUSDT/1d/BTCUSDT-1d-2024-01-01.zip.CHECKSUM"),
            format!("{daily}BTCUSDT/1d/BTCUSDT-1d-2024-01.zip"),
            format!("{monthly}BTCUSDT/1d/BTCUSDT-1d-2024-01-01.zip"),
            format!("{monthly}BTCUSDT/1d/BTCUSDT-1d-2024-13.zip"),
            format!("{monthly}BTCUSDT/1d/BTCUSDT-1d-2024-1.zip"),
            format!("{monthly}BTCUSDT/1d/BTCUSDT-1d-+202-01.zip"),
            format!("{monthly}BTCUSDT/1d/BTCUSDT-1d-2024-+1.zip"),
            format!("{daily}BTCUSDT/1d/BTCUSDT-1d-2024-02-30.zip"),
            format!("{daily}BTCUSDT/1d/BTCUSDT-1d-2024-02-+1.zip"),
            format!("{daily}BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip"),
            format!("{daily}BTCUSDT/1d/ETHUSDT-1d-2024-01-01.zip"),
            format!("{monthly}BTCUSDT/1m/BTCUSDT-1m-2024-01.zip"),
            format!("{daily}/1d/-1d-2024-01-01.zip"),
            "data/futures/cm/monthly/klines/BTCUSD_PERP/1d/BTCUSD_PERP-1d-2024-01.zip".to_string(),
            "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-8.zip".to_string(),
        ] {
            for ds in [Dataset::UM_DAILY_1D, Dataset::UM_MONTHLY_1D] {
                assert_eq!(ds.parse(&key), None, "{ds}: {key}");
            }
        }
        let spot: Dataset = "spot/monthly/klines/1d".parse().unwrap();
        assert_eq!(
            spot.parse("data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-8.zip"),
            None
        );
    }

    #[test]
    fn any_data_key_names_its_own_dataset() {
        for text in [
            "um/daily/klines/1m",
            "um/monthly/klines/1d",
            "spot/daily/klines/1d",
            "spot/monthly/aggTrades",
            "cm/daily/indexPriceKlines/1h",
            "option/daily/BVOLIndex",
        ] {
            let ds: Dataset = text.parse().unwrap();
            let key = ds.key("BTCUSD_PERP", d("2025-01-01"));
            assert_eq!(
                Dataset::read_key(&key),
                Some((ds, "BTCUSD_PERP", ds.span(d("2025-01-01")))),
                "{key}"
            );
            assert_eq!(Dataset::read_key(&format!("{key}.CHECKSUM")), None);
        }
        for key in [
            "data/futures/um/weekly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip",
            "data/futures/um/daily/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-01-01.zip",
            "data3/liquidationSnapshot/BTCUSDT/BTCUSDT-liquidationSnapshot-2024-01-01.zip",
            "/data/spot/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2020-01.zip",
            "data/spot/daily/klines/BTCUSDT/1m",
        ] {
            assert_eq!(Dataset::read_key(key), None, "{key}");
        }
    }

    /// `KeyReader` reads every key as `read_key` does, whatever came before it: keys of one
    /// leaf, of its neighbours, sidecars, strays, and keys that share a file's stem but not
    /// its shape.
    #[test]
    fn a_key_reader_reads_every_key_as_read_key_does() {
        let mut keys = Vec::new();
        for text in [
            "spot/daily/klines/1m",
            "spot/monthly/klines/1mo",
            "spot/monthly/klines/1m",
            "um/daily/aggTrades",
            "um/monthly/fundingRate",
            "cm/daily/indexPriceKlines/1h",
            "option/daily/BVOLIndex",
        ] {
            let ds: Dataset = text.parse().unwrap();
            for symbol in ["BTCUSDT", "BTCUSDT_PERP", "B"] {
                for day in ["2024-01-31", "2024-02-01", "2024-02-29"] {
                    let key = ds.key(symbol, d(day));
                    let stem = key.strip_suffix(".zip").unwrap();
                    let stem = &stem[..stem.len() - ds.span(d(day)).to_string().len()];
                    keys.push(format!("{key}.CHECKSUM"));
                    keys.push(key.clone());
                    for tail in [
                        "2024-02-30.zip",
                        "2024-2-01.zip",
                        "2024-02.zip",
                        "2024-02-01.zip.zip",
                        "2024-02-01/x.zip",
                        "x/2024-02-01.zip",
                        "2024-02-01",
                        ".zip",
                        "",
                        "2024-02-01.ZIP",
                        "2024-02-011.zip",
                    ] {
                        keys.push(format!("{stem}{tail}"));
                    }
                }
            }
        }
        keys.push("data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-8.zip".into());
        keys.push("data3/BTCUSDT-2024-01-01.zip".into());
        // Every key after every other, in bucket order and shuffled.
        let mut sorted = keys.clone();
        sorted.sort();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut shuffled = keys.clone();
        for i in (1..shuffled.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            shuffled.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        let (mut read, mut fast) = (0, 0);
        for order in [&keys, &sorted, &shuffled] {
            let mut reader = KeyReader::default();
            for key in order {
                let had = reader.last.is_some() && key.starts_with(reader.stem.as_str());
                let got = reader.read(key);
                assert_eq!(got, Dataset::read_key(key), "{key}");
                read += usize::from(got.is_some());
                fast += usize::from(had && got.is_some());
            }
        }
        assert!(read > 0 && fast > read / 3, "{fast} of {read} by the stem");
    }

    #[test]
    fn folder_names_are_read_from_common_prefixes() {
        let ds = Dataset::UM_DAILY_1M;
        assert_eq!(
            ds.folder_of("data/futures/um/daily/klines/币安人生USDT/"),
            Some(Folder::Symbol("币安人生USDT"))
        );
        assert_eq!(
            ds.folder_of("data/futures/um/daily/klines//"),
            Some(Folder::Empty)
        );
        assert_eq!(ds.folder_of("data/futures/um/daily/klines/"), None);
        for name in ["..", ".", "a/b", "\u{1b}[31mX"] {
            let prefix = format!("{}{name}/", ds.prefix());
            assert!(
                !matches!(ds.folder_of(&prefix), Some(Folder::Symbol(_))),
                "{name:?}"
            );
        }
    }
}
