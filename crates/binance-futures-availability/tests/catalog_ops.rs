//! The catalog (ADR 0020) in the operator's commands: `status` reports it beside the database
//! (or says how to build one, never creating it), and `backup`, `restore` and `export` take it
//! with `--catalog` as they take the database — the same checks (a catalog of this binary, no
//! view or macro, every block readable), the same atomic publish and writer lock. All against
//! real files: catalogs crawled by the real binary from vision-sim.

use crate::common;

use std::path::{Path, PathBuf};

use binance_futures_availability::store::CATALOG_VERSION;
use chrono::{DateTime, Utc};
use common::*;
use serde_json::Value;
use vision_sim::Corpus;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn catalog_of(env: &Env) -> PathBuf {
    env.dir.path().join("catalog.duckdb")
}

/// A catalog with something in every table: a first crawl of the whole generated bucket, the
/// clock moved a week, and a `--full` crawl that records the scripted changes.
fn catalog_with_history() -> Env {
    let t0: DateTime<Utc> = "2026-11-19T09:00:00Z".parse().unwrap();
    let t1: DateTime<Utc> = "2026-11-26T09:00:00Z".parse().unwrap();
    let model = std::sync::Arc::new(vision_sim::Vision::new(0.0005));
    let env = Env::with_bucket(vision_sim::Bucket::Vision(model.at(t0)));
    env.ok(&["catalog", "update", "-q"]);
    env.sim.set_clock(t1);
    env.ok(&["catalog", "update", "-q", "--full"]);
    env
}

/// Every table of the catalog at `path`, each row as DuckDB prints it, rows sorted.
fn tables(path: &Path) -> Vec<(String, Vec<String>)> {
    let conn = read_only(path);
    let names: Vec<String> = {
        let mut stmt = conn
            .prepare(
                "SELECT table_name FROM duckdb_tables()
                  WHERE database_name = current_database() ORDER BY ALL",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    names
        .into_iter()
        .map(|t| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT CAST(x AS VARCHAR) AS r FROM \"{t}\" x ORDER BY r"
                ))
                .unwrap();
            let rows: Vec<String> = stmt
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            (t, rows)
        })
        .collect()
}

/// A change as compared: key, kind, size, previous size.
type ChangeRow = (String, String, Option<u64>, Option<u64>);

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn status_reports_the_catalog_and_says_how_to_build_one_when_there_is_none() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["update", "-q", "--no-trading"]);
    let catalog = catalog_of(&env);

    // No catalog: one line saying how to build it, nothing created, the exit code the
    // database's (this bucket stopped in 2024: stale, 1).
    let out = env.run(&["status"]);
    let before = out.status.code();
    assert_eq!(before, Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "catalog           none at {} (build it with `binance-futures-availability catalog update`)\n",
            catalog.display()
        )),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("catalog")).count(),
        1,
        "{text}"
    );
    let json = json_of(&stdout(&env.run(&["status", "--format", "json"])));
    assert_eq!(json["catalog"]["built"], Value::Bool(false), "{json}");
    assert_eq!(
        json["rows"],
        json_of(&stdout(&env.run(&["status", "--format", "json"])))["rows"]
    );
    assert!(!catalog.exists(), "status never creates a catalog");

    // Built: its counts, as the catalog's own answers give them.
    env.ok(&["catalog", "update", "-q"]);
    let datasets = json_of(&env.ok(&["catalog", "datasets", "--format", "json"]));
    let datasets = datasets.as_array().unwrap();
    let sum = |field: &str| -> i64 { datasets.iter().map(|d| d[field].as_i64().unwrap()).sum() };
    let strays = json_of(&env.ok(&["catalog", "strays", "--format", "json"]));
    let out = env.run(&["status"]);
    assert_eq!(
        out.status.code(),
        before,
        "the catalog never changes the exit"
    );
    let text = stdout(&out);
    for line in [
        format!(
            "catalog files     {} in {} datasets, {} symbol folders: {} bytes ({} without a CHECKSUM)",
            sum("files"),
            datasets.len(),
            sum("symbols"),
            sum("bytes"),
            sum("missing_checksums")
        ),
        format!(
            "catalog strays    {} keys outside the layout",
            strays.as_array().unwrap().len()
        ),
        "catalog changes   0 (0 added, 0 replaced, 0 removed)".to_string(),
    ] {
        assert!(text.contains(&line), "{line}\nnot in\n{text}");
    }
    assert!(text.contains("(every one listed whole)"), "{text}");
    assert!(text.contains("last crawl        ok, started "), "{text}");
    let json = json_of(&stdout(&env.run(&["status", "--format", "json"])));
    let c = &json["catalog"];
    assert_eq!(c["built"], Value::Bool(true));
    assert_eq!(c["files"].as_i64(), Some(sum("files")));
    assert_eq!(c["bytes"].as_i64(), Some(sum("bytes")));
    assert_eq!(c["datasets"].as_i64(), Some(datasets.len() as i64));
    assert_eq!(c["folders_never_listed"].as_i64(), Some(0));
    assert_eq!(c["last_crawl"]["status"], "ok");
    assert_eq!(c["last_crawl"]["error"], Value::Null);
    assert!(c["last_crawl"]["finished"].is_string(), "{c}");

    // Folders found and never listed whole, and a crawl killed while running, as a crawl
    // stopped half-way leaves them.
    let copy = env.dir.path().join("stopped.duckdb");
    std::fs::copy(&catalog, &copy).unwrap();
    {
        let conn = duckdb::Connection::open(&copy).unwrap();
        conn.execute_batch(
            "UPDATE folders SET listed_at = NULL
              WHERE prefix IN (SELECT prefix FROM folders ORDER BY prefix LIMIT 3);
             INSERT INTO crawls (id, started, status) VALUES (2, TIMESTAMP '2026-12-01 02:00:00', 'running');",
        )
        .unwrap();
    }
    let out = env
        .cmd()
        .env("BFA_CATALOG", &copy)
        .arg("status")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains(
            "(3 never listed whole: a crawl stopped before them; `catalog update` lists them)"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "last crawl        stopped without finishing (the next `catalog update` resumes it), started 2026-12-01 02:00:00 UTC: 0 folders"
        ),
        "{text}"
    );
    assert!(text.contains("last good crawl   ok, started "), "{text}");

    // --catalog names another file; one that is not a catalog is reported, and the database's
    // status (and exit) stay what they were.
    let elsewhere = env.dir.path().join("nowhere/catalog.duckdb");
    let out = env.run(&["status", "--catalog", elsewhere.to_str().unwrap()]);
    assert!(
        stdout(&out).contains(&format!(
            "catalog           none at {}",
            elsewhere.display()
        )),
        "{}",
        stdout(&out)
    );
    assert!(!elsewhere.exists() && !elsewhere.parent().unwrap().exists());
    let out = env.run(&["status", "--catalog", env.db.to_str().unwrap()]);
    assert_eq!(out.status.code(), before);
    assert!(
        stdout(&out).contains("is not a catalog of binance-futures-availability"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("symbols           "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_catalog_backup_restores_equal_to_the_original_in_every_table() {
    let env = catalog_with_history();
    let catalog = catalog_of(&env);
    let original = tables(&catalog);
    let rows = |name: &str| original.iter().find(|(t, _)| t == name).unwrap().1.len();
    for table in [
        "datasets", "folders", "leaves", "files", "strays", "changes", "crawls",
    ] {
        assert!(
            rows(table) > 0,
            "{table} is empty: the test would prove nothing"
        );
    }

    let backup = env.dir.path().join("backups/catalog-1.duckdb");
    std::fs::create_dir_all(backup.parent().unwrap()).unwrap();
    let out = env.run(&["backup", "--catalog", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "backed up {} to {}",
            catalog.display(),
            backup.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(tables(&backup), original);
    // Again needs --force.
    let out = env.run(&["backup", "--catalog", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    env.ok(&["backup", "--catalog", "--force", backup.to_str().unwrap()]);

    // BFA_CATALOG alone never turns a backup of the database into one of the catalog: there
    // is no database here, so that backup fails.
    let out = env
        .cmd()
        .env("BFA_CATALOG", &catalog)
        .args(["backup", env.dir.path().join("db-copy").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!env.dir.path().join("db-copy").exists());

    // Restored over the catalog in place (which needs --force), and to another path.
    let out = env.run(&["restore", "--catalog", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pass --force to replace it"),
        "{}",
        stderr(&out)
    );
    let datasets = env.ok(&["catalog", "datasets", "--format", "json"]);
    let changes = env.ok(&["catalog", "changes", "--format", "json"]);
    std::fs::remove_file(&catalog).unwrap();
    let out = env.run(&["restore", "--catalog", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(tables(&catalog), original);
    assert_eq!(
        env.ok(&["catalog", "datasets", "--format", "json"]),
        datasets
    );
    assert_eq!(env.ok(&["catalog", "changes", "--format", "json"]), changes);
    env.ok(&["restore", "--catalog", "--force", backup.to_str().unwrap()]);
    assert_eq!(tables(&catalog), original);
    let other = env.dir.path().join("other.duckdb");
    env.ok(&[
        "restore",
        &format!("--catalog={}", other.display()),
        backup.to_str().unwrap(),
    ]);
    assert_eq!(tables(&other), original);
    // A later crawl goes on from the restored catalog, recording nothing new.
    env.ok(&["catalog", "update", "-q"]);
    assert_eq!(env.ok(&["catalog", "changes", "--format", "json"]), changes);
}

#[test]
fn restore_refuses_a_file_that_is_not_a_catalog_or_holds_code_and_touches_nothing() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["update", "-q", "--no-trading"]);
    env.ok(&["catalog", "update", "-q"]);
    let catalog = catalog_of(&env);
    let original = tables(&catalog);
    let db_before = db_rows(&env.db);

    // An availability database is not a catalog, and a catalog not a database.
    let out = env.run(&["restore", "--catalog", "--force", env.db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a catalog of binance-futures-availability"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["restore", "--force", catalog.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not a binance-futures-availability database"),
        "{}",
        stderr(&out)
    );
    // Not a DuckDB file at all.
    let junk = env.dir.path().join("junk.duckdb");
    std::fs::write(
        &junk,
        b"not a database, only some bytes that look like nothing",
    )
    .unwrap();
    let out = env.run(&["restore", "--catalog", "--force", junk.to_str().unwrap()]);
    assert!(!out.status.success());

    // A catalog carrying a view in place of a table, or a macro: refused by restore, backup
    // and export before any of their SQL runs.
    for (name, code, what) in [
        (
            "view.duckdb",
            "DROP TABLE strays; CREATE VIEW strays AS SELECT * FROM read_csv('/etc/passwd');",
            "a view named strays",
        ),
        (
            "macro.duckdb",
            "CREATE MACRO lower(x) AS x;",
            "a macro named lower",
        ),
    ] {
        let hostile = env.dir.path().join(name);
        std::fs::copy(&catalog, &hostile).unwrap();
        duckdb::Connection::open(&hostile)
            .unwrap()
            .execute_batch(code)
            .unwrap();
        let hostile = hostile.to_str().unwrap();
        for args in [
            vec!["restore", "--catalog", "--force", hostile],
            vec!["backup", &format!("--catalog={hostile}"), "copy.duckdb"],
            vec!["export", &format!("--catalog={hostile}"), "exported"],
        ] {
            let out = env
                .cmd()
                .current_dir(env.dir.path())
                .args(&args)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(stderr(&out).contains(what), "{args:?}: {}", stderr(&out));
        }
        assert!(!env.dir.path().join("copy.duckdb").exists());
        assert!(!env.dir.path().join("exported").exists());
    }
    assert_eq!(
        tables(&catalog),
        original,
        "the catalog in place is untouched"
    );
    assert!(db_rows(&env.db) == db_before, "and so is the database");

    // No catalog to back up: the sentence says how to build one.
    let out = env.run(&[
        "backup",
        &format!("--catalog={}", env.dir.path().join("none.duckdb").display()),
        "b.duckdb",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("build it with `binance-futures-availability catalog update`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_catalog_export_reads_back_as_the_catalog_answers() {
    let env = catalog_with_history();
    let dest = env.dir.path().join("export");
    let out = env.run(&["export", "--catalog", dest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let names: Vec<&str> = binance_futures_availability::store::catalog_exported_files()
        .map(|(name, _)| name)
        .collect();
    for name in &names {
        assert!(
            stderr(&out).contains(&format!(
                "wrote {}",
                dest.join(format!("{name}.parquet")).display()
            )),
            "{}",
            stderr(&out)
        );
    }
    let help = env.ok(&["export", "--help"]);
    for name in &names {
        assert!(
            help.contains(name),
            "export --help does not name {name}:\n{help}"
        );
    }

    // Files: exactly what `catalog files` answers for every dataset, keys rebuilt.
    let mut want: Vec<(String, u64, String, bool)> = Vec::new();
    let datasets = json_of(&env.ok(&["catalog", "datasets", "--format", "json"]));
    for d in datasets.as_array().unwrap() {
        let files = json_of(&env.ok(&[
            "catalog",
            "files",
            d["dataset"].as_str().unwrap(),
            "--format",
            "json",
        ]));
        for f in files.as_array().unwrap() {
            want.push((
                f["key"].as_str().unwrap().to_string(),
                f["size"].as_u64().unwrap(),
                f["last_modified"].as_str().unwrap().to_string(),
                f["checksum"].as_bool().unwrap(),
            ));
        }
    }
    want.sort();
    assert!(want.len() > 1_000, "{}", want.len());
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let parquet = |name: &str| dest.join(format!("{name}.parquet")).display().to_string();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT key, size, strftime(last_modified, '%Y-%m-%dT%H:%M:%S.%gZ'), checksum
               FROM read_parquet('{}') ORDER BY key",
            parquet("catalog_files")
        ))
        .unwrap();
    let got: Vec<(String, u64, String, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // The CLI prints whole seconds without a fraction; compare instants, not spellings.
    let instant = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            (&g.0, g.1, instant(&g.2), g.3),
            (&w.0, w.1, instant(&w.2), w.3)
        );
    }

    // Changes: what `catalog changes` answers.
    let changes = json_of(&env.ok(&["catalog", "changes", "--format", "json"]));
    let changes = changes.as_array().unwrap();
    assert!(changes.len() > 100, "{}", changes.len());
    let mut stmt = conn
        .prepare(&format!(
            "SELECT key, kind, size, previous_size FROM read_parquet('{}') ORDER BY seen, key",
            parquet("catalog_changes")
        ))
        .unwrap();
    let got: Vec<ChangeRow> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want: Vec<ChangeRow> = changes
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
                c["size"].as_u64(),
                c["previous_size"].as_u64(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let count = |name: &str| -> i64 {
        conn.query_row(
            &format!("SELECT count(*) FROM read_parquet('{}')", parquet(name)),
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let strays = json_of(&env.ok(&["catalog", "strays", "--format", "json"]));
    assert_eq!(
        count("catalog_strays") as usize,
        strays.as_array().unwrap().len()
    );
    assert_eq!(count("catalog_crawls"), 2);
    assert!(count("catalog_folders") > 100);

    // Again needs --force; CSV beside it.
    let out = env.run(&["export", "--catalog", dest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    env.ok(&[
        "export",
        "--catalog",
        "--format",
        "csv",
        dest.to_str().unwrap(),
    ]);
    let csv = std::fs::read_to_string(dest.join("catalog_files.csv")).unwrap();
    assert!(
        csv.starts_with(
            "key,symbol,period,size,last_modified,checksum,dataset,interval,market,partition,type\n"
        ),
        "{}",
        &csv[..200.min(csv.len())]
    );
    assert_eq!(csv.lines().count(), count("catalog_files") as usize + 1);
}

/// A catalog of version 1 (Last-Modified in milliseconds, without `modified_ms`) is refused by
/// the questions with the sentence that says what to run, and `catalog update` migrates it: every
/// answer is what it was.
#[test]
fn a_version_1_catalog_is_refused_by_questions_and_migrated_by_the_next_update() {
    let env = catalog_with_history();
    let catalog = catalog_of(&env);
    let answers = |env: &Env| {
        [
            vec!["catalog", "files", "um/daily/klines/1m", "--format", "json"],
            vec!["catalog", "changes", "--format", "json"],
            vec!["catalog", "lag", "um/daily/klines/1m", "--format", "json"],
        ]
        .map(|args| env.ok(&args))
    };
    let before = answers(&env);
    assert!(
        before[0].len() > 1000 && before[1].contains("replaced"),
        "{before:?}"
    );
    {
        let conn = duckdb::Connection::open(&catalog).unwrap();
        conn.execute_batch(
            "CREATE TABLE v1 AS SELECT leaf, period, size, modified * 1000 + modified_ms AS modified,
                    checksum FROM files;
             DROP TABLE files; ALTER TABLE v1 RENAME TO files;
             UPDATE catalog_version SET version = 1;",
        )
        .unwrap();
    }
    let out = env.run(&["catalog", "files", "um/daily/klines/1m"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "{} is a catalog of version 1, older than {CATALOG_VERSION}; run \
             `binance-futures-availability catalog update` once to migrate it",
            catalog.display()
        )),
        "{}",
        stderr(&out)
    );
    env.ok(&["catalog", "update", "-q"]);
    let version: i32 = read_only(&catalog)
        .query_row("SELECT max(version) FROM catalog_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, CATALOG_VERSION);
    assert_eq!(answers(&env), before);
}

/// A catalog of version 2 (`leaf_stats` without `last_change`) is refused by the questions and
/// migrated by the next update, which fills each dataset's last change from the history: the
/// answer is what it was, `last_change` included.
#[test]
fn a_version_2_catalog_is_migrated_with_each_datasets_last_change() {
    let env = catalog_with_history();
    let catalog = catalog_of(&env);
    let datasets = |env: &Env| env.ok(&["catalog", "datasets", "--format", "json"]);
    let before = datasets(&env);
    assert!(before.contains("\"last_change\": \"20"), "{before}");
    {
        let conn = duckdb::Connection::open(&catalog).unwrap();
        conn.execute_batch(
            "ALTER TABLE leaf_stats DROP COLUMN last_change; UPDATE catalog_version SET version = 2;",
        )
        .unwrap();
    }
    let out = env.run(&["catalog", "datasets"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!(
        "is a catalog of version 2, older than {CATALOG_VERSION}"
    )));
    // The next update migrates it (the bucket unchanged since, it records nothing new).
    env.ok(&["catalog", "update", "-q"]);
    assert_eq!(datasets(&env), before);
}

/// The changes the tests below write by hand, all seen in 2030, as CSV.
const CHANGES_SINCE_2030: [&str; 6] = [
    "catalog",
    "changes",
    "--since",
    "2030-01-01",
    "--format",
    "csv",
];

/// Many changes are streamed in bounded memory: 600,000 changes seen within one minute, written
/// into a crawled catalog, are printed by `catalog changes --format csv` all, by seen then key,
/// while the process's peak RSS stays under what holding them takes. They are read in runs of
/// at most ~4 × 10⁵ changes, or one `seen`'s: 410,000 share one instant (a run alone, more
/// than a run may hold), the rest follow it 4 a millisecond — so the span is cut into slices,
/// the first slice (the instant and what follows within its width) cut again, and the others
/// joined into runs.
#[test]
fn many_changes_stream_in_bounded_memory() {
    let env = catalog_with_history();
    let catalog = catalog_of(&env);
    {
        // Each the replacement of a stored file (its leaf and period), so every key is one of
        // the bucket.
        let conn = duckdb::Connection::open(&catalog).unwrap();
        let known: i64 = conn
            .query_row("SELECT least(count(*), 50000) FROM files", [], |r| r.get(0))
            .unwrap();
        assert!(known > 1000, "{known} files");
        conn.execute_batch(&format!(
            "CREATE TEMP TABLE known AS
                 SELECT row_number() OVER () - 1 AS n, leaf, period FROM files LIMIT {known};
             INSERT INTO changes
             SELECT TIMESTAMP '2030-01-01 07:00:00'
                        + to_milliseconds(CASE WHEN r.i < 410000 THEN 0
                                               ELSE 1 + (r.i - 410000) // 4 END),
                    k.leaf, k.period, 'replaced', 1000 + r.i, 3600000, 999, 1800000
               FROM range(600000) r(i) JOIN known k ON k.n = r.i % {known};"
        ))
        .unwrap();
    }
    let out_path = env.dir.path().join("changes.csv");
    let child = env
        .cmd()
        .args(CHANGES_SINCE_2030)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (status, peak_mb) = wait_with_peak_rss(child);
    assert!(status.success());
    let text = std::fs::read_to_string(&out_path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("seen,key,kind,size,last_modified,previous_size,previous_last_modified")
    );
    // By the time, not its text: a whole second is printed without its `.000`.
    let rows: Vec<(DateTime<Utc>, &str)> = lines
        .map(|l| {
            let mut cells = l.split(',');
            let seen = cells.next().unwrap().parse().unwrap();
            (seen, cells.next().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 600_000);
    assert!(
        rows.windows(2).all(|w| w[0] <= w[1]),
        "rows by seen then key"
    );
    // Holding the 600,000 at once (runs of any size) measured ~190 MB (session 19); read in
    // runs — the largest the 410,000 of one instant, beside at most one other — stays under.
    assert!(peak_mb < 130, "peak RSS {peak_mb} MB");

    // An answer its reader ends early (a closed pipe, a row refused) ends the reading of the
    // runs after it, read on a second connection beside it: the error comes back, at the
    // change that raised it, and nothing waits forever.
    use binance_futures_availability::question::catalog::ChangesQuestion;
    use binance_futures_availability::store::{Catalog, StoreError};
    #[derive(Debug, PartialEq)]
    enum Ended {
        Early,
        Store,
    }
    impl From<StoreError> for Ended {
        fn from(_: StoreError) -> Ended {
            Ended::Store
        }
    }
    let kept = Catalog::open(&catalog).unwrap();
    let q = ChangesQuestion::new("2030-01-01".parse().ok(), None, None, None).unwrap();
    let listing = kept.change_listing(q.query()).unwrap();
    assert_eq!(listing.changes, 600_000);
    for stop_at in [1, 450_000] {
        let mut n = 0;
        let ended = kept.each_change(&listing, |_| {
            n += 1;
            if n == stop_at {
                Err(Ended::Early)
            } else {
                Ok(())
            }
        });
        assert_eq!((ended, n), (Err(Ended::Early), stop_at));
    }
    // Asked again after those, the handle answers whole and as the CLI did: its listing kept,
    // its second connection back from the reading that ended early and read on again.
    let again = kept.change_listing(q.query()).unwrap();
    assert_eq!(again, listing);
    for _ in 0..2 {
        let mut keys = Vec::with_capacity(rows.len());
        kept.each_change(&again, |c| {
            keys.push((c.seen, c.file.key()));
            Ok::<_, StoreError>(())
        })
        .unwrap();
        assert_eq!(keys.len(), rows.len());
        assert!(
            keys.iter()
                .zip(&rows)
                .all(|((s, k), (t, l))| s == t && k == l)
        );
    }
}

/// The key of `symbol`'s file of `period` in `dataset` (`um/daily/klines/1m`, `spot/daily/trades`),
/// as the bucket spells it: this file's own, not the code under test.
fn key_of(dataset: &str, symbol: &str, period: &str) -> String {
    let parts: Vec<&str> = dataset.split('/').collect();
    let root = match parts[0] {
        "spot" | "option" => format!("data/{}", parts[0]),
        market => format!("data/futures/{market}"),
    };
    match parts[..] {
        [_, partition, ty, interval] => {
            format!("{root}/{partition}/{ty}/{symbol}/{interval}/{symbol}-{interval}-{period}.zip")
        }
        [_, partition, ty] => {
            format!("{root}/{partition}/{ty}/{symbol}/{symbol}-{ty}-{period}.zip")
        }
        _ => unreachable!("{dataset}"),
    }
}

/// Changes seen at one instant sort by key, whatever order their leaves' ids are in: 42 leaves
/// added by hand, their ids in the reverse of their (dataset, symbol) order — across markets,
/// partitions, intervals and types, with symbols whose folders sort apart from their texts
/// (`BTC-/` before `BTC/`: `-` is below `/`; `BTC_` after `BTC0`) — each changed twice at one
/// instant, are printed in their keys' byte order. A read-only handle then answers three
/// questions in turn, each equal to a fresh handle's: what it keeps between questions (the
/// leaves, prepared statements) answers as a first question does.
#[test]
fn changes_at_one_instant_sort_by_key_whatever_their_leaves_ids() {
    use binance_futures_availability::question::catalog::{ChangesQuestion, parse_kind};
    use binance_futures_availability::store::Catalog;
    let env = catalog_with_history();
    let catalog = catalog_of(&env);
    let datasets = [
        "spot/daily/klines/1m",
        "spot/daily/trades",
        "um/daily/aggTrades",
        "um/daily/klines/1h",
        "um/daily/klines/1m",
        "um/monthly/klines/1m",
    ];
    let symbols = ["AAA", "BTC", "BTC-", "BTC0", "BTC_", "ZZZ", "币安USDT"];
    let mut leaves: Vec<(&str, &str)> = datasets
        .iter()
        .flat_map(|d| symbols.iter().map(move |s| (*d, *s)))
        .collect();
    leaves.reverse();
    let mut want = Vec::new();
    {
        let conn = duckdb::Connection::open(&catalog).unwrap();
        for (dataset, symbol) in &leaves {
            let (periods, texts) = if dataset.contains("/monthly/") {
                ([2029 * 12 + 10, 2029 * 12 + 11], ["2029-11", "2029-12"])
            } else {
                // 2029-12-30 and 2029-12-31, days since 1970-01-01.
                ([21913, 21914], ["2029-12-30", "2029-12-31"])
            };
            let added = conn
                .execute(
                    "INSERT INTO leaves SELECT (SELECT max(id) + 1 FROM leaves), id, ?, ?
                       FROM datasets WHERE name = ?",
                    duckdb::params![symbol, periods[1], dataset],
                )
                .unwrap();
            assert_eq!(added, 1, "{dataset} is a dataset of the catalog");
            for (period, text) in periods.iter().zip(texts) {
                conn.execute(
                    "INSERT INTO changes SELECT TIMESTAMP '2030-01-01 07:00:00.123456',
                            max(id), ?, 'added', 1000, 3600000, NULL, NULL FROM leaves",
                    duckdb::params![period],
                )
                .unwrap();
                want.push(key_of(dataset, symbol, text));
            }
        }
    }
    want.sort();
    let csv = env.ok(&CHANGES_SINCE_2030);
    let got: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(got, want);

    let answer = |c: &Catalog, q: &ChangesQuestion| -> Vec<String> {
        let listing = c.change_listing(q.query()).unwrap();
        let mut rows = Vec::new();
        c.each_change(&listing, |r| {
            rows.push(format!(
                "{} {} {} {:?}",
                r.seen,
                r.file,
                r.kind.as_str(),
                r.size
            ));
            Ok::<_, binance_futures_availability::store::StoreError>(())
        })
        .unwrap();
        assert_eq!(rows.len() as u64, listing.changes);
        rows
    };
    let day = |s: &str| s.parse().ok();
    let questions = [
        ChangesQuestion::new(day("2030-01-01"), None, None, None).unwrap(),
        ChangesQuestion::new(
            day("2026-11-01"),
            None,
            "um/daily/klines/1m".parse().ok(),
            None,
        )
        .unwrap(),
        ChangesQuestion::new(None, day("2029-12-31"), None, parse_kind("removed").ok()).unwrap(),
        ChangesQuestion::new(day("2030-01-01"), None, None, None).unwrap(),
    ];
    let kept = Catalog::open(&catalog).unwrap();
    for (n, q) in questions.iter().enumerate() {
        let rows = answer(&kept, q);
        assert!(!rows.is_empty(), "question {n}");
        assert_eq!(
            rows,
            answer(&Catalog::open(&catalog).unwrap(), q),
            "question {n}"
        );
    }
    assert_eq!(answer(&kept, &questions[0]).len(), want.len());
}

/// Waits for `child`; its exit and its peak RSS in MB (`common::peak_rss_kb`), as last read
/// before it exited. Reading every 5 ms can miss a last rise before the exit, never count
/// another process's memory (`wait4` counted 406 MB once beside a run of ~87 MB); the changes
/// are read in runs of one size, so the first run shows it.
fn wait_with_peak_rss(mut child: std::process::Child) -> (std::process::ExitStatus, u64) {
    let mut peak_kb: u64 = 0;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak_kb / 1024);
        }
        peak_kb = peak_kb.max(crate::common::peak_rss_kb(child.id()).unwrap_or(0));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A dataset as `catalog datasets` answers and the files and changes tables sum it: name,
/// symbols, files, bytes, missing CHECKSUMs, last change (µs since 1970).
type Dataset = (String, i64, i64, i64, i64, Option<i64>);

/// `datasets` and `symbols` answer from the sums kept at publish (`leaf_stats`), which must be
/// the files' own after every update: checked against the files and changes tables themselves,
/// by SQL written here, after a first crawl (no change: every `last_change` null) and after a
/// second that added, replaced and removed files (each dataset's newest change).
#[test]
fn datasets_and_symbols_equal_the_files_after_every_update() {
    let mut changed = Vec::new();
    let t0: DateTime<Utc> = "2026-11-19T09:00:00Z".parse().unwrap();
    let t1: DateTime<Utc> = "2026-11-26T09:00:00Z".parse().unwrap();
    let model = std::sync::Arc::new(vision_sim::Vision::new(0.0005));
    let env = Env::with_bucket(vision_sim::Bucket::Vision(model.at(t0)));
    let catalog = catalog_of(&env);
    let mut check = |env: &Env| {
        let conn = read_only(&catalog);
        let mut stmt = conn
            .prepare(
                "SELECT d.name, count(DISTINCT l.symbol), count(*), sum(f.size)::BIGINT,
                        count(*) FILTER (WHERE NOT f.checksum),
                        (SELECT epoch_us(max(c.seen)) FROM changes c
                           JOIN leaves k ON k.id = c.leaf WHERE k.dataset = d.id)
                   FROM files f JOIN leaves l ON l.id = f.leaf JOIN datasets d ON d.id = l.dataset
                  GROUP BY d.name, d.id ORDER BY d.name",
            )
            .unwrap();
        let want: Vec<Dataset> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let json = json_of(&env.ok(&["catalog", "datasets", "--format", "json"]));
        let got: Vec<Dataset> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["dataset"].as_str().unwrap().to_string(),
                    d["symbols"].as_i64().unwrap(),
                    d["files"].as_i64().unwrap(),
                    d["bytes"].as_i64().unwrap(),
                    d["missing_checksums"].as_i64().unwrap(),
                    d["last_change"]
                        .as_str()
                        .map(|t| t.parse::<DateTime<Utc>>().unwrap().timestamp_micros()),
                )
            })
            .collect();
        assert_eq!(got, want);
        changed.push(got.iter().filter(|d| d.5.is_some()).count());
        let mut stmt = conn
            .prepare(
                "SELECT l.symbol, count(*), sum(f.size)::BIGINT, max(f.period) - min(f.period) + 1
                   FROM files f JOIN leaves l ON l.id = f.leaf JOIN datasets d ON d.id = l.dataset
                  WHERE d.name = 'um/daily/klines/1m' GROUP BY l.symbol ORDER BY l.symbol",
            )
            .unwrap();
        let want: Vec<(String, i64, i64, i64)> = stmt
            .query_map([], |r| {
                let (files, span): (i64, i64) = (r.get(1)?, r.get(3)?);
                Ok((r.get(0)?, files, r.get(2)?, span - files))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let json = json_of(&env.ok(&[
            "catalog",
            "symbols",
            "um/daily/klines/1m",
            "--format",
            "json",
        ]));
        let got: Vec<(String, i64, i64, i64)> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["symbol"].as_str().unwrap().to_string(),
                    s["files"].as_i64().unwrap(),
                    s["bytes"].as_i64().unwrap(),
                    s["gaps"].as_i64().unwrap(),
                )
            })
            .collect();
        assert!(!want.is_empty());
        assert_eq!(got, want);
    };
    env.ok(&["catalog", "update", "-q"]);
    check(&env);
    env.sim.set_clock(t1);
    env.ok(&["catalog", "update", "-q", "--full"]);
    assert!(env.ok(&["catalog", "changes"]).contains("removed"));
    check(&env);
    assert!(changed[0] == 0 && changed[1] > 0, "{changed:?}");
}

/// A leaf whose every file was removed still counts in its dataset's last change: the removals
/// are the dataset's newest event, so `catalog datasets` says when they were seen, not when
/// the change before them was (a leaf without files had dropped out of `leaf_stats`, and its
/// `last_change` with it). Its symbol is gone from `symbols`, and from the dataset's count.
#[test]
fn a_dataset_whose_last_change_removed_a_whole_leaf_shows_the_removal() {
    let before = Corpus::from_spec(&small_spec());
    let env = Env::new(before.clone());
    env.ok(&["catalog", "update", "-q"]);
    let dataset = "um/daily/klines/1m";
    let summary = |env: &Env| -> Value {
        let all = json_of(&env.ok(&["catalog", "datasets", "--format", "json"]));
        all.as_array()
            .unwrap()
            .iter()
            .find(|d| d["dataset"] == dataset)
            .cloned()
            .unwrap()
    };
    // Next day: one file added to the dataset (BTCUSDT's next day).
    let btc = "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-";
    let mut added = before
        .get(&format!("{btc}2024-03-01.zip"))
        .cloned()
        .unwrap();
    added.key = format!("{btc}2024-03-02.zip");
    added.last_modified = "2024-03-03T07:00:00Z".parse().unwrap();
    let mut next = before.clone();
    next.insert(added);
    env.sim.with_corpus(|c| *c = next.clone());
    env.ok(&["catalog", "update", "-q", "--full"]);
    let added_seen = summary(&env)["last_change"].as_str().unwrap().to_string();
    // The day after: every file of ETHUSDT's folder removed, nothing else.
    let gone = "data/futures/um/daily/klines/ETHUSDT/1m/";
    let keys: Vec<String> = next
        .objects()
        .iter()
        .filter(|o| o.key.starts_with(gone))
        .map(|o| o.key.clone())
        .collect();
    assert!(keys.len() > 100, "{} files", keys.len());
    for k in &keys {
        next.remove(k);
    }
    let symbols_before = summary(&env)["symbols"].as_i64().unwrap();
    env.sim.with_corpus(|c| *c = next.clone());
    env.ok(&["catalog", "update", "-q", "--full"]);
    let changes = json_of(&env.ok(&[
        "catalog",
        "changes",
        "--dataset",
        dataset,
        "--format",
        "json",
    ]));
    let newest = changes.as_array().unwrap().last().unwrap().clone();
    assert_eq!(newest["kind"], "removed", "{newest}");
    assert!(
        newest["key"].as_str().unwrap().starts_with(gone),
        "{newest}"
    );
    let now = summary(&env);
    assert_eq!(now["last_change"], newest["seen"], "{now}");
    assert_ne!(now["last_change"].as_str().unwrap(), added_seen);
    assert_eq!(
        now["symbols"].as_i64().unwrap(),
        symbols_before - 1,
        "{now}"
    );
    let symbols = env.ok(&["catalog", "symbols", dataset]);
    assert!(!symbols.contains("ETHUSDT"), "{symbols}");
}

/// A catalog whose leaves' ids have gaps (edited by hand, or written by another tool: its
/// writer gives ids one after the other) answers as the one its writer made: ids three apart
/// (a leaf found through a vector over their range) and 102 apart (searched for) give the same
/// changes, in the same order, and the same files. A change of a leaf that no leaf is, is
/// refused with a sentence naming it (exit 1), never printed without its key.
#[test]
fn leaves_ids_with_gaps_answer_as_dense_ones_and_a_change_of_no_leaf_is_refused() {
    let env = catalog_with_history();
    let catalog = catalog_of(&env);
    let ask = || {
        (
            env.ok(&["catalog", "changes", "-q", "--format", "csv"]),
            env.ok(&[
                "catalog",
                "files",
                "um/daily/klines/1m",
                "-q",
                "--format",
                "csv",
            ]),
        )
    };
    let dense = ask();
    assert!(dense.0.lines().count() > 10, "{}", dense.0);
    assert!(dense.1.lines().count() > 10, "{}", dense.1);
    let renumber = |times: i32| {
        let conn = duckdb::Connection::open(&catalog).unwrap();
        conn.execute_batch(&format!(
            "UPDATE leaves SET id = id * {times};
             UPDATE files SET leaf = leaf * {times};
             UPDATE leaf_stats SET leaf = leaf * {times};
             UPDATE changes SET leaf = leaf * {times};"
        ))
        .unwrap();
    };
    renumber(3);
    assert_eq!(ask(), dense, "ids three apart");
    renumber(34);
    assert_eq!(ask(), dense, "ids 102 apart");

    let gone: i32 = {
        let conn = duckdb::Connection::open(&catalog).unwrap();
        let leaf = conn
            .query_row("SELECT max(leaf) FROM changes", [], |r| r.get(0))
            .unwrap();
        conn.execute("DELETE FROM leaves WHERE id = ?", [leaf])
            .unwrap();
        leaf
    };
    let out = env.run(&["catalog", "changes", "-q", "--format", "csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("a change of leaf {gone}, which no leaf is")),
        "{}",
        stderr(&out)
    );
}
