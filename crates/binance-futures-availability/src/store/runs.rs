//! The run log, `collection_runs`: what kind of run, how it ended, its counts. Kinds and states
//! are enums here and strings only in the table; this is the one place that maps them.

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::{OptionalExt, params};

use super::{Database, StoreError, date_value, named, timestamp_value};
use crate::facts::{DayRange, Market};

/// The id of a `collection_runs` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunId(pub i64);

/// Which command a run was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// `update`.
    Update,
    /// `backfill`.
    Backfill,
    /// `probe`.
    Probe,
}

/// Where a run is, as the log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started, not finished (or killed before it could say).
    Running,
    /// Finished and published.
    Ok,
    /// Stopped by a failure.
    Failed,
    /// Stopped on request (a signal), or killed, before it finished or published.
    Interrupted,
}

// The stored names.
named!(RunKind {
    Update = "update",
    Backfill = "backfill",
    Probe = "probe",
});
named!(RunStatus {
    Running = "running",
    Ok = "ok",
    Failed = "failed",
    Interrupted = "interrupted",
});

/// How a finished run ended; a failure or an interruption always says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Finished.
    Ok,
    /// Stopped by a failure.
    Failed {
        /// The sentence saying why.
        error: String,
    },
    /// Stopped on request.
    Interrupted {
        /// The sentence saying why.
        error: String,
    },
}

/// A finished run's end and counts, for the run log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// How it ended.
    pub end: RunEnd,
    /// The days the run covered, once its plan knew them (an `update` starts at the earliest
    /// day any folder needed: all history on a first run); replaces the range `begin_run` had.
    pub covered: Option<DayRange>,
    /// Symbol folders it covered.
    pub symbols: u64,
    /// HTTP requests it made.
    pub requests: u64,
    /// Rows it wrote.
    pub rows_written: u64,
}

/// One row of the run log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunRecord {
    /// The row's id, in order of start.
    pub id: i64,
    /// Which command it was.
    pub kind: RunKind,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished; `None` while running (or killed).
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it is.
    pub status: RunStatus,
    /// The days the run covered (for `update`, the day it brought the database to).
    pub start_date: Option<NaiveDate>,
    /// The last day it covered.
    pub end_date: Option<NaiveDate>,
    /// Symbol folders it covered, once finished.
    pub symbols: Option<i64>,
    /// HTTP requests it made, once finished.
    pub requests: Option<i64>,
    /// Rows it wrote, once finished.
    pub rows_written: Option<i64>,
    /// Why it failed or was interrupted.
    pub error: Option<String>,
}

impl Database {
    /// Appends a `running` row to the run log. Runs left `running` by a killed process are
    /// marked `interrupted` first, so the log never shows two live runs.
    pub fn begin_run(
        &mut self,
        kind: RunKind,
        range: Option<DayRange>,
    ) -> Result<RunId, StoreError> {
        self.conn
            .execute(
                "UPDATE collection_runs SET status = ? WHERE status = ?",
                params![RunStatus::Interrupted.as_str(), RunStatus::Running.as_str()],
            )
            .map_err(self.err("closing interrupted runs"))?;
        let id = self
            .conn
            .query_row(
                "INSERT INTO collection_runs (kind, started_at, status, start_date, end_date, market)
                 VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                params![
                    kind.as_str(),
                    timestamp_value(Utc::now()),
                    RunStatus::Running.as_str(),
                    range.map(|r| date_value(r.first())),
                    range.map(|r| date_value(r.last())),
                    self.market.name()
                ],
                |r| r.get(0),
            )
            .map_err(self.err("starting a run log entry"))?;
        Ok(RunId(id))
    }

    /// Completes a run log row with its counts and outcome.
    pub fn finish_run(&mut self, id: RunId, outcome: &RunOutcome) -> Result<(), StoreError> {
        let (status, error) = match &outcome.end {
            RunEnd::Ok => (RunStatus::Ok, None),
            RunEnd::Failed { error } => (RunStatus::Failed, Some(error)),
            RunEnd::Interrupted { error } => (RunStatus::Interrupted, Some(error)),
        };
        self.conn
            .execute(
                "UPDATE collection_runs SET finished_at = ?, status = ?, symbols = ?, requests = ?,
                 rows_written = ?, error = ?, start_date = coalesce(?, start_date),
                 end_date = coalesce(?, end_date) WHERE id = ?",
                params![
                    timestamp_value(Utc::now()),
                    status.as_str(),
                    outcome.symbols as i64,
                    outcome.requests as i64,
                    outcome.rows_written as i64,
                    error,
                    outcome.covered.map(|c| date_value(c.first())),
                    outcome.covered.map(|c| date_value(c.last())),
                    id.0
                ],
            )
            .map_err(self.err("finishing a run log entry"))?;
        Ok(())
    }

    /// Marks runs after `last_published` that the log calls `ok` as `interrupted`: in a resumed
    /// copy they finished collecting but were stopped before their work was published.
    pub(crate) fn mark_unpublished_runs(&mut self, last_published: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE collection_runs SET status = ?,
                   error = 'stopped while publishing; the next run published its work'
                 WHERE id > ? AND status = ?",
                params![
                    RunStatus::Interrupted.as_str(),
                    last_published,
                    RunStatus::Ok.as_str()
                ],
            )
            .map_err(self.err("marking unpublished runs"))?;
        Ok(())
    }

    /// The newest entry of the run log, if any run was recorded.
    pub fn last_run(&self) -> Result<Option<RunRecord>, StoreError> {
        self.newest_run(None)
    }

    /// The newest `update` that completed without failure: the scheduler catches up when it is
    /// older than yesterday.
    pub fn last_successful_update(&self) -> Result<Option<RunRecord>, StoreError> {
        self.newest_run(Some((RunKind::Update, RunStatus::Ok)))
    }

    /// The markets the run log names (any run, whatever its end: a market someone began to
    /// collect is one they want kept), in `KEPT_MARKETS`' order; USD-M when it names none,
    /// as a plain `update` always collected. What a plain `update` and the scheduler collect.
    pub fn collected_markets(&self) -> Result<Vec<Market>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT market FROM collection_runs")
            .map_err(self.err("reading the run log's markets"))?;
        let named: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(self.err("reading the run log's markets"))?;
        let markets: Vec<Market> = super::KEPT_MARKETS
            .into_iter()
            .filter(|m| named.iter().any(|n| n == m.name()))
            .collect();
        Ok(if markets.is_empty() {
            vec![Market::Um]
        } else {
            markets
        })
    }

    /// The newest run of this handle's market (`select_market`) that is `only` when given.
    fn newest_run(
        &self,
        only: Option<(RunKind, RunStatus)>,
    ) -> Result<Option<RunRecord>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, kind, started_at, finished_at, status, start_date, end_date,
                        symbols, requests, rows_written, error
                 FROM collection_runs
                 WHERE market = ? AND (?::VARCHAR IS NULL OR (kind = ? AND status = ?))
                 ORDER BY id DESC LIMIT 1",
                params![
                    self.market.name(),
                    only.map(|o| o.0.as_str()),
                    only.map(|o| o.0.as_str()),
                    only.map(|o| o.1.as_str())
                ],
                |r| {
                    Ok(RunRecord {
                        id: r.get(0)?,
                        kind: named(r, 1, RunKind::parse)?,
                        started_at: r.get(2)?,
                        finished_at: r.get(3)?,
                        status: named(r, 4, RunStatus::parse)?,
                        start_date: r.get(5)?,
                        end_date: r.get(6)?,
                        symbols: r.get(7)?,
                        requests: r.get(8)?,
                        rows_written: r.get(9)?,
                        error: r.get(10)?,
                    })
                },
            )
            .optional()
            .map_err(self.err("reading the run log"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_and_status_round_trips_through_its_stored_name() {
        for name in RunKind::NAMES {
            assert_eq!(RunKind::parse(name).map(RunKind::as_str), Some(name));
        }
        for name in RunStatus::NAMES {
            assert_eq!(RunStatus::parse(name).map(RunStatus::as_str), Some(name));
        }
        assert_eq!(RunStatus::parse("OK"), None);
    }

    /// JSON (serde's names) and the tables say the same.
    #[test]
    fn serde_names_are_the_tables_names() {
        fn same<T: serde::Serialize + Copy + std::fmt::Display>(values: &[T]) {
            for v in values {
                assert_eq!(serde_json::to_value(v).unwrap(), v.to_string());
            }
        }
        same(&[RunKind::Update, RunKind::Backfill, RunKind::Probe]);
        same(&[
            RunStatus::Running,
            RunStatus::Ok,
            RunStatus::Failed,
            RunStatus::Interrupted,
        ]);
        use crate::store::EventKind;
        same(&[
            EventKind::Listing,
            EventKind::Gap,
            EventKind::Delisting,
            EventKind::Relisting,
        ]);
        use crate::facts::Contract;
        same(&[Contract::Perpetual, Contract::Delivery]);
    }
}
