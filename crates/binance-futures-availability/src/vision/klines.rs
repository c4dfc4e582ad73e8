//! The klines format: the CSV rows of a klines file of any market and interval
//! (`open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,
//! taker_buy_quote_volume,ignore`, the header line present in futures files from 2022 on and
//! absent before and in spot files), read strictly, and the 1d reader on top of it: a 1d file
//! becomes `DailyTrading` rows only when every row is a whole UTC day inside the file's span, in
//! order, once. Fetching, the CHECKSUM and the zip are the seam's (`file`).
//!
//! Times come in milliseconds (futures; spot before 2025-01-01) or microseconds (spot from
//! 2025-01-01), decided by each value's magnitude: milliseconds between 2017 and 2100 have 13
//! digits (1.48·10¹² to 4.10·10¹²), microseconds 16 (1.48·10¹⁵ to 4.10·10¹⁵), so the two
//! ranges are three orders of magnitude apart and a value names its unit. The file's era
//! (spot, from 2025-01-01) would be a second rule to keep in step with Binance's and says
//! nothing about futures; the magnitude holds for every market. A row whose two times differ in
//! unit is refused.
//!
//! Anything else is an error naming the key, the line and the field: such a file is never
//! stored, and the next run fetches it again. What must not be known here: HTTP, DuckDB.

use chrono::{DateTime, NaiveDate};
use tokio::sync::Semaphore;

use super::VisionClient;
use super::dataset::{DataType, Dataset, Interval};
use super::file::{FetchError, FileError, Problem, fetch_file, read_file};
use super::window::ListedFile;
use crate::facts::{DailyTrading, Market, Span};

/// The header line of futures files from 2022 on.
const HEADER: &str = "open_time,open,high,low,close,volume,close_time,quote_volume,count,\
                      taker_buy_volume,taker_buy_quote_volume,ignore";

/// Microseconds in a day.
const DAY_US: i64 = 86_400_000_000;

/// The largest 1d zip fetched. A monthly file of 31 rows is ~2 KB and a daily one ~0.4 KB, so
/// 1 MiB is hundreds of times that, and 64 in flight hold at most 64 MiB.
pub const MAX_1D_ZIP_BYTES: usize = 1 << 20;

/// The unit a kline file writes its times in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Milliseconds since the epoch, 13 digits: futures files, and spot's before 2025-01-01.
    Millis,
    /// Microseconds since the epoch, 16 digits: spot files from 2025-01-01.
    Micros,
}

impl TimeUnit {
    fn micros(self) -> i64 {
        match self {
            TimeUnit::Millis => 1000,
            TimeUnit::Micros => 1,
        }
    }

    /// The last instant of a UTC day as this unit writes it.
    fn day_end(self) -> &'static str {
        match self {
            TimeUnit::Millis => "23:59:59.999",
            TimeUnit::Micros => "23:59:59.999999",
        }
    }
}

impl std::fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeUnit::Millis => "milliseconds",
            TimeUnit::Micros => "microseconds",
        })
    }
}

/// A time as a kline file writes it: the value and the unit its magnitude says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    /// The number as written: `unit`s since 1970-01-01 UTC.
    pub value: i64,
    /// The unit its magnitude says.
    pub unit: TimeUnit,
}

impl Time {
    /// Microseconds since the epoch (no overflow: at most 4.1·10¹⁵).
    pub fn micros(self) -> i64 {
        self.value * self.unit.micros()
    }
}

/// One row of a klines CSV, as written (any interval).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kline {
    /// When the interval begins.
    pub open_time: Time,
    /// The first price of the interval.
    pub open: f64,
    /// The highest price.
    pub high: f64,
    /// The lowest price.
    pub low: f64,
    /// The last price of the interval.
    pub close: f64,
    /// Base-asset volume.
    pub volume: f64,
    /// The interval's last instant, in the same unit as `open_time`: one tick before the
    /// next interval begins (`…59.999`, or `…59.999999` in microseconds).
    pub close_time: Time,
    /// Quote-asset volume (USDT for …USDT).
    pub quote_volume: f64,
    /// Trades in the interval (the `count` column); at most `i64::MAX`.
    pub trades: u64,
    /// Base-asset volume bought by takers.
    pub taker_buy_volume: f64,
    /// Quote-asset volume bought by takers.
    pub taker_buy_quote_volume: f64,
}

/// A column of a klines CSV, named as its header names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `open_time`, the 1st column.
    OpenTime,
    /// `open`, the 2nd column.
    Open,
    /// `high`, the 3rd column.
    High,
    /// `low`, the 4th column.
    Low,
    /// `close`, the 5th column.
    Close,
    /// `volume`, the 6th column.
    Volume,
    /// `close_time`, the 7th column.
    CloseTime,
    /// `quote_volume`, the 8th column.
    QuoteVolume,
    /// `count`, the 9th column: the number of trades.
    Count,
    /// `taker_buy_volume`, the 10th column.
    TakerBuyVolume,
    /// `taker_buy_quote_volume`, the 11th column.
    TakerBuyQuoteVolume,
    /// `ignore`, the 12th and last column: `0` in every file seen, and not kept, but it must
    /// still be a number (anything else means a shifted or damaged row).
    Ignore,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::OpenTime => "open_time",
            Field::Open => "open",
            Field::High => "high",
            Field::Low => "low",
            Field::Close => "close",
            Field::Volume => "volume",
            Field::CloseTime => "close_time",
            Field::QuoteVolume => "quote_volume",
            Field::Count => "count",
            Field::TakerBuyVolume => "taker_buy_volume",
            Field::TakerBuyQuoteVolume => "taker_buy_quote_volume",
            Field::Ignore => "ignore",
        })
    }
}

/// Why one field's text is not a value of its column. The text is kept (cut to 40
/// characters), so the sentence can show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A time that is not a string of digits.
    #[error("{text:?} is not a time in milliseconds or microseconds")]
    NotATime {
        /// The field as written, cut to 40 characters.
        text: String,
    },
    /// A whole number whose magnitude is neither 13 digits (milliseconds) nor 16
    /// (microseconds) of a time in 2017..2100, so it names no unit.
    #[error("{value} is not a time in milliseconds or microseconds between 2017 and 2100")]
    TimeOutOfRange {
        /// The number as read.
        value: i64,
    },
    /// A price or volume that is not digits with at most one point: a sign, an exponent,
    /// `NaN` or `inf` are refused too.
    #[error("{text:?} is not a decimal number")]
    NotDecimal {
        /// The field as written, cut to 40 characters.
        text: String,
    },
    /// A number past f64's largest parses to `inf`, which would be stored and rank its symbol
    /// first for ever.
    #[error("has {digits} digits, too large for a 64-bit float (at most ~1.8e308)")]
    TooLarge {
        /// The field's digits, before and after the point.
        digits: usize,
    },
    /// A trade count that is not a whole number from 0 to `i64::MAX`.
    #[error("{text:?} is not a number of trades")]
    NotACount {
        /// The field as written, cut to 40 characters.
        text: String,
    },
}

/// Why a row of a klines file is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RowError {
    /// A line of other than 12 comma-separated fields: cut short, shifted, or another format.
    #[error("{found} fields where a kline has 12: {line:?}")]
    FieldCount {
        /// Fields on the line.
        found: usize,
        /// The line as written, cut to 80 characters.
        line: String,
    },
    /// A field whose text is no value of its column.
    #[error("{field} {error}")]
    Value {
        /// The column.
        field: Field,
        /// What is wrong with its text.
        error: ValueError,
    },
    /// The two times of a row are in different units.
    #[error("open_time is in {open}, close_time in {close}: one file writes one unit")]
    MixedUnits {
        /// The unit of `open_time`.
        open: TimeUnit,
        /// The unit of `close_time`.
        close: TimeUnit,
    },
    /// The highest price is below the lowest: swapped or damaged columns.
    #[error("high {high} is below low {low}")]
    HighBelowLow {
        /// The row's highest price, as read.
        high: f64,
        /// The row's lowest price, as read.
        low: f64,
    },
    /// The interval ends at or before it begins.
    #[error("close_time is not after open_time")]
    CloseNotAfterOpen,
    /// A 1d row that does not begin at 00:00 UTC.
    #[error("open_time {open_time} is not the start of a UTC day")]
    NotDayStart {
        /// The `open_time` as written, in its unit.
        open_time: i64,
    },
    /// A 1d row that does not close one tick of its unit before the next day.
    #[error(
        "close_time {close_time} does not end the day {date} (a 1d kline closes at {})",
        .unit.day_end()
    )]
    NotDayEnd {
        /// The `close_time` as written, in `unit`.
        close_time: i64,
        /// The day the row's `open_time` begins.
        date: NaiveDate,
        /// The unit both times are written in.
        unit: TimeUnit,
    },
    /// A 1d row of a day outside the file's day or month (its key says which).
    #[error("{date} is outside the file's span")]
    OutsideSpan {
        /// The day the row states.
        date: NaiveDate,
    },
    /// A 1d row not later than the row before it: each day comes once, in order.
    #[error("{date} is out of order or repeated")]
    OutOfOrder {
        /// The day the row states.
        date: NaiveDate,
    },
    /// A daily 1d file of more than one row (an empty one is `Problem::Empty`).
    #[error("a daily 1d file holds one row, this one {rows}")]
    RowsInDaily {
        /// Rows the file holds.
        rows: usize,
    },
}

/// Reads a daily or monthly 1d klines file of any market: `zip` as fetched from `key`,
/// `checksum` as fetched from `key.CHECKSUM`. Every day it states, in order.
pub fn read_1d_file(key: &str, zip: &[u8], checksum: &str) -> Result<Vec<DailyTrading>, FileError> {
    let span = Dataset::read_key(key)
        .filter(|(ds, _, _)| {
            ds.data_type() == DataType::Klines && ds.interval() == Some(Interval::D1)
        })
        .map(|(_, _, span)| span)
        .ok_or_else(|| FileError {
            key: key.to_string(),
            problem: Problem::NotAKeyOf {
                data_type: DataType::Klines,
                interval: Some(Interval::D1),
            },
        })?;
    read_file(key, zip, checksum, |csv| read_1d(csv, span))
}

/// Fetches one listed 1d klines file of `market` (daily or monthly, as its span says) and its `.CHECKSUM`
/// through the seam, and reads it: every day it states, none after `through` (the run's last
/// day).
pub async fn fetch_1d_file(
    client: &VisionClient,
    permits: &Semaphore,
    market: Market,
    symbol: &str,
    listed: &ListedFile,
    through: NaiveDate,
) -> Result<Vec<DailyTrading>, FetchError> {
    let dataset = Dataset::klines(market, listed.span.partition(), Interval::D1);
    let span = listed.span;
    let read = |csv: &str| {
        let days = read_1d(csv, span)?;
        // Rows are in order: the last is the latest.
        match days.last().filter(|d| d.date > through) {
            Some(late) => Err(Problem::AfterEnd {
                date: late.date,
                end: through,
            }),
            None => Ok(days),
        }
    };
    fetch_file(
        client,
        permits,
        dataset,
        symbol,
        listed,
        MAX_1D_ZIP_BYTES,
        read,
    )
    .await
}

/// The 1d reader: the rows of a 1d file of `span` as days.
fn read_1d(csv: &str, span: Span) -> Result<Vec<DailyTrading>, Problem> {
    daily(&parse_csv(csv)?, span)
}

/// Every row of a klines CSV. Lines end in `\n` (the last one may not); no blank lines.
pub fn parse_csv(csv: &str) -> Result<Vec<Kline>, Problem> {
    let body = csv.strip_suffix('\n').unwrap_or(csv);
    if body.is_empty() {
        return Err(Problem::Empty);
    }
    let mut rows = Vec::new();
    for (i, line) in body.split('\n').enumerate() {
        if i == 0 && line == HEADER {
            continue;
        }
        rows.push(parse_row(line).map_err(|error| Problem::Row { line: i + 1, error })?);
    }
    if rows.is_empty() {
        return Err(Problem::Empty);
    }
    Ok(rows)
}

fn parse_row(line: &str) -> Result<Kline, RowError> {
    let fields: Vec<&str> = line.split(',').collect();
    if fields.len() != 12 {
        return Err(RowError::FieldCount {
            found: fields.len(),
            line: line.chars().take(80).collect(),
        });
    }
    let at = |field: Field| move |error: ValueError| RowError::Value { field, error };
    let stamp = |i: usize, field: Field| time(fields[i]).map_err(at(field));
    let number = |i: usize, field: Field| decimal(fields[i]).map_err(at(field));
    let row = Kline {
        open_time: stamp(0, Field::OpenTime)?,
        open: number(1, Field::Open)?,
        high: number(2, Field::High)?,
        low: number(3, Field::Low)?,
        close: number(4, Field::Close)?,
        volume: number(5, Field::Volume)?,
        close_time: stamp(6, Field::CloseTime)?,
        quote_volume: number(7, Field::QuoteVolume)?,
        // At most i64::MAX, which the store's BIGINT holds.
        trades: fields[8]
            .parse::<i64>()
            .ok()
            .filter(|_| fields[8].bytes().all(|b| b.is_ascii_digit()))
            .map(i64::unsigned_abs)
            .ok_or_else(|| {
                at(Field::Count)(ValueError::NotACount {
                    text: cut(fields[8]),
                })
            })?,
        taker_buy_volume: number(9, Field::TakerBuyVolume)?,
        taker_buy_quote_volume: number(10, Field::TakerBuyQuoteVolume)?,
    };
    // Unused ("0" in every file seen), but still a number: anything else means a shifted or
    // damaged row, a carriage return left by an editor among them.
    number(11, Field::Ignore)?;
    if row.open_time.unit != row.close_time.unit {
        return Err(RowError::MixedUnits {
            open: row.open_time.unit,
            close: row.close_time.unit,
        });
    }
    if row.high < row.low {
        return Err(RowError::HighBelowLow {
            high: row.high,
            low: row.low,
        });
    }
    if row.close_time.value <= row.open_time.value {
        return Err(RowError::CloseNotAfterOpen);
    }
    Ok(row)
}

/// At most 40 characters of a field, as an error shows it.
fn cut(text: &str) -> String {
    text.chars().take(40).collect()
}

/// A time since the epoch between 2017 and 2100, in milliseconds (13 digits) or microseconds
/// (16 digits): the magnitude names the unit (see the module's comment).
fn time(text: &str) -> Result<Time, ValueError> {
    const FROM: i64 = 1_483_228_800_000; // 2017-01-01, in milliseconds
    const TO: i64 = 4_102_444_800_000; // 2100-01-01
    let value: i64 = text
        .parse()
        .ok()
        .filter(|_| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| ValueError::NotATime { text: cut(text) })?;
    let unit = if (FROM..TO).contains(&value) {
        TimeUnit::Millis
    } else if (FROM * 1000..TO * 1000).contains(&value) {
        TimeUnit::Micros
    } else {
        return Err(ValueError::TimeOutOfRange { value });
    };
    Ok(Time { value, unit })
}

/// A non-negative decimal as the files write it (`7195.24000000`, `0`): digits and at most one
/// point, nothing else (no sign, exponent, `NaN` or `inf`, which `f64::from_str` would take),
/// and finite: a number past f64's largest (~1.8·10^308, 309 digits before the point) parses to
/// `inf`.
fn decimal(text: &str) -> Result<f64, ValueError> {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let points = text.bytes().filter(|b| *b == b'.').count();
    let not_decimal = || ValueError::NotDecimal { text: cut(text) };
    if digits == 0 || digits + points != text.len() || points > 1 {
        return Err(not_decimal());
    }
    let value: f64 = text.parse().map_err(|_| not_decimal())?;
    if !value.is_finite() {
        return Err(ValueError::TooLarge { digits });
    }
    Ok(value)
}

/// The rows of a 1d file as days: each a whole UTC day inside `span`, in order, once; a daily
/// file holds exactly its day.
fn daily(rows: &[Kline], span: Span) -> Result<Vec<DailyTrading>, Problem> {
    if matches!(span, Span::Day(_)) && rows.len() != 1 {
        return Err(Problem::Row {
            line: rows.len().min(2),
            error: RowError::RowsInDaily { rows: rows.len() },
        });
    }
    let mut days: Vec<DailyTrading> = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let at = |error| Problem::Row { line: i + 1, error };
        let date = day_of(r.open_time).ok_or_else(|| {
            at(RowError::NotDayStart {
                open_time: r.open_time.value,
            })
        })?;
        // One tick of the file's unit before the next day: .999 ms or .999999 µs.
        if r.close_time.micros() != r.open_time.micros() + DAY_US - r.close_time.unit.micros() {
            return Err(at(RowError::NotDayEnd {
                close_time: r.close_time.value,
                date,
                unit: r.close_time.unit,
            }));
        }
        if !span.contains(date) {
            return Err(at(RowError::OutsideSpan { date }));
        }
        if days.last().is_some_and(|d| d.date >= date) {
            return Err(at(RowError::OutOfOrder { date }));
        }
        days.push(DailyTrading {
            date,
            open: r.open,
            high: r.high,
            low: r.low,
            close: r.close,
            volume: r.volume,
            quote_volume: r.quote_volume,
            trades: r.trades,
            taker_buy_volume: r.taker_buy_volume,
            taker_buy_quote_volume: r.taker_buy_quote_volume,
        });
    }
    Ok(days)
}

fn day_of(t: Time) -> Option<NaiveDate> {
    let us = t.micros();
    (us % DAY_US == 0)
        .then(|| DateTime::from_timestamp_micros(us).map(|t| t.date_naive()))
        .flatten()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use sha2::{Digest, Sha256};

    use super::*;
    use crate::facts::Month;
    use crate::vision::{MAX_CSV_BYTES, unzip_csv, verify_checksum};

    /// Milliseconds in a day.
    const DAY_MS: i64 = 86_400_000;

    fn kline_1d_key(symbol: &str, span: Span) -> String {
        let dataset = match span {
            Span::Day(_) => Dataset::UM_DAILY_1D,
            Span::Month(_) => Dataset::UM_MONTHLY_1D,
        };
        dataset.key(symbol, span.first_day())
    }

    const REAL_ZIP: &[u8] = include_bytes!("../../../../fixtures/files/BTCUSDT-1m-2020-01-01.zip");
    const REAL_CHECKSUM: &str =
        include_str!("../../../../fixtures/files/BTCUSDT-1m-2020-01-01.zip.CHECKSUM");
    const REAL_KEY: &str = "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-01-01.zip";

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn ms(day: &str) -> i64 {
        d(day)
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    fn row(day: &str, trades: u64) -> String {
        let open = ms(day);
        format!(
            "{open},42000.10,43000.00,41000.50,42500.00,1234.567,{},52000000.12345678,{trades},600.1,25000000.5,0",
            open + DAY_MS - 1
        )
    }

    fn zip_of(name: &str, csv: &str) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(csv.as_bytes()).unwrap();
        out.finish().unwrap().into_inner()
    }

    fn checksum_of(key: &str, zip: &[u8]) -> String {
        let hex: String = Sha256::digest(zip)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{hex}  {}\n", key.rsplit('/').next().unwrap())
    }

    fn file(key: &str, csv: &str) -> (Vec<u8>, String) {
        let name = key.rsplit('/').next().unwrap().replace(".zip", ".csv");
        let zip = zip_of(&name, csv);
        let checksum = checksum_of(key, &zip);
        (zip, checksum)
    }

    #[test]
    fn a_real_vision_file_verifies_unpacks_and_parses() {
        verify_checksum(REAL_KEY, REAL_ZIP, REAL_CHECKSUM).unwrap();
        let csv = unzip_csv(REAL_KEY, REAL_ZIP).unwrap();
        let rows = parse_csv(&csv).unwrap();
        assert_eq!(rows.len(), 1440, "one row a minute");
        assert_eq!(
            rows[0].open_time,
            Time {
                value: 1_577_836_800_000,
                unit: TimeUnit::Millis
            }
        );
        assert_eq!(rows[0].close_time.value, 1_577_836_859_999);
        assert_eq!(rows[0].open, 7195.24);
        assert_eq!(rows[0].trades, 493);
        assert_eq!(rows[0].quote_volume, 371_233.518_355_35);
        // Flipping one byte of the real file is caught by its real CHECKSUM.
        let mut tampered = REAL_ZIP.to_vec();
        tampered[100] ^= 1;
        let e = verify_checksum(REAL_KEY, &tampered, REAL_CHECKSUM).unwrap_err();
        assert!(matches!(e.problem, Problem::ChecksumMismatch { .. }), "{e}");
        assert!(e.to_string().starts_with(REAL_KEY), "{e}");
    }

    #[test]
    fn daily_and_monthly_1d_files_become_days_with_or_without_the_header() {
        let key = kline_1d_key("BTCUSDT", Span::Day(d("2021-06-01")));
        let (zip, sum) = file(&key, &format!("{}\n", row("2021-06-01", 77)));
        let days = read_1d_file(&key, &zip, &sum).unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!((days[0].date, days[0].trades), (d("2021-06-01"), 77));
        assert_eq!(days[0].quote_volume, 52_000_000.123_456_78);

        let month = Span::Month(Month::new(2024, 2).unwrap());
        let key = kline_1d_key("币安人生USDT", month);
        let csv = format!(
            "{HEADER}\n{}\n{}\n{}",
            row("2024-02-10", 5),
            row("2024-02-11", 0),
            row("2024-02-29", 9)
        );
        let (zip, sum) = file(&key, &csv);
        let days = read_1d_file(&key, &zip, &sum).unwrap();
        let got: Vec<(NaiveDate, bool)> = days.iter().map(|t| (t.date, t.tradable())).collect();
        assert_eq!(
            got,
            [
                (d("2024-02-10"), true),
                (d("2024-02-11"), false),
                (d("2024-02-29"), true)
            ]
        );
    }

    /// BTCUSDT spot 1d klines, as the bucket's spot files write them: no header, and from
    /// 2025-01-01 microseconds (`vision-layout.md`). Of 2025-01-01, both times and
    /// open/high/low/close/volume are the values a public Binance Vision loader's test quotes
    /// from `BTCUSDT-1d-2025-01.csv`; every other value here, and the rows of 2025-01-02 and
    /// 2024-12-31 (the last millisecond day), have the real shape (8 decimals, trade counts,
    /// times), not values checked against the bucket.
    const SPOT_2025_01_01: &str = "1735689600000000,93576.00000000,95151.15000000,\
        92888.00000000,94591.79000000,10373.30000000,1735775999999999,975444194.49530180,\
        1467889,4951.44380000,465531069.70318000,0";
    const SPOT_2025_01_02: &str = "1735776000000000,94591.78000000,97839.50000000,\
        94392.00000000,96984.79000000,21970.48948000,1735862399999999,2118372186.79213000,\
        3199468,11077.10525000,1068113454.90735000,0";
    const SPOT_2024_12_31: &str = "1735603200000,92792.05000000,96250.00000000,\
        92033.73000000,93576.00000000,19612.03387000,1735689599999,1849718962.13425000,\
        2996478,9367.84766000,883582219.04815000,0";

    #[test]
    fn spot_files_in_microseconds_since_2025_are_read_like_millisecond_ones() {
        let spot = |text: &str| text.parse::<Dataset>().unwrap();
        let key = spot("spot/monthly/klines/1d").key("BTCUSDT", d("2025-01-01"));
        assert_eq!(
            key,
            "data/spot/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2025-01.zip"
        );
        let (zip, sum) = file(&key, &format!("{SPOT_2025_01_01}\n{SPOT_2025_01_02}\n"));
        let days = read_1d_file(&key, &zip, &sum).unwrap();
        let got: Vec<(NaiveDate, f64, u64)> =
            days.iter().map(|t| (t.date, t.close, t.trades)).collect();
        assert_eq!(
            got,
            [
                (d("2025-01-01"), 94591.79, 1_467_889),
                (d("2025-01-02"), 96984.79, 3_199_468)
            ]
        );
        // The day before, in milliseconds, reads to the same shape.
        let key = spot("spot/daily/klines/1d").key("BTCUSDT", d("2024-12-31"));
        let (zip, sum) = file(&key, SPOT_2024_12_31);
        let days = read_1d_file(&key, &zip, &sum).unwrap();
        assert_eq!((days[0].date, days[0].open), (d("2024-12-31"), 92792.05));
        // The units are told apart by magnitude, value by value.
        let rows = parse_csv(&format!("{SPOT_2024_12_31}\n{SPOT_2025_01_01}")).unwrap();
        assert_eq!(
            (rows[0].open_time.unit, rows[1].open_time.unit),
            (TimeUnit::Millis, TimeUnit::Micros)
        );
        assert_eq!(
            rows[0].close_time.micros() + 1000,
            rows[1].open_time.micros()
        );

        let key = spot("spot/daily/klines/1d").key("BTCUSDT", d("2025-01-01"));
        let with = |i: usize, value: &str| {
            let mut f: Vec<&str> = SPOT_2025_01_01.split(',').collect();
            f[i] = value;
            f.join(",")
        };
        for (csv, says) in [
            // A microsecond day ends at .999999, not at .999 as a millisecond one does.
            (
                with(6, "1735775999999000"),
                "does not end the day 2025-01-01 (a 1d kline closes at 23:59:59.999999)",
            ),
            (with(0, "1735689600000001"), "is not the start of a UTC day"),
            (
                with(6, "1735775999999"),
                "open_time is in microseconds, close_time in milliseconds",
            ),
            (
                with(0, "17356896000000000"),
                "17356896000000000 is not a time in milliseconds or microseconds between 2017 and 2100",
            ),
        ] {
            let (zip, sum) = file(&key, &csv);
            let e = read_1d_file(&key, &zip, &sum).unwrap_err();
            assert!(matches!(e.problem, Problem::Row { line: 1, .. }), "{e}");
            assert!(e.to_string().contains(says), "{csv}: {e}");
        }
    }

    #[test]
    fn every_malformed_row_is_refused_with_its_line() {
        let month = Span::Month(Month::new(2024, 2).unwrap());
        let key = kline_1d_key("BTCUSDT", month);
        let good = row("2024-02-10", 5);
        let open = ms("2024-02-10");
        let with = |i: usize, value: &str| {
            let mut f: Vec<String> = good.split(',').map(str::to_string).collect();
            f[i] = value.to_string();
            f.join(",")
        };
        for (csv, says) in [
            (
                format!("{good}\n\n{}", row("2024-02-11", 1)),
                "line 2: 1 fields",
            ),
            (format!("{good},0"), "13 fields"),
            (with(1, "NaN"), "open \"NaN\" is not a decimal"),
            (with(2, "inf"), "high \"inf\" is not a decimal"),
            (with(3, "-1"), "low \"-1\" is not a decimal"),
            (with(5, "1e5"), "volume \"1e5\" is not a decimal"),
            (with(5, "1e400"), "volume \"1e400\" is not a decimal"),
            // Parses to `inf` as f64: a malformed row, not a first rank for ever.
            (
                with(7, &"9".repeat(400)),
                "quote_volume has 400 digits, too large for a 64-bit float",
            ),
            (
                with(1, &format!("{}.5", "9".repeat(309))),
                "open has 310 digits, too large",
            ),
            (with(5, "1.2.3"), "volume \"1.2.3\""),
            (with(7, ""), "quote_volume \"\""),
            (with(8, "-3"), "count \"-3\" is not a number of trades"),
            (with(8, "+3"), "count \"+3\""),
            (with(8, "2.5"), "count \"2.5\""),
            (
                with(8, "9223372036854775808"),
                "count \"9223372036854775808\"",
            ),
            (with(0, &format!("{}", open * 1000)), "in microseconds"),
            (with(0, "12"), "between 2017 and 2100"),
            (
                with(0, &format!("{}", open + 1)),
                "not the start of a UTC day",
            ),
            (
                with(6, &format!("{}", open + DAY_MS)),
                "does not end the day",
            ),
            (
                with(6, &format!("{}", open - 5)),
                "close_time is not after open_time",
            ),
            (with(3, "99999999"), "is below low"),
            (
                row("2024-03-01", 1),
                "2024-03-01 is outside the file's span",
            ),
            (
                format!("{}\n{good}", row("2024-02-11", 1)),
                "line 2: 2024-02-10 is out of order",
            ),
            (format!("{good}\n{good}"), "repeated"),
            (
                format!("{good}\r"),
                "line 1: ignore \"0\\r\" is not a decimal",
            ),
            (format!("{}\n", HEADER), "holds no rows"),
            (String::new(), "holds no rows"),
            (format!("{}\n{good}", HEADER.to_uppercase()), "line 1"),
        ] {
            let (zip, sum) = file(&key, &csv);
            let e = match read_1d_file(&key, &zip, &sum) {
                Ok(days) => panic!("{csv:?} was read: {days:?}"),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(says) && e.starts_with(&key), "{csv:?}: {e}");
        }
        // A daily file holds its one day.
        let key = kline_1d_key("BTCUSDT", Span::Day(d("2024-02-10")));
        let (zip, sum) = file(&key, &format!("{good}\n{}", row("2024-02-11", 1)));
        let e = read_1d_file(&key, &zip, &sum).unwrap_err().to_string();
        assert!(e.contains("holds one row, this one 2"), "{e}");
    }

    #[test]
    fn checksums_zips_and_keys_that_are_not_right_are_refused() {
        let key = kline_1d_key("BTCUSDT", Span::Day(d("2024-02-10")));
        let csv = row("2024-02-10", 5);
        let (zip, sum) = file(&key, &csv);
        let hex = &sum[..64];
        for (checksum, says) in [
            (
                String::new(),
                "its CHECKSUM (0 bytes) is not `<sha256>  <file name>`: no space",
            ),
            (hex.to_string(), "(64 bytes) is not `<sha256>"),
            (
                format!("{}  BTCUSDT-1d-2024-02-10.zip", &hex[..63]),
                "begins with 63 characters before a space",
            ),
            (format!("{hex}  "), "no file name follows the digest"),
            (
                format!("{hex}  ETHUSDT-1d-2024-02-10.zip"),
                "is for \"ETHUSDT-1d-2024-02-10.zip\", another file",
            ),
            (
                format!("{hex}  BTCUSDT-1d-2024-02-10.zip\r"),
                "its line ends in CR without LF",
            ),
            (
                format!("{hex}  BTCUSDT-1d-2024-02-10.zip\n{hex}  x.zip\n"),
                "holds a control character",
            ),
            (
                format!("{}  BTCUSDT-1d-2024-02-10.zip", "0".repeat(64)),
                "but its CHECKSUM says 0000",
            ),
        ] {
            let e = read_1d_file(&key, &zip, &checksum).unwrap_err().to_string();
            assert!(e.contains(says), "{checksum:?}: {e}");
        }
        // Whatever a CHECKSUM holds that is not a klines name is described, never repeated: it
        // may be any server's answer (issue 24.11).
        for attacker in [
            "aws_secret_access_key=SECRETSECRET hunter2".to_string(),
            format!("{hex}  SECRET{{\"token\":\"hunter2\"}}"),
            format!("{hex}  {}", "SECRET".repeat(30)),
            format!("SECRET\u{1b}[31m {hex}"),
        ] {
            let e = read_1d_file(&key, &zip, &attacker).unwrap_err().to_string();
            assert!(
                !e.contains("SECRET") && !e.contains("hunter2"),
                "{attacker:?}: {e}"
            );
            assert!(
                e.contains(&format!("({} bytes)", attacker.len()))
                    || e.contains("bytes that no klines file has"),
                "{attacker:?}: {e}"
            );
        }
        // No trailing newline, one space, upper-case hex, a CRLF line end: all as real copies
        // (or a copy saved on Windows) write them.
        for checksum in [
            sum.trim_end().to_string(),
            sum.replace('\n', "\r\n"),
            sum.replacen("  ", " ", 1),
            sum.to_uppercase()
                .replace("BTCUSDT-1D-2024-02-10.ZIP", "BTCUSDT-1d-2024-02-10.zip"),
        ] {
            assert!(read_1d_file(&key, &zip, &checksum).is_ok(), "{checksum:?}");
        }
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PK\x03\x04 not really".to_vec(), "not a readable zip"),
            (zip[..zip.len() / 2].to_vec(), "not a readable zip"),
            (zip_of("other.csv", &csv), "holds \"other.csv\""),
            (
                {
                    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
                    let o = zip::write::SimpleFileOptions::default();
                    w.start_file("BTCUSDT-1d-2024-02-10.csv", o).unwrap();
                    w.write_all(csv.as_bytes()).unwrap();
                    w.start_file("extra.csv", o).unwrap();
                    w.finish().unwrap().into_inner()
                },
                "holds 2 files",
            ),
            (zip_of("BTCUSDT-1d-2024-02-10.csv", "\u{0}\u{ff}"), "line 1"),
        ];
        for (zip, says) in cases {
            let sum = checksum_of(&key, &zip);
            let e = read_1d_file(&key, &zip, &sum).unwrap_err().to_string();
            assert!(e.contains(says), "{says}: {e}");
        }
        // A zip that unpacks past the bound (a zip bomb, in small) is refused, not read.
        let big = "0".repeat(MAX_CSV_BYTES as usize + 1);
        let bomb = zip_of("BTCUSDT-1d-2024-02-10.csv", &big);
        assert!(
            bomb.len() < 100_000,
            "deflate packs it small: {}",
            bomb.len()
        );
        let e = read_1d_file(&key, &bomb, &checksum_of(&key, &bomb)).unwrap_err();
        assert!(matches!(e.problem, Problem::TooLarge), "{e}");
        let e = read_1d_file(
            "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-10.zip",
            &zip,
            &sum,
        )
        .unwrap_err();
        assert!(matches!(e.problem, Problem::NotAKeyOf { .. }), "{e}");
        assert!(
            e.to_string()
                .ends_with("this is not the key of a daily or monthly 1d klines file"),
            "{e}"
        );
    }
}
