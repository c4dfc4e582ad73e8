//! The lives index stored in the file (schema 7): every symbol's runs of verified-absent days
//! and runs of trading days — what `lives` decides events, lives and universes from — written
//! at publish, so that a fresh handle reads them (1,331 rows on the realistic database) instead
//! of rebuilding them with two window queries over every availability and trading row: a first
//! universe there costs 16 ms instead of 375 ms, a `query universe` process 44 ms instead of
//! 310 ms (BENCHMARKS.md, session 16); the build costs the publish ~0.35 s.
//!
//! Why a stored index never states a stale fact:
//! - It is one SQL statement's result (`runs_sql`), the same statement a reader runs when no
//!   index is stored: stored or rebuilt, the rows are the same function of the facts.
//! - `lives_built` holds a row only while `lives_runs` describes the facts as they are. Every
//!   transaction that writes availability or trading rows (`write_batch`, `write_trading`)
//!   empties it in that same transaction (`forget`), so no committed state has changed facts
//!   beside a row in `lives_built`; the rebuild at publish (`build`) fills `lives_runs` and puts
//!   the row back in one transaction of its own, before the copy is closed and renamed into
//!   place. A reader sees a published file, which never changes under it.
//! - A reader uses the stored runs only when `lives_built` has a row, and otherwise rebuilds
//!   (a copy a library user wrote without publishing, a file migrated but not yet published).
//! - Schema 7 keeps binaries that do not know the index (schema 6) from writing the file
//!   (`TooNew`): they would change the facts and leave the index standing. A schema 6 file has
//!   no index and is read as before, by a rebuild; its first write migrates it.
//!
//! This module knows the tables and the statement; what the runs mean is `lives`'s.

use chrono::NaiveDate;

use super::{Database, StoreError, lives::Lives};

/// The index's tables, in a market's schema (the connection's current one): the runs, and the
/// row that says they describe the facts.
pub(super) const TABLES: &str = "CREATE TABLE IF NOT EXISTS lives_runs (
    symbol VARCHAR NOT NULL,
    traded BOOLEAN NOT NULL,
    first_day DATE,
    last_day DATE
);
CREATE TABLE IF NOT EXISTS lives_built (built_at TIMESTAMP NOT NULL);";

/// Every symbol's runs, from the facts in the tables `prefix` names (`""` for the
/// connection's schema, `"cm."`): `(symbol, false, first, last)` for each run of consecutive
/// verified-absent days; `(symbol, true, first, last)` for each run of consecutive days with
/// trades, and `(symbol, true, NULL, NULL)` for each run without (so that a symbol with trading
/// rows but no trade is told from one whose trades were never collected). Window functions and
/// a grouping, which DuckDB spills to disk past its memory limit: bounded at any row count.
pub(super) fn runs_sql(prefix: &str) -> String {
    format!(
        "SELECT symbol, false, min(date), max(date) FROM (
             SELECT symbol, date,
                    date - CAST(row_number() OVER (PARTITION BY symbol ORDER BY date) AS INTEGER) AS run
               FROM {prefix}daily_availability_facts WHERE NOT available)
          GROUP BY symbol, run
         UNION ALL
         SELECT symbol, true, min(date) FILTER (WHERE trades > 0), max(date) FILTER (WHERE trades > 0)
           FROM (SELECT symbol, date, trades,
                        date - CAST(row_number() OVER (PARTITION BY symbol, trades > 0 ORDER BY date) AS INTEGER) AS run
                   FROM {prefix}daily_trading)
          GROUP BY symbol, trades > 0, run"
    )
}

/// One row of `runs_sql`.
type Run = (String, bool, Option<NaiveDate>, Option<NaiveDate>);

/// Empties `lives_built` of the connection's market, in the transaction `tx` that writes its
/// facts (see the module doc).
pub(super) fn forget(tx: &duckdb::Transaction<'_>) -> duckdb::Result<()> {
    tx.execute_batch("DELETE FROM lives_built")
}

impl Database {
    /// The runs of the handle's market: stored when the file holds an index that describes its
    /// facts, rebuilt from the facts otherwise (see the module doc).
    pub(super) fn lives_runs(&self) -> Result<Lives, StoreError> {
        let stored = self.stored_lives
            && self
                .conn
                .query_row("SELECT count(*) > 0 FROM lives_built", [], |r| r.get(0))
                .map_err(self.err("reading whether the lives index is built"))?;
        let map = |r: &duckdb::Row| -> duckdb::Result<Run> {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        };
        let runs = if stored {
            self.rows(
                "SELECT symbol, traded, first_day, last_day FROM lives_runs",
                [],
                "reading the lives index",
                map,
            )?
        } else {
            self.rows(&runs_sql(""), [], "finding gaps and trading days", map)?
        };
        Ok(super::lives::from_runs(runs))
    }

    /// Builds the lives index of every kept market whose index does not describe its facts
    /// (see the module doc); called before a copy is published. Returns the markets built.
    pub(super) fn build_lives(&mut self) -> Result<usize, StoreError> {
        let mut built = 0;
        for market in super::KEPT_MARKETS {
            let Some(schema) = super::schema::schema_of(market) else {
                continue;
            };
            let schema = self.qualified(schema)?;
            let started = std::time::Instant::now();
            let fresh: bool = self
                .conn
                .query_row(
                    &format!("SELECT count(*) > 0 FROM {schema}.lives_built"),
                    [],
                    |r| r.get(0),
                )
                .map_err(self.err("reading whether the lives index is built"))?;
            if fresh {
                continue;
            }
            let path = self.path.clone();
            let tx = self
                .conn
                .transaction()
                .map_err(super::failed(&path, "starting to build the lives index"))?;
            tx.execute_batch(&format!(
                "DELETE FROM {schema}.lives_runs;
                 INSERT INTO {schema}.lives_runs {runs};",
                runs = runs_sql(&format!("{schema}."))
            ))
            .and_then(|()| {
                tx.execute(
                    &format!("INSERT INTO {schema}.lives_built VALUES (?)"),
                    [super::timestamp_value(chrono::Utc::now())],
                )
            })
            .and_then(|_| tx.commit())
            .map_err(super::failed(&path, "building the lives index"))?;
            built += 1;
            tracing::debug!(%market, "built the lives index in {:.2?}", started.elapsed());
        }
        Ok(built)
    }
}
