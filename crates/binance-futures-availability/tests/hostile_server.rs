//! Issue 11, network side: whatever a broken or hostile server does, every request and every
//! run ends in bounded time and memory, with a sentence naming the prefix or key. Each test
//! fails (hangs or grows) without its fix; `bounded` turns a hang into a failure.

use crate::common;

use std::future::Future;
use std::time::Duration;

use binance_futures_availability::vision::{
    self, Cause, ClientConfig, Endpoints, RetryPolicy, Stall, VisionClient,
};
use common::*;
use tokio_util::sync::CancellationToken;
use vision_sim::{Corpus, Fault, FaultRule, Paging, SimOptions, SimServer};

const ROOT: &str = "data/futures/um/daily/klines/";

fn config(sim: &SimServer) -> ClientConfig {
    let mut config = ClientConfig::new(Endpoints {
        s3_url: sim.s3_url(),
        data_url: sim.data_url(),
    });
    config.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    config
}

fn client(sim: &SimServer) -> VisionClient {
    VisionClient::new(config(sim)).unwrap()
}

/// Fails the test instead of hanging when the code under test does not end by itself.
async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end within 60 s"))
}

fn sim_with(fault: Fault, pattern: &str) -> SimServer {
    let sim = SimServer::start(Corpus::from_spec(&small_spec()), SimOptions::default()).unwrap();
    sim.add_fault(FaultRule {
        pattern: pattern.into(),
        fault,
        times: None,
    });
    sim
}

#[tokio::test(flavor = "multi_thread")]
async fn pagination_that_makes_no_progress_is_abandoned_with_a_sentence() {
    for (paging, expected) in [
        (
            Paging::SameToken,
            "hands back a continuation token an earlier page gave",
        ),
        (
            Paging::TokenCycle,
            "hands back a continuation token an earlier page gave",
        ),
        (
            Paging::RepeatKeys,
            "at or before where the listing already was",
        ),
        (Paging::Endless, "did not end within 100 pages"),
    ] {
        let sim = sim_with(Fault::Paging(paging), ROOT);
        let err = bounded(
            "discovery",
            client(&sim).discover_symbols(vision::Dataset::UM_DAILY_1M),
        )
        .await
        .unwrap_err();
        assert!(matches!(err.cause, Cause::Stalled(_)), "{paging:?}: {err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "listing {ROOT} failed: the listing does not progress"
            )) && text.contains(expected),
            "{paging:?}: {text}"
        );
        // Bounded: at most the page cap, never the endless loop that reached 18 GB.
        assert!(sim.stats().lists <= 101, "{paging:?}: {:?}", sim.stats());
    }
    // A symbol's window is capped by the plan: one day of keys needs one page.
    let sim = sim_with(Fault::Paging(Paging::Endless), "BTCUSDT/1m/");
    let mut lister = client(&sim).lister(
        &vision::Dataset::UM_DAILY_1M.folder("BTCUSDT"),
        None,
        Some(vision::Dataset::UM_DAILY_1M.start_after("BTCUSDT", day("2024-01-01"))),
        3,
    );
    let mut result = Ok(None);
    for _ in 0..10 {
        result = lister.next_page().await;
        if result.is_err() {
            break;
        }
    }
    let err = result.unwrap_err();
    assert!(
        matches!(err.cause, Cause::Stalled(Stall::TooManyPages { max: 3 })),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_hour_of_retry_after_is_cut_to_the_policy_and_any_wait_can_be_cancelled() {
    let sim = SimServer::start(Corpus::from_spec(&small_spec()), SimOptions::default()).unwrap();
    sim.add_fault(FaultRule {
        pattern: "ETHUSDT".into(),
        fault: Fault::TooManyRequests {
            retry_after_secs: 3600,
        },
        times: Some(1),
    });
    let mut config = config(&sim);
    config.retry.max_retry_after = Duration::from_millis(50);
    let meta = bounded(
        "a HEAD told to wait an hour",
        VisionClient::new(config)
            .unwrap()
            .head(&vision::Dataset::UM_DAILY_1M.key("ETHUSDT", day("2020-01-01"))),
    )
    .await
    .unwrap();
    assert!(meta.is_some());

    // With the default policy (a minute at most), cancelling ends the wait at once.
    sim.add_fault(FaultRule {
        pattern: "BTCUSDT".into(),
        fault: Fault::TooManyRequests {
            retry_after_secs: 3600,
        },
        times: None,
    });
    let cancel = CancellationToken::new();
    let waiting = client(&sim).with_cancel(cancel.clone());
    // Counted before the spawn: the HEAD runs on another worker at once, and a 429 it got
    // before the count was taken would leave this loop waiting for the retry a minute later.
    let faults = sim.stats().faults;
    let head = tokio::spawn(async move {
        waiting
            .head(&vision::Dataset::UM_DAILY_1M.key("BTCUSDT", day("2020-01-01")))
            .await
    });
    bounded("the first 429", async {
        while sim.stats().faults == faults {
            tokio::task::yield_now().await;
        }
    })
    .await;
    cancel.cancel();
    let err = bounded("a cancelled wait", head)
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trickling_server_meets_the_total_deadline() {
    let sim = sim_with(Fault::Trickle(Duration::from_millis(100)), ROOT);
    let mut config = config(&sim);
    config.request_timeout = Duration::from_millis(500);
    let err = bounded(
        "a listing served a byte at a time",
        VisionClient::new(config)
            .unwrap()
            .discover_symbols(vision::Dataset::UM_DAILY_1M),
    )
    .await
    .unwrap_err();
    assert!(matches!(err.cause, Cause::Transport(_)), "{err}");
    assert_eq!(err.attempts, 2, "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_body_is_refused_once_it_passes_the_cap() {
    let sim = sim_with(Fault::Huge(1 << 30), ROOT);
    let err = bounded(
        "a 1 GB listing",
        client(&sim).discover_symbols(vision::Dataset::UM_DAILY_1M),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err.cause, Cause::TooLarge { limit } if limit == vision::MAX_LISTING_BYTES),
        "{err}"
    );
    // Not retried: the same server sends the same body.
    assert_eq!(err.attempts, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_an_endpoint_are_never_shown() {
    let sim = sim_with(Fault::Status(403), ROOT);
    let mut config = config(&sim);
    config.endpoints.s3_url = sim.s3_url().replace("http://", "http://user:secret@");
    let err = VisionClient::new(config)
        .unwrap()
        .discover_symbols(vision::Dataset::UM_DAILY_1M)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        !text.contains("secret") && text.contains("http://***:***@127.0.0.1"),
        "{text}"
    );
}

#[test]
fn sigterm_stops_a_run_stuck_in_discovery() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    env.sim.add_fault(FaultRule {
        pattern: ROOT.into(),
        fault: Fault::Delay(Duration::from_secs(600)),
        times: None,
    });
    let mut child = env
        .cmd()
        .args(["update", "--quiet"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(30, "the discovery request", || env.sim.stats().lists >= 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    wait_until(30, "the update to stop on the first SIGTERM", || {
        child.try_wait().unwrap().is_some()
    });
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("interrupted"), "{err}");
}

#[test]
fn a_clock_ahead_of_the_bucket_records_nothing() {
    let env = Env::new(Corpus::from_spec(&small_spec()));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = VisionClient::new(ClientConfig::new(Endpoints {
        s3_url: env.sim.s3_url(),
        data_url: env.sim.data_url(),
    }))
    .unwrap();
    let ahead = today() + chrono::Duration::days(30);
    let err = runtime
        .block_on(binance_futures_availability::collect::run(
            &env.db,
            &client,
            &binance_futures_availability::collect::Goal::Update {
                end: ahead,
                lookback: 20,
            },
            &Default::default(),
        ))
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "would check through {ahead}, but the bucket's clock says today is {}",
            today()
        )),
        "{err}"
    );
    // Nothing was collected, so nothing was created.
    assert!(!env.db.exists());
}

/// A bare HTTP/1.1 listener on 127.0.0.1 answering every request with `answer` and closing the
/// connection; it counts the requests it was sent. Its thread ends with the test process.
struct Listener {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Listener {
    fn start(answer: String) -> Listener {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (mut head, mut buf) = (Vec::new(), [0u8; 4096]);
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Listener { port, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Issue 24.11: a file host that redirects to another host (here another port of 127.0.0.1,
/// standing for a metadata service or a loopback admin port) is not followed, and nothing that
/// host holds reaches the log, the run record, `status` or `/v1/status`.
#[test]
fn a_file_redirect_to_another_host_is_not_followed_and_its_answer_never_shown() {
    const SECRET: &str = "SECRET-hunter2";
    let body = format!("{SECRET} aws_secret_access_key=wJalrXUtnFEMI/K7MDENG\n");
    let internal = Listener::start(format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let redirector = Listener::start(format!(
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{}/latest/meta-data/{SECRET}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n",
        internal.port
    ));
    let env = Env::new(Corpus::from_spec(&vision_sim::CorpusSpec {
        symbols: vec![spec_symbol(
            "BTCUSDT",
            day("2024-02-01"),
            day("2024-03-01"),
            &[],
        )],
        stray_keys: vec![],
        as_of: Some(day("2024-03-02")),
    }));
    let out = env
        .cmd()
        .env(
            "BFA_DATA_URL",
            format!("http://127.0.0.1:{}", redirector.port),
        )
        .args(["backfill", "--start", "2024-02-25", "--end", "2024-03-01"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(redirector.hits() > 0, "no file was asked for: {stderr}");
    assert_eq!(internal.hits(), 0, "the redirect was followed: {stderr}");
    assert!(
        stderr.contains(&format!(
            "refused a redirect to another host (127.0.0.1:{})",
            internal.port
        )),
        "{stderr}"
    );
    let status = env.run(&["status"]);
    let status_json = env.run(&["status", "--format", "json"]);
    let run_errors: Vec<String> = {
        let conn = read_only(&env.db);
        let mut stmt = conn
            .prepare("SELECT coalesce(error, '') FROM collection_runs")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(
        run_errors.iter().any(|e| e.contains("refused a redirect")),
        "{run_errors:?}"
    );
    let served = Served::start(&env, &[]);
    let v1_status = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async {
            reqwest::get(format!("{}/v1/status", served.url))
                .await?
                .text()
                .await
        })
        .unwrap();
    served.stop();
    assert!(v1_status.contains("refused a redirect"), "{v1_status}");
    for (what, text) in [
        ("/v1/status", v1_status),
        ("the log", stderr.to_string()),
        ("the run record", run_errors.join("\n")),
        (
            "status",
            String::from_utf8_lossy(&status.stdout).to_string(),
        ),
        (
            "status --format json",
            String::from_utf8_lossy(&status_json.stdout).to_string(),
        ),
    ] {
        assert!(
            !text.contains(SECRET) && !text.contains("wJalrXUtnFEMI"),
            "{what} shows what the other host holds: {text}"
        );
    }
}
