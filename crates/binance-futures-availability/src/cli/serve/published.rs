//! Which file `serve` answers from, and the read-only handles on it.
//!
//! Writers never touch the published file: they publish a new one by renaming it over the old
//! (ADR 0006). So a server can keep its handles on the file it opened and notice a publish by
//! its identity (device, inode, size, mtime): a watcher compares it every `POLL` and, when it
//! changed, opens handles on the new file *before* swapping them in. A request takes the
//! current generation when it starts and keeps it to its end, so during a swap requests are
//! answered from the old file or the new one, never refused; the old handles close when the
//! last request using them ends (on Linux an unlinked file stays readable while open).
//!
//! A replaced generation is never freed under the lock, nor by a request: freeing one whose
//! cache held 2.4 M answers took 2.76 s, and done under the write lock it stalled every request
//! (`/healthz` too) that long. The watcher keeps it in `retiring` and frees it on its own thread
//! once no request holds it.
//!
//! A file is served only after questions ran on each of its handles (`warm`): one that opens
//! but cannot be queried is reported, not swapped in, and the first requests after a publish
//! do not pay for each handle's first question. Then the questions the replaced file answered
//! last are answered again from the new one (`Refill`, up to `REFILL_FOR`), so the requests
//! right after a publish find their answers kept instead of all missing at once; nothing is
//! carried over from the replaced file. A query that fails on the file served later marks it
//! (`failure`), and `/healthz` says so until the next publish.
//!
//! Two files are served this way, each watched on its own (`Served`): the availability database
//! and the catalog (ADR 0020). Either may be absent or unservable while the other is answered.
//!
//! What must not be known here: routes, formats, HTTP. This is handles and files.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;

use super::answers::{Answers, Key};
use crate::facts::{ContractFilter, Market};
use crate::store::{Catalog, DEFAULT_DELISTED_AFTER, Database, EventFilter, Identity, StoreError};

/// How often the watcher looks at the published file: a publish is served within this (plus
/// the ~10 ms per handle it takes to open one), well inside the second the API promises.
pub(super) const POLL: Duration = Duration::from_millis(200);

/// How long the answers kept from the replaced file are rewritten from a new one before it is
/// served. Without it every request missed right after a publish, and under the load bench the
/// p99 of those seconds was 12.6–20.4 ms against 7–11 ms between publishes (BENCHMARKS.md,
/// session 18). A snapshot costs ~0.16 ms to write on a quiet core, ~0.25 ms under that load
/// (1,217 of a 64 MB cache's 1,988 in 0.3 s). Bounded in time, not count, so a large
/// `--cache-mb` does not delay the publish (it was served 0.58 s after the update ended, within
/// the second the API promises); a question begun before the bound is finished, and what is
/// not refilled is answered on request, as before.
const REFILL_FOR: Duration = Duration::from_millis(300);

/// Writes the answer kept under a key from a handle on the new file (the API's own writer), to
/// refill a new generation's answers before it is served: `None` when the question fails on
/// the new file, or its answer is not one to keep (the API's limits say which).
pub(super) type Refill<S> =
    fn(&S, &<S as Served>::Key, Limits) -> Option<<<S as Served>::Key as Key>::Answer>;

/// A kind of file `serve` answers from: how a read-only handle on it is opened and warmed, and
/// what its answers are kept under.
pub(super) trait Served: Send + 'static + Sized {
    /// What an answer from this kind of file is kept under.
    type Key: Key<Answer: Send + Sync + 'static> + Clone + Send + Sync + 'static;
    /// A read-only handle on the file at `path`, on `market`'s tables (a catalog's handle
    /// answers about every market, and takes none).
    fn open(path: &Path, market: Market) -> Result<Self, StoreError>;
    /// Questions asked of a handle before it serves (see `warm`).
    fn probe(&self) -> Result<(), StoreError>;
    /// Why nothing is served while `path` does not exist: the sentence says what to run.
    fn missing(path: &Path) -> StoreError;
    /// Shares what `self` keeps in memory of the file with `others`, handles on the same file,
    /// before they are probed (nothing, unless the kind keeps something worth sharing).
    fn share(&self, others: &[Self]) -> Result<(), StoreError> {
        let _ = others;
        Ok(())
    }
}

impl Served for Database {
    type Key = super::api::AnswerKey;

    /// With a read index (`Database::keep_read_index`): a handle serves many snapshots, and
    /// a republish is a new generation of new handles, so none answers from a replaced file.
    fn open(path: &Path, market: Market) -> Result<Database, StoreError> {
        let mut db = Database::open_market(path, market)?;
        db.keep_read_index();
        Ok(db)
    }

    /// A question of each kind the API answers: the coverage (the symbols), the newest day's
    /// snapshot (the availability rows, which build the read index) and the events (every symbol's gaps and trading runs,
    /// which the handle keeps).
    fn probe(&self) -> Result<(), StoreError> {
        if let Some(last) = self.coverage()?.map(|c| c.last()) {
            // The rows, whether or not the newest day is checked yet (a folder behind the
            // others leaves it unchecked, and the file must still be served).
            self.answering_unchecked(|db| db.snapshot(last, ContractFilter::All))?;
        }
        self.events(&EventFilter::default(), DEFAULT_DELISTED_AFTER)?;
        Ok(())
    }

    /// The read index: one per file, not one per handle (12.5 MB each on the realistic
    /// bucket), built once, by the first handle.
    fn share(&self, others: &[Database]) -> Result<(), StoreError> {
        for other in others {
            self.share_read_index(other)?;
        }
        Ok(())
    }

    fn missing(path: &Path) -> StoreError {
        StoreError::Missing {
            path: path.to_path_buf(),
        }
    }
}

impl Served for Catalog {
    type Key = super::api::CatalogKey;

    /// Refuses a file that is no catalog, or one too old or too new for this binary, with
    /// its sentence.
    fn open(path: &Path, _: Market) -> Result<Catalog, StoreError> {
        Catalog::open(path)
    }

    /// The datasets: one aggregate over every file, so a damaged block is found before the
    /// file is served rather than by the first client.
    fn probe(&self) -> Result<(), StoreError> {
        self.datasets().map(drop)
    }

    fn missing(path: &Path) -> StoreError {
        StoreError::NoCatalog {
            path: path.to_path_buf(),
        }
    }
}

/// One published file and the handles open on it.
pub(super) struct Generation<S: Served = Database> {
    /// Names the file in every answer's ETag, so a publish changes them all.
    pub token: String,
    pub last_modified: SystemTime,
    /// Its size when opened (a published file never changes), for `/v1/status`: the path may
    /// be briefly absent during a publish while the file is still served.
    pub size_bytes: u64,
    /// Answers given from this file, for the next client who asks the same.
    pub answers: Answers<S::Key>,
    handles: Mutex<Vec<S>>,
    /// One permit per handle: a request waits here for a free handle, so at most `handles`
    /// queries run at once and a burst queues instead of opening more.
    permits: Semaphore,
    /// The first database failure of a query on this file, as its sentence: a published file
    /// never changes, so it is not expected to go away before the next publish.
    failure: Mutex<Option<String>>,
}

/// Why a query did not run.
#[derive(Debug)]
pub(super) enum RunError {
    /// The query itself failed (bad input it found, an unknown symbol, DuckDB).
    Query(crate::cli::CliError),
    /// A query panicked and took its handle with it; the next publish (or a restart) restores
    /// the full count.
    Lost,
}

impl<S: Served> Generation<S> {
    /// Opens `count` handles on `path`, and checks that the file did not change meanwhile, so
    /// the identity names exactly what the handles read.
    fn open(
        path: &Path,
        limits: Limits,
        market: Market,
        refill: Option<(Refill<S>, &Generation<S>)>,
    ) -> Result<(Identity, Generation<S>), OpenError> {
        let before = Identity::of(path)?;
        let handles = (0..limits.handles.get())
            .map(|_| S::open(path, market))
            .collect::<Result<Vec<_>, _>>()?;
        let after = Identity::of(path)?;
        if before != after {
            return Err(OpenError::Moved);
        }
        let Identity::File { len, .. } = after else {
            return Err(OpenError::Moved);
        };
        let handles = warm(handles)?;
        let answers = Answers::new(limits.cache_bytes);
        if let (Some((write, replaced)), Some(db)) = (refill, handles.first()) {
            refill_answers(&answers, db, write, limits, replaced);
        }
        let last_modified =
            std::fs::metadata(path)
                .and_then(|m| m.modified())
                .map_err(|source| StoreError::Io {
                    action: "reading the modification time of",
                    path: path.to_path_buf(),
                    source,
                })?;
        Ok((
            after,
            Generation {
                token: after.token(),
                last_modified,
                size_bytes: len,
                answers,
                permits: Semaphore::new(handles.len()),
                handles: Mutex::new(handles),
                failure: Mutex::new(None),
            },
        ))
    }

    /// Runs `query` on a free handle, on the blocking pool (DuckDB calls block).
    pub(super) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        query: impl FnOnce(&S) -> Result<T, crate::cli::CliError> + Send + 'static,
    ) -> Result<T, RunError> {
        // The semaphore is never closed, so acquiring only waits.
        let permit = self.permits.acquire().await.map_err(|_| RunError::Lost)?;
        let Some(db) = self.lock().pop() else {
            return Err(RunError::Lost);
        };
        let generation = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let answer = query(&db);
            generation.lock().push(db);
            answer
        })
        .await;
        match joined {
            Ok(answer) => answer.map_err(RunError::Query),
            Err(_) => {
                // The handle went with the panic: one permit fewer keeps the two counts equal.
                permit.forget();
                Err(RunError::Lost)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<S>> {
        // A panic while holding this lock (a push or pop) leaves the list consistent.
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that a query failed on this file (the database's sentence); the first is kept.
    pub(super) fn failed(&self, sentence: &str) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_none() {
            tracing::error!("a query failed on the file served: {sentence}");
            *failure = Some(sentence.to_string());
        }
    }

    /// The first query failure on this file, if any.
    pub(super) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Shares what the first handle keeps with the others (`Served::share`), then runs `probe`
/// on every handle at once (a thread each), before any request can use them:
/// the first question on a handle reads every symbol's gaps and runs of trading days (~0.2 s
/// on the realistic bucket when rebuilt, as for a schema 6 file; ~10 ms from the index stored
/// at publish, BENCHMARKS.md), and after a publish every request waited for that instead (up
/// to 472 ms under a flood). Fails with the first handle's failure.
fn warm<S: Served>(handles: Vec<S>) -> Result<Vec<S>, StoreError> {
    if let Some((first, others)) = handles.split_first() {
        first.share(others)?;
    }
    std::thread::scope(|scope| {
        let running: Vec<_> = handles
            .into_iter()
            .map(|db| {
                scope.spawn(move || {
                    let probed = db.probe();
                    (db, probed)
                })
            })
            .collect();
        let mut ready = Vec::with_capacity(running.len());
        for thread in running {
            match thread.join() {
                Ok((db, Ok(()))) => ready.push(db),
                Ok((_, Err(e))) => return Err(e),
                // As a panic while opening: the watcher's task reports it.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(ready)
    })
}

/// Answers again from `db`, a handle on the new file not yet served, the questions `replaced`
/// answered most recently, for up to `REFILL_FOR`, and keeps them in `answers`. On one handle
/// and this thread: the other core keeps answering requests from the replaced file meanwhile.
/// A question that fails now is not kept; its next request gets the failure.
fn refill_answers<S: Served>(
    answers: &Answers<S::Key>,
    db: &S,
    write: Refill<S>,
    limits: Limits,
    replaced: &Generation<S>,
) {
    let start = std::time::Instant::now();
    let keys = replaced.answers.newest_first();
    let mut refilled = 0usize;
    for key in &keys {
        if start.elapsed() >= REFILL_FOR {
            break;
        }
        if let Some(answer) = write(db, key, limits) {
            answers.put((**key).clone(), answer);
            refilled += 1;
        }
    }
    tracing::info!(
        "refilled {refilled} of the {} answers kept from the replaced file in {:?}",
        keys.len(),
        start.elapsed()
    );
}

/// Why handles were not opened; never shown (a moved file is simply looked at again).
enum OpenError {
    Store(StoreError),
    /// The file was replaced while it was being opened.
    Moved,
}

impl From<StoreError> for OpenError {
    fn from(e: StoreError) -> OpenError {
        OpenError::Store(e)
    }
}

/// What the server answers from right now.
pub(super) enum Current<S: Served = Database> {
    Ready(Arc<Generation<S>>),
    /// No file could be opened yet: the sentence says why and what to do (503).
    Unavailable(Arc<str>),
}

/// What each generation gets.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Read-only handles, i.e. queries running at once.
    pub handles: NonZeroUsize,
    /// Bytes of answers kept for repeat questions.
    pub cache_bytes: usize,
    /// Files one catalog listing (`/v1/catalog/files`, `/v1/catalog/changes`) lists at most
    /// (`serve --max-files`): a refill keeps no answer the API would refuse.
    pub max_files: u64,
}

// Derived, it would ask `S: Clone`.
impl<S: Served> Clone for Current<S> {
    fn clone(&self) -> Self {
        match self {
            Current::Ready(g) => Current::Ready(Arc::clone(g)),
            Current::Unavailable(why) => Current::Unavailable(Arc::clone(why)),
        }
    }
}

/// The published file, watched.
pub(super) struct Published<S: Served = Database> {
    path: PathBuf,
    limits: Limits,
    /// Whose tables the handles answer from (`?market=`).
    market: Market,
    /// Rewrites the replaced file's kept answers from a new one before it is served (`None`:
    /// a new file starts with none kept).
    refill: Option<Refill<S>>,
    /// The identity last looked at (`None` before the first look), and what it gave.
    current: RwLock<(Option<Identity>, Current<S>)>,
    /// Generations replaced by a publish, until no request holds them: freed by `retire`.
    retiring: Mutex<Vec<Arc<Generation<S>>>>,
}

impl<S: Served> Published<S> {
    /// Opens what is at `path` now (or records why it cannot), without failing: a server
    /// started before the first `update` answers 503 until the file appears. Its handles
    /// answer from `market`'s tables, and the answers kept are refilled by `refill` at each
    /// publish.
    pub(super) fn for_market(
        path: &Path,
        limits: Limits,
        market: Market,
        refill: Option<Refill<S>>,
    ) -> Published<S> {
        let published = Published {
            path: path.to_path_buf(),
            limits,
            market,
            refill,
            current: RwLock::new((None, Current::Unavailable("starting".into()))),
            retiring: Mutex::new(Vec::new()),
        };
        published.refresh();
        published
    }

    pub(super) fn current(&self) -> Current<S> {
        self.read().1.clone()
    }

    /// Looks at the file; reopens when it changed. Then frees the replaced generations no
    /// request holds any more.
    pub(super) fn refresh(&self) {
        self.look();
        self.retire();
    }

    fn look(&self) {
        let seen = match Identity::of(&self.path) {
            Ok(identity) => identity,
            Err(e) => return self.unavailable(Identity::Absent, &e),
        };
        if seen == Identity::Absent {
            return self.unavailable(seen, &S::missing(&self.path));
        }
        if Some(seen) == self.read().0 {
            return;
        }
        let replaced = match &self.read().1 {
            Current::Ready(g) => Some(Arc::clone(g)),
            Current::Unavailable(_) => None,
        };
        let refill = self.refill.zip(replaced.as_deref());
        match Generation::<S>::open(&self.path, self.limits, self.market, refill) {
            Ok((identity, generation)) => {
                let new = (Some(identity), Current::Ready(Arc::new(generation)));
                let old = std::mem::replace(&mut *self.write(), new);
                tracing::info!("serving {} ({identity})", self.path.display());
                if let (_, Current::Ready(old)) = old {
                    self.retiring().push(old);
                }
            }
            // Caught mid-publish: the next look sees the file settled.
            Err(OpenError::Moved) => {}
            Err(OpenError::Store(e)) => self.unavailable(seen, &e),
        }
    }

    /// Records that the file at identity `seen` cannot be served. A file already being served
    /// stays served (a bad publish does not take the API down); it is said once per file.
    fn unavailable(&self, seen: Identity, e: &StoreError) {
        let mut current = self.write();
        if current.0 == Some(seen) {
            return;
        }
        let sentence = crate::cli::store_sentence(e);
        match &current.1 {
            Current::Ready(_) => {
                tracing::warn!("still serving the previous file: {sentence}");
                current.0 = Some(seen);
            }
            Current::Unavailable(_) => {
                tracing::warn!("{sentence}");
                *current = (Some(seen), Current::Unavailable(sentence.into()));
            }
        }
    }

    /// Frees, on this thread and outside every lock, the replaced generations that no
    /// request holds: their handles and cached answers.
    fn retire(&self) {
        let free: Vec<Arc<Generation<S>>> = {
            let mut retiring = self.retiring();
            let (free, held) = retiring
                .drain(..)
                // Not reachable from `current` any more, so nothing can take a new reference
                // between this count and the drop.
                .partition(|g| Arc::strong_count(g) == 1);
            *retiring = held;
            free
        };
        drop(free);
    }

    fn retiring(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Generation<S>>>> {
        self.retiring.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (Option<Identity>, Current<S>)> {
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, (Option<Identity>, Current<S>)> {
        self.current.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Refreshes every `POLL` until the runtime ends.
    pub(super) async fn watch(self: Arc<Self>) {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let me = Arc::clone(&self);
            // Opening reads the file: off the async threads.
            if tokio::task::spawn_blocking(move || me.refresh())
                .await
                .is_err()
            {
                tracing::error!("the file watcher panicked; publishes are no longer noticed");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;
    use std::sync::Weak;
    use std::thread::ThreadId;

    /// Where and how a cached answer was freed: on which thread, and whether the lock on the
    /// current generation was free then.
    type Freed = Arc<Mutex<Option<(ThreadId, bool)>>>;

    /// A cached body that records its own freeing.
    struct Witness {
        published: Weak<Published>,
        freed: Freed,
    }

    impl AsRef<[u8]> for Witness {
        fn as_ref(&self) -> &[u8] {
            b"an answer"
        }
    }

    impl Drop for Witness {
        fn drop(&mut self) {
            let lock_free = self
                .published
                .upgrade()
                .is_some_and(|p| p.current.try_write().is_ok());
            *self.freed.lock().unwrap() = Some((std::thread::current().id(), lock_free));
        }
    }

    fn database(path: &Path) {
        Database::open_for_write(path).unwrap().close().unwrap();
    }

    /// Publishes a new file over `path`, as writers do: a rename.
    fn publish(dir: &Path, path: &Path) {
        let new = dir.join("new.duckdb");
        database(&new);
        std::fs::rename(&new, path).unwrap();
    }

    fn ready(published: &Published) -> Arc<Generation> {
        match published.current() {
            Current::Ready(g) => g,
            Current::Unavailable(why) => panic!("not served: {why}"),
        }
    }

    fn cache_witness(published: &Arc<Published>) -> Freed {
        let freed = Freed::default();
        let body = Bytes::from_owner(Witness {
            published: Arc::downgrade(published),
            freed: Arc::clone(&freed),
        });
        let key = (
            crate::question::Question::symbols(crate::facts::Market::Um),
            crate::cli::Format::Json,
        );
        ready(published).answers.put(key, body);
        freed
    }

    /// The replaced generation (here its cached answer) is freed by the watcher, after the
    /// lock is released, never under it; and never by a request that held it during the
    /// publish, whose thread would otherwise pay for the whole cache.
    #[test]
    fn a_replaced_generation_is_freed_by_the_watcher_outside_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.duckdb");
        database(&path);
        let limits = Limits {
            handles: NonZeroUsize::MIN,
            cache_bytes: 1 << 20,
            max_files: 1,
        };
        let published = Arc::new(Published::for_market(&path, limits, Market::Um, None));
        let watcher = std::thread::current().id();

        // No request in flight: freed by the publish's refresh, with the lock free.
        let freed = cache_witness(&published);
        publish(dir.path(), &path);
        published.refresh();
        assert_eq!(*freed.lock().unwrap(), Some((watcher, true)));

        // A request holds the old generation through the publish, and ends after it.
        let freed = cache_witness(&published);
        let in_flight = ready(&published);
        publish(dir.path(), &path);
        published.refresh();
        assert!(
            freed.lock().unwrap().is_none(),
            "freed while a request held it"
        );
        std::thread::spawn(move || drop(in_flight)).join().unwrap();
        assert!(
            freed.lock().unwrap().is_none(),
            "freed by the request's thread"
        );
        // The next look (nothing published) frees it.
        published.refresh();
        assert_eq!(*freed.lock().unwrap(), Some((watcher, true)));
    }
}
