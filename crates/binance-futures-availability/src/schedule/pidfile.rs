//! One scheduler per database: `<db>.scheduler.pid` holds the running scheduler's pid and
//! settings, and the scheduler keeps an exclusive lock on it while it lives. The lock, not the
//! pid, decides whether it runs: the operating system drops it when the process dies, so a pid
//! file left by a crash is recognised (and removed) even if its pid was reused since.
//!
//! Removing a stale file races with a scheduler that opened it just before: the remover holds
//! the file's exclusive lock while it unlinks, and a starting scheduler, once it has the lock,
//! checks that the path still names the file it locked (else it starts over with the new one).
//! Inspection opens the file read-only, so any user who can read it can ask; one who may not
//! remove a stale file is told it is stale, and it is left for the next scheduler to claim.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Beside, Claim, claim, still_named_by};

/// `<db>.scheduler.pid`.
pub fn pid_path(db: &Path) -> PathBuf {
    Beside::of(db).scheduler_pid()
}

/// `<db>.scheduler.log`, where a detached scheduler writes its lines.
pub fn log_path(db: &Path) -> PathBuf {
    Beside::of(db).scheduler_log()
}

/// What a running scheduler says about itself, in its pid file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerInfo {
    /// Its process id (in its pid namespace).
    pub pid: u32,
    /// The daily time, UTC.
    pub at: super::Schedule,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Where its output goes, when detached.
    pub log: Option<PathBuf>,
    /// Its pid namespace (the inode of `/proc/self/ns/pid`): its pid means nothing in another.
    #[serde(default)]
    pub pid_ns: Option<u64>,
}

/// This process's pid namespace, where Linux tells it (never on Windows, which has none).
pub fn pid_namespace() -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino())
    }
    #[cfg(not(unix))]
    None
}

/// Whether a scheduler runs for a database. Shown as `running`, `info` (the running one's pid
/// file), `stale_pid_removed` and, for another user, `stale_pid_left`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// A scheduler holds the lock, with what its pid file says (if readable).
    Running(Option<SchedulerInfo>),
    /// A pid file without a living holder was found: removed, or left where this user may
    /// not remove it (the next scheduler claims it).
    Stale {
        /// The pid the file named, if readable.
        pid: Option<u32>,
        /// Whether it was removed.
        removed: bool,
    },
    /// No scheduler, and no pid file left.
    NotRunning,
}

impl Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            running: bool,
            info: Option<&'a SchedulerInfo>,
            stale_pid_removed: Option<Option<u32>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            stale_pid_left: Option<Option<u32>>,
        }
        let (stale_pid_removed, stale_pid_left) = match self {
            State::Stale { pid, removed: true } => (Some(*pid), None),
            State::Stale {
                pid,
                removed: false,
            } => (None, Some(*pid)),
            _ => (None, None),
        };
        Shown {
            running: matches!(self, State::Running(_)),
            info: self.info(),
            stale_pid_removed,
            stale_pid_left,
        }
        .serialize(s)
    }
}

impl State {
    /// The running scheduler's pid file, when one runs and it could be read.
    pub fn info(&self) -> Option<&SchedulerInfo> {
        match self {
            State::Running(info) => info.as_ref(),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
/// Why the pid file could not be claimed, read or removed.
pub enum PidFileError {
    /// Another scheduler holds the pid file.
    #[error(
        "a scheduler already runs for this database (pid {}; pid file {path}); stop it with \
         `binance-futures-availability scheduler stop`",
        pid.map_or("unknown".to_string(), |p| p.to_string())
    )]
    AlreadyRunning {
        /// Its pid, if the file says.
        pid: Option<u32>,
        /// The pid file.
        path: PathBuf,
    },
    /// The pid file was replaced each time it was locked.
    #[error(
        "the pid file {path} was replaced each time it was locked; something else is removing it"
    )]
    KeptReplaced {
        /// The pid file.
        path: PathBuf,
    },
    /// A file operation on the pid file failed.
    #[error("could not {action} the pid file {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The pid file.
        path: PathBuf,
        /// What failed underneath.
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
        let io = |action, source| PidFileError::Io {
            action,
            path: path.clone(),
            source,
        };
        let text = serde_json::to_vec(info).map_err(|e| io("write", e.into()))?;
        match claim(&path, &text) {
            Ok(Claim::Held(file)) => Ok(PidFile { _file: file, path }),
            Ok(Claim::Taken(holder)) => Err(PidFileError::AlreadyRunning {
                pid: serde_json::from_str::<SchedulerInfo>(&holder)
                    .ok()
                    .map(|i| i.pid),
                path,
            }),
            Ok(Claim::KeptReplaced) => Err(PidFileError::KeptReplaced { path }),
            Err((action, source)) => Err(io(action, source)),
        }
    }

    /// Looks at the pid file, read-only, without disturbing a running scheduler; removes a
    /// stale one when allowed to.
    pub fn inspect(db: &Path) -> Result<State, PidFileError> {
        let path = pid_path(db);
        let mut file = match File::open(&path) {
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
        // Exclusive, though read-only: held while a stale file is removed (see the module doc).
        match crate::store::os::try_lock(&file) {
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
                if !still_named_by(&file, &path) {
                    return Ok(State::NotRunning);
                }
                match std::fs::remove_file(&path) {
                    // A scheduler that just exited removes its own file: not stale, just gone.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::NotRunning),
                    // Another user's folder, or one mounted read-only (`serve`'s systemd unit):
                    // say it is stale; the next scheduler claims it.
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::PermissionDenied
                                | std::io::ErrorKind::ReadOnlyFilesystem
                        ) =>
                    {
                        Ok(State::Stale {
                            pid,
                            removed: false,
                        })
                    }
                    Err(source) => Err(PidFileError::Io {
                        action: "remove the stale",
                        path,
                        source,
                    }),
                    Ok(()) => Ok(State::Stale { pid, removed: true }),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> SchedulerInfo {
        SchedulerInfo {
            pid: 999_999,
            at: super::super::Schedule::default(),
            started_at: Utc::now(),
            log: None,
            pid_ns: pid_namespace(),
        }
    }

    /// The race: a scheduler opens a stale pid file, `inspect` removes that file, then the
    /// scheduler locks what it opened. It must notice and claim a file the path still names.
    #[test]
    fn a_starter_whose_file_was_removed_under_it_claims_the_path_anew() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.duckdb");
        std::fs::write(pid_path(&db), serde_json::to_string(&info()).unwrap()).unwrap();
        let opened_early = File::open(pid_path(&db)).unwrap();
        assert_eq!(
            PidFile::inspect(&db).unwrap(),
            State::Stale {
                pid: Some(999_999),
                removed: true
            }
        );
        assert!(!still_named_by(&opened_early, &pid_path(&db)));
        let held = PidFile::acquire(&db, &info()).unwrap();
        assert!(still_named_by(&held._file, &pid_path(&db)));
        assert!(matches!(
            PidFile::inspect(&db).unwrap(),
            State::Running(Some(_))
        ));
    }

    // Unix only: making a symlink on Windows needs a privilege or developer mode.
    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.duckdb");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, pid_path(&db)).unwrap();
        assert!(PidFile::acquire(&db, &info()).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
