//! The command line: clap definitions, input checks that turn into exit code 2, dispatch to
//! `collect` (writes) and `store` (queries), and output rendering (`render`). `serve` is the
//! second front end on the same queries and the same rendering, over HTTP. Clap stays in
//! this module: the library's types know nothing of flags. Its public face is `main` (arguments in, exit
//! code out: the binary and the wheel's console script), `Cli`, `run` and `CliError`.

mod args;
mod catalog;
mod entry;
mod logging;
mod ops;
mod render;
mod report;
mod scheduler;
mod serve;
mod stop;

use std::io::IsTerminal;
use std::path::PathBuf;

use chrono::{NaiveDate, Utc};

use tokio_util::sync::CancellationToken;

use crate::collect::{self, CollectError, Goal, Progress, Summary, Trading};
use crate::config;
use crate::facts::{DayError, Market};
use crate::question::catalog::CatalogQuestionError;
use crate::question::{Question, QuestionError};
use crate::schedule::PidFileError;
use crate::store::{Database, EventFilter, StoreError, UniverseQuery};
use crate::validate::ValidateError;
use crate::vision::{BadSymbol, VisionClient, VisionError};
pub use args::Cli;
use args::{Command, Query, Remote, ScheduleArgs, SchedulerCommand, ServeArgs, ValidateArgs};
pub use entry::main;
pub use logging::{LogFilterError, log_filter};
pub use render::{Format, ReportFormat};
pub(crate) use stop::Signals;

/// A failure of the command, with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A day the question cannot have, or a range whose start is after its end.
    #[error(transparent)]
    Day(#[from] DayError),
    /// A name no symbol folder can have.
    #[error(transparent)]
    Symbol(#[from] BadSymbol),
    /// A question the library refuses (a reversed range, a count out of bounds, …).
    #[error(transparent)]
    Question(#[from] QuestionError),
    /// A catalog question the library refuses (a period of the other partition, …).
    #[error(transparent)]
    CatalogQuestion(#[from] CatalogQuestionError),
    /// The database.
    #[error("{e}{hint}", e = .0, hint = store_hint(.0))]
    Store(#[from] StoreError),
    /// A collection run.
    #[error(transparent)]
    Collect(Box<CollectError>),
    /// A crawl of the catalog.
    #[error(transparent)]
    Crawl(Box<collect::CrawlError>),
    /// The bucket.
    #[error(transparent)]
    Vision(#[from] VisionError),
    /// exchangeInfo could not be had.
    #[error(transparent)]
    Validate(#[from] ValidateError),
    /// The scheduler's pid file.
    #[error(transparent)]
    PidFile(#[from] PidFileError),
    /// A scheduler command.
    #[error(transparent)]
    Scheduler(#[from] scheduler::SchedulerError),
    /// `serve` could not start.
    #[error(transparent)]
    Serve(#[from] serve::ServeError),
    /// `status`: the data is stale.
    #[error(
        "the data is stale: {}; run `binance-futures-availability update`, or see \
         `scheduler status`",
        .checked_through.map_or(
            "some folder was never checked".to_string(),
            |d| format!("every folder is checked only through {d}")
        )
    )]
    Stale {
        /// The day every folder is checked through, if any.
        checked_through: Option<NaiveDate>,
    },
    /// The last successful update found no file after `after` in any folder, through `through`.
    #[error(
        "Vision has published nothing after {after} (the update through {through} found no \
         later file in any folder): those days are not checked yet and no update can check \
         them before the bucket publishes them; let the daily update run, it lists them again \
         until the bucket catches up (outages are reported at \
         https://github.com/binance/binance-public-data/issues)"
    )]
    Outage {
        /// The last day the bucket published.
        after: NaiveDate,
        /// The day the last successful update asked through.
        through: NaiveDate,
    },
    /// `query timeline --with-events` in another format than JSON.
    #[error(
        "--with-events prints one JSON object (symbol, days, events, trading); ask for it with \
         --format json (the table shows the events already)"
    )]
    WithEventsNeedsJson,
    /// `validate`: a check failed.
    #[error("validation failed; see the report above")]
    ValidationFailed,
    /// The database's size could not be read.
    #[error("could not read the size of {}: {source}", .path.display())]
    Size {
        /// The file.
        path: PathBuf,
        /// What failed underneath.
        source: std::io::Error,
    },
    /// Writing the output failed.
    #[error("could not write the output: {0}")]
    Output(#[from] std::io::Error),
    /// No async runtime.
    #[error("could not start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// What to do about a store error, in the command line's terms (flags, commands): the library
/// states the fact, the CLI adds how to act on it here.
fn store_hint(e: &StoreError) -> &'static str {
    match e {
        StoreError::Missing { .. } => {
            "; create it with `binance-futures-availability update` (or point --db / BFA_DB at \
             an existing file)"
        }
        StoreError::Exists { .. } => "; pass --force to replace it",
        _ => "",
    }
}

/// A store error as the command line says it: the fact and what to do about it.
pub(crate) fn store_sentence(e: &StoreError) -> String {
    format!("{e}{}", store_hint(e))
}

impl From<collect::CrawlError> for CliError {
    fn from(e: collect::CrawlError) -> Self {
        CliError::Crawl(Box::new(e))
    }
}

impl From<CollectError> for CliError {
    fn from(e: CollectError) -> Self {
        CliError::Collect(Box::new(e))
    }
}

impl CliError {
    /// 2 for bad usage or input, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        let bad_input = match self {
            CliError::Day(_)
            | CliError::Symbol(_)
            | CliError::Question(_)
            | CliError::CatalogQuestion(_)
            | CliError::WithEventsNeedsJson => true,
            CliError::Serve(e) => e.is_bad_input(),
            CliError::Store(e) => e.is_bad_input(),
            CliError::Collect(e) => e.is_bad_input(),
            CliError::Crawl(e) => matches!(&**e, collect::CrawlError::Store(s) if s.is_bad_input()),
            _ => false,
        };
        if bad_input { 2 } else { 1 }
    }
}

fn ordered(start: NaiveDate, end: NaiveDate) -> Result<(), CliError> {
    Ok(crate::facts::check_order(start, end)?)
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let db_path = cli.db.clone().unwrap_or_else(config::default_db_path);
    if db_path.to_str().is_none() {
        return Err(StoreError::PathNotUtf8 { path: db_path }.into());
    }
    // A bad BFA_MEMORY_LIMIT is input: refused (exit 2) before any file is opened.
    crate::store::MemoryLimit::from_env()?;
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Query(args) => run_query(&db_path, args.market.market, args.question, &mut out),
        Command::Update(args) => {
            let goal = Goal::Update {
                end: yesterday(),
                lookback: args.lookback,
            };
            collect_with(
                &db_path,
                &args.remote,
                (args.markets.markets.as_deref(), trading(args.no_trading)),
                goal,
                cli.quiet,
            )
        }
        Command::Backfill(args) => {
            let markets = args.markets.markets.unwrap_or_else(|| vec![Market::Um]);
            let end = args.end.unwrap_or_else(yesterday);
            for market in &markets {
                // A start before a market's first day is refused, not moved: the run would
                // say it covered days no file can be of.
                let start = match args.start {
                    Some(start) => market.check_day(start)?,
                    None => market.first_day(),
                };
                ordered(start, end)?;
            }
            collect_with(
                &db_path,
                &args.remote,
                (Some(&markets), trading(args.no_trading)),
                Goal::Backfill {
                    start: args.start,
                    end,
                    symbols: args.symbols,
                },
                cli.quiet,
            )
        }
        Command::Probe(args) => collect_with(
            &db_path,
            &args.remote,
            (Some(&[args.market.market]), Trading::Skip),
            Goal::Probe {
                date: args.market.market.check_day(args.date)?,
                symbols: args.symbols,
            },
            cli.quiet,
        ),
        Command::Scheduler(command) => scheduler::run(&db_path, command, cli.quiet, &mut out),
        Command::Serve(args) => serve::run(&db_path, &args, cli.quiet),
        Command::Status {
            format,
            catalog,
            market,
        } => {
            let catalog = args::catalog_path(&db_path, catalog);
            ops::status(&db_path, &catalog, market.market, format, &mut out)
        }
        Command::Validate(args) => ops::validate(&db_path, &args, &mut out),
        Command::Catalog(args) => catalog::run(&db_path, args, cli.quiet, &mut out),
        Command::Backup { dest, force, which } => match which.catalog(&db_path) {
            Some(catalog) => ops::backup_catalog(&catalog, &dest, force, cli.quiet),
            None => ops::backup(&db_path, &dest, force, cli.quiet),
        },
        Command::Restore { src, force, which } => match which.catalog(&db_path) {
            Some(catalog) => ops::restore_catalog(&src, &catalog, force, cli.quiet),
            None => ops::restore(&src, &db_path, force, cli.quiet),
        },
        Command::Export {
            dest,
            format,
            force,
            which,
            market,
        } => match which.catalog(&db_path) {
            Some(catalog) => ops::export_catalog(&catalog, &dest, format, force, cli.quiet),
            None => ops::export(&db_path, &dest, (format, market.market), force, cli.quiet),
        },
    }
}

fn yesterday() -> NaiveDate {
    crate::schedule::update_end(Utc::now())
}

/// A `query` as the library's question and the format to print it in: the one place the
/// command line's syntax becomes a `Question` (a bad one is exit 2, whether or not the
/// database exists).
pub(crate) fn question(market: Market, query: Query) -> Result<(Question, Format), CliError> {
    Ok(match query {
        Query::Snapshot {
            date,
            contract,
            output,
        } => (Question::snapshot(market, date, contract)?, output.format),
        Query::Timeline {
            symbol,
            with_events,
            output,
        } => {
            if with_events && output.format != Format::Json {
                return Err(CliError::WithEventsNeedsJson);
            }
            (Question::timeline(market, &symbol)?, output.format)
        }
        Query::Range {
            start,
            end,
            contract,
            output,
        } => (
            Question::range(market, start, end, contract)?,
            output.format,
        ),
        Query::Summary { start, end, output } => {
            (Question::summary(market, start, end)?, output.format)
        }
        Query::Symbols { output } => (Question::symbols(market), output.format),
        Query::Events {
            since,
            until,
            kind,
            symbol,
            contract,
            rule,
            output,
        } => {
            let filter = EventFilter {
                since,
                until,
                kind,
                symbol,
                contracts: contract,
            };
            (
                Question::events(market, filter, rule.delisted_after)?,
                output.format,
            )
        }
        Query::Lives {
            symbol,
            rule,
            output,
        } => (
            Question::lives(market, symbol.as_deref(), rule.delisted_after)?,
            output.format,
        ),
        Query::Universe {
            date,
            until,
            every,
            contract,
            quote,
            include_settled,
            min_age,
            recent,
            top,
            by,
            window,
            rule,
            output,
        } => {
            let q = UniverseQuery {
                date,
                contracts: contract,
                quote,
                min_age,
                recent,
                window,
                top,
                by,
                delisted_after: rule.delisted_after,
                include_settled,
            };
            let question = match until {
                Some(until) => Question::universe_panel(
                    market,
                    q,
                    until,
                    every.unwrap_or(crate::store::Every::DAILY),
                )?,
                None => Question::universe(market, q)?,
            };
            (question, output.format)
        }
    })
}

/// `query`: syntax → `Question` → `Database::answer` → `render`.
fn run_query(
    db_path: &std::path::Path,
    market: Market,
    query: Query,
    out: &mut impl std::io::Write,
) -> Result<(), CliError> {
    let with_events = matches!(
        query,
        Query::Timeline {
            with_events: true,
            ..
        }
    );
    let (question, format) = question(market, query)?;
    // A one-shot process spends ~25 ms of ~26 starting DuckDB: the read index file answers
    // what it holds without it. Buffered: stdout is flushed at every line, 1,312 `write`s for
    // a snapshot's JSON.
    if let Some(answer) = crate::question::answer_from_index_file(db_path, &question) {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        return render::answer(&mut out, format, &question, &answer)
            .and_then(|()| std::io::Write::flush(&mut out))
            .map_err(CliError::Output);
    }
    let db = Database::open_market(db_path, question.market())?;
    let answer = db.answer(&question)?;
    if with_events {
        return render::timeline_with_events(out, &answer).map_err(CliError::Output);
    }
    render::answer(out, format, &question, &answer).map_err(CliError::Output)
}

/// `--no-trading` as the run option it stands for.
pub(crate) fn trading(no_trading: bool) -> Trading {
    if no_trading {
        Trading::Skip
    } else {
        Trading::Collect
    }
}

/// Collects `markets` (`None`: those collected before, `collect::run_markets`) and prints
/// each market's summary.
fn collect_with(
    db_path: &std::path::Path,
    remote: &Remote,
    (markets, trading): (Option<&[Market]>, Trading),
    goal: Goal,
    quiet: bool,
) -> Result<(), CliError> {
    let progress = progress(quiet);
    let summaries = runtime()?.block_on(async {
        let cancel = CancellationToken::new();
        tokio::spawn(cancel_on_signal(cancel.clone()));
        collect_once(db_path, remote, (markets, trading), &goal, progress, cancel).await
    })?;
    if !quiet {
        for summary in summaries {
            say!("{summary}");
        }
    }
    Ok(())
}

/// How a collecting command shows progress: nothing with `--quiet`, a bar on a terminal, log
/// lines otherwise.
fn progress(quiet: bool) -> Progress {
    if quiet {
        Progress::Quiet
    } else if std::io::stderr().is_terminal() {
        Progress::Bar
    } else {
        Progress::Log
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// One collection with a fresh client (so its request counts are the run's own): each of
/// `markets` (`None`: those collected before), in one published copy.
async fn collect_once(
    db_path: &std::path::Path,
    remote: &Remote,
    (markets, trading): (Option<&[Market]>, Trading),
    goal: &Goal,
    progress: Progress,
    cancel: CancellationToken,
) -> Result<Vec<Summary>, CollectError> {
    let options = collect::Options {
        concurrency: usize::from(remote.concurrency),
        progress,
        cancel,
        trading,
        // Batches sized to the writer's memory limit (checked at start, so this is its value).
        batch_rows: crate::store::MemoryLimit::from_env()
            .unwrap_or(crate::store::DEFAULT_MEMORY_LIMIT)
            .batch_rows(),
        ..collect::Options::default()
    };
    let client = VisionClient::new(remote.client_config())?;
    collect::run_markets(db_path, &client, goal, &options, markets).await
}

/// The first stop request (SIGTERM or Ctrl-C; on Windows Ctrl-C, Ctrl-Break or `scheduler
/// stop`: `stop`) cancels `token`: the run starts nothing new, commits what it gathered and
/// publishes. A second one exits at once; the unpublished copy is resumed by the
/// next run, so even that loses nothing.
///
/// The listener is set up when this is called (in the runtime), not when the returned future is
/// first polled: set up in the spawned task, a SIGTERM that came before the task first ran (a
/// scheduler stopped right after it said when it would run, under load) ended the process the
/// default way (`scheduler::a_current_spot_only_file_is_not_caught_up_at_start`).
fn cancel_on_signal(token: CancellationToken) -> impl Future<Output = ()> + Send + 'static {
    let signals = Signals::listen();
    async move {
        let Some(mut signals) = signals else {
            return;
        };
        signals.next().await;
        tracing::warn!(
            "stop requested: finishing requests in flight and committing them (signal again to stop at once)"
        );
        token.cancel();
        signals.next().await;
        say!("stopped at once; the next run resumes what was committed");
        // Not `std::process::exit`: it runs C++ static destructors while DuckDB's threads are
        // still committing or checkpointing, which crashed with SIGSEGV (a test round
        // reproduces it). `_exit` ends the process without them; committed batches are in the
        // private copy.
        // SAFETY: `_exit` only ends the process; it touches no state of this program.
        unsafe { libc::_exit(1) }
    }
}
