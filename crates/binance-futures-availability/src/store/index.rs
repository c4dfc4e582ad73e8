//! The read index: what a long-lived read-only handle (`serve`'s, a Python session's) keeps in
//! memory so that a snapshot or a range is answered without a DuckDB statement.
//!
//! A snapshot is a few hundred rows, but each statement DuckDB runs costs ~0.3 ms before it
//! reads a row (BENCHMARKS.md, session 9), so a snapshot from a warm handle cost 0.43–0.49 ms.
//! Every row with a file is held here instead, 16 bytes each (a symbol number, the size, the
//! time), grouped by day and, within a day, in the byte order of the names: a snapshot is a
//! slice of one day, a range the slices of its days. The answers are the scan's, row for row
//! (`tests/read_index.rs` compares them for every day, after every publish of a run of updates).
//!
//! The index is built from the handle's own file on the first question that uses it, and lives
//! as long as the handles holding it (`serve`'s handles of one file share one,
//! `Database::share_read_index`): a published file never changes (ADR 0006), and a republish is
//! a new file, which `serve` and the Python package open new handles on
//! (`Database::republished`).
//! Only handles opened read-only keep one; one with more rows with a file than
//! `MAX_INDEXED_ROWS` answers by the scan, so the memory stays bounded at any size of file.
//!
//! What must not be known here: who asks (HTTP, Python), and which day may be answered —
//! `read` refuses a day not checked yet before it looks here.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::arrow::array::{
    Array, Date32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use duckdb::arrow::record_batch::RecordBatch;

use super::read::{RangeRow, SnapshotRow};
use super::{Database, StoreError};
use crate::facts::{Contract, ContractFilter};

/// The most rows with a file a handle indexes: 40 MB of rows at 16 bytes each, against the
/// ~12.5 MB of today's realistic bucket (783,489 rows with a file). A larger file is answered
/// by the scan.
pub const MAX_INDEXED_ROWS: usize = 2_500_000;

/// The most days from the first row with a file to the last a handle indexes: a century, 146 KB
/// of day starts, against 2,532 days of archive today.
const MAX_INDEXED_DAYS: usize = 36_525;

/// One stored day of one symbol with a file.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The symbol's position in `ReadIndex::names`.
    symbol: u32,
    /// The file's size; `ODD_SIZE` when it is null or does not fit (then in `odd_sizes`).
    size: u32,
    /// Microseconds since the epoch, as DuckDB keeps a TIMESTAMP; `NO_TIME` when null.
    modified: i64,
}

/// `Entry::size` of a size kept in `ReadIndex::odd_sizes`: a sized file is a few KB to a few MB.
const ODD_SIZE: u32 = u32::MAX;
/// `Entry::modified` of a null time: i64::MIN microseconds is 292,277 BC, outside what a
/// `DateTime<Utc>` can hold, so no stored time the scan could answer is mistaken for it.
const NO_TIME: i64 = i64::MIN;

/// Every row with a file of one handle's file, by day then symbol.
#[derive(Debug)]
pub(super) struct ReadIndex {
    /// Every symbol with a row, in byte order (DuckDB's and `str`'s order alike).
    names: Vec<String>,
    /// Each name's contract, from the `symbols` table; `None` for a name missing from it (only
    /// a file written by something else has one), which only `ContractFilter::All` admits.
    contracts: Vec<Option<Contract>>,
    /// The first day with a row (DuckDB's day number).
    first_day: i32,
    /// Day `first_day + d`'s rows are `entries[starts[d]..starts[d + 1]]`.
    starts: Vec<u32>,
    entries: Vec<Entry>,
    /// The sizes that did not fit an `Entry`, by entry.
    odd_sizes: HashMap<u32, Option<i64>>,
}

impl ReadIndex {
    /// Reads every row with a file of `db`'s market; `None` when there are more than
    /// `MAX_INDEXED_ROWS`.
    pub(super) fn build(db: &Database) -> Result<Option<ReadIndex>, StoreError> {
        let what = "reading the rows for the read index";
        let Some(count) = indexable_rows(db, what)? else {
            return Ok(None);
        };
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut seen: Vec<String> = Vec::new();
        let mut read: Vec<Read> = Vec::with_capacity(count);
        // The sizes that do not fit an entry, by position in `read`.
        let mut odd: HashMap<u32, Option<i64>> = HashMap::new();
        let mut stmt = db
            .conn
            .prepare(
                "SELECT symbol, date, file_size_bytes, last_modified FROM daily_availability_facts
                 WHERE available",
            )
            .map_err(db.err(what))?;
        // As Arrow batches: a column at a time, as `panel` reads the trading rows (row by row
        // cost it 387 ms against 222 ms).
        for batch in stmt.query_arrow([]).map_err(db.err(what))? {
            let (symbol, date, size, modified) = file_columns(&batch).map_err(db.err(what))?;
            for row in 0..batch.num_rows() {
                // The file is read-only, so no more rows come than were counted: positions stay
                // under `MAX_INDEXED_ROWS`; were one more to come, it is not indexed wrong.
                let Ok(position) = u32::try_from(read.len()) else {
                    return Ok(None);
                };
                let name = symbol.value(row);
                let id = match ids.get(name) {
                    Some(&id) => id,
                    None => {
                        let id = seen.len() as u32;
                        ids.insert(name.to_string(), id);
                        seen.push(name.to_string());
                        id
                    }
                };
                let bytes = (!size.is_null(row)).then(|| size.value(row));
                let small = bytes
                    .and_then(|b| u32::try_from(b).ok())
                    .filter(|b| *b != ODD_SIZE);
                if small.is_none() {
                    odd.insert(position, bytes);
                }
                read.push(Read {
                    day: date.value(row),
                    position,
                    entry: Entry {
                        symbol: id,
                        size: small.unwrap_or(ODD_SIZE),
                        modified: if modified.is_null(row) {
                            NO_TIME
                        } else {
                            modified.value(row)
                        },
                    },
                });
            }
        }
        drop(stmt);
        drop(ids);
        // Numbers in the byte order of the names, so that a day's entries sort by name.
        let mut order: Vec<u32> = (0..seen.len() as u32).collect();
        order.sort_unstable_by(|a, b| seen[*a as usize].cmp(&seen[*b as usize]));
        let mut rank = vec![0u32; seen.len()];
        for (r, id) in order.iter().enumerate() {
            rank[*id as usize] = r as u32;
        }
        for r in &mut read {
            r.entry.symbol = rank[r.entry.symbol as usize];
        }
        // By day, then name, then as read: the scan's order (a stable sort by name of DuckDB's
        // rows of the day, which come in the order stored), without a stable sort's buffer.
        read.sort_unstable_by_key(|r| (r.day, r.entry.symbol, r.position));
        let known = db.known()?;
        let names: Vec<String> = order
            .iter()
            .map(|id| std::mem::take(&mut seen[*id as usize]))
            .collect();
        let contracts = names
            .iter()
            .map(|n| known.get(n).map(|r| r.contract))
            .collect();
        let (Some(first), Some(last)) = (read.first(), read.last()) else {
            return Ok(Some(ReadIndex {
                names,
                contracts,
                first_day: 0,
                starts: vec![0],
                entries: Vec::new(),
                odd_sizes: HashMap::new(),
            }));
        };
        let first_day = first.day;
        // A file from elsewhere may hold any DATE (DuckDB's reach ±5 million years): a span
        // longer than `MAX_INDEXED_DAYS` is scanned rather than given a start per day.
        let days = usize::try_from(i64::from(last.day) - i64::from(first_day) + 1)
            .ok()
            .filter(|days| *days <= MAX_INDEXED_DAYS);
        let Some(days) = days else {
            return Ok(None);
        };
        let mut starts = Vec::with_capacity(days + 1);
        let mut odd_sizes = HashMap::with_capacity(odd.len());
        let mut entries = Vec::with_capacity(read.len());
        for (i, r) in read.iter().enumerate() {
            while starts.len() <= (r.day - first_day) as usize {
                starts.push(i as u32);
            }
            if let Some(bytes) = odd.get(&r.position) {
                odd_sizes.insert(i as u32, *bytes);
            }
            entries.push(r.entry);
        }
        starts.push(entries.len() as u32);
        Ok(Some(ReadIndex {
            names,
            contracts,
            first_day,
            starts,
            entries,
            odd_sizes,
        }))
    }

    /// The bytes this index holds.
    pub(super) fn heap_bytes(&self) -> usize {
        self.names.iter().map(|n| n.capacity()).sum::<usize>()
            + self.names.capacity() * std::mem::size_of::<String>()
            + self.contracts.capacity() * std::mem::size_of::<Option<Contract>>()
            + self.starts.capacity() * 4
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.odd_sizes.capacity() * (4 + std::mem::size_of::<Option<i64>>())
    }

    /// The entries of `date`, with their positions; none for a day without rows.
    fn day(&self, date: NaiveDate) -> std::ops::Range<usize> {
        let d = i64::from(day_number(date)) - i64::from(self.first_day);
        match usize::try_from(d) {
            Ok(d) if d + 1 < self.starts.len() => {
                self.starts[d] as usize..self.starts[d + 1] as usize
            }
            _ => 0..0,
        }
    }

    fn admits(&self, symbol: u32, contracts: ContractFilter) -> bool {
        match contracts {
            ContractFilter::All => true,
            _ => self.contracts[symbol as usize].is_some_and(|c| contracts.admits(c)),
        }
    }

    /// `Database::snapshot`'s rows for `date`.
    pub(super) fn snapshot(&self, date: NaiveDate, contracts: ContractFilter) -> Vec<SnapshotRow> {
        let range = self.day(date);
        let mut rows = Vec::with_capacity(range.len());
        for i in range {
            let e = self.entries[i];
            if !self.admits(e.symbol, contracts) {
                continue;
            }
            rows.push(SnapshotRow {
                symbol: self.names[e.symbol as usize].clone(),
                file_size_bytes: match e.size {
                    ODD_SIZE => self.odd_sizes.get(&(i as u32)).copied().flatten(),
                    small => Some(i64::from(small)),
                },
                last_modified: match e.modified {
                    NO_TIME => None,
                    micros => DateTime::<Utc>::from_timestamp_micros(micros),
                },
            });
        }
        rows
    }

    /// `Database::range`'s rows for `[start, end]`.
    pub(super) fn range(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        contracts: ContractFilter,
    ) -> Vec<RangeRow> {
        // Per symbol: days with a file, the first and the last (day numbers).
        let mut seen: Vec<(i64, i32, i32)> = vec![(0, i32::MAX, i32::MIN); self.names.len()];
        // Only the days the index has rows for: a range over centuries costs what the history
        // holds, not a step per day asked.
        let last_day = self.first_day + self.starts.len() as i32 - 2;
        for n in day_number(start).max(self.first_day)..=day_number(end).min(last_day) {
            let d = (n - self.first_day) as usize;
            for e in &self.entries[self.starts[d] as usize..self.starts[d + 1] as usize] {
                let s = &mut seen[e.symbol as usize];
                *s = (s.0 + 1, s.1.min(n), s.2.max(n));
            }
        }
        seen.iter()
            .enumerate()
            .filter(|(symbol, s)| s.0 > 0 && self.admits(*symbol as u32, contracts))
            .map(|(symbol, &(days, first, last))| RangeRow {
                symbol: self.names[symbol].clone(),
                days_available: days,
                first_date: from_day_number(first),
                last_date: from_day_number(last),
            })
            .collect()
    }
}

/// The rows with a file of `db`'s market, when at most `MAX_INDEXED_ROWS`: what both read
/// indexes hold (this one and `index_file`'s). `what` names the read in errors.
pub(super) fn indexable_rows(
    db: &Database,
    what: &'static str,
) -> Result<Option<usize>, StoreError> {
    let count: i64 = db
        .conn
        .query_row(
            "SELECT count(*) FROM daily_availability_facts WHERE available",
            [],
            |r| r.get(0),
        )
        .map_err(db.err(what))?;
    Ok(usize::try_from(count)
        .ok()
        .filter(|n| *n <= MAX_INDEXED_ROWS))
}

/// The columns of an Arrow batch of `SELECT symbol, date, file_size_bytes, last_modified`.
pub(super) type FileColumns<'a> = (
    &'a StringArray,
    &'a Date32Array,
    &'a Int64Array,
    &'a TimestampMicrosecondArray,
);

/// A batch's columns as `FileColumns`; the error of a file whose table was changed by something
/// else.
pub(super) fn file_columns(batch: &RecordBatch) -> Result<FileColumns<'_>, duckdb::Error> {
    let columns = (
        batch.column(0).as_any().downcast_ref::<StringArray>(),
        batch.column(1).as_any().downcast_ref::<Date32Array>(),
        batch.column(2).as_any().downcast_ref::<Int64Array>(),
        batch
            .column(3)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>(),
    );
    match columns {
        (Some(symbol), Some(date), Some(size), Some(modified)) => {
            Ok((symbol, date, size, modified))
        }
        _ => Err(super::unexpected_columns(batch)),
    }
}

/// A row as read, before the rows are ordered.
struct Read {
    /// DuckDB's day number.
    day: i32,
    /// Its position in the order read.
    position: u32,
    entry: Entry,
}

/// Days since 1970-01-01, DuckDB's DATE (Arrow's Date32).
fn day_number(date: NaiveDate) -> i32 {
    (date - NaiveDate::default()).num_days() as i32
}

fn from_day_number(n: i32) -> NaiveDate {
    NaiveDate::default() + chrono::Duration::days(i64::from(n))
}

impl Database {
    /// Keeps a read index on this handle (see `store::index`): from the first snapshot or
    /// range on, they are answered from memory (a few µs rather than ~0.45 ms) for as long as
    /// the handle lives. For handles that live long and ask many questions — `serve`'s, a
    /// Python session's; a process that asks one question would pay the index (~0.1 s on the
    /// realistic bucket) for nothing. Only a handle opened read-only (`Database::open`) keeps
    /// one: a writer's rows change under it.
    pub fn keep_read_index(&mut self) {
        self.keep_index = self.opened.is_some();
    }

    /// The bytes this handle's read index holds, once built; `None` before, or when it keeps
    /// none (not asked for, or a file with more than `MAX_INDEXED_ROWS` rows with a file).
    pub fn read_index_bytes(&self) -> Option<usize> {
        self.read_index
            .get()
            .and_then(Option::as_ref)
            .map(|index| index.heap_bytes())
    }

    /// Whether the path this handle was opened on now names another file than the one it
    /// reads (a publish renamed a new one over it), so a long-lived holder should open a new
    /// handle to answer from what is published. One `stat` (~1 µs); `false` for a writer's
    /// handle, and when the path cannot be looked at (the next question says why, if it must).
    pub fn republished(&self) -> bool {
        self.opened
            .is_some_and(|opened| super::Identity::of(&self.path).is_ok_and(|now| now != opened))
    }

    /// `checked_since` and `complete_through`, kept by a handle that keeps a read index: both
    /// go over every known folder (~6 µs of the ~20 µs of an indexed snapshot with 1000
    /// folders), and a read-only handle's folders never change.
    pub(super) fn checked_span(
        &self,
    ) -> Result<(Option<NaiveDate>, Option<NaiveDate>), StoreError> {
        if !self.keep_index {
            return Ok((self.checked_since()?, self.complete_through()?));
        }
        if let Some(span) = self.checked_span.get() {
            return Ok(*span);
        }
        let span = (self.checked_since()?, self.complete_through()?);
        Ok(*self.checked_span.get_or_init(|| span))
    }

    /// The read index, built on first use, when this handle keeps one.
    pub(super) fn read_index(&self) -> Result<Option<&ReadIndex>, StoreError> {
        if !self.keep_index {
            return Ok(None);
        }
        if let Some(index) = self.read_index.get() {
            return Ok(index.as_deref());
        }
        let built = ReadIndex::build(self)?.map(Arc::new);
        Ok(self.read_index.get_or_init(|| built).as_deref())
    }

    /// Hands this handle's read index (built now if need be) to `other`, a handle on the same
    /// file and market that keeps one and has not built its own: `serve`'s handles of one
    /// file hold one index between them rather than one each (12.5 MB each on the realistic
    /// bucket). Whether it was handed over.
    pub fn share_read_index(&self, other: &Database) -> Result<bool, StoreError> {
        let same = self.opened.is_some()
            && self.opened == other.opened
            && self.market == other.market
            && other.keep_index;
        if !same || self.read_index()?.is_none() {
            return Ok(false);
        }
        let shared = self.read_index.get().cloned().flatten();
        Ok(other.read_index.set(shared).is_ok())
    }
}
