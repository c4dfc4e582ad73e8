//! Turns a goal (backfill, update, probe) into a plan of requests, runs it with bounded
//! concurrency, and hands what was observed to `store` in transactional batches.
//!
//! Listing plan: a symbol's window is listed from its first day with `start-after`; when that
//! first page is truncated, the rest of the window is split into 500-day chunks (1000 keys: a
//! `.zip` and its `.CHECKSUM` per day) listed in parallel, so a symbol costs the minimum
//! ⌈keys/1000⌉ pages without waiting for them one after another.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::facts::{ARCHIVE_START, FileFact, TRADING_START};
use crate::store::{
    AvailabilityRow, Batch, Database, RunOutcome, StoreError, SymbolRecord, SymbolUpdate,
    WriteSession,
};
use crate::vision::{self, VisionClient, VisionError};

/// Days per parallel listing chunk: two keys a day fill one 1000-key page.
const CHUNK_DAYS: i64 = 500;

/// Pages a listing of `days` days may take before it is abandoned: the two keys a day need
/// ⌈days/500⌉ pages; four keys a day and two more pages leave room for stray files.
fn max_pages(days: i64) -> u32 {
    u32::try_from(2 + days.max(0) / 250).unwrap_or(u32::MAX)
}

/// What to collect.
#[derive(Debug, Clone)]
pub enum Goal {
    /// List every (or the given) symbol folder over `[start, end]`.
    Backfill {
        start: NaiveDate,
        end: NaiveDate,
        symbols: Option<Vec<String>>,
    },
    /// Bring every folder to `end`: new folders get their whole history; known ones are listed
    /// from the day after their last checked day, and the last `lookback` days again.
    Update { end: NaiveDate, lookback: u32 },
    /// HEAD one day's file of every known (or the given) symbol.
    Probe {
        date: NaiveDate,
        symbols: Option<Vec<String>>,
    },
}

impl Goal {
    fn kind(&self) -> &'static str {
        match self {
            Goal::Backfill { .. } => "backfill",
            Goal::Update { .. } => "update",
            Goal::Probe { .. } => "probe",
        }
    }
}

/// How to run a collection.
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests in flight at most.
    pub concurrency: usize,
    /// A transaction commits after this many symbols or `batch_rows` rows, whichever comes
    /// first: larger batches write faster, smaller ones lose less to a kill.
    pub batch_symbols: usize,
    pub batch_rows: usize,
    /// Stop early when more than this share of requests failed (after `breaker_min_requests`).
    pub max_error_rate: f64,
    pub breaker_min_requests: u64,
    pub progress: Progress,
    /// Cancelled (e.g. on SIGTERM): start no new request, let in-flight ones finish, commit
    /// what was gathered, publish, and end the run as `interrupted`.
    pub cancel: CancellationToken,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 64,
            batch_symbols: 250,
            batch_rows: 50_000,
            max_error_rate: 0.05,
            breaker_min_requests: 40,
            progress: Progress::Quiet,
            cancel: CancellationToken::new(),
        }
    }
}

/// How progress is shown on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar with counts, rate and ETA (for a terminal).
    Bar,
    /// A plain line per tenth of the work (for logs).
    Log,
    Quiet,
}

/// What a finished run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub kind: &'static str,
    pub symbols: u64,
    pub files: u64,
    pub requests: u64,
    pub retries: u64,
    pub rows_written: u64,
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} symbols, {} files seen, {} requests ({} retries), {} rows written in {:.1} s",
            self.kind,
            self.symbols,
            self.files,
            self.requests,
            self.retries,
            self.rows_written,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Why a collection did not complete. What succeeded before it is committed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("interrupted: {summary}. What was collected is committed; run again to finish")]
    Interrupted { summary: Box<Summary> },
    #[error("a collection task failed unexpectedly: {0}")]
    Task(String),
    /// The HTTP client could not be set up (a malformed endpoint URL, no TLS roots).
    #[error(transparent)]
    Client(VisionError),
    #[error("could not list the symbol folders: {0}")]
    Discover(VisionError),
    #[error("unknown symbol folder(s) {}: not in the bucket's listing", .0.join(", "))]
    UnknownSymbols(Vec<String>),
    #[error(transparent)]
    BadSymbol(#[from] vision::BadSymbol),
    /// The window ends after the bucket's today: this machine's clock is ahead, and what it
    /// would record as checked could not have been.
    #[error(
        "the run would check through {end}, but the bucket's clock says today is {server_today}; \
         this machine's clock is ahead (fix it, e.g. with NTP), so nothing was collected"
    )]
    ClockAhead {
        end: NaiveDate,
        server_today: NaiveDate,
    },
    #[error(
        "{} symbol(s) failed ({}); first: {}: {}. {summary}. Everything else is committed; run again to finish",
        failures.len(), failures.iter().map(|f| f.0.as_str()).collect::<Vec<_>>().join(", "), failures[0].0, failures[0].1
    )]
    Symbols {
        failures: Vec<(String, VisionError)>,
        summary: Box<Summary>,
    },
    #[error(
        "stopped early: {failed} of {requests} requests failed, over the {threshold}% limit; first: {}: {}. \
         {summary}. What succeeded is committed; run again to finish",
        failures[0].0, failures[0].1
    )]
    CircuitOpen {
        failed: usize,
        requests: u64,
        threshold: f64,
        failures: Vec<(String, VisionError)>,
        summary: Box<Summary>,
    },
}

impl CollectError {
    /// Bad input (exit 2) rather than a runtime failure (exit 1).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            CollectError::UnknownSymbols(_) | CollectError::BadSymbol(_)
        )
    }
}

/// One symbol's listing: the window to cover.
#[derive(Debug, Clone)]
struct Task {
    symbol: String,
    from: NaiveDate,
    to: NaiveDate,
}

enum Failure {
    Vision(VisionError),
    Cancelled,
}

/// Runs `goal` against the bucket and the database at `db_path`, holding the writer lock.
pub async fn run(
    db_path: &Path,
    client: &VisionClient,
    goal: &Goal,
    opts: &Options,
) -> Result<Summary, CollectError> {
    let mut session = WriteSession::begin(db_path, goal.kind())?;
    let db = session.db();
    let range = match goal {
        Goal::Backfill { start, end, .. } => Some((*start, *end)),
        Goal::Update { end, .. } => Some((*end, *end)),
        Goal::Probe { date, .. } => Some((*date, *date)),
    };
    let run = db.begin_run(goal.kind(), range)?;
    let started = Instant::now();
    let mut state = RunState {
        summary: Summary {
            kind: goal.kind(),
            ..Summary::default()
        },
        failures: Vec::new(),
    };
    let result = execute(db, client, goal, opts, &mut state).await;
    let stats = client.stats();
    state.summary.requests = stats.requests.load(Ordering::Relaxed);
    state.summary.retries = stats.retries.load(Ordering::Relaxed);
    state.summary.elapsed = started.elapsed();
    let result = match result {
        Ok(()) if opts.cancel.is_cancelled() => Err(CollectError::Interrupted {
            summary: Box::new(state.summary.clone()),
        }),
        Ok(()) if state.failures.is_empty() => Ok(state.summary.clone()),
        Ok(()) => Err(CollectError::Symbols {
            failures: std::mem::take(&mut state.failures),
            summary: Box::new(state.summary.clone()),
        }),
        Err(Stop::Breaker) => Err(CollectError::CircuitOpen {
            failed: state.failures.len(),
            requests: state.summary.requests,
            threshold: opts.max_error_rate * 100.0,
            failures: std::mem::take(&mut state.failures),
            summary: Box::new(state.summary.clone()),
        }),
        Err(Stop::Error(e)) => Err(e),
    };
    let outcome = RunOutcome {
        ok: result.is_ok(),
        interrupted: matches!(result, Err(CollectError::Interrupted { .. })),
        symbols: state.summary.symbols,
        requests: state.summary.requests,
        rows_written: state.summary.rows_written,
        error: result.as_ref().err().map(|e| e.to_string()),
    };
    db.finish_run(run, &outcome)?;
    session.publish()?;
    result
}

struct RunState {
    summary: Summary,
    failures: Vec<(String, VisionError)>,
}

enum Stop {
    Breaker,
    Error(CollectError),
}

impl From<CollectError> for Stop {
    fn from(e: CollectError) -> Self {
        Stop::Error(e)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Error(e.into())
    }
}

async fn execute(
    db: &mut Database,
    client: &VisionClient,
    goal: &Goal,
    opts: &Options,
    state: &mut RunState,
) -> Result<(), Stop> {
    let priors: HashMap<String, SymbolRecord> = db
        .symbols()?
        .into_iter()
        .map(|s| (s.symbol.clone(), s))
        .collect();
    // A signal ends discovery too, not only the listing of folders after it.
    let client = &client.with_cancel(opts.cancel.clone());
    let tasks = match goal {
        Goal::Backfill {
            start,
            end,
            symbols,
        } => {
            let Some(folders) = discover(client).await? else {
                return Ok(());
            };
            check_clock(client, *end)?;
            let chosen = choose(&folders, symbols.as_deref())?;
            chosen
                .into_iter()
                .map(|symbol| Task {
                    symbol,
                    from: *start,
                    to: *end,
                })
                .collect()
        }
        Goal::Update { end, lookback } => {
            let Some(mut folders) = discover(client).await? else {
                return Ok(());
            };
            check_clock(client, *end)?;
            // Folders never disappear from the bucket, but a symbol known here and missing from
            // the listing is still checked rather than silently dropped.
            let listed: std::collections::HashSet<String> = folders.iter().cloned().collect();
            folders.extend(priors.keys().filter(|k| !listed.contains(*k)).cloned());
            update_plan(&folders, &priors, *end, *lookback)
        }
        Goal::Probe { date, symbols } => {
            return probe(db, client, *date, symbols.as_deref(), &priors, opts, state).await;
        }
    };
    list_all(db, client, tasks, &priors, opts, state).await
}

/// Every symbol folder, or `None` when the run was stopped while listing them.
async fn discover(client: &VisionClient) -> Result<Option<Vec<String>>, Stop> {
    match client.discover_symbols().await {
        Ok(folders) => Ok(Some(folders)),
        Err(e) if e.is_cancelled() => Ok(None),
        Err(e) => Err(CollectError::Discover(e).into()),
    }
}

/// Refuses a window that ends after the bucket's own today (from its `Date` header): a clock
/// that jumped ahead would otherwise record future days as checked, for good.
fn check_clock(client: &VisionClient, end: NaiveDate) -> Result<(), CollectError> {
    match client.server_date() {
        Some(server_today) if end > server_today => {
            Err(CollectError::ClockAhead { end, server_today })
        }
        _ => Ok(()),
    }
}

/// The requested symbols, by their bucket spelling (case-insensitive match allowed), each once
/// however often it was named (`BTCUSDT,btcusdt` is one symbol).
fn choose(folders: &[String], wanted: Option<&[String]>) -> Result<Vec<String>, CollectError> {
    let Some(wanted) = wanted else {
        return Ok(folders.to_vec());
    };
    let mut chosen: Vec<String> = Vec::new();
    let mut unknown = Vec::new();
    for w in wanted {
        vision::check_symbol(w)?;
        match folders.iter().find(|f| *f == w).or_else(|| {
            folders
                .iter()
                .find(|f| f.to_lowercase() == w.to_lowercase())
        }) {
            Some(f) if chosen.contains(f) => {}
            Some(f) => chosen.push(f.clone()),
            None => unknown.push(w.clone()),
        }
    }
    if unknown.is_empty() {
        Ok(chosen)
    } else {
        Err(CollectError::UnknownSymbols(unknown))
    }
}

/// Windows for `update`: whole history for new folders; for known ones, from the day after the
/// last checked day or the start of the lookback, whichever is earlier.
fn update_plan(
    folders: &[String],
    priors: &HashMap<String, SymbolRecord>,
    end: NaiveDate,
    lookback: u32,
) -> Vec<Task> {
    // The first day of the lookback window; with no lookback, nothing before the unchecked days;
    // never before trading began, however long the lookback.
    let lookback_start = (end + chrono::Duration::days(1)
        - chrono::Duration::days(i64::from(lookback)))
    .max(TRADING_START);
    folders
        .iter()
        .filter_map(|symbol| {
            let from = match priors.get(symbol).and_then(|p| p.checked_through) {
                Some(checked) => (checked + chrono::Duration::days(1)).min(lookback_start),
                None => TRADING_START,
            };
            (from <= end).then(|| Task {
                symbol: symbol.clone(),
                from,
                to: end,
            })
        })
        .collect()
}

async fn list_all(
    db: &mut Database,
    client: &VisionClient,
    tasks: Vec<Task>,
    priors: &HashMap<String, SymbolRecord>,
    opts: &Options,
    state: &mut RunState,
) -> Result<(), Stop> {
    let progress = Reporter::new(opts.progress, state.summary.kind, tasks.len() as u64);
    let sem = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    // Cancelled by the caller, or by the circuit breaker below; either ends requests in flight.
    let stop = opts.cancel.child_token();
    let client = &client.with_cancel(stop.clone());
    let mut set: JoinSet<(Task, Result<Vec<FileFact>, Failure>)> = JoinSet::new();
    let mut pending = tasks.into_iter();
    let mut batch = Batch::default();
    let max_in_flight = opts.concurrency.max(1) * 2;
    let mut tripped = false;
    loop {
        while set.len() < max_in_flight && !stop.is_cancelled() {
            let Some(task) = pending.next() else { break };
            let (client, sem, stop) = (client.clone(), sem.clone(), stop.clone());
            set.spawn(async move {
                let result = list_symbol(&client, &sem, &stop, &task).await;
                (task, result)
            });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (task, result) = match joined {
            Ok(done) => done,
            Err(e) => {
                // Keep what the other symbols gave before reporting the broken task.
                state.summary.rows_written += flush(db, &mut batch)?;
                return Err(Stop::Error(CollectError::Task(e.to_string())));
            }
        };
        progress.tick();
        match result {
            Ok(files) => {
                state.summary.symbols += 1;
                state.summary.files += files.len() as u64;
                let (rows, update) =
                    observations(&task, &files, priors.get(&task.symbol), client, Utc::now());
                batch.rows.extend(rows);
                batch.symbols.push(update);
                if batch.symbols.len() >= opts.batch_symbols || batch.rows.len() >= opts.batch_rows
                {
                    state.summary.rows_written += flush(db, &mut batch)?;
                }
            }
            Err(Failure::Cancelled) => {}
            Err(Failure::Vision(e)) => {
                tracing::warn!(symbol = %task.symbol, "{e}");
                state.failures.push((task.symbol.clone(), e));
                let requests = client.stats().requests.load(Ordering::Relaxed);
                if requests >= opts.breaker_min_requests
                    && state.failures.len() as f64 > opts.max_error_rate * requests as f64
                {
                    stop.cancel();
                    tripped = true;
                }
            }
        }
    }
    state.summary.rows_written += flush(db, &mut batch)?;
    progress.finish();
    if tripped { Err(Stop::Breaker) } else { Ok(()) }
}

fn flush(db: &mut Database, batch: &mut Batch) -> Result<u64, StoreError> {
    if batch.symbols.is_empty() && batch.rows.is_empty() {
        return Ok(0);
    }
    let written = tokio::task::block_in_place(|| db.write_batch(batch))?;
    *batch = Batch::default();
    Ok(written)
}

/// Lists one symbol's window: the first page from the window's start, then the rest in
/// parallel 500-day chunks if the first page did not reach the end.
async fn list_symbol(
    client: &VisionClient,
    sem: &Semaphore,
    stop: &CancellationToken,
    task: &Task,
) -> Result<Vec<FileFact>, Failure> {
    let from = task.from.max(ARCHIVE_START);
    if from > task.to {
        return Ok(Vec::new());
    }
    let mut files = BTreeMap::new();
    let reached = list_chunk(client, sem, stop, task, from, task.to, true, &mut files).await?;
    if reached < task.to {
        let mut ranges = Vec::new();
        let mut start = reached + chrono::Duration::days(1);
        while start <= task.to {
            let end = (start + chrono::Duration::days(CHUNK_DAYS - 1)).min(task.to);
            ranges.push((start, end));
            start = end + chrono::Duration::days(1);
        }
        let parts =
            futures_util::future::try_join_all(ranges.into_iter().map(|(start, end)| async move {
                let mut part = BTreeMap::new();
                list_chunk(client, sem, stop, task, start, end, false, &mut part)
                    .await
                    .map(|_| part)
            }))
            .await?;
        for part in parts {
            files.extend(part);
        }
    }
    Ok(files.into_values().collect())
}

/// Lists `[from, to]` of a symbol's folder into `files` and returns the last day it covered:
/// `to`, or with `first` possibly less — the last day of the first page, so the caller can
/// split the rest of the window into parallel chunks.
#[allow(clippy::too_many_arguments)]
async fn list_chunk(
    client: &VisionClient,
    sem: &Semaphore,
    stop: &CancellationToken,
    task: &Task,
    from: NaiveDate,
    to: NaiveDate,
    first: bool,
    files: &mut BTreeMap<NaiveDate, FileFact>,
) -> Result<NaiveDate, Failure> {
    let folder = vision::daily_1m_folder(&task.symbol);
    let mut lister = client.lister(
        &folder,
        None,
        Some(vision::start_after_day(&task.symbol, from)),
        max_pages((to - from).num_days() + 1),
    );
    let beyond = vision::start_after_day(&task.symbol, to + chrono::Duration::days(1));
    loop {
        if stop.is_cancelled() {
            return Err(Failure::Cancelled);
        }
        let page = {
            let _permit = sem.acquire().await.map_err(|_| Failure::Cancelled)?;
            lister.next_page().await.map_err(|e| {
                if e.is_cancelled() {
                    Failure::Cancelled
                } else {
                    Failure::Vision(e)
                }
            })?
        };
        let Some(page) = page else {
            return Ok(to);
        };
        let mut last_day = None;
        for o in &page.objects {
            let key = o.key.strip_suffix(".CHECKSUM").unwrap_or(&o.key);
            let Some((symbol, date)) = vision::parse_daily_1m_key(key) else {
                continue;
            };
            if symbol != task.symbol {
                continue;
            }
            last_day = Some(date);
            if key.len() == o.key.len() && from <= date && date <= to {
                files.insert(
                    date,
                    FileFact {
                        symbol: task.symbol.clone(),
                        date,
                        size: o.size,
                        last_modified: o.last_modified,
                        etag: o.etag.clone(),
                    },
                );
            }
        }
        // Keys sort by day, so once the page reached `to` (or beyond) the window is complete:
        // asking for the next page would only fetch the CHECKSUM of `to` or later days.
        let past_end = last_day.is_some_and(|d| d >= to)
            || page.objects.last().is_some_and(|o| o.key >= beyond);
        if page.next_token.is_none() || past_end {
            return Ok(to);
        }
        if first && let Some(day) = last_day {
            return Ok(day);
        }
    }
}

/// The rows a finished listing yields: every file, and every day without one strictly between
/// the symbol's first and last file (a verified absence). Days before the first file, after the
/// last, or never checked get no row; the checked window is recorded on the symbol.
fn observations(
    task: &Task,
    files: &[FileFact],
    prior: Option<&SymbolRecord>,
    client: &VisionClient,
    now: chrono::DateTime<Utc>,
) -> (Vec<AvailabilityRow>, SymbolUpdate) {
    let url = |date| client.file_url(&vision::daily_1m_key(&task.symbol, date));
    let first_seen = files.first().map(|f| f.date);
    let last_seen = files.last().map(|f| f.date);
    let known_first = min_opt(prior.and_then(|p| p.first_file_date), first_seen);
    let known_last = max_opt(prior.and_then(|p| p.last_file_date), last_seen);
    let mut rows = Vec::with_capacity(files.len());
    let absent = |date: NaiveDate| AvailabilityRow {
        date,
        symbol: task.symbol.clone(),
        available: false,
        file_size_bytes: None,
        last_modified: None,
        url: url(date),
        status_code: 404,
        probe_timestamp: now,
    };
    if let (Some(lo), Some(hi)) = (known_first, known_last) {
        let by_day: HashMap<NaiveDate, &FileFact> = files.iter().map(|f| (f.date, f)).collect();
        // Days between the stored last file and this window were checked by earlier runs and
        // had no file; a file in this window turns them into verified absences.
        let bridge_from = prior
            .filter(|p| {
                p.checked_through
                    .is_some_and(|c| c + chrono::Duration::days(1) >= task.from)
            })
            .and_then(|p| p.last_file_date)
            .map(|d| d + chrono::Duration::days(1))
            .filter(|d| *d < task.from);
        let start = bridge_from.unwrap_or(task.from).max(lo);
        for date in start.iter_days().take_while(|d| *d <= task.to.min(hi)) {
            match by_day.get(&date) {
                Some(f) => rows.push(AvailabilityRow {
                    date,
                    symbol: task.symbol.clone(),
                    available: true,
                    file_size_bytes: Some(f.size as i64),
                    last_modified: Some(f.last_modified),
                    url: url(date),
                    status_code: 200,
                    probe_timestamp: now,
                }),
                None if lo < date && date < hi => rows.push(absent(date)),
                None => {}
            }
        }
    }
    let update = SymbolUpdate {
        symbol: task.symbol.clone(),
        class: vision::classify(&task.symbol),
        first_file_date: first_seen,
        last_file_date: last_seen,
        checked: Some((task.from, task.to)),
    };
    (rows, update)
}

fn min_opt(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// HEAD-probes one day for the given (or every known) symbol and upserts what it finds.
async fn probe(
    db: &mut Database,
    client: &VisionClient,
    date: NaiveDate,
    wanted: Option<&[String]>,
    priors: &HashMap<String, SymbolRecord>,
    opts: &Options,
    state: &mut RunState,
) -> Result<(), Stop> {
    let symbols: Vec<String> = match wanted {
        Some(w) => {
            let mut chosen: Vec<String> = Vec::with_capacity(w.len());
            for name in w {
                vision::check_symbol(name).map_err(CollectError::from)?;
                // A known symbol by its stored spelling, so `btcusdt` probes BTCUSDT's file.
                let known = priors
                    .keys()
                    .find(|k| k.to_lowercase() == name.to_lowercase())
                    .unwrap_or(name);
                if !chosen.contains(known) {
                    chosen.push(known.clone());
                }
            }
            chosen
        }
        None if priors.is_empty() => match discover(client).await? {
            Some(folders) => folders,
            None => return Ok(()),
        },
        None => {
            let mut s: Vec<String> = priors.keys().cloned().collect();
            s.sort();
            s
        }
    };
    let progress = Reporter::new(opts.progress, "probe", symbols.len() as u64);
    let sem = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut set = JoinSet::new();
    let client = &client.with_cancel(opts.cancel.clone());
    for symbol in symbols {
        let (client, sem) = (client.clone(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let result = client.head(&vision::daily_1m_key(&symbol, date)).await;
            (symbol, result)
        });
    }
    let now = Utc::now();
    let mut batch = Batch::default();
    while let Some(joined) = set.join_next().await {
        let Ok((symbol, result)) = joined else {
            continue;
        };
        progress.tick();
        let url = client.file_url(&vision::daily_1m_key(&symbol, date));
        match result {
            Ok(Some(meta)) => {
                state.summary.files += 1;
                batch.rows.push(AvailabilityRow {
                    date,
                    symbol: symbol.clone(),
                    available: true,
                    file_size_bytes: Some(meta.size as i64),
                    last_modified: meta.last_modified,
                    url,
                    status_code: 200,
                    probe_timestamp: now,
                });
                batch.symbols.push(SymbolUpdate {
                    class: vision::classify(&symbol),
                    symbol,
                    first_file_date: Some(date),
                    last_file_date: Some(date),
                    checked: None,
                });
            }
            Ok(None) => {
                // Only a day inside the symbol's known life is a verified absence; outside it
                // a 404 is the expected state and is not stored as filler.
                let inside = priors.get(&symbol).is_some_and(|p| {
                    p.first_file_date.is_some_and(|f| f < date)
                        && p.last_file_date.is_some_and(|l| date < l)
                });
                if inside {
                    batch.rows.push(AvailabilityRow {
                        date,
                        symbol,
                        available: false,
                        file_size_bytes: None,
                        last_modified: None,
                        url,
                        status_code: 404,
                        probe_timestamp: now,
                    });
                }
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => state.failures.push((symbol, e)),
        }
        state.summary.symbols += 1;
    }
    state.summary.rows_written += flush(db, &mut batch)?;
    progress.finish();
    Ok(())
}

/// Progress on stderr: a bar on a terminal, a line per tenth in logs, or nothing.
struct Reporter {
    bar: Option<ProgressBar>,
    log: Option<(&'static str, u64, std::sync::atomic::AtomicU64)>,
}

impl Reporter {
    fn new(mode: Progress, kind: &'static str, total: u64) -> Reporter {
        match mode {
            Progress::Bar => {
                let bar = ProgressBar::new(total);
                let style = ProgressStyle::with_template(
                    "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} symbols ({per_sec}, ETA {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.set_prefix(kind);
                Reporter {
                    bar: Some(bar),
                    log: None,
                }
            }
            Progress::Log => Reporter {
                bar: None,
                log: Some((kind, total, std::sync::atomic::AtomicU64::new(0))),
            },
            Progress::Quiet => Reporter {
                bar: None,
                log: None,
            },
        }
    }

    fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if let Some((kind, total, done)) = &self.log {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            let step = (*total / 10).max(1);
            if n.is_multiple_of(step) || n == *total {
                say!("{kind}: {n}/{total} symbols");
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
