//! The catalog (ADR 0020): every file of Binance Vision, by leaf — a symbol's folder of one
//! dataset — as five small numbers a file, the keys outside the layout as strays, and which
//! folders have been listed. Its own DuckDB file, written through the same session as the
//! availability database (`Published`), hardened and checked for code the same way.
//!
//! Must not know: HTTP, pages, the crawl's plan. It stores what a crawl listed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use duckdb::{Connection, params};

mod changes;
pub(crate) mod export;
mod key;
mod layout;
mod leaf_table;
mod questions;
mod read;
pub(crate) mod status;
mod write;

pub use changes::{ChangeListing, ChangeQuery, ChangedFile};
pub use questions::{CatalogGap, FileListing, FileQuery, Lag};
pub use write::symbol_folder;

use super::session::Published;
use super::{MemoryLimit, StoreError, check_no_code, connect_read_only, duck, failed};
use crate::facts::{Month, Span};
use crate::vision::{Dataset, Partition};

/// The newest catalog schema this binary reads and writes.
pub const CATALOG_VERSION: i32 = 4;

/// Version 4 (version 3 kept no `leaf_stats` row for a leaf without files; version 2 had no `leaf_stats.last_change`; version 1 kept `files.modified` in milliseconds, without `modified_ms`). No keys or indexes (ADR 0010's reasons hold: at 10⁸ rows an index costs more
/// memory than the cap); a leaf's periods are unique because the writer diffs every listing of
/// a stored leaf against what it holds and writes only the differences.
///
/// `folders.listed_at` is NULL for a folder discovered and not listed whole yet.
/// `leaves.last_period` is the greatest period the leaf has listed: where its next listing
/// looks back from. `files.modified` is whole seconds after the end of the file's period and
/// `modified_ms` the milliseconds past them: a listing's Last-Modified has whole seconds (S3
/// prints `.000`), and seconds vary ~20 bits less from one file to the next than milliseconds,
/// which bit-packs the column from ~4 to ~2 bytes a file (8.7 → 6.7 B a file measured on a
/// 1.5 × 10⁶-file catalog); `modified_ms` is constant, so it costs nothing.
/// `changes.*modified` are milliseconds after the end of the period (a few rows a day).
/// `leaf_stats` sums each leaf's files (`LEAF_STATS`), kept at every publish, so that
/// `datasets` and `symbols` read ~2.5 × 10⁵ rows instead of scanning 10⁸; its `last_change` is
/// the leaf's newest `changes.seen` (NULL for none), so `datasets` says when each dataset last
/// changed without reading the history. A leaf whose files were all removed keeps its row
/// (0 files, `first` and `last` NULL) for its last change: the removals. `files` lies in leaf order, re-sorted at a publish once
/// enough was appended since (`layout`, its mark `files_layout`, created by the first write of a
/// binary that has it). `strays.folder` is the folder whose listing owns the stray (a listing of
/// that folder whole replaces them).
const SCHEMA: &str = "
CREATE TABLE catalog_version (version INTEGER NOT NULL);
CREATE TABLE datasets (id SMALLINT NOT NULL, name VARCHAR NOT NULL);
CREATE TABLE folders (prefix VARCHAR NOT NULL, listed_at TIMESTAMP);
CREATE TABLE leaves (
    id INTEGER NOT NULL,
    dataset SMALLINT NOT NULL,
    symbol VARCHAR NOT NULL,
    last_period INTEGER NOT NULL
);
CREATE TABLE files (
    leaf INTEGER NOT NULL,
    period INTEGER NOT NULL,
    size BIGINT NOT NULL,
    modified BIGINT NOT NULL,
    modified_ms SMALLINT NOT NULL,
    checksum BOOLEAN NOT NULL
);
CREATE TABLE leaf_stats (
    leaf INTEGER NOT NULL,
    files BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    first INTEGER,
    last INTEGER,
    missing_checksums BIGINT NOT NULL,
    last_change TIMESTAMP
);
CREATE TABLE changes (
    seen TIMESTAMP NOT NULL,
    leaf INTEGER NOT NULL,
    period INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    size BIGINT,
    modified BIGINT,
    previous_size BIGINT,
    previous_modified BIGINT
);
CREATE TABLE strays (
    key VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    last_modified TIMESTAMP NOT NULL,
    reason VARCHAR NOT NULL,
    folder VARCHAR NOT NULL
);
CREATE TABLE crawls (
    id INTEGER NOT NULL,
    started TIMESTAMP NOT NULL,
    finished TIMESTAMP,
    status VARCHAR NOT NULL,
    folders BIGINT NOT NULL DEFAULT 0,
    files BIGINT NOT NULL DEFAULT 0,
    strays BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    error VARCHAR
);
";

/// A period as the `files` table keeps it: days since 1970-01-01 for a day, `year × 12 +
/// month − 1` for a month (which partition is the leaf's dataset's).
pub fn period_number(span: Span) -> i32 {
    match span {
        Span::Day(d) => (d - NaiveDate::default()).num_days() as i32,
        Span::Month(m) => m.first_day().year() * 12 + m.first_day().month0() as i32,
    }
}

/// The span of period `n` in `partition`; `None` for a number no date has.
pub fn period_span(partition: Partition, n: i32) -> Option<Span> {
    match partition {
        Partition::Daily => NaiveDate::default()
            .checked_add_signed(chrono::Duration::days(n.into()))
            .map(Span::Day),
        Partition::Monthly => {
            Month::new(n.div_euclid(12), n.rem_euclid(12) as u32 + 1).map(Span::Month)
        }
    }
}

/// The instant a span ends: the next day's or month's 00:00 UTC, from which `modified` counts.
fn span_end(span: Span) -> DateTime<Utc> {
    let next = match span {
        Span::Day(d) => d.succ_opt().unwrap_or(d),
        Span::Month(m) => m.next().first_day(),
    };
    next.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Why a listed key is not a file of the layout. The catalog keeps every key it lists: a stray
/// is kept with its reason, never dropped and never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrayReason {
    /// Under a root other than `data/` (`data2/`, `data3/`, `/data/…`, the listing page's files).
    OutsideData,
    /// Under `data/`, in a folder the layout does not name (a market, partition or data type).
    UnknownFolder,
    /// Directly in a data type's folder, where only symbol folders are.
    NotInASymbolFolder,
    /// In a folder whose name cannot be a symbol (empty, `..`, control characters).
    NotASymbolName,
    /// A `.CHECKSUM` whose file was not listed beside it.
    SidecarWithoutFile,
    /// In a symbol folder, but not a file name of its dataset's grammar (an unpadded month, a
    /// Spark part file, an interval folder the layout does not name).
    NotAFileName,
}

named!(StrayReason {
    OutsideData = "outside data/",
    UnknownFolder = "a folder the layout does not name",
    NotInASymbolFolder = "not in a symbol folder",
    NotASymbolName = "a folder name that is not a symbol",
    SidecarWithoutFile = "sidecar without file",
    NotAFileName = "not a file name of its dataset",
});

/// One key outside the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    /// The key, as listed.
    pub key: String,
    /// Its size, as listed.
    pub size: u64,
    /// When it was last written, as listed.
    pub last_modified: DateTime<Utc>,
    /// Why it is not a file of the layout.
    pub reason: StrayReason,
}

/// One file of a leaf, as listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedFile {
    /// The day or month it holds.
    pub span: Span,
    /// Bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
    /// Whether its `.CHECKSUM` sidecar was listed beside it.
    pub checksum: bool,
}

/// One leaf as a listing showed it: a symbol's folder of one dataset, its files in period order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafListing {
    /// The dataset.
    pub dataset: Dataset,
    /// The symbol folder's name.
    pub symbol: String,
    /// Its files, by period.
    pub files: Vec<ListedFile>,
}

/// How much of a folder a listing covered. What a listing did not show is gone only inside
/// what it covered, so a listing from a leaf's tip never removes its older files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The folder listed flat from its start: each of its leaves whole, and its strays.
    Folder,
    /// One leaf of the folder listed from after period number `after` (`start-after`): only
    /// its later periods.
    Tail {
        /// The leaf's dataset.
        dataset: Dataset,
        /// The leaf's symbol.
        symbol: String,
        /// The period number after which the listing began.
        after: i32,
    },
}

/// A listing to its end: what it covered, its leaves and its strays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderListing {
    /// The folder that owns what was listed (`data/spot/daily/klines/BTCUSDT/`, or a stray
    /// prefix such as `data3/`); a tail listing's leaf is inside it.
    pub prefix: String,
    /// When its listing began: when its changes were seen.
    pub listed_at: DateTime<Utc>,
    /// What it covered.
    pub scope: Scope,
    /// Its leaves.
    pub leaves: Vec<LeafListing>,
    /// Its keys outside the layout.
    pub strays: Vec<Stray>,
}

impl FolderListing {
    /// Files and strays it holds: the rows it writes.
    pub fn rows(&self) -> usize {
        self.leaves.iter().map(|l| l.files.len()).sum::<usize>() + self.strays.len()
    }

    /// An empty listing of `prefix` whole: a folder the discovery no longer shows, so every
    /// file and stray it held is gone.
    pub fn gone(prefix: String, listed_at: DateTime<Utc>) -> FolderListing {
        FolderListing {
            prefix,
            listed_at,
            scope: Scope::Folder,
            leaves: Vec::new(),
            strays: Vec::new(),
        }
    }
}

/// A stored leaf, as the writer keeps it in memory while a crawl runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredLeaf {
    /// The dataset.
    pub dataset: Dataset,
    /// Its id in `leaves`.
    id: i32,
    /// The greatest period number it has listed.
    pub last_period: i32,
}

/// Changes a crawl recorded, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeCounts {
    /// Files that appeared.
    pub added: u64,
    /// Files whose size or Last-Modified changed.
    pub replaced: u64,
    /// Files that disappeared.
    pub removed: u64,
}

/// What happened to a file between two listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// It appeared.
    Added,
    /// Its size or Last-Modified changed.
    Replaced,
    /// It disappeared.
    Removed,
}

named!(ChangeKind {
    Added = "added",
    Replaced = "replaced",
    Removed = "removed",
});

/// One change of the catalog's history, as `catalog changes` answers. It holds no key: its
/// file is a leaf of the open catalog's table of leaves and a period
/// ([`ChangedFile`]), and the key is written where it is printed or put in a column
/// (`file.write_key`, or `Display`) — 10⁵–10⁶ changes a week would otherwise be as many
/// `String`s made and freed (a fifth of `catalog changes`' time, session 17).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// When the listing that showed it began.
    pub seen: DateTime<Utc>,
    /// The file: its dataset, symbol and period, and its key.
    pub file: ChangedFile,
    /// What happened.
    pub kind: ChangeKind,
    /// Its size after (none when removed).
    pub size: Option<u64>,
    /// Its Last-Modified after (none when removed).
    pub last_modified: Option<DateTime<Utc>>,
    /// Its size before (none when added).
    pub previous_size: Option<u64>,
    /// Its Last-Modified before (none when added).
    pub previous_last_modified: Option<DateTime<Utc>>,
}

/// One dataset in the catalog, as `catalog datasets` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSummary {
    /// The dataset.
    pub dataset: Dataset,
    /// Symbol folders with at least one file.
    pub symbols: i64,
    /// Files.
    pub files: i64,
    /// Their bytes.
    pub bytes: i64,
    /// The first period with a file.
    pub first: Span,
    /// The last period with a file.
    pub last: Span,
    /// Files without a `.CHECKSUM` beside them.
    pub missing_checksums: i64,
    /// When the newest change of its files (added, replaced or removed) was seen; none when
    /// none was recorded (the first crawl's files are not changes).
    pub last_change: Option<DateTime<Utc>>,
}

/// One symbol folder of a dataset, as `catalog symbols` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolSummary {
    /// The symbol folder.
    pub symbol: String,
    /// Its files.
    pub files: i64,
    /// Their bytes.
    pub bytes: i64,
    /// Its first period with a file.
    pub first: Span,
    /// Its last period with a file.
    pub last: Span,
    /// Periods strictly between `first` and `last` without a file.
    pub gaps: i64,
}

/// One file of the catalog, as `catalog files` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogFile {
    /// The key (rebuilt by the dataset's grammar, equal to the one listed).
    pub key: String,
    /// The symbol folder.
    pub symbol: String,
    /// The day or month it holds.
    pub span: Span,
    /// Bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
    /// Whether a `.CHECKSUM` is beside it.
    pub checksum: bool,
}

/// An open catalog.
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
    /// Dataset ids by dataset, read at open and added to by writes.
    datasets: HashMap<Dataset, i16>,
    /// The next leaf id a write gives.
    next_leaf: i32,
    /// Stored leaves by the folder that holds them (`data/spot/daily/klines/BTCUSDT/`): read
    /// when opened for writing (~2.6 × 10⁵ at full scale, ~15 MB), empty when read-only.
    leaves: HashMap<String, Vec<StoredLeaf>>,
    /// When set, writes record what they change in `changes` (a whole crawl has finished
    /// before, so a difference is a change, not a first sight).
    record_changes: bool,
    /// What writes recorded since opened.
    recorded: ChangeCounts,
    committed_batches: u64,
    memory: MemoryLimit,
    /// Opened by `open`: its file is a published one, never written again.
    read_only: bool,
    /// Every leaf, read at the first question that needs it and kept when `read_only`
    /// (`leaf_table`).
    leaf_table: std::cell::OnceCell<std::sync::Arc<leaf_table::LeafTable>>,
    /// A second connection to the file, on which `catalog changes` reads its next run while
    /// this one's is handed out: opened at the first question that needs it and kept, with
    /// the statements kept on it. Taken out while a question uses it.
    reader: std::cell::RefCell<Option<Connection>>,
    /// The last questions' change listings, newest first, kept when `read_only`
    /// (`change_listing`).
    listings: std::cell::RefCell<Vec<(changes::ChangeQuery, changes::ChangeListing)>>,
}

impl Catalog {
    /// Opens an existing catalog read-only; never creates or changes it.
    pub fn open(path: &Path) -> Result<Catalog, StoreError> {
        let resolved = super::files::resolve(path)?;
        if !resolved.is_file() {
            return Err(StoreError::NoCatalog {
                path: path.to_path_buf(),
            });
        }
        let conn = connect_read_only(&resolved)?;
        let found = catalog_version(&conn, path)?;
        if found < CATALOG_VERSION {
            return Err(StoreError::CatalogTooOld {
                path: path.to_path_buf(),
                found,
                supported: CATALOG_VERSION,
            });
        }
        let mut catalog = Catalog::wrap(conn, path)?;
        catalog.read_only = true;
        Ok(catalog)
    }

    /// Opens (creating folders and file if needed) for writing.
    pub fn open_for_write(path: &Path) -> Result<Catalog, StoreError> {
        let (conn, memory) = super::connect_for_write(path)?;
        let fresh: i64 = conn
            .query_row(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()",
                [],
                |r| r.get(0),
            )
            .map_err(failed(path, "reading the file's tables"))?;
        if fresh == 0 {
            conn.execute_batch(&format!(
                "BEGIN; {SCHEMA} INSERT INTO catalog_version VALUES ({CATALOG_VERSION}); COMMIT;"
            ))
            .map_err(failed(path, "creating the catalog's tables"))?;
        }
        if catalog_version(&conn, path)? == 1 {
            conn.execute_batch(TO_V2)
                .map_err(failed(path, "migrating the catalog to version 2"))?;
        }
        if catalog_version(&conn, path)? == 2 {
            conn.execute_batch(TO_V3)
                .map_err(failed(path, "migrating the catalog to version 3"))?;
        }
        if catalog_version(&conn, path)? == 3 {
            conn.execute_batch(TO_V4)
                .map_err(failed(path, "migrating the catalog to version 4"))?;
        }
        conn.execute_batch(layout::FILES_LAYOUT)
            .map_err(failed(path, "creating the catalog's tables"))?;
        check_no_code(&conn, path, &[])?;
        let mut catalog = Catalog::wrap(conn, path)?;
        catalog.memory = memory;
        catalog.leaves = catalog.read_leaves()?;
        Ok(catalog)
    }

    fn wrap(conn: Connection, path: &Path) -> Result<Catalog, StoreError> {
        let mut datasets = HashMap::new();
        {
            let mut stmt = conn
                .prepare("SELECT id, name FROM datasets")
                .map_err(failed(path, "reading the datasets"))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i16>(0)?, r.get::<_, String>(1)?)))
                .map_err(failed(path, "reading the datasets"))?;
            for row in rows {
                let (id, name) = row.map_err(failed(path, "reading the datasets"))?;
                let dataset = name.parse().map_err(|source| StoreError::BadDataset {
                    path: path.to_path_buf(),
                    source,
                })?;
                datasets.insert(dataset, id);
            }
        }
        let next_leaf: i32 = conn
            .query_row("SELECT coalesce(max(id), 0) + 1 FROM leaves", [], |r| {
                r.get(0)
            })
            .map_err(failed(path, "reading the leaves"))?;
        Ok(Catalog {
            conn,
            path: path.to_path_buf(),
            datasets,
            next_leaf,
            leaves: HashMap::new(),
            record_changes: false,
            recorded: ChangeCounts::default(),
            committed_batches: 0,
            memory: super::DEFAULT_MEMORY_LIMIT,
            read_only: false,
            leaf_table: std::cell::OnceCell::new(),
            reader: std::cell::RefCell::new(None),
            listings: std::cell::RefCell::new(Vec::new()),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The file's catalog version, checked: it is a catalog (it has `catalog_version`) and not
/// newer than this binary. Older is the caller's to refuse (a read) or migrate (a write).
fn catalog_version(conn: &Connection, path: &Path) -> Result<i32, StoreError> {
    let has: i64 = conn
        .query_row(
            "SELECT count(*) FROM duckdb_tables()
              WHERE database_name = current_database() AND table_name = 'catalog_version'",
            [],
            |r| r.get(0),
        )
        .map_err(failed(path, "reading the catalog's version"))?;
    if has == 0 {
        return Err(StoreError::NotACatalog {
            path: path.to_path_buf(),
        });
    }
    let found: Option<i32> = conn
        .query_row("SELECT max(version) FROM catalog_version", [], |r| r.get(0))
        .map_err(failed(path, "reading the catalog's version"))?;
    match found {
        Some(v) if v > CATALOG_VERSION => Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: v,
            supported: CATALOG_VERSION,
        }),
        Some(v) => Ok(v),
        None => Err(StoreError::NotACatalog {
            path: path.to_path_buf(),
        }),
    }
}

/// Version 1 → 2: `files.modified` from milliseconds to seconds and `modified_ms`. The table
/// is copied in its order by one streaming `INSERT … SELECT` (no sort, nothing held whole:
/// DuckDB writes a large insert's blocks as it goes), then swapped in, in one transaction.
const TO_V2: &str = "
BEGIN;
CREATE TABLE files_v2 (
    leaf INTEGER NOT NULL,
    period INTEGER NOT NULL,
    size BIGINT NOT NULL,
    modified BIGINT NOT NULL,
    modified_ms SMALLINT NOT NULL,
    checksum BOOLEAN NOT NULL
);
INSERT INTO files_v2
SELECT leaf, period, size, floor(modified / 1000)::BIGINT,
       (((modified % 1000) + 1000) % 1000)::SMALLINT, checksum
  FROM files;
DROP TABLE files;
ALTER TABLE files_v2 RENAME TO files;
UPDATE catalog_version SET version = 2;
CREATE TABLE IF NOT EXISTS leaf_stats (
    leaf INTEGER NOT NULL,
    files BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    missing_checksums BIGINT NOT NULL
);
COMMIT;
";

/// Version 2 → 3: `leaf_stats.last_change`, filled at once from `changes` (one scan grouped by
/// leaf), so the file answers rightly even before its next publish recomputes the sums.
const TO_V3: &str = "
BEGIN;
ALTER TABLE leaf_stats ADD COLUMN IF NOT EXISTS last_change TIMESTAMP;
UPDATE leaf_stats SET last_change = c.seen
  FROM (SELECT leaf, max(seen) AS seen FROM changes GROUP BY leaf) c
 WHERE c.leaf = leaf_stats.leaf;
UPDATE catalog_version SET version = 3;
COMMIT;
";

/// Version 3 → 4: a leaf without files keeps a row in `leaf_stats` for its last change (its
/// files' removals), so `first` and `last` may be NULL; the rows are added at once from
/// `changes` (one scan grouped by leaf), so the file answers rightly before its next publish.
const TO_V4: &str = "
BEGIN;
ALTER TABLE leaf_stats ALTER COLUMN first DROP NOT NULL;
ALTER TABLE leaf_stats ALTER COLUMN last DROP NOT NULL;
INSERT INTO leaf_stats
SELECT leaf, 0, 0, NULL, NULL, 0, max(seen) FROM changes
 WHERE leaf NOT IN (SELECT leaf FROM leaf_stats) GROUP BY leaf;
UPDATE catalog_version SET version = 4;
COMMIT;
";

/// Each leaf's files, counts and bytes, first and last period, files without a `.CHECKSUM`,
/// and its newest change: what `datasets` and `symbols` answer from. Recomputed whole, in one
/// transaction, at every publish (a day's diffs touch most leaves, so keeping it in step
/// batch by batch would cost as much and be easier to get wrong). A leaf with changes and no
/// file left (every file removed) has a row of 0 files for its last change: without it, a
/// dataset whose newest event is such a removal would show the change before it.
const LEAF_STATS: &str = "
BEGIN;
DELETE FROM leaf_stats;
INSERT INTO leaf_stats
SELECT coalesce(f.leaf, c.leaf), coalesce(f.files, 0), coalesce(f.bytes, 0), f.first, f.last,
       coalesce(f.missing_checksums, 0), c.seen
  FROM (SELECT leaf, count(*) AS files, sum(size)::BIGINT AS bytes, min(period) AS first,
               max(period) AS last, count(*) FILTER (WHERE NOT checksum) AS missing_checksums
          FROM files GROUP BY leaf) f
  FULL JOIN (SELECT leaf, max(seen) AS seen FROM changes GROUP BY leaf) c ON c.leaf = f.leaf;
COMMIT;
";

impl Published for Catalog {
    fn check_writable(path: &Path) -> Result<i64, StoreError> {
        if !path.exists() {
            return Ok(0);
        }
        if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            return Err(StoreError::NotACatalog {
                path: path.to_path_buf(),
            });
        }
        let conn = connect_read_only(path)?;
        // An older version is fine: the write migrates the copy.
        catalog_version(&conn, path)?;
        check_no_code(&conn, path, &[])?;
        conn.query_row("SELECT coalesce(max(id), 0) FROM crawls", [], |r| r.get(0))
            .map_err(failed(path, "reading the crawl log"))
    }

    fn open_for_write(path: &Path) -> Result<Self, StoreError> {
        Catalog::open_for_write(path)
    }

    fn mark_unpublished_runs(&mut self, last_published: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE crawls SET status = 'interrupted',
                   error = 'stopped while publishing; the next crawl published its work'
                 WHERE id > ? AND status = 'ok'",
                params![last_published],
            )
            .map_err(failed(&self.path, "marking unpublished crawls"))?;
        Ok(())
    }

    fn committed_batches(&self) -> u64 {
        self.committed_batches
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn close(self) -> Result<(), StoreError> {
        let path = self.path;
        self.conn
            .execute_batch("CHECKPOINT")
            .map_err(failed(&path, "checkpointing the file"))?;
        self.conn
            .close()
            .map_err(|(_, source)| duck(&path, "closing the file", source))
    }

    /// Sums each leaf's files into `leaf_stats` before the file is published — one scan of
    /// `files` grouped by leaf (memory by leaves, ~2.5 × 10⁵, not by files) — and closes,
    /// sorting `files` by leaf as the writes since the last sort require (`layout`).
    fn lay_out_and_close(self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(LEAF_STATS)
            .map_err(failed(&self.path, "summing each leaf's files"))?;
        self.close_laid_out()
    }
}

/// The crawl log: one row per `catalog update`.
impl Catalog {
    /// Logs a crawl as started; its id. From here on, writes record changes if a crawl has
    /// finished before: the whole bucket was listed once, so anything different is a change,
    /// a new folder's files included (the discovery that finished saw it absent).
    pub fn start_crawl(&mut self, started: DateTime<Utc>) -> Result<i64, StoreError> {
        let finished: i64 = self
            .conn
            .query_row("SELECT count(*) FROM crawls WHERE status = 'ok'", [], |r| {
                r.get(0)
            })
            .map_err(failed(&self.path, "reading the crawl log"))?;
        self.record_changes = finished > 0;
        self.conn
            .query_row(
                "INSERT INTO crawls (id, started, status)
                 SELECT coalesce(max(id), 0) + 1, ?, 'running' FROM crawls RETURNING id",
                params![started.naive_utc()],
                |r| r.get(0),
            )
            .map_err(failed(&self.path, "logging a crawl"))
    }

    /// When the crawls since the last one that finished began (this one included): what they
    /// listed need not be listed again to finish their work.
    pub fn unfinished_since(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.conn
            .query_row(
                "SELECT min(started) FROM crawls
                  WHERE id > (SELECT coalesce(max(id), 0) FROM crawls WHERE status = 'ok')",
                [],
                |r| r.get::<_, Option<chrono::NaiveDateTime>>(0),
            )
            .map(|t| t.map(|t| t.and_utc()))
            .map_err(failed(&self.path, "reading the crawl log"))
    }

    /// Logs how crawl `id` ended.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_crawl(
        &mut self,
        id: i64,
        finished: DateTime<Utc>,
        status: &str,
        folders: u64,
        files: u64,
        strays: u64,
        requests: u64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE crawls SET finished = ?, status = ?, folders = ?, files = ?, strays = ?,
                        requests = ?, error = ? WHERE id = ?",
                params![
                    finished.naive_utc(),
                    status,
                    folders as i64,
                    files as i64,
                    strays as i64,
                    requests as i64,
                    error,
                    id
                ],
            )
            .map_err(failed(&self.path, "logging the end of a crawl"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_number_reads_back_into_its_span() {
        let day = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap();
        for span in [
            Span::Day(day),
            Span::Day(NaiveDate::from_ymd_opt(1969, 12, 31).unwrap()),
            Span::Month(Month::of(day)),
            Span::Month(Month::of(NaiveDate::from_ymd_opt(2017, 12, 1).unwrap())),
        ] {
            assert_eq!(
                period_span(span.partition(), period_number(span)),
                Some(span)
            );
        }
    }
}
