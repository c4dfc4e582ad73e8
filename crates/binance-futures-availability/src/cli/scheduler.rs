//! `scheduler run | start | stop | status`: the daily loop in the foreground, detached with a
//! pid file and a log next to the database, stopped by SIGTERM (on Windows by its stop event:
//! `stop`), and inspected.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use tokio_util::sync::CancellationToken;

use super::render::ReportFormat;
use super::report::{self, MarketRuns, SchedulerView};
use super::{CliError, ScheduleArgs, SchedulerCommand, cancel_on_signal, collect_once, runtime};
use crate::collect::{Goal, Progress};
use crate::schedule::{self, PidFile, SchedulerInfo, State, SystemClock};
use crate::store::Database;

/// Why a scheduler command failed (besides the pid file's and the database's own errors).
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("could not {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the scheduler exited at start ({exit}); see {}", .log.display())]
    ExitedAtStart {
        exit: std::process::ExitStatus,
        log: std::path::PathBuf,
    },
    #[error("the scheduler (pid {pid}) did not claim its pid file within 15 s; see {}", .log.display())]
    DidNotClaim { pid: u32, log: std::path::PathBuf },
    #[error(
        "the scheduler (pid {pid}) runs in another pid namespace (a container?), where that pid \
         is not the same process as here; stop it from inside (e.g. `systemctl stop` or \
         `docker stop`)"
    )]
    OtherNamespace { pid: u32 },
    #[error("a scheduler holds {} but its pid cannot be read; stop it by hand", .path.display())]
    PidUnreadable { path: std::path::PathBuf },
    #[error(transparent)]
    Stop(#[from] super::stop::StopError),
    #[error(
        "the scheduler (pid {pid}) is still finishing after {secs} s; wait, or `{force}` (safe: \
         the next run resumes its unpublished work)"
    )]
    StillFinishing { pid: u32, secs: u64, force: String },
}

pub(super) fn run(
    db_path: &Path,
    command: SchedulerCommand,
    quiet: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    match command {
        SchedulerCommand::Run(args)
        | SchedulerCommand::Start {
            daemon: false,
            args,
        } => foreground(db_path, &args),
        SchedulerCommand::Start { daemon: true, args } => detach(db_path, &args, quiet),
        SchedulerCommand::Stop { timeout } => stop(db_path, Duration::from_secs(timeout), quiet),
        SchedulerCommand::Status { format } => status(db_path, format, out),
    }
}

fn log_line(at: chrono::DateTime<Utc>, message: &str) {
    say!("{} scheduler: {message}", at.format("%Y-%m-%dT%H:%M:%SZ"));
}

/// How far the updates of every market the file keeps have succeeded: the oldest of their
/// last successful updates' ends, `None` when one has none (or there is no file). The catch-up
/// at start is due when any kept market is behind; USD-M's alone would catch up a spot-only
/// file at every start and let a lagging spot wait for the daily run.
fn last_success_end(db_path: &Path) -> Result<Option<NaiveDate>, CliError> {
    let mut db = match Database::open(db_path) {
        Ok(db) => db,
        Err(crate::store::StoreError::Missing { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut oldest: Option<NaiveDate> = None;
    for market in db.collected_markets()? {
        db.select_market(market)?;
        match db.last_successful_update()?.and_then(|r| r.end_date) {
            Some(end) => oldest = Some(oldest.map_or(end, |o| o.min(end))),
            None => return Ok(None),
        }
    }
    Ok(oldest)
}

fn foreground(db_path: &Path, args: &ScheduleArgs) -> Result<(), CliError> {
    let info = SchedulerInfo {
        pid: std::process::id(),
        at: args.at,
        started_at: Utc::now(),
        log: args.detached_log.clone(),
        pid_ns: schedule::pid_namespace(),
    };
    let _pid = PidFile::acquire(db_path, &info)?;
    let last_success_end = last_success_end(db_path)?;
    log_line(
        Utc::now(),
        &format!(
            "started (pid {}), daily at {} UTC, database {}",
            info.pid,
            info.at,
            db_path.display()
        ),
    );
    runtime()?.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        schedule::run_loop(
            &SystemClock,
            args.at,
            last_success_end,
            &shutdown,
            |end| {
                let goal = Goal::Update {
                    end,
                    lookback: args.lookback,
                };
                let cancel = shutdown.child_token();
                async move {
                    let trading = super::trading(args.no_trading);
                    // Every market collected before, as a plain `update` (USD-M for a new
                    // database, as the original's job did); read again each day, so a market
                    // added by hand is kept current from the next day on.
                    let summaries = collect_once(
                        db_path,
                        &args.remote,
                        (None, trading),
                        &goal,
                        Progress::Quiet,
                        cancel,
                    )
                    .await?;
                    Ok::<_, crate::collect::CollectError>(
                        summaries
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                }
            },
            log_line,
        )
        .await;
    });
    log_line(Utc::now(), "stopped");
    Ok(())
}

/// Starts `scheduler run` as a detached child writing to the log next to the database, and
/// returns once it holds the pid file.
fn detach(db_path: &Path, args: &ScheduleArgs, quiet: bool) -> Result<(), CliError> {
    if let State::Running(info) = PidFile::inspect(db_path)? {
        return Err(crate::schedule::PidFileError::AlreadyRunning {
            pid: info.map(|i| i.pid),
            path: schedule::pid_path(db_path),
        }
        .into());
    }
    let log = schedule::log_path(db_path);
    let io = |what: String| move |source| SchedulerError::Io { what, source };
    if let Some(dir) = log.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io("create the database folder".into()))?;
    }
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(io(format!("open the log {}", log.display())))?;
    let exe = std::env::current_exe().map_err(io("find this program".into()))?;
    let remote = &args.remote;
    let mut command = Command::new(exe);
    command
        .arg("--db")
        .arg(db_path)
        .args(["scheduler", "run", "--at"])
        .arg(args.at.to_string())
        .arg("--lookback")
        .arg(args.lookback.to_string())
        .arg("--detached-log")
        .arg(&log)
        .args(args.no_trading.then_some("--no-trading"))
        .args(remote.to_args())
        .stdin(Stdio::null())
        .stdout(
            log_file
                .try_clone()
                .map_err(io("share the log file".into()))?,
        )
        .stderr(log_file);
    // Its own process group: a Ctrl-C in the terminal that started it does not reach it.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    // On Windows the same, and no console: closing the one that started it does not end it.
    #[cfg(windows)]
    std::os::windows::process::CommandExt::creation_flags(
        &mut command,
        windows_sys::Win32::System::Threading::CREATE_NEW_PROCESS_GROUP
            | windows_sys::Win32::System::Threading::DETACHED_PROCESS,
    );
    let mut child = command.spawn().map_err(io("start the scheduler".into()))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let State::Running(Some(info)) = PidFile::inspect(db_path)?
            && info.pid == child.id()
        {
            break;
        }
        if let Ok(Some(exit)) = child.try_wait() {
            return Err(SchedulerError::ExitedAtStart { exit, log }.into());
        }
        if Instant::now() > deadline {
            return Err(SchedulerError::DidNotClaim {
                pid: child.id(),
                log,
            }
            .into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !quiet {
        say!(
            "scheduler started: pid {}, daily at {} UTC, log {}",
            child.id(),
            args.at,
            log.display()
        );
    }
    Ok(())
}

fn stop(db_path: &Path, timeout: Duration, quiet: bool) -> Result<(), CliError> {
    let pid = match PidFile::inspect(db_path)? {
        State::Running(Some(info)) => {
            // A pid from another namespace (a container) names some other process here.
            if let (Some(theirs), Some(ours)) = (info.pid_ns, schedule::pid_namespace())
                && theirs != ours
            {
                return Err(SchedulerError::OtherNamespace { pid: info.pid }.into());
            }
            info.pid
        }
        State::Running(None) => {
            return Err(SchedulerError::PidUnreadable {
                path: schedule::pid_path(db_path),
            }
            .into());
        }
        State::Stale { pid, .. } => {
            if !quiet {
                say!(
                    "no scheduler runs (found a stale pid file of pid {})",
                    pid.map_or("unknown".into(), |p| p.to_string())
                );
            }
            return Ok(());
        }
        State::NotRunning => {
            if !quiet {
                say!("no scheduler runs for {}", db_path.display());
            }
            return Ok(());
        }
    };
    super::stop::request(pid).map_err(SchedulerError::Stop)?;
    // `timeout` is bounded by the flag (1 day); the fallback only guards the arithmetic.
    let deadline = Instant::now()
        .checked_add(timeout)
        .unwrap_or_else(Instant::now);
    while matches!(PidFile::inspect(db_path)?, State::Running(_)) {
        if Instant::now() > deadline {
            return Err(SchedulerError::StillFinishing {
                pid,
                secs: timeout.as_secs(),
                force: super::stop::force_command(pid),
            }
            .into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if !quiet {
        say!("scheduler stopped (pid {pid})");
    }
    Ok(())
}

fn status(db_path: &Path, format: ReportFormat, out: &mut impl Write) -> Result<(), CliError> {
    let state = PidFile::inspect(db_path)?;
    // Every kept market's runs: USD-M's alone said "last run none" of a spot-only file.
    let mut markets = Vec::new();
    match Database::open(db_path) {
        Ok(mut db) => {
            for market in db.collected_markets()? {
                db.select_market(market)?;
                markets.push(MarketRuns {
                    market: market.name(),
                    last_run: db.last_run()?,
                    last_successful_update: db.last_successful_update()?,
                });
            }
        }
        Err(crate::store::StoreError::Missing { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let newest = |pick: fn(&MarketRuns) -> Option<&crate::store::RunRecord>| {
        markets
            .iter()
            .filter_map(pick)
            .max_by_key(|r| r.id)
            .cloned()
    };
    let view = SchedulerView {
        // The running scheduler's daily time, as it wrote it in its pid file.
        next_run: state.info().map(|i| i.at.next_after(Utc::now())),
        state,
        writer: crate::store::WriterLock::holder(db_path),
        last_run: newest(|m| m.last_run.as_ref()),
        last_successful_update: newest(|m| m.last_successful_update.as_ref()),
        markets,
    };
    report::scheduler(out, format, &view)?;
    Ok(())
}
