//! Collection end to end: the real binary against the simulated bucket, and the database it
//! leaves compared row by row with what the corpus says must be there.

use crate::common;

use std::time::Duration;

use binance_futures_availability::store::Database;
use chrono::{Duration as Days, NaiveDate};
use common::*;
use vision_sim::{Corpus, CorpusSpec, Fault, FaultRule, SimOptions};

fn yesterday() -> NaiveDate {
    days_ago(1)
}

fn everything(env: &Env) -> Vec<Row> {
    env.sim
        .with_corpus(|c| expected_rows(c, day("2019-09-25"), yesterday()))
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn backfill_of_the_realistic_bucket_holds_exactly_its_files_and_gaps() {
    let corpus = vision_sim::realistic(today());
    let env = Env::new(corpus.clone());
    let out = env.run(&["backfill"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = db_rows(&env.db);
    let expected = expected_rows(&corpus, day("2019-09-25"), yesterday());
    assert!(expected.len() > 600_000, "{}", expected.len());
    assert_eq!(rows.len(), expected.len());
    assert!(
        rows == expected,
        "first difference: {:?}",
        rows.iter().zip(&expected).find(|(a, b)| a != b)
    );
    // Known real gaps are verified absences; nothing exists before 2019-12-31.
    for (symbol, date) in [
        ("ICPUSDT", "2022-07-01"),
        ("TLMUSDT", "2022-12-01"),
        ("BNXUSDT", "2023-02-15"),
        ("NMRUSDT", "2023-11-09"),
    ] {
        assert!(
            rows.iter()
                .any(|r| r.1 == symbol && r.0 == day(date) && !r.2),
            "{symbol} {date}"
        );
    }
    assert!(rows.iter().all(|r| r.0 >= day("2019-12-31")));
    // The first load sorted its rows after writing them to the file; the published file was
    // rewritten without the blocks that freed (a quarter or more of them otherwise).
    let (free, total): (i64, i64) = common::read_only(&env.db)
        .query_row(
            "SELECT free_blocks, total_blocks FROM pragma_database_size()",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(free * 4 <= total, "{free} of {total} blocks free");
    // The table is declared exactly as in a file created empty: the original's eight columns,
    // url and status_code computed, no key or index (ADR 0010).
    let empty = env.dir.path().join("empty.duckdb");
    Database::open_for_write(&empty).unwrap().close().unwrap();
    let declared = catalog(&env.db);
    assert_eq!(declared, catalog(&empty));
    assert!(
        !declared
            .iter()
            .any(|d| d.contains("PRIMARY KEY(date") || d.contains("INDEX")),
        "{declared:#?}"
    );
    // Sampled snapshots equal the corpus, perpetual and delivery apart.
    for date in [
        day("2020-01-01"),
        day("2022-06-15"),
        day("2024-06-12"),
        day("2025-10-05"),
        yesterday(),
    ] {
        let mut perpetual: Vec<&str> = corpus
            .daily_1m_files()
            .filter(|(s, d, _)| *d == date && !is_delivery(s))
            .map(|(s, _, _)| s)
            .collect();
        perpetual.sort();
        let v: serde_json::Value = serde_json::from_str(&env.ok(&[
            "query",
            "snapshot",
            &date.to_string(),
            "--format",
            "json",
        ]))
        .unwrap();
        let got: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["symbol"].as_str().unwrap())
            .collect();
        assert_eq!(got, perpetual, "{date}");
    }
    let btc: serde_json::Value =
        serde_json::from_str(&env.ok(&["query", "timeline", "BTCUSDT_250328", "--format", "json"]))
            .unwrap();
    assert_eq!(
        btc.as_array().unwrap().last().unwrap()["date"],
        "2025-03-28"
    );
}

fn is_delivery(symbol: &str) -> bool {
    symbol
        .rsplit_once('_')
        .is_some_and(|(_, s)| s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// A bucket whose dates follow the real clock, so `update` (which works up to yesterday) sees it.
fn recent_spec() -> CorpusSpec {
    CorpusSpec {
        symbols: vec![
            // Yesterday's file not uploaded yet.
            spec_symbol(
                "AAAUSDT",
                days_ago(100),
                days_ago(2),
                &[(days_ago(30), days_ago(29))],
            ),
            spec_symbol("BBBUSDT", days_ago(50), yesterday(), &[]),
            // Delisted long ago.
            spec_symbol("CCCUSDTSETTLED", days_ago(900), days_ago(600), &[]),
            spec_symbol(
                "币安人生USDT",
                days_ago(40),
                yesterday(),
                &[(days_ago(5), days_ago(5))],
            ),
        ],
        stray_keys: vec![],
        as_of: None,
    }
}

#[test]
fn update_builds_from_nothing_then_changes_nothing() {
    let env = Env::new(Corpus::from_spec(&recent_spec()));
    env.ok(&["update"]);
    assert_eq!(db_rows(&env.db), everything(&env));
    let before = db_rows(&env.db);
    let out = env.run(&["update"]);
    assert!(out.status.success());
    assert!(stderr(&out).contains(" 0 rows written"), "{}", stderr(&out));
    assert_eq!(db_rows(&env.db), before);
}

#[test]
fn update_picks_up_late_uploads_replacements_and_new_folders() {
    let env = Env::new(Corpus::from_spec(&recent_spec()));
    env.ok(&["update", "--quiet"]);
    let stamp = chrono::Utc::now();
    env.sim.with_corpus(|c| {
        // A late upload, a missing day that turned up, a replaced file, a new folder.
        c.put_daily_file("AAAUSDT", yesterday(), 61_000, stamp);
        c.put_daily_file("币安人生USDT", days_ago(5), 40_000, stamp);
        c.put_daily_file("BBBUSDT", days_ago(10), 99_999, stamp);
        for d in days_ago(700).iter_days().take_while(|d| *d <= yesterday()) {
            c.put_daily_file("NEWUSDT", d, 50_000, stamp);
        }
    });
    let out = env.run(&["update"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = db_rows(&env.db);
    assert_eq!(rows, everything(&env));
    let find = |s: &str, d: NaiveDate| rows.iter().find(|r| r.1 == s && r.0 == d).cloned().unwrap();
    assert_eq!(find("AAAUSDT", yesterday()).3, Some(61_000));
    assert!(find("币安人生USDT", days_ago(5)).2);
    assert_eq!(find("BBBUSDT", days_ago(10)).3, Some(99_999));
    assert_eq!(rows.iter().filter(|r| r.1 == "NEWUSDT").count(), 700);
    // The day-shaped answers follow: every changed day's snapshot equals the stored rows.
    for d in [yesterday(), days_ago(5), days_ago(10), days_ago(700)] {
        let out = env.ok(&[
            "query",
            "snapshot",
            &d.to_string(),
            "--contract",
            "all",
            "--format",
            "json",
        ]);
        let listed: Vec<(String, Option<i64>)> =
            serde_json::from_str::<Vec<serde_json::Value>>(&out)
                .unwrap()
                .iter()
                .map(|v| {
                    (
                        v["symbol"].as_str().unwrap().to_string(),
                        v["file_size_bytes"].as_i64(),
                    )
                })
                .collect();
        let mut stored: Vec<(String, Option<i64>)> = rows
            .iter()
            .filter(|r| r.0 == d && r.2)
            .map(|r| (r.1.clone(), r.3))
            .collect();
        stored.sort();
        assert_eq!(listed, stored, "snapshot of {d}");
    }
}

#[test]
fn a_five_day_downtime_heals_in_one_update() {
    let env = Env::new(Corpus::from_spec(&recent_spec()));
    env.ok(&["backfill", "--end", &days_ago(6).to_string(), "--quiet"]);
    assert_ne!(db_rows(&env.db), everything(&env));
    env.ok(&["update", "--quiet"]);
    assert_eq!(db_rows(&env.db), everything(&env));
    let timeline = env.ok(&["query", "timeline", "BBBUSDT"]);
    assert!(
        timeline.contains(&format!("to {}; later days not checked yet", yesterday())),
        "{timeline}"
    );
}

#[test]
fn transient_faults_below_the_retry_bound_change_nothing() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    // Every listing request fails twice (SlowDown, then 500) before it succeeds.
    env.sim.add_fault(FaultRule {
        pattern: String::new(),
        fault: Fault::SlowDown,
        times: Some(1),
    });
    env.sim.add_fault(FaultRule {
        pattern: String::new(),
        fault: Fault::Status(500),
        times: Some(1),
    });
    let out = env.run(&["backfill", "--end", "2024-03-01"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = env
        .sim
        .with_corpus(|c| expected_rows(c, day("2019-09-25"), day("2024-03-01")));
    assert_eq!(db_rows(&env.db), expected);
    assert!(env.sim.stats().faults > 20);
}

#[test]
fn a_permanent_403_on_one_symbol_fails_the_run_but_keeps_every_other_symbol() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.sim.add_fault(FaultRule {
        pattern: "klines/ICPUSDT/".into(),
        fault: Fault::Status(403),
        times: None,
    });
    let out = env.run(&["backfill", "--end", "2024-03-01"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("ICPUSDT")
            && err.contains("HTTP 403")
            && err.contains("listing data/futures/um/daily/klines/ICPUSDT/1m/"),
        "{err}"
    );
    let expected: Vec<Row> = env
        .sim
        .with_corpus(|c| expected_rows(c, day("2019-09-25"), day("2024-03-01")))
        .into_iter()
        .filter(|r| r.1 != "ICPUSDT")
        .collect();
    assert_eq!(db_rows(&env.db), expected);
    // The next run, with the bucket healthy again, finishes the job.
    env.sim.clear_faults();
    env.ok(&["backfill", "--end", "2024-03-01", "--quiet"]);
    assert_eq!(
        db_rows(&env.db).len(),
        expected.len() + (day("2024-03-01") - day("2022-09-28")).num_days() as usize + 1
    );
}

#[test]
fn kill_dash_nine_mid_backfill_then_rerun_equals_an_uninterrupted_run() {
    let corpus = vision_sim::realistic(today());
    let env = Env::with_options(
        corpus.clone(),
        SimOptions {
            latency: Duration::from_millis(20),
            jitter: Duration::ZERO,
        },
    );
    let mut child = env
        .cmd()
        .args(["backfill", "--quiet", "--concurrency", "8"])
        .spawn()
        .unwrap();
    // Wait (bounded) until a good part of the listing is done, so batches have been committed.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while env.sim.stats().lists < 800 {
        assert!(
            std::time::Instant::now() < deadline,
            "the backfill made no progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backfill ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Nothing half-written is published; the committed batches wait in the private copy.
    assert!(!env.db.exists(), "a killed first run published a file");
    let partial = db_rows(&sibling(&env.db, ".writing")).len();
    let expected = expected_rows(&corpus, day("2019-09-25"), yesterday());
    assert!(
        partial > 0 && partial < expected.len(),
        "{partial} rows after the kill"
    );
    // A kill once DuckDB has spilled (late in a load, past this test's kill point) also leaves
    // its spill folder beside the copy; make this kill one of those.
    std::fs::create_dir_all(sibling(&env.db, ".writing.tmp")).unwrap();
    // And a kill while the copy was being compacted leaves a partial compacted file.
    std::fs::write(sibling(&env.db, ".writing.compact"), b"half a database").unwrap();
    let out = env.run(&["backfill"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(db_rows(&env.db) == expected);
    // Nothing of the killed run is left beside the database: no copy, log or spill folder (the
    // lock and the published file's read index are the database's).
    let beside: Vec<String> = std::fs::read_dir(env.db.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".duckdb."))
        .collect();
    assert!(
        beside
            .iter()
            .all(|name| name.ends_with(".lock") || name.ends_with(".readidx")),
        "{beside:?}"
    );
}

#[test]
fn a_second_writer_is_refused_naming_the_holder() {
    let env = Env::with_options(
        Corpus::from_spec(&small_spec()),
        SimOptions {
            latency: Duration::from_millis(200),
            jitter: Duration::ZERO,
        },
    );
    let mut first = env
        .cmd()
        .args(["backfill", "--quiet", "--concurrency", "1"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while env.sim.stats().requests == 0 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = env.run(&["update"]);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("another collection is writing")
            && err.contains(&format!("pid {}", first.id()))
            && err.contains("backfill"),
        "{err}"
    );
}

#[test]
fn probe_records_one_day_by_head_requests() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--end", "2024-01-10", "--quiet"]);
    env.sim.reset_stats();
    let out = env.run(&["probe", "2024-01-20"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.sim.stats().heads, 8);
    let rows: Vec<Row> = db_rows(&env.db)
        .into_iter()
        .filter(|r| r.0 == day("2024-01-20"))
        .collect();
    let names: Vec<(&str, bool)> = rows.iter().map(|r| (r.1.as_str(), r.2)).collect();
    // 币安人生USDT has no file that day and no stored life around it: a 404 there is not stored.
    assert_eq!(
        names,
        [
            ("BTCUSDT", true),
            ("BTCUSDT_240329", true),
            ("ETHUSDT", true),
            ("ICPUSDT", true)
        ]
    );
    let symbols = env.run(&["probe", "2024-01-20", "--symbols", "NOPEUSDT"]);
    assert!(symbols.status.success());
}

#[test]
fn unknown_backfill_symbols_are_bad_input() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    let out = env.run(&[
        "backfill",
        "--symbols",
        "BTCUSDT,NOPEUSDT",
        "--end",
        "2024-01-10",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unknown symbol folder(s) NOPEUSDT"),
        "{}",
        stderr(&out)
    );
    env.ok(&[
        "backfill",
        "--symbols",
        "btcusdt,币安人生USDT",
        "--end",
        "2024-03-01",
        "--quiet",
    ]);
    let rows = db_rows(&env.db);
    assert!(
        rows.iter()
            .all(|r| r.1 == "BTCUSDT" || r.1 == "币安人生USDT")
    );
    let _ = Days::days(0);
}

/// Issue 25's seam, proven by a second market: COIN-M's folders collected by the same code
/// into the same file, in tables of their own, answered with `--market cm`; every USD-M answer
/// the same as from a database that never saw COIN-M.
#[test]
fn coin_m_is_collected_beside_usd_m_and_answered_on_its_own() {
    let um = Corpus::from_spec(&small_spec());
    let both = um.clone().merged(vision_sim::coin_m(today()));
    let alone = Env::new(um);
    alone.ok(&["update", "-q"]);
    let env = Env::new(both.clone());
    env.ok(&["update", "-q"]);
    // Asked before it is collected, COIN-M says so, and how to collect it.
    let out = env.run(&["query", "snapshot", "2024-01-15", "--market", "cm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "2024-01-15 is not checked yet: the database's cm market is complete through no day \
             yet; run `update --market cm`"
        ),
        "{}",
        stderr(&out)
    );
    env.ok(&["update", "-q", "--market", "cm"]);

    // Every COIN-M file and verified absence, exactly; the url is COIN-M's.
    let rows = db_rows_of(&env.db, "cm.daily_availability");
    let expected = expected_rows_in(&both, vision_sim::CM_ROOT, day("2019-09-25"), yesterday());
    assert!(expected.len() > 2_500, "{}", expected.len());
    assert_same_rows(&rows, &expected);
    let trading: i64 = read_only(&env.db)
        .query_row(
            "SELECT count(*) FROM cm.daily_trading WHERE symbol = 'BTCUSD_PERP'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(trading, (yesterday() - day("2020-08-11")).num_days() + 1);

    // USD-M: the same rows, the same answers, and the original's SQL sees USD-M alone.
    assert_eq!(db_rows(&env.db), db_rows(&alone.db));
    for q in [
        &["query", "snapshot", "2024-01-15", "--format", "json"][..],
        &["query", "timeline", "BTCUSDT", "--format", "csv"],
        &[
            "query",
            "range",
            "2023-06-01",
            "2023-07-01",
            "--contract",
            "all",
        ],
        &["query", "summary", "2024-01-01", "2024-01-31"],
        &["query", "symbols", "--format", "csv"],
        &["query", "events", "--format", "csv"],
        &["query", "universe", "2024-02-01", "--format", "csv"],
    ] {
        assert_eq!(env.ok(q), alone.ok(q), "{q:?}");
    }

    // COIN-M's answers.
    let snapshot = env.ok(&[
        "query",
        "snapshot",
        "2024-01-15",
        "--market",
        "cm",
        "--contract",
        "all",
        "--format",
        "csv",
    ]);
    let symbols: Vec<&str> = snapshot
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        symbols,
        ["BTCUSD_240628", "BTCUSD_PERP", "ETHUSD_PERP"],
        "{snapshot}"
    );
    let perpetuals = env.ok(&["query", "snapshot", "2024-01-15", "--market", "cm"]);
    assert!(perpetuals.contains("BTCUSD_PERP") && !perpetuals.contains("BTCUSD_240628"));
    let timeline = env.ok(&[
        "query",
        "timeline",
        "BTCUSD_PERP",
        "--market",
        "cm",
        "--format",
        "csv",
    ]);
    let first = timeline.lines().nth(1).unwrap();
    assert!(first.starts_with("2020-08-11,true,"), "{first}");
    assert_eq!(
        timeline.lines().count() as i64 - 1,
        (yesterday() - day("2020-08-11")).num_days() + 1
    );
    let settled = env.ok(&["query", "events", "--market", "cm", "--format", "csv"]);
    assert!(settled.contains("ADAUSD_PERP"), "{settled}");

    // A name of one market is unknown in the other; a market not kept is refused before
    // anything is opened. (COIN-M's universe: `markets.rs`.)
    let out = env.run(&["query", "timeline", "BTCUSD_PERP"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = env.run(&["query", "snapshot", "2024-01-15", "--market", "option"]);
    assert_eq!(out.status.code(), Some(2));
}
