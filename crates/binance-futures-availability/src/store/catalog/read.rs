//! The catalog's answers: datasets, symbols, files, strays — each one query, rows by the order
//! the command promises (gaps, lag and the files streamed are `questions`, the changes
//! `changes`). Must not know: the crawl, HTTP, how answers are printed.

use duckdb::params;

use super::{
    Catalog, CatalogFile, DatasetSummary, FileQuery, Stray, StrayReason, SymbolSummary, period_span,
};
use crate::store::{StoreError, failed};
use crate::vision::Dataset;

impl Catalog {
    /// Every dataset with files, by name: its symbols, files, bytes, first and last period,
    /// files without a `.CHECKSUM`, and when a change of its files was last seen — from
    /// `leaf_stats`, kept at publish (a leaf without files there counts only for the last
    /// change: the removal of its files).
    pub fn datasets(&self) -> Result<Vec<DatasetSummary>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT d.name, count(DISTINCT l.symbol) FILTER (WHERE s.files > 0),
                        sum(s.files)::BIGINT, sum(s.bytes)::BIGINT, min(s.first), max(s.last),
                        sum(s.missing_checksums)::BIGINT, max(s.last_change)
                   FROM leaf_stats s JOIN leaves l ON l.id = s.leaf
                   JOIN datasets d ON d.id = l.dataset
                  GROUP BY d.name HAVING sum(s.files) > 0 ORDER BY d.name",
            )
            .map_err(failed(&self.path, "summing the datasets"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i32>(4)?,
                    r.get::<_, i32>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<chrono::NaiveDateTime>>(7)?,
                ))
            })
            .map_err(failed(&self.path, "summing the datasets"))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, symbols, files, bytes, first, last, missing_checksums, last_change) =
                row.map_err(failed(&self.path, "summing the datasets"))?;
            let dataset: Dataset = name.parse().map_err(|source| StoreError::BadDataset {
                path: self.path.clone(),
                source,
            })?;
            let span = |n| {
                period_span(dataset.partition(), n).ok_or_else(|| StoreError::BadPeriod {
                    path: self.path.clone(),
                    period: n,
                })
            };
            out.push(DatasetSummary {
                dataset,
                symbols,
                files,
                bytes,
                first: span(first)?,
                last: span(last)?,
                missing_checksums,
                last_change: last_change.map(|t| t.and_utc()),
            });
        }
        Ok(out)
    }

    /// Every symbol folder of `dataset` with files, by symbol: files, bytes, first and last
    /// period, and the periods missing between them.
    pub fn symbols(&self, dataset: Dataset) -> Result<Vec<SymbolSummary>, StoreError> {
        let Some(&id) = self.datasets.get(&dataset) else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT l.symbol, sum(s.files)::BIGINT, sum(s.bytes)::BIGINT, min(s.first),
                        max(s.last)
                   FROM leaf_stats s JOIN leaves l ON l.id = s.leaf
                  WHERE l.dataset = ? AND s.files > 0 GROUP BY l.symbol ORDER BY l.symbol",
            )
            .map_err(failed(&self.path, "summing the symbols"))?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i32>(3)?,
                    r.get::<_, i32>(4)?,
                ))
            })
            .map_err(failed(&self.path, "summing the symbols"))?;
        let mut out = Vec::new();
        for row in rows {
            let (symbol, files, bytes, first, last) =
                row.map_err(failed(&self.path, "summing the symbols"))?;
            let span = |n| {
                period_span(dataset.partition(), n).ok_or_else(|| StoreError::BadPeriod {
                    path: self.path.clone(),
                    period: n,
                })
            };
            out.push(SymbolSummary {
                symbol,
                files,
                bytes,
                first: span(first)?,
                last: span(last)?,
                // Periods are consecutive integers (days, or months), one file each at most.
                gaps: i64::from(last) - i64::from(first) + 1 - files,
            });
        }
        Ok(out)
    }

    /// Every file of `dataset`, by symbol then period (`symbol` narrows it to one folder),
    /// collected: for a folder or a small dataset. `file_listing` and `each_file` stream them.
    pub fn files(
        &self,
        dataset: Dataset,
        symbol: Option<&str>,
    ) -> Result<Vec<CatalogFile>, StoreError> {
        let listing = self.file_listing(&FileQuery {
            symbol,
            ..FileQuery::all(dataset)
        })?;
        let mut out = Vec::new();
        self.each_file(&listing, |f| {
            out.push(f);
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    /// Every stray, by key.
    pub fn strays(&self) -> Result<Vec<Stray>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, size, last_modified, reason FROM strays ORDER BY key")
            .map_err(failed(&self.path, "reading strays"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, chrono::NaiveDateTime>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(failed(&self.path, "reading strays"))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, size, last_modified, reason) =
                row.map_err(failed(&self.path, "reading strays"))?;
            let reason = StrayReason::parse(&reason).ok_or_else(|| StoreError::BadStrayReason {
                path: self.path.clone(),
                reason: reason.clone(),
            })?;
            out.push(Stray {
                key,
                size: size.max(0) as u64,
                last_modified: last_modified.and_utc(),
                reason,
            });
        }
        Ok(out)
    }
}
