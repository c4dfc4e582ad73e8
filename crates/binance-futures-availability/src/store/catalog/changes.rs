//! `catalog changes` streamed (issue 27): the history's rows by `seen` then key, read in runs of
//! bounded size whatever the history's length, each key made from its dataset's template
//! (`key`).
//!
//! How a run is bounded: the listing counts the changes asked for by hour of `seen` (a row an
//! hour: ~1.4 MB for ten years, whatever the rows), and consecutive hours holding at most
//! `CHANGES_PER_READ` changes are read as one sorted query. An hour holding more (a mass
//! replacement seen by one crawl) is split again by its distinct `seen` values — one a folder
//! listing, so at most the folders one crawl lists in an hour — and one `seen` holds one
//! folder's files at most (a symbol's folder of spot daily klines listed since 2017: 13
//! intervals × ~3,300 days, ~4 × 10⁴). Every filter is spliced as a literal
//! (typed values this code formats), so that DuckDB may push it into the scan and skip the row
//! groups whose `seen` zone map is outside the range (not yet measured on a long history).
//!
//! Must not know: HTTP, how answers are printed, the crawl.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use duckdb::arrow::array::{
    Array, Int16Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};

use super::key::KeyTemplate;
use super::{Catalog, Change, ChangeKind, period_span, span_end};
use crate::store::{StoreError, failed};
use crate::vision::Dataset;

/// At most this many changes are sorted by one query (unless one `seen` holds more: one
/// folder's files). A change's row is ~150 bytes while sorted (its key ~80), so ~30 MB; the
/// last 7 days at full scale (104,385 changes) are one run.
const CHANGES_PER_READ: u64 = 200_000;

/// Which changes `catalog changes` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChangeQuery {
    /// From this day (UTC) of `seen`, inclusive.
    pub since: Option<NaiveDate>,
    /// Through this day (UTC) of `seen`, inclusive.
    pub until: Option<NaiveDate>,
    /// Only this dataset's files.
    pub dataset: Option<Dataset>,
    /// Only this kind of change.
    pub kind: Option<ChangeKind>,
}

/// What a change query matches, known before its first row: how many, and how they are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeListing {
    /// The datasets whose changes are read, with their ids (one when the query names one).
    datasets: Vec<(Dataset, i16)>,
    /// The query's conditions on `changes`, as SQL (`TRUE` for none).
    filter: String,
    /// Changes by hour of `seen`, in order: the hour's start and its count.
    hours: Vec<(NaiveDateTime, u64)>,
    /// Changes matched.
    pub changes: u64,
}

/// A timestamp as a SQL literal, to the microsecond DuckDB keeps.
fn at(t: NaiveDateTime) -> String {
    format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
}

impl Catalog {
    /// What `query` matches: its changes counted by hour of `seen` (one aggregate over the
    /// matching rows, a row an hour).
    pub fn change_listing(&self, query: &ChangeQuery) -> Result<ChangeListing, StoreError> {
        let datasets: Vec<(Dataset, i16)> = match query.dataset {
            Some(d) => self
                .datasets
                .get(&d)
                .map(|id| (d, *id))
                .into_iter()
                .collect(),
            None => self.datasets_by_id(),
        };
        // Days, ids and kinds are values of this code's types: nothing from outside is spliced.
        let mut conditions = Vec::new();
        if let Some(since) = query.since {
            conditions.push(format!("seen >= {}", at(since.and_time(NaiveTime::MIN))));
        }
        if let Some(next) = query.until.and_then(|d| d.succ_opt()) {
            conditions.push(format!("seen < {}", at(next.and_time(NaiveTime::MIN))));
        }
        if let Some(kind) = query.kind {
            conditions.push(format!("kind = '{}'", kind.as_str()));
        }
        if let Some(d) = query.dataset {
            match self.datasets.get(&d) {
                Some(id) => conditions.push(format!(
                    "leaf IN (SELECT id FROM leaves WHERE dataset = {id})"
                )),
                None => conditions.push("FALSE".to_string()),
            }
        }
        let filter = if conditions.is_empty() {
            "TRUE".to_string()
        } else {
            conditions.join(" AND ")
        };
        let action = "counting changes";
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT date_trunc('hour', seen) AS hour, count(*) FROM changes
                  WHERE {filter} GROUP BY hour ORDER BY hour"
            ))
            .map_err(failed(&self.path, action))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, NaiveDateTime>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(failed(&self.path, action))?;
        let mut hours = Vec::new();
        for row in rows {
            let (hour, n) = row.map_err(failed(&self.path, action))?;
            hours.push((hour, n.max(0) as u64));
        }
        Ok(ChangeListing {
            changes: hours.iter().map(|(_, n)| n).sum(),
            datasets,
            filter,
            hours,
        })
    }

    /// Each change of `listing`, by seen then key, handed to `each` as it is read: consecutive
    /// hours in runs of at most `CHANGES_PER_READ` changes, each run one sorted query read as
    /// Arrow batches (see the module's note for an hour holding more).
    pub fn each_change<E: From<StoreError>>(
        &self,
        listing: &ChangeListing,
        mut each: impl FnMut(Change) -> Result<(), E>,
    ) -> Result<(), E> {
        let hour = chrono::Duration::hours(1);
        let mut start = 0;
        while start < listing.hours.len() {
            let mut end = start;
            let mut changes = 0;
            while end < listing.hours.len()
                && (end == start || changes + listing.hours[end].1 <= CHANGES_PER_READ)
            {
                changes += listing.hours[end].1;
                end += 1;
            }
            let (from, to) = (listing.hours[start].0, listing.hours[end - 1].0 + hour);
            if changes <= CHANGES_PER_READ {
                let range = format!("seen >= {} AND seen < {}", at(from), at(to));
                self.read_changes(listing, &range, &mut each)?;
            } else {
                for (first, last) in self.seen_runs(listing, from, to)? {
                    let range = format!("seen >= {} AND seen <= {}", at(first), at(last));
                    self.read_changes(listing, &range, &mut each)?;
                }
            }
            start = end;
        }
        Ok(())
    }

    /// The hour from `from` to `to` cut at its distinct `seen` values into runs of at most
    /// `CHANGES_PER_READ` changes (one `seen` alone when it holds more): each run's first and
    /// last `seen`.
    fn seen_runs(
        &self,
        listing: &ChangeListing,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<(NaiveDateTime, NaiveDateTime)>, StoreError> {
        let action = "counting changes";
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT seen, count(*) FROM changes
                  WHERE {} AND seen >= {} AND seen < {} GROUP BY seen ORDER BY seen",
                listing.filter,
                at(from),
                at(to)
            ))
            .map_err(failed(&self.path, action))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, NaiveDateTime>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(failed(&self.path, action))?;
        let mut runs: Vec<(NaiveDateTime, NaiveDateTime, u64)> = Vec::new();
        for row in rows {
            let (seen, n) = row.map_err(failed(&self.path, action))?;
            let n = n.max(0) as u64;
            match runs.last_mut() {
                Some(run) if run.2 + n <= CHANGES_PER_READ => {
                    run.1 = seen;
                    run.2 += n;
                }
                _ => runs.push((seen, seen, n)),
            }
        }
        Ok(runs.into_iter().map(|(a, b, _)| (a, b)).collect())
    }

    /// The changes of `listing` whose `seen` is in `range` (SQL), sorted by seen then key,
    /// handed to `each`. Two scans and no join (measured on the last 7 days at full scale,
    /// 104,385 changes: the join of `changes` with `leaves` alone took 31–40 ms of a 50 ms
    /// budget, the keys made and sorted in SQL ~100 ms more): the run's leaves (one row each),
    /// then its changes, unsorted; the keys are made here from each dataset's template and
    /// the run is sorted here (bounded by `CHANGES_PER_READ`).
    fn read_changes<E: From<StoreError>>(
        &self,
        listing: &ChangeListing,
        range: &str,
        each: &mut impl FnMut(Change) -> Result<(), E>,
    ) -> Result<(), E> {
        let action = "reading changes";
        let filter = format!("{} AND {range}", listing.filter);
        let templates: Vec<(i16, KeyTemplate)> = listing
            .datasets
            .iter()
            .map(|(d, id)| (*id, KeyTemplate::of(*d)))
            .collect();
        // Templates by dataset id (ids are small: one a dataset of the bucket, ~300).
        let mut by_id: Vec<Option<usize>> = Vec::new();
        for (t, (id, _)) in templates.iter().enumerate() {
            let id = usize::try_from(*id).unwrap_or(0);
            if by_id.len() <= id {
                by_id.resize(id + 1, None);
            }
            by_id[id] = Some(t);
        }
        // The run's leaves, by id: (template's index, symbol).
        let mut leaves: Vec<(i32, usize, String)> = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT id, dataset, symbol FROM leaves
                      WHERE id IN (SELECT leaf FROM changes WHERE {filter})"
                ))
                .map_err(failed(&self.path, action))?;
            for batch in stmt.stream_arrow([]).map_err(failed(&self.path, action))? {
                let batch = batch.map_err(failed(&self.path, action))?;
                let column = |i: usize| batch.column(i).as_any();
                let (Some(id), Some(dataset), Some(symbol)) = (
                    column(0).downcast_ref::<Int32Array>(),
                    column(1).downcast_ref::<Int16Array>(),
                    column(2).downcast_ref::<StringArray>(),
                ) else {
                    let what = format!("leaves' columns {:?}", batch.schema().fields());
                    return Err(self.unreadable(what).into());
                };
                for i in 0..batch.num_rows() {
                    // A leaf of a dataset not read (another one's, or unknown) has no change
                    // in the run: the changes' own filter names the dataset.
                    let t = usize::try_from(dataset.value(i))
                        .ok()
                        .and_then(|d| by_id.get(d).copied().flatten());
                    let Some(t) = t else {
                        continue;
                    };
                    leaves.push((id.value(i), t, symbol.value(i).to_string()));
                }
            }
        }
        leaves.sort_unstable_by_key(|l| l.0);
        let mut rows: Vec<Change> = Vec::new();
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT seen, leaf, period, kind, size, modified, previous_size, previous_modified
                   FROM changes WHERE {filter}"
            ))
            .map_err(failed(&self.path, action))?;
        for batch in stmt.stream_arrow([]).map_err(failed(&self.path, action))? {
            let batch = batch.map_err(failed(&self.path, action))?;
            self.changes_in(&batch, &templates, &leaves, &mut rows)?;
        }
        // Keys are made here, so the order within one instant is set here too.
        rows.sort_unstable_by(|a, b| a.seen.cmp(&b.seen).then_with(|| a.key.cmp(&b.key)));
        for change in rows {
            each(change)?;
        }
        Ok(())
    }

    /// A value of `changes` this code cannot read (`what`), as DuckDB's conversion error.
    fn unreadable(&self, what: String) -> StoreError {
        let e = duckdb::Error::FromSqlConversionFailure(0, duckdb::types::Type::Any, what.into());
        failed(&self.path, "reading changes")(e)
    }

    /// The changes of one Arrow batch, keyed, into `rows`.
    fn changes_in(
        &self,
        batch: &RecordBatch,
        templates: &[(i16, KeyTemplate)],
        leaves: &[(i32, usize, String)],
        rows: &mut Vec<Change>,
    ) -> Result<(), StoreError> {
        let column = |i: usize| batch.column(i).as_any();
        let numbers = |i: usize| column(i).downcast_ref::<Int64Array>();
        let columns = (
            column(0).downcast_ref::<TimestampMicrosecondArray>(),
            column(1).downcast_ref::<Int32Array>(),
            column(2).downcast_ref::<Int32Array>(),
            column(3).downcast_ref::<StringArray>(),
            numbers(4),
            numbers(5),
            numbers(6),
            numbers(7),
        );
        let (
            Some(seen),
            Some(leaf),
            Some(period),
            Some(kind),
            Some(size),
            Some(modified),
            Some(previous_size),
            Some(previous_modified),
        ) = columns
        else {
            return Err(self.unreadable(format!("changes' columns {:?}", batch.schema().fields())));
        };
        let value = |a: &Int64Array, i: usize| (!a.is_null(i)).then(|| a.value(i));
        for i in 0..batch.num_rows() {
            let kind_text = kind.value(i);
            let kind = ChangeKind::parse(kind_text).ok_or_else(|| StoreError::BadChangeKind {
                path: self.path.clone(),
                kind: kind_text.to_string(),
            })?;
            let micros = seen.value(i);
            let seen = DateTime::<Utc>::from_timestamp_micros(micros)
                .ok_or_else(|| self.unreadable(format!("the time {micros} µs")))?;
            let Ok(at) = leaves.binary_search_by_key(&leaf.value(i), |l| l.0) else {
                return Err(self.unreadable(format!(
                    "a change of leaf {}, which no leaf is",
                    leaf.value(i)
                )));
            };
            let (_, t, symbol) = &leaves[at];
            let dataset = templates[*t].1.dataset;
            let n = period.value(i);
            let span =
                period_span(dataset.partition(), n).ok_or_else(|| StoreError::BadPeriod {
                    path: self.path.clone(),
                    period: n,
                })?;
            let end = span_end(span);
            let time = |ms: i64| end + chrono::Duration::milliseconds(ms);
            rows.push(Change {
                seen,
                key: templates[*t].1.key(symbol, span),
                kind,
                size: value(size, i).map(|s| s.max(0) as u64),
                last_modified: value(modified, i).map(time),
                previous_size: value(previous_size, i).map(|s| s.max(0) as u64),
                previous_last_modified: value(previous_modified, i).map(time),
            });
        }
        Ok(())
    }
}
