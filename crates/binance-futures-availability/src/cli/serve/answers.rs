//! Answers already given from one published file, kept for the next client who asks.
//!
//! A published file never changes (writers publish a new one), so an answer computed from it
//! stays right for as long as it is served; the cache lives in the file's `Generation` and goes
//! with it. A snapshot costs DuckDB ~0.5 ms and the answer is ~32 KB, so a cached one is served
//! ~10x faster (BENCHMARKS.md). Bounded in bytes: the oldest answers leave first.
//!
//! The bound counts what an answer really costs, not only its body: a flood of distinct
//! questions with 3-byte answers cost ~530 B each while 3 B were counted, so 2.4 M of them took
//! the server from 398 MB to 1.5 GB under a 64 MB limit. Each entry is counted as its key (its
//! size and what it holds on the heap, `Key::heap_bytes`), its body and `entry_overhead` (the
//! table slots, the allocator's blocks), an upper bound a test checks against the bytes
//! actually allocated.
//!
//! The keys are typed (the API keeps answers under the question and its format): two
//! spellings of one question are one key, and no text has to name a question fully. So are
//! the answers (`Key::Answer`): a body, or for a catalog listing the body with the totals and
//! encoding it was sent with.
//!
//! What must not be known here: what the keys mean, HTTP.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::mem::size_of;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;

/// What glibc's malloc adds to a block at most: 8 bytes of header, and rounding up to 16.
const MALLOC_SLACK: usize = 8 + 15;

/// A key answers are kept under.
pub(super) trait Key: Hash + Eq {
    /// What is kept under it: a body, or a body and what is sent with it.
    type Answer: Kept;
    /// The bytes it holds outside itself (its texts), each block counted as glibc's malloc
    /// lays it out.
    fn heap_bytes(&self) -> usize;
}

/// A kept answer: cloned out to each request that asks (a body is shared, not copied).
pub(super) trait Kept: Clone {
    /// The bytes of its body, held outside itself.
    fn body_bytes(&self) -> usize;
}

impl Kept for Bytes {
    fn body_bytes(&self) -> usize {
        self.len()
    }
}

/// What one kept answer costs besides its key's own bytes and its body's (about 330 B on
/// x86-64 for a body alone):
/// - its slot in the map, key and body handle plus a control byte, times 32/7: hashbrown fills
///   at most 7/8 of its buckets, and under a cache's churn (an insert, an eviction) removals
///   leave tombstones, so a table grows (doubles) once more than half its capacity is in use
///   and free slots run out: as few as 7/32 of its buckets may hold entries (a test measured
///   ~190 B a slot with 1,058 entries in 4,096 buckets);
/// - its slot in the eviction order, times 2: a `VecDeque` doubles too;
/// - the key's block: `Arc`'s two counts and the malloc slack;
/// - the body's block: its slack, or the 32 B a block takes at least (a 3 B body);
/// - the header `bytes` allocates for a body once it is shared (the copy sent to the client
///   and the one kept), 24 B in a 32 B block.
const fn entry_overhead<K: Key>() -> usize {
    (size_of::<(Arc<K>, K::Answer)>() + 1) * 32 / 7
        + size_of::<Arc<K>>() * 2
        + 2 * size_of::<usize>()
        + MALLOC_SLACK
        + 32
        + 32
}

pub(super) struct Answers<K: Key> {
    limit: usize,
    inner: Mutex<Inner<K>>,
}

struct Inner<K: Key> {
    /// One allocation per key, shared with `order`.
    by_key: HashMap<Arc<K>, K::Answer>,
    /// Keys oldest first, for eviction.
    order: VecDeque<Arc<K>>,
    /// What the entries cost, as `cost` counts it.
    bytes: usize,
}

impl<K: Key> Default for Inner<K> {
    fn default() -> Self {
        Inner {
            by_key: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
        }
    }
}

/// What keeping `answer` under `key` costs.
fn cost<K: Key>(key: &K, answer: &K::Answer) -> usize {
    size_of::<K>() + key.heap_bytes() + answer.body_bytes() + entry_overhead::<K>()
}

impl<K: Key> Answers<K> {
    /// A cache of at most `limit` bytes of answers, keys and bookkeeping (0: none is kept).
    pub(super) fn new(limit: usize) -> Answers<K> {
        Answers {
            limit,
            inner: Mutex::default(),
        }
    }

    pub(super) fn get(&self, key: &K) -> Option<K::Answer> {
        self.lock().by_key.get(key).cloned()
    }

    /// Keeps `answer` under `key`, dropping the oldest answers to stay within the limit. An
    /// answer costing more than the whole limit is not kept.
    pub(super) fn put(&self, key: K, answer: K::Answer) {
        let needed = cost(&key, &answer);
        if needed > self.limit {
            return;
        }
        let key = Arc::new(key);
        let mut gone = Vec::new();
        {
            let mut inner = self.lock();
            if inner.by_key.contains_key(&key) {
                return;
            }
            while inner.bytes + needed > self.limit {
                let Some(oldest) = inner.order.pop_front() else {
                    break;
                };
                if let Some(answer) = inner.by_key.remove(&oldest) {
                    inner.bytes -= cost(oldest.as_ref(), &answer);
                    gone.push((oldest, answer));
                }
            }
            inner.bytes += needed;
            inner.order.push_back(Arc::clone(&key));
            inner.by_key.insert(key, answer);
        }
        // Freed after the lock: other requests need not wait for it.
        drop(gone);
    }

    /// The questions answered, the most recently kept first: what the next file's answers are
    /// refilled with before it is served (`published::Refill`).
    pub(super) fn newest_first(&self) -> Vec<Arc<K>> {
        self.lock().order.iter().rev().cloned().collect()
    }

    /// What the kept answers cost, as counted against the limit.
    #[cfg(test)]
    fn counted(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K>> {
        // Every change above leaves the three fields consistent before it can panic.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Counts, per thread, the bytes of the blocks it holds as glibc's malloc lays them out
    /// (size plus 8, rounded up to 16, at least 32), so a test can compare what a cache
    /// counts with what it really holds.
    struct Counting;

    thread_local! {
        static HELD: Cell<isize> = const { Cell::new(0) };
    }

    fn block(size: usize) -> isize {
        ((size + 8).div_ceil(16) * 16).max(32) as isize
    }

    fn note(delta: isize) {
        let _ = HELD.try_with(|h| h.set(h.get() + delta));
    }

    fn held() -> isize {
        HELD.with(Cell::get)
    }

    // SAFETY: every call is passed to `System` unchanged; the counting touches only a
    // thread-local integer, which allocates nothing.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                note(block(layout.size()));
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                note(block(layout.size()));
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) };
            note(-block(layout.size()));
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                note(block(new_size) - block(layout.size()));
            }
            p
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    fn body(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    impl Key for String {
        type Answer = Bytes;

        fn heap_bytes(&self) -> usize {
            match self.capacity() {
                0 => 0,
                n => block(n) as usize,
            }
        }
    }

    fn k(text: &str) -> String {
        text.to_string()
    }

    #[test]
    fn the_oldest_answers_leave_first_and_the_limit_holds() {
        let each = cost(&k("a"), &body(4));
        let cache = Answers::new(2 * each + 1);
        cache.put(k("a"), body(4));
        cache.put(k("b"), body(4));
        assert!(cache.get(&k("a")).is_some() && cache.get(&k("b")).is_some());
        cache.put(k("c"), body(4));
        assert!(cache.get(&k("a")).is_none(), "a was the oldest");
        assert_eq!(cache.get(&k("c")).map(|b| b.len()), Some(4));
        assert!(cache.counted() <= 2 * each + 1);
        // Too large for the whole cache: not kept, and nothing else is dropped for it.
        cache.put(k("huge"), body(2 * each));
        assert!(cache.get(&k("huge")).is_none() && cache.get(&k("b")).is_some());
        // Off: nothing kept.
        let none = Answers::new(0);
        none.put(k("a"), body(1));
        assert!(none.get(&k("a")).is_none());
    }

    /// A flood of `count` distinct questions made by `key`, as the API puts them (the body
    /// shared with the reply): the count stays within the limit, and what the cache really
    /// holds stays within the count, for tiny answers (where the bookkeeping is most of the
    /// cost) and large ones.
    fn flood<K: Key<Answer = Bytes>>(key: impl Fn(u32) -> K) {
        let limit = 1 << 20;
        for size in [3, 40, 700, 32_000] {
            let before = held();
            let cache = Answers::new(limit);
            for i in 0..40_000u32 {
                let key = key(i);
                let mut out = vec![b'x'; size];
                out.shrink_to_fit();
                let answer = Bytes::from(out);
                cache.put(key, answer.clone());
                drop(answer);
            }
            let real = held() - before;
            let counted = cache.counted();
            assert!(
                counted <= limit,
                "{size} B answers: counted {counted} > {limit}"
            );
            assert!(
                real <= counted as isize,
                "{size} B answers: the cache holds {real} B but counts {counted} B"
            );
            // The bound is not so loose that the cache keeps far fewer answers than it could.
            assert!(
                counted as isize <= real * 3,
                "{size} B answers: counted {counted} B for {real} B held"
            );
            drop(cache);
        }
    }

    #[test]
    fn a_flood_of_distinct_answers_is_counted_at_what_it_really_holds() {
        flood(|i| format!("snapshot 2024-01-15 Perpetual Json {i:08}"));
    }

    /// The API's own keys: a question and a format, some holding a symbol's name.
    #[test]
    fn a_flood_of_distinct_questions_is_counted_at_what_it_really_holds() {
        use crate::cli::render::Format;
        use crate::facts::{ContractFilter, Market, TRADING_START};
        use crate::question::Question;
        flood(|i| {
            let question = if i % 2 == 0 {
                Question::timeline(Market::Um, &format!("S{i:08}USDT")).unwrap()
            } else {
                let first = TRADING_START + chrono::Days::new(u64::from(i % 2000));
                let last = first + chrono::Days::new(u64::from(i / 2000));
                Question::range(Market::Um, first, last, ContractFilter::All).unwrap()
            };
            (question, Format::Json)
        });
    }
}
