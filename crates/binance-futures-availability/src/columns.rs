//! The columns of every answer row, defined once: each row type's names, order and types, from
//! which every output is made — JSON and CSV (the command line and `serve`, through the
//! `Serialize` this module gives each row), Arrow tables and Python dicts (the Python package,
//! which walks `Row::COLUMNS`). A column added here appears in all four; none can drift.
//!
//! Must not know: any one output format (serde's data model is the common ground), SQL, flags.
//!
//! A column's type is the kind of its getter (`Cell`), so a column cannot claim one type and
//! give another, and whether it can be empty is part of the same kind (`OptInt64`, not
//! `Int64` plus a flag).

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::facts::DailyTrading;
use crate::store::{
    CatalogFile, CatalogGap, Change, DatasetSummary, DayCount, Event, Lag, Member, RangeRow,
    SnapshotRow, Stray, SymbolRecord, SymbolSummary, TimelineDay,
};
use crate::store::{LifeRow, PanelRow};

/// A row type of an answer, and its columns in output order. Its `Serialize` is
/// `serialize_by_columns!`'s, written from the same columns.
pub trait Row: Serialize + Sized + 'static {
    /// The columns, in the order every output lists them.
    const COLUMNS: &'static [Column<Self>];
}

/// One column: its name (a JSON key, a CSV header, an Arrow field, a dict key) and how a row
/// gives its value.
pub struct Column<R> {
    /// The name every output uses.
    pub name: &'static str,
    /// The value's getter; its kind is the column's type.
    pub cell: Cell<R>,
}

impl<R> Column<R> {
    /// The column `name`, its values from `cell`.
    pub const fn new(name: &'static str, cell: Cell<R>) -> Self {
        Column { name, cell }
    }
}

/// How a row gives one column's value; the variant is the column's type, `Opt…` the ones
/// that may be empty (JSON `null`, an empty CSV field, an Arrow null, Python `None`).
pub enum Cell<R> {
    /// Text.
    Text(fn(&R) -> &str),
    /// Text or nothing.
    OptText(fn(&R) -> Option<&str>),
    /// Text a value writes (`Display`) where it is written: a dataset's or a period's name, a
    /// changed file's key — into the output's own buffer, no `String` a row.
    Shown(fn(&R) -> &dyn fmt::Display),
    /// Yes or no.
    Bool(fn(&R) -> bool),
    /// Yes, no, or not known.
    OptBool(fn(&R) -> Option<bool>),
    /// A 32-bit integer or nothing.
    OptInt32(fn(&R) -> Option<i32>),
    /// A 64-bit integer.
    Int64(fn(&R) -> i64),
    /// A 64-bit integer or nothing.
    OptInt64(fn(&R) -> Option<i64>),
    /// An unsigned 32-bit integer.
    UInt32(fn(&R) -> u32),
    /// An unsigned 64-bit integer.
    UInt64(fn(&R) -> u64),
    /// A 64-bit float.
    Float64(fn(&R) -> f64),
    /// A 64-bit float or nothing.
    OptFloat64(fn(&R) -> Option<f64>),
    /// A calendar day (UTC).
    Date(fn(&R) -> NaiveDate),
    /// A calendar day or nothing.
    OptDate(fn(&R) -> Option<NaiveDate>),
    /// An instant in UTC.
    Time(fn(&R) -> DateTime<Utc>),
    /// An instant in UTC or nothing.
    OptTime(fn(&R) -> Option<DateTime<Utc>>),
}

impl<R> Cell<R> {
    /// Whether the column may be empty.
    pub fn nullable(&self) -> bool {
        matches!(
            self,
            Cell::OptText(_)
                | Cell::OptBool(_)
                | Cell::OptInt32(_)
                | Cell::OptInt64(_)
                | Cell::OptFloat64(_)
                | Cell::OptDate(_)
                | Cell::OptTime(_)
        )
    }

    /// The value `row` has in this column.
    pub fn value<'r>(&self, row: &'r R) -> Value<'r> {
        match self {
            Cell::Text(f) => Value::Text(Some(Cow::Borrowed(f(row)))),
            Cell::OptText(f) => Value::Text(f(row).map(Cow::Borrowed)),
            Cell::Shown(f) => Value::Shown(f(row)),
            Cell::Bool(f) => Value::Bool(Some(f(row))),
            Cell::OptBool(f) => Value::Bool(f(row)),
            Cell::OptInt32(f) => Value::Int32(f(row)),
            Cell::Int64(f) => Value::Int64(Some(f(row))),
            Cell::OptInt64(f) => Value::Int64(f(row)),
            Cell::UInt32(f) => Value::UInt32(f(row)),
            Cell::UInt64(f) => Value::UInt64(f(row)),
            Cell::Float64(f) => Value::Float64(Some(f(row))),
            Cell::OptFloat64(f) => Value::Float64(f(row)),
            Cell::Date(f) => Value::Date(Some(f(row))),
            Cell::OptDate(f) => Value::Date(f(row)),
            Cell::Time(f) => Value::Time(Some(f(row))),
            Cell::OptTime(f) => Value::Time(f(row)),
        }
    }
}

/// One cell's value, as serde writes it (`None` is an empty cell).
#[derive(Clone)]
pub enum Value<'r> {
    /// Text.
    Text(Option<Cow<'r, str>>),
    /// Text a value writes where it goes (serde's `collect_str`).
    Shown(&'r dyn fmt::Display),
    /// Yes or no.
    Bool(Option<bool>),
    /// A 32-bit integer.
    Int32(Option<i32>),
    /// A 64-bit integer.
    Int64(Option<i64>),
    /// An unsigned 32-bit integer.
    UInt32(u32),
    /// An unsigned 64-bit integer.
    UInt64(u64),
    /// A 64-bit float.
    Float64(Option<f64>),
    /// A calendar day, written `2024-01-15`.
    Date(Option<NaiveDate>),
    /// An instant in UTC, written RFC 3339 (`2024-01-15T08:00:00Z`).
    Time(Option<DateTime<Utc>>),
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(v) => f.debug_tuple("Text").field(v).finish(),
            Value::Shown(v) => f.debug_tuple("Shown").field(&format_args!("{v}")).finish(),
            Value::Bool(v) => f.debug_tuple("Bool").field(v).finish(),
            Value::Int32(v) => f.debug_tuple("Int32").field(v).finish(),
            Value::Int64(v) => f.debug_tuple("Int64").field(v).finish(),
            Value::UInt32(v) => f.debug_tuple("UInt32").field(v).finish(),
            Value::UInt64(v) => f.debug_tuple("UInt64").field(v).finish(),
            Value::Float64(v) => f.debug_tuple("Float64").field(v).finish(),
            Value::Date(v) => f.debug_tuple("Date").field(v).finish(),
            Value::Time(v) => f.debug_tuple("Time").field(v).finish(),
        }
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Text(v) => v.serialize(s),
            Value::Shown(v) => s.collect_str(v),
            Value::Bool(v) => v.serialize(s),
            Value::Int32(v) => v.serialize(s),
            Value::Int64(v) => v.serialize(s),
            Value::UInt32(v) => v.serialize(s),
            Value::UInt64(v) => v.serialize(s),
            Value::Float64(v) => v.serialize(s),
            // Written whole, then handed over as one string: chrono's own `Serialize` writes
            // through `collect_str`, which serde_json escapes a `char` at a time (a snapshot's
            // 262 times were ~15 % of a `serve` miss's CPU, BENCHMARKS.md session 18).
            Value::Date(Some(d)) => match Short::debug(d) {
                Some(short) => s.serialize_str(short.as_str()),
                None => d.serialize(s),
            },
            // chrono's serde writes a time with `write_rfc3339(…, AutoSi, true)`, which is what
            // `to_rfc3339_opts` calls: the same text, byte for byte (tested). A whole second
            // (every time Vision gives) is written here on the stack instead of in a `String`.
            Value::Time(Some(t)) => match Short::whole_second(t) {
                Some(short) => s.serialize_str(short.as_str()),
                None => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            },
            Value::Date(None) | Value::Time(None) => s.serialize_none(),
        }
    }
}

/// A value's `Debug` text on the stack: a day is 10 bytes (12 for a year past 9999, written
/// with its sign), well within `CAPACITY`.
struct Short {
    bytes: [u8; Short::CAPACITY],
    len: usize,
}

impl Short {
    const CAPACITY: usize = 32;

    /// `None` when the text does not fit (then the caller writes it another way).
    fn debug(value: &impl fmt::Debug) -> Option<Short> {
        use fmt::Write as _;
        let mut short = Short {
            bytes: [0; Short::CAPACITY],
            len: 0,
        };
        write!(short, "{value:?}").ok()?;
        Some(short)
    }

    /// `t` as `to_rfc3339_opts(AutoSi, true)` writes it, `2024-01-16T08:00:01Z`, when it is a
    /// whole second (no fraction, no leap second) of a year from 0 to 9999 (four digits, no
    /// sign); `None` otherwise (then the caller asks chrono).
    fn whole_second(t: &DateTime<Utc>) -> Option<Short> {
        use chrono::{Datelike as _, Timelike as _};
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        if t.nanosecond() != 0 {
            return None;
        }
        let mut short = Short {
            bytes: [0; Short::CAPACITY],
            len: 20,
        };
        let parts = [
            (0, year / 100),
            (2, year % 100),
            (5, t.month()),
            (8, t.day()),
            (11, t.hour()),
            (14, t.minute()),
            (17, t.second()),
        ];
        for (at, two_digits) in parts {
            // Each part is below 100 (a year's two halves included).
            short.bytes[at] = b'0' + (two_digits / 10) as u8;
            short.bytes[at + 1] = b'0' + (two_digits % 10) as u8;
        }
        for (at, separator) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'Z'),
        ] {
            short.bytes[at] = separator;
        }
        Some(short)
    }

    fn as_str(&self) -> &str {
        // Only whole `str`s are copied in (`write_str`), so this never fails.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for Short {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.len + text.len();
        let Some(room) = self.bytes.get_mut(self.len..end) else {
            return Err(fmt::Error);
        };
        room.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A row written as its columns, each value passed through `map` first (the CSV writer
/// neutralises formulas in text this way; JSON takes the values as they are).
pub struct Mapped<'r, R, F> {
    row: &'r R,
    map: F,
}

impl<'r, R: Row, V: Serialize, F: Fn(Value<'r>) -> V> Mapped<'r, R, F> {
    /// `row`, each of its values through `map`.
    pub fn new(row: &'r R, map: F) -> Self {
        Mapped { row, map }
    }
}

impl<'r, R: Row, V: Serialize, F: Fn(Value<'r>) -> V> Serialize for Mapped<'r, R, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut row = s.serialize_struct("row", R::COLUMNS.len())?;
        for c in R::COLUMNS {
            row.serialize_field(c.name, &(self.map)(c.cell.value(self.row)))?;
        }
        row.end()
    }
}

/// `Serialize` from the columns: a JSON object or a CSV record with the columns' names.
macro_rules! serialize_by_columns {
    ($($row:ty),+ $(,)?) => {$(
        impl Serialize for $row {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                Mapped::new(self, |v| v).serialize(s)
            }
        }
    )+};
}
serialize_by_columns!(
    SnapshotRow,
    TimelineDay,
    RangeRow,
    DayCount,
    SymbolRecord,
    Event,
    Member,
    DailyTrading,
    DatasetSummary,
    CatalogFile,
    Change,
    Stray,
    SymbolSummary,
    CatalogGap,
    Lag,
);
serialize_by_columns!(PanelRow, LifeRow);

impl Row for PanelRow {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("date", Cell::Date(|r| r.date)),
        Column::new("symbol", Cell::Text(|r| &r.symbol)),
        Column::new("rank", Cell::UInt32(|r| r.rank)),
        Column::new("mean_quote_volume", Cell::Float64(|r| r.mean_quote_volume)),
        Column::new("days_listed", Cell::Int64(|r| r.days_listed)),
        Column::new("traded_on_date", Cell::OptBool(|r| r.traded_on_date)),
    ];
}

impl Row for LifeRow {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("symbol", Cell::Text(|r| &r.symbol)),
        Column::new("life", Cell::UInt32(|r| r.life)),
        Column::new("first_file", Cell::Date(|r| r.first_file)),
        Column::new("first_trade", Cell::OptDate(|r| r.first_trade)),
        Column::new("last_trade", Cell::OptDate(|r| r.last_trade)),
        Column::new("last_file", Cell::Date(|r| r.last_file)),
        Column::new("end", Cell::OptDate(|r| r.end)),
        Column::new("gap_days_before", Cell::OptInt64(|r| r.gap_days_before)),
    ];
}

impl Row for SnapshotRow {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("symbol", Cell::Text(|r| &r.symbol)),
        Column::new("file_size_bytes", Cell::OptInt64(|r| r.file_size_bytes)),
        Column::new("last_modified", Cell::OptTime(|r| r.last_modified)),
    ];
}

impl Row for TimelineDay {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("date", Cell::Date(|r| r.date)),
        Column::new("available", Cell::Bool(|r| r.available)),
        Column::new("file_size_bytes", Cell::OptInt64(|r| r.file_size_bytes)),
        Column::new("status_code", Cell::OptInt32(|r| r.status_code)),
    ];
}

impl Row for RangeRow {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("symbol", Cell::Text(|r| &r.symbol)),
        Column::new("days_available", Cell::Int64(|r| r.days_available)),
        Column::new("first_date", Cell::Date(|r| r.first_date)),
        Column::new("last_date", Cell::Date(|r| r.last_date)),
    ];
}

impl Row for DayCount {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("date", Cell::Date(|r| r.date)),
        Column::new("perpetual", Cell::Int64(|r| r.perpetual)),
        Column::new("delivery", Cell::Int64(|r| r.delivery)),
        Column::new("perpetual_traded", Cell::Int64(|r| r.perpetual_traded)),
        Column::new("delivery_traded", Cell::Int64(|r| r.delivery_traded)),
    ];
}

impl Row for SymbolRecord {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("symbol", Cell::Text(|r| &r.symbol)),
        Column::new("contract", Cell::Text(|r| r.contract.as_str())),
        Column::new("quote_asset", Cell::OptText(|r| r.quote_asset.as_deref())),
        Column::new("settled", Cell::Bool(|r| r.settled)),
        Column::new("delivery_date", Cell::OptDate(|r| r.delivery_date)),
        Column::new("first_file_date", Cell::OptDate(|r| r.first_file_date)),
        Column::new("last_file_date", Cell::OptDate(|r| r.last_file_date)),
        Column::new("checked_from", Cell::OptDate(|r| r.checked_from)),
        Column::new("checked_through", Cell::OptDate(|r| r.checked_through)),
    ];
}

impl Row for Event {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("date", Cell::Date(|r| r.date)),
        Column::new("symbol", Cell::Text(|r| &r.symbol)),
        Column::new("base_symbol", Cell::Text(|r| &r.base_symbol)),
        Column::new("kind", Cell::Text(|r| r.kind.as_str())),
        Column::new("detail", Cell::Text(|r| &r.detail)),
    ];
}

impl Row for Member {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("symbol", Cell::Text(|r| &r.symbol)),
        Column::new("base_symbol", Cell::Text(|r| &r.base_symbol)),
        Column::new("rank", Cell::UInt32(|r| r.rank)),
        Column::new("mean_quote_volume", Cell::Float64(|r| r.mean_quote_volume)),
        Column::new("days_listed", Cell::Int64(|r| r.days_listed)),
        Column::new("traded_on_date", Cell::OptBool(|r| r.traded_on_date)),
    ];
}

impl Row for DailyTrading {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("date", Cell::Date(|r| r.date)),
        Column::new("open", Cell::Float64(|r| r.open)),
        Column::new("high", Cell::Float64(|r| r.high)),
        Column::new("low", Cell::Float64(|r| r.low)),
        Column::new("close", Cell::Float64(|r| r.close)),
        Column::new("volume", Cell::Float64(|r| r.volume)),
        Column::new("quote_volume", Cell::Float64(|r| r.quote_volume)),
        Column::new("trades", Cell::UInt64(|r| r.trades)),
        Column::new("taker_buy_volume", Cell::Float64(|r| r.taker_buy_volume)),
        Column::new(
            "taker_buy_quote_volume",
            Cell::Float64(|r| r.taker_buy_quote_volume),
        ),
    ];
}

impl Row for DatasetSummary {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("dataset", Cell::Shown(|r| &r.dataset)),
        Column::new("symbols", Cell::Int64(|r| r.symbols)),
        Column::new("files", Cell::Int64(|r| r.files)),
        Column::new("bytes", Cell::Int64(|r| r.bytes)),
        Column::new("first", Cell::Shown(|r| &r.first)),
        Column::new("last", Cell::Shown(|r| &r.last)),
        Column::new("missing_checksums", Cell::Int64(|r| r.missing_checksums)),
        Column::new("last_change", Cell::OptTime(|r| r.last_change)),
    ];
}

impl Row for SymbolSummary {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("symbol", Cell::Text(|r| &r.symbol)),
        Column::new("files", Cell::Int64(|r| r.files)),
        Column::new("bytes", Cell::Int64(|r| r.bytes)),
        Column::new("first", Cell::Shown(|r| &r.first)),
        Column::new("last", Cell::Shown(|r| &r.last)),
        Column::new("gaps", Cell::Int64(|r| r.gaps)),
    ];
}

impl Row for CatalogFile {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("key", Cell::Text(|r| &r.key)),
        Column::new("symbol", Cell::Text(|r| &r.symbol)),
        Column::new("period", Cell::Shown(|r| &r.span)),
        Column::new("size", Cell::UInt64(|r| r.size)),
        Column::new("last_modified", Cell::Time(|r| r.last_modified)),
        Column::new("checksum", Cell::Bool(|r| r.checksum)),
    ];
}

impl Row for CatalogGap {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("symbol", Cell::Text(|r| &r.symbol)),
        Column::new("from", Cell::Shown(|r| &r.from)),
        Column::new("to", Cell::Shown(|r| &r.to)),
        Column::new("periods", Cell::Int64(|r| r.periods)),
        Column::new(
            "covered_by",
            Cell::OptText(|r| r.covered_by.map(|p| p.as_str())),
        ),
    ];
}

impl Row for Lag {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("files", Cell::Int64(|r| r.files)),
        Column::new("p50_hours", Cell::OptFloat64(|r| r.p50_hours)),
        Column::new("p90_hours", Cell::OptFloat64(|r| r.p90_hours)),
        Column::new("p99_hours", Cell::OptFloat64(|r| r.p99_hours)),
        Column::new("max_hours", Cell::OptFloat64(|r| r.max_hours)),
        Column::new("replaced", Cell::Int64(|r| r.replaced)),
    ];
}

impl Row for Change {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("seen", Cell::Time(|r| r.seen)),
        Column::new("key", Cell::Shown(|r| &r.file)),
        Column::new("kind", Cell::Text(|r| r.kind.as_str())),
        Column::new("size", Cell::OptInt64(|r| r.size.map(|s| s as i64))),
        Column::new("last_modified", Cell::OptTime(|r| r.last_modified)),
        Column::new(
            "previous_size",
            Cell::OptInt64(|r| r.previous_size.map(|s| s as i64)),
        ),
        Column::new(
            "previous_last_modified",
            Cell::OptTime(|r| r.previous_last_modified),
        ),
    ];
}

impl Row for Stray {
    const COLUMNS: &'static [Column<Self>] = &[
        Column::new("key", Cell::Text(|r| &r.key)),
        Column::new("size", Cell::UInt64(|r| r.size)),
        Column::new("last_modified", Cell::Time(|r| r.last_modified)),
        Column::new("reason", Cell::Text(|r| r.reason.as_str())),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<R: Row>() -> Vec<&'static str> {
        R::COLUMNS.iter().map(|c| c.name).collect()
    }

    /// A name twice would be one JSON key written twice, two Arrow fields no DataFrame takes,
    /// and a dict that silently keeps the second.
    #[test]
    fn every_row_type_names_each_column_once() {
        for (row, names) in [
            ("SnapshotRow", names::<SnapshotRow>()),
            ("TimelineDay", names::<TimelineDay>()),
            ("RangeRow", names::<RangeRow>()),
            ("DayCount", names::<DayCount>()),
            ("SymbolRecord", names::<SymbolRecord>()),
            ("Event", names::<Event>()),
            ("Member", names::<Member>()),
            ("PanelRow", names::<PanelRow>()),
            ("LifeRow", names::<LifeRow>()),
            ("DailyTrading", names::<DailyTrading>()),
            ("DatasetSummary", names::<DatasetSummary>()),
            ("CatalogFile", names::<CatalogFile>()),
            ("Change", names::<Change>()),
            ("Stray", names::<Stray>()),
            ("SymbolSummary", names::<SymbolSummary>()),
            ("CatalogGap", names::<CatalogGap>()),
            ("Lag", names::<Lag>()),
        ] {
            let mut seen = std::collections::HashSet::new();
            for n in &names {
                assert!(seen.insert(n), "{row} names {n:?} twice: {names:?}");
            }
        }
    }

    /// Empty cells are JSON nulls, days and instants keep the text they always had.
    #[test]
    fn a_row_is_written_as_its_columns() {
        let row = SnapshotRow {
            symbol: "BTCUSDT".into(),
            file_size_bytes: None,
            last_modified: "2024-01-16T08:00:01Z".parse().ok(),
        };
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"symbol":"BTCUSDT","file_size_bytes":null,"last_modified":"2024-01-16T08:00:01Z"}"#
        );
    }

    /// Days and instants are written as chrono's own `Serialize` writes them, byte for byte,
    /// at every precision of a second, on a leap second, and at the ends of their ranges.
    #[test]
    fn days_and_instants_are_written_as_chrono_writes_them() {
        use chrono::{NaiveDateTime, NaiveTime};
        let days = [
            NaiveDate::MIN,
            NaiveDate::MAX,
            NaiveDate::from_ymd_opt(0, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(-1, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(10000, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2024, 1, 15).unwrap(),
        ];
        for day in days {
            let ours = serde_json::to_string(&Value::Date(Some(day))).unwrap();
            assert_eq!(ours, serde_json::to_string(&day).unwrap(), "{day:?}");
            for nanos in [
                0,
                1,
                1_000,
                120_000_000,
                123_456_000,
                999_999_999,
                1_500_000_000,
            ] {
                let Some(time) = NaiveTime::from_hms_nano_opt(23, 59, 59, nanos) else {
                    continue;
                };
                let instant = NaiveDateTime::new(day, time).and_utc();
                let ours = serde_json::to_string(&Value::Time(Some(instant))).unwrap();
                let chrono = serde_json::to_string(&instant).unwrap();
                assert_eq!(ours, chrono, "{instant:?}");
            }
        }
        // Whole seconds (written here) and fractions (chrono's) from year 0 to 10,999.
        fastrand::seed(29);
        for _ in 0..100_000 {
            let secs = fastrand::i64(-62_167_219_200..284_012_524_800);
            let nanos = [0, 0, 0, fastrand::u32(..1_000_000_000)][fastrand::usize(..4)];
            let instant = DateTime::from_timestamp(secs, nanos).unwrap();
            let ours = serde_json::to_string(&Value::Time(Some(instant))).unwrap();
            let chrono = serde_json::to_string(&instant).unwrap();
            assert_eq!(ours, chrono, "{instant:?}");
        }
        assert_eq!(serde_json::to_string(&Value::Time(None)).unwrap(), "null");
        assert_eq!(serde_json::to_string(&Value::Date(None)).unwrap(), "null");
    }
}
