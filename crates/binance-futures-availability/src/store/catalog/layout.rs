//! How the catalog's `files` lie, so that one symbol's files are a row group or two of 10⁸
//! rows: in leaf order, then period. DuckDB keeps a min and max of every column per row group
//! (~123k rows) and skips the row groups a constant filter excludes; it has no other access
//! path worth having here (ADR 0010). A new leaf's files are appended in order (its id is the
//! highest yet, its files come by period), so a first crawl lies sorted as written; but every
//! later `catalog update` appends each day's new files of stored leaves (~1.05 × 10⁵ at full
//! scale) at the end, across all leaves, and every lookup of a leaf reads those rows whole (~1
//! ns a row). The writer counts them (`files_layout.unsorted_files`, in each batch's
//! transaction), and a publish sorts them in once they pass `due`'s bound.
//!
//! The sort is made while the writer's copy is rewritten compact, into `<file>.compact`
//! (`backup::rewrite`), a chunk of leaves at a time, never inside the file: the old and the
//! sorted table never lie in one file, and no statement sorts more than a chunk; the copy's
//! count starts again at 0. A run killed before it publishes leaves the published file as it
//! was. A copy with more than a quarter of its blocks free
//! (`leaf_stats` rebuilt at every publish, replaced files updated) is rewritten as it is.
//!
//! Must not know: what a leaf or a period means, the crawl, the questions.

use duckdb::{Connection, params};

use super::Catalog;
use crate::store::backup;
use crate::store::files::Beside;
use crate::store::{MemoryLimit, StoreError, failed};

/// Files appended out of leaf order past which a publish sorts them in: a lookup of one leaf
/// reads every one of them (~1 ms a million), and ~10 days of next-day updates (~1.05 × 10⁵
/// files added a day at full scale) pass it; the sort of 10⁸ files then takes ~23 s.
const SORT_AFTER_FILES: i64 = 1 << 20;

/// Past this share of the table, fewer out-of-order files are enough: a small catalog is
/// cheap to sort, and a lookup then reads at most a 64th of the table besides its leaf.
const SORT_AFTER_SHARE: i64 = 64;

/// The count of files appended out of leaf order since the last sort. A catalog written before
/// it has its files counted whole, so its first publish sorts them.
pub(super) const FILES_LAYOUT: &str = "
CREATE TABLE IF NOT EXISTS files_layout (unsorted_files BIGINT NOT NULL);
INSERT INTO files_layout SELECT count(*) FROM files WHERE NOT EXISTS (FROM files_layout);
";

/// Bytes of the writers' memory limit a file being sorted may take: its six columns are 27
/// bytes, and DuckDB's sort keeps the key and the payload side by side, ~3× that (a chunk of
/// the 48 MB default is ~5 × 10⁵ files, 200 chunks at full scale).
const SORT_BYTES_PER_FILE: u64 = 96;

/// What a publish does to the file beyond summing the leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rewrite {
    /// Leave the file as it is.
    None,
    /// Copy it without its free blocks.
    AsIs,
    /// Copy it with `files` sorted by leaf and period.
    Sorted,
}

/// The rewrite due for a file holding `files` files, `unsorted` of them appended out of leaf
/// order since the last sort, `mostly_free` telling whether more than a quarter of its
/// blocks are free.
fn due(files: i64, unsorted: i64, mostly_free: bool) -> Rewrite {
    if unsorted > SORT_AFTER_FILES.min(files / SORT_AFTER_SHARE) {
        Rewrite::Sorted
    } else if mostly_free {
        Rewrite::AsIs
    } else {
        Rewrite::None
    }
}

impl Catalog {
    /// Checkpoints, and says what rewrite the file is due (see `due`).
    fn rewrite_due(&self) -> Result<Rewrite, StoreError> {
        let (files, unsorted, mostly_free): (i64, i64, bool) = self
            .conn
            .execute_batch("CHECKPOINT")
            .and_then(|()| {
                self.conn.query_row(
                    "SELECT (SELECT count(*) FROM files),
                            (SELECT coalesce(max(unsorted_files), 0) FROM files_layout),
                            (SELECT free_blocks * 4 > total_blocks FROM pragma_database_size()
                              WHERE database_name = current_database())",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
            })
            .map_err(failed(&self.path, "measuring how the files lie"))?;
        Ok(due(files, unsorted, mostly_free))
    }

    /// Closes the writer's copy, rewriting it first if it is due (see the module doc).
    pub(super) fn close_laid_out(self) -> Result<(), StoreError> {
        let rewrite = self.rewrite_due()?;
        let path = self.path.clone();
        crate::store::session::Published::close(self)?;
        let compacted = Beside::of(&path).compacting();
        let started = std::time::Instant::now();
        match rewrite {
            Rewrite::None => return Ok(()),
            Rewrite::AsIs => backup::rewrite::<Catalog, fn(&Connection) -> duckdb::Result<()>>(
                &path, &compacted, None,
            )?,
            Rewrite::Sorted => {
                let memory = MemoryLimit::from_env()?;
                backup::rewrite::<Catalog, _>(
                    &path,
                    &compacted,
                    Some(|conn: &Connection| copy_sorted(conn, "compacted", memory)),
                )?
            }
        }
        tracing::debug!(?rewrite, "rewrote the catalog in {:.2?}", started.elapsed());
        Ok(())
    }
}

/// Fills the catalog attached as `dest`, which holds this file's schema and no rows, with every
/// table of the connection's own: `files` in leaf and period order, a chunk of leaves (from
/// `leaf_stats`, summed at this publish) per statement, `dest` checkpointed after each; the rest
/// as they are; and the count of files out of order back at 0.
fn copy_sorted(conn: &Connection, dest: &str, memory: MemoryLimit) -> duckdb::Result<()> {
    let limit = i64::try_from(memory.bytes() / SORT_BYTES_PER_FILE).unwrap_or(i64::MAX);
    let checkpoint = format!("CHECKPOINT {dest}");
    let tables: Vec<String> = conn
        .prepare(
            "SELECT table_name FROM duckdb_tables()
              WHERE database_name = current_database() AND schema_name = 'main'
              ORDER BY table_name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<duckdb::Result<_>>()?;
    for table in &tables {
        // The names are the file's own, checked free of code when it was opened: quoted anyway.
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        if table == "files" {
            let counts: Vec<(i32, i64)> = conn
                .prepare("SELECT leaf, files FROM leaf_stats ORDER BY leaf")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<duckdb::Result<_>>()?;
            for (low, high) in crate::store::layout::chunks(counts, limit) {
                conn.execute(
                    &format!(
                        "INSERT INTO {dest}.files SELECT * FROM files
                          WHERE leaf BETWEEN ?1 AND ?2 ORDER BY leaf, period"
                    ),
                    params![low, high],
                )?;
                conn.execute_batch(&checkpoint)?;
            }
        } else {
            conn.execute_batch(&format!(
                "INSERT INTO {dest}.{quoted} SELECT * FROM {quoted}"
            ))?;
            conn.execute_batch(&checkpoint)?;
        }
    }
    conn.execute_batch(&format!(
        "UPDATE {dest}.files_layout SET unsorted_files = 0; {checkpoint}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_out_of_order_are_sorted_in_past_a_million_or_a_64th() {
        assert_eq!(due(0, 0, false), Rewrite::None, "nothing to sort");
        assert_eq!(
            due(1_000, 0, false),
            Rewrite::None,
            "a first crawl lies sorted"
        );
        assert_eq!(due(1_000, 15, false), Rewrite::None);
        assert_eq!(
            due(1_000, 16, false),
            Rewrite::Sorted,
            "a 64th of a small catalog"
        );
        let files = 100_000_000;
        assert_eq!(due(files, SORT_AFTER_FILES, false), Rewrite::None);
        assert_eq!(due(files, SORT_AFTER_FILES + 1, true), Rewrite::Sorted);
        assert_eq!(due(files, 5, true), Rewrite::AsIs);
    }
}
