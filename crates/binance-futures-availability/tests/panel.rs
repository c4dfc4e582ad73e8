//! The universe panel against real databases built by the binary from vision-sim (the corpus
//! of `lives.rs`, whose lives are known by construction): each rebalance date's rows are
//! exactly that date's `universe` with the same flags, over every day of the corpus and many
//! flag sets; nothing dated on or after a date changes its rows; the command line, `serve`
//! and the library give the same rows; and the lives table tells the lives `events` tells.

use crate::common;
use crate::lives::{END, as_of, backfilled, spec};

use std::collections::BTreeMap;

use binance_futures_availability::facts::{ContractFilter, Market};
use binance_futures_availability::question::{Answer, Question};
use binance_futures_availability::store::{
    Database, EventFilter, EventKind, Every, PanelRow, RankBy, UniverseQuery,
};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use common::*;

/// The corpus's first trades are on 2021-10-01 (ETHUSDT's life ended in 2020): a panel from
/// the day after, through its last day.
const START: &str = "2021-10-02";

/// The universe questions compared: the defaults and every flag moved at least once.
pub(crate) fn questions() -> Vec<(&'static str, UniverseQuery)> {
    let base = UniverseQuery::new(day(START));
    let with = |f: fn(&mut UniverseQuery)| {
        let mut q = base.clone();
        f(&mut q);
        q
    };
    vec![
        ("defaults", base.clone()),
        (
            "top 3, window 7",
            with(|q| (q.top, q.window) = (Some(3), 7)),
        ),
        (
            "min-age 30, recent 10",
            with(|q| (q.min_age, q.recent) = (30, 10)),
        ),
        (
            "recent 30, window 60",
            with(|q| (q.recent, q.window) = (30, 60)),
        ),
        (
            "by trades, top 2",
            with(|q| (q.by, q.top) = (RankBy::Trades, Some(2))),
        ),
        ("include settled", with(|q| q.include_settled = true)),
        (
            "quote USDT, window 1",
            with(|q| (q.quote, q.window) = (Some("usdt".into()), 1)),
        ),
        ("delisted-after 3", with(|q| q.delisted_after = 3)),
        ("all contracts", with(|q| q.contracts = ContractFilter::All)),
        ("window 3650", with(|q| q.window = 3650)),
    ]
}

/// A member of `universe(date)` as a panel row of `date`.
fn as_rows(date: NaiveDate, answer: Answer) -> Vec<PanelRow> {
    let Answer::Universe(members) = answer else {
        panic!("not a universe: {answer:?}")
    };
    members
        .into_iter()
        .map(|m| PanelRow {
            date,
            symbol: m.symbol,
            rank: m.rank,
            mean_quote_volume: m.mean_quote_volume,
            days_listed: m.days_listed,
            traded_on_date: m.traded_on_date,
        })
        .collect()
}

fn panel(db: &Database, q: &UniverseQuery, until: NaiveDate, every: Every) -> Vec<PanelRow> {
    let question = Question::universe_panel(Market::Um, q.clone(), until, every).unwrap();
    match db.answer(&question).unwrap() {
        Answer::UniversePanel(rows) => rows,
        other => panic!("not a panel: {other:?}"),
    }
}

fn by_date(rows: &[PanelRow]) -> BTreeMap<NaiveDate, Vec<PanelRow>> {
    let mut out: BTreeMap<NaiveDate, Vec<PanelRow>> = BTreeMap::new();
    for r in rows {
        out.entry(r.date).or_default().push(r.clone());
    }
    out
}

/// Every day of the corpus, every question: the panel's rows of a date are `universe(date)`'s,
/// equal to the bit (means included), in the same order.
#[test]
fn each_dates_rows_are_that_dates_universe() {
    let env = backfilled(&spec(), END);
    let db = Database::open(&env.db).unwrap();
    let (start, end) = (day(START), day(END));
    let mut dates_with_members = 0;
    for (name, q) in questions() {
        let rows = panel(&db, &q, end, Every::DAILY);
        let got = by_date(&rows);
        let mut date = start;
        while date <= end {
            let single = UniverseQuery { date, ..q.clone() };
            let question = Question::universe(Market::Um, single).unwrap();
            let want = as_rows(date, db.answer(&question).unwrap());
            let have = got.get(&date).cloned().unwrap_or_default();
            assert_eq!(have, want, "{name}, {date}");
            dates_with_members += usize::from(!want.is_empty());
            date += Duration::days(1);
        }
        // By date then rank, nothing else.
        assert!(
            rows.windows(2)
                .all(|w| (w[0].date, w[0].rank) < (w[1].date, w[1].rank)),
            "{name}"
        );
    }
    // The comparison is not vacuous: most days of most questions have members.
    assert!(dates_with_members > 1000, "{dates_with_members}");
}

/// `1w` rebalances on Mondays, `1mo` on the first day of each month, `Nd` every N days from
/// START; each picked date's rows are the daily panel's rows of that date.
#[test]
fn every_period_picks_its_dates_and_their_rows() {
    let env = backfilled(&spec(), END);
    let db = Database::open(&env.db).unwrap();
    let q = UniverseQuery::new(day(START));
    let daily = by_date(&panel(&db, &q, day(END), Every::DAILY));
    for (every, picked) in [
        (
            Every::Week,
            &(|d: NaiveDate| d.weekday() == Weekday::Mon) as &dyn Fn(NaiveDate) -> bool,
        ),
        (Every::Month, &|d: NaiveDate| d.day() == 1),
        (Every::Days(9), &|d: NaiveDate| {
            (d - day(START)).num_days() % 9 == 0
        }),
    ] {
        let rows = by_date(&panel(&db, &q, day(END), every));
        let want: BTreeMap<NaiveDate, Vec<PanelRow>> = daily
            .iter()
            .filter(|(d, _)| picked(**d))
            .map(|(d, r)| (*d, r.clone()))
            .collect();
        assert_eq!(rows, want, "{every}");
        assert!(rows.len() >= 5, "{every}: {:?}", rows.keys());
    }
}

/// Nothing dated DATE or later changes a date's rows: the panel of a database collected
/// through C−1 equals, on every date through C, the panel of the same corpus collected to its
/// end (`traded_on_date` of C itself aside: known only once C is checked).
#[test]
fn later_data_never_changes_a_panels_rows() {
    let full = spec();
    for cut in ["2021-12-10", "2022-02-12", "2022-03-01"] {
        let cut = day(cut);
        let env = backfilled(&as_of(&full, cut), &(cut - Duration::days(1)).to_string());
        let early: Vec<(String, Vec<PanelRow>)> = {
            let db = Database::open(&env.db).unwrap();
            questions()
                .into_iter()
                .map(|(name, q)| (name.to_string(), panel(&db, &q, cut, Every::DAILY)))
                .collect()
        };
        env.sim
            .with_corpus(|c| *c = vision_sim::Corpus::from_spec(&full));
        env.ok(&["backfill", "--end", END]);
        let db = Database::open(&env.db).unwrap();
        for ((name, before), (_, q)) in early.iter().zip(questions()) {
            let mut after = panel(&db, &q, day(END), Every::DAILY);
            after.retain(|r| r.date <= cut);
            let unknown = |rows: &[PanelRow]| -> Vec<PanelRow> {
                rows.iter()
                    .map(|r| PanelRow {
                        traded_on_date: if r.date == cut {
                            None
                        } else {
                            r.traded_on_date
                        },
                        ..r.clone()
                    })
                    .collect()
            };
            assert!(
                before.iter().any(|r| r.date == cut) || q.top.is_some(),
                "{name}"
            );
            assert_eq!(unknown(before), unknown(&after), "{cut} {name}");
        }
    }
}

/// GET `url`: its status and its body.
fn get(url: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::get(url).await.unwrap();
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    })
}

/// `query ARGS --format json`, as printed (compared as text: serde_json reads floats back
/// only to about the last digit).
fn json(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["query"];
    all.extend(args);
    all.extend(["--format", "json"]);
    env.ok(&all)
}

/// Rows as the command line prints them.
fn printed<T: serde::Serialize>(rows: &T) -> String {
    serde_json::to_string_pretty(rows).unwrap() + "\n"
}

/// The command line's JSON, `serve`'s and the library's rows are one answer, to the byte;
/// refusals exit 2 with a sentence naming the value and what is accepted.
#[test]
fn the_command_line_serve_and_the_library_give_one_panel() {
    let env = backfilled(&spec(), END);
    let args = [
        "universe", START, "--until", END, "--every", "1w", "--top", "3", "--window", "7",
    ];
    let cli = json(&env, &args);
    let mut q = UniverseQuery::new(day(START));
    (q.top, q.window) = (Some(3), 7);
    let library = {
        let db = Database::open(&env.db).unwrap();
        panel(&db, &q, day(END), Every::Week)
    };
    assert_eq!(cli, printed(&library));
    assert!(library.len() > 30, "{cli}");
    let served = Served::start(&env, &[]);
    let url = format!(
        "{}/v1/universe?start={START}&end={END}&every=1w&top=3&window=7",
        served.url
    );
    assert_eq!(get(&url), (200, cli.clone()));
    let url = format!(
        "{}/v1/universe?start={START}&end={END}&every=2w",
        served.url
    );
    let (status, refused) = get(&url);
    assert_eq!(status, 400, "{refused}");
    assert!(refused.contains("is not a rebalancing period"), "{refused}");
    // The single day's route still answers as before.
    let one = get(&format!("{}/v1/universe/{END}", served.url));
    assert_eq!(one, (200, json(&env, &["universe", END])));
    let lives = get(&format!("{}/v1/lives?symbol=xrpusdt", served.url));
    assert_eq!(lives, (200, json(&env, &["lives", "--symbol", "XRPUSDT"])));
    drop(served);
    for (args, says) in [
        (
            vec!["universe", START, "--until", END, "--every", "2w"],
            "\"2w\" is not a rebalancing period; use 1d (every day), 1w (every Monday), 1mo",
        ),
        (
            vec!["universe", START, "--until", END, "--every", "0d"],
            "\"0d\" is not a rebalancing period",
        ),
        (
            vec!["universe", END, "--until", START],
            "the start 2022-03-10 is after the end 2021-10-02",
        ),
        (vec!["universe", START, "--every", "1w"], "--until <END>"),
    ] {
        let mut all = vec!["query"];
        all.extend(&args);
        let out = env.run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// The lives table tells the lives `events` tells: a life after the first begins on a
/// relisting, every end is a delisting's date, the open lives are the last of their folder.
#[test]
fn lives_are_the_lives_events_tell() {
    let env = backfilled(&spec(), END);
    let db = Database::open(&env.db).unwrap();
    let Answer::Lives(lives) = db
        .answer(&Question::lives(Market::Um, None, 7).unwrap())
        .unwrap()
    else {
        panic!("not lives")
    };
    let events = db.events(&EventFilter::default(), 7).unwrap();
    let has = |symbol: &str, date: NaiveDate, kind: EventKind| {
        events
            .iter()
            .any(|e| e.symbol == symbol && e.date == date && e.kind == kind)
    };
    for life in &lives {
        if life.life > 1 {
            assert!(
                has(&life.symbol, life.first_file, EventKind::Relisting),
                "{life:?}"
            );
            assert!(life.gap_days_before.is_some_and(|g| g >= 7), "{life:?}");
        }
        if let Some(end) = life.end {
            assert!(has(&life.symbol, end, EventKind::Delisting), "{life:?}");
        }
        assert!(life.first_file <= life.last_file, "{life:?}");
    }
    let delistings = events
        .iter()
        .filter(|e| e.kind == EventKind::Delisting)
        .count();
    assert_eq!(lives.iter().filter(|l| l.end.is_some()).count(), delistings);
    let of = |name: &str| -> Vec<_> { lives.iter().filter(|l| l.symbol == name).collect() };
    // XRPUSDT: a gap of 20 days ended its first life; the second is open.
    let xrp = of("XRPUSDT");
    assert_eq!(xrp.len(), 2, "{xrp:?}");
    assert_eq!(xrp[0].last_file, day("2021-11-30"));
    assert_eq!(xrp[1].first_file, day("2021-12-21"));
    assert_eq!(xrp[1].gap_days_before, Some(20));
    assert_eq!(xrp[1].end, None);
    // ICPUSDT's first life follows its settled folder; 币安人生USDT's short gap ends nothing.
    assert!(
        of("ICPUSDT")[0].gap_days_before.is_some(),
        "{:?}",
        of("ICPUSDT")
    );
    assert_eq!(of("币安人生USDT").len(), 1);
    // A delivery contract's life ends on its delivery.
    assert_eq!(of("BTCUSDT_220225")[0].end, Some(day("2022-02-25")));
    // One symbol, through the command line, case-insensitive.
    assert_eq!(json(&env, &["lives", "--symbol", "xrpusdt"]), printed(&xrp));
}

/// `timeline --with-events --format json` is one object holding what `--format json` prints
/// (the array of days, unchanged) beside the folder, its events and its 1d rows; in another
/// format it is refused, exit 2.
#[test]
fn a_timeline_with_events_is_one_object_beside_the_unchanged_array() {
    let env = backfilled(&spec(), END);
    let parse = |text: String| serde_json::from_str::<serde_json::Value>(&text).unwrap();
    let text = json(&env, &["timeline", "XRPUSDT", "--with-events"]);
    assert!(text.starts_with("{\n  \"symbol\": {"), "{text}");
    let object = parse(text);
    let keys: Vec<&String> = object.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["days", "events", "symbol", "trading"]);
    assert_eq!(object["days"], parse(json(&env, &["timeline", "XRPUSDT"])));
    assert_eq!(
        object["events"],
        parse(json(&env, &["events", "--symbol", "XRPUSDT"]))
    );
    assert_eq!(object["symbol"]["symbol"], "XRPUSDT");
    assert!(object["trading"].as_array().unwrap().len() > 100);
    let out = env.run(&["query", "timeline", "XRPUSDT", "--with-events"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--with-events prints one JSON object"));
}
