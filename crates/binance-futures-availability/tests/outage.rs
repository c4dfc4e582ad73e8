//! Vision's outages and late files, end to end against vision-sim: a bucket that published
//! nothing for longer than the lookback leaves no false absence, no false delisting and no
//! false "complete through" (issue 24, point 2), and `status` names the outage while it lasts;
//! a late or replaced file older than the lookback is seen within a week of daily updates, for
//! the 1m and the 1d datasets alike.

use crate::common;

use chrono::{Datelike, Duration, NaiveDate};
use common::*;
use serde_json::Value;
use vision_sim::{Corpus, CorpusSpec, ObjectKind};

/// How many days the bucket published nothing in the outage: longer than the default
/// `--lookback` (20), as the 34-day outage of the issue.
const OUTAGE_DAYS: i64 = 40;

/// Two live symbols and one delisted long ago, whose files follow the real clock (`update`
/// works through yesterday), as the bucket shows them on the morning of `as_of`: nothing after
/// `as_of − 1`.
fn spec(as_of: NaiveDate) -> CorpusSpec {
    let last = as_of - Duration::days(1);
    let clipped =
        |name: &str, first: NaiveDate, end: NaiveDate| spec_symbol(name, first, end.min(last), &[]);
    CorpusSpec {
        symbols: vec![
            clipped("AAAUSDT", days_ago(300), days_ago(1)),
            clipped("BBBUSDT", days_ago(200), days_ago(1)),
            clipped("CCCUSDT", days_ago(400), days_ago(250)),
        ],
        stray_keys: vec![],
        as_of: Some(as_of),
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_long_outage_leaves_no_false_absence_delisting_or_complete_through() {
    // The bucket as of OUTAGE_DAYS ago: it has published nothing since.
    let outage_from = days_ago(OUTAGE_DAYS);
    let published = outage_from - Duration::days(1);
    let env = Env::new(Corpus::from_spec(&spec(outage_from)));
    env.ok(&["update", "--quiet"]);

    // While the bucket is silent: complete through its last day, not through yesterday, and
    // `status` names the outage and what to do, exit 1.
    let out = env.run(&["status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let s = json(&stdout(&out));
    assert_eq!(s["checked_through"], published.to_string());
    assert_eq!(s["published_nothing_after"], published.to_string());
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let sentence = format!("Vision has published nothing after {published}");
    assert!(stdout(&out).contains(&sentence), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(&sentence) && stderr(&out).contains("let the daily update run"),
        "{}",
        stderr(&out)
    );
    // A question about a day of the outage is refused with what it waits for: the bucket, not
    // an `update` (which would change nothing).
    let silent = published + Duration::days(3);
    let out = env.run(&["query", "snapshot", &silent.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "{silent} is not checked yet: the database is complete through {published}, the \
             last day Vision has published: the last update asked for every day through {}",
            days_ago(1)
        )) && !stderr(&out).contains("run `update`"),
        "{}",
        stderr(&out)
    );
    let symbols = json(&env.ok(&["query", "symbols", "--format", "json"]));
    for s in symbols.as_array().unwrap() {
        assert!(
            s["checked_through"]
                .as_str()
                .is_none_or(|c| day(c) <= published),
            "a day the bucket never published is recorded as checked: {s}"
        );
    }

    // The bucket catches up; the next update (default lookback, 20 days: shorter than the
    // outage) stores exactly the corpus: no day of the outage is a verified absence.
    env.sim
        .with_corpus(|c| *c = Corpus::from_spec(&spec(today())));
    env.ok(&["update", "--quiet"]);
    let rows = db_rows(&env.db);
    let false_absences: Vec<&Row> = rows.iter().filter(|r| !r.2 && r.0 >= outage_from).collect();
    assert!(false_absences.is_empty(), "{false_absences:?}");
    let expected = env
        .sim
        .with_corpus(|c| expected_rows(c, day("2019-09-25"), days_ago(1)));
    assert_eq!(rows, expected);

    // A day of the outage answers what the bucket has for it.
    let mid = outage_from + Duration::days(OUTAGE_DAYS / 2);
    let snapshot = json(&env.ok(&["query", "snapshot", &mid.to_string(), "--format", "json"]));
    let listed: Vec<&str> = snapshot
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["AAAUSDT", "BBBUSDT"], "snapshot of {mid}");

    // No delisting and no gap from the outage: CCCUSDT's end is the only one.
    let events = json(&env.ok(&["query", "events", "--format", "json"]));
    let ends: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] != "listing")
        .map(|e| (e["symbol"].as_str().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(ends, [("CCCUSDT", "delisting")]);

    // The two datasets agree: every day with a file has its trading row.
    let trading = db_trading(&env.db);
    for symbol in ["AAAUSDT", "BBBUSDT"] {
        let files = rows.iter().filter(|r| r.1 == symbol && r.2).count();
        let traded = trading.keys().filter(|(s, _)| s == symbol).count();
        assert_eq!(files, traded, "{symbol}");
    }

    // Caught up: complete through yesterday, no outage, exit 0.
    let s = json(&env.ok(&["status", "--format", "json"]));
    assert_eq!(s["checked_through"], days_ago(1).to_string());
    assert_eq!(s["published_nothing_after"], Value::Null);
}

/// Folders that live through yesterday, enough for each of the seven turns to hold some.
fn live_spec() -> CorpusSpec {
    CorpusSpec {
        symbols: (0..10)
            .map(|i| {
                let name = format!("S{i}USDT");
                // A day without a file, long before the lookback, where a late file can land.
                let hole = (days_ago(100), days_ago(100));
                spec_symbol(&name, days_ago(400), days_ago(1), &[hole])
            })
            .collect(),
        stray_keys: vec![],
        as_of: None,
    }
}

/// Runs `update` up to seven times, until `done` holds; how many runs it took.
fn updates_until(env: &Env, done: impl Fn() -> bool) -> Option<usize> {
    (1..=7).find(|_| {
        env.ok(&["update", "--quiet"]);
        done()
    })
}

#[test]
fn an_old_late_or_replaced_1m_file_is_seen_within_seven_updates() {
    let env = Env::new(Corpus::from_spec(&live_spec()));
    env.ok(&["update", "--quiet"]);
    let stamp = chrono::Utc::now();
    env.sim.with_corpus(|c| {
        // A late upload into a day that had none, and a replaced file: both older than the
        // 20-day lookback.
        c.put_daily_file("S3USDT", days_ago(100), 44_444, stamp);
        c.put_daily_file("S7USDT", days_ago(150), 55_555, stamp);
    });
    let expected = env
        .sim
        .with_corpus(|c| expected_rows(c, day("2019-09-25"), days_ago(1)));
    assert_ne!(db_rows(&env.db), expected);
    let runs = updates_until(&env, || db_rows(&env.db) == expected);
    assert!(runs.is_some(), "not seen within 7 updates");
}

#[test]
fn an_old_replaced_1d_file_is_read_again_within_seven_updates() {
    let env = Env::new(Corpus::from_spec(&live_spec()));
    env.ok(&["update", "--quiet"]);
    // The monthly 1d file of a month long past is replaced: the symbol stopped trading on the
    // 10th (zero-trade days after it), published a minute ago.
    let first = days_ago(170).with_day(1).unwrap();
    let key = vision_sim::monthly_1d_key("S5USDT", first);
    env.sim.with_corpus(|c| {
        let mut o = c.remove(&key).expect("the month's monthly file");
        if let ObjectKind::Monthly1d { first, days, .. } = o.kind {
            o.kind = ObjectKind::Monthly1d {
                first,
                days,
                last_trade: Some(first + Duration::days(9)),
            };
        }
        o.last_modified = chrono::Utc::now();
        c.insert(o);
    });
    let expected = env.sim.with_corpus(|c| expected_trading(c));
    assert_ne!(db_trading(&env.db), expected);
    let runs = updates_until(&env, || db_trading(&env.db) == expected);
    assert!(runs.is_some(), "not read again within 7 updates");
}

#[test]
fn a_database_that_recorded_an_outage_as_checked_is_mended() {
    let outage_from = days_ago(OUTAGE_DAYS);
    let published = outage_from - Duration::days(1);
    let env = Env::new(Corpus::from_spec(&spec(outage_from)));
    env.ok(&["update", "--quiet"]);
    // What a binary before the rule recorded during the outage: every folder checked through
    // yesterday, though no folder has a file after `published`.
    duckdb::Connection::open(&env.db)
        .unwrap()
        .execute(
            "UPDATE symbols SET checked_through = ?::DATE WHERE checked_through IS NOT NULL",
            [days_ago(1).to_string()],
        )
        .unwrap();
    // `status` does not repeat the claim, before any update.
    let s = json(&stdout(&env.run(&["status", "--format", "json"])));
    assert_eq!(s["checked_through"], published.to_string());
    // The bucket catches up: the next update lists the outage again, and stores no absence.
    env.sim
        .with_corpus(|c| *c = Corpus::from_spec(&spec(today())));
    env.ok(&["update", "--quiet"]);
    let expected = env
        .sim
        .with_corpus(|c| expected_rows(c, day("2019-09-25"), days_ago(1)));
    assert_eq!(db_rows(&env.db), expected);
}
