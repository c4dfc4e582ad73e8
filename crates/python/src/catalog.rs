//! `open_catalog()`'s handle: the catalog of every file of the bucket (ADR 0020) asked from
//! Python, as `binance-futures-availability catalog …` asks it.
//!
//! What it is for: turning Python arguments into the library's catalog questions
//! (`question::catalog`: `CatalogQuestion`, `FilesQuestion`, `parse_period`, `calendar_day`, so
//! a bad argument gets the CLI's sentence), answering them with `Catalog::answer` /
//! `Catalog::file_listing` + `Catalog::each_file` with the GIL released, and handing the rows
//! back as the package's `Table` — Arrow batches whose columns are `columns.rs`'s, the keys and
//! values of the CLI's `--format json`.
//!
//! A dataset's files are streamed: `files()` reads them into Arrow batches of at most
//! [`BATCH_ROWS`] rows as `each_file` yields them (never one giant batch, never the rows as Rust
//! values), and `iter_files()` hands them to the consumer as they are read, on a thread of its
//! own, so no more than two batches exist at once whatever the dataset's size. `changes()`
//! reads the history's changes as `each_change` yields them, into batches the same way.
//!
//! Must not know: SQL, the schema, how a question is answered (that is `store::Catalog`).

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};

use binance_futures_availability::columns::Row;
use binance_futures_availability::facts::{DayError, Span};
use binance_futures_availability::question::catalog::{
    CatalogAnswer, CatalogQuestion, CatalogQuestionError, ChangesQuestion, FilesQuestion,
    calendar_day, parse_kind, parse_period,
};
use binance_futures_availability::store::{self, CatalogFile, Change, StoreError};
use binance_futures_availability::vision::Dataset;
use chrono::{DateTime, NaiveDate, Utc};
use duckdb::arrow::array::{
    Array, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    RecordBatchReader, StringArray, TimestampMicrosecondArray, UInt32Array, UInt64Array,
};
use duckdb::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::ffi_stream::FFI_ArrowArrayStream;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList};

use crate::{
    AvailabilityError, Failure, Rows, Table, Whole, arrow_failed, batch, market_arg, schema,
};

/// The most rows one Arrow batch of a dataset's files holds unless `batch_rows` says: 65,536
/// rows are ~6 MB of Arrow (keys are most of it), big enough that per-batch costs vanish,
/// small enough that a reader streaming 10⁸ files never holds more than a few of them.
pub(crate) const BATCH_ROWS: usize = 65_536;

/// What `batch_rows` may be.
const BATCH_ROWS_RANGE: std::ops::RangeInclusive<i64> = 1..=1_048_576;

/// `batch_rows`, checked (`ValueError` with the bounds otherwise).
fn batch_rows(given: Option<Whole>) -> PyResult<usize> {
    // Within the range, so positive and small.
    given.map_or(Ok(BATCH_ROWS), |n| {
        n.within("batch_rows", BATCH_ROWS_RANGE).map(|n| n as usize)
    })
}

/// An answer as Arrow batches of one schema: what the catalog's tables hold (made from
/// `columns.rs`'s definitions by `schema`/`batch`, so the columns are the CLI's JSON keys).
pub(crate) struct Batches {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl Batches {
    /// Rows of one type, as one batch.
    fn of<R: Row>(rows: &[R]) -> PyResult<Batches> {
        let batch = batch(rows).map_err(arrow_failed)?;
        Ok(Batches {
            schema: batch.schema(),
            batches: vec![batch],
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    pub(crate) fn columns(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The batches, sharing their buffers (a clone of a batch copies no data).
    pub(crate) fn batches(&self) -> (SchemaRef, Vec<RecordBatch>) {
        (self.schema.clone(), self.batches.clone())
    }

    /// Every row as a dict, its values the Python objects `to_pylist` gives for the
    /// availability tables (`dict` in lib.rs): dates `datetime.date`, times aware `datetime`
    /// in UTC, empty cells `None`.
    pub(crate) fn pylist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        let names = self.columns();
        for batch in &self.batches {
            let rows: Vec<Bound<'py, PyDict>> =
                (0..batch.num_rows()).map(|_| PyDict::new(py)).collect();
            for (name, column) in names.iter().zip(batch.columns()) {
                for (i, row) in rows.iter().enumerate() {
                    row.set_item(name, cell(py, column.as_ref(), i)?)?;
                }
            }
            for row in rows {
                list.append(row)?;
            }
        }
        Ok(list)
    }
}

/// One Arrow cell as a Python object, for the types `schema` gives a column.
fn cell<'py>(py: Python<'py>, column: &dyn Array, i: usize) -> PyResult<Bound<'py, PyAny>> {
    if column.is_null(i) {
        return Ok(py.None().into_bound(py));
    }
    let any = column.as_any();
    let cast = || AvailabilityError::new_err(format!("no Python value for {}", column.data_type()));
    Ok(match column.data_type() {
        DataType::Utf8 => any
            .downcast_ref::<StringArray>()
            .ok_or_else(cast)?
            .value(i)
            .into_pyobject(py)?
            .into_any(),
        DataType::Boolean => {
            let v = any
                .downcast_ref::<BooleanArray>()
                .ok_or_else(cast)?
                .value(i);
            v.into_pyobject(py)?.to_owned().into_any()
        }
        DataType::Int32 => any
            .downcast_ref::<Int32Array>()
            .ok_or_else(cast)?
            .value(i)
            .into_pyobject(py)?
            .into_any(),
        DataType::Int64 => any
            .downcast_ref::<Int64Array>()
            .ok_or_else(cast)?
            .value(i)
            .into_pyobject(py)?
            .into_any(),
        DataType::UInt32 => any
            .downcast_ref::<UInt32Array>()
            .ok_or_else(cast)?
            .value(i)
            .into_pyobject(py)?
            .into_any(),
        DataType::UInt64 => any
            .downcast_ref::<UInt64Array>()
            .ok_or_else(cast)?
            .value(i)
            .into_pyobject(py)?
            .into_any(),
        DataType::Float64 => any
            .downcast_ref::<Float64Array>()
            .ok_or_else(cast)?
            .value(i)
            .into_pyobject(py)?
            .into_any(),
        DataType::Date32 => {
            let days = any.downcast_ref::<Date32Array>().ok_or_else(cast)?.value(i);
            let date = NaiveDate::default() + chrono::Duration::days(i64::from(days));
            date.into_pyobject(py)?.into_any()
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let micros = any
                .downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(cast)?
                .value(i);
            let time = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(cast)?;
            time.into_pyobject(py)?.into_any()
        }
        _ => return Err(cast()),
    })
}

/// Why a catalog answer could not be made: the store's reason, or Arrow's.
enum Fail {
    Store(StoreError),
    Arrow(ArrowError),
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<Fail> for PyErr {
    fn from(f: Fail) -> PyErr {
        match f {
            Fail::Store(e) => Failure::Store(e).into(),
            Fail::Arrow(e) => arrow_failed(e),
        }
    }
}

/// A question the library refuses: `ValueError` with its sentence.
fn refused(e: CatalogQuestionError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// `MARKET/PARTITION/TYPE[/INTERVAL]`, as the CLI reads a dataset.
fn dataset(text: &str) -> PyResult<Dataset> {
    text.parse()
        .map_err(|e: binance_futures_availability::vision::DatasetError| {
            PyValueError::new_err(e.to_string())
        })
}

/// A calendar day (`changes`): a `datetime.date` or `'YYYY-MM-DD'`, any day.
fn calendar(arg: &Bound<'_, PyAny>, name: &str) -> PyResult<NaiveDate> {
    if let Ok(text) = arg.extract::<String>() {
        return calendar_day(&text).map_err(|e: DayError| PyValueError::new_err(e.to_string()));
    }
    arg.extract::<NaiveDate>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name} must be a datetime.date or a 'YYYY-MM-DD' string, not {}",
            arg.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })
}

/// A period (`files`): a day as a `datetime.date` or `'YYYY-MM-DD'`, a month as `'YYYY-MM'`
/// — of the dataset's partition, which `FilesQuestion::new` checks.
fn period(arg: &Bound<'_, PyAny>, name: &str) -> PyResult<Span> {
    if let Ok(text) = arg.extract::<String>() {
        return parse_period(&text).map_err(|e| PyValueError::new_err(e.to_string()));
    }
    arg.extract::<NaiveDate>().map(Span::Day).map_err(|_| {
        PyTypeError::new_err(format!(
            "{name} must be a datetime.date, or a 'YYYY-MM-DD' or 'YYYY-MM' string, not {}",
            arg.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })
}

/// A files question from Python's arguments, refused with the library's sentences.
fn files_question(
    dataset_name: &str,
    symbol: Option<&str>,
    since: Option<&Bound<'_, PyAny>>,
    until: Option<&Bound<'_, PyAny>>,
) -> PyResult<FilesQuestion> {
    let dataset = dataset(dataset_name)?;
    let since = since.map(|p| period(p, "since")).transpose()?;
    let until = until.map(|p| period(p, "until")).transpose()?;
    FilesQuestion::new(dataset, symbol, since, until).map_err(refused)
}

/// Reads the files `question` asks for from `catalog`, a batch of at most `per_batch` rows at
/// a time handed to `each`; an empty answer is one empty batch (its schema still known).
fn file_batches<E: From<Fail> + From<StoreError>>(
    catalog: &store::Catalog,
    question: &FilesQuestion,
    per_batch: usize,
    each: impl FnMut(RecordBatch) -> Result<(), E>,
) -> Result<(), E> {
    let listing = catalog.file_listing(&question.query())?;
    in_batches::<CatalogFile, E>(listing.files, per_batch, each, |row| {
        catalog.each_file(&listing, row)
    })
}

/// Reads the changes `question` asks for from `catalog`, in batches as `file_batches` does.
fn change_batches<E: From<Fail> + From<StoreError>>(
    catalog: &store::Catalog,
    question: &ChangesQuestion,
    per_batch: usize,
    each: impl FnMut(RecordBatch) -> Result<(), E>,
) -> Result<(), E> {
    let listing = catalog.change_listing(question.query())?;
    // A batch keeps its rows until it is built: each change lent is cloned (its leaf shared).
    in_batches::<Change, E>(listing.changes, per_batch, each, |row| {
        catalog.each_change(&listing, |c| row(c.clone()))
    })
}

/// The rows `read` yields (`total` of them), gathered into batches of at most `per_batch`
/// handed to `each`; no rows is one empty batch (its schema still known).
fn in_batches<R: Row, E: From<Fail>>(
    total: u64,
    per_batch: usize,
    mut each: impl FnMut(RecordBatch) -> Result<(), E>,
    read: impl FnOnce(&mut dyn FnMut(R) -> Result<(), E>) -> Result<(), E>,
) -> Result<(), E> {
    let cap = usize::try_from(total).map_or(per_batch, |n| n.min(per_batch));
    let mut rows: Vec<R> = Vec::with_capacity(cap);
    let mut sent = false;
    read(&mut |row| -> Result<(), E> {
        rows.push(row);
        if rows.len() == per_batch {
            each(batch(&rows).map_err(Fail::Arrow)?)?;
            rows.clear();
            sent = true;
        }
        Ok(())
    })?;
    if !rows.is_empty() || !sent {
        each(batch(&rows).map_err(Fail::Arrow)?)?;
    }
    Ok(())
}

/// A read-only handle on a catalog file (`open_catalog()`): the seven questions of `catalog
/// datasets|symbols|files|gaps|lag|changes|strays`, each answered as a `Table`. A handle may be
/// shared by threads (they take turns on its one DuckDB connection).
#[pyclass(
    frozen,
    name = "Catalog",
    module = "binance_futures_availability._native"
)]
pub(crate) struct CatalogHandle {
    path: PathBuf,
    inner: Mutex<Option<store::Catalog>>,
}

impl CatalogHandle {
    fn lock(&self) -> MutexGuard<'_, Option<store::Catalog>> {
        // As `Database::lock`: a panic mid-query leaves the connection sound.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the open catalog with the GIL released.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&store::Catalog) -> Result<T, Fail> + Send,
    ) -> PyResult<T> {
        let answer = py.detach(|| {
            let guard = self.lock();
            match guard.as_ref() {
                Some(catalog) => f(catalog).map_err(Some),
                None => Err(None),
            }
        });
        answer.map_err(|e| match e {
            Some(fail) => fail.into(),
            None => AvailabilityError::new_err("the catalog handle is closed"),
        })
    }

    /// A streamed answer of `R`s gathered into a table: `read` hands its batches to `each`.
    fn gathered<R: Row>(
        &self,
        py: Python<'_>,
        read: impl FnOnce(
            &store::Catalog,
            &mut dyn FnMut(RecordBatch) -> Result<(), Fail>,
        ) -> Result<(), Fail>
        + Send,
    ) -> PyResult<Table> {
        let batches = self.with(py, |c| {
            let mut batches = Vec::new();
            read(c, &mut |b| {
                batches.push(b);
                Ok(())
            })?;
            Ok(batches)
        })?;
        Ok(Table::new(Rows::Batches(Batches {
            schema: Arc::new(schema::<R>()),
            batches,
        })))
    }

    /// Asks `question` and hands its rows back as a table.
    fn ask(&self, py: Python<'_>, question: CatalogQuestion) -> PyResult<Table> {
        let answer = self.with(py, |c| Ok(c.answer(&question)?))?;
        let batches = match answer {
            CatalogAnswer::Datasets(rows) => Batches::of(&rows),
            CatalogAnswer::Symbols { rows, .. } => Batches::of(&rows),
            CatalogAnswer::Gaps { rows, .. } => Batches::of(&rows),
            CatalogAnswer::Lag { lag, .. } => Batches::of(&[lag]),
            CatalogAnswer::Strays(rows) => Batches::of(&rows),
        }?;
        Ok(Table::new(Rows::Batches(batches)))
    }
}

#[pymethods]
impl CatalogHandle {
    /// Opens the catalog at `path` read-only (it must exist); `open_catalog()` finds the path.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let catalog = py
            .detach(|| store::Catalog::open(&path))
            .map_err(|e| PyErr::from(Failure::Store(e)))?;
        Ok(CatalogHandle {
            path,
            inner: Mutex::new(Some(catalog)),
        })
    }

    /// The catalog file.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Closes the handle; later questions raise `AvailabilityError`. Closing twice is fine.
    fn close(&self, py: Python<'_>) {
        py.detach(|| drop(self.lock().take()));
    }

    /// Every dataset with files, by name: `dataset`, `symbols`, `files`, `bytes`, `first`,
    /// `last`, `missing_checksums`. `market`: only this market's (spot, um, cm, option).
    #[pyo3(signature = (market = None))]
    fn datasets(&self, py: Python<'_>, market: Option<&str>) -> PyResult<Table> {
        let market = market.map(market_arg).transpose()?;
        self.ask(py, CatalogQuestion::Datasets { market })
    }

    /// Every symbol folder of `dataset` with files, by name: `symbol`, `files`, `bytes`,
    /// `first`, `last`, `gaps`.
    fn symbols(&self, py: Python<'_>, dataset: &str) -> PyResult<Table> {
        let dataset = self::dataset(dataset)?;
        self.ask(py, CatalogQuestion::Symbols { dataset })
    }

    /// Every file of `dataset` (of `symbol`, in `[since, until]`), by symbol then period:
    /// `key`, `symbol`, `period`, `size`, `last_modified`, `checksum` — in Arrow batches of at
    /// most `batch_rows` rows (65,536 by default), read as the catalog streams them.
    #[pyo3(signature = (dataset, symbol = None, since = None, until = None, *, batch_rows = None))]
    fn files(
        &self,
        py: Python<'_>,
        dataset: &str,
        symbol: Option<&str>,
        since: Option<&Bound<'_, PyAny>>,
        until: Option<&Bound<'_, PyAny>>,
        batch_rows: Option<Whole>,
    ) -> PyResult<Table> {
        let question = files_question(dataset, symbol, since, until)?;
        let per_batch = self::batch_rows(batch_rows)?;
        self.gathered::<CatalogFile>(py, |c, each| file_batches(c, &question, per_batch, each))
    }

    /// As `files`, as a one-shot Arrow stream read while it is consumed: hand it to
    /// `pyarrow.RecordBatchReader.from_stream(s)` (or anything taking `__arrow_c_stream__`)
    /// and at most two batches of `batch_rows` rows exist at a time, whatever the dataset's
    /// size. The stream reads through a connection of its own, so it outlives `close()`.
    #[pyo3(signature = (dataset, symbol = None, since = None, until = None, *, batch_rows = None))]
    fn iter_files(
        &self,
        dataset: &str,
        symbol: Option<&str>,
        since: Option<&Bound<'_, PyAny>>,
        until: Option<&Bound<'_, PyAny>>,
        batch_rows: Option<Whole>,
    ) -> PyResult<FileStream> {
        let question = files_question(dataset, symbol, since, until)?;
        let per_batch = self::batch_rows(batch_rows)?;
        if self.lock().is_none() {
            return Err(AvailabilityError::new_err("the catalog handle is closed"));
        }
        Ok(FileStream {
            todo: Mutex::new(Some((self.path.clone(), question, per_batch))),
        })
    }

    /// The runs of periods missing inside each symbol folder's life, by symbol then period:
    /// `symbol`, `from`, `to`, `periods`, `covered_by` ('daily', 'monthly' or None).
    #[pyo3(signature = (dataset, symbol = None))]
    fn gaps(&self, py: Python<'_>, dataset: &str, symbol: Option<&str>) -> PyResult<Table> {
        let dataset = self::dataset(dataset)?;
        self.ask(py, CatalogQuestion::gaps(dataset, symbol).map_err(refused)?)
    }

    /// How long after its period ends a file of `dataset` is first seen, one row: `files`,
    /// `p50_hours`, `p90_hours`, `p99_hours`, `max_hours`, `replaced`.
    fn lag(&self, py: Python<'_>, dataset: &str) -> PyResult<Table> {
        let dataset = self::dataset(dataset)?;
        self.ask(py, CatalogQuestion::Lag { dataset })
    }

    /// Files added, replaced or removed, by `seen` then key: `seen`, `key`, `kind`, `size`,
    /// `last_modified`, `previous_size`, `previous_last_modified`. `since`/`until`: UTC days
    /// of `seen`, inclusive; `kind`: 'added', 'replaced' or 'removed'. Read as the catalog
    /// streams them, in Arrow batches of at most `batch_rows` rows (65,536 by default).
    #[pyo3(signature = (since = None, until = None, dataset = None, kind = None, *, batch_rows = None))]
    fn changes(
        &self,
        py: Python<'_>,
        since: Option<&Bound<'_, PyAny>>,
        until: Option<&Bound<'_, PyAny>>,
        dataset: Option<&str>,
        kind: Option<&str>,
        batch_rows: Option<Whole>,
    ) -> PyResult<Table> {
        let since = since.map(|d| calendar(d, "since")).transpose()?;
        let until = until.map(|d| calendar(d, "until")).transpose()?;
        let dataset = dataset.map(self::dataset).transpose()?;
        let kind = kind.map(parse_kind).transpose().map_err(refused)?;
        let question = ChangesQuestion::new(since, until, dataset, kind).map_err(refused)?;
        let per_batch = self::batch_rows(batch_rows)?;
        self.gathered::<Change>(py, |c, each| change_batches(c, &question, per_batch, each))
    }

    /// Keys outside the layout, by key: `key`, `size`, `last_modified`, `reason`.
    fn strays(&self, py: Python<'_>) -> PyResult<Table> {
        self.ask(py, CatalogQuestion::Strays)
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
        format!("<binance_futures_availability.Catalog {:?}>", self.path)
    }
}

/// A dataset's files as a one-shot Arrow stream (`Catalog.iter_files`).
#[pyclass(frozen, module = "binance_futures_availability._native")]
pub(crate) struct FileStream {
    /// The catalog and the question, until the stream is taken.
    todo: Mutex<Option<(PathBuf, FilesQuestion, usize)>>,
}

/// The consumer's end: batches as the reading thread sends them.
struct Receiving {
    schema: SchemaRef,
    batches: Receiver<Result<RecordBatch, ArrowError>>,
}

impl Iterator for Receiving {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        // The thread hangs up after its last batch (or its error).
        self.batches.recv().ok()
    }
}

impl RecordBatchReader for Receiving {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// Why the reading thread stops early: the store failed, or the consumer went away.
enum Stop {
    Fail(Fail),
    Gone,
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Fail(Fail::Store(e))
    }
}

impl From<Fail> for Stop {
    fn from(f: Fail) -> Self {
        Stop::Fail(f)
    }
}

/// Reads the files on this thread into `out`, one batch waiting at most.
fn send_files(
    path: PathBuf,
    question: FilesQuestion,
    per_batch: usize,
    out: SyncSender<Result<RecordBatch, ArrowError>>,
) {
    let read = || -> Result<(), Stop> {
        let catalog = store::Catalog::open(&path)?;
        file_batches(&catalog, &question, per_batch, |b| -> Result<(), Stop> {
            out.send(Ok(b)).map_err(|_| Stop::Gone)
        })
    };
    if let Err(Stop::Fail(fail)) = read() {
        let sentence = match fail {
            Fail::Store(e) => e.to_string(),
            Fail::Arrow(e) => format!("could not build the Arrow table: {e}"),
        };
        // The consumer may be gone too; nothing is left to tell.
        let _ = out.send(Err(ArrowError::ExternalError(sentence.into())));
    }
}

#[pymethods]
impl FileStream {
    /// The Arrow PyCapsule stream interface: the files in batches of at most 65,536 rows,
    /// read while consumed. Once only.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let (path, question, per_batch) = self
            .todo
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| {
                AvailabilityError::new_err(
                    "this stream of files was read already; ask iter_files() again",
                )
            })?;
        let (tx, rx) = sync_channel(1);
        std::thread::Builder::new()
            .name("bfa-catalog-files".into())
            .spawn(move || send_files(path, question, per_batch, tx))
            .map_err(|e| AvailabilityError::new_err(format!("could not start a thread: {e}")))?;
        let reader = Receiving {
            schema: Arc::new(schema::<CatalogFile>()),
            batches: rx,
        };
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    fn __repr__(&self) -> String {
        let state = if self.todo.lock().map(|t| t.is_some()).unwrap_or(false) {
            "unread"
        } else {
            "read"
        };
        format!("<binance_futures_availability.FileStream {state}>")
    }
}
