//! Markets beside USD-M (issue 28), through the binary against vision-sim: COIN-M's universe,
//! ranked on USD notional (contracts × contract size), equal to a computation in this file
//! from the corpus's own numbers, and free of lookahead like USD-M's.
//!
//! The oracle here is the one `lives.rs` uses for USD-M, given each market's value of a day:
//! the 1d file's quote volume, or for COIN-M its `volume` (contracts) times the contract's
//! size as the issue states it (100 USD for `BTCUSD` contracts, 10 USD for every other).

use crate::common;

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use common::*;
use serde_json::Value;
use vision_sim::Corpus;

/// One member as compared: symbol, rank, mean quote volume, days listed.
pub(crate) type Ranked = (String, u64, f64, i64);

/// `--min-age`, `--recent`, `--window`, `--top` as the oracle takes them.
pub(crate) type Params = (i64, i64, i64, Option<usize>);

/// A folder the oracle may rank: its name and its gaps (first and last absent day).
pub(crate) type Folder<'a> = (&'a str, &'a [(NaiveDate, NaiveDate)]);

/// The universe of `date` from the corpus's trading rows alone: for each of `folders`, its
/// current life (after the last gap of 7 days or more that ended before DATE), first and last
/// trade before DATE, and the mean over the window of `value` (the day's quote volume in the
/// market's terms) or, `by_trades`, of the trades.
pub(crate) fn oracle_universe(
    trading: &BTreeMap<(String, NaiveDate), TradeRow>,
    folders: &[Folder],
    value: impl Fn(&str, &TradeRow) -> f64,
    date: NaiveDate,
    (min_age, recent, window, top): Params,
    by_trades: bool,
) -> Vec<Ranked> {
    let mut members: Vec<(String, f64, f64, i64)> = Vec::new();
    for (name, gaps) in folders {
        let life_from = gaps
            .iter()
            .filter(|(a, b)| (*b - *a).num_days() + 1 >= 7 && *b < date)
            .map(|(_, b)| *b)
            .max();
        let rows: Vec<(NaiveDate, &TradeRow)> = trading
            .range((name.to_string(), NaiveDate::MIN)..(name.to_string(), date))
            .map(|((_, d), r)| (*d, r))
            .collect();
        let Some(first) = rows
            .iter()
            .filter(|(d, r)| r.3 > 0 && life_from.is_none_or(|l| *d > l))
            .map(|r| r.0)
            .min()
        else {
            continue;
        };
        let last = rows
            .iter()
            .filter(|r| r.1.3 > 0)
            .map(|r| r.0)
            .max()
            .unwrap();
        let in_window: Vec<&TradeRow> = rows
            .iter()
            .filter(|r| r.0 >= date - Duration::days(window))
            .map(|r| r.1)
            .collect();
        if last < date - Duration::days(recent)
            || (date - first).num_days() < min_age
            || in_window.is_empty()
        {
            continue;
        }
        let n = in_window.len() as f64;
        let mean = in_window.iter().map(|r| value(name, r)).sum::<f64>() / n;
        let trades = in_window.iter().map(|r| r.3 as f64).sum::<f64>() / n;
        members.push((name.to_string(), mean, trades, (date - first).num_days()));
    }
    let key = |m: &(String, f64, f64, i64)| if by_trades { m.2 } else { m.1 };
    members.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then(a.0.as_bytes().cmp(b.0.as_bytes()))
    });
    members
        .into_iter()
        .take(top.unwrap_or(usize::MAX))
        .zip(1..)
        .map(|((s, m, _, d), rank)| (s, rank, m, d))
        .collect()
}

/// `query universe DATE FLAGS --format json`, as compared, and its rows.
pub(crate) fn universe(env: &Env, date: NaiveDate, flags: &[&str]) -> (Vec<Ranked>, Vec<Value>) {
    let d = date.to_string();
    let mut args = vec!["query", "universe", d.as_str()];
    args.extend(flags);
    args.extend(["--format", "json"]);
    let rows: Vec<Value> = serde_json::from_str(&env.ok(&args)).unwrap();
    let ranked = rows
        .iter()
        .map(|m| {
            (
                m["symbol"].as_str().unwrap().to_string(),
                m["rank"].as_u64().unwrap(),
                m["mean_quote_volume"].as_f64().unwrap(),
                m["days_listed"].as_i64().unwrap(),
            )
        })
        .collect();
    (ranked, rows)
}

/// The same members, ranks and days, and means equal to 1e-9 of their size.
pub(crate) fn same(got: &[Ranked], want: &[Ranked]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            g.0 == w.0 && g.1 == w.1 && g.3 == w.3 && (g.2 - w.2).abs() <= 1e-9 * w.2.abs()
        })
}

/// `got` is `want`, and every day is checked: whether each member traded that day is known.
pub(crate) fn assert_checked_universe(got: &[Ranked], want: &[Ranked], rows: &[Value], what: &str) {
    assert!(same(got, want), "{what}:\n got {got:?}\nwant {want:?}");
    assert!(
        rows.iter().all(|r| r["traded_on_date"].is_boolean()),
        "{rows:?}"
    );
}

/// A COIN-M day's USD notional: contracts (the file's `volume`) × the contract's size.
fn usd_notional(symbol: &str, row: &TradeRow) -> f64 {
    let size = if symbol.starts_with("BTCUSD_") {
        100.0
    } else {
        10.0
    };
    row.4 * size
}

/// The COIN-M corpus's folders, none with a gap: perpetuals, then the delivery contract and
/// the settled folder, which only `--contract all` and `--include-settled` admit.
const CM_PERPETUALS: [&str; 3] = ["BTCUSD_PERP", "ETHUSD_PERP", "LINKUSD_PERP"];
const CM_DELIVERY: &str = "BTCUSD_240628";
const CM_SETTLED: &str = "ADAUSD_PERP_SETTLED";

/// Flags, the oracle's parameters, and whether delivery contracts, settled folders are asked
/// for and trades rank.
type CmQuestion = (&'static [&'static str], Params, bool, bool, bool);

const CM_QUESTIONS: [CmQuestion; 5] = [
    (&[], (0, 1, 30, None), false, false, false),
    (
        &["--top", "2", "--window", "7"],
        (0, 1, 7, Some(2)),
        false,
        false,
        false,
    ),
    (
        &["--recent", "10", "--contract", "all", "--include-settled"],
        (0, 10, 30, None),
        true,
        true,
        false,
    ),
    (
        &["--by", "trades", "--min-age", "30"],
        (30, 1, 30, None),
        false,
        false,
        true,
    ),
    (
        &["--by", "trades", "--contract", "delivery", "--window", "60"],
        (0, 1, 60, None),
        true,
        false,
        true,
    ),
];

fn cm_folders(delivery: bool, perpetual: bool, settled: bool) -> Vec<Folder<'static>> {
    let mut folders: Vec<Folder> = Vec::new();
    if perpetual {
        folders.extend(CM_PERPETUALS.iter().map(|s| (*s, &[][..])));
    }
    if delivery {
        folders.push((CM_DELIVERY, &[]));
    }
    if settled && perpetual {
        folders.push((CM_SETTLED, &[]));
    }
    folders
}

fn cm_universe_is_the_oracles(env: &Env, corpus: &Corpus, date: NaiveDate) {
    let trading = expected_trading(corpus);
    for (flags, params, delivery, settled, by_trades) in CM_QUESTIONS {
        let perpetual = !flags.contains(&"delivery");
        let folders = cm_folders(delivery, perpetual, settled);
        let (got, rows) = universe(env, date, &[&["--market", "cm"], flags].concat());
        let want = oracle_universe(&trading, &folders, usd_notional, date, params, by_trades);
        assert_checked_universe(&got, &want, &rows, &format!("{date} {flags:?}"));
    }
}

/// COIN-M ranks on USD notional: on several dates and flag sets, the members, ranks, means and
/// days listed are those computed here from the corpus's contracts and contract sizes. Its
/// 8th column (base-asset volume) would rank BTCUSD_PERP below ETHUSD_PERP on some of these
/// days and give means thousands of times smaller.
#[test]
fn coin_m_universes_equal_an_independent_computation_on_usd_notional() {
    let corpus = vision_sim::coin_m(today());
    let env = Env::new(corpus.clone());
    env.ok(&["update", "-q", "--market", "cm"]);
    // The trading rows are the files' own, in contracts.
    let expected = expected_trading(&corpus);
    let stored = db_trading_of(&env.db, "cm.daily_trading");
    assert!(
        stored == expected,
        "{} rows against {}",
        stored.len(),
        expected.len()
    );
    for date in [
        "2021-03-15",
        "2021-09-01",
        "2023-04-05",
        "2023-04-20",
        "2024-01-20",
        "2024-06-29",
    ] {
        cm_universe_is_the_oracles(&env, &corpus, day(date));
    }
    // A panel's dates are those dates' universes, on the same notional.
    let trading = expected_trading(&corpus);
    let panel = env.ok(&[
        "query",
        "universe",
        "2023-03-28",
        "--until",
        "2023-04-03",
        "--market",
        "cm",
        "--format",
        "json",
    ]);
    let panel: Vec<Value> = serde_json::from_str(&panel).unwrap();
    for date in day("2023-03-28").iter_days().take(7) {
        let got: Vec<Ranked> = panel
            .iter()
            .filter(|r| r["date"] == date.to_string())
            .map(|m| {
                let n = |k: &str| m[k].as_i64().unwrap();
                let symbol = m["symbol"].as_str().unwrap().to_string();
                (
                    symbol,
                    n("rank") as u64,
                    m["mean_quote_volume"].as_f64().unwrap(),
                    n("days_listed"),
                )
            })
            .collect();
        let folders = cm_folders(false, true, false);
        let want = oracle_universe(
            &trading,
            &folders,
            usd_notional,
            date,
            (0, 1, 30, None),
            false,
        );
        assert!(
            same(&got, &want),
            "{date}:
 got {got:?}
want {want:?}"
        );
    }
    // LINKUSD_PERP stopped trading on 2023-03-31: out with --recent 1 on 04-05, in with 10.
    let (plain, _) = universe(&env, day("2023-04-05"), &["--market", "cm"]);
    assert!(!plain.iter().any(|m| m.0 == "LINKUSD_PERP"), "{plain:?}");
    let (recent, _) = universe(
        &env,
        day("2023-04-05"),
        &["--market", "cm", "--recent", "10"],
    );
    assert!(recent.iter().any(|m| m.0 == "LINKUSD_PERP"), "{recent:?}");
    // The table people read says what the mean is.
    let table = env.ok(&["query", "universe", "2024-01-20", "--market", "cm"]);
    assert!(
        table.starts_with("2 perpetual symbols tradable as of the start of 2024-01-20"),
        "{table}"
    );
}

/// Nothing dated DATE or later changes `market`'s universe of DATE: collected through DATE−1
/// from `corpus(DATE)`, then through today from `corpus(today)`, every question's answer is
/// the same.
fn universes_never_change_with_later_data(
    market: &str,
    corpus: fn(NaiveDate) -> Corpus,
    dates: &[&str],
    questions: &[&[&str]],
) {
    for date in dates {
        let date = day(date);
        let env = Env::new(corpus(date));
        let before = (date - Duration::days(1)).to_string();
        env.ok(&["backfill", "--market", market, "--end", &before]);
        let ask = |env: &Env, flags: &[&str]| {
            universe(env, date, &[&["--market", market], flags].concat()).0
        };
        let answers: Vec<Vec<Ranked>> = questions.iter().map(|flags| ask(&env, flags)).collect();
        assert!(!answers[0].is_empty(), "{market} {date}");
        env.sim.with_corpus(|c| *c = corpus(today()));
        env.ok(&["update", "-q", "--market", market]);
        for (flags, before) in questions.iter().zip(&answers) {
            let later = ask(&env, flags);
            assert!(
                same(&later, before),
                "{market} {date} {flags:?} changed:\nbefore {before:?}\n after {later:?}"
            );
        }
    }
}

#[test]
fn coin_m_universes_never_change_with_later_data() {
    let questions: Vec<&[&str]> = CM_QUESTIONS.iter().map(|(flags, ..)| *flags).collect();
    universes_never_change_with_later_data(
        "cm",
        vision_sim::coin_m,
        &["2021-03-15", "2023-04-05", "2024-01-20"],
        &questions,
    );
}

/// Spot's too, on days of 2018 (a delisted pair's zero-trade tail), of a pair's gap and of
/// the microsecond era.
#[test]
fn spot_universes_never_change_with_later_data() {
    universes_never_change_with_later_data(
        "spot",
        vision_sim::spot,
        &["2018-11-25", "2022-05-25", "2025-01-10"],
        &[
            &["--quote", "USDT"],
            &["--quote", "USDT", "--top", "2", "--window", "7"],
            &["--quote", "BTC"],
            &["--by", "trades", "--top", "3"],
        ],
    );
}

/// A spot database of the spot corpus, collected by `update --market spot`.
fn spot_env() -> (Corpus, Env) {
    let corpus = vision_sim::spot(today());
    let env = Env::new(corpus.clone());
    env.ok(&["update", "-q", "--market", "spot"]);
    (corpus, env)
}

/// Spot is kept as the futures markets are: every file and verified absence, every trading
/// row, and the events of each pair's life as the corpus built it (a listing before the
/// archive began, a delisting after a zero-trade tail, a pair that stopped and came back).
#[test]
fn spot_is_collected_and_its_events_are_the_lives_of_the_corpus() {
    let (corpus, env) = spot_env();
    let rows = db_rows_of(&env.db, "spot.daily_availability");
    let expected = expected_rows_in(&corpus, vision_sim::SPOT_ROOT, day("2017-08-17"), today());
    assert!(expected.len() > 10_000, "{}", expected.len());
    assert_same_rows(&rows, &expected);
    // Microseconds from 2025 and milliseconds before: the rows are the files' own either way.
    let stored = db_trading_of(&env.db, "spot.daily_trading");
    let trading = expected_trading(&corpus);
    assert!(
        stored == trading,
        "{} rows against {}",
        stored.len(),
        trading.len()
    );
    assert!(stored.contains_key(&("BTCUSDT".to_string(), day("2025-01-01"))));
    // USD-M's tables were not touched.
    assert!(db_rows(&env.db).is_empty());

    // The events, from the corpus's construction (`vision_sim::spot_pairs`).
    let mut want: Vec<(String, String, String)> = Vec::new();
    for p in vision_sim::spot_pairs(today()) {
        let mut push =
            |d: NaiveDate, kind: &str| want.push((d.to_string(), p.name.into(), kind.into()));
        push(p.first, "listing");
        for (a, b) in p.gaps {
            push(*a, "gap");
            push(*a - Duration::days(1), "delisting");
            push(*b + Duration::days(1), "relisting");
        }
        if let Some(last) = p.last_trade {
            push(last, "delisting");
        }
    }
    let events: Vec<Value> =
        serde_json::from_str(&env.ok(&["query", "events", "--market", "spot", "--format", "json"]))
            .unwrap();
    let got: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            (s("date"), s("symbol"), s("kind"))
        })
        .collect();
    let kind_order = |k: &str| {
        ["listing", "gap", "delisting", "relisting"]
            .iter()
            .position(|x| *x == k)
    };
    let mut want_sorted = want;
    want_sorted.sort_by_key(|w| (w.0.clone(), w.1.clone(), kind_order(&w.2)));
    let mut got_sorted = got;
    got_sorted.sort_by_key(|w| (w.0.clone(), w.1.clone(), kind_order(&w.2)));
    assert_eq!(got_sorted, want_sorted, "{events:#?}");
    // A day of spot's history before USD-M began is a spot day like any other: its snapshot
    // is the corpus's files of the day; asked of USD-M it is refused with USD-M's first day.
    let snapshot: Vec<Value> = serde_json::from_str(&env.ok(&[
        "query",
        "snapshot",
        "2018-06-01",
        "--market",
        "spot",
        "--format",
        "json",
    ]))
    .unwrap();
    let names: Vec<&str> = snapshot
        .iter()
        .map(|r| r["symbol"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = expected
        .iter()
        .filter(|r| r.0 == day("2018-06-01") && r.2)
        .map(|r| r.1.as_str())
        .collect();
    want.sort_unstable();
    assert!(
        names.contains(&"BCCUSDT") && names == want,
        "{names:?} vs {want:?}"
    );
    let table = env.ok(&["query", "snapshot", "2018-06-01", "--market", "spot"]);
    assert!(
        table.starts_with(&format!("{} pairs with a file on 2018-06-01", want.len())),
        "{table}"
    );
    for (market, sentence) in [
        (
            "um",
            "2018-06-01 is before 2019-09-25, the first day of Binance USD-M futures",
        ),
        (
            "cm",
            "2018-06-01 is before 2020-08-11, the first day of Binance COIN-M futures",
        ),
    ] {
        let out = env.run(&["query", "snapshot", "2018-06-01", "--market", market]);
        assert_eq!(out.status.code(), Some(2), "{market}");
        assert!(stderr(&out).contains(sentence), "{}", stderr(&out));
    }
    // A spot pair's timeline carries its trading days from spot's first day, not USD-M's.
    let timeline: Value = serde_json::from_str(&env.ok(&[
        "query",
        "timeline",
        "BCCUSDT",
        "--market",
        "spot",
        "--format",
        "json",
        "--with-events",
    ]))
    .unwrap();
    let traded: Vec<NaiveDate> = timeline["trading"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| day(r["date"].as_str().unwrap()))
        .collect();
    let want: Vec<NaiveDate> = trading
        .keys()
        .filter(|(s, _)| s == "BCCUSDT")
        .map(|(_, d)| *d)
        .collect();
    assert!(!want.is_empty() && traded == want, "{traded:?}");
    let out = env.run(&["query", "snapshot", "2017-08-16", "--market", "spot"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("2017-08-16 is before 2017-08-17, the first day of any market"),
        "{}",
        stderr(&out)
    );

    // A first file on spot's first day (not USD-M's) says the pair was listed earlier.
    let btc = events.iter().find(|e| e["symbol"] == "BTCUSDT").unwrap();
    assert!(
        btc["detail"]
            .as_str()
            .unwrap()
            .starts_with("first file on 2017-08-17, the archive's first day: listed earlier"),
        "{btc}"
    );
}

/// `--top` on spot without `--quote` (and any spot ranking by quote volume without one) is
/// bad input, refused before a file is opened.
#[test]
fn a_spot_universe_by_quote_volume_without_a_quote_exits_2_before_opening_anything() {
    let env = Env::new(vision_sim::spot(day("2018-01-01")));
    for flags in [&["--top", "10"][..], &[]] {
        let mut args = vec!["query", "universe", "2024-01-15", "--market", "spot"];
        args.extend(flags);
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        assert!(
            stderr(&out).contains(
                "a spot universe ranks by quote volume within one quote asset, and this \
                 question names none"
            ),
            "{}",
            stderr(&out)
        );
        assert!(!env.db.exists());
    }
}

/// Spot universes, within one quote asset (and by trades across all), equal the oracle's on
/// dates around the delisting, the gap, the return and the microsecond era.
#[test]
fn spot_universes_equal_an_independent_computation_within_one_quote() {
    let (corpus, env) = spot_env();
    let trading = expected_trading(&corpus);
    let pairs = vision_sim::spot_pairs(today());
    let folders = |quote: Option<&str>| -> Vec<Folder> {
        pairs
            .iter()
            .filter(|p| quote.is_none_or(|q| p.name.ends_with(q)))
            .map(|p| (p.name, p.gaps))
            .collect()
    };
    let questions: [(&[&str], Option<&str>, Params, bool); 5] = [
        (&["--quote", "USDT"], Some("USDT"), (0, 1, 30, None), false),
        (
            &["--quote", "usdt", "--top", "2", "--window", "7"],
            Some("USDT"),
            (0, 1, 7, Some(2)),
            false,
        ),
        (&["--quote", "BTC"], Some("BTC"), (0, 1, 30, None), false),
        (
            &["--quote", "USDT", "--recent", "10", "--min-age", "5"],
            Some("USDT"),
            (5, 10, 30, None),
            false,
        ),
        (
            &["--by", "trades", "--top", "3"],
            None,
            (0, 1, 30, Some(3)),
            true,
        ),
    ];
    // Spot's history began two years before USD-M's (2019-09-25): its days are asked as any
    // other — BCCUSDT's zero-trade tail (2018-11-21 ..= 30) is in 2018.
    for date in [
        "2017-09-15",
        "2018-06-01",
        "2018-11-25",
        "2019-10-01",
        "2022-05-20",
        "2022-06-10",
        "2025-01-15",
        "2025-02-01",
    ] {
        let date = day(date);
        for (flags, quote, params, by_trades) in questions {
            let (got, _) = universe(&env, date, &[&["--market", "spot"], flags].concat());
            let want = oracle_universe(
                &trading,
                &folders(quote),
                |_, r| r.2,
                date,
                params,
                by_trades,
            );
            assert!(
                same(&got, &want),
                "{date} {flags:?}:\n got {got:?}\nwant {want:?}"
            );
        }
    }
    // LUNAUSDT back on 2022-05-31: 10 days listed on 06-10; gone during its gap.
    let (back, _) = universe(
        &env,
        day("2022-06-10"),
        &["--market", "spot", "--quote", "USDT"],
    );
    assert_eq!(
        back.iter().find(|m| m.0 == "LUNAUSDT").map(|m| m.3),
        Some(10)
    );
    let (gap, _) = universe(
        &env,
        day("2022-05-20"),
        &["--market", "spot", "--quote", "USDT"],
    );
    assert!(!gap.iter().any(|m| m.0 == "LUNAUSDT"), "{gap:?}");
}

/// A microsecond file and a millisecond file of the same day are read into the same row.
#[test]
fn a_microsecond_file_and_a_millisecond_file_of_a_day_give_the_same_row() {
    use binance_futures_availability::vision::read_1d_file;
    use sha2::Digest;
    let date = day("2025-01-15");
    let row = vision_sim::trading::day_trade("BTCUSDT", date);
    let read = |spot: bool| {
        let csv = vision_sim::trading::csv_in(std::slice::from_ref(&row), spot);
        let zip = vision_sim::trading::zip_bytes("BTCUSDT-1d-2025-01-15.csv", &csv, 0);
        let sum = format!(
            "{:x}  BTCUSDT-1d-2025-01-15.zip",
            sha2::Sha256::digest(&zip)
        );
        let key = format!(
            "{}BTCUSDT/1d/BTCUSDT-1d-2025-01-15.zip",
            vision_sim::SPOT_ROOT
        );
        (csv, read_1d_file(&key, &zip, &sum).unwrap())
    };
    let ((micros_csv, micros), (millis_csv, millis)) = (read(true), read(false));
    assert!(micros_csv.contains(",1736985599999999,"), "{micros_csv}");
    assert!(millis_csv.contains(",1736985599999,"), "{millis_csv}");
    assert_eq!(micros, millis);
    assert_eq!(micros.len(), 1);
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The markets of the run log, in the order of their runs.
fn run_markets(db: &std::path::Path) -> Vec<(String, String)> {
    let conn = read_only(db);
    let mut stmt = conn
        .prepare("SELECT market, status FROM collection_runs ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// One `update --markets um,cm,spot` collects each market into its own tables, a run of its
/// own in the run log; ten days later a plain `update` (what the scheduler runs) keeps every
/// market collected before current: each market's rows and trading rows equal its corpus.
#[test]
fn one_update_collects_three_markets_and_a_plain_update_keeps_each_current() {
    let earlier = today() - Duration::days(10);
    let corpora = |as_of: NaiveDate| {
        (
            Corpus::from_spec(&small_spec()),
            vision_sim::coin_m(as_of),
            vision_sim::spot(as_of),
        )
    };
    let merged = |(um, cm, spot): (Corpus, Corpus, Corpus)| um.merged(cm).merged(spot);
    let env = Env::new(merged(corpora(earlier)));
    env.ok(&["update", "-q", "--markets", "um,cm,spot"]);
    let ok = |m: &str| (m.to_string(), "ok".to_string());
    assert_eq!(run_markets(&env.db), [ok("um"), ok("cm"), ok("spot")]);
    let spot_days = |db: &std::path::Path| -> i64 {
        read_only(db)
            .query_row(
                "SELECT count(*) FROM spot.daily_availability WHERE symbol = 'BTCUSDT'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let before = spot_days(&env.db);

    env.sim.with_corpus(|c| *c = merged(corpora(today())));
    env.ok(&["update", "-q"]);
    assert_eq!(
        run_markets(&env.db),
        [
            ok("um"),
            ok("cm"),
            ok("spot"),
            ok("um"),
            ok("cm"),
            ok("spot")
        ]
    );
    // Ten more days of BTCUSDT's spot files: the plain update collected spot too.
    assert_eq!(spot_days(&env.db), before + 10);
    let (um, cm, spot) = corpora(today());
    let start = day("2017-08-17");
    for (table, corpus, root) in [
        ("daily_availability", &um, vision_sim::ROOT),
        ("cm.daily_availability", &cm, vision_sim::CM_ROOT),
        ("spot.daily_availability", &spot, vision_sim::SPOT_ROOT),
    ] {
        let expected = expected_rows_in(corpus, root, start, today());
        assert!(expected.len() > 1_000, "{table}: {}", expected.len());
        assert_same_rows(&db_rows_of(&env.db, table), &expected);
    }
    for (table, corpus) in [
        ("daily_trading", &um),
        ("cm.daily_trading", &cm),
        ("spot.daily_trading", &spot),
    ] {
        let (stored, expected) = (db_trading_of(&env.db, table), expected_trading(corpus));
        assert!(!expected.is_empty(), "{table}");
        assert!(
            stored == expected,
            "{table}: {} rows against {}",
            stored.len(),
            expected.len()
        );
    }
}

/// A file named after a market: DuckDB names a file's catalog after the file, so in
/// `spot.duckdb` SQL naming the schema `spot` is ambiguous unless qualified by the catalog too
/// (the Python test's `spot.duckdb` failed its first publish so, in the lives index's build and
/// then in the compaction). Collected, published, backed up and asked, for each market's name.
#[test]
fn a_file_named_after_a_market_is_collected_published_and_backed_up() {
    let env = Env::new(vision_sim::spot(today()).merged(vision_sim::coin_m(today())));
    for name in ["spot", "cm", "main"] {
        let db = env.dir.path().join(format!("{name}.duckdb"));
        let db = db.to_str().unwrap();
        env.ok(&["update", "-q", "--markets", "spot,cm", "--db", db]);
        let backup = env.dir.path().join(format!("{name}-backup.duckdb"));
        env.ok(&["backup", backup.to_str().unwrap(), "--db", db]);
        for db in [db, backup.to_str().unwrap()] {
            let universe = env.ok(&[
                "query",
                "universe",
                "2024-01-15",
                "--market",
                "spot",
                "--quote",
                "USDT",
                "--db",
                db,
            ]);
            assert!(universe.contains("BTCUSDT"), "{name}: {universe}");
        }
    }
}

/// `status`, `validate` and `export` answer for the market named: a spot-only file reports
/// spot's rows and freshness with `--market spot`, exports spot's tables, and plain `status`
/// (USD-M's, as always) says the file keeps spot.
#[test]
fn status_validate_and_export_answer_for_the_market_named() {
    let (corpus, env) = spot_env();
    let expected = expected_rows_in(&corpus, vision_sim::SPOT_ROOT, day("2017-08-17"), today());

    let out = env.run(&["status", "--market", "spot", "--format", "json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{status:#}\n{}", stderr(&out));
    assert_eq!(status["market"], "spot");
    assert_eq!(status["markets"], serde_json::json!(["spot"]));
    assert_eq!(status["rows"], expected.len() as u64);
    assert_eq!(status["stale"], false);

    // USD-M's status of this file: nothing collected, stale, and it names what the file keeps.
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("market            um (the file also keeps spot: `status --market spot`)"),
        "{text}"
    );

    let out = env.run(&[
        "validate",
        "--market",
        "spot",
        "--exchange-info",
        "none",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    assert_eq!(report["duplicates"], serde_json::json!([]));
    assert_eq!(report["unchecked"], serde_json::json!([]));

    let dest = env.dir.path().join("spot-export");
    env.ok(&[
        "export",
        dest.to_str().unwrap(),
        "--market",
        "spot",
        "--format",
        "csv",
    ]);
    let csv = std::fs::read_to_string(dest.join("daily_availability.csv")).unwrap();
    assert_eq!(csv.lines().count() - 1, expected.len());
    assert!(csv.contains("BCCUSDT,2018-11-25") || csv.contains("2018-11-25,BCCUSDT"));
}
