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

use crate::corpus::{
    Corpus, Object, ObjectKind, daily_key_in, hash, push_1d_files_in, push_file, upload_time,
};

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
        let salt = hash(p.name);
        let days: Vec<NaiveDate> = p
            .first
            .iter_days()
            .take_while(|d| *d <= p.last)
            .filter(|d| !p.gaps.iter().any(|(a, b)| a <= d && d <= b))
            .collect();
        for &d in &days {
            push_file(
                &mut objects,
                daily_key_in(SPOT_ROOT, p.name, "1m", d),
                40_000 + hash(&format!("{}{d}", p.name)) % 20_000,
                upload_time(d, salt),
                ObjectKind::Daily1m { date: d },
            );
        }
        push_1d_files_in(
            (SPOT_ROOT, SPOT_MONTHLY_ROOT),
            &mut objects,
            p.name,
            &days,
            p.last_trade,
            as_of,
            |d| upload_time(d, salt),
        );
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
}
