//! `catalog export` (issue 27, item 5): the catalog as Hive-partitioned Parquet that other
//! engines read as one table. Read back with the stock DuckDB (the `duckdb` crate) and with
//! polars in the real Python interpreter, and compared row by row, in order, with `catalog
//! files --format json` for every dataset; its refusals of bad destinations (before anything is
//! opened); and an export that fails or is killed leaves no destination. Against catalogs
//! crawled by the real binary from vision-sim.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use common::*;
use serde_json::Value;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn catalog_of(env: &Env) -> PathBuf {
    env.dir.path().join("catalog.duckdb")
}

/// A catalog of the generated whole bucket (every market, ~300 datasets) with history: a first
/// crawl, the clock moved a week, and a `--full` crawl that records the scripted changes.
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

/// One exported file as compared: key, symbol, period, size, Last-Modified in milliseconds,
/// checksum, then market, partition, type and interval.
type FileRow = (
    String,
    String,
    String,
    u64,
    i64,
    bool,
    String,
    String,
    String,
    Option<String>,
);

/// What `catalog files DATASET --format json` answers for every dataset, in its order, with
/// the partition columns the dataset's name gives.
fn cli_files(env: &Env) -> BTreeMap<String, Vec<FileRow>> {
    let datasets = json_of(&env.ok(&["catalog", "datasets", "--format", "json"]));
    let mut out = BTreeMap::new();
    for d in datasets.as_array().unwrap() {
        let name = d["dataset"].as_str().unwrap().to_string();
        let parts: Vec<&str> = name.split('/').collect();
        let files = json_of(&env.ok(&["catalog", "files", &name, "--format", "json"]));
        let rows = files
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["key"].as_str().unwrap().to_string(),
                    f["symbol"].as_str().unwrap().to_string(),
                    f["period"].as_str().unwrap().to_string(),
                    f["size"].as_u64().unwrap(),
                    f["last_modified"]
                        .as_str()
                        .unwrap()
                        .parse::<DateTime<Utc>>()
                        .unwrap()
                        .timestamp_millis(),
                    f["checksum"].as_bool().unwrap(),
                    parts[0].to_string(),
                    parts[1].to_string(),
                    parts[2].to_string(),
                    parts.get(3).map(|s| s.to_string()),
                )
            })
            .collect();
        out.insert(name, rows);
    }
    out
}

/// Rows of `(dataset, FileRow)` grouped by dataset, each dataset's rows in the order read.
fn by_dataset(rows: Vec<(String, FileRow)>) -> BTreeMap<String, Vec<FileRow>> {
    let mut out: BTreeMap<String, Vec<FileRow>> = BTreeMap::new();
    for (dataset, row) in rows {
        out.entry(dataset).or_default().push(row);
    }
    out
}

/// The export's files read back by the stock DuckDB as one Hive-partitioned table, each
/// file's rows in the order stored.
fn duckdb_files(dest: &Path) -> Vec<(String, FileRow)> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let glob = dest.join("files/**/*.parquet").display().to_string();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT dataset, key, symbol, period, size, epoch_ms(last_modified), checksum,
                    market, \"partition\", \"type\", \"interval\"
               FROM read_parquet('{glob}', hive_partitioning = true, filename = true,
                                 file_row_number = true)
              ORDER BY filename, file_row_number"
        ))
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            (
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ),
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The same with polars in the real Python interpreter (`scan_parquet` with Hive partitions).
fn polars_files(dest: &Path) -> Vec<(String, FileRow)> {
    let script = r#"
import json, sys
import polars as pl
df = pl.scan_parquet(sys.argv[1] + "/files/**/*.parquet", hive_partitioning=True).collect()
rows = df.select(
    "dataset", "key", "symbol", "period", "size",
    pl.col("last_modified").dt.epoch("ms").alias("ms"),
    "checksum", "market", "partition", "type", "interval",
).rows()
json.dump(rows, sys.stdout)
"#;
    let out = output_ok(
        Command::new(common::python())
            .arg("-c")
            .arg(script)
            .arg(dest),
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .map(|r| {
            let s = |i: usize| r[i].as_str().unwrap().to_string();
            (
                s(0),
                (
                    s(1),
                    s(2),
                    s(3),
                    r[4].as_u64().unwrap(),
                    r[5].as_i64().unwrap(),
                    r[6].as_bool().unwrap(),
                    s(7),
                    s(8),
                    s(9),
                    r[10].as_str().map(str::to_string),
                ),
            )
        })
        .collect()
}

/// Each dataset's rows as `catalog files` prints them, for the first difference.
fn assert_same(
    engine: &str,
    got: &BTreeMap<String, Vec<FileRow>>,
    want: &BTreeMap<String, Vec<FileRow>>,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{engine}: the datasets"
    );
    for (dataset, rows) in want {
        let read = &got[dataset];
        assert_eq!(read.len(), rows.len(), "{engine}: {dataset}'s files");
        for (i, (g, w)) in read.iter().zip(rows).enumerate() {
            assert_eq!(
                g, w,
                "{engine}: {dataset}, row {i} (rows in the CLI's order)"
            );
        }
    }
}

#[test]
fn an_export_reads_back_in_duckdb_and_polars_as_catalog_files_answers_every_dataset() {
    let env = catalog_with_history();
    let dest = env.dir.path().join("exported");
    // Every dataset of the bucket, under a small memory limit: one partition's COPY at a time.
    let out = env
        .cmd()
        .env("BFA_MEMORY_LIMIT", "64MB")
        .args(["catalog", "export", dest.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let want = cli_files(&env);
    let total: usize = want.values().map(Vec::len).sum();
    assert!(
        want.len() > 100 && total > 10_000,
        "{} datasets, {total} files",
        want.len()
    );
    assert!(
        stderr(&out).contains(&format!(
            "wrote {}: {total} files of {} datasets in ",
            dest.display(),
            want.len()
        )),
        "{}",
        stderr(&out)
    );
    // One folder per market, partition and type, one file in each.
    let partitions: std::collections::BTreeSet<String> = want
        .keys()
        .map(|d| {
            let p: Vec<&str> = d.split('/').collect();
            format!(
                "files/market={}/partition={}/type={}/files-0000.parquet",
                p[0], p[1], p[2]
            )
        })
        .collect();
    for p in &partitions {
        assert!(dest.join(p).is_file(), "{p}");
    }
    assert!(!common::sibling(&dest, ".partial").exists());

    assert_same("duckdb", &by_dataset(duckdb_files(&dest)), &want);
    assert_same("polars", &by_dataset(polars_files(&dest)), &want);

    // The columns, in order, are one definition: the partitioned table's and `export
    // --catalog`'s flat file's are the same, and so are their rows.
    let flat = env.dir.path().join("flat");
    env.ok(&["export", "--catalog", flat.to_str().unwrap()]);
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let columns = |from: &str| -> Vec<String> {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT column_name FROM (DESCRIBE SELECT * FROM {from})"
            ))
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let partitioned = format!(
        "read_parquet('{}', hive_partitioning = true)",
        dest.join("files/**/*.parquet").display()
    );
    let flat_files = format!(
        "read_parquet('{}')",
        flat.join("catalog_files.parquet").display()
    );
    assert_eq!(
        columns(&partitioned),
        [
            "key",
            "symbol",
            "period",
            "size",
            "last_modified",
            "checksum",
            "dataset",
            "interval",
            "market",
            "partition",
            "type"
        ]
    );
    assert_eq!(columns(&partitioned), columns(&flat_files));
    let differ: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM ((SELECT * FROM {partitioned} EXCEPT ALL SELECT * FROM {flat_files})
                 UNION ALL (SELECT * FROM {flat_files} EXCEPT ALL SELECT * FROM {partitioned}))"
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(differ, 0);

    // Changes and strays: what `catalog changes` and `catalog strays` answer, in their order.
    let changes = json_of(&env.ok(&["catalog", "changes", "--format", "json"]));
    let changes = changes.as_array().unwrap();
    assert!(changes.len() > 100, "{}", changes.len());
    let mut stmt = conn
        .prepare(&format!(
            "SELECT key, kind, size, previous_size FROM read_parquet('{}')",
            dest.join("changes.parquet").display()
        ))
        .unwrap();
    let got: Vec<(String, String, Option<u64>, Option<u64>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want_changes: Vec<(String, String, Option<u64>, Option<u64>)> = changes
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
    assert_eq!(got, want_changes);
    let strays = json_of(&env.ok(&["catalog", "strays", "--format", "json"]));
    let strays: i64 = strays.as_array().unwrap().len() as i64;
    let exported: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM read_parquet('{}')",
                dest.join("strays.parquet").display()
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(exported, strays);
    let manifest = json_of(&std::fs::read_to_string(dest.join("_manifest.json")).unwrap());
    assert_eq!(manifest["contents"]["files"].as_u64(), Some(total as u64));
    assert_eq!(manifest["files"], "files/**/*.parquet");

    // A selection: one market, or named datasets; CSV in the same layout.
    let um = env.dir.path().join("um");
    env.ok(&[
        "catalog",
        "export",
        "--market",
        "um",
        "--format",
        "csv",
        um.to_str().unwrap(),
    ]);
    let markets: Vec<String> = std::fs::read_dir(um.join("files"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(markets, ["market=um"]);
    let one = env.dir.path().join("one");
    env.ok(&[
        "catalog",
        "export",
        "--dataset",
        "um/daily/klines/1m",
        "--dataset",
        "spot/monthly/aggTrades",
        one.to_str().unwrap(),
    ]);
    let got = by_dataset(duckdb_files(&one));
    let want_one: BTreeMap<String, Vec<FileRow>> = want
        .iter()
        .filter(|(d, _)| ["um/daily/klines/1m", "spot/monthly/aggTrades"].contains(&d.as_str()))
        .map(|(d, r)| (d.clone(), r.clone()))
        .collect();
    assert_same("duckdb, two datasets", &got, &want_one);

    // Again over an earlier export needs --force, and replaces it whole.
    let out = env.run(&["catalog", "export", one.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    std::fs::write(one.join("stale.txt"), "from before").unwrap();
    env.ok(&[
        "catalog",
        "export",
        "--force",
        "--market",
        "cm",
        one.to_str().unwrap(),
    ]);
    assert!(!one.join("stale.txt").exists());
    assert!(!one.join("files/market=um").exists());
    assert!(one.join("files/market=cm").is_dir());
    assert!(!common::sibling(&one, ".replaced").exists());
}

#[test]
fn bad_destinations_are_refused_before_anything_is_opened() {
    let env = catalog_with_history();
    let catalog = catalog_of(&env);
    let dir = env.dir.path();
    let file = dir.join("a-file");
    std::fs::write(&file, "mine").unwrap();
    let full = dir.join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("notes.txt"), "mine").unwrap();
    let refusals: Vec<(Vec<String>, String)> = vec![
        (
            vec![file.display().to_string()],
            format!("{} is a file, not a folder", file.display()),
        ),
        (
            vec![catalog.display().to_string(), "--force".into()],
            format!("{} is a file, not a folder", catalog.display()),
        ),
        (
            vec![full.display().to_string()],
            format!(
                "{} is not empty: catalog export writes a new folder",
                full.display()
            ),
        ),
        (
            vec![full.display().to_string(), "--force".into()],
            format!(
                "{} is not an earlier catalog export (it has no _manifest.json)",
                full.display()
            ),
        ),
        // The catalog's own folder, and one above it: --force would replace the catalog.
        (
            vec![dir.display().to_string(), "--force".into()],
            format!("{} holds the catalog {}", dir.display(), catalog.display()),
        ),
        (
            vec![format!("{}/", dir.display())],
            "holds the catalog".into(),
        ),
        (
            vec![
                dir.parent().unwrap().display().to_string(),
                "--force".into(),
            ],
            "holds the catalog".into(),
        ),
        (
            vec!["s3://bucket/catalog".into()],
            "s3://bucket/catalog is not a local folder".into(),
        ),
    ];
    for (args, sentence) in &refusals {
        let mut all = vec!["catalog", "export"];
        all.extend(args.iter().map(String::as_str));
        let out = env.run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(sentence.as_str()),
            "{args:?}: {}",
            stderr(&out)
        );
        // Before anything is opened: a catalog that is not there changes nothing of it.
        let out = env
            .cmd()
            .env("BFA_CATALOG", dir.join("none.duckdb"))
            .args(&all)
            .output()
            .unwrap();
        if !sentence.contains("holds the catalog") {
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
            assert!(
                stderr(&out).contains(sentence.as_str()),
                "{args:?}: {}",
                stderr(&out)
            );
        }
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    assert_eq!(
        std::fs::read_to_string(full.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(catalog.is_file());
    env.ok(&["catalog", "datasets"]);

    // A folder inside the catalog's is fine; a selection of nothing is refused, writing nothing.
    let inside = dir.join("exports/today");
    env.ok(&[
        "catalog",
        "export",
        "-q",
        "--market",
        "option",
        inside.to_str().unwrap(),
    ]);
    assert!(inside.join("_manifest.json").is_file());
    let none = dir.join("none");
    let out = env.run(&[
        "catalog",
        "export",
        "--market",
        "option",
        "--dataset",
        "um/daily/klines/1m",
        none.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("holds no dataset that --market option --dataset um/daily/klines/1m selects"),
        "{}",
        stderr(&out)
    );
    assert!(!none.exists() && !common::sibling(&none, ".partial").exists());
}

#[test]
fn an_export_that_fails_or_is_killed_leaves_no_destination() {
    let env = catalog_with_history();
    let dir = env.dir.path();

    // Killed while writing: no DEST, whenever the kill lands; the next export removes the
    // leftover and finishes. Over an earlier export (--force), the earlier one stays whole.
    let dest = dir.join("killed");
    let mut killed = 0;
    for _ in 0..5 {
        let mut child = env
            .cmd()
            .args(["catalog", "export", "-q", dest.to_str().unwrap()])
            .spawn()
            .unwrap();
        let partial = common::sibling(&dest, ".partial");
        wait_until(30, "the export starts writing", || {
            partial.join("files").exists() || dest.exists()
        });
        child.kill().unwrap();
        let finished = child.wait().unwrap().success();
        if finished {
            assert!(dest.join("_manifest.json").is_file());
            // It finished first: start over.
            std::fs::remove_dir_all(&dest).unwrap();
            continue;
        }
        killed += 1;
        assert!(!dest.exists(), "a killed export left {}", dest.display());
    }
    assert!(
        killed > 0,
        "every export finished before it could be killed"
    );
    env.ok(&["catalog", "export", "-q", dest.to_str().unwrap()]);
    assert!(!common::sibling(&dest, ".partial").exists());
    let before = duckdb_files(&dest);
    let mut child = env
        .cmd()
        .args([
            "catalog",
            "export",
            "-q",
            "--force",
            "--market",
            "spot",
            dest.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let partial = common::sibling(&dest, ".partial");
    wait_until(30, "the export starts writing", || {
        partial.join("files").exists()
    });
    child.kill().unwrap();
    let finished = child.wait().unwrap().success();
    if !finished && !common::sibling(&dest, ".replaced").exists() {
        assert_eq!(duckdb_files(&dest), before, "the earlier export is whole");
    }

    // Failed half-way (a period no date has, in the last partition written): the partitions
    // already written are removed with the rest, and the sentence says what failed.
    let broken = dir.join("broken.duckdb");
    std::fs::copy(catalog_of(&env), &broken).unwrap();
    {
        let conn = duckdb::Connection::open(&broken).unwrap();
        conn.execute_batch(
            "INSERT INTO files
             SELECT l.id, 2147483647, 1, 0, 0, true FROM leaves l JOIN datasets d ON d.id = l.dataset
              WHERE d.name LIKE 'um/monthly/%' LIMIT 1",
        )
        .unwrap();
    }
    let dest = dir.join("failed");
    let out = env
        .cmd()
        .env("BFA_CATALOG", &broken)
        .args(["catalog", "export", dest.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("DuckDB failed while exporting the catalog"),
        "{}",
        stderr(&out)
    );
    assert!(!dest.exists());
    assert!(!common::sibling(&dest, ".partial").exists());
}
