//! Issue 11, files and input: never publish something older than what is there, leave nothing
//! behind a refused or failed run, follow no planted link, run no code from a database file,
//! print nothing that acts on a terminal or spreadsheet, and turn out-of-range input into a
//! sentence and exit 2. Each test fails without its fix.

use crate::common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use binance_futures_availability::facts::DayRange;
use binance_futures_availability::store::{
    AvailabilityRow, Batch, Database, RunEnd, RunKind, RunOutcome, Seen, SymbolUpdate, WriteSession,
};
use binance_futures_availability::vision::Market;
use common::*;
use vision_sim::Corpus;

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A quick one-symbol collection.
const ETH_ONLY: [&str; 6] = [
    "backfill",
    "--end",
    "2024-03-01",
    "--quiet",
    "--symbols",
    "ETHUSDT",
];

/// The binary on the database at `db` instead of the environment's.
fn run_on(env: &Env, db: &Path, args: &[&str]) -> Output {
    env.cmd().env("BFA_DB", db).args(args).output().unwrap()
}

fn small() -> Env {
    Env::new(Corpus::from_spec(&small_spec()))
}

/// Symbols in the database, by name.
fn symbol_names(db: &Path) -> Vec<String> {
    Database::open(db)
        .unwrap()
        .symbols()
        .unwrap()
        .into_iter()
        .map(|s| s.symbol)
        .collect()
}

/// What sits beside the database, the lock file and the published file's read index aside.
fn beside(db: &Path) -> Vec<String> {
    let name = db.file_name().unwrap().to_string_lossy().into_owned();
    let mut found: Vec<String> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&name) && *n != name)
        .filter(|n| !n.ends_with(".lock") && !n.ends_with(".readidx"))
        .collect();
    found.sort();
    found
}

#[test]
fn a_stale_copy_never_replaces_a_database_put_in_place_since() {
    let env = small();
    env.ok(&ETH_ONLY);
    // What a killed run leaves: a private copy of the one-symbol database.
    {
        let mut session: WriteSession = WriteSession::begin(&env.db, "killed").unwrap();
        session.db().begin_run(RunKind::Update, None).unwrap();
    }
    assert!(sibling(&env.db, ".writing").exists());
    // The operator puts a complete database in place, overwriting the file (same inode).
    let good = env.dir.path().join("good.duckdb");
    env.cmd()
        .env("BFA_DB", &good)
        .args(["backfill", "--end", "2024-03-01", "--quiet"])
        .status()
        .unwrap();
    let complete = symbol_names(&good);
    assert_eq!(complete.len(), 8);
    std::fs::copy(&good, &env.db).unwrap();
    let out = env.run(&["backfill", "--end", "2024-03-01", "--symbols", "ETHUSDT"]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(symbol_names(&env.db), complete);

    // A copy with no record of its origin (left by an older version) is not trusted either.
    {
        WriteSession::<Database>::begin(&env.db, "killed").unwrap();
    }
    std::fs::remove_file(sibling(&env.db, ".writing.origin")).unwrap();
    env.ok(&ETH_ONLY);
    assert_eq!(symbol_names(&env.db), complete);
}

#[test]
fn a_refused_write_leaves_nothing_behind_and_the_fixed_file_updates() {
    let env = small();
    let parquet_dir = env.dir.path().join("export");
    let foreign = env.dir.path().join("foreign.duckdb");
    duckdb::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE trades (x INTEGER)")
        .unwrap();
    env.ok(&ETH_ONLY);
    env.ok(&["export", parquet_dir.to_str().unwrap()]);
    let parquet = parquet_dir.join("symbols.parquet");
    for (what, content) in [
        ("junk", b"this is not a database".to_vec()),
        ("an empty file", Vec::new()),
        ("Parquet", std::fs::read(&parquet).unwrap()),
        ("a foreign DuckDB file", std::fs::read(&foreign).unwrap()),
    ] {
        let db = env
            .dir
            .path()
            .join(format!("{}.duckdb", what.replace(' ', "_")));
        std::fs::write(&db, &content).unwrap();
        let out = run_on(
            &env,
            &db,
            &["backfill", "--end", "2024-03-01", "--symbols", "ETHUSDT"],
        );
        assert_eq!(out.status.code(), Some(1), "{what}: {}", err(&out));
        assert!(
            err(&out).contains(db.to_str().unwrap()),
            "{what}: {}",
            err(&out)
        );
        assert_eq!(beside(&db), Vec::<String>::new(), "{what}");
        assert_eq!(
            std::fs::read(&db).unwrap(),
            content,
            "{what}: the file changed"
        );
        // Fixed by the user: the next run works, with nothing left over to trip it.
        std::fs::remove_file(&db).unwrap();
        let out = run_on(&env, &db, &ETH_ONLY);
        assert!(out.status.success(), "{what}: {}", err(&out));
    }
    // A path DuckDB cannot open is bad input, refused before anything is made.
    let bad: std::ffi::OsString =
        std::os::unix::ffi::OsStringExt::from_vec(b"/tmp/bfa-\xff.duckdb".to_vec());
    let out = run_on(&env, Path::new(&bad), &["update"]);
    assert_eq!(out.status.code(), Some(2), "{}", err(&out));
    assert!(err(&out).contains("is not UTF-8"), "{}", err(&out));
}

#[test]
fn links_are_followed_once_for_the_database_and_never_for_temporary_files() {
    let env = small();
    // --db through a link: the real file is updated and the link stays a link.
    let real = env.dir.path().join("real.duckdb");
    let link = env.dir.path().join("link.duckdb");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = run_on(&env, &link, &ETH_ONLY);
    assert!(out.status.success(), "{}", err(&out));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(symbol_names(&real), ["ETHUSDT"]);
    // A link planted where backup writes its partial copy is replaced, its target untouched.
    let victim = env.dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let dest = env.dir.path().join("backup.duckdb");
    std::os::unix::fs::symlink(&victim, sibling(&dest, ".partial")).unwrap();
    let out = run_on(&env, &real, &["backup", dest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(symbol_names(&dest), ["ETHUSDT"]);
}

/// The binary with files limited to `bytes`: writing past it fails as a full disk does.
fn with_file_limit(mut cmd: Command, bytes: u64) -> Output {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Ignored, the signal turns into EFBIG on the write, like ENOSPC.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().unwrap()
}

#[test]
fn a_copy_cut_short_by_a_full_disk_is_removed() {
    let env = small();
    env.ok(&["backfill", "--end", "2024-03-01", "--quiet"]);
    let size = std::fs::metadata(&env.db).unwrap().len();
    let dest = env.dir.path().join("backup.duckdb");
    let mut backup = env.cmd();
    backup.args(["backup", dest.to_str().unwrap()]);
    let out = with_file_limit(backup, size / 2);
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(!dest.exists() && !sibling(&dest, ".partial").exists());
    let mut update = env.cmd();
    update.args(["backfill", "--end", "2024-03-01"]);
    let out = with_file_limit(update, size / 2);
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert_eq!(beside(&env.db), Vec::<String>::new());
}

#[test]
fn a_run_stopped_while_publishing_is_not_logged_ok() {
    let env = small();
    env.ok(&["backfill", "--end", "2024-03-01", "--quiet"]);
    // Everything up to the rename happened, then the process died.
    let stopped = {
        let mut session: WriteSession = WriteSession::begin(&env.db, "update").unwrap();
        let db = session.db();
        let run = db.begin_run(RunKind::Update, None).unwrap();
        db.finish_run(
            run,
            &RunOutcome {
                end: RunEnd::Ok,
                covered: None,
                symbols: 0,
                requests: 0,
                rows_written: 0,
            },
        )
        .unwrap();
        run.0
    };
    env.ok(&ETH_ONLY);
    let conn = read_only(&env.db);
    let status: String = conn
        .query_row(
            "SELECT status FROM collection_runs WHERE id = ?",
            [stopped],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "interrupted");
}

#[test]
fn a_database_that_carries_code_is_refused_and_nothing_reaches_outside() {
    let env = small();
    env.ok(&["backfill", "--end", "2024-03-01", "--quiet"]);
    let secret = env.dir.path().join("secret.txt");
    std::fs::write(&secret, "THESECRETTEXT").unwrap();
    let evil = env.dir.path().join("evil.duckdb");
    std::fs::copy(&env.db, &evil).unwrap();
    {
        let conn = duckdb::Connection::open(&evil).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE real_symbols AS SELECT * FROM symbols; DROP TABLE symbols;
             CREATE VIEW symbols AS SELECT s.* REPLACE (t.content AS symbol)
               FROM real_symbols s, read_text('{}') t;",
            secret.display()
        ))
        .unwrap();
    }
    let target = env.dir.path().join("restored.duckdb");
    let out = run_on(&env, &target, &["restore", evil.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(err(&out).contains("a view named symbols"), "{}", err(&out));
    assert!(!target.exists());
    let out = run_on(
        &env,
        &evil,
        &["query", "timeline", "THESECRETTEXT", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), err(&out));
    assert!(!all.contains("THESECRETTEXT\""), "{all}");
    // A macro shadows a builtin our SQL calls (`lower`): refused where a file enters.
    let shadowing = env.dir.path().join("shadowing.duckdb");
    std::fs::copy(&env.db, &shadowing).unwrap();
    duckdb::Connection::open(&shadowing)
        .unwrap()
        .execute_batch("CREATE MACRO lower(x) AS 'BTCUSDT'")
        .unwrap();
    let out = run_on(&env, &target, &["restore", shadowing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(err(&out).contains("a macro named lower"), "{}", err(&out));
    // Our own view is allowed only as we wrote it: one that reads a file instead is refused.
    let tampered = env.dir.path().join("tampered.duckdb");
    std::fs::copy(&env.db, &tampered).unwrap();
    duckdb::Connection::open(&tampered)
        .unwrap()
        .execute_batch(&format!(
            "CREATE OR REPLACE VIEW daily_availability AS SELECT f.* REPLACE (t.content AS symbol)
               FROM daily_availability_facts f, read_text('{}') t;",
            secret.display()
        ))
        .unwrap();
    let out = run_on(&env, &tampered, &["update", "--quiet"]);
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(
        err(&out).contains("a view named daily_availability"),
        "{}",
        err(&out)
    );
    // An export is local: no URL, no extension fetched.
    let out = env.run(&["export", "s3://bucket/prefix"]);
    assert_eq!(out.status.code(), Some(2), "{}", err(&out));
    assert!(err(&out).contains("not a local folder"), "{}", err(&out));
}

#[test]
fn names_cannot_act_on_a_terminal_or_a_spreadsheet() {
    let env = small();
    let day = day("2024-01-15");
    {
        let mut db = Database::open_for_write(&env.db).unwrap();
        let names = ["\u{1b}[31mREDUSDT", "=HYPERLINK(\"http://x\")USDT"];
        db.write_batch(&Batch {
            rows: names
                .iter()
                .map(|s| AvailabilityRow {
                    date: day,
                    symbol: s.to_string(),
                    seen: Seen::File {
                        size: 1,
                        last_modified: None,
                    },
                    probe_timestamp: chrono::Utc::now(),
                })
                .collect(),
            symbols: names
                .iter()
                .map(|s| SymbolUpdate {
                    symbol: s.to_string(),
                    class: Market::Um.classify(s),
                    first_file_date: Some(day),
                    last_file_date: Some(day),
                    checked: Some(DayRange::day(day)),
                })
                .collect(),
        })
        .unwrap();
        db.tidy().unwrap();
        db.close().unwrap();
    }
    let table = env.ok(&["query", "snapshot", "2024-01-15"]);
    assert!(!table.contains('\u{1b}'), "{table:?}");
    assert!(table.contains("\\u{1b}[31mREDUSDT"), "{table}");
    let csv = env.ok(&["query", "snapshot", "2024-01-15", "--format", "csv"]);
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://x\"\")USDT\""),
        "{csv}"
    );
    let json = env.ok(&["query", "snapshot", "2024-01-15", "--format", "json"]);
    assert!(json.contains("\\u001b[31mREDUSDT"), "{json}");
}

#[test]
fn symbol_names_are_checked_at_every_entry_and_duplicates_merged() {
    let env = small();
    for args in [
        &["backfill", "--symbols", "X/../BTCUSDT"][..],
        &["probe", "2024-01-15", "--symbols", ".."],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", err(&out));
        assert!(err(&out).contains("is not a symbol name"), "{}", err(&out));
        assert!(!env.db.exists());
    }
    let out = env.run(&[
        "backfill",
        "--end",
        "2024-03-01",
        "--symbols",
        "ETHUSDT,ethusdt,ETHUSDT",
    ]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(symbol_names(&env.db), ["ETHUSDT"]);
    // From a listing: folders `..` and `.` are skipped, never stored.
    let root = "data/futures/um/daily/klines/";
    let mut spec = small_spec();
    spec.stray_keys.extend([
        format!("{root}../1m/..-1m-2024-01-01.zip"),
        format!("{root}./1m/.-1m-2024-01-01.zip"),
    ]);
    let env = Env::new(Corpus::from_spec(&spec));
    env.ok(&["backfill", "--end", "2024-03-01", "--quiet"]);
    let names = symbol_names(&env.db);
    assert_eq!(names.len(), 8, "{names:?}");
}

#[test]
fn numbers_out_of_range_are_sentences_and_exit_2_before_anything_is_opened() {
    let env = small();
    for args in [
        vec!["update", "--lookback", "4000000000"],
        vec!["update", "--lookback", "10000"],
        vec!["scheduler", "stop", "--timeout", "18446744073709551615"],
        vec!["update", "--request-timeout", "0"],
        vec!["update", "--s3-url", "ftp://host/bucket"],
        vec!["update", "--data-url", "not a url"],
        vec!["query", "range", "2024-03-01", "2024-01-01"],
        vec!["query", "summary", "2024-03-01", "2024-01-01"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", err(&out));
        assert!(!err(&out).contains("panicked"), "{args:?}: {}", err(&out));
        assert!(!env.db.exists(), "{args:?}");
    }
    let out = env.run(&["query", "range", "2024-03-01", "2024-01-01"]);
    assert!(err(&out).contains("after the end"), "{}", err(&out));
}

/// A pipe whose reader is gone: writing to it fails with EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Stdio::from(writer)
}

#[test]
fn a_closed_pipe_is_the_same_for_every_format_and_for_stderr() {
    let env = small();
    env.ok(&["backfill", "--end", "2024-03-01", "--quiet"]);
    for format in ["table", "json", "csv"] {
        let out = env
            .cmd()
            .args(["query", "timeline", "BTCUSDT", "--format", format])
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{format}: {:?} {}",
            out.status,
            err(&out)
        );
    }
    // `2>&1 | head` with an error to report: the error goes nowhere, the code stays.
    for _ in 0..5 {
        let status = env
            .cmd()
            .args(["query", "timeline", "NOSUCHUSDT", "--format", "csv"])
            .stdout(closed_pipe())
            .stderr(closed_pipe())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(2), "{status:?}");
    }
}

#[test]
fn another_user_can_inspect_and_nothing_compared_is_a_failure() {
    // A bucket publishing through yesterday, so that `status` has nothing to report (the small
    // one's files end in 2024: an outage to `status`, exit 1).
    let mut spec = small_spec();
    spec.symbols[1].last = days_ago(1);
    let env = Env::new(Corpus::from_spec(&spec));
    env.ok(&["update", "--quiet"]);
    // A stale pid file of the scheduler's user; inspected by `nobody`, who may read it only.
    std::fs::write(
        binance_futures_availability::schedule::pid_path(&env.db),
        r#"{"pid":999999,"at":"02:00","started_at":"2026-01-01T00:00:00Z","log":null}"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The binary where `nobody` may run it (the target folder may be under /root).
    let bin = env.dir.path().join("bfa");
    std::fs::copy(env!("CARGO_BIN_EXE_binance-futures-availability"), &bin).unwrap();
    for args in [
        &["scheduler", "status"][..],
        &["status", "--format", "json"],
    ] {
        let mut cmd = Command::new(&bin);
        cmd.env("BFA_DB", &env.db)
            .env_remove("BFA_LOG")
            .args(args)
            .uid(65534)
            .gid(65534);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", err(&out));
    }
    let text = env.ok(&["scheduler", "status"]);
    assert!(text.contains("stale pid file of pid 999999"), "{text}");
    // exchangeInfo with no trading perpetual compares nothing: that fails.
    let empty = env.dir.path().join("exchange-info.json");
    std::fs::write(&empty, r#"{"symbols":[]}"#).unwrap();
    let out = env.run(&["validate", "--exchange-info", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to compare"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn stop_refuses_a_scheduler_of_another_pid_namespace() {
    let env = small();
    let path = binance_futures_availability::schedule::pid_path(&env.db);
    std::fs::write(
        &path,
        r#"{"pid":999999,"at":"02:00","started_at":"2026-01-01T00:00:00Z","log":null,"pid_ns":1}"#,
    )
    .unwrap();
    // Held as a running scheduler holds it.
    let held = std::fs::File::open(&path).unwrap();
    held.lock().unwrap();
    let out = env.run(&["scheduler", "stop"]);
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(err(&out).contains("another pid namespace"), "{}", err(&out));
}
