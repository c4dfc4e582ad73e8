//! Writes: observed days and symbol bookkeeping in one transaction per batch, through DuckDB's
//! appender. The run log is `runs`.
//!
//! `daily_availability_facts` has no key (ADRs 0010, 0015): that `(date, symbol)` names at most one row is
//! this module's invariant. A batch naming a day twice is refused, and a batch replaces the
//! stored rows of the days it names in the same transaction that inserts them, so a killed
//! write leaves either both or neither.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::params;

use super::schema::STORED_COLUMNS;
use super::{Database, StoreError, date_value, timestamp_value};
use crate::facts::{DayRange, SymbolClass};

/// One observed day of one symbol, as stored in `daily_availability_facts` (and shown by the
/// view `daily_availability`).
#[derive(Debug, Clone, PartialEq)]
pub struct AvailabilityRow {
    /// The day.
    pub date: NaiveDate,
    /// The symbol folder.
    pub symbol: String,
    /// What was seen of its file.
    pub seen: Seen,
    /// When it was seen.
    pub probe_timestamp: DateTime<Utc>,
}

/// What was seen of a day's file. The stored columns `available`, `file_size_bytes` and
/// `last_modified` follow from it (and `status_code` from `available`), so they cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The file exists (listed, or HEAD 200): stored `available`, status 200.
    File {
        /// Its size in bytes.
        size: i64,
        /// When it was last written, if the listing or the HEAD answer said.
        last_modified: Option<DateTime<Utc>>,
    },
    /// Verified absent (listed or probed and not there): stored not `available`, status 404.
    Absent,
}

impl Seen {
    fn available(self) -> bool {
        matches!(self, Seen::File { .. })
    }

    fn size(self) -> Option<i64> {
        match self {
            Seen::File { size, .. } => Some(size),
            Seen::Absent => None,
        }
    }

    fn last_modified(self) -> Option<DateTime<Utc>> {
        match self {
            Seen::File { last_modified, .. } => last_modified,
            Seen::Absent => None,
        }
    }
}

/// What one collection step learnt about a symbol folder. Dates merge with what is stored:
/// first days take the earlier, last days and the checked range the wider.
#[derive(Debug, Clone)]
pub struct SymbolUpdate {
    /// The symbol folder.
    pub symbol: String,
    /// What its name says.
    pub class: SymbolClass,
    /// The first day with a file this step saw.
    pub first_file_date: Option<NaiveDate>,
    /// The last day with a file this step saw.
    pub last_file_date: Option<NaiveDate>,
    /// The days this step looked at completely, if any.
    pub checked: Option<DayRange>,
}

/// Rows and symbol updates that are committed together or not at all.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The observed days.
    pub rows: Vec<AvailabilityRow>,
    /// What was learnt of each folder.
    pub symbols: Vec<SymbolUpdate>,
}

impl Database {
    /// Upserts a batch in one transaction and returns how many rows changed. A row equal to the
    /// stored one (probe time aside) is not rewritten, so re-running a collection changes nothing.
    pub fn write_batch(&mut self, batch: &Batch) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let mut seen = std::collections::HashSet::with_capacity(batch.rows.len());
        if let Some(r) = batch
            .rows
            .iter()
            .find(|r| !seen.insert((r.date, &r.symbol)))
        {
            return Err(StoreError::DuplicateRow {
                path,
                symbol: r.symbol.clone(),
                date: r.date,
            });
        }
        let tx = self
            .conn
            .transaction()
            .map_err(super::failed(&path, "starting a write transaction"))?;
        let mut written = 0;
        let dates = batch.rows.iter().map(|r| r.date);
        let names = batch.rows.iter().map(|r| r.symbol.as_str());
        if let (Some(first), Some(last), Some(low), Some(high)) = (
            dates.clone().min(),
            dates.max(),
            names.clone().min(),
            names.max(),
        ) {
            {
                tx.execute_batch(STAGING)
                    .map_err(super::failed(&path, "preparing the staging table"))?;
                let mut app = tx
                    .appender_to_catalog_and_db("staging", "temp", "main")
                    .map_err(super::failed(&path, "preparing the staging table"))?;
                // Column by column through Arrow: binding values row by row was a quarter of
                // the write time.
                let rows = arrow_rows(&batch.rows)
                    .map_err(|e| duckdb::Error::ToSqlConversionFailure(Box::new(e)))
                    .map_err(super::failed(&path, "preparing rows for the appender"))?;
                app.append_record_batch(rows)
                    .map_err(super::failed(&path, "appending rows"))?;
                app.flush()
                    .map_err(super::failed(&path, "flushing appended rows"))?;
            }
            // Rows equal to the stored ones (probe time aside) are dropped, so that re-running
            // a collection changes nothing; the stored rows of the remaining days are replaced.
            // The bounds let DuckDB skip the row groups of other days (a daily update: the table
            // lies in date order, see `layout`) or of other symbols (a first load, appended
            // symbol by symbol before its sort): without the symbol bounds every batch of a
            // first load compared itself with the whole table, 0.5 s of a 1 M-row load.
            let window = params![date_value(first), date_value(last), low, high];
            tx.execute(
                "DELETE FROM staging s USING daily_availability_facts d
                   WHERE d.date BETWEEN ?1 AND ?2 AND d.symbol BETWEEN ?3 AND ?4
                     AND d.date = s.date AND d.symbol = s.symbol AND d.available = s.available
                     AND d.file_size_bytes IS NOT DISTINCT FROM s.file_size_bytes
                     AND d.last_modified IS NOT DISTINCT FROM s.last_modified",
                window,
            )
            .map_err(super::failed(&path, "comparing with stored rows"))?;
            tx.execute(
                "DELETE FROM daily_availability_facts d USING staging s
                   WHERE d.date BETWEEN ?1 AND ?2 AND d.symbol BETWEEN ?3 AND ?4
                     AND d.date = s.date AND d.symbol = s.symbol",
                window,
            )
            .map_err(super::failed(&path, "replacing stored rows"))?;
            written = tx
                .execute(
                    &format!(
                        "INSERT INTO daily_availability_facts ({STORED_COLUMNS}) SELECT * FROM staging"
                    ),
                    [],
                )
                .map_err(super::failed(&path, "inserting rows"))?;
            // Dropped, not emptied: a temporary table lives in memory, and the row groups of
            // deleted rows stay allocated until the table goes, ~2 MB a batch.
            tx.execute_batch("DROP TABLE staging")
                .map_err(super::failed(&path, "clearing the staging table"))?;
            if written > 0 {
                Database::mark_unsorted(&tx, first)
                    .map_err(super::failed(&path, "recording the layout"))?;
                // Rows were replaced or added (and only then: each row deleted above is
                // inserted again), so the stored lives index no longer describes the facts.
                super::lives_index::forget(&tx)
                    .map_err(super::failed(&path, "marking the lives index out of date"))?;
            }
        }
        // One statement for all symbols: DuckDB pays milliseconds per statement inside a large
        // transaction, which row-at-a-time upserts multiplied by the batch's symbols.
        {
            let mut app = staging(&tx, "symbol_staging", "symbols")
                .map_err(super::failed(&path, "preparing the symbol staging table"))?;
            let now = timestamp_value(Utc::now());
            for s in &batch.symbols {
                app.append_row(params![
                    s.symbol,
                    s.class.contract.as_str(),
                    s.class.quote_asset,
                    s.class.settled,
                    s.class.delivery_date.map(date_value),
                    s.first_file_date.map(date_value),
                    s.last_file_date.map(date_value),
                    s.checked.map(|c| date_value(c.first())),
                    s.checked.map(|c| date_value(c.last())),
                    now,
                ])
                .map_err(super::failed(&path, "appending symbols"))?;
            }
            app.flush()
                .map_err(super::failed(&path, "flushing appended symbols"))?;
        }
        tx.execute_batch(
            "INSERT INTO symbols
               SELECT symbol, any_value(contract_type), any_value(quote_asset), any_value(settled),
                      any_value(delivery_date), min(first_file_date), max(last_file_date),
                      min(checked_from), max(checked_through), min(discovered_at)
               FROM symbol_staging GROUP BY symbol
               ON CONFLICT (symbol) DO UPDATE SET
                 first_file_date = least(symbols.first_file_date, excluded.first_file_date),
                 last_file_date = greatest(symbols.last_file_date, excluded.last_file_date),
                 checked_from = least(symbols.checked_from, excluded.checked_from),
                 checked_through = greatest(symbols.checked_through, excluded.checked_through);
             DROP TABLE symbol_staging;",
        )
        .map_err(super::failed(&path, "upserting symbols"))?;
        tx.commit()
            .map_err(super::failed(&path, "committing a batch"))?;
        self.committed_batches += 1;
        self.checkpoint_if_grown()?;
        self.known_symbols.take();
        self.lives.take();
        self.split.take();
        Ok(written as u64)
    }
}

/// The rows of a batch before they are compared and inserted, in `STORED_COLUMNS` order. Batches
/// drop it when they commit (and a rolled-back batch leaves nothing either).
const STAGING: &str = "CREATE TEMP TABLE IF NOT EXISTS staging (
    date DATE, symbol VARCHAR, available BOOLEAN, file_size_bytes BIGINT,
    last_modified TIMESTAMP, probe_timestamp TIMESTAMP)";

/// An appender into the temporary table `table`, shaped like `like` and created on first use.
/// Batches drop it when they commit (and a rolled-back batch leaves nothing either).
fn staging<'a>(
    tx: &'a duckdb::Transaction,
    table: &str,
    like: &str,
) -> duckdb::Result<duckdb::Appender<'a>> {
    tx.execute_batch(&format!(
        "CREATE TEMP TABLE IF NOT EXISTS {table} AS SELECT * FROM {like} LIMIT 0"
    ))?;
    tx.appender_to_catalog_and_db(table, "temp", "main")
}

/// The rows as one Arrow batch, in `STORED_COLUMNS` order.
fn arrow_rows(rows: &[AvailabilityRow]) -> Result<RecordBatch, ArrowError> {
    let epoch = NaiveDate::default();
    let columns: [(&str, ArrayRef); 6] = [
        (
            "date",
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| (r.date - epoch).num_days() as i32),
            )),
        ),
        (
            "symbol",
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.symbol.as_str()),
            )),
        ),
        (
            "available",
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| Some(r.seen.available())),
            )),
        ),
        (
            "file_size_bytes",
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.seen.size()))),
        ),
        (
            "last_modified",
            Arc::new(TimestampMicrosecondArray::from_iter(
                rows.iter()
                    .map(|r| r.seen.last_modified().map(|t| t.timestamp_micros())),
            )),
        ),
        (
            "probe_timestamp",
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|r| r.probe_timestamp.timestamp_micros()),
            )),
        ),
    ];
    RecordBatch::try_from_iter(columns)
}
