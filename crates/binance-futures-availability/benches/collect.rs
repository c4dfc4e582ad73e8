//! Collection against the realistic simulated bucket with injected latency: full backfill (wall
//! time, requests against the minimum page count, peak RSS), a 20-day-lookback `update`, a
//! one-day HEAD `probe`, and the one-sequential-listing-per-symbol baseline: availability only
//! (`--no-trading`); the 1d klines are `benches/trading.rs`.
//!
//! Run: `cargo bench --bench collect` (add `-- --skip-baseline` to leave out the slow baseline).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vision_sim::{SimOptions, SimServer};

mod common;

use common::run;

const LATENCY_MS: u64 = 50;

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
    let full = run(&sim, &db, &["backfill", "--no-trading"]);
    println!(
        "| full backfill (concurrency 64) | {:.1} s | {} | {:.3} × minimum | {:.0} MB |",
        full.seconds,
        full.requests,
        full.requests as f64 / min_pages as f64,
        full.peak_rss_mb
    );
    let update = run(&sim, &db, &["update", "--lookback", "20", "--no-trading"]);
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
        let base = run(
            &sim,
            &baseline_db,
            &["backfill", "--concurrency", "1", "--no-trading"],
        );
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
