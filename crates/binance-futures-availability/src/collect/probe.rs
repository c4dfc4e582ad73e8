//! The HEAD path: one day's file per symbol, as the original tool's daily job did.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::progress::Reporter;
use super::{Options, RunState, Stop, flush};
use crate::store::{AvailabilityRow, Batch, Database, RunKind, Seen, SymbolRecord, SymbolUpdate};
use crate::vision::{self, VisionClient};

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
        None if priors.is_empty() => match super::plan::discover(client).await? {
            Some(folders) => folders,
            None => return Ok(()),
        },
        None => {
            let mut s: Vec<String> = priors.keys().cloned().collect();
            s.sort();
            s
        }
    };
    let progress = Reporter::new(&opts.progress, RunKind::Probe, "HEAD", symbols.len() as u64);
    let sem = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut set = JoinSet::new();
    let client = &client.with_cancel(opts.cancel.clone());
    for symbol in symbols {
        let (client, sem) = (client.clone(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let result = client
                .head(&vision::Dataset::UM_DAILY_1M.key(&symbol, date))
                .await;
            (symbol, result)
        });
    }
    let now = Utc::now();
    let mut batch = Batch::default();
    while let Some(joined) = set.join_next().await {
        let Ok((symbol, result)) = joined else {
            continue;
        };
        progress.tick();
        let row = |symbol: &str, seen| AvailabilityRow {
            date,
            symbol: symbol.to_string(),
            seen,
            probe_timestamp: now,
        };
        match result {
            Ok(Some(meta)) => {
                state.summary.files += 1;
                batch.rows.push(row(
                    &symbol,
                    Seen::File {
                        size: meta.size as i64,
                        last_modified: meta.last_modified,
                    },
                ));
                batch.symbols.push(SymbolUpdate {
                    class: vision::Market::Um.classify(&symbol),
                    symbol,
                    first_file_date: Some(date),
                    last_file_date: Some(date),
                    checked: None,
                });
            }
            Ok(None) => {
                // Only a day inside the symbol's known life is a verified absence; outside it
                // a 404 is the expected state and is not stored as filler.
                let inside = priors.get(&symbol).is_some_and(|p| {
                    p.first_file_date.is_some_and(|f| f < date)
                        && p.last_file_date.is_some_and(|l| date < l)
                });
                if inside {
                    batch.rows.push(row(&symbol, Seen::Absent));
                }
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => state.failures.push((symbol, e.into())),
        }
        state.summary.symbols += 1;
    }
    state.summary.rows_written += flush(db, &mut batch)?;
    progress.finish();
    Ok(())
}
