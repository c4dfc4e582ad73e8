//! The schema, versioned. Version 1 keeps the original tool's `daily_availability` table with its
//! exact names and types, so SQL written for the original keeps working. Version 2 adds
//! `day_files`, the same facts laid out for the day-shaped questions (see `derived`).

use duckdb::Connection;

use super::{Database, StoreError};

/// The newest schema this binary reads and writes.
pub const SCHEMA_VERSION: i32 = 2;

/// `daily_availability` without its key and indexes: the original's columns, names and types.
/// A bulk load fills this shape and adds the keys afterwards (see `keys`).
macro_rules! unkeyed_daily_table {
    () => {
        "
CREATE TABLE daily_availability (
    date DATE NOT NULL,
    symbol VARCHAR NOT NULL,
    available BOOLEAN NOT NULL,
    file_size_bytes BIGINT,
    last_modified TIMESTAMP,
    url VARCHAR,
    status_code INTEGER,
    probe_timestamp TIMESTAMP
);
"
    };
}

pub(super) const UNKEYED_DAILY_TABLE: &str = unkeyed_daily_table!();

/// Each entry migrates from the previous version to `index + 1`. Version 1 also builds
/// `daily_availability`'s key and indexes (`keys::KEYS`, in `migrate`).
const MIGRATIONS: &[&str] = &[
    concat!(
        unkeyed_daily_table!(),
        r#"
CREATE TABLE symbols (
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
);

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
-- Everything is stale until the first refresh builds it.
INSERT INTO derived_state VALUES (DATE '1970-01-01');
"#,
];

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
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
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
        if to == 1 {
            for key in &super::keys::KEYS {
                tx.execute_batch(key.build)
                    .map_err(super::failed(&path, "migrating the schema"))?;
            }
        }
        tx.execute(
            "INSERT INTO schema_version VALUES (?, ?)",
            duckdb::params![to, super::timestamp_value(chrono::Utc::now())],
        )
        .map_err(super::failed(&path, "recording the schema version"))?;
        tx.commit()
            .map_err(super::failed(&path, "committing a migration"))?;
    }
    Ok(())
}
