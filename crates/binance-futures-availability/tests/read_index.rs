//! The read index of long-lived handles (`Database::keep_read_index`): its answers are the
//! scan's for every day of a database built by real runs against vision-sim, after every
//! publish of a run of updates; and `serve` answers a republished file's rows, never those of
//! the index of the file it replaced.

use crate::common;

use chrono::{Duration, NaiveDate};
use common::*;
use vision_sim::{Corpus, CorpusSpec};

use binance_futures_availability::facts::ContractFilter;
use binance_futures_availability::store::Database;

/// A bucket through yesterday: a gap, a listing and a delisting inside the last weeks, a
/// delivery contract, a settled folder, a name outside ASCII (byte order), and sizes that do
/// not fit the index's 32 bits (one exactly its "elsewhere" mark).
pub(crate) fn spec() -> CorpusSpec {
    let delivery = format!("BTCUSDT_{}", days_ago(6).format("%y%m%d"));
    let mut odd = spec_symbol("BIGUSDT", days_ago(70), days_ago(1), &[]);
    odd.size = Some(6_000_000_000);
    let mut mark = spec_symbol("MARKUSDT", days_ago(70), days_ago(20), &[]);
    mark.size = Some(u64::from(u32::MAX));
    CorpusSpec {
        symbols: vec![
            spec_symbol(
                "BTCUSDT",
                days_ago(70),
                days_ago(1),
                &[(days_ago(12), days_ago(10))],
            ),
            spec_symbol("ETHUSDT", days_ago(70), days_ago(1), &[]),
            spec_symbol("NEWUSDT", days_ago(4), days_ago(1), &[]),
            spec_symbol("OLDUSDT", days_ago(70), days_ago(8), &[]),
            spec_symbol("币安人生USDT", days_ago(30), days_ago(2), &[]),
            spec_symbol("ICPUSDT_SETTLED", days_ago(70), days_ago(40), &[]),
            spec_symbol(&delivery, days_ago(50), days_ago(6), &[]),
            odd,
            mark,
        ],
        stray_keys: vec![],
        as_of: None,
    }
}

/// Every snapshot (each contract filter, checked days and not, refused or answered) and a few
/// ranges, from a handle with a read index and one without, on the file at `db`.
fn index_equals_scan(db: &std::path::Path, first: NaiveDate) -> Database {
    let scan = Database::open(db).unwrap();
    let mut indexed = Database::open(db).unwrap();
    indexed.keep_read_index();
    let (mut answered, mut refused) = (0, 0);
    let mut day = first - Duration::days(2);
    while day <= today() + Duration::days(1) {
        for contracts in [
            ContractFilter::All,
            ContractFilter::Perpetual,
            ContractFilter::Delivery,
        ] {
            let a = scan.snapshot(day, contracts).map_err(|e| e.to_string());
            let b = indexed.snapshot(day, contracts).map_err(|e| e.to_string());
            assert_eq!(a, b, "{day} {contracts:?}");
            match a {
                Ok(rows) => answered += rows.len(),
                Err(_) => refused += 1,
            }
            let unchecked = |db: &Database| {
                db.answering_unchecked(|db| db.snapshot(day, contracts))
                    .map_err(|e| e.to_string())
            };
            assert_eq!(unchecked(&scan), unchecked(&indexed), "{day} {contracts:?}");
        }
        day += Duration::days(1);
    }
    for (start, end) in [
        (first, today()),
        (first - Duration::days(5), first + Duration::days(3)),
        (days_ago(15), days_ago(5)),
        (days_ago(3), days_ago(1)),
        (days_ago(2), days_ago(2)),
    ] {
        for contracts in [ContractFilter::All, ContractFilter::Perpetual] {
            let a = scan.range(start, end, contracts).map_err(|e| e.to_string());
            let b = indexed
                .range(start, end, contracts)
                .map_err(|e| e.to_string());
            assert_eq!(a, b, "{start}..{end} {contracts:?}");
        }
    }
    // Far beyond the history either side, as the original API may ask (unchecked days answered).
    let (start, end) = (common::day("1900-01-01"), common::day("2100-12-31"));
    let wide = |db: &Database| {
        db.answering_unchecked(|db| db.range(start, end, ContractFilter::All))
            .unwrap()
    };
    assert_eq!(wide(&scan), wide(&indexed));
    assert!(answered > 100, "hardly any rows compared ({answered})");
    assert!(
        refused > 0,
        "no day was refused: the unchecked rule went untested"
    );
    assert!(
        indexed.read_index_bytes().is_some(),
        "the index was never built"
    );
    assert_eq!(scan.read_index_bytes(), None);
    // Another handle on the same file takes the index rather than building its own; one that
    // keeps none does not.
    let mut other = Database::open(db).unwrap();
    other.keep_read_index();
    assert!(indexed.share_read_index(&other).unwrap());
    assert_eq!(other.read_index_bytes(), indexed.read_index_bytes());
    let last = days_ago(1);
    assert_eq!(
        other
            .answering_unchecked(|db| db.snapshot(last, ContractFilter::All))
            .unwrap(),
        scan.answering_unchecked(|db| db.snapshot(last, ContractFilter::All))
            .unwrap()
    );
    assert!(!indexed.share_read_index(&scan).unwrap());
    indexed
}

/// The bucket as it was on each of the last days, then as it is: one update each, `after`
/// called after every publish (five), on an `Env` collected from `spec()`.
pub(crate) fn each_publish_of_a_run_of_updates(mut after: impl FnMut(&Env)) -> Env {
    let full = spec();
    let env = Env::new(Corpus::from_spec(&crate::lives::as_of(&full, days_ago(6))));
    env.ok(&["update", "--quiet"]);
    after(&env);
    for back in [4, 3, 1, 0] {
        let bucket = if back == 0 {
            full.clone()
        } else {
            crate::lives::as_of(&full, days_ago(back))
        };
        env.sim.with_corpus(|c| *c = Corpus::from_spec(&bucket));
        env.ok(&["update", "--quiet"]);
        after(&env);
    }
    env
}

#[test]
fn index_answers_equal_scan_answers_after_every_publish_of_a_run_of_updates() {
    let first = days_ago(70);
    let mut previous: Option<Database> = None;
    each_publish_of_a_run_of_updates(|env| {
        if let Some(previous) = &previous {
            // The previous file's handle knows it was replaced, and its index goes to no
            // handle on the new one.
            assert!(previous.republished());
            let mut fresh = Database::open(&env.db).unwrap();
            fresh.keep_read_index();
            assert!(!fresh.republished());
            assert!(!previous.share_read_index(&fresh).unwrap());
        }
        previous = Some(index_equals_scan(&env.db, first));
    });
}

/// `spec()`, and the same bucket with NEWUSDT's file of three days ago late: a first update of
/// it has that day checked and absent, an update after the file arrives has it.
pub(crate) fn late_spec() -> (CorpusSpec, CorpusSpec) {
    let full = spec();
    let mut late = full.clone();
    let new = late
        .symbols
        .iter_mut()
        .find(|s| s.name == "NEWUSDT")
        .unwrap();
    new.gaps = vec![(days_ago(3), days_ago(3))];
    (full, late)
}

#[test]
fn serve_answers_a_republished_files_rows_not_the_replaced_index() {
    let (full, late) = late_spec();
    let env = Env::new(Corpus::from_spec(&late));
    env.ok(&["update", "--quiet"]);
    let served = Served::start(&env, &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/snapshot/{}?contract=all", served.url, days_ago(3));
    let get = |headers: &[(&str, &str)]| {
        rt.block_on(async {
            let mut request = client.get(&url);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let r = request.send().await.unwrap();
            let etag = r.headers()["etag"].to_str().unwrap().to_string();
            (r.status().as_u16(), etag, r.text().await.unwrap())
        })
    };
    let (status, etag, before) = get(&[]);
    assert_eq!(status, 200, "{before}");
    assert!(!before.contains("NEWUSDT"), "{before}");

    // The file arrives; the next update re-lists the day and publishes a new file.
    env.sim.with_corpus(|c| *c = Corpus::from_spec(&full));
    env.ok(&["update", "--quiet"]);
    wait_until(10, "the new file to be served", || {
        get(&[("if-none-match", etag.as_str())]).0 == 200
    });
    let (_, _, after) = get(&[]);
    assert!(after.contains("NEWUSDT"), "{after}");
    assert_eq!(
        after,
        env.ok(&[
            "query",
            "snapshot",
            &days_ago(3).to_string(),
            "--contract",
            "all",
            "--format",
            "json"
        ])
    );
}
