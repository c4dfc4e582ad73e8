//! A dataset's keys made fast: `catalog changes` and `catalog files` build one key a row
//! (10⁵ a week of changes, thousands a symbol), from a template cut once from `Dataset::key`.
//!
//! Must not know: where the rows come from, how answers are printed.

use std::fmt;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};

use crate::facts::Span;
use crate::vision::Dataset;

/// A dataset's keys, cut from `Dataset::key` once (the grammar's one definition) around the
/// symbol, which a key holds twice, and the period: a key is then five pieces pushed into one
/// string, where `Dataset::key` formats four strings and a date (~0.6 µs a key; 104,385 keys
/// were most of `catalog changes`' 191 ms before).
#[derive(Debug, Clone, PartialEq, Eq)]
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
        // Writing into a `String` cannot fail.
        let _ = self.write_key(&mut key, symbol, span);
        key
    }

    /// Before the symbol: `data/futures/um/daily/klines/`.
    pub(super) fn before(&self) -> &str {
        &self.before
    }

    /// After the symbol in its folder: `/1m/`, `/`.
    pub(super) fn between(&self) -> &str {
        &self.between
    }

    /// After the symbol's second place, before the period: `-1m-`, `-`.
    pub(super) fn after(&self) -> &str {
        &self.after
    }

    /// Writes `symbol`'s folder (`data/futures/um/daily/klines/BTCUSDT/1m/`) into `out`: what
    /// its keys begin with.
    pub(super) fn write_folder(
        &self,
        out: &mut (impl fmt::Write + ?Sized),
        symbol: &str,
    ) -> fmt::Result {
        out.write_str(&self.before)?;
        out.write_str(symbol)?;
        out.write_str(&self.between)
    }

    /// Writes the key of `symbol`'s file of `span` into `out` (an output's own buffer: a
    /// change's key is written where it is printed, not kept a `String` a row).
    pub(super) fn write_key(
        &self,
        out: &mut (impl fmt::Write + ?Sized),
        symbol: &str,
        span: Span,
    ) -> fmt::Result {
        self.write_folder(out, symbol)?;
        out.write_str(symbol)?;
        out.write_str(&self.after)?;
        write_end(out, span)
    }

    /// Writes the key of a file of `span` into `out`, from its tail (symbol, `between`,
    /// symbol, `after`: `BTCUSDT/1m/BTCUSDT-1m-`, as `LeafTable` keeps it a leaf).
    #[inline]
    pub(super) fn write_key_with(
        &self,
        out: &mut (impl fmt::Write + ?Sized),
        tail: &str,
        span: Span,
    ) -> fmt::Result {
        out.write_str(&self.before)?;
        out.write_str(tail)?;
        write_end(out, span)
    }
}

/// Writes the end of a file name of `span` (`2024-01-15.zip`) into `out`.
#[inline]
fn write_end(out: &mut (impl fmt::Write + ?Sized), span: Span) -> fmt::Result {
    match file_end(span) {
        Some(end) => out.write_str(end),
        None => {
            write_period(out, span)?;
            out.write_str(".zip")
        }
    }
}

/// The first year whose file names' ends are kept (`file_end`).
const FIRST_YEAR: i32 = 2000;

/// Each year's ends of file names from `FIRST_YEAR` on (`2024-01-15.zip`, `2024-01.zip`): its
/// 366 days', then its 12 months', each at its place, made at the first key of that year. A
/// key's period was made from its date each time — the day's month and day out of chrono's
/// ordinal, digits, a check that they are text: writing a week's 690,488 keys went from ~28 %
/// to ~22 % of the answer's CPU with them (session 22's profiles); a year's ends are ~5 KB.
static FILE_ENDS: [OnceLock<String>; 100] = [const { OnceLock::new() }; 100];

/// A day's end of a file name: `2024-01-15.zip`.
const DAY_END: usize = 14;

/// A month's: `2024-01.zip`.
const MONTH_END: usize = 11;

/// The end of a file name of `span` (its period, `.zip`), when its year is kept.
fn file_end(span: Span) -> Option<&'static str> {
    let first = span.first_day();
    let year = usize::try_from(first.year() - FIRST_YEAR).ok()?;
    let ends = FILE_ENDS.get(year)?.get_or_init(|| year_ends(first.year()));
    let at = match span {
        Span::Day(day) => {
            day.ordinal0() as usize * DAY_END..(day.ordinal0() as usize + 1) * DAY_END
        }
        Span::Month(_) => {
            let at = 366 * DAY_END + first.month0() as usize * MONTH_END;
            at..at + MONTH_END
        }
    };
    ends.get(at)
}

/// `year`'s ends of file names, at their places (`FILE_ENDS`); a day the year has not (the
/// 366th of a year of 365) is left blank.
fn year_ends(year: i32) -> String {
    let mut ends = String::with_capacity(366 * DAY_END + 12 * MONTH_END);
    for ordinal in 1..=366 {
        match NaiveDate::from_yo_opt(year, ordinal) {
            Some(day) => {
                let _ = write_period(&mut ends, Span::Day(day));
                ends.push_str(".zip");
            }
            None => ends.push_str(&" ".repeat(DAY_END)),
        }
    }
    for month in 1..=12 {
        match crate::facts::Month::new(year, month) {
            Some(m) => {
                let _ = write_period(&mut ends, Span::Month(m));
                ends.push_str(".zip");
            }
            None => ends.push_str(&" ".repeat(MONTH_END)),
        }
    }
    ends
}

/// A period as file names write it: `2024-01-15`, `2024-01`.
fn period_text(span: Span) -> String {
    let mut text = String::new();
    let _ = write_period(&mut text, span);
    text
}

/// Writes `span` as file names write it, in fixed widths (years 0–9999, as the bucket's), so
/// that one leaf's keys sort as its periods do.
fn write_period(out: &mut (impl fmt::Write + ?Sized), span: Span) -> fmt::Result {
    let first = span.first_day();
    let mut text = [b'0'; 10];
    let digits = |text: &mut [u8], n: u32| {
        let mut n = n;
        for d in text.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    digits(&mut text[0..4], first.year().clamp(0, 9999) as u32);
    text[4] = b'-';
    digits(&mut text[5..7], first.month());
    let len = if let Span::Day(_) = span {
        text[7] = b'-';
        digits(&mut text[8..10], first.day());
        10
    } else {
        7
    };
    // ASCII digits and dashes only.
    out.write_str(std::str::from_utf8(&text[..len]).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The templates' keys are `Dataset::key`'s, for every kind of dataset and period.
    #[test]
    fn a_template_makes_the_key_dataset_key_makes() {
        // Days and months with their ends kept (`file_end`: a leap day, the last day of a year
        // of 365 and of 366) and outside those years.
        let days = [
            NaiveDate::from_ymd_opt(2017, 8, 17).unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(2023, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
            NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2099, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(2100, 1, 1).unwrap(),
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

    /// Two leaves' keys sort as their folders (`LeafTable`'s ranks) only if no folder begins
    /// another: so of every dataset the layout names, whatever the symbols (a symbol holds no
    /// `/`), and each folder begins its keys.
    #[test]
    fn no_dataset_folder_begins_another() {
        use crate::vision::{DataType, Interval, Market, Partition};
        let day = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap();
        let mut folders = Vec::new();
        for market in Market::ALL {
            for partition in Partition::ALL {
                for data_type in DataType::ALL {
                    for interval in std::iter::once(None).chain(Interval::ALL.map(Some)) {
                        let Ok(dataset) = Dataset::new(market, partition, data_type, interval)
                        else {
                            continue;
                        };
                        let t = KeyTemplate::of(dataset);
                        for symbol in ["BTC", "BTCUSDT", "BTCUSDT-1m", "1m", "1mo", "trades"] {
                            let mut folder = String::new();
                            t.write_folder(&mut folder, symbol).unwrap();
                            assert!(folder.ends_with('/'), "{folder}");
                            let key = dataset.key(symbol, day);
                            assert!(key.starts_with(&folder), "{key} {folder}");
                            folders.push(folder);
                        }
                    }
                }
            }
        }
        folders.sort();
        assert!(folders.len() > 43 * 2 * 6, "{}", folders.len());
        for pair in folders.windows(2) {
            assert!(!pair[1].starts_with(&pair[0]), "{pair:?}");
        }
    }
}
