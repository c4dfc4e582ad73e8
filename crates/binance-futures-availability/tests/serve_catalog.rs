//! `serve`'s catalog routes (`/v1/catalog/…`) against catalogs crawled by the real binary from
//! vision-sim: every answer is `catalog … --format json|csv|urls` byte for byte, refusals carry
//! the command line's sentences, validators and gzip work as on the database's routes, a
//! dataset's files are capped by `--max-files` with a sentence, and the catalog's file is
//! watched: absent (a sentence, the database still served), then built, then replaced by a
//! publish — never a stale answer.

use crate::common;

use std::io::Read;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use serde_json::Value;
use vision_sim::Corpus;

/// One answer: status, headers, body bytes.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    fn error(&self) -> String {
        let json: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()));
        json["error"].as_str().unwrap().to_string()
    }
}

/// A blocking client of one server (reqwest's async client on a runtime of its own; no
/// gzip decoding, so what is sent is what is seen).
struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(served: &Served) -> Client {
        Client {
            rt: tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap(),
            http: reqwest::Client::new(),
            base: served.url.clone(),
        }
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async {
            let mut request = self.http.get(&url);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {url}: {e}"));
            Answer {
                status: response.status().as_u16(),
                headers: response.headers().clone(),
                body: response.bytes().await.unwrap().to_vec(),
            }
        })
    }
}

/// A catalog with something in every table (as tests/catalog_ops.rs builds it): a first crawl
/// of the generated bucket at `t0`, then the clock moved a week and a `--full` crawl that
/// records the scripted changes.
fn catalog_with_history() -> Env {
    let env = first_crawl();
    env.sim.set_clock(t1());
    env.ok(&["catalog", "update", "-q", "--full"]);
    env
}

fn t1() -> DateTime<Utc> {
    "2026-11-26T09:00:00Z".parse().unwrap()
}

/// The generated bucket at `t0`, crawled once.
fn first_crawl() -> Env {
    let t0: DateTime<Utc> = "2026-11-19T09:00:00Z".parse().unwrap();
    let model = std::sync::Arc::new(vision_sim::Vision::new(0.0005));
    let env = Env::with_bucket(vision_sim::Bucket::Vision(model.at(t0)));
    env.ok(&["catalog", "update", "-q"]);
    env
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A daily dataset with several symbol folders, one of its symbols, and a monthly dataset.
fn pick(env: &Env) -> (String, String, String) {
    let datasets = json(&env.ok(&["catalog", "datasets", "--format", "json"]));
    let datasets = datasets.as_array().unwrap();
    let named = |partition: &str| {
        datasets
            .iter()
            .filter(|d| d["dataset"].as_str().unwrap().contains(partition))
            .max_by_key(|d| (d["symbols"].as_i64().unwrap(), d["files"].as_i64().unwrap()))
            .map(|d| d["dataset"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (daily, monthly) = (named("/daily/"), named("/monthly/"));
    let symbols = json(&env.ok(&["catalog", "symbols", &daily, "--format", "json"]));
    let symbol = symbols[0]["symbol"].as_str().unwrap().to_string();
    (daily, symbol, monthly)
}

/// Every route, in every format, against the command line's bytes; the totals as headers;
/// gzip and 304 as the database's routes.
#[test]
fn every_catalog_route_answers_what_the_command_line_prints() {
    let env = catalog_with_history();
    let (daily, symbol, monthly) = pick(&env);
    let served = Served::start(&env, &[]);
    let client = Client::new(&served);
    let files = json(&env.ok(&[
        "catalog", "files", &daily, "--symbol", &symbol, "--format", "json",
    ]));
    let files = files.as_array().unwrap();
    assert!(files.len() >= 3, "{files:?}");
    let (since, until) = (
        files[1]["period"].as_str().unwrap().to_string(),
        files[files.len() - 1]["period"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let seen = json(&env.ok(&["catalog", "changes", "--format", "json"]));
    let changed_on = seen[0]["seen"].as_str().unwrap()[..10].to_string();
    let rows: Vec<(String, Vec<&str>)> = vec![
        ("/v1/catalog/datasets".into(), vec!["datasets"]),
        (
            "/v1/catalog/datasets?market=um".into(),
            vec!["datasets", "--market", "um"],
        ),
        (
            format!("/v1/catalog/symbols/{daily}"),
            vec!["symbols", &daily],
        ),
        (
            format!("/v1/catalog/symbols/{monthly}"),
            vec!["symbols", &monthly],
        ),
        (format!("/v1/catalog/gaps/{daily}"), vec!["gaps", &daily]),
        (
            format!("/v1/catalog/gaps/{daily}?symbol={symbol}"),
            vec!["gaps", &daily, "--symbol", &symbol],
        ),
        (format!("/v1/catalog/lag/{daily}"), vec!["lag", &daily]),
        ("/v1/catalog/changes".into(), vec!["changes"]),
        (
            format!("/v1/catalog/changes?since={changed_on}&until={changed_on}&kind=added"),
            vec![
                "changes",
                "--since",
                &changed_on,
                "--until",
                &changed_on,
                "--kind",
                "added",
            ],
        ),
        (
            format!("/v1/catalog/changes?dataset={daily}"),
            vec!["changes", "--dataset", &daily],
        ),
        ("/v1/catalog/strays".into(), vec!["strays"]),
    ];
    let listed: Vec<(String, Vec<&str>)> = vec![
        (
            format!("/v1/catalog/files/{daily}?symbol={symbol}"),
            vec!["files", &daily, "--symbol", &symbol],
        ),
        (
            format!("/v1/catalog/files/{daily}?since={since}&until={until}&symbol={symbol}"),
            vec![
                "files", &daily, "--symbol", &symbol, "--since", &since, "--until", &until,
            ],
        ),
        (format!("/v1/catalog/files/{daily}"), vec!["files", &daily]),
        (
            format!("/v1/catalog/files/{monthly}"),
            vec!["files", &monthly],
        ),
        // Nothing matches: an empty answer, as the command line's.
        (
            format!("/v1/catalog/files/{daily}?symbol=NOSUCHSYMBOL"),
            vec!["files", &daily, "--symbol", "NOSUCHSYMBOL"],
        ),
    ];
    let mut compared = 0;
    for (cases, formats) in [
        (&rows, &["json", "csv"][..]),
        (&listed, &["json", "csv", "urls"][..]),
    ] {
        for (path, args) in cases {
            for format in formats {
                let sep = if path.contains('?') { '&' } else { '?' };
                let answer = client.get(&format!("{path}{sep}format={format}"), &[]);
                assert_eq!(answer.status, 200, "{path}: {}", answer.text());
                let cli = env.ok(&[&["catalog"], &args[..], &["--format", format]].concat());
                assert_eq!(answer.text(), cli, "{path} differs from {args:?} {format}");
                compared += 1;
            }
            // No format: JSON, or CSV when the Accept header asks.
            let json_answer = client.get(path, &[]);
            assert_eq!(json_answer.header("content-type"), Some("application/json"));
            let cli = env.ok(&[&["catalog"], &args[..], &["--format", "json"]].concat());
            assert_eq!(json_answer.text(), cli, "{path}");
            let csv = client.get(path, &[("accept", "text/csv")]);
            assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
        }
    }
    assert!(compared >= 35, "{compared}");

    // The totals come first, as headers: known before the first file is read.
    let path = format!("/v1/catalog/files/{daily}?symbol={symbol}&format=urls");
    let urls = client.get(&path, &[]);
    assert_eq!(
        urls.header("x-total-files"),
        Some(&*files.len().to_string())
    );
    let bytes: u64 = files.iter().map(|f| f["size"].as_u64().unwrap()).sum();
    assert_eq!(urls.header("x-total-bytes"), Some(&*bytes.to_string()));
    assert_eq!(
        urls.header("content-type"),
        Some("text/plain; charset=utf-8")
    );

    // gzip when asked, the same bytes decoded: a streamed answer and one kept.
    for path in [
        format!("/v1/catalog/files/{daily}?format=csv"),
        "/v1/catalog/datasets".to_string(),
    ] {
        let plain = client.get(&path, &[]);
        let zipped = client.get(&path, &[("accept-encoding", "gzip")]);
        assert_eq!(zipped.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&zipped.body[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, plain.body, "{path}");
    }

    // Validators: the client's copy is current until the next publish, per format.
    for path in [
        format!("/v1/catalog/files/{daily}?symbol={symbol}"),
        format!("/v1/catalog/symbols/{daily}"),
        "/v1/catalog/changes?kind=removed".to_string(),
    ] {
        let first = client.get(&path, &[]);
        let etag = first.header("etag").unwrap().to_string();
        let again = client.get(&path, &[("if-none-match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(&*etag));
        let csv = client.get(
            &format!(
                "{path}{}format=csv",
                if path.contains('?') { '&' } else { '?' }
            ),
            &[("if-none-match", &etag)],
        );
        assert_eq!(csv.status, 200, "{path}: another format, another tag");
    }
}

/// Each refusal is the command line's sentence, before the catalog is read.
#[test]
fn catalog_refusals_carry_the_command_lines_sentences() {
    let env = first_crawl();
    let (daily, _, monthly) = pick(&env);
    let served = Served::start(&env, &[]);
    let client = Client::new(&served);
    let cases: Vec<(String, Vec<&str>)> = vec![
        // Not a period.
        (
            format!("/v1/catalog/files/{daily}?since=2024-1"),
            vec!["files", &daily, "--since", "2024-1"],
        ),
        (
            format!("/v1/catalog/files/{daily}?until=2024-02-30"),
            vec!["files", &daily, "--until", "2024-02-30"],
        ),
        // The other partition's period.
        (
            format!("/v1/catalog/files/{daily}?since=2024-01"),
            vec!["files", &daily, "--since", "2024-01"],
        ),
        (
            format!("/v1/catalog/files/{monthly}?until=2024-01-15"),
            vec!["files", &monthly, "--until", "2024-01-15"],
        ),
        // Reversed.
        (
            format!("/v1/catalog/files/{daily}?since=2024-02-01&until=2024-01-31"),
            vec![
                "files",
                &daily,
                "--since",
                "2024-02-01",
                "--until",
                "2024-01-31",
            ],
        ),
        (
            "/v1/catalog/changes?since=2026-11-20&until=2026-11-19".into(),
            vec!["changes", "--since", "2026-11-20", "--until", "2026-11-19"],
        ),
        (
            "/v1/catalog/changes?since=2026-13-01".into(),
            vec!["changes", "--since", "2026-13-01"],
        ),
        // No symbol folder's name.
        (
            format!("/v1/catalog/files/{daily}?symbol=..%2Fx"),
            vec!["files", &daily, "--symbol", "../x"],
        ),
        (
            format!("/v1/catalog/gaps/{daily}?symbol=a%20b"),
            vec!["gaps", &daily, "--symbol", "a b"],
        ),
        // No dataset.
        (
            "/v1/catalog/symbols/um/daily/klinez/1m".into(),
            vec!["symbols", "um/daily/klinez/1m"],
        ),
        (
            "/v1/catalog/files/um/daily".into(),
            vec!["files", "um/daily"],
        ),
        (
            "/v1/catalog/lag/um/monthly/klines/7m".into(),
            vec!["lag", "um/monthly/klines/7m"],
        ),
        (
            "/v1/catalog/changes?dataset=xx/daily/klines/1m".into(),
            vec!["changes", "--dataset", "xx/daily/klines/1m"],
        ),
        (
            "/v1/catalog/datasets?market=usdm".into(),
            vec!["datasets", "--market", "usdm"],
        ),
    ];
    for (path, args) in &cases {
        let answer = client.get(path, &[]);
        assert_eq!(answer.status, 400, "{path}: {}", answer.text());
        let sentence = answer.error();
        let out = env.run(&[&["catalog"], &args[..]].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let cli = String::from_utf8_lossy(&out.stderr);
        assert!(
            cli.contains(&sentence),
            "{path}: {sentence:?} is not what {args:?} says: {cli}"
        );
    }
    // The kinds of change: the command line lists them (clap's words), so does the API.
    let kind = client.get("/v1/catalog/changes?kind=moved", &[]);
    assert_eq!(kind.status, 400);
    assert_eq!(
        kind.error(),
        "\"moved\" is not a kind of change; use one of added, replaced, removed"
    );
    let cli = env.run(&["catalog", "changes", "--kind", "moved"]);
    assert!(String::from_utf8_lossy(&cli.stderr).contains("added, replaced, removed"));
    // Formats and parameters not taken.
    for (path, sentence) in [
        (
            format!("/v1/catalog/files/{daily}?format=table"),
            "\"table\" is not a format of files; use json, csv or urls",
        ),
        (
            format!("/v1/catalog/symbols/{daily}?format=urls"),
            "\"urls\" is not a format here; use json or csv",
        ),
        (
            "/v1/catalog/strays?symbol=BTCUSDT".to_string(),
            "unknown parameter \"symbol\"; this endpoint takes format",
        ),
    ] {
        let answer = client.get(&path, &[]);
        assert_eq!((answer.status, answer.error()), (400, sentence.to_string()));
    }
}

/// More files than `--max-files`: refused with a sentence before any is read (the totals are
/// known first), so a JSON answer is never cut short; a narrower question is answered.
#[test]
fn a_files_answer_past_the_cap_is_refused_with_how_to_narrow_it() {
    let env = first_crawl();
    let (daily, symbol, _) = pick(&env);
    let all = json(&env.ok(&["catalog", "files", &daily, "--format", "json"]));
    let all = all.as_array().unwrap().len();
    let one = json(&env.ok(&[
        "catalog", "files", &daily, "--symbol", &symbol, "--format", "json",
    ]));
    let one = one.as_array().unwrap().len();
    assert!(one < all, "{one} {all}");
    let served = Served::start(&env, &["--max-files", &one.to_string()]);
    let client = Client::new(&served);
    for format in ["json", "csv", "urls"] {
        let answer = client.get(&format!("/v1/catalog/files/{daily}?format={format}"), &[]);
        assert_eq!(answer.status, 400, "{}", answer.text());
        assert_eq!(
            answer.error(),
            format!(
                "{all} files of {daily} match, more than the {one} one answer lists; narrow the \
                 question with symbol=, since= or until=, or run `catalog files` on the command \
                 line, which has no limit"
            )
        );
        let narrowed = client.get(
            &format!("/v1/catalog/files/{daily}?symbol={symbol}&format={format}"),
            &[],
        );
        assert_eq!(narrowed.status, 200);
        assert_eq!(
            narrowed.text(),
            env.ok(&[
                "catalog", "files", &daily, "--symbol", &symbol, "--format", format
            ])
        );
    }
}

/// The history's changes are held to the same cap as files, with the same sentence naming how
/// to narrow them; under it they are streamed with their count first (`X-Total-Changes`) and
/// equal the command line's.
#[test]
fn a_changes_answer_past_the_cap_is_refused_with_how_to_narrow_it() {
    let env = catalog_with_history();
    let all = json(&env.ok(&["catalog", "changes", "--format", "json"]));
    let all = all.as_array().unwrap().len();
    let removed = json(&env.ok(&[
        "catalog", "changes", "--kind", "removed", "--format", "json",
    ]));
    let removed = removed.as_array().unwrap().len();
    assert!(0 < removed && removed < all, "{removed} {all}");
    let served = Served::start(&env, &["--max-files", &removed.to_string()]);
    let client = Client::new(&served);
    for format in ["json", "csv"] {
        let answer = client.get(&format!("/v1/catalog/changes?format={format}"), &[]);
        assert_eq!(answer.status, 400, "{}", answer.text());
        assert_eq!(
            answer.error(),
            format!(
                "{all} changes match, more than the {removed} one answer lists; narrow the \
                 question with since=, until=, dataset= or kind=, or run `catalog changes` on \
                 the command line, which has no limit"
            )
        );
        let narrowed = client.get(
            &format!("/v1/catalog/changes?kind=removed&format={format}"),
            &[],
        );
        assert_eq!(narrowed.status, 200);
        assert_eq!(
            narrowed.header("x-total-changes"),
            Some(&*removed.to_string())
        );
        assert_eq!(
            narrowed.text(),
            env.ok(&[
                "catalog", "changes", "--kind", "removed", "--format", format
            ])
        );
    }
}

/// No catalog: the database's routes answer, the catalog's say how to build one; the catalog
/// appears and is served within a second or so; a file that is no catalog is a sentence.
#[test]
fn serve_answers_without_a_catalog_and_picks_it_up_once_built() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["update", "-q", "--no-trading"]);
    let catalog = env.dir.path().join("catalog.duckdb");
    let served = Served::start(&env, &[]);
    let client = Client::new(&served);
    assert_eq!(client.get("/v1/symbols", &[]).status, 200);
    let none = client.get("/v1/catalog/datasets", &[]);
    assert_eq!(none.status, 503);
    assert_eq!(
        none.error(),
        format!(
            "there is no catalog at {}; build it with `binance-futures-availability catalog update`",
            catalog.display()
        )
    );
    // Refusals of the question itself come first: they need no catalog.
    assert_eq!(client.get("/v1/catalog/files/um/daily", &[]).status, 400);

    env.ok(&["catalog", "update", "-q"]);
    wait_until(10, "the catalog served", || {
        client.get("/v1/catalog/datasets", &[]).status == 200
    });
    assert_eq!(
        client.get("/v1/catalog/datasets", &[]).text(),
        env.ok(&["catalog", "datasets", "--format", "json"])
    );
    assert_eq!(client.get("/healthz", &[]).status, 200);
    drop(served);

    // A file that is not a catalog (the database itself): a sentence, not a crash.
    let served = Served::start(&env, &["--catalog", env.db.to_str().unwrap()]);
    let client = Client::new(&served);
    let wrong = client.get("/v1/catalog/strays", &[]);
    assert_eq!(wrong.status, 503);
    assert!(
        wrong
            .error()
            .contains("is not a catalog of binance-futures-availability"),
        "{}",
        wrong.error()
    );
    assert_eq!(client.get("/v1/symbols", &[]).status, 200);
}

/// A `catalog update` publishing a new file is served within a second or so, and no answer
/// kept from the old file (rows or files, under the old validators) is given again.
#[test]
fn a_published_catalog_replaces_every_answer() {
    let env = first_crawl();
    let (daily, _, _) = pick(&env);
    let served = Served::start(&env, &[]);
    let client = Client::new(&served);
    let paths = [
        "/v1/catalog/changes".to_string(),
        "/v1/catalog/datasets".to_string(),
        format!("/v1/catalog/files/{daily}?format=csv"),
        format!("/v1/catalog/lag/{daily}"),
    ];
    let before: Vec<Answer> = paths.iter().map(|p| client.get(p, &[])).collect();
    assert_eq!(
        before[0].text(),
        "[]\n",
        "no changes before the second crawl"
    );

    env.sim.set_clock(t1());
    env.ok(&["catalog", "update", "-q", "--full"]);
    let changes = env.ok(&["catalog", "changes", "--format", "json"]);
    assert_ne!(changes, "[]\n", "the second crawl records changes");
    wait_until(10, "the new catalog served", || {
        client.get(&paths[0], &[]).text() == changes
    });
    for (path, old) in paths.iter().zip(&before) {
        let etag = old.header("etag").unwrap();
        let now = client.get(path, &[("if-none-match", etag)]);
        assert_eq!(now.status, 200, "{path}: the old tag is not current");
        assert_ne!(now.header("etag"), Some(etag), "{path}");
    }
    assert_eq!(
        client.get(&paths[1], &[]).text(),
        env.ok(&["catalog", "datasets", "--format", "json"])
    );
    assert_eq!(
        client.get(&paths[2], &[]).text(),
        env.ok(&["catalog", "files", &daily, "--format", "csv"])
    );
    // Kept answers do not outlive their file: asked twice, the new file's.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(client.get(&paths[0], &[]).text(), changes);
}

/// Whether `answer` was sent whole from what was kept (one body of a known length), not
/// streamed as it was written (chunks).
fn kept(answer: &Answer) -> bool {
    answer.header("transfer-encoding").is_none()
        && answer.header("content-length") == Some(&*answer.body.len().to_string())
}

fn streamed(answer: &Answer) -> bool {
    answer.header("transfer-encoding") == Some("chunked")
        && answer.header("content-length").is_none()
}

/// `kept` is `streamed` byte for byte: status, body, and every header but the date and the
/// framing (`content-length` against `transfer-encoding: chunked`).
fn same_answer(kept: &Answer, streamed: &Answer, what: &str) {
    let headers = |a: &Answer| {
        let mut h: Vec<(String, Vec<u8>)> = a
            .headers
            .iter()
            .filter(|(name, _)| {
                !["date", "transfer-encoding", "content-length"].contains(&name.as_str())
            })
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect();
        h.sort();
        h
    };
    assert_eq!(kept.status, streamed.status, "{what}");
    assert_eq!(headers(kept), headers(streamed), "{what}");
    assert!(kept.body == streamed.body, "{what}: the bodies differ");
}

/// The daily dataset's symbol whose files reach its newest day (so a day more adds one), and
/// that day.
fn current_symbol(env: &Env, daily: &str) -> (String, String) {
    let symbols = json(&env.ok(&["catalog", "symbols", daily, "--format", "json"]));
    let symbols = symbols.as_array().unwrap();
    let newest = symbols.iter().map(|s| s["last"].as_str().unwrap()).max();
    let current = symbols
        .iter()
        .find(|s| s["last"].as_str() == newest)
        .unwrap();
    let text = |key: &str| current[key].as_str().unwrap().to_string();
    (text("symbol"), text("last"))
}

/// A streamed answer is kept once sent whole, and the next request asking the same is answered
/// from it: the same status, headers and bytes (gzip too), only framed as one body; a 304
/// still when the client has it. Files and changes, in every format.
#[test]
fn a_kept_streamed_answer_is_the_streamed_one_byte_for_byte() {
    let env = catalog_with_history();
    let (daily, symbol, _) = pick(&env);
    let served = Served::start(&env, &[]);
    let client = Client::new(&served);
    let mut paths: Vec<String> = ["json", "csv", "urls"]
        .iter()
        .map(|f| format!("/v1/catalog/files/{daily}?symbol={symbol}&format={f}"))
        .collect();
    paths.push(format!("/v1/catalog/files/{daily}?symbol=NOSUCHSYMBOL"));
    paths.push("/v1/catalog/changes?format=csv".to_string());
    paths.push("/v1/catalog/changes?kind=removed".to_string());
    for path in &paths {
        for gzip in [&[][..], &[("accept-encoding", "gzip")][..]] {
            let what = format!("{path} {gzip:?}");
            let first = client.get(path, gzip);
            assert_eq!(first.status, 200, "{what}: {}", first.text());
            assert!(streamed(&first), "{what}: the first answer is streamed");
            let again = client.get(path, gzip);
            assert!(kept(&again), "{what}: asked again, it was not kept");
            same_answer(&again, &first, &what);
            let etag = again.header("etag").unwrap();
            let current = client.get(path, &[gzip, &[("if-none-match", etag)][..]].concat());
            assert_eq!(current.status, 304, "{what}");
        }
        // Kept per encoding: the plain answer is not the gzip one.
        let plain = client.get(path, &[]);
        let zipped = client.get(path, &[("accept-encoding", "gzip")]);
        assert!(kept(&plain) && kept(&zipped), "{path}");
        if !plain.body.starts_with(b"[]") {
            assert_eq!(zipped.header("content-encoding"), Some("gzip"), "{path}");
            let mut unzipped = Vec::new();
            flate2::read::GzDecoder::new(&zipped.body[..])
                .read_to_end(&mut unzipped)
                .unwrap();
            assert_eq!(unzipped, plain.body, "{path}");
        }
    }
}

/// A `catalog update` publishing a day more: the kept files answer is written again from the
/// new file before it is served (refilled), so the first request after the publish is answered
/// from what was kept, and it is the new file's answer — byte for byte what a server keeping
/// nothing streams from it — never the replaced file's.
#[test]
fn a_publish_refills_kept_files_answers_from_the_new_file() {
    let t0: DateTime<Utc> = "2026-11-19T09:00:00Z".parse().unwrap();
    let env = first_crawl();
    let (daily, _, _) = pick(&env);
    let (symbol, _) = current_symbol(&env, &daily);
    let path = format!("/v1/catalog/files/{daily}?symbol={symbol}");
    let served = Served::start(&env, &[]);
    let client = Client::new(&served);
    let gzip = [("accept-encoding", "gzip")];
    let mut old = Vec::new();
    for headers in [&[][..], &gzip[..]] {
        client.get(&path, headers);
        let kept_before = client.get(&path, headers);
        assert!(kept(&kept_before), "{headers:?}");
        old.push(kept_before);
    }
    let old_cli = env.ok(&[
        "catalog", "files", &daily, "--symbol", &symbol, "--format", "json",
    ]);
    assert_eq!(old[0].text(), old_cli);

    env.sim.set_clock(t0 + chrono::Days::new(1));
    env.ok(&["catalog", "update", "-q"]);
    let new_cli = env.ok(&[
        "catalog", "files", &daily, "--symbol", &symbol, "--format", "json",
    ]);
    assert_ne!(new_cli, old_cli, "{symbol} has a file more a day later");
    // Asked with the old validators, 304 until the new file is served: no other question is
    // asked (and kept) meanwhile.
    let etag = old[0].header("etag").unwrap().to_string();
    let mut after = None;
    wait_until(10, "the new catalog served", || {
        let answer = client.get(&path, &[("if-none-match", &etag)]);
        let served = answer.status == 200;
        after = Some(answer);
        served
    });
    let after = after.unwrap();
    assert!(
        kept(&after),
        "the first answer after the publish was refilled"
    );
    assert_eq!(after.text(), new_cli);
    let after_gzip = client.get(&path, &gzip);
    assert!(kept(&after_gzip), "the gzip answer was refilled too");

    // What a server that keeps nothing streams from the new file, byte for byte.
    let reference = Served::start(&env, &["--cache-mb", "0"]);
    let reference = Client::new(&reference);
    for (refilled, headers) in [(&after, &[][..]), (&after_gzip, &gzip[..])] {
        let streamed_now = reference.get(&path, headers);
        assert!(streamed(&streamed_now), "{headers:?}");
        same_answer(refilled, &streamed_now, &format!("refilled {headers:?}"));
        assert_ne!(refilled.body, old[usize::from(!headers.is_empty())].body);
    }
}

/// An answer larger than a sixteenth of `--cache-mb` is streamed every time, never kept (nor
/// held whole), though the cache has room for it; a small one on the same server is kept.
#[test]
fn a_streamed_answer_past_the_bound_is_not_kept() {
    let env = first_crawl();
    let (daily, _, _) = pick(&env);
    let (symbol, last) = current_symbol(&env, &daily);
    let (cache, bound) = (1 << 20, (1 << 20) / 16);
    // Its last 1,000 files (~200 B each in JSON): between the bound and what the cache could
    // hold with its bookkeeping, so only the bound keeps the answer out.
    let files = json(&env.ok(&[
        "catalog", "files", &daily, "--symbol", &symbol, "--format", "json",
    ]));
    let files = files.as_array().unwrap();
    let since = files[files.len().saturating_sub(1000)]["period"]
        .as_str()
        .unwrap()
        .to_string();
    let large = env.ok(&[
        "catalog", "files", &daily, "--symbol", &symbol, "--since", &since, "--format", "json",
    ]);
    assert!(
        bound < large.len() && large.len() < cache - 4096,
        "{} B",
        large.len()
    );
    let served = Served::start(&env, &["--cache-mb", "1"]);
    let client = Client::new(&served);
    let path = format!("/v1/catalog/files/{daily}?symbol={symbol}");
    let large_path = format!("{path}&since={since}");
    for _ in 0..3 {
        let answer = client.get(&large_path, &[]);
        assert!(streamed(&answer), "{} B were kept", answer.body.len());
        assert_eq!(answer.text(), large);
    }
    let small = format!("{path}&since={last}");
    client.get(&small, &[]);
    let again = client.get(&small, &[]);
    assert!(
        again.body.len() < bound && kept(&again),
        "a small answer is kept"
    );
}
