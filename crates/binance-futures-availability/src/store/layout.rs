//! How the rows lie in the file, so that both shapes of question read little of it. DuckDB
//! keeps a min and max of every column per row group (~123k rows) and skips row groups a filter
//! excludes; it has no other access path worth having here (the v2 indexes were never used and
//! were 90 % of the file, ADR 0010).
//!
//! - `daily_availability_facts` (the rows of the view `daily_availability`) lies in date order:
//!   a snapshot or a month's range reads one or two row groups of the full history's eight.
//! - `symbol_days(symbol, date, available, file_size_bytes)` holds the days before
//!   `layout.split` in symbol order, for timelines (~3 bytes a row: no timestamps, symbol
//!   run-length encoded). A timeline reads it and the days from `split` on in
//!   `daily_availability_facts`, which lie in its last row group or two.
//!
//! A daily update writes its last few weeks, which land at the end of the table and after
//! `split`, so neither needs work. Every batch records the earliest day it wrote in
//! `layout.unsorted_from` (in the batch's transaction, so a killed run's copy still knows), and
//! a writer about to publish calls [`Database::tidy`]: writes reaching more than
//! [`SORT_SLACK_DAYS`] back (a first load, a backfill of old history) re-sort the table, and
//! writes before `split`, or a `split` lagging the newest day by more than twice the slack,
//! rebuild the companion. This module knows nothing of what the rows mean.

use chrono::{Duration, NaiveDate};
use duckdb::params;

use super::schema::{SYMBOL_DAYS, facts_table};
use super::{Database, StoreError, date_value};

/// How far back from the newest day a write may reach and still be left where it was appended:
/// twice the default lookback (20 days), so that a daily update never pays for a re-sort or a
/// rebuild (each ~0.5 s for 1 M rows), while a timeline reads at most ~80 days from the table.
pub const SORT_SLACK_DAYS: i64 = 40;

/// What `tidy` has to do, decided from the marks alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Work {
    sort: bool,
    /// Rebuild the companion with the days before this one.
    split: Option<NaiveDate>,
}

/// The work for rows written from `unsorted_from` on, a companion holding the days before
/// `split`, and `newest` the newest day stored.
fn work(
    unsorted_from: Option<NaiveDate>,
    split: Option<NaiveDate>,
    newest: Option<NaiveDate>,
) -> Work {
    let Some(newest) = newest else {
        return Work {
            sort: false,
            split: None,
        };
    };
    let slack = Duration::days(SORT_SLACK_DAYS);
    let wanted = newest - slack;
    let sort = unsorted_from.is_some_and(|u| u < wanted);
    let stale = unsorted_from.is_some_and(|u| split.is_none_or(|s| u < s))
        || split.is_none_or(|s| s < wanted - slack);
    Work {
        sort,
        split: stale.then_some(wanted),
    }
}

impl Database {
    /// Records that rows from `from` on were written; called inside the batch's transaction.
    pub(super) fn mark_unsorted(tx: &duckdb::Transaction, from: NaiveDate) -> duckdb::Result<()> {
        tx.execute(
            "UPDATE layout SET unsorted_from = least(coalesce(unsorted_from, ?1), ?1)",
            params![date_value(from)],
        )
        .map(|_| ())
    }

    /// The day from which timelines read `daily_availability_facts` rather than `symbol_days`: the
    /// split, unless rows before it were written since the companion was built (a library
    /// user who has not called `tidy` yet) — then every day is read from the table, slower
    /// and right.
    pub(super) fn split(&self) -> Result<NaiveDate, StoreError> {
        // Read once per handle, like the symbols: a published file never changes under a
        // reader, and this handle's own `write_batch` and `tidy` clear it.
        if let Some(split) = self.split.get() {
            return Ok(*split);
        }
        let split: Option<NaiveDate> = self
            .conn
            .query_row(
                "SELECT CASE WHEN unsorted_from < split THEN NULL ELSE split END FROM layout",
                [],
                |r| r.get(0),
            )
            .map_err(self.err("reading the layout"))?;
        Ok(*self.split.get_or_init(|| split.unwrap_or(NaiveDate::MIN)))
    }

    /// What the writes since the last `tidy` require (see the module doc), from the marks in
    /// the file and, for the trading rows, in this handle.
    pub(super) fn layout_plan(&self) -> Result<Plan, StoreError> {
        let (unsorted_from, split, newest, newest_trading): (
            Option<NaiveDate>,
            Option<NaiveDate>,
            Option<NaiveDate>,
            Option<NaiveDate>,
        ) = self
            .conn
            .query_row(
                "SELECT unsorted_from, split, (SELECT max(date) FROM daily_availability_facts),
                        (SELECT max(date) FROM daily_trading)
                   FROM layout",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(self.err("reading the layout"))?;
        Ok(Plan {
            schema: self.schema,
            facts: work(unsorted_from, split, newest),
            sort_trading: self.trading_unsorted_from.is_some_and(|from| {
                newest_trading.is_some_and(|n| from < n - Duration::days(SORT_SLACK_DAYS))
            }),
            // With no rows yet the mark stays: the first load still has everything to do.
            clear_mark: unsorted_from.is_some() && newest.is_some(),
        })
    }

    /// Re-sorts the rows and rebuilds the timeline companion where the writes since the last
    /// call require it (see the module doc), in place: new tables filled in bounded chunks,
    /// swapped in by one transaction. The old and new tables lie in the file together until
    /// the swap, so a sort of everything needs about twice the file; `WriteSession::publish`
    /// instead makes its sorts while it rewrites the copy compact (`Plan::copy_into`).
    pub fn tidy(&mut self) -> Result<(), StoreError> {
        let plan = self.layout_plan()?;
        self.tidy_in_place(plan)
    }

    /// Carries out `plan` inside this file (see `tidy`).
    pub(super) fn tidy_in_place(&mut self, plan: Plan) -> Result<(), StoreError> {
        if plan.is_nothing() {
            self.trading_unsorted_from = None;
            return Ok(());
        }
        let path = self.path.clone();
        let started = std::time::Instant::now();
        let limit = self.memory.sort_chunk_rows();
        // The new tables are filled a bounded chunk at a time, each chunk committed and
        // checkpointed on its own (one transaction around all of them ran out of a 16 MB limit
        // at 780k rows), and only swapped in by the transaction below: a run stopped before it
        // leaves the tables as they were, and the next `tidy` starts the copies over.
        if plan.sorts() {
            // Committed rows not yet checkpointed stay in DuckDB's memory, and sorting 7.6 M
            // of them ran out of a 48 MB limit ("failed to pin block") where the same sort of
            // checkpointed rows did not.
            self.conn
                .execute_batch("CHECKPOINT")
                .map_err(super::failed(&path, "checkpointing before sorting"))?;
        }
        // (wanted, the new table's CREATE, read from, written to, the name it takes, order)
        let split = plan.facts.split;
        let copies = [
            (
                plan.facts.sort,
                facts_table("daily_availability_sorted"),
                "daily_availability_facts",
                "daily_availability_sorted",
                "daily_availability_facts",
                Chunking::ByDate,
            ),
            (
                plan.sort_trading,
                super::trading::SORTED_TRADING.to_owned(),
                "daily_trading",
                "daily_trading_sorted",
                "daily_trading",
                Chunking::ByDate,
            ),
            (
                split.is_some(),
                SYMBOL_DAYS.replacen("symbol_days", "symbol_days_new", 1),
                "daily_availability_facts",
                "symbol_days_new",
                "symbol_days",
                Chunking::BySymbolBefore(split.unwrap_or(NaiveDate::MIN)),
            ),
        ];
        let copies = copies.iter().filter(|c| c.0);
        for (_, create, from, to, _, how) in copies.clone() {
            self.conn
                .execute_batch(&create.replacen("CREATE TABLE", "CREATE OR REPLACE TABLE", 1))
                .and_then(|()| copy_in_chunks(&self.conn, from, to, *how, limit, "CHECKPOINT"))
                .map_err(super::failed(&path, "laying out the rows"))?;
        }
        let tx = self
            .conn
            .transaction()
            .map_err(super::failed(&path, "starting to lay out the rows"))?;
        // The view `daily_availability` names the table and is bound when read, so it reads
        // the sorted table once that has the name.
        for (_, _, _, new, name, _) in copies {
            tx.execute_batch(&format!(
                "DROP TABLE {name}; ALTER TABLE {new} RENAME TO {name};"
            ))
            .map_err(super::failed(&path, "laying out the rows"))?;
        }
        plan.record(&tx, "")
            .map_err(super::failed(&path, "recording the layout"))?;
        tx.commit()
            .map_err(super::failed(&path, "committing the layout"))?;
        self.split.take();
        self.trading_unsorted_from = None;
        tracing::debug!(?plan, "laid out the rows in {:.2?}", started.elapsed());
        Ok(())
    }
}

/// Everything a copy needs before it is published, decided from the marks alone: the
/// availability table's `Work`, and whether the trading rows are re-sorted by date — when this
/// handle's trading writes reached more than `SORT_SLACK_DAYS` before the newest day (a
/// backfill): a universe then reads the row groups of its window only (~1 of 7 for 6 years)
/// instead of all. The trading mark lives in the handle: a run killed before publishing leaves
/// the table unsorted until the next long write, which is slower, not wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    /// The schema of the market whose tables the writes touched (one market per handle at a
    /// time: `select_market` lays out before it switches).
    schema: &'static str,
    facts: Work,
    sort_trading: bool,
    clear_mark: bool,
}

impl Plan {
    fn is_nothing(&self) -> bool {
        !self.sorts() && self.facts.split.is_none() && !self.clear_mark
    }

    /// Whether a whole table is re-sorted: a first load or a backfill of old history.
    pub(super) fn sorts(&self) -> bool {
        self.facts.sort || self.sort_trading
    }

    /// Records the new layout in the `layout` row `prefix` names ("" for the connection's
    /// current schema, `"compacted.cm."` for a schema of an attached database).
    fn record(&self, tx: &duckdb::Connection, prefix: &str) -> duckdb::Result<()> {
        if let Some(split) = self.facts.split {
            tx.execute(
                &format!("UPDATE {prefix}layout SET split = ?1"),
                params![date_value(split)],
            )?;
        }
        if self.clear_mark {
            tx.execute_batch(&format!("UPDATE {prefix}layout SET unsorted_from = NULL"))?;
        }
        Ok(())
    }

    /// Fills the database attached as `dest`, which holds this file's schema and no rows
    /// (`COPY FROM DATABASE … (SCHEMA)`), with every table of the connection's own, laid out
    /// as the plan says: the sorted tables in date order and the companion rebuilt, each a
    /// bounded chunk per statement with `dest` checkpointed after each, the rest copied as
    /// they are. The unsorted tables are never copied beside themselves inside one file, so
    /// a first load's disk peak is the unsorted copy plus the result (issue 24, point 15: it was
    /// the copy, its sorted tables and the result, 2.8× the result).
    pub(super) fn copy_into(
        &self,
        conn: &duckdb::Connection,
        dest: &str,
        memory: super::MemoryLimit,
    ) -> duckdb::Result<()> {
        let limit = memory.sort_chunk_rows();
        let checkpoint = format!("CHECKPOINT {dest}");
        let tables: Vec<(String, String)> = conn
            .prepare(
                "SELECT schema_name, table_name FROM duckdb_tables()
                  WHERE database_name = current_database()
                  ORDER BY schema_name, table_name",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<duckdb::Result<_>>()?;
        // The names are the file's own: quoted, whatever they are, and qualified by the
        // file's catalog, which DuckDB names after the file: in `spot.duckdb`, `"spot"."symbols"`
        // is ambiguous between the catalog `spot` and the schema `spot`.
        let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
        let catalog: String = conn.query_row("SELECT current_database()", [], |r| r.get(0))?;
        let catalog = quote(&catalog);
        for (schema, table) in &tables {
            let from = format!("{catalog}.{}.{}", quote(schema), quote(table));
            let to = format!("{dest}.{}.{}", quote(schema), quote(table));
            let ours = schema == self.schema;
            let sorted = ours
                && match table.as_str() {
                    "daily_availability_facts" => self.facts.sort,
                    "daily_trading" => self.sort_trading,
                    _ => false,
                };
            if sorted {
                copy_in_chunks(conn, &from, &to, Chunking::ByDate, limit, &checkpoint)?;
            } else if ours
                && table == "symbol_days"
                && let Some(split) = self.facts.split
            {
                copy_in_chunks(
                    conn,
                    &format!("{catalog}.{}.daily_availability_facts", quote(schema)),
                    &to,
                    Chunking::BySymbolBefore(split),
                    limit,
                    &checkpoint,
                )?;
            } else {
                conn.execute_batch(&format!("INSERT INTO {to} SELECT * FROM {from}"))?;
                conn.execute_batch(&checkpoint)?;
            }
        }
        self.record(conn, &format!("{dest}.{}.", self.schema))?;
        conn.execute_batch(&checkpoint)
    }
}

/// How `copy_in_chunks` orders the rows and cuts them into chunks.
#[derive(Debug, Clone, Copy)]
enum Chunking {
    /// All rows, by `(date, symbol)`, a run of days at a time.
    ByDate,
    /// The rows before the day, by `(symbol, date)`, a run of symbols at a time; the columns
    /// of `symbol_days`.
    BySymbolBefore(NaiveDate),
}

/// Copies the table `from` into the existing table `to` (of this database or an attached one)
/// in the order `how` says, one chunk of at most `limit` rows per statement, each followed by
/// `checkpoint`: no statement sorts more than a chunk, and committed rows do not pile up in
/// memory (issue 24: every write path bounded at 10× today's rows). A chunk costs one scan of
/// `from`, filtered (~30 ms per 7.6 M rows).
fn copy_in_chunks(
    conn: &duckdb::Connection,
    from: &str,
    to: &str,
    how: Chunking,
    limit: i64,
    checkpoint: &str,
) -> duckdb::Result<()> {
    match how {
        Chunking::ByDate => {
            let counts: Vec<(NaiveDate, i64)> = conn
                .prepare(&format!(
                    "SELECT date, count(*) FROM {from} GROUP BY date ORDER BY date"
                ))?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<duckdb::Result<_>>()?;
            for (first, last) in chunks(counts, limit) {
                conn.execute(
                    &format!(
                        "INSERT INTO {to} SELECT * FROM {from} WHERE date BETWEEN ?1 AND ?2
                          ORDER BY date, symbol"
                    ),
                    params![date_value(first), date_value(last)],
                )?;
                conn.execute_batch(checkpoint)?;
            }
        }
        Chunking::BySymbolBefore(split) => {
            let counts: Vec<(String, i64)> = conn
                .prepare(&format!(
                    "SELECT symbol, count(*) FROM {from} WHERE date < ?1
                      GROUP BY symbol ORDER BY symbol"
                ))?
                .query_map(params![date_value(split)], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<duckdb::Result<_>>()?;
            for (low, high) in chunks(counts, limit) {
                conn.execute(
                    &format!(
                        "INSERT INTO {to}
                           SELECT symbol, date, available, file_size_bytes FROM {from}
                            WHERE date < ?1 AND symbol BETWEEN ?2 AND ?3
                            ORDER BY symbol, date"
                    ),
                    params![date_value(split), low, high],
                )?;
                conn.execute_batch(checkpoint)?;
            }
        }
    }
    Ok(())
}

/// Consecutive runs of `counts`' keys (in order) whose counts sum to at most `limit`, as the
/// first and last key of each; a key above `limit` alone is a run of its own.
pub(super) fn chunks<K: Clone>(counts: Vec<(K, i64)>, limit: i64) -> Vec<(K, K)> {
    let mut runs: Vec<(K, K)> = Vec::new();
    let mut current: Option<(K, K, i64)> = None;
    for (key, n) in counts {
        current = match current {
            Some((first, _, sum)) if sum + n <= limit => Some((first, key, sum + n)),
            Some((first, last, _)) => {
                runs.push((first, last));
                Some((key.clone(), key, n))
            }
            None => Some((key.clone(), key, n)),
        };
    }
    runs.extend(current.map(|(first, last, _)| (first, last)));
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    #[test]
    fn chunks_are_consecutive_and_within_the_limit_unless_one_key_is_over_it() {
        let counts = vec![("a", 3), ("b", 4), ("c", 9), ("d", 1), ("e", 2), ("f", 5)];
        assert_eq!(
            chunks(counts, 7),
            vec![("a", "b"), ("c", "c"), ("d", "e"), ("f", "f")]
        );
        assert!(chunks(Vec::<(&str, i64)>::new(), 7).is_empty());
    }

    #[test]
    fn only_writes_far_back_or_a_lagging_split_cost_work() {
        let newest = d("2026-11-24");
        let wanted = d("2026-10-15");
        let none = Work {
            sort: false,
            split: None,
        };
        let cases = [
            // A daily update: its 20 days lie after the split and near the end.
            (d("2026-11-04"), d("2026-10-10"), none),
            // Nothing written, split recent enough.
            (None, d("2026-09-10"), none),
            // Nothing written, but the split lags by more than twice the slack: rebuild only.
            (
                None,
                d("2026-08-01"),
                Work {
                    sort: false,
                    split: wanted,
                },
            ),
            // A first load: sort and build.
            (
                d("2019-12-31"),
                None,
                Work {
                    sort: true,
                    split: wanted,
                },
            ),
            // A write just before the split but within the slack: rebuild, no sort.
            (
                d("2026-10-20"),
                d("2026-10-25"),
                Work {
                    sort: false,
                    split: wanted,
                },
            ),
        ];
        for (unsorted, split, expected) in cases {
            assert_eq!(
                work(unsorted, split, newest),
                expected,
                "{unsorted:?} {split:?}"
            );
        }
        assert_eq!(
            work(d("2019-12-31"), None, None),
            none,
            "no rows, nothing to lay out"
        );
    }
}
