//! The schema, versioned. `daily_availability` keeps the original tool's table name and its eight
//! columns with their names, types and order, so that SQL written for the original — `SELECT *`
//! included — runs unchanged in any DuckDB client. Version 3 (ADR 0010) stores only the facts:
//! `url` and `status_code` are VIRTUAL columns computed from the others, no key or index
//! (uniqueness of `(date, symbol)` is the writer's invariant, checked by `validate`), rows kept
//! in date order, and a compact symbol-ordered companion for timelines (see `layout`). Version 4
//! adds the trading tables beside them (`trading`), without touching them. Version 5 (ADR 0015)
//! stores the facts in `daily_availability_facts`, a plain table, and makes `daily_availability`
//! a view of it with `url` and `status_code` computed: DuckDB evaluates a generated column's
//! expression for every inserted row (to check that it can be computed), which was 43 % of
//! sorting a first load and 14 % of a backfill's CPU; a view computes them only when read.
//! Version 6 (ADR 0019) keeps a second market: COIN-M's tables, the same as USD-M's, in the
//! schema `cm`; the run log records each run's market. Version 7 stores each market's lives
//! index beside its facts (`lives_index`): a file of version 6 is still read (the index is
//! rebuilt by each reader, as version 6 did), and its first write migrates it; binaries of
//! version 6 refuse a version 7 file, as they must, since their writes would leave the index
//! describing facts that changed. Version 8 (issue 28) keeps spot in the schema `spot`; a
//! file of version 6 or 7 is still read, and a question about spot in it is told that the file
//! predates spot (`StoreError::MarketNotInFile`) until a write migrates it.

use duckdb::Connection;

use super::{Database, StoreError};
use crate::facts::Market;

/// The newest schema this binary reads and writes.
pub const SCHEMA_VERSION: i32 = 8;

/// The oldest schema reads accept without a migration: version 7 only adds the stored lives
/// index, which a reader of a version 6 file rebuilds.
pub(super) const READABLE_FROM: i32 = 6;

/// The schema that stores the lives index (`lives_index`).
pub(super) const LIVES_INDEX_SINCE: i32 = 7;

/// The public address of a day's file, whatever endpoint collected it: a function of symbol and
/// date, so it is computed on read rather than stored. Percent-encoded like the v2 rows were
/// (`币安人生USDT` → `%E5%B8%81…USDT`), so that a fetched url works as is.
macro_rules! public_url {
    () => {
        "'https://data.binance.vision/data/futures/um/daily/klines/' || url_encode(symbol) || '/1m/' \
         || url_encode(symbol) || '-1m-' || strftime(date, '%Y-%m-%d') || '.zip'"
    };
}

/// `CREATE TABLE {name}` in version 5's shape: the stored facts, `STORED_COLUMNS`.
pub(super) fn facts_table(name: &str) -> String {
    format!(
        "CREATE TABLE {name} (
    date DATE NOT NULL,
    symbol VARCHAR NOT NULL,
    available BOOLEAN NOT NULL,
    file_size_bytes BIGINT,
    last_modified TIMESTAMP,
    probe_timestamp TIMESTAMP
);"
    )
}

/// Where a market's daily 1m files are, as the view's `url` column spells them.
fn url_base(market: Market) -> String {
    format!("https://data.binance.vision/{}daily/klines/", market.root())
}

/// The original's table as a view of a market's facts: its eight columns with their names,
/// types and order, `url` and `status_code` computed as they are read. Created in the market's
/// schema (the connection's current one), whose facts it reads.
fn availability_view(market: Market) -> String {
    format!(
        "CREATE VIEW daily_availability AS SELECT date, symbol, available, file_size_bytes, \
         last_modified, '{base}' || url_encode(symbol) || '/1m/' || url_encode(symbol) || '-1m-' \
         || strftime(date, '%Y-%m-%d') || '.zip' AS url, \
         CASE WHEN available THEN 200 ELSE 404 END AS status_code, probe_timestamp \
         FROM daily_availability_facts;",
        base = url_base(market)
    )
}

/// How DuckDB keeps `availability_view(market)` in its catalog (`duckdb_views().sql`), which is
/// re-rendered from the parsed statement and names a schema other than `main`: the views a file
/// of ours may hold, one per kept market, so the check for code in a file (`check_no_code`)
/// compares with them. A unit test keeps the two in step.
pub(super) fn availability_view_sql(market: Market) -> Option<String> {
    let schema = schema_of(market)?;
    let qualified = if schema == "main" {
        String::new()
    } else {
        format!("{schema}.")
    };
    Some(format!(
        "CREATE VIEW {qualified}daily_availability AS SELECT date, symbol, available, \
         file_size_bytes, last_modified, (((((('{base}' || url_encode(symbol)) || '/1m/') || \
         url_encode(symbol)) || '-1m-') || strftime(date, '%Y-%m-%d')) || '.zip') AS url, CASE  \
         WHEN (available) THEN (200) ELSE 404 END AS status_code, probe_timestamp FROM \
         daily_availability_facts;",
        base = url_base(market)
    ))
}

/// The markets a database keeps, each in a schema of its own holding the same tables
/// (`market_tables`): USD-M in `main`, where SQL written for the original finds it unchanged,
/// COIN-M in `cm` (version 6), spot in `spot` (version 8). A symbol's identity is its market
/// and its name: spot's `BTCUSDT` and USD-M's are two instruments in two schemas (ADR 0019).
/// The run log and the schema version are the file's, in `main` only.
pub const KEPT_MARKETS: [Market; 3] = [Market::Um, Market::Cm, Market::Spot];

/// The schema holding `market`'s tables, or `None` for a market no database keeps yet.
pub(crate) fn schema_of(market: Market) -> Option<&'static str> {
    match market {
        Market::Um => Some("main"),
        Market::Cm => Some("cm"),
        Market::Spot => Some("spot"),
        Market::Option => None,
    }
}

/// The schema version that made `market`'s tables: a file of an older version, read without a
/// migration, has none.
pub(super) fn kept_since(market: Market) -> i32 {
    match market {
        Market::Um => 1,
        Market::Cm => 6,
        Market::Spot => 8,
        // No version keeps options (`schema_of` refuses them first).
        Market::Option => i32::MAX,
    }
}

/// The symbols' table, as version 1 made it.
macro_rules! symbols_table {
    () => {
        "CREATE TABLE symbols (
    symbol VARCHAR PRIMARY KEY,
    contract_type VARCHAR NOT NULL CHECK (contract_type IN ('perpetual', 'delivery')),
    quote_asset VARCHAR,
    settled BOOLEAN NOT NULL,
    delivery_date DATE,
    first_file_date DATE,
    last_file_date DATE,
    checked_from DATE,
    checked_through DATE,
    discovered_at TIMESTAMP NOT NULL
);"
    };
}

/// A market's tables in the current shape, empty, created in the connection's current schema:
/// what versions 6 and 8 add for COIN-M and spot (USD-M's tables the history made in `main`).
/// A test compares them with `main`'s, column by column.
fn market_tables(market: Market) -> String {
    format!(
        "{facts}
{view}
{symbols}
{SYMBOL_DAYS}
CREATE TABLE layout (unsorted_from DATE, split DATE);
INSERT INTO layout VALUES (DATE '0001-01-01', NULL);
{trading}
{lives}",
        facts = facts_table("daily_availability_facts"),
        view = availability_view(market),
        symbols = symbols_table!(),
        trading = super::trading::TO_V4,
        lives = super::lives_index::TABLES,
    )
}

/// Version 5 → 6: the run log says which market each run collected (the runs before were all
/// USD-M's), and COIN-M gets its schema and its tables.
fn to_v6() -> String {
    format!(
        "ALTER TABLE collection_runs ADD COLUMN market VARCHAR DEFAULT 'um';\n{}",
        market_schema(Market::Cm)
    )
}

/// `market`'s schema and its tables, empty, the connection left in `main`.
fn market_schema(market: Market) -> String {
    let schema = schema_of(market).unwrap_or("main");
    format!(
        "CREATE SCHEMA {schema};\nSET schema = '{schema}';\n{tables}\nSET schema = 'main';\n",
        tables = market_tables(market)
    )
}

/// Version 6 → 7: USD-M's and COIN-M's lives index, empty and not built (`lives_index`): the
/// first publish builds it. `IF NOT EXISTS`: a file migrated from before version 6 got the
/// tables with the schema `cm` (`market_tables` is the current shape). The markets are named,
/// not `KEPT_MARKETS`: a migration's text must not change with the list (spot's schema comes
/// with version 8).
fn to_v7() -> String {
    let mut sql = String::new();
    for schema in [Market::Um, Market::Cm]
        .iter()
        .filter_map(|m| schema_of(*m))
    {
        sql.push_str(&format!(
            "SET schema = '{schema}';\n{tables}\n",
            tables = super::lives_index::TABLES
        ));
    }
    sql.push_str("SET schema = 'main';\n");
    sql
}

/// Version 7 → 8: spot gets its schema and its tables (issue 28), the lives index included;
/// no row of another market is touched.
fn to_v8() -> String {
    market_schema(Market::Spot)
}

/// `CREATE TABLE {name}` in version 3's shape (for the migration through version 3).
fn daily_table(name: &str) -> String {
    format!(
        "CREATE TABLE {name} (
    date DATE NOT NULL,
    symbol VARCHAR NOT NULL,
    available BOOLEAN NOT NULL,
    file_size_bytes BIGINT,
    last_modified TIMESTAMP,
    url VARCHAR GENERATED ALWAYS AS ({url}) VIRTUAL,
    status_code INTEGER GENERATED ALWAYS AS (CASE WHEN available THEN 200 ELSE 404 END) VIRTUAL,
    probe_timestamp TIMESTAMP
);",
        url = public_url!()
    )
}

/// The timeline's companion (see `layout`): the days before `layout.split`, in symbol order.
pub(super) const SYMBOL_DAYS: &str = "CREATE TABLE symbol_days (
    symbol VARCHAR NOT NULL,
    date DATE NOT NULL,
    available BOOLEAN NOT NULL,
    file_size_bytes BIGINT
);";

/// The columns a writer supplies; the other two are computed.
pub(super) const STORED_COLUMNS: &str =
    "date, symbol, available, file_size_bytes, last_modified, probe_timestamp";

/// Each entry migrates from the previous version to `index + 1`; version 3 is written by
/// `to_v3`, version 4 by `trading::TO_V4`, version 5 by `to_v5`, version 6 by `to_v6`, version 7
/// by `to_v7`, version 8 by `to_v8`. The history stays so that a file of any version migrates.
const MIGRATIONS: &[&str] = &[
    concat!(
        r#"
CREATE TABLE daily_availability (
    date DATE NOT NULL,
    symbol VARCHAR NOT NULL,
    available BOOLEAN NOT NULL,
    file_size_bytes BIGINT,
    last_modified TIMESTAMP,
    url VARCHAR,
    status_code INTEGER,
    probe_timestamp TIMESTAMP,
    PRIMARY KEY (date, symbol)
);
CREATE INDEX idx_symbol_date ON daily_availability (symbol, date);
CREATE INDEX idx_available_date ON daily_availability (available, date);

"#,
        symbols_table!(),
        r#"
CREATE SEQUENCE collection_runs_id START 1;
CREATE TABLE collection_runs (
    id BIGINT PRIMARY KEY DEFAULT nextval('collection_runs_id'),
    kind VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    start_date DATE,
    end_date DATE,
    symbols BIGINT,
    requests BIGINT,
    rows_written BIGINT,
    error VARCHAR
);
"#
    ),
    r#"
CREATE TABLE day_files (
    date DATE NOT NULL,
    symbol VARCHAR NOT NULL,
    file_size_bytes BIGINT,
    last_modified TIMESTAMP,
    contract_type VARCHAR NOT NULL
);
CREATE TABLE derived_state (dirty_from DATE);
INSERT INTO derived_state VALUES (DATE '1970-01-01');
"#,
];

/// Version 2 → 3: the facts copied into the new shape; the old table (its key and indexes
/// with it), `day_files` and `derived_state` dropped. Rows whose url was the collecting
/// endpoint's now show the public one. The copy streams in the stored order, with no sort of
/// the whole table (issue 24): the layout row marks every day unsorted, so the first write's
/// `tidy` puts the rows in date order in bounded chunks before it publishes.
fn to_v3() -> String {
    format!(
        "{new}
INSERT INTO daily_availability_v3 ({STORED_COLUMNS})
  SELECT {STORED_COLUMNS} FROM daily_availability;
DROP TABLE daily_availability;
ALTER TABLE daily_availability_v3 RENAME TO daily_availability;
DROP TABLE day_files;
DROP TABLE derived_state;
{symbol_days}
CREATE TABLE layout (unsorted_from DATE, split DATE);
-- The companion is built by the first write that publishes (see `layout`).
INSERT INTO layout VALUES (DATE '0001-01-01', NULL);",
        symbol_days = SYMBOL_DAYS,
        new = daily_table("daily_availability_v3")
    )
}

/// Version 4 → 5: the facts moved, in their order, into the plain table, and the original's
/// table replaced by its view.
fn to_v5() -> String {
    format!(
        "{facts}
INSERT INTO daily_availability_facts ({STORED_COLUMNS})
  SELECT {STORED_COLUMNS} FROM daily_availability;
DROP TABLE daily_availability;
{view}",
        facts = facts_table("daily_availability_facts"),
        view = availability_view(Market::Um)
    )
}

/// The file's schema version, or `None` when it has no `schema_version` table.
pub(super) fn version(conn: &Connection) -> duckdb::Result<Option<i32>> {
    // Ask directly first: listing the catalog (`duckdb_tables()`) costs ~10 ms, a fifth of a
    // whole `query` process, so it only runs to tell a foreign file from a failure.
    match conn.query_row("SELECT max(version) FROM schema_version", [], |r| {
        r.get::<_, Option<i32>>(0)
    }) {
        Ok(version) => Ok(version),
        Err(e) => {
            let has_table: bool = conn.query_row(
                "SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'schema_version' AND schema_name = 'main'",
                [],
                |r| r.get(0),
            )?;
            if has_table { Err(e) } else { Ok(None) }
        }
    }
}

/// Brings the file to `SCHEMA_VERSION`, one transaction per step.
pub(super) fn migrate(db: &mut Database) -> Result<(), StoreError> {
    let path = db.path.clone();
    let empty: bool = db
        .conn
        .query_row(
            "SELECT count(*) = 0 FROM duckdb_tables() WHERE schema_name = 'main'",
            [],
            |r| r.get(0),
        )
        .map_err(super::failed(&path, "inspecting the file"))?;
    let current =
        match version(&db.conn).map_err(super::failed(&path, "reading the schema version"))? {
            Some(v) => v,
            None if empty => 0,
            None => {
                return Err(StoreError::NotOurs {
                    path: db.path.clone(),
                });
            }
        };
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: db.path.clone(),
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    let (v3, v5, v6, v7, v8) = (to_v3(), to_v5(), to_v6(), to_v7(), to_v8());
    let steps = MIGRATIONS.iter().copied().chain([
        v3.as_str(),
        super::trading::TO_V4,
        v5.as_str(),
        v6.as_str(),
        v7.as_str(),
        v8.as_str(),
    ]);
    for (index, sql) in steps.enumerate().skip(current as usize) {
        let to = index as i32 + 1;
        let tx = db
            .conn
            .transaction()
            .map_err(super::failed(&path, "starting a migration"))?;
        if to == 1 {
            tx.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL);")
                .map_err(super::failed(&path, "creating schema_version"))?;
        }
        tx.execute_batch(sql)
            .map_err(super::failed(&path, "migrating the schema"))?;
        tx.execute(
            "INSERT INTO schema_version VALUES (?, ?)",
            duckdb::params![to, super::timestamp_value(chrono::Utc::now())],
        )
        .map_err(super::failed(&path, "recording the schema version"))?;
        tx.commit()
            .map_err(super::failed(&path, "committing a migration"))?;
    }
    // The migrated rows go to the file now rather than staying in memory and in the log for
    // the rest of the run (`Database::checkpoint_if_grown`).
    if current < SCHEMA_VERSION {
        db.conn
            .execute_batch("CHECKPOINT")
            .map_err(super::failed(&path, "checkpointing the migrated file"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The view as version 5 files keep it: every file published before version 6 holds this
    /// text, and refusing it would refuse every existing database.
    const V5_VIEW_SQL: &str = "CREATE VIEW daily_availability AS SELECT date, symbol, available, \
file_size_bytes, last_modified, (((((('https://data.binance.vision/data/futures/um/daily/klines/' \
|| url_encode(symbol)) || '/1m/') || url_encode(symbol)) || '-1m-') || strftime(date, \
'%Y-%m-%d')) || '.zip') AS url, CASE  WHEN (available) THEN (200) ELSE 404 END AS status_code, \
probe_timestamp FROM daily_availability_facts;";

    fn views(conn: &Connection, database: &str) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare(
                "SELECT schema_name, sql FROM duckdb_views()
                  WHERE NOT internal AND database_name = ? ORDER BY schema_name",
            )
            .unwrap();
        stmt.query_map([database], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<duckdb::Result<_>>()
            .unwrap()
    }

    #[test]
    fn the_catalog_keeps_every_markets_view_as_check_no_code_expects() {
        assert_eq!(availability_view_sql(Market::Um).unwrap(), V5_VIEW_SQL);
        let conn = Connection::open_in_memory().unwrap();
        for market in KEPT_MARKETS {
            let schema = schema_of(market).unwrap();
            conn.execute_batch(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}; SET schema = '{schema}';
                 {facts} {view} SET schema = 'main';",
                facts = facts_table("daily_availability_facts"),
                view = availability_view(market)
            ))
            .unwrap();
        }
        let expected: Vec<(String, String)> = KEPT_MARKETS
            .iter()
            .map(|m| {
                let schema = schema_of(*m).unwrap().to_string();
                (schema, availability_view_sql(*m).unwrap())
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(views(&conn, "memory"), expected);
        // `Database::close` compacts with `COPY FROM DATABASE`, which re-creates the views from
        // that text: the copy must keep the same text, or its next write would refuse it.
        conn.execute_batch("ATTACH ':memory:' AS copied; COPY FROM DATABASE memory TO copied;")
            .unwrap();
        assert_eq!(views(&conn, "copied"), expected);
        // Each view reads its own market's facts, whichever schema the reader is in.
        conn.execute_batch(
            "INSERT INTO cm.daily_availability_facts VALUES
               (DATE '2024-01-15', 'BTCUSD_PERP', true, 1, NULL, NULL);",
        )
        .unwrap();
        let url: String = conn
            .query_row("SELECT url FROM cm.daily_availability", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            url,
            "https://data.binance.vision/data/futures/cm/daily/klines/BTCUSD_PERP/1m/\
             BTCUSD_PERP-1m-2024-01-15.zip"
        );
        let um: i64 = conn
            .query_row("SELECT count(*) FROM daily_availability", [], |r| r.get(0))
            .unwrap();
        assert_eq!(um, 0);
    }

    /// Every kept market's schema holds USD-M's tables, column for column, once migrated.
    #[test]
    fn every_market_has_the_same_tables_as_usd_m() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.duckdb");
        drop(Database::open_for_write(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let shape = |schema: &str| -> Vec<(String, String, String)> {
            let mut stmt = conn
                .prepare(
                    "SELECT table_name, column_name, data_type FROM duckdb_columns()
                      WHERE database_name = current_database() AND schema_name = ?
                        AND table_name NOT IN ('schema_version', 'collection_runs')
                      ORDER BY table_name, column_index",
                )
                .unwrap();
            stmt.query_map([schema], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<duckdb::Result<_>>()
                .unwrap()
        };
        let um = shape("main");
        assert!(um.len() > 20, "{um:?}");
        for market in KEPT_MARKETS {
            assert_eq!(shape(schema_of(market).unwrap()), um, "{market}");
        }
    }
}
