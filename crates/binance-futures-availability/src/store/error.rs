//! Everything that can go wrong between the tool and its database file, as sentences that name
//! the file; which of them are the caller's input (exit 2).

use std::path::PathBuf;

use super::LockError;

/// Everything that can go wrong between the tool and its database file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No file at the path.
    #[error("there is no database at {path}")]
    Missing {
        /// The file (or folder) concerned.
        path: PathBuf,
    },
    /// A DuckDB file without this tool's schema.
    #[error(
        "{path} is not a binance-futures-availability database: it has no schema_version table"
    )]
    NotOurs {
        /// The file (or folder) concerned.
        path: PathBuf,
    },
    /// No catalog at the path: none was built there yet.
    #[error(
        "there is no catalog at {path}; build it with `binance-futures-availability catalog update`"
    )]
    NoCatalog {
        /// The path asked for.
        path: PathBuf,
    },
    /// A file that is not a catalog of this tool.
    #[error(
        "{path} is not a catalog of binance-futures-availability: it has no catalog_version table"
    )]
    NotACatalog {
        /// The file concerned.
        path: PathBuf,
    },
    /// A catalog naming a dataset this binary does not know.
    #[error("{path} names a dataset this binary does not know: {source}")]
    BadDataset {
        /// The file concerned.
        path: PathBuf,
        /// Why the name was refused.
        source: crate::vision::DatasetError,
    },
    /// A catalog whose leaves name a dataset id its `datasets` table does not have.
    #[error("{path} has a leaf of dataset id {id}, which its datasets table does not name")]
    BadDatasetId {
        /// The file concerned.
        path: PathBuf,
        /// The id stored.
        id: i16,
    },
    /// A catalog holding a change kind this binary does not know.
    #[error("{path} holds the change kind {kind:?}, which this binary does not know")]
    BadChangeKind {
        /// The file concerned.
        path: PathBuf,
        /// The text stored.
        kind: String,
    },
    /// A catalog holding a period number no date has.
    #[error("{path} holds the period number {period}, which no date has")]
    BadPeriod {
        /// The file concerned.
        path: PathBuf,
        /// The number stored.
        period: i32,
    },
    /// A catalog holding a stray reason this binary does not know.
    #[error("{path} holds the stray reason {reason:?}, which this binary does not know")]
    BadStrayReason {
        /// The file concerned.
        path: PathBuf,
        /// The text stored.
        reason: String,
    },
    /// A schema newer than this binary's.
    #[error(
        "{path} has schema version {found}, newer than the {supported} this binary understands; \
         upgrade binance-futures-availability to read it"
    )]
    TooNew {
        /// The file (or folder) concerned.
        path: PathBuf,
        /// The file's schema version.
        found: i32,
        /// The newest version this binary understands.
        supported: i32,
    },
    /// A catalog of an older version, for a command that does not migrate.
    #[error(
        "{path} is a catalog of version {found}, older than {supported}; run \
         `binance-futures-availability catalog update` once to migrate it"
    )]
    CatalogTooOld {
        /// The catalog.
        path: PathBuf,
        /// The file's version.
        found: i32,
        /// The version this binary needs.
        supported: i32,
    },
    /// A schema older than this binary's, for a command that does not migrate.
    #[error(
        "{path} has schema version {found}, older than {supported}; run `binance-futures-availability \
         update` once to migrate it"
    )]
    TooOld {
        /// The file (or folder) concerned.
        path: PathBuf,
        /// The file's schema version.
        found: i32,
        /// The version this binary needs.
        supported: i32,
    },
    /// The database's folder could not be created.
    #[error("could not create the folder {dir}: {source}")]
    CreateDir {
        /// The folder.
        dir: PathBuf,
        /// What failed underneath.
        source: std::io::Error,
    },
    /// DuckDB failed.
    #[error("DuckDB failed while {action} in {path}: {source}")]
    DuckDb {
        /// The file (or folder) concerned.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// What failed underneath.
        source: duckdb::Error,
    },
    /// A file operation failed.
    #[error("could not finish {action} at {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file (or folder) concerned.
        path: PathBuf,
        /// What failed underneath.
        source: std::io::Error,
    },
    /// The writer lock could not be had.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// A destination that exists, without `--force`.
    #[error("{path} already exists")]
    Exists {
        /// The file (or folder) concerned.
        path: PathBuf,
    },
    /// No file to restore from.
    #[error("there is no file at {path} to restore from")]
    NoBackup {
        /// The file (or folder) concerned.
        path: PathBuf,
    },
    /// A copy whose contents differ from the original's.
    #[error(
        "the copy at {path} holds {} rows and {} symbols, the original {} and {}; nothing was \
         replaced",
        .copy.0, .copy.1, .original.0, .original.1
    )]
    CopyDiffers {
        /// The file (or folder) concerned.
        path: PathBuf,
        /// The copy's rows and symbols.
        copy: (i64, i64),
        /// The original's rows and symbols.
        original: (i64, i64),
    },
    /// A write-ahead log left after closing a copy.
    #[error(
        "{path} is still there after closing the copy, so publishing would drop committed \
         batches; the copy is kept and the next run resumes it"
    )]
    WalLeft {
        /// The file (or folder) concerned.
        path: PathBuf,
    },
    /// Windows refused to rename the copy over the published file (ADR 0006's publish). Readers
    /// that open it as DuckDB and this crate do (sharing deletion) do not cause this on NTFS.
    #[error(
        "Windows refused to replace {} with the new copy {} ({source}): a program holds it open \
         without sharing deletion (an editor, a backup or a virus scan), its folder does not let \
         this user replace it, or its file system (FAT, exFAT, some network shares) cannot \
         replace a file any reader holds open; close what holds it (or stop its readers) and run \
         again: the copy is kept and the next run publishes it",
        .path.display(),
        .copy.display()
    )]
    PublishRefused {
        /// The published file.
        path: PathBuf,
        /// The copy that was to replace it.
        copy: PathBuf,
        /// What the rename said: access denied or a sharing violation.
        source: std::io::Error,
    },
    /// A market whose tables no database keeps yet (`Database::select_market`).
    #[error(
        "the {market} market is not kept by this version (it keeps {}); its files are not \
         collected, so nothing about them can be answered",
        crate::store::KEPT_MARKETS.map(|m| m.name()).join(", ")
    )]
    MarketNotKept {
        /// The market asked about.
        market: crate::facts::Market,
    },
    /// A market kept since a schema version newer than the file's, asked of a file read
    /// without a migration (`Database::select_market`): no day of it is checked there.
    #[error(
        "{path} is of schema version {found}, older than the {market} market's tables (version \
         {since}): nothing about {market} is checked in it; update --markets {market} migrates \
         the file and collects them"
    )]
    MarketNotInFile {
        /// The file concerned.
        path: PathBuf,
        /// The market asked about.
        market: crate::facts::Market,
        /// The file's schema version.
        found: i32,
        /// The version that made the market's tables.
        since: i32,
    },
    /// A question (`question::Question`) about another market than the handle's tables.
    #[error(
        "a question about the {asked} market was asked of a handle on the {handle} market's \
         tables; select the question's market first (Database::select_market)"
    )]
    OtherMarket {
        /// The question's market.
        asked: crate::facts::Market,
        /// The handle's.
        handle: crate::facts::Market,
    },
    /// A file holding a view or macro this tool never writes.
    #[error(
        "{path} holds {what}, which no binance-futures-availability database has; a view or \
         macro runs code when it is read, so the file is refused"
    )]
    Untrusted {
        /// The file (or folder) concerned.
        path: PathBuf,
        /// What it holds.
        what: String,
    },
    /// The database was replaced while a run wrote its copy.
    #[error(
        "{path} was replaced while this run was writing (it was {was}, it is now {now}); the \
         run's copy was discarded so it cannot overwrite the new file. Run again to update it"
    )]
    Replaced {
        /// The file (or folder) concerned.
        path: PathBuf,
        /// The file it was (size and inode).
        was: String,
        /// The file it is now.
        now: String,
    },
    /// A path DuckDB cannot open.
    #[error("the database path {} is not UTF-8, which DuckDB cannot open; rename it", .path.display())]
    PathNotUtf8 {
        /// The file (or folder) concerned.
        path: PathBuf,
    },
    /// An export destination that is not a local folder.
    #[error(
        "{path} is not a local folder; export writes files here (copy them elsewhere afterwards)"
    )]
    NotLocal {
        /// The file (or folder) concerned.
        path: PathBuf,
    },
    /// A write-ahead log never folded into the file.
    #[error(
        "{path} has a write-ahead log that was never folded in (written in place and stopped); \
         run `binance-futures-availability update` once, then try again"
    )]
    PendingWal {
        /// The file (or folder) concerned.
        path: PathBuf,
    },
    /// A block that does not match its checksum.
    #[error(
        "{path} is damaged: a block DuckDB read while {action} does not match its checksum \
         ({source}); a damaged file is never backed up or restored. Use another copy (an \
         earlier backup), or move it aside and run `binance-futures-availability backfill` to \
         rebuild it"
    )]
    Damaged {
        /// The file (or folder) concerned.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// What failed underneath.
        source: duckdb::Error,
    },
    /// A batch holding a day of a symbol twice.
    #[error(
        "a batch for {path} holds {symbol} on {date} twice; write each day of a symbol once per \
         batch"
    )]
    DuplicateRow {
        /// The file (or folder) concerned.
        path: PathBuf,
        /// The symbol.
        symbol: String,
        /// The day.
        date: chrono::NaiveDate,
    },
    /// A trading batch holding a file twice.
    #[error(
        "a trading batch for {path} holds {symbol}'s file for {span} twice; write each file \
         once per batch"
    )]
    DuplicateTradingFile {
        /// The file (or folder) concerned.
        path: PathBuf,
        /// The symbol.
        symbol: String,
        /// The file's day or month.
        span: String,
    },
    /// A question about a day after "complete through": answering it would state what is not
    /// known yet (a day no run has checked reads as "no file").
    #[error(
        "{day} is not checked yet: {} complete through {}{}",
        whose(*market),
        through(*complete_through),
        match awaiting {
            Awaiting::Update => format!("; run `update{}`", market_flag(*market)),
            Awaiting::Publication { asked_through } => format!(
                ", the last day Vision has published: the last update asked for every day \
                 through {asked_through} and no folder had a file after it. The first update \
                 after Vision publishes the day checks it (outages are reported at \
                 https://github.com/binance/binance-public-data/issues)"
            ),
        }
    )]
    NotCheckedYet {
        /// The market asked about.
        market: crate::facts::Market,
        /// The day asked about.
        day: chrono::NaiveDate,
        /// The day every folder is checked through, if any.
        complete_through: Option<chrono::NaiveDate>,
        /// What the day waits for: an update, or Vision publishing it.
        awaiting: Awaiting,
    },
    /// A question about a day before the first day every folder was checked from (a backfill
    /// that started later): no run has looked at it.
    #[error(
        "{day} is not checked: the database is checked from {checked_from}; run `backfill \
         --start {day}` to check the days before"
    )]
    NotCheckedBefore {
        /// The day asked about.
        day: chrono::NaiveDate,
        /// The first day every folder is checked from.
        checked_from: chrono::NaiveDate,
    },
    /// A quote asset the database does not know.
    #[error("unknown quote asset {quote:?}; the database knows {}", quotes(known))]
    UnknownQuote {
        /// The quote asked for.
        quote: String,
        /// The quote assets the database knows.
        known: Vec<String>,
    },
    /// A `BFA_MEMORY_LIMIT` that is not a memory size within the bounds.
    #[error(
        "BFA_MEMORY_LIMIT={value:?} is not a memory size from 8MB to 1TB; write it like 16MB, \
         512MiB or 2GB"
    )]
    BadMemoryLimit {
        /// The value given.
        value: String,
    },
    /// Not enough free space to write the database.
    #[error(
        "not enough free space in {dir} to write the database: {free} MB free, and writing it \
         needs about {needed} MB ({why}); free some space or point --db / BFA_DB at a larger disk"
    )]
    NoRoom {
        /// The folder.
        dir: PathBuf,
        /// Megabytes free.
        free: u64,
        /// Megabytes the write needs.
        needed: u64,
        /// What the space is for.
        why: RoomFor,
    },
    /// A symbol the database does not know.
    #[error("unknown symbol {symbol:?}; {}", suggest(suggestions))]
    UnknownSymbol {
        /// The symbol.
        symbol: String,
        /// Known names close to it.
        suggestions: Vec<String>,
    },
    /// A destination `catalog export` will not write, or a selection of no dataset.
    #[error(transparent)]
    ExportRefused(#[from] super::catalog::export::ExportRefused),
}

/// What a day after "complete through" waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    /// No update has asked for the day yet.
    Update,
    /// The last successful update asked for every day through `asked_through`, the day
    /// included, and no folder had a file after "complete through": Vision has not published
    /// it (an outage, or the day's upload is late), and running `update` now changes nothing.
    Publication {
        /// The last day the last successful update asked for.
        asked_through: chrono::NaiveDate,
    },
}

/// Whose tables a sentence is about: the database's (USD-M's, as every sentence said before
/// there was a second market), or one other market's.
fn whose(market: crate::facts::Market) -> String {
    match market {
        crate::facts::Market::Um => "the database is".to_string(),
        other => format!("the database's {other} market is"),
    }
}

/// The flag that names a market on the command line, empty for USD-M (the default).
fn market_flag(market: crate::facts::Market) -> String {
    match market {
        crate::facts::Market::Um => String::new(),
        other => format!(" --market {other}"),
    }
}

fn through(day: Option<chrono::NaiveDate>) -> String {
    day.map_or_else(|| "no day yet".to_string(), |d| d.to_string())
}

fn quotes(known: &[String]) -> String {
    if known.is_empty() {
        "none yet".to_string()
    } else {
        known.join(", ")
    }
}

fn suggest(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        "the database knows no symbol like it".to_string()
    } else {
        format!("did you mean {}?", suggestions.join(", "))
    }
}

/// Whether a store error is the caller's input (exit 2) rather than a runtime failure (exit 1).
impl StoreError {
    /// Whether it is the caller's input (exit 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            StoreError::UnknownSymbol { .. }
                | StoreError::UnknownQuote { .. }
                | StoreError::Exists { .. }
                | StoreError::NoBackup { .. }
                | StoreError::PathNotUtf8 { .. }
                | StoreError::NotLocal { .. }
                | StoreError::BadMemoryLimit { .. }
                | StoreError::MarketNotKept { .. }
                | StoreError::ExportRefused(_)
        )
    }
}

/// What a write needs free disk for (`StoreError::NoRoom`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomFor {
    /// A database that does not exist yet.
    FirstLoad,
    /// 2.5 times the database (of this many MB): its working copy, log and compaction.
    Update {
        /// The database's size, in MB.
        database_mb: u64,
    },
}

impl std::fmt::Display for RoomFor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoomFor::FirstLoad => f.write_str("a first load"),
            RoomFor::Update { database_mb } => write!(
                f,
                "2.5 times the database's {database_mb} MB, for its working copy, log and \
                 compaction"
            ),
        }
    }
}
