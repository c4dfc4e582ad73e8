//! The catalog at a glance (`status`), and what `backup`, `restore` and `export` need of it:
//! the counts a copy must keep, the check that a file from elsewhere holds no code, and the
//! export of its tables (the keys rebuilt: `export`). Must not know: the crawl, how the answers
//! are printed.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Catalog;
use crate::store::{StoreError, check_no_code, failed};

/// The file name a catalog has beside the availability database when none is named
/// (`--catalog`, `BFA_CATALOG`).
pub const DEFAULT_CATALOG_NAME: &str = "catalog.duckdb";

/// One `catalog update`, as the crawl log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrawlRecord {
    /// Its id in `crawls`.
    pub id: i64,
    /// When it began.
    pub started: DateTime<Utc>,
    /// When it ended (none while running, or when killed).
    pub finished: Option<DateTime<Utc>>,
    /// `running` (or killed while running), `ok`, `interrupted` or `failed`.
    pub status: String,
    /// Folders it listed.
    pub folders: i64,
    /// Files it wrote.
    pub files: i64,
    /// Strays it wrote.
    pub strays: i64,
    /// Listing requests it made.
    pub requests: i64,
    /// Why it stopped, when it did not finish.
    pub error: Option<String>,
}

/// Changes recorded in the catalog's history, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecordedChanges {
    /// Files that appeared after their folder's first listing.
    pub added: i64,
    /// Files whose size or Last-Modified changed.
    pub replaced: i64,
    /// Files that disappeared.
    pub removed: i64,
}

impl RecordedChanges {
    /// Every change.
    pub fn total(&self) -> i64 {
        self.added + self.replaced + self.removed
    }
}

/// What a catalog holds, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogStatus {
    /// The catalog's schema version.
    pub catalog_version: i32,
    /// Datasets with at least one file.
    pub datasets: i64,
    /// Leaves (a symbol's folder of one dataset) known.
    pub leaves: i64,
    /// Files.
    pub files: i64,
    /// Their bytes.
    pub bytes: i64,
    /// Files without a `.CHECKSUM` beside them.
    pub missing_checksums: i64,
    /// Keys outside the layout.
    pub strays: i64,
    /// Changes recorded since the first whole crawl, by kind.
    pub changes: RecordedChanges,
    /// Symbol folders (and stray prefixes) found.
    pub folders: i64,
    /// Folders found by discovery and never listed whole yet (`folders.listed_at` NULL): a
    /// crawl stopped before reaching them, and the next one lists them.
    pub folders_never_listed: i64,
    /// The newest crawl.
    pub last_crawl: Option<CrawlRecord>,
    /// The newest crawl that finished (`ok`), when that is another one.
    pub last_finished_crawl: Option<CrawlRecord>,
}

impl CatalogStatus {
    /// Rows a copy must hold equally, and leaves: what `backup` and `restore` compare.
    pub(crate) fn counts(&self) -> (i64, i64) {
        (self.files + self.strays + self.changes.total(), self.leaves)
    }
}

impl Catalog {
    /// The catalog's path when none is named: `catalog.duckdb` beside the database at `db`.
    pub fn beside(db: &Path) -> PathBuf {
        db.with_file_name(DEFAULT_CATALOG_NAME)
    }

    /// Files, strays and changes, and leaves — `CatalogStatus::counts` — read without joins:
    /// what a rewritten copy must still hold, checked under the writer's memory limit.
    pub(crate) fn counts(&self) -> Result<(i64, i64), StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM strays)
                          + (SELECT count(*) FROM changes),
                        (SELECT count(*) FROM leaves)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(failed(&self.path, "counting the rows"))
    }

    /// What the catalog holds: counts of every table, and the crawl log's newest entries.
    /// One scan of `files` (a count and two sums); the other tables are small.
    pub fn status(&self) -> Result<CatalogStatus, StoreError> {
        let err = || failed(&self.path, "summing the catalog");
        let (datasets, files, bytes, missing_checksums): (i64, i64, i64, i64) = self
            .conn
            .query_row(
                "SELECT count(DISTINCT l.dataset), count(*), coalesce(sum(f.size), 0)::BIGINT,
                        count(*) FILTER (WHERE NOT f.checksum)
                   FROM files f JOIN leaves l ON l.id = f.leaf",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(err())?;
        let (catalog_version, leaves, strays, folders, never_listed): (i32, i64, i64, i64, i64) =
            self.conn
                .query_row(
                    "SELECT (SELECT max(version) FROM catalog_version),
                            (SELECT count(*) FROM leaves),
                            (SELECT count(*) FROM strays),
                            (SELECT count(*) FROM folders),
                            (SELECT count(*) FROM folders WHERE listed_at IS NULL)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .map_err(err())?;
        let changes = self
            .conn
            .query_row(
                "SELECT count(*) FILTER (WHERE kind = 'added'),
                        count(*) FILTER (WHERE kind = 'replaced'),
                        count(*) FILTER (WHERE kind = 'removed')
                   FROM changes",
                [],
                |r| {
                    Ok(RecordedChanges {
                        added: r.get(0)?,
                        replaced: r.get(1)?,
                        removed: r.get(2)?,
                    })
                },
            )
            .map_err(err())?;
        let last_crawl = self.crawl("SELECT max(id) FROM crawls")?;
        let last_finished_crawl = self
            .crawl("SELECT max(id) FROM crawls WHERE status = 'ok'")?
            .filter(|ok| last_crawl.as_ref() != Some(ok));
        Ok(CatalogStatus {
            catalog_version,
            datasets,
            leaves,
            files,
            bytes,
            missing_checksums,
            strays,
            changes,
            folders,
            folders_never_listed: never_listed,
            last_crawl,
            last_finished_crawl,
        })
    }

    /// The crawl whose id `which` selects, if any.
    fn crawl(&self, which: &str) -> Result<Option<CrawlRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT id, started, finished, status, folders, files, strays, requests, error
                   FROM crawls WHERE id = ({which})"
            ))
            .map_err(failed(&self.path, "reading the crawl log"))?;
        let mut rows = stmt
            .query_map([], |r| {
                Ok(CrawlRecord {
                    id: r.get(0)?,
                    started: r.get::<_, chrono::NaiveDateTime>(1)?.and_utc(),
                    finished: r
                        .get::<_, Option<chrono::NaiveDateTime>>(2)?
                        .map(|t| t.and_utc()),
                    status: r.get(3)?,
                    folders: r.get(4)?,
                    files: r.get(5)?,
                    strays: r.get(6)?,
                    requests: r.get(7)?,
                    error: r.get(8)?,
                })
            })
            .map_err(failed(&self.path, "reading the crawl log"))?;
        rows.next()
            .transpose()
            .map_err(failed(&self.path, "reading the crawl log"))
    }

    /// Refuses the catalog if it holds a view or a macro (a catalog has none): for files
    /// that enter (`restore`) or leave (`backup`, `export`).
    pub(crate) fn check_thoroughly(&self) -> Result<(), StoreError> {
        check_no_code(&self.conn, &self.path, &[])
    }
}
