//! The file system under the database: every file kept beside it, named in one place
//! (`Beside`), and the ways they are made, so that nothing a crash, a careless operator or a
//! planted link leaves there can redirect or corrupt a write:
//!
//! - `--db` is resolved once: a symlink is followed to its target, so the lock, the private
//!   copy and the rename all sit beside the real file and the link keeps pointing at it.
//! - Temporary files are created exclusively (`O_EXCL`): a link planted at `DEST.partial` is
//!   removed, never written through.
//! - A copy that fails half-way (disk full) is removed before the error is returned.
//! - `Identity` tells whether a file is still the one a copy was taken from.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{StoreError, io_failed, os};

/// The files the tool keeps beside a database `<db>`, each `<db><suffix>`.
#[derive(Debug, Clone)]
pub struct Beside {
    db: PathBuf,
}

impl Beside {
    /// The files beside the database at `db`.
    pub fn of(db: &Path) -> Beside {
        Beside {
            db: db.to_path_buf(),
        }
    }

    fn with(&self, suffix: &str) -> PathBuf {
        let mut name = self.db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }

    /// `.lock`: the writer lock, naming its holder.
    pub fn lock(&self) -> PathBuf {
        self.with(".lock")
    }
    /// `.wal`: DuckDB's log of a file written in place (only by versions before ADR 0006).
    pub fn wal(&self) -> PathBuf {
        self.with(".wal")
    }
    /// `.copying`: the published file being copied, before it becomes `.writing`.
    pub fn copying(&self) -> PathBuf {
        self.with(".copying")
    }
    /// `.writing`: the private copy a collection writes and then publishes.
    pub fn writing(&self) -> PathBuf {
        self.with(".writing")
    }
    /// `.writing.wal`: DuckDB's log of the private copy.
    pub fn writing_wal(&self) -> PathBuf {
        self.with(".writing.wal")
    }
    /// `.writing.tmp`: DuckDB's spill folder for the private copy.
    pub fn writing_spill(&self) -> PathBuf {
        self.with(".writing.tmp")
    }
    /// `.writing.origin`: which file the private copy was taken from (`Identity`).
    pub fn writing_origin(&self) -> PathBuf {
        self.with(".writing.origin")
    }
    /// `.writing.origin.tmp`: the origin record before its atomic rename.
    pub fn writing_origin_tmp(&self) -> PathBuf {
        self.with(".writing.origin.tmp")
    }
    /// `.compact`: this file rewritten without its freed blocks (`Database::close`).
    pub fn compacting(&self) -> PathBuf {
        self.with(".compact")
    }
    /// `.partial`: a copy being made to this path (`backup`, `restore`), checked before rename.
    pub fn partial(&self) -> PathBuf {
        self.with(".partial")
    }
    /// `.readidx`: the read index of the published file (`index_file`), stamped with it.
    pub fn read_index(&self) -> PathBuf {
        self.with(".readidx")
    }
    /// `.readidx.tmp`: the read index being written at publish, before its atomic rename.
    pub fn read_index_tmp(&self) -> PathBuf {
        self.with(".readidx.tmp")
    }
    /// `.scheduler.pid`: the running scheduler's pid and settings.
    pub fn scheduler_pid(&self) -> PathBuf {
        self.with(".scheduler.pid")
    }
    /// `.scheduler.log`: a detached scheduler's output.
    pub fn scheduler_log(&self) -> PathBuf {
        self.with(".scheduler.log")
    }

    /// Every file an unpublished write leaves (the spill folder aside).
    pub fn unpublished(&self) -> [PathBuf; 8] {
        [
            self.writing(),
            self.writing_wal(),
            Beside::of(&self.writing()).compacting(),
            Beside::of(&Beside::of(&self.writing()).compacting()).wal(),
            self.copying(),
            self.writing_origin(),
            self.writing_origin_tmp(),
            self.read_index_tmp(),
        ]
    }
}

/// A file locked exclusively by this process, with what it wrote in it.
pub(crate) enum Claim {
    Held(File),
    /// Another process holds it; what it wrote there.
    Taken(String),
    /// The path named another file each time it was locked (`CLAIM_TRIES` times).
    KeptReplaced,
}

/// Claims `path` (the writer lock, the pid file): opens it without following a link, locks it
/// exclusively, checks that the path still names the file it locked (a remover may have
/// unlinked it in between), and writes `content` in it. The operating system releases the
/// lock when the holder exits, even by `kill -9`. Errors say which step failed.
pub(crate) fn claim(path: &Path, content: &[u8]) -> Result<Claim, (&'static str, std::io::Error)> {
    use std::io::{Read, Seek};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ("create the folder of", e))?;
    }
    // A stale file removed between our open and our lock is the race this loop covers; a path
    // that keeps being replaced is someone else's doing, and gets an error, not a spin.
    for _ in 0..CLAIM_TRIES {
        let mut file = open_no_follow(path).map_err(|e| ("open", e))?;
        match try_lock_patiently(&file) {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Ok(Claim::Taken(holder));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(("lock", e)),
        }
        if !still_named_by(&file, path) {
            continue;
        }
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(content))
            .and_then(|_| file.sync_all())
            .map_err(|e| ("write", e))?;
        return Ok(Claim::Held(file));
    }
    Ok(Claim::KeptReplaced)
}

/// Opens of a lock or pid file that may find it replaced before giving up.
pub(crate) const CLAIM_TRIES: u32 = 5;

/// `try_lock`, tried a few times over a fifth of a second: `holder` (and `status`) take the
/// lock for an instant to look, which must not turn a starting writer away.
pub(crate) fn try_lock_patiently(file: &File) -> Result<(), std::fs::TryLockError> {
    for _ in 0..20 {
        match os::try_lock(file) {
            Err(std::fs::TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            other => return other,
        }
    }
    os::try_lock(file)
}

/// Whether `path` still names the open `file` (same device and inode).
pub(crate) fn still_named_by(file: &File, path: &Path) -> bool {
    match (os::stat(file), os::stat_path(path)) {
        (Ok(a), Ok(b)) => (a.dev, a.ino) == (b.dev, b.ino),
        _ => false,
    }
}

/// The database path with any symlink resolved, so the files beside it are the real file's.
/// A path that does not exist yet is returned as it is (its folder is made on first write).
pub fn resolve(path: &Path) -> Result<PathBuf, StoreError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            // A link to a file that does not exist yet: follow the link itself, relative to
            // the link's folder, so the first write creates the target.
            std::fs::canonicalize(path).or_else(|_| {
                let target = std::fs::read_link(path)?;
                Ok(match path.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                })
            })
        }
        .map_err(io_failed("resolving the link", path)),
        _ => Ok(path.to_path_buf()),
    }
}

/// Opens `path` without following a symlink at its end (`O_NOFOLLOW`), creating it if needed:
/// for the lock and pid files, which are truncated and written.
pub(crate) fn open_no_follow(path: &Path) -> std::io::Result<File> {
    os::open_no_follow(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
        path,
    )
}

/// Removes `path` if it is there (a link is removed, not its target).
pub(crate) fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Copies `from` to a new file `to` (created exclusively after removing a leftover), flushed to
/// disk. On any failure the partial `to` is removed, so a full disk leaves nothing behind.
pub(crate) fn copy_new(from: &Path, to: &Path) -> Result<(), StoreError> {
    remove_if_present(to).map_err(io_failed("removing a leftover copy", to))?;
    let copy = || -> std::io::Result<()> {
        let mut src = File::open(from)?;
        let mut dst = os::open_no_follow(OpenOptions::new().write(true).create_new(true), to)?;
        std::io::copy(&mut src, &mut dst)?;
        dst.flush()?;
        dst.sync_all()
    };
    copy().map_err(|source| {
        if let Err(e) = remove_if_present(to) {
            tracing::warn!("could not remove the partial copy {}: {e}", to.display());
        }
        StoreError::Io {
            action: "copying the database",
            path: to.to_path_buf(),
            source,
        }
    })
}

/// Bytes an unprivileged process may still write in the folder holding `path`, or the
/// nearest folder above it that exists (`statvfs`; `GetDiskFreeSpaceExW` on Windows).
pub(crate) fn free_bytes(path: &Path) -> std::io::Result<u64> {
    // The nearest folder that exists: a first write creates the database's folder.
    let dir = path
        .ancestors()
        .skip(1)
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .find(|d| d.is_dir())
        .unwrap_or(Path::new("/"));
    os::free_bytes(dir)
}

/// Flushes a file to disk.
pub(crate) fn sync(path: &Path) -> Result<(), StoreError> {
    os::sync_file(path).map_err(io_failed("flushing to disk", path))
}

/// Flushes the folder holding `path`, so that a rename in it survives a power cut (Windows has
/// no call for it: `os`).
pub(crate) fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    os::sync_dir(dir).map_err(io_failed("flushing to disk", dir))
}

/// Which file a path holds: device, inode, size and modification time. Replacing the file
/// (`mv`) changes the inode; overwriting it in place (`cp`) changes size or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Identity {
    Absent,
    File {
        dev: u64,
        ino: u64,
        len: u64,
        mtime_ns: i128,
    },
}

impl Identity {
    pub(crate) fn of(path: &Path) -> Result<Identity, StoreError> {
        match os::stat_path(path) {
            Ok(os::Stat {
                dev,
                ino,
                len,
                mtime_ns,
            }) => Ok(Identity::File {
                dev,
                ino,
                len,
                mtime_ns,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Identity::Absent),
            Err(e) => Err(io_failed("reading the metadata of", path)(e)),
        }
    }
}

impl Identity {
    /// A short token naming this file (for HTTP validators): it changes whenever the identity
    /// does.
    pub(crate) fn token(&self) -> String {
        match self {
            Identity::Absent => "absent".to_string(),
            Identity::File {
                dev,
                ino,
                len,
                mtime_ns,
            } => format!("{dev:x}-{ino:x}-{len:x}-{mtime_ns:x}"),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::Absent => write!(f, "no file"),
            Identity::File { ino, len, .. } => write!(f, "{len} bytes, inode {ino}"),
        }
    }
}
