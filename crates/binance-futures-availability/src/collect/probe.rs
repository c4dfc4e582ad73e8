//! The HEAD stage: one day's file per symbol, as the original tool's daily job did. The plan
//! is the symbols; the driver (`driver`) runs it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;

use super::driver::Work;
use super::{Job, Options, RunState, Stage, Step, Stop, Summary};
use crate::store::{AvailabilityRow, Batch, Database, RunKind, Seen, SymbolRecord, SymbolUpdate};
use crate::vision::{self, FetchError, ObjectMeta, VisionClient, VisionError};

/// HEAD-probes one day for the given (or every known) symbol and upserts what it finds.
pub(super) async fn probe(
    db: &mut Database,
    client: &VisionClient,
    date: NaiveDate,
    wanted: Option<&[String]>,
    priors: &HashMap<String, SymbolRecord>,
    opts: &Options,
    state: &mut RunState,
) -> Result<(), Stop> {
    let symbols: Vec<String> = match wanted {
        Some(w) => {
            // A known symbol by its stored spelling, so `btcusdt` probes BTCUSDT's file; an
            // unknown one as given (a probe may look for a folder not listed yet).
            let known: Vec<String> = priors.keys().cloned().collect();
            let (mut chosen, unknown) = super::plan::resolve(&known, w)?;
            chosen.extend(unknown);
            chosen
        }
        None if priors.is_empty() => match super::plan::discover(client, db.market()).await? {
            Some(folders) => folders,
            None => return Ok(()),
        },
        None => {
            let mut s: Vec<String> = priors.keys().cloned().collect();
            s.sort();
            s
        }
    };
    let stage = Stage {
        run: Job::Run(RunKind::Probe),
        step: Step::Head,
    };
    let mut head = Head {
        dataset: super::plan::availability(db.market()),
        date,
        priors,
        now: Utc::now(),
    };
    super::driver::drive(
        db,
        client,
        opts,
        stage,
        &mut head,
        symbols,
        &mut state.summary,
        &mut state.failures,
    )
    .await
}

/// The HEAD stage for the driver: a task asks for one symbol's file of `date`; a file joins
/// the batch as a row and the symbol's facts, a 404 inside the symbol's known life as a
/// verified absence.
pub(super) struct Head<'a> {
    /// The market's daily 1m klines.
    pub dataset: vision::Dataset,
    pub date: NaiveDate,
    pub priors: &'a HashMap<String, SymbolRecord>,
    /// The probe time every row records.
    pub now: DateTime<Utc>,
}

impl Work for Head<'_> {
    type Task = String;
    type Output = (String, Result<Option<ObjectMeta>, VisionError>);
    type Batch = Batch;
    type Tally = Summary;

    fn symbol(task: &String) -> &str {
        task
    }

    fn work(
        &self,
        client: VisionClient,
        permits: Arc<Semaphore>,
        symbol: String,
    ) -> BoxFuture<'static, Self::Output> {
        let key = self.dataset.key(&symbol, self.date);
        Box::pin(async move {
            let _permit = permits.acquire_owned().await;
            let result = client.head(&key).await;
            (symbol, result)
        })
    }

    fn join(
        &mut self,
        (symbol, result): Self::Output,
        batch: &mut Batch,
        summary: &mut Summary,
    ) -> Vec<FetchError> {
        summary.symbols += 1;
        let (date, now) = (self.date, self.now);
        let row = |symbol: &str, seen| AvailabilityRow {
            date,
            symbol: symbol.to_string(),
            seen,
            probe_timestamp: now,
        };
        match result {
            Ok(Some(meta)) => {
                summary.files += 1;
                batch.rows.push(row(
                    &symbol,
                    Seen::File {
                        size: meta.size as i64,
                        last_modified: meta.last_modified,
                    },
                ));
                batch.symbols.push(SymbolUpdate {
                    class: self.dataset.market().classify(&symbol),
                    symbol,
                    first_file_date: Some(date),
                    last_file_date: Some(date),
                    checked: None,
                });
            }
            Ok(None) => {
                // Only a day inside the symbol's known life is a verified absence; outside it
                // a 404 is the expected state and is not stored as filler.
                let inside = self.priors.get(&symbol).is_some_and(|p| {
                    p.first_file_date.is_some_and(|f| f < date)
                        && p.last_file_date.is_some_and(|l| date < l)
                });
                if inside {
                    batch.rows.push(row(&symbol, Seen::Absent));
                }
            }
            Err(e) => return vec![e.into()],
        }
        Vec::new()
    }
}
