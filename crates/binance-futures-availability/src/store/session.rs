//! How a writer shares the file with readers (ADR 0006). DuckDB lets one process open a file for
//! writing and then locks everyone else out, so a writer never opens the published file: it works
//! on a private copy, `<db>.writing`, and publishes it with an atomic rename. Readers open the
//! published file at any time and see the state before or after a run, never half of one.
//!
//! A run killed mid-way leaves `<db>.writing` with every batch it committed; the next writer
//! resumes from it instead of starting over, so no work is lost and nothing half-written is
//! ever visible.

use std::path::{Path, PathBuf};

use super::{Database, StoreError, WriterLock, io_failed};

/// A write in progress: the writer lock, and the private copy being written.
pub struct WriteSession {
    db: Database,
    target: PathBuf,
    _lock: WriterLock,
}

/// `<db><suffix>`, next to the database.
pub(crate) fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl WriteSession {
    /// Takes the writer lock (naming `what` as its holder) and opens the private copy: resumed
    /// when a killed run left one, otherwise copied from the published file (or created).
    pub fn begin(target: &Path, what: &str) -> Result<WriteSession, StoreError> {
        let lock = WriterLock::acquire(target, what)?;
        let work = sibling(target, ".writing");
        if !work.exists() {
            let copying = sibling(target, ".copying");
            if target.exists() {
                // A file last written in place (before this design) may still have a WAL:
                // fold it in so the copy holds everything.
                if sibling(target, ".wal").exists() {
                    Database::open_for_write(target)?.close()?;
                }
                std::fs::copy(target, &copying)
                    .map_err(io_failed("copying the database", target))?;
                sync(&copying)?;
                std::fs::rename(&copying, &work).map_err(io_failed("preparing the copy", &work))?;
            }
        } else {
            tracing::info!("resuming the work a stopped run left in {}", work.display());
        }
        let mut db = Database::open_for_write(&work)?;
        // A first run fills an empty table: load it in bulk and build the keys at publish.
        if db.defer_keys()? {
            tracing::info!("loading in bulk; the keys are built before publishing");
        }
        Ok(WriteSession {
            db,
            target: target.to_path_buf(),
            _lock: lock,
        })
    }

    pub fn db(&mut self) -> &mut Database {
        &mut self.db
    }

    /// Brings `day_files` up to date, checkpoints and closes the copy, then puts it in place of
    /// the published file in one rename. Readers that already opened the old file keep reading it undisturbed.
    pub fn publish(self) -> Result<(), StoreError> {
        let mut db = self.db;
        db.refresh()?;
        let work = db.path().to_path_buf();
        db.close()?;
        let wal = sibling(&work, ".wal");
        if wal.exists() {
            // Publishing without the WAL would drop committed batches; keep the copy to resume.
            return Err(StoreError::Io {
                action: "checkpointing before publishing",
                path: wal,
                source: std::io::Error::other("the write-ahead log is still there after closing"),
            });
        }
        // DuckDB spills next to the copy, into `<copy>.tmp`, and leaves the folder behind when a
        // killed run's spill files were removed by the run that resumed it.
        let spill = sibling(&work, ".tmp");
        match std::fs::remove_dir_all(&spill) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                "could not remove DuckDB's spill folder {}: {e}",
                spill.display()
            ),
        }
        sync(&work)?;
        std::fs::rename(&work, &self.target)
            .map_err(io_failed("publishing the database", &self.target))?;
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable.
            sync(dir)?;
        }
        Ok(())
    }
}

fn sync(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_failed("flushing to disk", path))
}
