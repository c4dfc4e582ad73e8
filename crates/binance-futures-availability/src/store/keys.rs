//! `daily_availability`'s primary key and two indexes — the original's, kept so that its SQL and
//! tools see the same table — set aside while a first load fills the empty table, and built
//! before the file is published.
//!
//! DuckDB keeps an index it is writing in memory and cannot spill it, while bare rows spill to
//! disk under a memory limit. A full-history backfill into the keyed table peaked at ~330 MB;
//! into the bare table under a 96 MB limit, with the keys built afterwards one at a time, it
//! peaks under 200 MB and takes about as long (ADR 0008, BENCHMARKS.md). Later runs write a few
//! thousand rows into the keyed table, which costs little.
//!
//! Whether the keys are deferred is read from the catalog, not remembered: a run killed during a
//! load leaves a copy without them, and the run that resumes it loads in bulk too.

use duckdb::params;

use super::{Database, StoreError, schema::UNKEYED_DAILY_TABLE};

/// One of the keys: how to see it in the catalog, and how to build it.
pub(super) struct Key {
    present: &'static str,
    pub(super) build: &'static str,
}

/// In build order: the primary key first, because without it the table is still loading.
pub(super) const KEYS: [Key; 3] = [
    Key {
        present: "SELECT count(*) > 0 FROM duckdb_constraints()
                  WHERE table_name = 'daily_availability' AND constraint_type = 'PRIMARY KEY'",
        // Added after the columns, the key is the same in the catalog as one declared with them
        // (`duckdb_constraints()`: `PRIMARY KEY(date, symbol)`).
        build: "ALTER TABLE daily_availability ADD PRIMARY KEY (date, symbol);",
    },
    Key {
        present: "SELECT count(*) > 0 FROM duckdb_indexes() WHERE index_name = 'idx_symbol_date'",
        build: "CREATE INDEX idx_symbol_date ON daily_availability (symbol, date);",
    },
    Key {
        present: "SELECT count(*) > 0 FROM duckdb_indexes() WHERE index_name = 'idx_available_date'",
        build: "CREATE INDEX idx_available_date ON daily_availability (available, date);",
    },
];

/// What DuckDB may hold while loading in bulk; beyond it, rows and sorts spill to `<copy>.tmp`.
const BULK_MEMORY_MB: u64 = 96;

/// Building a key needs its whole index in memory (~75 bytes a row for the primary key,
/// measured on 943k rows); the limit grows with the table, with room to spare, so that a load
/// never fails for memory as the history grows.
const KEY_BUILD_BYTES_PER_ROW: u64 = 128;

impl Database {
    /// Loads in bulk when `daily_availability` is empty, or when a stopped load left it without
    /// its primary key: the key and indexes wait for the next `refresh`, and DuckDB's memory is
    /// bounded. Returns whether this handle loads in bulk.
    pub fn defer_keys(&mut self) -> Result<bool, StoreError> {
        let path = self.path.clone();
        if self.has_key(&KEYS[0])? {
            let empty: bool = self
                .conn
                .query_row(
                    "SELECT NOT EXISTS (SELECT 1 FROM daily_availability)",
                    [],
                    |r| r.get(0),
                )
                .map_err(super::failed(&path, "counting rows"))?;
            if !empty {
                return Ok(false);
            }
            // DuckDB cannot drop a primary key; the table is empty, so recreate it without
            // (its indexes go with it).
            let set_aside = |conn: &mut duckdb::Connection| -> duckdb::Result<()> {
                let tx = conn.transaction()?;
                tx.execute_batch(&format!(
                    "DROP TABLE daily_availability; {UNKEYED_DAILY_TABLE}"
                ))?;
                tx.commit()
            };
            set_aside(&mut self.conn).map_err(super::failed(
                &path,
                "setting the keys aside for a bulk load",
            ))?;
        }
        self.conn
            .execute_batch(&format!("SET memory_limit = '{BULK_MEMORY_MB}MB'"))
            .map_err(super::failed(&path, "limiting memory for a bulk load"))?;
        Ok(true)
    }

    /// Builds the keys `defer_keys` set aside (or a killed build left undone), one at a time,
    /// each checkpointed so that DuckDB may evict it while building the next.
    pub(super) fn build_missing_keys(&mut self) -> Result<(), StoreError> {
        let mut missing = Vec::new();
        for key in &KEYS {
            if !self.has_key(key)? {
                missing.push(key);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let rows: i64 = self
            .conn
            .query_row("SELECT count(*) FROM daily_availability", [], |r| r.get(0))
            .map_err(super::failed(&path, "counting rows"))?;
        let limit_mb = ((rows as u64 * KEY_BUILD_BYTES_PER_ROW) >> 20).max(BULK_MEMORY_MB);
        // The rows go to disk first, so that the buffers holding them can make room for the
        // index; one thread, because each thread builds its own part of the index in memory.
        let started = std::time::Instant::now();
        self.conn
            .execute_batch(&format!(
                "CHECKPOINT; SET memory_limit = '{limit_mb}MB'; SET threads = 1;"
            ))
            .map_err(super::failed(&path, "preparing to build the keys"))?;
        tracing::debug!("checkpointed the rows in {:.2?}", started.elapsed());
        for key in missing {
            let started = std::time::Instant::now();
            self.conn
                .execute_batch(key.build)
                .and_then(|_| self.conn.execute_batch("CHECKPOINT"))
                .map_err(super::failed(&path, "building daily_availability's keys"))?;
            tracing::debug!(
                "{} over {rows} rows in {:.2?}",
                key.build.trim_end_matches(';'),
                started.elapsed()
            );
        }
        self.conn
            .execute_batch("RESET memory_limit; RESET threads;")
            .map_err(super::failed(&path, "ending the key build"))
    }

    fn has_key(&self, key: &Key) -> Result<bool, StoreError> {
        self.conn
            .query_row(key.present, params![], |r| r.get(0))
            .map_err(self.err("reading the catalog"))
    }
}
