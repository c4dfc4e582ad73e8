//! The read index file one-shot processes answer from (`store::IndexFile`, ADR 0022): its
//! answers are the scan's after every publish of a run of updates, for both kept markets; a
//! process prints the same bytes, stderr and exit code with it and without it; and a missing,
//! truncated, damaged, stale or foreign index is never believed.

use crate::common;

use std::path::Path;
use std::process::Output;

use chrono::{Duration, NaiveDate};
use common::*;
use vision_sim::Corpus;

use binance_futures_availability::facts::{ContractFilter, Market};
use binance_futures_availability::store::{Database, IndexFile};

const FILTERS: [ContractFilter; 3] = [
    ContractFilter::All,
    ContractFilter::Perpetual,
    ContractFilter::Delivery,
];

fn index_path(db: &Path) -> std::path::PathBuf {
    sibling(db, ".readidx")
}

/// The index's answers for every day from `first` − 2 to tomorrow (and a few ranges and the
/// symbols) against the scan's, for `market`: equal wherever the index answers, and answered
/// for every day the scan answers. How many rows the index answered.
fn index_equals_scan(db: &Path, market: Market, first: NaiveDate) -> usize {
    let mut scan = Database::open(db).unwrap();
    scan.select_market(market).unwrap();
    let index = IndexFile::open(db, market).expect("an index describing the published file");
    let mut answered = 0;
    let mut day = first - Duration::days(2);
    while day <= today() + Duration::days(1) {
        for contracts in FILTERS {
            match scan.snapshot(day, contracts) {
                Ok(rows) => {
                    answered += rows.len();
                    assert_eq!(index.snapshot(day, contracts), Some(rows), "{day}");
                }
                // Refused: the database says why, not the index.
                Err(_) => assert_eq!(index.snapshot(day, contracts), None, "{day}"),
            }
        }
        day += Duration::days(1);
    }
    for (start, end) in [
        (first, days_ago(1)),
        (first, first + Duration::days(3)),
        (days_ago(15), days_ago(5)),
        (days_ago(2), days_ago(2)),
        (days_ago(3), today()),
    ] {
        for contracts in FILTERS {
            match scan.range(start, end, contracts) {
                Ok(rows) => assert_eq!(index.range(start, end, contracts), Some(rows)),
                Err(_) => assert_eq!(index.range(start, end, contracts), None),
            }
        }
    }
    assert_eq!(index.symbols(), Some(scan.symbols().unwrap()));
    answered
}

/// `query ARGS` with the index in place and with it moved away: the same stdout, stderr and
/// exit code; the output with the index.
fn same_with_and_without(env: &Env, args: &[&str]) -> Output {
    let mut full = vec!["query"];
    full.extend_from_slice(args);
    let with = env.run(&full);
    let index = index_path(&env.db);
    let aside = sibling(&env.db, ".readidx.aside");
    std::fs::rename(&index, &aside).unwrap();
    let without = env.run(&full);
    std::fs::rename(&aside, &index).unwrap();
    assert_eq!(
        (&with.stdout, &with.stderr, with.status.code()),
        (&without.stdout, &without.stderr, without.status.code()),
        "{args:?}: {}",
        String::from_utf8_lossy(&with.stderr)
    );
    with
}

#[test]
fn index_file_answers_equal_scan_answers_after_every_publish_of_a_run_of_updates() {
    let first = days_ago(70);
    let mut answered = 0;
    let env = crate::read_index::each_publish_of_a_run_of_updates(|env| {
        answered += index_equals_scan(&env.db, Market::Um, first);
    });
    assert!(answered > 1_000, "hardly any rows compared ({answered})");

    // Whole processes, in every format: the same bytes with the index and without.
    let (checked, unchecked) = (days_ago(12).to_string(), today().to_string());
    for format in ["table", "json", "csv"] {
        for contract in ["perpetual", "delivery", "all"] {
            let out = same_with_and_without(
                &env,
                &[
                    "snapshot",
                    &checked,
                    "--contract",
                    contract,
                    "--format",
                    format,
                ],
            );
            assert!(out.status.success());
        }
        let range = ["range", &days_ago(20).to_string(), &days_ago(2).to_string()];
        let mut args = range.to_vec();
        args.extend(["--contract", "all", "--format", format]);
        assert!(same_with_and_without(&env, &args).status.success());
        assert!(
            same_with_and_without(&env, &["symbols", "--format", format])
                .status
                .success()
        );
        // A day not checked yet: the sentence, exit 1, as without an index.
        let out = same_with_and_without(&env, &["snapshot", &unchecked, "--format", format]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("is not checked yet"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A day before the first file, and bad input (exit 2 before any file is opened).
    let before = (first - Duration::days(30)).to_string();
    same_with_and_without(&env, &["snapshot", &before]);
    let bad = same_with_and_without(&env, &["snapshot", "2024-13-01"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn coin_m_is_answered_from_its_own_section() {
    let um = Corpus::from_spec(&small_spec());
    let env = Env::new(um.merged(vision_sim::coin_m(today())));
    env.ok(&["update", "-q"]);
    // Not collected yet: no day of COIN-M's is answered from the index, and the process says so.
    assert_eq!(
        IndexFile::open(&env.db, Market::Cm)
            .and_then(|i| i.snapshot(days_ago(2), ContractFilter::All)),
        None
    );
    let day = days_ago(2).to_string();
    let out = same_with_and_without(&env, &["snapshot", &day, "--market", "cm"]);
    assert_eq!(out.status.code(), Some(1));
    env.ok(&["update", "-q", "--market", "cm"]);
    let answered = index_equals_scan(&env.db, Market::Cm, days_ago(120));
    assert!(answered > 100, "{answered}");
    for format in ["table", "json", "csv"] {
        let out = same_with_and_without(
            &env,
            &[
                "snapshot",
                &day,
                "--market",
                "cm",
                "--contract",
                "all",
                "--format",
                format,
            ],
        );
        assert!(out.status.success());
    }
    // And USD-M's section is USD-M's.
    index_equals_scan(&env.db, Market::Um, days_ago(40));
}

/// What a sound index answers on the file at `db`: a snapshot of each day of `days`, the whole
/// range, the symbols.
type Answers = (
    Vec<Vec<binance_futures_availability::store::SnapshotRow>>,
    Vec<binance_futures_availability::store::RangeRow>,
    Vec<binance_futures_availability::store::SymbolRecord>,
);

fn scan_answers(db: &Path, days: &[NaiveDate]) -> Answers {
    let scan = Database::open(db).unwrap();
    (
        days.iter()
            .map(|d| scan.snapshot(*d, ContractFilter::All).unwrap())
            .collect(),
        scan.range(days[0], days[days.len() - 1], ContractFilter::All)
            .unwrap(),
        scan.symbols().unwrap(),
    )
}

/// Each of the index's answers on `db`: none, or the scan's (`expected`); whether all came.
fn none_or_equal(db: &Path, days: &[NaiveDate], expected: &Answers, what: &str) -> bool {
    let Some(index) = IndexFile::open(db, Market::Um) else {
        return false;
    };
    let mut all = true;
    for (d, rows) in days.iter().zip(&expected.0) {
        match index.snapshot(*d, ContractFilter::All) {
            Some(got) => assert_eq!(&got, rows, "{what}: snapshot {d}"),
            None => all = false,
        }
    }
    match index.range(days[0], days[days.len() - 1], ContractFilter::All) {
        Some(got) => assert_eq!(got, expected.1, "{what}: range"),
        None => all = false,
    }
    match index.symbols() {
        Some(got) => assert_eq!(got, expected.2, "{what}: symbols"),
        None => all = false,
    }
    all
}

/// Rewrites the index's header checksum (its last 4 bytes of the first 256) after a change.
fn reseal(bytes: &mut [u8]) {
    let crc = crc32fast::hash(&bytes[..252]);
    bytes[252..256].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn a_missing_damaged_stale_or_foreign_index_is_never_believed() {
    let full = crate::read_index::spec();
    let env = Env::new(Corpus::from_spec(&full));
    env.ok(&["update", "--quiet"]);
    // Snapshots of every 7th day; the range covers every day of the history.
    let days: Vec<NaiveDate> = (1..=70).rev().step_by(7).chain([1]).map(days_ago).collect();
    let expected = scan_answers(&env.db, &days);
    let path = index_path(&env.db);
    let sound = std::fs::read(&path).unwrap();
    assert!(none_or_equal(&env.db, &days, &expected, "sound"));
    let day = days_ago(12).to_string();
    let json = [
        "snapshot",
        day.as_str(),
        "--contract",
        "all",
        "--format",
        "json",
    ];
    let answer = same_with_and_without(&env, &json).stdout;

    // Missing.
    std::fs::remove_file(&path).unwrap();
    assert!(IndexFile::open(&env.db, Market::Um).is_none());
    let mut args = vec!["query"];
    args.extend_from_slice(&json);
    assert_eq!(env.ok(&args).into_bytes(), answer);

    // Truncated anywhere.
    for len in (0..sound.len()).step_by(97).chain([sound.len() - 1]) {
        std::fs::write(&path, &sound[..len]).unwrap();
        none_or_equal(&env.db, &days, &expected, &format!("cut at {len}"));
    }
    std::fs::write(&path, &sound[..sound.len() / 2]).unwrap();
    assert_eq!(env.ok(&args).into_bytes(), answer);

    // Any one byte changed: never a different answer (every block has a checksum).
    let mut flipped_and_believed = 0;
    for at in 0..sound.len() {
        let mut bytes = sound.clone();
        bytes[at] ^= 0x5a;
        std::fs::write(&path, &bytes).unwrap();
        if none_or_equal(&env.db, &days, &expected, &format!("byte {at} changed")) {
            flipped_and_believed += 1;
        }
    }
    // Only bytes no answer reads (padding, the symbols of days not asked) may still answer.
    assert!(
        flipped_and_believed < sound.len() / 10,
        "{flipped_and_believed} of {} changed bytes still answered",
        sound.len()
    );
    let mut bytes = sound.clone();
    bytes[sound.len() - 100] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(env.ok(&args).into_bytes(), answer);

    // Another format version, or a schema this binary cannot read, checksum and all.
    for (at, value) in [(8, 2u32), (12, 99)] {
        let mut bytes = sound.clone();
        bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
        reseal(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        assert!(IndexFile::open(&env.db, Market::Um).is_none(), "{at}");
    }
    // Garbage and a huge claimed count behind a valid header checksum.
    let mut bytes = sound.clone();
    bytes[60..64].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal(&mut bytes);
    std::fs::write(&path, &bytes).unwrap();
    assert!(IndexFile::open(&env.db, Market::Um).is_none());
    std::fs::write(&path, vec![0xff; 4096]).unwrap();
    assert!(IndexFile::open(&env.db, Market::Um).is_none());

    // The sound index again; then the database's stamp changed: its time, its inode.
    std::fs::write(&path, &sound).unwrap();
    assert!(none_or_equal(&env.db, &days, &expected, "restored"));
    let db = std::fs::File::options().write(true).open(&env.db).unwrap();
    let modified = db.metadata().unwrap().modified().unwrap();
    db.set_modified(modified + std::time::Duration::from_nanos(1))
        .unwrap();
    assert!(IndexFile::open(&env.db, Market::Um).is_none());
    db.set_modified(modified).unwrap();
    assert!(IndexFile::open(&env.db, Market::Um).is_some());
    // A write-ahead log beside it: rows DuckDB would read with the file.
    std::fs::write(sibling(&env.db, ".wal"), b"").unwrap();
    assert!(IndexFile::open(&env.db, Market::Um).is_none());
    std::fs::remove_file(sibling(&env.db, ".wal")).unwrap();
    assert!(IndexFile::open(&env.db, Market::Um).is_some());
    let copy = sibling(&env.db, ".copy");
    std::fs::copy(&env.db, &copy).unwrap();
    std::fs::rename(&copy, &env.db).unwrap();
    assert!(IndexFile::open(&env.db, Market::Um).is_none());
    assert_eq!(env.ok(&args).into_bytes(), answer);
}

/// A new file published under an index that describes the one before (an older writer's
/// publish, or a crash between the index's rename and the database's): the index is ignored.
/// NEWUSDT's file of three days ago is late: the first file has that day checked and absent,
/// the second has it — an index of the first would answer the day without it.
#[test]
fn a_file_published_under_an_older_index_is_answered_by_the_scan() {
    let (full, late) = crate::read_index::late_spec();
    let env = Env::new(Corpus::from_spec(&late));
    env.ok(&["update", "--quiet"]);
    let day = days_ago(3).to_string();
    let args = ["query", "snapshot", &day, "--format", "csv"];
    assert!(!env.ok(&args).contains("NEWUSDT"));
    let older = std::fs::read(index_path(&env.db)).unwrap();

    env.sim.with_corpus(|c| *c = Corpus::from_spec(&full));
    env.ok(&["update", "--quiet"]);
    std::fs::write(index_path(&env.db), &older).unwrap();
    let out = env.ok(&args);
    assert!(out.contains("NEWUSDT"), "{out}");
    let scan = Database::open(&env.db).unwrap();
    let rows = scan
        .snapshot(days_ago(3), ContractFilter::Perpetual)
        .unwrap();
    assert_eq!(out.lines().count(), rows.len() + 1, "{out}");
    assert!(IndexFile::open(&env.db, Market::Um).is_none());
}
