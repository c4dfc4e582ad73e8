//! Lives: what the 1m files, the verified absences and the 1d trades say of each symbol's
//! life, as events (`listing`, `gap`, `delisting`, `relisting`), and the point-in-time
//! universe of a day.
//!
//! The rules, with `delisted_after` = R days (default 7):
//! - A symbol is **listed** on its first file. A first file on its market's archive's first day
//!   (USD-M 2019-12-31, COIN-M 2020-08-11, spot 2017-08-17) says only that it was listed
//!   earlier, and the event's detail says so.
//! - A run of verified-absent days inside its life is one **gap**, dated its first absent day.
//!   A gap of R days or more also ends a life: the last trading day before it is a
//!   **delisting**, the first file after it a **relisting**.
//! - A life's **end** is asserted only once the folder has been checked R days past its last
//!   trade — days the bucket has published, so an outage of Vision delists nobody — with no
//!   trade since (files with zero trades, as delisted pairs keep getting, do not
//!   count); until then the symbol is open, and a file that is merely late delists nothing. A
//!   delivery contract ends on its delivery day. Without trading facts for a symbol
//!   (`--no-trading`), its files stand for its trades.
//! - A settled folder (`ICPUSDT_SETTLED`) is a contract of its own whose events name their base
//!   symbol (`base_symbol`); the base's first file after a settled folder ended is a relisting.
//!   A universe leaves settled folders out unless asked (`include_settled`): one symbol ranked
//!   twice, under its live and its settled name, is a false answer to "what was tradable".
//!
//! The universe of DATE is decided from facts dated before DATE only (no lookahead): a symbol
//! is a member when its current life (since its last relisting before DATE) began with a trade
//! at least `min_age` days before DATE and it traded within the `recent` days before DATE; it
//! is ranked by its mean over the `window` days before DATE (days with a 1d row; zero-trade
//! days count as 0). A universe whose DATE−1 is after "complete through" is refused
//! (`StoreError::NotCheckedYet`): members would be missing for days no run has checked. What
//! must not be known here: HTTP, files, the CLI.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use duckdb::params;
use serde::Serialize;

use super::checked::published_through;
use super::{Database, StoreError, SymbolRecord, date_value};
use crate::facts::{Contract, ContractFilter, DayRange};

/// Days past the last trade a folder must have been checked before its end is asserted, and
/// the shortest gap that ends a life: a week covers Vision's late uploads (hours to days).
pub const DEFAULT_DELISTED_AFTER: u32 = 7;

/// What happened in a symbol's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The first trade (or file) of a symbol.
    Listing,
    /// Verified-absent days inside a life, shorter than a delisting.
    Gap,
    /// The last trade of a life that ended.
    Delisting,
    /// The first trade after a life ended.
    Relisting,
}

named!(EventKind {
    Listing = "listing",
    Delisting = "delisting",
    Gap = "gap",
    Relisting = "relisting",
});

/// One event of a symbol's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The day it happened.
    pub date: NaiveDate,
    /// The symbol folder.
    pub symbol: String,
    /// The symbol a settled folder was renamed from (`ICPUSDT` for `ICPUSDT_SETTLED`); the
    /// symbol itself otherwise.
    pub base_symbol: String,
    /// What happened.
    pub kind: EventKind,
    /// The evidence, in words (the files and trades that decided it).
    pub detail: String,
}

/// Which events to give; `EventFilter::default()` gives every event of every contract.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventFilter {
    /// Only events on or after this day.
    pub since: Option<NaiveDate>,
    /// Only events on or before this day.
    pub until: Option<NaiveDate>,
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// One symbol folder (resolved as `timeline` resolves it).
    pub symbol: Option<String>,
    /// Perpetual, delivery (whose delisting is its delivery) or both.
    pub contracts: ContractFilter,
}

impl Default for EventFilter {
    fn default() -> EventFilter {
        EventFilter {
            since: None,
            until: None,
            kind: None,
            symbol: None,
            contracts: ContractFilter::All,
        }
    }
}

/// How members of a universe are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RankBy {
    /// The mean quote volume.
    #[default]
    QuoteVolume,
    /// The mean number of trades.
    Trades,
}

named!(RankBy {
    QuoteVolume = "quote-volume",
    Trades = "trades",
});

/// The question a universe answers; `UniverseQuery::new` gives the documented defaults, the
/// one place they are written (the command line's flags, `serve`'s parameters and the Python
/// package's arguments all take theirs from here).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UniverseQuery {
    /// The day whose universe is asked for; decided from the days before it.
    pub date: NaiveDate,
    /// Perpetual, delivery or both.
    pub contracts: ContractFilter,
    /// Only symbols of this quote asset (`USDT`); `None`: every quote.
    pub quote: Option<String>,
    /// Days from the first trade of the current life to DATE, at least.
    pub min_age: u32,
    /// A trade within this many days before DATE (1: on DATE−1).
    pub recent: u32,
    /// Days before DATE whose mean ranks the members.
    pub window: u32,
    /// The most liquid N only; `None`: every member.
    pub top: Option<u32>,
    /// What ranks the members.
    pub by: RankBy,
    /// Days a folder must be checked past its last trade before its end is asserted, and the shortest gap that ends a life.
    pub delisted_after: u32,
    /// Rank settled folders (`ICPUSDT_SETTLED`) too; by default a universe holds each
    /// tradable symbol once, under its live name.
    pub include_settled: bool,
}

/// The bounds of a universe's day counts: ten years reach back before trading began.
pub const UNIVERSE_DAYS: std::ops::RangeInclusive<u32> = 1..=3650;

impl UniverseQuery {
    /// `contracts` unless asked otherwise.
    pub const DEFAULT_CONTRACTS: ContractFilter = ContractFilter::Perpetual;
    /// `min_age` unless asked otherwise: a symbol listed the day before is a member.
    pub const DEFAULT_MIN_AGE: u32 = 0;
    /// `recent` unless asked otherwise: a trade on DATE−1.
    pub const DEFAULT_RECENT: u32 = 1;
    /// `window` unless asked otherwise: a month.
    pub const DEFAULT_WINDOW: u32 = 30;
    /// `by` unless asked otherwise.
    pub const DEFAULT_BY: RankBy = RankBy::QuoteVolume;

    /// The question for `date` with the documented defaults (those of `query universe`).
    pub fn new(date: NaiveDate) -> UniverseQuery {
        UniverseQuery {
            date,
            contracts: UniverseQuery::DEFAULT_CONTRACTS,
            quote: None,
            min_age: UniverseQuery::DEFAULT_MIN_AGE,
            recent: UniverseQuery::DEFAULT_RECENT,
            window: UniverseQuery::DEFAULT_WINDOW,
            top: None,
            by: UniverseQuery::DEFAULT_BY,
            delisted_after: DEFAULT_DELISTED_AFTER,
            include_settled: false,
        }
    }
}

/// A member of a day's universe.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The symbol folder.
    pub symbol: String,
    /// The symbol a settled folder was renamed from; the symbol itself otherwise.
    pub base_symbol: String,
    /// 1 for the most liquid.
    pub rank: u32,
    /// Its mean quote volume over the window's days with a 1d row.
    pub mean_quote_volume: f64,
    /// Calendar days from the first trade of the current life to DATE.
    pub days_listed: i64,
    /// Whether it traded on DATE itself: known only after the fact (not used to decide
    /// anything), and `None` while DATE's files are not checked yet.
    pub traded_on_date: Option<bool>,
}

/// A symbol's window: mean quote volume and trades before DATE, and DATE's trades.
struct WindowRow {
    symbol: String,
    quote_volume: Option<f64>,
    trades: Option<f64>,
    trades_on_date: Option<i64>,
}

/// Every symbol's facts of its life, read once per handle (a published file never changes
/// under a reader): ~1 gap and ~2 runs of trading days per symbol, so a few thousand rows.
pub(super) type Lives = HashMap<String, Facts>;

/// What events and universes are computed from, per symbol.
#[derive(Debug, Default)]
pub(super) struct Facts {
    /// Runs of verified-absent days, in order: gaps, some long enough to end a life.
    gaps: Vec<DayRange>,
    /// Runs of consecutive days with trades, in order; `None` when the symbol has no trading
    /// row at all (its trades were never collected).
    traded: Option<Vec<DayRange>>,
}

impl Facts {
    /// The last trading day before `day`; without trading facts, `fallback`.
    fn last_trade_before(&self, day: NaiveDate, fallback: Option<NaiveDate>) -> Option<NaiveDate> {
        match &self.traded {
            None => fallback,
            Some(runs) => runs
                .iter()
                .rev()
                .find(|run| run.first() < day)
                .map(|run| run.last().min(day - Duration::days(1))),
        }
    }

    /// Calendar days from the first trade of the current life to `date` when the symbol is a
    /// member of `q`'s universe of `date` by the runs of trading days before `date` alone (the
    /// module doc's rules); `None` when it is not. The one definition `universe` and
    /// `universe_panel` both apply.
    pub(super) fn days_listed(&self, q: &UniverseQuery, date: NaiveDate) -> Option<i64> {
        let runs = self.traded.as_ref()?;
        let day = |n: u32| date - Duration::days(i64::from(n));
        // The current life: after the last gap long enough to end one that ended before DATE.
        let life_from = self
            .gaps
            .iter()
            .filter(|g| g.days() >= i64::from(q.delisted_after) && g.last() < date)
            .map(|g| g.last())
            .max();
        let first_trade = runs
            .iter()
            .find(|run| life_from.is_none_or(|l| run.last() > l))
            .map(|run| life_from.map_or(run.first(), |l| run.first().max(l + Duration::days(1))))
            .filter(|first| *first < date)?;
        let last_trade = self.last_trade_before(date, None)?;
        (last_trade >= day(q.recent) && first_trade <= day(q.min_age))
            .then(|| (date - first_trade).num_days())
    }

    /// The first trading day on or after `day`.
    fn first_trade_from(&self, day: NaiveDate) -> Option<NaiveDate> {
        self.traded
            .as_ref()?
            .iter()
            .find(|run| run.last() >= day)
            .map(|run| run.first().max(day))
    }
}

/// `Lives` from the rows of `lives_index::runs_sql`, in any order: `(symbol, false, first,
/// last)` a gap, `(symbol, true, first, last)` a run of trading days, `(symbol, true, NULL,
/// NULL)` only that the symbol has trading rows.
pub(super) fn from_runs(
    runs: impl IntoIterator<Item = (String, bool, Option<NaiveDate>, Option<NaiveDate>)>,
) -> Lives {
    let mut facts: Lives = HashMap::new();
    for (symbol, traded, first, last) in runs {
        let f = facts.entry(symbol).or_default();
        // min <= max of the same rows: never reversed.
        let run = first.zip(last).and_then(|(f, l)| DayRange::new(f, l).ok());
        if traded {
            // A symbol with rows but no trade has an empty list.
            f.traded.get_or_insert_with(Vec::new).extend(run);
        } else {
            f.gaps.extend(run);
        }
    }
    for f in facts.values_mut() {
        f.gaps.sort();
        if let Some(runs) = &mut f.traded {
            runs.sort();
        }
    }
    facts
}

impl Database {
    /// Every symbol's events by the rules in the module doc, filtered, by date then symbol.
    pub fn events(
        &self,
        filter: &EventFilter,
        delisted_after: u32,
    ) -> Result<Vec<Event>, StoreError> {
        let only = match &filter.symbol {
            Some(name) => Some(self.symbol(name)?.symbol),
            None => None,
        };
        let facts = self.lives()?;
        let known = self.known()?;
        let published = published_through(known);
        let rule = i64::from(delisted_after);
        let mut events = Vec::new();
        let none = Facts::default();
        for record in known.values() {
            if only.as_ref().is_some_and(|o| *o != record.symbol)
                || !filter.contracts.admits(record.contract)
            {
                continue;
            }
            let f = facts.get(&record.symbol).unwrap_or(&none);
            let context = (rule, published, self.market.archive_start());
            life_events(record, f, known, facts, context, &mut events);
        }
        events.retain(|e| {
            filter.since.is_none_or(|d| e.date >= d)
                && filter.until.is_none_or(|d| e.date <= d)
                && filter.kind.is_none_or(|k| e.kind == k)
        });
        events.sort_by(|a, b| {
            (a.date, a.symbol.as_bytes(), a.kind).cmp(&(b.date, b.symbol.as_bytes(), b.kind))
        });
        Ok(events)
    }

    /// Every symbol's gaps and runs of trading days (see `Lives`), stored or rebuilt
    /// (`lives_index`).
    pub(super) fn lives(&self) -> Result<&Lives, StoreError> {
        if let Some(lives) = self.lives.get() {
            return Ok(lives);
        }
        let facts = self.lives_runs()?;
        Ok(self.lives.get_or_init(|| facts))
    }

    /// The universe of `q.date` by the rules in the module doc, by rank.
    pub fn universe(&self, q: &UniverseQuery) -> Result<Vec<Member>, StoreError> {
        let date = q.date;
        // A mistyped quote first: it is the question's fault whatever the day.
        let known = self.known()?;
        let quote = match &q.quote {
            None => None,
            Some(asked) => Some(known_quote(known, asked)?),
        };
        // Decided from the days before DATE, so those must be checked; DATE itself need not
        // be (`traded_on_date` says "not checked" then).
        if let Some(before) = date.pred_opt() {
            self.require_checked(before)?;
        }
        let lives = self.lives()?;
        let published = published_through(known);
        // Who is a member, from the runs of trading days before DATE alone.
        let mut candidates: HashMap<&str, i64> = HashMap::new();
        for (symbol, f) in lives {
            let Some(record) = known.get(symbol) else {
                continue;
            };
            if !admitted(record, q, quote) {
                continue;
            }
            if let Some(days_listed) = f.days_listed(q, date) {
                candidates.insert(symbol.as_str(), days_listed);
            }
        }
        // Their means over the window, and DATE's trades (known only after the fact). The
        // rows lie in date order (`layout`), so this reads the window's row groups only. When
        // every candidate's name ends in the quote asked for (spot's USDT pairs: ~600 of
        // ~1,700 pairs in a window), the rows of the others are dropped before grouping, a
        // fifth of the statement's time; the names decide only what is read, `candidates` who
        // is a member.
        let narrow = quote.filter(|q| candidates.keys().all(|s| s.ends_with(q)));
        let quote_value = QuoteValue(self.market);
        let sql = format!(
            "SELECT symbol, avg({column}) FILTER (WHERE date < ?1),
                    avg(trades) FILTER (WHERE date < ?1), max(trades) FILTER (WHERE date = ?1)
               FROM daily_trading WHERE date >= ?2 AND date <= ?1{narrowed} GROUP BY symbol",
            column = quote_value.pick("quote_volume", "volume"),
            narrowed = if narrow.is_some() {
                " AND suffix(symbol, ?3)"
            } else {
                ""
            },
        );
        let (on, from) = (
            date_value(date),
            date_value(date - Duration::days(i64::from(q.window))),
        );
        let mut bound: Vec<&dyn duckdb::ToSql> = vec![&on, &from];
        if let Some(q) = &narrow {
            bound.push(q);
        }
        let means: Vec<WindowRow> =
            self.rows(&sql, bound.as_slice(), "running the universe query", |r| {
                Ok(WindowRow {
                    symbol: r.get(0)?,
                    quote_volume: r.get(1)?,
                    trades: r.get(2)?,
                    trades_on_date: r.get(3)?,
                })
            })?;
        // The day's files matter only to a member without a 1d row on a checked DATE: read
        // them then, once (~1 ms of a 4–5 ms spot universe over ~1,700 pairs when read always).
        let mut files_on_date: Option<HashMap<String, bool>> = None;
        let mut members: Vec<(Member, f64)> = Vec::with_capacity(candidates.len());
        for WindowRow {
            symbol,
            quote_volume: quote,
            trades,
            trades_on_date: on_date,
        } in means
        {
            let (Some(&days_listed), Some(quote), Some(trades)) =
                (candidates.get(symbol.as_str()), quote, trades)
            else {
                continue;
            };
            let quote = quote * quote_value.scale(&symbol);
            let checked = known
                .get(&symbol)
                .and_then(|r| r.checked_through)
                .is_some_and(|c| c >= date)
                && published.is_some_and(|p| p >= date);
            if on_date.is_none() && checked && files_on_date.is_none() {
                files_on_date = Some(self.day_files(date)?);
            }
            let traded_on_date = traded_on_date(on_date, checked, || {
                files_on_date
                    .as_ref()
                    .and_then(|files| files.get(&symbol).copied())
                    .unwrap_or(false)
            });
            let key = match q.by {
                RankBy::QuoteVolume => quote,
                RankBy::Trades => trades,
            };
            let base_symbol = known.get(&symbol).map_or_else(|| symbol.clone(), base_of);
            members.push((
                Member {
                    symbol,
                    base_symbol,
                    rank: 0,
                    mean_quote_volume: quote,
                    days_listed,
                    traded_on_date,
                },
                key,
            ));
        }
        members.sort_by(|(a, ka), (b, kb)| by_rank((&a.symbol, *ka), (&b.symbol, *kb)));
        let top = q.top.map_or(members.len(), |n| n as usize);
        Ok(members
            .into_iter()
            .take(top)
            .zip(1..)
            .map(|((m, _), rank)| Member { rank, ..m })
            .collect())
    }
}

impl Database {
    /// Whether each folder had a file on `date` (`false`: checked, none): what decides
    /// `traded_on_date` of a checked day without a 1d row.
    pub(super) fn day_files(&self, date: NaiveDate) -> Result<HashMap<String, bool>, StoreError> {
        Ok(self
            .rows(
                "SELECT symbol, available FROM daily_availability_facts WHERE date = ?",
                params![date_value(date)],
                "reading the day's files",
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .into_iter()
            .collect())
    }
}

/// The quote asset `asked` names, as the database spells it (case-insensitive, as symbols
/// are), or `StoreError::UnknownQuote` naming the known ones: an unknown quote is a mistyped
/// question, not a universe without members.
pub(super) fn known_quote<'k>(
    known: &'k HashMap<String, SymbolRecord>,
    asked: &str,
) -> Result<&'k str, StoreError> {
    let folded = asked.to_lowercase();
    let mut quotes: Vec<&str> = known
        .values()
        .filter_map(|r| r.quote_asset.as_deref())
        .collect();
    quotes.sort_unstable();
    quotes.dedup();
    if let Some(exact) = quotes.iter().find(|q| **q == asked) {
        return Ok(exact);
    }
    match quotes.iter().find(|q| q.to_lowercase() == folded) {
        Some(found) => Ok(found),
        None => Err(StoreError::UnknownQuote {
            quote: asked.to_string(),
            known: quotes.into_iter().map(str::to_string).collect(),
        }),
    }
}

/// Whether `record` is of the contracts, quote and settledness `q` asks for (`quote` is
/// `q.quote` as the database spells it).
pub(super) fn admitted(record: &SymbolRecord, q: &UniverseQuery, quote: Option<&str>) -> bool {
    q.contracts.admits(record.contract)
        && (!record.settled || q.include_settled)
        && quote.is_none_or(|want| record.quote_asset.as_deref() == Some(want))
}

/// Whether a member traded on DATE: its 1d row says so (`on_date`, the day's trades); without
/// one, a checked day with no file (`file_on_date`, asked only then) says it did not; else not
/// known.
pub(super) fn traded_on_date(
    on_date: Option<i64>,
    checked: bool,
    file_on_date: impl FnOnce() -> bool,
) -> Option<bool> {
    match on_date {
        Some(t) => Some(t > 0),
        // Checked, and no file that day: no trade either.
        None if checked && !file_on_date() => Some(false),
        None => None,
    }
}

/// What a universe ranks `--by quote-volume` and gives as `mean_quote_volume`: a day's
/// volume in the quote asset. Spot's and USD-M's 1d files state it (`quote_volume`); COIN-M's
/// count contracts in `volume` and give the base asset's volume in the 8th column, so there it
/// is the USD notional, contracts × the contract's size in USD (`Market::contract_size_usd`:
/// 100 for `BTCUSD`, 10 for every other). The notional is computed at read time from the
/// contracts as stored, not kept: a size is one number per symbol, so the mean notional is the
/// size times the mean of `volume`, and the stored rows stay what the files say (ADR 0021).
#[derive(Debug, Clone, Copy)]
pub(super) struct QuoteValue(pub(super) crate::facts::Market);

impl QuoteValue {
    /// `quote` when the 1d column read is the quote volume, `contracts` when it is `volume`.
    pub(super) fn pick(self, quote: &'static str, contracts: &'static str) -> &'static str {
        if self.0.volume_counts_contracts() {
            contracts
        } else {
            quote
        }
    }

    /// What one unit of the column read is worth in the quote asset for `symbol`.
    pub(super) fn scale(self, symbol: &str) -> f64 {
        self.0.contract_size_usd(symbol).unwrap_or(1.0)
    }
}

/// The order of a universe: the larger ranking key first, then the symbol's bytes.
pub(super) fn by_rank((a, ka): (&str, f64), (b, kb): (&str, f64)) -> std::cmp::Ordering {
    kb.total_cmp(&ka)
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// The symbol a settled folder was renamed from (`ICPUSDT` for `ICPUSDT_SETTLED`, also for
/// `…SETTLEDSETTLED`); the symbol itself for every other folder.
fn base_of(record: &SymbolRecord) -> String {
    crate::vision::settled_base(&record.symbol)
        .filter(|_| record.settled)
        .unwrap_or(&record.symbol)
        .to_string()
}

/// The events of one symbol's life (see the module doc).
fn life_events(
    record: &SymbolRecord,
    f: &Facts,
    known: &HashMap<String, SymbolRecord>,
    facts: &HashMap<String, Facts>,
    (rule, published, archive_start): (i64, Option<NaiveDate>, NaiveDate),
    out: &mut Vec<Event>,
) {
    let Some(first_file) = record.first_file_date else {
        return;
    };
    let symbol = &record.symbol;
    let base = base_of(record);
    let settled_of = crate::vision::settled_base(symbol)
        .filter(|_| record.settled)
        .map(|base| format!("; settled folder of {base}"))
        .unwrap_or_default();
    let mut push = |date: NaiveDate, kind: EventKind, detail: String| {
        out.push(Event {
            date,
            symbol: symbol.clone(),
            base_symbol: base.clone(),
            kind,
            detail: format!("{detail}{settled_of}"),
        })
    };
    let first_trade = f
        .first_trade_from(first_file)
        .map(|d| format!(", first trade {d}"))
        .unwrap_or_default();
    // The base of a settled folder that ended before this folder's first file.
    let earlier = earlier_life(record, known, facts, first_file);
    if let Some((end, settled)) = earlier {
        let days = (first_file - end).num_days() - 1;
        push(
            first_file,
            EventKind::Relisting,
            format!(
                "first file after {days} days; the earlier life is {settled}, ended {end}{first_trade}"
            ),
        );
    } else if first_file == archive_start {
        // The market's archive, not USD-M's: spot's begins 2017-08-17, COIN-M's 2020-08-11.
        push(
            first_file,
            EventKind::Listing,
            format!(
                "first file on {archive_start}, the archive's first day: listed earlier{first_trade}"
            ),
        );
    } else {
        push(
            first_file,
            EventKind::Listing,
            format!("first file{first_trade}"),
        );
    }
    for gap in &f.gaps {
        let days = gap.days();
        push(
            gap.first(),
            EventKind::Gap,
            format!(
                "{days} day{} without a file, {} to {}",
                if days == 1 { "" } else { "s" },
                gap.first(),
                gap.last()
            ),
        );
        if days >= rule {
            let before = gap.first() - Duration::days(1);
            let last = f
                .last_trade_before(gap.first(), Some(before))
                .unwrap_or(before);
            push(
                last,
                EventKind::Delisting,
                format!("last trade before a gap of {days} days"),
            );
            let back = gap.last() + Duration::days(1);
            let traded = f
                .first_trade_from(back)
                .map(|d| format!(", first trade {d}"))
                .unwrap_or_default();
            push(
                back,
                EventKind::Relisting,
                format!("first file after a gap of {days} days{traded}"),
            );
        }
    }
    // Days count as checked only where the bucket published something: a Vision outage of a
    // week delists nobody.
    let Some(checked) = record.checked_through.zip(published).map(|(c, p)| c.min(p)) else {
        return;
    };
    if record.contract == Contract::Delivery {
        if let Some(delivery) = record.delivery_date.filter(|d| *d <= checked) {
            push(delivery, EventKind::Delisting, "delivered".into());
        }
        return;
    }
    let last_file = record.last_file_date.unwrap_or(first_file);
    let after = last_file + Duration::days(1);
    let Some(last) = f.last_trade_before(after, Some(last_file)) else {
        return;
    };
    // A life already ended by a gap after its last trade is not ended twice.
    let ended_by_gap = f.gaps.iter().any(|g| g.days() >= rule && g.first() > last);
    if !ended_by_gap && (checked - last).num_days() >= rule {
        let detail = if last < last_file {
            format!("last trade; files without trades until {last_file}")
        } else if f.traded.is_some() {
            "last trade and last file".to_string()
        } else {
            "last file (no trading facts collected)".to_string()
        };
        push(last, EventKind::Delisting, detail);
    }
}

/// One life of a symbol folder: from its first file (or the first file after a gap that ended
/// the life before) to the day before the gap that ended it (or its last file), by the rules
/// in the module doc, as `events` tells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifeRow {
    /// The symbol folder.
    pub symbol: String,
    /// 1 for the folder's first life, 2 after its first relisting, …
    pub life: u32,
    /// The life's first day with a file.
    pub first_file: NaiveDate,
    /// Its first day with trades; `None` without any (or without trading facts).
    pub first_trade: Option<NaiveDate>,
    /// Its last day with trades; `None` without any.
    pub last_trade: Option<NaiveDate>,
    /// Its last day with a file: the day before the gap that ended it, or the folder's last
    /// file.
    pub last_file: NaiveDate,
    /// The day of its delisting event (its last trade, or the delivery of a delivery
    /// contract); `None` while the life is open.
    pub end: Option<NaiveDate>,
    /// The days without a file before it: the gap that ended the life before, or for a first
    /// life the days since a settled folder of the same symbol ended; `None` otherwise.
    pub gap_days_before: Option<i64>,
}

impl Database {
    /// Every folder's lives (or `symbol`'s, resolved as `timeline` resolves it), a life ending
    /// after `delisted_after` days, by symbol then life.
    pub fn life_rows(
        &self,
        symbol: Option<&str>,
        delisted_after: u32,
    ) -> Result<Vec<LifeRow>, StoreError> {
        let only = match symbol {
            Some(name) => Some(self.symbol(name)?.symbol),
            None => None,
        };
        let facts = self.lives()?;
        let known = self.known()?;
        let published = published_through(known);
        let none = Facts::default();
        let mut rows = Vec::new();
        for record in known.values() {
            if only.as_ref().is_some_and(|o| *o != record.symbol) {
                continue;
            }
            let f = facts.get(&record.symbol).unwrap_or(&none);
            folder_lives(
                record,
                f,
                known,
                facts,
                (delisted_after, published),
                &mut rows,
            );
        }
        rows.sort_by(|a, b| (a.symbol.as_bytes(), a.life).cmp(&(b.symbol.as_bytes(), b.life)));
        Ok(rows)
    }
}

/// The lives of one folder, as `life_events` tells them.
fn folder_lives(
    record: &SymbolRecord,
    f: &Facts,
    known: &HashMap<String, SymbolRecord>,
    facts: &HashMap<String, Facts>,
    (rule, published): (u32, Option<NaiveDate>),
    out: &mut Vec<LifeRow>,
) {
    let Some(first_file) = record.first_file_date else {
        return;
    };
    let rule = i64::from(rule);
    let trades_in = |from: NaiveDate, to: NaiveDate| {
        let first = f.first_trade_from(from).filter(|d| *d <= to);
        let last = f
            .last_trade_before(to + Duration::days(1), None)
            .filter(|d| *d >= from);
        (first, last)
    };
    let mut life = LifeRow {
        symbol: record.symbol.clone(),
        life: 1,
        first_file,
        first_trade: None,
        last_trade: None,
        last_file: first_file,
        end: None,
        gap_days_before: earlier_life(record, known, facts, first_file)
            .map(|(end, _)| (first_file - end).num_days() - 1),
    };
    for gap in f.gaps.iter().filter(|g| g.days() >= rule) {
        let before = gap.first() - Duration::days(1);
        let (first_trade, last_trade) = trades_in(life.first_file, before);
        let end = f
            .last_trade_before(gap.first(), Some(before))
            .unwrap_or(before);
        let next = LifeRow {
            life: life.life + 1,
            first_file: gap.last() + Duration::days(1),
            gap_days_before: Some(gap.days()),
            ..life.clone()
        };
        out.push(LifeRow {
            first_trade,
            last_trade,
            last_file: before,
            end: Some(end),
            ..life
        });
        life = next;
    }
    let last_file = record
        .last_file_date
        .unwrap_or(first_file)
        .max(life.first_file);
    let (first_trade, last_trade) = trades_in(life.first_file, last_file);
    life.first_trade = first_trade;
    life.last_trade = last_trade;
    life.last_file = last_file;
    // The end `life_events` asserts, on the same facts.
    let checked = record.checked_through.zip(published).map(|(c, p)| c.min(p));
    life.end = checked.and_then(|checked| {
        if record.contract == Contract::Delivery {
            return record.delivery_date.filter(|d| *d <= checked);
        }
        let after = last_file + Duration::days(1);
        let last = f.last_trade_before(after, Some(last_file))?;
        let ended_by_gap = f.gaps.iter().any(|g| g.days() >= rule && g.first() > last);
        (!ended_by_gap && (checked - last).num_days() >= rule).then_some(last)
    });
    out.push(life);
}

/// The base of a settled folder that ended before `record`'s first file: its last trade (or
/// file) and its name.
fn earlier_life(
    record: &SymbolRecord,
    known: &HashMap<String, SymbolRecord>,
    facts: &HashMap<String, Facts>,
    first_file: NaiveDate,
) -> Option<(NaiveDate, String)> {
    known
        .values()
        .filter(|o| {
            o.settled && crate::vision::settled_base(&o.symbol) == Some(record.symbol.as_str())
        })
        .filter_map(|o| {
            let end = facts
                .get(&o.symbol)
                .and_then(|of| of.last_trade_before(first_file, o.last_file_date))
                .or(o.last_file_date)?;
            (end < first_file).then(|| (end, o.symbol.clone()))
        })
        .max()
}
