//! `day_files`: the days with a file, sorted by date, with each symbol's contract type — the
//! layout the day-shaped questions (snapshot, range, daily counts) want. `daily_availability`
//! stays the source of truth in the original's shape; rows arrive there symbol by symbol, so a
//! question about one day would scan every row group, while here DuckDB's zone maps skip all but
//! the few holding that day.
//!
//! Every batch records the earliest day it wrote in `derived_state.dirty_from`, in the same
//! transaction; `refresh` rebuilds `day_files` from that day on and clears the mark. Writers
//! refresh before publishing (`WriteSession::publish`), so published files are fresh; a file
//! whose mark is set (written through the library without a refresh) is answered from
//! `daily_availability` instead — slower, never wrong.

use chrono::NaiveDate;
use duckdb::params;

use super::{Database, StoreError, date_value};

impl Database {
    /// Whether `day_files` matches `daily_availability`.
    pub(super) fn read_freshness(&mut self) -> Result<(), StoreError> {
        let dirty: Option<NaiveDate> = self
            .conn
            .query_row("SELECT dirty_from FROM derived_state", [], |r| r.get(0))
            .map_err(self.err("reading derived_state"))?;
        self.derived_fresh = dirty.is_none();
        Ok(())
    }

    /// Marks `day_files` stale from `from` on; called inside the batch's transaction.
    pub(super) fn mark_dirty(tx: &duckdb::Transaction, from: NaiveDate) -> duckdb::Result<()> {
        tx.execute(
            "UPDATE derived_state SET dirty_from = least(coalesce(dirty_from, ?1), ?1)",
            params![date_value(from)],
        )
        .map(|_| ())
    }

    /// Brings what is derived from the written rows up to date: `day_files`, and the keys a bulk
    /// load set aside (see `keys`). Writers call it before publishing.
    pub fn refresh(&mut self) -> Result<(), StoreError> {
        self.refresh_day_files()?;
        self.build_missing_keys()
    }

    /// Rebuilds `day_files` from the earliest day written since the last refresh, in one
    /// transaction. A daily update rewrites only its last weeks, which stay at the end of the
    /// table, so the whole table remains sorted by date.
    fn refresh_day_files(&mut self) -> Result<(), StoreError> {
        self.read_freshness()?;
        if self.derived_fresh {
            return Ok(());
        }
        let path = self.path.clone();
        let started = std::time::Instant::now();
        let tx = self
            .conn
            .transaction()
            .map_err(super::failed(&path, "starting the refresh"))?;
        tx.execute_batch(
            "DELETE FROM day_files WHERE date >= (SELECT dirty_from FROM derived_state);
             INSERT INTO day_files
               SELECT d.date, d.symbol, d.file_size_bytes, d.last_modified, s.contract_type
               FROM daily_availability d JOIN symbols s USING (symbol)
               WHERE d.available AND d.date >= (SELECT dirty_from FROM derived_state)
               ORDER BY d.date, d.symbol;
             UPDATE derived_state SET dirty_from = NULL;",
        )
        .map_err(super::failed(&path, "refreshing day_files"))?;
        tx.commit()
            .map_err(super::failed(&path, "committing the refresh"))?;
        tracing::debug!("refreshed day_files in {:.2?}", started.elapsed());
        self.derived_fresh = true;
        Ok(())
    }
}
