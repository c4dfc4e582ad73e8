//! The lives index stored at publish (schema 7) against a rebuild from the facts: after every
//! publish of a run of collections against vision-sim (the corpus of `lives.rs`, with a late
//! file, gaps short and long, delistings and relistings), a fresh handle on the published file
//! answers events, lives and universes (single dates and panels, many flag sets) exactly as a
//! handle on the same file without the index, which rebuilds as schema 6 files are read; and a
//! write that is not published never leaves an index describing facts that changed.

use crate::common;
use crate::lives::{as_of, spec};
use crate::panel::questions;

use std::path::{Path, PathBuf};

use binance_futures_availability::facts::{DailyTrading, Market, Span};
use binance_futures_availability::question::Question;
use binance_futures_availability::store::{
    AvailabilityRow, Batch, Database, EventFilter, Every, TradingFile,
};
use chrono::{Duration, Utc};
use common::*;
use vision_sim::Corpus;

/// The first day a panel asks about (the corpus's first trades are on 2021-10-01).
const START: &str = "2021-10-02";

/// `path` as a schema 6 file: the same facts without the lives index, which a reader then
/// rebuilds, and without spot's tables (version 8; the copy is written; `path` is not).
fn without_index(path: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join(format!(
        "rebuilt-{}.duckdb",
        path.file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&copy);
    std::fs::copy(path, &copy).unwrap();
    let conn = duckdb::Connection::open(&copy).unwrap();
    conn.execute_batch(
        "DROP TABLE main.lives_runs; DROP TABLE main.lives_built;
         DROP TABLE cm.lives_runs; DROP TABLE cm.lives_built; DROP SCHEMA spot CASCADE;
         DELETE FROM schema_version WHERE version >= 7; CHECKPOINT;",
    )
    .unwrap();
    drop(conn);
    copy
}

/// Whether the published file holds a built lives index for USD-M (so that a comparison of
/// its answers with a rebuild's compares two sources, not one with itself).
fn index_built(path: &Path) -> bool {
    let conn = read_only(path);
    conn.query_row("SELECT count(*) = 1 FROM lives_built", [], |r| r.get(0))
        .unwrap()
}

/// A result as text, its file's path left out (the two handles read two files).
fn text<T: std::fmt::Debug>(
    r: Result<T, binance_futures_availability::store::StoreError>,
    path: &Path,
) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!(
            "error: {}",
            e.to_string().replace(&path.display().to_string(), "DB")
        ),
    }
}

/// Every answer the lives decide, from `stored` and from `rebuilt`: equal, or the step's name
/// and the first difference. Returns how many universe answers had members.
fn compare(step: &str, stored: &Path, rebuilt: &Path) -> usize {
    let (a, b) = (
        Database::open(stored).unwrap(),
        Database::open(rebuilt).unwrap(),
    );
    let both = |f: &dyn Fn(&Database, &Path) -> String| (f(&a, stored), f(&b, rebuilt));
    for rule in [3, 7, 30] {
        let (x, y) = both(&|db, p| text(db.events(&EventFilter::default(), rule), p));
        assert_eq!(x, y, "{step}: events, delisted after {rule}");
        let (x, y) = both(&|db, p| text(db.life_rows(None, rule), p));
        assert_eq!(x, y, "{step}: lives, delisted after {rule}");
    }
    let Some(through) = a.complete_through().unwrap() else {
        return 0;
    };
    let (start, end) = (day(START), through + Duration::days(1));
    let mut with_members = 0;
    for (name, q) in questions() {
        if start <= end {
            let panel = Question::universe_panel(Market::Um, q.clone(), end, Every::DAILY).unwrap();
            let (x, y) = both(&|db, p| text(db.answer(&panel), p));
            assert_eq!(x, y, "{step}: panel {name}");
        }
        // Single dates: every fifth day and the last week, each handle fresh for the first.
        let mut date = start;
        while date <= end {
            let single = Question::universe(
                Market::Um,
                binance_futures_availability::store::UniverseQuery { date, ..q.clone() },
            )
            .unwrap();
            let (x, y) = both(&|db, p| text(db.answer(&single), p));
            assert_eq!(x, y, "{step}: universe {name} of {date}");
            with_members += usize::from(!x.contains("Universe([])") && !x.starts_with("error"));
            date += Duration::days(if end - date > Duration::days(7) { 5 } else { 1 });
        }
    }
    with_members
}

/// A run of collections, each published, over the corpus's history as the bucket had it on
/// each day of `steps`: the stored index answers as a rebuild after every publish.
#[test]
fn the_stored_index_answers_as_a_rebuild_after_every_publish() {
    let full = spec();
    let work = tempfile::tempdir().unwrap();
    // 2021-12-05: XRPUSDT inside its 20-day gap (a delisting once checked 7 days past it);
    // 2021-12-28: its relisting, and ICPUSDT_SETTLED ended; 2022-01-10: ICPUSDT's relisting
    // of the settled folder; 2022-02-12: 币安人生USDT inside its 5-day gap, and BTCUSDT's file
    // of 02-09 not uploaded yet (a gap) — 2022-02-13: uploaded late (no gap any more);
    // 2022-03-11: DOGEUSDT's zero-trade tail and the delivery of BTCUSDT_220225 behind it.
    let steps = [
        "2021-10-20",
        "2021-11-15",
        "2021-12-05",
        "2021-12-28",
        "2022-01-10",
        "2022-02-12",
        "2022-02-13",
        "2022-03-11",
    ];
    let mut env: Option<Env> = None;
    let mut with_members = 0;
    for step in steps {
        let date = day(step);
        let mut bucket = as_of(&full, date);
        if step == "2022-02-12" {
            let btc = bucket
                .symbols
                .iter_mut()
                .find(|s| s.name == "BTCUSDT")
                .unwrap();
            btc.gaps.push((day("2022-02-09"), day("2022-02-09")));
        }
        let end = (date - Duration::days(1)).to_string();
        match &env {
            Some(env) => env.sim.with_corpus(|c| *c = Corpus::from_spec(&bucket)),
            None => env = Some(Env::new(Corpus::from_spec(&bucket))),
        }
        let env = env.as_ref().unwrap();
        env.ok(&["backfill", "--end", &end]);
        assert!(index_built(&env.db), "{step}: no index published");
        with_members += compare(step, &env.db, &without_index(&env.db, work.path()));
    }
    // The late file is in the answers: BTCUSDT's gap of 02-09 came and went.
    let env = env.unwrap();
    let gaps_of = |db: &Database| {
        let filter = EventFilter {
            symbol: Some("BTCUSDT".into()),
            ..EventFilter::default()
        };
        db.events(&filter, 7).unwrap().len()
    };
    assert_eq!(
        gaps_of(&Database::open(&env.db).unwrap()),
        1,
        "listing only"
    );
    // Then an update through yesterday: folders checked far past their last trade, so the
    // lives that ended are delisted.
    env.ok(&["update"]);
    assert!(index_built(&env.db));
    with_members += compare("update", &env.db, &without_index(&env.db, work.path()));
    // Not vacuous: most questions of most steps had members.
    assert!(with_members > 300, "{with_members}");
}

/// A write that is not published (a library user's handle on a copy, closed without
/// `publish`) leaves no index describing the facts before it: its readers rebuild.
#[test]
fn an_unpublished_write_leaves_no_stale_index() {
    let env = Env::new(Corpus::from_spec(&spec()));
    env.ok(&["backfill", "--end", crate::lives::END]);
    let work = tempfile::tempdir().unwrap();
    let events = |path: &Path| {
        Database::open(path)
            .unwrap()
            .events(&EventFilter::default(), 7)
            .unwrap()
    };
    let before = events(&env.db);
    // Availability: XRPUSDT's 20-day gap (a delisting and a relisting) filled on one day.
    let availability = work.path().join("availability.duckdb");
    std::fs::copy(&env.db, &availability).unwrap();
    let mut db = Database::open_for_write(&availability).unwrap();
    let filled = db
        .write_batch(&Batch {
            rows: vec![AvailabilityRow {
                date: day("2021-12-10"),
                symbol: "XRPUSDT".into(),
                seen: binance_futures_availability::store::Seen::File {
                    size: 57_000,
                    last_modified: None,
                },
                probe_timestamp: Utc::now(),
            }],
            symbols: vec![],
        })
        .unwrap();
    assert_eq!(filled, 1);
    db.close().unwrap();
    // Trading: DOGEUSDT trades on a day of its zero-trade tail, so its life has not ended yet.
    let trading = work.path().join("trading.duckdb");
    std::fs::copy(&env.db, &trading).unwrap();
    let mut db = Database::open_for_write(&trading).unwrap();
    let traded = db
        .write_trading(&[TradingFile {
            symbol: "DOGEUSDT".into(),
            span: Span::Day(day("2022-02-15")),
            size: 300,
            last_modified: Utc::now(),
            days: vec![DailyTrading {
                date: day("2022-02-15"),
                open: 1.0,
                high: 1.0,
                low: 1.0,
                close: 1.0,
                volume: 1.0,
                quote_volume: 1.0,
                trades: 3,
                taker_buy_volume: 0.5,
                taker_buy_quote_volume: 0.5,
            }],
        }])
        .unwrap();
    assert_eq!(traded, 1);
    db.close().unwrap();
    for path in [&availability, &trading] {
        let after = events(path);
        assert_ne!(
            after,
            before,
            "{}: the write changed no event",
            path.display()
        );
        assert_eq!(
            after,
            events(&without_index(path, work.path())),
            "{}",
            path.display()
        );
    }
}

/// A schema 6 file (written before the index and spot's tables) is still read, by a rebuild,
/// a question about spot is told the file predates spot's tables, and its first write migrates
/// it and publishes the index.
#[test]
fn a_file_without_the_index_is_read_and_migrated() {
    let env = Env::new(Corpus::from_spec(&spec()));
    env.ok(&["backfill", "--end", crate::lives::END]);
    let work = tempfile::tempdir().unwrap();
    let old = without_index(&env.db, work.path());
    let version = |p: &Path| -> i32 {
        read_only(p)
            .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(&old), 6);
    let want = env.ok(&["query", "events", "--format", "json"]);
    let old_db = old.to_str().unwrap();
    assert_eq!(
        env.ok(&["query", "events", "--format", "json", "--db", old_db]),
        want
    );
    let spot = [
        "query",
        "snapshot",
        "2024-01-15",
        "--market",
        "spot",
        "--db",
        old_db,
    ];
    let refused = |want: &str| {
        let out = env.run(&spot);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(want), "{err}");
    };
    refused("is of schema version 6, older than the spot market's tables (version 8)");
    env.ok(&["backfill", "--end", crate::lives::END, "--db", old_db]);
    assert_eq!(version(&old), 8);
    refused("not checked");
    assert!(index_built(&old));
    assert_eq!(
        env.ok(&["query", "events", "--format", "json", "--db", old_db]),
        want
    );
}
