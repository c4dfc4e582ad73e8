//! Migrations: a file written by the schema-2 code (`tests/fixtures/v2`, see its README)
//! migrates on the next write with every fact kept, answers every query exactly as schema 2
//! did, and the original's SQL gives in the stock Python client what it gave on the schema-2
//! file; a file written by the schema-5 code (`tests/fixtures/v5`) migrates to the schema of
//! markets (ADR 0019) with every row of every table and every answer unchanged.

use crate::common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::{Env, db_rows, python, read_only};
use vision_sim::{Corpus, CorpusSpec};

fn fixture_of(version: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(version)
        .join(name)
}

fn gunzip(name: &str) -> Vec<u8> {
    gunzip_of("v2", name)
}

fn gunzip_of(version: &str, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture_of(version, name)).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A simulated bucket holding what the fixture's file was collected from, and that file as the
/// database.
fn env_of(version: &str) -> Env {
    let spec: CorpusSpec =
        serde_json::from_str(&std::fs::read_to_string(fixture_of(version, "spec.json")).unwrap())
            .unwrap();
    let env = Env::new(Corpus::from_spec(&spec));
    std::fs::write(&env.db, gunzip_of(version, "availability.duckdb.gz")).unwrap();
    env
}

fn v2_env() -> Env {
    env_of("v2")
}

fn schema_version(db: &Path) -> i32 {
    read_only(db)
        .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_schema_2_file_migrates_on_the_next_write_keeping_every_row_and_answer() {
    let env = v2_env();
    let before = db_rows(&env.db);
    assert_eq!(before.len(), 4871);
    assert_eq!(schema_version(&env.db), 2);
    // Reads never migrate: they ask for a write first.
    let out = env.run(&["query", "snapshot", "2024-01-15"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("update"));

    env.ok(&["update", "--quiet"]);
    // Through 3 and 4, which adds the trading tables beside the availability ones (this
    // `update` then fills them), 5, where `daily_availability` is a view of the facts, 6,
    // where COIN-M's tables stand beside them, 7, which stores the lives index, to 8, where
    // spot's tables stand beside them.
    assert_eq!(schema_version(&env.db), 8);
    // Every row, url included (the schema-2 rows hold the public, percent-encoded urls that
    // schema 3 computes).
    assert!(db_rows(&env.db) == before, "rows changed in the migration");
    let answers = String::from_utf8(gunzip("answers.jsonl.gz")).unwrap();
    let mut asked = 0;
    for line in answers.lines() {
        let answer: serde_json::Value = serde_json::from_str(line).unwrap();
        let args: Vec<&str> = answer["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        // Days after 2024-03-01, the last the bucket published, are not checked: schema 2
        // answered them with zeros, and now they are refused with a sentence (issue 24).
        let last_published = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        if args
            .iter()
            .filter_map(|a| a.parse::<chrono::NaiveDate>().ok())
            .any(|day| day > last_published)
        {
            let out = env.run(&args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(
                said.contains("is not checked yet: the database is complete through 2024-03-01"),
                "{args:?}: {said}"
            );
            asked += 1;
            continue;
        }
        let mut got = env.ok(&args);
        if args[1] == "summary" {
            // Schema 4's summary adds the traded counts after the file counts the v2 tool gave.
            got = got
                .lines()
                .map(|l| l.splitn(4, ',').take(3).collect::<Vec<_>>().join(",") + "\n")
                .collect();
        }
        assert_eq!(
            got,
            answer["stdout"].as_str().unwrap(),
            "{args:?} answers differently after the migration"
        );
        asked += 1;
    }
    assert_eq!(asked, 14);
    // No key, no index, nothing of schema 2's derived tables left.
    let catalog = common::catalog(&env.db).join("\n");
    for gone in [
        "PRIMARY KEY(date",
        "INDEX",
        "day_files",
        "derived_state",
        "GENERATED",
        "TABLE daily_availability(",
    ] {
        assert!(!catalog.contains(gone), "{gone} in {catalog}");
    }
}

/// The seed's SQL, run by the stock Python `duckdb` on a file; one JSON line per statement.
fn seed_sql(db: &Path) -> Vec<String> {
    let script = r#"
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
for sql in [
    "SELECT column_name, column_type FROM (DESCRIBE daily_availability)",
    "SELECT symbol FROM daily_availability WHERE date = '2024-01-15' AND available ORDER BY symbol",
    "SELECT * FROM daily_availability WHERE symbol = 'BTCUSDT' ORDER BY date",
    "SELECT DISTINCT symbol FROM daily_availability WHERE date BETWEEN '2024-01-01' AND '2024-01-31' AND available ORDER BY symbol",
    "SELECT url FROM daily_availability WHERE symbol = '币安人生USDT' ORDER BY date",
    "SELECT date, count(*) FILTER (WHERE available) FROM daily_availability GROUP BY date ORDER BY date",
]:
    print(json.dumps(con.execute(sql).fetchall(), default=str, ensure_ascii=False))
"#;
    let out = common::output_ok(
        std::process::Command::new(python())
            .args(["-c", script])
            .arg(db),
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn the_originals_sql_answers_alike_on_schema_2_and_the_current_one_in_the_stock_python_client() {
    let env = v2_env();
    let v2 = env.dir.path().join("v2.duckdb");
    std::fs::copy(&env.db, &v2).unwrap();
    env.ok(&["update", "--quiet"]);
    let (on_v2, on_now) = (seed_sql(&v2), seed_sql(&env.db));
    assert_eq!(on_v2.len(), 6);
    for (a, b) in on_v2.iter().zip(&on_now) {
        assert_eq!(a, b);
    }
    assert!(
        on_now[4].contains("https://data.binance.vision/data/futures/um/daily/klines/%E5%B8%81")
    );
}

#[test]
fn a_day_stored_twice_by_another_client_fails_validate_naming_it() {
    let env = v2_env();
    env.ok(&["update", "--quiet"]);
    let script = r#"
import duckdb, sys
con = duckdb.connect(sys.argv[1])
con.execute("INSERT INTO daily_availability_facts (date, symbol, available, file_size_bytes) VALUES ('2024-01-15', 'ETHUSDT', true, 1)")
"#;
    common::output_ok(
        std::process::Command::new(python())
            .args(["-c", script])
            .arg(&env.db),
    );
    let info = env.dir.path().join("exchange-info.json");
    std::fs::write(&info, r#"{"symbols":[]}"#).unwrap();
    let out = env.run(&["validate", "--exchange-info", info.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("FAIL uniqueness: 1 day(s)")
            && report.contains("ETHUSDT on 2024-01-15: 2 rows"),
        "{report}"
    );
}

/// Each table's rows, in a stable order, as text: what a migration must keep.
fn table_rows(db: &Path, table: &str) -> Vec<String> {
    let conn = read_only(db);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT CAST(t AS VARCHAR) AS row FROM {table} t ORDER BY row"
        ))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every answer the fixture recorded, asked again: (args, what the fixture's code printed, what
/// the current code prints).
fn answers_again(env: &Env, version: &str) -> Vec<(Vec<String>, String, String)> {
    String::from_utf8(gunzip_of(version, "answers.jsonl.gz"))
        .unwrap()
        .lines()
        .map(|line| {
            let answer: serde_json::Value = serde_json::from_str(line).unwrap();
            let args: Vec<String> = answer["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let now = env.ok(&argv);
            (args, answer["stdout"].as_str().unwrap().to_string(), now)
        })
        .collect()
}

#[test]
fn a_schema_5_file_migrates_on_the_next_write_keeping_every_row_of_every_table() {
    let env = env_of("v5");
    assert_eq!(schema_version(&env.db), 5);
    const KEPT: [&str; 6] = [
        "daily_availability",
        "daily_availability_facts",
        "symbols",
        "daily_trading",
        "trading_files",
        "trading_disagreements",
    ];
    let before: Vec<Vec<String>> = KEPT.iter().map(|t| table_rows(&env.db, t)).collect();
    assert!(
        before[0].len() > 4_000 && before[3].len() > 4_000,
        "{}",
        before[3].len()
    );
    let runs_before = table_rows(&env.db, "collection_runs");
    assert_eq!(runs_before.len(), 1);

    env.ok(&["update", "--quiet"]);
    assert_eq!(schema_version(&env.db), 8);
    for (table, rows) in KEPT.iter().zip(&before) {
        assert!(
            &table_rows(&env.db, table) == rows,
            "{table} changed in the migration"
        );
    }
    // The run log: the fixture's run, now marked USD-M's, and this update's.
    let runs: Vec<(i64, String)> = {
        let conn = read_only(&env.db);
        let mut stmt = conn
            .prepare("SELECT id, market FROM collection_runs ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(runs, [(1, "um".to_string()), (2, "um".to_string())]);
    // COIN-M's tables, empty: asked about, it says nothing is checked, never "no symbol".
    // Spot's too (version 8).
    for market in ["cm", "spot"] {
        assert!(table_rows(&env.db, &format!("{market}.symbols")).is_empty());
        let out = env.run(&["query", "snapshot", "2024-01-15", "--market", market]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not checked"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every answer the schema-5 code gave, given again.
    let answers = answers_again(&env, "v5");
    assert!(answers.len() >= 15, "{}", answers.len());
    for (args, then, now) in answers {
        assert_eq!(
            now, then,
            "{args:?} answers differently after the migration"
        );
    }
}
