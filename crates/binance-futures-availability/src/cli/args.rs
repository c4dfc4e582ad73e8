//! The command line's grammar: every subcommand, flag and value parser (clap lives here and in
//! nothing the library exports), and how the `Remote` flags become client settings.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand};

use super::render::{Format, ReportFormat};
use crate::collect;
use crate::config;
use crate::facts::{ContractFilter, Market, TRADING_START};
use crate::question::{MIN_AGE_DAYS, TOP_MEMBERS};
use crate::store::Every;
use crate::store::{
    DEFAULT_DELISTED_AFTER, EventKind, ExportFormat, RankBy, UNIVERSE_DAYS, UniverseQuery,
};
use crate::vision::{ClientConfig, Endpoints, RetryPolicy};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  runtime failure (network, bucket, database, a day after complete-through; `status`: data
     is stale; `validate`: a check failed); what was collected before it is kept
  2  bad usage or input (unknown flag, malformed or out-of-range date, unknown symbol or
     quote, a file that exists without --force)";

/// What `serve --help` says after the endpoints (which come from the router's own table,
/// `serve::help`).
// No `\` after the opening quote: it would swallow the first line's indent.
pub(super) const SERVE_NOTES: &str =
    "  ?market=cm|spot on the database's endpoints asks that market's tables (um unless
  given). ?format=csv (or Accept: text/csv) for CSV. Answers carry ETag/Last-Modified (304 on
  If-None-Match) and are gzipped when asked. A publish by the scheduler is served within a
  second, without a failed request. Only requests for 127.0.0.1, [::1] or localhost with
  the port (and --allow-host names) are answered; others get 421 (DNS rebinding).

Exit codes:
  0  stopped by SIGTERM or Ctrl-C (on Windows also Ctrl-Break)
  1  could not listen (address in use, permission)
  2  bad usage (a non-loopback --addr without --public, an --allow-host that is no name)";

/// Which Binance USD-M futures had a daily 1m-klines file on Binance Vision, day by day since
/// 2019-09-25 — kept in a local DuckDB database and answered in about a millisecond.
///
/// Build or refresh the database with `update` (the first run lists the whole bucket), then ask
/// it with `query snapshot DATE`, `query timeline SYMBOL`, `query range START END`.
#[derive(Debug, Parser)]
#[command(name = "binance-futures-availability", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The database file [default: ~/.cache/binance-futures/availability.duckdb]
    #[arg(long, global = true, env = "BFA_DB", value_name = "PATH")]
    pub(super) db: Option<PathBuf>,
    /// Print no progress and no summary on stderr (errors still go there).
    #[arg(long, short, global = true)]
    pub(super) quiet: bool,
    #[command(subcommand)]
    pub(super) command: Command,
}

impl Cli {
    /// `--quiet`: print only errors.
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Whether this command collects (writes a database from the bucket): `main` tunes the
    /// allocator for those.
    pub fn collects(&self) -> bool {
        matches!(
            self.command,
            Command::Update(_)
                | Command::Backfill(_)
                | Command::Probe(_)
                | Command::Scheduler(_)
                | Command::Catalog(super::catalog::CatalogArgs {
                    command: super::catalog::CatalogCommand::Update { .. },
                    ..
                })
        )
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Ask the database (read-only; never changes the file).
    #[command(after_help = EXIT_CODES)]
    Query(QueryArgs),
    /// Bring the database to yesterday (UTC): new folders get their whole history, known ones
    /// are checked from their last checked day, and recent days without a file are checked
    /// again. The first run on an empty database is a full backfill.
    #[command(after_help = EXIT_CODES)]
    Update(UpdateArgs),
    /// List every (or the given) symbol folder over a date range and record what exists.
    #[command(after_help = EXIT_CODES)]
    Backfill(BackfillArgs),
    /// HEAD-probe one day's file for every known (or the given) symbol, as the original tool's
    /// daily job did.
    #[command(after_help = EXIT_CODES)]
    Probe(ProbeArgs),
    /// Run `update` every day (default 02:00 UTC), unattended.
    #[command(subcommand, after_help = EXIT_CODES)]
    Scheduler(SchedulerCommand),
    /// Answer queries over HTTP (JSON and CSV, exactly as `query` prints them) and show a page
    /// to look at the history, read-only, from the file the scheduler publishes.
    #[command(after_help = super::serve::help())]
    Serve(ServeArgs),
    /// The catalog of every file of Binance Vision — every market, data type, symbol and
    /// interval — in its own file beside the database: `catalog update` builds it, the other
    /// commands ask it.
    #[command(after_help = EXIT_CODES)]
    Catalog(super::catalog::CatalogArgs),
    /// What the database holds, how fresh it is, and how the last run went. Exits 1 when the
    /// data is stale (not checked through the day before yesterday), so it serves as a check.
    #[command(after_help = EXIT_CODES)]
    Status {
        #[arg(long, value_enum, default_value_t)]
        format: ReportFormat,
        /// The catalog to report on too [default: catalog.duckdb beside the database]
        #[arg(long, env = CATALOG_ENV, value_name = "PATH")]
        catalog: Option<PathBuf>,
        #[command(flatten)]
        market: MarketArg,
    },
    /// Check the database: every day of every symbol's life recorded, no day with a sharp drop,
    /// and exchangeInfo's trading perpetuals matched by the latest complete day (>= 95 %).
    #[command(after_help = EXIT_CODES)]
    Validate(ValidateArgs),
    /// Write a consistent copy of the database, or with --catalog of the catalog (safe while
    /// an update runs).
    #[command(after_help = EXIT_CODES)]
    Backup {
        /// The copy to write.
        dest: PathBuf,
        /// Replace DEST if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        which: WhichFile,
    },
    /// Replace the database (or with --catalog the catalog) with a backup, after checking the
    /// backup is one.
    #[command(after_help = EXIT_CODES)]
    Restore {
        /// The backup to restore.
        src: PathBuf,
        /// Replace the existing file.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        which: WhichFile,
    },
    /// Write every table to DEST/<table>.parquet (or .csv) for pandas, polars, duckdb, Spark.
    #[command(after_help = EXIT_CODES, long_about = export_about())]
    Export {
        /// The folder to write into (created if needed).
        dest: PathBuf,
        #[arg(long, default_value = "parquet", value_parser = export_format())]
        format: ExportFormat,
        /// Replace files that exist.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        which: WhichFile,
        #[command(flatten)]
        market: MarketArg,
    },
}

/// The environment variable that names the catalog, as `catalog --catalog` reads it.
pub(crate) const CATALOG_ENV: &str = "BFA_CATALOG";

/// Which file `backup`, `restore` and `export` copy: the database, or the catalog.
#[derive(Debug, Clone, Args)]
pub(crate) struct WhichFile {
    /// The catalog instead of the database: BFA_CATALOG's, else catalog.duckdb beside the
    /// database; --catalog=PATH names another.
    #[arg(long, value_name = "PATH", num_args = 0..=1, require_equals = true)]
    pub catalog: Option<Option<PathBuf>>,
}

impl WhichFile {
    /// The catalog's path when --catalog was given: the one named, else `BFA_CATALOG`'s, else
    /// `catalog.duckdb` beside `db`. Never the environment alone: a `BFA_CATALOG` set for the
    /// catalog commands must not turn `backup` of the database into one of the catalog.
    pub(crate) fn catalog(&self, db: &std::path::Path) -> Option<PathBuf> {
        let named = self.catalog.as_ref()?;
        Some(catalog_path(
            db,
            named.clone().or_else(|| {
                std::env::var_os(CATALOG_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            }),
        ))
    }
}

/// The catalog's path: the one given, else `catalog.duckdb` beside the database.
pub(crate) fn catalog_path(db: &std::path::Path, given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| crate::store::Catalog::beside(db))
}

/// `--catalog PATH`: which catalog file, for `catalog` and `serve` alike.
#[derive(Debug, Clone, Args)]
pub(crate) struct CatalogLocation {
    /// The catalog file [default: catalog.duckdb beside the database]
    #[arg(long = "catalog", global = true, env = CATALOG_ENV, value_name = "PATH")]
    pub given: Option<PathBuf>,
}

impl CatalogLocation {
    /// `catalog_path` of what was given.
    pub(crate) fn path(&self, db: &std::path::Path) -> PathBuf {
        catalog_path(db, self.given.clone())
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum SchedulerCommand {
    /// Run in the foreground (for systemd or a container): catch up at once if the last
    /// successful update is older than yesterday, then update daily. SIGTERM or Ctrl-C stops
    /// it (on Windows also Ctrl-Break and `scheduler stop`); an update in progress commits what
    /// it gathered first.
    Run(ScheduleArgs),
    /// Like `run`; with --daemon, detach and write the pid file and log next to the database.
    Start {
        /// Detach from the terminal and return once the scheduler runs.
        #[arg(long)]
        daemon: bool,
        #[command(flatten)]
        args: ScheduleArgs,
    },
    /// Stop the running scheduler (SIGTERM; on Windows its stop event) and wait for it to finish
    /// its work.
    Stop {
        /// Seconds to wait for an update in progress to commit (1 to 86400).
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
    },
    /// Whether the scheduler runs, its last run and the next one.
    Status {
        #[arg(long, value_enum, default_value_t)]
        format: ReportFormat,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ScheduleArgs {
    /// The daily time to update, HH:MM in UTC.
    #[arg(long, default_value = "02:00", value_parser = crate::schedule::Schedule::parse)]
    pub at: crate::schedule::Schedule,
    /// Recent days without a file to check again at each update (0 to 3650).
    #[arg(long, default_value_t = collect::DEFAULT_LOOKBACK, value_parser = lookback_days)]
    pub lookback: u32,
    /// Where a detached scheduler's output goes (set by `start --daemon`).
    #[arg(long, hide = true)]
    pub detached_log: Option<PathBuf>,
    /// Collect availability only: skip the 1d klines files (trading days, volumes) at every update.
    #[arg(long)]
    pub no_trading: bool,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where to listen. Loopback unless --public is given too.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "IP:PORT")]
    pub addr: std::net::SocketAddr,
    /// Allow an --addr other machines can reach. There is no authentication: anyone who
    /// reaches the port reads the whole database.
    #[arg(long)]
    pub public: bool,
    /// Also answer requests for this host name (as a browser sends it in Host; NAME or
    /// NAME:PORT), e.g. a reverse proxy's. Otherwise only 127.0.0.1, [::1] and localhost with
    /// the port are answered (421 for others), so that a web page cannot read the API through
    /// DNS rebinding. Repeatable.
    #[arg(long, value_name = "NAME[:PORT]")]
    pub allow_host: Vec<String>,
    /// Connections open at once at most; more wait in the kernel's backlog.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_connections: u32,
    /// Longest a request may wait for and run its query, in seconds (503 after); also how long
    /// a client may take to send its headers.
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=300))]
    pub request_timeout: u64,
    /// Megabytes of answers kept per published file for repeat questions (0: none); a catalog
    /// files or changes answer is kept when within a sixteenth of it. A file never changes, so
    /// a kept answer is right until the next publish, which starts afresh.
    // 128: the realistic bucket's every snapshot is ~72 MB of answers; with 64 the misses were
    // the load bench's p99 (8.9-10.5 ms against 5.0-5.2 ms at 128), and serve's RSS after the
    // run was not higher at 128 (207-209 MB against 235-284 MB): BENCHMARKS.md, session 20.
    #[arg(long, default_value_t = 128, value_name = "MB", value_parser = clap::value_parser!(u32).range(0..=16_384))]
    pub cache_mb: u32,
    /// Read-only handles on the database, i.e. queries running at once (default: one per core);
    /// as many again on the catalog.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub handles: Option<u16>,
    #[command(flatten)]
    pub catalog: CatalogLocation,
    /// Files one /v1/catalog/files answer lists at most, and changes one /v1/catalog/changes
    /// answer lists; a question matching more is refused (400, before any is read) with a
    /// sentence saying how to narrow it.
    #[arg(long, default_value_t = super::serve::DEFAULT_MAX_FILES, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_files: u64,
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// exchangeInfo to compare with: a URL, a file holding a saved response, or `none` to skip
    /// the comparison (the checks of the file run either way) [default: the market's:
    /// https://fapi.binance.com/fapi/v1/exchangeInfo for um, https://dapi.binance.com/dapi/v1/exchangeInfo
    /// for cm, https://api.binance.com/api/v3/exchangeInfo for spot]
    #[arg(long, env = "BFA_EXCHANGE_INFO_URL", value_name = "FILE|URL|none")]
    pub exchange_info: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
    #[command(flatten)]
    pub market: MarketArg,
}

/// `query`: the market asked about, and the question.
#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    pub market: MarketArg,
    #[command(subcommand)]
    pub question: Query,
}

/// `--market`: whose folders a command collects or asks about, one of the markets a database
/// keeps (`store::KEPT_MARKETS`).
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct MarketArg {
    /// The market: um (USD-M futures), cm (COIN-M futures) or spot, each kept in tables of its
    /// own.
    #[arg(long, global = true, default_value = "um", value_parser = kept_market())]
    pub market: Market,
}

/// `--markets`: which markets `update` and `backfill` collect, each a run of its own in the
/// run log, all published together. `--market` is the same flag (one market, as it was).
#[derive(Debug, Clone, Args)]
pub(crate) struct MarketsArg {
    /// The markets to collect, comma-separated: um (USD-M futures), cm (COIN-M futures), spot,
    /// each into tables of its own [default: update: every market collected before (um for a
    /// new database); backfill: um]
    #[arg(long, alias = "market", value_delimiter = ',', value_parser = kept_market())]
    pub markets: Option<Vec<Market>>,
}

/// The markets `--market` and `--markets` accept: those a database keeps.
fn kept_market() -> impl clap::builder::TypedValueParser<Value = Market> {
    clap::builder::PossibleValuesParser::new(crate::store::KEPT_MARKETS.map(|m| m.name()))
        .map(|s| s.parse::<Market>().unwrap_or_default())
}

#[derive(Debug, Subcommand)]
pub(crate) enum Query {
    /// Symbols with a file on DATE.
    Snapshot {
        /// The day, YYYY-MM-DD (UTC).
        #[arg(value_parser = parse_day)]
        date: NaiveDate,
        #[arg(long, default_value = "perpetual", value_parser = contract_filter())]
        contract: ContractFilter,
        #[command(flatten)]
        output: Output,
    },
    /// A symbol's days: first and last file, gaps, how far it has been checked.
    Timeline {
        /// The symbol folder name, e.g. BTCUSDT (case-insensitive).
        symbol: String,
        /// With --format json: one object, {"symbol", "days", "events", "trading"}, instead of
        /// the array of days (the folder as `query symbols` lists it, its days, its events by
        /// the default rule, its 1d rows).
        #[arg(long)]
        with_events: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Every symbol with a file on at least one day in [START, END].
    Range {
        #[arg(value_parser = parse_day)]
        start: NaiveDate,
        #[arg(value_parser = parse_day)]
        end: NaiveDate,
        #[arg(long, default_value = "perpetual", value_parser = contract_filter())]
        contract: ContractFilter,
        #[command(flatten)]
        output: Output,
    },
    /// Every symbol folder the database knows: its kind, first and last file, how far it has
    /// been checked.
    Symbols {
        #[command(flatten)]
        output: Output,
    },
    /// A symbol's life as events: listing, gaps, delisting, relisting, by date then symbol.
    ///
    /// A gap is a run of verified-absent days inside a life; one of --delisted-after days or
    /// more ends the life (a delisting on the last trade before it, a relisting on the first
    /// file after). A life's end is asserted once the folder was checked --delisted-after days
    /// past its last trade with no trade since; until then the symbol is open. Delivery
    /// contracts end on their delivery day; settled folders name their base symbol.
    Events {
        /// First day, inclusive.
        #[arg(long, value_parser = parse_day)]
        since: Option<NaiveDate>,
        /// Last day, inclusive.
        #[arg(long, value_parser = parse_day)]
        until: Option<NaiveDate>,
        /// Only events of this kind.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(EventKind::NAMES)
              .map(|s| EventKind::parse(&s).unwrap_or(EventKind::Listing)))]
        kind: Option<EventKind>,
        /// Only this symbol folder (case-insensitive).
        #[arg(long, value_parser = symbol_name)]
        symbol: Option<String>,
        /// Only perpetual or only delivery contracts (a delivery contract's delisting is its
        /// delivery).
        #[arg(long, default_value = "all", value_parser = contract_filter())]
        contract: ContractFilter,
        #[command(flatten)]
        rule: LifeRule,
        #[command(flatten)]
        output: Output,
    },
    /// The symbols tradable as of the start of DATE, decided only from facts dated before it
    /// (no lookahead), ranked by liquidity.
    ///
    /// A member's current life began with a trade at least --min-age days before DATE, and it
    /// traded within the --recent days before DATE. It is ranked by its mean over the --window
    /// days before DATE (the days with a 1d row; zero-trade days count as 0). traded_on_date
    /// is known only after the fact and decides nothing; it is empty while DATE is unchecked.
    ///
    /// With --until END: the universe of every rebalance date from DATE through END, one row
    /// per date and member (date, symbol, rank, mean_quote_volume, days_listed,
    /// traded_on_date) by date then rank, each date's rows those of `query universe` of that
    /// date with the same flags.
    Universe {
        /// The day, YYYY-MM-DD (UTC); with --until, the first day of the panel.
        #[arg(value_parser = parse_day)]
        date: NaiveDate,
        /// The last day of a panel, inclusive: every rebalance date from DATE through END.
        #[arg(long, value_name = "END", value_parser = parse_day)]
        until: Option<NaiveDate>,
        /// Which days of a panel rebalance: 1d (every day), 1w (every Monday), 1mo (the first
        /// day of every month), Nd (every N days from DATE) [default: 1d].
        #[arg(long, requires = "until", value_parser = every)]
        every: Option<Every>,
        #[arg(long, default_value_t = UniverseQuery::DEFAULT_CONTRACTS, value_parser = contract_filter())]
        contract: ContractFilter,
        /// Only symbols of this quote asset, e.g. USDT, case-insensitive [default: every quote].
        #[arg(long, value_parser = symbol_name)]
        quote: Option<String>,
        /// Rank settled folders (ICPUSDT_SETTLED) beside their live symbols too; by default
        /// each symbol is ranked once, under the name it trades under.
        #[arg(long)]
        include_settled: bool,
        /// Days from the first trade of the current life to DATE, at least (0 to 3650).
        #[arg(long, default_value_t = UniverseQuery::DEFAULT_MIN_AGE, value_parser = days_in(MIN_AGE_DAYS))]
        min_age: u32,
        /// A trade within this many days before DATE (1: on the day before; 1 to 3650).
        #[arg(long, default_value_t = UniverseQuery::DEFAULT_RECENT, value_parser = universe_days())]
        recent: u32,
        /// The most liquid N only [default: every member].
        #[arg(long, value_parser = clap::value_parser!(u32).range(i64::from(*TOP_MEMBERS.start())..))]
        top: Option<u32>,
        /// What ranks them.
        #[arg(long, default_value_t = UniverseQuery::DEFAULT_BY,
              value_parser = clap::builder::PossibleValuesParser::new(RankBy::NAMES)
              .map(|s| RankBy::parse(&s).unwrap_or_default()))]
        by: RankBy,
        /// Days before DATE whose mean ranks the members (1 to 3650).
        #[arg(long, default_value_t = UniverseQuery::DEFAULT_WINDOW, value_parser = universe_days())]
        window: u32,
        #[command(flatten)]
        rule: LifeRule,
        #[command(flatten)]
        output: Output,
    },
    /// Every folder's lives (or one symbol's), one row per life by symbol then life: its first
    /// and last file and trade, the day it ended (empty while open) and the gap before it.
    ///
    /// The lives `query events` tells: a gap of --delisted-after days or more ends a life and
    /// the first file after it begins the next; the last life ends once checked
    /// --delisted-after days past its last trade, a delivery contract on its delivery.
    Lives {
        /// Only this symbol folder (case-insensitive).
        #[arg(long, value_parser = symbol_name)]
        symbol: Option<String>,
        #[command(flatten)]
        rule: LifeRule,
        #[command(flatten)]
        output: Output,
    },
    /// Symbols with a file per day (every covered day through complete-through, or [START, END]).
    Summary {
        #[arg(value_parser = parse_day, requires = "end")]
        start: Option<NaiveDate>,
        #[arg(value_parser = parse_day)]
        end: Option<NaiveDate>,
        #[command(flatten)]
        output: Output,
    },
}

/// `--every 1d|1w|1mo|Nd`, the library's `Every`.
fn every(text: &str) -> Result<Every, crate::store::BadEvery> {
    Every::parse(text)
}

/// When a life has ended.
#[derive(Debug, Args)]
pub(crate) struct LifeRule {
    /// Days a folder must be checked past its last trade before its end is asserted, and the
    /// shortest gap that ends a life (1 to 3650).
    #[arg(long, default_value_t = DEFAULT_DELISTED_AFTER, value_parser = universe_days())]
    pub delisted_after: u32,
}

/// A count of days for `universe` and the life rule.
fn universe_days() -> clap::builder::RangedI64ValueParser<u32> {
    days_in(UNIVERSE_DAYS)
}

/// A count within the library's `bounds` (`question`'s), as clap checks it.
fn days_in(bounds: std::ops::RangeInclusive<u32>) -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(i64::from(*bounds.start())..=i64::from(*bounds.end()))
}

#[derive(Debug, Args)]
pub(crate) struct Output {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Where the bucket is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub(crate) struct Remote {
    /// Path-style S3 URL of the bucket, for listing.
    #[arg(long, env = "BFA_S3_URL", default_value = config::DEFAULT_S3_URL, value_name = "URL")]
    pub s3_url: String,
    /// Base URL the files are served from.
    #[arg(long, env = "BFA_DATA_URL", default_value = config::DEFAULT_DATA_URL, value_name = "URL")]
    pub data_url: String,
    /// Requests in flight at most (a 1d file's zip and its CHECKSUM go together as one).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(collect::limits::CONCURRENCY))]
    pub concurrency: u16,
    /// Attempts per request for transient failures (timeouts, 5xx, 429), the first included.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(collect::limits::ATTEMPTS))]
    pub attempts: u32,
    /// First retry backoff in milliseconds; doubles per attempt, with jitter.
    #[arg(long, env = "BFA_RETRY_BASE_MS", default_value_t = 200, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub retry_base_ms: u64,
    /// Read timeout per request, in milliseconds.
    #[arg(
        long,
        env = "BFA_READ_TIMEOUT_MS",
        default_value_t = 30_000,
        hide = true,
        value_parser = clap::value_parser!(u64).range(10..=600_000)
    )]
    pub read_timeout_ms: u64,
    /// Longest one request may take, body included, in seconds (1 to 3600): a server that
    /// trickles its answer is given up on and retried.
    #[arg(long, env = "BFA_REQUEST_TIMEOUT", default_value_t = 120, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(collect::limits::REQUEST_TIMEOUT_SECS))]
    pub request_timeout: u64,
}

impl Remote {
    /// The client these flags describe: the one place they become client settings.
    pub(super) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(Endpoints {
            s3_url: self.s3_url.clone(),
            data_url: self.data_url.clone(),
        });
        config.retry = RetryPolicy {
            max_attempts: self.attempts,
            base_delay: Duration::from_millis(self.retry_base_ms),
            ..RetryPolicy::default()
        };
        config.read_timeout = Duration::from_millis(self.read_timeout_ms);
        config.request_timeout = Duration::from_secs(self.request_timeout);
        config
    }

    /// These flags as arguments, for a detached scheduler to parse back (tested: every field
    /// survives the round trip, so a new flag cannot silently fail to reach the daemon).
    pub(super) fn to_args(&self) -> Vec<String> {
        let Remote {
            s3_url,
            data_url,
            concurrency,
            attempts,
            retry_base_ms,
            read_timeout_ms,
            request_timeout,
        } = self;
        [
            ("--s3-url", s3_url.clone()),
            ("--data-url", data_url.clone()),
            ("--concurrency", concurrency.to_string()),
            ("--attempts", attempts.to_string()),
            ("--retry-base-ms", retry_base_ms.to_string()),
            ("--read-timeout-ms", read_timeout_ms.to_string()),
            ("--request-timeout", request_timeout.to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .collect()
    }
}

/// `--contract perpetual|delivery|all`, the library's `ContractFilter` (clap stays here).
fn contract_filter() -> impl TypedValueParser<Value = ContractFilter> {
    // The parser admits only `NAMES`, so `parse` always finds one.
    clap::builder::PossibleValuesParser::new(ContractFilter::NAMES)
        .map(|s| ContractFilter::parse(&s).unwrap_or_default())
}

/// `export --help`: the tables it writes, from the list `export` writes them from.
fn export_about() -> String {
    let tables: Vec<&str> = crate::store::exported_tables().collect();
    let (last, rest) = tables.split_last().unwrap_or((&"", &[]));
    let catalog: Vec<String> = crate::store::catalog_exported_files()
        .map(|(name, holds)| format!("  {name}: {holds}"))
        .collect();
    format!(
        "Write {} and {last} to DEST/<table>.parquet (or .csv) for pandas, polars, duckdb, \
         Spark. Timestamps are UTC.\n\nWith --catalog, the catalog instead, to \
         DEST/catalog_<table>.parquet (or .csv), keys rebuilt:\n{}",
        rest.join(", "),
        catalog.join("\n")
    )
}

/// `--format parquet|csv` for `export`.
fn export_format() -> impl TypedValueParser<Value = ExportFormat> {
    // The parser admits only `NAMES`, so `parse` always finds one.
    clap::builder::PossibleValuesParser::new(ExportFormat::NAMES)
        .map(|s| ExportFormat::parse(&s).unwrap_or(ExportFormat::Parquet))
}

/// A `--lookback` that is not a number of days within the limits.
#[derive(Debug, thiserror::Error)]
#[error(
    "{text:?} is not a number of days from 0 to 3650 (ten years reach back before trading \
     began on {TRADING_START})"
)]
struct BadLookback {
    text: String,
}

/// `--lookback`: a whole number of days, at most ten years (more is before trading began).
fn lookback_days(text: &str) -> Result<u32, BadLookback> {
    match text.parse::<u32>() {
        Ok(days) if collect::limits::LOOKBACK_DAYS.contains(&i64::from(days)) => Ok(days),
        _ => Err(BadLookback {
            text: text.to_string(),
        }),
    }
}

/// `--symbols A,B`: each a name a symbol folder can have (see `vision::check_symbol`).
fn symbol_name(text: &str) -> Result<String, crate::vision::BadSymbol> {
    crate::vision::check_symbol(text).map(|()| text.to_string())
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// Recent days without a file to check again (files arrive late and get replaced; 0 to 3650).
    #[arg(long, default_value_t = collect::DEFAULT_LOOKBACK, value_parser = lookback_days)]
    pub lookback: u32,
    /// Collect availability only: skip the 1d klines files (trading days, volumes) for this run.
    #[arg(long)]
    pub no_trading: bool,
    #[command(flatten)]
    pub markets: MarketsArg,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct BackfillArgs {
    /// First day [default: each market's first: 2019-09-25 for um, 2020-08-11 for cm,
    /// 2017-08-17 for spot]
    #[arg(long, value_parser = parse_day)]
    pub start: Option<NaiveDate>,
    /// Last day [default: yesterday, UTC]
    #[arg(long, value_parser = parse_day)]
    pub end: Option<NaiveDate>,
    /// Only these symbol folders, comma-separated, case-insensitive (default: every folder).
    #[arg(long, value_delimiter = ',', value_parser = symbol_name)]
    pub symbols: Option<Vec<String>>,
    /// Collect availability only: skip the 1d klines files (trading days, volumes) for this run.
    #[arg(long)]
    pub no_trading: bool,
    #[command(flatten)]
    pub markets: MarketsArg,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    #[arg(value_parser = parse_day)]
    pub date: NaiveDate,
    /// Only these symbols, comma-separated, case-insensitive (default: every known symbol).
    #[arg(long, value_delimiter = ',', value_parser = symbol_name)]
    pub symbols: Option<Vec<String>>,
    #[command(flatten)]
    pub market: MarketArg,
    #[command(flatten)]
    pub remote: Remote,
}

/// `YYYY-MM-DD` within 2017-08-17 ..= today (UTC): the library's one grammar of a day (each
/// market's first day is checked where the question names it: `Market::check_day`).
fn parse_day(text: &str) -> Result<NaiveDate, crate::facts::DayError> {
    crate::facts::parse_day(text, Utc::now().date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        remote: Remote,
    }

    #[test]
    fn every_remote_flag_reaches_a_detached_scheduler() {
        let remote = Remote {
            s3_url: "http://127.0.0.1:1/b?x=1".into(),
            data_url: "http://127.0.0.1:2".into(),
            concurrency: 7,
            attempts: 3,
            retry_base_ms: 11,
            read_timeout_ms: 1234,
            request_timeout: 99,
        };
        let args = std::iter::once("bfa".to_string()).chain(remote.to_args());
        assert_eq!(Flags::try_parse_from(args).unwrap().remote, remote);
    }
}
