//! Copies in and out: `backup` (a consistent copy of the file), `restore` (checked first, then
//! swapped in like a finished write) and `export` (Parquet or CSV for other tools).
//!
//! The published file is only ever replaced by a rename, never written in place (see
//! `session`), so a plain file copy is a consistent snapshot even while an update runs.

use std::path::{Path, PathBuf};

use super::files::{self, Beside, copy_new};
use super::{Database, DbStatus, StoreError, WriterLock, io_failed};

/// The tables an export writes, each ordered so the files diff and compress well.
const EXPORTED: [(&str, &str); 6] = [
    ("daily_availability", "date, symbol"),
    ("symbols", "symbol"),
    ("collection_runs", "id"),
    ("daily_trading", "date, symbol"),
    ("trading_files", "symbol, kind, first_day"),
    ("trading_disagreements", "date, symbol"),
];

/// File formats for `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Parquet,
    Csv,
}

impl ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Csv => "csv",
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

/// What the file at `path` holds, once it is known to carry no view or macro.
fn thoroughly_checked(path: &Path) -> Result<DbStatus, StoreError> {
    let db = Database::open(path)?;
    db.check_thoroughly()?;
    db.status()
}

/// Writes a consistent copy of the database at `db` to `dest`.
pub fn backup(db: &Path, dest: &Path, force: bool) -> Result<DbStatus, StoreError> {
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
    /// Rows (availability and trading) and symbols: what a compacted copy must still hold.
    /// Counted directly rather than through `status`, whose joins took ~60 MB more than the
    /// writer's limit at the end of a first load.
    fn counts(&self) -> Result<(i64, i64), StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM daily_availability_facts)
                          + (SELECT count(*) FROM daily_trading),
                        (SELECT count(*) FROM symbols)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err("counting the rows"))
    }
}

/// Rewrites the closed database at `work` (a writer's private copy) without its freed blocks,
/// through `compacted`, and puts the result in its place once it holds the same rows and
/// symbols.
/// DuckDB's `COPY FROM DATABASE` copies every table, view and sequence (with its next value)
/// under the writers' memory limit; a run killed during it leaves `work` as it was.
pub(crate) fn compact(work: &Path, compacted: &Path) -> Result<(), StoreError> {
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
         ATTACH '{dest}' AS compacted (READ_WRITE); COPY FROM DATABASE \"{name}\" TO compacted; DETACH compacted;",
        name = name.replace('"', "\"\"")
    ))
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
        .map(|(table, _)| dest.join(format!("{table}.{}", format.extension())))
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
