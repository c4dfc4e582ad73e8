//! 1d klines files as vision-sim serves them, fetched over HTTP and read by
//! `vision::read_1d_file`: the rows are the simulator's (an oracle written apart from the
//! reader), daily and monthly agree except on the scripted disagreements, both header eras
//! read, and a file that does not match its CHECKSUM is refused with its key.

mod common;

use binance_futures_availability::facts::{Month, Span};
use binance_futures_availability::vision::{kline_1d_key, read_1d_file};
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
                let monthly = trading::monthly_trade(symbol, t.date);
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
