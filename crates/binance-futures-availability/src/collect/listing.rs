//! Runs the listing plan: every window with bounded concurrency, a circuit breaker over the
//! failure rate, and batches handed to `store` as symbols complete.
//!
//! A symbol's window is listed from its first day; when that first page is truncated, the rest
//! of the window is split into 500-day chunks (one page each) listed in parallel, so a symbol
//! costs the minimum ⌈keys/1000⌉ pages without waiting for them one after another.
//!
//! Each symbol's checked window is cut at the last day the bucket is known to have published
//! so far (stored, or seen by this run before the symbol finished): a kill leaves only true
//! claims. Once every folder is listed, `run` raises the windows to what the whole run saw.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{NaiveDate, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::observe::observations;
use super::plan::Task;
use super::progress::Reporter;
use super::{CollectError, Options, RunState, Stop, flush};
use crate::facts::{ARCHIVE_START, FileFact};
use crate::store::{Batch, Database, SymbolRecord};
use crate::vision::{self, Dataset, Extent, VisionClient, VisionError};

enum Failure {
    Vision(VisionError),
    Cancelled,
}

impl From<VisionError> for Failure {
    fn from(e: VisionError) -> Self {
        if e.is_cancelled() {
            Failure::Cancelled
        } else {
            Failure::Vision(e)
        }
    }
}

/// What the listing learnt beyond rows: how far the bucket has published, and which tasks
/// completed.
#[derive(Debug, Default)]
pub(super) struct Reach {
    /// Starts as the last day the bucket was known to have published; ends as the last day
    /// any folder has a file for, those listed by this run included.
    pub published: Option<NaiveDate>,
    /// The tasks whose listing completed.
    pub done: Vec<Task>,
}

/// Lists every task, storing rows and symbols in batches as symbols complete.
pub(super) async fn list_all(
    db: &mut Database,
    client: &VisionClient,
    tasks: Vec<Task>,
    priors: &HashMap<String, SymbolRecord>,
    opts: &Options,
    state: &mut RunState,
    reach: &mut Reach,
) -> Result<(), Stop> {
    let progress = Reporter::new(
        &opts.progress,
        state.summary.kind,
        "1m listings",
        tasks.len() as u64,
    );
    let sem = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    // Cancelled by the caller, or by the circuit breaker below; either ends requests in flight.
    let stop = opts.cancel.child_token();
    let client = &client.with_cancel(stop.clone());
    let mut set: JoinSet<(Task, Result<Vec<FileFact>, Failure>)> = JoinSet::new();
    let mut pending = tasks.into_iter();
    let mut batch = Batch::default();
    let max_in_flight = opts.concurrency.max(1) * 2;
    let mut tripped = false;
    loop {
        while set.len() < max_in_flight && !stop.is_cancelled() {
            let Some(task) = pending.next() else { break };
            let (client, sem) = (client.clone(), sem.clone());
            set.spawn(async move {
                let result = list_symbol(&client, &sem, &task).await;
                (task, result)
            });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (task, result) = match joined {
            Ok(done) => done,
            Err(e) => {
                // Keep what the other symbols gave before reporting the broken task.
                state.summary.rows_written += flush(db, &mut batch)?;
                return Err(Stop::Error(CollectError::Task(e.to_string())));
            }
        };
        progress.tick();
        match result {
            Ok(files) => {
                state.summary.symbols += 1;
                state.summary.files += files.len() as u64;
                // `files` is in date order (a map by day).
                reach.published = reach.published.max(files.last().map(|f| f.date));
                let (rows, update) = observations(
                    &task,
                    &files,
                    priors.get(&task.symbol),
                    reach.published,
                    Utc::now(),
                );
                batch.rows.extend(rows);
                batch.symbols.push(update);
                reach.done.push(task);
                if batch.symbols.len() >= opts.batch_symbols || batch.rows.len() >= opts.batch_rows
                {
                    state.summary.rows_written += flush(db, &mut batch)?;
                }
            }
            Err(Failure::Cancelled) => {}
            Err(Failure::Vision(e)) => {
                tracing::warn!(symbol = %task.symbol, "{e}");
                state.failures.push((task.symbol.clone(), e.into()));
                let requests = client.stats().requests.load(Ordering::Relaxed);
                if requests >= opts.breaker_min_requests
                    && state.failures.len() as f64 > opts.max_error_rate * requests as f64
                {
                    stop.cancel();
                    tripped = true;
                }
            }
        }
    }
    state.summary.rows_written += flush(db, &mut batch)?;
    progress.finish();
    if tripped { Err(Stop::Breaker) } else { Ok(()) }
}

/// Lists one symbol's window: the first page from the window's start, then the rest in
/// parallel chunks of a page each if the first page did not reach the end.
async fn list_symbol(
    client: &VisionClient,
    permits: &Semaphore,
    task: &Task,
) -> Result<Vec<FileFact>, Failure> {
    let from = task.from.max(ARCHIVE_START);
    if from > task.to {
        return Ok(Vec::new());
    }
    let first = vision::list_window(
        client,
        permits,
        Dataset::UM_DAILY_1M,
        &task.symbol,
        (from, task.to),
        Extent::FirstPage,
    )
    .await?;
    let mut files = first.files;
    if let Some(reached) = first.reached.filter(|r| *r < task.to) {
        let chunks = super::plan::chunks(reached + chrono::Duration::days(1), task.to);
        let parts = futures_util::future::try_join_all(chunks.into_iter().map(|window| {
            vision::list_window(
                client,
                permits,
                Dataset::UM_DAILY_1M,
                &task.symbol,
                window,
                Extent::Whole,
            )
        }))
        .await?;
        for part in parts {
            files.extend(part.files);
        }
    }
    Ok(files.values().map(|f| f.fact(&task.symbol)).collect())
}
