//! The operator's reports: `status`, `validate` and `scheduler status`, as labelled lines for
//! people or one JSON object.

use std::io::{self, Write};

use serde::Serialize;

use super::render::{ReportFormat, json, opt, printable};
use crate::schedule::State;
use crate::store::{CatalogStatus, CrawlRecord, DbStatus, RunRecord};
use crate::validate::{Integrity, Report, SLO_PERCENT, Slo};

/// Everything `status` shows.
#[derive(Debug, Serialize)]
pub struct StatusView {
    pub path: std::path::PathBuf,
    /// The market whose tables the rest describes (`--market`).
    pub market: &'static str,
    /// Every market the file keeps current (its run log's; what a plain `update` collects).
    pub markets: Vec<&'static str>,
    /// The first day a question about `market` may name (`Market::first_day`): the page's
    /// day picker starts there.
    pub first_day: chrono::NaiveDate,
    pub size_bytes: u64,
    /// Not every folder checked through the day before yesterday.
    pub stale: bool,
    /// The last day Vision published, when the last successful update found nothing in any
    /// folder for more than two days after it (an outage of the bucket); `null` otherwise.
    pub published_nothing_after: Option<chrono::NaiveDate>,
    /// Who is writing now, if anyone (queries see the state before that run).
    pub writer: Option<String>,
    /// The running scheduler's pid file (`null` when none runs or it cannot be read).
    #[serde(serialize_with = "running_info")]
    pub scheduler: State,
    #[serde(flatten)]
    pub contents: DbStatus,
    /// The catalog beside the database (`status` only; `serve` leaves it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogView>,
}

/// What `status` shows of the catalog.
#[derive(Debug, Serialize)]
pub struct CatalogView {
    pub path: std::path::PathBuf,
    /// Whether there is a file at `path`.
    pub built: bool,
    pub size_bytes: Option<u64>,
    /// Who is writing it now (a `catalog update`), if anyone.
    pub writer: Option<String>,
    /// Why it could not be read, when there is a file.
    pub error: Option<String>,
    #[serde(flatten)]
    pub contents: Option<CatalogStatus>,
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
    [last_label, good_label]: [&str; 2],
    last: Option<&RunRecord>,
    last_good_update: Option<&RunRecord>,
) -> io::Result<()> {
    writeln!(
        out,
        "{last_label:<18}{}",
        last.map_or("none".into(), run_line)
    )?;
    if last_good_update != last {
        writeln!(
            out,
            "{good_label:<18}{}",
            last_good_update.map_or("none".into(), run_line)
        )?;
    }
    Ok(())
}

/// The labels of the runs of a file of one market.
const RUN_LABELS: [&str; 2] = ["last run", "last good update"];

/// `runs` of one of several markets, each label naming it.
fn market_runs(out: &mut impl Write, m: &MarketRuns) -> io::Result<()> {
    runs(
        out,
        [
            &format!("last run, {}", m.market),
            &format!("last good, {}", m.market),
        ],
        m.last_run.as_ref(),
        m.last_successful_update.as_ref(),
    )
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
    let others: Vec<&str> = v
        .markets
        .iter()
        .copied()
        .filter(|m| *m != v.market)
        .collect();
    match others.first() {
        None => writeln!(out, "market            {}", v.market)?,
        Some(other) => writeln!(
            out,
            "market            {} (the file also keeps {}: `status --market {other}`)",
            v.market,
            others.join(", ")
        )?,
    }
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
        c.coverage.map_or("no file yet".into(), |c| format!(
            "{} to {}",
            c.first(),
            c.last()
        ))
    )?;
    match c.checked_through {
        Some(day) => writeln!(
            out,
            "complete through  {day} (every folder checked through this day)"
        )?,
        None if c.never_checked > 0 => writeln!(
            out,
            "complete through  no day: {} of {} folders never checked (a run was stopped before \
             reaching them; `update` finishes it)",
            c.never_checked, c.symbols.total
        )?,
        None => writeln!(out, "complete through  no day yet")?,
    }
    if let Some((day, n)) = c.recent_counts.last() {
        writeln!(out, "latest day        {day}: {n} symbols with a file")?;
    }
    let t = &c.trading;
    if t.rows == 0 {
        writeln!(
            out,
            "trading           none yet (the next `update` reads the 1d klines files)"
        )?;
    } else {
        writeln!(
            out,
            "trading           {} days ({} with trades) from {} 1d files, through {}; {} \
             disagreement(s) between monthly and daily files",
            t.rows,
            t.tradable_rows,
            t.files,
            opt(t.latest_day),
            t.disagreements
        )?;
        if t.missing_days > 0 {
            writeln!(
                out,
                "trading missing   {} day(s) with a 1m file and no 1d row (the next run reads them)",
                t.missing_days
            )?;
        }
    }
    runs(
        out,
        RUN_LABELS,
        c.last_run.as_ref(),
        c.last_successful_update.as_ref(),
    )?;
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
    if let Some(c) = &v.catalog {
        catalog(out, c)?;
    }
    if let Some(after) = v.published_nothing_after {
        writeln!(
            out,
            "warning           Vision has published nothing after {after}: the days after it \
             are not checked yet, and every update lists them again until it catches up"
        )?;
    } else if v.stale {
        writeln!(
            out,
            "warning           stale: expected every folder checked through at least {}",
            crate::schedule::fresh_through(chrono::Utc::now())
        )?;
    }
    Ok(())
}

/// A crawl; `writing` when a `catalog update` holds the catalog's lock now (a crawl logged
/// `running` without one was killed).
fn crawl_line(r: &CrawlRecord, writing: bool) -> String {
    let took = r
        .finished
        .map(|f| format!(" in {:.1} s", (f - r.started).as_seconds_f64()))
        .unwrap_or_default();
    let error = r
        .error
        .as_deref()
        .map(|e| format!("\n{:<18}{e}", ""))
        .unwrap_or_default();
    let status = match r.status.as_str() {
        "running" if !writing => "stopped without finishing (the next `catalog update` resumes it)",
        s => s,
    };
    format!(
        "{status}, started {}{took}: {} folders, {} files, {} strays, {} requests{error}",
        r.started.format("%Y-%m-%d %H:%M:%S UTC"),
        r.folders,
        r.files,
        r.strays,
        r.requests
    )
}

/// The catalog's lines of `status`.
fn catalog(out: &mut impl Write, v: &CatalogView) -> io::Result<()> {
    if !v.built {
        return writeln!(
            out,
            "catalog           none at {} (build it with `binance-futures-availability catalog \
             update`)",
            v.path.display()
        );
    }
    let size = v.size_bytes.map(|b| format!(", {}", megabytes(b)));
    writeln!(
        out,
        "catalog           {}{}",
        v.path.display(),
        size.unwrap_or_default()
    )?;
    if let Some(e) = &v.error {
        writeln!(out, "catalog unread    {e}")?;
    }
    if let Some(c) = &v.contents {
        writeln!(
            out,
            "catalog files     {} in {} datasets, {} symbol folders: {} bytes ({} without a \
             CHECKSUM)",
            c.files, c.datasets, c.leaves, c.bytes, c.missing_checksums
        )?;
        writeln!(
            out,
            "catalog strays    {} keys outside the layout",
            c.strays
        )?;
        writeln!(
            out,
            "catalog changes   {} ({} added, {} replaced, {} removed)",
            c.changes.total(),
            c.changes.added,
            c.changes.replaced,
            c.changes.removed
        )?;
        if c.folders_never_listed > 0 {
            writeln!(
                out,
                "catalog folders   {} ({} never listed whole: a crawl stopped before them; \
                 `catalog update` lists them)",
                c.folders, c.folders_never_listed
            )?;
        } else {
            writeln!(
                out,
                "catalog folders   {} (every one listed whole)",
                c.folders
            )?;
        }
        writeln!(
            out,
            "last crawl        {}",
            c.last_crawl
                .as_ref()
                .map_or("none".into(), |r| crawl_line(r, v.writer.is_some()))
        )?;
        if let Some(ok) = &c.last_finished_crawl {
            writeln!(out, "last good crawl   {}", crawl_line(ok, false))?;
        }
    }
    if let Some(w) = &v.writer {
        writeln!(
            out,
            "crawling now      {w}; the catalog's readers see the state before it"
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
    match &r.integrity {
        Integrity::Read { tables } => writeln!(
            out,
            "ok   integrity: every block of {tables} tables read back, checksums match"
        )?,
        Integrity::Damaged { error } => {
            writeln!(out, "FAIL integrity: {}", printable(error))?;
            return writeln!(
                out,
                "skip the other checks: they would read the same damaged blocks"
            );
        }
    }
    writeln!(
        out,
        "{} uniqueness: {} day(s) of a symbol stored more than once",
        mark(r.duplicates.is_empty()),
        r.duplicates.len()
    )?;
    for d in &r.duplicates {
        writeln!(
            out,
            "       {} on {}: {} rows",
            printable(&d.symbol),
            d.date,
            d.rows
        )?;
    }
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
        "{} trading: {} run(s) of days where 1d rows and 1m files disagree",
        mark(r.trading_mismatches.is_empty()),
        r.trading_mismatches.len()
    )?;
    for m in r.trading_mismatches.iter().take(20) {
        writeln!(
            out,
            "       {} {} to {}: {}",
            printable(&m.symbol),
            m.from,
            m.to,
            match m.kind {
                crate::validate::MismatchKind::TradesWithoutFile => "trades but no 1m file",
                crate::validate::MismatchKind::FileWithoutTrading =>
                    "a 1m file but no 1d row (the next run reads it)",
            }
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
        Slo::Unavailable { error } => writeln!(out, "FAIL exchangeInfo: {}", printable(error))?,
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
    /// The newest run of any market the file keeps.
    pub last_run: Option<RunRecord>,
    /// The newest successful `update` of any market the file keeps; `markets` says which one
    /// lags.
    pub last_successful_update: Option<RunRecord>,
    /// Each market the file keeps (what the scheduler collects), with its own runs.
    pub markets: Vec<MarketRuns>,
}

/// One kept market's runs in `scheduler status`.
#[derive(Debug, Serialize)]
pub struct MarketRuns {
    pub market: &'static str,
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
    match v.markets.as_slice() {
        // A file of several markets: each one's runs, so a lagging market shows.
        [_, _, ..] => {
            for m in &v.markets {
                market_runs(out, m)?;
            }
        }
        _ => runs(
            out,
            RUN_LABELS,
            v.last_run.as_ref(),
            v.last_successful_update.as_ref(),
        )?,
    }
    if let Some(next) = v.next_run {
        writeln!(
            out,
            "next run          {}",
            next.format("%Y-%m-%d %H:%M UTC")
        )?;
    }
    Ok(())
}
