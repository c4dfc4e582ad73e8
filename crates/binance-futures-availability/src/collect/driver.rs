//! The one run driver. Every stage of a run — the 1m listings, the 1d klines files, the HEAD
//! probes — hands it a plan (one task per symbol) and says, through `Work`, what a task does and
//! how its result joins a batch. The driver owns everything else, the same way for every stage:
//!
//! - In flight: `concurrency` requests at once (every request takes a permit of one
//!   semaphore), and at most twice that many tasks spawned, so a plan of 2,000 symbols holds
//!   ~128 tasks at a time, not 2,000.
//! - The breaker: at each failure, once the run has made `breaker_min_requests` requests, more
//!   failures than `max_error_rate` of them stop the run (failures and requests are the whole
//!   run's, so a stage inherits what the stages before it saw).
//! - Tasks that end without a result (a panic: a `JoinError`) are failures of their symbol,
//!   counted by the breaker and reported at the end like a failed request, never dropped.
//! - Cancellation: the caller's token or the breaker starts no new task and ends the requests
//!   in flight; what tasks still return is joined and written.
//! - Batches: written when they hold `batch_symbols` symbols or `batch_rows` rows, whichever
//!   comes first (`batch_rows` follows the writers' memory limit, issue 24), and at the end.
//! - Progress: one tick per task joined, under the stage's name.
//!
//! It must not know keys, pages, files or SQL: those are the stages'.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::progress::{Reporter, Stage};
use super::{Options, Stop, Summary, SymbolFailure, TaskFailure};
use crate::store::{Batch, Database, StoreError};
use crate::vision::{FetchError, VisionClient};

/// What a stage supplies besides its plan: the work of one task, and how its result joins.
pub(super) trait Work {
    /// One symbol's share of the plan.
    type Task: Send + 'static;
    /// What one task gives back to be joined.
    type Output: Send + 'static;
    /// Where joined results wait until they are written.
    type Batch: Pending;
    /// What joined results are counted into: a run's `Summary`, a crawl's tally.
    type Tally: Tally;

    /// The symbol a task is for: what its failures, a panic included, are reported under.
    fn symbol(task: &Self::Task) -> &str;

    /// One task's requests, on `client` (stopped with the run) and each under a `permits`
    /// permit.
    fn work(
        &self,
        client: VisionClient,
        permits: Arc<Semaphore>,
        task: Self::Task,
    ) -> BoxFuture<'static, Self::Output>;

    /// Joins one task's output to `batch`, counting what it saw in `tally`; returns its
    /// failures (the driver drops those that are only the run being stopped).
    fn join(
        &mut self,
        output: Self::Output,
        batch: &mut Self::Batch,
        tally: &mut Self::Tally,
    ) -> Vec<FetchError>;
}

/// Counts of a stage's work; the driver adds the rows each batch wrote.
pub(super) trait Tally {
    /// `rows` more rows written.
    fn written(&mut self, rows: u64);
}

impl Tally for Summary {
    fn written(&mut self, rows: u64) {
        self.rows_written += rows;
    }
}

/// Joined results not written yet: how much they hold, and how they are written.
pub(super) trait Pending: Default {
    /// The database the batch is written to.
    type Store;
    /// Symbols with something in the batch.
    fn symbols(&self) -> usize;
    /// Rows the batch will write.
    fn rows(&self) -> usize;
    /// Writes the batch in one transaction and empties it; the rows changed.
    fn write(&mut self, db: &mut Self::Store) -> Result<u64, StoreError>;
}

/// Availability rows and symbol facts (the 1m listings, the HEAD probes).
impl Pending for Batch {
    type Store = Database;

    fn symbols(&self) -> usize {
        self.symbols.len()
    }

    fn rows(&self) -> usize {
        self.rows.len()
    }

    fn write(&mut self, db: &mut Database) -> Result<u64, StoreError> {
        super::flush(db, self)
    }
}

/// Runs `plan` through `work` as the module says, writing batches to `db` and counting in
/// `tally`; the failures go to `failures` (the run's, so the breaker sees every stage's).
/// `Err(Stop::Breaker)` when the breaker stopped it.
#[allow(clippy::too_many_arguments)]
pub(super) async fn drive<W: Work>(
    db: &mut <W::Batch as Pending>::Store,
    client: &VisionClient,
    opts: &Options,
    stage: Stage,
    work: &mut W,
    plan: Vec<W::Task>,
    tally: &mut W::Tally,
    failures: &mut Vec<SymbolFailure>,
) -> Result<(), Stop> {
    let progress = Reporter::new(&opts.progress, stage, plan.len() as u64);
    let concurrency = opts.concurrency.max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    // Cancelled by the caller, or by the breaker below; either ends requests in flight.
    let stop = opts.cancel.child_token();
    let client = client.with_cancel(stop.clone());
    let mut set: JoinSet<W::Output> = JoinSet::new();
    // The symbol of each task spawned: a `JoinError` carries only the task's id.
    let mut symbols: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut plan = plan.into_iter();
    let mut batch = W::Batch::default();
    let mut tripped = false;
    loop {
        while set.len() < concurrency * 2 && !stop.is_cancelled() {
            let Some(task) = plan.next() else { break };
            let symbol = W::symbol(&task).to_string();
            let spawned = set.spawn(work.work(client.clone(), permits.clone(), task));
            symbols.insert(spawned.id(), symbol);
        }
        let Some(joined) = set.join_next_with_id().await else {
            break;
        };
        progress.tick();
        let (id, failed) = match joined {
            Ok((id, output)) => {
                let failed = work.join(output, &mut batch, tally);
                let failed = failed.into_iter().filter(|e| !e.is_cancelled());
                (id, failed.map(TaskFailure::Fetch).collect::<Vec<_>>())
            }
            Err(e) => (e.id(), vec![TaskFailure::Task(e)]),
        };
        let symbol = symbols.remove(&id).unwrap_or_default();
        let any = !failed.is_empty();
        for cause in failed {
            tracing::warn!(symbol = %symbol, "{cause}");
            failures.push(SymbolFailure {
                symbol: symbol.clone(),
                cause,
            });
        }
        if any && !stop.is_cancelled() && breaker_open(opts, failures.len(), &client) {
            stop.cancel();
            tripped = true;
        }
        if batch.symbols() >= opts.batch_symbols || batch.rows() >= opts.batch_rows {
            tally.written(batch.write(db)?);
        }
    }
    tally.written(batch.write(db)?);
    progress.finish();
    if tripped { Err(Stop::Breaker) } else { Ok(()) }
}

/// The breaker's rule: past `breaker_min_requests` requests, more than `max_error_rate` of
/// them failed (the run's failures, one per failed listing, file or task).
fn breaker_open(opts: &Options, failures: usize, client: &VisionClient) -> bool {
    let requests = client.stats().requests.load(Ordering::Relaxed);
    requests >= opts.breaker_min_requests && failures as f64 > opts.max_error_rate * requests as f64
}

#[cfg(test)]
mod tests {
    //! Every stage through the driver, against the simulated bucket and a real DuckDB file.

    use std::collections::HashMap;
    use std::sync::Mutex;

    use chrono::{NaiveDate, Utc};
    use vision_sim::{Corpus, CorpusSpec, Fault, FaultRule, SimOptions, SimServer, SymbolSpec};

    use super::*;
    use crate::collect::RunState;
    use crate::collect::crawl::{Crawl, FolderTask};
    use crate::collect::listing::{Listing, Reach};
    use crate::collect::plan::Task;
    use crate::collect::probe::Head;
    use crate::collect::trading::{OneDay, TradingTask};
    use crate::collect::{Job, Progress, Step};
    use crate::store::RunKind;
    use crate::vision::{ClientConfig, Endpoints};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const SYMBOLS: [&str; 12] = [
        "AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT", "EEEUSDT", "FFFUSDT", "GGGUSDT", "HHHUSDT",
        "IIIUSDT", "JJJUSDT", "KKKUSDT", "LLLUSDT",
    ];
    /// The symbol whose task panics in the panic tests.
    const BROKEN: &str = "EEEUSDT";
    const FROM: &str = "2024-01-01";
    const TO: &str = "2024-03-01";

    /// A bucket of `SYMBOLS`, each with 1m and 1d files every day of `FROM..=TO`, and an empty
    /// database beside it.
    struct Bench {
        sim: SimServer,
        client: VisionClient,
        db: Database,
        _dir: tempfile::TempDir,
    }

    fn bench() -> Bench {
        let spec = CorpusSpec {
            symbols: SYMBOLS
                .iter()
                .map(|name| SymbolSpec {
                    name: (*name).into(),
                    first: d(FROM),
                    last: d(TO),
                    gaps: vec![],
                    size: None,
                    other_intervals: vec![],
                    zero_trade_tail: 0,
                })
                .collect(),
            stray_keys: vec![],
            as_of: Some(d("2024-03-10")),
        };
        let sim = SimServer::start(Corpus::from_spec(&spec), SimOptions::default()).unwrap();
        let client = VisionClient::new(ClientConfig::new(Endpoints {
            s3_url: sim.s3_url(),
            data_url: sim.data_url(),
        }))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open_for_write(&dir.path().join("driver.duckdb")).unwrap();
        Bench {
            sim,
            client,
            db,
            _dir: dir,
        }
    }

    /// The three stages' plans over `SYMBOLS`, as each stage plans a symbol.
    fn listing_plan() -> Vec<Task> {
        SYMBOLS
            .iter()
            .map(|s| Task {
                symbol: (*s).into(),
                from: d(FROM),
                to: d(TO),
            })
            .collect()
    }

    fn probe_plan() -> Vec<String> {
        SYMBOLS.iter().map(|s| (*s).to_string()).collect()
    }

    fn trading_plan() -> Vec<TradingTask> {
        SYMBOLS
            .iter()
            .map(|s| TradingTask {
                market: crate::facts::Market::Um,
                symbol: (*s).into(),
                daily: crate::facts::DayRange::new(d(FROM), d(TO)).ok(),
                monthly_from: Some(d(FROM)),
                read: HashMap::new(),
            })
            .collect()
    }

    /// A real stage whose task for `broken` panics before doing anything (a bug, injected);
    /// every other task and every join is the stage's own.
    struct PanicsFor<W> {
        inner: W,
        broken: &'static str,
    }

    impl<W: Work> Work for PanicsFor<W> {
        type Task = W::Task;
        type Output = W::Output;
        type Batch = W::Batch;
        type Tally = W::Tally;

        fn symbol(task: &W::Task) -> &str {
            W::symbol(task)
        }

        fn work(
            &self,
            client: VisionClient,
            permits: Arc<Semaphore>,
            task: W::Task,
        ) -> BoxFuture<'static, W::Output> {
            let panics = W::symbol(&task) == self.broken;
            let broken = self.broken;
            let work = self.inner.work(client, permits, task);
            Box::pin(async move {
                if panics {
                    panic!("injected: the task for {broken} panics");
                }
                work.await
            })
        }

        fn join(
            &mut self,
            output: W::Output,
            batch: &mut W::Batch,
            tally: &mut W::Tally,
        ) -> Vec<FetchError> {
            self.inner.join(output, batch, tally)
        }
    }

    /// Drives `plan` through `work` with `opts`, recording every progress call.
    async fn run_stage<W>(
        bench: &mut Bench,
        mut opts: Options,
        step: Step,
        work: &mut W,
        plan: Vec<W::Task>,
    ) -> (Result<(), Stop>, RunState, Vec<(Stage, u64, u64)>)
    where
        W: Work<Tally = Summary>,
        W::Batch: Pending<Store = Database>,
    {
        let calls: Arc<Mutex<Vec<(Stage, u64, u64)>>> = Arc::default();
        let seen = calls.clone();
        opts.progress = Progress::Callback(Arc::new(move |stage, done, total| {
            seen.lock().unwrap().push((stage, done, total))
        }));
        let stage = Stage {
            run: Job::Run(RunKind::Backfill),
            step,
        };
        let mut state = RunState::new(RunKind::Backfill, crate::facts::Market::Um);
        let result = drive(
            &mut bench.db,
            &bench.client,
            &opts,
            stage,
            work,
            plan,
            &mut state.summary,
            &mut state.failures,
        )
        .await;
        let calls = calls.lock().unwrap().clone();
        (result, state, calls)
    }

    /// The run's failures, as (symbol, whether its task panicked).
    fn failures(state: &RunState) -> Vec<(String, bool)> {
        let mut failures: Vec<(String, bool)> = state
            .failures
            .iter()
            .map(|f| {
                let panicked = matches!(&f.cause, TaskFailure::Task(e) if e.is_panic());
                (f.symbol.clone(), panicked)
            })
            .collect();
        failures.sort();
        failures
    }

    /// What every stage must show when `BROKEN`'s task panicked: the run goes on, the symbol is
    /// a failure named and typed as a panic, the sentence names it, and progress counted it.
    fn assert_panic_reported(
        step: Step,
        result: Result<(), Stop>,
        state: &RunState,
        calls: &[(Stage, u64, u64)],
    ) {
        assert!(result.is_ok(), "{step:?}: the run stopped");
        assert_eq!(failures(state), [(BROKEN.to_string(), true)], "{step:?}");
        let sentence = format!("{}: {}", state.failures[0].symbol, state.failures[0].cause);
        assert!(
            sentence.starts_with(&format!("{BROKEN}: a collection task failed unexpectedly"))
                && sentence.contains("injected"),
            "{sentence}"
        );
        let total = SYMBOLS.len() as u64;
        assert_eq!(calls.len() as u64, total, "{step:?}: a tick per task");
        assert!(
            calls.iter().all(|(s, _, t)| s.step == step && *t == total),
            "{step:?}"
        );
        assert_eq!(calls.last().map(|c| c.1), Some(total), "{step:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_listing_task_is_a_failure_of_its_symbol() {
        let mut bench = bench();
        let priors = HashMap::new();
        let mut reach = Reach::default();
        let mut work = PanicsFor {
            inner: Listing {
                dataset: crate::vision::Dataset::UM_DAILY_1M,
                priors: &priors,
                reach: &mut reach,
            },
            broken: BROKEN,
        };
        let (result, state, calls) = run_stage(
            &mut bench,
            Options::default(),
            Step::Listing1m,
            &mut work,
            listing_plan(),
        )
        .await;
        assert_panic_reported(Step::Listing1m, result, &state, &calls);
        // Every other symbol's files are stored.
        assert_eq!(state.summary.symbols, SYMBOLS.len() as u64 - 1);
        let stored = bench.db.symbols().unwrap();
        assert_eq!(stored.len(), SYMBOLS.len() - 1);
        assert!(stored.iter().all(|r| r.symbol != BROKEN));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_head_task_is_a_failure_of_its_symbol() {
        let mut bench = bench();
        let priors = HashMap::new();
        let mut work = PanicsFor {
            inner: Head {
                dataset: crate::vision::Dataset::UM_DAILY_1M,
                date: d("2024-02-01"),
                priors: &priors,
                now: Utc::now(),
            },
            broken: BROKEN,
        };
        let (result, state, calls) = run_stage(
            &mut bench,
            Options::default(),
            Step::Head,
            &mut work,
            probe_plan(),
        )
        .await;
        assert_panic_reported(Step::Head, result, &state, &calls);
        assert_eq!(state.summary.files, SYMBOLS.len() as u64 - 1);
        assert_eq!(bench.db.symbols().unwrap().len(), SYMBOLS.len() - 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_1d_task_is_a_failure_of_its_symbol() {
        let mut bench = bench();
        let mut work = PanicsFor {
            inner: OneDay { end: d(TO) },
            broken: BROKEN,
        };
        let (result, state, calls) = run_stage(
            &mut bench,
            Options::default(),
            Step::Klines1d,
            &mut work,
            trading_plan(),
        )
        .await;
        assert_panic_reported(Step::Klines1d, result, &state, &calls);
        let read = bench.db.trading_states().unwrap();
        assert_eq!(read.len(), SYMBOLS.len() - 1);
        assert!(!read.contains_key(BROKEN));
    }

    /// Runs `step`'s stage over `SYMBOLS` against a bucket that refuses every request for
    /// good (403: no retry; one request a task in every stage), one request at a time, with
    /// the breaker open past 4 requests and `max_error_rate`. Whether the breaker stopped the
    /// stage, the failures, the requests made.
    async fn refused(step: Step, max_error_rate: f64) -> (bool, usize, u64) {
        let mut bench = bench();
        bench.sim.add_fault(FaultRule {
            pattern: String::new(),
            fault: Fault::Status(403),
            times: None,
        });
        let opts = Options {
            concurrency: 1,
            breaker_min_requests: 4,
            max_error_rate,
            ..Options::default()
        };
        let priors = HashMap::new();
        let mut reach = Reach::default();
        let (result, state, _) = match step {
            Step::Listing1m => {
                let mut work = Listing {
                    dataset: crate::vision::Dataset::UM_DAILY_1M,
                    priors: &priors,
                    reach: &mut reach,
                };
                run_stage(&mut bench, opts, step, &mut work, listing_plan()).await
            }
            Step::Head => {
                let mut work = Head {
                    dataset: crate::vision::Dataset::UM_DAILY_1M,
                    date: d("2024-02-01"),
                    priors: &priors,
                    now: Utc::now(),
                };
                run_stage(&mut bench, opts, step, &mut work, probe_plan()).await
            }
            Step::Klines1d => {
                let mut work = OneDay { end: d(TO) };
                run_stage(&mut bench, opts, step, &mut work, trading_plan()).await
            }
            Step::Folders => {
                // The crawl writes a catalog, not the availability database.
                let dir = tempfile::tempdir().unwrap();
                let mut catalog =
                    crate::store::Catalog::open_for_write(&dir.path().join("c.duckdb")).unwrap();
                let plan = SYMBOLS
                    .iter()
                    .map(|s| FolderTask::symbol("data/futures/um/daily/klines/", s))
                    .collect();
                let mut tally = crate::collect::CrawlSummary::default();
                let mut state = RunState::new(RunKind::Update, crate::facts::Market::Um);
                let stage = Stage {
                    run: Job::Catalog,
                    step,
                };
                let mut work = Crawl::default();
                let result = drive(
                    &mut catalog,
                    &bench.client,
                    &opts,
                    stage,
                    &mut work,
                    plan,
                    &mut tally,
                    &mut state.failures,
                )
                .await;
                (result, state, Vec::new())
            }
        };
        let tripped = match result {
            Ok(()) => false,
            Err(Stop::Breaker) => true,
            Err(Stop::Error(e)) => panic!("{step:?}: {e}"),
        };
        let requests = bench.client.stats().requests.load(Ordering::Relaxed);
        (tripped, state.failures.len(), requests)
    }

    const STEPS: [Step; 4] = [Step::Listing1m, Step::Head, Step::Klines1d, Step::Folders];

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_breaker_stops_every_stage_alike() {
        for step in STEPS {
            let (tripped, failed, requests) = refused(step, 0.05).await;
            // Open at the first failure joined once 4 requests were made: the 3rd or 4th (the
            // task waiting for the permit may have sent its request by then). The one in
            // flight then fails or is cancelled, and no task after it starts.
            assert!(tripped, "{step:?}: the breaker did not open");
            assert!(requests <= 5, "{step:?}: {requests} requests");
            assert!((3..=5).contains(&failed), "{step:?}: {failed} failures");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_the_limit_every_stage_reports_every_failure() {
        let all = SYMBOLS.len();
        for step in STEPS {
            assert_eq!(
                refused(step, 1.0).await,
                (false, all, all as u64),
                "{step:?}"
            );
        }
    }
}
