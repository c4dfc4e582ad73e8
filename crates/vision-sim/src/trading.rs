//! 1d klines: what each symbol traded each day, made up but deterministic, and the zips that
//! say it, as Vision writes them: one CSV per zip named after it, the header line from 2022 on
//! and none before, times in milliseconds.
//!
//! A day's row depends only on (symbol, day), so a month's monthly file and its daily files
//! agree by construction, except on the days `disagreement` names (binance-public-data #475
//! reports such cases): there the monthly file's quote volume is 1% higher.
//!
//! A zip is padded to the size the listing gives (with its archive comment, which readers
//! skip), so sizes are known without building ~1.5M zips.

use std::fmt::Write as _;
use std::io::Write as _;

use chrono::{Datelike, NaiveDate};

use crate::corpus::hash;

/// The first day whose files carry the header line.
pub const HEADER_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2022, 1, 1) {
    Some(d) => d,
    None => panic!("valid date"),
};

pub const HEADER: &str = "open_time,open,high,low,close,volume,close_time,quote_volume,count,\
                          taker_buy_volume,taker_buy_quote_volume,ignore";

const DAY_MS: i64 = 86_400_000;

/// One day of one symbol's trading, as a 1d kline states it. Decimals are kept as the text the
/// file holds, so an oracle compares exactly what was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTrade {
    pub date: NaiveDate,
    pub open: String,
    pub high: String,
    pub low: String,
    pub close: String,
    pub volume: String,
    pub quote_volume: String,
    pub trades: u64,
    pub taker_buy_volume: String,
    pub taker_buy_quote_volume: String,
}

/// A number in [0, 1) from a hash.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// What `symbol` traded on `date` (every day of its life: the corpus decides which days have
/// files). Prices wander smoothly around a per-symbol level; quote volumes are spread over five
/// orders of magnitude between symbols, so rankings are stable and varied.
pub fn day_trade(symbol: &str, date: NaiveDate) -> DayTrade {
    let s = hash(symbol);
    let d = hash(&format!("{symbol}/{date}"));
    let days = date.num_days_from_ce() as f64;
    // Levels from 0.0001 to 100,000 and decimals to match (as tick sizes go).
    let level = 10f64.powf(-4.0 + 9.0 * unit(s));
    let decimals = (6.0 - level.log10().max(0.0)).clamp(1.0, 8.0) as usize;
    let price = |t: f64| {
        level * (1.0 + 0.3 * (t / 47.0 + unit(s.rotate_left(9)) * std::f64::consts::TAU).sin())
    };
    let open = price(days);
    let close = price(days + 1.0);
    let high = open.max(close) * (1.0 + 0.04 * unit(d));
    let low = open.min(close) * (1.0 - 0.04 * unit(d.rotate_left(17)));
    let quote_volume =
        10f64.powf(4.0 + 5.0 * unit(s.rotate_left(23))) * (0.5 + unit(d.rotate_left(5)));
    let volume = quote_volume / ((open + close) / 2.0);
    let taker = 0.4 + 0.2 * unit(d.rotate_left(29));
    let trades = (quote_volume / (200.0 + 2_000.0 * unit(s.rotate_left(41)))).max(1.0) as u64;
    DayTrade {
        date,
        open: format!("{open:.decimals$}"),
        high: format!("{high:.decimals$}"),
        low: format!("{low:.decimals$}"),
        close: format!("{close:.decimals$}"),
        volume: format!("{volume:.3}"),
        quote_volume: format!("{quote_volume:.8}"),
        trades,
        taker_buy_volume: format!("{:.3}", volume * taker),
        taker_buy_quote_volume: format!("{:.8}", quote_volume * taker),
    }
}

/// A day after the symbol stopped trading on `last_trade` whose file still came: the price
/// carried forward, no volume, no trades (binance-public-data #201).
pub fn zero_trade_day(symbol: &str, last_trade: NaiveDate, date: NaiveDate) -> DayTrade {
    let last = day_trade(symbol, last_trade);
    DayTrade {
        date,
        open: last.close.clone(),
        high: last.close.clone(),
        low: last.close.clone(),
        close: last.close,
        volume: "0.000".to_string(),
        quote_volume: "0.00000000".to_string(),
        trades: 0,
        taker_buy_volume: "0.000".to_string(),
        taker_buy_quote_volume: "0.00000000".to_string(),
    }
}

/// What a file says of `date`: a trading day, or a zero-trade day after `last_trade`.
pub fn file_day(symbol: &str, last_trade: Option<NaiveDate>, date: NaiveDate) -> DayTrade {
    match last_trade {
        Some(last) if date > last => zero_trade_day(symbol, last, date),
        _ => day_trade(symbol, date),
    }
}

/// The one day of `month` (its first day given) on which the symbol's monthly file disagrees
/// with its daily file, if any: about one month in forty.
pub fn disagreement(symbol: &str, month_first: NaiveDate) -> Option<NaiveDate> {
    let h = hash(&format!("{symbol}/disagree/{month_first}"));
    (h % 40 == 7).then(|| month_first + chrono::Duration::days((h >> 8) as i64 % 28))
}

/// The row as the monthly file writes it: the daily row, but 1% more quote volume on the day
/// of a disagreement.
pub fn monthly_trade(symbol: &str, last_trade: Option<NaiveDate>, date: NaiveDate) -> DayTrade {
    let mut t = file_day(symbol, last_trade, date);
    let first = date.with_day(1).unwrap_or(date);
    if disagreement(symbol, first) == Some(date) {
        let q: f64 = t.quote_volume.parse().unwrap_or(0.0);
        t.quote_volume = format!("{:.8}", q * 1.01);
    }
    t
}

/// What one contract of a COIN-M symbol is worth in USD: 100 for `BTCUSD` contracts
/// (`BTCUSD_PERP`, `BTCUSD_240628`), 10 for every other (Binance's contract specifications).
pub fn cm_contract_usd(symbol: &str) -> f64 {
    if symbol.starts_with("BTCUSD_") {
        100.0
    } else {
        10.0
    }
}

/// A day as COIN-M's 1d files state it: `volume` (and the taker's) counts contracts, and the
/// 8th column (`quote_volume` in the header) is the base asset's volume, contracts × size ÷
/// price. `t`'s quote volume is taken as the day's USD notional; a day with trades has at least
/// one contract.
pub fn in_contracts(symbol: &str, t: DayTrade) -> DayTrade {
    let num = |s: &str| s.parse::<f64>().unwrap_or(0.0);
    let size = cm_contract_usd(symbol);
    let usd = num(&t.quote_volume);
    let price = (num(&t.open) + num(&t.close)) / 2.0;
    let mut contracts = (usd / size).round();
    if t.trades > 0 {
        contracts = contracts.max(1.0);
    }
    let taker_share = if usd > 0.0 {
        num(&t.taker_buy_quote_volume) / usd
    } else {
        0.0
    };
    let taker = (contracts * taker_share).round();
    DayTrade {
        volume: format!("{contracts:.0}"),
        quote_volume: format!("{:.8}", contracts * size / price),
        taker_buy_volume: format!("{taker:.0}"),
        taker_buy_quote_volume: format!("{:.8}", taker * size / price),
        ..t
    }
}

/// The first day spot's files state times in microseconds (milliseconds before).
pub const SPOT_MICROS_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2025, 1, 1) {
    Some(d) => d,
    None => panic!("valid date"),
};

/// Ticks of a file's time unit per millisecond: 1000 for spot rows from 2025-01-01, else 1.
pub fn ticks_per_ms(spot: bool, date: NaiveDate) -> i64 {
    if spot && date >= SPOT_MICROS_FROM {
        1_000
    } else {
        1
    }
}

fn write_row(out: &mut String, t: &DayTrade, per_ms: i64) {
    let open = (t.date - NaiveDate::default()).num_days() * DAY_MS * per_ms;
    let _ = writeln!(
        out,
        "{open},{},{},{},{},{},{},{},{},{},{},0",
        t.open,
        t.high,
        t.low,
        t.close,
        t.volume,
        open + DAY_MS * per_ms - 1,
        t.quote_volume,
        t.trades,
        t.taker_buy_volume,
        t.taker_buy_quote_volume
    );
}

/// The CSV of a file whose rows are `trades` (in order), with the header when its first day is
/// in the header era, times in milliseconds.
pub fn csv(trades: &[DayTrade]) -> String {
    csv_in(trades, false)
}

/// `csv` for a market's file: a spot file's rows from 2025-01-01 state microseconds.
pub fn csv_in(trades: &[DayTrade], spot: bool) -> String {
    let mut out = String::with_capacity(64 + trades.len() * 160);
    if trades.first().is_some_and(|t| t.date >= HEADER_FROM) {
        out.push_str(HEADER);
        out.push('\n');
    }
    for t in trades {
        write_row(&mut out, t, ticks_per_ms(spot, t.date));
    }
    out
}

/// A zip holding `csv` as its one entry `name`, stored (not deflated: a 1d CSV is a few
/// hundred bytes), with a fixed timestamp so the bytes are the same every time, padded to
/// `size` bytes with its archive comment (unpadded when it is already larger, which the sizes
/// the corpus lists never are: see the tests).
pub fn zip_bytes(name: &str, csv: &str, size: u64) -> Vec<u8> {
    let padding = (size as usize).saturating_sub(zip_len(name.len(), csv.len()) as usize);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(size as usize)));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    // Writing into memory cannot fail.
    let _ = zip.start_file(name, options);
    let _ = zip.write_all(csv.as_bytes());
    zip.set_raw_comment(vec![b' '; padding.min(u16::MAX as usize)].into());
    zip.finish().map(|c| c.into_inner()).unwrap_or_default()
}

/// The length of an unpadded `zip_bytes` for a name and CSV of these lengths: a local header
/// (30 bytes), a central-directory entry (46), the end record (22), the name twice and the data.
pub fn zip_len(name_len: usize, csv_len: usize) -> u64 {
    (30 + 46 + 22 + 2 * name_len + csv_len) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn zip_len_is_the_length_of_the_zip() {
        for (name, days) in [
            ("BTCUSDT-1d-2021-06-01.csv", vec![d("2021-06-01")]),
            (
                "币安人生USDT-1d-2025-10.csv",
                (20..=31).map(|n| d(&format!("2025-10-{n}"))).collect(),
            ),
        ] {
            let text = csv(&days
                .iter()
                .map(|day| day_trade("X", *day))
                .collect::<Vec<_>>());
            assert_eq!(
                zip_bytes(name, &text, 0).len() as u64,
                zip_len(name.len(), text.len())
            );
            assert_eq!(
                zip_bytes(name, &text, 12_345).len(),
                12_345,
                "padded to the size listed"
            );
        }
    }

    #[test]
    fn rows_are_deterministic_consistent_and_plausible() {
        let a = day_trade("BTCUSDT", d("2024-01-15"));
        assert_eq!(a, day_trade("BTCUSDT", d("2024-01-15")));
        assert_ne!(a, day_trade("ETHUSDT", d("2024-01-15")));
        let num = |s: &str| s.parse::<f64>().unwrap();
        for symbol in ["BTCUSDT", "1000PEPEUSDT", "币安人生USDT"] {
            for day in d("2023-01-01").iter_days().take(400) {
                let t = day_trade(symbol, day);
                assert!(num(&t.high) >= num(&t.open).max(num(&t.close)) - 1e-9);
                assert!(num(&t.low) <= num(&t.open).min(num(&t.close)) + 1e-9);
                assert!(t.trades >= 1 && num(&t.quote_volume) > 0.0);
            }
        }
        // After the last trade: the price carried, nothing traded.
        let last = d("2023-05-01");
        let tail = file_day("BTCUSDT", Some(last), d("2023-05-09"));
        assert_eq!(
            (tail.trades, tail.open.as_str()),
            (0, day_trade("BTCUSDT", last).close.as_str())
        );
        assert_eq!(
            file_day("BTCUSDT", Some(last), last),
            day_trade("BTCUSDT", last)
        );
        // The header comes with 2022.
        assert!(!csv(&[day_trade("X", d("2021-12-31"))]).starts_with("open_time"));
        assert!(csv(&[day_trade("X", d("2022-01-01"))]).starts_with(HEADER));
    }

    #[test]
    fn monthly_rows_differ_from_daily_ones_only_on_a_disagreement() {
        let mut disagreeing = 0;
        for symbol in ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT"] {
            for month in 1..=12 {
                let first = NaiveDate::from_ymd_opt(2023, month, 1).unwrap();
                for day in first.iter_days().take_while(|x| x.month() == month) {
                    let same = monthly_trade(symbol, None, day) == day_trade(symbol, day);
                    assert_eq!(!same, disagreement(symbol, first) == Some(day));
                    disagreeing += usize::from(!same);
                }
            }
        }
        assert!((0..10).contains(&disagreeing), "{disagreeing} of 60 months");
    }
}
