//! `serve` against real databases built from vision-sim: every endpoint's answer is the
//! command line's, byte for byte; refusals carry its sentences; validators, gzip, a publish
//! under load, the loopback rule and clients that misbehave.

use crate::common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use vision_sim::{Corpus, SimOptions, SimServer};

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

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = client.get(url);
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
}

fn realistic_env(as_of: chrono::NaiveDate) -> Env {
    let env = Env::new(vision_sim::realistic(as_of));
    env.ok(&["update", "--quiet"]);
    env
}

#[test]
fn every_endpoint_answers_what_the_command_line_prints() {
    let env = realistic_env(today());
    let served = Served::start(&env, &[]);
    let client = reqwest::Client::new();
    let rt = runtime();
    let cases: &[(&str, &[&str])] = &[
        (
            "/v1/snapshot/2024-01-15",
            &["query", "snapshot", "2024-01-15"],
        ),
        (
            "/v1/snapshot/2024-01-15?contract=all",
            &["query", "snapshot", "2024-01-15", "--contract", "all"],
        ),
        (
            "/v1/snapshot/2020-06-01?contract=delivery",
            &["query", "snapshot", "2020-06-01", "--contract", "delivery"],
        ),
        ("/v1/timeline/BTCUSDT", &["query", "timeline", "BTCUSDT"]),
        ("/v1/timeline/icpusdt", &["query", "timeline", "icpusdt"]),
        (
            "/v1/timeline/%E5%B8%81%E5%AE%89%E4%BA%BA%E7%94%9FUSDT",
            &["query", "timeline", "币安人生USDT"],
        ),
        (
            "/v1/timeline/ICPUSDT_SETTLED",
            &["query", "timeline", "ICPUSDT_SETTLED"],
        ),
        (
            "/v1/range?start=2022-06-01&end=2022-10-01",
            &["query", "range", "2022-06-01", "2022-10-01"],
        ),
        (
            "/v1/range?end=2024-02-01&start=2024-01-01&contract=all",
            &[
                "query",
                "range",
                "2024-01-01",
                "2024-02-01",
                "--contract",
                "all",
            ],
        ),
        ("/v1/summary", &["query", "summary"]),
        (
            "/v1/summary?start=2024-01-01&end=2024-02-01",
            &["query", "summary", "2024-01-01", "2024-02-01"],
        ),
        ("/v1/symbols", &["query", "symbols"]),
        (
            "/v1/universe/2024-01-15?top=20&min_age=30&quote=USDT",
            &[
                "query",
                "universe",
                "2024-01-15",
                "--top",
                "20",
                "--min-age",
                "30",
                "--quote",
                "USDT",
            ],
        ),
        (
            "/v1/universe/2024-01-15?by=trades&window=7&contract=all",
            &[
                "query",
                "universe",
                "2024-01-15",
                "--by",
                "trades",
                "--window",
                "7",
                "--contract",
                "all",
            ],
        ),
        (
            "/v1/events?since=2022-01-01&until=2022-12-31&kind=relisting",
            &[
                "query",
                "events",
                "--since",
                "2022-01-01",
                "--until",
                "2022-12-31",
                "--kind",
                "relisting",
            ],
        ),
        (
            "/v1/events?symbol=icpusdt&delisted_after=30",
            &[
                "query",
                "events",
                "--symbol",
                "icpusdt",
                "--delisted-after",
                "30",
            ],
        ),
    ];
    for (path, args) in cases {
        for format in ["json", "csv"] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = format!("{}{path}{sep}format={format}", served.url);
            let answer = rt.block_on(get(&client, &url, &[]));
            assert_eq!(
                answer.status,
                200,
                "{url}: {}",
                String::from_utf8_lossy(&answer.body)
            );
            let cli = env.ok(&[args, &["--format", format][..]].concat());
            assert_eq!(
                String::from_utf8(answer.body).unwrap(),
                cli,
                "{url} differs from {args:?} --format {format}"
            );
        }
        // Without ?format, the Accept header chooses; JSON otherwise.
        let url = format!("{}{path}", served.url);
        let csv = rt.block_on(get(&client, &url, &[("accept", "text/csv")]));
        assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
        assert_eq!(
            csv.body,
            env.ok(&[args, &["--format", "csv"][..]].concat())
                .into_bytes()
        );
        let json = rt.block_on(get(&client, &url, &[]));
        assert_eq!(json.header("content-type"), Some("application/json"));
        assert_eq!(
            json.body,
            env.ok(&[args, &["--format", "json"][..]].concat())
                .into_bytes()
        );
    }
    // The page's search needs unicode names and case folding to work: both are answered.
    let snapshot = rt.block_on(get(
        &client,
        &format!("{}/v1/snapshot/2024-01-15", served.url),
        &[],
    ));
    assert!(snapshot.json().as_array().unwrap().len() > 200);

    let status = rt.block_on(get(&client, &format!("{}/v1/status", served.url), &[]));
    assert_eq!(status.status, 200);
    assert_eq!(status.header("cache-control"), Some("no-cache"));
    assert!(
        status.header("etag").is_none(),
        "status changes without a publish"
    );
    // The command line's, except that the file is named without its folder and the catalog
    // (a file `serve` does not answer from) is left out.
    let cli = env.ok(&["status", "--format", "json"]).replace(
        &format!("\"path\": {:?}", env.db.display().to_string()),
        "\"path\": \"availability.duckdb\"",
    );
    let mut cli: serde_json::Value = serde_json::from_str(&cli).unwrap();
    assert_eq!(cli["catalog"]["built"], serde_json::Value::Bool(false));
    cli.as_object_mut().unwrap().remove("catalog");
    let body = String::from_utf8(status.body).unwrap();
    assert!(!body.contains("\"catalog\""), "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        cli
    );
}

#[test]
fn refusals_carry_the_command_lines_sentences() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet"]);
    let served = Served::start(&env, &[]);
    let client = reqwest::Client::new();
    let rt = runtime();
    let error = |path: &str| {
        let answer = rt.block_on(get(&client, &format!("{}{path}", served.url), &[]));
        let body = answer.json();
        (
            answer.status,
            body["error"].as_str().unwrap().to_string(),
            body,
        )
    };
    let cli_error = |args: &[&str]| {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    // Bad input: 400, and the sentence is the one the command line gives for the same input.
    for (path, args) in [
        (
            "/v1/snapshot/2030-01-01",
            &["query", "snapshot", "2030-01-01"][..],
        ),
        (
            "/v1/snapshot/2024-02-30",
            &["query", "snapshot", "2024-02-30"],
        ),
        (
            "/v1/snapshot/yesterday",
            &["query", "snapshot", "yesterday"],
        ),
        (
            "/v1/snapshot/2010-01-01",
            &["query", "snapshot", "2010-01-01"],
        ),
        (
            "/v1/range?start=2024-02-01&end=2024-01-01",
            &["query", "range", "2024-02-01", "2024-01-01"],
        ),
        (
            "/v1/timeline/BTC%2FUSDT",
            &["query", "timeline", "BTC/USDT"],
        ),
    ] {
        let (status, sentence, _) = error(path);
        assert_eq!(status, 400, "{path}: {sentence}");
        let cli = cli_error(args);
        assert!(
            cli.contains(&sentence),
            "{path}: {sentence:?} is not in {cli:?}"
        );
    }
    for (path, says) in [
        (
            "/v1/snapshot/2024-01-15?contract=spot",
            "not a contract filter",
        ),
        ("/v1/snapshot/2024-01-15?format=table", "use json or csv"),
        (
            "/v1/snapshot/2024-01-15?limit=10",
            "unknown parameter \"limit\"",
        ),
        (
            "/v1/snapshot/2024-01-15?contract=all&contract=all",
            "given twice",
        ),
        ("/v1/range?start=2024-01-01", "needs both start and end"),
        (
            "/v1/summary?end=2024-01-01",
            "both start and end, or neither",
        ),
        (
            "/v1/status?verbose=1",
            "unknown parameter \"verbose\"; this endpoint takes market",
        ),
        (
            "/v1/universe/2024-01-15?window=0",
            "window is \"0\", not a whole number from 1 to 3650",
        ),
        ("/v1/universe/2024-01-15?by=volume", "not a ranking"),
        (
            "/v1/universe/2024-13-01",
            "is not a date of the form YYYY-MM-DD",
        ),
        ("/v1/events?kind=halving", "not an event kind"),
        (
            "/v1/events?since=2024-02-01&until=2024-01-01",
            "the start 2024-02-01 is after the end 2024-01-01",
        ),
    ] {
        let (status, sentence, _) = error(path);
        assert_eq!(status, 400, "{path}");
        assert!(sentence.contains(says), "{path}: {sentence}");
    }
    // An unknown symbol: 404 with the command line's sentence and the suggestions apart.
    let (status, sentence, body) = error("/v1/timeline/BTCUSDX");
    assert_eq!(status, 404);
    let cli = cli_error(&["query", "timeline", "BTCUSDX"]);
    assert_eq!(cli.trim_end(), format!("error: {sentence}"));
    assert_eq!(body["suggestions"][0], "BTCUSDT");
    let (status, sentence, _) = error("/v2/snapshot");
    assert_eq!(status, 404);
    assert!(sentence.contains("/v1/snapshot/{date}"), "{sentence}");
}

/// A day after "complete through" is 409 with the command line's sentence (the question is
/// fine, the database cannot answer it yet); an unknown quote is 400 with its sentence; the
/// new filters (`contract` on events, `include_settled` on universes, a quote in any case)
/// answer what the command line prints.
#[test]
fn unchecked_days_are_409_and_unknown_quotes_400_with_the_command_lines_sentences() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--end", "2024-03-01", "--quiet"]);
    let served = Served::start(&env, &[]);
    let client = reqwest::Client::new();
    let rt = runtime();
    let at = |path: &str| rt.block_on(get(&client, &format!("{}{path}", served.url), &[]));
    let cli_error = |args: &[&str], code: i32| {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        stderr.trim_end().trim_start_matches("error: ").to_string()
    };
    for (path, args, status, code) in [
        (
            "/v1/snapshot/2024-03-02",
            &["query", "snapshot", "2024-03-02"][..],
            409,
            1,
        ),
        (
            "/v1/range?start=2024-02-01&end=2024-03-05",
            &["query", "range", "2024-02-01", "2024-03-05"],
            409,
            1,
        ),
        (
            "/v1/summary?start=2024-02-28&end=2024-03-02",
            &["query", "summary", "2024-02-28", "2024-03-02"],
            409,
            1,
        ),
        (
            "/v1/universe/2024-03-03",
            &["query", "universe", "2024-03-03"],
            409,
            1,
        ),
        (
            "/v1/universe/2024-01-15?quote=XYZ",
            &["query", "universe", "2024-01-15", "--quote", "XYZ"],
            400,
            2,
        ),
    ] {
        let answer = at(path);
        assert_eq!(answer.status, status, "{path}");
        assert_eq!(answer.header("cache-control"), Some("no-store"), "{path}");
        let body = answer.json();
        assert_eq!(body["error"], cli_error(args, code), "{path}");
    }
    assert_eq!(
        at("/v1/snapshot/2024-03-02").json()["error"],
        "2024-03-02 is not checked yet: the database is complete through 2024-03-01; run `update`"
    );
    assert!(
        at("/v1/universe/2024-01-15?include_settled=maybe").json()["error"]
            .as_str()
            .unwrap()
            .contains("use true or false")
    );
    for (path, args) in [
        (
            "/v1/universe/2024-01-15?quote=usdt",
            &["query", "universe", "2024-01-15", "--quote", "USDT"][..],
        ),
        (
            "/v1/universe/2023-06-20?include_settled=true",
            &["query", "universe", "2023-06-20", "--include-settled"],
        ),
        (
            "/v1/events?contract=delivery",
            &["query", "events", "--contract", "delivery"],
        ),
        ("/v1/events", &["query", "events", "--contract", "all"]),
        ("/v1/summary", &["query", "summary"]),
    ] {
        let answer = at(path);
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(
            String::from_utf8(answer.body).unwrap(),
            env.ok(&[args, &["--format", "json"][..]].concat()),
            "{path}"
        );
    }
}

#[test]
fn before_the_first_update_it_answers_503_then_serves_the_new_file() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    let served = Served::start(&env, &[]);
    let client = reqwest::Client::new();
    let rt = runtime();
    let at = |path: &str| rt.block_on(get(&client, &format!("{}{path}", served.url), &[]));
    for path in ["/healthz", "/v1/snapshot/2024-01-15", "/v1/status"] {
        let answer = at(path);
        assert_eq!(answer.status, 503, "{path}");
        let sentence = answer.json()["error"].as_str().unwrap().to_string();
        assert!(
            sentence.contains("there is no database at")
                && sentence.contains("create it with `binance-futures-availability update`"),
            "{path}: {sentence}"
        );
    }
    // Bad input is still bad input without a database.
    assert_eq!(at("/v1/snapshot/2030-01-01").status, 400);
    // The page itself loads, and says so on its own.
    assert_eq!(at("/").status, 200);

    env.ok(&["backfill", "--quiet"]);
    wait_until(10, "serve to notice the new database", || {
        at("/healthz").status == 200
    });
    let snapshot = at("/v1/snapshot/2024-01-15?contract=all");
    assert_eq!(snapshot.status, 200);
    assert_eq!(
        String::from_utf8(snapshot.body).unwrap(),
        env.ok(&[
            "query",
            "snapshot",
            "2024-01-15",
            "--contract",
            "all",
            "--format",
            "json"
        ])
    );
}

#[test]
fn validators_round_trip_and_change_with_each_publish() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet"]);
    let served = Served::start(&env, &[]);
    let client = reqwest::Client::new();
    let rt = runtime();
    let url = format!("{}/v1/snapshot/2024-01-15?contract=all", served.url);
    let first = rt.block_on(get(&client, &url, &[]));
    assert_eq!(first.status, 200);
    let etag = first.header("etag").unwrap().to_string();
    let modified = first.header("last-modified").unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(first.header("vary"), Some("Accept, Accept-Encoding"));

    let again = rt.block_on(get(&client, &url, &[("if-none-match", &etag)]));
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let since = rt.block_on(get(&client, &url, &[("if-modified-since", &modified)]));
    assert_eq!(since.status, 304);
    // Another format is another representation: its own tag, so the JSON one does not match.
    let csv_url = format!("{url}&format=csv");
    let csv = rt.block_on(get(&client, &csv_url, &[("if-none-match", &etag)]));
    assert_eq!(csv.status, 200);
    assert_ne!(csv.header("etag"), Some(etag.as_str()));

    // gzip when asked, and only then; the same bytes once decoded.
    let summary_url = format!("{}/v1/summary", served.url);
    let plain = rt.block_on(get(&client, &summary_url, &[]));
    assert_eq!(plain.header("content-encoding"), None);
    let zipped = rt.block_on(get(
        &client,
        &summary_url,
        &[("accept-encoding", "br, gzip")],
    ));
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&zipped.body[..])
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, plain.body);
    assert!(
        zipped.body.len() * 4 < plain.body.len(),
        "gzip saves little"
    );

    // A publish (any run) changes the file, so the old tag no longer matches.
    env.ok(&["update", "--quiet"]);
    wait_until(10, "the publish to be served", || {
        rt.block_on(get(&client, &url, &[("if-none-match", &etag)]))
            .status
            == 200
    });
    let after = rt.block_on(get(&client, &url, &[("if-none-match", &etag)]));
    assert_ne!(after.header("etag"), Some(etag.as_str()));
    assert_eq!(
        after.body, first.body,
        "the same day's answer did not change"
    );
}

/// Runs `update` against `newer`'s bucket instead of `env`'s, which publishes a new file.
fn update_from(env: &Env, newer: &SimServer) {
    let out = env
        .cmd()
        .env("BFA_S3_URL", newer.s3_url())
        .env("BFA_DATA_URL", newer.data_url())
        .args(["update", "--quiet"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_publish_under_load_fails_no_request_and_is_served_afterwards() {
    // Yesterday's files are not in this bucket yet; the second one has them.
    let env = realistic_env(days_ago(1));
    let newer = SimServer::start(vision_sim::realistic(today()), SimOptions::default()).unwrap();
    let served = Served::start(&env, &[]);
    let yesterday = days_ago(1).to_string();
    let snapshot_url = format!("{}/v1/snapshot/{yesterday}", served.url);
    let rt = runtime();
    let client = reqwest::Client::new();
    // Yesterday is not checked yet: refused with the sentence, never answered empty.
    let before = rt.block_on(get(&client, &snapshot_url, &[]));
    assert_eq!(before.status, 409, "yesterday is not listed yet");

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (client, stop) = (client.clone(), stop.clone());
            let url = if i % 2 == 0 {
                snapshot_url.clone()
            } else {
                format!("{}/v1/summary?start=2024-01-01&end={yesterday}", served.url)
            };
            rt.spawn(async move {
                let (mut answered, mut failed) = (0u64, Vec::new());
                // 409 (yesterday not checked yet) until the new file is served, then 200 only.
                let mut served_new = false;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match client.get(&url).send().await {
                        Ok(r) if r.status() == 200 => {
                            r.bytes().await.unwrap();
                            answered += 1;
                            served_new = true;
                        }
                        Ok(r) if r.status() == 409 && !served_new => {
                            r.bytes().await.unwrap();
                            answered += 1;
                        }
                        Ok(r) => failed.push(format!("{}", r.status())),
                        Err(e) => failed.push(e.to_string()),
                    }
                }
                (answered, failed)
            })
        })
        .collect();
    update_from(&env, &newer);
    wait_until(10, "the published update to be served", || {
        rt.block_on(get(&client, &snapshot_url, &[])).status == 200
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for handle in clients {
        let (answered, failed) = rt.block_on(handle).unwrap();
        assert!(
            failed.is_empty(),
            "failed requests during the publish: {failed:?}"
        );
        total += answered;
    }
    assert!(total > 100, "the clients hardly ran ({total} requests)");
    let after = rt.block_on(get(&client, &snapshot_url, &[]));
    assert_eq!(
        String::from_utf8(after.body).unwrap(),
        env.ok(&["query", "snapshot", &yesterday, "--format", "json"])
    );
}

/// A publish refills the new file's kept answers before the file is served, from the new file:
/// the first answer after the swap is the new file's, never the replaced file's kept body.
#[test]
fn answers_kept_across_a_publish_are_rewritten_from_the_new_file() {
    let env = realistic_env(days_ago(1));
    let newer = SimServer::start(vision_sim::realistic(today()), SimOptions::default()).unwrap();
    let served = Served::start_logging(&env, &[], "info");
    let rt = runtime();
    let client = reqwest::Client::new();
    let summary = format!("{}/v1/summary", served.url);
    let before = rt.block_on(get(&client, &summary, &[]));
    assert_eq!(before.status, 200);
    let etag = before.header("etag").unwrap().to_string();
    update_from(&env, &newer);
    wait_until(10, "the publish to be served", || {
        rt.block_on(get(&client, &summary, &[("if-none-match", &etag)]))
            .status
            == 200
    });
    // Kept before the swap (the refill), so not written by this request.
    let after = rt.block_on(get(&client, &summary, &[]));
    // Compared as text: a failure shows the two answers, not their bytes.
    let (before, after) = (
        String::from_utf8(before.body).unwrap(),
        String::from_utf8(after.body).unwrap(),
    );
    assert_ne!(after, before, "the update added yesterday");
    assert_eq!(after, env.ok(&["query", "summary", "--format", "json"]));
    let log = served.stderr();
    assert!(log.contains("refilled 1 of the 1 answers"), "{log}");
}

#[test]
fn other_machines_are_served_only_when_asked() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    let out = env.run(&["serve", "--addr", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--public") && stderr.contains("0.0.0.0:0"),
        "{stderr}"
    );
    let served = Served::start(&env, &["--addr", "0.0.0.0:0", "--public"]);
    assert!(
        served
            .stderr()
            .contains("reachable from other machines, without authentication"),
        "{}",
        served.stderr()
    );
}

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off_and_others_are_served() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet"]);
    // The deadline holds for the answered request too: at 1 s, a loaded machine once stalled
    // the client between connecting and sending its headers long enough to be cut off.
    let served = Served::start(&env, &["--request-timeout", "3", "--max-connections", "4"]);
    let addr = served.url.trim_start_matches("http://").to_string();

    // Slow loris: headers begun, never ended. The server closes the connection.
    let mut slow: Vec<std::net::TcpStream> = (0..3)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /v1/summary HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    // Meanwhile the fourth slot answers.
    let rt = runtime();
    let client = reqwest::Client::new();
    let ok = rt.block_on(get(&client, &format!("{}/healthz", served.url), &[]));
    assert_eq!(ok.status, 200);
    let started = Instant::now();
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut rest = Vec::new();
        // EOF (possibly after a 408): the read ends instead of timing out.
        s.read_to_end(&mut rest).unwrap();
        let text = String::from_utf8_lossy(&rest);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10));

    // Headers beyond 16 KiB are refused, not buffered.
    let mut big = std::net::TcpStream::connect(&addr).unwrap();
    let header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let _ = big.write_all(header.as_bytes());
    big.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reply = Vec::new();
    let _ = big.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 431"),
        "{reply}"
    );
    assert_eq!(
        rt.block_on(get(&client, &format!("{}/healthz", served.url), &[]))
            .status,
        200
    );
}

/// One request naming `host`, over a plain socket (an HTTP client takes Host from the URL, as
/// a browser under DNS rebinding does: the attacker's name, the loopback address). Returns the
/// status, the head and the body.
fn with_host(url: &str, path: &str, host: &str) -> (u16, String, String) {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply).to_string();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_lowercase(), body.to_string())
}

#[test]
fn only_requests_for_this_servers_names_are_answered() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet"]);
    let served = Served::start(&env, &[]);
    let port = served.url.rsplit(':').next().unwrap().to_string();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
    ] {
        for path in ["/healthz", "/v1/status", "/"] {
            let (status, _, body) = with_host(&served.url, path, &host);
            assert_eq!(status, 200, "{host} {path}: {body}");
        }
    }
    // DNS rebinding: the attacker's name, resolved to 127.0.0.1. Refused, with a sentence
    // that names what is answered and the flag that admits a name.
    for host in [
        format!("rebind.attacker.example:{port}"),
        "rebind.attacker.example".to_string(),
        format!("127.0.0.1.attacker.example:{port}"),
        format!("localhost:{}", port.parse::<u16>().unwrap() ^ 1),
    ] {
        for path in ["/v1/status", "/", "/healthz", "/v1/snapshot/2024-01-15"] {
            let (status, head, body) = with_host(&served.url, path, &host);
            assert_eq!(status, 421, "{host} {path}: {body}");
            assert!(head.contains("content-type: application/json"), "{head}");
            let error: serde_json::Value = serde_json::from_str(&body).unwrap();
            let sentence = error["error"].as_str().unwrap();
            assert!(
                sentence.contains(&format!("localhost:{port}"))
                    && sentence.contains("--allow-host")
                    && sentence.contains(&format!("{host:?}")),
                "{sentence}"
            );
            assert!(!body.contains("availability.duckdb"), "{body}");
        }
    }

    // A reverse proxy's name, admitted by the flag (with any port, or the one given).
    let proxied = Served::start(
        &env,
        &[
            "--allow-host",
            "Availability.Example.com",
            "--allow-host",
            "10.0.0.5:8443",
        ],
    );
    for (host, expected) in [
        ("availability.example.com", 200),
        ("availability.example.com:443", 200),
        ("10.0.0.5:8443", 200),
        ("10.0.0.5:8444", 421),
        ("other.example.com", 421),
    ] {
        let (status, _, body) = with_host(&proxied.url, "/v1/status", host);
        assert_eq!(status, expected, "{host}: {body}");
    }
    // A value that is no host name is bad usage, before anything is opened.
    let out = env.run(&["serve", "--addr", "127.0.0.1:0", "--allow-host", "a/b"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--allow-host \"a/b\" is not a host name"),
        "{stderr}"
    );
}

#[test]
fn every_answer_carries_the_security_headers() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet"]);
    let served = Served::start(&env, &[]);
    let client = reqwest::Client::new();
    let rt = runtime();
    let summary = rt.block_on(get(&client, &format!("{}/v1/summary", served.url), &[]));
    let etag = summary.header("etag").unwrap().to_string();
    let page = rt.block_on(get(&client, &format!("{}/", served.url), &[]));
    let page_etag = page.header("etag").unwrap().to_string();
    for (path, headers, status) in [
        ("/", vec![], 200),
        ("/", vec![("if-none-match", page_etag.as_str())], 304),
        ("/assets/app.js", vec![], 200),
        ("/assets/style.css", vec![], 200),
        ("/v1/summary", vec![], 200),
        ("/v1/summary?format=csv", vec![], 200),
        ("/v1/summary", vec![("if-none-match", etag.as_str())], 304),
        ("/v1/status", vec![], 200),
        ("/healthz", vec![], 200),
        ("/v1/snapshot/yesterday", vec![], 400),
        ("/v1/timeline/BTCUSDX", vec![], 404),
        ("/nothing", vec![], 404),
    ] {
        let answer = rt.block_on(get(&client, &format!("{}{path}", served.url), &headers));
        assert_eq!(answer.status, status, "{path}");
        assert_eq!(
            answer.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{path}");
        let csp = answer.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.split(';').any(|d| d.trim() == "default-src 'self'")
                && csp.split(';').any(|d| d.trim() == "frame-ancestors 'none'"),
            "{path}: {csp:?}"
        );
    }
    // The refusal of another host carries them too.
    let port = served.url.rsplit(':').next().unwrap();
    let (status, head, _) = with_host(&served.url, "/", &format!("evil.example:{port}"));
    assert_eq!(status, 421);
    assert!(
        head.contains("x-content-type-options: nosniff")
            && head.contains("content-security-policy: default-src 'self'"),
        "{head}"
    );
}

#[test]
fn status_names_the_file_not_its_folder_and_answers_while_the_path_is_briefly_absent() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet"]);
    let served = Served::start(&env, &[]);
    let client = reqwest::Client::new();
    let rt = runtime();
    let url = format!("{}/v1/status", served.url);
    let status = rt.block_on(get(&client, &url, &[]));
    assert_eq!(status.status, 200);
    let body = String::from_utf8(status.body.clone()).unwrap();
    assert_eq!(status.json()["path"], "availability.duckdb");
    let folder = env.dir.path().display().to_string();
    assert!(!body.contains(&folder), "{body}");
    let size = status.json()["size_bytes"].clone();
    assert_eq!(
        size,
        serde_json::json!(std::fs::metadata(&env.db).unwrap().len())
    );

    // Mid-publish, the path names no file for a moment; the file served still answers.
    let aside = env.dir.path().join("aside.duckdb");
    std::fs::rename(&env.db, &aside).unwrap();
    for _ in 0..3 {
        let during = rt.block_on(get(&client, &url, &[]));
        assert_eq!(
            during.status,
            200,
            "{}",
            String::from_utf8_lossy(&during.body)
        );
        assert_eq!(during.json()["path"], "availability.duckdb");
        assert_eq!(during.json()["size_bytes"], size);
    }
    std::fs::rename(&aside, &env.db).unwrap();
}

#[test]
fn healthz_is_unhealthy_while_queries_fail_on_the_file_served() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet"]);
    let client = reqwest::Client::new();
    let rt = runtime();
    let broken = |name: &str, sql: &str| {
        let path = env.dir.path().join(name);
        std::fs::copy(&env.db, &path).unwrap();
        duckdb::Connection::open(&path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        path
    };

    // A file that opens and answers the queries tried before serving it, and fails `status`
    // (a table only it reads is gone).
    let damaged = broken("damaged.duckdb", "DROP TABLE trading_disagreements");
    let served = Served::start(&env, &["--db", damaged.to_str().unwrap()]);
    let at = |path: &str| rt.block_on(get(&client, &format!("{}{path}", served.url), &[]));
    assert_eq!(at("/v1/snapshot/2024-01-15").status, 200);
    assert_eq!(at("/healthz").status, 200, "no query has failed yet");
    let status = at("/v1/status");
    assert_eq!(status.status, 500);
    let health = at("/healthz");
    assert_eq!(
        health.status,
        503,
        "{}",
        String::from_utf8_lossy(&health.body)
    );
    let sentence = health.json()["error"].as_str().unwrap().to_string();
    assert!(
        sentence.starts_with("queries fail on the file served: ")
            && sentence.contains(status.json()["error"].as_str().unwrap()),
        "{sentence}"
    );
    // Bad input is no failure of the file.
    let served = Served::start(&env, &[]);
    let at = |path: &str| rt.block_on(get(&client, &format!("{}{path}", served.url), &[]));
    assert_eq!(at("/v1/snapshot/yesterday").status, 400);
    assert_eq!(at("/v1/timeline/BTCUSDX").status, 404);
    assert_eq!(at("/healthz").status, 200);
    drop(served);

    // A file whose availability rows cannot be read is not served at all: 503, with why.
    let no_rows = broken("no-rows.duckdb", "DROP TABLE daily_availability_facts");
    let served = Served::start(&env, &["--db", no_rows.to_str().unwrap()]);
    let at = |path: &str| rt.block_on(get(&client, &format!("{}{path}", served.url), &[]));
    for path in ["/healthz", "/v1/snapshot/2024-01-15"] {
        let answer = at(path);
        assert_eq!(answer.status, 503, "{path}");
        let sentence = answer.json()["error"].as_str().unwrap().to_string();
        assert!(
            sentence.contains("daily_availability_facts"),
            "{path}: {sentence}"
        );
    }
}

#[test]
fn a_file_whose_newest_day_is_not_checked_for_every_folder_is_still_served() {
    // One folder checked a month less than the others (a listing that failed, a run stopped):
    // the newest day with a file is after "complete through", and the file must be served all
    // the same, answering the checked days and refusing the others.
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.ok(&["backfill", "--quiet"]);
    duckdb::Connection::open(&env.db)
        .unwrap()
        .execute_batch(
            "UPDATE symbols SET checked_through = DATE '2024-02-01' WHERE symbol = 'ETHUSDT'",
        )
        .unwrap();
    let served = Served::start(&env, &[]);
    let rt = runtime();
    let client = reqwest::Client::new();
    let at = |path: &str| rt.block_on(get(&client, &format!("{}{path}", served.url), &[]));
    let mut health = at("/healthz");
    wait_until(10, "the file to be served", || {
        health = at("/healthz");
        health.status != 503
    });
    assert_eq!(
        health.status,
        200,
        "{}",
        String::from_utf8_lossy(&health.body)
    );
    assert_eq!(at("/v1/snapshot/2024-01-15").status, 200);
    let refused = at("/v1/snapshot/2024-03-01");
    assert_eq!(refused.status, 409);
    assert!(
        refused.json()["error"].as_str().unwrap().starts_with(
            "2024-03-01 is not checked yet: the database is complete through 2024-02-01"
        )
    );
}

/// The endpoints `serve --help` lists are docs/api.md's, each is routed, and the 404 for any
/// other path names every one of them (all three come from the router's table).
#[test]
fn help_and_the_404_name_every_endpoint_the_api_guide_lists() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    let help = env.ok(&["serve", "--help"]);
    let mut listed: Vec<String> = help
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("GET "))
        .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        .collect();
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md"),
    )
    .unwrap();
    let mut documented: Vec<String> = guide
        .lines()
        .filter_map(|l| l.strip_prefix("| `GET "))
        .map(|rest| rest[..rest.find('`').unwrap()].to_string())
        .collect();
    listed.sort();
    documented.sort();
    assert_eq!(listed, documented, "serve --help:\n{help}");
    // No database yet: the endpoints answer 503, the page 200, an unknown path 404.
    let served = Served::start(&env, &[]);
    let client = reqwest::Client::new();
    let rt = runtime();
    let missing = rt.block_on(get(&client, &format!("{}/v2/snapshot", served.url), &[]));
    assert_eq!(missing.status, 404);
    let sentence = missing.json()["error"].as_str().unwrap().to_string();
    for path in &listed {
        let concrete = path
            .replace("{date}", "2024-01-15")
            .replace("{symbol}", "BTCUSDT");
        let answer = rt.block_on(get(&client, &format!("{}{concrete}", served.url), &[]));
        assert_ne!(answer.status, 404, "{path} is not routed");
        if path != "/" {
            assert!(
                sentence.contains(path.as_str()),
                "the 404 does not name {path}: {sentence}"
            );
        }
    }
}

/// Issue 28: `?market=cm|spot` answers as `--market` does, byte for byte, from handles opened
/// on the first question about that market; USD-M's answers stay USD-M's; a market not kept and
/// a spot universe without a quote are 400 with the command line's sentences.
#[test]
fn market_parameters_answer_what_the_command_line_prints() {
    let corpus = Corpus::from_spec(&small_spec())
        .merged(vision_sim::coin_m(today()))
        .merged(vision_sim::spot(today()));
    let env = Env::new(corpus);
    env.ok(&["update", "-q", "--markets", "um,cm,spot"]);
    let served = Served::start(&env, &[]);
    let client = reqwest::Client::new();
    let rt = runtime();
    let cases: &[(&str, &[&str])] = &[
        (
            "/v1/snapshot/2024-01-15",
            &["query", "snapshot", "2024-01-15"],
        ),
        (
            "/v1/snapshot/2024-01-15?market=spot",
            &["query", "snapshot", "2024-01-15", "--market", "spot"],
        ),
        (
            "/v1/universe/2024-01-15?market=spot&quote=USDT&top=100",
            &[
                "query",
                "universe",
                "2024-01-15",
                "--market",
                "spot",
                "--quote",
                "USDT",
                "--top",
                "100",
            ],
        ),
        (
            "/v1/universe/2024-01-15?market=cm",
            &["query", "universe", "2024-01-15", "--market", "cm"],
        ),
        (
            "/v1/timeline/BTCUSD_PERP?market=cm",
            &["query", "timeline", "BTCUSD_PERP", "--market", "cm"],
        ),
        (
            "/v1/events?market=spot",
            &["query", "events", "--market", "spot"],
        ),
        (
            "/v1/symbols?market=spot",
            &["query", "symbols", "--market", "spot"],
        ),
    ];
    for (path, args) in cases {
        let answer = rt.block_on(get(&client, &format!("{}{path}", served.url), &[]));
        let body = String::from_utf8(answer.body).unwrap();
        assert_eq!(answer.status, 200, "{path}: {body}");
        assert_eq!(
            body,
            env.ok(&[args, &["--format", "json"][..]].concat()),
            "{path}"
        );
    }
    let spot = rt.block_on(get(
        &client,
        &format!("{}/v1/snapshot/2024-01-15?market=spot", served.url),
        &[],
    ));
    assert!(String::from_utf8_lossy(&spot.body).contains("ETHBTC"));
    for (path, sentence) in [
        (
            "/v1/universe/2024-01-15?market=spot",
            "a spot universe ranks by quote volume within one quote asset",
        ),
        (
            "/v1/snapshot/2024-01-15?market=option",
            "is not a market kept here; use one of um, cm, spot",
        ),
    ] {
        let answer = rt.block_on(get(&client, &format!("{}{path}", served.url), &[]));
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        assert_eq!(answer.status, 400, "{path}: {body}");
        assert!(body.contains(sentence), "{path}: {body}");
    }
}
