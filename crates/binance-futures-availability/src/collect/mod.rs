//! Collection: turns a goal (backfill, update, probe) into a plan of requests, runs it with
//! bounded concurrency, and hands what was observed to `store` in transactional batches.
//!
//! A run, in the order its files take it:
//! - `plan` — which symbol folders, over which days (pure: the update windows, `--symbols`).
//! - `driver` — the one run driver every stage below goes through: bounded concurrency, the
//!   circuit breaker, tasks that panic, cancellation, batches, progress.
//! - `listing` — the 1m stage: lists each symbol's window; `vision` turns each page into facts
//!   about daily files (`vision::list_window`).
//! - `observe` — where facts become rows: files, verified absences, the checked window (pure).
//! - `trading` — the second dataset, after the listing: 1d klines files, daily and monthly,
//!   planned against what is read, fetched with their CHECKSUMs, stored by `store::trading`.
//! - `probe` — the HEAD path: one day's file per symbol.
//! - `progress` — the bar or log lines on stderr.
//!
//! This file holds the goal, the options, the outcome, `run_markets` (one private copy, a run per
//! market, one publish) and `run_one`, which decides a market's run's state.

mod crawl;
mod driver;
mod listing;
mod observe;
mod plan;
mod probe;
mod progress;
mod trading;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use tokio_util::sync::CancellationToken;

pub use crawl::{CrawlError, CrawlPlan, CrawlSummary, TAIL_DAYS, TAIL_MONTHS, update_catalog};
pub use progress::{Job, Progress, ProgressFn, Stage, Step};
pub use trading::MONTHLY_PATIENCE;

use crate::facts::{DayRange, Market};
use crate::store::{
    Batch, Database, LockError, RunEnd, RunKind, RunOutcome, StoreError, SymbolRecord,
    SymbolUpdate, WriteSession,
};
use crate::vision::{self, FetchError, VisionClient, VisionError};

/// Recent days re-listed by `update` although already checked: files arrive late (up to days)
/// and get replaced.
pub const DEFAULT_LOOKBACK: u32 = 20;

/// The values a caller may ask a run for, in one place for every front end (the CLI's flags,
/// the Python package's arguments). ADR 0009 says why these bounds.
pub mod limits {
    use std::ops::RangeInclusive;
    /// `--lookback`: ten years reach back before trading began.
    pub const LOOKBACK_DAYS: RangeInclusive<i64> = 0..=3650;
    /// `--concurrency`: requests in flight.
    pub const CONCURRENCY: RangeInclusive<i64> = 1..=512;
    /// `--attempts`: per request, the first included.
    pub const ATTEMPTS: RangeInclusive<i64> = 1..=20;
    /// `--request-timeout`: seconds for a whole request, body included (u64, as clap's
    /// parser for that flag takes it).
    pub const REQUEST_TIMEOUT_SECS: RangeInclusive<u64> = 1..=3600;
}

/// A run option outside `limits`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} is {value}, outside {} to {}", .range.start(), .range.end())]
pub struct OutOfRange {
    /// The option, named as the Python package's argument is (`lookback`, `concurrency`,
    /// `attempts`, `request_timeout`).
    pub name: &'static str,
    /// The value given.
    pub value: i64,
    /// The bounds from `limits`, both included.
    pub range: std::ops::RangeInclusive<i64>,
}

/// Checks a run's options against `limits` (the CLI's parsers check the same bounds).
pub fn check_options(
    lookback: u32,
    concurrency: usize,
    attempts: u32,
    request_timeout_secs: u64,
) -> Result<(), OutOfRange> {
    let timeout = limits::REQUEST_TIMEOUT_SECS;
    let timeout = *timeout.start() as i64..=*timeout.end() as i64;
    let checks = [
        ("lookback", i64::from(lookback), limits::LOOKBACK_DAYS),
        ("concurrency", concurrency as i64, limits::CONCURRENCY),
        ("attempts", i64::from(attempts), limits::ATTEMPTS),
        ("request_timeout", request_timeout_secs as i64, timeout),
    ];
    for (name, value, range) in checks {
        if !range.contains(&value) {
            return Err(OutOfRange { name, value, range });
        }
    }
    Ok(())
}

/// What to collect.
#[derive(Debug, Clone)]
pub enum Goal {
    /// List every (or the given) symbol folder over `[start, end]`.
    Backfill {
        /// The first day listed; `None` for each market's first day (`Market::first_day`:
        /// 2019-09-25 for USD-M, 2020-08-11 for COIN-M, 2017-08-17 for spot).
        start: Option<NaiveDate>,
        /// The last day listed; the run is refused if the bucket's clock has not reached it.
        end: NaiveDate,
        /// Folder names to list, matched case-insensitively; `None` for every folder of the
        /// market.
        symbols: Option<Vec<String>>,
    },
    /// Bring every folder to `end`: new folders get their whole history; known ones are listed
    /// from the day after their last checked day, and the last `lookback` days again.
    Update {
        /// The day every folder is brought to; the run is refused if the bucket's clock has
        /// not reached it.
        end: NaiveDate,
        /// Days through `end` listed again although already checked (`DEFAULT_LOOKBACK`, 20):
        /// files arrive late and get replaced.
        lookback: u32,
    },
    /// HEAD one day's file of every known (or the given) symbol.
    Probe {
        /// The day whose 1m file is asked for.
        date: NaiveDate,
        /// Folder names to probe, a known one by its stored spelling and an unknown one as
        /// given; `None` for every symbol the database knows (every folder, if it knows none).
        symbols: Option<Vec<String>>,
    },
}

impl Goal {
    fn kind(&self) -> RunKind {
        match self {
            Goal::Backfill { .. } => RunKind::Backfill,
            Goal::Update { .. } => RunKind::Update,
            Goal::Probe { .. } => RunKind::Probe,
        }
    }
}

/// How to run a collection.
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests in flight at most; a 1d file's zip and its CHECKSUM go together as one.
    pub concurrency: usize,
    /// A transaction commits after this many symbols or `batch_rows` rows, whichever comes
    /// first: larger batches write faster, smaller ones lose less to a kill.
    pub batch_symbols: usize,
    /// Rows a batch holds at most before it commits (see `batch_symbols`): what bounds the
    /// writer's memory (50,000 by default).
    pub batch_rows: usize,
    /// Stop early when more than this share of requests failed (after `breaker_min_requests`).
    pub max_error_rate: f64,
    /// Requests made before the breaker may stop a run (40 by default), so that the first few
    /// failures are not taken for a rate.
    pub breaker_min_requests: u64,
    /// How progress is shown: a bar, log lines, a callback, or nothing (the default).
    pub progress: Progress,
    /// Cancelled (e.g. on SIGTERM): start no new request, let in-flight ones finish, commit
    /// what was gathered, publish, and end the run as `interrupted`.
    pub cancel: CancellationToken,
    /// Whether `backfill` and `update` also read the 1d klines files (`--no-trading`: not).
    pub trading: Trading,
    /// Which market's folders `run` collects (`--markets`; USD-M unless said): its daily 1m
    /// klines for availability, its 1d klines for trading, into its own tables (ADR 0019).
    /// `run_markets` takes its markets as an argument instead.
    pub market: Market,
}

/// Whether a run collects the trading dataset besides availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trading {
    /// After the 1m listings, list the 1d klines folders (daily and monthly) and read the
    /// files not stored yet: the default.
    Collect,
    /// Availability only (`--no-trading`): no 1d klines file is listed or read.
    Skip,
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
            trading: Trading::Collect,
            market: Market::Um,
        }
    }
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Which run: `backfill`, `update` or `probe`.
    pub kind: RunKind,
    /// Which market's folders it collected.
    pub market: Market,
    /// Symbol folders done: those whose 1m listing succeeded, or every one a probe asked for.
    pub symbols: u64,
    /// Daily 1m files seen: listed, or found by HEAD.
    pub files: u64,
    /// 1d klines files read (daily and monthly).
    pub trading_files: u64,
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Of `requests`, those that retried a transient failure.
    pub retries: u64,
    /// Rows the run's batches wrote to the database.
    pub rows_written: u64,
    /// Wall time of the run itself, opening the private copy and publishing it excluded.
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // USD-M's line is as it was before there were other markets.
        let market = match self.market {
            Market::Um => String::new(),
            other => format!(" {other}"),
        };
        write!(
            f,
            "{}{market}: {} symbols, {} files seen, {} 1d files read, {} requests ({} retries), \
             {} rows written in {:.1} s",
            self.kind,
            self.symbols,
            self.files,
            self.trading_files,
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
    /// The database could not be opened, written or published; another run holding the
    /// writer's lock is one case (`is_lock_held`).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run was stopped (SIGTERM, Ctrl-C, the caller's token) before it finished.
    #[error("interrupted: {summary}. What was collected is committed; run again to finish")]
    Interrupted {
        /// What it did until then, all of it committed.
        summary: Box<Summary>,
    },
    /// The HTTP client could not be set up (a malformed endpoint URL, no TLS roots).
    #[error(transparent)]
    Client(#[from] vision::SetupError),
    /// Listing the market's symbol folders failed, so there was no plan and nothing was
    /// collected.
    #[error("could not list the symbol folders: {0}")]
    Discover(VisionError),
    /// Names given to `--symbols` (as given) that no folder of the listing has, even ignoring
    /// case: bad input (exit 2).
    #[error("unknown symbol folder(s) {}: not in the bucket's listing", .0.join(", "))]
    UnknownSymbols(Vec<String>),
    /// A name given to `--symbols` that cannot be a symbol folder at all: bad input (exit 2).
    #[error(transparent)]
    BadSymbol(#[from] vision::BadSymbol),
    /// The window ends after the bucket's today: this machine's clock is ahead, and what it
    /// would record as checked could not have been.
    #[error(
        "the run would check through {end}, but the bucket's clock says today is {server_today}; \
         this machine's clock is ahead (fix it, e.g. with NTP), so nothing was collected"
    )]
    ClockAhead {
        /// The run's last day.
        end: NaiveDate,
        /// Today by the `Date` header of the bucket's answers.
        server_today: NaiveDate,
    },
    /// The run went through its whole plan, but some symbols failed; what the others gave is
    /// committed.
    #[error(
        "{} symbol(s) failed ({}); first: {}: {}. {summary}. Everything else is committed; run again to finish",
        failures.len(), failures.iter().map(|f| f.symbol.as_str()).collect::<Vec<_>>().join(", "), failures[0].symbol, failures[0].cause
    )]
    Symbols {
        /// Each failure, with its symbol, in the order they happened.
        failures: Vec<SymbolFailure>,
        /// What the run did, all of it committed.
        summary: Box<Summary>,
    },
    /// The circuit breaker stopped the run: so many requests failed (Vision down, a block, a
    /// bad endpoint) that going on would only add failures.
    #[error(
        "stopped early: {failed} of {requests} requests failed, over the {threshold}% limit; first: {}: {}. \
         {summary}. What succeeded is committed; run again to finish",
        failures[0].symbol, failures[0].cause
    )]
    CircuitOpen {
        /// Failures when it stopped (a symbol may have more than one: a listing and a file).
        failed: usize,
        /// Requests the run had sent by then, retries included.
        requests: u64,
        /// `max_error_rate` as a percentage (5 by default).
        threshold: f64,
        /// Each failure, with its symbol, in the order they happened.
        failures: Vec<SymbolFailure>,
        /// What the run did until it stopped, all of it committed.
        summary: Box<Summary>,
    },
}

/// One failure of one symbol's share of a run: a listing, a request or a file, or its task.
#[derive(Debug)]
pub struct SymbolFailure {
    /// The symbol folder, as the bucket spells it.
    pub symbol: String,
    /// What failed.
    pub cause: TaskFailure,
}

/// Why a symbol's task failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskFailure {
    /// A listing, a request or a file (its key and status in the sentence).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The task ended without a result: it panicked (a bug). Its symbol is reported like any
    /// other failure, and what the other tasks gave is kept.
    #[error("a collection task failed unexpectedly: {0}")]
    Task(tokio::task::JoinError),
}

impl CollectError {
    /// Bad input (exit 2) rather than a runtime failure (exit 1).
    pub fn is_bad_input(&self) -> bool {
        match self {
            CollectError::UnknownSymbols(_) | CollectError::BadSymbol(_) => true,
            CollectError::Store(e) => e.is_bad_input(),
            CollectError::Client(e) => e.is_bad_input(),
            _ => false,
        }
    }

    /// Another collection holds the writer lock: nothing ran; try again later.
    pub fn is_lock_held(&self) -> bool {
        matches!(
            self,
            CollectError::Store(StoreError::Locked(LockError::Held { .. }))
        )
    }
}

/// Runs `goal` for `opts.market` against the bucket and the database at `db_path`, holding
/// the writer lock.
pub async fn run(
    db_path: &Path,
    client: &VisionClient,
    goal: &Goal,
    opts: &Options,
) -> Result<Summary, CollectError> {
    let mut summaries = run_markets(db_path, client, goal, opts, Some(&[opts.market])).await?;
    Ok(summaries.remove(0))
}

/// Runs `goal` for each market of `markets` in turn (`None`: every market the file's run log
/// names, USD-M when it names none — so a market collected once is kept current by a plain
/// `update` and the scheduler), in one private copy published once: a reader sees all of the
/// run's markets or none. Each market is a run of its own in the run log. A market whose
/// folders failed does not stop the next; a stop (the breaker, a signal, a store error) does.
/// Returns each market's summary, or the first error of a market once the copy is published.
pub async fn run_markets(
    db_path: &Path,
    client: &VisionClient,
    goal: &Goal,
    opts: &Options,
    markets: Option<&[Market]>,
) -> Result<Vec<Summary>, CollectError> {
    let opened = Instant::now();
    let mut session: WriteSession = WriteSession::begin(db_path, goal.kind().as_str())?;
    // A market no database keeps (a library caller's) is refused before anything is written,
    // and the copy just made goes with it.
    let chosen = match markets {
        Some(named) => named
            .iter()
            .try_for_each(|&market| session.db().select_market(market))
            .map(|()| named.to_vec()),
        None => session.db().collected_markets(),
    };
    let markets = match chosen {
        Ok(markets) => markets,
        Err(e) => {
            session.abandon()?;
            return Err(e.into());
        }
    };
    tracing::debug!(
        elapsed_ms = opened.elapsed().as_millis() as u64,
        "stage: opened the private copy of {}",
        db_path.display()
    );
    let mut summaries = Vec::new();
    let mut first_error = None;
    for &market in &markets {
        session.db().select_market(market)?;
        let (result, stop) = run_one(&mut session, client, goal, opts).await?;
        match result {
            Ok(summary) => summaries.push(summary),
            Err(e) if summaries.is_empty() && first_error.is_none() && !session.has_work() => {
                // A run that failed before committing anything leaves the database as it was
                // (or absent): no run log entry, no new bytes.
                session.abandon()?;
                return Err(e);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        if stop {
            break;
        }
    }
    let publishing = Instant::now();
    session.publish()?;
    tracing::debug!(
        elapsed_ms = publishing.elapsed().as_millis() as u64,
        "stage: published the run's copy in place of {}",
        db_path.display()
    );
    first_error.map_or(Ok(summaries), Err)
}

/// One market's run in the session's copy (the handle's market): planned, executed, logged.
/// The outcome, and whether the markets after it must not run (it was stopped rather than
/// missing some folders). An error of its own is the outer `Err`.
async fn run_one(
    session: &mut WriteSession,
    client: &VisionClient,
    goal: &Goal,
    opts: &Options,
) -> Result<(Result<Summary, CollectError>, bool), CollectError> {
    let db = session.db();
    let range = match goal {
        Goal::Backfill { start, end, .. } => {
            DayRange::new(start.unwrap_or(db.market().first_day()), *end).ok()
        }
        Goal::Update { end, .. } => Some(DayRange::day(*end)),
        Goal::Probe { date, .. } => Some(DayRange::day(*date)),
    };
    let run = db.begin_run(goal.kind(), range)?;
    let started = Instant::now();
    let mut state = RunState::new(goal.kind(), db.market());
    // The client's counts are the whole session's: a market's are what it added.
    let stats = client.stats();
    let count = || {
        (
            stats.requests.load(Ordering::Relaxed),
            stats.retries.load(Ordering::Relaxed),
        )
    };
    let before = count();
    let result = execute(db, client, goal, opts, run.0.unsigned_abs(), &mut state).await;
    let after = count();
    state.summary.requests = after.0 - before.0;
    state.summary.retries = after.1 - before.1;
    state.summary.elapsed = started.elapsed();
    let stopped = opts.cancel.is_cancelled() || result.is_err();
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
    if result.is_err() && !session.has_work() {
        return Ok((result, true));
    }
    let outcome = RunOutcome {
        end: match &result {
            Ok(_) => RunEnd::Ok,
            Err(e @ CollectError::Interrupted { .. }) => RunEnd::Interrupted {
                error: e.to_string(),
            },
            Err(e) => RunEnd::Failed {
                error: e.to_string(),
            },
        },
        covered: state.covered,
        symbols: state.summary.symbols,
        requests: state.summary.requests,
        rows_written: state.summary.rows_written,
    };
    session.db().finish_run(run, &outcome)?;
    Ok((result, stopped))
}

pub(super) struct RunState {
    summary: Summary,
    /// The days the plan covers, once it is known.
    covered: Option<DayRange>,
    /// By symbol: a listing, a request, a file or a task that failed.
    failures: Vec<SymbolFailure>,
}

impl RunState {
    fn new(kind: RunKind, market: Market) -> RunState {
        RunState {
            summary: Summary {
                kind,
                market,
                symbols: 0,
                files: 0,
                trading_files: 0,
                requests: 0,
                retries: 0,
                rows_written: 0,
                elapsed: Duration::ZERO,
            },
            failures: Vec::new(),
            covered: None,
        }
    }
}

pub(super) enum Stop {
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

/// `run` is the run's number in the log: `update` re-lists a seventh of the folders whole by it.
async fn execute(
    db: &mut Database,
    client: &VisionClient,
    goal: &Goal,
    opts: &Options,
    run: u64,
    state: &mut RunState,
) -> Result<(), Stop> {
    let market = db.market();
    let stored: HashMap<String, SymbolRecord> = db
        .symbols()?
        .into_iter()
        .map(|s| (s.symbol.clone(), s))
        .collect();
    // A day counts as checked only once the bucket has published it: some folder has a file
    // for it or for a later day. Ranges recorded past that (by a binary before this rule,
    // during an outage) are read as ending there, so their days are listed again.
    let published = crate::store::published_through(&stored);
    let priors = plan::honest(stored, published);
    // A signal ends discovery too, not only the listing of folders after it.
    let client = &client.with_cancel(opts.cancel.clone());
    tracing::debug!(known = priors.len(), "stage: read the known symbols");
    let discovering = Instant::now();
    let discovered = |folders: &[String]| {
        tracing::debug!(
            folders = folders.len(),
            elapsed_ms = discovering.elapsed().as_millis() as u64,
            "stage: discovered the bucket's folders"
        )
    };
    let (covered, tasks) = match goal {
        Goal::Backfill {
            start,
            end,
            symbols,
        } => {
            let Some(folders) = plan::discover(client, market).await? else {
                return Ok(());
            };
            discovered(&folders);
            plan::check_clock(client, *end)?;
            let chosen = plan::choose(&folders, symbols.as_deref())?;
            let tasks: Vec<plan::Task> = chosen
                .into_iter()
                .map(|symbol| plan::Task {
                    symbol,
                    from: start.unwrap_or(market.first_day()),
                    to: *end,
                })
                .collect();
            (plan::span(&tasks), tasks)
        }
        Goal::Update { end, lookback } => {
            let Some(mut folders) = plan::discover(client, market).await? else {
                return Ok(());
            };
            discovered(&folders);
            plan::check_clock(client, *end)?;
            // Folders never disappear from the bucket, but a symbol known here and missing from
            // the listing is still checked rather than silently dropped.
            let listed: std::collections::HashSet<String> = folders.iter().cloned().collect();
            folders.extend(priors.keys().filter(|k| !listed.contains(*k)).cloned());
            // The run log records the days the update had to check, not the re-list's.
            let due = plan::update_plan(market, &folders, &priors, *end, *lookback, None);
            let tasks = plan::update_plan(market, &folders, &priors, *end, *lookback, Some(run));
            (plan::span(&due), tasks)
        }
        Goal::Probe { date, symbols } => {
            return probe::probe(db, client, *date, symbols.as_deref(), &priors, opts, state).await;
        }
    };
    record_discovered(db, market, &tasks, &priors)?;
    state.covered = covered;
    let listed: std::collections::HashSet<String> =
        tasks.iter().map(|t| t.symbol.clone()).collect();
    tracing::debug!(
        folders = tasks.len(),
        days = tasks
            .iter()
            .map(|t| (t.to - t.from).num_days().max(-1) + 1)
            .sum::<i64>(),
        covered = %state
            .covered
            .map_or("no day".to_string(), |c| format!("{} to {}", c.first(), c.last())),
        "stage: planned the 1m listings"
    );
    let listing = Instant::now();
    let mut reach = listing::Reach {
        published,
        done: Vec::new(),
    };
    let stage = Stage {
        run: Job::Run(goal.kind()),
        step: Step::Listing1m,
    };
    let mut work = listing::Listing {
        dataset: plan::availability(market),
        priors: &priors,
        reach: &mut reach,
    };
    driver::drive(
        db,
        client,
        opts,
        stage,
        &mut work,
        tasks,
        &mut state.summary,
        &mut state.failures,
    )
    .await?;
    settle_checked(db, &reach, opts)?;
    tracing::debug!(
        elapsed_ms = listing.elapsed().as_millis() as u64,
        files = state.summary.files,
        rows_written = state.summary.rows_written,
        failures = state.failures.len(),
        "stage: listed the 1m folders"
    );
    if opts.trading == Trading::Skip || opts.cancel.is_cancelled() {
        return Ok(());
    }
    let scope = match goal {
        Goal::Backfill { start, end, .. } => trading::Scope::Backfill {
            start: start.unwrap_or(market.first_day()),
            end: *end,
        },
        Goal::Update { end, lookback } => trading::Scope::Update {
            end: *end,
            lookback: *lookback,
            run,
        },
        Goal::Probe { .. } => return Ok(()),
    };
    // The symbols this run listed, with the 1m facts their listing just stored.
    let records: Vec<SymbolRecord> = tokio::task::block_in_place(|| db.symbols())?
        .into_iter()
        .filter(|r| listed.contains(&r.symbol))
        .collect();
    let reading = Instant::now();
    let read = trading::collect_all(db, client, scope, &records, opts, state).await;
    tracing::debug!(
        elapsed_ms = reading.elapsed().as_millis() as u64,
        symbols = records.len(),
        files = state.summary.trading_files,
        rows_written = state.summary.rows_written,
        failures = state.failures.len(),
        "stage: read the 1d klines files"
    );
    read
}

/// Once every folder is listed: each listed window counts as checked through the last day any
/// folder has a file for (a symbol listed before that file was seen was recorded through an
/// earlier day), and no stored range runs past that day. Bounded by `batch_symbols` per write.
fn settle_checked(
    db: &mut Database,
    reach: &listing::Reach,
    opts: &Options,
) -> Result<(), StoreError> {
    let market = db.market();
    for chunk in reach.done.chunks(opts.batch_symbols.max(1)) {
        let symbols = chunk
            .iter()
            .filter_map(|t| {
                observe::checked_window(t, reach.published).map(|checked| SymbolUpdate {
                    symbol: t.symbol.clone(),
                    class: market.classify(&t.symbol),
                    first_file_date: None,
                    last_file_date: None,
                    checked: Some(checked),
                })
            })
            .collect();
        let mut batch = Batch {
            rows: Vec::new(),
            symbols,
        };
        flush(db, &mut batch)?;
    }
    tokio::task::block_in_place(|| db.limit_checked(reach.published)).map(|_| ())
}

/// Records the folders this run will list that the database does not know yet, before
/// listing them: a run stopped half-way then leaves them never checked, and `status` says the
/// database is not complete instead of counting only the folders it reached.
fn record_discovered(
    db: &mut Database,
    market: Market,
    tasks: &[plan::Task],
    priors: &HashMap<String, SymbolRecord>,
) -> Result<(), StoreError> {
    let symbols: Vec<SymbolUpdate> = tasks
        .iter()
        .filter(|t| !priors.contains_key(&t.symbol))
        .map(|t| SymbolUpdate {
            symbol: t.symbol.clone(),
            class: market.classify(&t.symbol),
            first_file_date: None,
            last_file_date: None,
            checked: None,
        })
        .collect();
    let mut batch = Batch {
        rows: Vec::new(),
        symbols,
    };
    flush(db, &mut batch).map(|_| ())
}

pub(super) fn flush(db: &mut Database, batch: &mut Batch) -> Result<u64, StoreError> {
    if batch.symbols.is_empty() && batch.rows.is_empty() {
        return Ok(0);
    }
    let written = tokio::task::block_in_place(|| db.write_batch(batch))?;
    *batch = Batch::default();
    Ok(written)
}
