//! The second dataset: what each symbol traded each day, from its 1d klines files. It runs after
//! the 1m listing of the same run, whose facts say where each symbol's life lies.
//!
//! The plan, per symbol (pure, tested below), aims at the fewest requests that still see
//! every file and every change:
//! - A complete month is read from its monthly file (2 requests: the zip and its CHECKSUM)
//!   rather than its ~30 daily files; the daily folder is listed only over days no monthly file
//!   covers, from the first such day (`start-after`), so a 6-year backfill lists it once, not
//!   over 2,000 days.
//! - `backfill` lists both folders over its window. `update` lists the daily folder from the
//!   earlier of the first day with a 1m file but no trading row (a file never read, or one that
//!   failed) and the start of the lookback (files are replaced), and the monthly folder only
//!   while a complete month of the symbol's life is unread: one that ended within
//!   `MONTHLY_PATIENCE` days (its file appears 1–5 days after), or one with days still missing.
//!   A symbol with no 1m file since the lookback began and nothing unread is not listed at all.
//!   Besides, in its turn (a seventh of the folders each run, as for the 1m listing:
//!   `plan::relists_whole`) a symbol's monthly folder and its daily folder over its whole life
//!   (where no monthly file covers it) are listed, so that a late or replaced file older than
//!   the lookback is read within a week.
//! - A listed file is fetched when it was never read or its size or Last-Modified changed; a
//!   daily file of a month read from its monthly file is not fetched.
//!
//! One bad file (a failed request, a CHECKSUM mismatch, a bad zip or row) is a failure naming
//! its key; nothing of it is stored, the symbol's other files are, and the next run plans it
//! again (its day has a 1m file but no trading row).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;

use super::driver::{Pending, Work};
use super::{Job, Options, RunState, Stage, Step, Stop, Summary};
use crate::facts::{DayRange, Market, Month, Span, runs};
use crate::store::{Database, ReadFile, StoreError, SymbolRecord, TradingFile, TradingState};
use crate::vision::{
    self, Dataset, Extent, FetchError, Interval, ListedFile, Partition, VisionClient,
};

/// Days after a month's end during which `update` lists the monthly folder for it: Vision
/// publishes a monthly file 1–5 days after the month (binance-public-data); past this, a month
/// whose days all have rows from daily files is not waited for any longer.
pub const MONTHLY_PATIENCE: i64 = 35;

/// What a run asks of the trading dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Backfill {
        start: NaiveDate,
        end: NaiveDate,
    },
    /// `run`: the run's number, which decides whose whole history is re-listed.
    Update {
        end: NaiveDate,
        lookback: u32,
        run: u64,
    },
}

/// One symbol's share of the plan.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TradingTask {
    /// Whose 1d klines: the run's market.
    pub market: Market,
    pub symbol: String,
    /// The days whose daily files are wanted, where no monthly file covers them; `None`: the
    /// daily folder is not listed.
    pub daily: Option<DayRange>,
    /// List the monthly folder, and fetch the listed months that end on or after this day.
    pub monthly_from: Option<NaiveDate>,
    /// The files read before, by span.
    pub read: HashMap<Span, ReadFile>,
}

/// The plan for one symbol, from its 1m facts (`record`, after this run's listing) and its
/// trading facts; `None` when nothing needs a request.
pub(super) fn plan_symbol(
    market: Market,
    scope: Scope,
    record: &SymbolRecord,
    state: Option<&TradingState>,
) -> Option<TradingTask> {
    let (first_file, last_file) = (record.first_file_date?, record.last_file_date?);
    let archive_start = market.archive_start();
    let read: HashMap<Span, ReadFile> = state
        .map(|s| s.read.iter().map(|f| (f.span, *f)).collect())
        .unwrap_or_default();
    let (daily, monthly_from) = match scope {
        Scope::Backfill { start, end } => {
            let from = start.max(first_file).max(archive_start);
            let window = DayRange::new(from, end).ok()?;
            (Some(window), Some(from))
        }
        Scope::Update { end, .. } if super::plan::relists_whole(&record.symbol, run_of(scope)) => {
            let window = DayRange::new(first_file.max(archive_start), end).ok()?;
            (Some(window), Some(archive_start))
        }
        Scope::Update { end, lookback, .. } => {
            let first_missing = state.map_or(Some(first_file), |s| s.first_missing);
            let lookback_start = end + Duration::days(1) - Duration::days(i64::from(lookback));
            let from = first_missing
                .map_or(lookback_start, |m| m.min(lookback_start))
                .max(first_file)
                .max(archive_start);
            let daily = DayRange::new(from, end).ok().filter(|_| from <= last_file);
            let pending = unread_months(first_file, last_file.min(end), end, &read).any(|m| {
                m.last_day() + Duration::days(MONTHLY_PATIENCE) >= end
                    || first_missing.is_some_and(|d| d <= m.last_day())
            });
            (daily, pending.then_some(archive_start))
        }
    };
    (daily.is_some() || monthly_from.is_some()).then(|| TradingTask {
        market,
        symbol: record.symbol.clone(),
        daily,
        monthly_from,
        read,
    })
}

fn run_of(scope: Scope) -> u64 {
    match scope {
        Scope::Update { run, .. } => run,
        Scope::Backfill { .. } => 0,
    }
}

/// The months of `[first, last]` over before `end` that have no monthly file read.
fn unread_months(
    first: NaiveDate,
    last: NaiveDate,
    end: NaiveDate,
    read: &HashMap<Span, ReadFile>,
) -> impl Iterator<Item = Month> + '_ {
    std::iter::successors(Some(Month::of(first)), |m| Some(m.next()))
        .take_while(move |m| m.first_day() <= last && m.last_day() < end)
        .filter(|m| !read.contains_key(&Span::Month(*m)))
}

/// The runs of days in `[from, to]` that no month of `covered` holds, in order.
pub(super) fn uncovered_runs(window: DayRange, covered: impl Fn(Month) -> bool) -> Vec<DayRange> {
    let months = std::iter::successors(Some(Month::of(window.first())), |m| Some(m.next()))
        .take_while(|m| m.first_day() <= window.last());
    let uncovered = months.filter(|m| !covered(*m)).filter_map(|m| {
        let days = DayRange::new(
            m.first_day().max(window.first()),
            m.last_day().min(window.last()),
        );
        days.ok().map(|days| ((), days))
    });
    runs(uncovered).into_iter().map(|run| run.days).collect()
}

/// A listed file that needs fetching: never read, or read in another version.
fn wanted(listed: &ListedFile, read: &HashMap<Span, ReadFile>) -> bool {
    read.get(&listed.span)
        .is_none_or(|r| r.size != listed.size || r.last_modified != listed.last_modified)
}

/// What one symbol gave: the files read whole, and the failures (a listing or a file).
pub(super) struct Gathered {
    files: Vec<TradingFile>,
    failures: Vec<FetchError>,
}

/// Runs the trading plan for every symbol of `records` through the driver.
pub(super) async fn collect_all(
    db: &mut Database,
    client: &VisionClient,
    scope: Scope,
    records: &[SymbolRecord],
    opts: &Options,
    state: &mut RunState,
) -> Result<(), Stop> {
    let states = tokio::task::block_in_place(|| db.trading_states())?;
    let market = db.market();
    let tasks: Vec<TradingTask> = records
        .iter()
        .filter_map(|r| plan_symbol(market, scope, r, states.get(&r.symbol)))
        .collect();
    let stage = Stage {
        run: Job::Run(state.summary.kind),
        step: Step::Klines1d,
    };
    let end = match scope {
        Scope::Backfill { end, .. } | Scope::Update { end, .. } => end,
    };
    let mut work = OneDay { end };
    super::driver::drive(
        db,
        client,
        opts,
        stage,
        &mut work,
        tasks,
        &mut state.summary,
        &mut state.failures,
    )
    .await
}

/// The 1d stage for the driver: a task lists and fetches one symbol's files; the files read
/// whole join the batch.
pub(super) struct OneDay {
    /// The run's last day: no file past it is read.
    pub end: NaiveDate,
}

impl Work for OneDay {
    type Task = TradingTask;
    type Output = Gathered;
    type Batch = TradingBatch;
    type Tally = Summary;

    fn symbol(task: &TradingTask) -> &str {
        &task.symbol
    }

    fn work(
        &self,
        client: VisionClient,
        permits: Arc<Semaphore>,
        task: TradingTask,
    ) -> BoxFuture<'static, Gathered> {
        let end = self.end;
        Box::pin(async move { gather(&client, &permits, &task, end).await })
    }

    fn join(
        &mut self,
        gathered: Gathered,
        batch: &mut TradingBatch,
        summary: &mut Summary,
    ) -> Vec<FetchError> {
        summary.trading_files += gathered.files.len() as u64;
        if !gathered.files.is_empty() {
            batch.symbols += 1;
        }
        batch.days += gathered.files.iter().map(|f| f.days.len()).sum::<usize>();
        batch.files.extend(gathered.files);
        gathered.failures
    }
}

/// 1d files read whole, waiting to be written.
#[derive(Default)]
pub(super) struct TradingBatch {
    files: Vec<TradingFile>,
    symbols: usize,
    /// Every file holds at least one day, so counting days bounds the files held too.
    days: usize,
}

impl Pending for TradingBatch {
    type Store = Database;

    fn symbols(&self) -> usize {
        self.symbols
    }

    fn rows(&self) -> usize {
        self.days
    }

    fn write(&mut self, db: &mut Database) -> Result<u64, StoreError> {
        if self.files.is_empty() {
            return Ok(0);
        }
        let written = tokio::task::block_in_place(|| db.write_trading(&self.files))?;
        *self = TradingBatch::default();
        Ok(written)
    }
}

/// Lists and fetches one symbol's files by its task.
async fn gather(
    client: &VisionClient,
    permits: &Semaphore,
    task: &TradingTask,
    end: NaiveDate,
) -> Gathered {
    let mut gathered = Gathered {
        files: Vec::new(),
        failures: Vec::new(),
    };
    let mut wanted_files: Vec<ListedFile> = Vec::new();
    let mut monthly: BTreeMap<Span, ListedFile> = BTreeMap::new();
    if let Some(from) = task.monthly_from {
        match vision::list_window(
            client,
            permits,
            Dataset::klines(task.market, Partition::Monthly, Interval::D1),
            &task.symbol,
            (task.market.archive_start(), end),
            Extent::Whole,
        )
        .await
        {
            Ok(listed) => monthly = listed.files,
            Err(e) => {
                // Without the monthly listing the daily one cannot know what it need not read.
                gathered.failures.push(e.into());
                return gathered;
            }
        }
        wanted_files.extend(
            monthly
                .values()
                .filter(|l| l.span.last_day() >= from && wanted(l, &task.read)),
        );
    }
    if let Some(window) = task.daily {
        let covered = |m: Month| {
            let span = Span::Month(m);
            monthly.contains_key(&span) || task.read.contains_key(&span)
        };
        for run in uncovered_runs(window, covered) {
            let listed = vision::list_window(
                client,
                permits,
                Dataset::klines(task.market, Partition::Daily, Interval::D1),
                &task.symbol,
                (run.first(), run.last()),
                Extent::Whole,
            )
            .await;
            match listed {
                Ok(listed) => {
                    wanted_files.extend(listed.files.values().filter(|l| wanted(l, &task.read)))
                }
                Err(e) => gathered.failures.push(e.into()),
            }
        }
    }
    let fetched = futures_util::future::join_all(wanted_files.iter().map(|listed| async move {
        let days =
            vision::fetch_1d_file(client, permits, task.market, &task.symbol, listed, end).await?;
        Ok::<_, FetchError>(TradingFile {
            symbol: task.symbol.clone(),
            span: listed.span,
            size: listed.size,
            last_modified: listed.last_modified,
            days,
        })
    }))
    .await;
    for result in fetched {
        match result {
            Ok(file) => gathered.files.push(file),
            Err(e) => gathered.failures.push(e),
        }
    }
    gathered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::ARCHIVE_START;

    fn range(first: &str, last: &str) -> DayRange {
        DayRange::new(d(first), d(last)).unwrap()
    }
    use crate::facts::Contract;
    use chrono::{DateTime, Utc};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn record(first: &str, last: &str) -> SymbolRecord {
        SymbolRecord {
            symbol: "BTCUSDT".into(),
            contract: Contract::Perpetual,
            quote_asset: Some("USDT".into()),
            settled: false,
            delivery_date: None,
            first_file_date: Some(d(first)),
            last_file_date: Some(d(last)),
            checked_from: Some(d(first)),
            checked_through: Some(d(last)),
        }
    }

    fn month(s: &str) -> Span {
        Span::Month(Month::of(d(&format!("{s}-01"))))
    }

    fn state(months: &[&str], days: &[&str], first_missing: Option<&str>) -> TradingState {
        let file = |span| ReadFile {
            span,
            size: 10,
            last_modified: DateTime::<Utc>::UNIX_EPOCH,
        };
        TradingState {
            read: months
                .iter()
                .map(|m| file(month(m)))
                .chain(days.iter().map(|x| file(Span::Day(d(x)))))
                .collect(),
            first_missing: first_missing.map(d),
        }
    }

    /// A run in which BTCUSDT's whole history is not due (`plan::relists_whole`).
    fn quiet_run() -> u64 {
        (0..super::super::plan::RELIST_RUNS)
            .find(|r| !super::super::plan::relists_whole("BTCUSDT", *r))
            .unwrap()
    }

    /// An update ending 2024-03-20 with a 20-day lookback, in a run without BTCUSDT's re-list.
    fn update() -> Scope {
        Scope::Update {
            end: d("2024-03-20"),
            lookback: 20,
            run: quiet_run(),
        }
    }

    #[test]
    fn a_symbol_never_read_gets_its_whole_life_and_the_monthly_folder() {
        let task = plan_symbol(
            Market::Um,
            update(),
            &record("2023-05-10", "2024-03-20"),
            None,
        )
        .unwrap();
        assert_eq!(task.daily, Some(range("2023-05-10", "2024-03-20")));
        assert_eq!(task.monthly_from, Some(ARCHIVE_START));
    }

    #[test]
    fn a_steady_update_lists_the_lookback_and_no_monthly_folder() {
        // Every month through February read, nothing missing: the daily folder from the
        // lookback's first day (2024-03-01), and the monthly folder is not listed.
        let months = ["2023-12", "2024-01", "2024-02"];
        let s = state(&months, &[], None);
        let task = plan_symbol(
            Market::Um,
            update(),
            &record("2023-12-01", "2024-03-20"),
            Some(&s),
        )
        .unwrap();
        assert_eq!(task.daily, Some(range("2024-03-01", "2024-03-20")));
        assert_eq!(task.monthly_from, None);
    }

    #[test]
    fn a_month_just_over_is_waited_for_and_then_not_after_the_patience() {
        // February unread on 03-20: listed (it ended 20 days ago, within 35).
        let s = state(&["2024-01"], &["2024-02-29"], None);
        let task = plan_symbol(
            Market::Um,
            update(),
            &record("2024-01-01", "2024-03-20"),
            Some(&s),
        )
        .unwrap();
        assert_eq!(task.monthly_from, Some(ARCHIVE_START));
        // On 04-10 February ended 41 days ago and none of its days is missing: not any more.
        let later = Scope::Update {
            end: d("2024-04-10"),
            lookback: 20,
            run: quiet_run(),
        };
        let s = state(&["2024-01", "2024-03"], &[], None);
        let task = plan_symbol(
            Market::Um,
            later,
            &record("2024-01-01", "2024-04-10"),
            Some(&s),
        )
        .unwrap();
        assert_eq!(task.monthly_from, None);
        // A missing day in an unread month keeps it listed, however old.
        let s = state(&["2024-01", "2024-03"], &[], Some("2024-02-10"));
        let task = plan_symbol(
            Market::Um,
            later,
            &record("2024-01-01", "2024-04-10"),
            Some(&s),
        )
        .unwrap();
        assert_eq!(task.monthly_from, Some(ARCHIVE_START));
        assert_eq!(task.daily, Some(range("2024-02-10", "2024-04-10")));
    }

    #[test]
    fn a_long_dead_symbol_with_everything_read_costs_nothing() {
        let s = state(&["2022-01", "2022-02"], &[], None);
        assert_eq!(
            plan_symbol(
                Market::Um,
                update(),
                &record("2022-01-01", "2022-02-10"),
                Some(&s)
            ),
            None
        );
        // A symbol without any 1m file has no life to read.
        let mut none = record("2022-01-01", "2022-02-10");
        none.first_file_date = None;
        assert_eq!(plan_symbol(Market::Um, update(), &none, None), None);
    }

    #[test]
    fn in_its_turn_a_symbol_lists_its_whole_life_and_the_monthly_folder() {
        // Everything read, nothing missing: normally no request at all (the test above); in
        // its turn the monthly folder and the daily folder over its whole life.
        let s = state(&["2022-01", "2022-02"], &[], None);
        let turn = (0..super::super::plan::RELIST_RUNS)
            .find(|r| super::super::plan::relists_whole("BTCUSDT", *r))
            .unwrap();
        let scope = Scope::Update {
            end: d("2024-03-20"),
            lookback: 20,
            run: turn,
        };
        let task = plan_symbol(
            Market::Um,
            scope,
            &record("2022-01-01", "2022-02-10"),
            Some(&s),
        )
        .unwrap();
        assert_eq!(task.daily, Some(range("2022-01-01", "2024-03-20")));
        assert_eq!(task.monthly_from, Some(ARCHIVE_START));
    }

    #[test]
    fn backfill_covers_its_window_from_the_first_file() {
        let scope = Scope::Backfill {
            start: d("2020-01-01"),
            end: d("2024-03-20"),
        };
        let s = state(&["2024-01"], &[], None);
        let task = plan_symbol(
            Market::Um,
            scope,
            &record("2023-05-10", "2024-03-20"),
            Some(&s),
        )
        .unwrap();
        assert_eq!(task.daily, Some(range("2023-05-10", "2024-03-20")));
        assert_eq!(task.monthly_from, Some(d("2023-05-10")));
        let before = Scope::Backfill {
            start: d("2020-01-01"),
            end: d("2023-05-09"),
        };
        assert_eq!(
            plan_symbol(
                Market::Um,
                before,
                &record("2023-05-10", "2024-03-20"),
                None
            ),
            None
        );
    }

    #[test]
    fn daily_listings_skip_covered_months_and_merge_the_rest() {
        let covered = |m: Month| m.to_string() == "2024-01" || m.to_string() == "2024-03";
        assert_eq!(
            uncovered_runs(range("2023-12-15", "2024-04-10"), covered),
            [
                range("2023-12-15", "2023-12-31"),
                range("2024-02-01", "2024-02-29"),
                range("2024-04-01", "2024-04-10"),
            ]
        );
        assert_eq!(
            uncovered_runs(range("2024-02-03", "2024-05-02"), |_| false),
            [range("2024-02-03", "2024-05-02")]
        );
        assert!(uncovered_runs(range("2024-01-03", "2024-01-20"), covered).is_empty());
    }

    #[test]
    fn only_new_or_changed_files_are_fetched() {
        let read: HashMap<Span, ReadFile> = [(
            month("2024-01"),
            ReadFile {
                span: month("2024-01"),
                size: 10,
                last_modified: DateTime::<Utc>::UNIX_EPOCH,
            },
        )]
        .into();
        let listed = |size, secs| ListedFile {
            span: month("2024-01"),
            size,
            last_modified: DateTime::from_timestamp(secs, 0).unwrap(),
        };
        assert!(!wanted(&listed(10, 0), &read));
        assert!(wanted(&listed(11, 0), &read));
        assert!(wanted(&listed(10, 60), &read));
        let new = ListedFile {
            span: month("2024-02"),
            ..listed(10, 0)
        };
        assert!(wanted(&new, &read));
    }
}
