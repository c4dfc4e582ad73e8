//! One writer at a time: an exclusive lock on `<database>.lock`, holding a line that says who
//! holds it. The operating system releases it when the holder exits, even by `kill -9`.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Held for the life of a collection run.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
    path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another collection is writing {db}: {holder} (lock file {lock}); wait for it to finish"
    )]
    Held {
        db: PathBuf,
        lock: PathBuf,
        holder: String,
    },
    #[error("could not open the lock file {lock}: {source}")]
    Io {
        lock: PathBuf,
        source: std::io::Error,
    },
}

impl WriterLock {
    /// Takes the writer lock of the database at `db`, recording `what` (e.g. `update`) as its holder.
    pub fn acquire(db: &Path, what: &str) -> Result<WriterLock, LockError> {
        let lock = lock_path(db);
        if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| LockError::Io {
                lock: lock.clone(),
                source,
            })?;
        }
        let io = |source| LockError::Io {
            lock: lock.clone(),
            source,
        };
        // Never through a link: the file is truncated and written below.
        let mut file = super::open_no_follow(&lock).map_err(io)?;
        match try_lock_patiently(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = if holder.trim().is_empty() {
                    "an unknown process".to_string()
                } else {
                    holder.trim().to_string()
                };
                return Err(LockError::Held {
                    db: db.to_path_buf(),
                    lock,
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let line = format!(
            "pid {} running `{what}` since {}",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(line.as_bytes()))
            .map_err(io)?;
        Ok(WriterLock {
            _file: file,
            path: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who holds the writer lock of `db` right now, if anyone. Looks without taking it for
    /// longer than an instant.
    pub fn holder(db: &Path) -> Option<String> {
        let mut file = File::open(lock_path(db)).ok()?;
        match file.try_lock_shared() {
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                Some(holder.trim().to_string())
            }
            _ => None,
        }
    }
}

fn lock_path(db: &Path) -> PathBuf {
    super::sibling(db, ".lock")
}

/// `try_lock`, tried a few times over a fifth of a second: `holder` (and `status`) take the
/// lock shared for an instant to look, which must not turn a starting writer away.
pub(crate) fn try_lock_patiently(file: &File) -> Result<(), TryLockError> {
    for _ in 0..20 {
        match file.try_lock() {
            Err(TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            other => return other,
        }
    }
    file.try_lock()
}
