//! `/v1/catalog/…`: the catalog's questions (ADR 0020) over HTTP, answered from the catalog's
//! file (`--catalog`, watched and swapped as the database is) with the bytes `catalog … --format
//! json|csv|urls` prints: the parameters become the library's `CatalogQuestion` or
//! `FilesQuestion` (refused with its sentences), and the command line's `rows` and `files`
//! write the answer.
//!
//! Answers in rows are kept like the database's, under the question and the format. A
//! dataset's files and the history's changes are streamed instead: the listing's totals come
//! first (one aggregate), a question matching more than `--max-files` rows is refused then,
//! before any row is read, and otherwise the rows are written into chunks as they are read, on
//! the handle's thread, and sent as the client takes them — a few chunks in flight, never the
//! whole answer. A streamed answer that stayed small while it was written (`kept_bound`, a
//! sixteenth of `--cache-mb`; one symbol's files are ~160 KB) is kept as it was sent (totals,
//! encoding, body) under the question, its format and the client's gzip, and the next request
//! asking the same is answered from it without a handle: one symbol's files cost ~3.7 ms of
//! the server's CPU to write on 2 cores under load (BENCHMARKS.md, session 19). A publish
//! refills the kept answers from the new file (`refill`), as the database's.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::mpsc;

use super::super::published::Limits;
use super::{
    ApiError, App, Endpoint, Params, RowsAnswer, Validators, accepts_gzip, fresh, header_text,
    header_value, kept, path_text, ran_error, ready, truncated, validators,
};
use crate::cli::CliError;
use crate::cli::catalog::{
    FilesFormat, changes as write_changes, files as write_files, rows as write_rows,
};
use crate::cli::render::Format;
use crate::facts::{Market, Span};
use crate::question::catalog::{
    CatalogQuestion, CatalogQuestionError, ChangesQuestion, FilesQuestion, calendar_day,
    parse_kind, parse_period,
};
use crate::store::{Catalog, ChangeListing, FileListing};
use crate::vision::Dataset;

/// What a catalog answer is kept under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(in crate::cli::serve) enum CatalogKey {
    /// A question answered in rows, and the format it was written in: kept as written, and
    /// gzipped per request as the database's answers.
    Rows(CatalogQuestion, Format),
    /// A streamed question in its format, and whether the client takes gzip: kept as it was
    /// sent, when it was small (`kept_bound`).
    Streamed(Streamed, bool),
}

impl super::super::answers::Key for CatalogKey {
    type Answer = CatalogKept;

    fn heap_bytes(&self) -> usize {
        let text = match self {
            CatalogKey::Rows(question, _) => question.heap_bytes(),
            CatalogKey::Streamed(Streamed::Files(question, _), _) => question.heap_bytes(),
            CatalogKey::Streamed(Streamed::Changes(..), _) => 0,
        };
        // Its text's block, as glibc's malloc lays it out (as `Question::heap_bytes` counts).
        match text {
            0 => 0,
            n => (n + 8).div_ceil(16).max(2) * 16,
        }
    }
}

/// A kept catalog answer: a `Rows` key's is `Rows`, a `Streamed` key's `Streamed` (`rows` and
/// `stream` keep them so, each its own).
#[derive(Debug, Clone)]
pub(in crate::cli::serve) enum CatalogKept {
    Rows(Bytes),
    Streamed(Sent),
}

impl super::super::answers::Kept for CatalogKept {
    fn body_bytes(&self) -> usize {
        match self {
            CatalogKept::Rows(body) => body.len(),
            CatalogKept::Streamed(sent) => sent.body.len(),
        }
    }
}

impl RowsAnswer for CatalogKept {
    fn rows(body: Bytes) -> CatalogKept {
        CatalogKept::Rows(body)
    }

    fn body(self) -> Option<Bytes> {
        match self {
            CatalogKept::Rows(body) => Some(body),
            CatalogKept::Streamed(_) => None,
        }
    }
}

/// A streamed answer as it was sent, whole: the totals its headers carry, whether its body is
/// gzip, and the body's bytes.
#[derive(Debug, Clone)]
pub(in crate::cli::serve) struct Sent {
    totals: Totals,
    gzip: bool,
    body: Bytes,
}

impl Sent {
    /// The answer again, as `stream_rows` sent it but for the framing: one body of a known
    /// length instead of chunks.
    fn response(self, validators: Validators, content_type: &'static str) -> Response {
        let mut response = head(validators, content_type, self.totals, self.gzip);
        *response.body_mut() = Body::from(self.body);
        response
    }
}

/// The largest streamed answer kept: a sixteenth of `--cache-mb` (8 MB of the default 128 MB).
/// One symbol's files of a daily dataset are ~210 B a file in JSON, ~530 KB for the longest
/// history (~2,500 days since 2019): well within it, and sixteen such bounds fill the cache,
/// so one large answer never flushes most of what is kept. It is also what a streamed answer
/// holds besides its chunks in flight while it is written: once it grows past the bound, the
/// copy is dropped and the answer goes on streaming, never held whole; at most `--handles`
/// answers are written at once.
fn kept_bound(limits: Limits) -> usize {
    limits.cache_bytes / 16
}

/// The bytes of an answer as they are written, for as long as they stay within a bound.
struct Keeping {
    bytes: Option<Vec<u8>>,
    bound: usize,
}

impl Keeping {
    fn new(bound: usize) -> Keeping {
        Keeping {
            bytes: (bound > 0).then(Vec::new),
            bound,
        }
    }

    /// Adds `more`; false (and nothing kept from then on) once the copy would pass the bound.
    fn take(&mut self, more: &[u8]) -> bool {
        let Some(bytes) = &mut self.bytes else {
            return false;
        };
        let len = bytes.len() + more.len();
        if len > self.bound {
            self.bytes = None;
            return false;
        }
        if len > bytes.capacity() {
            // Doubling, but never past the bound: the copy holds at most `bound` bytes.
            let capacity = (bytes.capacity() * 2).clamp(len, self.bound);
            bytes.reserve_exact(capacity - bytes.len());
        }
        bytes.extend_from_slice(more);
        true
    }

    /// The whole answer, if it stayed within the bound.
    fn body(self) -> Option<Bytes> {
        self.bytes.map(kept)
    }
}

/// A refill's writer: the answer, or an error once it passes the bound (then not kept).
impl Write for Keeping {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.take(bytes) {
            Ok(bytes.len())
        } else {
            Err(io::Error::other("larger than a kept answer may be"))
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The answer kept under `key`, written again from `catalog` (a new file, before it is
/// served): `None` when the question fails on it, would be refused now (more rows than
/// `--max-files`), or its answer has grown past `kept_bound`.
pub(in crate::cli::serve) fn refill(
    catalog: &Catalog,
    key: &CatalogKey,
    limits: Limits,
) -> Option<CatalogKept> {
    match key {
        CatalogKey::Rows(..) => write_rows_answer(catalog, key)
            .ok()
            .map(|body| CatalogKept::Rows(kept(body))),
        CatalogKey::Streamed(streamed, gzip) => {
            let listed = streamed.list(catalog).ok()?;
            if listed.rows() > limits.max_files {
                return None;
            }
            let gzip = listed.gzip(*gzip);
            let mut copy = Keeping::new(kept_bound(limits));
            streamed
                .write_sent(&mut copy, catalog, &listed, gzip)
                .ok()?;
            Some(CatalogKept::Streamed(Sent {
                totals: listed.totals(),
                gzip,
                body: copy.body()?,
            }))
        }
    }
}

/// Files one `/v1/catalog/files` or `/v1/catalog/changes` answer lists at most, unless `serve
/// --max-files` says otherwise: about 250 MB of JSON, 130 MB of CSV (a change's row is about
/// as long as a file's).
pub(crate) const DEFAULT_MAX_FILES: u64 = 1_000_000;

/// The catalog's endpoints, in the order help and the 404 sentence list them.
pub(in crate::cli::serve) const ENDPOINTS: [Endpoint; 7] = [
    Endpoint {
        path: "/v1/catalog/datasets",
        about: "?market=spot|um|cm|option",
        handler: || get(datasets),
    },
    Endpoint {
        path: "/v1/catalog/symbols/{*dataset}",
        about: "",
        handler: || get(symbols),
    },
    Endpoint {
        path: "/v1/catalog/files/{*dataset}",
        about: "?symbol=&since=&until=&format=json|csv|urls",
        handler: || get(files),
    },
    Endpoint {
        path: "/v1/catalog/gaps/{*dataset}",
        about: "?symbol=",
        handler: || get(gaps),
    },
    Endpoint {
        path: "/v1/catalog/lag/{*dataset}",
        about: "",
        handler: || get(lag),
    },
    Endpoint {
        path: "/v1/catalog/changes",
        about: "?since=&until=&dataset=&kind=",
        handler: || get(changes),
    },
    Endpoint {
        path: "/v1/catalog/strays",
        about: "",
        handler: || get(strays),
    },
];

type QueryPairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// A question the library refuses: 400 with its sentence.
fn refused(e: CatalogQuestionError) -> ApiError {
    ApiError::bad(e.to_string())
}

/// The dataset a path names, slashes and all (`um/daily/klines/1m`), or 400 with the
/// library's sentence for a text that names none.
fn dataset(path: Result<Path<String>, PathRejection>) -> Result<Dataset, ApiError> {
    let text = path_text(path)?;
    text.parse()
        .map_err(|e: crate::vision::DatasetError| ApiError::bad(e.to_string()))
}

fn optional_dataset(params: &Params) -> Result<Option<Dataset>, ApiError> {
    params
        .get("dataset")
        .map(|text| {
            text.parse()
                .map_err(|e: crate::vision::DatasetError| ApiError::bad(e.to_string()))
        })
        .transpose()
}

/// A day of the catalog's history (any calendar day), with the command line's sentence.
fn calendar(params: &Params, key: &str) -> Result<Option<chrono::NaiveDate>, ApiError> {
    params
        .get(key)
        .map(|text| calendar_day(text).map_err(|e| ApiError::bad(e.to_string())))
        .transpose()
}

fn period(params: &Params, key: &str) -> Result<Option<Span>, ApiError> {
    params
        .get(key)
        .map(|text| parse_period(text).map_err(|e| ApiError::bad(e.to_string())))
        .transpose()
}

/// An answer in rows, from the catalog served now: kept, validated, gzipped as the database's.
async fn rows(
    app: &App,
    headers: &HeaderMap,
    format: Format,
    question: CatalogQuestion,
) -> Result<Response, ApiError> {
    let generation = ready(&app.catalog)?;
    app.kept_answer(
        &generation,
        headers,
        format,
        CatalogKey::Rows(question, format),
        write_rows_answer,
    )
    .await
}

/// The body of a `Rows` key's answer, from `catalog`: what a request that finds none kept
/// runs, and what a publish refills.
fn write_rows_answer(catalog: &Catalog, key: &CatalogKey) -> Result<Vec<u8>, CliError> {
    let CatalogKey::Rows(question, format) = key else {
        unreachable!("only a question in rows is written in rows")
    };
    let mut out = Vec::new();
    write_rows(&mut out, catalog.answer(question)?, *format)?;
    Ok(out)
}

async fn datasets(
    State(app): State<Arc<App>>,
    query: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["market", "format"])?;
    let market = params
        .get("market")
        .map(|text| {
            text.parse::<Market>()
                .map_err(|e| ApiError::bad(e.to_string()))
        })
        .transpose()?;
    let format = params.format(&headers)?;
    rows(&app, &headers, format, CatalogQuestion::Datasets { market }).await
}

async fn symbols(
    State(app): State<Arc<App>>,
    path: Result<Path<String>, PathRejection>,
    query: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["format"])?;
    let dataset = dataset(path)?;
    let format = params.format(&headers)?;
    rows(&app, &headers, format, CatalogQuestion::Symbols { dataset }).await
}

async fn gaps(
    State(app): State<Arc<App>>,
    path: Result<Path<String>, PathRejection>,
    query: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["symbol", "format"])?;
    let question = CatalogQuestion::gaps(dataset(path)?, params.get("symbol")).map_err(refused)?;
    let format = params.format(&headers)?;
    rows(&app, &headers, format, question).await
}

async fn lag(
    State(app): State<Arc<App>>,
    path: Result<Path<String>, PathRejection>,
    query: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["format"])?;
    let dataset = dataset(path)?;
    let format = params.format(&headers)?;
    rows(&app, &headers, format, CatalogQuestion::Lag { dataset }).await
}

async fn changes(
    State(app): State<Arc<App>>,
    query: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["since", "until", "dataset", "kind", "format"])?;
    let question = changes_question(&params)?;
    let format = params.format(&headers)?;
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Json | Format::Table => "application/json",
    };
    let name = match format {
        Format::Csv => "csv",
        Format::Json | Format::Table => "json",
    };
    stream(
        &app,
        &headers,
        Streamed::Changes(question, format),
        name,
        content_type,
    )
    .await
}

/// `/v1/catalog/changes`'s parameters as the question they ask.
fn changes_question(params: &Params) -> Result<ChangesQuestion, ApiError> {
    let kind = params
        .get("kind")
        .map(parse_kind)
        .transpose()
        .map_err(refused)?;
    ChangesQuestion::new(
        calendar(params, "since")?,
        calendar(params, "until")?,
        optional_dataset(params)?,
        kind,
    )
    .map_err(refused)
}

async fn strays(
    State(app): State<Arc<App>>,
    query: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["format"])?;
    let format = params.format(&headers)?;
    rows(&app, &headers, format, CatalogQuestion::Strays).await
}

/// `?format=` (json, csv or urls) first, then the Accept header (`text/csv`); JSON otherwise.
fn files_format(params: &Params, headers: &HeaderMap) -> Result<FilesFormat, ApiError> {
    match params.get("format") {
        Some("json") => Ok(FilesFormat::Json),
        Some("csv") => Ok(FilesFormat::Csv),
        Some("urls") => Ok(FilesFormat::Urls),
        Some(other) => Err(ApiError::bad(format!(
            "{:?} is not a format of files; use json, csv or urls",
            truncated(other)
        ))),
        None => Ok(
            if header_text(headers, header::ACCEPT).is_some_and(|a| a.contains("text/csv")) {
                FilesFormat::Csv
            } else {
                FilesFormat::Json
            },
        ),
    }
}

/// `/v1/catalog/files/{dataset}`'s path and parameters as the question they ask.
fn files_question(
    path: Result<Path<String>, PathRejection>,
    params: &Params,
) -> Result<FilesQuestion, ApiError> {
    let dataset = dataset(path)?;
    FilesQuestion::new(
        dataset,
        params.get("symbol"),
        period(params, "since")?,
        period(params, "until")?,
    )
    .map_err(refused)
}

async fn files(
    State(app): State<Arc<App>>,
    path: Result<Path<String>, PathRejection>,
    query: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["symbol", "since", "until", "format"])?;
    let question = files_question(path, &params)?;
    let format = files_format(&params, &headers)?;
    let (name, content_type) = match format {
        FilesFormat::Json | FilesFormat::Table => ("json", "application/json"),
        FilesFormat::Csv => ("csv", "text/csv; charset=utf-8"),
        FilesFormat::Urls => ("urls", "text/plain; charset=utf-8"),
    };
    stream(
        &app,
        &headers,
        Streamed::Files(question, format),
        name,
        content_type,
    )
    .await
}

/// A question whose answer is streamed (and kept when small), and the format it is written in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(in crate::cli::serve) enum Streamed {
    Files(FilesQuestion, FilesFormat),
    Changes(ChangesQuestion, Format),
}

/// What a streamed question matches, counted before its first row is read.
enum Listed {
    Files(FileListing),
    Changes(ChangeListing),
}

impl Streamed {
    fn list(&self, catalog: &Catalog) -> Result<Listed, CliError> {
        Ok(match self {
            Streamed::Files(q, _) => Listed::Files(catalog.file_listing(&q.query())?),
            Streamed::Changes(q, _) => Listed::Changes(catalog.change_listing(q.query())?),
        })
    }

    fn write(
        &self,
        out: &mut impl Write,
        catalog: &Catalog,
        listed: &Listed,
    ) -> Result<(), CliError> {
        match (self, listed) {
            (Streamed::Files(q, format), Listed::Files(listing)) => {
                write_files(out, catalog, listing, q.dataset(), *format, true)
            }
            (Streamed::Changes(_, format), Listed::Changes(listing)) => {
                write_changes(out, catalog, listing, *format)
            }
            _ => unreachable!("a question is listed by its own kind"),
        }
    }

    /// The body of the answer as it is sent, gzipped when `gzip`: the one writer of what is
    /// streamed and of what is kept.
    fn write_sent(
        &self,
        out: &mut impl Write,
        catalog: &Catalog,
        listed: &Listed,
        gzip: bool,
    ) -> Result<(), CliError> {
        if gzip {
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
            self.write(&mut encoder, catalog, listed)?;
            encoder.finish()?;
            Ok(())
        } else {
            self.write(out, catalog, listed)
        }
    }

    /// The refusal of a question matching more than `max` rows: the one sentence of both, with
    /// how to narrow each.
    fn too_many(&self, rows: u64, max: u64) -> ApiError {
        let (what, narrow, command) = match self {
            Streamed::Files(q, _) => (
                format!("files of {}", q.dataset()),
                "symbol=, since= or until=",
                "files",
            ),
            Streamed::Changes(..) => (
                "changes".to_string(),
                "since=, until=, dataset= or kind=",
                "changes",
            ),
        };
        ApiError::bad(format!(
            "{rows} {what} match, more than the {max} one answer lists; narrow the question \
             with {narrow}, or run `catalog {command}` on the command line, which has no limit"
        ))
    }
}

impl Listed {
    /// Rows it matches, held to `--max-files`.
    fn rows(&self) -> u64 {
        match self {
            Listed::Files(l) => l.files,
            Listed::Changes(l) => l.changes,
        }
    }

    /// Whether the answer is gzipped, the client taking gzip (`asked`): an empty one is sent
    /// as it is.
    fn gzip(&self, asked: bool) -> bool {
        asked && self.rows() > 0
    }

    /// The totals sent as headers before the first row.
    fn totals(&self) -> Totals {
        match self {
            Listed::Files(l) => Totals::Files {
                files: l.files,
                bytes: l.bytes,
            },
            Listed::Changes(l) => Totals::Changes { changes: l.changes },
        }
    }
}

/// What a streamed answer's headers say of it before its first row.
#[derive(Debug, Clone, Copy)]
enum Totals {
    Files { files: u64, bytes: u64 },
    Changes { changes: u64 },
}

impl Totals {
    fn headers(self) -> Vec<(&'static str, u64)> {
        match self {
            Totals::Files { files, bytes } => {
                vec![("x-total-files", files), ("x-total-bytes", bytes)]
            }
            Totals::Changes { changes } => vec![("x-total-changes", changes)],
        }
    }
}

/// A streamed answer from the catalog served now, validated like the kept ones: the one kept
/// for the question, its format and the client's gzip, if any; else streamed (and kept).
async fn stream(
    app: &App,
    headers: &HeaderMap,
    streamed: Streamed,
    name: &str,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    let generation = ready(&app.catalog)?;
    let validators = validators(&generation, name);
    if fresh(headers, &validators.etag, generation.last_modified) {
        return Ok((StatusCode::NOT_MODIFIED, validators.headers).into_response());
    }
    let gzip = accepts_gzip(headers);
    let key = CatalogKey::Streamed(streamed.clone(), gzip);
    if let Some(CatalogKept::Streamed(sent)) = generation.answers.get(&key) {
        return Ok(sent.response(validators, content_type));
    }
    stream_rows(app, generation, streamed, gzip, validators, content_type).await
}

/// A streamed answer's status and headers: the validators, its type, its totals, its
/// encoding.
fn head(
    validators: Validators,
    content_type: &'static str,
    totals: Totals,
    gzip: bool,
) -> Response {
    let mut response = (
        validators.headers,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
    )
        .into_response();
    for (name, total) in totals.headers() {
        response.headers_mut().insert(
            header::HeaderName::from_static(name),
            header_value(&total.to_string()),
        );
    }
    if gzip {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// What the stream sends: its head (the totals, or the refusal) once the listing is known,
/// then its body's chunks.
enum Piece {
    Head { totals: Totals, gzip: bool },
    Chunk(Bytes),
}

/// Chunks in flight between the handle's thread and the client, at most: with `CHUNK_BYTES`
/// each, what one answer holds in memory whatever its size.
const CHUNKS_IN_FLIGHT: usize = 4;

/// A chunk is sent once it holds this much.
const CHUNK_BYTES: usize = 64 * 1024;

/// A streamed question's answer: 400 when it matches more than `--max-files` rows, else the
/// totals as headers and the rows as they are read. An answer sent whole within `kept_bound`
/// is kept for the next request asking it with `asked_gzip`.
async fn stream_rows(
    app: &App,
    generation: Arc<super::Generation<Catalog>>,
    streamed: Streamed,
    asked_gzip: bool,
    validators: Validators,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    let (tx, mut rx) = mpsc::channel::<Result<Piece, ApiError>>(CHUNKS_IN_FLIGHT);
    let (limits, wait) = (app.limits, app.timeout);
    let max = limits.max_files;
    let writer = tx.clone();
    let reading = Arc::clone(&generation);
    tokio::spawn(async move {
        let keeping = Arc::clone(&reading);
        let ran = reading
            .run(move |catalog| {
                // Given up on (the client left, or the head came too late): nothing to read.
                if writer.is_closed() {
                    return Ok(());
                }
                let listed = streamed.list(catalog)?;
                if listed.rows() > max {
                    let _ = writer.blocking_send(Err(streamed.too_many(listed.rows(), max)));
                    return Ok(());
                }
                let gzip = listed.gzip(asked_gzip);
                let mut chunks = Chunks::new(writer, wait, kept_bound(limits));
                let totals = listed.totals();
                if chunks.send(Ok(Piece::Head { totals, gzip })).is_err() {
                    return Ok(());
                }
                let written = streamed
                    .write_sent(&mut chunks, catalog, &listed, gzip)
                    .and_then(|()| chunks.finish().map_err(CliError::from));
                match written {
                    Ok(()) => {
                        if let Some(body) = chunks.copy.body() {
                            let sent = Sent { totals, gzip, body };
                            let key = CatalogKey::Streamed(streamed, asked_gzip);
                            keeping.answers.put(key, CatalogKept::Streamed(sent));
                        }
                        Ok(())
                    }
                    // The client stopped reading: not the file's failure.
                    Err(_) if chunks.gone => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await;
        if let Err(e) = ran {
            // Before the head, the refusal; after it, the body ends in an error (the client
            // sees a truncated chunked answer, never a short one that looks whole).
            let e = ran_error(&reading, e);
            tracing::warn!("a streamed catalog answer failed: {}", e.sentence);
            let _ = tx.send(Err(e)).await;
        }
    });
    let (totals, gzip) = match tokio::time::timeout(app.timeout, rx.recv()).await {
        Err(_) => return Err(app.too_slow()),
        Ok(None) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the answer was not read (see the server's log)",
            ));
        }
        Ok(Some(Err(e))) => return Err(e),
        Ok(Some(Ok(Piece::Chunk(_)))) => unreachable!("the head comes first"),
        Ok(Some(Ok(Piece::Head { totals, gzip }))) => (totals, gzip),
    };
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        let piece = match rx.recv().await? {
            Ok(Piece::Chunk(bytes)) => Ok(bytes),
            Ok(Piece::Head { .. }) => Err(io::Error::other("a second head")),
            Err(e) => Err(io::Error::other(e.sentence)),
        };
        Some((piece, rx))
    });
    let mut response = head(validators, content_type, totals, gzip);
    *response.body_mut() = Body::from_stream(body);
    Ok(response)
}

/// Bytes written on the handle's thread, sent to the client in chunks of `CHUNK_BYTES`, and
/// copied while they stay within a bound (to be kept); a client that takes none for `wait` is
/// given up on (`gone`), and so is one that left.
struct Chunks {
    tx: mpsc::Sender<Result<Piece, ApiError>>,
    buffer: Vec<u8>,
    copy: Keeping,
    wait: Duration,
    runtime: tokio::runtime::Handle,
    gone: bool,
}

impl Chunks {
    /// On the blocking pool's thread (it has the runtime's handle).
    fn new(tx: mpsc::Sender<Result<Piece, ApiError>>, wait: Duration, bound: usize) -> Chunks {
        Chunks {
            tx,
            buffer: Vec::with_capacity(CHUNK_BYTES),
            copy: Keeping::new(bound),
            wait,
            runtime: tokio::runtime::Handle::current(),
            gone: false,
        }
    }

    fn send(&mut self, piece: Result<Piece, ApiError>) -> io::Result<()> {
        let sent = self
            .runtime
            .block_on(tokio::time::timeout(self.wait, self.tx.send(piece)));
        match sent {
            Ok(Ok(())) => Ok(()),
            _ => {
                self.gone = true;
                Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the client stopped reading the answer",
                ))
            }
        }
    }

    fn send_buffer(&mut self) -> io::Result<()> {
        let full = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        self.send(Ok(Piece::Chunk(Bytes::from(full))))
    }

    /// Sends what is left.
    fn finish(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.send_buffer()
    }
}

impl Write for Chunks {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.copy.take(bytes);
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(bytes.len())
    }

    /// Chunks go when full (or at `finish`): a flush sends nothing, so a writer that flushes
    /// per row does not send a chunk per row.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
