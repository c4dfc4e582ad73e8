//! `catalog changes` streamed (issue 27): the history's rows by `seen` then key, read in runs of
//! bounded size whatever the history's length. A change names its file by a leaf of the
//! handle's table (`leaf_table`: every leaf, read once per read-only handle) and its period
//! (`ChangedFile`); the key is written from its dataset's template (`key`) only where it is
//! printed, and a run is sorted on numbers — seen, the leaf's folder's rank, the period — not
//! keys. Nothing is joined per run.
//!
//! How a run is bounded: the listing counts the changes asked for; when they fit one run
//! (`CHANGES_PER_READ`: a week at full scale, 209,767, does), they are one query. Else it counts
//! them by hour of `seen` (a row an hour: ~1.4 MB for ten years, whatever the rows), and
//! consecutive hours holding at most `CHANGES_PER_READ` changes are read as one run. An hour
//! holding more (a mass replacement seen by one crawl) is split again by its distinct `seen`
//! values — one a folder listing, so at most the folders one crawl lists in an hour — and one
//! `seen` holds one folder's files at most (a symbol's folder of spot daily klines listed since
//! 2017: 13 intervals × ~3,300 days, ~4 × 10⁴). Every filter is spliced as a literal (typed
//! values this code formats), so that DuckDB may push it into the scan and skip the row groups
//! whose `seen` zone map is outside the range; the statements are prepared once per handle
//! and text (`prepare_cached`: a second question alike costs no planning).
//!
//! Must not know: HTTP, how answers are printed, the crawl.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use duckdb::arrow::array::{
    Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};

use super::leaf_table::LeafTable;
use super::{Catalog, Change, ChangeKind, period_span, span_end};
use crate::facts::Span;
use crate::store::{StoreError, failed};
use crate::vision::{Dataset, Partition};

/// The memory one run may hold while it is sorted.
const RUN_BYTES: u64 = 32 << 20;

/// A change's bytes while its run is sorted: ~59 in the Arrow batch read (six 8-byte and two
/// 4-byte columns, `kind`'s text ~7 bytes and its offset), 24 its place in the order.
const CHANGE_BYTES: u64 = 83;

/// At most this many changes are sorted by one query (~4.0 × 10⁵; unless one `seen` holds
/// more: one folder's files): a week at full scale (209,767 changes) is one run.
const CHANGES_PER_READ: u64 = RUN_BYTES / CHANGE_BYTES;

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
    /// The query's conditions on `changes`, as SQL (`TRUE` for none).
    filter: String,
    /// Changes by hour of `seen`, in order: the hour's start and its count — counted only when
    /// the changes are more than one run (else empty: one run reads them all).
    hours: Vec<(NaiveDateTime, u64)>,
    /// Changes matched.
    pub changes: u64,
}

/// A timestamp as a SQL literal, to the microsecond DuckDB keeps.
fn at(t: NaiveDateTime) -> String {
    format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
}

impl Catalog {
    /// What `query` matches: its changes counted (one aggregate over the matching rows), and by
    /// hour of `seen` when they are more than one run.
    pub fn change_listing(&self, query: &ChangeQuery) -> Result<ChangeListing, StoreError> {
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
        let changes: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM changes WHERE {filter}"))
            .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
            .map_err(failed(&self.path, action))?;
        let changes = changes.max(0) as u64;
        let mut hours = Vec::new();
        if changes > CHANGES_PER_READ {
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT date_trunc('hour', seen) AS hour, count(*) FROM changes
                      WHERE {filter} GROUP BY hour ORDER BY hour"
                ))
                .map_err(failed(&self.path, action))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, NaiveDateTime>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(failed(&self.path, action))?;
            for row in rows {
                let (hour, n) = row.map_err(failed(&self.path, action))?;
                hours.push((hour, n.max(0) as u64));
            }
        }
        Ok(ChangeListing {
            changes,
            filter,
            hours,
        })
    }

    /// Each change of `listing`, by seen then key, handed to `each` as it is read: one run when
    /// they fit one, else consecutive hours in runs of at most `CHANGES_PER_READ` changes, each
    /// run one query read as Arrow batches (see the module's note for an hour holding more).
    ///
    /// `each` is lent one `Change`, filled again for every row (10⁵ a week would otherwise
    /// each take and drop a share of the leaf table): clone it to keep it.
    pub fn each_change<E: From<StoreError>>(
        &self,
        listing: &ChangeListing,
        mut each: impl FnMut(&Change) -> Result<(), E>,
    ) -> Result<(), E> {
        if listing.changes == 0 {
            return Ok(());
        }
        let leaves = self.leaf_table()?;
        // One buffer for every run's order, made its size at once (~5 MB for a week, where
        // growing it copied ~10 MB).
        let mut order = Vec::with_capacity(listing.changes.min(CHANGES_PER_READ) as usize);
        if listing.hours.is_empty() {
            return self.read_changes(&leaves, &listing.filter, &mut order, &mut each);
        }
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
                let filter = format!("{} AND {range}", listing.filter);
                self.read_changes(&leaves, &filter, &mut order, &mut each)?;
            } else {
                for (first, last) in self.seen_runs(listing, from, to)? {
                    let range = format!("seen >= {} AND seen <= {}", at(first), at(last));
                    let filter = format!("{} AND {range}", listing.filter);
                    self.read_changes(&leaves, &filter, &mut order, &mut each)?;
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

    /// The changes `filter` (SQL) matches, sorted by seen then key, handed to `each`. One scan
    /// and no join (measured on the last 7 days at full scale: the join of `changes` with
    /// `leaves` alone took 31–40 ms of a 50 ms budget in session 17, the run's leaves read
    /// apart ~38 % of 131 ms in session 18): its changes, unsorted, kept as the Arrow batches
    /// read; the run is put in order here on numbers (seen, the leaf's rank, the period: bounded
    /// by `CHANGES_PER_READ`; `put_in_order`, one pass when it comes nearly in order), and each
    /// change is filled from its batch's row when handed out, naming its leaf in the handle's
    /// table and its period (`ChangedFile`) — no key is made.
    fn read_changes<E: From<StoreError>>(
        &self,
        leaves: &Arc<LeafTable>,
        filter: &str,
        order: &mut Vec<Order>,
        each: &mut impl FnMut(&Change) -> Result<(), E>,
    ) -> Result<(), E> {
        let action = "reading changes";
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT seen, leaf, period, kind, size, modified, previous_size, previous_modified
                   FROM changes WHERE {filter}"
            ))
            .map_err(failed(&self.path, action))?;
        let mut batches: Vec<ChangeBatch> = Vec::new();
        order.clear();
        for batch in stmt.stream_arrow([]).map_err(failed(&self.path, action))? {
            let batch = batch.map_err(failed(&self.path, action))?;
            let batch = self.change_batch(&batch)?;
            let b = u32::try_from(batches.len()).unwrap_or(u32::MAX);
            for i in 0..batch.len() {
                let id = batch.leaf.value(i);
                let leaf = leaves.index_of(id).ok_or_else(|| {
                    self.unreadable(action, format!("a change of leaf {id}, which no leaf is"))
                })?;
                order.push(Order {
                    seen: batch.seen.value(i),
                    rank: leaves.rank_of(leaf),
                    period: batch.period.value(i),
                    batch: b,
                    row: i as u32,
                });
            }
            batches.push(batch);
        }
        let displaced = put_in_order(order);
        let mut change = Change {
            seen: DateTime::<Utc>::default(),
            file: ChangedFile {
                leaves: Arc::clone(leaves),
                leaf: 0,
                span: Span::Day(NaiveDate::default()),
            },
            kind: ChangeKind::Added,
            size: None,
            last_modified: None,
            previous_size: None,
            previous_last_modified: None,
        };
        let (mut periods, mut instants, mut seen) = (Periods::new(), Instants::new(), None);
        for o in merged(order, &displaced) {
            // Consecutive changes share their instant (a listing's changes) or their period (a
            // day's new files): each is made from its number once a run, or about.
            if seen != Some(o.seen) {
                change.seen = instants.micros(o.seen).ok_or_else(|| {
                    self.unreadable("reading changes", format!("the time {} µs", o.seen))
                })?;
                seen = Some(o.seen);
            }
            let batch = &batches[o.batch as usize];
            self.fill(&mut change, batch, o, &mut periods, &mut instants)?;
            each(&change)?;
        }
        Ok(())
    }

    /// `change` filled from the row `o` names in `batch`, but for its `seen`.
    fn fill(
        &self,
        change: &mut Change,
        batch: &ChangeBatch,
        o: &Order,
        periods: &mut Periods,
        instants: &mut Instants,
    ) -> Result<(), StoreError> {
        let i = o.row as usize;
        let kind_text = batch.kind.value(i);
        change.kind = ChangeKind::parse(kind_text).ok_or_else(|| StoreError::BadChangeKind {
            path: self.path.clone(),
            kind: kind_text.to_string(),
        })?;
        let file = &mut change.file;
        // The row's leaf was found when it was read.
        file.leaf = file.leaves.index_of(batch.leaf.value(i)).unwrap_or(0);
        let (span, end) = periods
            .get(file.leaves.partition(file.leaf), o.period)
            .ok_or_else(|| StoreError::BadPeriod {
                path: self.path.clone(),
                period: o.period,
            })?;
        file.span = span;
        let value = |a: &Int64Array| (!a.is_null(i)).then(|| a.value(i));
        let mut time = |ms: i64| {
            end.checked_add(ms)
                .and_then(|t| t.checked_mul(1_000))
                .and_then(|us| instants.micros(us))
                .ok_or_else(|| {
                    let what = format!("the time {ms} ms after the end of period {}", o.period);
                    self.unreadable("reading changes", what)
                })
        };
        change.size = value(&batch.size).map(|s| s.max(0) as u64);
        change.last_modified = value(&batch.modified).map(&mut time).transpose()?;
        change.previous_size = value(&batch.previous_size).map(|s| s.max(0) as u64);
        change.previous_last_modified =
            value(&batch.previous_modified).map(&mut time).transpose()?;
        Ok(())
    }

    /// A value this code cannot read (`what`) while `action`, as DuckDB's conversion error.
    pub(super) fn unreadable(&self, action: &'static str, what: String) -> StoreError {
        let e = duckdb::Error::FromSqlConversionFailure(0, duckdb::types::Type::Any, what.into());
        failed(&self.path, action)(e)
    }

    /// One Arrow batch of changes, its columns typed.
    fn change_batch(&self, batch: &RecordBatch) -> Result<ChangeBatch, StoreError> {
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
            let what = format!("changes' columns {:?}", batch.schema().fields());
            return Err(self.unreadable("reading changes", what));
        };
        Ok(ChangeBatch {
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

/// The spans a run's periods name, and their ends, made from their numbers (calendar arithmetic:
/// ~14 % of a week's changes when made a change) into 64 slots by number: a week's changes
/// name a few days and months, each ~10³ times.
struct Periods([Option<Period>; 64]);

/// A period of a partition, by number: its span and the instant it ends (ms since 1970).
type Period = (Partition, i32, Span, i64);

impl Periods {
    fn new() -> Periods {
        Periods([None; 64])
    }

    /// Period `n` of `partition` and the instant it ends (ms since 1970); `None` for a number
    /// no date has.
    fn get(&mut self, partition: Partition, n: i32) -> Option<(Span, i64)> {
        let slot = &mut self.0[n.rem_euclid(64) as usize];
        if let Some((p, m, span, end)) = *slot
            && p == partition
            && m == n
        {
            return Some((span, end));
        }
        let span = period_span(partition, n)?;
        let end = span_end(span).timestamp_millis();
        *slot = Some((partition, n, span, end));
        Some((span, end))
    }
}

/// Instants made from their numbers (µs since 1970), the calendar date of each day met kept in
/// 8 slots by day: chrono's `from_timestamp_micros` and `DateTime + Duration` make the date
/// from the day's number every time, ~12 % of a week's changes (session 20's profile), where a
/// week's changes name a few days — when seen, and when their files were written.
struct Instants([Option<(i64, NaiveDate)>; 8]);

impl Instants {
    fn new() -> Instants {
        Instants([None; 8])
    }

    /// The instant `us` µs after 1970-01-01 00:00 UTC, as `DateTime::from_timestamp_micros`
    /// makes it (`None` where it has none).
    fn micros(&mut self, us: i64) -> Option<DateTime<Utc>> {
        const DAY: i64 = 86_400_000_000;
        let (day, in_day) = (us.div_euclid(DAY), us.rem_euclid(DAY));
        let slot = &mut self.0[day.rem_euclid(8) as usize];
        let date = match *slot {
            Some((d, date)) if d == day => date,
            _ => {
                let date = DateTime::from_timestamp(day.checked_mul(86_400)?, 0)?.date_naive();
                *slot = Some((day, date));
                date
            }
        };
        // `in_day` is below 86,400 s: both parts fit.
        let (secs, micros) = ((in_day / 1_000_000) as u32, (in_day % 1_000_000) as u32);
        let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, micros * 1_000)?;
        Some(NaiveDateTime::new(date, time).and_utc())
    }
}

/// A change's place in the run's order — seen then key, on numbers — and its row (24 bytes).
/// Two leaves' keys sort as their folders (`LeafTable::rank_of`); one leaf's keys sort as its
/// periods (`KeyTemplate`'s periods have fixed widths: `2024-01-15` sorts as the day it names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Order {
    /// `seen`, as stored (µs).
    seen: i64,
    /// Its leaf's folder's rank in byte order.
    rank: u32,
    /// Its period's number.
    period: i32,
    /// Its batch, and its row in it.
    batch: u32,
    row: u32,
}

/// Puts a run's `order` in order, cheaply when it nearly is, and says which entries it set
/// aside: the run's order is `merged(order, displaced)`.
///
/// The writer appends each batch's changes by `seen` (`write.rs`, `RECORD`), so a run read in
/// table order is a few ascending stretches, one a batch (~8 a day at full scale), each
/// beginning with the listings still running when the one before was written (about the
/// crawl's concurrency) — plus a folder's leaves whose ids are not in their folders' byte
/// order. Those entries are the ones below the greatest before them: when they are at most an
/// eighth of the run (3 bytes a change more, held while the run is read), they are set aside
/// and sorted alone, the rest is in order already, and the two are merged as they are handed
/// out — one pass over the run instead of a sort of it (the sort of 210k entries was ~15 % of
/// a week's changes, session 19). More than an eighth (a catalog written before the writer
/// ordered its batches: each batch by leaf), the run is sorted whole, as before.
fn put_in_order(order: &mut Vec<Order>) -> Vec<Order> {
    let below_greatest = |order: &[Order]| {
        let mut greatest: Option<Order> = None;
        order
            .iter()
            .filter(|o| match greatest {
                Some(g) if **o < g => true,
                _ => {
                    greatest = Some(**o);
                    false
                }
            })
            .count()
    };
    let displaced = below_greatest(order);
    if displaced == 0 {
        return Vec::new();
    }
    if displaced > order.len() / 8 {
        order.sort_unstable();
        return Vec::new();
    }
    let mut aside = Vec::with_capacity(displaced);
    let mut greatest: Option<Order> = None;
    order.retain(|o| match greatest {
        Some(g) if *o < g => {
            aside.push(*o);
            false
        }
        _ => {
            greatest = Some(*o);
            true
        }
    });
    aside.sort_unstable();
    aside
}

/// Two ascending sequences of entries as one, in order.
fn merged<'a>(a: &'a [Order], b: &'a [Order]) -> impl Iterator<Item = &'a Order> {
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if y < x => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

/// A changed file, as a [`Change`] names it: its dataset, symbol and period, without its key
/// made — the key is written where it is printed ([`ChangedFile::write_key`], `Display`), or
/// made by [`ChangedFile::key`] for a caller that keeps it. Cloning it is cheap (the leaf is
/// in the catalog handle's table, shared).
#[derive(Clone)]
pub struct ChangedFile {
    leaves: Arc<LeafTable>,
    leaf: u32,
    span: Span,
}

impl ChangedFile {
    /// The file's dataset.
    pub fn dataset(&self) -> Dataset {
        self.leaves.dataset(self.leaf)
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

/// The same file: dataset, symbol and period (so the same key), whichever table it came from.
impl PartialEq for ChangedFile {
    fn eq(&self, other: &Self) -> bool {
        self.dataset() == other.dataset()
            && self.symbol() == other.symbol()
            && self.span == other.span
    }
}

impl Eq for ChangedFile {}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seen: i64, rank: u32, row: u32) -> Order {
        Order {
            seen,
            rank,
            period: 0,
            batch: 0,
            row,
        }
    }

    /// The run as `read_changes` hands it out.
    fn handed_out(mut order: Vec<Order>) -> (Vec<Order>, usize) {
        let aside = put_in_order(&mut order);
        let out = merged(&order, &aside).copied().collect();
        (out, aside.len())
    }

    /// Three batches, each by `seen`, each beginning with listings older than the last one
    /// before it, and a leaf out of its folder's rank: the few entries out of place are set
    /// aside and merged back, and the run comes out as sorted whole.
    #[test]
    fn a_run_nearly_in_order_comes_out_sorted_with_few_set_aside() {
        let mut order = Vec::new();
        for batch in 0..3i64 {
            // The listings still running when the batch before was written.
            for late in 0..3 {
                order.push(entry(batch * 100 - 20 + late, 7, order.len() as u32));
            }
            for seen in batch * 100..batch * 100 + 90 {
                order.push(entry(seen, 1, order.len() as u32));
            }
        }
        // One listing's two leaves, the later id ranked first.
        order.push(entry(1_000, 9, order.len() as u32));
        order.push(entry(1_000, 3, order.len() as u32));
        let mut sorted = order.clone();
        sorted.sort_unstable();
        let (out, aside) = handed_out(order);
        assert_eq!(out, sorted);
        assert_eq!(
            aside,
            3 + 3 + 1,
            "the later batches' late listings and the leaf"
        );
    }

    /// An instant made with a day's date kept is chrono's, on both sides of 1970 and of a
    /// day's turn, at its ends, and the same day's date asked again after another's.
    #[test]
    fn instants_are_chronos() {
        let mut instants = Instants::new();
        let day = 86_400_000_000i64;
        let mut cases = vec![0, -1, 1, day - 1, day, -day, -day - 1, i64::MIN, i64::MAX];
        // 2026-12-07 08:17:48.104384 UTC, and around it.
        let seen = 1_796_631_468_104_384i64;
        cases.extend([seen, seen + 1, seen - day, seen + 8 * day, seen, seen + 7]);
        for us in cases {
            assert_eq!(
                instants.micros(us),
                DateTime::<Utc>::from_timestamp_micros(us),
                "{us}"
            );
        }
    }

    /// A run in no order (a file written before the writer ordered its batches) is sorted
    /// whole; one in order is handed out as read.
    #[test]
    fn a_shuffled_run_is_sorted_whole_and_a_sorted_one_is_left() {
        // Each batch by leaf: `seen` comes in no order.
        let order: Vec<Order> = (0..1_000u32)
            .map(|i| entry(i64::from((i * 7_919) % 1_000), i % 13, i))
            .collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        let (out, aside) = handed_out(order);
        assert_eq!(out, sorted);
        assert_eq!(aside, 0);
        let (out, aside) = handed_out(sorted.clone());
        assert_eq!((out, aside), (sorted, 0));
    }
}
