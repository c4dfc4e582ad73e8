//! The 1m stage: what listing one symbol's window is, and how its files join a batch; the
//! driver (`driver`) runs the plan with bounded concurrency and the breaker.
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

use chrono::{NaiveDate, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;

use super::Summary;
use super::driver::Work;
use super::observe::observations;
use super::plan::Task;
use crate::facts::FileFact;
use crate::store::{Batch, SymbolRecord};
use crate::vision::{self, Dataset, Extent, FetchError, VisionClient, VisionError};

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

/// The 1m stage for the driver: a task lists one symbol's window; its files join the batch
/// as rows and the symbol's facts.
pub(super) struct Listing<'a> {
    /// What is listed: the market's daily 1m klines (`plan::availability`).
    pub dataset: Dataset,
    pub priors: &'a HashMap<String, SymbolRecord>,
    pub reach: &'a mut Reach,
}

impl Work for Listing<'_> {
    type Task = Task;
    type Output = (Task, Result<Vec<FileFact>, VisionError>);
    type Batch = Batch;
    type Tally = Summary;

    fn symbol(task: &Task) -> &str {
        &task.symbol
    }

    fn work(
        &self,
        client: VisionClient,
        permits: Arc<Semaphore>,
        task: Task,
    ) -> BoxFuture<'static, Self::Output> {
        let dataset = self.dataset;
        Box::pin(async move {
            let result = list_symbol(&client, &permits, dataset, &task).await;
            (task, result)
        })
    }

    fn join(
        &mut self,
        (task, result): Self::Output,
        batch: &mut Batch,
        summary: &mut Summary,
    ) -> Vec<FetchError> {
        let files = match result {
            Ok(files) => files,
            Err(e) => return vec![e.into()],
        };
        summary.symbols += 1;
        summary.files += files.len() as u64;
        // `files` is in date order (a map by day).
        self.reach.published = self.reach.published.max(files.last().map(|f| f.date));
        let (rows, update) = observations(
            self.dataset.market(),
            &task,
            &files,
            self.priors.get(&task.symbol),
            self.reach.published,
            Utc::now(),
        );
        batch.rows.extend(rows);
        batch.symbols.push(update);
        self.reach.done.push(task);
        Vec::new()
    }
}

/// Lists one symbol's window: the first page from the window's start, then the rest in
/// parallel chunks of a page each if the first page did not reach the end.
async fn list_symbol(
    client: &VisionClient,
    permits: &Semaphore,
    dataset: Dataset,
    task: &Task,
) -> Result<Vec<FileFact>, VisionError> {
    let from = task.from.max(dataset.market().archive_start());
    if from > task.to {
        return Ok(Vec::new());
    }
    let first = vision::list_window(
        client,
        permits,
        dataset,
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
                dataset,
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
