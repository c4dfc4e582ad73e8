//! Query output: a readable table by default, JSON and CSV for programs, safe to show whatever
//! a name holds. The operator's reports are `report`.

use std::io::{self, Write};

use chrono::NaiveDate;
use comfy_table::{Cell, CellAlignment, Table, presets};
use serde::Serialize;

use crate::columns::{Mapped, Row, Value};
use crate::facts::DailyTrading;
use crate::facts::{ContractFilter, Market};
use crate::question::{Answer, Question};
use crate::store::{
    DayCount, Event, Gap, GapKind, Member, PanelQuery, PanelRow, RangeRow, RankBy, SnapshotRow,
    SymbolRecord, Timeline, UniverseQuery,
};

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON array of objects.
    Json,
    /// A header line and one line per row.
    Csv,
}

/// How reports (`status`, `validate`, `scheduler status`) are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReportFormat {
    /// Labelled lines for people.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

pub(super) fn json<T: Serialize>(out: &mut impl Write, rows: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, rows)?;
    writeln!(out)
}

/// A text cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, CR first)
/// gets a leading `'`, as OWASP advises: such a name can only come from a hostile file.
fn csv_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Text for a terminal: control characters (ESC would start a colour or cursor sequence) and
/// the bidirectional overrides are shown escaped, `\u{1b}`, instead of acting.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let acts = |c: char| {
        c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if !text.chars().any(acts) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if acts(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// The rows as one JSON array, as `json` writes it (`JsonRows`).
fn json_rows<R: Row>(out: &mut impl Write, rows: &[R]) -> io::Result<()> {
    let mut w = JsonRows::new(out);
    for row in rows {
        w.row(row)?;
    }
    w.finish()
}

/// The rows as CSV: a header of the columns' names, then a record per row; every text cell
/// (a symbol folder's name can come from a hostile listing) through `csv_cell`.
fn csv<R: Row>(out: &mut impl Write, rows: &[R]) -> io::Result<()> {
    let mut w = CsvRows::new(out);
    for row in rows {
        w.row(row)?;
    }
    w.finish()
}

/// CSV written a row at a time, as `csv` writes it whole: the header with the first row
/// (nothing at all for no rows).
pub(super) struct CsvRows<W: Write> {
    w: csv::Writer<W>,
}

impl<W: Write> CsvRows<W> {
    pub(super) fn new(out: W) -> Self {
        CsvRows {
            w: csv::Writer::from_writer(out),
        }
    }

    pub(super) fn row<R: Row>(&mut self, row: &R) -> io::Result<()> {
        /// A value as it goes into CSV.
        #[derive(Serialize)]
        #[serde(untagged)]
        enum CsvValue<'r> {
            Text(std::borrow::Cow<'r, str>),
            Other(Value<'r>),
        }
        let safe = Mapped::new(row, |v| match v {
            Value::Text(Some(std::borrow::Cow::Borrowed(text))) => CsvValue::Text(csv_cell(text)),
            Value::Text(Some(std::borrow::Cow::Owned(text))) => {
                CsvValue::Text(std::borrow::Cow::Owned(csv_cell(&text).into_owned()))
            }
            // The csv crate makes a `String` of a `collect_str` anyway; made here, it is
            // checked as every text cell is.
            Value::Shown(shown) => {
                let text = shown.to_string();
                CsvValue::Text(match csv_cell(&text) {
                    std::borrow::Cow::Borrowed(_) => std::borrow::Cow::Owned(text),
                    std::borrow::Cow::Owned(safe) => std::borrow::Cow::Owned(safe),
                })
            }
            other => CsvValue::Other(other),
        });
        self.w.serialize(&safe).map_err(csv_io)
    }

    pub(super) fn finish(mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// A JSON array written a row at a time, byte for byte as `json` (serde_json's pretty printer)
/// writes the whole array of the same rows (tested), but without serde: the layout and the
/// texts are written here, a text copied whole unless it holds a byte JSON escapes. Through
/// serde, writing a `serve` miss's ~28 KB snapshot was ~half of its ~160 µs of CPU, most of it
/// escaping every key and text a byte at a time (BENCHMARKS.md, session 19).
pub(super) struct JsonRows<W: Write> {
    out: W,
    rows: u64,
    /// A `Shown` cell's text, the buffer kept from cell to cell (10⁵–10⁶ rows a week of
    /// changes).
    text: String,
}

impl<W: Write> JsonRows<W> {
    pub(super) fn new(out: W) -> Self {
        JsonRows {
            out,
            rows: 0,
            text: String::new(),
        }
    }

    /// One object, its fields at serde_json's pretty indentation inside an array: two spaces
    /// for the braces, four for the fields.
    pub(super) fn row<R: Row>(&mut self, row: &R) -> io::Result<()> {
        self.out
            .write_all(if self.rows == 0 { b"[\n  {" } else { b",\n  {" })?;
        for (i, column) in R::COLUMNS.iter().enumerate() {
            self.out
                .write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
            json_text(&mut self.out, column.name)?;
            self.out.write_all(b": ")?;
            self.value(column.cell.value(row))?;
        }
        // serde_json writes an object without fields as `{}`.
        self.out.write_all(if R::COLUMNS.is_empty() {
            b"}"
        } else {
            b"\n  }"
        })?;
        self.rows += 1;
        Ok(())
    }

    fn value(&mut self, value: Value<'_>) -> io::Result<()> {
        let out = &mut self.out;
        match value {
            Value::Text(Some(text)) => json_text(out, &text),
            Value::Shown(shown) => {
                use std::fmt::Write as _;
                self.text.clear();
                // Writing into a `String` fails only if the value's `Display` does.
                write!(self.text, "{shown}").map_err(io::Error::other)?;
                json_text(out, &self.text)
            }
            Value::Bool(Some(yes)) => out.write_all(if yes { b"true" } else { b"false" }),
            Value::Text(None)
            | Value::Bool(None)
            | Value::Int32(None)
            | Value::Int64(None)
            | Value::Float64(None)
            | Value::Date(None)
            | Value::Time(None) => out.write_all(b"null"),
            // Numbers, days and instants as serde_json writes them (its integer and float
            // writers; a day or an instant is one short text): no layout, a few calls a row.
            number_or_day => serde_json::to_writer(out, &number_or_day).map_err(io::Error::from),
        }
    }

    pub(super) fn finish(mut self) -> io::Result<()> {
        if self.rows == 0 {
            writeln!(self.out, "[]")
        } else {
            writeln!(self.out, "\n]")
        }
    }
}

/// `text` as a JSON string: copied whole between its quotes when no byte of it is escaped
/// (a quote, a backslash, a control character below U+0020: the bytes serde_json escapes, and
/// the only ones), else written by serde_json, escapes and all.
fn json_text(out: &mut impl Write, text: &str) -> io::Result<()> {
    // Every byte looked at, no early exit: the loop is vectorised, and names are short.
    let escaped = text.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if escaped {
        return serde_json::to_writer(out, text).map_err(io::Error::from);
    }
    out.write_all(b"\"")?;
    out.write_all(text.as_bytes())?;
    out.write_all(b"\"")
}

/// A table written a row at a time, its column widths known before the first row: laid out as
/// `table(header, right).trim_fmt()` lays out the same rows (one space before the first column,
/// two between columns, none after the last).
pub(super) struct StreamTable {
    widths: Vec<usize>,
    right: Vec<bool>,
}

impl StreamTable {
    /// Columns `header`, each as wide as the widest of its header and `widths` (the widest
    /// cell it will hold, in terminal columns), those in `right` aligned right.
    pub(super) fn new(header: &[&str], widths: &[usize], right: &[usize]) -> Self {
        StreamTable {
            widths: header
                .iter()
                .zip(widths)
                .map(|(h, w)| display_width(h).max(*w))
                .collect(),
            right: (0..header.len()).map(|i| right.contains(&i)).collect(),
        }
    }

    /// One line: the header, or a row.
    pub(super) fn line(&self, out: &mut impl Write, cells: &[&str]) -> io::Result<()> {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = self.widths[i].saturating_sub(display_width(cell));
            line.push(' ');
            if self.right[i] {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.push(' ');
        }
        writeln!(out, "{}", line.trim_end())
    }
}

/// How many terminal columns `text` takes, as the tables measure it.
pub(super) fn display_width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// Keeps the kind of an I/O error inside a CSV error, so a closed pipe stays a closed pipe.
fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// JSON and CSV straight from the rows; the table from `table`.
pub(super) fn emit<T: Row, W: Write>(
    out: &mut W,
    format: Format,
    rows: &[T],
    table: impl FnOnce(&mut W) -> io::Result<()>,
) -> io::Result<()> {
    match format {
        Format::Json => json_rows(out, rows),
        Format::Csv => csv(out, rows),
        Format::Table => table(out),
    }
}

/// A borderless table. Written with `trim_fmt`: no trailing blanks on any line, so what the
/// docs show (and test, see tests/docs.rs) survives editors that strip them.
pub(super) fn table(header: &[&str], right: &[usize]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(header.iter().map(Cell::new));
    for &i in right {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

pub(super) fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

fn contract_name(c: ContractFilter) -> &'static str {
    match c {
        ContractFilter::Perpetual => "perpetual",
        ContractFilter::Delivery => "delivery",
        ContractFilter::All => "perpetual and delivery",
    }
}

/// A question's answer, printed as its question asks (the day of a snapshot, the days of a
/// range, the query of a universe are in the headings).
pub fn answer(
    out: &mut impl Write,
    format: Format,
    question: &Question,
    answer: &Answer,
) -> io::Result<()> {
    match (question, answer) {
        (
            Question::Snapshot {
                market,
                date,
                contracts,
            },
            Answer::Snapshot(rows),
        ) => snapshot(out, format, (*market, *date, *contracts), rows),
        (
            Question::Timeline { .. },
            Answer::Timeline {
                timeline: t,
                events: e,
                trading,
            },
        ) => timeline(out, format, t, e, trading),
        (Question::Range { days, .. }, Answer::Range(rows)) => {
            range(out, format, days.first(), days.last(), rows)
        }
        (Question::Summary { .. }, Answer::Summary(rows)) => summary(out, format, rows),
        (Question::Symbols { .. }, Answer::Symbols(rows)) => symbols(out, format, rows),
        (Question::Events { .. }, Answer::Events(rows)) => events(out, format, rows),
        (Question::Universe { query, .. }, Answer::Universe(rows)) => {
            universe(out, format, query, rows)
        }
        (Question::UniversePanel { query, .. }, Answer::UniversePanel(rows)) => {
            universe_panel(out, format, query, rows)
        }
        (Question::Lives { .. }, Answer::Lives(rows)) => lives(out, format, rows),
        // `Database::answer` gives each question its own kind of answer.
        _ => Err(io::Error::other("an answer to another question")),
    }
}

fn snapshot(
    out: &mut impl Write,
    format: Format,
    (market, date, contract): (Market, NaiveDate, ContractFilter),
    rows: &[SnapshotRow],
) -> io::Result<()> {
    emit(out, format, rows, |out| {
        // A spot pair is neither a perpetual nor a delivery contract (the page says so too).
        let what = match market {
            Market::Spot => "pairs".to_string(),
            _ => format!("{} symbols", contract_name(contract)),
        };
        writeln!(out, "{} {what} with a file on {date}", rows.len())?;
        let mut t = table(&["symbol", "file size", "last modified (UTC)"], &[1]);
        for r in rows {
            t.add_row(vec![
                printable(&r.symbol).into_owned(),
                opt(r.file_size_bytes),
                opt(r.last_modified.map(|t| t.format("%Y-%m-%d %H:%M:%S"))),
            ]);
        }
        if !rows.is_empty() {
            writeln!(out, "{}", t.trim_fmt())?;
        }
        Ok(())
    })
}

fn timeline(
    out: &mut impl Write,
    format: Format,
    t: &Timeline,
    events: &[Event],
    trading: &[DailyTrading],
) -> io::Result<()> {
    emit(out, format, &t.days, |out| {
        let s = &t.symbol;
        let kind = format!(
            "{}{}{}",
            s.contract.as_str(),
            s.quote_asset
                .as_deref()
                .map(|q| format!(", quote {q}"))
                .unwrap_or_default(),
            if s.settled { ", settled" } else { "" }
        );
        writeln!(out, "{} ({kind})", printable(&s.symbol))?;
        writeln!(out, "  first day with a file  {}", opt(s.first_file_date))?;
        writeln!(out, "  last day with a file   {}", opt(s.last_file_date))?;
        writeln!(out, "  days available         {}", t.days_available())?;
        let checked = match (s.checked_from, s.checked_through) {
            (Some(f), Some(c)) => format!("{f} to {c}; later days not checked yet"),
            _ => "never listed completely (probed days only)".to_string(),
        };
        writeln!(out, "  checked                {checked}")?;
        let tradable = trading.iter().filter(|d| d.tradable()).count();
        let traded = match (
            trading.iter().find(|d| d.tradable()),
            trading.iter().rev().find(|d| d.tradable()),
        ) {
            (Some(first), Some(last)) => format!(
                "{tradable} of {} days with a 1d row, {} to {}",
                trading.len(),
                first.date,
                last.date
            ),
            _ if trading.is_empty() => "no 1d rows (trading not collected yet)".to_string(),
            _ => format!("none of {} days with a 1d row", trading.len()),
        };
        writeln!(out, "  days with trades       {traded}")?;
        for (i, e) in events.iter().enumerate() {
            let label = if i == 0 { "events" } else { "" };
            writeln!(
                out,
                "  {label:<22} {} {:<9} {}",
                e.date,
                e.kind.as_str(),
                printable(&e.detail)
            )?;
        }
        let gaps = t.gaps();
        if gaps.is_empty() {
            writeln!(out, "  gaps                   none")?;
        } else {
            for (i, Gap { from, to, kind }) in gaps.iter().enumerate() {
                let days = (*to - *from).num_days() + 1;
                let what = match kind {
                    GapKind::NoFile => "no file",
                    GapKind::NotChecked => "not checked",
                };
                let label = if i == 0 { "gaps" } else { "" };
                writeln!(
                    out,
                    "  {label:<22} {from} to {to} ({days} day{}, {what})",
                    if days == 1 { "" } else { "s" }
                )?;
            }
        }
        writeln!(out)?;
        let mut table = table(&["date", "available", "file size", "status"], &[2, 3]);
        for d in &t.days {
            table.add_row(vec![
                d.date.to_string(),
                if d.available {
                    "yes".into()
                } else {
                    "no".into()
                },
                opt(d.file_size_bytes),
                opt(d.status_code),
            ]);
        }
        if !t.days.is_empty() {
            writeln!(out, "{}", table.trim_fmt())?;
        }
        Ok(())
    })
}

fn range(
    out: &mut impl Write,
    format: Format,
    start: NaiveDate,
    end: NaiveDate,
    rows: &[RangeRow],
) -> io::Result<()> {
    emit(out, format, rows, |out| {
        writeln!(
            out,
            "{} symbols with a file between {start} and {end}",
            rows.len()
        )?;
        let mut t = table(&["symbol", "days", "first", "last"], &[1]);
        for r in rows {
            t.add_row(vec![
                printable(&r.symbol).into_owned(),
                r.days_available.to_string(),
                r.first_date.to_string(),
                r.last_date.to_string(),
            ]);
        }
        if !rows.is_empty() {
            writeln!(out, "{}", t.trim_fmt())?;
        }
        Ok(())
    })
}

fn summary(out: &mut impl Write, format: Format, rows: &[DayCount]) -> io::Result<()> {
    emit(out, format, rows, |out| {
        let mut t = table(
            &[
                "date",
                "perpetual",
                "delivery",
                "perpetual traded",
                "delivery traded",
            ],
            &[1, 2, 3, 4],
        );
        for r in rows {
            t.add_row(vec![
                r.date.to_string(),
                r.perpetual.to_string(),
                r.delivery.to_string(),
                r.perpetual_traded.to_string(),
                r.delivery_traded.to_string(),
            ]);
        }
        writeln!(out, "{}", t.trim_fmt())
    })
}

fn symbols(out: &mut impl Write, format: Format, rows: &[SymbolRecord]) -> io::Result<()> {
    emit(out, format, rows, |out| {
        writeln!(out, "{} symbol folders", rows.len())?;
        let mut t = table(
            &[
                "symbol",
                "contract",
                "quote",
                "first file",
                "last file",
                "checked through",
            ],
            &[],
        );
        for r in rows {
            t.add_row(vec![
                printable(&r.symbol).into_owned(),
                format!(
                    "{}{}",
                    r.contract.as_str(),
                    if r.settled { ", settled" } else { "" }
                ),
                opt(r.quote_asset.as_deref().map(printable)),
                opt(r.first_file_date),
                opt(r.last_file_date),
                opt(r.checked_through),
            ]);
        }
        if !rows.is_empty() {
            writeln!(out, "{}", t.trim_fmt())?;
        }
        Ok(())
    })
}

fn events(out: &mut impl Write, format: Format, rows: &[Event]) -> io::Result<()> {
    emit(out, format, rows, |out| {
        writeln!(out, "{} events", rows.len())?;
        let mut t = table(&["date", "symbol", "kind", "detail"], &[]);
        for e in rows {
            t.add_row(vec![
                e.date.to_string(),
                printable(&e.symbol).into_owned(),
                e.kind.as_str().to_string(),
                printable(&e.detail).into_owned(),
            ]);
        }
        if !rows.is_empty() {
            writeln!(out, "{}", t.trim_fmt())?;
        }
        Ok(())
    })
}

fn universe(
    out: &mut impl Write,
    format: Format,
    q: &UniverseQuery,
    rows: &[Member],
) -> io::Result<()> {
    emit(out, format, rows, |out| {
        let by = match q.by {
            RankBy::QuoteVolume => "mean quote volume",
            RankBy::Trades => "mean trades",
        };
        writeln!(
            out,
            "{} {} symbols tradable as of the start of {}, by {by} over the {} days before",
            rows.len(),
            contract_name(q.contracts),
            q.date,
            q.window
        )?;
        let mut t = table(
            &[
                "rank",
                "symbol",
                "mean quote volume",
                "days listed",
                "traded on the day",
            ],
            &[0, 2, 3],
        );
        for m in rows {
            t.add_row(vec![
                m.rank.to_string(),
                printable(&m.symbol).into_owned(),
                format!("{:.0}", m.mean_quote_volume),
                m.days_listed.to_string(),
                match m.traded_on_date {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "not checked".into(),
                },
            ]);
        }
        if !rows.is_empty() {
            writeln!(out, "{}", t.trim_fmt())?;
        }
        Ok(())
    })
}

/// `query timeline --with-events`: the folder, its days, its events and its 1d rows as one
/// JSON object (the array of days alone stays `--format json`'s answer).
pub(super) fn timeline_with_events(out: &mut impl Write, answer: &Answer) -> io::Result<()> {
    let Answer::Timeline {
        timeline,
        events,
        trading,
    } = answer
    else {
        return Err(io::Error::other("an answer to another question"));
    };
    #[derive(Serialize)]
    struct WithEvents<'a> {
        symbol: &'a SymbolRecord,
        days: &'a [crate::store::TimelineDay],
        events: &'a [Event],
        trading: &'a [DailyTrading],
    }
    json(
        out,
        &WithEvents {
            symbol: &timeline.symbol,
            days: &timeline.days,
            events,
            trading,
        },
    )
}

/// Whether a member traded on the day, in words.
fn traded_on_date(traded: Option<bool>) -> String {
    match traded {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "not checked".into(),
    }
}

fn universe_panel(
    out: &mut impl Write,
    format: Format,
    p: &PanelQuery,
    rows: &[PanelRow],
) -> io::Result<()> {
    emit(out, format, rows, |out| {
        let q = &p.universe;
        let by = match q.by {
            RankBy::QuoteVolume => "mean quote volume",
            RankBy::Trades => "mean trades",
        };
        writeln!(
            out,
            "{} members of the {} symbols tradable as of the start of each of {} rebalance \
             dates from {} to {} (every {}), by {by} over the {} days before each",
            rows.len(),
            contract_name(q.contracts),
            p.dates().len(),
            q.date,
            p.until,
            p.every,
            q.window
        )?;
        let mut t = table(
            &[
                "date",
                "rank",
                "symbol",
                "mean quote volume",
                "days listed",
                "traded on the day",
            ],
            &[1, 3, 4],
        );
        for m in rows {
            t.add_row(vec![
                m.date.to_string(),
                m.rank.to_string(),
                printable(&m.symbol).into_owned(),
                format!("{:.0}", m.mean_quote_volume),
                m.days_listed.to_string(),
                traded_on_date(m.traded_on_date),
            ]);
        }
        if !rows.is_empty() {
            writeln!(out, "{}", t.trim_fmt())?;
        }
        Ok(())
    })
}

fn lives(out: &mut impl Write, format: Format, rows: &[crate::store::LifeRow]) -> io::Result<()> {
    emit(out, format, rows, |out| {
        writeln!(out, "{} lives", rows.len())?;
        let mut t = table(
            &[
                "symbol",
                "life",
                "first file",
                "first trade",
                "last trade",
                "last file",
                "end",
                "gap before",
            ],
            &[1, 7],
        );
        for r in rows {
            t.add_row(vec![
                printable(&r.symbol).into_owned(),
                r.life.to_string(),
                r.first_file.to_string(),
                opt(r.first_trade),
                opt(r.last_trade),
                r.last_file.to_string(),
                r.end.map_or_else(|| "open".to_string(), |d| d.to_string()),
                opt(r.gap_days_before),
            ]);
        }
        if !rows.is_empty() {
            writeln!(out, "{}", t.trim_fmt())?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A streamed table is laid out exactly as a whole one: CJK names two columns a character,
    /// right-aligned numbers, a header narrower and wider than its cells, no trailing blanks.
    #[test]
    fn a_streamed_table_is_laid_out_as_a_whole_one() {
        let header = [
            "symbol",
            "period",
            "size",
            "last modified (UTC)",
            "CHECKSUM",
        ];
        let rows = [
            ["BTCUSDT", "2024-01", "9585", "2024-02-05 03:00:00", "yes"],
            ["币安人生USDT", "2024-01", "12", "2024-02-02 03:00:00", "no"],
            ["A", "2024-02", "1234567", "2024-03-03 03:00:00", "yes"],
        ];
        let mut whole = table(&header, &[2]);
        for r in &rows {
            whole.add_row(r.to_vec());
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|i| rows.iter().map(|r| display_width(r[i])).max().unwrap())
            .collect();
        let t = StreamTable::new(&header, &widths, &[2]);
        let mut streamed = Vec::new();
        t.line(&mut streamed, &header).unwrap();
        for r in &rows {
            t.line(&mut streamed, r).unwrap();
        }
        assert_eq!(
            String::from_utf8(streamed).unwrap(),
            format!("{}\n", whole.trim_fmt())
        );
    }

    /// A row type with a column of every kind, one of them named with a quote.
    struct EveryKind {
        text: String,
        shown: String,
        yes: bool,
        int: i64,
        float: f64,
        day: NaiveDate,
        time: chrono::DateTime<chrono::Utc>,
        empty: bool,
    }

    impl serde::Serialize for EveryKind {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            Mapped::new(self, |v| v).serialize(s)
        }
    }

    impl Row for EveryKind {
        const COLUMNS: &'static [crate::columns::Column<Self>] = {
            use crate::columns::{Cell as C, Column};
            &[
                Column::new("text", C::Text(|r| &r.text)),
                Column::new(
                    "opt_text",
                    C::OptText(|r| (!r.empty).then_some(&r.text[..])),
                ),
                Column::new("shown \"quoted\"", C::Shown(|r| &r.shown)),
                Column::new("bool", C::Bool(|r| r.yes)),
                Column::new("opt_bool", C::OptBool(|r| (!r.empty).then_some(r.yes))),
                Column::new(
                    "opt_int32",
                    C::OptInt32(|r| (!r.empty).then_some(r.int as i32)),
                ),
                Column::new("int64", C::Int64(|r| r.int)),
                Column::new("opt_int64", C::OptInt64(|r| (!r.empty).then_some(r.int))),
                Column::new("uint32", C::UInt32(|r| r.int as u32)),
                Column::new("uint64", C::UInt64(|r| r.int as u64)),
                Column::new("float64", C::Float64(|r| r.float)),
                Column::new(
                    "opt_float64",
                    C::OptFloat64(|r| (!r.empty).then_some(r.float)),
                ),
                Column::new("date", C::Date(|r| r.day)),
                Column::new("opt_date", C::OptDate(|r| (!r.empty).then_some(r.day))),
                Column::new("time", C::Time(|r| r.time)),
                Column::new("opt_time", C::OptTime(|r| (!r.empty).then_some(r.time))),
            ]
        };
    }

    /// A text of up to 12 characters, many of them ones JSON escapes or that are not ASCII.
    fn hostile_text() -> String {
        const CHARS: &[char] = &[
            'A', 'Z', '0', '"', '\\', '/', '\u{0}', '\u{8}', '\t', '\n', '\u{c}', '\r', '\u{1b}',
            '\u{1f}', ' ', '\u{7f}', 'é', '币', '\u{202e}', '\u{2028}', '😀',
        ];
        (0..fastrand::usize(0..=12))
            .map(|_| CHARS[fastrand::usize(..CHARS.len())])
            .collect()
    }

    /// Seconds from 1000-01-01 to 12000-01-01, half of them within Vision's years, a third of
    /// them with a fraction of a second.
    fn some_instant() -> chrono::DateTime<chrono::Utc> {
        let secs = if fastrand::bool() {
            fastrand::i64(1_500_000_000..1_900_000_000)
        } else {
            fastrand::i64(-30_610_224_000..316_224_000_000)
        };
        let nanos = if fastrand::u8(0..3) == 0 {
            fastrand::u32(1..1_000_000_000)
        } else {
            0
        };
        chrono::DateTime::from_timestamp(secs, nanos).unwrap()
    }

    /// The rows written without serde are serde_json's pretty text of them, byte for byte: every
    /// kind of column, texts that need escapes, every float serde_json writes its own way
    /// (`null` for NaN and infinities, exponents), instants whole and fractional, no rows and
    /// one row; and the snapshot rows `serve` writes most.
    #[test]
    fn rows_written_directly_are_serde_jsons_text() {
        fastrand::seed(29);
        let floats = [
            0.0,
            -0.0,
            0.1,
            1.0,
            -2.5,
            1e21,
            1e-7,
            123_456_789.123_456_79,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let ints = [
            0,
            1,
            -1,
            i64::MAX,
            i64::MIN,
            i64::from(i32::MAX) + 1,
            4_294_967_296,
        ];
        let every: Vec<EveryKind> = (0..2_000)
            .map(|i| EveryKind {
                text: hostile_text(),
                shown: hostile_text(),
                yes: fastrand::bool(),
                int: if i % 2 == 0 {
                    ints[i % ints.len()]
                } else {
                    fastrand::i64(..)
                },
                float: if i % 2 == 0 {
                    floats[i % floats.len()]
                } else {
                    f64::from_bits(fastrand::u64(..))
                },
                day: some_instant().date_naive(),
                time: some_instant(),
                empty: i % 3 == 0,
            })
            .collect();
        let snapshot: Vec<SnapshotRow> = (0..2_000)
            .map(|i| SnapshotRow {
                symbol: if i % 4 == 0 {
                    hostile_text()
                } else {
                    format!("S{i}USDT")
                },
                file_size_bytes: (i % 5 != 0).then(|| fastrand::i64(0..100_000)),
                last_modified: (i % 7 != 0).then(some_instant),
            })
            .collect();
        fn same<R: Row>(rows: &[R]) {
            for n in [0, 1, 2, rows.len()] {
                let (mut serde, mut direct) = (Vec::new(), Vec::new());
                json(&mut serde, &&rows[..n]).unwrap();
                json_rows(&mut direct, &rows[..n]).unwrap();
                if serde != direct {
                    let serde = String::from_utf8_lossy(&serde);
                    let direct = String::from_utf8_lossy(&direct);
                    let at = serde.lines().zip(direct.lines()).position(|(a, b)| a != b);
                    panic!(
                        "{n} rows differ at line {at:?}: {:?} against {:?}",
                        at.and_then(|i| serde.lines().nth(i)),
                        at.and_then(|i| direct.lines().nth(i))
                    );
                }
            }
        }
        same(&every);
        same(&snapshot);
    }

    /// JSON and CSV written a row at a time are the text the whole answer gives.
    #[test]
    fn rows_streamed_are_the_text_of_the_whole_answer() {
        let rows: Vec<crate::store::Stray> = ["=cmd", "data2/a.csv"]
            .iter()
            .map(|k| crate::store::Stray {
                key: k.to_string(),
                size: 3,
                last_modified: "2024-01-16T08:00:01Z".parse().unwrap(),
                reason: crate::store::StrayReason::OutsideData,
            })
            .collect();
        for n in 0..=rows.len() {
            let (mut whole, mut streamed) = (Vec::new(), Vec::new());
            json(&mut whole, &&rows[..n]).unwrap();
            let mut w = JsonRows::new(&mut streamed);
            for r in &rows[..n] {
                w.row(r).unwrap();
            }
            w.finish().unwrap();
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(whole).unwrap()
            );
        }
    }
}
