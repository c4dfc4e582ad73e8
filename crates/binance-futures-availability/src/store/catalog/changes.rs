//! `catalog changes` streamed (issue 27): the history's rows by `seen` then key, read in runs of
//! bounded size whatever the history's length. A change names its file by a leaf of the
//! handle's table (`leaf_table`: every leaf, read once per read-only handle) and its period
//! (`ChangedFile`); the key is written from its dataset's template (`key`) only where it is
//! printed, and a run is sorted on numbers — seen, the leaf's folder's rank, the period — not
//! keys. Nothing is joined per run.
//!
//! How a run is bounded: the listing counts the changes asked for, with their first and last
//! `seen`; when they fit one run (`CHANGES_PER_READ`: a daily crawl's week at full scale,
//! 690,488, does not), they are one query. Else their span of `seen` is cut into at most
//! `SLICES` equal slices, counted in one aggregate (a few hundred groups, whatever the rows),
//! and consecutive slices holding at most `CHANGES_PER_READ` changes together are read as one
//! run; a slice holding more is cut again the same way, down to one `seen` (one folder's
//! listing: its files at most, a symbol's folder of spot daily klines listed since 2017, 13
//! intervals × ~3,300 days, ~4 × 10⁴), which is a run alone. Slices, not hours or distinct
//! `seen`s: a week's changes seen within one hour (seven days crawled back to back) have
//! ~6 × 10⁵ distinct `seen`s, and counting by them — a group each, read back a row at a time —
//! took ~45 % of that week's answer (session 21's profile). The first run of several is kept
//! small (`FIRST_RUN`): nothing is handed out before it is read. Every filter is spliced as a
//! literal (typed values this code formats), so that DuckDB may push it into the scan and skip
//! the row groups whose `seen` zone map is outside the range; the statements are kept per
//! connection and text (`prepare_cached`: not parsed again — DuckDB binds and plans a kept
//! statement again at every execution all the same, ~1 ms each, ~4 % of a week's CPU in
//! session 22's profile). A read-only handle keeps its last listings (`change_listing`).
//!
//! What a run reads: when every change the listing matches is an addition (counted apart:
//! a daily crawl's week is), five columns; else `kind` and the `previous_*` columns too. Runs
//! after the first are read on the handle's second connection (opened once and kept), in a
//! thread, while the one before is handed out (`each_change`): two runs are held at once, so a
//! run is half the memory bound.
//!
//! Must not know: HTTP, how answers are printed, the crawl.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use duckdb::arrow::array::{
    Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};

use super::leaf_table::{Leaf, LeafTable};
use super::{Catalog, Change, ChangeKind, period_span, span_end};
use crate::facts::Span;
use crate::store::{StoreError, failed};
use crate::vision::{Dataset, Partition};

/// The memory one run may hold while it is sorted. Two runs are held at once when there are
/// more (one handed out while the next is read: `each_change`), so 32 MB in all.
const RUN_BYTES: u64 = 16 << 20;

/// A change's bytes while its run is sorted: ~59 in the Arrow batch read (six 8-byte and two
/// 4-byte columns, `kind`'s text ~7 bytes and its offset), 24 what the reader made of it
/// (`Made`: its leaf's offset, its period's span and end), 24 its place in the order (`Order`).
const CHANGE_BYTES: u64 = 59 + size_of::<Made>() as u64 + size_of::<Order>() as u64;

// The sizes the note above counts on.
const _: () = assert!(size_of::<Made>() == 24 && size_of::<Order>() == 24);

/// At most this many changes are sorted by one query (~1.6 × 10⁵; unless one `seen` holds
/// more: one folder's files): a day of a daily crawl at full scale (~10⁵) is one run.
const CHANGES_PER_READ: u64 = RUN_BYTES / CHANGE_BYTES;

/// At most this many changes in the first run of several (~2 × 10⁴): nothing is handed out
/// before it is read, and a whole run of a daily crawl's day (~10⁵) was ~7 ms of a week's
/// answer before its first change (session 22); the next run is read while it is handed out.
const FIRST_RUN: u64 = CHANGES_PER_READ / 8;

/// The most changes the next run of `runs` may hold, of a listing of `total`: the first and
/// the last are small (`FIRST_RUN`) — nothing is handed out before the first is read, and
/// nothing is read while the last is handed out.
fn run_limit(runs: &[RunSpan], total: u64) -> u64 {
    let left = total.saturating_sub(runs.iter().map(|r| r.changes).sum());
    if runs.is_empty() {
        FIRST_RUN
    } else if left <= CHANGES_PER_READ + FIRST_RUN {
        left.saturating_sub(FIRST_RUN).max(FIRST_RUN)
    } else {
        CHANGES_PER_READ
    }
}

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
    /// The runs the changes are read in, in order (none when nothing matches).
    runs: Vec<RunSpan>,
    /// Changes matched.
    pub changes: u64,
}

/// Which of a listing's changes one run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunSpan {
    /// Its first and last `seen` (µs since 1970, both inclusive); `None` when one run reads
    /// every change the listing matches.
    seen: Option<(i64, i64)>,
    /// Whether its listing holds a change other than an addition: only then are `kind` and the
    /// `previous_*` columns read (an addition has no previous size or time, and a week of a
    /// daily crawl is additions only: the two all-NULL columns and the kind's text were ~15 %
    /// of reading it, session 21's profile).
    others: bool,
    /// Its changes, as counted: the room its order is made in at once.
    changes: u64,
}

/// Into how many slices of `seen` a span of changes too many for one run is cut (module note):
/// 256 groups cost DuckDB's aggregate next to nothing, and a week's slices are ~3 × 10³
/// changes each, so runs fill to within a slice of `CHANGES_PER_READ`.
const SLICES: i64 = 256;

/// A timestamp as a SQL literal, to the microsecond DuckDB keeps.
fn at(t: NaiveDateTime) -> String {
    format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
}

/// The instant `us` µs after 1970 as a SQL literal, `None` for one chrono cannot hold.
fn at_micros(us: i64) -> Option<String> {
    DateTime::from_timestamp_micros(us).map(|t| at(t.naive_utc()))
}

/// What a listing or a slice counts of the changes it matches, as SQL aggregates: all, and
/// their first and last `seen` (µs); read by `counts`. Not the changes other than additions:
/// counted in the aggregate (`FILTER (WHERE kind <> …)`, a text compared a row), a week's count
/// took ~2.8 ms with DuckDB's one thread against ~0.6 without, where a count of its own with
/// that condition pushed into the scan takes ~0.4 (session 22).
const COUNTED: &str = "count(*), epoch_us(min(seen)), epoch_us(max(seen))";

/// How many listings a read-only handle keeps (`Catalog::change_listing`).
const LISTINGS_KEPT: usize = 8;

impl Catalog {
    /// What `query` matches: its changes counted (one aggregate over the matching rows, and
    /// those other than additions apart), and cut into runs when they are more than one.
    ///
    /// A read-only handle keeps its last `LISTINGS_KEPT` listings: its file is never written
    /// again, so a question asked again matches the same changes, and counting and cutting a
    /// week of them was ~12 ms of DuckDB's one thread (session 22) — `serve`'s page and a
    /// notebook ask the same recent changes again and again.
    pub fn change_listing(&self, query: &ChangeQuery) -> Result<ChangeListing, StoreError> {
        if !self.read_only {
            return self.count_changes(query);
        }
        let kept = self
            .listings
            .borrow()
            .iter()
            .find(|(q, _)| q == query)
            .cloned();
        if let Some((_, listing)) = kept {
            return Ok(listing);
        }
        let listing = self.count_changes(query)?;
        let mut listings = self.listings.borrow_mut();
        listings.truncate(LISTINGS_KEPT - 1);
        listings.insert(0, (*query, listing.clone()));
        Ok(listing)
    }

    /// `change_listing`, made.
    fn count_changes(&self, query: &ChangeQuery) -> Result<ChangeListing, StoreError> {
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
        let (changes, first, last) = self
            .conn
            .prepare_cached(&format!("SELECT {COUNTED} FROM changes WHERE {filter}"))
            .and_then(|mut stmt| stmt.query_row([], counts))
            .map_err(failed(&self.path, action))?;
        // Whether any is not an addition: then every run reads the kind and the values before
        // (a week of a daily crawl has none, and is read without them).
        let others = changes > 0
            && query.kind != Some(ChangeKind::Added)
            && self
                .conn
                .prepare_cached(&format!(
                    "SELECT count(*) FROM changes WHERE {filter} AND kind <> '{}'",
                    ChangeKind::Added.as_str()
                ))
                .and_then(|mut stmt| stmt.query_row([], |r| r.get::<_, i64>(0)))
                .map_err(failed(&self.path, action))?
                > 0;
        let mut runs = Vec::new();
        match (first, last) {
            (Some(first), Some(last)) if changes > CHANGES_PER_READ => {
                self.cut(&filter, others, (first, last), changes, &mut runs)?
            }
            _ if changes > 0 => runs.push(RunSpan {
                seen: None,
                others,
                changes,
            }),
            _ => {}
        }
        Ok(ChangeListing {
            changes,
            filter,
            runs,
        })
    }

    /// The changes `filter` matches seen from `first` through `last` (µs), more than one run,
    /// cut into runs appended to `runs` (module note): `SLICES` slices counted, consecutive ones
    /// joined while they fit one run (the first run of all a smaller one: `FIRST_RUN`), one
    /// holding more cut again — or a run alone when all its changes share one `seen`.
    fn cut(
        &self,
        filter: &str,
        others: bool,
        (first, last): (i64, i64),
        total: u64,
        runs: &mut Vec<RunSpan>,
    ) -> Result<(), StoreError> {
        let action = "counting changes";
        // `last - first` is below 2^63 µs for any two instants DuckDB keeps (years ±290,000).
        let width = last.saturating_sub(first) / SLICES + 1;
        let range = self.seen_range(first, last)?;
        // Kept among the handle's statements, its span spliced as literals (module note).
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COUNTED} FROM changes WHERE {filter} AND {range}
                  GROUP BY (epoch_us(seen) - {first}) // {width} ORDER BY min(seen)"
            ))
            .map_err(failed(&self.path, action))?;
        let slices = stmt
            .query_map([], counts)
            .map_err(failed(&self.path, action))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed(&self.path, action))?;
        // The run being joined.
        let mut run: Option<RunSpan> = None;
        for (n, a, b) in slices {
            // A group holds a row: its first and last `seen` are there.
            let (Some(a), Some(b)) = (a, b) else {
                continue;
            };
            let slice = RunSpan {
                seen: Some((a, b)),
                others,
                changes: n,
            };
            if let Some(r) = run
                .as_mut()
                .filter(|r| r.changes + n <= run_limit(runs, total))
            {
                r.seen = r.seen.map(|(first, _)| (first, b));
                r.changes += n;
                continue;
            }
            runs.extend(run.take());
            if n <= run_limit(runs, total) {
                run = Some(slice);
            } else if a == b {
                runs.push(slice);
            } else {
                self.cut(filter, others, (a, b), total, runs)?;
            }
        }
        runs.extend(run);
        Ok(())
    }

    /// `seen` from `first` through `last` (µs), as SQL.
    fn seen_range(&self, first: i64, last: i64) -> Result<String, StoreError> {
        match (at_micros(first), at_micros(last)) {
            (Some(a), Some(b)) => Ok(format!("seen >= {a} AND seen <= {b}")),
            _ => Err(unreadable(
                &self.path,
                "counting changes",
                format!("the times {first} and {last} µs"),
            )),
        }
    }

    /// A value this code cannot read (`what`) while `action`, as DuckDB's conversion error.
    pub(super) fn unreadable(&self, action: &'static str, what: String) -> StoreError {
        unreadable(&self.path, action, what)
    }

    /// Each change of `listing`, by seen then key, handed to `each` as it is read: the
    /// listing's runs of at most `CHANGES_PER_READ` changes (or one `seen`'s), each one query
    /// read as Arrow batches and put in order.
    ///
    /// When there are several and the handle is read-only, the next run is read on a second
    /// connection to the file, in a thread of its own, while this one hands out the run before
    /// (reading and ordering a run, and filling and handing one out, are about half of a
    /// week's CPU each: session 21's profile). A handle that writes reads its runs
    /// one after the other: another connection would not see what it has not committed.
    ///
    /// `each` is lent one `Change`, filled again for every row (10⁵ a week would otherwise
    /// each take and drop a share of the leaf table): clone it to keep it.
    pub fn each_change<E: From<StoreError>>(
        &self,
        listing: &ChangeListing,
        mut each: impl FnMut(&Change) -> Result<(), E>,
    ) -> Result<(), E> {
        if listing.runs.is_empty() {
            return Ok(());
        }
        let leaves = self.leaf_table()?;
        let reader = Reader {
            conn: &self.conn,
            path: &self.path,
            leaves: &leaves,
        };
        let mut change = Change {
            seen: DateTime::<Utc>::default(),
            file: ChangedFile {
                leaves: Arc::clone(&leaves),
                leaf: Leaf::default(),
                span: Span::Day(NaiveDate::default()),
            },
            kind: ChangeKind::Added,
            size: None,
            last_modified: None,
            previous_size: None,
            previous_last_modified: None,
        };
        if listing.runs.len() == 1 || !self.read_only {
            for span in &listing.runs {
                let run = reader.read(&listing.filter, span)?;
                run.hand_out(&self.path, &mut change, &mut each)?;
            }
            return Ok(());
        }
        let kept = self.reader.borrow_mut().take();
        let conn = match kept {
            Some(conn) => conn,
            None => {
                let action = "opening a second connection to read changes";
                self.conn.try_clone().map_err(failed(&self.path, action))?
            }
        };
        let (path, leaves) = (&self.path, &leaves);
        let (answered, conn) = std::thread::scope(|s| {
            // No buffer: the reader holds the run it read until this thread takes it, so two
            // runs at most are held — the one handed out and the next.
            let (runs, read) = std::sync::mpsc::sync_channel::<Result<Run, StoreError>>(0);
            let reading = s.spawn(move || {
                let reader = Reader {
                    conn: &conn,
                    path,
                    leaves,
                };
                for span in &listing.runs {
                    let run = reader.read(&listing.filter, span);
                    let failed = run.is_err();
                    // Taken no more: the answer ended early (its reader's error, `each`'s).
                    if runs.send(run).is_err() || failed {
                        break;
                    }
                }
                conn
            });
            let answered = read
                .iter()
                .try_for_each(|run| run?.hand_out(path, &mut change, &mut each));
            // Dropping `read` ends the reader at its next run, if the answer ended early.
            drop(read);
            // A reader's panic is this thread's (its runs were not all sent).
            let conn = reading
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (answered, conn)
        });
        *self.reader.borrow_mut() = Some(conn);
        answered
    }
}

/// A listing's or slice's `COUNTED` from its row: changes, first and last `seen` (none when
/// no change).
fn counts(r: &duckdb::Row<'_>) -> duckdb::Result<(u64, Option<i64>, Option<i64>)> {
    Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?, r.get(2)?))
}

/// A value this code cannot read (`what`) in the file at `path` while `action`, as DuckDB's
/// conversion error.
pub(super) fn unreadable(path: &Path, action: &'static str, what: String) -> StoreError {
    let e = duckdb::Error::FromSqlConversionFailure(0, duckdb::types::Type::Any, what.into());
    failed(path, action)(e)
}

/// Reads a run of changes from one connection to a catalog file (the handle's, or its second:
/// either is kept with its statements).
struct Reader<'a> {
    conn: &'a duckdb::Connection,
    path: &'a Path,
    leaves: &'a Arc<LeafTable>,
}

impl Reader<'_> {
    /// The changes of `span` that `filter` (SQL) matches, read and put in order by seen then
    /// key. One scan and no join (measured on the last 7 days at full scale: the join of
    /// `changes` with `leaves` alone took 31–40 ms of a 50 ms budget in session 17, the run's
    /// leaves read apart ~38 % of 131 ms in session 18): its changes, unsorted, kept as the
    /// Arrow batches read, and put in order on numbers (seen, the leaf's rank, the period:
    /// bounded by `CHANGES_PER_READ`; `put_in_order`, one pass when it comes nearly in order).
    fn read(&self, filter: &str, span: &RunSpan) -> Result<Run, StoreError> {
        let action = "reading changes";
        let columns = if span.others {
            "seen, leaf, period, size, modified, kind, previous_size, previous_modified"
        } else {
            "seen, leaf, period, size, modified"
        };
        let range = match span.seen {
            Some((first, last)) => match (at_micros(first), at_micros(last)) {
                (Some(a), Some(b)) => format!(" AND seen >= {a} AND seen <= {b}"),
                _ => {
                    let what = format!("the times {first} and {last} µs");
                    return Err(unreadable(self.path, action, what));
                }
            },
            None => String::new(),
        };
        // Kept among the connection's statements (both connections are kept): a handle asked
        // again reads the same runs (module note).
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {columns} FROM changes WHERE {filter}{range}"
            ))
            .map_err(failed(self.path, action))?;
        let mut batches: Vec<ChangeBatch> = Vec::new();
        // Rows in table order come nearly in the order of their periods: those met are kept.
        let mut periods = Periods::new();
        // Counted with the run: no room made again as it fills (~4 MB for a run), nor one
        // each batch of 2,048 rows (allocated by this thread, freed by the one handing out).
        let room = usize::try_from(span.changes).unwrap_or(0);
        let (mut order, mut made) = (Vec::with_capacity(room), Vec::with_capacity(room));
        let rows = stmt.stream_arrow([]).map_err(failed(self.path, action))?;
        for batch in rows {
            let batch = batch.map_err(failed(self.path, action))?;
            let mut batch = ChangeBatch::of(&batch, span.others)
                .ok_or_else(|| format!("changes' columns {:?}", batch.schema().fields()))
                .map_err(|what| unreadable(self.path, action, what))?;
            let b = u32::try_from(batches.len()).unwrap_or(u32::MAX);
            order.reserve(batch.len());
            made.reserve(batch.len());
            batch.start = u32::try_from(made.len()).unwrap_or(u32::MAX);
            let n = batch.len();
            for i in 0..n {
                if i + AHEAD < n
                    && let Some(at) = self.leaves.offset_of(batch.leaf.value(i + AHEAD))
                {
                    self.leaves.prefetch_rank(at);
                }
                let id = batch.leaf.value(i);
                let Some((at, (rank, partition))) =
                    (self.leaves.offset_of(id)).and_then(|at| Some((at, self.leaves.rank_at(at)?)))
                else {
                    return Err(no_leaf(self.path, id));
                };
                let period = batch.period.value(i);
                let Some((span, end)) = periods.get(partition, period) else {
                    return Err(bad_period(self.path, period));
                };
                order.push(Order {
                    seen: batch.seen.value(i),
                    rank,
                    period,
                    batch: b,
                    row: i as u32,
                });
                made.push(Made { at, span, end });
            }
            batches.push(batch);
        }
        Ok(Run {
            batches,
            order,
            made,
        })
    }
}

/// How many rows ahead of its use a leaf's rank (by the reader), or its row and its keys' tail
/// (where changes are handed out), is asked for (`LeafTable::prefetch_rank`): about as many as
/// a look-up's wait covers.
const AHEAD: usize = 12;

/// One run of changes, read; put in order as it is handed out (`put_in_order`: by the thread
/// that hands runs out, which had time to spare — session 23's timings of each thread).
struct Run {
    batches: Vec<ChangeBatch>,
    order: Vec<Order>,
    /// What the reader made of each row, by batch (`ChangeBatch::start`) then row.
    made: Vec<Made>,
}

impl Run {
    /// Each change of the run, in order, filled into `change` and handed to `each`, naming its
    /// leaf in the handle's table and its period (`ChangedFile`) — no key is made.
    fn hand_out<E: From<StoreError>>(
        mut self,
        path: &Path,
        change: &mut Change,
        each: &mut impl FnMut(&Change) -> Result<(), E>,
    ) -> Result<(), E> {
        // When seen, and when written: each close to the one before of its kind.
        let (mut seen_at, mut written_at, mut seen) = (Instants::new(), Instants::new(), None);
        let aside = put_in_order(&mut self.order);
        let leaves = Arc::clone(&change.file.leaves);
        let made =
            |o: &Order| &self.made[self.batches[o.batch as usize].start as usize + o.row as usize];
        for (n, o) in merged(&self.order, &aside).enumerate() {
            // The leaf of the change `AHEAD` places on (in `order`: those set aside are few),
            // and the keys' tail of the one half as far, brought near.
            if let Some(next) = self.order.get(n + AHEAD) {
                leaves.prefetch_leaf(made(next).at);
            }
            if let Some(leaf) =
                (self.order.get(n + AHEAD / 2)).and_then(|o| leaves.leaf_at(made(o).at))
            {
                leaves.prefetch_tail(&leaf);
            }
            let made = made(o);
            // An offset the reader found in the table.
            let Some(leaf) = leaves.leaf_at(made.at) else {
                return Err(no_leaf(
                    path,
                    self.batches[o.batch as usize].leaf.value(o.row as usize),
                )
                .into());
            };
            change.file.leaf = leaf;
            change.file.span = made.span;
            // Consecutive changes share their instant (a listing's changes) or their period (a
            // day's new files): each is made from its number once a run, or about.
            if seen != Some(o.seen) {
                change.seen = seen_at.micros(o.seen).ok_or_else(|| {
                    unreadable(path, "reading changes", format!("the time {} µs", o.seen))
                })?;
                seen = Some(o.seen);
            }
            let batch = &self.batches[o.batch as usize];
            batch.fill(path, change, o, made.end, &mut written_at)?;
            each(change)?;
        }
        Ok(())
    }
}

/// One Arrow batch of a run's changes, as read (Arrow's arrays share the batch's buffers).
struct ChangeBatch {
    seen: TimestampMicrosecondArray,
    leaf: Int32Array,
    period: Int32Array,
    size: Int64Array,
    /// Milliseconds after the end of the period.
    modified: Int64Array,
    /// Where its rows' `Made` begin in the run's.
    start: u32,
    /// The kind's text and the size and time before, when the run holds a change other than
    /// an addition (`RunSpan::others`); else every change is an addition.
    others: Option<Others>,
}

/// What the reader makes of a row as it reads it: its leaf's place in the table, and its
/// period's span and end. The leaf is copied from the table where the change is handed out,
/// the reader reads only the leaves' ranks (`LeafTable::rank_at`; session 23's timings of each
/// thread: the leaves read by the reader made it the slower).
#[derive(Clone, Copy)]
struct Made {
    /// Its leaf's offset in the table (`LeafTable::offset_of`).
    at: u32,
    span: Span,
    /// The period's end (ms since 1970), from which its times count.
    end: i64,
}

/// Row `i` of `a`, `None` when NULL.
fn value(a: &Int64Array, i: usize) -> Option<i64> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// The columns read only for a run with changes other than additions.
struct Others {
    kind: StringArray,
    previous_size: Int64Array,
    /// Milliseconds after the end of the period.
    previous_modified: Int64Array,
}

impl ChangeBatch {
    /// `batch`'s columns typed, as `Reader::read` selects them (with `others` or without);
    /// `None` for a batch of other columns.
    fn of(batch: &RecordBatch, others: bool) -> Option<ChangeBatch> {
        let column = |i: usize| batch.column(i).as_any();
        let numbers = |i: usize| column(i).downcast_ref::<Int64Array>().cloned();
        let others = if others {
            Some(Others {
                kind: column(5).downcast_ref::<StringArray>().cloned()?,
                previous_size: numbers(6)?,
                previous_modified: numbers(7)?,
            })
        } else {
            None
        };
        Some(ChangeBatch {
            seen: column(0)
                .downcast_ref::<TimestampMicrosecondArray>()
                .cloned()?,
            leaf: column(1).downcast_ref::<Int32Array>().cloned()?,
            period: column(2).downcast_ref::<Int32Array>().cloned()?,
            size: numbers(3)?,
            modified: numbers(4)?,
            start: 0,
            others,
        })
    }

    fn len(&self) -> usize {
        self.seen.len()
    }

    /// `change` filled from the row `o` names, but for its `seen`.
    fn fill(
        &self,
        path: &Path,
        change: &mut Change,
        o: &Order,
        end: i64,
        written_at: &mut Instants,
    ) -> Result<(), StoreError> {
        let i = o.row as usize;
        change.size = value(&self.size, i).map(|s| s.max(0) as u64);
        // Each time set in place, and `fill` left on an error: a closure returning a `Result`
        // of one made it on the stack in halves and copied it whole, a load that waited on the
        // stores (~40 % of `fill`'s time in session 23's annotated profile).
        change.last_modified = match value(&self.modified, i) {
            None => None,
            Some(ms) => match written_at.after(end, ms) {
                Some(t) => Some(t),
                None => return Err(unwritten(path, ms, o.period)),
            },
        };
        let Some(others) = &self.others else {
            change.kind = ChangeKind::Added;
            change.previous_size = None;
            change.previous_last_modified = None;
            return Ok(());
        };
        let kind_text = others.kind.value(i);
        change.kind = ChangeKind::parse(kind_text).ok_or_else(|| StoreError::BadChangeKind {
            path: path.to_path_buf(),
            kind: kind_text.to_string(),
        })?;
        change.previous_size = value(&others.previous_size, i).map(|s| s.max(0) as u64);
        change.previous_last_modified = match value(&others.previous_modified, i) {
            None => None,
            Some(ms) => match written_at.after(end, ms) {
                Some(t) => Some(t),
                None => return Err(unwritten(path, ms, o.period)),
            },
        };
        Ok(())
    }
}

/// A change of leaf `id`, which no leaf is, as DuckDB's conversion error (out of the way of
/// handing changes out, as `unwritten`).
#[cold]
fn no_leaf(path: &Path, id: i32) -> StoreError {
    let what = format!("a change of leaf {id}, which no leaf is");
    unreadable(path, "reading changes", what)
}

/// A period no date has.
#[cold]
fn bad_period(path: &Path, period: i32) -> StoreError {
    StoreError::BadPeriod {
        path: path.to_path_buf(),
        period,
    }
}

/// A Last-Modified `ms` after the end of `period` that chrono has no instant for, as DuckDB's
/// conversion error (out of `fill`'s way: building it there, a `Result` moved through the
/// stack, was a store the next load waited on — ~4 % of a week's CPU, session 23's profile).
#[cold]
fn unwritten(path: &Path, ms: i64, period: i32) -> StoreError {
    let what = format!("the time {ms} ms after the end of period {period}");
    unreadable(path, "reading changes", what)
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
    #[inline]
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
/// week's changes name a few days — when seen, and when their files were written. The day of
/// the instant before is tried first, by a subtraction: one `Instants` is kept for each kind
/// of time, and the next one is nearly always on the same day (dividing by the day was half
/// of the ~7 % these still took, session 22's profile).
struct Instants {
    /// The day of the instant made last: its first µs and its date.
    last: Option<(i64, NaiveDate)>,
    /// Days by number.
    days: [Option<(i64, NaiveDate)>; 8],
}

/// A day in µs.
const DAY_US: i64 = 86_400_000_000;

impl Instants {
    fn new() -> Instants {
        Instants {
            last: None,
            days: [None; 8],
        }
    }

    /// The instant `ms` ms after `end` (ms since 1970): a Last-Modified as `changes` keeps it,
    /// after its period's end (`None` where chrono has none).
    #[inline]
    fn after(&mut self, end: i64, ms: i64) -> Option<DateTime<Utc>> {
        end.checked_add(ms)
            .and_then(|t| t.checked_mul(1_000))
            .and_then(|us| self.micros(us))
    }

    /// The instant `us` µs after 1970-01-01 00:00 UTC, as `DateTime::from_timestamp_micros`
    /// makes it (`None` where it has none).
    #[inline]
    fn micros(&mut self, us: i64) -> Option<DateTime<Utc>> {
        let (date, in_day) = match self.last {
            Some((start, date)) if (0..DAY_US).contains(&us.wrapping_sub(start)) => {
                (date, us.wrapping_sub(start))
            }
            _ => self.day_of(us)?,
        };
        // `in_day` is below 86,400 s: both parts fit.
        let (secs, micros) = ((in_day / 1_000_000) as u32, (in_day % 1_000_000) as u32);
        let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, micros * 1_000)?;
        Some(NaiveDateTime::new(date, time).and_utc())
    }

    /// The date of the day `us` µs after 1970 falls on, and the µs into it, kept as the last
    /// (out of `micros`' way: it is taken about once a day met).
    #[cold]
    fn day_of(&mut self, us: i64) -> Option<(NaiveDate, i64)> {
        let (day, in_day) = (us.div_euclid(DAY_US), us.rem_euclid(DAY_US));
        let slot = &mut self.days[day.rem_euclid(8) as usize];
        let date = match *slot {
            Some((d, date)) if d == day => date,
            _ => {
                let secs = day.checked_mul(86_400)?;
                let date = DateTime::from_timestamp(secs, 0)?.date_naive();
                *slot = Some((day, date));
                date
            }
        };
        // A day chrono has begins at an instant µs since 1970 can name.
        self.last = day.checked_mul(DAY_US).map(|start| (start, date));
        Some((date, in_day))
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
    // One pass: set aside while they are few; past an eighth, keep the rest where it is.
    let most = order.len() / 8;
    let (mut aside, mut shuffled) = (Vec::new(), false);
    let mut greatest: Option<Order> = None;
    order.retain(|o| match greatest {
        _ if shuffled => true,
        Some(g) if *o < g => {
            shuffled = aside.len() == most;
            if !shuffled {
                aside.push(*o);
            }
            shuffled
        }
        _ => {
            greatest = Some(*o);
            true
        }
    });
    if shuffled {
        // The run is all there, kept or set aside.
        order.append(&mut aside);
        order.sort_unstable();
    } else {
        aside.sort_unstable();
    }
    aside
}

/// Two ascending sequences of entries as one, in order (by places in them: this is on every
/// change's path).
fn merged<'a>(a: &'a [Order], b: &'a [Order]) -> impl Iterator<Item = &'a Order> {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || match (a.get(i), b.get(j)) {
        (Some(x), Some(y)) if y < x => {
            j += 1;
            Some(y)
        }
        (Some(x), _) => {
            i += 1;
            Some(x)
        }
        (None, y) => {
            j += 1;
            y
        }
    })
}

/// A changed file, as a [`Change`] names it: its dataset, symbol and period, without its key
/// made — the key is written where it is printed ([`ChangedFile::write_key`], `Display`), or
/// made by [`ChangedFile::key`] for a caller that keeps it. Cloning it is cheap (its leaf's
/// symbol and template are in the catalog handle's table, shared).
#[derive(Clone)]
pub struct ChangedFile {
    leaves: Arc<LeafTable>,
    leaf: Leaf,
    span: Span,
}

impl ChangedFile {
    /// The file's dataset.
    pub fn dataset(&self) -> Dataset {
        self.leaves.dataset(&self.leaf)
    }

    /// The file's symbol folder.
    pub fn symbol(&self) -> &str {
        self.leaves.symbol(&self.leaf)
    }

    /// The file's day or month.
    pub fn span(&self) -> Span {
        self.span
    }

    /// Writes the file's key (`data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-15.zip`)
    /// into `out`.
    pub fn write_key(&self, out: &mut (impl fmt::Write + ?Sized)) -> fmt::Result {
        self.leaves.write_key(out, &self.leaf, self.span)
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
