//! One scheduler per database: `<db>.scheduler.pid` holds the running scheduler's pid and
//! settings, and the scheduler keeps an exclusive lock on it while it lives. The lock, not the
//! pid, decides whether it runs: the operating system drops it when the process dies, so a pid
//! file left by a crash is recognised (and removed) even if its pid was reused since.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::sibling;

/// `<db>.scheduler.pid`.
pub fn pid_path(db: &Path) -> PathBuf {
    sibling(db, ".scheduler.pid")
}

/// `<db>.scheduler.log`, where a detached scheduler writes its lines.
pub fn log_path(db: &Path) -> PathBuf {
    sibling(db, ".scheduler.log")
}

/// What a running scheduler says about itself, in its pid file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerInfo {
    pub pid: u32,
    /// The daily time, `HH:MM` UTC.
    pub at: String,
    pub started_at: DateTime<Utc>,
    /// Where its output goes, when detached.
    pub log: Option<PathBuf>,
}

/// Whether a scheduler runs for a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Running(Option<SchedulerInfo>),
    /// A pid file without a living holder was found and removed.
    Stale {
        pid: Option<u32>,
    },
    NotRunning,
}

#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    #[error(
        "a scheduler already runs for this database (pid {}; pid file {path}); stop it with \
         `binance-futures-availability scheduler stop`",
        pid.map_or("unknown".to_string(), |p| p.to_string())
    )]
    AlreadyRunning { pid: Option<u32>, path: PathBuf },
    #[error("could not {action} the pid file {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held by the running scheduler; removes its pid file when dropped.
#[derive(Debug)]
pub struct PidFile {
    _file: File,
    path: PathBuf,
}

impl PidFile {
    /// Claims the database for this scheduler, or says which one already has it.
    pub fn acquire(db: &Path, info: &SchedulerInfo) -> Result<PidFile, PidFileError> {
        let path = pid_path(db);
        let io = |action| {
            let path = path.clone();
            move |source| PidFileError::Io {
                action,
                path,
                source,
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io("create the folder of"))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("open"))?;
        match crate::store::try_lock_patiently(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(PidFileError::AlreadyRunning {
                    pid: read_info(&mut file).map(|i| i.pid),
                    path,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io("lock")(e)),
        }
        let text = serde_json::to_string(info).map_err(|e| io("write")(e.into()))?;
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|_| file.sync_all())
            .map_err(io("write"))?;
        Ok(PidFile { _file: file, path })
    }

    /// Looks at the pid file without disturbing a running scheduler; removes a stale one.
    pub fn inspect(db: &Path) -> Result<State, PidFileError> {
        let path = pid_path(db);
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::NotRunning),
            Err(source) => {
                return Err(PidFileError::Io {
                    action: "open",
                    path,
                    source,
                });
            }
        };
        match file.try_lock_shared() {
            Err(TryLockError::WouldBlock) => Ok(State::Running(read_info(&mut file))),
            Err(TryLockError::Error(source)) => Err(PidFileError::Io {
                action: "lock",
                path,
                source,
            }),
            Ok(()) => {
                let Some(info) = read_info(&mut file) else {
                    // Created but not yet claimed by a starting scheduler (or emptied by one
                    // that exits): nothing to clean.
                    return Ok(State::NotRunning);
                };
                let pid = Some(info.pid);
                match std::fs::remove_file(&path) {
                    // A scheduler that just exited removes its own file: not stale, just gone.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::NotRunning),
                    Err(source) => Err(PidFileError::Io {
                        action: "remove the stale",
                        path,
                        source,
                    }),
                    Ok(()) => Ok(State::Stale { pid }),
                }
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Still locked here, so no other scheduler can have claimed the file in between.
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!("could not remove the pid file {}: {e}", self.path.display());
        }
    }
}

fn read_info(file: &mut File) -> Option<SchedulerInfo> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}
