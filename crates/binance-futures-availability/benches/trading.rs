//! Trading collection against the realistic simulated bucket with injected latency: a full
//! backfill with and without the 1d klines files (the difference is the trading part: wall
//! time and requests against the minimum), peak RSS, the next day's `update` (requests per
//! active symbol), and `universe --top 50 --window 30` in-process.
//!
//! The minimum is what a client that knew the bucket would need: per symbol with 1d files, one
//! listing of its monthly folder, ⌈keys/1000⌉ (at least one) listing pages of its daily folder
//! over the days no monthly file covers, and two GETs (zip and CHECKSUM) per monthly file and
//! per daily file of a month without one.
//!
//! Run: `cargo bench --bench trading`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use binance_futures_availability::store::{Database, UniverseQuery};
use chrono::{Datelike, NaiveDate};
use vision_sim::{Corpus, ObjectKind, SimOptions, SimServer};

mod common;

use common::run;

const LATENCY_MS: u64 = 50;

/// The minimum requests for the trading part of a backfill of `corpus` (see the crate doc).
fn minimum(corpus: &Corpus) -> (u64, u64) {
    let mut monthly: BTreeSet<(String, NaiveDate)> = BTreeSet::new();
    let mut daily: BTreeMap<String, Vec<NaiveDate>> = BTreeMap::new();
    for o in corpus.objects() {
        let symbol = || o.key.split('/').nth(5).unwrap_or_default().to_string();
        match o.kind {
            ObjectKind::Monthly1d { first, .. } => {
                monthly.insert((symbol(), first));
            }
            ObjectKind::Daily1d { date, .. } => daily.entry(symbol()).or_default().push(date),
            _ => {}
        }
    }
    let (mut listings, mut gets) = (0u64, 2 * monthly.len() as u64);
    for (symbol, days) in &daily {
        let uncovered = days
            .iter()
            .filter(|d| !monthly.contains(&(symbol.clone(), d.with_day(1).unwrap_or(**d))))
            .count() as u64;
        gets += 2 * uncovered;
        // The monthly folder, and the daily folder's pages (two keys a day).
        listings += 1 + (2 * uncovered).div_ceil(1000).max(1);
    }
    (listings, gets)
}

fn main() {
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    // The bucket of yesterday morning, backfilled; then this morning's, for one day's update.
    let corpus = vision_sim::realistic(yesterday);
    let (min_listings, min_gets) = minimum(&corpus);
    let options = SimOptions {
        latency: Duration::from_millis(LATENCY_MS),
        jitter: Duration::ZERO,
    };
    let sim = SimServer::start(corpus, options).expect("start the simulator");
    let dir = tempfile::tempdir().expect("temporary folder");
    let end = (yesterday - chrono::Duration::days(1)).to_string();

    println!("## trading collection (bench: trading)\n");
    println!(
        "Realistic corpus as of {yesterday}; {LATENCY_MS} ms latency per request. Minimum for the \
         trading part: {min_listings} listings + {min_gets} GETs = {}.\n",
        min_listings + min_gets
    );
    println!(
        "| run | wall time | requests | GETs | against the minimum | peak RSS |\n|---|---|---|---|---|---|"
    );
    let plain_db = dir.path().join("plain.duckdb");
    let plain = run(
        &sim,
        &plain_db,
        &["backfill", "--end", &end, "--no-trading"],
    );
    println!(
        "| backfill --no-trading (availability only) | {:.1} s | {} | {} | | {:.0} MB |",
        plain.seconds, plain.requests, plain.gets, plain.peak_rss_mb
    );
    // BFA_BENCH_DB keeps the database for a closer look afterwards.
    let db = std::env::var_os("BFA_BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("bench.duckdb"));
    let full = run(&sim, &db, &["backfill", "--end", &end]);
    let trading_requests = full.requests - plain.requests;
    println!(
        "| backfill (both datasets) | {:.1} s | {} | {} | trading part: {} requests, {:.3} × minimum, {:.1} s | {:.0} MB |",
        full.seconds,
        full.requests,
        full.gets,
        trading_requests,
        trading_requests as f64 / (min_listings + min_gets) as f64,
        full.seconds - plain.seconds,
        full.peak_rss_mb
    );
    let again = run(&sim, &db, &["backfill", "--end", &end]);
    println!(
        "| the same backfill again (nothing new) | {:.1} s | {} | {} | {} GETs: nothing unchanged re-fetched | {:.0} MB |",
        again.seconds, again.requests, again.gets, again.gets, again.peak_rss_mb
    );

    // One more day: this morning's bucket.
    let next = vision_sim::realistic(today);
    let active = next
        .objects()
        .iter()
        .filter(|o| matches!(o.kind, ObjectKind::Daily1d { date, .. } if date == yesterday))
        .count() as u64;
    let folders = next
        .objects()
        .iter()
        .filter_map(|o| {
            o.key
                .strip_prefix("data/futures/um/daily/klines/")
                .and_then(|r| r.split_once('/'))
                .filter(|(_, rest)| rest.starts_with("1m/"))
                .map(|(s, _)| s.to_string())
        })
        .collect::<BTreeSet<_>>()
        .len() as u64;
    sim.with_corpus(|c| *c = next);
    let update = run(&sim, &db, &["update"]);
    // The availability part of an update is one listing per folder plus discovery (2 pages).
    let trading_part = update.requests.saturating_sub(folders + 2);
    println!(
        "| update, one new day | {:.2} s | {} | {} | {} trading requests for {active} active symbols: {:.2} per symbol | {:.0} MB |",
        update.seconds,
        update.requests,
        update.gets,
        trading_part,
        trading_part as f64 / active.max(1) as f64,
        update.peak_rss_mb
    );

    let mut q = UniverseQuery::new(yesterday);
    q.top = Some(50);
    q.window = 30;
    // A fresh handle's first universe also reads every symbol's gaps and runs of trading days
    // (kept by the handle after that).
    let mut firsts: Vec<f64> = (0..10)
        .map(|_| {
            let t = Instant::now();
            let fresh = Database::open(&db).expect("open the database");
            std::hint::black_box(fresh.universe(&q).expect("universe"));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    firsts.sort_by(f64::total_cmp);
    let db = Database::open(&db).expect("open the database");
    let members = db.universe(&q).expect("universe").len();
    let mut times: Vec<f64> = (0..200)
        .map(|_| {
            let t = Instant::now();
            let m = db.universe(&q).expect("universe");
            std::hint::black_box(m);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "\n`Database::universe` ({yesterday}, --top 50 --window 30, {members} members), 200 runs in-process: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        times[100], times[180], times[199]
    );
    println!(
        "A fresh handle's first universe (open included), 10 runs: p50 {:.1} ms, max {:.1} ms",
        firsts[5], firsts[9]
    );
}
