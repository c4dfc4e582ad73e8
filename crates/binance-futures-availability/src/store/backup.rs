//! Copies in and out: `backup` (a consistent copy of the file), `restore` (checked first, then
//! swapped in like a finished write) and `export` (Parquet or CSV for other tools) — of the
//! availability database and of the catalog (ADR 0020) alike: one protocol, two kinds of file
//! (`Backed`).
//!
//! The published file is only ever replaced by a rename, never written in place (see
//! `session`), so a plain file copy is a consistent snapshot even while an update runs.

use std::path::{Path, PathBuf};

use super::files::{self, Beside, copy_new};
use super::{Catalog, CatalogStatus, Database, DbStatus, StoreError, WriterLock, io_failed};
use crate::facts::Market;

/// What the block check may hold in memory: blocks are read, hashed and let go, one at a
/// time per table; beyond this DuckDB evicts them instead of keeping the whole file cached.
const SCAN_MEMORY: &str = "32MB";

/// The tables an export writes, each ordered so the files diff and compress well.
const EXPORTED: [(&str, &str); 6] = [
    ("daily_availability", "date, symbol"),
    ("symbols", "symbol"),
    ("collection_runs", "id"),
    ("daily_trading", "date, symbol"),
    ("trading_files", "symbol, kind, first_day"),
    ("trading_disagreements", "date, symbol"),
];

/// The tables `export` writes, in the order it writes them (what `export --help` names).
pub fn exported_tables() -> impl Iterator<Item = &'static str> {
    EXPORTED.iter().map(|(table, _)| *table)
}

/// File formats for `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Parquet, zstd-compressed.
    Parquet,
    /// CSV with a header line.
    Csv,
}

// Each also the files' extension.
named!(ExportFormat {
    Parquet = "parquet",
    Csv = "csv",
});

impl ExportFormat {
    /// The options of DuckDB's `COPY … TO` that write it.
    pub(crate) fn copy_options(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "FORMAT parquet, COMPRESSION zstd",
            ExportFormat::Csv => "FORMAT csv, HEADER true",
        }
    }
}

fn refuse_overwrite(path: &Path, force: bool) -> Result<(), StoreError> {
    if path.exists() && !force {
        return Err(StoreError::Exists {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// A kind of file `backup` and `restore` copy: the availability database, or the catalog.
pub(crate) trait Backed {
    /// What the file holds, as the commands report it.
    type Summary;
    /// Opens the file read-only (refusing one that is not of this kind, or too new) and says
    /// what it holds.
    fn summary(path: &Path) -> Result<Self::Summary, StoreError>;
    /// Opens it as `summary` does and refuses it if it holds a view or a macro.
    fn check_code(path: &Path) -> Result<(), StoreError>;
    /// What a copy must hold equally: rows, and symbols (or leaves).
    fn counts(summary: &Self::Summary) -> (i64, i64);
    /// The same counts, read from the file at `path` directly (no joins: a writer's copy is
    /// checked under the writer's memory limit before and after it is rewritten).
    fn rows(path: &Path) -> Result<(i64, i64), StoreError>;
}

impl Backed for Database {
    type Summary = DbStatus;
    fn summary(path: &Path) -> Result<DbStatus, StoreError> {
        Database::open(path)?.status()
    }
    fn check_code(path: &Path) -> Result<(), StoreError> {
        Database::open(path)?.check_thoroughly()
    }
    fn counts(s: &DbStatus) -> (i64, i64) {
        (s.rows, s.symbols.total)
    }
    fn rows(path: &Path) -> Result<(i64, i64), StoreError> {
        Database::open(path)?.counts()
    }
}

impl Backed for Catalog {
    type Summary = CatalogStatus;
    fn summary(path: &Path) -> Result<CatalogStatus, StoreError> {
        Catalog::open(path)?.status()
    }
    fn check_code(path: &Path) -> Result<(), StoreError> {
        Catalog::open(path)?.check_thoroughly()
    }
    fn counts(s: &CatalogStatus) -> (i64, i64) {
        s.counts()
    }
    fn rows(path: &Path) -> Result<(i64, i64), StoreError> {
        Catalog::open(path)?.counts()
    }
}

/// Copies `from` to `to` through a temporary sibling, checks the copy opens as a file of this
/// kind and schema with the same content counts, and only then puts it in place.
fn checked_copy<K: Backed>(from: &Path, to: &Path, expect: &K::Summary) -> Result<(), StoreError> {
    let partial = Beside::of(to).partial();
    // Created exclusively: a link planted at `.partial` is removed, never written through.
    copy_new(from, &partial)?;
    let copy = match K::summary(&partial) {
        Ok(copy) => copy,
        Err(e) => {
            let _ = files::remove_if_present(&partial);
            return Err(e);
        }
    };
    let (copy, original) = (K::counts(&copy), K::counts(expect));
    if copy != original {
        let _ = files::remove_if_present(&partial);
        return Err(StoreError::CopyDiffers {
            path: to.to_path_buf(),
            copy,
            original,
        });
    }
    std::fs::rename(&partial, to).map_err(io_failed("putting the copy in place", to))?;
    // The rename is only durable once the folder is.
    files::sync_parent(to)
}

/// What the file at `path` holds, once it is known to carry no view or macro and every block
/// of every table reads back with its checksum (`read_every_block`).
fn thoroughly_checked<K: Backed>(path: &Path) -> Result<K::Summary, StoreError> {
    K::check_code(path)?;
    read_every_block(path)?;
    K::summary(path)
}

/// Writes a consistent copy of the database at `db` to `dest`.
pub fn backup(db: &Path, dest: &Path, force: bool) -> Result<DbStatus, StoreError> {
    backup_of::<Database>(db, dest, force)
}

/// Writes a consistent copy of the catalog at `catalog` to `dest`, as `backup` does the
/// database's: checked for code, every block read back, copied beside `dest`, the copy's
/// counts compared, then renamed into place.
pub fn backup_catalog(
    catalog: &Path,
    dest: &Path,
    force: bool,
) -> Result<CatalogStatus, StoreError> {
    backup_of::<Catalog>(catalog, dest, force)
}

fn backup_of<K: Backed>(path: &Path, dest: &Path, force: bool) -> Result<K::Summary, StoreError> {
    // The `.wal` that matters is the real file's, as writers see it.
    let path = &files::resolve(path)?;
    let status = thoroughly_checked::<K>(path)?;
    if Beside::of(path).wal().exists() {
        return Err(StoreError::PendingWal {
            path: path.to_path_buf(),
        });
    }
    refuse_overwrite(dest, force)?;
    checked_copy::<K>(path, dest, &status)?;
    Ok(status)
}

/// Puts the database at `src` in place of the one at `db`, after checking it opens as a
/// database of this schema. Waits for no one: if a collection is writing, it refuses.
pub fn restore(src: &Path, db: &Path, force: bool) -> Result<DbStatus, StoreError> {
    restore_of::<Database>(src, db, force)
}

/// Puts the catalog at `src` in place of the one at `catalog`, after checking it is a catalog
/// this binary reads, without code, every block readable. Refuses while a `catalog update`
/// holds the catalog's writer lock.
pub fn restore_catalog(
    src: &Path,
    catalog: &Path,
    force: bool,
) -> Result<CatalogStatus, StoreError> {
    restore_of::<Catalog>(src, catalog, force)
}

fn restore_of<K: Backed>(src: &Path, path: &Path, force: bool) -> Result<K::Summary, StoreError> {
    if !src.is_file() {
        return Err(StoreError::NoBackup {
            path: src.to_path_buf(),
        });
    }
    let status = thoroughly_checked::<K>(src)?;
    let path = &files::resolve(path)?;
    refuse_overwrite(path, force)?;
    let _lock = WriterLock::acquire(path, "restore")?;
    // Work a killed run left behind belongs to the file being replaced.
    super::session::discard(path)?;
    checked_copy::<K>(src, path, &status)?;
    Ok(status)
}

impl Database {
    /// Reads every block of every table back, so that DuckDB verifies each block's checksum
    /// (it does on every read from disk, and only then): `status` and the queries touch a few
    /// columns, and a backup with one flipped 4 KiB block inside a table's data passed them
    /// all, to fail later in `timeline`. Hashing every column of every row is what makes the
    /// scan read every segment, strings' overflow blocks included. Memory is one aggregate per
    /// table, whatever its size. Returns the number of tables read.
    ///
    /// On a connection of its own, limited to `SCAN_MEMORY`: DuckDB keeps the blocks it read
    /// cached up to its memory limit (by default most of the machine's memory), and reading
    /// the 61 MB file of the realistic bucket through the query handle left `backup` 45 MB
    /// larger (160 → 205 MB peak); a file ten times larger would have stayed in memory whole.
    pub fn read_every_block(&self) -> Result<usize, StoreError> {
        read_every_block(&self.path)
    }

    /// Rows (availability and trading) and symbols: what a compacted copy must still hold.
    /// Counted directly rather than through `status`, whose joins took ~60 MB more than the
    /// writer's limit at the end of a first load.
    fn counts(&self) -> Result<(i64, i64), StoreError> {
        // Every kept market's: a copy must hold all of them.
        let schemas = super::KEPT_MARKETS
            .iter()
            .filter_map(|m| super::schema::schema_of(*m))
            .map(|schema| self.qualified(schema))
            .collect::<Result<Vec<_>, _>>()?;
        let sum = |table: &str| {
            schemas
                .iter()
                .map(|schema| format!("(SELECT count(*) FROM {schema}.{table})"))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        self.conn
            .query_row(
                &format!(
                    "SELECT {} + {}, {}",
                    sum("daily_availability_facts"),
                    sum("daily_trading"),
                    sum("symbols")
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err("counting the rows"))
    }
}

/// `Database::read_every_block` of the file at `path`, whatever its kind.
fn read_every_block(path: &Path) -> Result<usize, StoreError> {
    const READING: &str = "reading every block of every table";
    let file = super::files::resolve(path)?;
    let config = super::hardened(duckdb::Config::default())
        .and_then(|c| c.access_mode(duckdb::AccessMode::ReadOnly))
        .and_then(|c| c.max_memory(SCAN_MEMORY))
        .and_then(|c| c.threads(1))
        .and_then(|c| c.with("lock_configuration", "true"))
        .map_err(|source| super::duck(path, "configuring the block check", source))?;
    let conn = duckdb::Connection::open_with_flags(&file, config)
        .map_err(|source| super::duck(path, "opening the file for the block check", source))?;
    let err = |source| super::duck(path, READING, source);
    // Names come from the file, which may come from anyone: quoted, never spliced raw.
    let tables: Vec<(String, String, String)> = {
        let mut statement = conn
            .prepare(
                "SELECT t.schema_name, t.table_name,
                        string_agg('\"' || replace(c.column_name, '\"', '\"\"') || '\"', ', '
                                   ORDER BY c.column_index)
                 FROM duckdb_tables() t
                 JOIN duckdb_columns() c USING (database_name, schema_name, table_name)
                 WHERE t.database_name = current_database() AND NOT t.internal
                 GROUP BY ALL ORDER BY ALL",
            )
            .map_err(err)?;
        statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(err)?
    };
    // Qualified by the file's catalog too: DuckDB names it after the file, and in
    // `spot.duckdb` `"spot"."symbols"` is ambiguous between the catalog and the schema.
    let catalog: String = conn
        .query_row("SELECT current_database()", [], |r| r.get(0))
        .map_err(err)?;
    for (schema, table, columns) in &tables {
        conn.query_row(
            &format!(
                "SELECT max(hash({columns})) FROM {}.{}.{}",
                quoted(&catalog),
                quoted(schema),
                quoted(table)
            ),
            [],
            |_| Ok(()),
        )
        .map_err(err)?;
    }
    Ok(tables.len())
}

/// Rewrites the closed database at `work` (a writer's private copy) without its freed blocks,
/// through `compacted`, and puts the result in its place once it holds the same rows and
/// symbols. With a layout `plan`, the rows are laid out as it says on the way (`Plan::copy_into`).
pub(crate) fn compact(
    work: &Path,
    compacted: &Path,
    plan: Option<super::layout::Plan>,
) -> Result<(), StoreError> {
    let memory = super::MemoryLimit::from_env()?;
    rewrite::<Database, _>(
        work,
        compacted,
        plan.map(|plan| move |conn: &duckdb::Connection| plan.copy_into(conn, "compacted", memory)),
    )
}

/// Rewrites the closed file at `work` — a database or a catalog, a writer's private copy —
/// through `compacted`, and puts the result in its place once it holds the same rows (`K::rows`).
/// Without `fill`, DuckDB's `COPY FROM DATABASE` copies every table, view and sequence (with its
/// next value) as it is, without the freed blocks; with it, the schema is copied and `fill`
/// fills the database attached as `compacted` from the connection's own. Under the writers'
/// memory limit; a run killed during it leaves `work` as it was.
pub(crate) fn rewrite<K: Backed, F: FnOnce(&duckdb::Connection) -> duckdb::Result<()>>(
    work: &Path,
    compacted: &Path,
    fill: Option<F>,
) -> Result<(), StoreError> {
    let expect = K::rows(work)?;
    for leftover in [compacted.to_path_buf(), Beside::of(compacted).wal()] {
        files::remove_if_present(&leftover).map_err(io_failed("removing a leftover", &leftover))?;
    }
    let dest = super::utf8(compacted)?.replace('\'', "''");
    let memory = super::MemoryLimit::from_env()?;
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .and_then(|c| c.enable_autoload_extension(false))
        .and_then(|c| c.max_memory(&memory.duckdb()))
        .and_then(|c| c.threads(1))
        .map_err(|source| super::duck(work, "configuring the compaction", source))?;
    let conn = duckdb::Connection::open_with_flags(work, config)
        .map_err(|source| super::duck(work, "opening the copy to compact it", source))?;
    let name: String = conn
        .query_row("SELECT current_database()", [], |r| r.get(0))
        .map_err(|source| super::duck(work, "compacting the copy", source))?;
    conn.execute_batch(&format!(
        "SET allowed_paths = ['{dest}', '{dest}.wal', '{dest}.wal.checkpoint']; SET enable_external_access = false;
         SET lock_configuration = true;
         ATTACH '{dest}' AS compacted (READ_WRITE);"
    ))
    .map_err(|source| super::duck(work, "compacting the copy", source))?;
    let name = name.replace('"', "\"\"");
    match fill {
        None => conn.execute_batch(&format!("COPY FROM DATABASE \"{name}\" TO compacted;")),
        Some(fill) => conn
            .execute_batch(&format!(
                "COPY FROM DATABASE \"{name}\" TO compacted (SCHEMA);"
            ))
            .and_then(|()| fill(&conn)),
    }
    .and_then(|()| conn.execute_batch("DETACH compacted;"))
    .map_err(|source| super::duck(work, "compacting the copy", source))?;
    drop(conn);
    let copy = K::rows(compacted)?;
    if copy != expect {
        let _ = files::remove_if_present(compacted);
        return Err(StoreError::CopyDiffers {
            path: work.to_path_buf(),
            copy,
            original: expect,
        });
    }
    files::sync(compacted)?;
    std::fs::rename(compacted, work).map_err(io_failed("putting the compacted copy in place", work))
}

/// Writes each table to `<dest>/<table>.<format>` and returns the files written.
pub fn export(
    db: &Path,
    dest: &Path,
    format: ExportFormat,
    market: Market,
    force: bool,
) -> Result<Vec<PathBuf>, StoreError> {
    if dest.to_string_lossy().contains("://") {
        return Err(StoreError::NotLocal {
            path: dest.to_path_buf(),
        });
    }
    let mut db = Database::open_for_export(db, dest)?;
    // The market's tables answer the unqualified names below; `collection_runs` is the file's
    // one run log (every market's runs, with their `market`).
    db.select_market(market)?;
    let files: Vec<PathBuf> = EXPORTED
        .iter()
        .map(|(table, _)| dest.join(format!("{table}.{}", format.as_str())))
        .collect();
    for f in &files {
        refuse_overwrite(f, force)?;
    }
    let options = format.copy_options();
    for ((table, order), file) in EXPORTED.iter().zip(&files) {
        let target = file.to_string_lossy().replace('\'', "''");
        // COPY … TO writes an outside file, which a read-only connection may do.
        db.conn
            .execute_batch(&format!(
                "COPY (SELECT * FROM {table} ORDER BY {order}) TO '{target}' ({options})"
            ))
            .map_err(db.err("exporting a table"))?;
    }
    Ok(files)
}

/// The files `export_catalog` writes, each `DEST/<name>.<format>`, and what each holds.
const CATALOG_EXPORTED: [(&str, &str); 5] = [
    (
        "catalog_files",
        "every file: key, symbol, period, size, last_modified, checksum, dataset, interval, \
         market, partition, type (what `catalog export` partitions by market, partition and type)",
    ),
    (
        "catalog_changes",
        "every change: seen, key, dataset, kind, size, last_modified, previous_size, \
         previous_last_modified",
    ),
    (
        "catalog_strays",
        "every stray: key, size, last_modified, reason, folder",
    ),
    (
        "catalog_folders",
        "every folder: prefix, listed_at (null: never listed whole)",
    ),
    ("catalog_crawls", "the crawl log"),
];

/// The files `export --catalog` writes (without extension) and what each holds.
pub fn catalog_exported_files() -> impl Iterator<Item = (&'static str, &'static str)> {
    CATALOG_EXPORTED.iter().copied()
}

/// Writes the catalog at `catalog` to `DEST/catalog_<table>.<format>`: its files and changes
/// with their keys rebuilt and times as timestamps (what `catalog files` and `catalog changes`
/// answer), its strays, folders and crawl log as stored. Every query streams (a join with the
/// two small tables, no sort), so memory stays flat whatever the catalog's size; rows are in
/// the order stored (files leaf-clustered, changes and crawls by time, strays and folders by
/// listing). Returns the files written.
pub fn export_catalog(
    catalog: &Path,
    dest: &Path,
    format: ExportFormat,
    force: bool,
) -> Result<Vec<PathBuf>, StoreError> {
    if dest.to_string_lossy().contains("://") {
        return Err(StoreError::NotLocal {
            path: dest.to_path_buf(),
        });
    }
    // Checked with the locked, hardened connection first: no code runs before the export.
    let checked = Catalog::open(catalog)?;
    checked.check_thoroughly()?;
    let queries = [
        checked.files_export_sql(),
        checked.changes_export_sql(),
        "SELECT * FROM strays".to_string(),
        "SELECT * FROM folders".to_string(),
        "SELECT * FROM crawls ORDER BY id".to_string(),
    ];
    drop(checked);
    let files: Vec<PathBuf> = CATALOG_EXPORTED
        .iter()
        .map(|(name, _)| dest.join(format!("{name}.{}", format.as_str())))
        .collect();
    for f in &files {
        refuse_overwrite(f, force)?;
    }
    let conn = super::connect_for_export(catalog, dest)?;
    let options = format.copy_options();
    for (query, file) in queries.iter().zip(&files) {
        let target = file.to_string_lossy().replace('\'', "''");
        conn.execute_batch(&format!("COPY ({query}) TO '{target}' ({options})"))
            .map_err(|source| super::duck(catalog, "exporting a table", source))?;
    }
    Ok(files)
}

/// `name` as a quoted SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
