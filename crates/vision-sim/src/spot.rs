//! A spot corpus (`data/spot/`): daily 1m and 1d klines, and monthly 1d klines, for pairs
//! whose lives are known by construction:
//! - `BTCUSDT` and `ETHBTC` from 2017-08-17, the spot archive's first day (both traded before);
//! - `BNBUSDT` from 2017-11-06;
//! - `BCCUSDT`, delisted: its last trade on 2018-11-20, its files going on with zero trades
//!   through 2018-11-30 (as delisted pairs' files do, binance-public-data #201);
//! - `LUNAUSDT`, a pair that stopped and came back: files 2020-08-21..2022-05-13, none for
//!   the 17 days to 2022-05-30, files again from 2022-05-31.
//!
//! The 1d files state times in milliseconds before 2025-01-01 and in microseconds from then
//! (`trading::csv_in`), as the bucket's spot files do; a monthly file of a month before 2025
//! stays in milliseconds.

use chrono::NaiveDate;

use crate::corpus::{Corpus, Object, hash, push_klines_in};

/// The folder of spot daily klines, one sub-folder per pair.
pub const SPOT_ROOT: &str = "data/spot/daily/klines/";
/// The same for monthly files.
pub const SPOT_MONTHLY_ROOT: &str = "data/spot/monthly/klines/";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// One spot pair of the corpus: its name, first and last file, last trade (`None`: every
/// file's day traded) and its gaps (first and last day without a file).
pub struct SpotPair {
    pub name: &'static str,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub last_trade: Option<NaiveDate>,
    pub gaps: &'static [(NaiveDate, NaiveDate)],
}

const LUNA_GAP: &[(NaiveDate, NaiveDate)] = &[(
    match NaiveDate::from_ymd_opt(2022, 5, 14) {
        Some(d) => d,
        None => panic!("valid date"),
    },
    match NaiveDate::from_ymd_opt(2022, 5, 30) {
        Some(d) => d,
        None => panic!("valid date"),
    },
)];

/// The pairs of `spot(as_of)`, their last file at most the day before `as_of`.
pub fn spot_pairs(as_of: NaiveDate) -> Vec<SpotPair> {
    let last_day = as_of.pred_opt().unwrap_or(as_of);
    let pair = |name, first, last, last_trade, gaps| SpotPair {
        name,
        first,
        last: NaiveDate::min(last, last_day),
        last_trade,
        gaps,
    };
    vec![
        pair("BTCUSDT", day(2017, 8, 17), last_day, None, &[]),
        pair("ETHBTC", day(2017, 8, 17), last_day, None, &[]),
        pair("BNBUSDT", day(2017, 11, 6), last_day, None, &[]),
        pair(
            "BCCUSDT",
            day(2017, 11, 6),
            day(2018, 11, 30),
            Some(day(2018, 11, 20)),
            &[],
        ),
        pair("LUNAUSDT", day(2020, 8, 21), last_day, None, LUNA_GAP),
    ]
    .into_iter()
    .filter(|p| p.first <= last_day)
    .collect()
}

/// The spot corpus as the bucket would be on the morning of `as_of` (files through the day
/// before).
pub fn spot(as_of: NaiveDate) -> Corpus {
    let mut objects: Vec<Object> = Vec::new();
    for p in spot_pairs(as_of) {
        let life = Life {
            first: p.first,
            last: p.last,
            last_trade: p.last_trade,
            gaps: p.gaps,
        };
        push_pair(&mut objects, p.name, &life, as_of);
    }
    Corpus::from_objects(objects)
}

/// A pair's life as its files show it: first and last file, last trade, gaps.
struct Life<'a> {
    first: NaiveDate,
    last: NaiveDate,
    last_trade: Option<NaiveDate>,
    gaps: &'a [(NaiveDate, NaiveDate)],
}

/// `name`'s daily 1m files and its daily and monthly 1d files over its life `p`.
fn push_pair(objects: &mut Vec<Object>, name: &str, p: &Life, as_of: NaiveDate) {
    let days: Vec<NaiveDate> = p
        .first
        .iter_days()
        .take_while(|d| *d <= p.last)
        .filter(|d| !p.gaps.iter().any(|(a, b)| a <= d && d <= b))
        .collect();
    push_klines_in(
        (SPOT_ROOT, SPOT_MONTHLY_ROOT),
        objects,
        name,
        &days,
        p.last_trade,
        as_of,
    );
}

/// Quote assets of `spot_wide`'s pairs, one per twentieth of them: USDT a third, BTC a
/// quarter, then BNB, ETH, BUSD, FDUSD, TRY and EUR — roughly Vision's spot folders' mix.
const WIDE_QUOTES: [&str; 20] = [
    "USDT", "USDT", "USDT", "USDT", "USDT", "USDT", "USDT", "BTC", "BTC", "BTC", "BTC", "BTC",
    "BNB", "BNB", "ETH", "ETH", "BUSD", "FDUSD", "TRY", "EUR",
];

/// A spot bucket of Vision's size, for benchmarks: `pairs` generated pairs (`W0001USDT`, …)
/// in `WIDE_QUOTES`' mix, each listed on a day spread over 2017-08-17 … 60 days before
/// `as_of`; three in ten delisted some time later, after a ten-day tail of files without
/// trades. At 2,500 pairs: ~2.5 × 10⁶ daily 1m files, about Vision's spot history.
pub fn spot_wide(as_of: NaiveDate, pairs: usize) -> Corpus {
    let start = day(2017, 8, 17);
    let last_day = as_of.pred_opt().unwrap_or(as_of);
    let span = (last_day - start).num_days().max(61) as u64 - 60;
    let mut objects: Vec<Object> = Vec::new();
    for i in 0..pairs {
        let name = format!("W{i:04}{}", WIDE_QUOTES[i % WIDE_QUOTES.len()]);
        let salt = hash(&name);
        let first = start + chrono::Days::new(salt % span);
        let (last, last_trade) = if salt % 10 < 3 {
            let left = (last_day - first).num_days().max(31) as u64;
            let last = first + chrono::Days::new(30 + (salt / 10) % (left - 30));
            (last, last.checked_sub_days(chrono::Days::new(10)))
        } else {
            (last_day, None)
        };
        let life = Life {
            first,
            last,
            last_trade,
            gaps: &[],
        };
        push_pair(&mut objects, &name, &life, as_of);
    }
    Corpus::from_objects(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_files_state_milliseconds_before_2025_and_microseconds_from_it() {
        let c = spot(day(2025, 3, 1));
        let text = |key: &str| {
            let o = c.get(key).unwrap_or_else(|| panic!("{key}"));
            let rows = crate::kline_rows(o).unwrap();
            crate::trading::csv_in(&rows, true)
        };
        let before = text(&format!("{SPOT_ROOT}BTCUSDT/1d/BTCUSDT-1d-2024-12-31.zip"));
        let after = text(&format!("{SPOT_ROOT}BTCUSDT/1d/BTCUSDT-1d-2025-01-01.zip"));
        let open = |csv: &str| csv.lines().nth(1).unwrap().split(',').next().unwrap().len();
        assert_eq!((open(&before), open(&after)), (13, 16), "{before}\n{after}");
        // The gap has no file; the zero-trade tail has files without trades.
        assert!(
            c.get(&format!(
                "{SPOT_ROOT}LUNAUSDT/1m/LUNAUSDT-1m-2022-05-20.zip"
            ))
            .is_none()
        );
        let tail = c
            .get(&format!("{SPOT_ROOT}BCCUSDT/1d/BCCUSDT-1d-2018-11-25.zip"))
            .unwrap();
        assert_eq!(crate::kline_rows(tail).unwrap()[0].trades, 0);
        assert_eq!(c.daily_1m_files().count(), 0, "daily_1m_files are USD-M's");
    }

    #[test]
    fn a_wide_spot_bucket_has_its_pairs_and_quote_mix() {
        let c = spot_wide(day(2026, 12, 1), 40);
        let pairs: std::collections::BTreeSet<&str> = c
            .daily_1m_files_in(SPOT_ROOT)
            .map(|(symbol, ..)| symbol)
            .collect();
        assert_eq!(pairs.len(), 40);
        assert_eq!(pairs.iter().filter(|p| p.ends_with("USDT")).count(), 14);
        assert!(pairs.contains("W0007BTC") && pairs.contains("W0019EUR"));
    }
}
