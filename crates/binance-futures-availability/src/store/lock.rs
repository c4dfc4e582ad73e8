//! One writer at a time: an exclusive lock on `<database>.lock`, holding a line that says who
//! holds it. The operating system releases it when the holder exits, even by `kill -9`.

use std::fs::{File, TryLockError};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::files::{Beside, Claim, claim};

/// Held for the life of a collection run.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
    path: PathBuf,
}

/// Why the lock could not be taken.
/// Why the writer lock could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "another collection is writing {db}: {holder} (lock file {lock}); wait for it to finish"
    )]
    Held {
        /// The database.
        db: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// What the holder wrote in it (who and since when).
        holder: String,
    },
    /// The lock file was replaced each time it was locked.
    #[error(
        "the lock file {lock} was replaced each of {} times it was locked; something else is \
         removing it",
        super::files::CLAIM_TRIES
    )]
    KeptReplaced {
        /// The lock file.
        lock: PathBuf,
    },
    /// A file operation on the lock file failed.
    #[error("could not {action} the lock file {lock}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The lock file.
        lock: PathBuf,
        /// What failed underneath.
        source: std::io::Error,
    },
}

impl WriterLock {
    /// Takes the writer lock of the database at `db`, recording `what` (e.g. `update`) as its holder.
    pub fn acquire(db: &Path, what: &str) -> Result<WriterLock, LockError> {
        let lock = Beside::of(db).lock();
        let line = format!(
            "pid {} running `{what}` since {}",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        match claim(&lock, line.as_bytes()) {
            Ok(Claim::Held(file)) => Ok(WriterLock {
                _file: file,
                path: lock,
            }),
            Ok(Claim::Taken(holder)) => Err(LockError::Held {
                db: db.to_path_buf(),
                lock,
                holder: match holder.trim() {
                    "" => "an unknown process".to_string(),
                    h => h.to_string(),
                },
            }),
            Ok(Claim::KeptReplaced) => Err(LockError::KeptReplaced { lock }),
            Err((action, source)) => Err(LockError::Io {
                action,
                lock,
                source,
            }),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who holds the writer lock of `db` right now, if anyone. Looks without taking it for
    /// longer than an instant. A `db` that is a symlink is resolved as writers resolve it, so
    /// the lock looked at is the one beside the real file, the one writers take.
    pub fn holder(db: &Path) -> Option<String> {
        // `resolve` fails only when an existing link cannot be read; then there is no lock
        // beside its target to find either.
        let db = super::files::resolve(db).ok()?;
        let mut file = File::open(Beside::of(&db).lock()).ok()?;
        match super::os::try_lock_shared(&file) {
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                Some(holder.trim().to_string())
            }
            _ => None,
        }
    }
}
