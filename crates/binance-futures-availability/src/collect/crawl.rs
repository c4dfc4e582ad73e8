//! `catalog update` (ADR 0020): every file of the bucket into the catalog. Discovery walks the
//! layout's levels with `delimiter=/` down to the symbol folders (a few dozen listings); each
//! symbol folder is then listed flat, to its end, as one task of the run driver, and what it
//! held — files by leaf, `.CHECKSUM` flags, strays — joins a batch. Anything the layout does not
//! name is listed flat too and kept as strays with a reason, never dropped.
//!
//! A catalog that has listed a folder before keeps it current at the price of the new files:
//! - each stored leaf is listed from a little before its tip (`start-after` the key of period
//!   `last − TAIL_DAYS` or `last − TAIL_MONTHS`): one request that shows its new files, the late
//!   ones of the days just before (vision-sim's clock, like the bucket, publishes ~1 % of days
//!   1–7 days late) and replacements among them;
//! - the rolling re-crawl lists whole, from the start, the 1/`recrawl_days` of folders listed
//!   longest ago (every folder with `full`), so a change anywhere is seen within that many runs;
//! - a folder the discovery no longer shows is written as listed empty: everything in it is gone.
//!
//! The store diffs each listing against what it holds (`Catalog::write_folders`) and, once a
//! whole crawl has finished, records each difference as a change.
//!
//! A listing is written with the batch that holds it, with its "listed" mark, in one
//! transaction, so a crawl stopped at any point resumes with what is not written yet, and a
//! listing done twice finds nothing new the second time.
//!
//! Must not know: SQL, the page format (`vision` reads pages), how rows are laid out (`store`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;

use super::driver::{Pending, Tally, Work, drive};
use super::{CollectError, Job, Options, Stage, Step, Stop, SymbolFailure};
use crate::facts::{Market, Month, Partition, Span};
use crate::store::{
    Catalog, ChangeCounts, FolderListing, LeafListing, ListedFile, Scope, StoreError, StoredLeaf,
    Stray, StrayReason, WriteSession, period_number, period_span,
};
use crate::vision::{
    DataType, Dataset, FetchError, KeyReader, ListPage, ListedObject, Stall, VisionClient,
    VisionError, check_symbol,
};

/// What a crawl did.
#[derive(Debug, Clone, Default)]
pub struct CrawlSummary {
    /// Folders listed whole, to their end, by this crawl.
    pub folders: u64,
    /// Leaves listed from a little before their tips.
    pub leaves: u64,
    /// Stored leaves not listed, as nothing new can be in them yet (a delisted symbol's, a
    /// monthly leaf holding last month): the rolling re-crawl lists their folders.
    pub idle: u64,
    /// Files that appeared, were replaced or disappeared since the catalog last listed them
    /// (recorded once a whole crawl has finished; a first crawl records none).
    pub changes: ChangeCounts,
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
        let ChangeCounts {
            added,
            replaced,
            removed,
        } = self.changes;
        write!(
            f,
            "catalog update: {} folders listed whole, {} leaves from their tips ({} idle ones \
             not), {} files and {} strays seen; {added} added, {replaced} replaced, {removed} \
             removed; {} requests in {:.1} s",
            self.folders,
            self.leaves,
            self.idle,
            self.files,
            self.strays,
            self.requests,
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
    /// The levels handed out more folders than the bucket has many times over: a server
    /// inventing them. Nothing was listed.
    #[error(
        "the bucket's levels hand out more than {max} folders to list, ~12 times the real \
         bucket's; nothing was listed (check --s3-url)"
    )]
    TooManyFolders {
        /// The bound.
        max: usize,
    },
    /// The crawl was stopped (SIGTERM, Ctrl-C, the caller's token) before it finished.
    #[error("interrupted: {summary}. What was listed is committed; run again to finish")]
    Interrupted {
        /// What it did until then, all of it committed.
        summary: Box<CrawlSummary>,
    },
    /// The crawl went through its whole plan, but some folders failed; what the others gave
    /// is committed.
    #[error(
        "{} folder(s) failed; first: {}. {summary}. Everything else is committed; run again to finish",
        failures.len(), failures[0].cause
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
        "stopped early: {failed} of {requests} requests failed, over the {threshold}% limit; first: {}. \
         {summary}. What succeeded is committed; run again to finish",
        failures[0].cause
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

/// A folder, or one leaf of it, to list flat to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FolderTask {
    /// What to list: the folder (`data/spot/daily/klines/BTCUSDT/`, `data3/`), or a leaf of it
    /// (`data/spot/daily/klines/BTCUSDT/1m/`).
    prefix: String,
    /// The folder that owns what is listed (its strays, its "listed" mark).
    folder: String,
    /// Where the listing starts: after this key (a leaf's tail), or at the beginning.
    start_after: Option<String>,
    /// What its keys are.
    kind: FolderKind,
    /// What the listing covers.
    scope: Scope,
}

impl FolderTask {
    /// The task of listing `folder` whole.
    fn whole(folder: String, kind: FolderKind) -> FolderTask {
        FolderTask {
            prefix: folder.clone(),
            folder,
            start_after: None,
            kind,
            scope: Scope::Folder,
        }
    }

    /// The task of listing a stored leaf from a little before its tip (`TAIL_DAYS`,
    /// `TAIL_MONTHS`), so late files of the days just before it are seen too.
    fn tail(folder: &str, symbol: &str, leaf: StoredLeaf) -> FolderTask {
        let dataset = leaf.dataset;
        let back = match dataset.partition() {
            Partition::Daily => TAIL_DAYS,
            Partition::Monthly => TAIL_MONTHS,
        };
        let after = leaf.last_period.saturating_sub(back);
        // The stem of the first period listed sorts after every key of the ones before.
        let start = period_span(dataset.partition(), after.saturating_add(1))
            .map(|span| dataset.start_after(symbol, span.first_day()));
        FolderTask {
            prefix: dataset.folder(symbol),
            folder: folder.to_string(),
            kind: FolderKind::Symbol {
                symbol: symbol.to_string(),
            },
            scope: Scope::Tail {
                dataset,
                symbol: symbol.to_string(),
                after: if start.is_some() { after } else { i32::MIN },
            },
            start_after: start,
        }
    }
}

/// Days before a daily leaf's tip its next listing starts: the bucket publishes ~1 % of days
/// late, by 1 to 7 days (vision-sim's clock holds the same), so 10 see every late file the run
/// after it appears, for ~20 keys more on one page.
pub const TAIL_DAYS: i32 = 10;
/// Months before a monthly leaf's tip its next listing starts: a month's files appear in the
/// first days of the next month, and a late one in the month after.
pub const TAIL_MONTHS: i32 = 2;

/// Folders a discovery may hand out to list: vision-sim's whole bucket at scale 1.0, sized on
/// the real one, has 40,140; a level may hold 10⁵ (`LEVEL_MAX_PAGES`),
/// and ~50 levels are walked, so without this a server could plan 5 × 10⁶ tasks.
const MAX_FOLDERS: usize = 500_000;

/// Hours within which a stopped crawl's next run finishes its work rather than starting a new
/// one.
const RESUME_HOURS: i64 = 20;

/// How a catalog update chooses what to list, beyond the folders never listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawlPlan {
    /// List every folder whole, from its start.
    pub full: bool,
    /// Each run lists whole the 1/`recrawl_days` of folders listed longest ago.
    pub recrawl_days: u32,
    /// Only these markets' folders (all of the bucket, strays outside `data/` included, when
    /// empty).
    pub markets: Vec<Market>,
}

impl Default for CrawlPlan {
    fn default() -> Self {
        CrawlPlan {
            full: false,
            recrawl_days: 30,
            markets: Vec::new(),
        }
    }
}

impl CrawlPlan {
    /// Whether the folder `prefix` belongs to the markets asked for.
    fn covers(&self, prefix: &str) -> bool {
        self.markets.is_empty() || self.markets.iter().any(|m| prefix.starts_with(m.root()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FolderKind {
    /// A symbol's folder: its keys are files of its family's datasets, their sidecars, or
    /// strays.
    Symbol { symbol: String },
    /// A folder the layout does not name: every key in it is a stray, for this reason.
    Stray(StrayReason),
}

/// What a run lists, and the folders it writes as gone without listing them.
struct Chosen {
    tasks: Vec<FolderTask>,
    gone: Vec<FolderListing>,
    /// Stored leaves whose tails were not listed: nothing new can be there yet (`Tips::due`).
    idle: u64,
}

/// Each dataset's tip — the newest period any of its stored leaves holds, never after the
/// newest period that can have a file today — and what a leaf's tail can show against it.
struct Tips {
    tips: std::collections::HashMap<Dataset, i32>,
    /// Today's month's period number.
    this_month: i32,
}

impl Tips {
    /// The tips of stored leaves given as (dataset, last period), on `today`.
    fn of(leaves: impl Iterator<Item = (Dataset, i32)>, today: chrono::NaiveDate) -> Tips {
        let this_month = period_number(Span::Month(Month::of(today)));
        let yesterday = period_number(Span::Day(today)) - 1;
        let mut tips = std::collections::HashMap::new();
        for (dataset, last) in leaves {
            // A period after the last that can be published (a server's typo, a clock ahead)
            // must not make every other leaf look idle.
            let newest = match dataset.partition() {
                Partition::Daily => yesterday,
                Partition::Monthly => this_month - 1,
            };
            let tip = tips.entry(dataset).or_insert(i32::MIN);
            *tip = (*tip).max(last.min(newest));
        }
        Tips { tips, this_month }
    }

    /// Whether listing a leaf of `dataset` whose last period is `last` from its tip can show
    /// anything new. A daily leaf can while its
    /// last file is within `TAIL_DAYS` of its dataset's tip: a symbol that stopped longer ago
    /// (delisted; ~1/5 of daily leaves) gets no new days, and its late files are all in. A
    /// monthly leaf can while it is within `TAIL_MONTHS` of its tip and either lacks the tip's
    /// month or the month after its last has ended (its file is published in the first days
    /// of the next): a complete monthly leaf (~4/5 of them, a third of all leaves) has nothing
    /// to show until the month turns. Measured against the dataset's tip, not the clock, so a
    /// dataset whose publishing stalls is still listed every day and seen when it resumes.
    /// What idle leaves may still gain — a relisted symbol, a backfilled day, a replaced file —
    /// the rolling re-crawl lists within `recrawl_days` runs, as it does for any folder.
    fn due(&self, dataset: Dataset, last: i32) -> bool {
        let tip = self.tips.get(&dataset).copied().unwrap_or(i32::MIN);
        match dataset.partition() {
            Partition::Daily => last >= tip.saturating_sub(TAIL_DAYS),
            Partition::Monthly => {
                last >= tip.saturating_sub(TAIL_MONTHS)
                    && (last < tip || self.this_month >= last.saturating_add(2))
            }
        }
    }
}

/// Chooses the run's listings (pure but for reading the catalog's folders): each discovered
/// folder whole if it was never listed whole, if `plan.full`, or if it is among the
/// 1/`recrawl_days` listed longest ago; each stored leaf of the other folders from a little
/// before its tip; and every known folder of the markets asked for that neither the discovery
/// nor a level listing shows any more, as gone. Records the new folders as found.
fn choose(
    db: &mut Catalog,
    plan: &CrawlPlan,
    tasks: Vec<FolderTask>,
    levels: &[FolderListing],
    now: DateTime<Utc>,
) -> Result<Chosen, StoreError> {
    let known: std::collections::HashMap<String, Option<DateTime<Utc>>> =
        db.folders()?.into_iter().collect();
    let shown: std::collections::HashSet<&str> = tasks
        .iter()
        .map(|t| t.prefix.as_str())
        .chain(levels.iter().map(|l| l.prefix.as_str()))
        .collect();
    let mut gone: Vec<FolderListing> = known
        .keys()
        .filter(|p| plan.covers(p) && !shown.contains(p.as_str()))
        .map(|p| FolderListing::gone(p.clone(), now))
        .collect();
    gone.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    let new: Vec<String> = tasks
        .iter()
        .filter(|t| !known.contains_key(&t.prefix))
        .map(|t| t.prefix.clone())
        .collect();
    db.add_folders(&new)?;
    // Folders listed whole since the crawls that have not finished began are done: a crawl
    // stopped and run again finishes their work instead of starting over. Only within a day,
    // so that one folder failing every run cannot keep the rest from being kept current.
    let done_since = db
        .unfinished_since()?
        .filter(|t| now.signed_duration_since(*t) < chrono::Duration::hours(RESUME_HOURS));
    let mut whole = Vec::new();
    let mut listed = Vec::new();
    for task in tasks {
        match known.get(&task.prefix).copied().flatten() {
            Some(at) if done_since.is_some_and(|t| at >= t) => {}
            Some(at) if !plan.full => listed.push((at, task)),
            _ => whole.push(task),
        }
    }
    // The oldest first; ties (one crawl's folders) by prefix, so runs walk the bucket in order.
    listed.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.prefix.cmp(&y.prefix)));
    let rolling = listed.len().div_ceil(plan.recrawl_days.max(1) as usize);
    let mut listed = listed.into_iter().map(|(_, t)| t);
    whole.extend(listed.by_ref().take(rolling));
    let rest: std::collections::HashSet<String> = listed.map(|t| t.prefix).collect();
    let tips = Tips::of(
        db.stored_leaves()
            .map(|(_, _, l)| (l.dataset, l.last_period)),
        now.date_naive(),
    );
    let mut idle = 0;
    let mut tails: Vec<FolderTask> = Vec::new();
    for (folder, symbol, leaf) in db.stored_leaves() {
        if !rest.contains(folder) {
            continue;
        }
        if tips.due(leaf.dataset, leaf.last_period) {
            tails.push(FolderTask::tail(folder, symbol, leaf));
        } else {
            idle += 1;
        }
    }
    tails.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    whole.extend(tails);
    Ok(Chosen {
        tasks: whole,
        gone,
        idle,
    })
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
/// and folders the layout does not name), and each level's listing (its keys are strays).
async fn discover(
    client: &VisionClient,
    listed_at: DateTime<Utc>,
) -> Result<(Vec<FolderTask>, Vec<FolderListing>), CrawlError> {
    let mut levels = vec![Level::Root];
    let mut tasks = Vec::new();
    let mut level_strays = Vec::new();
    while let Some(level) = levels.pop() {
        let prefix = level.prefix();
        let (folders, objects) = client
            .list_level(&prefix)
            .await
            .map_err(CrawlError::Discover)?;
        if tasks.len() + folders.len() > MAX_FOLDERS {
            return Err(CrawlError::TooManyFolders { max: MAX_FOLDERS });
        }
        let reason = match level {
            Level::Root => StrayReason::OutsideData,
            _ => StrayReason::NotInASymbolFolder,
        };
        // Written even when empty: a level listing replaces the strays it held before.
        level_strays.push(FolderListing {
            prefix: prefix.clone(),
            listed_at,
            scope: Scope::Folder,
            leaves: Vec::new(),
            strays: objects.into_iter().map(|o| stray(o, reason)).collect(),
        });
        for folder in folders {
            match level.child(&folder) {
                Child::Level(l) => levels.push(l),
                Child::Task(kind) => tasks.push(FolderTask::whole(folder, kind)),
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
    /// The leaf of the last file read, if no sidecar followed it yet: a sidecar sorts right
    /// after its file.
    last_file: Option<usize>,
    /// That file's key: one buffer, rewritten for each file (a `String` a file was an
    /// allocation for each of ~10⁸).
    last_key: String,
    /// Reads the keys, each leaf's grammar once.
    keys: KeyReader,
    /// What it holds, counted against every folder in flight.
    held: Held,
}

/// Bytes the folders being listed hold, shared by a crawl's tasks: a listing that would take
/// them past `limit` stops (`Stall::TooMuchHeld`), so a server handing out folders far bigger
/// than any of the layout, or keys far longer, fails those folders instead of exhausting
/// memory.
#[derive(Debug, Clone)]
pub(super) struct Budget {
    held: Arc<AtomicUsize>,
    limit: usize,
}

impl Budget {
    /// 128 MiB for every folder in flight: the biggest folders of the layout (spot's klines of
    /// a symbol listed since 2017: 13 intervals × ~3,000 days ≈ 4 × 10⁴ files of 40 bytes,
    /// ~1.6 MB) sixty-four at a time hold ~100 MB; full-scale crawls with 96 and 128 listings in
    /// flight, most of them of smaller folders, stayed within it (BENCHMARKS.md, sessions 17
    /// and 18).
    pub(super) const DEFAULT_LIMIT: usize = 128 << 20;

    pub(super) fn new(limit: usize) -> Budget {
        Budget {
            held: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }
}

impl Default for Crawl {
    /// A crawl with the default budget for its folders in flight.
    fn default() -> Self {
        Crawl {
            budget: Budget::new(Budget::DEFAULT_LIMIT),
        }
    }
}

/// One listing's share of the `Budget`, given back when it is dropped.
struct Held {
    budget: Budget,
    mine: usize,
}

impl Held {
    fn take(&mut self, bytes: usize) -> Result<(), Stall> {
        self.mine += bytes;
        let held = self.budget.held.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if held > self.budget.limit {
            return Err(Stall::TooMuchHeld {
                held,
                limit: self.budget.limit,
            });
        }
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.mine, Ordering::Relaxed);
    }
}

/// What a stray costs to hold.
fn stray_bytes(s: &Stray) -> usize {
    std::mem::size_of::<Stray>() + s.key.len()
}

impl<'t> FolderReader<'t> {
    fn new(task: &'t FolderTask, listed_at: DateTime<Utc>, budget: &Budget) -> Self {
        FolderReader {
            held: Held {
                budget: budget.clone(),
                mine: 0,
            },
            task,
            listing: FolderListing {
                prefix: task.folder.clone(),
                listed_at,
                scope: task.scope.clone(),
                leaves: Vec::new(),
                strays: Vec::new(),
            },
            last_file: None,
            last_key: String::new(),
            keys: KeyReader::default(),
        }
    }

    /// Reads one page of the folder's keys, in bucket order; refuses it if holding it would
    /// take the crawl's listings past their budget.
    fn read(&mut self, page: &ListPage) -> Result<(), Stall> {
        let (files, strays) = (self.files(), self.listing.strays.len());
        self.read_page(page);
        let bytes = (self.files() - files) * std::mem::size_of::<ListedFile>()
            + self.listing.strays[strays..]
                .iter()
                .map(stray_bytes)
                .sum::<usize>();
        self.held.take(bytes)
    }

    fn files(&self) -> usize {
        self.listing.leaves.iter().map(|l| l.files.len()).sum()
    }

    fn read_page(&mut self, page: &ListPage) {
        let symbol = match &self.task.kind {
            FolderKind::Stray(reason) => {
                let reason = *reason;
                self.listing
                    .strays
                    .extend(page.objects().map(|o| stray(o.into(), reason)));
                return;
            }
            FolderKind::Symbol { symbol } => symbol,
        };
        let listing = &mut self.listing;
        for o in page.objects() {
            if let Some(zip) = o.key.strip_suffix(".CHECKSUM") {
                if let Some(leaf) = self.last_file
                    && self.last_key == zip
                {
                    if let Some(file) = listing.leaves[leaf].files.last_mut() {
                        file.checksum = true;
                    }
                    self.last_file = None;
                    continue;
                }
                listing
                    .strays
                    .push(stray(o.into(), StrayReason::SidecarWithoutFile));
                continue;
            }
            let read = self
                .keys
                .read(o.key)
                .filter(|(_, s, _)| s == symbol)
                .map(|(dataset, _, span)| (dataset, span));
            let Some((dataset, span)) = read else {
                listing
                    .strays
                    .push(stray(o.into(), StrayReason::NotAFileName));
                continue;
            };
            // Keys come in bucket order, so a file is nearly always of the leaf just before.
            let leaf = match listing.leaves.last() {
                Some(l) if l.dataset == dataset => listing.leaves.len() - 1,
                _ => match listing.leaves.iter().position(|l| l.dataset == dataset) {
                    Some(i) => i,
                    None => {
                        listing.leaves.push(LeafListing {
                            dataset,
                            symbol: symbol.clone(),
                            files: Vec::new(),
                        });
                        listing.leaves.len() - 1
                    }
                },
            };
            listing.leaves[leaf].files.push(ListedFile {
                span,
                size: o.size,
                last_modified: o.last_modified,
                checksum: false,
            });
            self.last_file = Some(leaf);
            self.last_key.clear();
            self.last_key.push_str(o.key);
        }
    }

    fn finish(self) -> FolderListing {
        self.listing
    }
}

/// The crawl's stage for the driver: a task lists one folder or leaf flat; its listing joins
/// the batch.
pub(super) struct Crawl {
    /// What the folders in flight may hold.
    pub(super) budget: Budget,
}

impl FolderTask {
    /// The task of listing `symbol`'s folder of `family_prefix` (`data/spot/daily/klines/`).
    #[cfg(test)]
    pub(super) fn symbol(family_prefix: &str, symbol: &str) -> FolderTask {
        FolderTask::whole(
            format!("{family_prefix}{symbol}/"),
            FolderKind::Symbol {
                symbol: symbol.into(),
            },
        )
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
        let budget = self.budget.clone();
        Box::pin(async move {
            // When the listing began: when what it shows differently was seen.
            let mut reader = FolderReader::new(&task, Utc::now(), &budget);
            let start = task.start_after.clone();
            let result = client
                .list_all(&permits, &task.prefix, start, |page| reader.read(page))
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
        debug_assert_eq!(listing.prefix, task.folder);
        match task.scope {
            Scope::Folder => tally.folders += 1,
            Scope::Tail { .. } => tally.leaves += 1,
        }
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

/// Crawls the bucket into the catalog at `path`, through a private copy published at the end:
/// every folder never listed whole; the folders `plan` re-lists whole; every other stored leaf
/// from a little before its tip; and every folder the discovery no longer shows, as empty.
pub async fn update_catalog(
    path: &Path,
    client: &VisionClient,
    opts: &Options,
    plan: &CrawlPlan,
) -> Result<CrawlSummary, CrawlError> {
    let mut session: WriteSession<Catalog> = WriteSession::begin(path, "catalog update")?;
    let listed_at = Utc::now();
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
        let (tasks, levels) = discover(client, listed_at).await?;
        let levels: Vec<FolderListing> = levels
            .into_iter()
            .filter(|l| plan.covers(&l.prefix))
            .collect();
        let tasks: Vec<FolderTask> = tasks
            .into_iter()
            .filter(|t| plan.covers(&t.prefix))
            .collect();
        let work = tokio::task::block_in_place(|| choose(db, plan, tasks, &levels, listed_at))?;
        summary.idle = work.idle;
        summary.strays += levels.iter().map(|f| f.strays.len() as u64).sum::<u64>();
        summary.rows_written += tokio::task::block_in_place(|| {
            db.write_folders(&levels)
                .and_then(|rows| Ok(rows + db.write_folders(&work.gone)?))
        })?;
        match drive(
            db,
            client,
            opts,
            stage,
            &mut Crawl::default(),
            work.tasks,
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
    summary.changes = session.db().recorded();
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
    fn a_tail_is_listed_only_where_something_new_can_be() {
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let d = |s: &str| period_number(Span::Day(day(s)));
        let m = |s: &str| period_number(Span::Month(Month::of(day(&format!("{s}-01")))));
        let daily: Dataset = "um/daily/klines/1m".parse().unwrap();
        let monthly: Dataset = "um/monthly/klines/1m".parse().unwrap();
        let stalled: Dataset = "um/daily/bookTicker".parse().unwrap();
        let leaves = [
            (daily, d("2026-12-05")),
            (daily, d("2026-11-20")),
            // A period after yesterday (a clock ahead) does not move the tip.
            (daily, d("2027-06-01")),
            (monthly, m("2026-11")),
            (monthly, m("2026-10")),
            (monthly, m("2026-08")),
            (stalled, d("2024-03-30")),
            (stalled, d("2024-03-01")),
        ];
        let tips = Tips::of(leaves.into_iter(), day("2026-12-06"));
        // Daily: within TAIL_DAYS of the tip (2026-12-05) or not.
        assert!(tips.due(daily, d("2026-12-05")));
        assert!(tips.due(daily, d("2026-11-25")));
        assert!(!tips.due(daily, d("2026-11-24")));
        // A dataset that stopped publishing is measured against its own tip: when it
        // resumes, its leaves are listed the next run.
        assert!(tips.due(stalled, d("2024-03-30")));
        assert!(!tips.due(stalled, d("2024-03-01")));
        // Monthly, on 2026-12-06: November's file is in, so nothing until January; a leaf
        // lacking November is listed; one two months behind is idle.
        assert!(!tips.due(monthly, m("2026-11")));
        assert!(tips.due(monthly, m("2026-10")));
        assert!(tips.due(monthly, m("2026-09")));
        assert!(!tips.due(monthly, m("2026-08")));
        // On the 1st of January, December's files are due: every live leaf is listed.
        let tips = Tips::of(leaves.into_iter(), day("2027-01-01"));
        assert!(tips.due(monthly, m("2026-11")));
        // A leaf of a dataset with no stored tip (never happens: it is its own) is listed.
        let other: Dataset = "spot/daily/trades".parse().unwrap();
        assert!(tips.due(other, d("2020-01-01")));
    }

    #[test]
    fn a_folder_reads_into_leaves_sidecar_flags_and_strays() {
        let task = FolderTask::symbol("data/spot/monthly/klines/", "ADABKRW");
        let budget = Budget::new(Budget::DEFAULT_LIMIT);
        let mut reader = FolderReader::new(&task, Utc::now(), &budget);
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
        reader
            .read(&ListPage::of(keys[..1].to_vec(), &[], None))
            .unwrap();
        reader
            .read(&ListPage::of(keys[1..].to_vec(), &[], None))
            .unwrap();
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
    }

    #[test]
    fn folders_in_flight_stop_at_the_budget_and_give_it_back() {
        let budget = Budget::new(100_000);
        let strays =
            FolderTask::whole("data3/".into(), FolderKind::Stray(StrayReason::OutsideData));
        // Keys of 10 kB: the second reader's page takes the two folders past 100 kB.
        let page = |n: usize, c: char| -> ListPage {
            let keys =
                (0..n).map(|i| object(&format!("data3/{i:04}{}", c.to_string().repeat(10_000))));
            ListPage::of(keys, &[], None)
        };
        let mut a = FolderReader::new(&strays, Utc::now(), &budget);
        a.read(&page(5, 'a')).unwrap();
        let mut b = FolderReader::new(&strays, Utc::now(), &budget);
        assert!(matches!(
            b.read(&page(5, 'b')),
            Err(Stall::TooMuchHeld { limit: 100_000, .. })
        ));
        drop(b);
        drop(a);
        assert_eq!(
            budget.held.load(Ordering::Relaxed),
            0,
            "every byte given back"
        );
        let mut c = FolderReader::new(&strays, Utc::now(), &budget);
        c.read(&page(5, 'c')).unwrap();
    }
}
