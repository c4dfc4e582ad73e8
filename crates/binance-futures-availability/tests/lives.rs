//! Lives and the point-in-time universe, through the binary against vision-sim: the events of
//! a corpus whose lives are known by construction (a listing before the archive began, a gap
//! that ends a life and one that does not, a zero-trade tail, a settled folder and its base, a
//! delivery, a symbol whose files are merely late), and universes equal to a computation in
//! this file from the corpus alone; appending later data never changes a day's universe.

use crate::common;
use crate::markets::{
    Folder, Params, Ranked, assert_checked_universe, oracle_universe, same, universe,
};

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use common::*;
use serde_json::Value;
use vision_sim::{Corpus, CorpusSpec, SymbolSpec};

pub(crate) const END: &str = "2022-03-10";

pub(crate) fn spec() -> CorpusSpec {
    CorpusSpec {
        symbols: vec![
            spec_symbol("ETHUSDT", day("2019-12-31"), day("2020-02-10"), &[]),
            spec_symbol("BTCUSDT", day("2021-10-20"), day(END), &[]),
            spec_symbol("ICPUSDT_SETTLED", day("2021-11-01"), day("2021-12-09"), &[]),
            spec_symbol("ICPUSDT", day("2022-01-05"), day(END), &[]),
            SymbolSpec {
                zero_trade_tail: 12,
                ..spec_symbol("DOGEUSDT", day("2021-10-01"), day("2022-02-20"), &[])
            },
            spec_symbol(
                "币安人生USDT",
                day("2022-02-01"),
                day(END),
                &[(day("2022-02-10"), day("2022-02-14"))],
            ),
            spec_symbol(
                "XRPUSDT",
                day("2021-10-01"),
                day(END),
                &[(day("2021-12-01"), day("2021-12-20"))],
            ),
            spec_symbol("BTCUSDT_220225", day("2021-11-26"), day("2022-02-25"), &[]),
            spec_symbol("LATEUSDT", day("2021-10-01"), day("2022-03-06"), &[]),
        ],
        stray_keys: vec![],
        as_of: Some(day("2022-03-11")),
    }
}

pub(crate) fn backfilled(spec: &CorpusSpec, end: &str) -> Env {
    let env = Env::new(Corpus::from_spec(spec));
    env.ok(&["backfill", "--end", end]);
    env
}

fn json(env: &Env, args: &[&str]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    serde_json::from_str::<Vec<Value>>(&env.ok(&all)).unwrap()
}

#[test]
fn events_are_the_lives_of_the_corpus() {
    let env = backfilled(&spec(), END);
    let events = json(&env, &["query", "events"]);
    let got: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["date"].as_str().unwrap().to_string(),
                e["symbol"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("2019-12-31", "ETHUSDT", "listing"),
        ("2020-02-10", "ETHUSDT", "delisting"),
        ("2021-10-01", "DOGEUSDT", "listing"),
        ("2021-10-01", "LATEUSDT", "listing"),
        ("2021-10-01", "XRPUSDT", "listing"),
        ("2021-10-20", "BTCUSDT", "listing"),
        ("2021-11-01", "ICPUSDT_SETTLED", "listing"),
        ("2021-11-26", "BTCUSDT_220225", "listing"),
        // The gap of 20 days ends XRPUSDT's first life on its last trade before it.
        ("2021-11-30", "XRPUSDT", "delisting"),
        ("2021-12-01", "XRPUSDT", "gap"),
        ("2021-12-09", "ICPUSDT_SETTLED", "delisting"),
        ("2021-12-21", "XRPUSDT", "relisting"),
        // The base symbol after its settled folder: a relisting, not a first listing.
        ("2022-01-05", "ICPUSDT", "relisting"),
        ("2022-02-01", "币安人生USDT", "listing"),
        // The zero-trade tail: files until 02-20, the last trade on 02-08.
        ("2022-02-08", "DOGEUSDT", "delisting"),
        // Five days: a gap, not the end of a life.
        ("2022-02-10", "币安人生USDT", "gap"),
        ("2022-02-25", "BTCUSDT_220225", "delisting"),
        // LATEUSDT's last file is four days before the end of the check: open, not delisted.
    ]
    .iter()
    .map(|(d, s, k)| (d.to_string(), s.to_string(), k.to_string()))
    .collect();
    assert_eq!(got, want);
    let detail = |symbol: &str, kind: &str| {
        events
            .iter()
            .find(|e| e["symbol"] == symbol && e["kind"] == kind)
            .unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(detail("ETHUSDT", "listing").contains("listed earlier"));
    assert!(detail("ICPUSDT_SETTLED", "listing").contains("settled folder of ICPUSDT"));
    assert!(detail("ICPUSDT", "relisting").contains("ICPUSDT_SETTLED"));
    assert!(detail("DOGEUSDT", "delisting").contains("files without trades until 2022-02-20"));
    assert!(detail("XRPUSDT", "gap").contains("20 days"));
    assert_eq!(detail("BTCUSDT_220225", "delisting"), "delivered");

    // The filters, inclusive at both ends.
    let filtered = json(
        &env,
        &[
            "query",
            "events",
            "--since",
            "2021-12-01",
            "--until",
            "2021-12-21",
            "--kind",
            "relisting",
        ],
    );
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0]["symbol"], "XRPUSDT");
    let one = json(&env, &["query", "events", "--symbol", "xrpusdt"]);
    assert_eq!(one.len(), 4);
    // A longer rule makes the 20-day gap a plain gap.
    let lenient = json(
        &env,
        &[
            "query",
            "events",
            "--symbol",
            "XRPUSDT",
            "--delisted-after",
            "30",
        ],
    );
    assert_eq!(lenient.len(), 2);
    // The bucket publishes nothing after END, and `update` checks every folder through
    // yesterday: days Vision never wrote delist nobody (an outage is not a delisting).
    env.ok(&["update", "--no-trading"]);
    let after_outage = json(&env, &["query", "events"]);
    assert_eq!(after_outage, events);
    // A file is not a trade: DOGEUSDT's tail has files and no trades.
    let summary = json(&env, &["query", "summary", "2022-02-15", "2022-02-15"]);
    assert_eq!(
        (
            &summary[0]["perpetual"],
            &summary[0]["perpetual_traded"],
            &summary[0]["delivery"],
            &summary[0]["delivery_traded"]
        ),
        (
            &Value::from(6),
            &Value::from(5),
            &Value::from(1),
            &Value::from(1)
        )
    );
    // And the timeline shows them.
    let timeline = env.ok(&["query", "timeline", "DOGEUSDT"]);
    assert!(timeline.contains("2022-02-08 delisting"), "{timeline}");
    assert!(timeline.contains("days with trades"), "{timeline}");
}

#[test]
fn bad_event_and_universe_questions_exit_2_before_opening_anything() {
    let env = Env::new(Corpus::from_spec(&CorpusSpec {
        symbols: vec![],
        stray_keys: vec![],
        as_of: None,
    }));
    for args in [
        &["query", "events", "--kind", "halving"][..],
        &[
            "query",
            "events",
            "--since",
            "2022-02-01",
            "--until",
            "2022-01-01",
        ],
        &["query", "universe", "2022-13-01"],
        &["query", "universe", "2022-01-01", "--window", "0"],
        &["query", "universe", "2022-01-01", "--by", "volume"],
        &["query", "universe", "2022-01-01", "--top", "0"],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!env.db.exists());
    }
}

/// The universe of `date` computed from the corpus and its spec alone.
fn expected_universe(
    corpus: &Corpus,
    spec: &CorpusSpec,
    date: NaiveDate,
    params: Params,
) -> Vec<Ranked> {
    let trading = expected_trading(corpus);
    // Gaps that end before the symbol's last day (a gap after it is no gap of its life).
    let gaps: Vec<(&str, Vec<(NaiveDate, NaiveDate)>)> = spec
        .symbols
        .iter()
        // Not delivery contracts; not the old life of a symbol that trades on under its base.
        .filter(|s| !s.name.contains("_22") && !s.name.ends_with("SETTLED"))
        .map(|s| {
            let gaps = s
                .gaps
                .iter()
                .copied()
                .filter(|(_, b)| *b < s.last)
                .collect();
            (s.name.as_str(), gaps)
        })
        .collect();
    let folders: Vec<Folder> = gaps.iter().map(|(s, g)| (*s, g.as_slice())).collect();
    oracle_universe(&trading, &folders, |_, r| r.2, date, params, false)
}

const QUESTIONS: [(&[&str], Params); 4] = [
    (&[], (0, 1, 30, None)),
    (&["--top", "3", "--window", "7"], (0, 1, 7, Some(3))),
    (&["--min-age", "30", "--recent", "10"], (30, 10, 30, None)),
    (&["--recent", "30", "--window", "60"], (0, 30, 60, None)),
];

#[test]
fn universes_equal_an_independent_computation() {
    let spec = spec();
    let corpus = Corpus::from_spec(&spec);
    let env = backfilled(&spec, END);
    for date in [
        "2021-11-15",
        "2021-12-05",
        "2021-12-25",
        "2022-02-15",
        "2022-03-10",
    ] {
        for (flags, params) in QUESTIONS {
            let (got, rows) = universe(&env, day(date), flags);
            let want = expected_universe(&corpus, &spec, day(date), params);
            assert_checked_universe(&got, &want, &rows, &format!("{date} {flags:?}"));
        }
    }
    // XRPUSDT back for 4 days on 12-25: too young for --min-age 7, present without it.
    let (young, _) = universe(&env, day("2021-12-25"), &["--min-age", "7"]);
    assert!(!young.iter().any(|m| m.0 == "XRPUSDT"));
    let (all, _) = universe(&env, day("2021-12-25"), &[]);
    assert_eq!(all.iter().find(|m| m.0 == "XRPUSDT").unwrap().3, 4);
    // A settled folder is ranked only when asked for, under its base's name.
    let (_, rows) = universe(&env, day("2021-12-05"), &["--include-settled"]);
    let settled = rows
        .iter()
        .find(|m| m["symbol"] == "ICPUSDT_SETTLED")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(settled["base_symbol"], "ICPUSDT");
    let (plain, _) = universe(&env, day("2021-12-05"), &[]);
    assert_eq!(plain.len() + 1, rows.len());
    // USDT only, and the table people read.
    let (usdt, _) = universe(&env, day("2022-03-10"), &["--quote", "USDT"]);
    assert_eq!(usdt.len(), all_members(&env, "2022-03-10"));
    let table = env.ok(&["query", "universe", "2022-03-10", "--top", "2"]);
    assert!(
        table.starts_with("2 perpetual symbols tradable as of the start of 2022-03-10"),
        "{table}"
    );
}

fn all_members(env: &Env, date: &str) -> usize {
    json(env, &["query", "universe", date]).len()
}

/// Nothing dated DATE or later changes the universe of DATE: a database collected through
/// DATE−1 and the same one after later data arrived give the same members, ranks and means.
#[test]
fn later_data_never_changes_a_days_universe() {
    let full = spec();
    for date in ["2021-12-10", "2022-02-12", "2022-03-01"] {
        let date = day(date);
        let before = date - Duration::days(1);
        let early = as_of(&full, date);
        let env = backfilled(&early, &before.to_string());
        let answers: BTreeMap<String, Vec<Ranked>> = QUESTIONS
            .iter()
            .map(|(flags, _)| (flags.join(" "), universe(&env, date, flags).0))
            .collect();
        let (_, rows) = universe(&env, date, &[]);
        assert!(
            rows.iter().all(|r| r["traded_on_date"].is_null()),
            "DATE is not checked yet: {rows:?}"
        );
        // Later data arrives: the rest of the corpus, collected by a backfill to the end.
        env.sim.with_corpus(|c| *c = Corpus::from_spec(&full));
        env.ok(&["backfill", "--end", END]);
        for (flags, _) in QUESTIONS {
            let later = universe(&env, date, flags).0;
            assert!(
                same(&later, &answers[&flags.join(" ")]),
                "{date} {flags:?} changed:\nbefore {:?}\n after {later:?}",
                answers[&flags.join(" ")]
            );
        }
    }
}

/// The bucket of `full` as it was on `date`: every file up to DATE−1, and no monthly file of a
/// month not over by then.
pub(crate) fn as_of(full: &CorpusSpec, date: NaiveDate) -> CorpusSpec {
    let before = date - Duration::days(1);
    let mut early = full.clone();
    early.as_of = Some(date);
    early.symbols.retain(|s| s.first <= before);
    for s in &mut early.symbols {
        s.last = s.last.min(before);
        s.gaps.retain(|(a, _)| *a <= before);
        if s.zero_trade_tail > 0 {
            // The tail is counted back from the symbol's last day: keep the same last trade.
            let last_trade = full_last_trade(full, &s.name);
            s.zero_trade_tail = u32::try_from((s.last - last_trade).num_days().max(0)).unwrap();
        }
    }
    early
}

fn full_last_trade(spec: &CorpusSpec, name: &str) -> NaiveDate {
    let s = spec.symbols.iter().find(|s| s.name == name).unwrap();
    s.last - Duration::days(i64::from(s.zero_trade_tail))
}

/// `events --contract` separates the delistings of perpetuals (a life that ended) from those
/// of delivery contracts (a delivery); every event names its base symbol.
#[test]
fn events_filter_by_contract_and_name_the_base_symbol() {
    let env = backfilled(&spec(), END);
    let kinds = |contract: &str| -> Vec<(String, String, String)> {
        json(
            &env,
            &[
                "query",
                "events",
                "--kind",
                "delisting",
                "--contract",
                contract,
            ],
        )
        .iter()
        .map(|e| {
            (
                e["symbol"].as_str().unwrap().to_string(),
                e["base_symbol"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
    };
    let all = kinds("all");
    let perpetual = kinds("perpetual");
    let delivery = kinds("delivery");
    assert_eq!(
        delivery,
        [(
            "BTCUSDT_220225".to_string(),
            "BTCUSDT_220225".to_string(),
            "delivered".to_string()
        )]
    );
    assert!(!perpetual.is_empty());
    assert!(
        perpetual
            .iter()
            .all(|(s, _, d)| s != "BTCUSDT_220225" && d != "delivered")
    );
    assert_eq!(all.len(), perpetual.len() + delivery.len());
    // The default is every contract.
    assert_eq!(
        json(&env, &["query", "events", "--kind", "delisting"]).len(),
        all.len()
    );
    // The settled folder's events name the symbol it was renamed from.
    let icp = json(&env, &["query", "events", "--symbol", "ICPUSDT_SETTLED"]);
    assert!(!icp.is_empty());
    assert!(icp.iter().all(|e| e["base_symbol"] == "ICPUSDT"), "{icp:?}");
    let csv = env.ok(&[
        "query",
        "events",
        "--symbol",
        "ICPUSDT_SETTLED",
        "--format",
        "csv",
    ]);
    assert!(
        csv.starts_with("date,symbol,base_symbol,kind,detail"),
        "{csv}"
    );
}
