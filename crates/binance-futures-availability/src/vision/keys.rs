//! The key grammar of the bucket, in one place: how a symbol's daily 1m-klines key is built,
//! how a listed key is read back (strictly — anything else is never a data day), and what a
//! folder name says about its contract.

use chrono::NaiveDate;

use crate::facts::{Contract, SymbolClass};

/// The folder that holds one sub-folder per UM symbol.
pub const KLINES_ROOT: &str = "data/futures/um/daily/klines/";

/// Quote assets recognised at the end of a symbol name, longest-first where one ends another.
const QUOTE_ASSETS: &[&str] = &["FDUSD", "USDT", "USDC", "BUSD", "USD1", "BTC", "U"];

/// `data/futures/um/daily/klines/{symbol}/1m/`
pub fn daily_1m_folder(symbol: &str) -> String {
    format!("{KLINES_ROOT}{symbol}/1m/")
}

/// `data/futures/um/daily/klines/{S}/1m/{S}-1m-{YYYY-MM-DD}.zip`
pub fn daily_1m_key(symbol: &str, date: NaiveDate) -> String {
    format!(
        "{KLINES_ROOT}{symbol}/1m/{symbol}-1m-{}.zip",
        date.format("%Y-%m-%d")
    )
}

/// A `start-after` value from which a listing of the symbol's 1m folder begins at `date`'s file.
/// It is a prefix of that day's keys, so it sorts just before them.
pub fn start_after_day(symbol: &str, date: NaiveDate) -> String {
    format!(
        "{KLINES_ROOT}{symbol}/1m/{symbol}-1m-{}",
        date.format("%Y-%m-%d")
    )
}

/// Reads a listed key back into `(symbol, date)` if, and only if, it is exactly a daily 1m-klines
/// file: CHECKSUM siblings, other intervals, stray files, impossible dates and another symbol's
/// name inside the folder all give `None`.
pub fn parse_daily_1m_key(key: &str) -> Option<(&str, NaiveDate)> {
    let rest = key.strip_prefix(KLINES_ROOT)?;
    let (symbol, rest) = rest.split_once('/')?;
    let file = rest.strip_prefix("1m/")?;
    let stem = file.strip_suffix(".zip")?;
    let date = stem.strip_prefix(symbol)?.strip_prefix("-1m-")?;
    if symbol.is_empty() || date.len() != 10 {
        return None;
    }
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some((symbol, date))
}

/// The symbol folder named by a `CommonPrefixes` entry of the klines root, if it names one.
/// The real bucket has an empty-named folder (`…/klines//`), which is not a symbol.
pub fn folder_symbol(prefix: &str) -> Option<&str> {
    let name = prefix.strip_prefix(KLINES_ROOT)?.strip_suffix('/')?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// What a folder name says: delivery (`_YYMMDD` that is a real date) or perpetual, settled
/// (`SETTLED`, `_SETTLED`, repeated), and quote asset.
pub fn classify(symbol: &str) -> SymbolClass {
    let mut base = symbol;
    let mut settled = false;
    loop {
        if let Some(b) = base.strip_suffix("_SETTLED") {
            base = b;
        } else if let Some(b) = base.strip_suffix("SETTLED") {
            base = b;
        } else {
            break;
        }
        settled = true;
    }
    let mut delivery_date = None;
    if let Some((pair, suffix)) = base.rsplit_once('_')
        && suffix.len() == 6
        && suffix.bytes().all(|b| b.is_ascii_digit())
        && let Ok(date) = NaiveDate::parse_from_str(&format!("20{suffix}"), "%Y%m%d")
    {
        delivery_date = Some(date);
        base = pair;
    }
    let quote_asset = QUOTE_ASSETS
        .iter()
        .find(|q| base.len() > q.len() && base.ends_with(*q))
        .map(|q| q.to_string());
    SymbolClass {
        contract: if delivery_date.is_some() {
            Contract::Delivery
        } else {
            Contract::Perpetual
        },
        quote_asset,
        settled,
        delivery_date,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn keys_round_trip_including_unicode_and_settled_names() {
        for symbol in [
            "BTCUSDT",
            "币安人生USDT",
            "ICPUSDT_SETTLED",
            "AERGOUSDTSETTLEDSETTLED",
            "BTCUSDT_260925",
        ] {
            let key = daily_1m_key(symbol, d("2024-02-29"));
            assert_eq!(parse_daily_1m_key(&key), Some((symbol, d("2024-02-29"))));
            assert!(start_after_day(symbol, d("2024-02-29")) < key);
            assert!(
                start_after_day(symbol, d("2024-02-29"))
                    > daily_1m_key(symbol, d("2024-02-28")) + ".CHECKSUM"
            );
        }
    }

    #[test]
    fn only_exact_daily_1m_keys_are_data_days() {
        let root = KLINES_ROOT;
        for key in [
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip.CHECKSUM"),
            format!("{root}BTCUSDT/1h/BTCUSDT-1h-2024-01-01.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-02-30.zip"),
            format!("{root}BTCUSDT/1m/ETHUSDT-1m-2024-01-01.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-1-01.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-01.zip"),
            format!("{root}BTCUSDT/1m/readme.txt"),
            format!("{root}BTCUSDT/1m/"),
            format!("{root}/1m/-1m-2024-01-01.zip"),
            "data/futures/cm/daily/klines/BTCUSD_PERP/1m/BTCUSD_PERP-1m-2024-01-01.zip".to_string(),
        ] {
            assert_eq!(parse_daily_1m_key(&key), None, "{key}");
        }
    }

    #[test]
    fn folder_names_are_read_from_common_prefixes() {
        assert_eq!(
            folder_symbol("data/futures/um/daily/klines/币安人生USDT/"),
            Some("币安人生USDT")
        );
        assert_eq!(folder_symbol("data/futures/um/daily/klines//"), None);
        assert_eq!(folder_symbol("data/futures/um/daily/klines/"), None);
    }

    #[test]
    fn classification_of_real_folder_names() {
        let c = classify("BTCUSDT_260925");
        assert_eq!(
            (c.contract, c.delivery_date, c.quote_asset.as_deref()),
            (Contract::Delivery, Some(d("2026-09-25")), Some("USDT"))
        );
        let c = classify("BTCBUSD_210129");
        assert_eq!(
            (c.contract, c.quote_asset.as_deref()),
            (Contract::Delivery, Some("BUSD"))
        );
        for (name, quote) in [
            ("AERGOUSDTSETTLEDSETTLED", "USDT"),
            ("ICPUSDT_SETTLED", "USDT"),
            ("BNXUSDTSETTLED", "USDT"),
        ] {
            let c = classify(name);
            assert!(
                c.settled
                    && c.contract == Contract::Perpetual
                    && c.quote_asset.as_deref() == Some(quote),
                "{name}"
            );
        }
        for (name, quote) in [
            ("1000PEPEUSDC", "USDC"),
            ("ADABUSD", "BUSD"),
            ("币安人生USDT", "USDT"),
            ("ETHBTC", "BTC"),
        ] {
            let c = classify(name);
            assert_eq!(
                (c.contract, c.settled, c.quote_asset.as_deref()),
                (Contract::Perpetual, false, Some(quote)),
                "{name}"
            );
        }
        // `_999999` is not a date: not a delivery contract.
        assert_eq!(classify("FOOUSDT_999999").contract, Contract::Perpetual);
    }
}
