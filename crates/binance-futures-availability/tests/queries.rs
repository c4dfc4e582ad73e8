//! The query side, as a user meets it: answers, order and formats of every query against a real
//! DuckDB file filled by a real backfill, bad input and exit codes, read-only behaviour, UTC.

use crate::common;

use std::sync::OnceLock;

use binance_futures_availability::facts::DayRange;
use common::*;
use serde_json::Value;
use vision_sim::Corpus;

/// One backfilled database shared by the read-only tests (queries never change it).
fn env() -> &'static (Env, Corpus) {
    static ENV: OnceLock<(Env, Corpus)> = OnceLock::new();
    ENV.get_or_init(|| {
        let corpus = Corpus::from_spec(&small_spec());
        let env = Env::new(corpus.clone());
        env.ok(&["backfill", "--end", "2024-03-01", "--quiet"]);
        (env, corpus)
    })
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&env().0.ok(args)).unwrap()
}

fn symbols(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["symbol"].as_str().unwrap())
        .collect()
}

#[test]
fn snapshot_lists_symbols_with_a_file_sorted_with_size_and_time() {
    let (_, corpus) = env();
    let v = json(&["query", "snapshot", "2024-01-15", "--format", "json"]);
    assert_eq!(
        symbols(&v),
        ["BTCUSDT", "ETHUSDT", "ICPUSDT", "币安人生USDT"]
    );
    let btc = &v[0];
    let object = corpus
        .get("data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-15.zip")
        .unwrap();
    assert_eq!(btc["file_size_bytes"], object.size);
    assert_eq!(
        btc["last_modified"],
        object
            .last_modified
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    );
    assert_eq!(btc.as_object().unwrap().len(), 3);
}

#[test]
fn snapshot_contract_filter_separates_delivery_from_perpetual() {
    assert_eq!(
        symbols(&json(&[
            "query",
            "snapshot",
            "2024-01-15",
            "--contract",
            "delivery",
            "--format",
            "json"
        ])),
        ["BTCUSDT_240329"]
    );
    assert_eq!(
        symbols(&json(&[
            "query",
            "snapshot",
            "2024-01-15",
            "--contract",
            "all",
            "--format",
            "json"
        ])),
        [
            "BTCUSDT",
            "BTCUSDT_240329",
            "ETHUSDT",
            "ICPUSDT",
            "币安人生USDT"
        ]
    );
    // Settled folders are perpetuals; a gap day has no file; before the archive nothing exists.
    assert_eq!(
        symbols(&json(&[
            "query",
            "snapshot",
            "2023-06-15",
            "--format",
            "json"
        ])),
        [
            "ADABUSD",
            "AERGOUSDTSETTLEDSETTLED",
            "BTCUSDT",
            "ETHUSDT",
            "ICPUSDT"
        ]
    );
    assert_eq!(
        symbols(&json(&[
            "query",
            "snapshot",
            "2021-02-23",
            "--format",
            "json"
        ])),
        ["ETHUSDT"]
    );
    assert_eq!(
        symbols(&json(&[
            "query",
            "snapshot",
            "2019-12-30",
            "--format",
            "json"
        ])),
        Vec::<&str>::new()
    );
}

#[test]
fn snapshot_table_and_csv() {
    let table = env().0.ok(&["query", "snapshot", "2024-01-15"]);
    assert!(
        table.starts_with("4 perpetual symbols with a file on 2024-01-15\n"),
        "{table}"
    );
    assert!(table.contains("币安人生USDT"));
    let csv = env()
        .0
        .ok(&["query", "snapshot", "2024-01-15", "--format", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "symbol,file_size_bytes,last_modified");
    assert_eq!(lines.len(), 5);
    assert!(lines[4].starts_with("币安人生USDT,"));
}

#[test]
fn timeline_lists_days_with_verified_gaps() {
    let v = json(&["query", "timeline", "BTCUSDT", "--format", "json"]);
    let days = v.as_array().unwrap();
    assert_eq!(
        days.len() as i64,
        (day("2024-03-01") - day("2019-12-31")).num_days() + 1
    );
    assert_eq!(days[0]["date"], "2019-12-31");
    let gap: Vec<&Value> = days.iter().filter(|d| d["available"] == false).collect();
    assert_eq!(gap.len(), 5);
    assert_eq!(gap[0]["date"], "2021-02-22");
    assert_eq!(gap[0]["status_code"], 404);
    assert_eq!(gap[0]["file_size_bytes"], Value::Null);
    assert_eq!(
        days[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["available", "date", "file_size_bytes", "status_code"]
    );

    let table = env().0.ok(&["query", "timeline", "btcusdt"]);
    for line in [
        "BTCUSDT (perpetual, quote USDT)",
        "first day with a file  2019-12-31",
        "last day with a file   2024-03-01",
        "days available         1518",
        "checked                2019-09-25 to 2024-03-01",
        "2021-02-22 to 2021-02-26 (5 days, no file)",
    ] {
        assert!(table.contains(line), "missing {line:?} in\n{table}");
    }
}

#[test]
fn timeline_finds_unicode_and_settled_names() {
    let v = json(&["query", "timeline", "币安人生usdt", "--format", "json"]);
    assert_eq!(v.as_array().unwrap().len(), 42);
    assert_eq!(v[10]["date"], "2024-01-20");
    assert_eq!(v[10]["available"], false);
    let table = env()
        .0
        .ok(&["query", "timeline", "AERGOUSDTSETTLEDSETTLED"]);
    assert!(
        table.contains("(perpetual, quote USDT, settled)"),
        "{table}"
    );
}

#[test]
fn range_gives_days_and_first_last_inside_the_range() {
    let v = json(&[
        "query",
        "range",
        "2024-01-01",
        "2024-01-31",
        "--format",
        "json",
    ]);
    assert_eq!(
        symbols(&v),
        ["BTCUSDT", "ETHUSDT", "ICPUSDT", "币安人生USDT"]
    );
    let unicode = &v[3];
    assert_eq!(unicode["days_available"], 21);
    assert_eq!(unicode["first_date"], "2024-01-10");
    assert_eq!(unicode["last_date"], "2024-01-31");
    assert_eq!(v[0]["first_date"], "2024-01-01");
    let csv = env().0.ok(&[
        "query",
        "range",
        "2024-01-01",
        "2024-01-31",
        "--contract",
        "delivery",
        "--format",
        "csv",
    ]);
    assert_eq!(
        csv,
        "symbol,days_available,first_date,last_date\nBTCUSDT_240329,31,2024-01-01,2024-01-31\n"
    );
}

#[test]
fn summary_counts_symbols_per_day() {
    let v = json(&[
        "query",
        "summary",
        "2024-01-19",
        "2024-01-21",
        "--format",
        "json",
    ]);
    let counts: Vec<(i64, i64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["perpetual"].as_i64().unwrap(),
                d["delivery"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [(4, 1), (3, 1), (4, 1)]);
    let all = json(&["query", "summary", "--format", "json"]);
    assert_eq!(all[0]["date"], "2019-12-31");
    assert_eq!(
        all.as_array().unwrap().last().unwrap()["date"],
        "2024-03-01"
    );
}

#[test]
fn bad_input_is_a_sentence_and_exit_2() {
    let future = (today() + chrono::Duration::days(1)).to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["query", "snapshot", "2024-13-01"],
            "is not a date of the form YYYY-MM-DD",
        ),
        (
            vec!["query", "snapshot", "15/01/2024"],
            "is not a date of the form YYYY-MM-DD",
        ),
        (
            vec!["query", "snapshot", "2019-09-24"],
            "is before 2019-09-25",
        ),
        (vec!["query", "snapshot", &future], "is after today"),
        (
            vec!["query", "range", "2024-02-01", "2024-01-01"],
            "the start 2024-02-01 is after the end 2024-01-01",
        ),
        (
            vec!["query", "timeline", "BTCUSD"],
            "unknown symbol \"BTCUSD\"; did you mean BTCUSDT",
        ),
        (vec!["query", "timeline", "XYZ"], "unknown symbol \"XYZ\""),
        (
            vec!["query", "snapshot", "2024-01-15", "--format", "xml"],
            "invalid value 'xml'",
        ),
        (vec!["query", "snapshot"], "required"),
    ];
    for (args, message) in cases {
        let out = env().0.run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(message),
            "{args:?}: expected {message:?} in {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

#[test]
fn a_missing_database_is_explained_and_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nope").join("availability.duckdb");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_binance-futures-availability"))
        .args(["query", "snapshot", "2024-01-15", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("there is no database at")
            && stderr.contains("binance-futures-availability update"),
        "{stderr}"
    );
    assert!(!db.exists() && !db.parent().unwrap().exists());
}

#[test]
fn queries_leave_the_file_byte_identical() {
    let (env, _) = env();
    let before = std::fs::read(&env.db).unwrap();
    for args in [
        vec!["query", "snapshot", "2024-01-15"],
        vec!["query", "timeline", "ETHUSDT", "--format", "csv"],
        vec!["query", "range", "2020-01-01", "2024-01-01"],
        vec!["query", "summary"],
        vec!["query", "timeline", "NOPE"],
    ] {
        env.run(&args);
    }
    assert_eq!(std::fs::read(&env.db).unwrap(), before);
    assert!(!env.db.with_extension("duckdb.wal").exists());
}

#[test]
fn answers_are_utc_whatever_the_host_time_zone() {
    let (env, _) = env();
    let utc = env
        .cmd()
        .args(["query", "snapshot", "2024-01-15", "--format", "json"])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let ny = env
        .cmd()
        .args(["query", "snapshot", "2024-01-15", "--format", "json"])
        .env("TZ", "America/New_York")
        .output()
        .unwrap();
    assert!(utc.status.success() && ny.status.success());
    assert_eq!(utc.stdout, ny.stdout);
    let v: Value = serde_json::from_slice(&ny.stdout).unwrap();
    // Uploaded the next morning UTC, 06:50–08:40: a local-time shift would move it out.
    let hour: u32 = v[1]["last_modified"].as_str().unwrap()[11..13]
        .parse()
        .unwrap();
    assert!((6..=8).contains(&hour), "{v}");
}

#[test]
fn python_duckdb_reads_the_file_and_agrees_with_the_cli() {
    let (env, _) = env();
    let script = "import duckdb, json, sys\n\
        con = duckdb.connect(sys.argv[1], read_only=True)\n\
        rows = con.execute(\"SELECT symbol FROM daily_availability WHERE date = '2024-01-15' AND available ORDER BY symbol\").fetchall()\n\
        print(json.dumps([r[0] for r in rows]))";
    let out = common::output_ok(
        std::process::Command::new(python())
            .args(["-c", script])
            .arg(&env.db),
    );
    let from_python: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    let cli = json(&[
        "query",
        "snapshot",
        "2024-01-15",
        "--contract",
        "all",
        "--format",
        "json",
    ]);
    assert_eq!(from_python, symbols(&cli));
}

#[test]
fn a_foreign_or_newer_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign.duckdb");
    let newer = dir.path().join("newer.duckdb");
    {
        let conn = duckdb::Connection::open(&foreign).unwrap();
        conn.execute_batch("CREATE TABLE trades (id INTEGER)")
            .unwrap();
    }
    binance_futures_availability::store::Database::open_for_write(&newer)
        .unwrap()
        .close()
        .unwrap();
    {
        let conn = duckdb::Connection::open(&newer).unwrap();
        conn.execute_batch("INSERT INTO schema_version VALUES (99, now())")
            .unwrap();
    }
    for (file, says) in [
        (&foreign, "is not a binance-futures-availability database"),
        (&newer, "has schema version 99, newer than"),
    ] {
        let before = std::fs::read(file).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_binance-futures-availability"))
            .args(["query", "snapshot", "2024-01-15", "--db"])
            .arg(file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert_eq!(std::fs::read(file).unwrap(), before);
    }
}

#[test]
fn one_batch_may_report_a_symbol_twice() {
    use binance_futures_availability::store::{Batch, Database, SymbolUpdate};
    use binance_futures_availability::vision::Market;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.duckdb");
    let mut db = Database::open_for_write(&path).unwrap();
    let update = |first: &str, last: &str| SymbolUpdate {
        symbol: "BTCUSDT".into(),
        class: Market::Um.classify("BTCUSDT"),
        first_file_date: Some(day(first)),
        last_file_date: Some(day(last)),
        checked: DayRange::new(day(first), day(last)).ok(),
    };
    db.write_batch(&Batch {
        rows: vec![],
        symbols: vec![
            update("2023-01-01", "2023-12-31"),
            update("2024-01-01", "2024-06-30"),
        ],
    })
    .unwrap();
    let record = db.symbol("BTCUSDT").unwrap();
    assert_eq!(record.first_file_date, Some(day("2023-01-01")));
    assert_eq!(record.last_file_date, Some(day("2024-06-30")));
    assert_eq!(record.checked_from, Some(day("2023-01-01")));
    assert_eq!(record.checked_through, Some(day("2024-06-30")));
}

#[test]
fn a_batch_naming_one_day_of_a_symbol_twice_is_refused_whole() {
    use binance_futures_availability::store::{AvailabilityRow, Batch, Database, Seen, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.duckdb");
    let row = |date: &str, size: i64| AvailabilityRow {
        date: day(date),
        symbol: "BTCUSDT".into(),
        seen: Seen::File {
            size,
            last_modified: None,
        },
        probe_timestamp: chrono::Utc::now(),
    };
    let batch = Batch {
        rows: vec![
            row("2024-01-01", 1),
            row("2024-01-02", 2),
            row("2024-01-01", 3),
        ],
        symbols: vec![],
    };
    let mut db = Database::open_for_write(&path).unwrap();
    match db.write_batch(&batch) {
        Err(e @ StoreError::DuplicateRow { .. }) => {
            assert!(e.to_string().contains("BTCUSDT on 2024-01-01 twice"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    db.tidy().unwrap();
    db.close().unwrap();
    assert!(common::db_rows(&path).is_empty());
}

#[test]
fn output_cut_short_by_the_reader_is_not_an_error() {
    // `query … | head`: the reader goes away before the answer is written.
    let mut child = env()
        .0
        .cmd()
        .args(["query", "snapshot", "2024-01-15", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// Timelines come from two places (ADR 0010: a symbol-ordered companion for old days, the table
/// for recent ones); whatever was written and whether or not the layout was tidied since, a
/// timeline is exactly the stored rows of its symbol.
#[test]
fn a_timeline_is_the_symbols_stored_rows_before_and_after_tidying() {
    use binance_futures_availability::store::{AvailabilityRow, Batch, Database, Seen};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.duckdb");
    let rows = |symbol: &str, from: &str, to: &str, size: i64| -> Batch {
        Batch {
            rows: day(from)
                .iter_days()
                .take_while(|d| *d <= day(to))
                .map(|date| AvailabilityRow {
                    date,
                    symbol: symbol.into(),
                    seen: if date.format("%d").to_string() == "13" {
                        Seen::Absent
                    } else {
                        Seen::File {
                            size,
                            last_modified: None,
                        }
                    },
                    probe_timestamp: chrono::Utc::now(),
                })
                .collect(),
            symbols: vec![],
        }
    };
    let stored = |db: &Database, symbol: &str| -> Vec<(String, bool, Option<i64>)> {
        db.timeline(symbol)
            .unwrap()
            .days
            .into_iter()
            .map(|d| (d.date.to_string(), d.available, d.file_size_bytes))
            .collect()
    };
    let expected = |db_path: &std::path::Path, symbol: &str| -> Vec<(String, bool, Option<i64>)> {
        common::db_rows(db_path)
            .into_iter()
            .filter(|r| r.1 == symbol)
            .map(|r| (r.0.to_string(), r.2, r.3))
            .collect()
    };
    let mut db = Database::open_for_write(&path).unwrap();
    for s in ["BTCUSDT", "ETHUSDT"] {
        db.write_batch(&Batch {
            symbols: vec![binance_futures_availability::store::SymbolUpdate {
                symbol: s.into(),
                class: binance_futures_availability::vision::Market::Um.classify(s),
                first_file_date: Some(day("2022-01-01")),
                last_file_date: Some(day("2024-06-30")),
                checked: DayRange::new(day("2022-01-01"), day("2024-06-30")).ok(),
            }],
            ..rows(s, "2022-01-01", "2024-06-30", 100)
        })
        .unwrap();
    }
    db.tidy().unwrap();
    db.close().unwrap();
    let check = |when: &str| {
        let db = Database::open(&path).unwrap();
        for s in ["BTCUSDT", "ETHUSDT"] {
            assert_eq!(stored(&db, s), expected(&path, s), "{s} {when}");
        }
    };
    check("after the first load");
    // Recent days (after the split), then old ones (before it), each read before and after
    // tidying.
    for (from, to, size) in [
        ("2024-06-20", "2024-07-10", 200),
        ("2023-01-01", "2023-02-01", 300),
    ] {
        let mut db = Database::open_for_write(&path).unwrap();
        db.write_batch(&rows("BTCUSDT", from, to, size)).unwrap();
        db.close().unwrap();
        check(&format!("after writing {from}..{to}, untidied"));
        let mut db = Database::open_for_write(&path).unwrap();
        db.tidy().unwrap();
        db.close().unwrap();
        check(&format!("after writing {from}..{to}, tidied"));
    }
}

/// The database here is complete through 2024-03-01 (the backfill's end). A day after that
/// was never checked: answering it would give symbols "without a file" where nothing was
/// looked at. Each such question is exit 1 with one sentence, and nothing on stdout.
#[test]
fn a_day_after_complete_through_is_refused_with_a_sentence_not_answered_empty() {
    let not_checked = |day: &str| {
        format!(
            "{day} is not checked yet: the database is complete through 2024-03-01; run `update`"
        )
    };
    for (args, day) in [
        (&["query", "snapshot", "2024-03-02"][..], "2024-03-02"),
        (
            &["query", "snapshot", "2024-03-02", "--contract", "all"],
            "2024-03-02",
        ),
        // A range partly beyond complete-through: its counts would be short.
        (
            &["query", "range", "2024-02-01", "2024-03-05"],
            "2024-03-05",
        ),
        (
            &["query", "summary", "2024-02-28", "2024-03-02"],
            "2024-03-02",
        ),
        // A universe is decided from the days before DATE: DATE−1 must be checked.
        (&["query", "universe", "2024-03-03"], "2024-03-02"),
    ] {
        for format in ["table", "json"] {
            let out = env().0.run(&[args, &["--format", format]].concat());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
            assert_eq!(stderr.trim_end(), format!("error: {}", not_checked(day)));
            assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        }
    }
    // The last checked day is answered, and a universe of the day after it (decided from the
    // checked days before it) too, its day's trades "not checked".
    assert_eq!(
        json(&["query", "snapshot", "2024-03-01", "--format", "json"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let members = json(&["query", "universe", "2024-03-02", "--format", "json"]);
    assert!(!members.as_array().unwrap().is_empty());
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["traded_on_date"].is_null()),
        "{members}"
    );
    // A summary without bounds stops at complete-through.
    let all = json(&["query", "summary", "--format", "json"]);
    assert_eq!(
        all.as_array().unwrap().last().unwrap()["date"],
        "2024-03-01"
    );
}

/// A database whose folders were never all checked (here: a run's symbols known, none
/// checked) is complete through no day: every question about a day says so.
#[test]
fn a_database_complete_through_no_day_refuses_every_day() {
    use binance_futures_availability::store::{Batch, Database, SymbolUpdate};
    use binance_futures_availability::vision::Market;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.duckdb");
    let mut db = Database::open_for_write(&path).unwrap();
    db.write_batch(&Batch {
        rows: vec![],
        symbols: vec![SymbolUpdate {
            symbol: "BTCUSDT".into(),
            class: Market::Um.classify("BTCUSDT"),
            first_file_date: None,
            last_file_date: None,
            checked: None,
        }],
    })
    .unwrap();
    db.close().unwrap();
    let out = env()
        .0
        .cmd()
        .env("BFA_DB", &path)
        .args(["query", "snapshot", "2024-01-15"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: 2024-01-15 is not checked yet: the database is complete through no day yet; \
         run `update`"
    );
}

/// `--quote` is case-insensitive as symbols are; a quote the database does not know is a
/// mistyped question (exit 2 naming the known ones), not a universe without members.
#[test]
fn quotes_are_case_insensitive_and_an_unknown_one_is_exit_2_naming_the_known() {
    let upper = json(&[
        "query",
        "universe",
        "2024-01-15",
        "--quote",
        "USDT",
        "--format",
        "json",
    ]);
    assert!(!upper.as_array().unwrap().is_empty());
    for spelled in ["usdt", "Usdt"] {
        assert_eq!(
            json(&[
                "query",
                "universe",
                "2024-01-15",
                "--quote",
                spelled,
                "--format",
                "json"
            ]),
            upper
        );
    }
    for unknown in ["XYZ", "usdc"] {
        let out = env()
            .0
            .run(&["query", "universe", "2024-01-15", "--quote", unknown]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{unknown}: {stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("error: unknown quote asset {unknown:?}; the database knows BUSD, USDT")
        );
        assert!(out.stdout.is_empty());
    }
}

/// A settled folder is the old life of a symbol that trades on under its base name: ranked
/// beside it, one symbol would count twice. Left out unless asked for; every row names its
/// base.
#[test]
fn the_universe_leaves_settled_folders_out_unless_asked_and_names_each_base() {
    let universe = |extra: &[&str]| -> Vec<(String, String)> {
        let args = [
            &["query", "universe", "2023-06-20", "--format", "json"][..],
            extra,
        ]
        .concat();
        json(&args)
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["symbol"].as_str().unwrap().to_string(),
                    m["base_symbol"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let plain = universe(&[]);
    assert!(!plain.is_empty());
    assert!(
        plain.iter().all(|(s, b)| s == b && !s.contains("SETTLED")),
        "{plain:?}"
    );
    let with = universe(&["--include-settled"]);
    assert!(
        with.contains(&("AERGOUSDTSETTLEDSETTLED".into(), "AERGOUSDT".into())),
        "{with:?}"
    );
    assert_eq!(with.len(), plain.len() + 1);
    // Within one quote too, though its name ends in SETTLED (the window's rows are read by the
    // quote's ending only when every candidate's name has it).
    let usdt = universe(&["--include-settled", "--quote", "USDT"]);
    assert!(
        usdt.contains(&("AERGOUSDTSETTLEDSETTLED".into(), "AERGOUSDT".into())),
        "{usdt:?}"
    );
    // CSV carries the base too.
    let csv = env().0.ok(&[
        "query",
        "universe",
        "2023-06-20",
        "--include-settled",
        "--format",
        "csv",
    ]);
    assert!(csv.starts_with("symbol,base_symbol,rank,"), "{csv}");
    assert!(csv.contains("AERGOUSDTSETTLEDSETTLED,AERGOUSDT,"), "{csv}");
}

#[test]
fn a_day_before_a_backfills_start_is_refused_not_answered_empty() {
    // Every folder is checked from 2024-01-01 on: the days before were never looked at.
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet", "--start", "2024-01-01"]);
    let not_checked = "error: 2023-06-01 is not checked: the database is checked from \
                       2024-01-01; run `backfill --start 2023-06-01` to check the days before";
    for args in [
        &["query", "snapshot", "2023-06-01"][..],
        &["query", "range", "2023-06-01", "2024-01-31"],
        &["query", "summary", "2023-06-01", "2024-01-31"],
    ] {
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end(), not_checked, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
    // The checked days are answered.
    let snapshot = env.ok(&["query", "snapshot", "2024-01-15", "--format", "csv"]);
    assert!(snapshot.contains("BTCUSDT"), "{snapshot}");
}
