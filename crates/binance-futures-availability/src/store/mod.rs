//! DuckDB: the schema and its migrations, the writes (bulk upserts in transactions, the run log)
//! and the reads (the queries). It knows nothing of HTTP; it stores what `collect` observed.
//!
//! A read opens the file read-only and never runs DDL, so querying a database someone downloaded
//! leaves it byte-identical. Only `Database::open_for_write` creates or migrates a file.
//!
//! A database file can come from anyone, and DuckDB files hold code (views, macros) as well as
//! data. Every connection is opened with external access off (no file, URL or extension can be
//! reached from SQL), without automatic extension install or load, and read-only ones with their
//! configuration locked; a file with views or macros is refused (`StoreError::Untrusted`) by
//! every write, `restore`, `backup` and `export`.

mod backup;
mod catalog;
mod checked;
mod error;
mod files;
mod index;
mod index_file;
mod layout;
mod lives;
mod lives_index;
mod lock;
pub(crate) mod os;
mod panel;
mod read;
mod runs;
mod schema;
mod session;
mod trading;
mod write;

use std::path::{Path, PathBuf};

use duckdb::{AccessMode, Config, Connection};

use crate::facts::Market;

pub use backup::{
    ExportFormat, backup, backup_catalog, catalog_exported_files, export, export_catalog,
    exported_tables, restore, restore_catalog,
};
pub use catalog::export::{
    CatalogExported, ExportRefused, ExportSelection, MANIFEST, check_export_destination,
    export_for_engines, file_columns, partition_columns,
};
pub use catalog::status::{CatalogStatus, CrawlRecord, DEFAULT_CATALOG_NAME, RecordedChanges};
pub use catalog::{
    CATALOG_VERSION, Catalog, CatalogFile, CatalogGap, Change, ChangeCounts, ChangeKind,
    ChangeListing, ChangeQuery, ChangedFile, DatasetSummary, FileListing, FileQuery, FolderListing,
    Lag, LeafListing, ListedFile, Scope, StoredLeaf, Stray, StrayReason, SymbolSummary,
    period_number, period_span, symbol_folder,
};
pub use checked::published_through;
pub use error::{Awaiting, RoomFor, StoreError};
pub use files::{Beside, resolve};
pub(crate) use files::{Claim, Identity, claim, still_named_by};
pub use index::MAX_INDEXED_ROWS;
pub use index_file::IndexFile;
pub use layout::SORT_SLACK_DAYS;
pub use lives::LifeRow;
pub use lives::{
    DEFAULT_DELISTED_AFTER, Event, EventFilter, EventKind, Member, RankBy, UNIVERSE_DAYS,
    UniverseQuery,
};
pub use lock::{LockError, WriterLock};
pub use panel::{BadEvery, Every, PANEL_DATES, PanelQuery, PanelRow};
pub use read::{
    DayCount, DbStatus, DuplicateDay, Gap, GapKind, RangeRow, SnapshotRow, SymbolCounts, SymbolDay,
    SymbolRecord, Timeline, TimelineDay, TradingStatus,
};
pub use runs::{RunEnd, RunId, RunKind, RunOutcome, RunRecord, RunStatus};
pub use schema::{KEPT_MARKETS, SCHEMA_VERSION};
pub use session::{Published, WriteSession};
pub use trading::{Disagreement, MismatchDay, MismatchKind, ReadFile, TradingFile, TradingState};
pub use write::{AvailabilityRow, Batch, Seen, SymbolUpdate};

/// An open availability database.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use binance_futures_availability::store::Database;
/// use binance_futures_availability::facts::ContractFilter;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("availability.duckdb");
/// Database::open_for_write(&path)?; // creates the file with the current schema
/// let db = Database::open(&path)?; // read-only
/// let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 15).unwrap();
/// // Nothing is checked yet: a question about a day is refused, not answered "none".
/// assert!(db.snapshot(day, ContractFilter::Perpetual).is_err());
/// # Ok(()) }
/// ```
pub struct Database {
    conn: Connection,
    path: PathBuf,
    /// The market whose tables the connection's unqualified names reach (`select_market`),
    /// and the schema they are in.
    market: Market,
    schema: &'static str,
    /// Every symbol by name, read on the first lookup: `timeline` looks its symbol up on every
    /// call, and the table is small and changes only through `write_batch`, which clears this.
    known_symbols: std::cell::OnceCell<std::collections::HashMap<String, SymbolRecord>>,
    /// `layout`'s split as timelines use it, read on the first timeline (see `layout`).
    split: std::cell::OnceCell<chrono::NaiveDate>,
    /// Which file `open` found at the path before opening it (`None` for a writer's handle):
    /// `republished` compares the path's file with it.
    opened: Option<Identity>,
    /// Whether snapshots and ranges are answered from `read_index` (`keep_read_index`).
    keep_index: bool,
    /// Every row with a file, read on the first snapshot or range of a handle that keeps it
    /// (see `index`); `None` inside when the file has too many to keep.
    read_index: std::cell::OnceCell<Option<std::sync::Arc<index::ReadIndex>>>,
    /// `checked_since` and `complete_through`, kept with the read index (`checked_span`).
    checked_span: std::cell::OnceCell<(Option<chrono::NaiveDate>, Option<chrono::NaiveDate>)>,
    /// Every symbol's gaps and runs of trading days, read on the first `events` or `universe`
    /// (see `lives`); the writes clear it.
    lives: std::cell::OnceCell<lives::Lives>,
    /// Whether the file's schema has the stored lives index (`lives_index`; schema 7).
    stored_lives: bool,
    /// The file's schema version: `SCHEMA_VERSION` but for a read-only handle on an older
    /// file (`schema::READABLE_FROM`), which has no tables of a market kept since.
    version: i32,
    /// The earliest day a trading write of this handle stored since the last `tidy`: a
    /// backfill's rows reach far back and are re-sorted by date before publishing (`layout`).
    trading_unsorted_from: Option<chrono::NaiveDate>,
    /// Batches this handle committed.
    committed_batches: u64,
    /// Whether questions about days after "complete through" are answered from what is stored
    /// (`answering_unchecked`) instead of refused.
    answer_unchecked: std::cell::Cell<bool>,
    /// What DuckDB may hold: a writer checkpoints by it (`MemoryLimit::wal_limit`) and sizes
    /// the chunks of its sorts by it (`layout`).
    memory: MemoryLimit,
}

impl Database {
    /// `open`, with `market`'s tables selected (`select_market`): what every reader about one
    /// market (a query, `status`, `validate`, serve's and Python's handles) opens.
    pub fn open_market(path: &Path, market: Market) -> Result<Database, StoreError> {
        let mut db = Database::open(path)?;
        db.select_market(market)?;
        Ok(db)
    }

    /// Opens an existing database read-only. Never creates, migrates or otherwise changes it.
    /// A path that is a symlink is resolved as writers resolve it (`files::resolve`): DuckDB,
    /// with external access off, allows only the named file and its `.wal` beside the *link*,
    /// then refuses the target's `.wal` when it opens the file, so every read through a link
    /// failed while writes (which resolve) succeeded. `path()` still answers the path as given.
    pub fn open(path: &Path) -> Result<Database, StoreError> {
        // Looked at before opening: a publish in between reads as one more republish, and the
        // holder opens again, never keeping a handle on a file other than the one recorded.
        let opened = Identity::of(path)?;
        let conn = connect_read_only(&files::resolve(path)?)?;
        let version = check_version(&conn, path, Older::Refuse)?;
        let mut db = Database::wrap(conn, path);
        db.stored_lives = version >= schema::LIVES_INDEX_SINCE;
        db.version = version;
        db.opened = Some(opened);
        Ok(db)
    }

    /// Opens read-only for `export`: like `open`, except that SQL may write files into `dest`
    /// (created if needed) and nowhere else.
    pub(crate) fn open_for_export(path: &Path, dest: &Path) -> Result<Database, StoreError> {
        // Checked with the locked, hardened connection first: no code runs before the export.
        let checked = Database::open(path)?;
        checked.check_thoroughly()?;
        let mut db = Database::wrap(connect_for_export(path, dest)?, path);
        db.stored_lives = checked.stored_lives;
        db.version = checked.version;
        Ok(db)
    }

    /// Checks, read-only, that the file at `path` may be copied and written: absent, or a
    /// database of ours (any version up to this binary's) without views or macros. Returns
    /// the id of its newest logged run (0 when none).
    pub(crate) fn check_writable(path: &Path) -> Result<i64, StoreError> {
        if !path.exists() {
            return Ok(0);
        }
        // DuckDB would take an empty file for a new database; a user pointing at one meant
        // something else.
        if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            return Err(StoreError::NotOurs {
                path: path.to_path_buf(),
            });
        }
        let conn = connect_read_only(path)?;
        // An older version is fine: the write migrates the copy.
        check_version(&conn, path, Older::Migrate)?;
        check_no_code(&conn, path, &availability_views())?;
        conn.query_row(
            "SELECT coalesce(max(id), 0) FROM collection_runs",
            [],
            |r| r.get(0),
        )
        .map_err(|source| duck(path, "reading the run log", source))
    }

    /// Opens (creating folders and file if needed) for writing, and runs forward migrations.
    pub fn open_for_write(path: &Path) -> Result<Database, StoreError> {
        let (conn, memory) = connect_for_write(path)?;
        let mut db = Database::wrap(conn, path);
        db.memory = memory;
        schema::migrate(&mut db)?;
        check_no_code(&db.conn, path, &availability_views())?;
        Ok(db)
    }

    /// Refuses the file if it holds a view or a macro (see `check_no_code`); for files that
    /// enter: `restore`, `backup`, `export`.
    pub(crate) fn check_thoroughly(&self) -> Result<(), StoreError> {
        check_no_code(&self.conn, &self.path, &availability_views())
    }

    /// A handle on an opened connection; nothing read yet.
    fn wrap(conn: Connection, path: &Path) -> Database {
        Database {
            conn,
            path: path.to_path_buf(),
            market: Market::Um,
            schema: "main",
            known_symbols: Default::default(),
            opened: None,
            keep_index: false,
            read_index: Default::default(),
            checked_span: Default::default(),
            lives: Default::default(),
            stored_lives: true,
            version: SCHEMA_VERSION,
            trading_unsorted_from: None,
            split: Default::default(),
            committed_batches: 0,
            answer_unchecked: std::cell::Cell::new(false),
            memory: DEFAULT_MEMORY_LIMIT,
        }
    }

    /// Points every later question and write of this handle at `market`'s tables (USD-M's
    /// until called). Each market's tables are the same, in a schema of its own (ADR 0019): the
    /// store's SQL names them unqualified and DuckDB resolves the names in the schema this sets,
    /// so no statement can mix two markets' rows. What the handle had read of the previous
    /// market is forgotten.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use binance_futures_availability::{facts::Market, store::Database};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("availability.duckdb");
    /// Database::open_for_write(&path)?;
    /// let mut db = Database::open(&path)?;
    /// db.select_market(Market::Cm)?;
    /// assert!(db.symbols()?.is_empty());
    /// db.select_market(Market::Spot)?;
    /// assert!(db.symbols()?.is_empty());
    /// // Options are not kept: said, not answered empty.
    /// assert!(db.select_market(Market::Option).is_err());
    /// # Ok(()) }
    /// ```
    pub fn select_market(&mut self, market: Market) -> Result<(), StoreError> {
        let schema = schema::schema_of(market).ok_or(StoreError::MarketNotKept { market })?;
        let since = schema::kept_since(market);
        if self.version < since {
            // A version 6 or 7 file is read as it is (ADR 0021), and has no `spot` schema:
            // said, rather than DuckDB's "schema not found".
            return Err(StoreError::MarketNotInFile {
                path: self.path.clone(),
                market,
                found: self.version,
                since,
            });
        }
        if self.trading_unsorted_from.is_some() {
            // The layout marks of one market's writes would be applied to another's tables.
            self.tidy()?;
        }
        self.conn
            .execute_batch(&format!("SET schema = '{schema}'"))
            .map_err(self.err("choosing the market's tables"))?;
        self.market = market;
        self.schema = schema;
        self.known_symbols = Default::default();
        self.split = Default::default();
        self.read_index = Default::default();
        self.checked_span = Default::default();
        self.lives = Default::default();
        Ok(())
    }

    /// `schema` qualified by the file's catalog, for SQL that names another market's tables:
    /// DuckDB names a file's catalog after the file (`spot.duckdb` → `spot`), and `spot.symbols`
    /// is then ambiguous between that catalog and the schema `spot` (a Python user's
    /// `spot.duckdb` failed its first publish so).
    pub(super) fn qualified(&self, schema: &str) -> Result<String, StoreError> {
        let catalog: String = self
            .conn
            .query_row("SELECT current_database()", [], |r| r.get(0))
            .map_err(self.err("reading the file's catalog name"))?;
        Ok(format!("\"{}\".{schema}", catalog.replace('"', "\"\"")))
    }

    /// The market this handle's questions and writes are about.
    pub fn market(&self) -> Market {
        self.market
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Batches this handle has committed with `write_batch`.
    pub fn committed_batches(&self) -> u64 {
        self.committed_batches
    }

    /// Checkpoints, and tells whether more than a quarter of the file's blocks are free: DuckDB
    /// reuses freed blocks but never gives them back, so a file whose rows were sorted after a
    /// checkpoint (a first load, `layout`) stays about twice its size (22.8 MB for 11.8 MB of
    /// rows in the queries bench) until it is rewritten.
    fn mostly_free(&self) -> Result<bool, StoreError> {
        self.conn
            .execute_batch("CHECKPOINT")
            .and_then(|()| {
                self.conn.query_row(
                    "SELECT free_blocks * 4 > total_blocks FROM pragma_database_size()
                     WHERE database_name = current_database()",
                    [],
                    |r| r.get(0),
                )
            })
            .map_err(self.err("measuring the file's free blocks"))
    }

    /// Checkpoints (folding the write-ahead log into the file) and closes; a file left with
    /// more than a quarter of its blocks free (an in-place sort) is then rewritten compact
    /// through `<file>.compact` (see `backup::compact`).
    pub fn close(self) -> Result<(), StoreError> {
        let compact = self.mostly_free()?;
        let path = self.path.clone();
        self.close_as_is()?;
        if compact {
            backup::compact(&path, &Beside::of(&path).compacting(), None)?;
        }
        Ok(())
    }

    /// Checkpoints and closes, leaving the file as it is.
    fn close_as_is(self) -> Result<(), StoreError> {
        let path = self.path;
        self.conn
            .execute_batch("CHECKPOINT")
            .map_err(|source| duck(&path, "checkpointing the file", source))?;
        self.conn
            .close()
            .map_err(|(_, source)| duck(&path, "closing the file", source))
    }

    /// Lays the rows out as the writes since the last `tidy` require (`layout`) and closes, for
    /// a writer about to publish. Sorts of a whole table are made while the file is rewritten
    /// compact, into `<file>.compact`, and never inside the file, where the old and the sorted
    /// table lay side by side before the rewrite copied them (a first load's disk peak, issue
    /// 24 point 15: 2.8× the result).
    pub(crate) fn lay_out_and_close(mut self) -> Result<(), StoreError> {
        self.build_lives()?;
        let plan = self.layout_plan()?;
        if !plan.sorts() {
            self.tidy_in_place(plan)?;
            return self.close();
        }
        let path = self.path.clone();
        self.close_as_is()?;
        backup::compact(&path, &Beside::of(&path).compacting(), Some(plan))
    }

    /// Folds the write-ahead log into the file once it has grown past `MemoryLimit::wal_limit`: called after
    /// every committed batch, so the log beside a writer's copy stays within an eighth of the
    /// memory limit plus one batch, and so do the committed rows DuckDB holds in memory.
    pub(crate) fn checkpoint_if_grown(&self) -> Result<(), StoreError> {
        let wal = Beside::of(&self.path).wal();
        let size = match std::fs::metadata(&wal) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_failed("reading the size of", &wal)(e)),
        };
        if size > self.memory.wal_limit() {
            self.conn
                .execute_batch("CHECKPOINT")
                .map_err(self.err("checkpointing the write-ahead log"))?;
        }
        Ok(())
    }

    fn err(&self, action: &'static str) -> impl FnOnce(duckdb::Error) -> StoreError + '_ {
        failed(&self.path, action)
    }
}

/// The environment variable that sets what DuckDB may hold while writing (`BFA_MEMORY_LIMIT=16MB`).
pub const MEMORY_LIMIT_ENV: &str = "BFA_MEMORY_LIMIT";

/// What DuckDB may hold while writing unless `BFA_MEMORY_LIMIT` says otherwise; beyond it,
/// rows and sorts spill to disk. Every write path is bounded under it (and under 16 MB, which
/// CI runs a realistic backfill with): 48 MB is a speed setting, not a requirement.
pub const DEFAULT_MEMORY_LIMIT: MemoryLimit = MemoryLimit(48_000_000);

/// The bounds of `BFA_MEMORY_LIMIT`: DuckDB needs a few MB to run a statement at all, and past
/// 1 TB the setting is surely a typo.
const MEMORY_LIMIT_BOUNDS: std::ops::RangeInclusive<u64> = 8_000_000..=1_000_000_000_000;

/// What DuckDB may hold while writing, in bytes (units of 1000, as DuckDB counts `MB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit(u64);

impl MemoryLimit {
    /// Parses `16MB`, `512 MiB`, `2GB` (KB, MB, GB, TB and KiB, MiB, GiB, TiB; any case).
    pub fn parse(text: &str) -> Result<MemoryLimit, StoreError> {
        let bad = || StoreError::BadMemoryLimit {
            value: text.chars().take(40).collect(),
        };
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            "tib" => 1 << 40,
            _ => return Err(bad()),
        };
        let bytes = n.checked_mul(scale).ok_or_else(bad)?;
        if !MEMORY_LIMIT_BOUNDS.contains(&bytes) {
            return Err(bad());
        }
        Ok(MemoryLimit(bytes))
    }

    /// `BFA_MEMORY_LIMIT` if set, else [`DEFAULT_MEMORY_LIMIT`]; a value that does not parse is
    /// an error (exit 2), never silently the default.
    pub fn from_env() -> Result<MemoryLimit, StoreError> {
        match std::env::var(MEMORY_LIMIT_ENV) {
            Ok(text) => MemoryLimit::parse(&text),
            Err(std::env::VarError::NotPresent) => Ok(DEFAULT_MEMORY_LIMIT),
            Err(std::env::VarError::NotUnicode(_)) => Err(StoreError::BadMemoryLimit {
                value: "(not UTF-8)".into(),
            }),
        }
    }

    /// The limit in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// As DuckDB's `memory_limit` setting reads it.
    fn duckdb(self) -> String {
        format!("{}KB", self.0 / 1_000)
    }

    /// How large a writer lets its write-ahead log grow before folding it into the file: an
    /// eighth of the memory limit (6 MB at the default). Rows committed but not checkpointed stay in DuckDB's memory
    /// (ADR 0015's note in `layout`), and the log is disk beside the copy (issue 24: 85–118 MB
    /// of log beside a 50 MB copy when it was folded only at close).
    pub(crate) fn wal_limit(self) -> u64 {
        self.0 / 8
    }

    /// The most rows a collection commits in one batch: a batch's rows sit in DuckDB's memory
    /// about three times over while it commits (staged, compared, inserted: ~6 MB for 50,000
    /// rows, measured with `duckdb_memory()`), so a thousandth of the limit in rows keeps a
    /// batch within a fifth of it. 48,000 at the default 48 MB, 16,000 at 16 MB.
    pub fn batch_rows(self) -> usize {
        usize::try_from(self.0 / 1_000)
            .unwrap_or(usize::MAX)
            .clamp(1_000, 50_000)
    }

    /// The most rows one statement of a re-sort orders (`layout`): 200,000 at the default
    /// 48 MB, 100,000 at 24 MB. Measured on the realistic bucket: chunks of a fortieth of the
    /// limit in rows (800,000 at 32 MB) ran out of memory sorting the trading rows (~100 bytes
    /// a row), 100,000 at 24 MB did not.
    pub(crate) fn sort_chunk_rows(self) -> i64 {
        i64::try_from(self.0 / 240).unwrap_or(i64::MAX)
    }
}

/// What to do with a file of an older schema version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Older {
    /// Reads refuse it below `schema::READABLE_FROM`: only a write migrates.
    Refuse,
    /// A write migrates it.
    Migrate,
}

/// Checks the file's schema version: ours (it has one), not newer than this binary, and older
/// only where `older` allows; returns it.
fn check_version(conn: &Connection, path: &Path, older: Older) -> Result<i32, StoreError> {
    let found =
        schema::version(conn).map_err(|source| duck(path, "reading the schema version", source))?;
    match found {
        None => Err(StoreError::NotOurs {
            path: path.to_path_buf(),
        }),
        Some(v) if v > SCHEMA_VERSION => Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        Some(v) if v < schema::READABLE_FROM && older == Older::Refuse => Err(StoreError::TooOld {
            path: path.to_path_buf(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        Some(v) => Ok(v),
    }
}

/// A writer's connection to `path` (folders and file created if needed), hardened, and the
/// memory limit it was opened with; for both kinds of file (`Database`, `Catalog`).
fn connect_for_write(path: &Path) -> Result<(Connection, MemoryLimit), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    // Memory is bounded: without indexes (ADR 0010) everything a writer holds can spill to
    // `<file>.tmp`, so a first load of any size stays under the limit plus what the
    // collection itself holds. Writers checkpoint when they close, and before a sort of the
    // whole table (`layout`: committed rows not yet in the file stay in memory); a copy
    // left mostly free by that sort is rewritten compact before it is published (`session`).
    utf8(path)?;
    let memory = MemoryLimit::from_env()?;
    let config = hardened(Config::default())
        .and_then(|c| c.max_memory(&memory.duckdb()))
        // Checkpoints are ours (`checkpoint_if_grown`, after each batch), measured on the
        // log's size on disk, so both their timing and the disk they bound are known.
        .and_then(|c| c.with("wal_autocheckpoint", "4GB"))
        // One thread: with two, a backfill spent ~8 % of its CPU in DuckDB's task-queue
        // locks, 4.9 CPU-seconds against 3.8, and was no faster (ADR 0015).
        .and_then(|c| c.threads(1))
        .map_err(|source| duck(path, "configuring the write connection", source))?;
    let conn = Connection::open_with_flags(path, config)
        .map_err(|source| duck(path, "opening the file for writing", source))?;
    Ok((conn, memory))
}

/// What every connection starts with: no file, URL or extension reachable from SQL, so that a
/// view in a file from elsewhere cannot read `/etc/…` or fetch anything.
fn hardened(config: Config) -> duckdb::Result<Config> {
    config
        .enable_external_access(false)?
        .enable_autoload_extension(false)
}

fn utf8(path: &Path) -> Result<&str, StoreError> {
    path.to_str().ok_or_else(|| StoreError::PathNotUtf8 {
        path: path.to_path_buf(),
    })
}

/// A read-only connection to the file at `path` whose SQL may write files into `dest` (created
/// if needed) and nowhere else: `export`'s. The file must have been checked for code first.
fn connect_for_export(path: &Path, dest: &Path) -> Result<Connection, StoreError> {
    std::fs::create_dir_all(dest).map_err(|source| StoreError::CreateDir {
        dir: dest.to_path_buf(),
        source,
    })?;
    let dir = std::fs::canonicalize(dest).map_err(io_failed("resolving", dest))?;
    let dir = utf8(&dir)?.replace('\'', "''");
    let config = Config::default()
        .access_mode(AccessMode::ReadOnly)
        .and_then(|c| c.enable_autoload_extension(false))
        .map_err(|source| duck(path, "configuring a read-only connection", source))?;
    let conn = Connection::open_with_flags(files::resolve(path)?, config)
        .map_err(|source| duck(path, "opening the file read-only", source))?;
    conn.execute_batch(&format!(
        "SET allowed_directories = ['{dir}']; SET enable_external_access = false;
         SET lock_configuration = true;"
    ))
    .map_err(|source| duck(path, "limiting the export to its folder", source))?;
    Ok(conn)
}

/// A read-only, hardened connection with its configuration locked, to an existing file.
fn connect_read_only(path: &Path) -> Result<Connection, StoreError> {
    connect_read_only_with(path, None)
}

/// `connect_read_only`, with DuckDB held to `memory` when given (spilling past it): for a
/// writer's read of its closed copy (`index_file`), bounded as its writes are.
fn connect_read_only_with(
    path: &Path,
    memory: Option<MemoryLimit>,
) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Missing {
            path: path.to_path_buf(),
        });
    }
    utf8(path)?;
    let config = hardened(Config::default())
        .and_then(|c| c.access_mode(AccessMode::ReadOnly))
        .and_then(|c| c.threads(1))
        .and_then(|c| match memory {
            Some(memory) => c.max_memory(&memory.duckdb()),
            None => Ok(c),
        })
        .and_then(|c| c.with("lock_configuration", "true"))
        .map_err(|source| duck(path, "configuring a read-only connection", source))?;
    Connection::open_with_flags(path, config)
        .map_err(|source| duck(path, "opening the file read-only", source))
}

/// The views an availability database of ours holds (one per kept market, schema 6), exactly
/// as DuckDB keeps them: `check_no_code` allows these and nothing else there.
fn availability_views() -> Vec<(&'static str, String)> {
    KEPT_MARKETS
        .iter()
        .filter_map(|m| Some((schema::schema_of(*m)?, schema::availability_view_sql(*m)?)))
        .collect()
}

/// Refuses a file that holds a view or a macro other than the `allowed` views (schema and
/// text; for an availability database, `availability_views`; a catalog has none). A view
/// in place of one of our tables runs on every query, and a macro can shadow a builtin our SQL calls (`lower`,
/// `least`). Run where a file enters or is written (writes, `restore`, `backup`, `export`), not
/// on every read: listing the catalog costs a cold process 10–20 ms (`duckdb_functions()` alone
/// ~21 ms), and with external access off a read can be lied to but cannot reach outside.
fn check_no_code(
    conn: &Connection,
    path: &Path,
    allowed: &[(&str, String)],
) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT 'a view named ' || view_name, schema_name, view_name = 'daily_availability', sql
               FROM duckdb_views() WHERE NOT internal AND database_name = current_database()
             UNION ALL
             SELECT 'a macro named ' || function_name, NULL, false, NULL FROM duckdb_functions()
               WHERE NOT internal AND database_name = current_database()",
        )
        .map_err(|source| duck(path, "reading the catalog", source))?;
    let mut rows = stmt
        .query([])
        .map_err(|source| duck(path, "reading the catalog", source))?;
    while let Some(row) = rows
        .next()
        .map_err(|source| duck(path, "reading the catalog", source))?
    {
        let read = |row: &duckdb::Row| -> duckdb::Result<_> {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, bool>(2)?,
                row.get::<_, Option<String>>(3)?,
            ))
        };
        let (what, schema, ours, sql) =
            read(row).map_err(|source| duck(path, "reading the catalog", source))?;
        let allowed = ours
            && allowed
                .iter()
                .any(|(s, text)| schema.as_deref() == Some(*s) && sql.as_deref() == Some(text));
        if !allowed {
            return Err(StoreError::Untrusted {
                path: path.to_path_buf(),
                what,
            });
        }
    }
    Ok(())
}

/// Maps a DuckDB error to one that says what was being done, and in which file.
fn failed<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(duckdb::Error) -> StoreError + 'a {
    move |source| duck(path, action, source)
}

/// The error of an Arrow batch whose columns are not of the types its reader reads (`panel`,
/// `index`): a file whose tables were changed by something else.
fn unexpected_columns(batch: &duckdb::arrow::record_batch::RecordBatch) -> duckdb::Error {
    let types = format!("unexpected column types {:?}", batch.schema().fields());
    duckdb::Error::FromSqlConversionFailure(0, duckdb::types::Type::Any, types.into())
}

/// Maps an I/O error to one that says what was being done, to which file.
fn io_failed<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn duck(path: &Path, action: &'static str, source: duckdb::Error) -> StoreError {
    // DuckDB checks a block's checksum each time it reads the block from disk, and says only
    // this in its message (its C API gives no code for it): wherever a read meets a damaged
    // block, the sentence says the file is damaged rather than that a query failed.
    if source.to_string().contains("Corrupt database file") {
        return StoreError::Damaged {
            path: path.to_path_buf(),
            action,
            source,
        };
    }
    StoreError::DuckDb {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// Days since 1970-01-01, DuckDB's DATE representation.
/// Column `column` of `row`, text that names an enum value (`parse` is its table's, `named!`):
/// any other text is an error naming the column, never a default.
fn named<T>(
    row: &duckdb::Row<'_>,
    column: usize,
    parse: fn(&str) -> Option<T>,
) -> duckdb::Result<T> {
    let text: String = row.get(column)?;
    parse(&text).ok_or_else(|| {
        duckdb::Error::FromSqlConversionFailure(
            column,
            duckdb::types::Type::Text,
            format!("unknown value {text:?} in column {column}").into(),
        )
    })
}

fn date_value(date: chrono::NaiveDate) -> duckdb::types::Value {
    duckdb::types::Value::Date32((date - chrono::NaiveDate::default()).num_days() as i32)
}

/// Microseconds since the epoch in UTC, DuckDB's TIMESTAMP representation.
fn timestamp_value(ts: chrono::DateTime<chrono::Utc>) -> duckdb::types::Value {
    duckdb::types::Value::Timestamp(duckdb::types::TimeUnit::Microsecond, ts.timestamp_micros())
}
