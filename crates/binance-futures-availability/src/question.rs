//! The questions the database answers, as values: what every front end (the command line,
//! `serve`, the Python package) turns its own syntax into, and the one place a question is
//! answered ([`Database::answer`]).
//!
//! A [`Question`] holds values already checked, by its constructors, with the library's one
//! sentence for each refusal ([`QuestionError`]): the order of a range's days
//! ([`DayError`]), the grammar of a symbol name ([`BadSymbol`]), the bounds of a universe's
//! and a life rule's counts of days ([`UNIVERSE_DAYS`], [`MIN_AGE_DAYS`], [`TOP_MEMBERS`]). It
//! is `Eq + Hash`, so two front ends asking the same thing ask an equal question, and `serve`
//! keeps its answers under the question itself rather than under a text spelling it.
//!
//! What it must not know: clap, axum, pyo3 (each front end's syntax and its sentences for
//! it: a flag, a query parameter, a Python int of any size), SQL (that is `store`), rendering.

pub mod catalog;

use std::ops::RangeInclusive;

use chrono::{NaiveDate, Utc};

use crate::facts::{ContractFilter, DailyTrading, DayError, DayRange, Market};
use crate::store::LifeRow;
use crate::store::{
    DayCount, Event, EventFilter, Every, Member, PANEL_DATES, PanelQuery, PanelRow, RangeRow,
    RankBy, SnapshotRow, StoreError, SymbolRecord, Timeline, UNIVERSE_DAYS, UniverseQuery,
};
use crate::vision::{BadSymbol, check_symbol};

/// The bounds of a universe's `min_age`: a symbol listed today is of age 0.
pub const MIN_AGE_DAYS: RangeInclusive<u32> = 0..=*UNIVERSE_DAYS.end();

/// The bounds of a universe's `top`: at least one member (`None` asks for every member).
pub const TOP_MEMBERS: RangeInclusive<u32> = 1..=u32::MAX;

/// Why a question cannot be asked, in the library's sentences.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuestionError {
    /// A range whose start is after its end.
    #[error(transparent)]
    Day(#[from] DayError),
    /// A name no symbol folder (or quote asset) can have.
    #[error(transparent)]
    Symbol(#[from] BadSymbol),
    /// A count of days or members outside its bounds.
    #[error("{name} is {value}, outside {} to {}", .bounds.start(), .bounds.end())]
    OutOfRange {
        /// The option, as the library names it (`window`, `min_age`, …).
        name: &'static str,
        /// The value given.
        value: u32,
        /// What it may be.
        bounds: RangeInclusive<u32>,
    },
    /// A spot universe ranked by quote volume without one quote asset.
    #[error(
        "a spot universe ranks by quote volume within one quote asset, and this question names \
         none: volumes in BTC and in USDT are not one scale; name one (--quote USDT, or \
         quote=\"USDT\" in Python) or rank by trades"
    )]
    SpotWithoutQuote,
    /// A panel with more rebalance dates than `PANEL_DATES`.
    #[error(
        "the panel from {start} to {end} every {every} has {dates} rebalance dates, more than \
         the {max} a panel may have (ten years of days); ask for a shorter period or rebalance \
         less often"
    )]
    TooManyDates {
        /// The first day of the period.
        start: NaiveDate,
        /// The last day of the period.
        end: NaiveDate,
        /// How often it rebalances.
        every: Every,
        /// Its rebalance dates.
        dates: usize,
        /// `PANEL_DATES`.
        max: usize,
    },
}

/// A question about one market's tables, its values checked (see the constructors).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Question {
    /// Symbols with a file on a day.
    Snapshot {
        /// Whose tables.
        market: Market,
        /// The day.
        date: NaiveDate,
        /// Which contracts.
        contracts: ContractFilter,
    },
    /// A symbol's days, its events by the default rule, its trading days.
    Timeline {
        /// Whose tables.
        market: Market,
        /// The symbol folder, as asked (the database resolves its case).
        symbol: String,
    },
    /// Every symbol with a file on a day of a range.
    Range {
        /// Whose tables.
        market: Market,
        /// The days.
        days: DayRange,
        /// Which contracts.
        contracts: ContractFilter,
    },
    /// Symbols with a file per day: of `days`, or of every covered day.
    Summary {
        /// Whose tables.
        market: Market,
        /// The days; `None`: every day covered, through "complete through".
        days: Option<DayRange>,
    },
    /// Every symbol folder the database knows.
    Symbols {
        /// Whose tables.
        market: Market,
    },
    /// Listings, gaps, delistings and relistings.
    Events {
        /// Whose tables.
        market: Market,
        /// Which events.
        filter: EventFilter,
        /// When a life has ended (see `store::lives`).
        delisted_after: u32,
    },
    /// The universe of a day.
    Universe {
        /// Whose tables.
        market: Market,
        /// The question, with its defaults (`UniverseQuery::new`).
        query: UniverseQuery,
    },
    /// The universe of every rebalance date of a period, as one long table.
    UniversePanel {
        /// Whose tables.
        market: Market,
        /// The universe question of each date, the period and its rebalance dates.
        query: PanelQuery,
    },
    /// Every folder's lives (or one symbol's), as rows.
    Lives {
        /// Whose tables.
        market: Market,
        /// One symbol folder (resolved as `timeline` resolves it); `None`: every folder.
        symbol: Option<String>,
        /// When a life has ended (see `store::lives`).
        delisted_after: u32,
    },
}

/// A universe question's date in its market's history, its counts within their bounds and
/// its quote a name: what a universe and a panel both check.
fn check_universe(market: Market, query: &UniverseQuery) -> Result<(), QuestionError> {
    market.check_day(query.date)?;
    if let Some(quote) = &query.quote {
        check_symbol(quote)?;
    }
    // Spot pairs are quoted in ~40 assets: a volume in BTC and one in USDT are not one scale,
    // so an order by quote volume is only true within one quote asset.
    if market == Market::Spot && query.by == RankBy::QuoteVolume && query.quote.is_none() {
        return Err(QuestionError::SpotWithoutQuote);
    }
    within("min_age", query.min_age, MIN_AGE_DAYS)?;
    within("recent", query.recent, UNIVERSE_DAYS)?;
    within("window", query.window, UNIVERSE_DAYS)?;
    if let Some(top) = query.top {
        within("top", top, TOP_MEMBERS)?;
    }
    within("delisted_after", query.delisted_after, UNIVERSE_DAYS)
}

/// What `count` may be as `name`, or the library's sentence.
fn within(
    name: &'static str,
    value: u32,
    bounds: RangeInclusive<u32>,
) -> Result<(), QuestionError> {
    if bounds.contains(&value) {
        Ok(())
    } else {
        Err(QuestionError::OutOfRange {
            name,
            value,
            bounds,
        })
    }
}

impl Question {
    /// Symbols of `contracts` with a file on `date`, a day of the market's history.
    pub fn snapshot(
        market: Market,
        date: NaiveDate,
        contracts: ContractFilter,
    ) -> Result<Question, QuestionError> {
        Ok(Question::Snapshot {
            market,
            date: market.check_day(date)?,
            contracts,
        })
    }

    /// `symbol`'s timeline; its name must be one a symbol folder can have.
    pub fn timeline(market: Market, symbol: &str) -> Result<Question, QuestionError> {
        check_symbol(symbol)?;
        Ok(Question::Timeline {
            market,
            symbol: symbol.to_string(),
        })
    }

    /// Every symbol of `contracts` with a file in `start ..= end` (`start` not after `end`,
    /// nor before the market's first day).
    pub fn range(
        market: Market,
        start: NaiveDate,
        end: NaiveDate,
        contracts: ContractFilter,
    ) -> Result<Question, QuestionError> {
        market.check_day(start)?;
        Ok(Question::Range {
            market,
            days: DayRange::new(start, end)?,
            contracts,
        })
    }

    /// Counts per day of `start ..= end`, or of every covered day when both are `None`. One
    /// bound alone is the front end's to refuse (each says so in its own terms); here it
    /// asks for every day, as none does.
    pub fn summary(
        market: Market,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
    ) -> Result<Question, QuestionError> {
        let days = match (start, end) {
            (Some(start), Some(end)) => Some(DayRange::new(market.check_day(start)?, end)?),
            _ => None,
        };
        Ok(Question::Summary { market, days })
    }

    /// Every symbol folder.
    pub fn symbols(market: Market) -> Question {
        Question::Symbols { market }
    }

    /// The events `filter` admits, a life ending after `delisted_after` days (in
    /// [`UNIVERSE_DAYS`]); `since` not after `until`, `symbol` a symbol name.
    pub fn events(
        market: Market,
        filter: EventFilter,
        delisted_after: u32,
    ) -> Result<Question, QuestionError> {
        if let (Some(since), Some(until)) = (filter.since, filter.until) {
            crate::facts::check_order(since, until)?;
        }
        if let Some(symbol) = &filter.symbol {
            check_symbol(symbol)?;
        }
        within("delisted_after", delisted_after, UNIVERSE_DAYS)?;
        Ok(Question::Events {
            market,
            filter,
            delisted_after,
        })
    }

    /// The universe `query` asks for, its counts within their bounds and its quote a name.
    pub fn universe(market: Market, query: UniverseQuery) -> Result<Question, QuestionError> {
        check_universe(market, &query)?;
        Ok(Question::Universe { market, query })
    }

    /// The universe `query` asks for on every rebalance date (`every`) from `query.date`
    /// through `until`: `universe`'s checks, the period in order, at most [`PANEL_DATES`]
    /// dates.
    pub fn universe_panel(
        market: Market,
        query: UniverseQuery,
        until: NaiveDate,
        every: Every,
    ) -> Result<Question, QuestionError> {
        check_universe(market, &query)?;
        crate::facts::check_order(query.date, until)?;
        if let Every::Days(n) = every {
            within("every", n, UNIVERSE_DAYS)?;
        }
        let query = PanelQuery {
            universe: query,
            until,
            every,
        };
        let dates = query.dates().len();
        if dates > PANEL_DATES {
            return Err(QuestionError::TooManyDates {
                start: query.universe.date,
                end: until,
                every,
                dates,
                max: PANEL_DATES,
            });
        }
        Ok(Question::UniversePanel { market, query })
    }

    /// Every folder's lives, or `symbol`'s (a symbol name), a life ending after
    /// `delisted_after` days (in [`UNIVERSE_DAYS`]).
    pub fn lives(
        market: Market,
        symbol: Option<&str>,
        delisted_after: u32,
    ) -> Result<Question, QuestionError> {
        if let Some(symbol) = symbol {
            check_symbol(symbol)?;
        }
        within("delisted_after", delisted_after, UNIVERSE_DAYS)?;
        Ok(Question::Lives {
            market,
            symbol: symbol.map(str::to_string),
            delisted_after,
        })
    }

    /// The market whose tables answer it.
    pub fn market(&self) -> Market {
        match self {
            Question::Snapshot { market, .. }
            | Question::Timeline { market, .. }
            | Question::Range { market, .. }
            | Question::Summary { market, .. }
            | Question::Symbols { market }
            | Question::Events { market, .. }
            | Question::Universe { market, .. }
            | Question::UniversePanel { market, .. }
            | Question::Lives { market, .. } => *market,
        }
    }

    /// The bytes the question holds outside itself (its texts), each block as glibc's malloc
    /// lays it out (the size plus 8, rounded up to 16, at least 32): what a cache keeping it
    /// must count besides `size_of::<Question>()`.
    pub fn heap_bytes(&self) -> usize {
        let text = |s: &String| match s.capacity() {
            0 => 0,
            n => (n + 8).div_ceil(16).max(2) * 16,
        };
        match self {
            Question::Timeline { symbol, .. } => text(symbol),
            Question::Events { filter, .. } => filter.symbol.as_ref().map_or(0, text),
            Question::Universe { query, .. } => query.quote.as_ref().map_or(0, text),
            Question::UniversePanel { query, .. } => query.universe.quote.as_ref().map_or(0, text),
            Question::Lives { symbol, .. } => symbol.as_ref().map_or(0, text),
            Question::Snapshot { .. }
            | Question::Range { .. }
            | Question::Summary { .. }
            | Question::Symbols { .. } => 0,
        }
    }
}

/// The rows a question gives, as the library types them.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `Question::Snapshot`'s.
    Snapshot(Vec<SnapshotRow>),
    /// `Question::Timeline`'s: the symbol's days, its events by the default rule, its 1d rows.
    Timeline {
        /// The stored days and what is known of the folder.
        timeline: Timeline,
        /// Its events, by `store::DEFAULT_DELISTED_AFTER`.
        events: Vec<Event>,
        /// Its 1d rows from the first day of trading through today.
        trading: Vec<DailyTrading>,
    },
    /// `Question::Range`'s.
    Range(Vec<RangeRow>),
    /// `Question::Summary`'s; empty while no day has a file.
    Summary(Vec<DayCount>),
    /// `Question::Symbols`'s.
    Symbols(Vec<SymbolRecord>),
    /// `Question::Events`'s.
    Events(Vec<Event>),
    /// `Question::Universe`'s, by rank.
    Universe(Vec<Member>),
    /// `Question::UniversePanel`'s, by date then rank.
    UniversePanel(Vec<PanelRow>),
    /// `Question::Lives`'s, by symbol then life.
    Lives(Vec<LifeRow>),
}

/// The answer to `question` from the read index file beside the database at `db`
/// (`store::IndexFile`, ADR 0022), without opening DuckDB: for a snapshot, a range or the
/// symbols, when the index describes the file `db` names now and holds the answer exactly (a
/// day not checked through is not answered: its refusal is the database's to say). `None`
/// otherwise, and the caller asks the database.
pub(crate) fn answer_from_index_file(db: &std::path::Path, question: &Question) -> Option<Answer> {
    let index = || crate::store::IndexFile::open(db, question.market());
    match question {
        Question::Snapshot {
            date, contracts, ..
        } => index()?.snapshot(*date, *contracts).map(Answer::Snapshot),
        Question::Range {
            days, contracts, ..
        } => index()?
            .range(days.first(), days.last(), *contracts)
            .map(Answer::Range),
        Question::Symbols { .. } => index()?.symbols().map(Answer::Symbols),
        _ => None,
    }
}

impl crate::store::Database {
    /// The one place a question is answered.
    ///
    /// A question about another market than the handle's is refused
    /// (`StoreError::OtherMarket`), not answered by switching: `select_market` needs `&mut`
    /// and forgets what the handle read of its market, while `serve` shares its handles
    /// read-only between requests and the Python package holds one per market opened. A
    /// front end that owns its handle selects the question's market before asking.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use binance_futures_availability::facts::Market;
    /// use binance_futures_availability::question::{Answer, Question};
    /// use binance_futures_availability::store::Database;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("availability.duckdb");
    /// Database::open_for_write(&path)?;
    /// let db = Database::open(&path)?;
    /// assert_eq!(db.answer(&Question::symbols(Market::Um))?, Answer::Symbols(vec![]));
    /// assert!(db.answer(&Question::symbols(Market::Cm)).is_err());
    /// # Ok(()) }
    /// ```
    pub fn answer(&self, question: &Question) -> Result<Answer, StoreError> {
        if question.market() != self.market() {
            return Err(StoreError::OtherMarket {
                asked: question.market(),
                handle: self.market(),
            });
        }
        Ok(match question {
            Question::Snapshot {
                date, contracts, ..
            } => Answer::Snapshot(self.snapshot(*date, *contracts)?),
            Question::Timeline { symbol, .. } => {
                let timeline = self.timeline(symbol)?;
                let name = timeline.symbol.symbol.clone();
                let filter = EventFilter {
                    symbol: Some(name.clone()),
                    ..EventFilter::default()
                };
                let events = self.events(&filter, crate::store::DEFAULT_DELISTED_AFTER)?;
                let first = self.market().first_day();
                let trading = self.trading(&name, first, Utc::now().date_naive())?;
                Answer::Timeline {
                    timeline,
                    events,
                    trading,
                }
            }
            Question::Range {
                days, contracts, ..
            } => Answer::Range(self.range(days.first(), days.last(), *contracts)?),
            Question::Summary { days, .. } => {
                let days = match days {
                    Some(days) => Some(*days),
                    None => self.summary_days()?,
                };
                Answer::Summary(match days {
                    Some(days) => self.daily_counts(days.first(), days.last())?,
                    // A database with no file yet: nothing to count.
                    None => Vec::new(),
                })
            }
            Question::Symbols { .. } => Answer::Symbols(self.symbols()?),
            Question::Events {
                filter,
                delisted_after,
                ..
            } => Answer::Events(self.events(filter, *delisted_after)?),
            Question::Universe { query, .. } => Answer::Universe(self.universe(query)?),
            Question::UniversePanel { query, .. } => {
                Answer::UniversePanel(self.universe_panel(query)?)
            }
            Question::Lives {
                symbol,
                delisted_after,
                ..
            } => Answer::Lives(self.life_rows(symbol.as_deref(), *delisted_after)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn constructors_refuse_with_the_library_sentences() {
        let um = Market::Um;
        let reversed = Question::range(um, d("2024-01-02"), d("2024-01-01"), ContractFilter::All);
        assert_eq!(
            reversed.unwrap_err().to_string(),
            "the start 2024-01-02 is after the end 2024-01-01"
        );
        assert!(matches!(
            Question::timeline(um, "../etc"),
            Err(QuestionError::Symbol(BadSymbol::Character { .. }))
        ));
        let mut q = UniverseQuery::new(d("2024-01-15"));
        q.window = 0;
        assert_eq!(
            Question::universe(um, q.clone()).unwrap_err().to_string(),
            "window is 0, outside 1 to 3650"
        );
        q.window = 30;
        q.top = Some(0);
        assert_eq!(
            Question::universe(um, q.clone()).unwrap_err().to_string(),
            "top is 0, outside 1 to 4294967295"
        );
        q.top = None;
        q.min_age = 3651;
        assert_eq!(
            Question::universe(um, q.clone()).unwrap_err().to_string(),
            "min_age is 3651, outside 0 to 3650"
        );
        q.min_age = 0;
        q.quote = Some("US DT".into());
        assert!(Question::universe(um, q).is_err());
        assert_eq!(
            Question::events(um, EventFilter::default(), 0)
                .unwrap_err()
                .to_string(),
            "delisted_after is 0, outside 1 to 3650"
        );
        // One bound alone asks for every day, as none does (front ends refuse it first).
        assert_eq!(
            Question::summary(um, Some(d("2024-01-01")), None).unwrap(),
            Question::summary(um, None, None).unwrap()
        );
    }

    /// A panel takes the universe's checks, refuses a reversed period, and at most
    /// `PANEL_DATES` rebalance dates: ten years of days, every daily panel of the archive.
    #[test]
    fn a_panel_is_refused_with_the_library_sentences() {
        let um = Market::Um;
        let q = UniverseQuery::new(d("2020-01-01"));
        let daily = Question::universe_panel(um, q.clone(), d("2026-11-30"), Every::DAILY);
        assert!(daily.is_ok());
        assert_eq!(
            Question::universe_panel(um, q.clone(), d("2019-12-31"), Every::DAILY)
                .unwrap_err()
                .to_string(),
            "the start 2020-01-01 is after the end 2019-12-31"
        );
        let mut bad = q.clone();
        bad.window = 0;
        assert_eq!(
            Question::universe_panel(um, bad, d("2020-02-01"), Every::Month)
                .unwrap_err()
                .to_string(),
            "window is 0, outside 1 to 3650"
        );
        assert_eq!(
            Question::universe_panel(um, q.clone(), d("2020-02-01"), Every::Days(0))
                .unwrap_err()
                .to_string(),
            "every is 0, outside 1 to 3650"
        );
        let long = Question::universe_panel(um, q.clone(), d("2030-12-31"), Every::DAILY);
        assert_eq!(
            long.unwrap_err().to_string(),
            "the panel from 2020-01-01 to 2030-12-31 every 1d has 4018 rebalance dates, more \
             than the 3660 a panel may have (ten years of days); ask for a shorter period or \
             rebalance less often"
        );
        // The same period rebalanced weekly is fine.
        assert!(Question::universe_panel(um, q, d("2030-12-31"), Every::Week).is_ok());
    }

    #[test]
    fn a_question_counts_the_texts_it_holds() {
        let um = Market::Um;
        assert_eq!(Question::symbols(um).heap_bytes(), 0);
        // 7 bytes: one 32-byte block.
        assert_eq!(Question::timeline(um, "BTCUSDT").unwrap().heap_bytes(), 32);
        let mut q = UniverseQuery::new(d("2024-01-15"));
        q.quote = Some("X".repeat(40));
        assert_eq!(Question::universe(um, q).unwrap().heap_bytes(), 48);
        assert_eq!(
            Question::snapshot(um, d("2024-01-15"), ContractFilter::All)
                .unwrap()
                .market(),
            um
        );
    }
}
