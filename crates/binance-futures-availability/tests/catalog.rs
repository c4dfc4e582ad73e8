//! The catalog (ADR 0020) end to end: the real binary crawls the simulated bucket, and every
//! key the bucket lists must be accounted for exactly once — a file (with its size and time),
//! the `.CHECKSUM` flag of the file beside it, or a stray with its reason — never dropped,
//! never invented. The oracle is the corpus's own key list, not the crawler's grammar.

use crate::common;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use common::*;
use serde_json::Value;
use vision_sim::{Corpus, Object, ObjectKind};

fn stray(corpus: &mut Corpus, key: &str) {
    corpus.insert(Object {
        key: key.into(),
        size: 7,
        last_modified: "2023-07-02T08:00:00Z".parse().unwrap(),
        etag: "0123456789abcdef0123456789abcdef".into(),
        kind: ObjectKind::Other,
    });
}

/// A key with its size and last modified time, as listed.
type Listed = (String, u64, DateTime<Utc>);

/// The keys a catalog accounts for (a sidecar, known only by its file's flag, with size
/// `u64::MAX`), and the strays' reasons by key.
fn accounted(env: &Env) -> (Vec<Listed>, BTreeMap<String, String>) {
    let json = |args: &[&str]| -> Vec<Value> {
        serde_json::from_str(&env.ok(args)).expect("a JSON array")
    };
    let mut keys = Vec::new();
    for dataset in json(&["catalog", "datasets", "--format", "json"]) {
        let name = dataset["dataset"].as_str().unwrap();
        for file in json(&["catalog", "files", name, "--format", "json"]) {
            let key = file["key"].as_str().unwrap().to_string();
            let size = file["size"].as_u64().unwrap();
            let time: DateTime<Utc> = file["last_modified"].as_str().unwrap().parse().unwrap();
            if file["checksum"].as_bool().unwrap() {
                keys.push((format!("{key}.CHECKSUM"), u64::MAX, time));
            }
            keys.push((key, size, time));
        }
    }
    let mut reasons = BTreeMap::new();
    for s in json(&["catalog", "strays", "--format", "json"]) {
        let key = s["key"].as_str().unwrap().to_string();
        let time: DateTime<Utc> = s["last_modified"].as_str().unwrap().parse().unwrap();
        keys.push((key.clone(), s["size"].as_u64().unwrap(), time));
        reasons.insert(key, s["reason"].as_str().unwrap().to_string());
    }
    keys.sort();
    (keys, reasons)
}

#[test]
fn the_catalog_accounts_for_every_key_of_the_bucket_exactly_once() {
    let mut corpus = Corpus::from_spec(&small_spec()).merged(vision_sim::coin_m(today()));
    // Keys outside the layout, each where a real one is (../shared/vision-layout.md).
    for key in [
        "index.html",
        "data2/2020-10/BTCUSDT.csv",
        "data3/liquidationSnapshot/BTCUSDT/BTCUSDT-liquidationSnapshot-2023-07-01.zip",
        "/data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-07.zip",
        "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-8.zip",
        "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-09.zip",
        "data/spot/monthly/aggTrades/BTCUSDT/part-00000-0a1b-c000.zip",
        "data/futures/um/daily/newType/BTCUSDT/BTCUSDT-newType-2024-01-01.zip",
        "data/futures/um/daily/klines/ETHUSDT/1m/ETHUSDT-1m-2000-01-01.zip.CHECKSUM",
        "data/option/daily/BVOLIndex/BTCBVOLUSDT/BTCBVOLUSDT-BVOLIndex-2023-06-20.zip",
    ] {
        stray(&mut corpus, key);
    }
    let env = Env::new(corpus.clone());
    env.ok(&["catalog", "update", "-q"]);

    let (keys, reasons) = accounted(&env);
    let mut expected: Vec<Listed> = corpus
        .objects()
        .iter()
        .map(|o| (o.key.clone(), o.size, o.last_modified))
        .collect();
    expected.sort();
    // A sidecar is accounted for by its file's flag: its own size and time are not kept.
    let sidecars: std::collections::HashSet<&str> = keys
        .iter()
        .filter(|(_, size, _)| *size == u64::MAX)
        .map(|(k, _, _)| k.as_str())
        .collect();
    let unflagged = |list: &[Listed]| -> Vec<Listed> {
        list.iter()
            .filter(|(k, _, _)| !sidecars.contains(k.as_str()))
            .cloned()
            .collect()
    };
    assert!(expected.len() > 5_000, "{}", expected.len());
    assert_eq!(
        keys.iter().map(|(k, _, _)| k).collect::<Vec<_>>(),
        expected.iter().map(|(k, _, _)| k).collect::<Vec<_>>(),
        "every key once, none invented"
    );
    assert_eq!(
        unflagged(&keys),
        unflagged(&expected),
        "sizes and times as listed"
    );

    let reason = |key: &str| reasons.get(key).map(String::as_str);
    assert_eq!(reason("index.html"), Some("outside data/"));
    assert_eq!(reason("data2/2020-10/BTCUSDT.csv"), Some("outside data/"));
    assert_eq!(
        reason("/data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-07.zip"),
        Some("outside data/")
    );
    assert_eq!(
        reason("data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-8.zip"),
        Some("not a file name of its dataset")
    );
    assert_eq!(
        reason("data/spot/monthly/aggTrades/BTCUSDT/part-00000-0a1b-c000.zip"),
        Some("not a file name of its dataset")
    );
    assert_eq!(
        reason("data/futures/um/daily/newType/BTCUSDT/BTCUSDT-newType-2024-01-01.zip"),
        Some("a folder the layout does not name")
    );
    assert_eq!(
        reason("data/futures/um/daily/klines/ETHUSDT/1m/ETHUSDT-1m-2000-01-01.zip.CHECKSUM"),
        Some("sidecar without file")
    );
    assert_eq!(
        reason("data/futures/um/daily/klines//"),
        Some("a folder name that is not a symbol")
    );
    // Files of markets the availability database does not keep are catalogued all the same.
    assert_eq!(
        reason("data/option/daily/BVOLIndex/BTCBVOLUSDT/BTCBVOLUSDT-BVOLIndex-2023-06-20.zip"),
        None
    );
    let datasets = env.ok(&[
        "catalog", "datasets", "--market", "option", "--format", "csv",
    ]);
    assert_eq!(
        datasets,
        "dataset,symbols,files,bytes,first,last,missing_checksums,last_change\n\
         option/daily/BVOLIndex,1,1,7,2023-06-20,2023-06-20,1,\n"
    );

    // A symbol's periods and the days missing inside them (BTCUSDT: 2021-02-22..26, 5 days).
    let symbols = env.ok(&[
        "catalog",
        "symbols",
        "um/daily/klines/1m",
        "--format",
        "csv",
    ]);
    let btc = symbols
        .lines()
        .find(|l| l.starts_with("BTCUSDT,"))
        .unwrap_or_else(|| panic!("{symbols}"));
    let days = (day("2024-03-01") - day("2019-12-31")).num_days() + 1;
    assert_eq!(
        btc,
        format!("BTCUSDT,{},{},2019-12-31,2024-03-01,5", days - 5, {
            let bytes: u64 = corpus
                .objects()
                .iter()
                .filter(|o| {
                    o.key
                        .starts_with("data/futures/um/daily/klines/BTCUSDT/1m/")
                        && o.key.ends_with(".zip")
                })
                .map(|o| o.size)
                .sum();
            bytes
        })
    );

    // A second crawl of the same bucket lists each leaf from near its tip and the 1/30 of
    // folders listed longest ago whole, finds nothing changed, and duplicates nothing.
    let out = env.run(&["catalog", "update"]);
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("0 added, 0 replaced, 0 removed"),
        "{summary}"
    );
    assert_eq!(accounted(&env), (keys, reasons));
    // The availability database was never created: the catalog is a file of its own.
    assert!(!env.db.exists());
}

#[test]
fn a_catalog_and_an_availability_database_are_not_taken_for_each_other() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    let out = env.run(&["catalog", "datasets"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("build it with `binance-futures-availability catalog update`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["update", "-q", "--no-trading"]);
    env.ok(&["catalog", "update", "-q"]);
    let catalog = sibling(&env.db, "").with_file_name("catalog.duckdb");
    // The catalog given where a database is expected, and the other way round.
    let out = env
        .cmd()
        .env("BFA_DB", &catalog)
        .args(["query", "snapshot", "2024-01-15"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("is not a binance-futures-availability database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env
        .cmd()
        .args(["catalog", "--catalog"])
        .arg(&env.db)
        .args(["datasets"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("is not a catalog of binance-futures-availability"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_crawl_killed_mid_way_resumes_and_ends_equal_to_an_uninterrupted_one() {
    let corpus = vision_sim::realistic(day("2026-11-01"));
    let reference = Env::new(corpus.clone());
    reference.ok(&["catalog", "update", "-q"]);
    let env = Env::with_options(
        corpus,
        vision_sim::SimOptions {
            latency: std::time::Duration::from_millis(2),
            jitter: std::time::Duration::ZERO,
        },
    );
    let mut child = env
        .cmd()
        .args(["catalog", "update", "--quiet", "--concurrency", "4"])
        .spawn()
        .unwrap();
    // Past the first batches (250 folders of ~2 pages each are written together).
    wait_until(120, "the crawl to write batches", || {
        env.sim.stats().lists > 1_500 || child.try_wait().unwrap().is_some()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let catalog = env.dir.path().join("catalog.duckdb");
    assert!(!catalog.exists(), "a killed crawl publishes nothing");

    let out = env.run(&["catalog", "update"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stderr);
    let listed: u64 = summary
        .split("catalog update: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary in {summary}"));
    assert!(
        (1..2015).contains(&listed),
        "the rerun lists only what the killed crawl had not written: {summary}"
    );
    assert_eq!(accounted(&env), accounted(&reference));
}

#[test]
fn the_catalog_equals_the_whole_bucket_for_every_market_type_partition_and_interval() {
    use binance_futures_availability::store::Catalog;
    let at: DateTime<Utc> = "2026-12-01T09:00:00Z".parse().unwrap();
    let model = std::sync::Arc::new(vision_sim::Vision::new(0.001));
    let env = Env::with_bucket(vision_sim::Bucket::Vision(model.at(at)));
    ok_under_16mb(&env, &["catalog", "update", "-q"]);

    let path = env.dir.path().join("catalog.duckdb");
    // The published files lie in leaf then period order: a symbol's files are a row group or
    // two, not a scan of every row group (issue 27's ≤ 5 ms for one symbol's files).
    let (files, out_of_order) = files_out_of_order(&path);
    assert!(files > 500_000, "{files}");
    assert_eq!(out_of_order, 0, "files out of leaf and period order");
    let catalog = Catalog::open(&path).unwrap();
    let datasets = catalog.datasets().unwrap();
    let mut keys: Vec<Listed> = Vec::new();
    for d in &datasets {
        for f in catalog.files(d.dataset, None).unwrap() {
            if f.checksum {
                keys.push((format!("{}.CHECKSUM", f.key), u64::MAX, f.last_modified));
            }
            keys.push((f.key, f.size, f.last_modified));
        }
    }
    let strays = catalog.strays().unwrap();
    keys.extend(
        strays
            .iter()
            .map(|s| (s.key.clone(), s.size, s.last_modified)),
    );
    keys.sort();
    let mut expected: Vec<Listed> = model
        .materialise("", at)
        .into_iter()
        .map(|o| (o.key, o.size, o.last_modified))
        .collect();
    expected.sort();
    assert!(expected.len() > 1_000_000, "{}", expected.len());
    assert!(
        keys.iter().map(|k| &k.0).eq(expected.iter().map(|k| &k.0)),
        "{} keys accounted for against {} listed; first difference: {:?}",
        keys.len(),
        expected.len(),
        keys.iter()
            .zip(&expected)
            .find(|(a, b)| a.0 != b.0)
            .map(|(a, b)| (&a.0, &b.0))
    );
    let by_key: std::collections::HashMap<&str, &Listed> =
        expected.iter().map(|k| (k.0.as_str(), k)).collect();
    for k in keys.iter().filter(|k| k.1 != u64::MAX) {
        assert_eq!(
            Some(&k),
            by_key.get(k.0.as_str()),
            "size and time of {}",
            k.0
        );
    }
    // The strays are exactly the keys the bucket's model says are outside the layout.
    let stray_keys: Vec<&str> = strays.iter().map(|s| s.key.as_str()).collect();
    let model_strays: Vec<&str> = expected
        .iter()
        .map(|k| k.0.as_str())
        .filter(|k| model.stray_reason(k).is_some())
        .collect();
    assert_eq!(stray_keys, model_strays);
    // Every market and both partitions are there, intervals and all.
    let names: Vec<String> = datasets.iter().map(|d| d.dataset.to_string()).collect();
    for name in [
        "spot/daily/klines/1s",
        "spot/monthly/klines/1mo",
        "um/daily/metrics",
        "um/monthly/fundingRate",
        "cm/daily/indexPriceKlines/1m",
        "cm/daily/liquidationSnapshot",
        "option/daily/BVOLIndex",
        "option/daily/EOHSummary",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }
}

/// Runs `args` under the smallest memory limit the writers take, and insists on success.
fn ok_under_16mb(env: &Env, args: &[&str]) {
    let out = env
        .cmd()
        .env("BFA_MEMORY_LIMIT", "16MB")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The catalog `env` keeps holds exactly the keys the model's bucket lists at `at`.
fn assert_is_the_bucket(env: &Env, model: &vision_sim::Vision, at: DateTime<Utc>) {
    let (keys, _) = accounted(env);
    let mut now: Vec<String> = model
        .materialise("", at)
        .into_iter()
        .map(|o| o.key)
        .collect();
    now.sort();
    assert!(
        keys.iter().map(|k| &k.0).eq(now.iter()),
        "{} keys against {}",
        keys.len(),
        now.len()
    );
}

/// The files of the catalog at `path`, and how many of them lie before a file of a smaller
/// (leaf, period) in the table's order.
fn files_out_of_order(path: &std::path::Path) -> (i64, i64) {
    let conn = duckdb::Connection::open(path).unwrap();
    conn.query_row(
        "SELECT count(*), count(*) FILTER (WHERE pl IS NOT NULL AND (leaf, period) < (pl, pp))
           FROM (SELECT leaf, period, lag(leaf) OVER (ORDER BY rowid) pl,
                        lag(period) OVER (ORDER BY rowid) pp FROM files)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn files_appended_after_the_first_crawl_are_sorted_into_leaf_order_under_a_small_limit() {
    let t0: DateTime<Utc> = "2026-10-01T09:00:00Z".parse().unwrap();
    let t1: DateTime<Utc> = "2026-11-20T09:00:00Z".parse().unwrap();
    let model = std::sync::Arc::new(vision_sim::Vision::new(0.0005));
    let env = Env::with_bucket(vision_sim::Bucket::Vision(model.at(t0)));
    let path = env.dir.path().join("catalog.duckdb");
    env.ok(&["catalog", "update", "-q"]);
    let (before, _) = files_out_of_order(&path);
    env.sim.set_clock(t1);
    // Under the smallest limit the writers take, the sort is made in several chunks (~1.7 ×
    // 10⁵ files a chunk at 16 MB).
    ok_under_16mb(&env, &["catalog", "update", "-q", "--full"]);
    let (after, out_of_order) = files_out_of_order(&path);
    // Seven weeks of new files of stored leaves, each appended at the end of the table: past
    // a 64th of it, so the publish sorts them in.
    assert!(after - before > after / 64, "{before} → {after}");
    assert!(after > 2 * 170_000, "{after}: more than two chunks");
    assert_eq!(out_of_order, 0, "files out of leaf and period order");
    // What the sort wrote is the bucket, key for key.
    assert_is_the_bucket(&env, &model, t1);
}

/// The catalog's `changes` as (key, kind, size, last modified, previous size, previous last
/// modified), by key then kind.
type Recorded = (
    String,
    String,
    Option<u64>,
    Option<String>,
    Option<u64>,
    Option<String>,
);

fn recorded(env: &Env) -> Vec<Recorded> {
    let rows: Vec<Value> =
        serde_json::from_str(&env.ok(&["catalog", "changes", "--format", "json"])).unwrap();
    let text = |v: &Value| {
        v.as_str()
            .map(|t| t.parse::<DateTime<Utc>>().unwrap().to_rfc3339())
    };
    let mut out: Vec<Recorded> = rows
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["kind"].as_str().unwrap().to_string(),
                r["size"].as_u64(),
                text(&r["last_modified"]),
                r["previous_size"].as_u64(),
                text(&r["previous_last_modified"]),
            )
        })
        .collect();
    out.sort();
    out
}

/// What the model says a catalog should record between `t0` and `t1`, files only (a sidecar
/// is its file's flag; strays are not files).
fn expected_changes(
    model: &std::sync::Arc<vision_sim::Vision>,
    t0: DateTime<Utc>,
    t1: DateTime<Utc>,
) -> Vec<Recorded> {
    let time = |o: &Option<vision_sim::Object>| o.as_ref().map(|o| o.last_modified.to_rfc3339());
    let size = |o: &Option<vision_sim::Object>| o.as_ref().map(|o| o.size);
    let mut out: Vec<Recorded> = model
        .changes_between(t0, t1)
        .into_iter()
        .filter(|c| c.key.ends_with(".zip") && model.stray_reason(&c.key).is_none())
        .map(|c| {
            let kind = match c.kind {
                vision_sim::ChangeKind::Added => "added",
                vision_sim::ChangeKind::Replaced => "replaced",
                vision_sim::ChangeKind::Removed => "removed",
            };
            (
                c.key.clone(),
                kind.to_string(),
                size(&c.after),
                time(&c.after),
                size(&c.before),
                time(&c.before),
            )
        })
        .collect();
    out.sort();
    out
}

/// Fails naming how many changes differ and the first few of each side.
fn assert_same(got: &[Recorded], want: &[Recorded], what: &str) {
    let missing: Vec<&Recorded> = want.iter().filter(|c| !got.contains(c)).collect();
    let extra: Vec<&Recorded> = got.iter().filter(|c| !want.contains(c)).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && got.len() == want.len(),
        "{what}: {} recorded against {} expected; {} missing, first {:?}; {} not expected, first {:?}",
        got.len(),
        want.len(),
        missing.len(),
        &missing[..missing.len().min(3)],
        extra.len(),
        &extra[..extra.len().min(3)],
    );
}

#[test]
fn after_the_clock_moves_the_catalog_records_exactly_what_changed() {
    let t0: DateTime<Utc> = "2026-11-19T09:00:00Z".parse().unwrap();
    let t1: DateTime<Utc> = "2026-11-26T09:00:00Z".parse().unwrap();
    let model = std::sync::Arc::new(vision_sim::Vision::new(0.0005));
    let expected = expected_changes(&model, t0, t1);
    let count = |kind: &str| expected.iter().filter(|c| c.1 == kind).count();
    // The window holds the model's scripted replacements and a removal, new days, late days
    // and new month files.
    assert!(
        count("replaced") >= 3 && count("removed") >= 1 && count("added") > 1_000,
        "{}/{}/{}",
        count("added"),
        count("replaced"),
        count("removed")
    );

    // With --full: every folder listed whole, so every change is seen in one run.
    let env = Env::with_bucket(vision_sim::Bucket::Vision(model.at(t0)));
    env.ok(&["catalog", "update", "-q"]);
    assert_eq!(
        recorded(&env),
        Vec::new(),
        "a first crawl records no changes"
    );
    env.sim.set_clock(t1);
    env.ok(&["catalog", "update", "-q", "--full"]);
    assert_eq!(recorded(&env), expected);

    // Without it: the first run sees every new and late file (each leaf from near its tip, new
    // folders whole); replacements and removals deep in a folder's past within --recrawl-days
    // runs, as the rolling re-crawl comes to their folders.
    let env = Env::with_bucket(vision_sim::Bucket::Vision(model.at(t0)));
    env.ok(&["catalog", "update", "-q"]);
    env.sim.set_clock(t1);
    env.ok(&["catalog", "update", "-q", "--recrawl-days", "3"]);
    let added: Vec<Recorded> = expected
        .iter()
        .filter(|c| c.1 == "added")
        .cloned()
        .collect();
    let first = recorded(&env);
    assert_eq!(
        first
            .iter()
            .filter(|c| c.1 == "added")
            .cloned()
            .collect::<Vec<_>>(),
        added,
        "every added file in the first run"
    );
    assert!(
        first.len() < expected.len(),
        "some replacement waits for its folder's turn"
    );
    env.ok(&["catalog", "update", "-q", "--recrawl-days", "3"]);
    env.ok(&["catalog", "update", "-q", "--recrawl-days", "3"]);
    assert_same(&recorded(&env), &expected, "every change within 3 runs");
    // And the catalog is then the bucket at t1, key for key.
    assert_is_the_bucket(&env, &model, t1);
}

/// The changes between two states of a corpus, files only, as `recorded` gives them.
fn corpus_changes(before: &Corpus, after: &Corpus, prefix: &str) -> Vec<Recorded> {
    let files = |c: &Corpus| -> BTreeMap<String, (u64, String)> {
        c.objects()
            .iter()
            .filter(|o| o.key.starts_with(prefix) && o.key.ends_with(".zip"))
            .map(|o| (o.key.clone(), (o.size, o.last_modified.to_rfc3339())))
            .collect()
    };
    let (b, a) = (files(before), files(after));
    let mut out = Vec::new();
    for (key, (size, time)) in &a {
        match b.get(key) {
            None => out.push((
                key.clone(),
                "added".into(),
                Some(*size),
                Some(time.clone()),
                None,
                None,
            )),
            Some((s, t)) if (s, t) != (size, time) => out.push((
                key.clone(),
                "replaced".into(),
                Some(*size),
                Some(time.clone()),
                Some(*s),
                Some(t.clone()),
            )),
            Some(_) => {}
        }
    }
    for (key, (size, time)) in &b {
        if !a.contains_key(key) {
            out.push((
                key.clone(),
                "removed".into(),
                None,
                None,
                Some(*size),
                Some(time.clone()),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn a_folder_gone_from_the_bucket_is_recorded_removed_and_market_narrows_an_update() {
    let before = Corpus::from_spec(&small_spec()).merged(vision_sim::coin_m(today()));
    let env = Env::new(before.clone());
    env.ok(&["catalog", "update", "-q"]);

    let mut after = before.clone();
    // A whole symbol folder gone, a new day's file, an old file removed deep in a folder, and
    // a COIN-M file replaced.
    let gone = "data/futures/um/daily/klines/ADABUSD/";
    let gone_keys: Vec<String> = after
        .objects()
        .iter()
        .filter(|o| o.key.starts_with(gone))
        .map(|o| o.key.clone())
        .collect();
    assert!(gone_keys.len() > 100);
    for k in &gone_keys {
        after.remove(k);
    }
    let eth = "data/futures/um/daily/klines/ETHUSDT/1m/ETHUSDT-1m-";
    let mut new_day = after.remove(&format!("{eth}2024-03-01.zip")).unwrap();
    after.insert(new_day.clone());
    new_day.key = format!("{eth}2024-03-02.zip");
    new_day.last_modified = "2024-03-03T07:00:00Z".parse().unwrap();
    after.insert(new_day);
    after.remove(&format!("{eth}2020-06-01.zip")).unwrap();
    let cm = after
        .objects()
        .iter()
        .find(|o| o.key.starts_with("data/futures/cm/") && o.key.ends_with(".zip"))
        .cloned()
        .unwrap();
    after.insert(vision_sim::Object {
        size: cm.size + 1,
        last_modified: cm.last_modified + chrono::Duration::days(400),
        ..cm
    });
    env.sim.with_corpus(|c| *c = after.clone());

    let um = corpus_changes(&before, &after, "data/futures/um/");
    let all = corpus_changes(&before, &after, "");
    assert!(um.len() > gone_keys.len() / 2 && all.len() == um.len() + 1);

    // --market um, no --full: the gone folder and the new day now; nothing of COIN-M.
    env.ok(&["catalog", "update", "-q", "--market", "um"]);
    let first = recorded(&env);
    assert!(
        first.iter().all(|c| um.contains(c)),
        "only true changes of um"
    );
    for c in &um {
        if c.0.starts_with(gone) || c.0.ends_with("2024-03-02.zip") {
            assert!(first.contains(c), "{c:?} recorded in the first run");
        }
    }
    assert!(
        !env.ok(&["catalog", "symbols", "um/daily/klines/1m"])
            .contains("ADABUSD"),
        "the gone folder has no files left"
    );
    env.ok(&["catalog", "update", "-q", "--market", "um", "--full"]);
    assert_same(&recorded(&env), &um, "--market um --full");
    env.ok(&["catalog", "update", "-q", "--full"]);
    assert_same(&recorded(&env), &all, "--full");
    // And the catalog is the bucket after, key for key.
    let (keys, _) = accounted(&env);
    let mut now: Vec<&str> = after.objects().iter().map(|o| o.key.as_str()).collect();
    now.sort();
    assert!(keys.iter().map(|k| k.0.as_str()).eq(now.iter().copied()));
}

/// Across a month's turn, without `--full`: the first run sees every file added since the last
/// (the new month's files included), though it leaves idle the leaves where nothing new can
/// be; mid-month, the monthly leaves that hold last month are idle.
#[test]
fn idle_leaves_are_not_listed_and_a_new_months_files_are_seen_the_first_run() {
    let t0: DateTime<Utc> = "2026-11-27T09:00:00Z".parse().unwrap();
    let t1: DateTime<Utc> = "2026-12-04T09:00:00Z".parse().unwrap();
    let t2: DateTime<Utc> = "2026-12-05T09:00:00Z".parse().unwrap();
    let model = std::sync::Arc::new(vision_sim::Vision::new(0.0005));
    let added = |from, to| -> Vec<Recorded> {
        expected_changes(&model, from, to)
            .into_iter()
            .filter(|c| c.1 == "added")
            .collect()
    };
    let env = Env::with_bucket(vision_sim::Bucket::Vision(model.at(t0)));
    env.ok(&["catalog", "update", "-q"]);
    let idle = |stderr: &str| -> u64 {
        let (_, rest) = stderr.split_once(" leaves from their tips (").unwrap();
        rest.split_once(' ').unwrap().0.parse().unwrap()
    };

    env.sim.set_clock(t1);
    let out = env.run(&["catalog", "update"]);
    assert!(out.status.success());
    let want = added(t0, t1);
    assert!(
        want.iter().filter(|c| c.0.contains("/monthly/")).count() > 10,
        "November's files appear in the window"
    );
    let got: Vec<Recorded> = recorded(&env)
        .into_iter()
        .filter(|c| c.1 == "added")
        .collect();
    assert_same(&got, &want, "every added file in the first run");
    // Delisted symbols' daily leaves are idle even on the month's turn.
    assert!(idle(&String::from_utf8_lossy(&out.stderr)) > 0);

    // The next day, every monthly leaf holding November is idle too; the new day's files are
    // still all seen.
    env.sim.set_clock(t2);
    let out = env.run(&["catalog", "update"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let monthly_leaves: u64 = read_only(&env.dir.path().join("catalog.duckdb"))
        .query_row(
            "SELECT count(*) FROM leaves l JOIN datasets d ON d.id = l.dataset
              WHERE d.name LIKE '%/monthly/%'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as u64;
    assert!(idle(&stderr) > monthly_leaves / 2, "{stderr}");
    let got: Vec<Recorded> = recorded(&env)
        .into_iter()
        .filter(|c| c.1 == "added")
        .collect();
    let mut want = added(t0, t2);
    want.sort();
    assert_same(&got, &want, "every added file by the second run");
}
