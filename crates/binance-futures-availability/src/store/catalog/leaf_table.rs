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
//! Size: ~2.6 × 10⁵ leaves at full scale — 20 bytes each, their symbols in one buffer (~10
//! bytes each), an id index of 4 bytes a slot: ~8 MB (measured in BENCHMARKS.md, session 19).
//!
//! Must not know: changes, how answers are printed, HTTP.

use std::fmt;
use std::ops::Range;

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
    /// Every leaf's symbol, one after the other (a `String` a leaf would be 2.6 × 10⁵
    /// allocations of ~10 bytes).
    symbols: String,
    /// Each id from the first leaf's on, its leaf's index (`u32::MAX` for none), when the ids
    /// have gaps but at most 8 slots a leaf (a file edited by hand: a writer gives ids one after
    /// the other, and a leaf is then found by its offset from the first); else empty, and a
    /// leaf not at its offset is searched for.
    by_id: Vec<u32>,
}

/// One leaf: 20 bytes. A change read copies its leaf's (`LeafTable::leaf`), so that handing it
/// out and writing its key touch no row of the table again: at full scale the table is ~4 MB,
/// and a week's changes name ~10⁵ leaves in no order, so each look-up was a cache miss — two
/// of them (the id's slot, the leaf) ~40 % of filling a change, session 21's profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Leaf {
    id: i32,
    /// Its folder's place among every leaf's folders in byte order: its keys' order against
    /// another leaf's keys (`LeafTable::read`).
    pub(super) rank: u32,
    /// Its symbol in `LeafTable::symbols`.
    symbol: (u32, u32),
    /// Its dataset's template, in `LeafTable::templates`.
    template: u16,
}

// The size the notes above count on.
const _: () = assert!(size_of::<Leaf>() == 20);

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
            symbols: String::new(),
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
                let start = table.symbols.len();
                table.symbols.push_str(symbol.value(i));
                let (Ok(start), Ok(end), Ok(_)) = (
                    u32::try_from(start),
                    u32::try_from(table.symbols.len()),
                    u32::try_from(table.leaves.len() + 1),
                ) else {
                    let what = format!("{} leaves, their symbols over 4 GiB", table.leaves.len());
                    return Err(catalog.unreadable(action, what));
                };
                let symbol = (start, end);
                table.leaves.push(Leaf {
                    id: id.value(i),
                    rank: 0,
                    symbol,
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
        // Each leaf's symbol and `between`, one after the other (~15 bytes a leaf, dropped after).
        let mut tails = String::new();
        let mut spans: Vec<Range<usize>> = Vec::with_capacity(self.leaves.len());
        let mut keys: Vec<(u128, u32)> = Vec::with_capacity(self.leaves.len());
        for l in 0..self.leaves.len() {
            let start = tails.len();
            tails.push_str(self.symbol_of(l));
            tails.push_str(self.template_of(l).between());
            spans.push(start..tails.len());
            let mut head = [0u8; 14];
            let tail = &tails.as_bytes()[start..];
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
        let tail = |l: u32| tails[spans[l as usize].clone()].as_bytes();
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
        for (rank, (_, l)) in keys.iter().enumerate() {
            self.leaves[*l as usize].rank = offset(rank);
        }
        Ok(())
    }

    /// A vector over the ids' range when it is at most 8 slots a leaf (4 bytes each: ~1 MB at
    /// full scale) — a lookup a change instead of a binary search of ~18 steps.
    fn index(&mut self) {
        if let (Some(first), Some(last)) = (self.leaves.first(), self.leaves.last()) {
            let range = (i64::from(last.id) - i64::from(first.id) + 1) as usize;
            // Dense ids (a writer's) need none: `leaf` finds a leaf by its offset from the first.
            if range != self.leaves.len() && range <= 8 * self.leaves.len() {
                let mut by_id = vec![u32::MAX; range];
                for (i, l) in self.leaves.iter().enumerate() {
                    by_id[(l.id - first.id) as usize] = offset(i);
                }
                self.by_id = by_id;
            }
        }
    }

    /// The leaf whose id is `id`, copied. Ids are dense as a writer gives them, so the leaf
    /// is the one that many places after the first — one look-up, checked; else (a file
    /// edited by hand) the id's slot, or a search.
    #[inline]
    pub(super) fn leaf(&self, id: i32) -> Option<Leaf> {
        let first = self.leaves.first()?.id;
        let at = usize::try_from(i64::from(id) - i64::from(first)).ok()?;
        if let Some(leaf) = self.leaves.get(at).filter(|l| l.id == id) {
            return Some(*leaf);
        }
        let index = if self.by_id.is_empty() {
            self.leaves.binary_search_by_key(&id, |l| l.id).ok()?
        } else {
            self.by_id.get(at).copied().filter(|i| *i != u32::MAX)? as usize
        };
        self.leaves.get(index).copied()
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
        let (start, end) = leaf.symbol;
        &self.symbols[start as usize..end as usize]
    }

    fn symbol_of(&self, leaf: usize) -> &str {
        self.symbol(&self.leaves[leaf])
    }

    #[inline]
    fn template(&self, leaf: &Leaf) -> &KeyTemplate {
        &self.templates[usize::from(leaf.template)]
    }

    fn template_of(&self, leaf: usize) -> &KeyTemplate {
        self.template(&self.leaves[leaf])
    }

    /// Writes the key of `leaf`'s file of `span` into `out`.
    pub(super) fn write_key(
        &self,
        out: &mut (impl fmt::Write + ?Sized),
        leaf: &Leaf,
        span: Span,
    ) -> fmt::Result {
        self.template(leaf).write_key(out, self.symbol(leaf), span)
    }
}

/// A position among the table's leaves as a `u32`: `read` refuses a table of 2³² leaves.
fn offset(n: usize) -> u32 {
    n as u32
}
