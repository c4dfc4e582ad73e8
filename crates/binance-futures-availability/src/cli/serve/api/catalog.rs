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
//! whole answer.

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

use super::{
    ApiError, App, Endpoint, Params, Validators, accepts_gzip, fresh, header_text, header_value,
    path_text, ran_error, ready, truncated, validators,
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

/// What a catalog answer is kept under: the question and the format it was written in.
pub(crate) type CatalogKey = (CatalogQuestion, Format);

impl super::super::answers::Key for CatalogKey {
    fn heap_bytes(&self) -> usize {
        // Its text's block, as glibc's malloc lays it out (as `Question::heap_bytes` counts).
        match self.0.heap_bytes() {
            0 => 0,
            n => (n + 8).div_ceil(16).max(2) * 16,
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
        (question, format),
        |catalog, key| {
            let (question, format) = key;
            let mut out = Vec::new();
            write_rows(&mut out, catalog.answer(question)?, *format)?;
            Ok(out)
        },
    )
    .await
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

/// A question whose answer is streamed, and the format it is written in.
enum Streamed {
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

    /// The totals sent as headers before the first row.
    fn totals(&self) -> Vec<(&'static str, u64)> {
        match self {
            Listed::Files(l) => vec![("x-total-files", l.files), ("x-total-bytes", l.bytes)],
            Listed::Changes(l) => vec![("x-total-changes", l.changes)],
        }
    }
}

/// A streamed answer from the catalog served now, validated like the kept ones.
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
    stream_rows(app, generation, streamed, gzip, validators, content_type).await
}

/// What the stream sends: its head (the totals, or the refusal) once the listing is known,
/// then its body's chunks.
enum Piece {
    Head {
        totals: Vec<(&'static str, u64)>,
        gzip: bool,
    },
    Chunk(Bytes),
}

/// Chunks in flight between the handle's thread and the client, at most: with `CHUNK_BYTES`
/// each, what one answer holds in memory whatever its size.
const CHUNKS_IN_FLIGHT: usize = 4;

/// A chunk is sent once it holds this much.
const CHUNK_BYTES: usize = 64 * 1024;

/// A streamed question's answer: 400 when it matches more than `app.max_files` rows, else the
/// totals as headers and the rows as they are read.
async fn stream_rows(
    app: &App,
    generation: Arc<super::Generation<Catalog>>,
    streamed: Streamed,
    gzip: bool,
    validators: Validators,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    let (tx, mut rx) = mpsc::channel::<Result<Piece, ApiError>>(CHUNKS_IN_FLIGHT);
    let (max, wait) = (app.max_files, app.timeout);
    let writer = tx.clone();
    let reading = Arc::clone(&generation);
    tokio::spawn(async move {
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
                let gzip = gzip && listed.rows() > 0;
                let mut chunks = Chunks::new(writer, wait);
                let head = Piece::Head {
                    totals: listed.totals(),
                    gzip,
                };
                if chunks.send(Ok(head)).is_err() {
                    return Ok(());
                }
                let written = if gzip {
                    let mut encoder =
                        flate2::write::GzEncoder::new(&mut chunks, flate2::Compression::fast());
                    streamed
                        .write(&mut encoder, catalog, &listed)
                        .and_then(|()| encoder.finish().map(drop).map_err(CliError::from))
                } else {
                    streamed.write(&mut chunks, catalog, &listed)
                };
                match written.and_then(|()| chunks.finish().map_err(CliError::from)) {
                    // The client stopped reading: not the file's failure.
                    Err(_) if chunks.gone => Ok(()),
                    other => other,
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
    let head = match tokio::time::timeout(app.timeout, rx.recv()).await {
        Err(_) => return Err(app.too_slow()),
        Ok(None) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the answer was not read (see the server's log)",
            ));
        }
        Ok(Some(Err(e))) => return Err(e),
        Ok(Some(Ok(Piece::Chunk(_)))) => unreachable!("the head comes first"),
        Ok(Some(Ok(head))) => head,
    };
    let Piece::Head { totals, gzip } = head else {
        unreachable!("matched above")
    };
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        let piece = match rx.recv().await? {
            Ok(Piece::Chunk(bytes)) => Ok(bytes),
            Ok(Piece::Head { .. }) => Err(io::Error::other("a second head")),
            Err(e) => Err(io::Error::other(e.sentence)),
        };
        Some((piece, rx))
    });
    let mut response = (
        validators.headers,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
    )
        .into_response();
    for (name, total) in totals {
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
    *response.body_mut() = Body::from_stream(body);
    Ok(response)
}

/// Bytes written on the handle's thread, sent to the client in chunks of `CHUNK_BYTES`; a
/// client that takes none for `wait` is given up on (`gone`), and so is one that left.
struct Chunks {
    tx: mpsc::Sender<Result<Piece, ApiError>>,
    buffer: Vec<u8>,
    wait: Duration,
    runtime: tokio::runtime::Handle,
    gone: bool,
}

impl Chunks {
    /// On the blocking pool's thread (it has the runtime's handle).
    fn new(tx: mpsc::Sender<Result<Piece, ApiError>>, wait: Duration) -> Chunks {
        Chunks {
            tx,
            buffer: Vec::with_capacity(CHUNK_BYTES),
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
