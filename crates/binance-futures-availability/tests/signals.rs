//! Stopping by signal (issue 17): a second SIGTERM stops at once, with exit code 1 and never a
//! crash, whatever DuckDB's threads are doing; nothing committed is lost.

use crate::common;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use common::*;
use vision_sim::SimOptions;

fn sigterm(pid: u32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

#[test]
fn a_second_sigterm_exits_at_once_and_never_crashes() {
    let env = Env::with_options(
        vision_sim::realistic(today()),
        SimOptions {
            latency: Duration::from_millis(5),
            jitter: Duration::ZERO,
        },
    );
    let mut codes = std::collections::BTreeMap::new();
    for round in 0..50 {
        for leftover in std::fs::read_dir(env.dir.path()).unwrap() {
            let path = leftover.unwrap().path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
        let mut child = env
            .cmd()
            .args(["update", "--quiet"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let lists = env.sim.stats().lists;
        // While batches are being written: DuckDB's threads are busy.
        wait_until(60, "listing to start", || {
            env.sim.stats().lists > lists + 200 || child.try_wait().unwrap().is_some()
        });
        sigterm(child.id());
        // The second lands at a different moment each round (a batch commit, the refresh, the
        // checkpoint, the rename): timing is what is varied here, not what is waited for.
        std::thread::sleep(Duration::from_millis(30 * (round % 16)));
        sigterm(child.id());
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            None,
            "round {round}: killed by signal {:?}",
            status.signal()
        );
        *codes.entry(status.code()).or_insert(0) += 1;
    }
    assert_eq!(codes.keys().collect::<Vec<_>>(), [&Some(1)], "{codes:?}");
}
