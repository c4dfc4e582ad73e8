//! Trading collection against the realistic simulated bucket with injected latency: a full
//! backfill with and without the 1d klines files (the difference is the trading part: wall
//! time and requests against the minimum), peak RSS, the next day's `update` (requests per
//! active symbol), `universe --top 50 --window 30` in-process, and the universe panel
//! (`panel`): a daily panel 2020-01-01 … 2026-11-30 `--top 100` against the per-date loop it
//! replaces, and a monthly `--top 50` one.
//!
//! The minimum is what a client that knew the bucket would need: per symbol with 1d files, one
//! listing of its monthly folder, ⌈keys/1000⌉ (at least one) listing pages of its daily folder
//! over the days no monthly file covers, and two GETs (zip and CHECKSUM) per monthly file and
//! per daily file of a month without one.
//!
//! Run: `cargo bench --bench trading`; `BFA_PANEL_DB=FILE cargo bench --bench trading` measures
//! only the panel, on a database this bench built before (kept with `BFA_BENCH_DB`);
//! `BFA_LIVES_DB=FILE cargo bench --bench trading` only a fresh handle's first question with and
//! without the stored lives index, and what building it costs at publish (`lives_first`;
//! `BFA_LIVES_KEEP=FILE` keeps the copy with the index).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use binance_futures_availability::facts::Market;
use binance_futures_availability::question::{Answer, Question};
use binance_futures_availability::store::{Database, Every, PanelRow, UniverseQuery};
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
    if let Some(db) = std::env::var_os("BFA_PANEL_DB") {
        panel(std::path::Path::new(&db));
        return;
    }
    if let Some(db) = std::env::var_os("BFA_LIVES_DB") {
        lives_first(std::path::Path::new(&db));
        return;
    }
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
    let db_path = db.clone();
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
    drop(db);
    panel(&db_path);
}

/// The universe panel on `path`: a daily panel 2020-01-01 … 2026-11-30 (or the last day the
/// database can answer) `--top 100`, against the loop of single-date universes it replaces
/// (whose rows it must equal), and a monthly `--top 50` panel; warm handles (the lives read)
/// and a fresh one (open included).
fn panel(path: &std::path::Path) {
    let db = Database::open(path).expect("open the database");
    let through = db
        .complete_through()
        .expect("complete through")
        .expect("a checked day");
    let start = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    let end = NaiveDate::from_ymd_opt(2026, 11, 30)
        .unwrap()
        .min(through + chrono::Duration::days(1));
    let ask = |db: &Database, top: u32, every: Every| -> Vec<PanelRow> {
        let mut q = UniverseQuery::new(start);
        q.top = Some(top);
        let question = Question::universe_panel(Market::Um, q, end, every).expect("a panel");
        match db.answer(&question).expect("the panel") {
            Answer::UniversePanel(rows) => rows,
            _ => unreachable!(),
        }
    };
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let p50 = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };
    let t = Instant::now();
    let daily = ask(&db, 100, Every::DAILY);
    let first_ms = ms(t);
    let (daily_p50, daily_max) = p50((0..5)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(ask(&db, 100, Every::DAILY));
            ms(t)
        })
        .collect());
    let dates =
        Every::DAILY.dates(binance_futures_availability::facts::DayRange::new(start, end).unwrap());
    // The loop it replaces: one universe per date on the same warm handle.
    let t = Instant::now();
    let mut looped = Vec::with_capacity(daily.len());
    for &date in &dates {
        let mut q = UniverseQuery::new(date);
        q.top = Some(100);
        for m in db.universe(&q).expect("universe") {
            looped.push(PanelRow {
                date,
                symbol: m.symbol,
                rank: m.rank,
                mean_quote_volume: m.mean_quote_volume,
                days_listed: m.days_listed,
                traded_on_date: m.traded_on_date,
            });
        }
    }
    let loop_ms = ms(t);
    assert!(looped == daily, "the panel's rows are not the loop's");
    let (monthly_p50, monthly_max) = p50((0..20)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(ask(&db, 50, Every::Month));
            ms(t)
        })
        .collect());
    let (fresh_p50, _) = p50((0..3)
        .map(|_| {
            let t = Instant::now();
            let fresh = Database::open(path).expect("open the database");
            std::hint::black_box(ask(&fresh, 100, Every::DAILY));
            ms(t)
        })
        .collect());
    println!(
        "\n## universe panel (bench: trading)\n\n{start} … {end}, {} dates, top 100: {} rows, equal to the loop's.\n",
        dates.len(),
        daily.len()
    );
    println!("| | p50 | max |\n|---|---|---|");
    println!("| daily panel, warm handle (5 runs) | **{daily_p50:.0} ms** | {daily_max:.0} ms |");
    println!(
        "| daily panel, the handle's first question ({first_ms:.0} ms, lives read included) | | |"
    );
    println!("| daily panel, fresh handle, open included (3 runs) | {fresh_p50:.0} ms | |");
    println!(
        "| the per-date loop it replaces: {} × `universe`, warm handle | **{loop_ms:.0} ms** | |",
        dates.len()
    );
    println!(
        "| monthly panel, top 50, warm handle (20 runs) | **{monthly_p50:.1} ms** | {monthly_max:.1} ms |"
    );
}

/// A fresh handle's first universe and first events on `source` (left as it is), open
/// included, from a copy without the stored lives index (a schema 6 file: the handle rebuilds
/// it, as every handle did before schema 7) and from one with it, runs interleaved; and the
/// publish of a copy that builds the index against one that has nothing to build.
fn lives_first(source: &std::path::Path) {
    use binance_futures_availability::store::{EventFilter, WriteSession};
    let dir = tempfile::tempdir().expect("temporary folder");
    let old = dir.path().join("schema6.duckdb");
    std::fs::copy(source, &old).expect("copy the database");
    {
        let conn = duckdb::Connection::open(&old).expect("open the copy");
        let version: i32 = conn
            .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
            .expect("the version");
        if version == 7 {
            conn.execute_batch(
                "DROP TABLE main.lives_runs; DROP TABLE main.lives_built;
                 DROP TABLE cm.lives_runs; DROP TABLE cm.lives_built;
                 DELETE FROM schema_version WHERE version = 7; CHECKPOINT;",
            )
            .expect("strip the index");
        }
    }
    let new = dir.path().join("schema7.duckdb");
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
    let publish = |path: &std::path::Path| {
        let t = Instant::now();
        let session = WriteSession::<Database>::begin(path, "bench").expect("begin");
        session.publish().expect("publish");
        ms(t)
    };
    // Each: copy the schema 6 file, then a session that migrates it and builds the index, then
    // one that finds it built (the difference is the build).
    let mut builds = Vec::new();
    let mut nothing = Vec::new();
    for _ in 0..5 {
        let _ = std::fs::remove_file(&new);
        std::fs::copy(&old, &new).expect("copy the database");
        builds.push(publish(&new));
        nothing.push(publish(&new));
    }
    let db = Database::open(&new).expect("open");
    let through = db
        .complete_through()
        .expect("complete through")
        .expect("a checked day");
    drop(db);
    let mut q = UniverseQuery::new(through + chrono::Duration::days(1));
    q.top = Some(50);
    // [file][open, first universe, first events (on a second fresh handle)]
    let mut times: [[Vec<f64>; 3]; 2] = Default::default();
    for _ in 0..20 {
        for (i, path) in [&old, &new].into_iter().enumerate() {
            let t = Instant::now();
            let fresh = Database::open(path).expect("open the database");
            times[i][0].push(ms(t));
            let t = Instant::now();
            std::hint::black_box(fresh.universe(&q).expect("universe"));
            times[i][1].push(ms(t));
            let fresh = Database::open(path).expect("open the database");
            let t = Instant::now();
            std::hint::black_box(fresh.events(&EventFilter::default(), 7).expect("events"));
            times[i][2].push(ms(t));
        }
    }
    let p50 = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!("{:.1} ms | {:.1} ms", v[v.len() / 2], v[v.len() - 1])
    };
    println!(
        "\n## a fresh handle's first question (bench: trading, BFA_LIVES_DB)\n\n{} ({} MB), universe of {} --top 50; events of every symbol.\n",
        source.display(),
        std::fs::metadata(source).map_or(0, |m| m.len() / 1_000_000),
        q.date
    );
    println!("| 20 runs each, the two files interleaved | p50 | max |\n|---|---|---|");
    for (i, file) in ["rebuilt (schema 6 file)", "stored index"]
        .iter()
        .enumerate()
    {
        println!("| `Database::open`, {file} | {} |", p50(&mut times[i][0]));
        println!(
            "| first universe on a fresh handle, {file} | {} |",
            p50(&mut times[i][1])
        );
        println!(
            "| first events on a fresh handle, {file} | {} |",
            p50(&mut times[i][2])
        );
    }
    // BFA_LIVES_KEEP keeps the file with the index, for whole-process measurements.
    if let Some(keep) = std::env::var_os("BFA_LIVES_KEEP") {
        std::fs::copy(&new, keep).expect("keep the database");
    }
    println!(
        "| publish of a copy: migrate + build the index (5 runs) | {} |",
        p50(&mut builds)
    );
    println!(
        "| publish of a copy: nothing to build (5 runs) | {} |",
        p50(&mut nothing)
    );
}
