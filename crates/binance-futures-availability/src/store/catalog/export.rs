//! The catalog for other engines (issue 27, item 5): its files with their keys rebuilt in SQL
//! (the key the listing showed, `Dataset::key`), defined once here for both exports —
//! `catalog export`, Hive-partitioned folders (`files/market=um/partition=daily/type=klines/
//! files-0000.parquet`) that DuckDB, polars, Spark and Trino read as one table, and `export
//! --catalog`, one flat file a table (the partition columns as columns).
//!
//! Must not know: flags, how the command line prints.
//!
//! Why not DuckDB's `COPY … (PARTITION_BY …)`: it keeps one open writer per partition, each
//! buffering a row group, and over the ~60 partitions of the bucket it ran out of a 64 MB
//! memory limit on 2 × 10⁷ rows (with or without insertion order, smaller row groups or fewer
//! open files; measured with DuckDB 2.0). Instead each partition is one `COPY` of its own,
//! sorted (`ORDER BY` spills to disk past the memory limit, and `COPY` writes rows in the order
//! its query gives them), so one writer is open at a time whatever the catalog's size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Catalog;
use crate::facts::Market;
use crate::store::{Beside, ExportFormat, MemoryLimit, StoreError, duck, files, io_failed, utf8};
use crate::vision::{Dataset, Partition};

/// The columns of an exported file and the SQL each is made of, in order: `catalog files
/// --format json`'s keys, then the file's dataset and interval (empty for a data type without
/// intervals). `last_modified` is a UTC timestamp (milliseconds), `period` the text
/// `catalog files` prints (`2024-01-15`, `2024-01`).
const FILE_SQL: [(&str, &str); 8] = [
    ("key", "key"),
    ("symbol", "symbol"),
    ("period", "period"),
    ("size", "size"),
    (
        "last_modified",
        "period_end + to_seconds(modified) + to_milliseconds(modified_ms)",
    ),
    ("checksum", "checksum"),
    ("dataset", "dataset"),
    ("interval", "interval_name"),
];

/// The columns `catalog export` partitions by, in its folders' order (`market=um/
/// partition=daily/type=klines`): in the folder names, not in the files. `export --catalog`
/// writes them as columns after [`FILE_COLUMNS`], so both read as the same table.
const PARTITION_SQL: [(&str, &str); 3] = [
    ("market", "market_name"),
    ("partition", "partition_name"),
    ("type", "type_name"),
];

/// The columns of an exported change, as `catalog changes` answers (key rebuilt, times UTC),
/// and its dataset.
const CHANGE_SQL: [(&str, &str); 8] = [
    ("seen", "seen"),
    ("key", "key"),
    ("dataset", "dataset"),
    ("kind", "kind"),
    ("size", "size"),
    ("last_modified", "period_end + to_milliseconds(modified)"),
    ("previous_size", "previous_size"),
    (
        "previous_last_modified",
        "period_end + to_milliseconds(previous_modified)",
    ),
];

/// The file at the top of a `catalog export` saying what it holds: only an earlier export has
/// it, so it is what `--force` checks before it replaces a folder.
pub const MANIFEST: &str = "_manifest.json";

/// The columns of every exported file, in order.
pub fn file_columns() -> impl Iterator<Item = &'static str> {
    FILE_SQL.iter().map(|(name, _)| *name)
}

/// The columns `catalog export` partitions by, in its folders' order.
pub fn partition_columns() -> impl Iterator<Item = &'static str> {
    PARTITION_SQL.iter().map(|(name, _)| *name)
}

/// `columns` as a select list: each expression under its quoted name.
fn select(columns: &[&[(&str, &str)]]) -> String {
    columns
        .iter()
        .flat_map(|c| c.iter())
        .map(|(name, sql)| format!("{sql} AS \"{name}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Catalog {
    /// Every dataset the catalog holds, with its id, by id.
    pub(super) fn datasets_by_id(&self) -> Vec<(Dataset, i16)> {
        let mut datasets: Vec<(Dataset, i16)> =
            self.datasets.iter().map(|(d, id)| (*d, *id)).collect();
        datasets.sort_by_key(|(_, id)| *id);
        datasets
    }

    /// The query of every file with its key rebuilt by its dataset's grammar: the exported
    /// columns and the partition columns, in the order stored (leaf-clustered). A join of
    /// `files` with two small tables, unordered: it streams, whatever the catalog's size.
    pub(crate) fn files_export_sql(&self) -> String {
        self.keyed(
            "files",
            &select(&[&FILE_SQL, &PARTITION_SQL]),
            &self.datasets_by_id(),
            None,
        )
    }

    /// The query of every change, as `catalog changes` answers it, by time seen then key.
    pub(crate) fn changes_export_sql(&self) -> String {
        self.changes_of(&self.datasets_by_id())
    }

    /// The changes of `datasets`' files, by time seen then key (a few rows a day: the sort is
    /// small).
    fn changes_of(&self, datasets: &[(Dataset, i16)]) -> String {
        format!(
            "SELECT * FROM ({}) ORDER BY seen, key",
            self.keyed("changes", &select(&[&CHANGE_SQL]), datasets, None)
        )
    }

    /// `columns` of the rows of `table` (one with `leaf` and `period`) in `datasets`, each row
    /// with its `key`, `dataset`, `symbol`, `period` as text, `first_day`, `period_end` (from
    /// which `modified` counts) and its dataset's `market_name`, `partition_name`, `type_name`
    /// and `interval_name`.
    ///
    /// With `sorted`, only the symbols from its first through its last, by symbol, then
    /// dataset in `datasets`' order, then period: the rows are
    /// sorted while they are narrow (numbers and the symbol, which DuckDB keeps inline) and the
    /// strings are made after the sort, per row, by looking the dataset's up in a list by its
    /// position — no join after the sort, so its order is the output's. Sorting the finished
    /// rows (keys ~80 bytes each) ran out of 32 MB where this sorts in 24 MB.
    fn keyed(
        &self,
        table: &str,
        columns: &str,
        datasets: &[(Dataset, i16)],
        sorted: Option<(&str, &str)>,
    ) -> String {
        let text = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let list = |f: &dyn Fn(&Dataset) -> String| {
            let items: Vec<String> = datasets.iter().map(|(d, _)| f(d)).collect();
            if items.is_empty() {
                "[NULL]".to_string()
            } else {
                format!("[{}]", items.join(", "))
            }
        };
        let names = list(&|d| text(&d.to_string()));
        let prefixes = list(&|d| text(&d.prefix()));
        let folders = list(&|d| {
            text(
                &d.interval()
                    .map_or(String::new(), |i| format!("{}/", i.name())),
            )
        });
        let tags = list(&|d| text(d.interval().map_or(d.data_type().name(), |i| i.name())));
        let daily = list(&|d| (d.partition() == Partition::Daily).to_string());
        let markets = list(&|d| text(&d.market().to_string()));
        let partitions = list(&|d| text(&d.partition().to_string()));
        let types = list(&|d| text(&d.data_type().to_string()));
        let intervals = list(&|d| d.interval().map_or("NULL".to_string(), |i| text(i.name())));
        let positions: Vec<String> = datasets
            .iter()
            .enumerate()
            .map(|(i, (_, id))| format!("({id}::SMALLINT, {})", i + 1))
            .collect();
        // No datasets: one impossible row keeps the query's shape.
        let positions = if positions.is_empty() {
            "(NULL::SMALLINT, 1)".to_string()
        } else {
            positions.join(", ")
        };
        let order = sorted.map_or(String::new(), |(first, last)| {
            format!(
                "WHERE l.symbol BETWEEN {} AND {} ORDER BY l.symbol, d.pos, x.period",
                text(first),
                text(last)
            )
        });
        format!(
            "WITH d(id, pos) AS (VALUES {positions}),
                  s AS (
                    SELECT x.*, l.symbol, d.pos
                      FROM {table} x JOIN leaves l ON l.id = x.leaf JOIN d ON d.id = l.dataset
                    {order}),
                  t AS (
                    SELECT s.*,
                           ({names}::VARCHAR[])[pos] AS dataset,
                           ({prefixes}::VARCHAR[])[pos] AS prefix,
                           ({folders}::VARCHAR[])[pos] AS folder,
                           ({tags}::VARCHAR[])[pos] AS tag,
                           ({daily}::BOOLEAN[])[pos] AS daily,
                           ({markets}::VARCHAR[])[pos] AS market_name,
                           ({partitions}::VARCHAR[])[pos] AS partition_name,
                           ({types}::VARCHAR[])[pos] AS type_name,
                           ({intervals}::VARCHAR[])[pos] AS interval_name
                      FROM s),
                  u AS (
                    SELECT t.*,
                           CASE WHEN daily THEN DATE '1970-01-01' + period
                                ELSE make_date(period // 12, period % 12 + 1, 1) END AS first_day
                      FROM t),
                  p AS (
                    SELECT u.*,
                           CASE WHEN daily THEN strftime(first_day, '%Y-%m-%d')
                                ELSE strftime(first_day, '%Y-%m') END AS period_text,
                           CASE WHEN daily THEN first_day + INTERVAL 1 DAY
                                ELSE first_day + INTERVAL 1 MONTH END AS period_end
                      FROM u),
                  q AS (
                    SELECT * EXCLUDE (period, period_text), period_text AS period,
                           prefix || symbol || '/' || folder || symbol || '-' || tag || '-'
                             || period_text || '.zip' AS key
                      FROM p)
             SELECT {columns} FROM q"
        )
    }
}

/// Which datasets `catalog export` writes: those of these markets and among these datasets
/// (an empty list selects every one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSelection {
    /// Only these markets' datasets.
    pub markets: Vec<Market>,
    /// Only these datasets.
    pub datasets: Vec<Dataset>,
}

impl ExportSelection {
    fn admits(&self, dataset: Dataset) -> bool {
        (self.markets.is_empty() || self.markets.contains(&dataset.market()))
            && (self.datasets.is_empty() || self.datasets.contains(&dataset))
    }

    /// The flags that made it, for a sentence.
    fn flags(&self) -> String {
        let mut flags: Vec<String> = Vec::new();
        if !self.markets.is_empty() {
            let markets: Vec<String> = self.markets.iter().map(|m| m.to_string()).collect();
            flags.push(format!("--market {}", markets.join(",")));
        }
        for d in &self.datasets {
            flags.push(format!("--dataset {d}"));
        }
        flags.join(" ")
    }
}

/// A destination `catalog export` will not write, said before the catalog is opened (exit 2),
/// or a selection of no dataset.
#[derive(Debug, thiserror::Error)]
pub enum ExportRefused {
    /// DEST is a file.
    #[error(
        "{} is a file, not a folder: catalog export writes a folder of files (name a new or \
         empty folder)",
        .path.display()
    )]
    NotAFolder {
        /// The destination.
        path: PathBuf,
    },
    /// DEST holds files, without `--force`.
    #[error(
        "{} is not empty: catalog export writes a new folder, or replaces an earlier export \
         whole with --force",
        .path.display()
    )]
    NotEmpty {
        /// The destination.
        path: PathBuf,
    },
    /// DEST holds files that no export wrote, with `--force`.
    #[error(
        "{} is not an earlier catalog export (it has no _manifest.json), so --force does not \
         replace it: name a new or empty folder",
        .path.display()
    )]
    NotAnExport {
        /// The destination.
        path: PathBuf,
    },
    /// DEST is the catalog's folder or one above it.
    #[error(
        "{} holds the catalog {}: an export replaces its folder whole, so name a folder \
         outside the catalog's",
        .path.display(), .catalog.display()
    )]
    HoldsTheCatalog {
        /// The destination.
        path: PathBuf,
        /// The catalog.
        catalog: PathBuf,
    },
    /// `--market`/`--dataset` select none of the catalog's datasets.
    #[error(
        "{} holds no dataset that {selection} selects: `catalog datasets` lists the ones it holds",
        .catalog.display()
    )]
    NothingSelected {
        /// The catalog.
        catalog: PathBuf,
        /// The flags given.
        selection: String,
    },
}

/// What `catalog export` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogExported {
    /// The folder.
    pub dest: PathBuf,
    /// The datasets written.
    pub datasets: Vec<String>,
    /// Files written under `files/` (a partition's symbols are cut into files of at most
    /// `chunk_rows` rows).
    pub partitions: usize,
    /// Files of the bucket written (rows).
    pub files: u64,
    /// Changes written.
    pub changes: u64,
    /// Strays written.
    pub strays: u64,
}

/// `_manifest.json`: what the export holds and how to read it.
#[derive(Serialize)]
struct Manifest<'a> {
    written_by: String,
    format: &'static str,
    catalog: String,
    files: String,
    columns: Vec<&'static str>,
    partitioned_by: Vec<&'static str>,
    contents: &'a CatalogExported,
}

/// `dest` made absolute, with the folders that exist resolved (symbolic links, `..`), so that
/// the folder beside it and the comparison with the catalog's folder mean what they say.
fn located(dest: &Path) -> Result<PathBuf, StoreError> {
    let absolute = std::path::absolute(dest).map_err(io_failed("resolving", dest))?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while existing.symlink_metadata().is_err() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = std::fs::canonicalize(existing).map_err(io_failed("resolving", dest))?;
    for name in rest.into_iter().rev() {
        out.push(name);
    }
    Ok(out)
}

/// Refuses a destination `catalog export` must not write, opening nothing: a URL, a file, a
/// folder holding files (with `--force`: one that is not an earlier export), or the catalog's
/// own folder or one above it (the export replaces its folder whole). Returns it located.
pub fn check_export_destination(
    dest: &Path,
    catalog: &Path,
    force: bool,
) -> Result<PathBuf, StoreError> {
    if dest.to_string_lossy().contains("://") {
        return Err(StoreError::NotLocal {
            path: dest.to_path_buf(),
        });
    }
    utf8(dest)?;
    let located = located(dest)?;
    if let Some(folder) = std::fs::canonicalize(catalog)
        .ok()
        .and_then(|c| c.parent().map(Path::to_path_buf))
        && folder.starts_with(&located)
    {
        return Err(ExportRefused::HoldsTheCatalog {
            path: dest.to_path_buf(),
            catalog: catalog.to_path_buf(),
        }
        .into());
    }
    let Ok(meta) = std::fs::metadata(&located) else {
        return Ok(located);
    };
    if !meta.is_dir() {
        return Err(ExportRefused::NotAFolder {
            path: dest.to_path_buf(),
        }
        .into());
    }
    let empty = std::fs::read_dir(&located)
        .map_err(io_failed("reading the destination", dest))?
        .next()
        .is_none();
    if empty {
        return Ok(located);
    }
    if !force {
        return Err(ExportRefused::NotEmpty {
            path: dest.to_path_buf(),
        }
        .into());
    }
    if !located.join(MANIFEST).is_file() {
        return Err(ExportRefused::NotAnExport {
            path: dest.to_path_buf(),
        }
        .into());
    }
    Ok(located)
}

/// `path` with `suffix` added to its name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes whatever is at `path` (a folder whole, a file, a link — never what a link points
/// to), if anything.
fn remove_any(path: &Path) -> Result<(), StoreError> {
    match path.symlink_metadata() {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => {
            std::fs::remove_dir_all(path).map_err(io_failed("removing a leftover folder", path))
        }
        Ok(_) => files::remove_if_present(path).map_err(io_failed("removing a leftover", path)),
    }
}

/// Writes the catalog at `catalog` to the folder `dest` for other engines:
/// `files/market=…/partition=…/type=…/files-NNNN.<format>` (Hive-partitioned: one table over every
/// dataset selected, each file one partition's rows by symbol, interval, then period — the
/// order `catalog files` prints a dataset in), `changes.<format>` (the selected datasets'
/// changes, by time seen then key), `strays.<format>` (every stray, by key) and
/// `_manifest.json`.
///
/// Written into `DEST.partial` beside it and renamed into place at the end, so a failed or
/// killed export never leaves a half-written DEST (a leftover `.partial` is removed by the
/// next export); with `force`, an earlier export at DEST is replaced whole. Memory is the
/// writers' limit (`BFA_MEMORY_LIMIT`): one partition's `COPY` at a time, its sort spilling to
/// a folder inside `DEST.partial`.
pub fn export_for_engines(
    catalog: &Path,
    dest: &Path,
    format: ExportFormat,
    selection: &ExportSelection,
    force: bool,
) -> Result<CatalogExported, StoreError> {
    let located = check_export_destination(dest, catalog, force)?;
    // Checked with the locked, hardened connection first: no code runs before the export.
    let checked = Catalog::open(catalog)?;
    checked.check_thoroughly()?;
    let chosen: Vec<(Dataset, i16)> = checked
        .datasets_by_id()
        .into_iter()
        .filter(|(d, _)| selection.admits(*d))
        .collect();
    if chosen.is_empty() {
        return Err(ExportRefused::NothingSelected {
            catalog: catalog.to_path_buf(),
            selection: if selection.flags().is_empty() {
                "the export".to_string()
            } else {
                selection.flags()
            },
        }
        .into());
    }
    let ext = format.as_str();
    let mut groups: BTreeMap<(String, String, String), Vec<(Dataset, i16)>> = BTreeMap::new();
    for (d, id) in &chosen {
        groups
            .entry((
                d.market().to_string(),
                d.partition().to_string(),
                d.data_type().to_string(),
            ))
            .or_default()
            .push((*d, *id));
    }
    // Within a partition, datasets by interval name (none first): the order of their keys.
    for datasets in groups.values_mut() {
        datasets.sort_by_key(|(d, _)| d.interval().map(|i| i.name()));
    }
    let file_columns = select(&[&FILE_SQL]);
    let per_file = chunk_rows(MemoryLimit::from_env()?);
    let staging = Beside::of(&located).partial();
    remove_any(&staging)?;
    std::fs::create_dir_all(&staging).map_err(|source| StoreError::CreateDir {
        dir: staging.clone(),
        source,
    })?;
    // Counted within the memory limit: the catalog's own connection has none, and would keep
    // the blocks of its scan of `files` cached (255 MB peak at 10⁸ files).
    let counts = match connect(catalog, &staging, &staging.join(".spill"))
        .and_then(|conn| files_by_symbol(&conn, catalog, &chosen))
    {
        Ok(counts) => counts,
        Err(e) => {
            let _ = remove_any(&staging);
            return Err(e);
        }
    };
    let mut partitions: Vec<(PathBuf, String)> = Vec::new();
    for ((market, partition, data_type), datasets) in &groups {
        let folder = Path::new("files")
            .join(format!("market={market}"))
            .join(format!("partition={partition}"))
            .join(format!("type={data_type}"));
        // The partition's symbols, in order, with their files across its datasets.
        let mut symbols: Vec<(&str, i64)> = Vec::new();
        for (dataset, symbol, files) in &counts {
            if datasets.iter().any(|(_, id)| id == dataset) {
                match symbols.last_mut() {
                    Some((last, n)) if *last == symbol.as_str() => *n += files,
                    _ => symbols.push((symbol.as_str(), *files)),
                }
            }
        }
        let mut start = 0;
        while start < symbols.len() {
            let mut end = start;
            let mut rows = 0;
            while end < symbols.len() && (end == start || rows + symbols[end].1 <= per_file) {
                rows += symbols[end].1;
                end += 1;
            }
            let n = partitions
                .iter()
                .filter(|(f, _)| f.starts_with(&folder))
                .count();
            partitions.push((
                folder.join(format!("files-{n:04}.{ext}")),
                checked.keyed(
                    "files",
                    &file_columns,
                    datasets,
                    Some((symbols[start].0, symbols[end - 1].0)),
                ),
            ));
            start = end;
        }
    }
    let changes = checked.changes_of(&chosen);
    drop(checked);
    let mut exported = CatalogExported {
        dest: dest.to_path_buf(),
        datasets: chosen.iter().map(|(d, _)| d.to_string()).collect(),
        partitions: partitions.len(),
        files: 0,
        changes: 0,
        strays: 0,
    };
    let written = write_staged(
        catalog,
        &staging,
        format,
        &partitions,
        &changes,
        &mut exported,
    );
    if let Err(e) = written {
        let _ = remove_any(&staging);
        return Err(e);
    }
    // Into place: an earlier export (or an empty folder) is moved aside first, the new one
    // renamed in, then the old one removed.
    let aside = sibling(&located, ".replaced");
    remove_any(&aside)?;
    let had = located.symlink_metadata().is_ok();
    if had {
        std::fs::rename(&located, &aside)
            .map_err(io_failed("moving the earlier export aside", dest))?;
    }
    if let Err(e) = std::fs::rename(&staging, &located) {
        if had {
            let _ = std::fs::rename(&aside, &located);
        }
        let _ = remove_any(&staging);
        return Err(io_failed("putting the export in place", dest)(e));
    }
    files::sync_parent(&located)?;
    remove_any(&aside)?;
    Ok(exported)
}

/// Every file of the export into `staging`, then the manifest; the counts into `exported`.
fn write_staged(
    catalog: &Path,
    staging: &Path,
    format: ExportFormat,
    partitions: &[(PathBuf, String)],
    changes: &str,
    exported: &mut CatalogExported,
) -> Result<(), StoreError> {
    let spill = staging.join(".spill");
    let conn = connect(catalog, staging, &spill)?;
    let ext = format.as_str();
    let options = match format {
        ExportFormat::Parquet => format!(
            "{}, ROW_GROUP_SIZE {}",
            format.copy_options(),
            row_group_rows(MemoryLimit::from_env()?)
        ),
        ExportFormat::Csv => format.copy_options().to_string(),
    };
    let copy = |query: &str, file: &Path| -> Result<u64, StoreError> {
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                dir: parent.to_path_buf(),
                source,
            })?;
        }
        let target = utf8(file)?.replace('\'', "''");
        let rows = conn
            .execute(&format!("COPY ({query}) TO '{target}' ({options})"), [])
            .map_err(|source| duck(catalog, "exporting the catalog", source))?;
        Ok(rows as u64)
    };
    for (file, query) in partitions {
        exported.files += copy(query, &staging.join(file))?;
    }
    exported.changes = copy(changes, &staging.join(format!("changes.{ext}")))?;
    exported.strays = copy(
        "SELECT key, size, last_modified, reason, folder FROM strays ORDER BY key",
        &staging.join(format!("strays.{ext}")),
    )?;
    drop(conn);
    remove_any(&spill)?;
    let manifest = Manifest {
        written_by: format!("binance-futures-availability {}", env!("CARGO_PKG_VERSION")),
        format: format.as_str(),
        catalog: catalog.display().to_string(),
        files: format!("files/**/*.{ext}"),
        columns: file_columns().collect(),
        partitioned_by: partition_columns().collect(),
        contents: exported,
    };
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    let path = staging.join(MANIFEST);
    std::fs::write(&path, text + "\n").map_err(io_failed("writing the manifest", &path))
}

/// Files of each symbol folder of `datasets`: (dataset id, symbol, files), by symbol. One
/// aggregate over `files` (a row per leaf).
fn files_by_symbol(
    conn: &duckdb::Connection,
    catalog: &Path,
    datasets: &[(Dataset, i16)],
) -> Result<Vec<(i16, String, i64)>, StoreError> {
    let ids: Vec<String> = datasets.iter().map(|(_, id)| id.to_string()).collect();
    let err = |source| duck(catalog, "counting the files to export", source);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT l.dataset, l.symbol, count(*) FROM files f JOIN leaves l ON l.id = f.leaf
              WHERE l.dataset IN ({}) GROUP BY ALL ORDER BY l.symbol, l.dataset",
            ids.join(", ")
        ))
        .map_err(err)?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(err)
}

/// The most rows one file of a partition holds (its symbols cut where the next would pass it):
/// each file is one sorted `COPY`, and DuckDB's sort pins a block for each run it merges, so
/// the rows one sort may take grow with the memory limit — 10⁸ files in ~40 partitions ran
/// out of 48 MB sorting whole partitions, and 3.5 × 10⁶ rows sorted in 40 MB but not 32.
/// A 48th of the limit in bytes (10⁶ rows at the default 48 MB).
fn chunk_rows(memory: MemoryLimit) -> i64 {
    i64::try_from(memory.bytes() / 48)
        .unwrap_or(i64::MAX)
        .max(10_000)
}

/// Rows in a Parquet row group: the writer holds one whole before it writes it, and at DuckDB's
/// 122,880 rows (keys ~80 bytes) a single `COPY` of 1.4 × 10⁶ files ran out of 45 MB. A
/// 2,400th of the memory limit in rows (20,000 at the default 48 MB) fits beside the sort.
fn row_group_rows(memory: MemoryLimit) -> u64 {
    (memory.bytes() / 2_400).clamp(2_048, 122_880)
}

/// A read-only connection to the catalog whose SQL may write into `staging` and nowhere else,
/// within the writers' memory limit on one thread, spilling into `spill`. The catalog must
/// have been checked for code first.
fn connect(catalog: &Path, staging: &Path, spill: &Path) -> Result<duckdb::Connection, StoreError> {
    let memory = MemoryLimit::from_env()?;
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .and_then(|c| c.enable_autoload_extension(false))
        .and_then(|c| c.max_memory(&memory.duckdb()))
        .and_then(|c| c.threads(1))
        .and_then(|c| c.with("temp_directory", utf8(spill).unwrap_or_default()))
        .map_err(|source| duck(catalog, "configuring the export", source))?;
    let conn = duckdb::Connection::open_with_flags(files::resolve(catalog)?, config)
        .map_err(|source| duck(catalog, "opening the catalog read-only", source))?;
    let dir = utf8(staging)?.replace('\'', "''");
    conn.execute_batch(&format!(
        "SET allowed_directories = ['{dir}']; SET enable_external_access = false;
         SET lock_configuration = true;"
    ))
    .map_err(|source| duck(catalog, "limiting the export to its folder", source))?;
    Ok(conn)
}
