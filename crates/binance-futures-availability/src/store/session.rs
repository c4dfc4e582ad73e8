//! How a writer shares the file with readers (ADR 0006). DuckDB lets one process open a file for
//! writing and then locks everyone else out, so a writer never opens the published file: it works
//! on a private copy, `<db>.writing`, and publishes it with an atomic rename. Readers open the
//! published file at any time and see the state before or after a run, never half of one.
//!
//! A run killed mid-way leaves `<db>.writing` with every batch it committed; the next writer
//! resumes from it instead of starting over, so no work is lost and nothing half-written is
//! ever visible. A copy is resumed only while it provably descends from the published file:
//! `<db>.writing.origin` records which file it was copied from (`Identity`), written before the
//! copy exists. A database put in place since (`cp good.duckdb …`) makes the copy stale: it is
//! discarded with a warning, and a copy is refused at publish if the file changed under it.
//!
//! The published file is checked before anything is copied (ours, not newer, no views), and a
//! run refused at any point before publishing removes what it created.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::{self, Beside, Identity};
use super::{Database, RoomFor, StoreError, WriterLock, io_failed};

/// A kind of database file written through a session: the availability `Database` and the
/// `Catalog` (ADR 0020). The session needs of it only what this says; each kind keeps its own
/// schema, run log and layout.
pub trait Published: Sized {
    /// Checks, read-only, that the file at `path` may be copied and written (absent, or a file
    /// of this kind of any version up to this binary's, without code); the id of its newest
    /// logged run, 0 when none.
    fn check_writable(path: &Path) -> Result<i64, StoreError>;
    /// Opens (creating if needed) for writing, migrating the schema forward.
    fn open_for_write(path: &Path) -> Result<Self, StoreError>;
    /// In a resumed copy, marks the runs logged after `last_published` that finished but were
    /// never published.
    fn mark_unpublished_runs(&mut self, last_published: i64) -> Result<(), StoreError>;
    /// Batches this handle committed.
    fn committed_batches(&self) -> u64;
    /// The file.
    fn path(&self) -> &Path;
    /// Checkpoints and closes (folding a write-ahead log into the file).
    fn close(self) -> Result<(), StoreError>;
    /// Puts the rows in the order readers want, checkpoints and closes, before publishing.
    fn lay_out_and_close(self) -> Result<(), StoreError>;
    /// Writes, to `tmp`, the read index of the closed copy `work` that one-shot readers answer
    /// from (`index_file`); whether one was written. None by default.
    fn write_read_index(_work: &Path, _tmp: &Path) -> Result<bool, StoreError> {
        Ok(false)
    }
}

impl Published for Database {
    fn check_writable(path: &Path) -> Result<i64, StoreError> {
        Database::check_writable(path)
    }
    fn open_for_write(path: &Path) -> Result<Self, StoreError> {
        Database::open_for_write(path)
    }
    fn mark_unpublished_runs(&mut self, last_published: i64) -> Result<(), StoreError> {
        Database::mark_unpublished_runs(self, last_published)
    }
    fn committed_batches(&self) -> u64 {
        Database::committed_batches(self)
    }
    fn path(&self) -> &Path {
        Database::path(self)
    }
    fn close(self) -> Result<(), StoreError> {
        Database::close(self)
    }
    fn lay_out_and_close(self) -> Result<(), StoreError> {
        Database::lay_out_and_close(self)
    }
    fn write_read_index(work: &Path, tmp: &Path) -> Result<bool, StoreError> {
        let started = std::time::Instant::now();
        let written = super::index_file::write(work, tmp)?;
        if let Some(w) = written {
            tracing::debug!(
                "wrote the read index: {} bytes, {} markets, in {:.1} ms",
                w.bytes,
                w.sections,
                started.elapsed().as_secs_f64() * 1e3
            );
        }
        Ok(written.is_some())
    }
}

/// A write in progress: the writer lock, and the private copy being written.
pub struct WriteSession<D: Published = Database> {
    db: D,
    target: PathBuf,
    origin: Identity,
    /// The copy holds batches of a stopped run (see `has_work`).
    resumed: bool,
    _lock: WriterLock,
}

/// What `<db>.writing.origin` records: the file the copy was taken from. A copy is resumed
/// only while that file is unchanged, so the runs it logged are the published ones.
#[derive(Debug, Serialize, Deserialize)]
struct Origin {
    identity: Identity,
}

fn read_origin(target: &Path) -> Option<Origin> {
    let text = std::fs::read_to_string(Beside::of(target).writing_origin()).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_origin(target: &Path, origin: &Origin) -> Result<(), StoreError> {
    let path = Beside::of(target).writing_origin();
    let text = serde_json::to_vec(origin).map_err(|e| StoreError::Io {
        action: "recording where the copy comes from",
        path: path.clone(),
        source: e.into(),
    })?;
    let tmp = Beside::of(target).writing_origin_tmp();
    files::remove_if_present(&tmp).map_err(io_failed("removing a leftover", &tmp))?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, &text)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(io_failed("recording where the copy comes from", &path))
}

/// Removes an unpublished copy and everything DuckDB or this module keeps beside it.
pub(crate) fn discard(target: &Path) -> Result<(), StoreError> {
    for path in Beside::of(target).unpublished() {
        files::remove_if_present(&path)
            .map_err(io_failed("removing an unpublished copy", &path))?;
    }
    remove_spill(target);
    Ok(())
}

/// DuckDB spills next to the copy, into `<copy>.tmp`, and leaves the folder behind when a
/// killed run's spill files were removed by the run that resumed it.
fn remove_spill(target: &Path) {
    let spill = Beside::of(target).writing_spill();
    match std::fs::remove_dir_all(&spill) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            "could not remove DuckDB's spill folder {}: {e}",
            spill.display()
        ),
    }
}

/// Free space a write needs beside the database, as a multiple of the published file, in
/// halves: 5 = 2.5×. Measured (BENCHMARKS.md, issue 24; `benches/disk_peak.sh`): the private
/// copy, its write-ahead log (folded at an eighth of the memory limit), DuckDB's spill folder
/// and the compacted copy together peaked at 2.05× the result for an update of the realistic
/// database (128 MB beside 62 MB) and for a first load (127 MB for 62 MB), whose sorts are
/// made while the copy is rewritten compact (`Database::lay_out_and_close`); a backfill of the
/// whole history over 20 days fits a disk of 2.5× its result (`tests/scale.rs`).
const HEADROOM_HALVES: u64 = 5;

/// What a write needs free when there is no database yet: a first load of today's whole
/// bucket peaked at 127 MB beside the database, with room to spare for a bucket that grows.
const FIRST_LOAD_ROOM: u64 = 200_000_000;

/// Refuses to start a write on a disk that cannot hold it: better a sentence now than DuckDB
/// failing on a full disk an hour in. A resumed copy's files already take their share.
fn check_room(target: &Path) -> Result<(), StoreError> {
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let published = size(target);
    let beside = Beside::of(target);
    let taken = size(&beside.writing()) + size(&beside.writing_wal());
    let (needed, why) = if published == 0 {
        (FIRST_LOAD_ROOM, RoomFor::FirstLoad)
    } else {
        (
            published.saturating_mul(HEADROOM_HALVES) / 2,
            RoomFor::Update {
                database_mb: published.div_ceil(1_000_000),
            },
        )
    };
    let needed = needed.saturating_sub(taken);
    let free =
        files::free_bytes(target).map_err(io_failed("measuring the free space for", target))?;
    if free < needed {
        return Err(StoreError::NoRoom {
            dir: target
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
            free: free / 1_000_000,
            needed: needed.div_ceil(1_000_000),
            why,
        });
    }
    Ok(())
}

impl<D: Published> WriteSession<D> {
    /// Takes the writer lock (naming `what` as its holder) and opens the private copy: resumed
    /// when a killed run left one copied from the file that is still published, otherwise
    /// copied from the published file (or created).
    pub fn begin(target: &Path, what: &str) -> Result<WriteSession<D>, StoreError> {
        let target = &files::resolve(target)?;
        let lock = WriterLock::acquire(target, what)?;
        check_room(target)?;
        // A file last written in place (before this design) may still have a WAL: fold it in
        // so the copy holds everything.
        let beside = Beside::of(target);
        if target.exists() && beside.wal().exists() {
            D::open_for_write(target)?.close()?;
        }
        let last_published_run = D::check_writable(target)?;
        let identity = Identity::of(target)?;
        let work = beside.writing();
        let resumed = match (work.exists(), read_origin(target)) {
            (false, _) => false,
            (true, Some(o)) if o.identity == identity => {
                tracing::info!("resuming the work a stopped run left in {}", work.display());
                true
            }
            (true, origin) => {
                tracing::warn!(
                    "discarding {}: {}; a copy that does not descend from the published \
                     database must not replace it",
                    work.display(),
                    match origin {
                        Some(o) => format!(
                            "it was copied from {}, but {} now holds {identity} (replaced since)",
                            o.identity,
                            target.display()
                        ),
                        None => "nothing records which database it was copied from".into(),
                    }
                );
                discard(target)?;
                false
            }
        };
        if !resumed {
            write_origin(target, &Origin { identity })?;
            if target.exists() {
                let copying = beside.copying();
                files::copy_new(target, &copying)
                    .and_then(|()| {
                        std::fs::rename(&copying, &work)
                            .map_err(io_failed("preparing the copy", &work))
                    })
                    // A full disk leaves neither a partial copy nor its origin behind.
                    .inspect_err(|_| {
                        let _ = discard(target);
                    })?;
            }
        }
        let opened = D::open_for_write(&work).and_then(|mut db| {
            if resumed {
                // Runs the copy logged after the published file's newest were never published.
                db.mark_unpublished_runs(last_published_run)?;
            }
            Ok(db)
        });
        let db = match opened {
            Ok(db) => db,
            Err(e) => {
                // Nothing of a refused run stays behind to trip the next one.
                discard(target)?;
                return Err(e);
            }
        };
        Ok(WriteSession {
            db,
            target: target.clone(),
            origin: identity,
            resumed,
            _lock: lock,
        })
    }

    /// Whether the copy holds anything worth publishing: batches committed in this session, or
    /// a stopped run's batches that it resumed.
    pub fn has_work(&self) -> bool {
        self.resumed || self.db.committed_batches() > 0
    }

    /// Drops the copy unpublished: the database stays byte-identical, or absent if there was
    /// none. For a run that failed before collecting anything (ADR 0006).
    pub fn abandon(self) -> Result<(), StoreError> {
        let target = self.target;
        drop(self.db);
        discard(&target)
    }

    /// The private copy's database, to write.
    pub fn db(&mut self) -> &mut D {
        &mut self.db
    }

    /// Puts the rows in date order if needed (see `layout`), checkpoints and closes the copy, then puts it in place of
    /// the published file in one rename — unless that file was replaced since the copy was
    /// taken. Readers that already opened the old file keep reading it undisturbed.
    pub fn publish(self) -> Result<(), StoreError> {
        let db = self.db;
        let work = db.path().to_path_buf();
        db.lay_out_and_close()?;
        let wal = Beside::of(&self.target).writing_wal();
        if wal.exists() {
            // Publishing without the WAL would drop committed batches; keep the copy to resume.
            return Err(StoreError::WalLeft { path: wal });
        }
        remove_spill(&self.target);
        let now = Identity::of(&self.target)?;
        if now != self.origin {
            discard(&self.target)?;
            return Err(StoreError::Replaced {
                path: self.target,
                was: self.origin.to_string(),
                now: now.to_string(),
            });
        }
        publish_read_index::<D>(&work, &self.target);
        files::sync(&work)?;
        std::fs::rename(&work, &self.target)
            .map_err(|source| publish_failed(&work, &self.target, source))?;
        // Make the rename itself durable.
        files::sync_parent(&self.target)?;
        files::remove_if_present(&Beside::of(&self.target).writing_origin()).map_err(io_failed(
            "removing",
            &Beside::of(&self.target).writing_origin(),
        ))
    }
}

/// Why renaming the copy `work` over `target` failed. Windows refuses it with "access denied"
/// or a sharing violation when a process holds `target` open without sharing deletion, or
/// when the file system cannot replace a file held open at all (std's rename uses POSIX
/// semantics, which replace a file readers hold, only where the file system has them, NTFS
/// from Windows 10 1607): that gets its own sentence, saying what to do. The copy and its
/// origin stay, so the next run resumes and publishes it.
fn publish_failed(work: &Path, target: &Path, source: std::io::Error) -> StoreError {
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION};
        let refused = [ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION].map(|c| c as i32);
        if source.raw_os_error().is_some_and(|c| refused.contains(&c)) {
            return StoreError::PublishRefused {
                path: target.to_path_buf(),
                copy: work.to_path_buf(),
                source,
            };
        }
    }
    #[cfg(not(windows))]
    let _ = work;
    io_failed("publishing the database", target)(source)
}

/// Puts the read index of the copy `work` in place beside `target`, just before the copy is
/// renamed over it (ADR 0022). The index is stamped with the copy, so in between, or after a
/// crash there, readers find an index describing another file than the published one and
/// ignore it. It only spares readers DuckDB's start: a failure to write it is a warning, the
/// old one is removed, and the file is published without one.
fn publish_read_index<D: Published>(work: &Path, target: &Path) {
    let beside = Beside::of(target);
    let (tmp, index) = (beside.read_index_tmp(), beside.read_index());
    let put = D::write_read_index(work, &tmp).and_then(|written| {
        if written {
            std::fs::rename(&tmp, &index).map_err(io_failed("publishing the read index", &index))
        } else {
            files::remove_if_present(&index).map_err(io_failed("removing", &index))
        }
    });
    if let Err(e) = put {
        tracing::warn!("publishing without a read index (queries ask DuckDB instead): {e}");
        for path in [&tmp, &index] {
            if let Err(e) = files::remove_if_present(path) {
                tracing::warn!("could not remove {}: {e}", path.display());
            }
        }
    }
}
