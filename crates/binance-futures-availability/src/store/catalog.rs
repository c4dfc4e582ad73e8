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

use super::session::Published;
use super::{MemoryLimit, StoreError, check_no_code, connect_read_only, duck, failed};
use crate::facts::{Month, Span};
use crate::vision::{Dataset, Partition};

/// The newest catalog schema this binary reads and writes.
pub const CATALOG_VERSION: i32 = 1;

/// Version 1. No keys or indexes (ADR 0010's reasons hold: at 10⁸ rows an index costs more
/// memory than the cap); uniqueness of a leaf's periods is the writer's, which lists a folder
/// once and writes it in one transaction.
const SCHEMA_V1: &str = "
CREATE TABLE catalog_version (version INTEGER NOT NULL);
CREATE TABLE datasets (id SMALLINT NOT NULL, name VARCHAR NOT NULL);
CREATE TABLE folders (prefix VARCHAR NOT NULL, listed_at TIMESTAMP NOT NULL);
CREATE TABLE leaves (
    id INTEGER NOT NULL,
    dataset SMALLINT NOT NULL,
    symbol VARCHAR NOT NULL,
    last_key VARCHAR NOT NULL,
    listed_at TIMESTAMP NOT NULL
);
CREATE TABLE files (
    leaf INTEGER NOT NULL,
    period INTEGER NOT NULL,
    size BIGINT NOT NULL,
    modified BIGINT NOT NULL,
    checksum BOOLEAN NOT NULL
);
CREATE TABLE strays (
    key VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    last_modified TIMESTAMP NOT NULL,
    reason VARCHAR NOT NULL
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

/// One leaf listed to its end: a symbol's folder of one dataset, its files in period order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafListing {
    /// The dataset.
    pub dataset: Dataset,
    /// The symbol folder's name.
    pub symbol: String,
    /// The greatest key listed in it (a later listing starts after it).
    pub last_key: String,
    /// Its files, by period.
    pub files: Vec<ListedFile>,
}

/// A folder listed to its end, flat: its leaves and its strays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderListing {
    /// The folder (`data/spot/daily/klines/BTCUSDT/`, or a stray prefix such as `data3/`).
    pub prefix: String,
    /// When its listing began.
    pub listed_at: DateTime<Utc>,
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
    committed_batches: u64,
    memory: MemoryLimit,
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
        check_catalog_version(&conn, path)?;
        Catalog::wrap(conn, path)
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
                "BEGIN; {SCHEMA_V1} INSERT INTO catalog_version VALUES ({CATALOG_VERSION}); COMMIT;"
            ))
            .map_err(failed(path, "creating the catalog's tables"))?;
        }
        check_catalog_version(&conn, path)?;
        check_no_code(&conn, path, &[])?;
        let mut catalog = Catalog::wrap(conn, path)?;
        catalog.memory = memory;
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
            committed_batches: 0,
            memory: super::DEFAULT_MEMORY_LIMIT,
        })
    }

    /// The folders listed to their end already (a stopped crawl's, resumed, included).
    pub fn listed_folders(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT prefix FROM folders")
            .map_err(failed(&self.path, "reading the listed folders"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(failed(&self.path, "reading the listed folders"))?;
        rows.collect::<Result<_, _>>()
            .map_err(failed(&self.path, "reading the listed folders"))
    }

    /// Writes folders listed to their end, in one transaction: their leaves, files and
    /// strays, and the folders themselves (so a resumed crawl skips them). The rows written.
    pub fn write_folders(&mut self, folders: &[FolderListing]) -> Result<u64, StoreError> {
        if folders.is_empty() {
            return Ok(0);
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(failed(&path, "starting a write transaction"))?;
        // Each leaf's dataset id, in the order the leaves are written; a dataset met for the
        // first time is added first.
        let mut ids = self.datasets.clone();
        let mut leaf_datasets = Vec::new();
        for leaf in folders.iter().flat_map(|f| &f.leaves) {
            let id = match ids.get(&leaf.dataset) {
                Some(id) => *id,
                None => {
                    let id = ids.values().max().map_or(1, |m| m + 1);
                    tx.execute(
                        "INSERT INTO datasets VALUES (?, ?)",
                        params![id, leaf.dataset.to_string()],
                    )
                    .map_err(failed(&path, "adding a dataset"))?;
                    ids.insert(leaf.dataset, id);
                    id
                }
            };
            leaf_datasets.push(id);
        }
        let mut leaf_datasets = leaf_datasets.into_iter();
        let mut next_leaf = self.next_leaf;
        let mut rows = 0u64;
        {
            let mut leaves = tx
                .appender("leaves")
                .map_err(failed(&path, "appending leaves"))?;
            let mut files = tx
                .appender("files")
                .map_err(failed(&path, "appending files"))?;
            let mut strays = tx
                .appender("strays")
                .map_err(failed(&path, "appending strays"))?;
            let mut listed = tx
                .appender("folders")
                .map_err(failed(&path, "appending folders"))?;
            for folder in folders {
                for (leaf, dataset) in folder.leaves.iter().zip(&mut leaf_datasets) {
                    let id = next_leaf;
                    next_leaf += 1;
                    leaves
                        .append_row(params![
                            id,
                            dataset,
                            leaf.symbol,
                            leaf.last_key,
                            folder.listed_at.naive_utc()
                        ])
                        .map_err(failed(&path, "appending a leaf"))?;
                    for f in &leaf.files {
                        let modified = (f.last_modified - span_end(f.span)).num_milliseconds();
                        files
                            .append_row(params![
                                id,
                                period_number(f.span),
                                f.size as i64,
                                modified,
                                f.checksum
                            ])
                            .map_err(failed(&path, "appending a file"))?;
                        rows += 1;
                    }
                }
                for s in &folder.strays {
                    strays
                        .append_row(params![
                            s.key,
                            s.size as i64,
                            s.last_modified.naive_utc(),
                            s.reason.as_str()
                        ])
                        .map_err(failed(&path, "appending a stray"))?;
                    rows += 1;
                }
                listed
                    .append_row(params![folder.prefix, folder.listed_at.naive_utc()])
                    .map_err(failed(&path, "appending a folder"))?;
            }
            for app in [&mut leaves, &mut files, &mut strays, &mut listed] {
                app.flush()
                    .map_err(failed(&path, "writing appended rows"))?;
            }
        }
        tx.commit()
            .map_err(failed(&path, "committing a batch of folders"))?;
        self.datasets = ids;
        self.next_leaf = next_leaf;
        self.committed_batches += 1;
        self.checkpoint_if_grown()?;
        Ok(rows)
    }

    /// Folds the write-ahead log into the file once it has grown past the memory limit's
    /// share (as the availability database does, `Database::checkpoint_if_grown`).
    fn checkpoint_if_grown(&self) -> Result<(), StoreError> {
        let wal = super::Beside::of(&self.path).wal();
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if size > self.memory.wal_limit() {
            self.conn
                .execute_batch("CHECKPOINT")
                .map_err(failed(&self.path, "checkpointing the write-ahead log"))?;
        }
        Ok(())
    }

    /// Every dataset with files, by name: its symbols, files, bytes, first and last period,
    /// and files without a `.CHECKSUM`.
    pub fn datasets(&self) -> Result<Vec<DatasetSummary>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT d.name, count(DISTINCT l.symbol), count(*), sum(f.size)::BIGINT,
                        min(f.period), max(f.period), count(*) FILTER (WHERE NOT f.checksum)
                   FROM files f JOIN leaves l ON l.id = f.leaf JOIN datasets d ON d.id = l.dataset
                  GROUP BY d.name ORDER BY d.name",
            )
            .map_err(failed(&self.path, "summing the datasets"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i32>(4)?,
                    r.get::<_, i32>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(failed(&self.path, "summing the datasets"))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, symbols, files, bytes, first, last, missing_checksums) =
                row.map_err(failed(&self.path, "summing the datasets"))?;
            let dataset: Dataset = name.parse().map_err(|source| StoreError::BadDataset {
                path: self.path.clone(),
                source,
            })?;
            let span = |n| {
                period_span(dataset.partition(), n).ok_or_else(|| StoreError::BadPeriod {
                    path: self.path.clone(),
                    period: n,
                })
            };
            out.push(DatasetSummary {
                dataset,
                symbols,
                files,
                bytes,
                first: span(first)?,
                last: span(last)?,
                missing_checksums,
            });
        }
        Ok(out)
    }

    /// Every symbol folder of `dataset` with files, by symbol: files, bytes, first and last
    /// period, and the periods missing between them.
    pub fn symbols(&self, dataset: Dataset) -> Result<Vec<SymbolSummary>, StoreError> {
        let Some(&id) = self.datasets.get(&dataset) else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT l.symbol, count(*), sum(f.size)::BIGINT, min(f.period), max(f.period)
                   FROM files f JOIN leaves l ON l.id = f.leaf
                  WHERE l.dataset = ? GROUP BY l.symbol ORDER BY l.symbol",
            )
            .map_err(failed(&self.path, "summing the symbols"))?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i32>(3)?,
                    r.get::<_, i32>(4)?,
                ))
            })
            .map_err(failed(&self.path, "summing the symbols"))?;
        let mut out = Vec::new();
        for row in rows {
            let (symbol, files, bytes, first, last) =
                row.map_err(failed(&self.path, "summing the symbols"))?;
            let span = |n| {
                period_span(dataset.partition(), n).ok_or_else(|| StoreError::BadPeriod {
                    path: self.path.clone(),
                    period: n,
                })
            };
            out.push(SymbolSummary {
                symbol,
                files,
                bytes,
                first: span(first)?,
                last: span(last)?,
                // Periods are consecutive integers (days, or months), one file each at most.
                gaps: i64::from(last) - i64::from(first) + 1 - files,
            });
        }
        Ok(out)
    }

    /// Every file of `dataset`, by symbol then period (`symbol` narrows it to one folder).
    pub fn files(
        &self,
        dataset: Dataset,
        symbol: Option<&str>,
    ) -> Result<Vec<CatalogFile>, StoreError> {
        let Some(&id) = self.datasets.get(&dataset) else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT l.symbol, f.period, f.size, f.modified, f.checksum
                   FROM files f JOIN leaves l ON l.id = f.leaf
                  WHERE l.dataset = ? AND (? IS NULL OR l.symbol = ?)
                  ORDER BY l.symbol, f.period",
            )
            .map_err(failed(&self.path, "reading files"))?;
        let rows = stmt
            .query_map(params![id, symbol, symbol], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i32>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })
            .map_err(failed(&self.path, "reading files"))?;
        let mut out = Vec::new();
        for row in rows {
            let (symbol, period, size, modified, checksum) =
                row.map_err(failed(&self.path, "reading files"))?;
            let span =
                period_span(dataset.partition(), period).ok_or_else(|| StoreError::BadPeriod {
                    path: self.path.clone(),
                    period,
                })?;
            out.push(CatalogFile {
                key: dataset.key(&symbol, span.first_day()),
                symbol,
                span,
                size: size.max(0) as u64,
                last_modified: span_end(span) + chrono::Duration::milliseconds(modified),
                checksum,
            });
        }
        Ok(out)
    }

    /// Every stray, by key.
    pub fn strays(&self) -> Result<Vec<Stray>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, size, last_modified, reason FROM strays ORDER BY key")
            .map_err(failed(&self.path, "reading strays"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, chrono::NaiveDateTime>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(failed(&self.path, "reading strays"))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, size, last_modified, reason) =
                row.map_err(failed(&self.path, "reading strays"))?;
            let reason = StrayReason::parse(&reason).ok_or_else(|| StoreError::BadStrayReason {
                path: self.path.clone(),
                reason: reason.clone(),
            })?;
            out.push(Stray {
                key,
                size: size.max(0) as u64,
                last_modified: last_modified.and_utc(),
                reason,
            });
        }
        Ok(out)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Checks that the file is a catalog (it has `catalog_version`) this binary reads.
fn check_catalog_version(conn: &Connection, path: &Path) -> Result<(), StoreError> {
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
        Some(_) => Ok(()),
        None => Err(StoreError::NotACatalog {
            path: path.to_path_buf(),
        }),
    }
}

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
        check_catalog_version(&conn, path)?;
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

    fn lay_out_and_close(self) -> Result<(), StoreError> {
        Published::close(self)
    }
}

/// The crawl log: one row per `catalog update`.
impl Catalog {
    /// Logs a crawl as started; its id.
    pub fn start_crawl(&mut self, started: DateTime<Utc>) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "INSERT INTO crawls (id, started, status)
                 SELECT coalesce(max(id), 0) + 1, ?, 'running' FROM crawls RETURNING id",
                params![started.naive_utc()],
                |r| r.get(0),
            )
            .map_err(failed(&self.path, "logging a crawl"))
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
