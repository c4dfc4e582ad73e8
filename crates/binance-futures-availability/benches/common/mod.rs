//! What the collection benches share: running the binary against a simulated bucket and
//! measuring its wall time, the requests the bucket saw, and the child's peak RSS.

#![allow(dead_code)]
use std::process::Command;
use std::time::{Duration, Instant};

use vision_sim::SimServer;

pub struct Measured {
    pub seconds: f64,
    pub requests: u64,
    pub gets: u64,
    pub peak_rss_mb: f64,
}

/// Runs the binary with `args` against `sim` and `db`, insisting on success.
pub fn run(sim: &SimServer, db: &std::path::Path, args: &[&str]) -> Measured {
    sim.reset_stats();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_binance-futures-availability"))
        .args(args)
        .arg("--quiet")
        .env("BFA_DB", db)
        .env("BFA_S3_URL", sim.s3_url())
        .env("BFA_DATA_URL", sim.data_url())
        .spawn()
        .expect("start the binary");
    // Peak RSS is the child's own VmHWM, sampled until it exits. Not its rusage: the child
    // starts as a vfork of this process, and Linux records that address space's high-water mark
    // — a bench holds the whole corpus, ~450 MB — as the child's ru_maxrss at exec.
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if let Some(kb) = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            peak_kb = peak_kb.max(kb);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success(), "{args:?}: {status:?}");
    let stats = sim.stats();
    Measured {
        seconds,
        requests: stats.requests,
        gets: stats.gets,
        peak_rss_mb: peak_kb as f64 / 1024.0,
    }
}
