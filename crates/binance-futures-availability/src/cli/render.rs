//! Output rendering: a readable table by default, JSON and CSV for programs.

use std::io::{self, Write};

use chrono::NaiveDate;
use comfy_table::{Cell, CellAlignment, Table, presets};
use serde::Serialize;

use crate::facts::ContractFilter;
use crate::schedule::State;
use crate::store::{DayCount, DbStatus, Gap, GapKind, RangeRow, RunRecord, SnapshotRow, Timeline};
use crate::validate::{Report, SLO_PERCENT, Slo};

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
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

fn json<T: Serialize>(out: &mut impl Write, rows: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, rows)?;
    writeln!(out)
}

/// A row as it goes into CSV: text that a spreadsheet would run as a formula is neutralised.
trait CsvRow: Serialize + Sized {
    fn csv_safe(&self) -> std::borrow::Cow<'_, Self>
    where
        Self: Clone,
    {
        std::borrow::Cow::Borrowed(self)
    }
}

impl CsvRow for crate::store::TimelineDay {}
impl CsvRow for DayCount {}
/// The rows whose `symbol` text may come from a file from elsewhere.
macro_rules! csv_row_with_symbol {
    ($($row:ty),*) => {$(
        impl CsvRow for $row {
            fn csv_safe(&self) -> std::borrow::Cow<'_, Self> {
                match csv_cell(&self.symbol) {
                    std::borrow::Cow::Borrowed(_) => std::borrow::Cow::Borrowed(self),
                    std::borrow::Cow::Owned(symbol) => {
                        std::borrow::Cow::Owned(Self { symbol, ..self.clone() })
                    }
                }
            }
        }
    )*};
}
csv_row_with_symbol!(SnapshotRow, RangeRow);

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

fn csv<T: CsvRow + Clone>(out: &mut impl Write, rows: &[T]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for row in rows {
        w.serialize(row.csv_safe().as_ref()).map_err(csv_io)?;
    }
    w.flush()
}

/// Keeps the kind of an I/O error inside a CSV error, so a closed pipe stays a closed pipe.
fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// JSON and CSV straight from the rows; the table from `table`.
fn emit<T: CsvRow + Clone, W: Write>(
    out: &mut W,
    format: Format,
    rows: &[T],
    table: impl FnOnce(&mut W) -> io::Result<()>,
) -> io::Result<()> {
    match format {
        Format::Json => json(out, &rows),
        Format::Csv => csv(out, rows),
        Format::Table => table(out),
    }
}

fn table(header: &[&str], right: &[usize]) -> Table {
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

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

fn contract_name(c: ContractFilter) -> &'static str {
    match c {
        ContractFilter::Perpetual => "perpetual",
        ContractFilter::Delivery => "delivery",
        ContractFilter::All => "perpetual and delivery",
    }
}

pub fn snapshot(
    out: &mut impl Write,
    format: Format,
    date: NaiveDate,
    contract: ContractFilter,
    rows: &[SnapshotRow],
) -> io::Result<()> {
    emit(out, format, rows, |out| {
        writeln!(
            out,
            "{} {} symbols with a file on {date}",
            rows.len(),
            contract_name(contract)
        )?;
        let mut t = table(&["symbol", "file size", "last modified (UTC)"], &[1]);
        for r in rows {
            t.add_row(vec![
                printable(&r.symbol).into_owned(),
                opt(r.file_size_bytes),
                opt(r.last_modified.map(|t| t.format("%Y-%m-%d %H:%M:%S"))),
            ]);
        }
        if !rows.is_empty() {
            writeln!(out, "{t}")?;
        }
        Ok(())
    })
}

pub fn timeline(out: &mut impl Write, format: Format, t: &Timeline) -> io::Result<()> {
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
            writeln!(out, "{table}")?;
        }
        Ok(())
    })
}

pub fn range(
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
            writeln!(out, "{t}")?;
        }
        Ok(())
    })
}

pub fn summary(out: &mut impl Write, format: Format, rows: &[DayCount]) -> io::Result<()> {
    emit(out, format, rows, |out| {
        let mut t = table(&["date", "perpetual", "delivery"], &[1, 2]);
        for r in rows {
            t.add_row(vec![
                r.date.to_string(),
                r.perpetual.to_string(),
                r.delivery.to_string(),
            ]);
        }
        writeln!(out, "{t}")
    })
}

/// Everything `status` shows.
#[derive(Debug, Serialize)]
pub struct StatusView {
    pub path: std::path::PathBuf,
    pub size_bytes: u64,
    /// Not every folder checked through the day before yesterday.
    pub stale: bool,
    /// Who is writing now, if anyone (queries see the state before that run).
    pub writer: Option<String>,
    /// The running scheduler's pid file (`null` when none runs or it cannot be read).
    #[serde(serialize_with = "running_info")]
    pub scheduler: State,
    #[serde(flatten)]
    pub contents: DbStatus,
}

fn running_info<S: serde::Serializer>(state: &State, s: S) -> Result<S::Ok, S::Error> {
    state.info().serialize(s)
}

fn run_line(r: &RunRecord) -> String {
    let took = r
        .finished_at
        .map(|f| format!(" in {:.1} s", (f - r.started_at).as_seconds_f64()))
        .unwrap_or_default();
    let through = r
        .end_date
        .map(|d| format!(" through {d}"))
        .unwrap_or_default();
    let counts = match (r.symbols, r.requests, r.rows_written) {
        (Some(s), Some(q), Some(w)) => format!(": {s} symbols, {q} requests, {w} rows written"),
        _ => String::new(),
    };
    let error = r
        .error
        .as_deref()
        .map(|e| format!("\n{:<18}{e}", ""))
        .unwrap_or_default();
    format!(
        "{} {}{through}, started {}{took}{counts}{error}",
        r.kind,
        r.status,
        r.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// The last run, and the last successful update when that is another run.
fn runs(
    out: &mut impl Write,
    last: Option<&RunRecord>,
    last_good_update: Option<&RunRecord>,
) -> io::Result<()> {
    writeln!(
        out,
        "last run          {}",
        last.map_or("none".into(), run_line)
    )?;
    if last_good_update != last {
        writeln!(
            out,
            "last good update  {}",
            last_good_update.map_or("none".into(), run_line)
        )?;
    }
    Ok(())
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

pub fn status(out: &mut impl Write, format: ReportFormat, v: &StatusView) -> io::Result<()> {
    if format == ReportFormat::Json {
        return json(out, v);
    }
    let c = &v.contents;
    writeln!(out, "database          {}", v.path.display())?;
    writeln!(out, "size              {}", megabytes(v.size_bytes))?;
    writeln!(out, "schema version    {}", c.schema_version)?;
    writeln!(
        out,
        "rows              {} ({} files, {} verified absences)",
        c.rows,
        c.available_rows,
        c.rows - c.available_rows
    )?;
    writeln!(
        out,
        "symbols           {} ({} perpetual, {} delivery; {} settled)",
        c.symbols.total, c.symbols.perpetual, c.symbols.delivery, c.symbols.settled
    )?;
    writeln!(
        out,
        "files from        {}",
        c.coverage
            .map_or("no file yet".into(), |(a, b)| format!("{a} to {b}"))
    )?;
    writeln!(
        out,
        "complete through  {} (every folder checked through this day)",
        opt(c.checked_through)
    )?;
    if let Some((day, n)) = c.recent_counts.last() {
        writeln!(out, "latest day        {day}: {n} symbols with a file")?;
    }
    runs(out, c.last_run.as_ref(), c.last_successful_update.as_ref())?;
    if let Some(w) = &v.writer {
        writeln!(
            out,
            "writing now       {w}; queries see the state before it"
        )?;
    }
    writeln!(
        out,
        "scheduler         {}",
        match &v.scheduler {
            State::Running(Some(i)) => format!("running (pid {}, daily at {} UTC)", i.pid, i.at),
            State::Running(None) => "running".into(),
            State::Stale { .. } | State::NotRunning => "not running".into(),
        }
    )?;
    if v.stale {
        writeln!(
            out,
            "warning           stale: expected every folder checked through at least {}",
            crate::schedule::fresh_through(chrono::Utc::now())
        )?;
    }
    Ok(())
}

pub fn validation(out: &mut impl Write, format: ReportFormat, r: &Report) -> io::Result<()> {
    if format == ReportFormat::Json {
        #[derive(Serialize)]
        struct WithVerdict<'a> {
            passed: bool,
            #[serde(flatten)]
            report: &'a Report,
        }
        return json(
            out,
            &WithVerdict {
                passed: r.passed(),
                report: r,
            },
        );
    }
    let mark = |ok: bool| if ok { "ok  " } else { "FAIL" };
    writeln!(
        out,
        "{} continuity: {} empty day(s), {} unchecked run(s) inside symbols' lives",
        mark(r.empty_days.is_empty() && r.unchecked.is_empty()),
        r.empty_days.len(),
        r.unchecked.len()
    )?;
    for d in r.empty_days.iter().take(20) {
        writeln!(out, "       no file at all on {d}")?;
    }
    for u in r.unchecked.iter().take(20) {
        writeln!(
            out,
            "       {} not checked {} to {}",
            printable(&u.symbol),
            u.from,
            u.to
        )?;
    }
    writeln!(
        out,
        "{} completeness: {} day(s) with a sharp drop",
        mark(r.drops.is_empty()),
        r.drops.len()
    )?;
    for d in r.drops.iter().take(20) {
        writeln!(
            out,
            "       {}: {} symbols, neighbours {}",
            d.date, d.symbols, d.neighbours_median
        )?;
    }
    match &r.slo {
        Slo::Skipped { reason } => writeln!(out, "skip exchangeInfo: {reason}")?,
        Slo::NothingCompared {
            day,
            exchange_quotes,
            vision_quotes,
        } => writeln!(
            out,
            "FAIL exchangeInfo: nothing to compare on {day}: its trading perpetuals are quoted in \
             [{}], the database's in [{}]; is --exchange-info the USD-M futures exchangeInfo?",
            printable(&exchange_quotes.join(", ")),
            vision_quotes.join(", ")
        )?,
        Slo::Compared {
            day,
            quote_assets,
            matched,
            only_exchange,
            only_vision,
            percent,
        } => {
            writeln!(
                out,
                "{} exchangeInfo: {percent:.1}% match on {day} ({matched} agree; quote assets {}; \
                 goal {SLO_PERCENT}%)",
                mark(*percent >= SLO_PERCENT),
                quote_assets.join(", ")
            )?;
            writeln!(
                out,
                "       trading in exchangeInfo, no file on {day} ({}): {}",
                only_exchange.len(),
                printable(&only_exchange.join(" "))
            )?;
            writeln!(
                out,
                "       file on {day}, not trading in exchangeInfo ({}): {}",
                only_vision.len(),
                printable(&only_vision.join(" "))
            )?;
        }
    }
    Ok(())
}

/// Everything `scheduler status` shows.
#[derive(Debug, Serialize)]
pub struct SchedulerView {
    #[serde(flatten)]
    pub state: State,
    pub next_run: Option<chrono::DateTime<chrono::Utc>>,
    pub writer: Option<String>,
    pub last_run: Option<RunRecord>,
    pub last_successful_update: Option<RunRecord>,
}

pub fn scheduler(out: &mut impl Write, format: ReportFormat, v: &SchedulerView) -> io::Result<()> {
    if format == ReportFormat::Json {
        return json(out, v);
    }
    match &v.state {
        State::Running(Some(i)) => {
            writeln!(out, "scheduler         running, pid {}", i.pid)?;
            writeln!(
                out,
                "since             {}",
                i.started_at.format("%Y-%m-%d %H:%M:%S UTC")
            )?;
            writeln!(out, "daily at          {} UTC", i.at)?;
            if let Some(log) = &i.log {
                writeln!(out, "log               {}", log.display())?;
            }
        }
        State::Running(None) => writeln!(out, "scheduler         running (pid unreadable)")?,
        State::Stale { .. } | State::NotRunning => writeln!(out, "scheduler         not running")?,
    }
    if let State::Stale { pid, removed: true } = v.state {
        writeln!(
            out,
            "                  (removed a stale pid file of pid {})",
            opt(pid)
        )?;
    }
    if let State::Stale {
        pid,
        removed: false,
    } = v.state
    {
        writeln!(
            out,
            "                  (a stale pid file of pid {} is left: this user may not remove \
             it; the next scheduler replaces it)",
            opt(pid)
        )?;
    }
    if let Some(w) = &v.writer {
        writeln!(out, "writing now       {w}")?;
    }
    runs(out, v.last_run.as_ref(), v.last_successful_update.as_ref())?;
    if let Some(next) = v.next_run {
        writeln!(
            out,
            "next run          {}",
            next.format("%Y-%m-%d %H:%M UTC")
        )?;
    }
    Ok(())
}
