//! Where facts become rows: a finished listing of a window turns into the files it found, the
//! verified absences between a symbol's first and last file, and the window recorded as
//! checked — only through the last day the bucket has published (a day no folder has a file
//! for, or for a later day, is an outage or not uploaded yet, not a day without a file). Pure,
//! so the bridging rules are tested directly.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};

use super::plan::Task;
use crate::facts::{DayRange, FileFact, Market};
use crate::store::{AvailabilityRow, Seen, SymbolRecord, SymbolUpdate};

/// The rows a finished listing yields: every file, and every day without one strictly between
/// the symbol's first and last file (a verified absence). Days before the first file, after the
/// last, or never checked get no row; the checked window is recorded on the symbol, cut at
/// `published`, the last day the bucket is known to have published (these files included).
pub(super) fn observations(
    market: Market,
    task: &Task,
    files: &[FileFact],
    prior: Option<&SymbolRecord>,
    published: Option<NaiveDate>,
    now: chrono::DateTime<Utc>,
) -> (Vec<AvailabilityRow>, SymbolUpdate) {
    let first_seen = files.first().map(|f| f.date);
    let last_seen = files.last().map(|f| f.date);
    let known_first = min_opt(prior.and_then(|p| p.first_file_date), first_seen);
    let known_last = max_opt(prior.and_then(|p| p.last_file_date), last_seen);
    let mut rows = Vec::with_capacity(files.len());
    let row = |date: NaiveDate, seen: Seen| AvailabilityRow {
        date,
        symbol: task.symbol.clone(),
        seen,
        probe_timestamp: now,
    };
    if let (Some(lo), Some(hi)) = (known_first, known_last) {
        let by_day: HashMap<NaiveDate, &FileFact> = files.iter().map(|f| (f.date, f)).collect();
        // Days between the stored last file and this window were checked by earlier runs and
        // had no file; a file in this window turns them into verified absences.
        let bridge_from = prior
            .filter(|p| {
                p.checked_through
                    .is_some_and(|c| c + chrono::Duration::days(1) >= task.from)
            })
            .and_then(|p| p.last_file_date)
            .map(|d| d + chrono::Duration::days(1))
            .filter(|d| *d < task.from);
        let start = bridge_from.unwrap_or(task.from).max(lo);
        for date in start.iter_days().take_while(|d| *d <= task.to.min(hi)) {
            match by_day.get(&date) {
                Some(f) => rows.push(row(
                    date,
                    Seen::File {
                        size: f.size as i64,
                        last_modified: Some(f.last_modified),
                    },
                )),
                None if lo < date && date < hi => rows.push(row(date, Seen::Absent)),
                None => {}
            }
        }
    }
    let update = SymbolUpdate {
        symbol: task.symbol.clone(),
        class: market.classify(&task.symbol),
        first_file_date: first_seen,
        last_file_date: last_seen,
        checked: checked_window(task, published),
    };
    (rows, update)
}

/// The part of the task's window the bucket has published: through `published` at most.
pub(super) fn checked_window(task: &Task, published: Option<NaiveDate>) -> Option<DayRange> {
    match super::plan::clamp_checked(Some(task.from), Some(task.to), published) {
        (Some(from), Some(to)) => DayRange::new(from, to).ok(),
        _ => None,
    }
}

fn min_opt(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Contract;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn file(date: &str) -> FileFact {
        FileFact {
            symbol: "BTCUSDT".into(),
            date: d(date),
            size: 10,
            last_modified: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn task(from: &str, to: &str) -> Task {
        Task {
            symbol: "BTCUSDT".into(),
            from: d(from),
            to: d(to),
        }
    }

    fn prior(last_file: &str, checked_through: &str) -> SymbolRecord {
        SymbolRecord {
            symbol: "BTCUSDT".into(),
            contract: Contract::Perpetual,
            quote_asset: Some("USDT".into()),
            settled: false,
            delivery_date: None,
            first_file_date: Some(d("2024-01-01")),
            last_file_date: Some(d(last_file)),
            checked_from: Some(d("2024-01-01")),
            checked_through: Some(d(checked_through)),
        }
    }

    fn days(rows: &[AvailabilityRow]) -> Vec<(String, bool)> {
        rows.iter()
            .map(|r| (r.date.to_string(), matches!(r.seen, Seen::File { .. })))
            .collect()
    }

    fn observe(t: &Task, files: &[FileFact], p: Option<&SymbolRecord>) -> Vec<(String, bool)> {
        days(
            &observations(
                Market::Um,
                t,
                files,
                p,
                Some(d("2024-12-31")),
                chrono::DateTime::UNIX_EPOCH,
            )
            .0,
        )
    }

    #[test]
    fn absences_only_between_first_and_last_file() {
        let files = [file("2024-01-03"), file("2024-01-05")];
        assert_eq!(
            observe(&task("2024-01-01", "2024-01-08"), &files, None),
            [
                ("2024-01-03".into(), true),
                ("2024-01-04".into(), false),
                ("2024-01-05".into(), true)
            ]
        );
    }

    #[test]
    fn a_file_after_a_checked_silence_bridges_it_with_absences() {
        // Checked through 01-06 with the last file on 01-04; a file on 01-08 makes 01-05..07
        // verified absences, though this window starts on 01-07.
        let window_after = |last_file, checked_through| {
            let p = prior(last_file, checked_through);
            observe(
                &task("2024-01-07", "2024-01-08"),
                &[file("2024-01-08")],
                Some(&p),
            )
        };
        assert_eq!(
            window_after("2024-01-04", "2024-01-06"),
            [
                ("2024-01-05".into(), false),
                ("2024-01-06".into(), false),
                ("2024-01-07".into(), false),
                ("2024-01-08".into(), true)
            ]
        );
        // Not bridged over days never checked (a hole in the checked range).
        assert_eq!(
            window_after("2024-01-04", "2024-01-05"),
            [("2024-01-07".into(), false), ("2024-01-08".into(), true)]
        );
    }

    #[test]
    fn the_checked_window_and_the_files_seen_are_recorded() {
        let (_, update) = observations(
            Market::Um,
            &task("2024-01-01", "2024-01-08"),
            &[file("2024-01-03")],
            None,
            Some(d("2024-01-08")),
            chrono::DateTime::UNIX_EPOCH,
        );
        assert_eq!(
            (
                update.first_file_date,
                update.last_file_date,
                update.checked
            ),
            (
                Some(d("2024-01-03")),
                Some(d("2024-01-03")),
                DayRange::new(d("2024-01-01"), d("2024-01-08")).ok()
            )
        );
    }

    #[test]
    fn days_the_bucket_has_not_published_are_not_recorded_as_checked() {
        // Nothing anywhere after 01-05: the window counts as checked through 01-05 only.
        let window = task("2024-01-01", "2024-01-20");
        let (_, update) = observations(
            Market::Um,
            &window,
            &[file("2024-01-03")],
            None,
            Some(d("2024-01-05")),
            chrono::DateTime::UNIX_EPOCH,
        );
        assert_eq!(
            update.checked,
            DayRange::new(d("2024-01-01"), d("2024-01-05")).ok()
        );
        // A window wholly after the last published day checks nothing.
        let (rows, update) = observations(
            Market::Um,
            &task("2024-01-06", "2024-01-20"),
            &[],
            Some(&prior("2024-01-05", "2024-01-05")),
            Some(d("2024-01-05")),
            chrono::DateTime::UNIX_EPOCH,
        );
        assert_eq!((rows.len(), update.checked), (0, None));
    }
}
