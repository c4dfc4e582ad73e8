//! The universe panel: the point-in-time universe of every rebalance date of a period, as one
//! long table (one row per date and member, by date then rank), answered from one read of the
//! trading rows of `[first date − window, last date]` instead of one query per date.
//!
//! Each date's rows are exactly `universe(date)`'s with the same question (tested over many
//! dates and flag sets): membership is the same function of the lives (`Facts::days_listed`),
//! the ranking the same order (`by_rank`), `traded_on_date` the same rule, and each mean is
//! summed over its window's rows in date order from zero, as DuckDB's `avg` adds them on the
//! store's one thread — a running sum that adds the entering day and subtracts the leaving one
//! would drift from that by ulps, enough to swap two members whose means tie. The window's
//! bounds slide (two indexes per symbol that only move forward); the sum is re-added, which
//! costs the rows in the windows, a few tens of millions of additions for a daily panel of
//! every day of the archive.
//!
//! What must not be known here: flags, HTTP, Python, rendering.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use duckdb::arrow::array::{Array, Date32Array, Float64Array, Int64Array, StringArray};
use duckdb::params;

use super::checked::published_through;
use super::lives::{QuoteValue, admitted, by_rank, known_quote, traded_on_date};
use super::{Database, RankBy, StoreError, UNIVERSE_DAYS, UniverseQuery, date_value};
use crate::facts::DayRange;

/// The most rebalance dates one panel may have: ten years of days. Every daily panel of the
/// archive fits (it began 2019-12-31), and a panel's rows stay within dates × members (about
/// 700 perpetuals a day today: under 2 million rows for a daily panel of every member, or a
/// quarter of a million with a top 100).
pub const PANEL_DATES: usize = 3660;

/// Which days of a panel's period are rebalance dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Every {
    /// Every N days from the first day (`1d`: every day; N in [`UNIVERSE_DAYS`]).
    Days(u32),
    /// Every Monday (`1w`).
    Week,
    /// The first day of every month (`1mo`).
    Month,
}

/// A rebalancing period no panel has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{text:?} is not a rebalancing period; use 1d (every day), 1w (every Monday), 1mo (the \
     first day of every month) or Nd (every N days from the start, N from 1 to 3650)"
)]
pub struct BadEvery {
    /// What was given, at most 40 characters of it.
    pub text: String,
}

impl Every {
    /// Every day.
    pub const DAILY: Every = Every::Days(1);

    /// `1d`, `Nd`, `1w` or `1mo`.
    ///
    /// ```
    /// use binance_futures_availability::store::Every;
    /// assert_eq!(Every::parse("7d"), Ok(Every::Days(7)));
    /// assert_eq!(Every::parse("1mo"), Ok(Every::Month));
    /// assert!(Every::parse("0d").is_err() && Every::parse("2w").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Every, BadEvery> {
        let days = text
            .strip_suffix('d')
            .filter(|n| !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| UNIVERSE_DAYS.contains(n));
        match (text, days) {
            ("1w", _) => Ok(Every::Week),
            ("1mo", _) => Ok(Every::Month),
            (_, Some(n)) => Ok(Every::Days(n)),
            _ => Err(BadEvery {
                text: match text.char_indices().nth(40) {
                    Some((i, _)) => format!("{}…", &text[..i]),
                    None => text.to_string(),
                },
            }),
        }
    }

    /// The rebalance dates of `days`, in order.
    ///
    /// ```
    /// use binance_futures_availability::{facts::DayRange, store::Every};
    /// use chrono::NaiveDate;
    /// let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    /// let jan = DayRange::new(d("2024-01-01"), d("2024-01-31")).unwrap();
    /// assert_eq!(Every::Week.dates(jan).first(), Some(&d("2024-01-01"))); // a Monday
    /// assert_eq!(Every::Week.dates(jan).len(), 5);
    /// assert_eq!(Every::Month.dates(jan), vec![d("2024-01-01")]);
    /// assert_eq!(Every::Days(10).dates(jan), vec![d("2024-01-01"), d("2024-01-11"), d("2024-01-21"), d("2024-01-31")]);
    /// ```
    pub fn dates(self, days: DayRange) -> Vec<NaiveDate> {
        let (first, last) = (days.first(), days.last());
        let month = chrono::Months::new(1);
        let mut next = match self {
            Every::Days(_) => Some(first),
            Every::Week => {
                let ahead = (7 - first.weekday().num_days_from_monday()) % 7;
                first.checked_add_signed(Duration::days(i64::from(ahead)))
            }
            Every::Month if first.day() == 1 => Some(first),
            Every::Month => first.with_day(1).and_then(|d| d.checked_add_months(month)),
        };
        let mut out = Vec::new();
        while let Some(date) = next.filter(|d| *d <= last) {
            debug_assert!(self != Every::Week || date.weekday() == Weekday::Mon);
            out.push(date);
            next = match self {
                Every::Days(n) => date.checked_add_signed(Duration::days(i64::from(n.max(1)))),
                Every::Week => date.checked_add_signed(Duration::days(7)),
                Every::Month => date.checked_add_months(month),
            };
        }
        out
    }
}

impl std::fmt::Display for Every {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Every::Days(n) => write!(f, "{n}d"),
            Every::Week => f.write_str("1w"),
            Every::Month => f.write_str("1mo"),
        }
    }
}

/// The question a panel answers: one universe question asked of every rebalance date.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PanelQuery {
    /// The universe asked of each date (`UniverseQuery::new`'s defaults, the one place they
    /// are written); its `date` is the first day of the period.
    pub universe: UniverseQuery,
    /// The last day of the period, inclusive.
    pub until: NaiveDate,
    /// Which days of the period are rebalance dates.
    pub every: Every,
}

impl PanelQuery {
    /// The rebalance dates, in order; none when the period is reversed.
    pub fn dates(&self) -> Vec<NaiveDate> {
        DayRange::new(self.universe.date, self.until)
            .map(|days| self.every.dates(days))
            .unwrap_or_default()
    }
}

/// A member of the universe of one rebalance date.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelRow {
    /// The rebalance date.
    pub date: NaiveDate,
    /// The symbol folder.
    pub symbol: String,
    /// 1 for the most liquid of the date.
    pub rank: u32,
    /// Its mean quote volume over the window's days with a 1d row before the date.
    pub mean_quote_volume: f64,
    /// Calendar days from the first trade of the current life to the date.
    pub days_listed: i64,
    /// Whether it traded on the date itself (known only after the fact; `None` while the
    /// date is not checked).
    pub traded_on_date: Option<bool>,
}

/// One 1d row of a symbol, as a panel reads it.
#[derive(Debug, Clone, Copy)]
struct Day {
    date: NaiveDate,
    quote_volume: f64,
    trades: i64,
}

impl Database {
    /// The universe of every rebalance date of `p`, by date then rank: each date's rows are
    /// `universe` of that date with `p.universe`'s rules (see the module doc).
    pub fn universe_panel(&self, p: &PanelQuery) -> Result<Vec<PanelRow>, StoreError> {
        let q = &p.universe;
        // A mistyped quote first, as `universe` refuses it.
        let known = self.known()?;
        let quote = match &q.quote {
            None => None,
            Some(asked) => Some(known_quote(known, asked)?),
        };
        let dates = p.dates();
        let (Some(&first), Some(&last)) = (dates.first(), dates.last()) else {
            return Ok(Vec::new());
        };
        // Every date's DATE−1 must be checked: the first and the last bound the others.
        for date in [first, last] {
            if let Some(before) = date.pred_opt() {
                self.require_checked(before)?;
            }
        }
        let lives = self.lives()?;
        let published = published_through(known);
        // The symbols the question admits, each with an index for the one read below.
        let symbols: Vec<(&str, &super::lives::Facts, &super::SymbolRecord)> = lives
            .iter()
            .filter_map(|(symbol, f)| {
                let record = known.get(symbol)?;
                admitted(record, q, quote).then_some((symbol.as_str(), f, record))
            })
            .collect();
        let index: HashMap<&str, usize> = symbols
            .iter()
            .enumerate()
            .map(|(i, (s, ..))| (*s, i))
            .collect();
        let window = Duration::days(i64::from(q.window));
        let mut days: Vec<Vec<Day>> = vec![Vec::new(); symbols.len()];
        // Read as Arrow batches: a column at a time, no conversion per value (a third of the
        // time of row-by-row reads on 780k rows).
        let what = "reading the panel's trading days";
        let quote_value = QuoteValue(self.market);
        let mut stmt = self
            .conn
            .prepare_cached(quote_value.pick(
                "SELECT symbol, date, quote_volume, trades FROM daily_trading
                  WHERE date >= ?1 AND date <= ?2",
                "SELECT symbol, date, volume, trades FROM daily_trading
                  WHERE date >= ?1 AND date <= ?2",
            ))
            .map_err(self.err(what))?;
        let batches = stmt
            .query_arrow(params![date_value(first - window), date_value(last)])
            .map_err(self.err(what))?;
        for batch in batches {
            let columns = (
                batch.column(0).as_any().downcast_ref::<StringArray>(),
                batch.column(1).as_any().downcast_ref::<Date32Array>(),
                batch.column(2).as_any().downcast_ref::<Float64Array>(),
                batch.column(3).as_any().downcast_ref::<Int64Array>(),
            );
            let (Some(symbol), Some(date), Some(quote_volume), Some(trades)) = columns else {
                return Err(self.err(what)(super::unexpected_columns(&batch)));
            };
            for row in 0..batch.num_rows() {
                let Some(&i) = index.get(symbol.value(row)) else {
                    continue;
                };
                let Some(date) = date.value_as_date(row) else {
                    continue;
                };
                days[i].push(Day {
                    date,
                    quote_volume: quote_volume.value(row),
                    trades: trades.value(row),
                });
            }
        }
        for d in &mut days {
            d.sort_unstable_by_key(|day| day.date);
        }
        // Per symbol: the first row of the window, the first row on or after the date.
        let mut from = vec![0usize; symbols.len()];
        let mut to = vec![0usize; symbols.len()];
        let mut panel = Vec::new();
        // Rows whose `traded_on_date` waits for the day's files, by date.
        let mut unknown: Vec<(usize, usize)> = Vec::new();
        let mut members: Vec<(usize, f64, f64, i64, Option<i64>)> = Vec::new();
        for &date in &dates {
            members.clear();
            for (i, (_, f, _)) in symbols.iter().enumerate() {
                let rows = &days[i];
                while from[i] < rows.len() && rows[from[i]].date < date - window {
                    from[i] += 1;
                }
                to[i] = to[i].max(from[i]);
                while to[i] < rows.len() && rows[to[i]].date < date {
                    to[i] += 1;
                }
                let in_window = &rows[from[i]..to[i]];
                if in_window.is_empty() {
                    continue;
                }
                let Some(days_listed) = f.days_listed(q, date) else {
                    continue;
                };
                // Summed in date order from zero, as `avg` sums them (module doc).
                let n = in_window.len() as f64;
                let quote_sum = in_window.iter().fold(0.0, |s, d| s + d.quote_volume);
                let trades_sum: i64 = in_window.iter().map(|d| d.trades).sum();
                let on_date = rows.get(to[i]).filter(|d| d.date == date).map(|d| d.trades);
                // Scaled after the mean, as `universe` scales DuckDB's `avg`.
                members.push((
                    i,
                    quote_sum / n * quote_value.scale(symbols[i].0),
                    trades_sum as f64 / n,
                    days_listed,
                    on_date,
                ));
            }
            let key = |m: &(usize, f64, f64, i64, Option<i64>)| match q.by {
                RankBy::QuoteVolume => m.1,
                RankBy::Trades => m.2,
            };
            members.sort_by(|a, b| by_rank((symbols[a.0].0, key(a)), (symbols[b.0].0, key(b))));
            let top = q.top.map_or(members.len(), |n| n as usize);
            for (&(i, mean, _, days_listed, on_date), rank) in members.iter().take(top).zip(1..) {
                let record = symbols[i].2;
                let checked = record.checked_through.is_some_and(|c| c >= date)
                    && published.is_some_and(|p| p >= date);
                // Without a 1d row, the day's files decide (asked below, only then).
                if on_date.is_none() && checked {
                    unknown.push((panel.len(), i));
                }
                panel.push(PanelRow {
                    date,
                    symbol: symbols[i].0.to_string(),
                    rank,
                    mean_quote_volume: mean,
                    days_listed,
                    traded_on_date: on_date.map(|t| t > 0),
                });
            }
        }
        // Checked days without a 1d row: the day's files decide, read as `universe` reads
        // them, once per such date (delisting days, mostly: a few).
        let mut files: HashMap<NaiveDate, HashMap<String, bool>> = HashMap::new();
        for (row, i) in unknown {
            let date = panel[row].date;
            let day = match files.entry(date) {
                std::collections::hash_map::Entry::Occupied(day) => day.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(self.day_files(date)?)
                }
            };
            let file = day.get(symbols[i].0).copied().unwrap_or(false);
            panel[row].traded_on_date = traded_on_date(None, true, || file);
        }
        Ok(panel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn dates(every: &str, from: &str, to: &str) -> Vec<NaiveDate> {
        Every::parse(every)
            .unwrap()
            .dates(DayRange::new(d(from), d(to)).unwrap())
    }

    /// `1d` every day, `Nd` every N days from the start, `1w` the Mondays, `1mo` the first
    /// days of the months, all within the period, both ends included.
    #[test]
    fn each_period_picks_its_documented_dates() {
        assert_eq!(dates("1d", "2024-02-27", "2024-03-01").len(), 4); // 2024 is a leap year
        assert_eq!(
            dates("3d", "2024-01-30", "2024-02-06"),
            [d("2024-01-30"), d("2024-02-02"), d("2024-02-05")]
        );
        // 2024-01-03 is a Wednesday: the first Monday is the 8th.
        let weeks = dates("1w", "2024-01-03", "2024-02-05");
        assert_eq!(weeks.first(), Some(&d("2024-01-08")));
        assert_eq!(weeks.last(), Some(&d("2024-02-05")));
        assert_eq!(weeks.len(), 5);
        assert!(weeks.iter().all(|d| d.weekday() == Weekday::Mon));
        assert_eq!(
            dates("1mo", "2024-01-02", "2024-04-01"),
            [d("2024-02-01"), d("2024-03-01"), d("2024-04-01")]
        );
        assert_eq!(dates("1mo", "2024-01-01", "2024-01-01"), [d("2024-01-01")]);
        assert!(dates("1mo", "2024-01-02", "2024-01-31").is_empty());
        // A daily panel of 2020-01-01 … 2026-11-30, the one BENCHMARKS.md measures.
        assert_eq!(dates("1d", "2020-01-01", "2026-11-30").len(), 2526);
        assert_eq!(dates("1mo", "2020-01-01", "2026-11-30").len(), 83);
    }

    #[test]
    fn a_period_is_spelled_one_way_and_refused_with_a_sentence() {
        for (text, every) in [
            ("1d", Every::Days(1)),
            ("10d", Every::Days(10)),
            ("3650d", Every::Days(3650)),
            ("1w", Every::Week),
            ("1mo", Every::Month),
        ] {
            assert_eq!(Every::parse(text), Ok(every));
            assert_eq!(every.to_string(), text);
        }
        for bad in [
            "", "d", "0d", "3651d", "-1d", "+1d", "1 d", "2w", "1m", "1M", "1D", "x",
        ] {
            assert!(Every::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Every::parse("2w").unwrap_err().to_string(),
            "\"2w\" is not a rebalancing period; use 1d (every day), 1w (every Monday), 1mo \
             (the first day of every month) or Nd (every N days from the start, N from 1 to 3650)"
        );
        let long = "9".repeat(100);
        assert!(Every::parse(&long).unwrap_err().text.ends_with('…'));
    }
}
