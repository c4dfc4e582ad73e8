//! The catalog's questions (issue 26): `catalog gaps`, `catalog lag`, `catalog files --since
//! --until`, each asked of the real binary (or the library) after a crawl of the simulated
//! bucket, and each answer checked against one computed here from the bucket's own objects —
//! the corpus, or vision-sim's model — with a key parser of this file's, never the code under
//! test.

use crate::common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::*;
use serde_json::{Value, json};
use vision_sim::{Corpus, Object};

/// A file key's dataset (`um/daily/klines/1m`), symbol folder and period (`2024-01-15`,
/// `2024-01`), read the way the bucket's layout spells it; `None` for a key that is not a
/// `.zip` of the layout.
fn parse(key: &str) -> Option<(String, String, String)> {
    let rest = key.strip_prefix("data/")?;
    let (market, rest) = match rest.strip_prefix("futures/") {
        Some(r) => r.split_once('/')?,
        None => rest.split_once('/')?,
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let (partition, ty, symbol, interval, file) = match parts[..] {
        [p, t, s, f] => (p, t, s, None, f),
        [p, t, s, i, f] => (p, t, s, Some(i), f),
        _ => return None,
    };
    let stem = file.strip_suffix(".zip")?;
    let width = match partition {
        "daily" => 10,
        "monthly" => 7,
        _ => return None,
    };
    let period = stem.get(stem.len().checked_sub(width)?..)?;
    let named = format!("{symbol}-{}-{period}", interval.unwrap_or(ty));
    if stem != named || symbol.is_empty() {
        return None;
    }
    let dataset = match interval {
        Some(i) => format!("{market}/{partition}/{ty}/{i}"),
        None => format!("{market}/{partition}/{ty}"),
    };
    Some((dataset, symbol.to_string(), period.to_string()))
}

/// A daily period as a day number, a monthly one as a month number (year × 12 + month − 1).
fn number(period: &str) -> i64 {
    if period.len() == 10 {
        (day(period) - NaiveDate::default()).num_days()
    } else {
        let first = day(&format!("{period}-01"));
        i64::from(chrono::Datelike::year(&first)) * 12 + i64::from(chrono::Datelike::month0(&first))
    }
}

fn day_text(n: i64) -> String {
    (NaiveDate::default() + Duration::days(n))
        .format("%Y-%m-%d")
        .to_string()
}

fn month_text(n: i64) -> String {
    format!("{:04}-{:02}", n.div_euclid(12), n.rem_euclid(12) + 1)
}

/// The month number of day number `d`.
fn month_of(d: i64) -> i64 {
    number(&day_text(d)[..7])
}

/// The day numbers of month number `m`.
fn days_of(m: i64) -> std::ops::RangeInclusive<i64> {
    let first = number(&format!("{}-01", month_text(m)));
    let next = number(&format!("{}-01", month_text(m + 1)));
    first..=next - 1
}

/// Period numbers by dataset, then symbol.
type Periods = BTreeMap<String, BTreeMap<String, BTreeSet<i64>>>;

fn periods_of<'a>(keys: impl Iterator<Item = &'a str>) -> Periods {
    let mut out = Periods::new();
    for key in keys {
        if let Some((dataset, symbol, period)) = parse(key) {
            out.entry(dataset)
                .or_default()
                .entry(symbol)
                .or_default()
                .insert(number(&period));
        }
    }
    out
}

/// `catalog gaps DATASET` as it should answer, from the bucket's periods: each run of missing
/// periods inside a symbol's first..last, and whether the other partition's folder of the
/// same symbol has every period that covers it.
fn expected_gaps(all: &Periods, dataset: &str) -> Vec<Value> {
    let daily = dataset.contains("/daily/");
    let other = if daily {
        dataset.replacen("/daily/", "/monthly/", 1)
    } else {
        dataset.replacen("/monthly/", "/daily/", 1)
    };
    let text = |n: i64| if daily { day_text(n) } else { month_text(n) };
    let mut out = Vec::new();
    for (symbol, have) in &all[dataset] {
        let (first, last) = (*have.first().unwrap(), *have.last().unwrap());
        let mut n = first;
        while n <= last {
            if have.contains(&n) {
                n += 1;
                continue;
            }
            let from = n;
            while !have.contains(&n) {
                n += 1;
            }
            let to = n - 1;
            let theirs = all.get(&other).and_then(|d| d.get(symbol));
            let covered = theirs.is_some_and(|theirs| {
                if daily {
                    (month_of(from)..=month_of(to)).all(|m| theirs.contains(&m))
                } else {
                    (from..=to).all(|m| days_of(m).all(|d| theirs.contains(&d)))
                }
            });
            let by = if daily { "monthly" } else { "daily" };
            out.push(json!({
                "symbol": symbol,
                "from": text(from),
                "to": text(to),
                "periods": to - from + 1,
                "covered_by": if covered { json!(by) } else { Value::Null },
            }));
        }
    }
    out
}

fn json_of(env: &Env, args: &[&str]) -> Value {
    serde_json::from_str(&env.ok(args)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The small bucket, its 1d files holed so that every kind of answer occurs: daily gaps a
/// monthly file covers and ones it does not, monthly gaps the daily files cover and ones they
/// do not.
fn holed() -> Corpus {
    let spec = vision_sim::CorpusSpec {
        as_of: Some(day("2024-03-05")),
        ..small_spec()
    };
    let mut corpus = Corpus::from_spec(&spec);
    let daily = |s: &str, d: &str| format!("data/futures/um/daily/klines/{s}/1d/{s}-1d-{d}.zip");
    let monthly =
        |s: &str, m: &str| format!("data/futures/um/monthly/klines/{s}/1d/{s}-1d-{m}.zip");
    // ETHUSDT: 2023-03-10..12 missing from the daily files, its month's file there (covered);
    // 2023-04-30..2023-05-02 missing, May's monthly file missing too (not covered).
    for d in [
        "2023-03-10",
        "2023-03-11",
        "2023-03-12",
        "2023-04-30",
        "2023-05-01",
        "2023-05-02",
    ] {
        assert!(corpus.remove(&daily("ETHUSDT", d)).is_some(), "{d}");
    }
    assert!(corpus.remove(&monthly("ETHUSDT", "2023-05")).is_some());
    // ETHUSDT: 2022-06 and 2022-07 missing from the monthly files, every one of their days
    // there (covered); 2023-05 missing (above) with days missing too (not covered).
    for m in ["2022-06", "2022-07"] {
        assert!(corpus.remove(&monthly("ETHUSDT", m)).is_some(), "{m}");
    }
    // ADABUSD: a monthly file added for a month whose days are all there, the one before it
    // taken out, and one day of it taken out as well (not covered).
    assert!(corpus.remove(&monthly("ADABUSD", "2022-08")).is_some());
    assert!(corpus.remove(&daily("ADABUSD", "2022-08-31")).is_some());
    corpus
}

#[test]
fn gaps_are_the_runs_of_missing_periods_each_with_what_covers_it() {
    let corpus = holed();
    let env = Env::new(corpus.clone());
    env.ok(&["catalog", "update", "-q"]);
    let all = periods_of(corpus.objects().iter().map(|o| o.key.as_str()));
    let datasets: Vec<&String> = all.keys().collect();
    assert_eq!(
        datasets,
        [
            "um/daily/klines/1d",
            "um/daily/klines/1h",
            "um/daily/klines/1m",
            "um/monthly/klines/1d"
        ]
    );
    let mut kinds = BTreeSet::new();
    for dataset in datasets {
        let got = json_of(&env, &["catalog", "gaps", dataset, "--format", "json"]);
        let want = expected_gaps(&all, dataset);
        assert_eq!(got, Value::Array(want.clone()), "{dataset}");
        for g in &want {
            kinds.insert((dataset.clone(), g["covered_by"].to_string()));
        }
    }
    // Every kind of answer occurred: the test is not vacuous.
    for (dataset, by) in [
        ("um/daily/klines/1d", json!("monthly")),
        ("um/daily/klines/1d", Value::Null),
        ("um/daily/klines/1m", Value::Null),
        ("um/monthly/klines/1d", json!("daily")),
        ("um/monthly/klines/1d", Value::Null),
    ] {
        assert!(
            kinds.contains(&(dataset.to_string(), by.to_string())),
            "no gap of {dataset} covered by {by}: {kinds:?}"
        );
    }
    // The ones built above, by name.
    let eth = json_of(
        &env,
        &[
            "catalog",
            "gaps",
            "um/daily/klines/1d",
            "--symbol",
            "ETHUSDT",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        eth,
        json!([
            {"symbol": "ETHUSDT", "from": "2023-03-10", "to": "2023-03-12", "periods": 3,
             "covered_by": "monthly"},
            {"symbol": "ETHUSDT", "from": "2023-04-30", "to": "2023-05-02", "periods": 3,
             "covered_by": null},
        ])
    );
    let eth = json_of(
        &env,
        &[
            "catalog",
            "gaps",
            "um/monthly/klines/1d",
            "--symbol",
            "ETHUSDT",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        eth,
        json!([
            {"symbol": "ETHUSDT", "from": "2022-06", "to": "2022-07", "periods": 2,
             "covered_by": "daily"},
            {"symbol": "ETHUSDT", "from": "2023-05", "to": "2023-05", "periods": 1,
             "covered_by": null},
        ])
    );
    // BTCUSDT's 2021-02-22..26: its 1d days are covered by February's monthly file; its 1m
    // days by nothing (the bucket here has no monthly 1m folder).
    let csv = env.ok(&[
        "catalog",
        "gaps",
        "um/daily/klines/1m",
        "--symbol",
        "BTCUSDT",
        "--format",
        "csv",
    ]);
    assert_eq!(
        csv,
        "symbol,from,to,periods,covered_by\nBTCUSDT,2021-02-22,2021-02-26,5,\n"
    );
    let table = env.ok(&[
        "catalog",
        "gaps",
        "um/daily/klines/1d",
        "--symbol",
        "BTCUSDT",
    ]);
    assert!(
        table.starts_with("1 gaps of um/daily/klines/1d, 5 periods missing\n")
            && table.contains("BTCUSDT  2021-02-22  2021-02-26        5  monthly"),
        "{table}"
    );
}

#[test]
fn gaps_of_the_whole_bucket_equal_the_models_for_every_dataset() {
    use binance_futures_availability::store::Catalog;
    let at: DateTime<Utc> = "2026-12-01T09:00:00Z".parse().unwrap();
    let model = Arc::new(vision_sim::Vision::new(0.001));
    let env = Env::with_bucket(vision_sim::Bucket::Vision(model.at(at)));
    env.ok(&["catalog", "update", "-q"]);
    let objects = model.materialise("", at);
    let all = periods_of(
        objects
            .iter()
            .map(|o| o.key.as_str())
            .filter(|k| model.stray_reason(k).is_none()),
    );
    let catalog = Catalog::open(&env.dir.path().join("catalog.duckdb")).unwrap();
    let mut covered = BTreeMap::new();
    let mut runs = 0;
    for summary in catalog.datasets().unwrap() {
        let name = summary.dataset.to_string();
        let got: Vec<Value> = catalog
            .gaps(summary.dataset, None)
            .unwrap()
            .iter()
            .map(|g| serde_json::to_value(g).unwrap())
            .collect();
        let want = expected_gaps(&all, &name);
        assert_eq!(got, want, "{name}");
        runs += want.len();
        for g in &want {
            *covered.entry(g["covered_by"].to_string()).or_insert(0) += 1;
        }
    }
    assert_eq!(all.len(), catalog.datasets().unwrap().len());
    // The model's lives have gaps (a relisting, delisted days) in every partition.
    assert!(runs > 10 && covered.len() >= 2, "{runs} runs, {covered:?}");
}

/// `catalog lag`'s numbers as they should be from a file's lag in milliseconds each:
/// nearest-rank percentiles, hours exactly.
fn expected_lag(mut lags: Vec<i64>, replaced: i64) -> Value {
    lags.sort();
    let n = lags.len() as i64;
    let rank = |p: i64| {
        let i = (p * n + 99) / 100 - 1;
        json!(lags[i.max(0) as usize] as f64 / 3_600_000.0)
    };
    json!({
        "files": n,
        "p50_hours": rank(50),
        "p90_hours": rank(90),
        "p99_hours": rank(99),
        "max_hours": json!(*lags.last().unwrap() as f64 / 3_600_000.0),
        "replaced": replaced,
    })
}

/// The instant a period's file is late from: the next day's or month's 00:00 UTC.
fn period_end(period: &str) -> DateTime<Utc> {
    let next = if period.len() == 10 {
        day(period) + Duration::days(1)
    } else {
        day(&format!("{period}-01"))
            .checked_add_months(chrono::Months::new(1))
            .unwrap()
    };
    next.and_hms_opt(0, 0, 0).unwrap().and_utc()
}

#[test]
fn lag_is_from_a_periods_end_to_the_first_version_the_catalog_saw() {
    use binance_futures_availability::store::Catalog;
    let t0: DateTime<Utc> = "2026-11-19T09:00:00Z".parse().unwrap();
    let t1: DateTime<Utc> = "2026-11-26T09:00:00Z".parse().unwrap();
    let model = Arc::new(vision_sim::Vision::new(0.0005));
    let env = Env::with_bucket(vision_sim::Bucket::Vision(model.at(t0)));
    env.ok(&["catalog", "update", "-q"]);
    env.sim.set_clock(t1);
    env.ok(&["catalog", "update", "-q", "--full"]);

    // The first version of a key the two crawls saw: as at t0 if it was there, else as at t1.
    let files = |t| -> HashMap<String, Object> {
        model
            .materialise("", t)
            .into_iter()
            .filter(|o| model.stray_reason(&o.key).is_none() && parse(&o.key).is_some())
            .map(|o| (o.key.clone(), o))
            .collect()
    };
    let (before, now) = (files(t0), files(t1));
    let mut by_dataset: BTreeMap<String, (Vec<i64>, i64)> = BTreeMap::new();
    for (key, o) in &now {
        let (dataset, _, period) = parse(key).unwrap();
        let first = before.get(key).unwrap_or(o);
        let entry = by_dataset.entry(dataset).or_default();
        entry
            .0
            .push((first.last_modified - period_end(&period)).num_milliseconds());
        if before
            .get(key)
            .is_some_and(|b| (b.size, b.last_modified) != (o.size, o.last_modified))
        {
            entry.1 += 1;
        }
    }
    let replaced: i64 = by_dataset.values().map(|v| v.1).sum();
    assert!(replaced >= 3, "the window holds replacements: {replaced}");

    let catalog = Catalog::open(&env.dir.path().join("catalog.duckdb")).unwrap();
    let names: Vec<String> = catalog
        .datasets()
        .unwrap()
        .iter()
        .map(|d| d.dataset.to_string())
        .collect();
    assert_eq!(names, by_dataset.keys().cloned().collect::<Vec<_>>());
    for d in catalog.datasets().unwrap() {
        let name = d.dataset.to_string();
        let (lags, replaced) = by_dataset[&name].clone();
        let got = serde_json::to_value(catalog.lag(d.dataset).unwrap()).unwrap();
        assert_eq!(got, expected_lag(lags, replaced), "{name}");
    }
    // The command prints the same object; a replaced file's lag is its first upload's.
    let (name, (lags, replaced)) = by_dataset
        .iter()
        .find(|(_, (_, r))| *r > 0)
        .expect("a dataset with a replacement");
    let got = json_of(&env, &["catalog", "lag", name, "--format", "json"]);
    assert_eq!(got, expected_lag(lags.clone(), *replaced), "{name}");
    let csv = env.ok(&["catalog", "lag", name, "--format", "csv"]);
    assert!(
        csv.starts_with("files,p50_hours,p90_hours,p99_hours,max_hours,replaced\n"),
        "{csv}"
    );
}

/// The files of `dataset` the corpus holds, as `catalog files --format json` writes them, by
/// symbol then period, those of `symbol` and from `since` through `until` if given.
fn expected_files(
    corpus: &Corpus,
    dataset: &str,
    symbol: Option<&str>,
    since: Option<&str>,
    until: Option<&str>,
) -> Vec<Value> {
    let mut out: Vec<(String, i64, Value)> = corpus
        .objects()
        .iter()
        .filter_map(|o| {
            let (d, s, period) = parse(&o.key)?;
            let n = number(&period);
            (d == dataset
                && symbol.is_none_or(|x| x == s)
                && since.is_none_or(|x| number(x) <= n)
                && until.is_none_or(|x| n <= number(x)))
            .then(|| {
                let checksum = corpus.get(&format!("{}.CHECKSUM", o.key)).is_some();
                let row = json!({
                    "key": o.key,
                    "symbol": s,
                    "period": period,
                    "size": o.size,
                    "last_modified": o.last_modified.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "checksum": checksum,
                });
                (s, n, row)
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    out.into_iter().map(|r| r.2).collect()
}

#[test]
fn files_since_until_are_the_files_of_those_periods_in_every_format() {
    let corpus = holed();
    let env = Env::new(corpus.clone());
    env.ok(&["catalog", "update", "-q"]);
    for (dataset, symbol, since, until) in [
        (
            "um/daily/klines/1m",
            None,
            Some("2021-02-20"),
            Some("2021-03-01"),
        ),
        (
            "um/daily/klines/1m",
            Some("BTCUSDT"),
            Some("2021-02-20"),
            Some("2021-03-01"),
        ),
        ("um/daily/klines/1d", None, Some("2024-02-28"), None),
        ("um/daily/klines/1h", None, None, Some("2020-01-02")),
        (
            "um/monthly/klines/1d",
            None,
            Some("2022-05"),
            Some("2022-09"),
        ),
        ("um/monthly/klines/1d", Some("币安人生USDT"), None, None),
        (
            "um/daily/klines/1d",
            None,
            Some("2024-01-20"),
            Some("2024-01-20"),
        ),
        ("um/daily/klines/1d", None, Some("2030-01-01"), None),
    ] {
        let mut args = vec!["catalog", "files", dataset];
        if let Some(s) = symbol {
            args.extend(["--symbol", s]);
        }
        if let Some(s) = since {
            args.extend(["--since", s]);
        }
        if let Some(u) = until {
            args.extend(["--until", u]);
        }
        let want = expected_files(&corpus, dataset, symbol, since, until);
        let what = format!("{args:?}");
        let got = json_of(&env, &[&args[..], &["--format", "json"]].concat());
        assert_eq!(got, Value::Array(want.clone()), "{what}");
        let urls = env.ok(&[&args[..], &["--format", "urls"]].concat());
        // One public URL a file (a name outside ASCII percent-encoded, so compared by count).
        assert_eq!(urls.lines().count(), want.len(), "{what}");
        for (url, r) in urls.lines().zip(&want) {
            let key = r["key"].as_str().unwrap();
            if key.is_ascii() {
                assert_eq!(url, format!("https://data.binance.vision/{key}"), "{what}");
            }
        }
        let bytes: u64 = want.iter().map(|r| r["size"].as_u64().unwrap()).sum();
        let total = format!("{} files, {bytes} bytes", want.len());
        let out = env.run(&[&args[..], &["--format", "csv"]].concat());
        assert!(out.status.success());
        let csv = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            csv.lines().count(),
            want.len() + usize::from(!want.is_empty()),
            "{what}"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&total),
            "{what}"
        );
        let table = env.ok(&args);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.last(), Some(&total.as_str()), "{what}");
        assert_eq!(
            lines.len(),
            want.len() + 1 + usize::from(!want.is_empty()),
            "{what}"
        );
    }
}

#[test]
fn the_files_table_streamed_is_laid_out_as_a_whole_table() {
    let env = Env::new(holed());
    env.ok(&["catalog", "update", "-q"]);
    // Wide and narrow names (a CJK name takes two columns a character), sizes of every width.
    let table = env.ok(&[
        "catalog",
        "files",
        "um/monthly/klines/1d",
        "--since",
        "2024-01",
    ]);
    let want = [
        " symbol          period   size  last modified (UTC)  CHECKSUM",
        " BTCUSDT         2024-01  9502  2024-02-02 03:00:00  yes",
        " BTCUSDT         2024-02  9519  2024-03-02 03:00:00  yes",
        " BTCUSDT_240329  2024-01  9930  2024-02-04 03:00:00  yes",
        " BTCUSDT_240329  2024-02  9715  2024-03-04 03:00:00  yes",
        " ETHUSDT         2024-01  9598  2024-02-04 03:00:00  yes",
        " ICPUSDT         2024-01  9440  2024-02-03 03:00:00  yes",
        " ICPUSDT         2024-02  9949  2024-03-03 03:00:00  yes",
        " 币安人生USDT    2024-01  9674  2024-02-05 03:00:00  yes",
        " 币安人生USDT    2024-02  9843  2024-03-01 03:00:00  yes",
        "9 files, 87170 bytes",
    ];
    assert_eq!(table.lines().collect::<Vec<_>>(), want, "{table}");
    // A dataset the catalog has no file of: no files, no hours of lag.
    let none = json_of(
        &env,
        &["catalog", "lag", "um/daily/metrics", "--format", "json"],
    );
    assert_eq!(
        none,
        json!({"files": 0, "p50_hours": null, "p90_hours": null, "p99_hours": null,
               "max_hours": null, "replaced": 0})
    );
    assert_eq!(
        env.ok(&["catalog", "files", "um/daily/metrics"]),
        "0 files, 0 bytes\n"
    );
    assert_eq!(
        env.ok(&["catalog", "files", "um/daily/metrics", "--format", "json"]),
        "[]\n"
    );
}

#[test]
fn a_period_the_dataset_cannot_take_is_refused_before_any_file_is_opened() {
    // No catalog was built: a refusal that came after opening it would say so, and exit 1.
    let env = Env::new(Corpus::default());
    for (args, sentence) in [
        (
            &[
                "catalog",
                "files",
                "um/daily/klines/1m",
                "--since",
                "2024-1-05",
            ][..],
            "\"2024-1-05\" is not a period: a day YYYY-MM-DD (of a daily dataset) or a month \
             YYYY-MM (of a monthly dataset)",
        ),
        (
            &[
                "catalog",
                "files",
                "um/daily/klines/1m",
                "--until",
                "2024-02-30",
            ],
            "\"2024-02-30\" is not a period",
        ),
        (
            &[
                "catalog",
                "files",
                "um/daily/klines/1m",
                "--since",
                "2024-01",
            ],
            "since 2024-01 is a month, but um/daily/klines/1m has one file a day: give a day, \
             YYYY-MM-DD",
        ),
        (
            &[
                "catalog",
                "files",
                "um/monthly/klines/1d",
                "--until",
                "2024-01-31",
            ],
            "until 2024-01-31 is a day, but um/monthly/klines/1d has one file a month: give a \
             month, YYYY-MM",
        ),
        (
            &[
                "catalog",
                "files",
                "um/daily/klines/1m",
                "--since",
                "2024-02-01",
                "--until",
                "2024-01-31",
            ],
            "since 2024-02-01 is after until 2024-01-31: no period is in between",
        ),
        (
            &["catalog", "gaps", "um/daily/klines/7m"],
            "\"7m\" is not a",
        ),
        (
            &["catalog", "lag", "um/daily/fundingRate"],
            "the bucket has no um/daily/fundingRate folder",
        ),
        (
            &["catalog", "gaps", "um/daily/klines/1m", "--symbol", "a/b"],
            "a/b",
        ),
    ] {
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(sentence), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // Asked of a catalog never built, each question says how to build it.
    for args in [
        &["catalog", "gaps", "um/daily/klines/1m"][..],
        &["catalog", "lag", "um/daily/klines/1m"],
        &[
            "catalog",
            "files",
            "um/daily/klines/1m",
            "--since",
            "2024-01-01",
        ],
    ] {
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("build it with `binance-futures-availability catalog update`"),
            "{args:?}: {stderr}"
        );
    }
}
