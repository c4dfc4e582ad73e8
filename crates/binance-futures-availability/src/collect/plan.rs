//! The plan: which symbol folders a run covers and over which days. Pure functions of what is
//! stored and what the bucket lists, so they are tested directly.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{CollectError, Stop};
use crate::facts::{DayRange, Market};
use crate::store::SymbolRecord;
use crate::vision::{self, Dataset, Interval, Partition, VisionClient};

/// The dataset whose listings say which days a market's symbols have files: daily 1m klines,
/// the original's (`um/daily/klines/1m`), in every market kept.
pub(super) const fn availability(market: Market) -> Dataset {
    Dataset::klines(market, Partition::Daily, Interval::M1)
}

/// One symbol's listing: the window to cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Task {
    pub symbol: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Every symbol folder of the market's availability dataset (its daily 1m klines), or `None`
/// when the run was stopped while listing them.
pub(super) async fn discover(
    client: &VisionClient,
    market: Market,
) -> Result<Option<Vec<String>>, Stop> {
    match client.discover_symbols(availability(market)).await {
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

/// How many runs of `update` it takes to re-list every folder's whole history once: a late or
/// replaced file older than the lookback is seen within this many runs (a week of daily runs).
pub const RELIST_RUNS: u64 = 7;

/// Whether run number `run` (its id in the run log) of `update` re-lists `symbol`'s whole
/// history: a seventh of the folders each run, chosen by a fixed hash of the name so that any
/// `RELIST_RUNS` consecutive run ids cover every folder (the scheduler runs only updates; a
/// backfill or probe in between takes an id, delaying some folders by a run). On the realistic
/// bucket a full re-list (1m and 1d) is ~2,300 requests, so a daily update makes ~330 more than
/// its ~1,830 (BENCHMARKS.md, session 10).
pub(super) fn relists_whole(symbol: &str, run: u64) -> bool {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = symbol.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (hash % RELIST_RUNS + run % RELIST_RUNS).is_multiple_of(RELIST_RUNS)
}

/// The priors as the plan must read them: a checked range that runs past the last day the
/// bucket has published (recorded by a run before this rule, during an outage) counts only up
/// to that day, so the days after it are listed again.
pub(super) fn honest(
    mut priors: HashMap<String, SymbolRecord>,
    published: Option<NaiveDate>,
) -> HashMap<String, SymbolRecord> {
    for p in priors.values_mut() {
        let (from, through) = clamp_checked(p.checked_from, p.checked_through, published);
        p.checked_from = from;
        p.checked_through = through;
    }
    priors
}

/// `[from, through]` cut at `published`; nothing when no published day is in it.
pub(super) fn clamp_checked(
    from: Option<NaiveDate>,
    through: Option<NaiveDate>,
    published: Option<NaiveDate>,
) -> (Option<NaiveDate>, Option<NaiveDate>) {
    match (from, through, published) {
        (Some(f), Some(t), Some(p)) if f <= p => (Some(f), Some(t.min(p))),
        (f, None, _) => (f, None),
        _ => (None, None),
    }
}

/// Windows for `update`: whole history for new folders, and for the folders whose turn it is
/// to be re-listed whole (`relists_whole`, by the run's number; `None`: no re-list); for the
/// other known ones, from the day after the last checked day or the start of the lookback,
/// whichever is earlier.
pub(super) fn update_plan(
    market: Market,
    folders: &[String],
    priors: &HashMap<String, SymbolRecord>,
    end: NaiveDate,
    lookback: u32,
    run: Option<u64>,
) -> Vec<Task> {
    // The first day of the lookback window; with no lookback, nothing before the unchecked days;
    // never before the market's first day, however long the lookback.
    let first_day = market.first_day();
    let lookback_start = (end + chrono::Duration::days(1)
        - chrono::Duration::days(i64::from(lookback)))
    .max(first_day);
    folders
        .iter()
        .filter_map(|symbol| {
            let from = match priors.get(symbol).and_then(|p| p.checked_through) {
                Some(_) if run.is_some_and(|r| relists_whole(symbol, r)) => first_day,
                Some(checked) => (checked + chrono::Duration::days(1)).min(lookback_start),
                None => first_day,
            };
            (from <= end).then(|| Task {
                symbol: symbol.clone(),
                from,
                to: end,
            })
        })
        .collect()
}

/// The days the tasks cover, first to last.
pub(super) fn span(tasks: &[Task]) -> Option<DayRange> {
    let from = tasks.iter().map(|t| t.from).min()?;
    DayRange::new(from, tasks.iter().map(|t| t.to).max()?).ok()
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
    use crate::facts::{Contract, TRADING_START};

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
        // A run in which none of the known folders is due for its whole re-list.
        let run = (0..RELIST_RUNS)
            .find(|r| {
                ["OLD", "BEHIND", "DONE"]
                    .iter()
                    .all(|s| !relists_whole(s, *r))
            })
            .unwrap();
        let plan = update_plan(Market::Um, &folders, &priors, d("2024-01-31"), 5, Some(run));
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
        assert!(
            update_plan(
                Market::Um,
                &["DONE".into()],
                &priors,
                d("2024-01-31"),
                0,
                Some(run)
            )
            .is_empty()
        );
        // A lookback longer than history starts at trading's first day, not before.
        let long = update_plan(
            Market::Um,
            &["DONE".into()],
            &priors,
            d("2024-01-31"),
            3650,
            Some(run),
        );
        assert_eq!(long[0].from, TRADING_START);
        // In its turn a known folder is listed whole, lookback or not.
        let turn = (0..RELIST_RUNS)
            .find(|r| relists_whole("DONE", *r))
            .unwrap();
        let whole = update_plan(
            Market::Um,
            &["DONE".into()],
            &priors,
            d("2024-01-31"),
            0,
            Some(turn),
        );
        assert_eq!(whole[0].from, TRADING_START);
    }

    #[test]
    fn any_seven_consecutive_runs_relist_every_folder_once() {
        let names: Vec<String> = (0..1000).map(|i| format!("S{i}USDT")).collect();
        for start in [0, 5, 1_000_003] {
            for name in &names {
                let turns = (start..start + RELIST_RUNS)
                    .filter(|r| relists_whole(name, *r))
                    .count();
                assert_eq!(turns, 1, "{name} from run {start}");
            }
        }
        // About a seventh of the folders each run.
        let one_run = names.iter().filter(|n| relists_whole(n, 3)).count();
        assert!((100..190).contains(&one_run), "{one_run}");
    }

    #[test]
    fn a_checked_range_counts_only_through_the_last_published_day() {
        let p = |s: &str| Some(d(s));
        assert_eq!(
            clamp_checked(p("2024-01-01"), p("2024-02-10"), p("2024-01-20")),
            (p("2024-01-01"), p("2024-01-20"))
        );
        assert_eq!(
            clamp_checked(p("2024-01-01"), p("2024-01-10"), p("2024-01-20")),
            (p("2024-01-01"), p("2024-01-10"))
        );
        // Nothing published in the range, or nothing published at all: nothing checked.
        assert_eq!(
            clamp_checked(p("2024-01-21"), p("2024-02-10"), p("2024-01-20")),
            (None, None)
        );
        assert_eq!(
            clamp_checked(p("2024-01-01"), p("2024-02-10"), None),
            (None, None)
        );
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
