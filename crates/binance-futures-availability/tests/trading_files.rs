//! 1d klines files as vision-sim serves them, fetched over HTTP and read by
//! `vision::read_1d_file`: the rows are the simulator's (an oracle written apart from the
//! reader), daily and monthly agree except on the scripted disagreements, both header eras
//! read, and a file that does not match its CHECKSUM is refused with its key.

use crate::common;

use binance_futures_availability::facts::{Market, Month, Span};
use binance_futures_availability::vision::{Dataset, read_1d_file};

/// The key of `symbol`'s USD-M 1d file of `span`: daily or monthly, as the span is.
fn kline_1d_key(symbol: &str, span: Span) -> String {
    let dataset = match span {
        Span::Day(_) => Dataset::UM_DAILY_1D,
        Span::Month(_) => Dataset::UM_MONTHLY_1D,
    };
    dataset.key(symbol, span.first_day())
}
use chrono::{Datelike, NaiveDate};
use common::*;
use vision_sim::{Corpus, CorpusSpec, SimOptions, SimServer, trading};

fn spec() -> CorpusSpec {
    CorpusSpec {
        symbols: vec![
            spec_symbol("BTCUSDT", day("2021-11-01"), day("2022-02-15"), &[]),
            spec_symbol(
                "币安人生USDT",
                day("2021-12-10"),
                day("2022-02-15"),
                &[(day("2022-01-20"), day("2022-01-22"))],
            ),
        ],
        stray_keys: vec![],
        as_of: Some(day("2022-02-16")),
    }
}

async fn fetch(client: &reqwest::Client, sim: &SimServer, key: &str) -> (Vec<u8>, String) {
    let get = |key: String| {
        let url = format!("{}/{}", sim.data_url(), key);
        async move {
            let r = client.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            r.bytes().await.unwrap().to_vec()
        }
    };
    let zip = get(key.to_string()).await;
    let checksum = String::from_utf8(get(format!("{key}.CHECKSUM")).await).unwrap();
    (zip, checksum)
}

fn number(text: &str) -> f64 {
    text.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn served_1d_files_read_back_as_the_simulators_rows() {
    let sim = SimServer::start(Corpus::from_spec(&spec()), SimOptions::default()).unwrap();
    let client = reqwest::Client::new();
    for symbol in ["BTCUSDT", "币安人生USDT"] {
        // Daily files on both sides of the header era.
        for date in [day("2021-12-31"), day("2022-01-01"), day("2022-02-15")] {
            let key = kline_1d_key(symbol, Span::Day(date));
            let (zip, checksum) = fetch(&client, &sim, &key).await;
            let days = read_1d_file(&key, &zip, &checksum).unwrap();
            let want = trading::day_trade(symbol, date);
            assert_eq!(days.len(), 1);
            let got = days[0];
            assert_eq!(got.date, date);
            assert_eq!(got.trades, want.trades);
            assert_eq!(got.open, number(&want.open));
            assert_eq!(got.quote_volume, number(&want.quote_volume));
            assert_eq!(
                got.taker_buy_quote_volume,
                number(&want.taker_buy_quote_volume)
            );
        }
        // Monthly files: every complete month before the bucket's day, its days in order,
        // equal to the daily files but on the disagreement the simulator scripts.
        for (year, month) in [(2021, 12), (2022, 1)] {
            let m = Month::new(year, month).unwrap();
            let key = kline_1d_key(symbol, Span::Month(m));
            let (zip, checksum) = fetch(&client, &sim, &key).await;
            let days = read_1d_file(&key, &zip, &checksum).unwrap();
            let expected: Vec<NaiveDate> = m
                .first_day()
                .iter_days()
                .take_while(|d| d.month() == month)
                .filter(|d| {
                    *d >= if symbol == "BTCUSDT" {
                        day("2021-11-01")
                    } else {
                        day("2021-12-10")
                    }
                })
                .filter(|d| {
                    symbol != "币安人生USDT" || !(day("2022-01-20")..=day("2022-01-22")).contains(d)
                })
                .collect();
            assert_eq!(
                days.iter().map(|t| t.date).collect::<Vec<_>>(),
                expected,
                "{key}"
            );
            for t in &days {
                let monthly = trading::monthly_trade(symbol, None, t.date);
                assert_eq!(
                    t.quote_volume,
                    number(&monthly.quote_volume),
                    "{key} {}",
                    t.date
                );
                let daily = trading::day_trade(symbol, t.date);
                let disagrees = trading::disagreement(symbol, m.first_day()) == Some(t.date);
                assert_eq!(monthly != daily, disagrees);
            }
        }
        // February is not over on the bucket's day: no monthly file yet.
        let feb = kline_1d_key(symbol, Span::Month(Month::new(2022, 2).unwrap()));
        let r = client
            .get(format!("{}/{}", sim.data_url(), feb))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{feb}");
    }

    // The CHECKSUM of another day does not vouch for this one.
    let key = kline_1d_key("BTCUSDT", Span::Day(day("2022-01-01")));
    let other = kline_1d_key("BTCUSDT", Span::Day(day("2022-01-02")));
    let (zip, _) = fetch(&client, &sim, &key).await;
    let (_, wrong) = fetch(&client, &sim, &other).await;
    let e = read_1d_file(&key, &zip, &wrong).unwrap_err().to_string();
    assert!(e.starts_with(&key) && e.contains("another file"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_tails_and_late_monthly_files_are_served_as_scripted() {
    let mut spec = spec();
    // BTCUSDT stopped trading on 2022-02-05; its files kept coming through 02-15.
    spec.symbols[0].zero_trade_tail = 10;
    let sim = SimServer::start(Corpus::from_spec(&spec), SimOptions::default()).unwrap();
    let client = reqwest::Client::new();

    let last_trade = day("2022-02-05");
    for (date, traded) in [
        (last_trade, true),
        (day("2022-02-06"), false),
        (day("2022-02-15"), false),
    ] {
        let key = kline_1d_key("BTCUSDT", Span::Day(date));
        let (zip, checksum) = fetch(&client, &sim, &key).await;
        let t = read_1d_file(&key, &zip, &checksum).unwrap()[0];
        assert_eq!(t.tradable(), traded, "{date}");
        if !traded {
            let carried = number(&trading::day_trade("BTCUSDT", last_trade).close);
            assert_eq!((t.open, t.close, t.quote_volume), (carried, carried, 0.0));
        }
    }

    let key = kline_1d_key("BTCUSDT", Span::Day(day("2022-01-10")));
    let read = |zip: Vec<u8>, checksum: String| read_1d_file(&key, &zip, &checksum).map(|_| ());
    for (fault, says) in [
        (vision_sim::Fault::CorruptZip, "it is not a readable zip"),
        (vision_sim::Fault::WrongChecksum, "but its CHECKSUM says"),
    ] {
        sim.add_fault(vision_sim::FaultRule {
            pattern: key.clone(),
            fault,
            times: Some(1),
        });
        let (zip, checksum) = fetch(&client, &sim, &key).await;
        let e = read(zip, checksum).unwrap_err().to_string();
        assert!(e.starts_with(&key) && e.contains(says), "{e}");
        // Once, as scripted: the next fetch is healthy.
        let (zip, checksum) = fetch(&client, &sim, &key).await;
        read(zip, checksum).unwrap();
    }

    // A CHECKSUM not uploaded yet, and a monthly file that appears late.
    let url = |key: &str| format!("{}/{}", sim.data_url(), key);
    let checksum = sim
        .with_corpus(|c| c.remove(&format!("{key}.CHECKSUM")))
        .unwrap();
    let r = client
        .get(url(&format!("{key}.CHECKSUM")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    sim.with_corpus(|c| c.insert(checksum));
    let jan = kline_1d_key("BTCUSDT", Span::Month(Month::new(2022, 1).unwrap()));
    let late = sim.with_corpus(|c| c.remove(&jan)).unwrap();
    assert_eq!(client.get(url(&jan)).send().await.unwrap().status(), 404);
    sim.with_corpus(|c| c.insert(late));
    let (zip, checksum) = fetch(&client, &sim, &jan).await;
    assert_eq!(read_1d_file(&jan, &zip, &checksum).unwrap().len(), 31);
}

#[test]
fn the_realistic_bucket_has_zero_trade_tails_inside_its_files() {
    let corpus = vision_sim::realistic(day("2026-11-20"));
    let mut tails = std::collections::BTreeMap::new();
    for o in corpus.objects() {
        if let vision_sim::ObjectKind::Daily1d {
            date,
            last_trade: Some(last),
        } = o.kind
            && date > last
        {
            let symbol = o.key.rsplit('/').nth(2).unwrap().to_string();
            *tails.entry(symbol).or_insert(0) += 1;
        }
    }
    assert!(
        tails.len() >= 20,
        "{} symbols with a zero-trade tail",
        tails.len()
    );
    // A tail's days have their 1m files too: a file exists, nothing traded.
    let (symbol, _) = tails.iter().next().unwrap();
    let days_1m: std::collections::BTreeSet<NaiveDate> = corpus
        .daily_1m_files()
        .filter(|(s, _, _)| s == symbol)
        .map(|(_, d, _)| d)
        .collect();
    for o in corpus.objects() {
        if let vision_sim::ObjectKind::Daily1d { date, .. } = o.kind
            && o.key.contains(&format!("/{symbol}/1d/"))
        {
            assert!(days_1m.contains(&date), "{symbol} {date}");
        }
    }
}

/// Issue 24.14, the fetch's own guard: whatever a listing let through, a file stating a day
/// after the run's last is refused with its key, and one within it is read. Issue 24.8, its
/// size: a listing whose size the download does not have is refused too.
#[tokio::test(flavor = "multi_thread")]
async fn a_fetched_file_stating_a_day_after_the_end_or_another_size_is_refused() {
    use binance_futures_availability::vision::{
        ClientConfig, Endpoints, ListedFile, Problem, VisionClient, fetch_1d_file,
    };
    let sim = SimServer::start(Corpus::from_spec(&spec()), SimOptions::default()).unwrap();
    let client = VisionClient::new(ClientConfig::new(Endpoints {
        s3_url: sim.s3_url(),
        data_url: sim.data_url(),
    }))
    .unwrap();
    let permits = tokio::sync::Semaphore::new(4);
    let date = day("2022-02-15");
    let span = Span::Day(date);
    let object = sim
        .with_corpus(|c| c.get(&kline_1d_key("BTCUSDT", span)).cloned())
        .unwrap();
    let listed = ListedFile {
        span,
        size: object.size,
        last_modified: object.last_modified,
    };
    let days = fetch_1d_file(&client, &permits, Market::Um, "BTCUSDT", &listed, date)
        .await
        .unwrap();
    assert_eq!(days.len(), 1);
    let refused = |e: binance_futures_availability::vision::FetchError| match e {
        binance_futures_availability::vision::FetchError::File(f) => f,
        other => panic!("{other}"),
    };
    let e = refused(
        fetch_1d_file(
            &client,
            &permits,
            Market::Um,
            "BTCUSDT",
            &listed,
            day("2022-02-14"),
        )
        .await
        .unwrap_err(),
    );
    assert!(matches!(e.problem, Problem::AfterEnd { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: it states 2022-02-15, after 2022-02-14, the last day this run checks; nothing \
             of it is stored",
            kline_1d_key("BTCUSDT", span)
        )
    );
    let larger = ListedFile {
        size: object.size + 1,
        ..listed
    };
    let e = refused(
        fetch_1d_file(&client, &permits, Market::Um, "BTCUSDT", &larger, date)
            .await
            .unwrap_err(),
    );
    assert!(matches!(e.problem, Problem::NotAsListed { .. }), "{e}");
}
