//! Every leaf of an open catalog in memory (issue 27): id → dataset, symbol and the rank of its
//! folder in key order, read once per read-only handle. `catalog changes` names each change's
//! file by a leaf of this table, writes its key from the leaf's template, and sorts a run's
//! changes on (seen, rank, period) — numbers only — where it once joined `changes` with
//! `leaves` and compared keys as text on every read (~38 % of a week's changes, session 18).
//!
//! Why once per handle is right: a published catalog file is never written again (a publish
//! writes a new file and renames it in), so a read-only handle sees one generation of
//! `leaves`; `serve` and Python keep their handles, the CLI asks one question per handle. A
//! handle opened for writing adds leaves as it goes, so it reads a fresh table per question.
//!
//! Size: ~2.6 × 10⁵ leaves at full scale — 16 bytes and a rank of 4 each, their keys' tails
//! in one buffer (`BTCUSDT/1m/BTCUSDT-1m-`, ~25 bytes each), an id index of 4 bytes a slot when
//! the ids have gaps: ~12 MB.
//!
//! Must not know: changes, how answers are printed, HTTP.

use std::fmt;

use duckdb::arrow::array::{Array, Int16Array, Int32Array, StringArray};

use super::Catalog;
use super::key::KeyTemplate;
use crate::facts::Span;
use crate::store::{StoreError, failed};
use crate::vision::{Dataset, Partition};

/// The catalog's leaves, by id (module note).
#[derive(Debug)]
pub(super) struct LeafTable {
    /// One template a dataset of the file, by the index `Leaf::template`.
    templates: Vec<KeyTemplate>,
    /// By id, ascending.
    leaves: Vec<Leaf>,
    /// Each leaf's folder's place among every leaf's folders in byte order (by the leaf's
    /// offset in `leaves`) — its keys' order against another leaf's keys (`rank`) — times two,
    /// plus one when its dataset's files are monthly. Apart from the leaves, 4 bytes each (~1 MB
    /// at full scale): reading a run's changes reads it a change, in no order, where a look-up
    /// in the leaves (~5 MB) waited on memory (session 23).
    ranks: Vec<u32>,
    /// Whether the ids are dense (each leaf's id is the first's plus its offset: a writer's).
    dense: bool,
    /// Every leaf's tail of its keys — its symbol, its template's `between`, its symbol again
    /// and the template's `after` (`BTCUSDT/1m/BTCUSDT-1m-`) — one after the other (a `String`
    /// a leaf would be 2.6 × 10⁵ allocations). A key is then three pieces — the template's
    /// `before`, the tail, the period's end — where it was six (~20 % of a week's changes in
    /// session 23's first profile): the thread handing out a week's changes went from ~44 to
    /// ~40 ms (its median of 63 answers, alternated).
    tails: String,
    /// Each id from the first leaf's on, its leaf's index (`u32::MAX` for none), when the ids
    /// have gaps but at most 8 slots a leaf (a file edited by hand: a writer gives ids one after
    /// the other, and a leaf is then found by its offset from the first); else empty, and a
    /// leaf is searched for.
    by_id: Vec<u32>,
}

/// One leaf: 16 bytes. A change handed out carries a copy of its leaf (`LeafTable::leaf_at`),
/// from which its key is written (the template's `before`, the leaf's tail in `tails`): at full
/// scale the leaves are ~4 MB and the tails ~6.6 MB, and a week's changes name ~10⁵ leaves in
/// no order, so each look-up would wait on memory — the leaf and its tail are asked for a few
/// changes ahead (`prefetch_leaf`, `prefetch_tail`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Leaf {
    id: i32,
    /// Where its tail begins in `LeafTable::tails`.
    tail: u32,
    /// Its symbol's length: the tail's first bytes.
    symbol_len: u16,
    /// Its tail's length.
    tail_len: u16,
    /// Its dataset's template, in `LeafTable::templates`.
    template: u16,
}

// The size the notes above count on.
const _: () = assert!(size_of::<Leaf>() == 16);

impl Catalog {
    /// The file's leaves: the handle's table, read at its first question, when the handle is
    /// read-only (its file is immutable); read afresh on a handle that writes.
    pub(super) fn leaf_table(&self) -> Result<std::sync::Arc<LeafTable>, StoreError> {
        if let Some(table) = self.leaf_table.get() {
            return Ok(table.clone());
        }
        let table = std::sync::Arc::new(LeafTable::read(self)?);
        if self.read_only {
            // Unset until now, and the handle is used by one thread at a time (`Connection`).
            let _ = self.leaf_table.set(table.clone());
        }
        Ok(table)
    }
}

impl LeafTable {
    /// Reads every leaf of `catalog` (one scan of `leaves`, ~2.6 × 10⁵ rows) and ranks their
    /// folders in byte order.
    ///
    /// A key is its leaf's folder (`data/spot/daily/klines/BTCUSDT/1m/`) then a file name, so
    /// two leaves' keys sort as their folders do unless one folder begins with the other: a
    /// folder ends in `/` and a symbol holds none, so that takes one type filed both with and
    /// without interval folders, which the layout has not (`DataType::has_interval`). The
    /// ranks are checked against it here, once: a file whose folders nest (or repeat) is refused
    /// rather than answered in a wrong order.
    fn read(catalog: &Catalog) -> Result<LeafTable, StoreError> {
        let datasets = catalog.datasets_by_id();
        let mut template_of: Vec<Option<u16>> = Vec::new();
        for (t, (_, id)) in datasets.iter().enumerate() {
            // Ids are this file's, from 0 up; a negative one names no dataset a leaf can have.
            let Ok(id) = usize::try_from(*id) else {
                continue;
            };
            if template_of.len() <= id {
                template_of.resize(id + 1, None);
            }
            template_of[id] = u16::try_from(t).ok();
        }
        let mut table = LeafTable {
            templates: datasets.iter().map(|(d, _)| KeyTemplate::of(*d)).collect(),
            leaves: Vec::new(),
            ranks: Vec::new(),
            dense: false,
            tails: String::new(),
            by_id: Vec::new(),
        };
        let action = "reading the leaves";
        let mut stmt = catalog
            .conn
            .prepare("SELECT id, dataset, symbol FROM leaves")
            .map_err(failed(&catalog.path, action))?;
        for batch in stmt
            .stream_arrow([])
            .map_err(failed(&catalog.path, action))?
        {
            let batch = batch.map_err(failed(&catalog.path, action))?;
            let column = |i: usize| batch.column(i).as_any();
            let (Some(id), Some(dataset), Some(symbol)) = (
                column(0).downcast_ref::<Int32Array>(),
                column(1).downcast_ref::<Int16Array>(),
                column(2).downcast_ref::<StringArray>(),
            ) else {
                let what = format!("leaves' columns {:?}", batch.schema().fields());
                return Err(catalog.unreadable(action, what));
            };
            for i in 0..batch.num_rows() {
                let d = dataset.value(i);
                let Some(template) = usize::try_from(d)
                    .ok()
                    .and_then(|d| template_of.get(d).copied().flatten())
                else {
                    let what = format!("leaf {} of dataset {d}, which no dataset is", id.value(i));
                    return Err(catalog.unreadable(action, what));
                };
                let (start, symbol) = (table.tails.len(), symbol.value(i));
                let t = &table.templates[usize::from(template)];
                for piece in [symbol, t.between(), symbol, t.after()] {
                    table.tails.push_str(piece);
                }
                let (Ok(tail), Ok(symbol_len), Ok(tail_len), Ok(_)) = (
                    u32::try_from(start),
                    u16::try_from(symbol.len()),
                    u16::try_from(table.tails.len() - start),
                    i32::try_from(table.leaves.len() + 1),
                ) else {
                    let what = format!(
                        "{} leaves (2³¹ at most), their keys' tails over 4 GiB or one over 64 KiB",
                        table.leaves.len()
                    );
                    return Err(catalog.unreadable(action, what));
                };
                table.leaves.push(Leaf {
                    id: id.value(i),
                    tail,
                    symbol_len,
                    tail_len,
                    template,
                });
            }
        }
        table.leaves.sort_unstable_by_key(|l| l.id);
        table
            .rank()
            .map_err(|what| catalog.unreadable(action, what))?;
        table.index();
        Ok(table)
    }

    /// Ranks the leaves' folders (`before`, symbol, `between`: `data/spot/daily/klines/` `BTCUSDT`
    /// `/1m/`) in byte order; a folder that begins another one (or repeats it) is `Err`,
    /// naming both. Distinct `before`s never begin one another (checked here: a type's name
    /// holds no `/`), so folders of two of them sort as those do, and a folder sorts on its
    /// `before`'s rank and its symbol and `between` — their first 14 bytes in one number (a
    /// symbol is ~10), compared as text only when those are equal. Comparing whole folders
    /// as text took ~70 ms at full scale (~7.6 % of session 19's first profile); this one's
    /// time is not measured apart yet.
    fn rank(&mut self) -> Result<(), String> {
        let mut befores: Vec<&str> = self.templates.iter().map(|t| t.before()).collect();
        befores.sort_unstable();
        befores.dedup();
        if let Some(pair) = befores.windows(2).find(|p| p[1].starts_with(p[0])) {
            return Err(format!("the folder {:?} inside {:?}", pair[1], pair[0]));
        }
        let before_rank: Vec<u16> = self
            .templates
            .iter()
            .map(|t| befores.binary_search(&t.before()).unwrap_or(0) as u16)
            .collect();
        // A leaf's symbol and `between`: the first bytes of its keys' tail.
        let tail = |l: u32| {
            let leaf = &self.leaves[l as usize];
            let len = usize::from(leaf.symbol_len) + self.template(leaf).between().len();
            &self.tails.as_bytes()[leaf.tail as usize..][..len]
        };
        let mut keys: Vec<(u128, u32)> = Vec::with_capacity(self.leaves.len());
        for l in 0..self.leaves.len() {
            let mut head = [0u8; 14];
            let tail = tail(offset(l));
            let n = tail.len().min(head.len());
            head[..n].copy_from_slice(&tail[..n]);
            let before = before_rank[usize::from(self.leaves[l].template)];
            // Zero bytes pad a shorter tail: the order of the numbers is never against the texts'.
            let mut key = u128::from(before);
            for b in head {
                key = key << 8 | u128::from(b);
            }
            keys.push((key, offset(l)));
        }
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| tail(a.1).cmp(tail(b.1))));
        for (rank, pair) in keys.windows(2).enumerate() {
            let ((ka, a), (kb, b)) = (pair[0], pair[1]);
            // Of one `before` (the numbers' top bits), the later tail must not begin with the
            // earlier one.
            if ka >> 112 == kb >> 112 && tail(b).starts_with(tail(a)) {
                let folder = |l: u32| {
                    let t = self.template_of(l as usize);
                    format!("{}{}", t.before(), String::from_utf8_lossy(tail(l)))
                };
                return Err(format!(
                    "the folder {:?} inside or equal to the folder {:?} (ranks {rank} and {})",
                    folder(b),
                    folder(a),
                    rank + 1
                ));
            }
        }
        let mut ranks = vec![0; self.leaves.len()];
        for (rank, (_, l)) in keys.iter().enumerate() {
            // Below 2³¹: `read` refuses more leaves.
            let monthly = self.partition(&self.leaves[*l as usize]) == Partition::Monthly;
            ranks[*l as usize] = offset(rank) << 1 | u32::from(monthly);
        }
        self.ranks = ranks;
        Ok(())
    }

    /// Finds how a leaf is found by its id: by its offset from the first's when the ids are
    /// dense, else through a vector over the ids' range when it is at most 8 slots a leaf
    /// (4 bytes each), else by a search.
    fn index(&mut self) {
        let Some(first) = self.leaves.first().map(|l| i64::from(l.id)) else {
            return;
        };
        self.dense = (self.leaves.iter())
            .enumerate()
            .all(|(i, l)| i64::from(l.id) - first == i as i64);
        if let Some(last) = self.leaves.last().filter(|_| !self.dense) {
            let range = (i64::from(last.id) - first + 1) as usize;
            if range <= 8 * self.leaves.len() {
                let mut by_id = vec![u32::MAX; range];
                for (i, l) in self.leaves.iter().enumerate() {
                    by_id[(i64::from(l.id) - first) as usize] = offset(i);
                }
                self.by_id = by_id;
            }
        }
    }

    /// The offset in the table of the leaf whose id is `id` (`None`: no leaf is): when the
    /// ids are dense, arithmetic alone — no leaf is read.
    #[inline]
    pub(super) fn offset_of(&self, id: i32) -> Option<u32> {
        let first = self.leaves.first()?.id;
        let at = usize::try_from(i64::from(id) - i64::from(first)).ok()?;
        if self.dense {
            return (at < self.leaves.len()).then(|| offset(at));
        }
        if self.by_id.is_empty() {
            return self
                .leaves
                .binary_search_by_key(&id, |l| l.id)
                .ok()
                .map(offset);
        }
        self.by_id.get(at).copied().filter(|i| *i != u32::MAX)
    }

    /// The leaf at `at` (an `offset_of`), copied.
    #[inline]
    pub(super) fn leaf_at(&self, at: u32) -> Option<Leaf> {
        self.leaves.get(at as usize).copied()
    }

    /// The rank of the leaf at `at` (an `offset_of`), and its dataset's partition.
    #[inline]
    pub(super) fn rank_at(&self, at: u32) -> Option<(u32, Partition)> {
        let rank = *self.ranks.get(at as usize)?;
        let partition = if rank & 1 == 1 {
            Partition::Monthly
        } else {
            Partition::Daily
        };
        Some((rank >> 1, partition))
    }

    /// Brings the rank of the leaf at `at` near, without waiting for it (`prefetch`): the
    /// thread that reads a run's changes asks for the one a few rows on as it reads each.
    #[inline]
    pub(super) fn prefetch_rank(&self, at: u32) {
        if let Some(rank) = self.ranks.get(at as usize) {
            prefetch(rank);
        }
    }

    /// Brings the leaf at `at` near, without waiting for it (`prefetch`): the thread that
    /// hands changes out asks for the one a few changes on as it hands out each.
    #[inline]
    pub(super) fn prefetch_leaf(&self, at: u32) {
        if let Some(leaf) = self.leaves.get(at as usize) {
            prefetch(leaf);
        }
    }

    /// Brings `leaf`'s keys' tail near, without waiting for it (`prefetch`): the change handed
    /// out a few rows on writes its key from it (read when it was needed, ~20 % of handing out
    /// a week's changes, session 23's profile).
    #[inline]
    pub(super) fn prefetch_tail(&self, leaf: &Leaf) {
        if let Some(first) = self.tails.as_bytes().get(leaf.tail as usize) {
            prefetch(first);
        }
    }

    /// `leaf`'s dataset's partition: how its periods are numbered.
    #[inline]
    pub(super) fn partition(&self, leaf: &Leaf) -> Partition {
        self.template(leaf).dataset.partition()
    }

    #[inline]
    pub(super) fn dataset(&self, leaf: &Leaf) -> Dataset {
        self.template(leaf).dataset
    }

    #[inline]
    pub(super) fn symbol(&self, leaf: &Leaf) -> &str {
        &self.tails[leaf.tail as usize..][..usize::from(leaf.symbol_len)]
    }

    #[inline]
    fn template(&self, leaf: &Leaf) -> &KeyTemplate {
        &self.templates[usize::from(leaf.template)]
    }

    fn template_of(&self, leaf: usize) -> &KeyTemplate {
        self.template(&self.leaves[leaf])
    }

    /// Writes the key of `leaf`'s file of `span` into `out`: its template's `before`, its
    /// tail, the period's end.
    #[inline]
    pub(super) fn write_key(
        &self,
        out: &mut (impl fmt::Write + ?Sized),
        leaf: &Leaf,
        span: Span,
    ) -> fmt::Result {
        let tail = &self.tails[leaf.tail as usize..][..usize::from(leaf.tail_len)];
        self.template(leaf).write_key_with(out, tail, span)
    }
}

/// Asks the processor to bring the line holding `at` into its caches and goes on: a hint, which
/// changes no value (none on processors other than x86-64, where it is an instruction of
/// every one).
#[inline(always)]
fn prefetch<T>(at: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees, and cannot fault; `at` is a live
    // reference besides.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((at as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// A position among the table's leaves as a `u32`: `read` refuses a table of 2³¹ leaves.
fn offset(n: usize) -> u32 {
    n as u32
}
