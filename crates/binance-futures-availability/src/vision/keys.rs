//! The key grammar of the bucket, in one place: how a symbol's daily 1m-klines key and its
//! daily and monthly 1d-klines keys are built, how a listed key is read back (strictly —
//! anything else is never a data file), and what a folder name says about its contract.

use chrono::NaiveDate;

use crate::facts::{Contract, Month, Span, SymbolClass};

/// The folder that holds one sub-folder per UM symbol.
pub const KLINES_ROOT: &str = "data/futures/um/daily/klines/";

/// The same for monthly files.
pub const MONTHLY_KLINES_ROOT: &str = "data/futures/um/monthly/klines/";

/// Quote assets recognised at the end of a symbol name, longest-first where one ends another.
const QUOTE_ASSETS: &[&str] = &["FDUSD", "USDT", "USDC", "BUSD", "USD1", "BTC", "U"];

/// The longest symbol folder name accepted, in bytes. Real ones are at most 23 (1,007 folders,
/// 2026-08-22); the bound only keeps a hostile listing from handing us megabyte "names".
pub const MAX_SYMBOL_BYTES: usize = 64;

/// Why a name cannot be a symbol folder of the bucket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSymbol {
    #[error("a symbol name cannot be empty")]
    Empty,
    #[error("{name:?} is longer than {MAX_SYMBOL_BYTES} bytes, longer than any symbol folder")]
    TooLong { name: String },
    #[error(
        "{name:?} is not a symbol name: {found:?} is not allowed (a symbol folder is made of \
         letters, digits and `_`, e.g. BTCUSDT, ICPUSDT_SETTLED, BTCUSDT_260925, 币安人生USDT)"
    )]
    Character { name: String, found: char },
}

/// Checks that `name` is what a UM symbol folder can be called: 1 to 64 bytes of letters (any
/// script: `币安人生USDT` is real), digits and `_`. Everything a path or a terminal would read
/// as more than a name — `/`, `.`/`..`, `%`, spaces, control characters, `=` — is refused, so a
/// name can neither walk to another folder once in a URL nor act once printed.
pub fn check_symbol(name: &str) -> Result<(), BadSymbol> {
    if name.is_empty() {
        return Err(BadSymbol::Empty);
    }
    if name.len() > MAX_SYMBOL_BYTES {
        return Err(BadSymbol::TooLong {
            name: name.chars().take(16).collect::<String>() + "…",
        });
    }
    match name.chars().find(|c| !(c.is_alphanumeric() || *c == '_')) {
        Some(found) => Err(BadSymbol::Character {
            name: name.to_string(),
            found,
        }),
        None => Ok(()),
    }
}

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
    Some((symbol, iso_day(date)?))
}

/// `YYYY-MM-DD` exactly (ten bytes, zero-padded, a real day), as keys spell days. By hand rather
/// than `NaiveDate::parse_from_str`, which interprets its format string on every call (a
/// backfill parses ~1.6 M keys) and accepts unpadded or signed fields.
fn iso_day(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

/// The folder of a symbol's 1d klines files of `span`'s kind: daily
/// (`data/futures/um/daily/klines/{S}/1d/`) or monthly (`…/monthly/klines/{S}/1d/`).
pub fn kline_1d_folder(symbol: &str, span: Span) -> String {
    match span {
        Span::Day(_) => format!("{KLINES_ROOT}{symbol}/1d/"),
        Span::Month(_) => format!("{MONTHLY_KLINES_ROOT}{symbol}/1d/"),
    }
}

/// `…/daily/klines/{S}/1d/{S}-1d-{YYYY-MM-DD}.zip` or `…/monthly/klines/{S}/1d/{S}-1d-{YYYY-MM}.zip`
pub fn kline_1d_key(symbol: &str, span: Span) -> String {
    let stamp = match span {
        Span::Day(d) => d.format("%Y-%m-%d").to_string(),
        Span::Month(m) => m.to_string(),
    };
    format!("{}{symbol}-1d-{stamp}.zip", kline_1d_folder(symbol, span))
}

/// A `start-after` value from which a listing of the symbol's daily 1d folder begins at
/// `date`'s file (a prefix of that day's keys, so it sorts just before them).
pub fn start_after_1d_day(symbol: &str, date: NaiveDate) -> String {
    format!(
        "{}{symbol}-1d-{}",
        kline_1d_folder(symbol, Span::Day(date)),
        date.format("%Y-%m-%d")
    )
}

/// Reads a listed key back into `(symbol, span)` if, and only if, it is exactly a daily or
/// monthly 1d-klines file of its folder's symbol: a daily root with a month, a monthly root
/// with a day, CHECKSUM siblings, other intervals and impossible dates give `None`.
pub fn parse_kline_1d_key(key: &str) -> Option<(&str, Span)> {
    let (rest, monthly) = match key.strip_prefix(KLINES_ROOT) {
        Some(rest) => (rest, false),
        None => (key.strip_prefix(MONTHLY_KLINES_ROOT)?, true),
    };
    let (symbol, rest) = rest.split_once('/')?;
    let stamp = rest
        .strip_prefix("1d/")?
        .strip_suffix(".zip")?
        .strip_prefix(symbol)?
        .strip_prefix("-1d-")?;
    if symbol.is_empty() {
        return None;
    }
    let span = match (monthly, stamp.len()) {
        (false, 10) => Span::Day(iso_day(stamp)?),
        (true, 7) => {
            let (year, month) = stamp.split_once('-')?;
            if year.len() != 4
                || month.len() != 2
                || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
            {
                return None;
            }
            Span::Month(Month::new(year.parse().ok()?, month.parse().ok()?)?)
        }
        _ => return None,
    };
    Some((symbol, span))
}

/// What a `CommonPrefixes` entry of the klines root names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Folder<'a> {
    Symbol(&'a str),
    /// The real bucket has an empty-named folder (`…/klines//`): not a symbol, and expected.
    Empty,
    /// A folder whose name cannot be a symbol (`..`, a control character, …): skipped, and said.
    Refused(BadSymbol),
}

/// Reads a `CommonPrefixes` entry of the klines root; `None` when it is not one at all.
pub fn folder_symbol(prefix: &str) -> Option<Folder<'_>> {
    let name = prefix.strip_prefix(KLINES_ROOT)?.strip_suffix('/')?;
    if name.is_empty() {
        return Some(Folder::Empty);
    }
    Some(match check_symbol(name) {
        Ok(()) => Folder::Symbol(name),
        Err(e) => Folder::Refused(e),
    })
}

/// The symbol a settled folder holds the earlier history of (`ICPUSDT_SETTLED` and
/// `AERGOUSDTSETTLEDSETTLED` → `ICPUSDT`, `AERGOUSDT`): every `SETTLED`/`_SETTLED` suffix
/// taken off; `None` for a folder that is not a settled one.
pub fn settled_base(symbol: &str) -> Option<&str> {
    let mut base = symbol;
    while let Some(b) = base
        .strip_suffix("_SETTLED")
        .or_else(|| base.strip_suffix("SETTLED"))
    {
        base = b;
    }
    (base.len() < symbol.len() && !base.is_empty()).then_some(base)
}

/// What a folder name says: delivery (`_YYMMDD` that is a real date) or perpetual, settled
/// (`SETTLED`, `_SETTLED`, repeated), and quote asset.
pub fn classify(symbol: &str) -> SymbolClass {
    let settled_of = settled_base(symbol);
    let settled = settled_of.is_some();
    let mut base = settled_of.unwrap_or(symbol);
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
            // Ten bytes, but not zero-padded digits: chrono's parser took some of these.
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-1-001.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-+024-01-01.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-01-+1.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-01- 1.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024/01/01.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2024-00-10.zip"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-٢٠٢٤-01-01.zip"),
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
    fn kline_1d_keys_round_trip_and_nothing_else_parses() {
        let month = Month::new(2024, 2).unwrap();
        for symbol in [
            "BTCUSDT",
            "币安人生USDT",
            "ICPUSDT_SETTLED",
            "BTCUSDT_260925",
        ] {
            for span in [Span::Day(d("2024-02-29")), Span::Month(month)] {
                let key = kline_1d_key(symbol, span);
                assert_eq!(parse_kline_1d_key(&key), Some((symbol, span)), "{key}");
                assert!(key.starts_with(&kline_1d_folder(symbol, span)));
            }
        }
        assert_eq!(
            kline_1d_key("BTCUSDT", Span::Month(month)),
            "data/futures/um/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2024-02.zip"
        );
        let daily = KLINES_ROOT;
        let monthly = MONTHLY_KLINES_ROOT;
        for key in [
            format!("{daily}BTCUSDT/1d/BTCUSDT-1d-2024-01-01.zip.CHECKSUM"),
            format!("{daily}BTCUSDT/1d/BTCUSDT-1d-2024-01.zip"),
            format!("{monthly}BTCUSDT/1d/BTCUSDT-1d-2024-01-01.zip"),
            format!("{monthly}BTCUSDT/1d/BTCUSDT-1d-2024-13.zip"),
            format!("{monthly}BTCUSDT/1d/BTCUSDT-1d-2024-1.zip"),
            format!("{monthly}BTCUSDT/1d/BTCUSDT-1d-+202-01.zip"),
            format!("{monthly}BTCUSDT/1d/BTCUSDT-1d-2024-+1.zip"),
            format!("{daily}BTCUSDT/1d/BTCUSDT-1d-2024-02-30.zip"),
            format!("{daily}BTCUSDT/1d/BTCUSDT-1d-2024-02-+1.zip"),
            format!("{daily}BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip"),
            format!("{daily}BTCUSDT/1d/ETHUSDT-1d-2024-01-01.zip"),
            format!("{monthly}BTCUSDT/1m/BTCUSDT-1m-2024-01.zip"),
            format!("{daily}/1d/-1d-2024-01-01.zip"),
            "data/futures/cm/monthly/klines/BTCUSD_PERP/1d/BTCUSD_PERP-1d-2024-01.zip".to_string(),
        ] {
            assert_eq!(parse_kline_1d_key(&key), None, "{key}");
        }
    }

    #[test]
    fn folder_names_are_read_from_common_prefixes() {
        assert_eq!(
            folder_symbol("data/futures/um/daily/klines/币安人生USDT/"),
            Some(Folder::Symbol("币安人生USDT"))
        );
        assert_eq!(
            folder_symbol("data/futures/um/daily/klines//"),
            Some(Folder::Empty)
        );
        assert_eq!(folder_symbol("data/futures/um/daily/klines/"), None);
        for name in ["..", ".", "a/b", "\u{1b}[31mX"] {
            let prefix = format!("{KLINES_ROOT}{name}/");
            assert!(
                !matches!(folder_symbol(&prefix), Some(Folder::Symbol(_))),
                "{name:?}"
            );
        }
    }

    #[test]
    fn every_real_folder_name_is_a_symbol_and_nothing_path_like_is() {
        let real: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../fixtures/bucket/um_daily_klines_prefixes_2026-08-22.json"
        ))
        .unwrap();
        let names: Vec<&str> = ["perpetual_symbols", "delivery_symbols"]
            .iter()
            .flat_map(|k| real[k].as_array().unwrap())
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 1007);
        for name in names {
            assert_eq!(check_symbol(name), Ok(()), "{name}");
        }
        for good in [
            "btcusdt",
            "BTCUSDT_260925",
            "AERGOUSDTSETTLEDSETTLED",
            "我踏马来了USDT",
        ] {
            assert_eq!(check_symbol(good), Ok(()), "{good}");
        }
        for (bad, found) in [
            ("X/../BTCUSDT", '/'),
            ("..", '.'),
            (".", '.'),
            ("BTC USDT", ' '),
            ("BTC%2FUSDT", '%'),
            ("\u{1b}[31mRED", '\u{1b}'),
            ("=HYPERLINK(\"x\")", '='),
            ("BTC\nUSDT", '\n'),
            ("BTC\u{202e}USDT", '\u{202e}'),
            ("BTCUSDT?x=1", '?'),
            ("-BTCUSDT", '-'),
        ] {
            assert_eq!(
                check_symbol(bad),
                Err(BadSymbol::Character {
                    name: bad.to_string(),
                    found
                }),
                "{bad:?}"
            );
        }
        assert_eq!(check_symbol(""), Err(BadSymbol::Empty));
        assert!(matches!(
            check_symbol(&"A".repeat(65)),
            Err(BadSymbol::TooLong { .. })
        ));
        assert_eq!(check_symbol(&"A".repeat(64)), Ok(()));
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
