//! Answers already given from one published file, kept for the next client who asks.
//!
//! A published file never changes (writers publish a new one), so an answer computed from it
//! stays right for as long as it is served; the cache lives in the file's `Generation` and goes
//! with it. A snapshot costs DuckDB ~0.5 ms and the answer is ~32 KB, so a cached one is served
//! ~10x faster (BENCHMARKS.md). Bounded in bytes: the oldest answers leave first.
//!
//! What must not be known here: what the keys mean, HTTP.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::body::Bytes;

pub(super) struct Answers {
    limit: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_key: HashMap<String, Bytes>,
    /// Keys oldest first, for eviction.
    order: VecDeque<String>,
    bytes: usize,
}

impl Answers {
    /// A cache of at most `limit` bytes of answers (0: none is kept).
    pub(super) fn new(limit: usize) -> Answers {
        Answers {
            limit,
            inner: Mutex::default(),
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<Bytes> {
        self.lock().by_key.get(key).cloned()
    }

    /// Keeps `body` under `key`, dropping the oldest answers to stay within the limit. An
    /// answer larger than the whole limit is not kept.
    pub(super) fn put(&self, key: String, body: Bytes) {
        if body.len() > self.limit {
            return;
        }
        let mut inner = self.lock();
        if inner.by_key.contains_key(&key) {
            return;
        }
        while inner.bytes + body.len() > self.limit {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.by_key.remove(&oldest) {
                inner.bytes -= gone.len();
            }
        }
        inner.bytes += body.len();
        inner.order.push_back(key.clone());
        inner.by_key.insert(key, body);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change above leaves the three fields consistent before it can panic.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    #[test]
    fn the_oldest_answers_leave_first_and_the_limit_holds() {
        let cache = Answers::new(10);
        cache.put("a".into(), body(4));
        cache.put("b".into(), body(4));
        assert!(cache.get("a").is_some() && cache.get("b").is_some());
        cache.put("c".into(), body(4));
        assert!(cache.get("a").is_none(), "a was the oldest");
        assert_eq!(cache.get("c").map(|b| b.len()), Some(4));
        assert!(cache.lock().bytes <= 10);
        // Too large for the whole cache: not kept, and nothing else is dropped for it.
        cache.put("huge".into(), body(11));
        assert!(cache.get("huge").is_none() && cache.get("b").is_some());
        // Off: nothing kept.
        let none = Answers::new(0);
        none.put("a".into(), body(1));
        assert!(none.get("a").is_none());
    }
}
