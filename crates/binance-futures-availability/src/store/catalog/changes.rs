//! `catalog changes` streamed (issue 27): the history's rows by `seen` then key, read in runs of
//! bounded size whatever the history's length. A change names its file by the run's leaf and
//! its period (`ChangedFile`); the key is written from its dataset's template (`key`) only
//! where it is printed, and a run is sorted on numbers, not keys.
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

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use duckdb::arrow::array::{
    Array, Int16Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};

use super::key::KeyTemplate;
use super::{Catalog, Change, ChangeKind, period_span, span_end};
use crate::facts::Span;
use crate::store::{StoreError, failed};
use crate::vision::Dataset;

/// At most this many changes are sorted by one query (unless one `seen` holds more: one
/// folder's files). A change is ~85 bytes while its run is sorted (~60 in the Arrow batch
/// read, 24 its place in the order), so ~17 MB, and its leaf's symbol once; session 17's last 7 days at full scale
/// (209,767 changes) are two runs.
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
    /// The key templates of the datasets whose changes are read (one when the query names
    /// one), made once a listing.
    templates: Arc<[KeyTemplate]>,
    /// Each dataset id's index in `templates` (ids are small: one a dataset, ~300).
    by_id: Vec<Option<usize>>,
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
        let mut by_id: Vec<Option<usize>> = Vec::new();
        for (t, (_, id)) in datasets.iter().enumerate() {
            // Ids are this file's, from 0 up; one below would name no dataset read.
            let Ok(id) = usize::try_from(*id) else {
                continue;
            };
            if by_id.len() <= id {
                by_id.resize(id + 1, None);
            }
            by_id[id] = Some(t);
        }
        Ok(ChangeListing {
            changes: hours.iter().map(|(_, n)| n).sum(),
            templates: datasets.iter().map(|(d, _)| KeyTemplate::of(*d)).collect(),
            by_id,
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
        // One buffer for every run's order (its size is the largest run's).
        let mut order = Vec::new();
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
                self.read_changes(listing, &range, &mut order, &mut each)?;
            } else {
                for (first, last) in self.seen_runs(listing, from, to)? {
                    let range = format!("seen >= {} AND seen <= {}", at(first), at(last));
                    self.read_changes(listing, &range, &mut order, &mut each)?;
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
    /// budget, the keys made and sorted in SQL ~100 ms more): the run's leaves (one row each,
    /// their symbols in one buffer), then its changes, unsorted, kept as the Arrow batches
    /// read; the run is sorted here on numbers (bounded by `CHANGES_PER_READ`), and each change
    /// is made from its batch's row when handed out, naming its leaf in the run's table and its
    /// period (`ChangedFile`) — no key is made.
    fn read_changes<E: From<StoreError>>(
        &self,
        listing: &ChangeListing,
        range: &str,
        order: &mut Vec<Order>,
        each: &mut impl FnMut(Change) -> Result<(), E>,
    ) -> Result<(), E> {
        let filter = format!("{} AND {range}", listing.filter);
        let leaves = Arc::new(self.run_leaves(listing, &filter)?);
        let action = "reading changes";
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT seen, leaf, period, kind, size, modified, previous_size, previous_modified
                   FROM changes WHERE {filter}"
            ))
            .map_err(failed(&self.path, action))?;
        let mut batches: Vec<ChangeBatch> = Vec::new();
        order.clear();
        for batch in stmt.stream_arrow([]).map_err(failed(&self.path, action))? {
            let batch = batch.map_err(failed(&self.path, action))?;
            let batch = self.change_batch(&batch, order.len())?;
            for i in 0..batch.len() {
                let id = batch.leaf.value(i);
                let leaf = leaves.index(id).ok_or_else(|| {
                    self.unreadable(format!("a change of leaf {id}, which no leaf is"))
                })?;
                order.push(Order {
                    seen: batch.seen.value(i),
                    leaf,
                    period: batch.period.value(i),
                    row: (batch.first + i) as u32,
                });
            }
            batches.push(batch);
        }
        sort(order, &leaves);
        for o in order.iter() {
            // The batch holding the row: the last one starting at or before it.
            let b = batches.partition_point(|b| b.first <= o.row as usize) - 1;
            let (batch, i) = (&batches[b], o.row as usize - batches[b].first);
            each(self.change(batch, i, o, &leaves)?)?;
        }
        Ok(())
    }

    /// The change in row `i` of `batch`, its order `o` read from it.
    fn change(
        &self,
        batch: &ChangeBatch,
        i: usize,
        o: &Order,
        leaves: &Arc<RunLeaves>,
    ) -> Result<Change, StoreError> {
        let kind_text = batch.kind.value(i);
        let kind = ChangeKind::parse(kind_text).ok_or_else(|| StoreError::BadChangeKind {
            path: self.path.clone(),
            kind: kind_text.to_string(),
        })?;
        let seen = DateTime::<Utc>::from_timestamp_micros(o.seen)
            .ok_or_else(|| self.unreadable(format!("the time {} µs", o.seen)))?;
        let span = leaves
            .span(o.leaf, o.period)
            .ok_or_else(|| StoreError::BadPeriod {
                path: self.path.clone(),
                period: o.period,
            })?;
        let end = span_end(span);
        let value = |a: &Int64Array| (!a.is_null(i)).then(|| a.value(i));
        let time = |ms: i64| end + chrono::Duration::milliseconds(ms);
        Ok(Change {
            seen,
            file: ChangedFile {
                leaves: Arc::clone(leaves),
                leaf: o.leaf,
                span,
            },
            kind,
            size: value(&batch.size).map(|s| s.max(0) as u64),
            last_modified: value(&batch.modified).map(time),
            previous_size: value(&batch.previous_size).map(|s| s.max(0) as u64),
            previous_last_modified: value(&batch.previous_modified).map(time),
        })
    }

    /// The leaves of the changes `filter` matches, by id: each one's template and symbol.
    fn run_leaves(&self, listing: &ChangeListing, filter: &str) -> Result<RunLeaves, StoreError> {
        let action = "reading changes";
        let mut run = RunLeaves {
            templates: Arc::clone(&listing.templates),
            leaves: Vec::new(),
            symbols: String::new(),
            by_id: Vec::new(),
        };
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
                return Err(self.unreadable(what));
            };
            for i in 0..batch.num_rows() {
                // A leaf of a dataset not read (another one's, or unknown) has no change in
                // the run: the changes' own filter names the dataset.
                let t = usize::try_from(dataset.value(i))
                    .ok()
                    .and_then(|d| listing.by_id.get(d).copied().flatten());
                let Some(template) = t else {
                    continue;
                };
                let start = run.symbols.len();
                run.symbols.push_str(symbol.value(i));
                run.leaves.push(RunLeaf {
                    id: id.value(i),
                    template,
                    symbol: start..run.symbols.len(),
                });
            }
        }
        Ok(run.indexed())
    }

    /// A value of `changes` this code cannot read (`what`), as DuckDB's conversion error.
    fn unreadable(&self, what: String) -> StoreError {
        let e = duckdb::Error::FromSqlConversionFailure(0, duckdb::types::Type::Any, what.into());
        failed(&self.path, "reading changes")(e)
    }

    /// One Arrow batch of changes, its columns typed; `first` is its first row's number in
    /// the run.
    fn change_batch(&self, batch: &RecordBatch, first: usize) -> Result<ChangeBatch, StoreError> {
        let column = |i: usize| batch.column(i).as_any();
        let numbers = |i: usize| column(i).downcast_ref::<Int64Array>().cloned();
        let columns = (
            column(0)
                .downcast_ref::<TimestampMicrosecondArray>()
                .cloned(),
            column(1).downcast_ref::<Int32Array>().cloned(),
            column(2).downcast_ref::<Int32Array>().cloned(),
            column(3).downcast_ref::<StringArray>().cloned(),
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
        Ok(ChangeBatch {
            first,
            seen,
            leaf,
            period,
            kind,
            size,
            modified,
            previous_size,
            previous_modified,
        })
    }
}

/// One Arrow batch of a run's changes, as read (Arrow's arrays share the batch's buffers).
struct ChangeBatch {
    /// Its first row's number in the run.
    first: usize,
    seen: TimestampMicrosecondArray,
    leaf: Int32Array,
    period: Int32Array,
    kind: StringArray,
    size: Int64Array,
    /// Milliseconds after the end of the period.
    modified: Int64Array,
    previous_size: Int64Array,
    previous_modified: Int64Array,
}

impl ChangeBatch {
    fn len(&self) -> usize {
        self.seen.len()
    }
}

/// A change's place in the run's order: what it sorts on, and its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Order {
    /// `seen`, as stored (µs).
    seen: i64,
    /// Its leaf's index in the run's `RunLeaves::leaves` (ids ascending, so this is id order).
    leaf: u32,
    /// Its period's number, in the order of its keys within the leaf (`KeyTemplate`'s periods
    /// have fixed widths: `2024-01-15` sorts as the day it names).
    period: i32,
    /// Its row's number in the run.
    row: u32,
}

/// Sorts `order` by seen then key, on numbers: by (seen, leaf, period), then each instant that
/// holds changes of more than one leaf re-sorted by key. A leaf's keys sort as its periods
/// (their texts have fixed widths); two leaves' keys sort as their texts do, so those alone are
/// compared as text, each key written once into one buffer — and rarely: `seen` is one folder
/// listing's start, to the microsecond.
fn sort(order: &mut [Order], leaves: &RunLeaves) {
    order.sort_unstable();
    let mut keys = String::new();
    let mut spans: Vec<(usize, usize, Order)> = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let seen = order[start].seen;
        let mut end = start + 1;
        while end < order.len() && order[end].seen == seen {
            end += 1;
        }
        if order[start].leaf != order[end - 1].leaf {
            keys.clear();
            spans.clear();
            for o in &order[start..end] {
                let from = keys.len();
                // A period of no span writes no key here, and fails when handed out.
                if let Some(span) = leaves.span(o.leaf, o.period) {
                    let _ = leaves.write_key(&mut keys, o.leaf, span);
                }
                spans.push((from, keys.len(), *o));
            }
            spans.sort_by(|a, b| keys[a.0..a.1].cmp(&keys[b.0..b.1]));
            for (o, s) in order[start..end].iter_mut().zip(&spans) {
                *o = s.2;
            }
        }
        start = end;
    }
}

/// The leaves one read of changes names, shared by its changes (`ChangedFile`): each one's
/// template and symbol, the symbols in one buffer (a run's changes are ~1–2 a leaf, so a
/// `String` a leaf would cost most of what a `String` a change did).
#[derive(Debug)]
struct RunLeaves {
    /// The listing's templates, by the index `RunLeaf::template`.
    templates: Arc<[KeyTemplate]>,
    /// By id.
    leaves: Vec<RunLeaf>,
    /// Every leaf's symbol, one after the other.
    symbols: String,
    /// Each id from the first leaf's on, its leaf's index (`u32::MAX` for none), when the ids
    /// are dense enough (`RunLeaves::indexed`); else `leaves` is searched.
    by_id: Vec<u32>,
}

#[derive(Debug)]
struct RunLeaf {
    id: i32,
    template: usize,
    symbol: std::ops::Range<usize>,
}

impl RunLeaves {
    /// Sorts the leaves by id and indexes them: a vector over their ids' range when it is at
    /// most 8 slots a leaf (4 bytes each: a run of 10⁵ leaves among the bucket's ~2.6 × 10⁵
    /// ids takes ~1 MB) — a lookup a change instead of a binary search of ~17 steps.
    fn indexed(mut self) -> RunLeaves {
        self.leaves.sort_unstable_by_key(|l| l.id);
        if let (Some(first), Some(last)) = (self.leaves.first(), self.leaves.last()) {
            let range = (i64::from(last.id) - i64::from(first.id) + 1) as usize;
            if range <= 8 * self.leaves.len() {
                let mut by_id = vec![u32::MAX; range];
                for (i, l) in self.leaves.iter().enumerate() {
                    by_id[(l.id - first.id) as usize] = i as u32;
                }
                self.by_id = by_id;
            }
        }
        self
    }

    /// The index of the leaf whose id is `id`.
    fn index(&self, id: i32) -> Option<u32> {
        if self.by_id.is_empty() {
            return self
                .leaves
                .binary_search_by_key(&id, |l| l.id)
                .ok()
                .map(|i| i as u32);
        }
        let first = self.leaves.first()?.id;
        let at = usize::try_from(i64::from(id) - i64::from(first)).ok()?;
        self.by_id.get(at).copied().filter(|i| *i != u32::MAX)
    }

    /// Period `n` of leaf `leaf`, as its dataset's partition numbers them.
    fn span(&self, leaf: u32, n: i32) -> Option<Span> {
        period_span(self.template(leaf).dataset.partition(), n)
    }

    fn symbol(&self, leaf: u32) -> &str {
        &self.symbols[self.leaves[leaf as usize].symbol.clone()]
    }

    fn template(&self, leaf: u32) -> &KeyTemplate {
        &self.templates[self.leaves[leaf as usize].template]
    }

    fn write_key(
        &self,
        out: &mut (impl fmt::Write + ?Sized),
        leaf: u32,
        span: Span,
    ) -> fmt::Result {
        self.template(leaf).write_key(out, self.symbol(leaf), span)
    }
}

/// A changed file, as a [`Change`] names it: its dataset, symbol and period, without its key
/// made — the key is written where it is printed ([`ChangedFile::write_key`], `Display`), or
/// made by [`ChangedFile::key`] for a caller that keeps it. Cloning it is cheap (the leaf is
/// shared with the other changes of its read).
#[derive(Clone)]
pub struct ChangedFile {
    leaves: Arc<RunLeaves>,
    leaf: u32,
    span: Span,
}

impl ChangedFile {
    /// The file's dataset.
    pub fn dataset(&self) -> Dataset {
        self.leaves.template(self.leaf).dataset
    }

    /// The file's symbol folder.
    pub fn symbol(&self) -> &str {
        self.leaves.symbol(self.leaf)
    }

    /// The file's day or month.
    pub fn span(&self) -> Span {
        self.span
    }

    /// Writes the file's key (`data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-15.zip`)
    /// into `out`.
    pub fn write_key(&self, out: &mut (impl fmt::Write + ?Sized)) -> fmt::Result {
        self.leaves.write_key(out, self.leaf, self.span)
    }

    /// The file's key, made (a `String`; `write_key` writes it without one).
    pub fn key(&self) -> String {
        self.to_string()
    }
}

/// The key.
impl fmt::Display for ChangedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_key(f)
    }
}

impl fmt::Debug for ChangedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChangedFile")
            .field(&format_args!("{self}"))
            .finish()
    }
}

/// The same file: dataset, symbol and period (so the same key), whichever read it came from.
impl PartialEq for ChangedFile {
    fn eq(&self, other: &Self) -> bool {
        self.dataset() == other.dataset()
            && self.symbol() == other.symbol()
            && self.span == other.span
    }
}

impl Eq for ChangedFile {}
