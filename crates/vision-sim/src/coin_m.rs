//! A COIN-M corpus (`data/futures/cm/`), groundwork for collecting a second market with the
//! same code: daily 1m and 1d klines, and monthly 1d klines, for
//! - `BTCUSD_PERP`, the perpetual, from 2020-08-11 (its first day on Vision);
//! - `ETHUSD_PERP`, a perpetual of 10 USD contracts, from 2020-08-14;
//! - `LINKUSD_PERP`, a perpetual that stopped trading on 2023-03-31 and whose files went on with
//!   zero trades through 2023-04-14 (as delisted USD-M symbols' did);
//! - `BTCUSD_240628`, a quarterly whose files start ~6 months before its delivery day;
//! - `ADAUSD_PERP_SETTLED`, a settled folder. Its name follows UM's `_SETTLED` convention; no
//!   COIN-M settled folder name is known from the bucket, so the name is a stand-in;
//!
//! and the pair folder `BTCUSD` where the bucket files it: under `indexPriceKlines` (daily 1m
//! files), not under `klines`.
//!
//! The 1d zips hold COIN-M's shape of the deterministic rows (`trading::in_contracts`): `volume`
//! counts contracts (100 USD for `BTCUSD` ones, 10 USD for every other) and the 8th column is
//! the base asset's volume, in milliseconds.

use chrono::{Duration, NaiveDate};

use crate::corpus::{
    Corpus, Object, ObjectKind, daily_key_in, push_file, push_klines_in, upload_time,
};

/// The folder of COIN-M daily klines, one sub-folder per contract.
pub const CM_ROOT: &str = "data/futures/cm/daily/klines/";
/// The same for monthly files.
pub const CM_MONTHLY_ROOT: &str = "data/futures/cm/monthly/klines/";
/// Daily index price klines: one sub-folder per pair (`BTCUSD`).
pub const CM_INDEX_ROOT: &str = "data/futures/cm/daily/indexPriceKlines/";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// The COIN-M corpus as the bucket would be on the morning of `as_of` (files through the day
/// before).
pub fn coin_m(as_of: NaiveDate) -> Corpus {
    let last_day = as_of.pred_opt().unwrap_or(as_of);
    // Name, first and last file, last trade (`None`: every file's day traded).
    let contracts = [
        ("BTCUSD_PERP", day(2020, 8, 11), last_day, None),
        ("ETHUSD_PERP", day(2020, 8, 14), last_day, None),
        (
            "LINKUSD_PERP",
            day(2021, 2, 1),
            day(2023, 4, 14),
            Some(day(2023, 3, 31)),
        ),
        ("BTCUSD_240628", day(2023, 12, 29), day(2024, 6, 28), None),
        (
            "ADAUSD_PERP_SETTLED",
            day(2021, 3, 1),
            day(2023, 6, 14),
            None,
        ),
    ];
    let mut objects: Vec<Object> = Vec::new();
    for (name, first, last, last_trade) in contracts {
        let last = last.min(last_day);
        let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
        push_klines_in(
            (CM_ROOT, CM_MONTHLY_ROOT),
            &mut objects,
            name,
            &days,
            last_trade,
            as_of,
        );
    }
    let pair_from = day(2020, 8, 11);
    let mut d = pair_from;
    while d <= last_day {
        push_file(
            &mut objects,
            daily_key_in(CM_INDEX_ROOT, "BTCUSD", "1m", d),
            30_000,
            upload_time(d, 11),
            ObjectKind::Other,
        );
        d += Duration::days(1);
    }
    Corpus::from_objects(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coin_m_corpus_has_its_four_folders_and_nothing_under_usd_m() {
        let c = coin_m(day(2024, 7, 2));
        let count = |prefix: &str| {
            c.objects()
                .iter()
                .filter(|o| o.key.starts_with(prefix))
                .count()
        };
        // 2 keys a day: the zip and its CHECKSUM.
        let perp_days = (day(2024, 7, 1) - day(2020, 8, 11)).num_days() + 1;
        assert_eq!(
            count(&format!("{CM_ROOT}BTCUSD_PERP/1m/")) as i64,
            2 * perp_days
        );
        let quarterly_days = (day(2024, 6, 28) - day(2023, 12, 29)).num_days() + 1;
        assert_eq!(
            count(&format!("{CM_ROOT}BTCUSD_240628/1m/")) as i64,
            2 * quarterly_days
        );
        assert!(count(&format!("{CM_ROOT}ADAUSD_PERP_SETTLED/1d/")) > 0);
        assert!(count(&format!("{CM_MONTHLY_ROOT}BTCUSD_240628/1d/")) > 0);
        assert_eq!(
            count(&format!("{CM_INDEX_ROOT}BTCUSD/1m/")) as i64,
            2 * perp_days
        );
        assert_eq!(
            count(&format!("{CM_ROOT}BTCUSD/")),
            0,
            "a pair is no klines folder"
        );
        assert_eq!(count("data/futures/um/"), 0);
        assert_eq!(c.daily_1m_files().count(), 0, "daily_1m_files are USD-M's");
        // 1d files are real zips whose CHECKSUM is their sha256, as USD-M's.
        let key = format!("{CM_ROOT}BTCUSD_PERP/1d/BTCUSD_PERP-1d-2024-01-15.zip");
        let zip = c.get(&key).unwrap();
        assert_eq!(crate::object_bytes(zip).len() as u64, zip.size);
        assert!(crate::checksum_body(zip).ends_with("  BTCUSD_PERP-1d-2024-01-15.zip"));
        // COIN-M's shape: `volume` counts contracts, the 8th column is base-asset volume.
        let row = &crate::kline_rows(zip).unwrap()[0];
        let usd = crate::trading::day_trade("BTCUSD_PERP", day(2024, 1, 15));
        let num = |s: &str| s.parse::<f64>().unwrap();
        assert_eq!(
            num(&row.volume),
            (num(&usd.quote_volume) / 100.0).round(),
            "{row:?}"
        );
        let price = (num(&row.open) + num(&row.close)) / 2.0;
        assert!((num(&row.quote_volume) - num(&row.volume) * 100.0 / price).abs() < 1e-6);
        let eth = format!("{CM_ROOT}ETHUSD_PERP/1d/ETHUSD_PERP-1d-2024-01-15.zip");
        let eth_row = &crate::kline_rows(c.get(&eth).unwrap()).unwrap()[0];
        let eth_usd = crate::trading::day_trade("ETHUSD_PERP", day(2024, 1, 15));
        assert_eq!(
            num(&eth_row.volume),
            (num(&eth_usd.quote_volume) / 10.0).round().max(1.0)
        );
    }
}
