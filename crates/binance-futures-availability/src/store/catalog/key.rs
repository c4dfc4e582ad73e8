//! A dataset's keys made fast: `catalog changes` and `catalog files` build one key a row
//! (10⁵ a week of changes, thousands a symbol), from a template cut once from `Dataset::key`.
//!
//! Must not know: where the rows come from, how answers are printed.

use chrono::{Datelike, NaiveDate};

use crate::facts::Span;
use crate::vision::Dataset;

/// A dataset's keys, cut from `Dataset::key` once (the grammar's one definition) around the
/// symbol, which a key holds twice, and the period: a key is then five pieces pushed into one
/// string, where `Dataset::key` formats four strings and a date (~0.6 µs a key; 104,385 keys
/// were most of `catalog changes`' 191 ms before).
#[derive(Debug, Clone)]
pub(super) struct KeyTemplate {
    /// The dataset whose keys it makes.
    pub(super) dataset: Dataset,
    /// Before the symbol: `data/futures/um/daily/klines/`.
    before: String,
    /// Between the symbol's two places: `/1m/`.
    between: String,
    /// After the second, before the period: `-1m-`.
    after: String,
}

/// Marks the symbol's places in the template's key.
const MARK: &str = "\u{1}";

impl KeyTemplate {
    pub(super) fn of(dataset: Dataset) -> KeyTemplate {
        let day = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
        let key = dataset.key(MARK, day);
        let period = period_text(dataset.span(day));
        let mut parts = key.split(MARK);
        let (before, between, rest) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let after = rest
            .strip_suffix(".zip")
            .and_then(|r| r.strip_suffix(period.as_str()))
            .unwrap_or_default();
        KeyTemplate {
            dataset,
            before: before.to_string(),
            between: between.to_string(),
            after: after.to_string(),
        }
    }

    /// The key of `symbol`'s file of `span`: as `Dataset::key` makes it.
    pub(super) fn key(&self, symbol: &str, span: Span) -> String {
        let mut key = String::with_capacity(
            self.before.len() + self.between.len() + self.after.len() + 2 * symbol.len() + 14,
        );
        key.push_str(&self.before);
        key.push_str(symbol);
        key.push_str(&self.between);
        key.push_str(symbol);
        key.push_str(&self.after);
        push_period(&mut key, span);
        key.push_str(".zip");
        key
    }
}

/// A period as file names write it: `2024-01-15`, `2024-01`.
fn period_text(span: Span) -> String {
    let mut text = String::new();
    push_period(&mut text, span);
    text
}

/// Pushes `span` as file names write it, digit by digit (years 0–9999, as the bucket's).
fn push_period(out: &mut String, span: Span) {
    let first = span.first_day();
    let digits = |out: &mut String, n: u32, width: u32| {
        for p in (0..width).rev() {
            out.push(char::from(b'0' + ((n / 10u32.pow(p)) % 10) as u8));
        }
    };
    digits(out, first.year().clamp(0, 9999) as u32, 4);
    out.push('-');
    digits(out, first.month(), 2);
    if let Span::Day(_) = span {
        out.push('-');
        digits(out, first.day(), 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The templates' keys are `Dataset::key`'s, for every kind of dataset and period.
    #[test]
    fn a_template_makes_the_key_dataset_key_makes() {
        let days = [
            NaiveDate::from_ymd_opt(2017, 8, 17).unwrap(),
            NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
        ];
        for name in [
            "um/daily/klines/1m",
            "um/monthly/klines/1mo",
            "spot/daily/aggTrades",
            "cm/monthly/fundingRate",
            "option/daily/BVOLIndex",
            "cm/daily/indexPriceKlines/1d",
        ] {
            let dataset: Dataset = name.parse().unwrap();
            let t = KeyTemplate::of(dataset);
            for symbol in ["BTCUSDT", "BTCUSD_PERP", "币安人生USDT", "1m"] {
                for day in days {
                    assert_eq!(
                        t.key(symbol, dataset.span(day)),
                        dataset.key(symbol, day),
                        "{name} {symbol} {day}"
                    );
                }
            }
        }
    }
}
