//! Symbol names and days as keys spell them: which names a symbol folder can have
//! (`check_symbol`), and the one reading of a key's `YYYY-MM-DD`. The key grammar itself is a
//! dataset's (`dataset`), what a name says about its contract a market's (`market`).

use chrono::NaiveDate;

/// The longest symbol folder name accepted, in bytes. Real ones are at most 23 (1,007 folders,
/// 2026-08-22); the bound only keeps a hostile listing from handing us megabyte "names".
pub const MAX_SYMBOL_BYTES: usize = 64;

/// Why a name cannot be a symbol folder of the bucket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSymbol {
    /// An empty name.
    #[error("a symbol name cannot be empty")]
    Empty,
    /// More than `MAX_SYMBOL_BYTES` (64) bytes.
    #[error("{name:?} is longer than {MAX_SYMBOL_BYTES} bytes, longer than any symbol folder")]
    TooLong {
        /// The name's first 16 characters and `…`: no more of it is kept.
        name: String,
    },
    /// A character other than a letter, a digit or `_`.
    #[error(
        "{name:?} is not a symbol name: {found:?} is not allowed (a symbol folder is made of \
         letters, digits and `_`, e.g. BTCUSDT, ICPUSDT_SETTLED, BTCUSDT_260925, 币安人生USDT)"
    )]
    Character {
        /// The whole name.
        name: String,
        /// The first character refused.
        found: char,
    },
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

/// `YYYY-MM-DD` exactly (ten bytes, zero-padded, a real day), as keys spell days. By hand rather
/// than `NaiveDate::parse_from_str`, which interprets its format string on every call (a
/// backfill parses ~1.6 M keys) and accepts unpadded or signed fields.
pub(super) fn iso_day(s: &str) -> Option<NaiveDate> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
