//! The Vision client against the simulated bucket (and an independent S3, moto; and the AWS CLI
//! against the simulator): paging, names, faults, and the errors a user would read.

use crate::common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use binance_futures_availability::vision::{
    self, ClientConfig, Endpoints, RetryPolicy, VisionClient,
};
use common::*;
use vision_sim::{Corpus, Fault, FaultRule, SimOptions, SimServer};

fn realistic() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| vision_sim::realistic(day("2026-08-22")))
}

fn client(sim: &SimServer) -> VisionClient {
    let mut config = ClientConfig::new(Endpoints {
        s3_url: sim.s3_url(),
        data_url: sim.data_url(),
    });
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    config.read_timeout = Duration::from_millis(300);
    VisionClient::new(config).unwrap()
}

async fn list_all(
    client: &VisionClient,
    prefix: &str,
) -> Result<(Vec<String>, usize), vision::VisionError> {
    let mut lister = client.lister(prefix, None, None, 1000);
    let (mut keys, mut pages) = (Vec::new(), 0);
    while let Some(page) = lister.next_page().await? {
        pages += 1;
        keys.extend(page.objects().map(|o| o.key.to_string()));
    }
    Ok((keys, pages))
}

fn corpus_keys(corpus: &Corpus, prefix: &str) -> Vec<String> {
    corpus
        .objects()
        .iter()
        .filter(|o| o.key.starts_with(prefix))
        .map(|o| o.key.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_pages_through_more_than_1000_folders() {
    let sim = SimServer::start(realistic().clone(), SimOptions::default()).unwrap();
    let symbols = client(&sim)
        .discover_symbols(vision::Dataset::UM_DAILY_1M)
        .await
        .unwrap();
    let mut expected: Vec<String> = realistic()
        .objects()
        .iter()
        .filter_map(|o| {
            o.key
                .strip_prefix("data/futures/um/daily/klines/")?
                .split_once('/')
                .map(|(s, _)| s.to_string())
        })
        .filter(|s| !s.is_empty())
        .collect();
    expected.dedup();
    assert!(expected.len() > 1000, "{}", expected.len());
    assert_eq!(symbols, expected);
    for name in [
        "币安人生USDT",
        "我踏马来了USDT",
        "ICPUSDT_SETTLED",
        "AERGOUSDTSETTLEDSETTLED",
        "BTCUSDT_260925",
        "1000PEPEUSDC",
    ] {
        assert!(symbols.iter().any(|s| s == name), "{name} not discovered");
    }
    assert_eq!(sim.stats().lists, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symbol_with_more_than_1000_keys_is_listed_completely_in_minimum_pages() {
    let sim = SimServer::start(realistic().clone(), SimOptions::default()).unwrap();
    let prefix = vision::Dataset::UM_DAILY_1M.folder("BTCUSDT");
    let (keys, pages) = list_all(&client(&sim), &prefix).await.unwrap();
    let expected = corpus_keys(realistic(), &prefix);
    assert!(expected.len() > 4000);
    assert_eq!(keys, expected);
    assert_eq!(pages, expected.len().div_ceil(1000));
    // CHECKSUM siblings and stray keys are listed, but only exact daily keys are data days.
    let days = keys
        .iter()
        .filter(|k| vision::Dataset::UM_DAILY_1M.parse(k).is_some())
        .count();
    assert_eq!(
        days,
        realistic()
            .daily_1m_files()
            .filter(|(s, _, _)| *s == "BTCUSDT")
            .count()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unicode_and_settled_names_round_trip_through_listing_and_head() {
    let sim = SimServer::start(realistic().clone(), SimOptions::default()).unwrap();
    let client = client(&sim);
    for symbol in ["币安人生USDT", "ICPUSDT_SETTLED", "AERGOUSDTSETTLEDSETTLED"] {
        let prefix = vision::Dataset::UM_DAILY_1M.folder(symbol);
        let (keys, _) = list_all(&client, &prefix).await.unwrap();
        assert!(!keys.is_empty(), "{symbol}");
        assert_eq!(keys, corpus_keys(realistic(), &prefix));
        let (_, span) = vision::Dataset::UM_DAILY_1M.parse(&keys[0]).unwrap();
        let date = span.first_day();
        let meta = client
            .head(&vision::Dataset::UM_DAILY_1M.key(symbol, date))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(meta.size, realistic().get(&keys[0]).unwrap().size);
        assert_eq!(
            meta.last_modified,
            Some(realistic().get(&keys[0]).unwrap().last_modified)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_transient_fault_is_recovered_within_the_retry_bound() {
    let corpus = Corpus::from_spec(&small_spec());
    let prefix = vision::Dataset::UM_DAILY_1M.folder("ETHUSDT");
    let expected = corpus_keys(&corpus, &prefix);
    for fault in [
        Fault::Status(500),
        Fault::Status(502),
        Fault::SlowDown,
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
        Fault::Delay(Duration::from_millis(1500)),
        Fault::TruncatedXml,
        Fault::GarbageXml,
        Fault::Reset,
    ] {
        let sim = SimServer::start(corpus.clone(), SimOptions::default()).unwrap();
        // Every page fails three times: one attempt short of the bound of four.
        sim.add_fault(FaultRule {
            pattern: "ETHUSDT".into(),
            fault: fault.clone(),
            times: Some(3),
        });
        let client = client(&sim);
        let (keys, _) = list_all(&client, &prefix)
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(keys, expected, "{fault:?}");
        let pages = expected.len().div_ceil(1000) as u64;
        assert_eq!(
            client
                .stats()
                .retries
                .load(std::sync::atomic::Ordering::Relaxed),
            3 * pages,
            "{fault:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_beyond_the_bound_are_typed_errors_naming_key_and_status() {
    let sim = SimServer::start(Corpus::from_spec(&small_spec()), SimOptions::default()).unwrap();
    sim.add_fault(FaultRule {
        pattern: "ETHUSDT".into(),
        fault: Fault::SlowDown,
        times: None,
    });
    let err = list_all(
        &client(&sim),
        &vision::Dataset::UM_DAILY_1M.folder("ETHUSDT"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.attempts, 4);
    let text = err.to_string();
    assert!(
        text.contains("listing data/futures/um/daily/klines/ETHUSDT/1m/")
            && text.contains("HTTP 503 SlowDown"),
        "{text}"
    );
    assert!(text.contains("after 4 attempts"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_is_an_error_at_once_and_never_no_file() {
    let sim = SimServer::start(Corpus::from_spec(&small_spec()), SimOptions::default()).unwrap();
    sim.add_fault(FaultRule {
        pattern: "ICPUSDT".into(),
        fault: Fault::Status(403),
        times: None,
    });
    let client = client(&sim);
    let key = vision::Dataset::UM_DAILY_1M.key("ICPUSDT", day("2023-01-01"));
    let err = client.head(&key).await.unwrap_err();
    assert_eq!((err.status(), err.attempts), (Some(403), 1));
    assert!(err.to_string().contains(&format!("HEAD {key}")), "{err}");
    assert!(
        err.to_string().contains("403 means an outage or a block"),
        "{err}"
    );
    let err = list_all(&client, &vision::Dataset::UM_DAILY_1M.folder("ICPUSDT"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("HTTP 403 AccessDenied"), "{err}");
    // A missing file is a 404: an answer, not an error.
    assert_eq!(
        client
            .head(&vision::Dataset::UM_DAILY_1M.key("ETHUSDT", day("2019-12-30")))
            .await
            .unwrap(),
        None
    );
    assert!(
        client
            .head(&vision::Dataset::UM_DAILY_1M.key("ETHUSDT", day("2020-01-01")))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured() {
    let sim = SimServer::start(Corpus::from_spec(&small_spec()), SimOptions::default()).unwrap();
    sim.add_fault(FaultRule {
        pattern: "ETHUSDT".into(),
        fault: Fault::TooManyRequests {
            retry_after_secs: 1,
        },
        times: Some(1),
    });
    let started = Instant::now();
    let meta = client(&sim)
        .head(&vision::Dataset::UM_DAILY_1M.key("ETHUSDT", day("2020-01-01")))
        .await
        .unwrap();
    assert!(meta.is_some());
    // The backoff alone would wait at most 5 ms; Retry-After asked for a second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// The same listing code against moto, an independent S3 implementation.
#[tokio::test(flavor = "multi_thread")]
async fn listing_works_against_moto() {
    let python = python();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(python.with_file_name("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let fill = "import boto3, sys, time\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')\n\
        for _ in range(200):\n\
        \x20   try:\n\
        \x20       s3.list_buckets(); break\n\
        \x20   except Exception:\n\
        \x20       time.sleep(0.05)\n\
        s3.create_bucket(Bucket='data.binance.vision')\n\
        import datetime\n\
        d0 = datetime.date(2021, 1, 1)\n\
        for sym in ['币安人生USDT', 'BTCUSDT']:\n\
        \x20   for i in range(600 if sym == 'BTCUSDT' else 3):\n\
        \x20       d = d0 + datetime.timedelta(days=i)\n\
        \x20       k = f'data/futures/um/daily/klines/{sym}/1m/{sym}-1m-{d}.zip'\n\
        \x20       s3.put_object(Bucket='data.binance.vision', Key=k, Body=b'x' * 10)\n\
        \x20       s3.put_object(Bucket='data.binance.vision', Key=k + '.CHECKSUM', Body=b'y')\n";
    common::output_ok(std::process::Command::new(&python).args(["-c", fill, &endpoint]));
    let mut config = ClientConfig::new(Endpoints {
        s3_url: format!("{endpoint}/data.binance.vision"),
        data_url: endpoint.clone(),
    });
    config.retry.base_delay = Duration::from_millis(1);
    let client = VisionClient::new(config).unwrap();
    let symbols = client.discover_symbols(vision::Dataset::UM_DAILY_1M).await;
    let (btc, pages) = list_all(&client, &vision::Dataset::UM_DAILY_1M.folder("BTCUSDT"))
        .await
        .unwrap();
    let (unicode, _) = list_all(
        &client,
        &vision::Dataset::UM_DAILY_1M.folder("币安人生USDT"),
    )
    .await
    .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(symbols.unwrap(), ["BTCUSDT", "币安人生USDT"]);
    assert_eq!((btc.len(), pages), (1200, 2));
    assert!(btc.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(unicode.len(), 6);
    assert_eq!(
        vision::Dataset::UM_DAILY_1M.parse(&unicode[0]),
        Some((
            "币安人生USDT",
            binance_futures_availability::facts::Span::Day(day("2021-01-01"))
        ))
    );
}

/// A third-party client vouches for the simulator: `aws s3 ls` prints every file of a folder.
#[test]
fn aws_cli_lists_the_simulated_bucket() {
    let python = python();
    let sim = SimServer::start(realistic().clone(), SimOptions::default()).unwrap();
    let prefix = vision::Dataset::UM_DAILY_1M.folder("BTCUSDT");
    let out = std::process::Command::new(python.with_file_name("aws"))
        .args([
            "s3",
            "ls",
            "--no-sign-request",
            "--endpoint-url",
            &sim.data_url(),
        ])
        .arg(format!("s3://data.binance.vision/{prefix}"))
        .env("AWS_DEFAULT_REGION", "ap-northeast-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| format!("{prefix}{}", l.split_whitespace().last().unwrap()))
        .collect();
    let expected = corpus_keys(realistic(), &prefix);
    assert!(expected.len() > 4000);
    assert_eq!(listed, expected);
    // And the unicode folder, which needs encoding-type=url to come back intact.
    let out = std::process::Command::new(python.with_file_name("aws"))
        .args([
            "s3",
            "ls",
            "--no-sign-request",
            "--endpoint-url",
            &sim.data_url(),
            "s3://data.binance.vision/data/futures/um/daily/klines/币安人生USDT/1m/",
        ])
        .env("AWS_DEFAULT_REGION", "ap-northeast-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().count(),
        corpus_keys(realistic(), "data/futures/um/daily/klines/币安人生USDT/1m/").len()
    );
    assert!(text.contains("币安人生USDT-1m-"), "{text}");
}

/// The simulator's files and CHECKSUM siblings agree, checked with coreutils' `sha256sum`, and a
/// missing key is an S3 error document.
#[tokio::test(flavor = "multi_thread")]
async fn simulated_files_match_their_checksums() {
    let sim = SimServer::start(Corpus::from_spec(&small_spec()), SimOptions::default()).unwrap();
    let http = reqwest::Client::new();
    let key = vision::Dataset::UM_DAILY_1M.key("币安人生USDT", day("2024-01-10"));
    let url = format!(
        "{}/{}",
        sim.data_url(),
        percent_encoding::utf8_percent_encode(&key, common::URL_KEEP)
    );
    let zip = http.get(&url).send().await.unwrap();
    assert_eq!(zip.status(), 200);
    let body = zip.bytes().await.unwrap();
    assert_eq!(body.len(), 57_000);
    let checksum = http
        .get(format!("{url}.CHECKSUM"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.zip"), &body).unwrap();
    let sha = std::process::Command::new("sha256sum")
        .arg(dir.path().join("f.zip"))
        .output()
        .unwrap();
    let sha = String::from_utf8(sha.stdout).unwrap();
    assert_eq!(
        checksum,
        format!("{}  币安人生USDT-1m-2024-01-10.zip", &sha[..64])
    );
    let missing = http
        .get(format!(
            "{}/{}",
            sim.s3_url(),
            vision::Dataset::UM_DAILY_1M.key("BTCUSDT", day("2019-12-30"))
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("<Code>NoSuchKey</Code>")
    );
}

/// The seam, proven by a second market: the same lister, grammar and file reader serve COIN-M
/// folders (perpetual, quarterly, settled, and the pair under `indexPriceKlines`), with every
/// answer checked against the simulator's own corpus.
#[tokio::test(flavor = "multi_thread")]
async fn coin_m_folders_list_and_read_through_the_same_seam() {
    use binance_futures_availability::facts::Span;
    use vision::{Dataset, Extent, Instrument, Market};
    let corpus = vision_sim::coin_m(day("2024-07-02"));
    let sim = SimServer::start(corpus.clone(), SimOptions::default()).unwrap();
    let client = client(&sim);
    let permits = tokio::sync::Semaphore::new(4);
    let cm = |text: &str| text.parse::<Dataset>().unwrap();

    let symbols = client
        .discover_symbols(cm("cm/daily/klines/1m"))
        .await
        .unwrap();
    assert_eq!(
        symbols,
        [
            "ADAUSD_PERP_SETTLED",
            "BTCUSD_240628",
            "BTCUSD_PERP",
            "ETHUSD_PERP",
            "LINKUSD_PERP"
        ]
    );
    let kinds: Vec<(Instrument, bool)> = symbols
        .iter()
        .map(|s| Market::Cm.symbol(s))
        .map(|n| (n.instrument, n.settled))
        .collect();
    assert_eq!(
        kinds,
        [
            (Instrument::Perpetual, true),
            (Instrument::Delivery(day("2024-06-28")), false),
            (Instrument::Perpetual, false),
            (Instrument::Perpetual, false),
            (Instrument::Perpetual, false)
        ]
    );
    let pairs = client
        .discover_symbols(cm("cm/daily/indexPriceKlines/1m"))
        .await
        .unwrap();
    assert_eq!(pairs, ["BTCUSD"]);
    assert_eq!(Market::Cm.symbol(&pairs[0]).instrument, Instrument::Pair);

    // A window of daily 1m files, over more than one page, is the corpus's days exactly.
    let window = (day("2020-08-01"), day("2024-07-01"));
    for (dataset, symbol) in [
        (cm("cm/daily/klines/1m"), "BTCUSD_PERP"),
        (cm("cm/daily/klines/1m"), "BTCUSD_240628"),
        (cm("cm/daily/klines/1d"), "ADAUSD_PERP_SETTLED"),
        (cm("cm/monthly/klines/1d"), "BTCUSD_240628"),
        (cm("cm/daily/indexPriceKlines/1m"), "BTCUSD"),
    ] {
        let listed = vision::list_window(&client, &permits, dataset, symbol, window, Extent::Whole)
            .await
            .unwrap();
        let expected: Vec<Span> = corpus
            .objects()
            .iter()
            .filter_map(|o| dataset.parse(&o.key))
            .filter(|(s, span)| *s == symbol && span.last_day() <= window.1)
            .map(|(_, span)| span)
            .collect();
        assert!(!expected.is_empty(), "{dataset} {symbol}");
        assert_eq!(
            listed.files.keys().copied().collect::<Vec<_>>(),
            expected,
            "{dataset} {symbol}"
        );
        for (span, file) in &listed.files {
            let object = corpus.get(&dataset.key(symbol, span.first_day())).unwrap();
            assert_eq!(
                (file.size, file.last_modified),
                (object.size, object.last_modified)
            );
        }
    }

    // A COIN-M 1d file goes through the same fetch, CHECKSUM and unzip as a USD-M one.
    let monthly = cm("cm/monthly/klines/1d");
    let listed = vision::list_window(
        &client,
        &permits,
        monthly,
        "BTCUSD_PERP",
        (day("2024-01-01"), day("2024-01-31")),
        Extent::Whole,
    )
    .await
    .unwrap();
    let file = listed.files.values().next().unwrap();
    let rows = vision::fetch_file(
        &client,
        &permits,
        monthly,
        "BTCUSD_PERP",
        file,
        vision::MAX_1D_ZIP_BYTES,
        vision::parse_csv,
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 31);
    assert_eq!(rows[0].open_time.value, 1_704_067_200_000);
}
