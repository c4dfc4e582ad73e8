//! Writing listings into the catalog. A leaf never stored is appended as listed (a first crawl
//! writes 10⁸ files this way, so it must not read what is stored). A stored leaf's listing is
//! diffed, in SQL, against the stored files inside what the listing covered (`Scope`): only the
//! differences are written — rows added, replaced or removed in `files`, and, once a whole crawl
//! has finished, a row of `changes` each. Unchanged files are never rewritten, so the table does
//! not churn when a folder is re-listed.
//!
//! Each batch is one transaction: its files, changes, strays, leaves and the folders' "listed"
//! marks commit together, so a crawl killed at any point resumes with nothing half-written.
//!
//! Must not know: HTTP, pages, the crawl's plan.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use duckdb::arrow::array::{ArrayRef, BooleanArray, Int16Array, Int32Array, Int64Array};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::params;

use super::{
    Catalog, ChangeCounts, FolderListing, ListedFile, Scope, StoredLeaf, period_number, span_end,
};
use crate::store::{StoreError, failed};
use crate::vision::Dataset;

/// The batch's scratch tables (temporary: never in the file). Each batch leaves them empty:
/// it empties those it filled before it commits, and one that fails rolls back to empty.
/// Created by the first batch of a connection; once it commits they stay until it closes.
const STAGING: &str = "
CREATE TEMP TABLE IF NOT EXISTS b_scope (leaf INTEGER, after INTEGER, seen TIMESTAMP);
CREATE TEMP TABLE IF NOT EXISTS b_files (
    leaf INTEGER, period INTEGER, size BIGINT, modified BIGINT, modified_ms SMALLINT,
    checksum BOOLEAN);
CREATE TEMP TABLE IF NOT EXISTS b_folders (prefix VARCHAR, listed_at TIMESTAMP);
CREATE TEMP TABLE IF NOT EXISTS b_tail_strays (
    key VARCHAR, size BIGINT, last_modified TIMESTAMP, reason VARCHAR, folder VARCHAR);
CREATE TEMP TABLE IF NOT EXISTS b_last (leaf INTEGER, last_period INTEGER);
";

/// Every difference between the listed files of stored leaves (`b_files`) and the stored files
/// inside what each listing covered (`b_scope`): one row per file added (no `previous_*`),
/// removed (no new values), or changed (size, Last-Modified or `.CHECKSUM` flag). One scan of
/// `files`, joined to the batch's leaves.
const DIFF: &str = "
CREATE OR REPLACE TEMP TABLE b_diff AS
WITH cur AS (
    SELECT f.leaf, f.period, f.size, f.modified, f.modified_ms, f.checksum
      FROM files f JOIN b_scope s ON f.leaf = s.leaf AND f.period > s.after
)
SELECT coalesce(n.leaf, c.leaf) AS leaf, coalesce(n.period, c.period) AS period,
       n.size, n.modified, n.modified_ms, n.checksum,
       c.size AS previous_size, c.modified AS previous_modified,
       c.modified_ms AS previous_modified_ms
  FROM b_files n FULL OUTER JOIN cur c ON n.leaf = c.leaf AND n.period = c.period
 WHERE c.leaf IS NULL OR n.leaf IS NULL
    OR n.size <> c.size OR n.modified <> c.modified OR n.modified_ms <> c.modified_ms
    OR n.checksum <> c.checksum;
";

/// The differences that are changes of a file (a `.CHECKSUM` flag alone is not one), with the
/// time their listing began (`changes` keeps Last-Modified as milliseconds) — in the order
/// `catalog changes` answers, as near as the batch knows it: by that time, then leaf (a
/// folder's leaves stored from one listing got their ids in key order, which S3 lists in; one
/// stored later may not be, and is put in place by the reader) and period. A batch's
/// listings began in any order (they are written as they finish), so ordered by leaf they were
/// a shuffle the reader sorted whole every time; ordered so, a week's changes come almost in
/// order (`changes.rs`, `put_in_order`).
const RECORD: &str = "
INSERT INTO changes
SELECT s.seen, d.leaf, d.period,
       CASE WHEN d.previous_size IS NULL THEN 'added'
            WHEN d.size IS NULL THEN 'removed'
            ELSE 'replaced' END,
       d.size, d.modified * 1000 + d.modified_ms,
       d.previous_size, d.previous_modified * 1000 + d.previous_modified_ms
  FROM b_diff d JOIN b_scope s ON s.leaf = d.leaf
 WHERE d.previous_size IS NULL OR d.size IS NULL
    OR d.size <> d.previous_size OR d.modified <> d.previous_modified
    OR d.modified_ms <> d.previous_modified_ms
 ORDER BY s.seen, d.leaf, d.period;
";

/// The differences applied to `files`: a changed or removed file's row goes, a changed or added
/// file's row comes, in leaf-then-period order — at the end of the table, out of its leaf order,
/// and counted so (`layout`). A new leaf's files need no count: its id is the highest yet.
const APPLY_DIFF: &str = "
DELETE FROM files USING b_diff d
 WHERE files.leaf = d.leaf AND files.period = d.period AND d.previous_size IS NOT NULL;
INSERT INTO files
SELECT leaf, period, size, modified, modified_ms, checksum FROM b_diff WHERE size IS NOT NULL
 ORDER BY leaf, period;
UPDATE files_layout
   SET unsorted_files = unsorted_files + (SELECT count(*) FROM b_diff WHERE size IS NOT NULL);
";

/// A tail's strays not known yet.
const APPLY_TAIL_STRAYS: &str = "
INSERT INTO strays
SELECT b.* FROM b_tail_strays b WHERE NOT EXISTS (SELECT 1 FROM strays s WHERE s.key = b.key)";

/// A folder listed whole replaces its strays: the old ones go before the new ones are
/// appended.
const DROP_FOLDER_STRAYS: &str =
    "DELETE FROM strays WHERE folder IN (SELECT prefix FROM b_folders)";

/// The folders listed whole, with when: two statements.
const APPLY_FOLDERS: [&str; 2] = [
    "DELETE FROM folders WHERE prefix IN (SELECT prefix FROM b_folders)",
    "INSERT INTO folders SELECT prefix, listed_at FROM b_folders",
];

/// The stored leaves' new tips.
const APPLY_TIPS: &str = "
UPDATE leaves SET last_period = b.last_period FROM b_last b WHERE leaves.id = b.leaf";

/// Which scratch tables a batch filled: only the statements that read them run, and only they
/// are emptied. Each of those is prepared once a connection (`run`): parsed, bound and planned
/// per batch, nine statements were 8.5 % of a first crawl's CPU at scale 0.1 (BENCHMARKS.md,
/// sessions 18 and 19).
#[derive(Debug, Default)]
struct Staged {
    scope: bool,
    files: bool,
    folders: bool,
    tail_strays: bool,
    last: bool,
}

impl Catalog {
    /// Every stored leaf, by the folder that holds it.
    pub(super) fn read_leaves(&self) -> Result<HashMap<String, Vec<StoredLeaf>>, StoreError> {
        let by_id: HashMap<i16, Dataset> = self.datasets.iter().map(|(d, id)| (*id, *d)).collect();
        let mut stmt = self
            .conn
            .prepare("SELECT id, dataset, symbol, last_period FROM leaves")
            .map_err(failed(&self.path, "reading the leaves"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i32>(0)?,
                    r.get::<_, i16>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i32>(3)?,
                ))
            })
            .map_err(failed(&self.path, "reading the leaves"))?;
        let mut out: HashMap<String, Vec<StoredLeaf>> = HashMap::new();
        for row in rows {
            let (id, dataset, symbol, last_period) =
                row.map_err(failed(&self.path, "reading the leaves"))?;
            let dataset = *by_id
                .get(&dataset)
                .ok_or_else(|| StoreError::BadDatasetId {
                    path: self.path.clone(),
                    id: dataset,
                })?;
            out.entry(symbol_folder(dataset, &symbol))
                .or_default()
                .push(StoredLeaf {
                    dataset,
                    id,
                    last_period,
                });
        }
        Ok(out)
    }

    /// Every stored leaf (the catalog opened for writing), with the folder that holds it and
    /// its symbol.
    pub fn stored_leaves(&self) -> impl Iterator<Item = (&str, &str, StoredLeaf)> {
        self.leaves.iter().flat_map(|(folder, leaves)| {
            leaves.iter().map(move |l| {
                let symbol = folder
                    .strip_prefix(l.dataset.prefix().as_str())
                    .and_then(|s| s.strip_suffix('/'))
                    .unwrap_or_default();
                (folder.as_str(), symbol, *l)
            })
        })
    }

    /// Every folder the catalog knows, with when it was last listed whole (`None`: found by a
    /// discovery, not listed whole yet).
    pub fn folders(&self) -> Result<Vec<KnownFolder>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT prefix, listed_at FROM folders")
            .map_err(failed(&self.path, "reading the folders"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<chrono::NaiveDateTime>>(1)?,
                ))
            })
            .map_err(failed(&self.path, "reading the folders"))?;
        rows.map(|row| row.map(|(p, t)| (p, t.map(|t| t.and_utc()))))
            .collect::<Result<_, _>>()
            .map_err(failed(&self.path, "reading the folders"))
    }

    /// Records folders a discovery found, as not listed yet (`status` counts them until a
    /// listing of each is written).
    pub fn add_folders(&mut self, prefixes: &[String]) -> Result<(), StoreError> {
        if prefixes.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(failed(&path, "starting a write transaction"))?;
        {
            let mut app = tx
                .appender("folders")
                .map_err(failed(&path, "appending folders"))?;
            for p in prefixes {
                app.append_row(params![p, None::<chrono::NaiveDateTime>])
                    .map_err(failed(&path, "appending a folder"))?;
            }
            app.flush()
                .map_err(failed(&path, "writing appended rows"))?;
        }
        tx.commit()
            .map_err(failed(&path, "committing discovered folders"))
    }

    /// What the writes since this catalog was opened recorded as changes.
    pub fn recorded(&self) -> ChangeCounts {
        self.recorded
    }

    /// Writes listings, in one transaction: files of leaves never stored as listed; for stored
    /// leaves, the differences inside what each listing covered (and, once a whole crawl has
    /// finished, each as a change); strays; the folders listed whole, marked listed so that a
    /// resumed crawl does not list them again. The rows written.
    ///
    /// A leaf is in at most one listing of a batch (the crawl plans each folder once, and a
    /// folder's leaves either whole or from their tips).
    pub fn write_folders(&mut self, folders: &[FolderListing]) -> Result<u64, StoreError> {
        if folders.is_empty() {
            return Ok(0);
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(failed(&path, "starting a write transaction"))?;
        if self.committed_batches == 0 {
            tx.execute_batch(STAGING)
                .map_err(failed(&path, "preparing the staging tables"))?;
        }
        // Dataset ids; a dataset met for the first time is added first.
        let mut ids = self.datasets.clone();
        // Each leaf's dataset id, in the order the leaves are written below.
        let mut leaf_ids = Vec::new();
        for leaf in folders.iter().flat_map(|f| &f.leaves) {
            let id = match ids.get(&leaf.dataset) {
                Some(id) => *id,
                None => {
                    let id = ids.values().max().map_or(1, |m| m + 1);
                    tx.execute(
                        "INSERT INTO datasets VALUES (?, ?)",
                        params![id, leaf.dataset.to_string()],
                    )
                    .map_err(failed(&path, "adding a dataset"))?;
                    ids.insert(leaf.dataset, id);
                    id
                }
            };
            leaf_ids.push(id);
        }
        let mut leaf_ids = leaf_ids.into_iter();
        let mut next_leaf = self.next_leaf;
        // Leaves stored by this batch, and stored leaves' new tips: applied to `self.leaves`
        // once the transaction commits.
        let mut new_leaves: Vec<(String, StoredLeaf)> = Vec::new();
        let mut tips: Vec<(String, Dataset, i32)> = Vec::new();
        let mut rows = 0u64;
        let mut staged = Staged::default();
        {
            let app = |table: &str| {
                tx.appender(table)
                    .map_err(failed(&path, "preparing an appender"))
            };
            let temp = |table: &str| {
                tx.appender_to_catalog_and_db(table, "temp", "main")
                    .map_err(failed(&path, "preparing an appender"))
            };
            let (mut leaves, mut files, mut strays) =
                (app("leaves")?, app("files")?, app("strays")?);
            let (mut scope, mut listed, mut listed_folders, mut tail_strays, mut last) = (
                temp("b_scope")?,
                temp("b_files")?,
                temp("b_folders")?,
                temp("b_tail_strays")?,
                temp("b_last")?,
            );
            // Files go in column by column (Arrow): bound row by row, their values were a
            // fifth of a first crawl's CPU (an allocation or two a file).
            let (mut new_files, mut listed_files) =
                (FileColumns::default(), FileColumns::default());
            for folder in folders {
                let seen = folder.listed_at.naive_utc();
                let stored = self.leaves.get(&folder.prefix);
                // What the listing covered of the stored leaves: each leaf of the folder whole,
                // or the one leaf from after its listing's start.
                match &folder.scope {
                    Scope::Folder => {
                        for l in stored.into_iter().flatten() {
                            scope
                                .append_row(params![l.id, i32::MIN, seen])
                                .map_err(failed(&path, "staging a leaf"))?;
                            staged.scope = true;
                        }
                        listed_folders
                            .append_row(params![folder.prefix, seen])
                            .map_err(failed(&path, "staging a folder"))?;
                        staged.folders = true;
                    }
                    Scope::Tail { dataset, after, .. } => {
                        if let Some(l) =
                            stored.and_then(|s| s.iter().find(|l| l.dataset == *dataset))
                        {
                            scope
                                .append_row(params![l.id, after, seen])
                                .map_err(failed(&path, "staging a leaf"))?;
                            staged.scope = true;
                        }
                    }
                }
                for (leaf, dataset) in folder.leaves.iter().zip(&mut leaf_ids) {
                    let Some(last_listed) = leaf.files.last().map(|f| period_number(f.span)) else {
                        continue;
                    };
                    let existing =
                        stored.and_then(|s| s.iter().find(|l| l.dataset == leaf.dataset));
                    let (id, target) = match existing {
                        Some(l) => {
                            if last_listed > l.last_period {
                                last.append_row(params![l.id, last_listed])
                                    .map_err(failed(&path, "staging a leaf"))?;
                                staged.last = true;
                                tips.push((folder.prefix.clone(), leaf.dataset, last_listed));
                            }
                            (l.id, &mut listed_files)
                        }
                        None => {
                            let id = next_leaf;
                            next_leaf += 1;
                            leaves
                                .append_row(params![id, dataset, leaf.symbol, last_listed])
                                .map_err(failed(&path, "appending a leaf"))?;
                            new_leaves.push((
                                folder.prefix.clone(),
                                StoredLeaf {
                                    dataset: leaf.dataset,
                                    id,
                                    last_period: last_listed,
                                },
                            ));
                            (id, &mut new_files)
                        }
                    };
                    for f in &leaf.files {
                        target.push(id, f);
                        rows += 1;
                    }
                }
                let stray_target = match folder.scope {
                    Scope::Folder => &mut strays,
                    Scope::Tail { .. } => {
                        staged.tail_strays |= !folder.strays.is_empty();
                        &mut tail_strays
                    }
                };
                for s in &folder.strays {
                    stray_target
                        .append_row(params![
                            s.key,
                            s.size as i64,
                            s.last_modified.naive_utc(),
                            s.reason.as_str(),
                            folder.prefix
                        ])
                        .map_err(failed(&path, "appending a stray"))?;
                    rows += 1;
                }
            }
            staged.files = !listed_files.leaf.is_empty();
            for (app, columns) in [(&mut files, new_files), (&mut listed, listed_files)] {
                if !columns.leaf.is_empty() {
                    let batch = columns
                        .batch()
                        .map_err(|e| duckdb::Error::ToSqlConversionFailure(Box::new(e)))
                        .map_err(failed(&path, "preparing files for the appender"))?;
                    app.append_record_batch(batch)
                        .map_err(failed(&path, "appending files"))?;
                }
            }
            for app in [
                &mut scope,
                &mut listed,
                &mut listed_folders,
                &mut tail_strays,
                &mut last,
            ] {
                app.flush().map_err(failed(&path, "writing staged rows"))?;
            }
            if staged.folders {
                run(&tx, DROP_FOLDER_STRAYS)
                    .map_err(failed(&path, "replacing a folder's strays"))?;
            }
            for app in [&mut leaves, &mut files, &mut strays] {
                app.flush()
                    .map_err(failed(&path, "writing appended rows"))?;
            }
        }
        let mut counts = ChangeCounts::default();
        if staged.scope {
            tx.execute_batch(DIFF)
                .map_err(failed(&path, "comparing a listing with the stored files"))?;
            let (added, replaced, removed): (i64, i64, i64) = tx
                .query_row(
                    "SELECT count(*) FILTER (WHERE previous_size IS NULL),
                            count(*) FILTER (WHERE previous_size IS NOT NULL AND size IS NOT NULL
                                AND (size <> previous_size OR modified <> previous_modified
                                     OR modified_ms <> previous_modified_ms)),
                            count(*) FILTER (WHERE size IS NULL)
                       FROM b_diff",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(failed(&path, "counting changes"))?;
            counts = ChangeCounts {
                added: added as u64,
                replaced: replaced as u64,
                removed: removed as u64,
            };
            if self.record_changes {
                tx.execute_batch(RECORD)
                    .map_err(failed(&path, "recording changes"))?;
            }
            tx.execute_batch(APPLY_DIFF)
                .map_err(failed(&path, "applying a listing"))?;
        }
        for (filled, sql) in [
            (staged.tail_strays, APPLY_TAIL_STRAYS),
            (staged.folders, APPLY_FOLDERS[0]),
            (staged.folders, APPLY_FOLDERS[1]),
            (staged.last, APPLY_TIPS),
            (staged.scope, "DELETE FROM b_scope"),
            (staged.files, "DELETE FROM b_files"),
            (staged.folders, "DELETE FROM b_folders"),
            (staged.tail_strays, "DELETE FROM b_tail_strays"),
            (staged.last, "DELETE FROM b_last"),
        ] {
            if filled {
                run(&tx, sql).map_err(failed(&path, "applying a listing"))?;
            }
        }
        tx.commit()
            .map_err(failed(&path, "committing a batch of folders"))?;
        self.datasets = ids;
        self.next_leaf = next_leaf;
        for (folder, leaf) in new_leaves {
            self.leaves.entry(folder).or_default().push(leaf);
        }
        for (folder, dataset, tip) in tips {
            if let Some(l) = self
                .leaves
                .get_mut(&folder)
                .and_then(|s| s.iter_mut().find(|l| l.dataset == dataset))
            {
                l.last_period = tip;
            }
        }
        if self.record_changes {
            self.recorded.added += counts.added;
            self.recorded.replaced += counts.replaced;
            self.recorded.removed += counts.removed;
        }
        self.committed_batches += 1;
        self.checkpoint_if_grown()?;
        Ok(rows)
    }

    /// Folds the write-ahead log into the file once it has grown past the memory limit's
    /// share (as the availability database does, `Database::checkpoint_if_grown`).
    fn checkpoint_if_grown(&self) -> Result<(), StoreError> {
        let wal = crate::store::Beside::of(&self.path).wal();
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if size > self.memory.wal_limit() {
            self.conn
                .execute_batch("CHECKPOINT")
                .map_err(failed(&self.path, "checkpointing the write-ahead log"))?;
        }
        Ok(())
    }
}

/// Runs one statement without parameters, prepared once a connection: DuckDB keeps its plan
/// and binds it again itself when a table it reads has changed (`b_diff`, made anew by each
/// batch that compares, is never read through here).
fn run(conn: &duckdb::Connection, sql: &str) -> duckdb::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

/// Files to append, as the columns of `files` (and `b_files`), in its order.
#[derive(Default)]
struct FileColumns {
    leaf: Vec<i32>,
    period: Vec<i32>,
    size: Vec<i64>,
    modified: Vec<i64>,
    modified_ms: Vec<i16>,
    checksum: Vec<bool>,
}

impl FileColumns {
    fn push(&mut self, leaf: i32, f: &ListedFile) {
        let ms = (f.last_modified - span_end(f.span)).num_milliseconds();
        self.leaf.push(leaf);
        self.period.push(period_number(f.span));
        // The page reader refuses a size over S3's 5 TiB, so it fits.
        self.size.push(f.size as i64);
        self.modified.push(ms.div_euclid(1000));
        self.modified_ms.push(ms.rem_euclid(1000) as i16);
        self.checksum.push(f.checksum);
    }

    fn batch(self) -> Result<RecordBatch, ArrowError> {
        let columns: [(&str, ArrayRef); 6] = [
            ("leaf", Arc::new(Int32Array::from(self.leaf))),
            ("period", Arc::new(Int32Array::from(self.period))),
            ("size", Arc::new(Int64Array::from(self.size))),
            ("modified", Arc::new(Int64Array::from(self.modified))),
            ("modified_ms", Arc::new(Int16Array::from(self.modified_ms))),
            ("checksum", Arc::new(BooleanArray::from(self.checksum))),
        ];
        RecordBatch::try_from_iter(columns)
    }
}

/// A folder the catalog knows, and when it was last listed whole (`None`: found by a
/// discovery, not listed whole yet).
pub type KnownFolder = (String, Option<DateTime<Utc>>);

/// The folder holding `symbol`'s leaf of `dataset`: `data/spot/daily/klines/BTCUSDT/`.
pub fn symbol_folder(dataset: Dataset, symbol: &str) -> String {
    format!("{}{symbol}/", dataset.prefix())
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;
    use crate::facts::Span;
    use crate::store::catalog::{LeafListing, Scope};

    /// One symbol folder of `um/daily/klines/1m` listed at `at`, with one file a day of `days`.
    fn listing(symbol: &str, at: DateTime<Utc>, days: std::ops::Range<u32>) -> FolderListing {
        let dataset: Dataset = "um/daily/klines/1m".parse().unwrap();
        let files = days
            .map(|d| {
                let day = NaiveDate::from_ymd_opt(2030, 1, d).unwrap();
                ListedFile {
                    span: Span::Day(day),
                    size: 1_000,
                    last_modified: span_end(Span::Day(day)),
                    checksum: true,
                }
            })
            .collect();
        FolderListing {
            prefix: symbol_folder(dataset, symbol),
            listed_at: at,
            scope: Scope::Folder,
            leaves: vec![LeafListing {
                dataset,
                symbol: symbol.to_string(),
                files,
            }],
            strays: Vec::new(),
        }
    }

    /// A batch's changes lie in the order `catalog changes` answers — by the time their listing
    /// began, not by leaf — when its listings finished in another order than they began: the
    /// first leaf's folder began second.
    #[test]
    fn a_batch_records_its_changes_by_when_their_listings_began() {
        let dir = tempfile::tempdir().unwrap();
        let mut catalog = Catalog::open_for_write(&dir.path().join("catalog.duckdb")).unwrap();
        let at = |s: u32| Utc.with_ymd_and_hms(2030, 1, 10, 7, 0, s).unwrap();
        let crawl = catalog.start_crawl(at(0)).unwrap();
        catalog
            .write_folders(&[
                listing("AAAUSDT", at(0), 1..3),
                listing("BBBUSDT", at(0), 1..3),
            ])
            .unwrap();
        catalog
            .finish_crawl(crawl, at(1), "ok", 2, 4, 0, 2, None)
            .unwrap();
        catalog.start_crawl(at(2)).unwrap();
        // AAAUSDT's leaf has the lower id, and its listing began later.
        catalog
            .write_folders(&[
                listing("AAAUSDT", at(4), 1..5),
                listing("BBBUSDT", at(3), 1..5),
            ])
            .unwrap();
        let mut stmt = catalog
            .conn
            .prepare(
                "SELECT l.symbol, c.period FROM changes c JOIN leaves l ON l.id = c.leaf
                  ORDER BY c.rowid",
            )
            .unwrap();
        let rows: Vec<(String, i32)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let day = |d: u32| period_number(Span::Day(NaiveDate::from_ymd_opt(2030, 1, d).unwrap()));
        let want = [
            ("BBBUSDT", day(3)),
            ("BBBUSDT", day(4)),
            ("AAAUSDT", day(3)),
            ("AAAUSDT", day(4)),
        ]
        .map(|(s, p)| (s.to_string(), p));
        assert_eq!(rows, want);
    }
}
