//! The `realistic` corpus: every real folder name of the bucket (unicode, SETTLED, delivery,
//! USDC/BUSD), with lifecycles taken from the real monthly coverage and exchangeInfo snapshots,
//! the known delist/relist gaps and missing days, nothing before 2019-12-31, ~57 KB files
//! uploaded the next morning UTC, CHECKSUM siblings, other interval folders and stray keys.
//! Deterministic for a given `as_of` day: the bucket as it would look that morning.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::Deserialize;

use crate::corpus::{
    Corpus, Object, ObjectKind, ROOT, daily_key, hash, push_1d_files, push_file, upload_time,
};

const PREFIXES: &str =
    include_str!("../../../fixtures/bucket/um_daily_klines_prefixes_2026-08-22.json");
const COVERAGE: &str =
    include_str!("../../../fixtures/bucket/um_monthly_1m_coverage_2026-06-28.csv");
const EXCHANGE_INFO: [&str; 3] = [
    include_str!("../../../fixtures/exchange-info/fapi_exchangeInfo_2024-10-02.json"),
    include_str!("../../../fixtures/exchange-info/fapi_exchangeInfo_2025-10-17.json"),
    include_str!("../../../fixtures/exchange-info/fapi_exchangeInfo_2026-03-31.json"),
];
/// The last month of the coverage listing: a symbol covered through it is treated as live.
const COVERAGE_LAST_MONTH: &str = "2026-05";
/// exchangeInfo's "no delivery scheduled" (2100-12-25) for perpetuals.
const NO_DELIVERY_MS: i64 = 4_133_404_800_000;

/// Delist/relist gaps (lostleaf_um_futures_kline_gaps.json) and days still missing on the real
/// bucket (known_missing_or_late_files.csv), as inclusive ranges.
const KNOWN_GAPS: &[(&str, &str, &str)] = &[
    ("BNXUSDT", "2023-02-11", "2023-02-22"),
    ("ICPUSDT", "2022-06-10", "2022-09-27"),
    ("TLMUSDT", "2022-06-09", "2023-03-30"),
    ("NMRUSDT", "2023-11-09", "2023-11-09"),
];

#[derive(Deserialize)]
struct Prefixes {
    perpetual_symbols: Vec<String>,
    delivery_symbols: Vec<String>,
}

#[derive(Deserialize)]
struct ExchangeInfo {
    symbols: Vec<ExchangeSymbol>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExchangeSymbol {
    symbol: String,
    status: String,
    onboard_date: i64,
    delivery_date: i64,
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or(ARCHIVE_START)
}

const ARCHIVE_START: NaiveDate = match NaiveDate::from_ymd_opt(2019, 12, 31) {
    Some(d) => d,
    None => panic!("valid date"),
};

fn ms_day(ms: i64) -> Option<NaiveDate> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.date_naive())
}

fn month_start(ym: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{ym}-01"), "%Y-%m-%d").ok()
}

fn month_end(ym: &str) -> Option<NaiveDate> {
    let start = month_start(ym)?;
    let next = if start.month() == 12 {
        NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
    }?;
    next.pred_opt()
}

/// One folder's life in the realistic corpus: the days it has files for (`first..=last` less
/// `gaps`), and the last day with trades when a delisted perpetual kept getting files.
#[derive(Debug, Clone)]
pub(crate) struct Life {
    pub name: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub last_trade: Option<NaiveDate>,
    pub gaps: Vec<(NaiveDate, NaiveDate)>,
}

/// Every folder of the realistic corpus with its life, for files through `last_day`, in the
/// folder list's order (perpetuals, then delivery contracts).
pub(crate) fn lives(last_day: NaiveDate) -> Vec<Life> {
    let prefixes: Prefixes = serde_json::from_str(PREFIXES).unwrap_or(Prefixes {
        perpetual_symbols: Vec::new(),
        delivery_symbols: Vec::new(),
    });
    let mut info: HashMap<String, ExchangeSymbol> = HashMap::new();
    for text in EXCHANGE_INFO {
        if let Ok(parsed) = serde_json::from_str::<ExchangeInfo>(text) {
            for s in parsed.symbols {
                info.insert(s.symbol.clone(), s);
            }
        }
    }
    let coverage: HashMap<&str, (&str, &str)> = COVERAGE
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.split(',');
            Some((f.next()?, (f.next()?, f.next()?)))
        })
        .collect();

    let mut lives = Vec::new();
    let names = prefixes
        .perpetual_symbols
        .iter()
        .chain(&prefixes.delivery_symbols);
    for name in names {
        let Some((first, last)) = lifespan(
            name,
            info.get(name.as_str()),
            coverage.get(name.as_str()),
            last_day,
        ) else {
            continue;
        };
        let h = hash(name);
        // One delisted perpetual in three kept getting files after its last trade, 5 to 34
        // days of them, the price carried forward and no trades (binance-public-data #201).
        let delisted = last + Duration::days(40) < last_day && !is_dated(name);
        let (last, last_trade) = if delisted && h % 3 == 1 {
            let tail = 5 + (h >> 20) as i64 % 30;
            ((last + Duration::days(tail)).min(last_day), Some(last))
        } else {
            (last, None)
        };
        let gaps: Vec<(NaiveDate, NaiveDate)> = KNOWN_GAPS
            .iter()
            .filter(|(s, _, _)| s == name)
            .map(|(_, a, b)| (day(a), day(b)))
            // One symbol in eight misses one day for good somewhere in its life.
            .chain((h % 8 == 3).then(|| {
                let span = (last - first).num_days().max(1);
                let missing = first + Duration::days(1 + (h >> 8) as i64 % span);
                (missing, missing)
            }))
            .collect();
        lives.push(Life {
            name: name.clone(),
            first,
            last,
            last_trade,
            gaps,
        });
    }
    lives
}

/// The realistic corpus as the bucket would be on the morning of `as_of` (files through the day before).
pub fn realistic(as_of: NaiveDate) -> Corpus {
    let last_day = as_of.pred_opt().unwrap_or(as_of);
    let mut objects = Vec::with_capacity(1_500_000);
    for life in lives(last_day) {
        let Life {
            name,
            first,
            last,
            last_trade,
            gaps,
        } = life;
        let name = &name;
        // 1d files are real ones for every symbol (`push_1d_files`); other intervals are filler.
        let other_intervals: &[&str] = if name == "BTCUSDT" || name == "ETHUSDT" {
            &["1h"]
        } else {
            &[]
        };
        let mut lived = Vec::with_capacity((last - first).num_days() as usize + 1);
        let mut d = first;
        while d <= last {
            if !gaps.iter().any(|(a, b)| *a <= d && d <= *b) {
                lived.push(d);
                let salt = hash(&format!("{name}{d}"));
                let size = 50_000 + salt % 14_000;
                push_file(
                    &mut objects,
                    daily_key(name, "1m", d),
                    size,
                    uploaded(d, salt),
                    ObjectKind::Daily1m { date: d },
                );
                for interval in other_intervals {
                    push_file(
                        &mut objects,
                        daily_key(name, interval, d),
                        size / 40,
                        uploaded(d, salt),
                        ObjectKind::Other,
                    );
                }
            }
            d += Duration::days(1);
        }
        push_1d_files(&mut objects, name, &lived, last_trade, as_of, |d| {
            uploaded(d, hash(&format!("{name}{d}")))
        });
    }
    // Keys that are not data days, as the real bucket has: the empty-named folders and a stray file.
    let stray_time = Utc
        .timestamp_opt(1_647_853_082, 0)
        .single()
        .unwrap_or_default();
    for key in [
        format!("{ROOT}/"),
        format!("{ROOT}BTCUSDT//"),
        format!("{ROOT}BTCUSDT/1m/BTCUSDT-1m-2020-01-01.zip.tmp"),
        format!("{ROOT}ETHUSDT/1m/BTCUSDT-1m-2021-01-01.zip"),
    ] {
        objects.push(Object {
            etag: format!("{:032x}", hash(&key)),
            key,
            size: 0,
            last_modified: stray_time,
            kind: ObjectKind::Other,
        });
    }
    Corpus::from_objects(objects)
}

/// A dated delivery contract (`BTCUSDT_240329`): it ends on its delivery day, with no tail.
fn is_dated(name: &str) -> bool {
    name.rsplit_once('_')
        .is_some_and(|(_, s)| s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// Files of the first two years were re-uploaded in bulk on 2022-03-21, as the real bucket shows.
pub(crate) fn uploaded(date: NaiveDate, salt: u64) -> DateTime<Utc> {
    if date < day("2022-03-01") {
        Utc.timestamp_opt(1_647_853_082 + (salt % 600) as i64, 0)
            .single()
            .unwrap_or_default()
    } else {
        upload_time(date, salt)
    }
}

/// The first and last day with a file, from what is known about the folder.
fn lifespan(
    name: &str,
    info: Option<&ExchangeSymbol>,
    coverage: Option<&(&str, &str)>,
    last_day: NaiveDate,
) -> Option<(NaiveDate, NaiveDate)> {
    let h = hash(name);
    let (first, last) = if let Some((_, yymmdd)) =
        name.rsplit_once('_').filter(|(_, s)| s.len() == 6)
    {
        // Dated delivery contracts trade for about two quarters before their delivery day.
        let delivery = NaiveDate::parse_from_str(&format!("20{yymmdd}"), "%Y%m%d").ok()?;
        (delivery - Duration::days(180), delivery)
    } else if let Some((first_month, last_month)) = coverage {
        // An onboardDate after the first month with files is a relisting (TLMUSDT, BNXUSDT):
        // the folder's history starts with the first listing.
        // Monthly files begin in 2020-01, but the daily archive begins on 2019-12-31 for every
        // symbol listed before then (fixtures/files/real_file_sizes.csv: BTCUSDT-1m-2019-12-31).
        let covered_from = match month_start(first_month)? {
            jan if jan == day("2020-01-01") => ARCHIVE_START,
            start => start,
        };
        let first = match info.and_then(|i| ms_day(i.onboard_date)) {
            Some(onboard) if onboard < month_end(first_month)? => onboard.max(covered_from),
            _ => covered_from + Duration::days((h % 20) as i64),
        };
        let delisted = info.filter(|i| i.status != "TRADING" && i.delivery_date < NO_DELIVERY_MS);
        let last = match delisted {
            Some(i) => ms_day(i.delivery_date)?,
            None if *last_month == COVERAGE_LAST_MONTH => last_day,
            None => month_end(last_month)? - Duration::days((h % 10) as i64),
        };
        (first, last)
    } else if let Some(i) = info {
        let first = ms_day(i.onboard_date)?;
        let last = if i.status == "TRADING" {
            last_day
        } else {
            ms_day(i.delivery_date)?.min(last_day)
        };
        (first, last)
    } else if name.ends_with("BUSD") {
        let first = day("2021-08-01") + Duration::days((h % 400) as i64);
        (
            first,
            (first + Duration::days(200 + (h >> 9) as i64 % 300)).min(day("2024-12-31")),
        )
    } else if name.ends_with("SETTLED") {
        let last = day("2023-01-01") + Duration::days((h % 900) as i64);
        (last - Duration::days(60 + (h >> 9) as i64 % 400), last)
    } else {
        (
            day("2025-01-01") + Duration::days((h % 500) as i64),
            last_day,
        )
    };
    let first = first.max(ARCHIVE_START);
    let last = last.min(last_day);
    (first <= last).then_some((first, last))
}
