//! The catalog's questions, as values: what `catalog datasets|symbols|files|gaps|lag|changes|
//! strays`, serve's `/v1/catalog/…` and Python's `open_catalog()` turn their own syntax into, and
//! [`Catalog::answer`], the one place one is answered. As [`Question`](super::Question) is for
//! the availability database.
//!
//! A [`CatalogQuestion`] holds values already checked by its constructors, with the library's
//! one sentence for each refusal ([`CatalogQuestionError`]): a period of the other partition or
//! not a period at all ([`PeriodError`]), periods or days out of order, a symbol folder's name
//! ([`BadSymbol`]). Front ends check before any file is opened (the command line exits 2).
//! A dataset's files and the history's changes are their own questions ([`FilesQuestion`],
//! [`ChangesQuestion`]): their answers are streamed.
//!
//! What it must not know: clap, axum, pyo3, SQL (that is `store::catalog`), rendering.

use chrono::NaiveDate;

use crate::facts::{DayError, Market, Month, Partition, Span, check_order};
use crate::store::{
    Catalog, CatalogGap, ChangeKind, ChangeQuery, DatasetSummary, FileQuery, Lag, StoreError,
    Stray, SymbolSummary,
};
use crate::vision::{BadSymbol, Dataset, check_symbol};

/// Why a catalog question cannot be asked, in the library's sentences.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogQuestionError {
    /// A period that is not one, or not of the dataset's partition, or periods out of order.
    #[error(transparent)]
    Period(#[from] PeriodError),
    /// Days out of order.
    #[error(transparent)]
    Day(#[from] DayError),
    /// A name no symbol folder can have.
    #[error(transparent)]
    Symbol(#[from] BadSymbol),
    /// A kind of change that is none.
    #[error("{text:?} is not a kind of change; use one of added, replaced, removed")]
    Kind {
        /// The text given (its first 40 characters).
        text: String,
    },
}

/// Reads a kind of change by its name (`added`, `replaced`, `removed`).
pub fn parse_kind(text: &str) -> Result<ChangeKind, CatalogQuestionError> {
    ChangeKind::parse(text).ok_or_else(|| CatalogQuestionError::Kind {
        text: text.chars().take(40).collect(),
    })
}

/// A period a files question cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Neither a day nor a month.
    #[error(
        "{text:?} is not a period: a day YYYY-MM-DD (of a daily dataset) or a month YYYY-MM \
         (of a monthly dataset)"
    )]
    Malformed {
        /// The text given (its first 40 characters).
        text: String,
    },
    /// A day for a monthly dataset, or a month for a daily one.
    #[error(
        "{bound} {period} is a {given}, but {dataset} has one file a {wanted}: give a \
         {wanted}, {form}"
    )]
    WrongPartition {
        /// Which bound: `since` or `until`.
        bound: &'static str,
        /// The period given.
        period: Span,
        /// What it is: "day" or "month".
        given: &'static str,
        /// The dataset.
        dataset: Dataset,
        /// What the dataset's periods are: "day" or "month".
        wanted: &'static str,
        /// How one is written.
        form: &'static str,
    },
    /// `since` after `until`.
    #[error("since {since} is after until {until}: no period is in between")]
    Reversed {
        /// The first period asked for.
        since: Span,
        /// The last.
        until: Span,
    },
}

/// Reads a period as the bucket's file names write it: a day `YYYY-MM-DD` or a month
/// `YYYY-MM`. Which one a dataset takes is checked by [`FilesQuestion::new`].
pub fn parse_period(text: &str) -> Result<Span, PeriodError> {
    let malformed = || PeriodError::Malformed {
        text: text.chars().take(40).collect(),
    };
    let day = |text: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|d| d.format("%Y-%m-%d").to_string() == text)
    };
    match text.len() {
        10 => day(text).map(Span::Day).ok_or_else(malformed),
        7 => day(&format!("{text}-01"))
            .map(|d| Span::Month(Month::of(d)))
            .ok_or_else(malformed),
        _ => Err(malformed()),
    }
}

/// A calendar day as the catalog's questions take it: exactly `YYYY-MM-DD`, any day (the
/// catalog's dates are the bucket's, not the futures market's, so no range is held to).
/// `catalog changes --since/--until` and Python's `changes(since=…, until=…)` read it here.
pub fn calendar_day(text: &str) -> Result<NaiveDate, DayError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| d.format("%Y-%m-%d").to_string() == text)
        .ok_or_else(|| DayError::Malformed {
            text: text.to_string(),
        })
}

/// A question about the catalog, its values checked (see the constructors).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CatalogQuestion {
    /// Every dataset with files (of one market).
    Datasets {
        /// Only this market's datasets.
        market: Option<Market>,
    },
    /// Every symbol folder of a dataset with files.
    Symbols {
        /// The dataset.
        dataset: Dataset,
    },
    /// The runs of periods missing inside each symbol folder's life.
    Gaps {
        /// The dataset.
        dataset: Dataset,
        /// Only this symbol folder.
        symbol: Option<String>,
    },
    /// How long after its period ends a dataset's file is first seen.
    Lag {
        /// The dataset.
        dataset: Dataset,
    },
    /// Keys outside the layout.
    Strays,
}

impl CatalogQuestion {
    /// The gaps of a dataset, of one symbol folder if given.
    pub fn gaps(
        dataset: Dataset,
        symbol: Option<&str>,
    ) -> Result<CatalogQuestion, CatalogQuestionError> {
        Ok(CatalogQuestion::Gaps {
            dataset,
            symbol: symbol_name(symbol)?,
        })
    }

    /// The bytes of text it holds beyond its own size (a cache counts them).
    pub fn heap_bytes(&self) -> usize {
        match self {
            CatalogQuestion::Gaps { symbol, .. } => symbol.as_ref().map_or(0, String::capacity),
            _ => 0,
        }
    }
}

/// Which files of a dataset, by symbol then period: its own question, because its answer is
/// streamed — [`Catalog::file_listing`] gives the totals and the folders before the first file
/// is read, `Catalog::each_file` then reads them in bounded memory, so a dataset of millions
/// is never held whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FilesQuestion {
    dataset: Dataset,
    symbol: Option<String>,
    since: Option<Span>,
    until: Option<Span>,
}

impl FilesQuestion {
    /// A dataset's files, `symbol` a folder name and `since`/`until` periods of the dataset's
    /// partition in order.
    pub fn new(
        dataset: Dataset,
        symbol: Option<&str>,
        since: Option<Span>,
        until: Option<Span>,
    ) -> Result<FilesQuestion, CatalogQuestionError> {
        let unit = |partition: Partition| match partition {
            Partition::Daily => ("day", "YYYY-MM-DD"),
            Partition::Monthly => ("month", "YYYY-MM"),
        };
        for (bound, given) in [("since", since), ("until", until)] {
            let Some(given) = given else { continue };
            if given.partition() != dataset.partition() {
                let (wanted, form) = unit(dataset.partition());
                return Err(PeriodError::WrongPartition {
                    bound,
                    period: given,
                    given: unit(given.partition()).0,
                    dataset,
                    wanted,
                    form,
                }
                .into());
            }
        }
        if let (Some(since), Some(until)) = (since, until)
            && since > until
        {
            return Err(PeriodError::Reversed { since, until }.into());
        }
        Ok(FilesQuestion {
            dataset,
            symbol: symbol_name(symbol)?,
            since,
            until,
        })
    }

    /// The dataset.
    pub fn dataset(&self) -> Dataset {
        self.dataset
    }

    /// What the store reads.
    pub fn query(&self) -> FileQuery<'_> {
        FileQuery {
            dataset: self.dataset,
            symbol: self.symbol.as_deref(),
            since: self.since,
            until: self.until,
        }
    }

    /// The bytes of text it holds beyond its own size (a cache counts them).
    pub fn heap_bytes(&self) -> usize {
        self.symbol.as_ref().map_or(0, String::capacity)
    }
}

/// Which changes of the catalog's history, by seen then key: its own question, because its
/// answer is streamed — [`Catalog::change_listing`] counts them before the first is read,
/// `Catalog::each_change` then reads them in bounded memory, so a history of years is never
/// held whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChangesQuestion(ChangeQuery);

impl ChangesQuestion {
    /// The changes seen from `since` through `until` (UTC days, in order), of `dataset`'s files
    /// and of `kind` if given.
    pub fn new(
        since: Option<NaiveDate>,
        until: Option<NaiveDate>,
        dataset: Option<Dataset>,
        kind: Option<ChangeKind>,
    ) -> Result<ChangesQuestion, CatalogQuestionError> {
        if let (Some(since), Some(until)) = (since, until) {
            check_order(since, until)?;
        }
        Ok(ChangesQuestion(ChangeQuery {
            since,
            until,
            dataset,
            kind,
        }))
    }

    /// What the store reads.
    pub fn query(&self) -> &ChangeQuery {
        &self.0
    }
}

fn symbol_name(symbol: Option<&str>) -> Result<Option<String>, BadSymbol> {
    symbol
        .map(|s| check_symbol(s).map(|()| s.to_string()))
        .transpose()
}

/// The rows of a catalog question's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogAnswer {
    /// Datasets, by name.
    Datasets(Vec<DatasetSummary>),
    /// A dataset's symbol folders, by name.
    Symbols {
        /// The dataset asked about.
        dataset: Dataset,
        /// Its symbol folders.
        rows: Vec<SymbolSummary>,
    },
    /// A dataset's gaps, by symbol then period.
    Gaps {
        /// The dataset asked about.
        dataset: Dataset,
        /// Its gaps.
        rows: Vec<CatalogGap>,
    },
    /// A dataset's lag: one row of percentiles.
    Lag {
        /// The dataset asked about.
        dataset: Dataset,
        /// Its lag.
        lag: Lag,
    },
    /// Strays, by key.
    Strays(Vec<Stray>),
}

impl Catalog {
    /// The one place a catalog question is answered.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use binance_futures_availability::question::catalog::{CatalogAnswer, CatalogQuestion};
    /// use binance_futures_availability::store::Catalog;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("catalog.duckdb");
    /// drop(Catalog::open_for_write(&path)?);
    /// let catalog = Catalog::open(&path)?;
    /// let q = CatalogQuestion::Datasets { market: None };
    /// assert_eq!(catalog.answer(&q)?, CatalogAnswer::Datasets(vec![]));
    /// # Ok(()) }
    /// ```
    pub fn answer(&self, question: &CatalogQuestion) -> Result<CatalogAnswer, StoreError> {
        Ok(match question {
            CatalogQuestion::Datasets { market } => {
                let mut rows = self.datasets()?;
                rows.retain(|r| market.is_none_or(|m| r.dataset.market() == m));
                CatalogAnswer::Datasets(rows)
            }
            CatalogQuestion::Symbols { dataset } => CatalogAnswer::Symbols {
                dataset: *dataset,
                rows: self.symbols(*dataset)?,
            },
            CatalogQuestion::Gaps { dataset, symbol } => CatalogAnswer::Gaps {
                dataset: *dataset,
                rows: self.gaps(*dataset, symbol.as_deref())?,
            },
            CatalogQuestion::Lag { dataset } => CatalogAnswer::Lag {
                dataset: *dataset,
                lag: self.lag(*dataset)?,
            },
            CatalogQuestion::Strays => CatalogAnswer::Strays(self.strays()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(s: &str) -> Dataset {
        s.parse().unwrap()
    }

    #[test]
    fn constructors_refuse_with_the_library_sentences() {
        let daily = ds("um/daily/klines/1m");
        let month = parse_period("2024-01").unwrap();
        assert_eq!(
            FilesQuestion::new(daily, None, Some(month), None)
                .unwrap_err()
                .to_string(),
            "since 2024-01 is a month, but um/daily/klines/1m has one file a day: give a day, \
             YYYY-MM-DD"
        );
        let (a, b) = (
            parse_period("2024-02-01").unwrap(),
            parse_period("2024-01-31").unwrap(),
        );
        assert_eq!(
            FilesQuestion::new(daily, None, Some(a), Some(b))
                .unwrap_err()
                .to_string(),
            "since 2024-02-01 is after until 2024-01-31: no period is in between"
        );
        assert!(matches!(
            CatalogQuestion::gaps(daily, Some("../x")),
            Err(CatalogQuestionError::Symbol(_))
        ));
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            ChangesQuestion::new(Some(d("2024-01-02")), Some(d("2024-01-01")), None, None)
                .unwrap_err()
                .to_string(),
            "the start 2024-01-02 is after the end 2024-01-01"
        );
        for bad in [
            "2024-1",
            "2024-01-1",
            "2024-13",
            "2024-02-30",
            "",
            "2024-01-01T00",
        ] {
            assert!(
                matches!(parse_period(bad), Err(PeriodError::Malformed { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            parse_period("2024-02-29").unwrap().to_string(),
            "2024-02-29"
        );
    }
}
