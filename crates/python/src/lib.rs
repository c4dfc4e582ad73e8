//! `binance_futures_availability._native`: the Rust core seen from Python. The pure-Python
//! package around it (`python/binance_futures_availability`) holds the original tool's classes
//! and the names users import; this module holds everything that touches the database.
//!
//! What it is for: turning Python arguments into the library's types (through the library's
//! own checks, so a bad date gets the CLI's sentence), running the library's queries with the
//! GIL released, and handing the rows back as Arrow streams (`__arrow_c_stream__`) or Python
//! objects. What it must not know: SQL, the schema, how a query is answered — that is
//! `store::Database`, exactly as the CLI uses it, so Python and the CLI cannot disagree.
//!
//! Errors: input the library refuses → `ValueError` (a number of any size or sign included);
//! no database or catalog → `FileNotFoundError`; a day after "complete through" → `NotCheckedError`;
//! everything else → `AvailabilityError` (a `RuntimeError`, `NotCheckedError`'s base). The
//! message is the library's sentence, the same the CLI prints.

mod catalog;

use std::ffi::CString;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use binance_futures_availability::collect::{self, CollectError, Goal, Progress};
use binance_futures_availability::columns::{Cell, Column, Row, Value};
use binance_futures_availability::config;
use binance_futures_availability::facts::DailyTrading;
use binance_futures_availability::facts::{self, ContractFilter, DayError, Market};
use binance_futures_availability::question::{
    Answer, MIN_AGE_DAYS, Question, QuestionError, TOP_MEMBERS,
};
use binance_futures_availability::store::{
    self, DEFAULT_DELISTED_AFTER, DayCount, Event, EventFilter, EventKind, Member, RangeRow,
    RankBy, SnapshotRow, StoreError, TimelineDay, UNIVERSE_DAYS, UniverseQuery,
};
use binance_futures_availability::vision::{
    ClientConfig, Endpoints, RetryPolicy, SetupError, VisionClient, check_symbol,
};
use chrono::{NaiveDate, Utc};
use duckdb::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    RecordBatchIterator, StringArray, StringBuilder, TimestampMicrosecondArray, UInt32Array,
    UInt64Array,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::ffi_stream::FFI_ArrowArrayStream;
use pyo3::exceptions::{
    PyFileNotFoundError, PyOverflowError, PyRuntimeError, PyTypeError, PyUserWarning, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList};

pyo3::create_exception!(
    binance_futures_availability,
    AvailabilityError,
    PyRuntimeError,
    "A runtime failure of binance-futures-availability: the database file, DuckDB, the network. \
     The message is the sentence the command line prints."
);

pyo3::create_exception!(
    binance_futures_availability,
    NotCheckedError,
    AvailabilityError,
    "A question about a day after the day the database is complete through: no run has \
     checked it yet, so an answer would read unchecked days as days without a file. Run \
     `update`. The message is the sentence the command line prints."
);

/// Every failure the library can report, mapped to the exception a Python user expects.
enum Failure {
    Day(DayError),
    Store(StoreError),
    Collect(Box<CollectError>),
    Setup(SetupError),
    Runtime(std::io::Error),
    Closed,
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        match f {
            Failure::Day(e) => PyValueError::new_err(e.to_string()),
            Failure::Store(e @ StoreError::NoCatalog { .. }) => {
                PyFileNotFoundError::new_err(e.to_string())
            }
            Failure::Store(e @ StoreError::Missing { .. }) => {
                PyFileNotFoundError::new_err(format!(
                    "{e}; create it with binance_futures_availability.update() or \
                 `binance-futures-availability update` (or pass the path of an existing file, \
                 or set BFA_DB)"
                ))
            }
            Failure::Store(
                e @ (StoreError::NotCheckedYet { .. } | StoreError::NotCheckedBefore { .. }),
            ) => NotCheckedError::new_err(e.to_string()),
            Failure::Store(e) if e.is_bad_input() => PyValueError::new_err(e.to_string()),
            Failure::Store(e) => AvailabilityError::new_err(e.to_string()),
            Failure::Collect(e) if e.is_bad_input() => PyValueError::new_err(e.to_string()),
            Failure::Collect(e) => AvailabilityError::new_err(e.to_string()),
            Failure::Setup(e) if e.is_bad_input() => PyValueError::new_err(e.to_string()),
            Failure::Setup(e) => AvailabilityError::new_err(e.to_string()),
            Failure::Runtime(e) => {
                AvailabilityError::new_err(format!("could not start the async runtime: {e}"))
            }
            Failure::Closed => AvailabilityError::new_err("the database handle is closed"),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl From<DayError> for Failure {
    fn from(e: DayError) -> Self {
        Failure::Day(e)
    }
}

/// `market='um'|'cm'|…`: a market's name; one the database does not keep is refused where the
/// handle or the run selects it (`Database::select_market`), a `ValueError` naming the kept ones.
fn market_arg(text: &str) -> PyResult<Market> {
    text.parse()
        .map_err(|e: binance_futures_availability::facts::UnknownMarket| {
            PyValueError::new_err(e.to_string())
        })
}

/// A day as Python gives it: a `datetime.date` or `'YYYY-MM-DD'`, held to the CLI's grammar
/// and range (`facts::parse_day`).
fn day(arg: &Bound<'_, PyAny>, name: &str) -> PyResult<NaiveDate> {
    let today = Utc::now().date_naive();
    if let Ok(text) = arg.extract::<String>() {
        return Ok(facts::parse_day(&text, today).map_err(Failure::Day)?);
    }
    // A datetime with a zone (a pandas Timestamp is one) names an instant: its day is the UTC
    // one, as every day here is (2024-01-03 01:00+14:00 is 2024-01-02), not the calendar
    // date printed on it. A naive datetime is taken as UTC already.
    let utc;
    let arg = if arg.hasattr("tzinfo")? && !arg.getattr("tzinfo")?.is_none() {
        let zone = arg
            .py()
            .import("datetime")?
            .getattr("timezone")?
            .getattr("utc")?;
        utc = arg.call_method1("astimezone", (zone,))?;
        &utc
    } else {
        arg
    };
    if let Ok(date) = arg.extract::<NaiveDate>() {
        return Ok(facts::check_day(date, today).map_err(Failure::Day)?);
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be a datetime.date or a 'YYYY-MM-DD' string, not {}",
        arg.get_type().name()?
    )))
}

/// A name a symbol folder can have (`vision::check_symbol`), before the database looks it up:
/// a program can pass any string, and the suggestions for an unknown name compare it with
/// every known one, so a megabyte of text would take minutes to be told it is unknown.
fn symbol_name(name: &str) -> PyResult<()> {
    check_symbol(name).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// A Python int of any size or sign: one outside a Rust integer's range is out of every
/// bound here, a `ValueError` with the bounds, not the `OverflowError` a plain `u32` gives.
struct Whole {
    /// `None` when it does not fit an `i64`.
    value: Option<i64>,
    /// As Python prints it, at most 40 characters.
    text: String,
}

impl Whole {
    fn of(value: i64) -> Whole {
        Whole {
            value: Some(value),
            text: value.to_string(),
        }
    }

    /// The value if it lies in `range`, else `ValueError`: "{name} is {value}, outside A to B"
    /// (the sentence of `collect::OutOfRange` and of the CLI's bounds).
    fn within(&self, name: &str, range: std::ops::RangeInclusive<i64>) -> PyResult<i64> {
        match self.value {
            Some(v) if range.contains(&v) => Ok(v),
            _ => Err(PyValueError::new_err(format!(
                "{name} is {}, outside {} to {}",
                self.text,
                range.start(),
                range.end()
            ))),
        }
    }

    /// `within`, as a `u32`.
    fn days(&self, name: &str, range: std::ops::RangeInclusive<u32>) -> PyResult<u32> {
        let wide = i64::from(*range.start())..=i64::from(*range.end());
        // Within a u32 range, so it fits.
        Ok(self.within(name, wide)? as u32)
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Whole {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Whole> {
        match obj.extract::<i64>() {
            Ok(v) => Ok(Whole::of(v)),
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
                let text = obj.str()?.to_string();
                let text = match text.char_indices().nth(40) {
                    Some((i, _)) => format!("{}…", &text[..i]),
                    None => text,
                };
                Ok(Whole { value: None, text })
            }
            Err(e) => Err(e),
        }
    }
}

/// A count for `universe` or the life rule, if given: a Python int of any size is this
/// module's to read; one outside `bounds` (the library's, `question`'s) gets the library's
/// sentence, from `Question`'s constructors for a `u32` and from `Whole::days` for the rest.
fn count(
    value: Option<Whole>,
    name: &'static str,
    bounds: std::ops::RangeInclusive<u32>,
) -> PyResult<Option<u32>> {
    value
        .map(|v| match v.value.and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Ok(n),
            None => v.days(name, bounds),
        })
        .transpose()
}

/// A question the library refuses: `ValueError` with its sentence.
fn refused(e: QuestionError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// The universe question of `date` the keyword arguments of `universe` and `universe_panel`
/// ask: each left out (`None`) is the library's default (`UniverseQuery::new`, the one place
/// the defaults are written).
fn universe_query(
    date: NaiveDate,
    (contract, quote, by): (Option<&str>, Option<String>, Option<&str>),
    [min_age, recent, top, window, delisted_after]: [Option<Whole>; 5],
    include_settled: bool,
) -> PyResult<UniverseQuery> {
    let mut q = UniverseQuery::new(date);
    if let Some(by) = by {
        q.by = RankBy::parse(by).ok_or_else(|| {
            PyValueError::new_err(format!(
                "{by:?} is not a ranking; use 'quote-volume' or 'trades'"
            ))
        })?;
    }
    if let Some(contract) = contract {
        q.contracts = contract_filter(contract)?;
    }
    q.quote = quote;
    q.min_age = count(min_age, "min_age", MIN_AGE_DAYS)?.unwrap_or(q.min_age);
    q.recent = count(recent, "recent", UNIVERSE_DAYS)?.unwrap_or(q.recent);
    q.window = count(window, "window", UNIVERSE_DAYS)?.unwrap_or(q.window);
    q.top = count(top, "top", TOP_MEMBERS)?;
    q.delisted_after =
        count(delisted_after, "delisted_after", UNIVERSE_DAYS)?.unwrap_or(q.delisted_after);
    q.include_settled = include_settled;
    Ok(q)
}

fn contract_filter(text: &str) -> PyResult<ContractFilter> {
    ContractFilter::parse(text).ok_or_else(|| {
        PyValueError::new_err(format!(
            "{text:?} is not a contract filter; use 'perpetual', 'delivery' or 'all'"
        ))
    })
}

/// A read-only handle on `path` for `market`'s questions, with a read index (a session asks
/// many: its snapshots cost a few µs rather than ~0.45 ms).
fn open_handle(path: &std::path::Path, market: Market) -> Result<store::Database, StoreError> {
    let mut db = store::Database::open_market(path, market)?;
    db.keep_read_index();
    Ok(db)
}

/// A read-only handle on a database file. Queries never change the file; a handle may be
/// shared by threads (they take turns on its one DuckDB connection). It follows the published
/// file: after an update publishes (renames a new file over the path), the next question is
/// answered from the new file. Snapshots and ranges are answered from a read index the handle
/// builds on the first one (a few µs each after that, BENCHMARKS.md).
#[pyclass(frozen, module = "binance_futures_availability._native")]
struct Database {
    path: PathBuf,
    /// The market the handle was opened for: every question asked through it is about it.
    market: Market,
    inner: Mutex<Option<store::Database>>,
    /// `unchecked_days="warn"`: a question about a day after "complete through" is answered
    /// from what is stored, with a `UserWarning` carrying the sentence (the original tool's
    /// answer, for its compatible API) instead of raising `NotCheckedError`.
    warn_unchecked: bool,
}

impl Database {
    /// Runs `f` on the open handle with the GIL released.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl Fn(&store::Database) -> Result<T, Failure> + Sync,
    ) -> PyResult<T> {
        let (answer, warning) = py.detach(|| {
            let mut guard = self.lock();
            // A publish renamed a new file over the path: its handle (and read index) replaces
            // this one, so no answer comes from a replaced file. If it cannot be opened yet,
            // the old one answers, as `serve` keeps serving the previous file.
            if guard.as_ref().is_some_and(store::Database::republished)
                && let Ok(db) = open_handle(&self.path, self.market)
            {
                *guard = Some(db);
            }
            let Some(db) = guard.as_ref() else {
                return (Err(Failure::Closed), None);
            };
            match f(db) {
                Err(Failure::Store(
                    e @ (StoreError::NotCheckedYet { .. } | StoreError::NotCheckedBefore { .. }),
                )) if self.warn_unchecked => (db.answering_unchecked(&f), Some(e.to_string())),
                answer => (answer, None),
            }
        });
        let answer = answer.map_err(PyErr::from)?;
        if let Some(sentence) = warning {
            // Dates and digits: never a NUL.
            let message = CString::new(sentence).unwrap_or_default();
            // Level 2: the line that called the compatible method, not the method itself.
            PyErr::warn(py, py.get_type::<PyUserWarning>().as_any(), &message, 2)?;
        }
        Ok(answer)
    }

    /// A question about one day whose answer is symbol names.
    fn names_on(
        &self,
        py: Python<'_>,
        date: &Bound<'_, PyAny>,
        contract: &str,
        ask: fn(&store::Database, NaiveDate, ContractFilter) -> Result<Vec<String>, StoreError>,
    ) -> PyResult<Vec<String>> {
        let (date, contracts) = (day(date, "date")?, contract_filter(contract)?);
        self.with(py, |db| Ok(ask(db, date, contracts)?))
    }

    /// Asks `question` (built from the arguments by the library's constructors) and hands
    /// its rows back as a table: the one way a question is answered here, as everywhere.
    fn ask(&self, py: Python<'_>, question: Question) -> PyResult<Table> {
        let answer = self.with(py, |db| Ok(db.answer(&question)?))?;
        Ok(Table::new(Rows::of(answer)?))
    }

    fn lock(&self) -> MutexGuard<'_, Option<store::Database>> {
        // A panic while holding the lock leaves a handle whose last query did not finish; the
        // connection itself is still sound, so the next query may use it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[pymethods]
impl Database {
    /// Opens the database at `path` read-only (it must exist). `unchecked_days`: 'raise'
    /// (`NotCheckedError` for a day after the day the database is complete through), or
    /// 'warn' (answer from what is stored, with a `UserWarning`: the original tool's answer,
    /// which its compatible classes keep).
    #[new]
    #[pyo3(signature = (path, *, unchecked_days = "raise", market = "um"))]
    fn new(py: Python<'_>, path: PathBuf, unchecked_days: &str, market: &str) -> PyResult<Self> {
        let market = market_arg(market)?;
        let warn_unchecked = match unchecked_days {
            "raise" => false,
            "warn" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "{other:?} is not a way to treat unchecked days; use 'raise' or 'warn'"
                )));
            }
        };
        let opened = py.detach(|| open_handle(&path, market));
        let db = opened.map_err(|e| PyErr::from(Failure::Store(e)))?;
        Ok(Database {
            path,
            market,
            inner: Mutex::new(Some(db)),
            warn_unchecked,
        })
    }

    /// The database file.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The market this handle's questions are about: `'um'`, `'cm'` or `'spot'`.
    #[getter]
    fn market(&self) -> &'static str {
        self.market.name()
    }

    /// Closes the handle; later queries raise `AvailabilityError`. Closing twice is fine.
    fn close(&self, py: Python<'_>) {
        py.detach(|| drop(self.lock().take()));
    }

    /// Symbols with a file on `date`, sorted by symbol: `symbol`, `file_size_bytes`,
    /// `last_modified` (UTC). `contract` is 'perpetual' (default), 'delivery' or 'all'.
    #[pyo3(signature = (date, contract = "perpetual"))]
    fn snapshot(&self, py: Python<'_>, date: &Bound<'_, PyAny>, contract: &str) -> PyResult<Table> {
        let (date, contracts) = (day(date, "date")?, contract_filter(contract)?);
        let question = Question::snapshot(self.market, date, contracts).map_err(refused)?;
        self.ask(py, question)
    }

    /// Every stored day of `symbol` by date (case-insensitive name): `date`, `available`,
    /// `file_size_bytes`, `status_code` (200 with a file, 404 for a verified absence).
    fn timeline(&self, py: Python<'_>, symbol: String) -> PyResult<Table> {
        let question = Question::timeline(self.market, &symbol).map_err(refused)?;
        self.ask(py, question)
    }

    /// What the database knows of one symbol folder, as a dict: contract, quote asset,
    /// first and last day with a file, the checked range.
    fn symbol<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyDict>> {
        symbol_name(&symbol)?;
        let record = self.with(py, |db| Ok(db.symbol(&symbol)?))?;
        dict(py, &record)
    }

    /// Every symbol with a file on at least one day in `[start, end]`, sorted by symbol:
    /// `symbol`, `days_available`, `first_date`, `last_date` (inside the range).
    #[pyo3(signature = (start, end, contract = "perpetual"))]
    fn range(
        &self,
        py: Python<'_>,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        contract: &str,
    ) -> PyResult<Table> {
        let (start, end) = (day(start, "start")?, day(end, "end")?);
        let question = Question::range(self.market, start, end, contract_filter(contract)?)
            .map_err(refused)?;
        self.ask(py, question)
    }

    /// Symbols with a file per day, every day of `[start, end]` listed (both or neither; by
    /// default every day the database covers): `date`, `perpetual`, `delivery`, and of those
    /// with trades `perpetual_traded`, `delivery_traded`.
    #[pyo3(signature = (start = None, end = None))]
    fn summary(
        &self,
        py: Python<'_>,
        start: Option<&Bound<'_, PyAny>>,
        end: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Table> {
        let question = match (start, end) {
            (Some(s), Some(e)) => {
                let (s, e) = (day(s, "start")?, day(e, "end")?);
                Question::summary(self.market, Some(s), Some(e)).map_err(refused)?
            }
            (None, None) => Question::summary(self.market, None, None).map_err(refused)?,
            _ => {
                return Err(PyValueError::new_err(
                    "summary takes both start and end, or neither (every day covered)",
                ));
            }
        };
        self.ask(py, question)
    }

    /// The symbols tradable as of the start of `date`, decided only from facts dated before
    /// it, by rank: `symbol`, `rank`, `mean_quote_volume`, `days_listed`, `traded_on_date`
    /// (known only after the fact; `None` while `date` is not checked). The rules and defaults
    /// are `query universe`'s (docs/queries.md).
    /// Every argument left out (`None`) is the library's default (`UniverseQuery::new`, the
    /// one place the defaults are written).
    #[pyo3(signature = (date, *, contract = None, quote = None, min_age = None, recent = None,
                        top = None, by = None, window = None, delisted_after = None,
                        include_settled = false))]
    #[allow(clippy::too_many_arguments)]
    fn universe(
        &self,
        py: Python<'_>,
        date: &Bound<'_, PyAny>,
        contract: Option<&str>,
        quote: Option<String>,
        min_age: Option<Whole>,
        recent: Option<Whole>,
        top: Option<Whole>,
        by: Option<&str>,
        window: Option<Whole>,
        delisted_after: Option<Whole>,
        include_settled: bool,
    ) -> PyResult<Table> {
        let q = universe_query(
            day(date, "date")?,
            (contract, quote, by),
            [min_age, recent, top, window, delisted_after],
            include_settled,
        )?;
        let question = Question::universe(self.market, q).map_err(refused)?;
        self.ask(py, question)
    }

    /// The universe of every rebalance date from `start` through `end`, one row per date and
    /// member by date then rank: `date`, `symbol`, `rank`, `mean_quote_volume`,
    /// `days_listed`, `traded_on_date`; each date's rows are `universe(date, …)`'s with the
    /// same arguments. `every`: '1d' (every day), '1w' (every Monday), '1mo' (the first day of
    /// every month) or 'Nd' (every N days from `start`). The keyword arguments are
    /// `universe`'s, with its defaults.
    #[pyo3(signature = (start, end, every = "1d", *, contract = None, quote = None,
                        min_age = None, recent = None, top = None, by = None, window = None,
                        delisted_after = None, include_settled = false))]
    #[allow(clippy::too_many_arguments)]
    fn universe_panel(
        &self,
        py: Python<'_>,
        start: &Bound<'_, PyAny>,
        end: &Bound<'_, PyAny>,
        every: &str,
        contract: Option<&str>,
        quote: Option<String>,
        min_age: Option<Whole>,
        recent: Option<Whole>,
        top: Option<Whole>,
        by: Option<&str>,
        window: Option<Whole>,
        delisted_after: Option<Whole>,
        include_settled: bool,
    ) -> PyResult<Table> {
        let (start, end) = (day(start, "start")?, day(end, "end")?);
        let every = store::Every::parse(every).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let q = universe_query(
            start,
            (contract, quote, by),
            [min_age, recent, top, window, delisted_after],
            include_settled,
        )?;
        let question = Question::universe_panel(self.market, q, end, every).map_err(refused)?;
        self.ask(py, question)
    }

    /// Every folder's lives (or `symbol`'s, case-insensitive), by symbol then life: `symbol`,
    /// `life`, `first_file`, `first_trade`, `last_trade`, `last_file`, `end` (`None` while the
    /// life is open), `gap_days_before`. The rules are `query lives`' (docs/queries.md).
    #[pyo3(signature = (symbol = None, *, delisted_after = None))]
    fn lives(
        &self,
        py: Python<'_>,
        symbol: Option<String>,
        delisted_after: Option<Whole>,
    ) -> PyResult<Table> {
        let rule = count(delisted_after, "delisted_after", UNIVERSE_DAYS)?
            .unwrap_or(DEFAULT_DELISTED_AFTER);
        let question = Question::lives(self.market, symbol.as_deref(), rule).map_err(refused)?;
        self.ask(py, question)
    }

    /// Listings, gaps, delistings and relistings by date then symbol: `date`, `symbol`,
    /// `base_symbol`, `kind`, `detail`. `since`/`until` are inclusive; `kind` one of
    /// 'listing', 'delisting', 'gap', 'relisting'; `contract` 'all' (default), 'perpetual' or
    /// 'delivery'.
    #[pyo3(signature = (*, since = None, until = None, kind = None, symbol = None,
                        delisted_after = None, contract = None))]
    #[allow(clippy::too_many_arguments)]
    fn events(
        &self,
        py: Python<'_>,
        since: Option<&Bound<'_, PyAny>>,
        until: Option<&Bound<'_, PyAny>>,
        kind: Option<&str>,
        symbol: Option<String>,
        delisted_after: Option<Whole>,
        contract: Option<&str>,
    ) -> PyResult<Table> {
        let since = since.map(|d| day(d, "since")).transpose()?;
        let until = until.map(|d| day(d, "until")).transpose()?;
        if let (Some(s), Some(u)) = (since, until) {
            facts::check_order(s, u).map_err(Failure::Day)?;
        }
        let kind = kind
            .map(|k| {
                EventKind::parse(k).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "{k:?} is not an event kind; use 'listing', 'delisting', 'gap' or 'relisting'"
                    ))
                })
            })
            .transpose()?;
        let rule = count(delisted_after, "delisted_after", UNIVERSE_DAYS)?
            .unwrap_or(DEFAULT_DELISTED_AFTER);
        let mut filter = EventFilter {
            since,
            until,
            kind,
            symbol,
            ..EventFilter::default()
        };
        if let Some(contract) = contract {
            filter.contracts = contract_filter(contract)?;
        }
        let question = Question::events(self.market, filter, rule).map_err(refused)?;
        self.ask(py, question)
    }

    /// A symbol's 1d rows in `[start, end]` (by default every day), by date: `date`, `open`,
    /// `high`, `low`, `close`, `volume`, `quote_volume`, `trades`, `taker_buy_volume`,
    /// `taker_buy_quote_volume`.
    #[pyo3(signature = (symbol, start = None, end = None))]
    fn trading(
        &self,
        py: Python<'_>,
        symbol: String,
        start: Option<&Bound<'_, PyAny>>,
        end: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Table> {
        symbol_name(&symbol)?;
        let start = start
            .map(|d| day(d, "start"))
            .transpose()?
            .unwrap_or(facts::TRADING_START);
        let end = end
            .map(|d| day(d, "end"))
            .transpose()?
            .unwrap_or_else(|| Utc::now().date_naive());
        facts::check_order(start, end).map_err(Failure::Day)?;
        let rows = self.with(py, |db| {
            let name = db.symbol(&symbol)?.symbol;
            Ok(db.trading(&name, start, end)?)
        })?;
        Ok(Table::new(Rows::Trading(rows)))
    }

    /// Symbols whose first file is on `date`, sorted.
    #[pyo3(signature = (date, contract = "perpetual"))]
    fn new_listings(
        &self,
        py: Python<'_>,
        date: &Bound<'_, PyAny>,
        contract: &str,
    ) -> PyResult<Vec<String>> {
        self.names_on(py, date, contract, store::Database::new_listings)
    }

    /// Symbols with a file the day before `date` and, verified, none on `date`, sorted. A
    /// folder not yet checked through `date` is never among them.
    #[pyo3(signature = (date, contract = "perpetual"))]
    fn delistings(
        &self,
        py: Python<'_>,
        date: &Bound<'_, PyAny>,
        contract: &str,
    ) -> PyResult<Vec<String>> {
        self.names_on(py, date, contract, store::Database::delistings)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Leaving a `with` block closes the handle.
    fn __exit__(
        &self,
        py: Python<'_>,
        _kind: Option<Bound<'_, PyAny>>,
        _value: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) {
        self.close(py);
    }

    fn __repr__(&self) -> String {
        format!(
            "<binance_futures_availability.Database {:?} market={}>",
            self.path, self.market
        )
    }
}

/// One row as a dict, its columns' names as keys (the keys of the CLI's JSON); dates are
/// `datetime.date`, times timezone-aware `datetime` in UTC, empty cells `None`.
fn dict<'py, R: Row>(py: Python<'py>, row: &R) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for c in R::COLUMNS {
        match c.cell.value(row) {
            Value::Text(v) => d.set_item(c.name, v)?,
            Value::Shown(v) => d.set_item(c.name, v.to_string())?,
            Value::Bool(v) => d.set_item(c.name, v)?,
            Value::Int32(v) => d.set_item(c.name, v)?,
            Value::Int64(v) => d.set_item(c.name, v)?,
            Value::UInt32(v) => d.set_item(c.name, v)?,
            Value::UInt64(v) => d.set_item(c.name, v)?,
            Value::Float64(v) => d.set_item(c.name, v)?,
            Value::Date(v) => d.set_item(c.name, v)?,
            Value::Time(v) => d.set_item(c.name, v)?,
        }
    }
    Ok(d)
}

/// The Arrow schema of a row type: its columns, in order, typed and nullable as defined.
fn schema<R: Row>() -> Schema {
    let field = |c: &Column<R>| {
        let ty = match c.cell {
            Cell::Text(_) | Cell::OptText(_) | Cell::Shown(_) => DataType::Utf8,
            Cell::Bool(_) | Cell::OptBool(_) => DataType::Boolean,
            Cell::OptInt32(_) => DataType::Int32,
            Cell::Int64(_) | Cell::OptInt64(_) => DataType::Int64,
            Cell::UInt32(_) => DataType::UInt32,
            Cell::UInt64(_) => DataType::UInt64,
            Cell::Float64(_) | Cell::OptFloat64(_) => DataType::Float64,
            Cell::Date(_) | Cell::OptDate(_) => DataType::Date32,
            Cell::Time(_) | Cell::OptTime(_) => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
        };
        Field::new(c.name, ty, c.cell.nullable())
    };
    Schema::new(R::COLUMNS.iter().map(field).collect::<Vec<_>>())
}

/// Rows as one Arrow batch of `schema::<R>()`, a column at a time.
fn batch<R: Row>(rows: &[R]) -> Result<RecordBatch, ArrowError> {
    let column = |c: &Column<R>| -> Result<ArrayRef, ArrowError> {
        Ok(match c.cell {
            Cell::Text(f) => Arc::new(StringArray::from_iter_values(rows.iter().map(f))),
            Cell::OptText(f) => Arc::new(StringArray::from_iter(rows.iter().map(f))),
            Cell::Shown(f) => {
                // Each value written into the column's one buffer: no `String` a row (a key a
                // change, 10⁵–10⁶ a week).
                let mut column = StringBuilder::with_capacity(rows.len(), rows.len() * 16);
                for r in rows {
                    write!(column, "{}", f(r)).map_err(|e| ArrowError::ExternalError(e.into()))?;
                    column.append_value("");
                }
                Arc::new(column.finish())
            }
            Cell::Bool(f) => Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(f(r))))),
            Cell::OptBool(f) => Arc::new(BooleanArray::from_iter(rows.iter().map(f))),
            Cell::OptInt32(f) => Arc::new(Int32Array::from_iter(rows.iter().map(f))),
            Cell::Int64(f) => Arc::new(Int64Array::from_iter_values(rows.iter().map(f))),
            Cell::OptInt64(f) => Arc::new(Int64Array::from_iter(rows.iter().map(f))),
            Cell::UInt32(f) => Arc::new(UInt32Array::from_iter_values(rows.iter().map(f))),
            Cell::UInt64(f) => Arc::new(UInt64Array::from_iter_values(rows.iter().map(f))),
            Cell::Float64(f) => Arc::new(Float64Array::from_iter_values(rows.iter().map(f))),
            Cell::OptFloat64(f) => Arc::new(Float64Array::from_iter(rows.iter().map(f))),
            Cell::Date(f) => Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|r| date32(f(r))),
            )),
            Cell::OptDate(f) => Arc::new(Date32Array::from_iter(
                rows.iter().map(|r| f(r).map(date32)),
            )),
            Cell::Time(f) => Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|r| f(r).timestamp_micros()),
                )
                .with_timezone("UTC"),
            ),
            Cell::OptTime(f) => Arc::new(
                TimestampMicrosecondArray::from_iter(
                    rows.iter().map(|r| f(r).map(|t| t.timestamp_micros())),
                )
                .with_timezone("UTC"),
            ),
        })
    };
    RecordBatch::try_new(
        Arc::new(schema::<R>()),
        R::COLUMNS.iter().map(column).collect::<Result<_, _>>()?,
    )
}

/// Days since 1970-01-01, Arrow's date32.
fn date32(d: NaiveDate) -> i32 {
    (d - NaiveDate::default()).num_days() as i32
}

/// The rows of one answer, as the library typed them.
enum Rows {
    Snapshot(Vec<SnapshotRow>),
    Timeline(Vec<TimelineDay>),
    Range(Vec<RangeRow>),
    Summary(Vec<DayCount>),
    Universe(Vec<Member>),
    Events(Vec<Event>),
    Trading(Vec<DailyTrading>),
    UniversePanel(Vec<store::PanelRow>),
    Lives(Vec<store::LifeRow>),
    /// Arrow batches already made (the catalog's answers, `catalog.rs`).
    Batches(catalog::Batches),
}

/// `$body` with `$rows` bound to the answer's rows, whatever their type (each is a `Row`);
/// `$arrow` with `$batches` bound to an answer already in Arrow.
macro_rules! with_rows {
    ($self:expr, |$rows:ident| $body:expr, |$batches:ident| $arrow:expr) => {
        match $self {
            Rows::Snapshot($rows) => $body,
            Rows::Timeline($rows) => $body,
            Rows::Range($rows) => $body,
            Rows::Summary($rows) => $body,
            Rows::Universe($rows) => $body,
            Rows::Events($rows) => $body,
            Rows::Trading($rows) => $body,
            Rows::UniversePanel($rows) => $body,
            Rows::Lives($rows) => $body,
            Rows::Batches($batches) => $arrow,
        }
    };
}

/// The column names of `R`, in order.
fn names<R: Row>(_: &[R]) -> Vec<String> {
    R::COLUMNS.iter().map(|c| c.name.to_string()).collect()
}

impl Rows {
    /// An answer's rows; a timeline's table is its stored days. No method here asks for every
    /// symbol folder as a table (`symbol` gives one as a dict), so that answer has none.
    fn of(answer: Answer) -> PyResult<Rows> {
        Ok(match answer {
            Answer::Snapshot(rows) => Rows::Snapshot(rows),
            Answer::Timeline { timeline, .. } => Rows::Timeline(timeline.days),
            Answer::Range(rows) => Rows::Range(rows),
            Answer::Summary(rows) => Rows::Summary(rows),
            Answer::Events(rows) => Rows::Events(rows),
            Answer::Universe(rows) => Rows::Universe(rows),
            Answer::UniversePanel(rows) => Rows::UniversePanel(rows),
            Answer::Lives(rows) => Rows::Lives(rows),
            Answer::Symbols(_) => {
                return Err(AvailabilityError::new_err(
                    "every symbol folder has no table here; ask symbol() for one",
                ));
            }
        })
    }

    fn len(&self) -> usize {
        with_rows!(self, |rows| rows.len(), |b| b.len())
    }

    /// The column names, in order: the keys of the CLI's JSON.
    fn columns(&self) -> Vec<String> {
        with_rows!(self, |rows| names(rows), |b| b.columns())
    }

    /// The answer as Arrow batches (one, but for a catalog's files) and their schema.
    fn batches(&self) -> Result<(SchemaRef, Vec<RecordBatch>), duckdb::arrow::error::ArrowError> {
        with_rows!(
            self,
            |rows| batch(rows).map(|b| (b.schema(), vec![b])),
            |b| Ok(b.batches())
        )
    }

    /// The answer as a list of dicts (`dict`).
    fn pylist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        with_rows!(
            self,
            |rows| {
                for row in rows {
                    list.append(dict(py, row)?)?;
                }
            },
            |b| return b.pylist(py)
        );
        Ok(list)
    }
}

/// One answer: hand it to `polars.DataFrame(t)`, `pyarrow.table(t)` (the Arrow PyCapsule
/// stream interface, no copy), or take `t.to_pylist()`.
#[pyclass(frozen, module = "binance_futures_availability._native")]
struct Table {
    rows: Rows,
}

impl Table {
    fn new(rows: Rows) -> Table {
        Table { rows }
    }
}

#[pymethods]
impl Table {
    /// The column names, in order (the keys of the CLI's JSON).
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.rows.columns()
    }

    /// The rows as a list of dicts.
    fn to_pylist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.rows.pylist(py)
    }

    /// The rows as a polars DataFrame (needs polars; same as `polars.DataFrame(t)`).
    fn to_polars<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("polars")?.call_method1("DataFrame", (slf,))
    }

    /// The rows as a pandas DataFrame (needs pyarrow and pandas; through `pyarrow.table(t)`).
    fn to_pandas<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("pyarrow")?
            .call_method1("table", (slf,))?
            .call_method0("to_pandas")
    }

    /// The Arrow PyCapsule stream interface: one batch holding every row (a catalog's files:
    /// batches of at most 65,536 rows).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        // The schema is fixed; a consumer asking for another one casts on its side, as the
        // interface allows ("the producer may ignore it").
        let _ = requested_schema;
        let (schema, batches) = self.rows.batches().map_err(arrow_failed)?;
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        // The consumer moves the stream out of the capsule (setting its `release` to null);
        // if none does, dropping the boxed stream releases it.
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    fn __len__(&self) -> usize {
        self.rows.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<binance_futures_availability.Table {} rows: {}>",
            self.rows.len(),
            self.columns().join(", ")
        )
    }
}

fn arrow_failed(e: duckdb::arrow::error::ArrowError) -> PyErr {
    AvailabilityError::new_err(format!("could not build the Arrow table: {e}"))
}

/// Brings the database at `path` to yesterday (UTC), as `binance-futures-availability update`
/// does; returns the run's summary as a dict. `progress`, if given, is called as
/// `progress(kind, stage, done, total)` after each symbol folder (`stage`: the step's name,
/// `1m listings` or `1d klines`; the package's `update` makes a `Stage` of the first two); if
/// it raises, or Ctrl-C arrives, the run stops, commits what it gathered, and the exception is
/// raised here. `markets` (several market names) collects each in one published copy, a run
/// of its own each, as `update --markets` does, and returns `{market: summary}`.
#[pyfunction]
#[pyo3(signature = (path, *, lookback, s3_url, data_url, concurrency, attempts, request_timeout, progress = None, market = "um", markets = None))]
#[allow(clippy::too_many_arguments)]
fn update<'py>(
    py: Python<'py>,
    path: PathBuf,
    lookback: Whole,
    s3_url: String,
    data_url: String,
    concurrency: Whole,
    attempts: Whole,
    request_timeout: Whole,
    progress: Option<Py<PyAny>>,
    market: &str,
    markets: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyDict>> {
    use collect::limits;
    let market = market_arg(market)?;
    let several = match &markets {
        None => None,
        Some(names) if names.is_empty() => {
            return Err(PyValueError::new_err(
                "markets names no market; name one or more of um, cm, spot",
            ));
        }
        Some(names) => Some(
            names
                .iter()
                .map(|name| market_arg(name))
                .collect::<PyResult<Vec<Market>>>()?,
        ),
    };
    let timeout = limits::REQUEST_TIMEOUT_SECS;
    let timeout = *timeout.start() as i64..=*timeout.end() as i64;
    // Each within its limit, so each fits its type.
    let lookback = lookback.within("lookback", limits::LOOKBACK_DAYS)? as u32;
    let concurrency = concurrency.within("concurrency", limits::CONCURRENCY)? as usize;
    let attempts = attempts.within("attempts", limits::ATTEMPTS)? as u32;
    let request_timeout = request_timeout.within("request_timeout", timeout)? as u64;
    collect::check_options(lookback, concurrency, attempts, request_timeout)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let mut config = ClientConfig::new(Endpoints { s3_url, data_url });
    config.retry = RetryPolicy {
        max_attempts: attempts,
        ..RetryPolicy::default()
    };
    config.request_timeout = std::time::Duration::from_secs(request_timeout);
    let client = VisionClient::new(config).map_err(|e| PyErr::from(Failure::Setup(e)))?;
    let cancel = tokio_util::sync::CancellationToken::new();
    let raised: Arc<Mutex<Option<PyErr>>> = Arc::default();
    let progress = match progress {
        None => Progress::Quiet,
        Some(callback) => {
            let (raised, cancel) = (raised.clone(), cancel.clone());
            Progress::Callback(Arc::new(move |stage: collect::Stage, done, total| {
                Python::attach(|py| {
                    let args = (stage.run.as_str(), stage.step.as_str(), done, total);
                    if let Err(e) = callback.call1(py, args) {
                        let mut first = raised.lock().unwrap_or_else(|p| p.into_inner());
                        first.get_or_insert(e);
                        cancel.cancel();
                    }
                })
            }))
        }
    };
    let options = collect::Options {
        concurrency,
        progress,
        cancel,
        market,
        ..collect::Options::default()
    };
    let goal = Goal::Update {
        end: binance_futures_availability::schedule::update_end(Utc::now()),
        lookback,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| PyErr::from(Failure::Runtime(e)))?;
    // The run goes on a thread of its own while this one waits without the GIL and wakes every
    // 100 ms to let Python see signals: Ctrl-C (a notebook's interrupt) cancels the run, which
    // commits what it gathered and publishes, and then KeyboardInterrupt is raised here.
    let stop = options.cancel.clone();
    let waiter = std::thread::current();
    let asked = several.clone();
    let worker = std::thread::spawn(move || {
        let markets = asked
            .as_deref()
            .unwrap_or(std::slice::from_ref(&options.market));
        let result = runtime
            .block_on(collect::run_markets(
                &path,
                &client,
                &goal,
                &options,
                Some(markets),
            ))
            .map_err(Box::new);
        waiter.unpark();
        result
    });
    let mut interrupted: Option<PyErr> = None;
    while !worker.is_finished() {
        // Woken by the worker when it ends; a spurious or timed-out wake just loops.
        py.detach(|| std::thread::park_timeout(std::time::Duration::from_millis(100)));
        if interrupted.is_none()
            && let Err(e) = py.check_signals()
        {
            stop.cancel();
            interrupted = Some(e);
        }
    }
    let result = worker
        .join()
        .map_err(|_| AvailabilityError::new_err("the collection thread panicked"))?
        .map_err(Failure::Collect);
    if let Some(e) = interrupted {
        return Err(e);
    }
    if let Some(e) = raised.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    let summaries = result?;
    let as_dict = |summary: &collect::Summary| -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("kind", summary.kind.as_str())?;
        d.set_item("symbols", summary.symbols)?;
        d.set_item("files", summary.files)?;
        d.set_item("trading_files", summary.trading_files)?;
        d.set_item("requests", summary.requests)?;
        d.set_item("retries", summary.retries)?;
        d.set_item("rows_written", summary.rows_written)?;
        d.set_item("elapsed_seconds", summary.elapsed.as_secs_f64())?;
        Ok(d)
    };
    match several {
        None => summaries
            .first()
            .map(as_dict)
            .unwrap_or_else(|| Err(AvailabilityError::new_err("the run returned no summary"))),
        Some(markets) => {
            let all = PyDict::new(py);
            for (market, summary) in markets.iter().zip(&summaries) {
                all.set_item(market.name(), as_dict(summary)?)?;
            }
            Ok(all)
        }
    }
}

/// `~/.cache/binance-futures/availability.duckdb`, the CLI's default (before `BFA_DB`).
#[pyfunction]
fn default_db_path() -> PathBuf {
    config::default_db_path()
}

/// `catalog.duckdb` beside the database at `db`: the CLI's catalog when neither `--catalog`
/// nor `BFA_CATALOG` names one (`Catalog::beside`, the one definition).
#[pyfunction]
fn default_catalog_path(db: PathBuf) -> PathBuf {
    store::Catalog::beside(&db)
}

/// The `binance-futures-availability` command, run in this process: what the wheel's console
/// script and `python -m binance_futures_availability` call (ADR 0016). `argv` starts with the
/// program name. Returns the exit code; the GIL is released while the command runs.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<std::ffi::OsString>) -> u8 {
    py.detach(|| binance_futures_availability::cli::main(argv))
}

/// The Rust core of binance_futures_availability; import the package, not this module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Database>()?;
    m.add_class::<Table>()?;
    m.add_class::<catalog::CatalogHandle>()?;
    m.add_class::<catalog::FileStream>()?;
    m.add_function(wrap_pyfunction!(default_catalog_path, m)?)?;
    m.add_function(wrap_pyfunction!(update, m)?)?;
    m.add("AvailabilityError", m.py().get_type::<AvailabilityError>())?;
    m.add("NotCheckedError", m.py().get_type::<NotCheckedError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_S3_URL", config::DEFAULT_S3_URL)?;
    m.add("DEFAULT_DATA_URL", config::DEFAULT_DATA_URL)?;
    m.add("DEFAULT_LOOKBACK", collect::DEFAULT_LOOKBACK)?;
    m.add_function(wrap_pyfunction!(default_db_path, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    Ok(())
}
