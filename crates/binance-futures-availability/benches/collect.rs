//! Collection against the realistic simulated bucket with injected latency: full backfill (wall
//! time, requests against the minimum page count, peak RSS), a 20-day-lookback `update`, a
//! one-day HEAD `probe`, and the one-sequential-listing-per-symbol baseline.
//!
//! Run: `cargo bench --bench collect` (add `-- --skip-baseline` to leave out the slow baseline).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use vision_sim::{SimOptions, SimServer};

const LATENCY_MS: u64 = 50;

struct Measured {
    seconds: f64,
    requests: u64,
    peak_rss_mb: f64,
}

fn run(sim: &SimServer, db: &std::path::Path, args: &[&str]) -> Measured {
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
    // — this bench holds the whole corpus, ~450 MB — as the child's ru_maxrss at exec.
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
    Measured {
        seconds,
        requests: sim.stats().requests,
        peak_rss_mb: peak_kb as f64 / 1024.0,
    }
}

fn main() {
    let skip_baseline = std::env::args().any(|a| a == "--skip-baseline");
    let today = chrono::Utc::now().date_naive();
    let t = Instant::now();
    let corpus = vision_sim::realistic(today);
    let generated = t.elapsed();
    let mut per_folder: BTreeMap<String, usize> = BTreeMap::new();
    for o in corpus.objects() {
        if let Some((symbol, rest)) = o
            .key
            .strip_prefix("data/futures/um/daily/klines/")
            .and_then(|r| r.split_once('/'))
            && rest.starts_with("1m/")
            && !symbol.is_empty()
        {
            *per_folder.entry(symbol.to_string()).or_default() += 1;
        }
    }
    let files = corpus.daily_1m_files().count();
    let min_pages: usize = per_folder.values().map(|k| k.div_ceil(1000)).sum::<usize>() + 2;
    let options = SimOptions {
        latency: Duration::from_millis(LATENCY_MS),
        jitter: Duration::ZERO,
    };
    let sim = SimServer::start(corpus, options).expect("start the simulator");
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = dir.path().join("bench.duckdb");

    println!("## collection (bench: collect)\n");
    println!(
        "Realistic corpus as of {today}: {} folders, {files} daily files, {} keys in 1m folders (generated in {:.1} s); {LATENCY_MS} ms latency per request.\n\
         Minimum listing pages: {min_pages} (Σ⌈keys/1000⌉ over 1m folders, plus 2 discovery pages).\n",
        per_folder.len(),
        sim.stats().requests + per_folder.values().sum::<usize>() as u64,
        generated.as_secs_f64()
    );
    println!(
        "| run | wall time | requests | requests / minimum or / folder | peak RSS |\n|---|---|---|---|---|"
    );
    let full = run(&sim, &db, &["backfill"]);
    println!(
        "| full backfill (concurrency 64) | {:.1} s | {} | {:.3} × minimum | {:.0} MB |",
        full.seconds,
        full.requests,
        full.requests as f64 / min_pages as f64,
        full.peak_rss_mb
    );
    let update = run(&sim, &db, &["update", "--lookback", "20"]);
    println!(
        "| update, 20-day lookback | {:.2} s | {} | {:.2} per folder | {:.0} MB |",
        update.seconds,
        update.requests,
        update.requests as f64 / per_folder.len() as f64,
        update.peak_rss_mb
    );
    let yesterday = (today - chrono::Duration::days(1)).to_string();
    let probe = run(&sim, &db, &["probe", &yesterday]);
    println!(
        "| probe (HEAD) of one day | {:.2} s | {} | {:.2} per folder | {:.0} MB |",
        probe.seconds,
        probe.requests,
        probe.requests as f64 / per_folder.len() as f64,
        probe.peak_rss_mb
    );
    if !skip_baseline {
        let baseline_db = dir.path().join("baseline.duckdb");
        let base = run(&sim, &baseline_db, &["backfill", "--concurrency", "1"]);
        println!(
            "| baseline: one sequential listing per symbol (concurrency 1) | {:.1} s | {} | {:.3} × minimum | |",
            base.seconds,
            base.requests,
            base.requests as f64 / min_pages as f64
        );
        println!(
            "\nSpeed-up of the full backfill over the baseline: {:.0}×",
            base.seconds / full.seconds
        );
    }
}
