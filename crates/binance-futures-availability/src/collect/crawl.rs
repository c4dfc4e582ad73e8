//! `catalog update` (ADR 0020): every file of the bucket into the catalog. Discovery walks the
//! layout's levels with `delimiter=/` down to the symbol folders (a few dozen listings); each
//! symbol folder is then listed flat, to its end, as one task of the run driver, and what it
//! held — files by leaf, `.CHECKSUM` flags, strays — joins a batch. Anything the layout does not
//! name is listed flat too and kept as strays with a reason, never dropped.
//!
//! A folder is written with the batch that holds it, and marked listed in the same
//! transaction, so a crawl stopped at any point resumes from the folders not written yet.
//!
//! This first version lists each folder once: the start-after listings of later runs, the
//! rolling re-crawl and the history of changes are ADR 0020's next steps.
//!
//! Must not know: SQL, the page format (`vision` reads pages), how rows are laid out (`store`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;

use super::driver::{Pending, Tally, Work, drive};
use super::{CollectError, Job, Options, Stage, Step, Stop, SymbolFailure};
use crate::facts::{Market, Partition};
use crate::store::{
    Catalog, FolderListing, LeafListing, ListedFile, StoreError, Stray, StrayReason, WriteSession,
};
use crate::vision::{
    DataType, Dataset, FetchError, ListedObject, VisionClient, VisionError, check_symbol,
};

/// What a crawl did.
#[derive(Debug, Clone, Default)]
pub struct CrawlSummary {
    /// Folders listed to their end by this crawl.
    pub folders: u64,
    /// Files they held.
    pub files: u64,
    /// Keys outside the layout they held.
    pub strays: u64,
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Rows written to the catalog.
    pub rows_written: u64,
    /// Wall time, opening the private copy and publishing it excluded.
    pub elapsed: Duration,
}

impl std::fmt::Display for CrawlSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "catalog update: {} folders listed, {} files, {} strays, {} requests, {} rows written \
             in {:.1} s",
            self.folders,
            self.files,
            self.strays,
            self.requests,
            self.rows_written,
            self.elapsed.as_secs_f64()
        )
    }
}

impl Tally for CrawlSummary {
    fn written(&mut self, rows: u64) {
        self.rows_written += rows;
    }
}

/// Why a crawl did not finish.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    /// The catalog could not be opened, written or published (another crawl holding its
    /// writer's lock is one case).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A batch could not be written.
    #[error(transparent)]
    Collect(CollectError),
    /// Walking the layout's levels failed, so there was no plan and nothing was listed.
    #[error("could not list the bucket's folders: {0}")]
    Discover(VisionError),
    /// The crawl was stopped (SIGTERM, Ctrl-C, the caller's token) before it finished.
    #[error("interrupted: {summary}. What was listed is committed; run again to finish")]
    Interrupted {
        /// What it did until then, all of it committed.
        summary: Box<CrawlSummary>,
    },
    /// The crawl went through its whole plan, but some folders failed; what the others gave
    /// is committed.
    #[error(
        "{} folder(s) failed; first: {}: {}. {summary}. Everything else is committed; run again to finish",
        failures.len(), failures[0].symbol, failures[0].cause
    )]
    Folders {
        /// Each failure, with its folder, in the order they happened.
        failures: Vec<SymbolFailure>,
        /// What the crawl did, all of it committed.
        summary: Box<CrawlSummary>,
    },
    /// The breaker stopped the crawl: so many requests failed that going on would only add
    /// failures.
    #[error(
        "stopped early: {failed} of {requests} requests failed, over the {threshold}% limit; first: {}: {}. \
         {summary}. What succeeded is committed; run again to finish",
        failures[0].symbol, failures[0].cause
    )]
    CircuitOpen {
        /// Failures when it stopped.
        failed: usize,
        /// Requests sent by then, retries included.
        requests: u64,
        /// `max_error_rate` as a percentage.
        threshold: f64,
        /// Each failure, with its folder.
        failures: Vec<SymbolFailure>,
        /// What the crawl did, all of it committed.
        summary: Box<CrawlSummary>,
    },
}

/// A market, partition and data type: the folder of one family of symbol folders
/// (`data/spot/daily/klines/`), whose datasets differ only by interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Family {
    market: Market,
    partition: Partition,
    data_type: DataType,
}

impl Family {
    fn prefix(self) -> String {
        format!(
            "{}{}/{}/",
            self.market.root(),
            self.partition.as_str(),
            self.data_type.name()
        )
    }
}

/// A folder to list flat, to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FolderTask {
    /// The folder (`data/spot/daily/klines/BTCUSDT/`, `data3/`).
    prefix: String,
    /// What its keys are.
    kind: FolderKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FolderKind {
    /// A symbol's folder: its keys are files of its family's datasets, their sidecars, or
    /// strays.
    Symbol { symbol: String },
    /// A folder the layout does not name: every key in it is a stray, for this reason.
    Stray(StrayReason),
}

/// A level of the layout to list with `delimiter=/`.
enum Level {
    Root,
    Data,
    Futures,
    Market(Market),
    Partition(Market, Partition),
    Family(Family),
}

impl Level {
    fn prefix(&self) -> String {
        match self {
            Level::Root => String::new(),
            Level::Data => "data/".into(),
            Level::Futures => "data/futures/".into(),
            Level::Market(m) => m.root().into(),
            Level::Partition(m, p) => format!("{}{}/", m.root(), p.as_str()),
            Level::Family(f) => f.prefix(),
        }
    }

    /// What a sub-folder named `folder` (the whole prefix) of this level is: a level to walk,
    /// a symbol folder, or a folder the layout does not name.
    fn child(&self, folder: &str) -> Child {
        // The pager refuses a folder outside the prefix (`Stall::OutsidePrefix`); one without
        // the delimiter at its end names nothing the layout has, and is listed as a stray.
        let name = folder
            .strip_prefix(self.prefix().as_str())
            .and_then(|n| n.strip_suffix('/'))
            .unwrap_or_default();
        let unknown = Child::Task(FolderKind::Stray(match self {
            Level::Root => StrayReason::OutsideData,
            _ => StrayReason::UnknownFolder,
        }));
        match self {
            Level::Root if name == "data" => Child::Level(Level::Data),
            Level::Root => unknown,
            Level::Data => match name {
                "futures" => Child::Level(Level::Futures),
                "spot" => Child::Level(Level::Market(Market::Spot)),
                "option" => Child::Level(Level::Market(Market::Option)),
                _ => unknown,
            },
            Level::Futures => match name {
                "um" => Child::Level(Level::Market(Market::Um)),
                "cm" => Child::Level(Level::Market(Market::Cm)),
                _ => unknown,
            },
            Level::Market(m) => match name.parse::<Partition>() {
                Ok(p) if DataType::ALL.iter().any(|t| m.offers(p, *t)) => {
                    Child::Level(Level::Partition(*m, p))
                }
                _ => unknown,
            },
            Level::Partition(m, p) => match name.parse::<DataType>() {
                Ok(t) if m.offers(*p, t) => Child::Level(Level::Family(Family {
                    market: *m,
                    partition: *p,
                    data_type: t,
                })),
                _ => unknown,
            },
            Level::Family(_) => match check_symbol(name) {
                Ok(()) if !name.is_empty() => Child::Task(FolderKind::Symbol {
                    symbol: name.to_string(),
                }),
                _ => Child::Task(FolderKind::Stray(StrayReason::NotASymbolName)),
            },
        }
    }
}

enum Child {
    Level(Level),
    Task(FolderKind),
}

/// Walks the layout's levels from the bucket's root: the folders to list flat (symbol folders
/// and folders the layout does not name), and the keys found between levels (strays, one
/// `FolderListing` per level that has any).
async fn discover(
    client: &VisionClient,
    listed_at: DateTime<Utc>,
) -> Result<(Vec<FolderTask>, Vec<FolderListing>), VisionError> {
    let mut levels = vec![Level::Root];
    let mut tasks = Vec::new();
    let mut level_strays = Vec::new();
    while let Some(level) = levels.pop() {
        let prefix = level.prefix();
        let (folders, objects) = client.list_level(&prefix).await?;
        if !objects.is_empty() {
            let reason = match level {
                Level::Root => StrayReason::OutsideData,
                _ => StrayReason::NotInASymbolFolder,
            };
            level_strays.push(FolderListing {
                prefix: prefix.clone(),
                listed_at,
                leaves: Vec::new(),
                strays: objects.into_iter().map(|o| stray(o, reason)).collect(),
            });
        }
        for folder in folders {
            match level.child(&folder) {
                Child::Level(l) => levels.push(l),
                Child::Task(kind) => tasks.push(FolderTask {
                    prefix: folder,
                    kind,
                }),
            }
        }
    }
    Ok((tasks, level_strays))
}

fn stray(o: ListedObject, reason: StrayReason) -> Stray {
    Stray {
        key: o.key,
        size: o.size,
        last_modified: o.last_modified,
        reason,
    }
}

/// What a folder's keys are (pure), read a page at a time as the listing goes: files by leaf,
/// each `.CHECKSUM` a flag on the file just before it, anything else a stray with its reason.
/// A big folder is held as its compact files (~32 bytes each), never as its listed keys.
struct FolderReader<'t> {
    task: &'t FolderTask,
    listing: FolderListing,
    /// The leaf and key of the last file read: a sidecar sorts right after its file.
    last_file: Option<(usize, String)>,
}

impl<'t> FolderReader<'t> {
    fn new(task: &'t FolderTask, listed_at: DateTime<Utc>) -> Self {
        FolderReader {
            task,
            listing: FolderListing {
                prefix: task.prefix.clone(),
                listed_at,
                leaves: Vec::new(),
                strays: Vec::new(),
            },
            last_file: None,
        }
    }

    /// Reads one page of the folder's keys, in bucket order.
    fn read(&mut self, objects: Vec<ListedObject>) {
        let symbol = match &self.task.kind {
            FolderKind::Stray(reason) => {
                let reason = *reason;
                self.listing
                    .strays
                    .extend(objects.into_iter().map(|o| stray(o, reason)));
                return;
            }
            FolderKind::Symbol { symbol } => symbol,
        };
        let listing = &mut self.listing;
        for o in objects {
            if let Some(zip) = o.key.strip_suffix(".CHECKSUM") {
                if let Some((leaf, key)) = &self.last_file
                    && key == zip
                {
                    let leaf = &mut listing.leaves[*leaf];
                    if let Some(file) = leaf.files.last_mut() {
                        file.checksum = true;
                    }
                    leaf.last_key = o.key;
                    self.last_file = None;
                    continue;
                }
                listing
                    .strays
                    .push(stray(o, StrayReason::SidecarWithoutFile));
                continue;
            }
            let read = Dataset::read_key(&o.key)
                .filter(|(_, s, _)| s == symbol)
                .map(|(dataset, _, span)| (dataset, span));
            let Some((dataset, span)) = read else {
                listing.strays.push(stray(o, StrayReason::NotAFileName));
                continue;
            };
            let leaf = match listing.leaves.iter().position(|l| l.dataset == dataset) {
                Some(i) => i,
                None => {
                    listing.leaves.push(LeafListing {
                        dataset,
                        symbol: symbol.clone(),
                        last_key: String::new(),
                        files: Vec::new(),
                    });
                    listing.leaves.len() - 1
                }
            };
            listing.leaves[leaf].files.push(ListedFile {
                span,
                size: o.size,
                last_modified: o.last_modified,
                checksum: false,
            });
            listing.leaves[leaf].last_key = o.key.clone();
            self.last_file = Some((leaf, o.key));
        }
    }

    fn finish(self) -> FolderListing {
        self.listing
    }
}

/// The crawl's stage for the driver: a task lists one folder flat; its listing joins the batch.
pub(super) struct Crawl {
    pub listed_at: DateTime<Utc>,
}

impl FolderTask {
    /// The task of listing `symbol`'s folder of `family_prefix` (`data/spot/daily/klines/`).
    #[cfg(test)]
    pub(super) fn symbol(family_prefix: &str, symbol: &str) -> FolderTask {
        FolderTask {
            prefix: format!("{family_prefix}{symbol}/"),
            kind: FolderKind::Symbol {
                symbol: symbol.into(),
            },
        }
    }
}

/// Folders listed and not written yet.
#[derive(Default)]
pub(super) struct FolderBatch {
    folders: Vec<FolderListing>,
    rows: usize,
}

impl Pending for FolderBatch {
    type Store = Catalog;

    fn symbols(&self) -> usize {
        self.folders.len()
    }

    fn rows(&self) -> usize {
        self.rows
    }

    fn write(&mut self, db: &mut Catalog) -> Result<u64, StoreError> {
        let written = tokio::task::block_in_place(|| db.write_folders(&self.folders))?;
        self.folders.clear();
        self.rows = 0;
        Ok(written)
    }
}

impl Work for Crawl {
    type Task = FolderTask;
    type Output = (FolderTask, Result<FolderListing, VisionError>);
    type Batch = FolderBatch;
    type Tally = CrawlSummary;

    fn symbol(task: &FolderTask) -> &str {
        &task.prefix
    }

    fn work(
        &self,
        client: VisionClient,
        permits: Arc<Semaphore>,
        task: FolderTask,
    ) -> BoxFuture<'static, Self::Output> {
        let listed_at = self.listed_at;
        Box::pin(async move {
            let mut reader = FolderReader::new(&task, listed_at);
            let result = client
                .list_all(&permits, &task.prefix, |page| reader.read(page))
                .await
                .map(|()| reader.finish());
            (task, result)
        })
    }

    fn join(
        &mut self,
        (task, result): Self::Output,
        batch: &mut FolderBatch,
        tally: &mut CrawlSummary,
    ) -> Vec<FetchError> {
        let listing = match result {
            Ok(listing) => listing,
            Err(e) => return vec![e.into()],
        };
        debug_assert_eq!(listing.prefix, task.prefix);
        tally.folders += 1;
        tally.files += listing
            .leaves
            .iter()
            .map(|l| l.files.len() as u64)
            .sum::<u64>();
        tally.strays += listing.strays.len() as u64;
        batch.rows += listing.rows();
        batch.folders.push(listing);
        Vec::new()
    }
}

/// Crawls the bucket into the catalog at `path`: every folder not listed yet (all of them the
/// first time; after a stopped crawl, the rest), through a private copy published at the end.
pub async fn update_catalog(
    path: &Path,
    client: &VisionClient,
    opts: &Options,
) -> Result<CrawlSummary, CrawlError> {
    let mut session: WriteSession<Catalog> = WriteSession::begin(path, "catalog update")?;
    let listed_at = Utc::now();
    let listed = session.db().listed_folders()?;
    let crawl = session.db().start_crawl(listed_at)?;
    let started = Instant::now();
    let mut summary = CrawlSummary::default();
    let mut failures = Vec::new();
    let stage = Stage {
        run: Job::Catalog,
        step: Step::Folders,
    };
    let db = session.db();
    // `Ok(true)`: the breaker stopped the crawl.
    let result: Result<bool, CrawlError> = async {
        let (tasks, level_strays) = discover(client, listed_at)
            .await
            .map_err(CrawlError::Discover)?;
        let level_strays: Vec<FolderListing> = level_strays
            .into_iter()
            .filter(|f| !listed.contains(&f.prefix))
            .collect();
        summary.strays += level_strays
            .iter()
            .map(|f| f.strays.len() as u64)
            .sum::<u64>();
        summary.rows_written += tokio::task::block_in_place(|| db.write_folders(&level_strays))?;
        let plan: Vec<FolderTask> = tasks
            .into_iter()
            .filter(|t| !listed.contains(&t.prefix))
            .collect();
        let mut work = Crawl { listed_at };
        match drive(
            db,
            client,
            opts,
            stage,
            &mut work,
            plan,
            &mut summary,
            &mut failures,
        )
        .await
        {
            Ok(()) => Ok(false),
            Err(Stop::Breaker) => Ok(true),
            Err(Stop::Error(CollectError::Store(e))) => Err(CrawlError::Store(e)),
            Err(Stop::Error(e)) => Err(CrawlError::Collect(e)),
        }
    }
    .await;
    summary.requests = client.stats().requests.load(Ordering::Relaxed);
    summary.elapsed = started.elapsed();
    let result = match result {
        Ok(true) => Err(CrawlError::CircuitOpen {
            failed: failures.len(),
            requests: summary.requests,
            threshold: opts.max_error_rate * 100.0,
            failures: std::mem::take(&mut failures),
            summary: Box::new(summary.clone()),
        }),
        Ok(false) if opts.cancel.is_cancelled() => Err(CrawlError::Interrupted {
            summary: Box::new(summary.clone()),
        }),
        Ok(false) if failures.is_empty() => Ok(summary.clone()),
        Ok(false) => Err(CrawlError::Folders {
            failures: std::mem::take(&mut failures),
            summary: Box::new(summary.clone()),
        }),
        Err(e) => Err(e),
    };
    if result.is_err() && !session.has_work() {
        session.abandon()?;
        return result;
    }
    let (status, error) = match &result {
        Ok(_) => ("ok", None),
        Err(e @ CrawlError::Interrupted { .. }) => ("interrupted", Some(e.to_string())),
        Err(e) => ("failed", Some(e.to_string())),
    };
    session.db().finish_crawl(
        crawl,
        Utc::now(),
        status,
        summary.folders,
        summary.files,
        summary.strays,
        summary.requests,
        error.as_deref(),
    )?;
    session.publish()?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str) -> ListedObject {
        ListedObject {
            key: key.into(),
            size: 100,
            last_modified: "2024-01-16T07:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_folder_reads_into_leaves_sidecar_flags_and_strays() {
        let task = FolderTask {
            prefix: "data/spot/monthly/klines/ADABKRW/".into(),
            kind: FolderKind::Symbol {
                symbol: "ADABKRW".into(),
            },
        };
        let mut reader = FolderReader::new(&task, Utc::now());
        // Two pages, the second starting with the first's last file's sidecar.
        let keys = [
            "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-07.zip",
            "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-07.zip.CHECKSUM",
            "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-8.zip",
            "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-09.zip",
            "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-10.zip.CHECKSUM",
            "data/spot/monthly/klines/ADABKRW/1h/ADABKRW-1h-2020-07.zip",
        ]
        .map(object);
        reader.read(keys[..1].to_vec());
        reader.read(keys[1..].to_vec());
        let listing = reader.finish();
        let leaves: Vec<(String, Vec<bool>)> = listing
            .leaves
            .iter()
            .map(|l| {
                (
                    l.dataset.to_string(),
                    l.files.iter().map(|f| f.checksum).collect(),
                )
            })
            .collect();
        assert_eq!(
            leaves,
            vec![
                ("spot/monthly/klines/1d".to_string(), vec![true, false]),
                ("spot/monthly/klines/1h".to_string(), vec![false]),
            ]
        );
        let strays: Vec<(&str, StrayReason)> = listing
            .strays
            .iter()
            .map(|s| (s.key.rsplit('/').next().unwrap(), s.reason))
            .collect();
        assert_eq!(
            strays,
            vec![
                ("ADABKRW-1d-2020-8.zip", StrayReason::NotAFileName),
                (
                    "ADABKRW-1d-2020-10.zip.CHECKSUM",
                    StrayReason::SidecarWithoutFile
                ),
            ]
        );
        assert_eq!(
            listing.leaves[0].last_key,
            "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-09.zip"
        );
    }
}
