//! Reads: the questions users ask — which symbols had a file on a day, a symbol's timeline with
//! its gaps, what was available in a range, counts per day — answered with typed rows.
//!
//! A question about a day after "complete through" (`complete_through`, the one place it is
//! decided) is refused with `StoreError::NotCheckedYet` rather than answered from the partial
//! or absent rows stored for it: an unchecked day would read as symbols without a file.

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::{Row, params};
use serde::Serialize;

use super::trading::FILE_WITHOUT_TRADING;
use super::{Database, RunRecord, StoreError, date_value, schema};
use crate::facts::{Contract, ContractFilter, DayRange, runs};

/// A symbol that had a file on the asked day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    /// The symbol folder's name.
    pub symbol: String,
    /// The file's size, as listed.
    pub file_size_bytes: Option<i64>,
    /// When the file was last written, as listed (UTC).
    pub last_modified: Option<DateTime<Utc>>,
}

/// One stored day of a symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineDay {
    /// The day.
    pub date: NaiveDate,
    /// Whether it had a file (`false`: checked, and verified absent).
    pub available: bool,
    /// The file's size, when it had one.
    pub file_size_bytes: Option<i64>,
    /// 200 for a file, 404 for a verified absence, as the original tool recorded them.
    pub status_code: Option<i32>,
}

/// What the database knows of one symbol folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolRecord {
    /// The folder's name, as the bucket spells it.
    pub symbol: String,
    /// Perpetual or delivery, by the folder's name.
    pub contract: Contract,
    /// The quote asset the name ends in, if a known one.
    pub quote_asset: Option<String>,
    /// A settled folder (`…_SETTLED`): the history of a contract settled and relisted.
    pub settled: bool,
    /// The delivery day of a dated contract.
    pub delivery_date: Option<NaiveDate>,
    /// The first day with a file.
    pub first_file_date: Option<NaiveDate>,
    /// The last day with a file.
    pub last_file_date: Option<NaiveDate>,
    /// The first day the folder was checked from.
    pub checked_from: Option<NaiveDate>,
    /// The last day the folder was checked through.
    pub checked_through: Option<NaiveDate>,
}

/// A symbol's stored days, by date, and what is known about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The folder.
    pub symbol: SymbolRecord,
    /// Its stored days, by date: files and verified absences.
    pub days: Vec<TimelineDay>,
}

impl Timeline {
    /// How many of its stored days had a file.
    pub fn days_available(&self) -> usize {
        self.days.iter().filter(|d| d.available).count()
    }

    /// Runs of days between the first and last file without one, as inclusive date ranges.
    pub fn gaps(&self) -> Vec<Gap> {
        let (Some(first), Some(last)) = (self.symbol.first_file_date, self.symbol.last_file_date)
        else {
            return Vec::new();
        };
        let stored: std::collections::HashMap<NaiveDate, bool> =
            self.days.iter().map(|d| (d.date, d.available)).collect();
        let missing = first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter_map(|day| {
                let kind = match stored.get(&day) {
                    Some(true) => return None,
                    Some(false) => GapKind::NoFile,
                    None => GapKind::NotChecked,
                };
                Some((kind, DayRange::day(day)))
            });
        runs(missing)
            .into_iter()
            .map(|run| Gap {
                from: run.days.first(),
                to: run.days.last(),
                kind: run.key,
            })
            .collect()
    }
}

/// Days without a file inside a symbol's life, `from` to `to` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The first day, inclusive.
    pub from: NaiveDate,
    /// The last day, inclusive.
    pub to: NaiveDate,
    /// Why the days have no file.
    pub kind: GapKind,
}

/// Why a gap has no file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapKind {
    /// Checked, and there was none: a verified absence.
    NoFile,
    /// Never checked (probed days only, or a window not listed yet).
    NotChecked,
}

/// A symbol with at least one file in the asked range; first/last are inside the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeRow {
    /// The symbol folder's name.
    pub symbol: String,
    /// Days in the range with a file.
    pub days_available: i64,
    /// The first of them.
    pub first_date: NaiveDate,
    /// The last of them.
    pub last_date: NaiveDate,
}

/// How many symbols had a file on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    /// The day.
    pub date: NaiveDate,
    /// Perpetual symbols with a file that day.
    pub perpetual: i64,
    /// Delivery contracts with a file that day.
    pub delivery: i64,
    /// Of those, the symbols with trades that day (a 1d row with trades > 0).
    pub perpetual_traded: i64,
    /// Delivery contracts with trades that day.
    pub delivery_traded: i64,
}

const SYMBOL_COLUMNS: &str = "symbol, contract_type, quote_asset, settled, delivery_date, first_file_date, \
                              last_file_date, checked_from, checked_through";

fn symbol_record(r: &Row) -> duckdb::Result<SymbolRecord> {
    let contract: String = r.get(1)?;
    let contract = Contract::parse(&contract).ok_or_else(|| {
        duckdb::Error::FromSqlConversionFailure(
            1,
            duckdb::types::Type::Text,
            format!("unknown contract type {contract:?}").into(),
        )
    })?;
    Ok(SymbolRecord {
        symbol: r.get(0)?,
        contract,
        quote_asset: r.get(2)?,
        settled: r.get(3)?,
        delivery_date: r.get(4)?,
        first_file_date: r.get(5)?,
        last_file_date: r.get(6)?,
        checked_from: r.get(7)?,
        checked_through: r.get(8)?,
    })
}

impl Database {
    /// The day through which every known folder has been checked ("complete through", as
    /// `status` says it); `None` while any folder was never checked, or none is known. The one
    /// place this is decided: every question about a day is held to it (`require_checked`).
    /// No day after the last one any folder has a file for counts (`checked`): the bucket has
    /// not published it, whatever a file written before that rule recorded.
    pub fn complete_through(&self) -> Result<Option<NaiveDate>, StoreError> {
        let known = self.known()?;
        let mut through: Option<NaiveDate> = None;
        for record in known.values() {
            let Some(checked) = record.checked_through else {
                return Ok(None);
            };
            through = Some(through.map_or(checked, |t| t.min(checked)));
        }
        Ok(through
            .zip(super::published_through(known))
            .map(|(t, p)| t.min(p)))
    }

    /// The first day from which every known folder has been checked: a `backfill --start D`
    /// leaves the days before D unchecked. `None` while no folder was checked.
    pub fn checked_since(&self) -> Result<Option<NaiveDate>, StoreError> {
        Ok(self
            .known()?
            .values()
            .filter_map(|record| record.checked_from)
            .max())
    }

    /// Refuses a question whose answer depends on `day` when `day` is after "complete
    /// through" (`StoreError::NotCheckedYet`) or before the first day every folder was checked
    /// from (`StoreError::NotCheckedBefore`): stored rows there are partial or absent, and
    /// would read as symbols without a file. Inside `answering_unchecked`, lets it through.
    pub fn require_checked(&self, day: NaiveDate) -> Result<(), StoreError> {
        if self.answer_unchecked.get() {
            return Ok(());
        }
        let (since, through) = self.checked_span()?;
        if let Some(since) = since
            && day < since
        {
            return Err(StoreError::NotCheckedBefore {
                day,
                checked_from: since,
            });
        }
        if through.is_some_and(|c| day <= c) {
            Ok(())
        } else {
            Err(self.not_checked_yet(day, through)?)
        }
    }

    /// Runs `f` with questions about unchecked days answered from whatever is stored, as the
    /// original tool answered them (its compatible Python API does, with a warning). Everything
    /// else refuses them.
    pub fn answering_unchecked<T>(&self, f: impl FnOnce(&Database) -> T) -> T {
        /// Restores the flag even if `f` panics (Python's handle outlives a panic).
        struct Restore<'a>(&'a std::cell::Cell<bool>, bool);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.set(self.1);
            }
        }
        let _restore = Restore(&self.answer_unchecked, self.answer_unchecked.replace(true));
        f(self)
    }

    /// The days a summary without bounds covers: the first day with a file through the last,
    /// but no further than "complete through"; `None` while no day has a file.
    pub fn summary_days(&self) -> Result<Option<DayRange>, StoreError> {
        let Some(coverage) = self.coverage()? else {
            return Ok(None);
        };
        if self.answer_unchecked.get() {
            return Ok(Some(coverage));
        }
        let (first, last) = (coverage.first(), coverage.last());
        let first = first.max(self.checked_since()?.unwrap_or(first));
        match self.complete_through()? {
            Some(through) if through >= first => Ok(DayRange::new(first, last.min(through)).ok()),
            through => Err(self.not_checked_yet(first, through)?),
        }
    }

    /// The refusal of a question about `day`, after `through`: it awaits the bucket when the
    /// last successful update already asked for it and `through` is the last day any folder
    /// has a file for (read only when refusing: the run log is one more query).
    fn not_checked_yet(
        &self,
        day: NaiveDate,
        through: Option<NaiveDate>,
    ) -> Result<StoreError, StoreError> {
        let published = super::published_through(self.known()?);
        let asked = self
            .last_successful_update()?
            .and_then(|run| run.end_date)
            .filter(|asked| {
                through.is_some_and(|t| Some(t) == published && t < *asked) && day <= *asked
            });
        let awaiting = match asked {
            Some(asked_through) => super::Awaiting::Publication { asked_through },
            None => super::Awaiting::Update,
        };
        Ok(StoreError::NotCheckedYet {
            market: self.market,
            day,
            complete_through: through,
            awaiting,
        })
    }

    /// Runs a cached statement and maps its rows; `what` names the query in errors.
    pub(super) fn rows<T>(
        &self,
        sql: &str,
        params: impl duckdb::Params,
        what: &'static str,
        map: impl FnMut(&Row) -> duckdb::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_map(params, map)?.collect())
            .map_err(self.err(what))
    }

    /// Symbols with a file on `date`, sorted by symbol.
    ///
    /// ```
    /// # use binance_futures_availability::{store::*, facts::*};
    /// # use chrono::{NaiveDate, Utc};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?; let path = dir.path().join("a.duckdb");
    /// let day = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap();
    /// let mut db = Database::open_for_write(&path)?;
    /// db.write_batch(&Batch {
    ///     rows: vec![AvailabilityRow {
    ///         date: day, symbol: "BTCUSDT".into(),
    ///         seen: Seen::File { size: 57_000, last_modified: None },
    ///         probe_timestamp: Utc::now(),
    ///     }],
    ///     symbols: vec![SymbolUpdate {
    ///         symbol: "BTCUSDT".into(), class: binance_futures_availability::vision::Market::Um.classify("BTCUSDT"),
    ///         first_file_date: Some(day), last_file_date: Some(day), checked: Some(DayRange::day(day)),
    ///     }],
    /// })?;
    /// let rows = db.snapshot(day, ContractFilter::Perpetual)?;
    /// assert_eq!(rows[0].symbol, "BTCUSDT");
    /// # Ok(()) }
    /// ```
    pub fn snapshot(
        &self,
        date: NaiveDate,
        contracts: ContractFilter,
    ) -> Result<Vec<SnapshotRow>, StoreError> {
        self.require_checked(date)?;
        if let Some(index) = self.read_index()? {
            return Ok(index.snapshot(date, contracts));
        }
        // `available` and the contract are filtered here, not in SQL: pushed into the scan, the
        // `available` filter alone took ~0.3 ms, a day has a handful of absences among ~800
        // files, and each statement or subquery that reads a table costs DuckDB ~0.3 ms here
        // while the symbols are read once per handle (BENCHMARKS.md).
        let dated: Vec<(SnapshotRow, bool)> = self.rows(
            "SELECT symbol, file_size_bytes, last_modified, available FROM daily_availability_facts
             WHERE date = ?",
            params![date_value(date)],
            "running the snapshot query",
            |r| {
                let row = SnapshotRow {
                    symbol: r.get(0)?,
                    file_size_bytes: r.get(1)?,
                    last_modified: r.get(2)?,
                };
                Ok((row, r.get(3)?))
            },
        )?;
        let mut rows = Vec::with_capacity(dated.len());
        for (row, available) in dated {
            if available && self.is_of(&row.symbol, contracts)? {
                rows.push(row);
            }
        }
        // Sorted here rather than by an ORDER BY: DuckDB's sort costs ~0.4 ms of fixed overhead,
        // more than the rest of a snapshot, while the rows of a day lie in symbol order already.
        rows.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(rows)
    }

    /// The symbol's stored days by date, after resolving its name (exact, then case-insensitive).
    pub fn timeline(&self, symbol: &str) -> Result<Timeline, StoreError> {
        let record = self.symbol(symbol)?;
        // The days before the split from the symbol-ordered companion, the rest from the
        // date-ordered table's last row groups (see `layout`).
        let split = self.split()?;
        let mut days = self.rows(
            "SELECT date, available, file_size_bytes FROM symbol_days WHERE symbol = ?1 AND date < ?2
             UNION ALL
             SELECT date, available, file_size_bytes FROM daily_availability_facts
             WHERE date >= ?2 AND symbol = ?1",
            params![record.symbol, date_value(split)],
            "running the timeline query",
            |r| {
                let available: bool = r.get(1)?;
                Ok(TimelineDay {
                    date: r.get(0)?,
                    available,
                    file_size_bytes: r.get(2)?,
                    status_code: Some(if available { 200 } else { 404 }),
                })
            },
        )?;
        // Sorted here, not in SQL: see `snapshot`.
        days.sort_by_key(|d| d.date);
        Ok(Timeline {
            symbol: record,
            days,
        })
    }

    /// Every symbol with a file on at least one day in `[start, end]`, sorted by symbol.
    pub fn range(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        contracts: ContractFilter,
    ) -> Result<Vec<RangeRow>, StoreError> {
        // A range partly beyond "complete through" (or before the first checked day) is refused
        // as a whole: its counts would be short by the unchecked days.
        self.require_checked(start)?;
        self.require_checked(end)?;
        if let Some(index) = self.read_index()? {
            return Ok(index.range(start, end, contracts));
        }
        // Filtered aggregates rather than `WHERE available`, and the contract in Rust: see
        // `snapshot`.
        let counted: Vec<RangeRow> = self.rows(
            "SELECT symbol, count(*) FILTER (WHERE available), min(date) FILTER (WHERE available),
                    max(date) FILTER (WHERE available)
             FROM daily_availability_facts WHERE date BETWEEN ? AND ? GROUP BY symbol
             HAVING bool_or(available)",
            params![date_value(start), date_value(end)],
            "running the range query",
            |r| {
                Ok(RangeRow {
                    symbol: r.get(0)?,
                    days_available: r.get(1)?,
                    first_date: r.get(2)?,
                    last_date: r.get(3)?,
                })
            },
        )?;
        let mut rows = Vec::with_capacity(counted.len());
        for row in counted {
            if self.is_of(&row.symbol, contracts)? {
                rows.push(row);
            }
        }
        // Sorted here, not in SQL: see `snapshot`.
        rows.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(rows)
    }

    /// Symbols whose first file is on `date`: listed that day, never seen before. A first file
    /// on 2019-12-31 only says the symbol traded before the archive began.
    pub fn new_listings(
        &self,
        date: NaiveDate,
        contracts: ContractFilter,
    ) -> Result<Vec<String>, StoreError> {
        self.require_checked(date)?;
        let mut found: Vec<String> = self
            .known()?
            .values()
            .filter(|r| r.first_file_date == Some(date))
            .filter(|r| contracts.admits(r.contract))
            .map(|r| r.symbol.clone())
            .collect();
        found.sort();
        Ok(found)
    }

    /// Symbols with a file the day before `date` and, verified, none on `date`. A symbol whose
    /// folder has not been checked through `date` yet is not among them: a day not yet
    /// published is not a delisting (the original tool listed every symbol for such a day).
    pub fn delistings(
        &self,
        date: NaiveDate,
        contracts: ContractFilter,
    ) -> Result<Vec<String>, StoreError> {
        self.require_checked(date)?;
        let Some(before) = date.pred_opt() else {
            return Ok(Vec::new());
        };
        let on_day: std::collections::HashSet<String> = self
            .snapshot(date, contracts)?
            .into_iter()
            .map(|r| r.symbol)
            .collect();
        let known = self.known()?;
        let checked = |symbol: &str| {
            known.get(symbol).is_some_and(|r| {
                r.checked_from.is_some_and(|from| from <= date)
                    && r.checked_through.is_some_and(|through| through >= date)
            })
        };
        Ok(self
            .snapshot(before, contracts)?
            .into_iter()
            .map(|r| r.symbol)
            .filter(|s| !on_day.contains(s) && checked(s))
            .collect())
    }

    /// Symbols with a file per day in `[start, end]`, every day listed (zero where none).
    pub fn daily_counts(
        &self,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<DayCount>, StoreError> {
        self.require_checked(start)?;
        self.require_checked(end)?;
        // Files and trades in one statement: each one DuckDB plans costs ~0.3 ms here.
        let counted: std::collections::HashMap<NaiveDate, [i64; 4]> = self
            .rows(
                "SELECT date, count(*) FILTER (WHERE file AND contract_type = 'perpetual'),
                        count(*) FILTER (WHERE file AND contract_type = 'delivery'),
                        count(*) FILTER (WHERE NOT file AND contract_type = 'perpetual'),
                        count(*) FILTER (WHERE NOT file AND contract_type = 'delivery')
                 FROM (SELECT date, symbol, true AS file FROM daily_availability_facts
                        WHERE available AND date BETWEEN ?1 AND ?2
                       UNION ALL
                       SELECT date, symbol, false FROM daily_trading
                        WHERE trades > 0 AND date BETWEEN ?1 AND ?2)
                 JOIN symbols USING (symbol)
                 GROUP BY date",
                params![date_value(start), date_value(end)],
                "running the daily counts query",
                |r| Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])),
            )?
            .into_iter()
            .collect();
        Ok(start
            .iter_days()
            .take_while(|d| *d <= end)
            .map(|date| {
                let [perpetual, delivery, perpetual_traded, delivery_traded] =
                    counted.get(&date).copied().unwrap_or_default();
                DayCount {
                    date,
                    perpetual,
                    delivery,
                    perpetual_traded,
                    delivery_traded,
                }
            })
            .collect())
    }

    /// The first and last day that has a file, over all symbols.
    pub fn coverage(&self) -> Result<Option<DayRange>, StoreError> {
        let range: (Option<NaiveDate>, Option<NaiveDate>) = self
            .conn
            .query_row(
                "SELECT min(first_file_date), max(last_file_date) FROM symbols",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err("reading the coverage"))?;
        // Each symbol's first file is on or before its last, so the least first is too.
        Ok(range
            .0
            .zip(range.1)
            .and_then(|(first, last)| DayRange::new(first, last).ok()))
    }

    /// Every symbol folder the database knows, sorted by name.
    pub fn symbols(&self) -> Result<Vec<SymbolRecord>, StoreError> {
        self.rows(
            &format!("SELECT {SYMBOL_COLUMNS} FROM symbols ORDER BY symbol"),
            [],
            "reading symbols",
            symbol_record,
        )
    }

    /// One symbol by name: exact, else the single case-insensitive match, else an error that
    /// suggests the closest known names.
    pub fn symbol(&self, name: &str) -> Result<SymbolRecord, StoreError> {
        if let Some(record) = self.known()?.get(name) {
            return Ok(record.clone());
        }
        let mut folded = self.rows(
            &format!("SELECT {SYMBOL_COLUMNS} FROM symbols WHERE lower(symbol) = lower(?)"),
            params![name],
            "looking up a symbol",
            symbol_record,
        )?;
        if folded.len() == 1 {
            return Ok(folded.remove(0));
        }
        let suggestions = self.rows(
            "SELECT symbol FROM symbols
             ORDER BY NOT contains(lower(symbol), lower(?1)), levenshtein(lower(symbol), lower(?1)), symbol
             LIMIT 5",
            params![name],
            "finding similar symbols",
            |r| r.get(0),
        )?;
        Err(StoreError::UnknownSymbol {
            symbol: name.to_string(),
            suggestions,
        })
    }

    /// Every symbol by name, read once per handle: a published file never changes under a
    /// reader (ADR 0006), and `write_batch` clears it.
    pub(super) fn known(
        &self,
    ) -> Result<&std::collections::HashMap<String, SymbolRecord>, StoreError> {
        if let Some(known) = self.known_symbols.get() {
            return Ok(known);
        }
        let known = self
            .symbols()?
            .into_iter()
            .map(|record| (record.symbol.clone(), record))
            .collect();
        Ok(self.known_symbols.get_or_init(|| known))
    }

    /// Whether `symbol` is of the contracts asked for; a name missing from `symbols` (only a
    /// file written by something else has one) counts as neither.
    pub(super) fn is_of(
        &self,
        symbol: &str,
        contracts: ContractFilter,
    ) -> Result<bool, StoreError> {
        Ok(match contracts {
            ContractFilter::All => true,
            _ => self
                .known()?
                .get(symbol)
                .is_some_and(|r| contracts.admits(r.contract)),
        })
    }

    /// Days stored more than once for a symbol, with how many rows each has, at most `limit`,
    /// by symbol and date. Always none from this tool: `(date, symbol)` has no key (ADR 0010),
    /// so `validate` asks, in case something else wrote the file.
    pub fn duplicate_days(&self, limit: usize) -> Result<Vec<DuplicateDay>, StoreError> {
        self.rows(
            "SELECT symbol, date, count(*) FROM daily_availability_facts
             GROUP BY symbol, date HAVING count(*) > 1 ORDER BY symbol, date LIMIT ?",
            params![limit as i64],
            "looking for days stored twice",
            |r| {
                Ok(DuplicateDay {
                    symbol: r.get(0)?,
                    date: r.get(1)?,
                    rows: r.get(2)?,
                })
            },
        )
    }

    /// Days inside a symbol's life (between its first and last file) that have no row: never
    /// checked, neither a file nor a verified absence. A complete database has none.
    pub fn unchecked_days(&self) -> Result<Vec<SymbolDay>, StoreError> {
        self.rows(
            "WITH life AS (
                 SELECT symbol,
                        unnest(generate_series(first_file_date, last_file_date, INTERVAL 1 DAY))::DATE AS date
                 FROM symbols WHERE first_file_date IS NOT NULL)
             SELECT symbol, date FROM life ANTI JOIN daily_availability_facts USING (symbol, date)
             ORDER BY symbol, date",
            [],
            "looking for unchecked days",
            |r| {
                Ok(SymbolDay {
                    symbol: r.get(0)?,
                    date: r.get(1)?,
                })
            },
        )
    }

    /// What `status` reports about the contents.
    pub fn status(&self) -> Result<DbStatus, StoreError> {
        let (rows, available): (i64, i64) = self
            .conn
            .query_row(
                "SELECT count(*), count(*) FILTER (WHERE available) FROM daily_availability_facts",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err("counting rows"))?;
        let symbols = self
            .conn
            .query_row(
                "SELECT count(*),
                        count(*) FILTER (WHERE contract_type = 'perpetual'),
                        count(*) FILTER (WHERE contract_type = 'delivery'),
                        count(*) FILTER (WHERE settled),
                        count(*) FILTER (WHERE checked_through IS NULL)
                 FROM symbols",
                [],
                |r| {
                    Ok((
                        SymbolCounts {
                            total: r.get(0)?,
                            perpetual: r.get(1)?,
                            delivery: r.get(2)?,
                            settled: r.get(3)?,
                        },
                        r.get(4)?,
                    ))
                },
            )
            .map_err(self.err("counting symbols"))?;
        let latest_day_counts = self.rows(
            "SELECT date, count(*) FROM daily_availability_facts
                 WHERE available AND date >= (SELECT max(last_file_date) FROM symbols) - 13
                 GROUP BY date ORDER BY date",
            [],
            "counting recent days",
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let trading = self
            .conn
            .query_row(
                &format!(
                    "SELECT (SELECT count(*) FROM daily_trading),
                        (SELECT count(*) FROM daily_trading WHERE trades > 0),
                        (SELECT count(*) FROM trading_files),
                        (SELECT count(*) FROM trading_disagreements),
                        (SELECT count(*) FROM daily_availability_facts a WHERE {FILE_WITHOUT_TRADING}),
                        (SELECT max(date) FROM daily_trading)"
                ),
                [],
                |r| {
                    Ok(TradingStatus {
                        rows: r.get(0)?,
                        tradable_rows: r.get(1)?,
                        files: r.get(2)?,
                        disagreements: r.get(3)?,
                        missing_days: r.get(4)?,
                        latest_day: r.get(5)?,
                    })
                },
            )
            .map_err(self.err("counting trading rows"))?;
        Ok(DbStatus {
            trading,
            schema_version: schema::version(&self.conn)
                .map_err(self.err("reading the schema version"))?
                .unwrap_or(0),
            rows,
            available_rows: available,
            symbols: symbols.0,
            checked_through: self.complete_through()?,
            never_checked: symbols.1,
            coverage: self.coverage()?,
            recent_counts: latest_day_counts,
            last_run: self.last_run()?,
            last_successful_update: self.last_successful_update()?,
        })
    }
}

/// One day of one symbol folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolDay {
    /// The symbol folder's name.
    pub symbol: String,
    /// The day.
    pub date: NaiveDate,
}

/// A day of a symbol stored more than once, and how many rows it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateDay {
    /// The symbol folder's name.
    pub symbol: String,
    /// The day.
    pub date: NaiveDate,
    /// How many rows it has (more than one).
    pub rows: i64,
}

/// How many symbol folders of each kind the database knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolCounts {
    /// Every folder.
    pub total: i64,
    /// Perpetual folders, settled ones included.
    pub perpetual: i64,
    /// Dated delivery contracts.
    pub delivery: i64,
    /// Folders whose name marks a settled (delisted and renamed) contract.
    pub settled: i64,
}

/// The contents of a database at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct DbStatus {
    /// The schema's version (`SCHEMA_VERSION` once migrated).
    pub schema_version: i32,
    /// Availability rows: files and verified absences.
    pub rows: i64,
    /// Availability rows with a file.
    pub available_rows: i64,
    /// Symbol folders known, by kind.
    pub symbols: SymbolCounts,
    /// First and last day with a file.
    pub coverage: Option<DayRange>,
    /// Every known folder has been checked through this day ("complete through"), and the
    /// bucket has published it (some folder has a file for it or a later day); `None` while
    /// any folder was never checked.
    pub checked_through: Option<NaiveDate>,
    /// Folders known (discovered) but never checked: a run was stopped before reaching them.
    pub never_checked: i64,
    /// Symbols with a file per day over the last two weeks of coverage.
    pub recent_counts: Vec<(NaiveDate, i64)>,
    /// The newest run of any kind.
    pub last_run: Option<RunRecord>,
    /// The newest `update` that succeeded.
    pub last_successful_update: Option<RunRecord>,
    /// What the trading tables hold.
    pub trading: TradingStatus,
}

/// What the trading tables hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TradingStatus {
    /// Days of symbols with a 1d row, and those with trades.
    pub rows: i64,
    /// Of those, the days with trades.
    pub tradable_rows: i64,
    /// 1d files read (daily and monthly).
    pub files: i64,
    /// Days whose monthly file disagrees with the daily one.
    pub disagreements: i64,
    /// Days with a 1m file but no 1d row: files not read yet, or failed (the next run reads them).
    pub missing_days: i64,
    /// The newest day with a 1d row.
    pub latest_day: Option<NaiveDate>,
}
