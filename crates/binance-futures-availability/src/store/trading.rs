//! Trading facts from 1d klines files, in their own tables so that no availability write can
//! touch them (schema 4): `daily_trading` (one row per symbol and day), `trading_files` (which
//! file each was read from, with the size and Last-Modified it had, so a changed file is
//! fetched again and an unchanged one never), and `trading_disagreements`.
//!
//! The write rule, for a batch of files read whole (a bad file never reaches here):
//! - a daily file's row replaces what is stored for its day;
//! - a monthly file's row fills a day that has no row, or replaces a row from a monthly file,
//!   but never a row from a daily file: where the two differ, the daily one stays and the
//!   difference is recorded (binance-public-data #475) — in whichever order they arrive, and
//!   within one batch too.
//!
//! What must not be known here: HTTP, zips, how files are planned.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::params;

use super::{Database, StoreError, date_value, named, timestamp_value};
use crate::facts::{DailyTrading, Partition, Span};

/// The columns of `daily_trading`, for its creation and its re-sorted copy (`layout`).
macro_rules! daily_trading_columns {
    () => {
        "(
    date DATE NOT NULL,
    symbol VARCHAR NOT NULL,
    open DOUBLE NOT NULL,
    high DOUBLE NOT NULL,
    low DOUBLE NOT NULL,
    close DOUBLE NOT NULL,
    volume DOUBLE NOT NULL,
    quote_volume DOUBLE NOT NULL,
    trades BIGINT NOT NULL,
    taker_buy_volume DOUBLE NOT NULL,
    taker_buy_quote_volume DOUBLE NOT NULL,
    source VARCHAR NOT NULL CHECK (source IN ('daily', 'monthly')),
    source_last_modified TIMESTAMP NOT NULL
)"
    };
}

/// The empty table `daily_trading` is re-sorted into (`layout`), in its shape.
pub(super) const SORTED_TRADING: &str = concat!(
    "CREATE TABLE daily_trading_sorted ",
    daily_trading_columns!(),
    ";"
);

/// Version 3 → 4: the trading tables, empty.
pub(super) const TO_V4: &str = concat!(
    "CREATE TABLE daily_trading ",
    daily_trading_columns!(),
    ";
CREATE TABLE trading_files (
    symbol VARCHAR NOT NULL,
    kind VARCHAR NOT NULL CHECK (kind IN ('daily', 'monthly')),
    first_day DATE NOT NULL,
    size BIGINT NOT NULL,
    last_modified TIMESTAMP NOT NULL,
    read_at TIMESTAMP NOT NULL
);
CREATE TABLE trading_disagreements (
    date DATE NOT NULL,
    symbol VARCHAR NOT NULL,
    daily_quote_volume DOUBLE NOT NULL,
    monthly_quote_volume DOUBLE NOT NULL,
    daily_trades BIGINT NOT NULL,
    monthly_trades BIGINT NOT NULL,
    seen_at TIMESTAMP NOT NULL
);"
);

/// The days with a 1m file and no trading row (`a` is `daily_availability_facts`): a file not read
/// yet, or one that failed. What plans start from, `status` counts and `validate` reports.
pub(super) const FILE_WITHOUT_TRADING: &str =
    "a.available AND NOT EXISTS (SELECT 1 FROM daily_trading t
                                     WHERE t.date = a.date AND t.symbol = a.symbol)";

/// The staging table of one write: the batch's rows, each with the kind of file it came from.
const STAGING: &str = "
CREATE OR REPLACE TEMP TABLE trading_staging (
    date DATE NOT NULL, symbol VARCHAR NOT NULL,
    open DOUBLE NOT NULL, high DOUBLE NOT NULL, low DOUBLE NOT NULL, close DOUBLE NOT NULL,
    volume DOUBLE NOT NULL, quote_volume DOUBLE NOT NULL, trades BIGINT NOT NULL,
    taker_buy_volume DOUBLE NOT NULL, taker_buy_quote_volume DOUBLE NOT NULL,
    source VARCHAR NOT NULL, source_last_modified TIMESTAMP NOT NULL
);";

/// The staging table of a write's files and the versions read.
const FILES_STAGING: &str = "
CREATE OR REPLACE TEMP TABLE trading_files_staging (
    symbol VARCHAR NOT NULL, kind VARCHAR NOT NULL, first_day DATE NOT NULL,
    size BIGINT NOT NULL, last_modified TIMESTAMP NOT NULL
);";

/// Two rows of a day disagree when any value differs.
const DIFFER: &str = "(a.open, a.high, a.low, a.close, a.volume, a.quote_volume, a.trades,
       a.taker_buy_volume, a.taker_buy_quote_volume)
   IS DISTINCT FROM (b.open, b.high, b.low, b.close, b.volume, b.quote_volume, b.trades,
       b.taker_buy_volume, b.taker_buy_quote_volume)";

/// One 1d klines file, read whole: what it says and the version of it that was read.
#[derive(Debug, Clone, PartialEq)]
pub struct TradingFile {
    /// The symbol folder.
    pub symbol: String,
    /// The day or month the file covers.
    pub span: Span,
    /// Its size in bytes, as listed.
    pub size: u64,
    /// Its Last-Modified, as listed.
    pub last_modified: DateTime<Utc>,
    /// Its days, in order.
    pub days: Vec<DailyTrading>,
}

/// A file read before: which, and the size and Last-Modified it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadFile {
    /// The day or month the file covers.
    pub span: Span,
    /// Its size in bytes when read.
    pub size: u64,
    /// Its Last-Modified when read.
    pub last_modified: DateTime<Utc>,
}

/// A symbol's trading facts as a plan sees them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TradingState {
    /// The files read, by first day.
    pub read: Vec<ReadFile>,
    /// The first day with a 1m file and no trading row.
    pub first_missing: Option<NaiveDate>,
}

/// A day of a symbol on which its 1d rows and its 1m files contradict each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MismatchDay {
    /// The symbol folder.
    pub symbol: String,
    /// The day.
    pub date: NaiveDate,
    /// How the two disagree.
    pub kind: MismatchKind,
}

/// How a symbol's 1d rows and its 1m files contradict each other on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// Trades on days without a 1m file.
    TradesWithoutFile,
    /// 1m files without a 1d row (not read yet, or failed: the next run reads them).
    FileWithoutTrading,
}

/// A day whose monthly file says otherwise than its daily file (the daily one is kept).
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement {
    /// The day.
    pub date: NaiveDate,
    /// The symbol folder.
    pub symbol: String,
    /// The daily file's quote volume (the one kept).
    pub daily_quote_volume: f64,
    /// The monthly file's quote volume.
    pub monthly_quote_volume: f64,
    /// The daily file's trades (the one kept).
    pub daily_trades: u64,
    /// The monthly file's trades.
    pub monthly_trades: u64,
}

/// `trading_files.kind`: the partition's name.
fn kind(span: Span) -> &'static str {
    span.partition().as_str()
}

impl Database {
    /// Stores a batch of files in one transaction, by the rule in the module doc. Returns how
    /// many days were stored (rows written).
    pub fn write_trading(&mut self, files: &[TradingFile]) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let mut seen = std::collections::HashSet::with_capacity(files.len());
        if let Some(f) = files.iter().find(|f| !seen.insert((&f.symbol, f.span))) {
            return Err(StoreError::DuplicateTradingFile {
                path,
                symbol: f.symbol.clone(),
                span: span_text(f.span),
            });
        }
        let now = timestamp_value(Utc::now());
        let tx = self
            .conn
            .transaction()
            .map_err(super::failed(&path, "starting a trading write"))?;
        let written = store_days(&tx, &path, files, &now)?;
        if written > 0 {
            // Days were replaced or added (each day deleted is stored again), so the stored
            // lives index no longer describes the facts.
            super::lives_index::forget(&tx)
                .map_err(super::failed(&path, "marking the lives index out of date"))?;
        }
        record_files(&tx, &path, files, &now)?;
        tx.commit()
            .map_err(super::failed(&path, "committing a trading write"))?;
        self.committed_batches += 1;
        self.checkpoint_if_grown()?;
        self.lives.take();
        if let Some(first) = files.iter().map(|f| f.span.first_day()).min() {
            self.trading_unsorted_from =
                Some(self.trading_unsorted_from.map_or(first, |u| u.min(first)));
        }
        Ok(written)
    }
}

/// Stages a batch's rows and stores them by the rule in the module doc, in the write's
/// transaction; returns how many days were stored.
fn store_days(
    tx: &duckdb::Transaction<'_>,
    path: &std::path::Path,
    files: &[TradingFile],
    now: &duckdb::types::Value,
) -> Result<u64, StoreError> {
    tx.execute_batch(STAGING)
        .map_err(super::failed(path, "preparing the trading staging table"))?;
    {
        let mut app = tx
            .appender_to_catalog_and_db("trading_staging", "temp", "main")
            .map_err(super::failed(path, "preparing the trading staging table"))?;
        for f in files {
            for d in &f.days {
                app.append_row(params![
                    date_value(d.date),
                    f.symbol,
                    d.open,
                    d.high,
                    d.low,
                    d.close,
                    d.volume,
                    d.quote_volume,
                    // Within i64 by `DailyTrading::trades`'s contract.
                    i64::try_from(d.trades).unwrap_or(i64::MAX),
                    d.taker_buy_volume,
                    d.taker_buy_quote_volume,
                    kind(f.span),
                    timestamp_value(f.last_modified),
                ])
                .map_err(super::failed(path, "staging trading rows"))?;
            }
        }
        app.flush()
            .map_err(super::failed(path, "staging trading rows"))?;
    }
    // The batch's window: every statement that reads `daily_trading` is bounded by it, so
    // DuckDB skips the row groups of other days (an update: the table lies in date order)
    // or of other symbols (a backfill, appended symbol by symbol before its sort), instead
    // of joining the batch with the whole table (issue 24: "recording disagreements" ran
    // out of memory at 7.6 M rows).
    let days = files.iter().flat_map(|f| f.days.iter().map(|d| d.date));
    let names = files.iter().map(|f| f.symbol.as_str());
    let (Some(first), Some(last), Some(low), Some(high)) = (
        days.clone().min(),
        days.max(),
        names.clone().min(),
        names.max(),
    ) else {
        // No day in any file: only the files' versions are recorded.
        tx.execute_batch("DROP TABLE trading_staging")
            .map_err(super::failed(path, "dropping the staging table"))?;
        return Ok(0);
    };
    let window = |t: &str| format!("{t}.date BETWEEN ?2 AND ?3 AND {t}.symbol BETWEEN ?4 AND ?5",);
    let bounds = params![now, date_value(first), date_value(last), low, high];
    let differ = |a: &str, b: &str| {
        DIFFER
            .replace("a.", &format!("{a}."))
            .replace("b.", &format!("{b}."))
    };
    // `unless_staged`: skip the days for which a file of that kind is staged too.
    let record = |daily: &str,
                  monthly: &str,
                  from: &str,
                  stored: Option<&str>,
                  unless_staged: Option<&str>| {
        let within = stored.map_or(String::new(), |t| format!("AND {}", window(t)));
        let unless = unless_staged.map_or(String::new(), |kind| {
            format!(
                "AND NOT EXISTS (SELECT 1 FROM trading_staging x
                                      WHERE x.date = {daily}.date AND x.symbol = {daily}.symbol
                                        AND x.source = '{kind}')"
            )
        });
        format!(
            "INSERT INTO trading_disagreements
                 SELECT {daily}.date, {daily}.symbol, {daily}.quote_volume, {monthly}.quote_volume,
                        {daily}.trades, {monthly}.trades, ?1
                   FROM {from} USING (date, symbol)
                  WHERE {daily}.source = 'daily' AND {monthly}.source = 'monthly' AND {}
                        {within} {unless}",
            differ(daily, monthly)
        )
    };
    // Each disagreement once: a day staged from both kinds of file is compared within the
    // batch, and only then with nothing stored.
    let disagreements = [
        record(
            "d",
            "m",
            "trading_staging d JOIN trading_staging m",
            None,
            None,
        ),
        // A staged monthly row against a stored daily one (unless a daily file is staged).
        record(
            "d",
            "m",
            "trading_staging m JOIN daily_trading d",
            Some("d"),
            Some(Partition::Daily.as_str()),
        ),
        // A staged daily row against a stored monthly one (unless a monthly file is staged).
        record(
            "d",
            "m",
            "trading_staging d JOIN daily_trading m",
            Some("m"),
            Some(Partition::Monthly.as_str()),
        ),
    ];
    for sql in &disagreements {
        // Every statement takes the five parameters; the first skips the unused ones.
        let sql = if sql.contains("?2") {
            sql.clone()
        } else {
            format!(
                "{sql} AND ?2 IS NOT NULL AND ?3 IS NOT NULL AND ?4 IS NOT NULL AND ?5 IS NOT NULL"
            )
        };
        tx.execute(&sql, bounds)
            .map_err(super::failed(path, "recording disagreements"))?;
    }
    let window_d = window("d");
    // A monthly row never replaces a daily one, staged or stored.
    tx.execute(
        &format!(
            "DELETE FROM trading_staging m
                  WHERE m.source = 'monthly'
                    AND (EXISTS (SELECT 1 FROM trading_staging d WHERE d.source = 'daily'
                                  AND d.date = m.date AND d.symbol = m.symbol)
                         OR EXISTS (SELECT 1 FROM daily_trading d WHERE d.source = 'daily'
                                  AND {window_d} AND d.date = m.date AND d.symbol = m.symbol))
                    AND ?1 IS NOT NULL"
        ),
        bounds,
    )
    .map_err(super::failed(path, "keeping daily rows over monthly ones"))?;
    tx.execute(
        &format!(
            "DELETE FROM daily_trading d USING trading_staging s
                  WHERE {window_d} AND d.date = s.date AND d.symbol = s.symbol AND ?1 IS NOT NULL"
        ),
        bounds,
    )
    .map_err(super::failed(path, "replacing stored days"))?;
    let written = tx
        .execute(
            "INSERT INTO daily_trading SELECT * FROM trading_staging ORDER BY date, symbol",
            [],
        )
        .map_err(super::failed(path, "storing days"))? as u64;
    tx.execute_batch("DROP TABLE trading_staging")
        .map_err(super::failed(path, "dropping the staging table"))?;
    Ok(written)
}

/// Records the versions of the files read, in the write's transaction.
fn record_files(
    tx: &duckdb::Transaction<'_>,
    path: &std::path::Path,
    files: &[TradingFile],
    now: &duckdb::types::Value,
) -> Result<(), StoreError> {
    // The files' versions, set-based: one statement per batch rather than two per file
    // (a backfill reads ~40,000 files).
    tx.execute_batch(FILES_STAGING).map_err(super::failed(
        path,
        "preparing the trading files staging table",
    ))?;
    {
        let mut app = tx
            .appender_to_catalog_and_db("trading_files_staging", "temp", "main")
            .map_err(super::failed(
                path,
                "preparing the trading files staging table",
            ))?;
        for f in files {
            app.append_row(params![
                f.symbol,
                kind(f.span),
                date_value(f.span.first_day()),
                i64::try_from(f.size).unwrap_or(i64::MAX),
                timestamp_value(f.last_modified),
            ])
            .map_err(super::failed(path, "staging trading files"))?;
        }
        app.flush()
            .map_err(super::failed(path, "staging trading files"))?;
    }
    tx.execute(
        "DELETE FROM trading_files f USING trading_files_staging s
              WHERE f.symbol = s.symbol AND f.kind = s.kind AND f.first_day = s.first_day",
        [],
    )
    .and_then(|_| {
        tx.execute(
            "INSERT INTO trading_files
                 SELECT symbol, kind, first_day, size, last_modified, ? FROM trading_files_staging",
            params![now],
        )
    })
    .and_then(|_| tx.execute("DROP TABLE trading_files_staging", []))
    .map_err(super::failed(path, "recording trading files"))?;
    Ok(())
}

impl Database {
    /// A symbol's stored days in `start ..= end`, by date.
    pub fn trading(
        &self,
        symbol: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<DailyTrading>, StoreError> {
        self.rows(
            "SELECT date, open, high, low, close, volume, quote_volume, trades, taker_buy_volume,
                    taker_buy_quote_volume
               FROM daily_trading WHERE symbol = ? AND date BETWEEN ? AND ? ORDER BY date",
            params![symbol, date_value(start), date_value(end)],
            "reading trading days",
            |r| {
                Ok(DailyTrading {
                    date: r.get(0)?,
                    open: r.get(1)?,
                    high: r.get(2)?,
                    low: r.get(3)?,
                    close: r.get(4)?,
                    volume: r.get(5)?,
                    quote_volume: r.get(6)?,
                    trades: r.get::<_, i64>(7)?.max(0) as u64,
                    taker_buy_volume: r.get(8)?,
                    taker_buy_quote_volume: r.get(9)?,
                })
            },
        )
    }

    /// The files read for `symbol`, with the version read: what a plan compares a listing with.
    pub fn trading_files(&self, symbol: &str) -> Result<Vec<ReadFile>, StoreError> {
        let rows: Vec<(Partition, NaiveDate, i64, DateTime<Utc>)> = self.rows(
            "SELECT kind, first_day, size, last_modified FROM trading_files
              WHERE symbol = ? ORDER BY first_day, kind",
            params![symbol],
            "reading trading files",
            |r| {
                Ok((
                    named(r, 0, Partition::parse)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                ))
            },
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|(kind, first, size, last_modified)| {
                read_file(kind, first, size, last_modified)
            })
            .collect())
    }

    /// What a trading plan needs of every symbol that has any: the files read, and the first
    /// day that has a 1m file but no trading row (a file never read, or one that failed).
    pub fn trading_states(&self) -> Result<HashMap<String, TradingState>, StoreError> {
        let mut states: HashMap<String, TradingState> = HashMap::new();
        let files: Vec<(String, Partition, NaiveDate, i64, DateTime<Utc>)> = self.rows(
            "SELECT symbol, kind, first_day, size, last_modified FROM trading_files
              ORDER BY symbol, first_day, kind",
            [],
            "reading trading files",
            |r| {
                Ok((
                    r.get(0)?,
                    named(r, 1, Partition::parse)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            },
        )?;
        for (symbol, kind, first, size, last_modified) in files {
            if let Some(file) = read_file(kind, first, size, last_modified) {
                states.entry(symbol).or_default().read.push(file);
            }
        }
        // Not `FILE_WITHOUT_TRADING`'s anti-join, which builds a hash table of every trading
        // row and ran out of memory at 7.6 M rows (issue 24): an aggregate over both tables by
        // (symbol, date), which DuckDB partitions and spills under its memory limit.
        let missing: Vec<(String, NaiveDate)> = self.rows(
            "SELECT symbol, min(date) FROM (
                 SELECT symbol, date FROM (
                     SELECT symbol, date, 1 AS seen FROM daily_availability_facts WHERE available
                     UNION ALL
                     SELECT symbol, date, 2 AS seen FROM daily_trading)
                  GROUP BY symbol, date HAVING bit_or(seen) = 1)
              GROUP BY symbol",
            [],
            "finding days without trading rows",
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (symbol, day) in missing {
            states.entry(symbol).or_default().first_missing = Some(day);
        }
        Ok(states)
    }

    /// Days on which the two datasets contradict each other, by symbol and date: trades on a
    /// day without a 1m file, and a 1m file without a 1d row for symbols whose trading facts
    /// were collected at all.
    pub fn trading_mismatches(&self) -> Result<Vec<MismatchDay>, StoreError> {
        self.rows(
            &format!(
                "SELECT t.symbol, t.date, true FROM daily_trading t
              WHERE t.trades > 0 AND NOT EXISTS (SELECT 1 FROM daily_availability_facts a
                     WHERE a.date = t.date AND a.symbol = t.symbol AND a.available)
             UNION ALL
             SELECT a.symbol, a.date, false FROM daily_availability_facts a
              WHERE a.symbol IN (SELECT DISTINCT symbol FROM daily_trading)
                AND {FILE_WITHOUT_TRADING}
             ORDER BY 1, 2"
            ),
            [],
            "comparing trading days with files",
            |r| {
                Ok(MismatchDay {
                    symbol: r.get(0)?,
                    date: r.get(1)?,
                    kind: if r.get(2)? {
                        MismatchKind::TradesWithoutFile
                    } else {
                        MismatchKind::FileWithoutTrading
                    },
                })
            },
        )
    }

    /// Every recorded disagreement, by date and symbol.
    pub fn trading_disagreements(&self) -> Result<Vec<Disagreement>, StoreError> {
        self.rows(
            "SELECT date, symbol, daily_quote_volume, monthly_quote_volume, daily_trades,
                    monthly_trades
               FROM trading_disagreements ORDER BY date, symbol",
            [],
            "reading trading disagreements",
            |r| {
                Ok(Disagreement {
                    date: r.get(0)?,
                    symbol: r.get(1)?,
                    daily_quote_volume: r.get(2)?,
                    monthly_quote_volume: r.get(3)?,
                    daily_trades: r.get::<_, i64>(4)?.max(0) as u64,
                    monthly_trades: r.get::<_, i64>(5)?.max(0) as u64,
                })
            },
        )
    }
}

/// A `trading_files` row; sizes are written from `u64`s.
fn read_file(
    kind: Partition,
    first: NaiveDate,
    size: i64,
    last_modified: DateTime<Utc>,
) -> Option<ReadFile> {
    Some(ReadFile {
        span: Span::of(kind, first),
        size: u64::try_from(size).ok()?,
        last_modified,
    })
}

fn span_text(span: Span) -> String {
    match span {
        Span::Day(d) => d.to_string(),
        Span::Month(m) => m.to_string(),
    }
}
