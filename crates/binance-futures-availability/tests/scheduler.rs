//! Running unattended: the scheduler loop with injected time against the simulated bucket, the
//! real process (one instance, SIGTERM, detached daemon), and queries while an update writes.

use crate::common;

use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use binance_futures_availability::collect::{self, Goal};
use binance_futures_availability::schedule::{self, Clock, PidFile, Schedule, State};
use binance_futures_availability::store::{Database, WriterLock};
use binance_futures_availability::vision::{ClientConfig, Endpoints, VisionClient};
use chrono::{DateTime, NaiveDate, Utc};
use common::*;
use tokio_util::sync::CancellationToken;
use vision_sim::{Corpus, SimOptions};

/// Time that moves only when the scheduler sleeps: sleeping until T makes it T at once.
struct ManualClock(Mutex<DateTime<Utc>>);

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    fn sleep_until(&self, when: DateTime<Utc>) -> impl Future<Output = ()> + Send {
        let mut now = self.0.lock().unwrap();
        *now = (*now).max(when);
        std::future::ready(())
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn client(env: &Env) -> VisionClient {
    VisionClient::new(ClientConfig::new(Endpoints {
        s3_url: env.sim.s3_url(),
        data_url: env.sim.data_url(),
    }))
    .unwrap()
}

async fn update(env: &Env, end: NaiveDate) -> Result<collect::Summary, collect::CollectError> {
    let goal = Goal::Update { end, lookback: 20 };
    collect::run(&env.db, &client(env), &goal, &collect::Options::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_week_of_downtime_it_catches_up_at_once_then_runs_daily_and_never_overlaps() {
    // The small bucket's files end on 2024-03-01; the machine was off from 2024-02-23.
    let env = Env::new(Corpus::from_spec(&small_spec()));
    update(&env, day("2024-02-23")).await.unwrap();
    let last = Database::open(&env.db)
        .unwrap()
        .last_successful_update()
        .unwrap()
        .and_then(|r| r.end_date);
    assert_eq!(last, Some(day("2024-02-23")));

    // A manual update holds the writer lock when the scheduler wakes up.
    let manual = Mutex::new(Some(WriterLock::acquire(&env.db, "update").unwrap()));
    let clock = ManualClock(Mutex::new(at("2024-03-01T10:00:00Z")));
    let shutdown = CancellationToken::new();
    let calls: Mutex<Vec<(DateTime<Utc>, NaiveDate, bool)>> = Mutex::new(Vec::new());
    let lines: Mutex<Vec<String>> = Mutex::new(Vec::new());
    schedule::run_loop(
        &clock,
        Schedule::parse("02:00").unwrap(),
        last,
        &shutdown,
        |end| {
            let now = clock.now();
            let (env, calls, manual, shutdown) = (&env, &calls, &manual, &shutdown);
            async move {
                let result = update(env, end).await;
                calls.lock().unwrap().push((now, end, result.is_ok()));
                // The manual run finishes after the scheduler's first attempt.
                manual.lock().unwrap().take();
                if calls.lock().unwrap().len() == 3 {
                    shutdown.cancel();
                }
                result
            }
        },
        |t, line| lines.lock().unwrap().push(format!("{t} {line}")),
    )
    .await;
    let calls = calls.into_inner().unwrap();
    assert_eq!(
        calls,
        vec![
            // At start: the last success (02-23) is older than yesterday (02-29): at once, but
            // the writer lock is taken, so it is skipped...
            (at("2024-03-01T10:00:00Z"), day("2024-02-29"), false),
            // ... and tried again ten minutes later.
            (at("2024-03-01T10:10:00Z"), day("2024-02-29"), true),
            // Then daily at 02:00 UTC.
            (at("2024-03-02T02:00:00Z"), day("2024-03-01"), true),
        ]
    );
    let lines = lines.into_inner().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("update skipped: another collection is writing")),
        "{lines:#?}"
    );
    // The downtime healed: the database equals one listed through 03-01 in one go.
    let expected = env
        .sim
        .with_corpus(|c| expected_rows(c, day("2019-09-25"), day("2024-03-01")));
    assert!(db_rows(&env.db) == expected);
}

/// Kills the child if a test fails before it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sigterm(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

fn wait_exit(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let mut status = None;
    wait_until(secs, "the process to exit", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}

fn running(env: &Env) -> Option<u32> {
    match PidFile::inspect(&env.db).unwrap() {
        State::Running(info) => info.map(|i| i.pid),
        _ => None,
    }
}

#[test]
fn a_second_scheduler_is_refused_and_sigterm_stops_the_first_cleanly() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    let mut first = Reaped(
        env.cmd()
            .args(["scheduler", "run"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(30, "the scheduler to claim its pid file", || {
        running(&env) == Some(first.0.id())
    });
    let out = env.run(&["scheduler", "run"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a scheduler already runs") && err.contains(&format!("pid {}", first.0.id())),
        "{err}"
    );
    // Its catch-up update runs at start; once it is done, SIGTERM ends the idle loop.
    wait_until(60, "the catch-up update", || {
        Database::open(&env.db)
            .ok()
            .and_then(|db| db.last_successful_update().ok().flatten())
            .is_some()
    });
    sigterm(&first.0);
    assert!(wait_exit(&mut first.0, 30).success());
    assert!(!schedule::pid_path(&env.db).exists());
}

fn slow_realistic() -> Env {
    Env::with_options(
        vision_sim::realistic(today()),
        SimOptions {
            latency: Duration::from_millis(20),
            jitter: Duration::ZERO,
        },
    )
}

#[test]
fn sigterm_during_an_update_commits_what_it_gathered_and_a_rerun_completes_it() {
    let env = slow_realistic();
    let mut scheduler = Reaped(
        env.cmd()
            .args(["scheduler", "run", "--concurrency", "8"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(60, "the catch-up update to list a good part", || {
        env.sim.stats().lists > 300
    });
    sigterm(&scheduler.0);
    assert!(wait_exit(&mut scheduler.0, 60).success());
    // Published, intact, and honest about the interruption.
    let db = Database::open(&env.db).unwrap();
    let run = db.last_run().unwrap().unwrap();
    assert_eq!(
        (run.kind.as_str(), run.status.as_str()),
        ("update", "interrupted")
    );
    let expected = env
        .sim
        .with_corpus(|c| expected_rows(c, day("2019-09-25"), days_ago(1)));
    // Every symbol it checked is complete; the rest have no rows yet (they are recorded as
    // discovered and never checked, so `status` knows the database is not complete).
    let stored = db_rows(&env.db);
    let recorded: std::collections::BTreeSet<String> = db
        .symbols()
        .unwrap()
        .into_iter()
        .filter(|s| s.checked_through.is_some())
        .map(|s| s.symbol)
        .collect();
    drop(db);
    assert!(!recorded.is_empty() && stored.len() < expected.len());
    let subset: Vec<Row> = expected
        .iter()
        .filter(|r| recorded.contains(&r.1))
        .cloned()
        .collect();
    assert!(stored == subset);
    assert!(!sibling(&env.db, ".writing").exists());
    env.ok(&["update", "--quiet"]);
    assert!(db_rows(&env.db) == expected);
}

#[test]
fn queries_succeed_while_an_update_writes() {
    let env = slow_realistic();
    env.ok(&["backfill", "--quiet", "--symbols", "BTCUSDT,ETHUSDT"]);
    let mut update = Reaped(
        env.cmd()
            .args(["update", "--quiet", "--concurrency", "8"])
            .spawn()
            .unwrap(),
    );
    let writing = sibling(&env.db, ".writing");
    let mut overlapped = 0;
    let mut queries = 0;
    while update.0.try_wait().unwrap().is_none() {
        let before = writing.exists();
        let out = env.run(&["query", "snapshot", "2024-01-15", "--format", "json"]);
        assert!(
            out.status.success(),
            "a query failed during an update: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!rows.as_array().unwrap().is_empty());
        let status = env.run(&["status", "--format", "json"]);
        assert!(status.status.success() || status.status.code() == Some(1));
        queries += 1;
        if before && writing.exists() {
            overlapped += 1;
        }
    }
    assert!(update.0.wait().unwrap().success());
    assert!(
        overlapped >= 3,
        "{overlapped} of {queries} queries overlapped the update"
    );
    let out = env.ok(&["query", "snapshot", "2024-01-15", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(rows.as_array().unwrap().len() > 100);
}

#[test]
fn the_daemon_catches_up_reports_its_status_and_stops() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    let out = env.run(&["scheduler", "start", "--daemon", "--at", "03:30"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = running(&env).expect("the daemon runs after start returns");
    // Whatever happens below, do not leave the daemon behind.
    struct Stop<'a>(&'a Env);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.run(&["scheduler", "stop"]);
        }
    }
    let _stop = Stop(&env);
    let mut status = serde_json::Value::Null;
    wait_until(60, "the daemon's catch-up update", || {
        let out = env.run(&["scheduler", "status", "--format", "json"]);
        status = serde_json::from_slice(&out.stdout).unwrap();
        status["last_run"]["status"] == "ok"
    });
    assert_eq!(status["running"], true);
    assert_eq!(status["info"]["pid"], pid);
    assert_eq!(status["info"]["at"], "03:30");
    assert_eq!(status["last_run"]["kind"], "update");
    let next: DateTime<Utc> = serde_json::from_value(status["next_run"].clone()).unwrap();
    assert!(next > Utc::now() && next - Utc::now() <= chrono::TimeDelta::days(1));
    assert_eq!(next.format("%H:%M").to_string(), "03:30");
    let text = env.ok(&["scheduler", "status"]);
    assert!(text.contains(&format!("running, pid {pid}")), "{text}");
    // Queries work while it runs.
    let out = env.ok(&["query", "timeline", "BTCUSDT", "--format", "json"]);
    assert!(out.contains("2024-03-01"));
    let out = env.run(&["scheduler", "stop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(running(&env), None);
    let text = env.ok(&["scheduler", "status"]);
    assert!(text.contains("not running"), "{text}");
    let log = std::fs::read_to_string(schedule::log_path(&env.db)).unwrap();
    assert!(
        log.contains("scheduler: update ok") && log.contains("scheduler: stopped"),
        "{log}"
    );
    assert!(
        env.ok(&["query", "snapshot", "2024-01-15"])
            .contains("BTCUSDT")
    );
}

#[test]
fn a_stale_pid_file_is_recognised_and_removed() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    // What a scheduler killed by -9 leaves: a pid file nobody holds a lock on.
    std::fs::write(
        schedule::pid_path(&env.db),
        r#"{"pid":999999,"at":"02:00","started_at":"2026-01-01T00:00:00Z","log":null}"#,
    )
    .unwrap();
    let text = env.ok(&["scheduler", "status"]);
    assert!(
        text.contains("not running") && text.contains("stale pid file of pid 999999"),
        "{text}"
    );
    assert!(!schedule::pid_path(&env.db).exists());
}

/// A file that keeps spot alone, updated through yesterday, is not caught up at the scheduler's
/// start: the catch-up reads every kept market's last update, not USD-M's (which this file has
/// none of, so every start caught up).
#[test]
fn a_current_spot_only_file_is_not_caught_up_at_start() {
    use std::io::BufRead as _;
    let env = Env::new(vision_sim::spot(today()));
    env.ok(&["update", "-q", "--markets", "spot"]);
    let mut child = Reaped(
        env.cmd()
            .args(["scheduler", "run"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = std::io::BufReader::new(child.0.stderr.take().unwrap()).lines();
    let mut lines = Vec::new();
    for line in stderr.by_ref() {
        let line = line.unwrap();
        let planned = line.contains("next update at");
        lines.push(line);
        if planned {
            break;
        }
    }
    sigterm(&child.0);
    // Read to the end: the scheduler says it stopped, and a closed pipe would refuse it.
    lines.extend(stderr.map(Result::unwrap));
    let status = wait_exit(&mut child.0, 30);
    assert!(status.success(), "{status:?} {lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("next update at"))
            && !lines.iter().any(|l| l.contains("catching up")),
        "{lines:#?}"
    );
}

/// `scheduler status` tells each kept market's runs: of a spot-only file it said "last run
/// none" (it read USD-M's run log alone), and of a file of two markets it showed one.
#[test]
fn scheduler_status_shows_every_kept_markets_runs() {
    let env = Env::new(vision_sim::spot(today()));
    env.ok(&["update", "-q", "--markets", "spot"]);
    let status: serde_json::Value =
        serde_json::from_str(&env.ok(&["scheduler", "status", "--format", "json"])).unwrap();
    assert_eq!(status["last_run"]["status"], "ok", "{status:#}");
    assert_eq!(status["last_successful_update"]["kind"], "update");
    assert_eq!(status["markets"][0]["market"], "spot", "{status:#}");
    assert_eq!(status["markets"].as_array().map(Vec::len), Some(1));
    let text = env.ok(&["scheduler", "status"]);
    assert!(
        text.contains("last run          update ok through"),
        "{text}"
    );

    let env = Env::new(vision_sim::spot(today()).merged(vision_sim::coin_m(today())));
    env.ok(&["update", "-q", "--markets", "spot"]);
    env.ok(&["update", "-q", "--markets", "cm"]);
    let status: serde_json::Value =
        serde_json::from_str(&env.ok(&["scheduler", "status", "--format", "json"])).unwrap();
    let markets: Vec<&str> = status["markets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["market"].as_str().unwrap())
        .collect();
    assert_eq!(markets, ["cm", "spot"], "{status:#}");
    let (cm, spot) = (&status["markets"][0], &status["markets"][1]);
    assert!(cm["last_run"]["id"].as_i64() > spot["last_run"]["id"].as_i64());
    assert_eq!(
        status["last_run"], cm["last_run"],
        "the newest of any market"
    );
    let text = env.ok(&["scheduler", "status"]);
    for market in ["cm", "spot"] {
        let line = format!("{:<18}update ok through", format!("last run, {market}"));
        assert!(text.contains(&line), "{line:?} in {text}");
    }
}
