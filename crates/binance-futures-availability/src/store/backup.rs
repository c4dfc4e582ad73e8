//! Copies in and out: `backup` (a consistent copy of the file), `restore` (checked first, then
//! swapped in like a finished write) and `export` (Parquet or CSV for other tools).
//!
//! The published file is only ever replaced by a rename, never written in place (see
//! `session`), so a plain file copy is a consistent snapshot even while an update runs.

use std::path::{Path, PathBuf};

use super::files::{self, Beside, copy_new};
use super::{Database, DbStatus, StoreError, WriterLock, io_failed};

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

fn refuse_overwrite(path: &Path, force: bool) -> Result<(), StoreError> {
    if path.exists() && !force {
        return Err(StoreError::Exists {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Copies `from` to `to` through a temporary sibling, checks the copy opens as a database of
/// this schema with the same content counts, and only then puts it in place.
fn checked_copy(from: &Path, to: &Path, expect: &DbStatus) -> Result<(), StoreError> {
    let partial = Beside::of(to).partial();
    // Created exclusively: a link planted at `.partial` is removed, never written through.
    copy_new(from, &partial)?;
    let copy = match Database::open(&partial).and_then(|db| db.status()) {
        Ok(copy) => copy,
        Err(e) => {
            let _ = files::remove_if_present(&partial);
            return Err(e);
        }
    };
    if (copy.rows, copy.symbols.total) != (expect.rows, expect.symbols.total) {
        let _ = files::remove_if_present(&partial);
        return Err(StoreError::CopyDiffers {
            path: to.to_path_buf(),
            copy: (copy.rows, copy.symbols.total),
            original: (expect.rows, expect.symbols.total),
        });
    }
    std::fs::rename(&partial, to).map_err(io_failed("putting the copy in place", to))?;
    // The rename is only durable once the folder is.
    files::sync_parent(to)
}

/// What the file at `path` holds, once it is known to carry no view or macro and every block
/// of every table reads back with its checksum (`read_every_block`).
fn thoroughly_checked(path: &Path) -> Result<DbStatus, StoreError> {
    let db = Database::open(path)?;
    db.check_thoroughly()?;
    db.read_every_block()?;
    db.status()
}

/// Writes a consistent copy of the database at `db` to `dest`.
pub fn backup(db: &Path, dest: &Path, force: bool) -> Result<DbStatus, StoreError> {
    // The `.wal` that matters is the real file's, as writers see it.
    let db = &files::resolve(db)?;
    let status = thoroughly_checked(db)?;
    if Beside::of(db).wal().exists() {
        return Err(StoreError::PendingWal {
            path: db.to_path_buf(),
        });
    }
    refuse_overwrite(dest, force)?;
    checked_copy(db, dest, &status)?;
    Ok(status)
}

/// Puts the database at `src` in place of the one at `db`, after checking it opens as a
/// database of this schema. Waits for no one: if a collection is writing, it refuses.
pub fn restore(src: &Path, db: &Path, force: bool) -> Result<DbStatus, StoreError> {
    if !src.is_file() {
        return Err(StoreError::NoBackup {
            path: src.to_path_buf(),
        });
    }
    let status = thoroughly_checked(src)?;
    let db = &files::resolve(db)?;
    refuse_overwrite(db, force)?;
    let _lock = WriterLock::acquire(db, "restore")?;
    // Work a killed run left behind belongs to the database being replaced.
    super::session::discard(db)?;
    checked_copy(src, db, &status)?;
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
        const READING: &str = "reading every block of every table";
        let path = &self.path;
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
        for (schema, table, columns) in &tables {
            conn.query_row(
                &format!(
                    "SELECT max(hash({columns})) FROM {}.{}",
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

    /// Rows (availability and trading) and symbols: what a compacted copy must still hold.
    /// Counted directly rather than through `status`, whose joins took ~60 MB more than the
    /// writer's limit at the end of a first load.
    fn counts(&self) -> Result<(i64, i64), StoreError> {
        // Every kept market's: a copy must hold all of them.
        let sum = |table: &str| {
            super::KEPT_MARKETS
                .iter()
                .filter_map(|m| super::schema::schema_of(*m))
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

/// Rewrites the closed database at `work` (a writer's private copy) without its freed blocks,
/// through `compacted`, and puts the result in its place once it holds the same rows and
/// symbols. With a layout `plan`, the rows are laid out as it says on the way (`Plan::copy_into`).
/// DuckDB's `COPY FROM DATABASE` copies every table, view and sequence (with its next value)
/// under the writers' memory limit; a run killed during it leaves `work` as it was.
pub(crate) fn compact(
    work: &Path,
    compacted: &Path,
    plan: Option<super::layout::Plan>,
) -> Result<(), StoreError> {
    let expect = Database::open(work)?.counts()?;
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
    match plan {
        None => conn.execute_batch(&format!("COPY FROM DATABASE \"{name}\" TO compacted;")),
        Some(plan) => conn
            .execute_batch(&format!(
                "COPY FROM DATABASE \"{name}\" TO compacted (SCHEMA);"
            ))
            .and_then(|()| plan.copy_into(&conn, "compacted", memory)),
    }
    .and_then(|()| conn.execute_batch("DETACH compacted;"))
    .map_err(|source| super::duck(work, "compacting the copy", source))?;
    drop(conn);
    let copy = Database::open(compacted)?.counts()?;
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
    force: bool,
) -> Result<Vec<PathBuf>, StoreError> {
    if dest.to_string_lossy().contains("://") {
        return Err(StoreError::NotLocal {
            path: dest.to_path_buf(),
        });
    }
    let db = Database::open_for_export(db, dest)?;
    let files: Vec<PathBuf> = EXPORTED
        .iter()
        .map(|(table, _)| dest.join(format!("{table}.{}", format.as_str())))
        .collect();
    for f in &files {
        refuse_overwrite(f, force)?;
    }
    let options = match format {
        ExportFormat::Parquet => "FORMAT parquet, COMPRESSION zstd",
        ExportFormat::Csv => "FORMAT csv, HEADER true",
    };
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

/// `name` as a quoted SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
