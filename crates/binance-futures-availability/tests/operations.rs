//! The operator's commands against real files: `status`, `validate` (with Binance's real
//! exchangeInfo responses), `backup` → `restore`, and `export` read back by DuckDB.

use crate::common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use binance_futures_availability::facts::DayRange;
use binance_futures_availability::store::{AvailabilityRow, Batch, Database, Seen, SymbolUpdate};
use binance_futures_availability::vision::Market;
use chrono::{NaiveDate, Utc};
use common::*;
use vision_sim::{Corpus, Fault, FaultRule};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

#[test]
fn status_reports_contents_and_exits_1_when_stale() {
    // The small bucket, with one folder whose files reach yesterday: a day counts as checked
    // only once the bucket has published it, so a bucket whose last file is from 2024 is not
    // "complete through yesterday".
    let mut spec = small_spec();
    spec.symbols[1].last = days_ago(1);
    let env = Env::new(Corpus::from_spec(&spec));
    env.ok(&["backfill", "--quiet"]);
    let out = env.run(&["status", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = json(&out);
    assert_eq!(s["rows"], db_rows(&env.db).len() as u64);
    assert_eq!(s["symbols"]["total"], 8);
    assert_eq!(s["symbols"]["delivery"], 1);
    assert_eq!(s["symbols"]["perpetual"], 7);
    assert_eq!(s["symbols"]["settled"], 2);
    assert_eq!(
        s["schema_version"],
        binance_futures_availability::store::SCHEMA_VERSION
    );
    assert_eq!(
        s["coverage"],
        serde_json::json!(["2019-12-31", days_ago(1).to_string()])
    );
    assert_eq!(s["checked_through"], days_ago(1).to_string());
    assert_eq!(s["last_run"]["kind"], "backfill");
    assert_eq!(s["last_run"]["status"], "ok");
    assert_eq!(s["stale"], false);
    assert!(s["size_bytes"].as_u64().unwrap() > 0);
    let text = env.ok(&["status"]);
    assert!(
        text.contains("complete through  ")
            && text.contains("8 (7 perpetual, 1 delivery; 2 settled)"),
        "{text}"
    );

    // A database last checked ten days ago is stale: said, and exit 1 for monitors.
    let old = Env::new(Corpus::from_spec(&spec));
    let end = days_ago(10).to_string();
    old.ok(&["backfill", "--quiet", "--end", &end]);
    let out = old.run(&["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("stale"));
    assert!(
        stderr(&out).contains(&format!("checked only through {end}")),
        "{}",
        stderr(&out)
    );
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/exchange-info")
        .join(name)
}

/// exchangeInfo's trading perpetuals, by quote asset, read straight from the response.
fn trading_perpetuals(file: &Path) -> Vec<(String, String)> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut out: Vec<(String, String)> = v["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["status"] == "TRADING"
                && matches!(
                    s["contractType"].as_str(),
                    Some("PERPETUAL" | "TRADIFI_PERPETUAL")
                )
        })
        .map(|s| {
            (
                s["symbol"].as_str().unwrap().to_string(),
                s["quoteAsset"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A database whose symbols had a file on each of `days`, except `hole` (symbol, day).
fn database_with(
    path: &Path,
    symbols: &[String],
    days: &[NaiveDate],
    hole: Option<(&str, NaiveDate)>,
) {
    database_of(path, Market::Um, symbols, days, hole);
}

/// `database_with`, in `market`'s tables.
fn database_of(
    path: &Path,
    market: Market,
    symbols: &[String],
    days: &[NaiveDate],
    hole: Option<(&str, NaiveDate)>,
) {
    let mut db = Database::open_for_write(path).unwrap();
    db.select_market(market).unwrap();
    let mut batch = Batch::default();
    for s in symbols {
        for d in days {
            if hole == Some((s.as_str(), *d)) {
                continue;
            }
            batch.rows.push(AvailabilityRow {
                date: *d,
                symbol: s.clone(),
                seen: Seen::File {
                    size: 1000,
                    last_modified: None,
                },
                probe_timestamp: Utc::now(),
            });
        }
        batch.symbols.push(SymbolUpdate {
            symbol: s.clone(),
            class: market.classify(s),
            first_file_date: days.first().copied(),
            last_file_date: days.last().copied(),
            checked: DayRange::new(days[0], *days.last().unwrap()).ok(),
        });
    }
    db.write_batch(&batch).unwrap();
}

/// Spot and COIN-M are compared with their own exchangeInfo, read as each market writes it:
/// spot's trading pairs (no contract type) and COIN-M's trading perpetuals (`contractStatus`,
/// not `status`) — against the market `--market` names, whose tables hold the other folders.
#[test]
fn validate_compares_spot_and_coin_m_with_their_own_exchange_info() {
    let cases = [
        (
            Market::Spot,
            "spot_exchangeInfo_2023-08-13.json",
            "ZZZNEWUSDT",
        ),
        (
            Market::Cm,
            "dapi_exchangeInfo_2025-08-07_partial.json",
            "ZZZUSD_PERP",
        ),
    ];
    for (market, name, newcomer) in cases {
        let file = fixture(name);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        // The oracle, from the response as the market publishes it: spot's `status`,
        // COIN-M's `contractStatus` and `contractType`; spot compared in USDT and BTC.
        let mut trading: Vec<String> = v["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| match market {
                Market::Spot => {
                    s["status"] == "TRADING"
                        && ["USDT", "BTC"].contains(&s["quoteAsset"].as_str().unwrap())
                }
                _ => s["contractStatus"] == "TRADING" && s["contractType"] == "PERPETUAL",
            })
            .map(|s| s["symbol"].as_str().unwrap().to_string())
            .collect();
        trading.sort();
        assert!(trading.len() >= 20, "{market}: {}", trading.len());
        let missing: Vec<String> = trading[..3].to_vec();
        let mut vision: Vec<String> = trading[3..].to_vec();
        vision.push(newcomer.to_string());
        let days: Vec<NaiveDate> = day("2026-03-23").iter_days().take(8).collect();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.duckdb");
        database_of(&db, market, &vision, &days, None);
        // USD-M's tables of the same file hold other names: a comparison of the wrong
        // market's tables would list every one of them.
        database_of(&db, Market::Um, &["BTCUSDT".to_string()], &days, None);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_binance-futures-availability"))
            .arg("--db")
            .arg(&db)
            .args([
                "validate",
                "--market",
                market.name(),
                "--format",
                "json",
                "--exchange-info",
            ])
            .arg(&file)
            .output()
            .unwrap();
        let r = json(&out);
        // 3 of COIN-M's 24 missing is below the SLO's 95 %: the exit says so, the lists why.
        let code = if r["passed"] == true { 0 } else { 1 };
        assert_eq!(
            out.status.code(),
            Some(code),
            "{market}: {r:#}\n{}",
            stderr(&out)
        );
        assert_eq!(r["unchecked"], serde_json::json!([]), "{market}");
        let slo = &r["slo"];
        assert_eq!(slo["outcome"], "compared", "{market}: {slo:#}");
        assert_eq!(slo["only_exchange"], serde_json::json!(missing), "{market}");
        assert_eq!(
            slo["only_vision"],
            serde_json::json!([newcomer]),
            "{market}"
        );
    }
}

#[test]
fn validate_gives_the_match_percentage_and_both_lists_on_real_exchange_info() {
    let file = fixture("fapi_exchangeInfo_2026-03-31.json");
    let trading = trading_perpetuals(&file);
    // Compared like for like: the quote assets both sides have (this database has USDT and USDC).
    let comparable: Vec<&String> = trading
        .iter()
        .filter(|(_, q)| q == "USDT" || q == "USDC")
        .map(|(s, _)| s)
        .collect();
    assert!(comparable.len() > 500, "{}", comparable.len());
    let missing: Vec<String> = comparable[..10].iter().map(|s| s.to_string()).collect();
    let mut vision: Vec<String> = comparable[10..].iter().map(|s| s.to_string()).collect();
    // One perpetual not (yet) in exchangeInfo; and names that must not be compared at all:
    // settled, delivery, and a quote asset exchangeInfo does not trade.
    vision.extend(["ZZZNEWUSDT", "BNXUSDTSETTLED", "BTCUSDT_260626", "ADABUSD"].map(String::from));
    let days: Vec<NaiveDate> = day("2026-03-23").iter_days().take(8).collect();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.duckdb");
    database_with(&db, &vision, &days, None);
    let run = |db: &Path, format: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_binance-futures-availability"))
            .args(["--db"])
            .arg(db)
            .args(["validate", "--format", format, "--exchange-info"])
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = run(&db, "json");
    assert!(out.status.success(), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["passed"], true);
    assert_eq!(r["latest_complete_day"], "2026-03-30");
    let slo = &r["slo"];
    assert_eq!(slo["outcome"], "compared");
    assert_eq!(slo["quote_assets"], serde_json::json!(["USDC", "USDT"]));
    assert_eq!(slo["only_exchange"], serde_json::json!(missing));
    assert_eq!(slo["only_vision"], serde_json::json!(["ZZZNEWUSDT"]));
    let n = comparable.len() as f64;
    let expected = (n - 10.0) * 100.0 / (n + 1.0);
    assert!((slo["percent"].as_f64().unwrap() - expected).abs() < 1e-9);

    // 60 symbols short is below 95 %; and a day missing inside a symbol's life is a hole.
    let short: Vec<String> = comparable[60..].iter().map(|s| s.to_string()).collect();
    let db2 = dir.path().join("b.duckdb");
    database_with(&db2, &short, &days, Some((short[0].as_str(), days[3])));
    let out = run(&db2, "text");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let percent = (n - 60.0) * 100.0 / n;
    assert!(
        text.contains(&format!(
            "FAIL exchangeInfo: {percent:.1}% match on 2026-03-30"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{} not checked {} to {}",
            short[0], days[3], days[3]
        )),
        "{text}"
    );
    assert!(text.contains(&missing.join(" ")), "{text}");
}

/// Serves one HTTP response to the first connection on 127.0.0.1 and returns the URL.
fn serve_once(body: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/fapi/v1/exchangeInfo",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = conn.read(&mut request);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        conn.write_all(head.as_bytes()).unwrap();
        conn.write_all(&body).unwrap();
    });
    url
}

#[test]
fn validate_fetches_exchange_info_over_http_and_skips_a_geo_block() {
    let file = fixture("fapi_exchangeInfo_2024-10-02.json");
    let trading: Vec<String> = trading_perpetuals(&file)
        .into_iter()
        .filter(|(_, q)| q == "USDT" || q == "USDC")
        .map(|(s, _)| s)
        .collect();
    let days: Vec<NaiveDate> = day("2024-09-24").iter_days().take(8).collect();
    let env = Env::new(Corpus::from_spec(&small_spec()));
    database_with(&env.db, &trading, &days, None);

    let url = serve_once(std::fs::read(&file).unwrap());
    let out = env.run(&["validate", "--format", "json", "--exchange-info", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["slo"]["percent"], 100.0);

    // HTTP 451 from the endpoint: the comparison is skipped, not failed.
    env.sim.add_fault(FaultRule {
        pattern: "exchangeInfo".into(),
        fault: Fault::Status(451),
        times: None,
    });
    let blocked = format!("{}/fapi/v1/exchangeInfo", env.sim.data_url());
    let out = env.run(&["validate", "--exchange-info", &blocked]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("skip exchangeInfo") && text.contains("HTTP 451"),
        "{text}"
    );

    // Any other failure of the endpoint fails the comparison, in a line naming the URL and
    // status, after the checks of the file.
    env.sim.clear_faults();
    env.sim.add_fault(FaultRule {
        pattern: "exchangeInfo".into(),
        fault: Fault::Status(500),
        times: None,
    });
    let out = env.run(&["validate", "--exchange-info", &blocked]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ok   uniqueness")
            && text.contains(&format!(
                "FAIL exchangeInfo: could not fetch exchangeInfo from {blocked}"
            ))
            && text.contains("500"),
        "{text}"
    );
}

/// A URL on 127.0.0.1 where nothing listens (the port was just free).
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/fapi/v1/exchangeInfo",
        listener.local_addr().unwrap()
    );
    drop(listener);
    url
}

#[test]
fn validate_checks_the_file_when_exchange_info_is_unreachable_and_none_skips_it() {
    let file = fixture("fapi_exchangeInfo_2024-10-02.json");
    let trading: Vec<String> = trading_perpetuals(&file)
        .into_iter()
        .filter(|(_, q)| q == "USDT" || q == "USDC")
        .map(|(s, _)| s)
        .collect();
    let days: Vec<NaiveDate> = day("2024-09-24").iter_days().take(8).collect();
    let env = Env::new(Corpus::from_spec(&small_spec()));
    database_with(&env.db, &trading, &days, None);

    // Nothing listens where exchangeInfo is said to be (by flag, and as the scheduler's
    // environment would say it): every check of the file still runs and prints, the
    // comparison is its own failed line naming the URL, and the exit is 1.
    let url = closed_port_url();
    for out in [
        env.run(&["validate", "--exchange-info", &url]),
        env.cmd()
            .env("BFA_EXCHANGE_INFO_URL", &url)
            .arg("validate")
            .output()
            .unwrap(),
    ] {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        for line in [
            "ok   integrity:",
            "ok   uniqueness:",
            "ok   continuity:",
            "ok   trading:",
            "ok   completeness:",
            &format!("FAIL exchangeInfo: could not fetch exchangeInfo from {url}"),
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        assert!(
            stderr(&out).contains("validation failed"),
            "{}",
            stderr(&out)
        );
    }
    let out = env.run(&["validate", "--format", "json", "--exchange-info", &url]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["passed"], false);
    assert_eq!(report["slo"]["outcome"], "unavailable");
    assert_eq!(report["integrity"]["outcome"], "read");

    // `--exchange-info none`: no comparison, no network, and a good file passes.
    let out = env.run(&["validate", "--exchange-info", "none"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ok   uniqueness") && text.contains("skip exchangeInfo: not compared"),
        "{text}"
    );
}

#[test]
fn backup_then_restore_gives_a_database_with_equal_content() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet"]);
    let original = db_rows(&env.db);
    let backup = env.dir.path().join("backup.duckdb");
    env.ok(&["backup", backup.to_str().unwrap()]);
    assert!(db_rows(&backup) == original);

    // A second backup to the same place needs --force.
    let out = env.run(&["backup", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("already exists; pass --force"),
        "{}",
        stderr(&out)
    );

    // Restore into a fresh place, then over an existing database only with --force.
    let restored = env.dir.path().join("restored.duckdb");
    let restore = |target: &Path, force: bool| {
        let mut c = env.cmd();
        c.env("BFA_DB", target)
            .args(["restore", backup.to_str().unwrap()]);
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    assert!(restore(&restored, false).status.success());
    assert!(db_rows(&restored) == original);
    let out = restore(&env.db, false);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = restore(&env.db, true);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(db_rows(&env.db) == original);

    // Something that is not a database is refused before anything is touched.
    let junk = env.dir.path().join("junk.duckdb");
    std::fs::write(&junk, b"not a database").unwrap();
    let out = env
        .cmd()
        .args(["restore", "--force", junk.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("junk.duckdb"), "{}", stderr(&out));
    assert!(db_rows(&env.db) == original);
}

/// Inverts 4 KiB in the middle of the last block holding `table`'s rows, as a bad sector or a
/// bad copy would. DuckDB's file: three 4 KiB headers, then blocks of `block_size`, each
/// starting with its checksum.
fn flip_a_block_of(db: &Path, table: &str) {
    use std::io::Seek;
    let (block, block_size): (i64, i64) = read_only(db)
        .query_row(
            &format!(
                "SELECT max(block_id), (SELECT any_value(block_size) FROM pragma_database_size())
                 FROM pragma_storage_info('{table}') WHERE block_id >= 0"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let at = (3 * 4096 + block * block_size + 4096) as u64;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(db)
        .unwrap();
    assert!(file.metadata().unwrap().len() >= at + 4096);
    let mut bytes = vec![0u8; 4096];
    file.seek(std::io::SeekFrom::Start(at)).unwrap();
    file.read_exact(&mut bytes).unwrap();
    bytes.iter_mut().for_each(|b| *b = !*b);
    file.seek(std::io::SeekFrom::Start(at)).unwrap();
    file.write_all(&bytes).unwrap();
    file.sync_all().unwrap();
}

#[test]
fn a_file_with_one_damaged_block_is_refused_by_restore_and_backup_and_failed_by_validate() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet"]);
    let original = db_rows(&env.db);
    let good = env.ok(&["validate", "--exchange-info", "none"]);
    assert!(good.contains("ok   integrity: every block of"), "{good}");
    let backup = env.dir.path().join("backup.duckdb");
    env.ok(&["backup", backup.to_str().unwrap()]);
    flip_a_block_of(&backup, "daily_trading");

    // restore: refused with a sentence, the database in place untouched.
    let out = env.run(&["restore", "--force", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains(&format!("{} is damaged", backup.display()))
            && said.contains("does not match its checksum")
            && said.contains("never backed up or restored"),
        "{said}"
    );
    assert!(db_rows(&env.db) == original);

    // The damaged file as the database: `backup` refuses it and writes nothing, `validate`
    // fails it in its first line.
    let damaged = env.dir.path().join("damaged.duckdb");
    std::fs::copy(&backup, &damaged).unwrap();
    let on_damaged = |args: &[&str]| {
        env.cmd()
            .env("BFA_DB", &damaged)
            .args(args)
            .output()
            .unwrap()
    };
    let second = env.dir.path().join("second.duckdb");
    let out = on_damaged(&["backup", second.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{} is damaged", damaged.display())),
        "{}",
        stderr(&out)
    );
    assert!(!second.exists() && !sibling(&second, ".partial").exists());
    let out = on_damaged(&["validate", "--exchange-info", "none"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("FAIL integrity: {} is damaged", damaged.display())),
        "{text}"
    );
}

/// A GET to `serve` at `base` (`http://127.0.0.1:PORT`): the status line and body.
fn http_get(base: &str, path: &str) -> String {
    let host = base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(host).unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn a_database_path_that_is_a_symlink_is_read_through_by_every_reader() {
    // One folder publishing through yesterday, so the file is current and `status` exits 0.
    let mut spec = small_spec();
    spec.symbols[1].last = days_ago(1);
    let mut env = Env::new(Corpus::from_spec(&spec));
    env.ok(&["backfill", "--quiet"]);
    let original = db_rows(&env.db);
    // The file elsewhere, the path everyone uses a relative link to it.
    std::fs::create_dir(env.dir.path().join("data")).unwrap();
    let real = env.dir.path().join("data/real.duckdb");
    std::fs::rename(&env.db, &real).unwrap();
    let link = env.dir.path().join("link.duckdb");
    std::os::unix::fs::symlink("data/real.duckdb", &link).unwrap();
    env.db = link.clone();

    let snapshot = env.ok(&["query", "snapshot", "2024-01-15", "--format", "csv"]);
    assert!(snapshot.lines().count() > 1, "{snapshot}");
    env.ok(&["query", "symbols"]);
    let status = env.ok(&["status", "--format", "json"]);
    assert!(status.contains("\"rows\""), "{status}");
    let validated = env.ok(&["validate", "--exchange-info", "none"]);
    assert!(validated.contains("ok   integrity"), "{validated}");
    let backup = env.dir.path().join("backup.duckdb");
    env.ok(&["backup", backup.to_str().unwrap()]);
    assert!(db_rows(&backup) == original);
    let export = env.dir.path().join("export");
    env.ok(&["export", export.to_str().unwrap()]);
    assert!(export.join("daily_availability.parquet").is_file());

    // serve answers from the file behind the link (it answered 503 until stopped).
    let served = Served::start(&env, &[]);
    let mut answer = String::new();
    wait_until(10, "serve to answer through the link", || {
        answer = http_get(&served.url, "/v1/symbols");
        !answer.starts_with("HTTP/1.1 503")
    });
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("BTCUSDT"), "{answer}");
    drop(served);

    // Writes through the link still replace the file behind it, and the link stays a link.
    env.ok(&["update", "--quiet"]);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    env.ok(&["status"]);
}

#[test]
fn parquet_and_csv_exports_read_back_equal_to_the_tables() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet"]);
    let out_dir = env.dir.path().join("export");
    env.ok(&["export", out_dir.to_str().unwrap()]);
    env.ok(&["export", "--format", "csv", out_dir.to_str().unwrap()]);
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!("ATTACH '{}' AS db (READ_ONLY)", env.db.display()))
        .unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    let tables: Vec<&str> = binance_futures_availability::store::exported_tables().collect();
    assert_eq!(
        tables,
        [
            "daily_availability",
            "symbols",
            "collection_runs",
            "daily_trading",
            "trading_files",
            "trading_disagreements",
        ]
    );
    // What `export --help` says it writes is what it writes.
    let help = env.ok(&["export", "--help"]);
    for table in &tables {
        assert!(
            help.contains(table),
            "export --help does not name {table}:\n{help}"
        );
    }
    let written: BTreeSet<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = tables
        .iter()
        .flat_map(|t| [format!("{t}.parquet"), format!("{t}.csv")])
        .collect();
    assert_eq!(written, expected);
    for table in tables {
        let parquet = out_dir.join(format!("{table}.parquet"));
        let csv = out_dir.join(format!("{table}.csv"));
        let rows = count(&format!("SELECT count(*) FROM db.{table}"));
        // A backfill reads months whole: no day of it has two values to disagree.
        assert!(
            rows > 0 || table == "trading_disagreements",
            "{table} is empty"
        );
        for source in [
            format!("read_parquet('{}')", parquet.display()),
            format!("read_csv('{}', header = true)", csv.display()),
        ] {
            assert_eq!(
                count(&format!("SELECT count(*) FROM {source}")),
                rows,
                "{source}"
            );
            let differ = count(&format!(
                "SELECT count(*) FROM (SELECT * FROM {source} EXCEPT ALL SELECT * FROM db.{table})"
            ));
            assert_eq!(differ, 0, "{source} differs from {table}");
        }
    }
    let symbols: BTreeSet<String> = conn
        .prepare(&format!(
            "SELECT DISTINCT symbol FROM read_parquet('{}')",
            out_dir.join("daily_availability.parquet").display()
        ))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(symbols.contains("币安人生USDT"));
    // Exporting over existing files needs --force.
    let out = env.run(&["export", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bfa_log_debug_shows_the_tools_stages_and_http_internals_only_when_named() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    let out = env
        .cmd()
        .env("BFA_LOG", "debug")
        .args(["backfill", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    for stage in [
        "stage: opened the private copy",
        "stage: discovered the bucket's folders",
        "stage: planned the 1m listings",
        "stage: listed the 1m folders",
        "stage: read the 1d klines files",
        "stage: published the run's copy",
    ] {
        assert!(log.contains(stage), "{stage:?} missing from:\n{log}");
    }
    // With their counts and timings.
    assert!(
        log.lines().any(|l| l.contains("stage: discovered")
            && l.contains("folders=")
            && l.contains("elapsed_ms=")),
        "{log}"
    );
    // Every line is the tool's own: no connection pool, no HTTP client internals.
    let targets: BTreeSet<&str> = log
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|t| t.ends_with(':'))
        .collect();
    assert!(
        targets
            .iter()
            .all(|t| t.starts_with("binance_futures_availability")),
        "{targets:?}"
    );
    assert!(
        !log.contains("hyper") && !log.contains("reqwest::"),
        "{log}"
    );

    // A dependency's internals when asked for by name.
    let out = env
        .cmd()
        .env("BFA_LOG", "debug,hyper_util=debug")
        .args(["update", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(" hyper_util::"), "{}", stderr(&out));

    // Not a filter: exit 2 with a sentence, before anything runs.
    let out = env
        .cmd()
        .env("BFA_LOG", "reqwest=loudly")
        .args(["status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("BFA_LOG=\"reqwest=loudly\" is not a log filter"),
        "{}",
        stderr(&out)
    );
}

/// The crontab line as shipped, run by a shell on a machine where the log's folder does not
/// exist yet: the redirect must not fail before the command runs.
#[test]
fn the_shipped_crontab_line_runs_on_a_fresh_machine() {
    let env = Env::new(Corpus::from_spec(&common::small_spec()));
    let crontab = include_str!("../../../deploy/crontab");
    let line = crontab
        .lines()
        .find(|l| l.contains(" update "))
        .expect("an update line");
    // Minute, hour, day, month, weekday: the rest is the shell command.
    let command = line
        .split_whitespace()
        .skip(5)
        .collect::<Vec<_>>()
        .join(" ");
    let home = tempfile::tempdir().unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_binance-futures-availability"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    let out = std::process::Command::new("sh")
        .args(["-c", &command])
        .env("HOME", home.path())
        .env("PATH", path)
        .env("BFA_S3_URL", env.sim.s3_url())
        .env("BFA_DATA_URL", env.sim.data_url())
        .env_remove("BFA_DB")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let base = home.path().join(".cache/binance-futures");
    assert!(base.join("update.log").exists() && base.join("availability.duckdb").exists());
}

#[test]
fn restore_of_a_missing_file_says_so() {
    let env = Env::new(Corpus::from_spec(&common::small_spec()));
    let missing = env.dir.path().join("no-such-backup.duckdb");
    let out = env.run(&["restore", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("there is no file at")
            && stderr(&out).contains("to restore from")
            && !stderr(&out).contains("create it with"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_run_log_records_the_days_an_update_covered() {
    // A folder publishing through yesterday: a bucket whose last file is from 2024 has every
    // later day unchecked, and each update lists them all again.
    let mut spec = common::small_spec();
    spec.symbols[1].last = common::days_ago(1);
    let env = Env::new(Corpus::from_spec(&spec));
    env.ok(&["update", "--quiet"]);
    let range = |env: &Env| -> (String, String) {
        let conn = read_only(&env.db);
        conn.query_row(
            "SELECT start_date::VARCHAR, end_date::VARCHAR FROM collection_runs
             ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let yesterday = common::days_ago(1).to_string();
    // The first update covered all history, not one day.
    assert_eq!(range(&env), ("2019-09-25".to_string(), yesterday.clone()));
    // The next one re-lists the 20-day lookback (the days it had to check; a seventh of the
    // folders is re-listed whole besides, which the log does not count as covered).
    env.ok(&["update", "--quiet"]);
    assert_eq!(range(&env), (common::days_ago(20).to_string(), yesterday));
}
