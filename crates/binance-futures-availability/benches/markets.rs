//! Several markets (issue 28) against the simulated bucket with injected latency: a first
//! collection of USD-M, COIN-M and spot in one `update --markets um,cm,spot` (wall time,
//! requests against the minimum, peak RSS) beside the same markets collected by three
//! single-market runs in the same process (the baseline), then an in-process universe of each
//! market: spot's `--quote USDT --top 100` beside USD-M's.
//!
//! The bucket is `vision_sim::realistic` (USD-M's ~1,000 real folder names), `coin_m` and `spot`
//! (five folders each): USD-M's folders are most of the work. The minimum is what a client that
//! knew the bucket would need, per market: the pages of its symbol folders' listing
//! (⌈folders/1000⌉), each symbol's 1m folder's pages (⌈keys/1000⌉), and for trading, as
//! `benches/trading.rs` counts it, one listing of each symbol's monthly 1d folder,
//! ⌈keys/1000⌉ (at least one) pages of its daily 1d folder over the days no monthly file
//! covers, and two GETs (zip and CHECKSUM) per monthly file and per daily file of a month
//! without one.
//!
//! Last, spot at Vision's size: `vision_sim::spot_wide` (2,500 generated pairs, ~2.5 × 10⁶
//! daily files; `BFA_BENCH_SPOT_PAIRS` sets another count) collected without latency, and the
//! same in-process universe on it — the five-pair corpus says nothing of a ranking over ~900
//! USDT pairs.
//!
//! Run: `cargo bench --bench markets` (`BFA_BENCH_WIDE_ONLY=1`: the wide spot part alone;
//! `BFA_BENCH_SPOT_DB=FILE`: keep its collected file and reuse it the next run;
//! `BFA_BENCH_SPOT_LATENCY_MS=50`: its collection at that latency, against its minimum).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use binance_futures_availability::facts::Market;
use binance_futures_availability::store::{Database, UniverseQuery};
use chrono::{Datelike, NaiveDate};
use vision_sim::{Corpus, ObjectKind, SimOptions, SimServer};

mod common;

use common::{Measured, run};

const LATENCY_MS: u64 = 50;

/// Each market's daily and monthly klines roots in the bucket.
const ROOTS: [(&str, &str, &str); 3] = [
    ("um", vision_sim::ROOT, vision_sim::MONTHLY_ROOT),
    ("cm", vision_sim::CM_ROOT, vision_sim::CM_MONTHLY_ROOT),
    ("spot", vision_sim::SPOT_ROOT, vision_sim::SPOT_MONTHLY_ROOT),
];

/// The minimum requests of a first collection of `market` from `corpus` (see the crate doc).
fn minimum(corpus: &Corpus, market: &str) -> u64 {
    let (_, daily_root, monthly_root) = ROOTS.iter().find(|r| r.0 == market).unwrap();
    let mut folders: BTreeSet<String> = BTreeSet::new();
    let mut keys_1m: BTreeMap<String, u64> = BTreeMap::new();
    let mut daily_1d: BTreeMap<String, Vec<NaiveDate>> = BTreeMap::new();
    let mut monthly: BTreeSet<(String, NaiveDate)> = BTreeSet::new();
    for o in corpus.objects() {
        if let Some((symbol, rest)) = o
            .key
            .strip_prefix(daily_root)
            .and_then(|r| r.split_once('/'))
        {
            folders.insert(symbol.to_string());
            if rest.starts_with("1m/") {
                *keys_1m.entry(symbol.to_string()).or_default() += 1;
            }
            if let ObjectKind::Daily1d { date, .. } = o.kind {
                daily_1d.entry(symbol.to_string()).or_default().push(date);
            }
        } else if let Some((symbol, _)) = o
            .key
            .strip_prefix(monthly_root)
            .and_then(|r| r.split_once('/'))
            && let ObjectKind::Monthly1d { first, .. } = o.kind
        {
            monthly.insert((symbol.to_string(), first));
        }
    }
    let mut requests = (folders.len() as u64).div_ceil(1000).max(1);
    requests += keys_1m.values().map(|k| k.div_ceil(1000)).sum::<u64>();
    requests += 2 * monthly.len() as u64;
    for (symbol, days) in &daily_1d {
        let uncovered = days
            .iter()
            .filter(|d| !monthly.contains(&(symbol.clone(), d.with_day(1).unwrap_or(**d))))
            .count() as u64;
        requests += 2 * uncovered + 1 + (2 * uncovered).div_ceil(1000).max(1);
    }
    requests
}

/// The p50 and the largest of 200 in-process universes of `market` on `db`, warm, and the
/// members.
fn universe_p50(db: &std::path::Path, market: Market, day: NaiveDate) -> (f64, f64, usize) {
    let mut handle = Database::open(db).expect("open the database");
    handle.select_market(market).expect("the market's tables");
    let mut q = UniverseQuery::new(day);
    q.quote = Some("USDT".to_string());
    q.top = Some(100);
    let members = handle.universe(&q).expect("universe").len();
    let mut times: Vec<f64> = (0..200)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(handle.universe(&q).expect("universe"));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[100], times[199], members)
}

/// Spot at Vision's size (see the crate doc): its collection and its universe.
fn wide_spot(today: NaiveDate, dir: &std::path::Path) {
    let pairs: usize = std::env::var("BFA_BENCH_SPOT_PAIRS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_500);
    // `BFA_BENCH_SPOT_DB=FILE` keeps the collected file (and reuses it when it exists): the
    // corpus and its collection take ~2 min, the universe's runs a second.
    let kept = std::env::var_os("BFA_BENCH_SPOT_DB").map(std::path::PathBuf::from);
    let db = kept.clone().unwrap_or_else(|| dir.join("wide-spot.duckdb"));
    if kept.as_ref().is_some_and(|db| db.exists()) {
        println!("\nSpot at Vision's size: the kept file {}.\n", db.display());
    } else {
        let corpus = vision_sim::spot_wide(today, pairs);
        let files = corpus.daily_1m_files_in(vision_sim::SPOT_ROOT).count();
        let usdt: BTreeSet<&str> = corpus
            .daily_1m_files_in(vision_sim::SPOT_ROOT)
            .map(|(symbol, ..)| symbol)
            .filter(|s| s.ends_with("USDT"))
            .collect();
        let usdt = usdt.len();
        let least = minimum(&corpus, "spot");
        // No latency by default (the universe is what this part is for); the first
        // collection is measured at `BFA_BENCH_SPOT_LATENCY_MS=50`.
        let latency: u64 = std::env::var("BFA_BENCH_SPOT_LATENCY_MS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let options = SimOptions {
            latency: Duration::from_millis(latency),
            jitter: Duration::ZERO,
        };
        let sim = SimServer::start(corpus, options).expect("start the simulator");
        let m = run(&sim, &db, &["update", "--markets", "spot"]);
        println!(
            "\nSpot at Vision's size: `vision_sim::spot_wide` as of {today}, {pairs} pairs ({usdt} \
             in USDT), {files} daily 1m files; `update --markets spot` at {latency} ms a request: \
             {:.1} s, {} requests = {:.3} × the minimum {least}, {:.0} MB peak RSS.\n",
            m.seconds,
            m.requests,
            m.requests as f64 / least as f64,
            m.peak_rss_mb
        );
    }
    let day = today - chrono::Duration::days(2);
    println!("| market | members | p50 | max |\n|---|---|---|---|");
    let (p50, max, members) = universe_p50(&db, Market::Spot, day);
    println!("| spot ({pairs} pairs) | {members} | {p50:.2} ms | {max:.2} ms |");
}

fn main() {
    let today = chrono::Utc::now().date_naive();
    if std::env::var_os("BFA_BENCH_WIDE_ONLY").is_some() {
        let dir = tempfile::tempdir().expect("temporary folder");
        wide_spot(today, dir.path());
        return;
    }
    let corpus = vision_sim::realistic(today)
        .merged(vision_sim::coin_m(today))
        .merged(vision_sim::spot(today));
    let minima: Vec<(&str, u64)> = ROOTS
        .iter()
        .map(|(m, ..)| (*m, minimum(&corpus, m)))
        .collect();
    let all: u64 = minima.iter().map(|m| m.1).sum();
    let options = SimOptions {
        latency: Duration::from_millis(LATENCY_MS),
        jitter: Duration::ZERO,
    };
    let sim = SimServer::start(corpus, options).expect("start the simulator");
    let dir = tempfile::tempdir().expect("temporary folder");

    println!("## several markets (bench: markets)\n");
    println!(
        "realistic ⊕ coin-m ⊕ spot as of {today}, {LATENCY_MS} ms latency per request; minimum \
         requests: {} = {all}.\n",
        minima
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    println!(
        "| run | wall time | requests | requests / minimum | peak RSS |\n|---|---|---|---|---|"
    );
    let row = |what: &str, m: &Measured, minimum: u64| {
        println!(
            "| {what} | {:.1} s | {} | {:.3} × minimum | {:.0} MB |",
            m.seconds,
            m.requests,
            m.requests as f64 / minimum as f64,
            m.peak_rss_mb
        );
    };
    let base_db = dir.path().join("baseline.duckdb");
    let mut total = (0.0, 0, 0.0f64);
    for (market, minimum) in &minima {
        let m = run(&sim, &base_db, &["update", "--markets", market]);
        row(
            &format!("baseline: `update --markets {market}`"),
            &m,
            *minimum,
        );
        total = (
            total.0 + m.seconds,
            total.1 + m.requests,
            total.2.max(m.peak_rss_mb),
        );
    }
    println!(
        "| baseline: the three runs | {:.1} s | {} | {:.3} × minimum | {:.0} MB (largest) |",
        total.0,
        total.1,
        total.1 as f64 / all as f64,
        total.2
    );
    let db = dir.path().join("bench.duckdb");
    let one = run(&sim, &db, &["update", "--markets", "um,cm,spot"]);
    row("`update --markets um,cm,spot` (one run)", &one, all);

    let day = today - chrono::Duration::days(2);
    println!(
        "\n`Database::universe` {day} `--quote USDT --top 100`, 200 runs in-process, warm handle:\n"
    );
    println!("| market | members | p50 | max |\n|---|---|---|---|");
    for market in [Market::Um, Market::Spot] {
        let (p50, max, members) = universe_p50(&db, market, day);
        println!("| {market} | {members} | {p50:.2} ms | {max:.2} ms |");
    }
    wide_spot(today, dir.path());
}
