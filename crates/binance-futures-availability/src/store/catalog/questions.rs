//! The catalog's questions beyond its listings (issue 26): a dataset's files streamed in bounded
//! memory, the runs of periods missing inside each symbol's life and whether the other partition
//! covers them, and how long after a period ends its file is first seen. Each is SQL over
//! `files`, `leaves` and `changes`; nothing whole-table is held in Rust.
//!
//! Must not know: the crawl, HTTP, how answers are printed.

use std::collections::HashMap;
use std::fmt::Write as _;

use duckdb::arrow::array::{Array, BooleanArray, Int32Array, Int64Array};
use duckdb::params;

use super::key::KeyTemplate;
use super::{Catalog, CatalogFile, period_number, period_span, span_end};
use crate::facts::{Partition, Span};
use crate::store::{StoreError, failed};
use crate::vision::Dataset;

/// At most this many files are sorted at once when files are streamed: the leaves of a
/// listing are read in runs holding about this many files (a leaf has a few thousand at most),
/// so a dataset of millions is read in a handful of scans, each sorting a few MB.
const FILES_PER_READ: i64 = 200_000;

/// Which files `catalog files` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileQuery<'a> {
    /// The dataset.
    pub dataset: Dataset,
    /// Only this symbol folder.
    pub symbol: Option<&'a str>,
    /// Periods from this one on (of the dataset's partition).
    pub since: Option<Span>,
    /// Periods through this one (of the dataset's partition).
    pub until: Option<Span>,
}

impl<'a> FileQuery<'a> {
    /// Every file of `dataset`.
    pub fn all(dataset: Dataset) -> FileQuery<'a> {
        FileQuery {
            dataset,
            symbol: None,
            since: None,
            until: None,
        }
    }

    /// The period numbers asked for, inclusive.
    fn periods(&self) -> (i32, i32) {
        (
            self.since.map_or(i32::MIN, period_number),
            self.until.map_or(i32::MAX, period_number),
        )
    }
}

/// One leaf's share of a file query.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LeafShare {
    id: i32,
    symbol: String,
    files: i64,
}

/// One file of a symbol folder read whole by its listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeldFile {
    period: i32,
    size: i64,
    /// Milliseconds after the end of its period.
    modified: i64,
    checksum: bool,
}

/// The files a listing matched, as `each_file` will hand them out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Matched {
    /// One symbol folder's files, read by the listing itself: a query naming a symbol matches
    /// one folder, at most one file a day since 2017 (~3,400), ~100 KB held. One statement
    /// instead of a sum and then a read: 3 statements' fixed cost were most of the 9.3 ms one
    /// symbol took on a 10⁸-file catalog.
    Folder {
        symbol: String,
        files: Vec<HeldFile>,
    },
    /// Symbol folders in the order their files come, read in runs by `each_file`.
    Leaves(Vec<LeafShare>),
}

/// What a file query matches, known before its first row: the totals, and the symbol folders
/// in the order their files come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileListing {
    dataset: Dataset,
    periods: (i32, i32),
    matched: Matched,
    /// Files matched.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The largest file's bytes (0 when none): how wide a size column must be.
    pub max_size: u64,
}

impl FileListing {
    /// The symbol folders with a matching file, in the order their files come.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        let (folder, leaves) = match &self.matched {
            Matched::Folder { symbol, .. } => (Some(symbol.as_str()), &[][..]),
            Matched::Leaves(leaves) => (None, &leaves[..]),
        };
        folder
            .into_iter()
            .chain(leaves.iter().map(|l| l.symbol.as_str()))
    }
}

/// One run of periods missing inside a symbol's life, as `catalog gaps` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogGap {
    /// The symbol folder.
    pub symbol: String,
    /// The first missing period.
    pub from: Span,
    /// The last missing period.
    pub to: Span,
    /// How many periods are missing (`from` through `to`).
    pub periods: i64,
    /// The other partition when its files of the same market, type, interval and symbol cover
    /// every missing day: `Monthly` for a daily gap whose months all have a monthly file,
    /// `Daily` for a monthly gap whose months have a daily file for every day.
    pub covered_by: Option<Partition>,
}

/// How long after their period ended a dataset's files appeared, as `catalog lag` answers.
///
/// A file's lag is the time from the end of its period (the next day's or month's 00:00 UTC)
/// to the Last-Modified of the first version of its key the catalog saw: for a key with
/// recorded changes, the earliest change's file before it (a replacement's or removal's
/// previous Last-Modified) or, when that change added it, the file it added; for a key
/// without, its Last-Modified now. Over the files the catalog holds now. Percentiles are
/// nearest-rank: the smallest lag that at least that share of the files have or are under.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lag {
    /// Files the catalog holds of the dataset.
    pub files: i64,
    /// The median lag, in hours (none without files).
    pub p50_hours: Option<f64>,
    /// The 90th percentile.
    pub p90_hours: Option<f64>,
    /// The 99th percentile.
    pub p99_hours: Option<f64>,
    /// The longest.
    pub max_hours: Option<f64>,
    /// Of those files, the ones whose key has at least one recorded replacement.
    pub replaced: i64,
}

/// Milliseconds as hours.
fn hours(ms: Option<i64>) -> Option<f64> {
    ms.map(|ms| ms as f64 / 3_600_000.0)
}

/// SQL: the month number of day number `x`.
fn month_of_day(x: &str) -> String {
    format!(
        "(year(DATE '1970-01-01' + CAST({x} AS INTEGER)) * 12
          + month(DATE '1970-01-01' + CAST({x} AS INTEGER)) - 1)"
    )
}

/// SQL: the day number of the first day of month number `x`.
fn first_day_of_month(x: &str) -> String {
    format!(
        "date_diff('day', DATE '1970-01-01',
                   make_date(CAST(({x}) // 12 AS BIGINT), CAST(({x}) % 12 + 1 AS BIGINT), 1))"
    )
}

impl Catalog {
    /// What `query` matches: files, bytes, the largest file and the symbol folders. The leaves
    /// are found first in the small `leaves` table (~2.6 × 10⁵ rows). A query naming a symbol
    /// then reads its one folder's files whole (`Matched::Folder`); one naming none sums its
    /// leaves' files by leaf within the leaves' id range. A constant leaf or range lets
    /// DuckDB's zone maps skip every row group of `files` outside it (the table lies in leaf
    /// order, see `layout`), where a join to `leaves` read them all (11 ms for one symbol of a
    /// 10⁸-file catalog).
    pub fn file_listing(&self, query: &FileQuery<'_>) -> Result<FileListing, StoreError> {
        let periods = query.periods();
        let mut listing = FileListing {
            dataset: query.dataset,
            periods,
            matched: Matched::Leaves(Vec::new()),
            files: 0,
            bytes: 0,
            max_size: 0,
        };
        let Some(&id) = self.datasets.get(&query.dataset) else {
            return Ok(listing);
        };
        let action = "counting files";
        let leaves: Vec<(i32, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, symbol FROM leaves
                  WHERE dataset = ?1 AND (?2 IS NULL OR symbol = ?2) ORDER BY symbol",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![id, query.symbol], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(failed(&self.path, action))?;
        if query.symbol.is_some() {
            // A symbol names one folder of a dataset (the writer keeps one leaf a folder).
            if let Some((leaf, symbol)) = leaves.into_iter().next() {
                let files = self.folder_files(leaf, periods)?;
                for f in &files {
                    listing.files += 1;
                    listing.bytes += f.size.max(0) as u64;
                    listing.max_size = listing.max_size.max(f.size.max(0) as u64);
                }
                if !files.is_empty() {
                    listing.matched = Matched::Folder { symbol, files };
                }
            }
            return Ok(listing);
        }
        let (Some(low), Some(high)) = (
            leaves.iter().map(|l| l.0).min(),
            leaves.iter().map(|l| l.0).max(),
        ) else {
            return Ok(listing);
        };
        // A row per leaf of the range, other datasets' leaves among them: bounded by leaves.
        let sums: HashMap<i32, (i64, i64, i64)> = self
            .conn
            .prepare(
                "SELECT leaf, count(*), sum(size)::BIGINT, max(size) FROM files
                  WHERE leaf BETWEEN ?1 AND ?2 AND period BETWEEN ?3 AND ?4
                  GROUP BY leaf",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![low, high, periods.0, periods.1], |r| {
                    Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
                })?
                .collect()
            })
            .map_err(failed(&self.path, action))?;
        let mut shares = Vec::new();
        for (id, symbol) in leaves {
            let Some(&(files, bytes, max_size)) = sums.get(&id) else {
                continue;
            };
            listing.files += files.max(0) as u64;
            listing.bytes += bytes.max(0) as u64;
            listing.max_size = listing.max_size.max(max_size.max(0) as u64);
            shares.push(LeafShare { id, symbol, files });
        }
        listing.matched = Matched::Leaves(shares);
        Ok(listing)
    }

    /// One leaf's files within `periods`, by period: one statement, its leaf and periods
    /// spliced as literals (integers this code holds) so that the scan is pushed the constant
    /// (2.97 ms against 4.07 joined to a list of one, on the 10⁸-file catalog).
    fn folder_files(&self, leaf: i32, periods: (i32, i32)) -> Result<Vec<HeldFile>, StoreError> {
        let action = "reading files";
        let (low, high) = periods;
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT period, size, modified * 1000 + modified_ms, checksum FROM files
                  WHERE leaf = {leaf} AND period BETWEEN {low} AND {high} ORDER BY period"
            ))
            .map_err(failed(&self.path, action))?;
        let unreadable = |what: String| {
            let e =
                duckdb::Error::FromSqlConversionFailure(0, duckdb::types::Type::Any, what.into());
            failed(&self.path, action)(e)
        };
        let mut files = Vec::new();
        for batch in stmt.query_arrow([]).map_err(failed(&self.path, action))? {
            let column = |i: usize| batch.column(i).as_any();
            let (Some(period), Some(size), Some(modified), Some(checksum)) = (
                column(0).downcast_ref::<Int32Array>(),
                column(1).downcast_ref::<Int64Array>(),
                column(2).downcast_ref::<Int64Array>(),
                column(3).downcast_ref::<BooleanArray>(),
            ) else {
                return Err(unreadable(format!(
                    "files' columns {:?}",
                    batch.schema().fields()
                )));
            };
            // The columns are NOT NULL in the schema; a null read as 0 would be a false size.
            if [
                period.null_count(),
                size.null_count(),
                modified.null_count(),
            ]
            .into_iter()
            .chain([checksum.null_count()])
            .any(|n| n > 0)
            {
                return Err(unreadable(format!("a null in leaf {leaf}'s files")));
            }
            for i in 0..batch.num_rows() {
                files.push(HeldFile {
                    period: period.value(i),
                    size: size.value(i),
                    modified: modified.value(i),
                    checksum: checksum.value(i),
                });
            }
        }
        Ok(files)
    }

    /// Each file of `listing`, by symbol then period, handed to `each` as it is read. The
    /// leaves are read in runs of about `FILES_PER_READ` files, each run one sorted scan, so
    /// memory stays bounded whatever the dataset's size; one symbol's files were read by the
    /// listing.
    pub fn each_file<E: From<StoreError>>(
        &self,
        listing: &FileListing,
        mut each: impl FnMut(CatalogFile) -> Result<(), E>,
    ) -> Result<(), E> {
        let template = KeyTemplate::of(listing.dataset);
        let mut hand = |symbol: &str, f: HeldFile| -> Result<(), E> {
            let span = period_span(listing.dataset.partition(), f.period).ok_or_else(|| {
                StoreError::BadPeriod {
                    path: self.path.clone(),
                    period: f.period,
                }
            })?;
            each(CatalogFile {
                key: template.key(symbol, span),
                symbol: symbol.to_string(),
                span,
                size: f.size.max(0) as u64,
                last_modified: span_end(span) + chrono::Duration::milliseconds(f.modified),
                checksum: f.checksum,
            })
        };
        let leaves = match &listing.matched {
            Matched::Folder { symbol, files } => {
                for f in files {
                    hand(symbol, *f)?;
                }
                return Ok(());
            }
            Matched::Leaves(leaves) => leaves,
        };
        let action = "reading files";
        let mut start = 0;
        while start < leaves.len() {
            let mut end = start;
            let mut files = 0;
            while end < leaves.len() && (end == start || files < FILES_PER_READ) {
                files += leaves[end].files;
                end += 1;
            }
            let run = &leaves[start..end];
            // Leaf ids and ranks are integers this code made: nothing from outside is spliced.
            let mut values = String::new();
            let (mut low, mut high) = (i32::MAX, i32::MIN);
            for (rank, leaf) in run.iter().enumerate() {
                (low, high) = (low.min(leaf.id), high.max(leaf.id));
                if rank > 0 {
                    values.push_str(", ");
                }
                let _ = write!(values, "({}, {rank})", leaf.id);
            }
            let sql = format!(
                "SELECT r.rank, f.period, f.size, f.modified * 1000 + f.modified_ms, f.checksum
                   FROM files f JOIN (VALUES {values}) AS r(leaf, rank) ON r.leaf = f.leaf
                  WHERE f.leaf BETWEEN {low} AND {high} AND f.period BETWEEN ? AND ?
                  ORDER BY r.rank, f.period"
            );
            let mut stmt = self
                .conn
                .prepare(&sql)
                .map_err(failed(&self.path, action))?;
            let mut rows = stmt
                .query(params![listing.periods.0, listing.periods.1])
                .map_err(failed(&self.path, action))?;
            while let Some(r) = rows.next().map_err(failed(&self.path, action))? {
                let get = |r: &duckdb::Row<'_>| -> duckdb::Result<(i32, i32, i64, i64, bool)> {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                };
                let (rank, period, size, modified, checksum) =
                    get(r).map_err(failed(&self.path, action))?;
                let file = HeldFile {
                    period,
                    size,
                    modified,
                    checksum,
                };
                hand(&run[rank as usize].symbol, file)?;
            }
            start = end;
        }
        Ok(())
    }

    /// Each run of periods missing strictly inside a symbol folder's first..last period of
    /// `dataset` (`symbol` narrows it to one folder), by symbol then first missing period,
    /// with whether the other partition covers it. Only the folders with a gap (fewer files
    /// than periods) are read period by period, with a window per leaf.
    pub fn gaps(
        &self,
        dataset: Dataset,
        symbol: Option<&str>,
    ) -> Result<Vec<CatalogGap>, StoreError> {
        let Some(&id) = self.datasets.get(&dataset) else {
            return Ok(Vec::new());
        };
        let partition = dataset.partition();
        // The other partition's dataset, if the bucket has it and the catalog holds it.
        let other = match partition {
            Partition::Daily => Partition::Monthly,
            Partition::Monthly => Partition::Daily,
        };
        let other_id = dataset
            .in_partition(other)
            .ok()
            .and_then(|d| self.datasets.get(&d).copied());
        // The other partition's periods a run of missing periods [first, last] needs.
        let (lo, hi) = match partition {
            Partition::Daily => (month_of_day("r.first"), month_of_day("r.last")),
            Partition::Monthly => (
                first_day_of_month("r.first"),
                format!("{} - 1", first_day_of_month("r.last + 1")),
            ),
        };
        let sql = format!(
            "WITH lv AS (
                 SELECT id, symbol FROM leaves WHERE dataset = ?1 AND (?2 IS NULL OR symbol = ?2)
             ),
             gappy AS (
                 SELECT f.leaf FROM files f JOIN lv ON lv.id = f.leaf
                  GROUP BY f.leaf HAVING count(*) < max(f.period) - min(f.period) + 1
             ),
             runs AS (
                 SELECT leaf, previous + 1 AS first, period - 1 AS last
                   FROM (SELECT f.leaf, f.period,
                                lag(f.period) OVER (PARTITION BY f.leaf ORDER BY f.period) AS previous
                           FROM files f WHERE f.leaf IN (SELECT leaf FROM gappy))
                  WHERE period - previous > 1
             ),
             bounds AS (
                 SELECT r.leaf, lv.symbol, r.first, r.last, o.id AS other,
                        {lo} AS lo, {hi} AS hi
                   FROM runs r JOIN lv ON lv.id = r.leaf
                   LEFT JOIN (SELECT id, symbol FROM leaves WHERE dataset = ?3) o
                          ON o.symbol = lv.symbol
             ),
             covered AS (
                 SELECT b.leaf, b.first, count(*) AS n
                   FROM bounds b JOIN files f ON f.leaf = b.other AND f.period BETWEEN b.lo AND b.hi
                  GROUP BY b.leaf, b.first
             )
             SELECT b.symbol, b.first, b.last,
                    b.other IS NOT NULL AND coalesce(c.n, 0) = b.hi - b.lo + 1
               FROM bounds b LEFT JOIN covered c ON c.leaf = b.leaf AND c.first = b.first
              ORDER BY b.symbol, b.first"
        );
        let action = "finding gaps";
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(failed(&self.path, action))?;
        let rows = stmt
            .query_map(params![id, symbol, other_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i32>(1)?,
                    r.get::<_, i32>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            })
            .map_err(failed(&self.path, action))?;
        let mut out = Vec::new();
        for row in rows {
            let (symbol, first, last, covered) = row.map_err(failed(&self.path, action))?;
            let span = |n| {
                period_span(partition, n).ok_or_else(|| StoreError::BadPeriod {
                    path: self.path.clone(),
                    period: n,
                })
            };
            out.push(CatalogGap {
                symbol,
                from: span(first)?,
                to: span(last)?,
                periods: i64::from(last) - i64::from(first) + 1,
                covered_by: covered.then_some(other),
            });
        }
        Ok(out)
    }

    /// How long after their period ended `dataset`'s files were first seen (see [`Lag`]).
    pub fn lag(&self, dataset: Dataset) -> Result<Lag, StoreError> {
        let Some(&id) = self.datasets.get(&dataset) else {
            return Ok(Lag {
                files: 0,
                p50_hours: None,
                p90_hours: None,
                p99_hours: None,
                max_hours: None,
                replaced: 0,
            });
        };
        // Last-Modified counts from the end of the file's period: it is the lag (milliseconds
        // in `changes`, seconds and milliseconds in `files`).
        let (files, p50, p90, p99, max, replaced) = self
            .conn
            .query_row(
                "WITH first_seen AS (
                     SELECT c.leaf, c.period,
                            arg_min(CASE WHEN c.kind = 'added' THEN c.modified
                                         ELSE c.previous_modified END, c.seen) AS modified,
                            bool_or(c.kind = 'replaced') AS replaced
                       FROM changes c JOIN leaves l ON l.id = c.leaf
                      WHERE l.dataset = ?1
                      GROUP BY c.leaf, c.period
                 ),
                 lags AS (
                     SELECT coalesce(s.modified, f.modified * 1000 + f.modified_ms) AS ms,
                            coalesce(s.replaced, false) AS replaced
                       FROM files f JOIN leaves l ON l.id = f.leaf
                       LEFT JOIN first_seen s ON s.leaf = f.leaf AND s.period = f.period
                      WHERE l.dataset = ?1
                 )
                 SELECT n, q[1], q[2], q[3], m, r
                   FROM (SELECT count(*) AS n, quantile_disc(ms, [0.5, 0.9, 0.99]) AS q, max(ms) AS m,
                                count(*) FILTER (WHERE replaced) AS r
                           FROM lags)",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        r.get::<_, i64>(5)?,
                    ))
                },
            )
            .map_err(failed(&self.path, "measuring the lag"))?;
        Ok(Lag {
            files,
            p50_hours: hours(p50),
            p90_hours: hours(p90),
            p99_hours: hours(p99),
            max_hours: hours(max),
            replaced,
        })
    }
}
