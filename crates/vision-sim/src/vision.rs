//! The `vision` corpus: the whole bucket — four markets under `data/`, both partitions, the 13
//! data types with their interval layer and presence rules, CHECKSUM sidecars, the strays outside
//! the layout — at any `scale` (1.0 ≈ 1.9 × 10⁸ keys) and as of any instant.
//!
//! Nothing is materialised: a listing walks a deterministic model (datasets → symbol folders →
//! intervals → periods) in UTF-8 byte order from its start, building each key as it goes, so
//! memory does not grow with the scale. What is kept is the model's skeleton: a few thousand
//! symbols with their lives, and per dataset its sorted folder list.
//!
//! The clock: day D's daily files appear on D+1 between 06:50 and 08:40 UTC, one in a hundred
//! 1–7 days later; a month's files on day 1–5 of the next month at 03:00. A scripted few files
//! are replaced or removed (with their sidecars) at scripted instants (`Vision::script`), and
//! `changes_between` says what a catalog should record between two crawls. A file's first
//! Last-Modified is when it appears.
//!
//! Where it overlaps the `realistic` corpus (USD-M daily 1m, 1h and 1d klines, monthly 1d), it
//! holds the same folders (all of realistic's at scale 1.0, a sample below), lives, sizes, ETags
//! and Last-Modified times, from realistic's own functions — so USD-M daily klines before
//! 2022-03-01 appear with realistic's bulk re-upload of 2022-03-21, and are never late.
//! Realistic's tail rule for delisted perpetuals is evaluated once (not at each `as_of`), so a
//! folder delisted less than 40 days before an `as_of` can differ from `realistic(as_of)`.

use std::borrow::Cow;
use std::collections::HashSet;
use std::iter::Peekable;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

use crate::corpus::{Corpus, Object, ObjectKind, hash, kline_size};
use crate::realistic;
use crate::s3::{Keys, Start, Subtree, both};

/// What a server serves: a sorted corpus, or the generated bucket as of an instant.
#[derive(Debug, Clone)]
pub enum Bucket {
    Corpus(Corpus),
    Vision(VisionAt),
}

impl Keys for Bucket {
    fn walk<'a>(
        &'a self,
        prefix: &str,
        start: Start,
    ) -> Box<dyn Iterator<Item = Cow<'a, Object>> + 'a> {
        match self {
            Bucket::Corpus(c) => c.walk(prefix, start),
            Bucket::Vision(v) => v.walk(prefix, start),
        }
    }

    fn get_object(&self, key: &str) -> Option<Cow<'_, Object>> {
        match self {
            Bucket::Corpus(c) => c.get_object(key),
            Bucket::Vision(v) => v.get_object(key),
        }
    }
}

/// The generated bucket as of `at`.
#[derive(Debug, Clone)]
pub struct VisionAt {
    pub model: Arc<Vision>,
    pub at: DateTime<Utc>,
}

/// A market of the bucket, and `data3/` (USD-M liquidation snapshots outside `data/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Market {
    Spot,
    Um,
    Cm,
    Option,
    Data3,
}

impl Market {
    /// The folder its datasets live under.
    pub fn root(self) -> &'static str {
        match self {
            Market::Spot => "data/spot/",
            Market::Um => "data/futures/um/",
            Market::Cm => "data/futures/cm/",
            Market::Option => "data/option/",
            Market::Data3 => "data3/",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Spot pairs, UM/CM perpetuals and settled folders.
    Perp,
    /// Dated delivery contracts (`_YYMMDD`).
    Delivery,
    /// CM index pairs (`BTCUSD`): only under indexPriceKlines.
    Pair,
    /// Option BVOL indices.
    Bvol,
    /// Option EOH summaries' underlyings.
    Eoh,
}

#[derive(Debug, Clone)]
struct Sym {
    name: String,
    market: Market,
    role: Role,
    first: NaiveDate,
    /// `None`: still listed.
    last: Option<NaiveDate>,
    gaps: Vec<(NaiveDate, NaiveDate)>,
    last_trade: Option<NaiveDate>,
    /// Futures: has daily 3d/1w/1mo kline folders.
    old: bool,
    /// UM and in data3/.
    data3: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Select {
    All,
    Perps,
    Pairs,
    Contracts,
    CmLiquidation,
    Bvol,
    Eoh,
    Data3,
}

/// One market × partition × type prefix.
#[derive(Debug, Clone)]
struct Dataset {
    prefix: String,
    monthly: bool,
    ty: &'static str,
    kline: bool,
    intervals: Vec<&'static str>,
    intervals_old: Vec<&'static str>,
    from: NaiveDate,
    until: Option<NaiveDate>,
    /// Symbol indices, sorted by `name/`.
    folders: Vec<usize>,
    /// USD-M klines: sizes and times from the realistic corpus's functions.
    um_klines: bool,
}

impl Dataset {
    fn intervals_of(&self, sym: &Sym) -> &[&'static str] {
        if !self.kline {
            &[""]
        } else if sym.old {
            &self.intervals_old
        } else {
            &self.intervals
        }
    }
}

/// A scripted event of the bucket's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The file (and its sidecar) is uploaded again at `at` with a new size.
    Replaced { at: DateTime<Utc>, size: u64 },
    /// The file and its sidecar are gone from `at` on.
    Removed { at: DateTime<Utc> },
    /// The file never gets a `.CHECKSUM`.
    NoSidecar,
    /// Only the `.CHECKSUM` is there: the file itself never appears (a stray).
    NoFile,
}

/// A file of the model with a scripted event; `key` is the `.zip`'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripted {
    pub key: String,
    pub event: Event,
}

/// A key outside the grammar a catalog knows, and the reason it should give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    pub key: String,
    pub reason: &'static str,
}

/// What a catalog should record between two crawls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Added,
    Replaced,
    Removed,
}

/// One key's difference between two instants: the object before (`None` when added) and after
/// (`None` when removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub kind: ChangeKind,
    pub before: Option<Object>,
    pub after: Option<Object>,
}

/// The whole bucket's model at one scale. Cheap to share (`Arc`); `at` gives it a clock.
#[derive(Debug)]
pub struct Vision {
    scale: f64,
    syms: Vec<Sym>,
    /// Sorted by prefix.
    datasets: Vec<Dataset>,
    /// Fixed keys outside the model, sorted by key.
    strays: Vec<(Object, &'static str)>,
    /// Sorted by key.
    script: Vec<Scripted>,
}

const SPOT_DAILY: [&str; 13] = [
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d",
];
const LONG: [&str; 3] = ["3d", "1w", "1mo"];

/// The end of every open life, far past any clock a test sets.
const OPEN: NaiveDate = match NaiveDate::from_ymd_opt(2100, 1, 1) {
    Some(d) => d,
    None => panic!("valid date"),
};

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(OPEN)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap_or_default()
}

/// splitmix64: spreads a hash's bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from a hash.
fn unit(h: u64) -> f64 {
    (mix(h) >> 11) as f64 / (1u64 << 53) as f64
}

fn sorted_intervals(list: impl IntoIterator<Item = &'static str>) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = list.into_iter().collect();
    v.sort_by_key(|i| format!("{i}/"));
    v
}

fn slash_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .chain(std::iter::once(b'/'))
        .cmp(b.bytes().chain(std::iter::once(b'/')))
}

fn is_dated(name: &str) -> bool {
    name.rsplit_once('_')
        .is_some_and(|(_, s)| s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// Period indices: days from the common era for daily files, `year * 12 + month - 1` for monthly.
fn day_index(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce())
}

fn index_day(i: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(i as i32).unwrap_or(OPEN)
}

fn month_index(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

fn index_month(i: i64) -> NaiveDate {
    ymd((i.div_euclid(12)) as i32, (i.rem_euclid(12) + 1) as u32, 1)
}

fn push_2(s: &mut String, n: u32) {
    s.push(char::from(b'0' + (n / 10 % 10) as u8));
    s.push(char::from(b'0' + (n % 10) as u8));
}

fn etag(a: u64, b: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 32];
    for (i, n) in [a, b].into_iter().enumerate() {
        for k in 0..16 {
            buf[i * 16 + k] = HEX[((n >> ((15 - k) * 4)) & 15) as usize];
        }
    }
    let mut s = String::with_capacity(32);
    s.push_str(std::str::from_utf8(&buf).unwrap_or_default());
    s
}

/// `hash(&format!("{name}{day}"))` without formatting.
fn name_day_hash(name: &str, day: NaiveDate) -> u64 {
    let mut date = String::with_capacity(10);
    push_2(&mut date, day.year() as u32 / 100);
    push_2(&mut date, day.year() as u32 % 100);
    date.push('-');
    push_2(&mut date, day.month());
    date.push('-');
    push_2(&mut date, day.day());
    date.bytes().fold(hash(name), |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// `upload_time(day, salt)` as Unix seconds, from the day's index, without chrono.
fn upload_secs(day: i64, salt: u64) -> i64 {
    const UNIX_DAY: i64 = 719_163;
    (day - UNIX_DAY + 1) * 86_400
        + (6 * 60 + 50 + (salt % 110) as i64) * 60
        + (salt / 110 % 60) as i64
}

/// A file's typical size, before a ±50 % spread.
fn base_size(ty: &str, interval: &str, monthly: bool) -> u64 {
    let daily = match (ty, interval) {
        ("klines" | "markPriceKlines" | "indexPriceKlines" | "premiumIndexKlines", iv) => {
            match iv {
                "1s" => 2_500_000,
                "1m" => 60_000,
                "3m" => 22_000,
                "5m" => 14_000,
                "15m" => 5_000,
                "30m" => 2_800,
                "1h" => 1_600,
                "2h" => 900,
                "4h" => 600,
                "6h" | "8h" => 500,
                "12h" => 400,
                _ => 300,
            }
        }
        ("aggTrades", _) => 3_000_000,
        ("trades", _) => 5_000_000,
        ("bookDepth", _) => 150_000,
        ("bookTicker", _) => 30_000_000,
        ("metrics", _) => 10_000,
        ("fundingRate", _) => 70,
        ("liquidationSnapshot", _) => 5_000,
        ("BVOLIndex", _) => 60_000,
        ("EOHSummary", _) => 200_000,
        _ => 1_000,
    };
    if monthly { daily * 30 } else { daily }
}

/// One leaf folder (a symbol's folder, or its interval folder) and its period window.
struct Leaf<'m> {
    ds: &'m Dataset,
    sym: &'m Sym,
    interval: &'static str,
    dir: String,
    stem: String,
    lo: i64,
    hi: i64,
    scripted: bool,
    /// `hash(dir)`: varies sizes and times of files outside USD-M klines without hashing each key.
    salt: u64,
}

/// Which version of a file to build.
#[derive(Debug, Clone, Copy)]
enum When {
    /// As the bucket shows it at this Unix second.
    At(i64),
    /// Its first version, whenever it appears, scripted events ignored.
    First,
}

impl Vision {
    /// The model at `scale` (1.0 = the real bucket's size; tests use 0.001–0.01). Named real
    /// folders are in it at every scale: spot and UM `BTCUSDT`, `ETHUSDT`, `币安人生USDT`, UM
    /// `BTCUSDT_240329` and `AERGOUSDTSETTLEDSETTLED`, CM `BTCUSD_PERP`, `BTCUSD_240628`,
    /// `ADAUSD_PERP_SETTLED`, spot `LUNAUSDT` (a relisting gap) and `ADABKRW`.
    pub fn new(scale: f64) -> Vision {
        let scale = scale.clamp(0.0, 1.0);
        let mut syms = Vec::new();
        spot_symbols(scale, &mut syms);
        um_symbols(scale, &mut syms);
        cm_symbols(scale, &mut syms);
        option_symbols(&mut syms);
        let datasets = datasets(&syms);
        let mut strays = strays();
        strays.sort_by(|a, b| a.0.key.cmp(&b.0.key));
        let mut script = script();
        script.sort_by(|a, b| a.key.cmp(&b.key));
        Vision {
            scale,
            syms,
            datasets,
            strays,
            script,
        }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The bucket as of `at`.
    pub fn at(self: &Arc<Self>, at: DateTime<Utc>) -> VisionAt {
        VisionAt {
            model: self.clone(),
            at,
        }
    }

    /// The scripted replacements, removals, missing sidecars and the sidecar without its file.
    pub fn script(&self) -> &[Scripted] {
        &self.script
    }

    /// Every key outside the grammar of `data/` a catalog must keep as a stray, with its reason,
    /// by key: the fixed ones and the sidecar without its file. Every key under `data3/` is a
    /// stray too (`stray_reason`), not listed here: walk `data3/` for them.
    pub fn strays(&self) -> Vec<Stray> {
        let mut v: Vec<Stray> = self
            .strays
            .iter()
            .map(|(o, reason)| Stray {
                key: o.key.clone(),
                reason,
            })
            .chain(
                self.script
                    .iter()
                    .filter(|s| s.event == Event::NoFile)
                    .map(|s| Stray {
                        key: format!("{}.CHECKSUM", s.key),
                        reason: REASON_SIDECAR,
                    }),
            )
            .collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }

    /// Why `key` is a stray, or `None` for a key of the grammar (or no key of the model).
    pub fn stray_reason(&self, key: &str) -> Option<&'static str> {
        if key.starts_with("data3/") {
            return Some(REASON_DATA3);
        }
        if let Ok(i) = self
            .strays
            .binary_search_by(|(o, _)| o.key.as_str().cmp(key))
        {
            return Some(self.strays[i].1);
        }
        let zip = key.strip_suffix(".CHECKSUM")?;
        self.scripted(zip)
            .filter(|s| s.event == Event::NoFile)
            .map(|_| REASON_SIDECAR)
    }

    fn scripted(&self, zip_key: &str) -> Option<&Scripted> {
        self.script
            .binary_search_by(|s| s.key.as_str().cmp(zip_key))
            .ok()
            .map(|i| &self.script[i])
    }

    /// The first version of `key` whenever it appears (its Last-Modified is when it appears),
    /// scripted replacements and removals ignored.
    pub fn first_version(&self, key: &str) -> Option<Object> {
        self.lookup(key, When::First)
    }

    /// Keys by dataset prefix (`data/spot/daily/klines/`, …, `data3/liquidationSnapshot/`) as of
    /// `at`, counted from the lives without building keys: files and sidecars, late files and
    /// scripted events ignored. For sizing a benchmark.
    pub fn census(&self, at: DateTime<Utc>) -> Vec<(String, u64)> {
        let today = at.date_naive();
        self.datasets
            .iter()
            .map(|d| {
                let mut n = 0u64;
                for &s in &d.folders {
                    let sym = &self.syms[s];
                    for iv in d.intervals_of(sym) {
                        if let Some((lo, hi)) = self.window(d, sym, iv, today) {
                            let mut k = (hi - lo + 1) as u64;
                            if !d.monthly {
                                for (a, b) in &sym.gaps {
                                    let a = day_index(*a).max(lo);
                                    let b = day_index(*b).min(hi);
                                    if a <= b {
                                        k -= (b - a + 1) as u64;
                                    }
                                }
                            }
                            n += 2 * k;
                        }
                    }
                }
                (d.prefix.clone(), n)
            })
            .collect()
    }

    /// The period window of a leaf as of the day `today`: a day's files exist from the next
    /// day on, a month's from the next month on.
    fn window(
        &self,
        d: &Dataset,
        sym: &Sym,
        interval: &str,
        today: NaiveDate,
    ) -> Option<(i64, i64)> {
        let mut from = sym.first.max(d.from);
        if interval == "1s" {
            from = from.max(ymd(2022, 8, 1));
        }
        let until = sym
            .last
            .unwrap_or(OPEN)
            .min(d.until.unwrap_or(OPEN))
            .min(today.pred_opt()?);
        if from > until {
            return None;
        }
        let (lo, hi) = if d.monthly {
            let hi = month_index(until).min(month_index(today) - 1);
            (month_index(from), hi)
        } else {
            (day_index(from), day_index(until))
        };
        (lo <= hi).then_some((lo, hi))
    }

    fn leaf<'m>(
        &'m self,
        d: &'m Dataset,
        s: usize,
        interval: &'static str,
        today: NaiveDate,
    ) -> Option<Leaf<'m>> {
        let sym = &self.syms[s];
        let (lo, hi) = self.window(d, sym, interval, today)?;
        let mut dir = String::with_capacity(d.prefix.len() + sym.name.len() + 8);
        dir.push_str(&d.prefix);
        dir.push_str(&sym.name);
        dir.push('/');
        if !interval.is_empty() {
            dir.push_str(interval);
            dir.push('/');
        }
        let stem = format!(
            "{}-{}-",
            sym.name,
            if interval.is_empty() { d.ty } else { interval }
        );
        let from = self
            .script
            .partition_point(|x| x.key.as_str() < dir.as_str());
        let scripted = self
            .script
            .get(from)
            .is_some_and(|x| x.key.starts_with(&dir));
        Some(Leaf {
            ds: d,
            sym,
            interval,
            salt: hash(&dir),
            dir,
            stem,
            lo,
            hi,
            scripted,
        })
    }

    fn zip_key(leaf: &Leaf, p: i64) -> String {
        let mut key = String::with_capacity(leaf.dir.len() + leaf.stem.len() + 24);
        key.push_str(&leaf.dir);
        key.push_str(&leaf.stem);
        if leaf.ds.monthly {
            let m = index_month(p);
            push_2(&mut key, m.year() as u32 / 100);
            push_2(&mut key, m.year() as u32 % 100);
            key.push('-');
            push_2(&mut key, m.month());
        } else {
            let d = index_day(p);
            push_2(&mut key, d.year() as u32 / 100);
            push_2(&mut key, d.year() as u32 % 100);
            key.push('-');
            push_2(&mut key, d.month());
            key.push('-');
            push_2(&mut key, d.day());
        }
        key.push_str(".zip");
        key
    }

    /// A period's file and sidecar as `when` shows them (either may be absent).
    fn period(&self, leaf: &Leaf, p: i64, when: When) -> [Option<Object>; 2] {
        let sym = leaf.sym;
        let in_gap = |d: NaiveDate| sym.gaps.iter().any(|(a, b)| *a <= d && d <= *b);
        let monthly = leaf.ds.monthly;
        let first_day = if monthly {
            index_month(p)
        } else {
            index_day(p)
        };
        if !sym.gaps.is_empty() {
            let lived = if monthly {
                first_day
                    .iter_days()
                    .take_while(|d| d.month() == first_day.month())
                    .any(|d| !in_gap(d))
            } else {
                !in_gap(first_day)
            };
            if !lived {
                return [None, None];
            }
        }
        let key = Self::zip_key(leaf, p);
        // The realistic corpus's keys (USD-M daily 1m, 1h and 1d klines, monthly 1d) hash the
        // key as `push_file` does, for its ETags; the rest mix the leaf's hash with the period,
        // a tenth of the time.
        let realistic_key = leaf.ds.um_klines
            && matches!(
                (leaf.ds.monthly, leaf.interval),
                (false, "1m" | "1h" | "1d") | (true, "1d")
            );
        let h = if realistic_key {
            hash(&key)
        } else {
            mix(leaf.salt ^ (p as u64).wrapping_mul(0x9e37_79b9))
        };
        let interval = leaf.interval;
        let mut kind = ObjectKind::Other;
        let (mut size, mut lm) = if monthly {
            let last = index_month(p + 1).pred_opt().unwrap_or(first_day);
            let appears =
                last + Duration::days(1 + (name_day_hash(&sym.name, first_day) % 5) as i64);
            let lm = Utc
                .from_utc_datetime(&appears.and_hms_opt(3, 0, 0).unwrap_or_default())
                .timestamp();
            let size = if leaf.ds.um_klines && interval == "1d" {
                let mut days = 0u32;
                for d in first_day
                    .iter_days()
                    .take_while(|d| d.month() == first_day.month())
                {
                    let alive = d >= sym.first && d <= sym.last.unwrap_or(OPEN) && !in_gap(d);
                    if alive {
                        days |= 1 << (d.day() - 1);
                    }
                }
                kind = ObjectKind::Monthly1d {
                    first: first_day,
                    days,
                    last_trade: sym.last_trade,
                };
                kline_size(&key, kind)
            } else {
                let base = base_size(leaf.ds.ty, interval, true);
                base / 2 + h % base
            };
            (size, lm)
        } else if leaf.ds.um_klines {
            let salt = name_day_hash(&sym.name, first_day);
            let lm = if first_day < ymd(2022, 3, 1) {
                // realistic::uploaded: the bulk re-upload of 2022-03-21, without chrono.
                1_647_853_082 + (salt % 600) as i64
            } else {
                upload_secs(p, salt)
            };
            let m1 = 50_000 + salt % 14_000;
            let size = match interval {
                "1m" => {
                    kind = ObjectKind::Daily1m { date: first_day };
                    m1
                }
                "1h" => m1 / 40,
                "1d" => {
                    kind = ObjectKind::Daily1d {
                        date: first_day,
                        last_trade: sym.last_trade,
                    };
                    kline_size(&key, kind)
                }
                iv => {
                    let base = base_size("klines", iv, false);
                    base / 2 + salt % base
                }
            };
            (size, lm)
        } else {
            let mut lm = upload_secs(p, h >> 3);
            if (h >> 40) % 100 == 0 {
                lm += 86_400 * (1 + ((h >> 48) % 7) as i64);
            }
            let base = base_size(leaf.ds.ty, interval, false);
            (base / 2 + h % base, lm)
        };
        let at = match when {
            When::At(t) => t,
            When::First => i64::MAX,
        };
        if lm > at {
            return [None, None];
        }
        let (mut sidecar, mut file) = (true, true);
        if leaf.scripted
            && let Some(s) = self.scripted(&key)
        {
            match (&s.event, when) {
                (Event::NoSidecar, _) => sidecar = false,
                (Event::NoFile, _) => file = false,
                (Event::Removed { at: r }, When::At(t)) if r.timestamp() <= t => {
                    return [None, None];
                }
                (Event::Replaced { at: r, size: new }, When::At(t)) if r.timestamp() <= t => {
                    size = *new;
                    lm = r.timestamp();
                }
                _ => {}
            }
        }
        let last_modified = DateTime::from_timestamp(lm, 0).unwrap_or_default();
        let hh = h ^ size;
        let name_len = key.len() - leaf.dir.len();
        let sum = sidecar.then(|| Object {
            key: {
                let mut k = String::with_capacity(key.len() + 9);
                k.push_str(&key);
                k.push_str(".CHECKSUM");
                k
            },
            size: (64 + 2 + name_len) as u64,
            last_modified,
            etag: etag(hh.rotate_left(7), hh),
            kind: ObjectKind::Other,
        });
        let zip = file.then(|| Object {
            etag: etag(hh, hh.rotate_left(13)),
            key,
            size,
            last_modified,
            kind,
        });
        [zip, sum]
    }

    /// A key of the model as `when` shows it: a stray, or a file or sidecar parsed back into the
    /// model (and built again, so only the model's exact spelling is found).
    fn lookup(&self, key: &str, when: When) -> Option<Object> {
        let at = match when {
            When::At(t) => t,
            When::First => i64::MAX,
        };
        if let Ok(i) = self
            .strays
            .binary_search_by(|(o, _)| o.key.as_str().cmp(key))
        {
            let o = &self.strays[i].0;
            return (o.last_modified.timestamp() <= at).then(|| o.clone());
        }
        let i = self
            .datasets
            .partition_point(|d| d.prefix.as_str() <= key)
            .checked_sub(1)?;
        let d = &self.datasets[i];
        let rest = key.strip_prefix(d.prefix.as_str())?;
        let (folder, rest) = rest.split_once('/')?;
        let f = d
            .folders
            .binary_search_by(|&s| slash_cmp(&self.syms[s].name, folder))
            .ok()?;
        let s = d.folders[f];
        let (interval, name) = if d.kline {
            let (iv, name) = rest.split_once('/')?;
            let iv = *d.intervals_of(&self.syms[s]).iter().find(|i| **i == iv)?;
            (iv, name)
        } else {
            ("", rest)
        };
        let (zip_name, part) = match name.strip_suffix(".CHECKSUM") {
            Some(z) => (z, 1),
            None => (name, 0),
        };
        let today = match when {
            When::At(t) => DateTime::from_timestamp(t, 0)?.date_naive(),
            When::First => OPEN,
        };
        let leaf = self.leaf(d, s, interval, today)?;
        let period = zip_name
            .strip_prefix(leaf.stem.as_str())?
            .strip_suffix(".zip")?;
        let p = if d.monthly {
            month_index(NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").ok()?)
        } else {
            day_index(NaiveDate::parse_from_str(period, "%Y-%m-%d").ok()?)
        };
        if p < leaf.lo || p > leaf.hi {
            return None;
        }
        let [zip, sum] = self.period(&leaf, p, when);
        let o = if part == 0 { zip } else { sum }?;
        (o.key == key).then_some(o)
    }

    /// What changed under `prefix` between `t0` and `t1` (`t0 < t1`), by key: what a catalog
    /// should record between a crawl at `t0` and one at `t1` (a key added and removed in
    /// between is not seen). Only the periods that can change are looked at — days from ten
    /// days before `t0` on, months from two before, realistic's bulk re-upload when the window
    /// holds it, scripted files, strays — so a day of the full-size bucket takes seconds.
    pub fn changes_between_in(
        self: &Arc<Self>,
        prefix: &str,
        t0: DateTime<Utc>,
        t1: DateTime<Utc>,
    ) -> Vec<Change> {
        if t0 >= t1 {
            return self.diff_by_walking_in(prefix, t0, t1);
        }
        let (a, b) = (t0.timestamp(), t1.timestamp());
        let mut out: Vec<Change> = self
            .strays
            .iter()
            .filter(|(o, _)| o.key.starts_with(prefix))
            .filter(|(o, _)| o.last_modified > t0 && o.last_modified <= t1)
            .map(|(o, _)| Change {
                key: o.key.clone(),
                kind: ChangeKind::Added,
                before: None,
                after: Some(o.clone()),
            })
            .collect();
        const BULK: (i64, i64) = (1_647_853_082, 1_647_853_082 + 600);
        let today = t1.date_naive();
        let since = t0.date_naive();
        for d in &self.datasets {
            if !d.prefix.starts_with(prefix) && !prefix.starts_with(d.prefix.as_str()) {
                continue;
            }
            for &s in &d.folders {
                for &iv in d.intervals_of(&self.syms[s]) {
                    let Some(leaf) = self.leaf(d, s, iv, today) else {
                        continue;
                    };
                    if !leaf.dir.starts_with(prefix) && !prefix.starts_with(leaf.dir.as_str()) {
                        continue;
                    }
                    let mut periods: Vec<i64> = Vec::new();
                    let recent = if d.monthly {
                        month_index(since) - 2
                    } else {
                        day_index(since) - 10
                    };
                    periods.extend(recent.max(leaf.lo)..=leaf.hi);
                    if d.um_klines && !d.monthly && a < BULK.1 && b >= BULK.0 {
                        let last = day_index(ymd(2022, 2, 28)).min(leaf.hi);
                        periods.extend(leaf.lo..=last);
                    }
                    if leaf.scripted {
                        for x in self.script.iter().filter(|x| x.key.starts_with(&leaf.dir)) {
                            if let Some(p) = self.parse_period(&leaf, &x.key) {
                                periods.push(p);
                            }
                        }
                    }
                    periods.sort_unstable();
                    periods.dedup();
                    for p in periods {
                        let before = self.period(&leaf, p, When::At(a));
                        let after = self.period(&leaf, p, When::At(b));
                        for (x, y) in before.into_iter().zip(after) {
                            if let Some(c) = change(x, y)
                                && c.key.starts_with(prefix)
                            {
                                out.push(c);
                            }
                        }
                    }
                }
            }
        }
        out.sort_by(|x, y| x.key.cmp(&y.key));
        out
    }

    /// A file key's period index in `leaf`, if it is one of the leaf's.
    fn parse_period(&self, leaf: &Leaf, key: &str) -> Option<i64> {
        let period = key
            .strip_prefix(leaf.dir.as_str())?
            .strip_prefix(leaf.stem.as_str())?
            .strip_suffix(".zip")?;
        Some(if leaf.ds.monthly {
            month_index(NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").ok()?)
        } else {
            day_index(NaiveDate::parse_from_str(period, "%Y-%m-%d").ok()?)
        })
    }

    /// `changes_between_in` by walking the whole of `prefix` at both instants and comparing:
    /// slow (the full-size bucket twice), simple, the oracle for the fast one.
    pub fn diff_by_walking_in(
        self: &Arc<Self>,
        prefix: &str,
        t0: DateTime<Utc>,
        t1: DateTime<Utc>,
    ) -> Vec<Change> {
        let (a, b) = (self.at(t0), self.at(t1));
        let mut before = a.walk(prefix, Start::At(prefix)).peekable();
        let mut after = b.walk(prefix, Start::At(prefix)).peekable();
        let mut out = Vec::new();
        loop {
            let order = match (before.peek(), after.peek()) {
                (None, None) => break,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => x.key.cmp(&y.key),
            };
            match order {
                std::cmp::Ordering::Less => {
                    let Some(x) = before.next() else { break };
                    out.push(Change {
                        key: x.key.clone(),
                        kind: ChangeKind::Removed,
                        before: Some(x.into_owned()),
                        after: None,
                    });
                }
                std::cmp::Ordering::Greater => {
                    let Some(y) = after.next() else { break };
                    out.push(Change {
                        key: y.key.clone(),
                        kind: ChangeKind::Added,
                        before: None,
                        after: Some(y.into_owned()),
                    });
                }
                std::cmp::Ordering::Equal => {
                    let (Some(x), Some(y)) = (before.next(), after.next()) else {
                        break;
                    };
                    if x.size != y.size || x.last_modified != y.last_modified || x.etag != y.etag {
                        out.push(Change {
                            key: y.key.clone(),
                            kind: ChangeKind::Replaced,
                            before: Some(x.into_owned()),
                            after: Some(y.into_owned()),
                        });
                    }
                }
            }
        }
        out
    }

    /// `changes_between_in` over the whole bucket.
    pub fn changes_between(self: &Arc<Self>, t0: DateTime<Utc>, t1: DateTime<Utc>) -> Vec<Change> {
        self.changes_between_in("", t0, t1)
    }

    /// Every key under `prefix` as of `at`, built leaf by leaf in the model's own order (symbol
    /// by symbol, not the listing's) and then sorted: the oracle the listing is checked against.
    /// Small scales or narrow prefixes only: it holds every object.
    pub fn materialise(&self, prefix: &str, at: DateTime<Utc>) -> Vec<Object> {
        let t = at.timestamp();
        let today = at.date_naive();
        let mut out: Vec<Object> = self
            .strays
            .iter()
            .filter(|(o, _)| o.last_modified <= at && o.key.starts_with(prefix))
            .map(|(o, _)| o.clone())
            .collect();
        for (s, sym) in self.syms.iter().enumerate() {
            for d in &self.datasets {
                if !d.folders.contains(&s) {
                    continue;
                }
                for &iv in d.intervals_of(sym) {
                    let Some(leaf) = self.leaf(d, s, iv, today) else {
                        continue;
                    };
                    if !leaf.dir.starts_with(prefix) && !prefix.starts_with(&leaf.dir) {
                        continue;
                    }
                    for p in leaf.lo..=leaf.hi {
                        out.extend(
                            self.period(&leaf, p, When::At(t))
                                .into_iter()
                                .flatten()
                                .filter(|o| o.key.starts_with(prefix)),
                        );
                    }
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

impl VisionAt {
    /// The object under `key` now, if there is one.
    pub fn get(&self, key: &str) -> Option<Object> {
        self.model.lookup(key, When::At(self.at.timestamp()))
    }
}

impl Keys for VisionAt {
    fn walk<'a>(
        &'a self,
        prefix: &str,
        start: Start,
    ) -> Box<dyn Iterator<Item = Cow<'a, Object>> + 'a> {
        let at = self.at.timestamp();
        let m = &*self.model;
        let strays = {
            let from = m
                .strays
                .partition_point(|(o, _)| o.key.as_str() < prefix || start.excludes(&o.key));
            m.strays[from..]
                .iter()
                .map(|(o, _)| o)
                .filter(move |o| o.last_modified.timestamp() <= at)
                .cloned()
        };
        let mut generated = Gen {
            m,
            at,
            today: self.at.date_naive(),
            prefix: prefix.to_string(),
            start: own(start),
            ds: 0,
            f: 0,
            iv: 0,
            leaf: None,
            p: 0,
            pending: None,
        };
        generated.seek();
        let prefix = prefix.to_string();
        Box::new(
            Merge {
                a: generated.peekable(),
                b: strays.peekable(),
            }
            .take_while(move |o| o.key.starts_with(&prefix))
            .map(Cow::Owned),
        )
    }

    fn get_object(&self, key: &str) -> Option<Cow<'_, Object>> {
        self.get(key).map(Cow::Owned)
    }
}

/// The change from `x` to `y` of one key, if any.
fn change(x: Option<Object>, y: Option<Object>) -> Option<Change> {
    match (x, y) {
        (None, None) => None,
        (None, Some(y)) => Some(Change {
            key: y.key.clone(),
            kind: ChangeKind::Added,
            before: None,
            after: Some(y),
        }),
        (Some(x), None) => Some(Change {
            key: x.key.clone(),
            kind: ChangeKind::Removed,
            before: Some(x),
            after: None,
        }),
        (Some(x), Some(y)) => (x.size != y.size
            || x.last_modified != y.last_modified
            || x.etag != y.etag)
            .then(|| Change {
                key: y.key.clone(),
                kind: ChangeKind::Replaced,
                before: Some(x),
                after: Some(y),
            }),
    }
}

/// An owned `Start`, for iterators that outlive the request's strings.
#[derive(Debug, Clone)]
enum OwnedStart {
    At(String),
    After(String),
    Past(String),
}

fn own(s: Start) -> OwnedStart {
    match s {
        Start::At(x) => OwnedStart::At(x.to_string()),
        Start::After(x) => OwnedStart::After(x.to_string()),
        Start::Past(x) => OwnedStart::Past(x.to_string()),
    }
}

impl OwnedStart {
    fn get(&self) -> Start<'_> {
        match self {
            OwnedStart::At(x) => Start::At(x),
            OwnedStart::After(x) => Start::After(x),
            OwnedStart::Past(x) => Start::Past(x),
        }
    }
}

/// Two sorted streams of objects as one.
struct Merge<A: Iterator<Item = Object>, B: Iterator<Item = Object>> {
    a: Peekable<A>,
    b: Peekable<B>,
}

impl<A: Iterator<Item = Object>, B: Iterator<Item = Object>> Iterator for Merge<A, B> {
    type Item = Object;

    fn next(&mut self) -> Option<Object> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if y.key < x.key => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

/// The generated keys from a start, in byte order: datasets, folders, intervals and periods
/// are each in byte order of their `name/`, so walking them depth first is walking the keys.
struct Gen<'m> {
    m: &'m Vision,
    at: i64,
    today: NaiveDate,
    prefix: String,
    start: OwnedStart,
    ds: usize,
    f: usize,
    iv: usize,
    leaf: Option<Leaf<'m>>,
    p: i64,
    pending: Option<Object>,
}

impl Gen<'_> {
    /// Where the walk starts: the first dataset, folder, interval and period not wholly before
    /// both the prefix and the start, each found by binary search.
    fn seek(&mut self) {
        let (prefix, start) = (self.prefix.as_str(), self.start.get());
        let cls = |s: &str| both(Start::At(prefix), start, s);
        let m = self.m;
        let dss = &m.datasets;
        let i = dss.partition_point(|d| cls(&d.prefix) == Subtree::Skip);
        (self.ds, self.f, self.iv) = (i, 0, 0);
        let Some(d) = dss.get(i) else { return };
        if cls(&d.prefix) == Subtree::Take {
            return;
        }
        let folder = |s: usize| format!("{}{}/", d.prefix, m.syms[s].name);
        let f = d
            .folders
            .partition_point(|&s| cls(&folder(s)) == Subtree::Skip);
        self.f = f;
        let Some(&s) = d.folders.get(f) else { return };
        if cls(&folder(s)) == Subtree::Take {
            return;
        }
        let ivs = d.intervals_of(&m.syms[s]);
        let k = if d.kline {
            let k = ivs.partition_point(|iv| cls(&format!("{}{iv}/", folder(s))) == Subtree::Skip);
            match ivs.get(k) {
                None => {
                    self.iv = k;
                    return;
                }
                Some(iv) if cls(&format!("{}{iv}/", folder(s))) == Subtree::Take => {
                    self.iv = k;
                    return;
                }
                Some(_) => k,
            }
        } else {
            0
        };
        self.iv = k;
        let Some(leaf) = m.leaf(d, s, ivs[k], self.today) else {
            self.iv += 1;
            return;
        };
        // Periods: the first whose file is not before the start (its sidecar is filtered in
        // `next` with every other key).
        let (mut lo, mut hi) = (leaf.lo, leaf.hi + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if cls(&Vision::zip_key(&leaf, mid)) == Subtree::Skip {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.p = lo;
        self.leaf = Some(leaf);
    }

    fn next_raw(&mut self) -> Option<Object> {
        let m = self.m;
        loop {
            if let Some(o) = self.pending.take() {
                return Some(o);
            }
            if let Some(leaf) = &self.leaf {
                if self.p <= leaf.hi {
                    let p = self.p;
                    self.p += 1;
                    let [zip, sum] = m.period(leaf, p, When::At(self.at));
                    self.pending = sum;
                    if zip.is_some() {
                        return zip;
                    }
                    continue;
                }
                self.leaf = None;
                self.iv += 1;
                continue;
            }
            let d = m.datasets.get(self.ds)?;
            if !d.prefix.starts_with(&self.prefix) && !self.prefix.starts_with(&d.prefix) {
                if d.prefix > self.prefix {
                    return None;
                }
                (self.ds, self.f, self.iv) = (self.ds + 1, 0, 0);
                continue;
            }
            let Some(&s) = d.folders.get(self.f) else {
                (self.ds, self.f, self.iv) = (self.ds + 1, 0, 0);
                continue;
            };
            let ivs = d.intervals_of(&m.syms[s]);
            let Some(&iv) = ivs.get(self.iv) else {
                (self.f, self.iv) = (self.f + 1, 0);
                continue;
            };
            match m.leaf(d, s, iv, self.today) {
                Some(leaf) => {
                    self.p = leaf.lo;
                    self.leaf = Some(leaf);
                }
                None => self.iv += 1,
            }
        }
    }
}

impl Iterator for Gen<'_> {
    type Item = Object;

    fn next(&mut self) -> Option<Object> {
        loop {
            let o = self.next_raw()?;
            if !self.start.get().excludes(&o.key) && o.key.as_str() >= self.prefix.as_str() {
                return Some(o);
            }
        }
    }
}

const REASON_DATA3: &str = "outside data/: data3/ holds USD-M liquidation snapshots";
const REASON_SIDECAR: &str = "sidecar without file";

fn strays() -> Vec<(Object, &'static str)> {
    // The realistic corpus's strays, with its values, so the two agree where they overlap.
    let realistic_time = Utc
        .timestamp_opt(1_647_853_082, 0)
        .single()
        .unwrap_or_default();
    let um = "data/futures/um/daily/klines/";
    let fixed: Vec<(String, u64, DateTime<Utc>, &'static str)> = vec![
        (
            "index.html".into(),
            10_846,
            utc(2021, 4, 8, 10, 2),
            "outside data/: the listing page",
        ),
        (
            "list.css".into(),
            1_310,
            utc(2021, 4, 8, 10, 2),
            "outside data/: the listing page",
        ),
        (
            "list.js".into(),
            7_402,
            utc(2021, 4, 8, 10, 2),
            "outside data/: the listing page",
        ),
        (
            "data2/.DS_Store".into(),
            6_148,
            utc(2020, 12, 3, 9, 15),
            "outside data/: data2/ staging area",
        ),
        (
            "data2/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-10-01.csv".into(),
            118_022,
            utc(2020, 10, 2, 8, 1),
            "outside data/: data2/ staging area",
        ),
        (
            "data2/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-10-01.zip".into(),
            52_114,
            utc(2020, 10, 2, 8, 1),
            "outside data/: data2/ staging area",
        ),
        (
            "/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2020-12.zip".into(),
            1_905_331,
            utc(2021, 1, 3, 2, 44),
            "key begins with /",
        ),
        (
            "/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2020-12.zip.CHECKSUM".into(),
            94,
            utc(2021, 1, 3, 2, 44),
            "key begins with /",
        ),
        (
            "/data/spot/monthly/klines/ETHUSDT/1d/ETHUSDT-1d-2019-05.zip".into(),
            1_610,
            utc(2021, 1, 3, 2, 47),
            "key begins with /",
        ),
        (
            "data/spot/monthly/aggTrades/BTCUSDT/part-00000-3f2b5c1e-7d7a-4c4e-9a51-7b0c1d2e3f40-c000.zip"
                .into(),
            48_211_903,
            utc(2021, 3, 2, 4, 10),
            "Spark part file, not a period",
        ),
        (
            "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-8.zip".into(),
            1_204,
            utc(2020, 9, 3, 3, 0),
            "unpadded month",
        ),
    ];
    let mut v: Vec<(Object, &'static str)> = fixed
        .into_iter()
        .map(|(key, size, last_modified, reason)| {
            let h = hash(&key) ^ size;
            (
                Object {
                    etag: etag(h, h.rotate_left(13)),
                    key,
                    size,
                    last_modified,
                    kind: ObjectKind::Other,
                },
                reason,
            )
        })
        .collect();
    for (key, reason) in [
        (format!("{um}/"), "empty folder name"),
        (format!("{um}BTCUSDT//"), "empty folder name"),
        (
            format!("{um}BTCUSDT/1m/BTCUSDT-1m-2020-01-01.zip.tmp"),
            "neither a .zip nor a .CHECKSUM",
        ),
        (
            format!("{um}ETHUSDT/1m/BTCUSDT-1m-2021-01-01.zip"),
            "file name does not match its folder",
        ),
    ] {
        v.push((
            Object {
                etag: format!("{:032x}", hash(&key)),
                key,
                size: 0,
                last_modified: realistic_time,
                kind: ObjectKind::Other,
            },
            reason,
        ));
    }
    v
}

fn script() -> Vec<Scripted> {
    let replaced = |key: &str, at: DateTime<Utc>, size: u64| Scripted {
        key: key.to_string(),
        event: Event::Replaced { at, size },
    };
    let removed = |key: &str, at: DateTime<Utc>| Scripted {
        key: key.to_string(),
        event: Event::Removed { at },
    };
    let event = |key: &str, event: Event| Scripted {
        key: key.to_string(),
        event,
    };
    vec![
        // Part of a 2022 batch of spot monthly aggTrades replaced in place.
        replaced(
            "data/spot/monthly/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2022-01.zip",
            utc(2022, 11, 15, 10, 0),
            91_000_123,
        ),
        replaced(
            "data/spot/monthly/aggTrades/ETHUSDT/ETHUSDT-aggTrades-2022-02.zip",
            utc(2022, 11, 15, 10, 1),
            77_000_456,
        ),
        // Wrong 1s files re-uploaded.
        replaced(
            "data/spot/daily/klines/BTCUSDT/1s/BTCUSDT-1s-2023-03-05.zip",
            utc(2024, 2, 1, 12, 0),
            2_950_001,
        ),
        replaced(
            "data/futures/um/daily/trades/ETHUSDT/ETHUSDT-trades-2026-11-01.zip",
            utc(2026, 11, 20, 15, 0),
            5_500_002,
        ),
        replaced(
            "data/futures/cm/daily/klines/BTCUSD_PERP/1h/BTCUSD_PERP-1h-2026-10-10.zip",
            utc(2026, 11, 20, 15, 30),
            1_700,
        ),
        replaced(
            "data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2026-09.zip",
            utc(2026, 11, 21, 4, 0),
            1_950_003,
        ),
        removed(
            "data/futures/cm/daily/liquidationSnapshot/BTCUSD_PERP/BTCUSD_PERP-liquidationSnapshot-2024-01-10.zip",
            utc(2024, 11, 1, 0, 0),
        ),
        removed(
            "data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2024-01-10.zip",
            utc(2025, 3, 1, 0, 0),
        ),
        removed(
            "data/spot/daily/trades/ETHUSDT/ETHUSDT-trades-2026-10-05.zip",
            utc(2026, 11, 25, 9, 30),
        ),
        // Missing CHECKSUMs (binance-public-data #469: five monthly spot ones).
        event(
            "data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2022-10.zip",
            Event::NoSidecar,
        ),
        event(
            "data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2022-12.zip",
            Event::NoSidecar,
        ),
        event(
            "data/spot/monthly/klines/ETHUSDT/1m/ETHUSDT-1m-2022-10.zip",
            Event::NoSidecar,
        ),
        event(
            "data/spot/monthly/klines/ETHUSDT/1m/ETHUSDT-1m-2022-12.zip",
            Event::NoSidecar,
        ),
        event(
            "data/spot/monthly/trades/BTCUSDT/BTCUSDT-trades-2022-10.zip",
            Event::NoSidecar,
        ),
        event(
            "data/spot/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2021-05-19.zip",
            Event::NoFile,
        ),
    ]
}

/// Spot: ~3,600 folders at scale 1.0, sampled below it, and the named ones at every scale.
fn spot_symbols(scale: f64, syms: &mut Vec<Sym>) {
    let start = ymd(2017, 8, 17);
    let spot = |name: &str, first: NaiveDate, last: Option<NaiveDate>| Sym {
        name: name.to_string(),
        market: Market::Spot,
        role: Role::Perp,
        first,
        last,
        gaps: Vec::new(),
        last_trade: None,
        old: false,
        data3: false,
    };
    let mut named = vec![
        spot("BTCUSDT", start, None),
        spot("ETHUSDT", start, None),
        spot("BNBBTC", ymd(2017, 11, 6), None),
        spot("币安人生USDT", ymd(2025, 10, 8), None),
        spot("ADABKRW", ymd(2020, 7, 1), Some(ymd(2020, 11, 30))),
        spot("BTCUPUSDT", ymd(2020, 5, 14), Some(ymd(2022, 3, 10))),
        spot("LUNAUSDT", ymd(2020, 8, 21), None),
    ];
    named[6].gaps.push((ymd(2022, 5, 14), ymd(2022, 5, 30)));
    let mut seen: HashSet<String> = named.iter().map(|s| s.name.clone()).collect();
    syms.extend(named);
    const QUOTES: [(&str, u64); 12] = [
        ("USDT", 40),
        ("BTC", 18),
        ("BUSD", 12),
        ("ETH", 7),
        ("BNB", 7),
        ("USDC", 5),
        ("FDUSD", 3),
        ("TRY", 3),
        ("EUR", 2),
        ("TUSD", 1),
        ("BRL", 1),
        ("JPY", 1),
    ];
    let total: u64 = QUOTES.iter().map(|q| q.1).sum();
    let span = (ymd(2026, 11, 30) - start).num_days() as f64;
    for i in 0..3_600u64 {
        let h = mix(i ^ 0x5907);
        let len = 3 + (h % 4) as usize;
        let base: String = (0..len)
            .map(|k| char::from(b'A' + (mix(h.wrapping_add(k as u64)) % 26) as u8))
            .collect();
        let mut pick = (h >> 32) % total;
        let quote = QUOTES
            .iter()
            .find(|q| {
                if pick < q.1 {
                    true
                } else {
                    pick -= q.1;
                    false
                }
            })
            .map_or("USDT", |q| q.0);
        let name = format!("{base}{quote}");
        if !seen.insert(name.clone()) || unit(hash(&name) ^ 0x5ca1e) >= scale {
            continue;
        }
        // Listings come faster in later years; two in five are delisted after a while.
        let first = start + Duration::days((span * unit(h ^ 1).powf(0.55)) as i64);
        let last = (unit(h ^ 2) < 0.4)
            .then(|| first + Duration::days(30 + (mix(h ^ 3) % 1_200) as i64))
            .filter(|l| *l < ymd(2026, 11, 30));
        let mut sym = spot(&name, first, last);
        if h % 8 == 3 {
            let life = (last.unwrap_or(ymd(2026, 11, 30)) - first)
                .num_days()
                .max(2);
            let a = first + Duration::days(1 + (mix(h ^ 4) % life as u64) as i64);
            sym.gaps
                .push((a, a + Duration::days((mix(h ^ 5) % 5) as i64)));
        }
        syms.push(sym);
    }
}

/// USD-M: realistic's ~1,000 folders with realistic's lives at scale 1.0, a sample below it.
fn um_symbols(scale: f64, syms: &mut Vec<Sym>) {
    const NAMED: [&str; 6] = [
        "BTCUSDT",
        "ETHUSDT",
        "BTCUSDT_240329",
        "AERGOUSDTSETTLEDSETTLED",
        "币安人生USDT",
        "BNXUSDT",
    ];
    for life in realistic::lives(OPEN) {
        let named = NAMED.contains(&life.name.as_str());
        let h = hash(&life.name);
        if !named && unit(h ^ 0x5ca1e) >= scale {
            continue;
        }
        let dated = is_dated(&life.name);
        syms.push(Sym {
            market: Market::Um,
            role: if dated { Role::Delivery } else { Role::Perp },
            first: life.first,
            last: (life.last < OPEN - Duration::days(1)).then_some(life.last),
            gaps: life.gaps,
            last_trade: life.last_trade,
            old: life.name == "BTCUSDT"
                || (life.first < ymd(2022, 1, 1) && mix(h ^ 0x01d) % 100 < 40),
            data3: !dated && (life.name == "BTCUSDT" || mix(h ^ 0xda7a3).is_multiple_of(3)),
            name: life.name,
        });
    }
}

/// The last Friday of a month.
fn last_friday(y: i32, m: u32) -> NaiveDate {
    let mut d = index_month(i64::from(y) * 12 + i64::from(m)) - Duration::days(1);
    while d.weekday() != chrono::Weekday::Fri {
        d -= Duration::days(1);
    }
    d
}

/// COIN-M: ~40 perpetuals and quarterlies of 9 bases (~270 folders at scale 1.0), the pairs
/// their index prices are filed under, and the named ones at every scale.
fn cm_symbols(scale: f64, syms: &mut Vec<Sym>) {
    const BASES: [&str; 40] = [
        "BTC", "ETH", "BNB", "ADA", "DOT", "LINK", "XRP", "LTC", "BCH", "EOS", "ETC", "FIL", "TRX",
        "DOGE", "UNI", "SOL", "MATIC", "AVAX", "ATOM", "XLM", "THETA", "XTZ", "AAVE", "ALGO",
        "AXS", "EGLD", "FTM", "GALA", "ICP", "KNC", "MANA", "NEAR", "OP", "SAND", "APE", "APT",
        "ARB", "WIF", "SUI", "ENS",
    ];
    let start = ymd(2020, 8, 11);
    let cm = |name: String, role: Role, first: NaiveDate, last: Option<NaiveDate>| {
        let h = hash(&name);
        Sym {
            old: name == "BTCUSD_PERP" || (first < ymd(2022, 1, 1) && mix(h ^ 0x01d) % 100 < 60),
            name,
            market: Market::Cm,
            role,
            first,
            last,
            gaps: Vec::new(),
            last_trade: None,
            data3: false,
        }
    };
    let keep = |name: &str, named: bool| named || unit(hash(name) ^ 0x5ca1e) < scale;
    let mut contracts: Vec<Sym> = Vec::new();
    for (i, base) in BASES.iter().enumerate() {
        let name = format!("{base}USD_PERP");
        let h = hash(&name);
        let first = if i < 2 {
            start
        } else {
            start + Duration::days((mix(h) % 1_500) as i64)
        };
        let last = (i >= 2 && mix(h ^ 7).is_multiple_of(5))
            .then(|| first + Duration::days(200 + (mix(h ^ 8) % 700) as i64));
        if keep(&name, i == 0) {
            contracts.push(cm(name, Role::Perp, first, last));
        }
        if i < 9 {
            for q in 0..28 {
                let (y, m) = (2020 + (8 + 3 * q) / 12, (8 + 3 * q) % 12 + 1);
                let expiry = last_friday(y, m as u32);
                let code = expiry.format("%y%m%d").to_string();
                let name = format!("{base}USD_{code}");
                if keep(&name, name == "BTCUSD_240628") {
                    let first = (expiry - Duration::days(180)).max(start);
                    contracts.push(cm(name, Role::Delivery, first, Some(expiry)));
                }
            }
        }
    }
    contracts.push(cm(
        "ADAUSD_PERP_SETTLED".into(),
        Role::Perp,
        ymd(2021, 3, 1),
        Some(ymd(2023, 6, 14)),
    ));
    // One pair folder per base with a contract, living as long as its contracts.
    let mut pairs: Vec<Sym> = Vec::new();
    for c in &contracts {
        let pair = c.name.split('_').next().unwrap_or(&c.name).to_string();
        match pairs.iter_mut().find(|p| p.name == pair) {
            Some(p) => {
                p.first = p.first.min(c.first);
                p.last = match (p.last, c.last) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            None => pairs.push(cm(pair, Role::Pair, c.first, c.last)),
        }
    }
    syms.extend(contracts);
    syms.extend(pairs);
}

fn option_symbols(syms: &mut Vec<Sym>) {
    let mut push = |name: &str, role: Role, first: NaiveDate, last: Option<NaiveDate>| {
        syms.push(Sym {
            name: name.to_string(),
            market: Market::Option,
            role,
            first,
            last,
            gaps: Vec::new(),
            last_trade: None,
            old: false,
            data3: false,
        });
    };
    for name in ["BTCBVOLUSDT", "ETHBVOLUSDT"] {
        push(name, Role::Bvol, ymd(2023, 6, 20), None);
    }
    for name in ["BTCUSDT", "ETHUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT"] {
        push(name, Role::Eoh, ymd(2023, 5, 18), Some(ymd(2023, 10, 23)));
    }
}

/// The 43 prefixes of `data/` and `data3/liquidationSnapshot/`, with the folders of each.
fn datasets(syms: &[Sym]) -> Vec<Dataset> {
    struct Def {
        market: Market,
        ty: &'static str,
        daily: bool,
        monthly: bool,
        from: NaiveDate,
        until: Option<NaiveDate>,
        select: Select,
    }
    let def = |market, ty, daily, monthly, from, until, select| Def {
        market,
        ty,
        daily,
        monthly,
        from,
        until,
        select,
    };
    use Market::{Cm, Data3, Spot, Um};
    use Select::*;
    let spot = ymd(2017, 8, 17);
    let um = ymd(2019, 12, 31);
    let cm = ymd(2020, 8, 11);
    let book_ticker = (ymd(2023, 5, 16), Some(ymd(2024, 3, 30)));
    let defs = [
        def(Spot, "klines", true, true, spot, None, All),
        def(Spot, "aggTrades", true, true, spot, None, All),
        def(Spot, "trades", true, true, spot, None, All),
        def(Um, "klines", true, true, um, None, All),
        def(Um, "aggTrades", true, true, um, None, All),
        def(Um, "trades", true, true, um, None, All),
        def(
            Um,
            "indexPriceKlines",
            true,
            true,
            ymd(2020, 1, 1),
            None,
            All,
        ),
        def(Um, "markPriceKlines", true, true, um, None, All),
        def(
            Um,
            "premiumIndexKlines",
            true,
            true,
            ymd(2020, 1, 1),
            None,
            All,
        ),
        def(Um, "fundingRate", false, true, ymd(2020, 1, 1), None, Perps),
        def(Um, "metrics", true, false, ymd(2020, 9, 1), None, Perps),
        def(Um, "bookDepth", true, false, ymd(2023, 1, 1), None, Perps),
        def(
            Um,
            "bookTicker",
            true,
            true,
            book_ticker.0,
            book_ticker.1,
            All,
        ),
        def(Cm, "klines", true, true, cm, None, Contracts),
        def(Cm, "aggTrades", true, true, cm, None, Contracts),
        def(Cm, "trades", true, true, cm, None, Contracts),
        def(Cm, "markPriceKlines", true, true, cm, None, Contracts),
        def(Cm, "indexPriceKlines", true, true, cm, None, Pairs),
        def(Cm, "premiumIndexKlines", true, true, cm, None, Perps),
        def(Cm, "fundingRate", false, true, cm, None, Perps),
        def(Cm, "metrics", true, false, ymd(2020, 9, 1), None, Contracts),
        def(
            Cm,
            "bookDepth",
            true,
            false,
            ymd(2023, 1, 1),
            None,
            Contracts,
        ),
        def(
            Cm,
            "bookTicker",
            true,
            true,
            book_ticker.0,
            book_ticker.1,
            Contracts,
        ),
        def(
            Cm,
            "liquidationSnapshot",
            true,
            false,
            ymd(2023, 6, 25),
            Some(ymd(2024, 10, 14)),
            CmLiquidation,
        ),
        def(
            Market::Option,
            "BVOLIndex",
            true,
            false,
            ymd(2023, 6, 20),
            None,
            Bvol,
        ),
        def(
            Market::Option,
            "EOHSummary",
            true,
            false,
            ymd(2023, 5, 18),
            Some(ymd(2023, 10, 23)),
            Eoh,
        ),
        def(
            Data3,
            "liquidationSnapshot",
            true,
            false,
            ymd(2023, 6, 25),
            Some(ymd(2023, 12, 31)),
            Select::Data3,
        ),
    ];
    let mut out = Vec::new();
    for d in defs {
        for monthly in [false, true] {
            if (monthly && !d.monthly) || (!monthly && !d.daily) {
                continue;
            }
            let prefix = if d.market == Data3 {
                format!("data3/{}/", d.ty)
            } else {
                format!(
                    "{}{}/{}/",
                    d.market.root(),
                    if monthly { "monthly" } else { "daily" },
                    d.ty
                )
            };
            let kline = d.ty.ends_with("lines");
            let futures = matches!(d.market, Um | Cm);
            let (intervals, old): (Vec<&'static str>, Vec<&'static str>) = match (futures, monthly)
            {
                (false, false) => (SPOT_DAILY.to_vec(), SPOT_DAILY.to_vec()),
                (false, true) => {
                    let all: Vec<_> = SPOT_DAILY.iter().chain(&LONG).copied().collect();
                    (all.clone(), all)
                }
                (true, true) => {
                    let all: Vec<_> = SPOT_DAILY[1..].iter().chain(&LONG).copied().collect();
                    (all.clone(), all)
                }
                (true, false) => (
                    SPOT_DAILY[1..].to_vec(),
                    SPOT_DAILY[1..].iter().chain(&LONG).copied().collect(),
                ),
            };
            let mut folders: Vec<usize> = syms
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    let market = if d.market == Data3 { Um } else { d.market };
                    s.market == market
                        && match d.select {
                            All => true,
                            Perps => s.role == Role::Perp,
                            Pairs => s.role == Role::Pair,
                            Contracts => matches!(s.role, Role::Perp | Role::Delivery),
                            CmLiquidation => ["BTCUSD_PERP", "ETHUSD_PERP", "SOLUSD_PERP"]
                                .contains(&s.name.as_str()),
                            Bvol => s.role == Role::Bvol,
                            Eoh => s.role == Role::Eoh,
                            Select::Data3 => s.data3,
                        }
                })
                .map(|(i, _)| i)
                .collect();
            folders.sort_by(|a, b| slash_cmp(&syms[*a].name, &syms[*b].name));
            out.push(Dataset {
                prefix,
                monthly,
                ty: d.ty,
                kline,
                intervals: sorted_intervals(intervals),
                intervals_old: sorted_intervals(old),
                from: d.from,
                until: d.until,
                folders,
                um_klines: d.market == Um && d.ty == "klines",
            });
        }
    }
    out.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_secs_is_upload_time() {
        for (d, salt) in [
            (ymd(2019, 12, 31), 0),
            (ymd(2022, 3, 1), 12_345),
            (ymd(2026, 12, 5), u64::MAX),
        ] {
            assert_eq!(
                upload_secs(day_index(d), salt),
                crate::corpus::upload_time(d, salt).timestamp()
            );
        }
        assert_eq!(
            name_day_hash("BTCUSDT", ymd(2024, 1, 5)),
            hash("BTCUSDT2024-01-05")
        );
    }

    #[test]
    fn periods_round_trip() {
        for d in [ymd(2017, 8, 17), ymd(2024, 2, 29), ymd(2099, 12, 31)] {
            assert_eq!(index_day(day_index(d)), d);
            assert_eq!(index_month(month_index(d)), d.with_day(1).unwrap());
        }
        assert_eq!(last_friday(2024, 6), ymd(2024, 6, 28));
    }
}
