//! The plan: which symbol folders a run covers and over which days. Pure functions of what is
//! stored and what the bucket lists, so they are tested directly.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{CollectError, Stop};
use crate::facts::TRADING_START;
use crate::store::SymbolRecord;
use crate::vision::{self, VisionClient};

/// One symbol's listing: the window to cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Task {
    pub symbol: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Every symbol folder, or `None` when the run was stopped while listing them.
pub(super) async fn discover(client: &VisionClient) -> Result<Option<Vec<String>>, Stop> {
    match client.discover_symbols().await {
        Ok(folders) => Ok(Some(folders)),
        Err(e) if e.is_cancelled() => Ok(None),
        Err(e) => Err(CollectError::Discover(e).into()),
    }
}

/// Refuses a window that ends after the bucket's own today (from its `Date` header): a clock
/// that jumped ahead would otherwise record future days as checked, for good.
pub(super) fn check_clock(client: &VisionClient, end: NaiveDate) -> Result<(), CollectError> {
    match client.server_date() {
        Some(server_today) if end > server_today => {
            Err(CollectError::ClockAhead { end, server_today })
        }
        _ => Ok(()),
    }
}

/// The requested symbols, by their bucket spelling (case-insensitive match allowed), each once
/// however often it was named (`BTCUSDT,btcusdt` is one symbol).
pub(super) fn choose(
    folders: &[String],
    wanted: Option<&[String]>,
) -> Result<Vec<String>, CollectError> {
    let Some(wanted) = wanted else {
        return Ok(folders.to_vec());
    };
    match resolve(folders, wanted)? {
        (chosen, unknown) if unknown.is_empty() => Ok(chosen),
        (_, unknown) => Err(CollectError::UnknownSymbols(unknown)),
    }
}

/// The `wanted` names (checked against the folder grammar) by their spelling among `known`
/// (exact, else case-insensitive), each once; and the names nothing in `known` matches.
pub(super) fn resolve(
    known: &[String],
    wanted: &[String],
) -> Result<(Vec<String>, Vec<String>), CollectError> {
    let mut chosen: Vec<String> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for w in wanted {
        vision::check_symbol(w)?;
        match known
            .iter()
            .find(|k| *k == w)
            .or_else(|| known.iter().find(|k| k.to_lowercase() == w.to_lowercase()))
        {
            Some(k) if chosen.contains(k) => {}
            Some(k) => chosen.push(k.clone()),
            None if unknown.contains(w) => {}
            None => unknown.push(w.clone()),
        }
    }
    Ok((chosen, unknown))
}

/// Windows for `update`: whole history for new folders; for known ones, from the day after the
/// last checked day or the start of the lookback, whichever is earlier.
pub(super) fn update_plan(
    folders: &[String],
    priors: &HashMap<String, SymbolRecord>,
    end: NaiveDate,
    lookback: u32,
) -> Vec<Task> {
    // The first day of the lookback window; with no lookback, nothing before the unchecked days;
    // never before trading began, however long the lookback.
    let lookback_start = (end + chrono::Duration::days(1)
        - chrono::Duration::days(i64::from(lookback)))
    .max(TRADING_START);
    folders
        .iter()
        .filter_map(|symbol| {
            let from = match priors.get(symbol).and_then(|p| p.checked_through) {
                Some(checked) => (checked + chrono::Duration::days(1)).min(lookback_start),
                None => TRADING_START,
            };
            (from <= end).then(|| Task {
                symbol: symbol.clone(),
                from,
                to: end,
            })
        })
        .collect()
}

/// `[from, to]` cut into windows of one listing page each, for listing in parallel.
pub(super) fn chunks(from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut windows = Vec::new();
    let mut start = from;
    while start <= to {
        let end = (start + chrono::Duration::days(vision::DAYS_PER_PAGE - 1)).min(to);
        windows.push((start, end));
        start = end + chrono::Duration::days(1);
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Contract;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn known(symbol: &str, checked_through: &str) -> (String, SymbolRecord) {
        let record = SymbolRecord {
            symbol: symbol.into(),
            contract: Contract::Perpetual,
            quote_asset: None,
            settled: false,
            delivery_date: None,
            first_file_date: None,
            last_file_date: None,
            checked_from: None,
            checked_through: Some(d(checked_through)),
        };
        (symbol.to_string(), record)
    }

    #[test]
    fn update_windows_new_folders_whole_known_ones_from_the_earlier_of_unchecked_and_lookback() {
        let priors: HashMap<String, SymbolRecord> = [
            known("OLD", "2024-01-20"),
            known("BEHIND", "2024-01-01"),
            known("DONE", "2024-01-31"),
        ]
        .into();
        let folders: Vec<String> = ["NEW", "OLD", "BEHIND", "DONE"].map(String::from).into();
        let plan = update_plan(&folders, &priors, d("2024-01-31"), 5);
        let windows: Vec<(&str, NaiveDate)> =
            plan.iter().map(|t| (t.symbol.as_str(), t.from)).collect();
        assert_eq!(
            windows,
            [
                ("NEW", TRADING_START),
                ("OLD", d("2024-01-21")),
                ("BEHIND", d("2024-01-02")),
                ("DONE", d("2024-01-27")),
            ]
        );
        assert!(plan.iter().all(|t| t.to == d("2024-01-31")));
        // No lookback and nothing unchecked: nothing to do.
        assert!(update_plan(&["DONE".into()], &priors, d("2024-01-31"), 0).is_empty());
        // A lookback longer than history starts at trading's first day, not before.
        let long = update_plan(&["DONE".into()], &priors, d("2024-01-31"), 3650);
        assert_eq!(long[0].from, TRADING_START);
    }

    #[test]
    fn chunks_are_a_page_each_and_cover_the_window_exactly() {
        let c = chunks(d("2020-01-01"), d("2021-06-01"));
        assert_eq!(c.first().unwrap().0, d("2020-01-01"));
        assert_eq!(c.last().unwrap().1, d("2021-06-01"));
        for pair in c.windows(2) {
            assert_eq!(pair[0].1 + chrono::Duration::days(1), pair[1].0);
        }
        assert!(
            c.iter()
                .all(|(a, b)| (*b - *a).num_days() < vision::DAYS_PER_PAGE)
        );
        assert!(chunks(d("2020-01-02"), d("2020-01-01")).is_empty());
    }

    #[test]
    fn chosen_symbols_are_matched_case_insensitively_once_each() {
        let folders: Vec<String> = ["BTCUSDT", "ETHUSDT"].map(String::from).into();
        let wanted: Vec<String> = ["btcusdt", "BTCUSDT", "ETHUSDT"].map(String::from).into();
        assert_eq!(
            choose(&folders, Some(&wanted)).unwrap(),
            ["BTCUSDT", "ETHUSDT"]
        );
        let unknown: Vec<String> = vec!["NOPEUSDT".into()];
        assert!(matches!(
            choose(&folders, Some(&unknown)),
            Err(CollectError::UnknownSymbols(u)) if u == ["NOPEUSDT"]
        ));
    }
}
