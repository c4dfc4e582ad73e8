//! Checks a database against itself and against Binance's exchangeInfo:
//!
//! - uniqueness: no day of a symbol stored twice (the writer's invariant; nothing enforces it in
//!   the file, ADR 0010);
//! - continuity: every day of every symbol's life (first to last file) has a row, a file or a
//!   verified absence, and every day of the covered range has files;
//! - completeness: no day whose count of symbols with a file drops sharply against its
//!   neighbours;
//! - integrity: every block of every table reads back with its checksum (first: on a damaged
//!   file the other checks are not run);
//! - the original's SLO: exchangeInfo's trading perpetuals against the perpetuals with a file on
//!   the latest complete day, compared like for like, as a match percentage. The checks of the
//!   file never depend on it: exchangeInfo unreachable is this check's failed line, and
//!   `--exchange-info none` skips it.
//!
//! exchangeInfo is a snapshot of now, while the archive lags by a day or two; the comparison
//! uses the latest day whose count is not still growing, and lists both differences so a human
//! can tell a listing from yesterday from a real miss.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::facts::{Contract, ContractFilter, DayRange, runs};
use crate::store::{Database, StoreError};

/// The share of agreeing symbols below which `validate` fails, as the original's SLO says.
pub const SLO_PERCENT: f64 = 95.0;

/// A day is a sharp drop when its count is below this share of its neighbours' median.
const DROP_SHARE: f64 = 0.8;
/// Neighbours on each side for the median.
const NEIGHBOURS: usize = 7;

/// Where exchangeInfo comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--exchange-info none`: no comparison (no network, no saved response).
    None,
    /// A saved response.
    File(PathBuf),
    /// An HTTP(S) URL to fetch.
    Url(String),
}

impl Source {
    /// `none` is no source, `http(s)://…` a URL, anything else a file (`./none` names a file).
    pub fn parse(text: &str) -> Source {
        if text == "none" {
            Source::None
        } else if text.starts_with("http://") || text.starts_with("https://") {
            Source::Url(text.to_string())
        } else {
            Source::File(PathBuf::from(text))
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::None => f.write_str("none"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Url(u) => f.write_str(u),
        }
    }
}

/// Why exchangeInfo could not be had. `validate` reports it as the comparison's failed line,
/// after the checks of the file, which never wait on the network.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The saved response could not be read.
    #[error("could not read exchangeInfo from {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed underneath.
        source: std::io::Error,
    },
    /// No HTTP client.
    #[error("could not set up an HTTP client to fetch exchangeInfo: {}", crate::vision::chain(.source))]
    Client {
        /// What failed underneath.
        source: reqwest::Error,
    },
    /// The request failed.
    #[error("could not fetch exchangeInfo from {url}: {}", crate::vision::chain(.source))]
    Fetch {
        /// The URL.
        url: String,
        /// What failed underneath.
        source: reqwest::Error,
    },
    /// An answer other than 200 (or 451).
    #[error("could not fetch exchangeInfo from {url}: it answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: reqwest::StatusCode,
    },
    /// Not the expected JSON.
    #[error("exchangeInfo from {source_name} is not the expected JSON: {source}")]
    Parse {
        /// The file or URL it came from.
        source_name: String,
        /// What failed underneath.
        source: serde_json::Error,
    },
}

/// The part of an exchangeInfo response the comparison needs.
#[derive(Debug, Clone, Deserialize)]
pub struct ExchangeInfo {
    /// Every symbol exchangeInfo lists.
    pub symbols: Vec<ExchangeSymbol>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
/// One symbol of exchangeInfo, as far as the comparison reads it.
pub struct ExchangeSymbol {
    /// Its name.
    pub symbol: String,
    /// The contract type, e.g. `PERPETUAL` or `CURRENT_QUARTER`; none for a spot pair.
    #[serde(default)]
    pub contract_type: Option<String>,
    /// The trading state (COIN-M's `contractStatus`); the comparison takes `TRADING` only.
    #[serde(alias = "contractStatus")]
    pub status: String,
    /// Its quote asset.
    pub quote_asset: String,
}

/// exchangeInfo, or why it could not be had.
pub enum Fetched {
    /// The response.
    Info(ExchangeInfo),
    /// HTTP 451: the endpoint refuses this country. Not a failure of the database.
    GeoBlocked {
        /// The URL that refused.
        url: String,
    },
    /// `--exchange-info none`.
    NotAsked,
}

/// Reads exchangeInfo from a file or fetches it.
pub async fn exchange_info(source: &Source) -> Result<Fetched, ValidateError> {
    let (text, name) = match source {
        Source::None => return Ok(Fetched::NotAsked),
        Source::File(path) => (
            std::fs::read_to_string(path).map_err(|e| ValidateError::Read {
                path: path.clone(),
                source: e,
            })?,
            path.display().to_string(),
        ),
        Source::Url(url) => {
            let fetch = |source| ValidateError::Fetch {
                url: url.clone(),
                source,
            };
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .user_agent(crate::config::USER_AGENT)
                .build()
                .map_err(|source| ValidateError::Client { source })?;
            let response = client.get(url).send().await.map_err(fetch)?;
            let status = response.status();
            if status.as_u16() == 451 {
                return Ok(Fetched::GeoBlocked { url: url.clone() });
            }
            if !status.is_success() {
                return Err(ValidateError::Status {
                    url: url.clone(),
                    status,
                });
            }
            (response.text().await.map_err(fetch)?, url.clone())
        }
    };
    serde_json::from_str(&text)
        .map(Fetched::Info)
        .map_err(|source| ValidateError::Parse {
            source_name: name,
            source,
        })
}

/// What the comparison with exchangeInfo has to work with.
pub enum Exchange<'a> {
    /// exchangeInfo, to compare with.
    Info(&'a ExchangeInfo),
    /// Not compared, and not a failure: why.
    Skip(Skipped),
    /// Asked for and not had (unreachable, an HTTP error, not JSON): a failure, and why.
    Unavailable(&'a ValidateError),
}

/// Why the comparison with exchangeInfo was not made, though that is no failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skipped {
    /// `--exchange-info none`.
    #[error("not compared (--exchange-info none)")]
    NotAsked,
    /// exchangeInfo refuses this country.
    #[error(
        "{url} answered HTTP 451 (not available from this country); pass a saved response with \
         --exchange-info FILE to compare"
    )]
    GeoBlocked {
        /// The URL asked.
        url: String,
    },
    /// The file's blocks did not read back: no check of its rows ran.
    #[error("the file is damaged")]
    Damaged,
    /// Nothing to compare with yet.
    #[error("the database has no day with files yet; run `update` first")]
    NoDayYet,
}

/// What `validate` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Whether every block of every table read back with its checksum; when not, no other
    /// check ran (they would read the same blocks) and their lists are empty.
    pub integrity: Integrity,
    /// Days of a symbol stored more than once (the first 20).
    pub duplicates: Vec<Duplicate>,
    /// Days of the covered range on which no symbol has a file.
    pub empty_days: Vec<NaiveDate>,
    /// Per symbol, runs of days inside its life with no row (never checked).
    pub unchecked: Vec<Unchecked>,
    /// Days whose count drops sharply against the neighbours.
    pub drops: Vec<DayDrop>,
    /// Per symbol, runs of days on which the trading facts contradict the files.
    pub trading_mismatches: Vec<TradingMismatch>,
    /// The newest day whose count is no longer growing (files arrive a day or two late).
    pub latest_complete_day: Option<NaiveDate>,
    /// The exchangeInfo comparison.
    pub slo: Slo,
}

/// The block check (`Database::read_every_block`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Integrity {
    /// Every block of `tables` tables read back.
    Read {
        /// How many tables.
        tables: usize,
    },
    /// A block does not match its checksum: the sentence saying where and what to do.
    Damaged {
        /// The sentence.
        error: String,
    },
}

#[derive(Debug, Clone, Serialize)]
/// A day of a symbol stored more than once.
pub struct Duplicate {
    /// The symbol folder.
    pub symbol: String,
    /// The day.
    pub date: NaiveDate,
    /// How many rows it has.
    pub rows: i64,
}

#[derive(Debug, Clone, Serialize)]
/// Days of a symbol's life without a row: never checked.
pub struct Unchecked {
    /// The symbol folder.
    pub symbol: String,
    /// The first day, inclusive.
    pub from: NaiveDate,
    /// The last day, inclusive.
    pub to: NaiveDate,
}

/// Days `from ..= to` of a symbol on which its 1d rows and its 1m files disagree.
#[derive(Debug, Clone, Serialize)]
pub struct TradingMismatch {
    /// The symbol folder.
    pub symbol: String,
    /// The first day, inclusive.
    pub from: NaiveDate,
    /// The last day, inclusive.
    pub to: NaiveDate,
    /// How the two disagree.
    pub kind: MismatchKind,
}

pub use crate::store::MismatchKind;

#[derive(Debug, Clone, Serialize)]
/// A day whose count of symbols with a file drops sharply against its neighbours'.
pub struct DayDrop {
    /// The day.
    pub date: NaiveDate,
    /// Symbols with a file that day.
    pub symbols: i64,
    /// The median of its neighbours' counts.
    pub neighbours_median: i64,
}

/// The exchangeInfo comparison.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Slo {
    /// Compared on the latest complete day.
    Compared {
        /// The day compared.
        day: NaiveDate,
        /// Quote assets compared (those both sides have).
        quote_assets: Vec<String>,
        /// Symbols on both sides.
        matched: usize,
        /// Trading perpetuals in exchangeInfo without a file on `day`.
        only_exchange: Vec<String>,
        /// Perpetuals with a file on `day` that exchangeInfo does not list as trading.
        only_vision: Vec<String>,
        /// Matched, as a share of the union of both sides.
        percent: f64,
    },
    /// Not compared, and not a failure.
    Skipped {
        /// Why.
        reason: String,
    },
    /// exchangeInfo was asked for and could not be had: a failure, but of the comparison only.
    Unavailable {
        /// Why exchangeInfo could not be had.
        error: String,
    },
    /// exchangeInfo and the database share no trading perpetual's quote asset (or exchangeInfo
    /// lists none): a comparison of nothing proves nothing, so this fails.
    NothingCompared {
        /// The day compared.
        day: NaiveDate,
        /// exchangeInfo's quote assets.
        exchange_quotes: Vec<String>,
        /// The database's quote assets on that day.
        vision_quotes: Vec<String>,
    },
}

impl Report {
    /// Whether every check passed: every block reads back, a complete day exists, no day
    /// stored twice, no unchecked or empty day, no sharp drop, and the SLO met or skipped
    /// (`--exchange-info none`, or refused to this country; an unreachable one fails).
    pub fn passed(&self) -> bool {
        matches!(self.integrity, Integrity::Read { .. })
            && self.latest_complete_day.is_some()
            && self.duplicates.is_empty()
            && self.empty_days.is_empty()
            && self.unchecked.is_empty()
            && self.drops.is_empty()
            && self.trading_mismatches.is_empty()
            && match &self.slo {
                Slo::Compared { percent, .. } => *percent >= SLO_PERCENT,
                Slo::Skipped { .. } => true,
                Slo::Unavailable { .. } | Slo::NothingCompared { .. } => false,
            }
    }
}

/// Runs every check; `exchange` is exchangeInfo, or why there is none.
pub fn check(db: &Database, exchange: Exchange<'_>) -> Result<Report, StoreError> {
    // First: on a damaged file every other check would stop at the same block, as an error
    // instead of a line of the report.
    let tables = match db.read_every_block() {
        Ok(tables) => tables,
        Err(e @ StoreError::Damaged { .. }) => {
            return Ok(Report {
                integrity: Integrity::Damaged {
                    error: e.to_string(),
                },
                duplicates: Vec::new(),
                empty_days: Vec::new(),
                unchecked: Vec::new(),
                drops: Vec::new(),
                trading_mismatches: Vec::new(),
                latest_complete_day: None,
                slo: Slo::Skipped {
                    reason: Skipped::Damaged.to_string(),
                },
            });
        }
        Err(e) => return Err(e),
    };
    // Every covered day, the unchecked ones too: the checks below look for the latest
    // complete day themselves.
    let counts = match db.coverage()? {
        Some(days) => db.answering_unchecked(|db| db.daily_counts(days.first(), days.last()))?,
        None => Vec::new(),
    };
    let totals: Vec<(NaiveDate, i64)> = counts
        .iter()
        .map(|c| (c.date, c.perpetual + c.delivery))
        .collect();
    let latest_complete_day = latest_complete(&totals);
    let settled_days: Vec<(NaiveDate, i64)> = totals
        .iter()
        .copied()
        .filter(|(d, _)| latest_complete_day.is_some_and(|l| *d <= l))
        .collect();
    let empty_days = settled_days
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(d, _)| *d)
        .collect();
    let drops = sharp_drops(&settled_days);
    let unchecked = runs(
        db.unchecked_days()?
            .into_iter()
            .map(|d| (d.symbol, DayRange::day(d.date))),
    )
    .into_iter()
    .map(|run| Unchecked {
        symbol: run.key,
        from: run.days.first(),
        to: run.days.last(),
    })
    .collect();
    let trading_mismatches = runs(
        db.trading_mismatches()?
            .into_iter()
            .map(|m| ((m.symbol, m.kind), DayRange::day(m.date))),
    )
    .into_iter()
    .map(|run| TradingMismatch {
        symbol: run.key.0,
        from: run.days.first(),
        to: run.days.last(),
        kind: run.key.1,
    })
    .collect();
    let slo = match (exchange, latest_complete_day) {
        (Exchange::Skip(why), _) => Slo::Skipped {
            reason: why.to_string(),
        },
        (Exchange::Unavailable(error), _) => Slo::Unavailable {
            error: error.to_string(),
        },
        (Exchange::Info(_), None) => Slo::Skipped {
            reason: Skipped::NoDayYet.to_string(),
        },
        (Exchange::Info(info), Some(day)) => compare(db, info, day)?,
    };
    let duplicates = db
        .duplicate_days(20)?
        .into_iter()
        .map(|d| Duplicate {
            symbol: d.symbol,
            date: d.date,
            rows: d.rows,
        })
        .collect();
    Ok(Report {
        integrity: Integrity::Read { tables },
        duplicates,
        empty_days,
        unchecked,
        drops,
        trading_mismatches,
        latest_complete_day,
        slo,
    })
}

/// exchangeInfo's trading perpetuals against the unsettled perpetual folders with a file on
/// `day`, both limited to the quote assets both sides have.
fn compare(db: &Database, info: &ExchangeInfo, day: NaiveDate) -> Result<Slo, StoreError> {
    // A spot pair has no contract type and no expiry: it is the "perpetual" of its market
    // (as `SymbolClass` files it), so every trading pair is compared.
    let perpetual = |s: &ExchangeSymbol| match &s.contract_type {
        Some(kind) => kind.ends_with("PERPETUAL"),
        None => db.market() == crate::facts::Market::Spot,
    };
    let trading: Vec<&ExchangeSymbol> = info
        .symbols
        .iter()
        .filter(|s| s.status == "TRADING" && perpetual(s))
        .collect();
    // `day` is the latest day that looks complete by its counts, checked or not.
    let on_day: BTreeSet<String> = db
        .answering_unchecked(|db| db.snapshot(day, ContractFilter::Perpetual))?
        .into_iter()
        .map(|r| r.symbol)
        .collect();
    let records = db.symbols()?;
    let vision: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r.contract == Contract::Perpetual && !r.settled && on_day.contains(&r.symbol))
        .filter_map(|r| Some((r.symbol.as_str(), r.quote_asset.as_deref()?)))
        .collect();
    let exchange_quotes: BTreeSet<&str> = trading.iter().map(|s| s.quote_asset.as_str()).collect();
    let vision_quotes: BTreeSet<&str> = vision.iter().map(|(_, q)| *q).collect();
    let quotes: BTreeSet<&str> = exchange_quotes
        .intersection(&vision_quotes)
        .copied()
        .collect();
    let e: BTreeSet<&str> = trading
        .iter()
        .filter(|s| quotes.contains(s.quote_asset.as_str()))
        .map(|s| s.symbol.as_str())
        .collect();
    let v: BTreeSet<&str> = vision
        .iter()
        .filter(|(_, q)| quotes.contains(q))
        .map(|(s, _)| *s)
        .collect();
    if e.is_empty() {
        return Ok(Slo::NothingCompared {
            day,
            exchange_quotes: exchange_quotes.iter().map(|q| q.to_string()).collect(),
            vision_quotes: vision_quotes.iter().map(|q| q.to_string()).collect(),
        });
    }
    let matched = e.intersection(&v).count();
    let union = e.union(&v).count();
    Ok(Slo::Compared {
        day,
        quote_assets: quotes.iter().map(|q| q.to_string()).collect(),
        matched,
        only_exchange: e.difference(&v).map(|s| s.to_string()).collect(),
        only_vision: v.difference(&e).map(|s| s.to_string()).collect(),
        percent: if union == 0 {
            100.0
        } else {
            matched as f64 * 100.0 / union as f64
        },
    })
}

/// The newest day whose count reached its predecessors': the days after it are still filling.
fn latest_complete(totals: &[(NaiveDate, i64)]) -> Option<NaiveDate> {
    (0..totals.len()).rev().find_map(|i| {
        let before: Vec<i64> = totals[i.saturating_sub(NEIGHBOURS)..i]
            .iter()
            .map(|t| t.1)
            .collect();
        let reference = median(&before).unwrap_or(0);
        (totals[i].1 > 0 && totals[i].1 as f64 >= DROP_SHARE * reference as f64)
            .then_some(totals[i].0)
    })
}

/// Dips: days below `DROP_SHARE` of the median of the days before them and of the days after
/// them. A lasting step (a wave of listings or delistings) is not a dip, nor is the first week.
fn sharp_drops(totals: &[(NaiveDate, i64)]) -> Vec<DayDrop> {
    let counts: Vec<i64> = totals.iter().map(|t| t.1).collect();
    (0..totals.len())
        .filter_map(|i| {
            let before = median(&counts[i.saturating_sub(NEIGHBOURS)..i])?;
            let after = median(&counts[i + 1..(i + 1 + NEIGHBOURS).min(counts.len())])?;
            let m = before.min(after);
            // Small universes (the first weeks) move by single symbols; those are not drops.
            (m >= 10 && (counts[i] as f64) < DROP_SHARE * m as f64).then(|| DayDrop {
                date: totals[i].0,
                symbols: counts[i],
                neighbours_median: m,
            })
        })
        .collect()
}

fn median(values: &[i64]) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(counts: &[i64]) -> Vec<(NaiveDate, i64)> {
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| (start + chrono::Duration::days(i as i64), *n))
            .collect()
    }

    #[test]
    fn a_day_far_below_its_neighbours_is_a_drop_and_growth_is_not() {
        let mut counts = vec![100; 20];
        counts[10] = 60;
        counts[15] = 95;
        let drops = sharp_drops(&days(&counts));
        assert_eq!(drops.len(), 1);
        assert_eq!(drops[0].symbols, 60);
        let growing: Vec<i64> = (0..30).map(|i| 10 + i * 3).collect();
        assert!(sharp_drops(&days(&growing)).is_empty());
    }

    #[test]
    fn the_latest_complete_day_skips_days_still_filling() {
        let mut counts = vec![100; 10];
        counts.extend([40, 0]);
        let t = days(&counts);
        assert_eq!(latest_complete(&t), Some(t[9].0));
    }
}
