//! A run that collected nothing (issue 17): the database stays byte-identical, or absent, and
//! queries keep saying what they said before.

use crate::common;

use common::*;
use vision_sim::{Corpus, Fault, FaultRule};

const ROOT: &str = "data/futures/um/daily/klines/";

fn refuse_discovery(env: &Env) {
    env.sim.add_fault(FaultRule {
        pattern: ROOT.into(),
        fault: Fault::Status(403),
        times: None,
    });
}

#[test]
fn a_run_that_collects_nothing_leaves_the_file_byte_identical() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--end", "2024-03-01", "--quiet"]);
    let before = std::fs::read(&env.db).unwrap();
    refuse_discovery(&env);
    for args in [vec!["update"], vec!["backfill", "--end", "2024-03-01"]] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("could not list the symbol folders"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            std::fs::read(&env.db).unwrap() == before,
            "{args:?} changed the file"
        );
    }
}

#[test]
fn a_first_run_that_collects_nothing_creates_no_database() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    refuse_discovery(&env);
    let out = env.run(&["update"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!env.db.exists());
    // Still "no database", not "no data".
    let out = env.run(&["query", "snapshot", "2024-01-15"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("there is no database at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn status_is_not_complete_after_a_first_update_stopped_half_way() {
    let env = Env::with_options(
        vision_sim::realistic(today()),
        vision_sim::SimOptions {
            latency: std::time::Duration::from_millis(20),
            jitter: std::time::Duration::ZERO,
        },
    );
    let mut child = env
        .cmd()
        .args(["update", "--quiet", "--concurrency", "8"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(120, "part of the folders to be listed", || {
        env.sim.stats().lists > 300
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    let out = env.run(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("complete through  no day:") && text.contains("folders never checked"),
        "{text}"
    );
    // The next update finishes the job, and status says so.
    env.ok(&["update", "--quiet"]);
    let text = env.ok(&["status"]);
    assert!(
        text.contains(&format!(
            "complete through  {}",
            today().pred_opt().unwrap()
        )),
        "{text}"
    );
}
