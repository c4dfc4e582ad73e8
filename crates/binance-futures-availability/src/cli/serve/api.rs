//! The HTTP API: routes, parameters, and answers that are byte for byte what the command line
//! prints with `--format json` or `--format csv` (the same `render` functions write both).
//!
//! Every answer from the database carries an ETag naming the published file and the format,
//! so a client that sends it back gets 304 until the next publish; nothing needs the database
//! to say so. Input is checked with the command line's own checks, before any query runs, and
//! refused with its sentence: 400 for bad input, 404 for an unknown symbol (with suggestions),
//! 409 for a day after "complete through" (not checked yet), 503 while there is no database
//! to answer from, or when the query did not finish in time.
//! Every request passes `guard` first (the Host rule, the security headers).
//!
//! The catalog's routes (`/v1/catalog/…`) are `catalog`'s, answered the same way from the
//! catalog's file.
//!
//! What must not be known here: SQL, how files are watched (`published`), sockets (`mod`).

pub(super) mod catalog;

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use chrono::{NaiveDate, Utc};
use serde::Serialize;

use super::guard::{self, Hosts};
use super::page;
use super::published::{Current, Generation, Published, RunError, Served};
use crate::cli::render::{self, Format, ReportFormat};
use crate::cli::{CliError, ops, report};
use crate::facts::{ContractFilter, Market};
use crate::question::{MIN_AGE_DAYS, Question, QuestionError, TOP_MEMBERS};
use crate::store::Every;
use crate::store::{
    Catalog, DEFAULT_DELISTED_AFTER, Database, EventFilter, EventKind, RankBy, StoreError,
    UNIVERSE_DAYS, UniverseQuery,
};

pub(super) use catalog::CatalogKey;
pub(crate) use catalog::DEFAULT_MAX_FILES;

/// What an answer is kept under: the question and the format it was written in.
pub(super) type AnswerKey = (Question, Format);

impl super::answers::Key for AnswerKey {
    type Answer = Bytes;

    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }
}

/// A kept answer that holds an answer in rows: its body as written, gzipped per request
/// (`App::kept_answer`).
pub(super) trait RowsAnswer: Sized {
    fn rows(body: Bytes) -> Self;
    /// The body, when `self` is an answer in rows.
    fn body(self) -> Option<Bytes>;
}

impl RowsAnswer for Bytes {
    fn rows(body: Bytes) -> Bytes {
        body
    }

    fn body(self) -> Option<Bytes> {
        Some(self)
    }
}

/// An answer's body as it is kept: without the slack of its doubling growth (up to 2x), so
/// the cache's limit is what it holds.
fn kept(mut body: Vec<u8>) -> Bytes {
    body.shrink_to_fit();
    Bytes::from(body)
}

/// What every handler shares.
pub(super) struct App {
    /// USD-M's handles on the published file: every question without `?market=`, the status.
    pub published: Arc<Published>,
    /// The other kept markets' handles on the same file (`?market=cm|spot`), each opened on
    /// the first question about it and then watched as USD-M's: a server asked only about
    /// USD-M keeps one pool of handles, as before. `select_market` on a shared handle instead
    /// would drop its read index and lives at each switch (hundreds of ms each to rebuild).
    pub others: Vec<(Market, tokio::sync::OnceCell<Arc<Published>>)>,
    /// What `others` are opened with.
    pub db_path: std::path::PathBuf,
    pub limits: super::published::Limits,
    /// The catalog's file, watched as the database's is.
    pub catalog: Arc<Published<Catalog>>,
    /// How long a request may wait for a handle and run its query.
    pub timeout: Duration,
}

/// Bodies smaller than this go out as they are: gzip's header and the CPU are not worth it.
const GZIP_FROM_BYTES: usize = 1024;

/// One endpoint: its path (axum's syntax), what `serve --help` says of it, its handler.
pub(super) struct Endpoint {
    pub path: &'static str,
    pub about: &'static str,
    handler: fn() -> MethodRouter<Arc<App>>,
}

impl Endpoint {
    /// The path as help and the docs write it: `{*dataset}` (a dataset's slashes are its own)
    /// as `{dataset}`.
    pub(super) fn shown(&self) -> String {
        self.path.replace("{*", "{")
    }
}

/// Every endpoint: `ENDPOINTS`, then the catalog's.
pub(super) fn endpoints() -> impl Iterator<Item = &'static Endpoint> {
    ENDPOINTS.iter().chain(catalog::ENDPOINTS.iter())
}

/// Every endpoint of the API, in the order help and the 404 sentence list them: the one table
/// the router, `serve --help` and "no such endpoint" are made from.
pub(super) const ENDPOINTS: [Endpoint; 11] = [
    Endpoint {
        path: "/v1/snapshot/{date}",
        about: "?contract=perpetual|delivery|all",
        handler: || get(snapshot),
    },
    Endpoint {
        path: "/v1/timeline/{symbol}",
        about: "",
        handler: || get(timeline),
    },
    Endpoint {
        path: "/v1/range",
        about: "?start=&end=&contract=",
        handler: || get(range),
    },
    Endpoint {
        path: "/v1/summary",
        about: "?start=&end= (both or neither)",
        handler: || get(summary),
    },
    Endpoint {
        path: "/v1/events",
        about: "?since=&until=&kind=&symbol=&contract=&delisted_after=",
        handler: || get(events),
    },
    Endpoint {
        path: "/v1/universe/{date}",
        about: "?contract=&quote=&top=&by=&window= (more in docs/api.md)",
        handler: || get(universe),
    },
    Endpoint {
        path: "/v1/universe",
        about: "?start=&end=&every=1d|1w|1mo|Nd and /v1/universe/{date}'s (a panel)",
        handler: || get(universe_panel),
    },
    Endpoint {
        path: "/v1/lives",
        about: "?symbol=&delisted_after=",
        handler: || get(lives),
    },
    Endpoint {
        path: "/v1/symbols",
        about: "",
        handler: || get(symbols),
    },
    Endpoint {
        path: "/v1/status",
        about: "",
        handler: || get(status),
    },
    Endpoint {
        path: "/healthz",
        about: "200 while a database is served and queries on it succeed",
        handler: || get(healthz),
    },
];

pub(super) fn router(app: Arc<App>, hosts: Arc<Hosts>) -> Router {
    endpoints()
        .fold(Router::new(), |router, e| {
            router.route(e.path, (e.handler)())
        })
        .merge(page::routes())
        .fallback(unknown_route)
        .layer(axum::middleware::from_fn_with_state(hosts, guard::guard))
        .with_state(app)
}

/// A refusal: the status, the command line's sentence, and for an unknown symbol the names
/// it might have meant.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    sentence: String,
    suggestions: Option<Vec<String>>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    suggestions: Option<&'a [String]>,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, sentence: impl Into<String>) -> ApiError {
        ApiError {
            status,
            sentence: sentence.into(),
            suggestions: None,
        }
    }

    fn bad(sentence: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, sentence)
    }
}

impl From<CliError> for ApiError {
    fn from(e: CliError) -> ApiError {
        let status = match &e {
            CliError::Store(StoreError::UnknownSymbol { suggestions, .. }) => {
                return ApiError {
                    status: StatusCode::NOT_FOUND,
                    sentence: e.to_string(),
                    suggestions: Some(suggestions.clone()),
                };
            }
            CliError::Store(StoreError::Missing { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            // The question is fine; the database cannot answer it until an update checks the day.
            CliError::Store(
                StoreError::NotCheckedYet { .. } | StoreError::NotCheckedBefore { .. },
            ) => StatusCode::CONFLICT,
            e if e.exit_code() == 2 => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("{e}");
        }
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.sentence,
            status: self.status.as_u16(),
            suggestions: self.suggestions.as_deref(),
        };
        let mut bytes = serde_json::to_vec_pretty(&body).unwrap_or_default();
        bytes.push(b'\n');
        (
            self.status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            bytes,
        )
            .into_response()
    }
}

/// A request's query parameters, each allowed once, none unknown.
struct Params {
    values: HashMap<String, String>,
}

impl Params {
    fn parse(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
        allowed: &[&str],
    ) -> Result<Params, ApiError> {
        let Query(pairs) = query.map_err(|e| ApiError::bad(e.body_text()))?;
        let mut values = HashMap::new();
        for (key, value) in pairs {
            if !allowed.contains(&key.as_str()) {
                let takes = if allowed.is_empty() {
                    "takes no parameters".to_string()
                } else {
                    format!("takes {}", allowed.join(", "))
                };
                return Err(ApiError::bad(format!(
                    "unknown parameter {:?}; this endpoint {takes}",
                    truncated(&key)
                )));
            }
            if values.contains_key(&key) {
                return Err(ApiError::bad(format!(
                    "the parameter {key:?} is given twice"
                )));
            }
            values.insert(key, value);
        }
        Ok(Params { values })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    fn day(&self, key: &str) -> Result<Option<NaiveDate>, ApiError> {
        self.get(key).map(day).transpose()
    }

    fn contract(&self) -> Result<ContractFilter, ApiError> {
        self.contract_or(ContractFilter::Perpetual)
    }

    fn contract_or(&self, default: ContractFilter) -> Result<ContractFilter, ApiError> {
        match self.get("contract") {
            None => Ok(default),
            Some(name) => ContractFilter::parse(name).ok_or_else(|| {
                ApiError::bad(format!(
                    "{:?} is not a contract filter; use one of {}",
                    truncated(name),
                    ContractFilter::NAMES.join(", ")
                ))
            }),
        }
    }

    /// A whole number of days in `range`, or `None` when absent.
    fn days(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<Option<u32>, ApiError> {
        let Some(text) = self.get(key) else {
            return Ok(None);
        };
        match text.parse::<u32>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad(format!(
                "{key} is {:?}, not a whole number from {} to {}",
                truncated(text),
                range.start(),
                range.end()
            ))),
        }
    }

    /// `?market=`: whose tables are asked, one of the markets a database keeps; USD-M's
    /// unless given, as before there was a second.
    fn market(&self) -> Result<Market, ApiError> {
        match self.get("market") {
            None => Ok(Market::Um),
            Some(name) => crate::store::KEPT_MARKETS
                .into_iter()
                .find(|m| m.name() == name)
                .ok_or_else(|| {
                    ApiError::bad(format!(
                        "{:?} is not a market kept here; use one of {}",
                        truncated(name),
                        crate::store::KEPT_MARKETS.map(|m| m.name()).join(", ")
                    ))
                }),
        }
    }

    /// `?format=` first, then the Accept header; JSON when neither asks for CSV.
    fn format(&self, headers: &HeaderMap) -> Result<Format, ApiError> {
        match self.get("format") {
            Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(other) => Err(ApiError::bad(format!(
                "{:?} is not a format here; use json or csv",
                truncated(other)
            ))),
            None => Ok(
                if header_text(headers, header::ACCEPT).is_some_and(|a| a.contains("text/csv")) {
                    Format::Csv
                } else {
                    Format::Json
                },
            ),
        }
    }
}

/// At most 40 characters of a text the client sent, for quoting it back.
fn truncated(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

fn day(text: &str) -> Result<NaiveDate, ApiError> {
    crate::facts::parse_day(text, Utc::now().date_naive()).map_err(|e| ApiError::bad(e.to_string()))
}

/// A question the library refuses: the client's input, 400 with the library's sentence.
fn refused(e: QuestionError) -> ApiError {
    ApiError::bad(e.to_string())
}

fn path_text(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(text)| text)
        .map_err(|e| ApiError::bad(e.body_text()))
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn snapshot(
    State(app): State<Arc<App>>,
    date: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["contract", "format", "market"])?;
    let date = day(&path_text(date)?)?;
    let question =
        Question::snapshot(params.market()?, date, params.contract()?).map_err(refused)?;
    let format = params.format(&headers)?;
    app.answer(&headers, format, question).await
}

async fn timeline(
    State(app): State<Arc<App>>,
    symbol: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["format", "market"])?;
    let question = Question::timeline(params.market()?, &path_text(symbol)?).map_err(refused)?;
    let format = params.format(&headers)?;
    app.answer(&headers, format, question).await
}

async fn range(
    State(app): State<Arc<App>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["start", "end", "contract", "format", "market"])?;
    let (Some(start), Some(end)) = (params.day("start")?, params.day("end")?) else {
        return Err(ApiError::bad(
            "a range needs both start and end, e.g. ?start=2024-01-01&end=2024-01-31",
        ));
    };
    let question =
        Question::range(params.market()?, start, end, params.contract()?).map_err(refused)?;
    let format = params.format(&headers)?;
    app.answer(&headers, format, question).await
}

async fn summary(
    State(app): State<Arc<App>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["start", "end", "format", "market"])?;
    let question = match (params.day("start")?, params.day("end")?) {
        (start @ Some(_), end @ Some(_)) | (start @ None, end @ None) => {
            Question::summary(params.market()?, start, end).map_err(refused)?
        }
        _ => {
            return Err(ApiError::bad(
                "give both start and end, or neither for the whole history",
            ));
        }
    };
    let format = params.format(&headers)?;
    app.answer(&headers, format, question).await
}

async fn symbols(
    State(app): State<Arc<App>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["format", "market"])?;
    let format = params.format(&headers)?;
    app.answer(&headers, format, Question::symbols(params.market()?))
        .await
}

/// `status --format json`, naming the file but not where it is (a client has no use for the
/// server's folders, which name its user). Not cached: staleness and the writer's lock change
/// without a publish. Stale data is still a 200 (the body says `"stale": true`); `/healthz` is
/// for liveness. The size is the served file's, so a publish that briefly leaves the path
/// absent does not fail it.
async fn status(
    State(app): State<Arc<App>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["market"])?;
    let generation = ready(&*app.published_of(params.market()?).await?)?;
    let size = generation.size_bytes;
    let body = app
        .run(&generation, move |db| {
            let mut view = ops::status_view_sized(db, size, Utc::now())?;
            unlocate(&mut view);
            let mut out = Vec::new();
            report::status(&mut out, ReportFormat::Json, &view)?;
            Ok(out)
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}

/// `view` without the server's folders: the database and the scheduler's log by file name, and
/// the runs' error sentences without the database's folder.
fn unlocate(view: &mut report::StatusView) {
    let folders: Vec<String> = view
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .into_iter()
        .flat_map(|p| {
            [
                p.to_path_buf(),
                std::fs::canonicalize(p).unwrap_or_default(),
            ]
        })
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| format!("{}/", p.display()))
        .collect();
    let name_only = |p: &std::path::Path| p.file_name().map(std::path::PathBuf::from);
    view.path = name_only(&view.path).unwrap_or_default();
    if let crate::schedule::State::Running(Some(info)) = &mut view.scheduler {
        info.log = info.log.as_deref().and_then(name_only);
    }
    let contents = &mut view.contents;
    for run in [&mut contents.last_run, &mut contents.last_successful_update]
        .into_iter()
        .flatten()
    {
        if let Some(error) = &mut run.error {
            for folder in &folders {
                *error = error.replace(folder.as_str(), "");
            }
        }
    }
}

/// 200 while a database is being served and queries on it succeed; 503 (with why) while none
/// is, or once a query failed on the file served (until the next publish).
async fn healthz(State(app): State<Arc<App>>) -> Response {
    match app.published.current() {
        Current::Ready(generation) => match generation.failure() {
            None => (
                StatusCode::OK,
                [(header::CACHE_CONTROL, "no-store")],
                "ok\n",
            )
                .into_response(),
            Some(sentence) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "queries fail on the file served: {sentence}; this is reported until \
                     a new file is published (or serve restarts)"
                ),
            )
            .into_response(),
        },
        Current::Unavailable(why) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, why.to_string()).into_response()
        }
    }
}

async fn events(
    State(app): State<Arc<App>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(
        query,
        &[
            "since",
            "until",
            "kind",
            "symbol",
            "contract",
            "delisted_after",
            "format",
            "market",
        ],
    )?;
    let question = events_question(&params)?;
    let format = params.format(&headers)?;
    app.answer(&headers, format, question).await
}

/// `/v1/events`'s parameters as the question they ask.
fn events_question(params: &Params) -> Result<Question, ApiError> {
    let (since, until) = (params.day("since")?, params.day("until")?);
    let kind = match params.get("kind") {
        None => None,
        Some(name) => Some(EventKind::parse(name).ok_or_else(|| {
            ApiError::bad(format!(
                "{:?} is not an event kind; use one of {}",
                truncated(name),
                EventKind::NAMES.join(", ")
            ))
        })?),
    };
    let rule = params
        .days("delisted_after", UNIVERSE_DAYS)?
        .unwrap_or(DEFAULT_DELISTED_AFTER);
    let filter = EventFilter {
        since,
        until,
        kind,
        symbol: params.get("symbol").map(str::to_string),
        contracts: params.contract_or(EventFilter::default().contracts)?,
    };
    Question::events(params.market()?, filter, rule).map_err(refused)
}

async fn universe(
    State(app): State<Arc<App>>,
    date: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &UNIVERSE_PARAMS)?;
    let question = universe_question(&path_text(date)?, &params)?;
    let format = params.format(&headers)?;
    app.answer(&headers, format, question).await
}

/// `/v1/universe/{date}`'s path and parameters as the question they ask; what is not given
/// is `UniverseQuery::new`'s default. The counts are read with this API's sentence for a
/// text that is no number in the library's bounds; `Question::universe` checks the rest.
fn universe_question(date: &str, params: &Params) -> Result<Question, ApiError> {
    let q = universe_query(day(date)?, params)?;
    Question::universe(params.market()?, q).map_err(refused)
}

/// The universe question of `date` the parameters ask, before the library's checks.
fn universe_query(date: NaiveDate, params: &Params) -> Result<UniverseQuery, ApiError> {
    let mut q = UniverseQuery::new(date);
    q.contracts = params.contract_or(q.contracts)?;
    q.quote = params.get("quote").map(str::to_string);
    q.min_age = params.days("min_age", MIN_AGE_DAYS)?.unwrap_or(q.min_age);
    q.recent = params.days("recent", UNIVERSE_DAYS)?.unwrap_or(q.recent);
    q.window = params.days("window", UNIVERSE_DAYS)?.unwrap_or(q.window);
    q.top = params.days("top", TOP_MEMBERS)?;
    q.delisted_after = params
        .days("delisted_after", UNIVERSE_DAYS)?
        .unwrap_or(q.delisted_after);
    q.include_settled = match params.get("include_settled") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad(format!(
                "include_settled is {:?}; use true or false",
                truncated(other)
            )));
        }
    };
    if let Some(by) = params.get("by") {
        q.by = RankBy::parse(by).ok_or_else(|| {
            ApiError::bad(format!(
                "{:?} is not a ranking; use one of {}",
                truncated(by),
                RankBy::NAMES.join(", ")
            ))
        })?;
    }
    Ok(q)
}

/// The universe parameters `/v1/universe/{date}` and `/v1/universe` both take.
const UNIVERSE_PARAMS: [&str; 11] = [
    "market",
    "contract",
    "quote",
    "include_settled",
    "min_age",
    "recent",
    "top",
    "by",
    "window",
    "delisted_after",
    "format",
];

async fn universe_panel(
    State(app): State<Arc<App>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut allowed = vec!["start", "end", "every"];
    allowed.extend(UNIVERSE_PARAMS);
    let params = Params::parse(query, &allowed)?;
    let question = panel_question(&params)?;
    let format = params.format(&headers)?;
    app.answer(&headers, format, question).await
}

/// `/v1/universe`'s parameters as the panel they ask: `/v1/universe/{date}`'s, with the
/// period (`start`, `end`, both needed) and `every` (`1d` unless given).
fn panel_question(params: &Params) -> Result<Question, ApiError> {
    let (Some(start), Some(end)) = (params.day("start")?, params.day("end")?) else {
        return Err(ApiError::bad(
            "a universe panel needs both start and end, e.g. \
             ?start=2024-01-01&end=2024-12-31&every=1mo (one day's universe is /v1/universe/{date})",
        ));
    };
    let every = match params.get("every") {
        None => Every::DAILY,
        Some(text) => Every::parse(text).map_err(|e| ApiError::bad(e.to_string()))?,
    };
    let q = universe_query(start, params)?;
    Question::universe_panel(params.market()?, q, end, every).map_err(refused)
}

async fn lives(
    State(app): State<Arc<App>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["symbol", "delisted_after", "format", "market"])?;
    let rule = params
        .days("delisted_after", UNIVERSE_DAYS)?
        .unwrap_or(DEFAULT_DELISTED_AFTER);
    let question =
        Question::lives(params.market()?, params.get("symbol"), rule).map_err(refused)?;
    let format = params.format(&headers)?;
    app.answer(&headers, format, question).await
}

async fn unknown_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, no_such_endpoint())
}

/// The 404 sentence, naming every endpoint of `ENDPOINTS`.
fn no_such_endpoint() -> String {
    let paths: Vec<String> = endpoints().map(Endpoint::shown).collect();
    format!("no such endpoint; see {} (docs/api.md)", paths.join(", "))
}

impl App {
    /// `market`'s handles, opened (off the runtime's threads: it opens and warms them) and
    /// watched on the first question about it.
    async fn published_of(&self, market: Market) -> Result<Arc<Published>, ApiError> {
        let Some((_, cell)) = self.others.iter().find(|(m, _)| *m == market) else {
            return Ok(Arc::clone(&self.published));
        };
        let (path, limits) = (self.db_path.clone(), self.limits);
        let published = cell
            .get_or_try_init(|| async move {
                let opened = tokio::task::spawn_blocking(move || {
                    Arc::new(Published::for_market(
                        &path,
                        limits,
                        market,
                        Some(refill_answer),
                    ))
                })
                .await
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "opening the market's handles panicked (see the log)",
                    )
                })?;
                tokio::spawn(Arc::clone(&opened).watch());
                Ok::<_, ApiError>(opened)
            })
            .await?;
        Ok(Arc::clone(published))
    }

    /// Runs `query` on a handle of `generation`, within the request timeout.
    async fn run<S: Served, T: Send + 'static>(
        &self,
        generation: &Arc<Generation<S>>,
        query: impl FnOnce(&S) -> Result<T, CliError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match tokio::time::timeout(self.timeout, generation.run(query)).await {
            Ok(ran) => ran.map_err(|e| ran_error(generation, e)),
            Err(_) => Err(self.too_slow()),
        }
    }

    fn too_slow(&self) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the query did not finish within {} s (the server is busy); try again",
                self.timeout.as_secs()
            ),
        )
    }

    /// A question's answer in `format`, with validators from the file it was read from: 304
    /// when the client already has it, kept under the question and the format for the next
    /// client, gzip when it accepts that.
    async fn answer(
        &self,
        headers: &HeaderMap,
        format: Format,
        question: Question,
    ) -> Result<Response, ApiError> {
        let generation = ready(&*self.published_of(question.market()).await?)?;
        self.kept_answer(
            &generation,
            headers,
            format,
            (question, format),
            write_answer,
        )
        .await
    }

    /// The answer kept under `key` in `generation`, or `write`'s (then kept), as `answer`
    /// says: validators, 304, gzip. For any file served.
    async fn kept_answer<S: Served>(
        &self,
        generation: &Arc<Generation<S>>,
        headers: &HeaderMap,
        format: Format,
        key: S::Key,
        write: fn(&S, &S::Key) -> Result<Vec<u8>, CliError>,
    ) -> Result<Response, ApiError>
    where
        <S::Key as super::answers::Key>::Answer: RowsAnswer,
    {
        let validators = validators(generation, format_name(format));
        if fresh(headers, &validators.etag, generation.last_modified) {
            return Ok((StatusCode::NOT_MODIFIED, validators.headers).into_response());
        }
        let body = match generation.answers.get(&key).and_then(RowsAnswer::body) {
            Some(body) => body,
            None => {
                let asked = key.clone();
                let body = kept(
                    self.run(generation, move |file| write(file, &asked))
                        .await?,
                );
                generation.answers.put(key, RowsAnswer::rows(body.clone()));
                body
            }
        };
        let mut response = (
            validators.headers,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(format)),
            )],
        )
            .into_response();
        let body = if body.len() >= GZIP_FROM_BYTES && accepts_gzip(headers) {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            Bytes::from(gzip(&body))
        } else {
            body
        };
        *response.body_mut() = body.into();
        Ok(response)
    }
}

/// The body of the answer to `key`'s question in its format, from `db`: what a request that
/// finds none kept runs, and what a publish refills the new file's kept answers with.
fn write_answer(db: &Database, key: &AnswerKey) -> Result<Vec<u8>, CliError> {
    let (question, format) = key;
    let mut out = Vec::new();
    let answer = db.answer(question)?;
    render::answer(&mut out, *format, question, &answer)?;
    Ok(out)
}

/// `write_answer`'s body, kept: what a publish refills the new file's answers with (none when
/// the question fails on it; its next request gets the failure).
pub(super) fn refill_answer(
    db: &Database,
    key: &AnswerKey,
    _: super::published::Limits,
) -> Option<Bytes> {
    write_answer(db, key).ok().map(kept)
}

/// What a query that did not answer tells the client; a failure of the file (not of the
/// client's input) is recorded for `/healthz`.
fn ran_error<S: Served>(generation: &Generation<S>, e: RunError) -> ApiError {
    match e {
        RunError::Query(e) => {
            let e = ApiError::from(e);
            // A database failure, not the client's input: `/healthz` reports it.
            if e.status == StatusCode::INTERNAL_SERVER_ERROR {
                generation.failed(&e.sentence);
            }
            e
        }
        RunError::Lost => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "a query failed unexpectedly and lost its handle; the server keeps answering \
             with the others (see its log)",
        ),
    }
}

/// The file a request is answered from, or 503 with why there is none.
fn ready<S: Served>(published: &Published<S>) -> Result<Arc<Generation<S>>, ApiError> {
    match published.current() {
        Current::Ready(generation) => Ok(generation),
        Current::Unavailable(why) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            why.to_string(),
        )),
    }
}

/// An answer's validators: its ETag (the file's token and the format's name, so a publish or
/// another format is another tag) and the headers sent with it and with a 304.
struct Validators {
    etag: String,
    headers: [(header::HeaderName, HeaderValue); 4],
}

fn validators<S: Served>(generation: &Generation<S>, format: &str) -> Validators {
    let etag = format!("W/\"{}-{format}\"", generation.token);
    let headers = [
        (header::ETAG, header_value(&etag)),
        (
            header::LAST_MODIFIED,
            header_value(&httpdate::fmt_http_date(generation.last_modified)),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::VARY,
            HeaderValue::from_static("Accept, Accept-Encoding"),
        ),
    ];
    Validators { etag, headers }
}

/// A format's name in ETags.
fn format_name(format: Format) -> &'static str {
    match format {
        Format::Csv => "csv",
        Format::Json | Format::Table => "json",
    }
}

fn content_type(format: Format) -> &'static str {
    match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Json | Format::Table => "application/json",
    }
}

fn header_value(text: &str) -> HeaderValue {
    // Both come from hex digits and an HTTP date: always visible ASCII.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether the client's copy is current: `If-None-Match` names our ETag (or `*`), or, without
/// one, `If-Modified-Since` is not older than the file (HTTP dates have whole seconds).
fn fresh(headers: &HeaderMap, etag: &str, last_modified: SystemTime) -> bool {
    if let Some(tags) = header_text(headers, header::IF_NONE_MATCH) {
        // Weak comparison (RFC 9110 13.1.2): `W/` does not matter.
        let ours = etag.trim_start_matches("W/");
        return tags
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == ours);
    }
    header_text(headers, header::IF_MODIFIED_SINCE)
        .and_then(|t| httpdate::parse_http_date(t).ok())
        .is_some_and(|since| {
            last_modified
                .duration_since(since)
                .map_or(true, |newer| newer < Duration::from_secs(1))
        })
}

/// Whether `Accept-Encoding` admits gzip (`gzip` or `*` with a q-value above 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    header_text(headers, header::ACCEPT_ENCODING).is_some_and(|list| {
        list.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let q = parts
                .find_map(|p| p.strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (name.eq_ignore_ascii_case("gzip") || name == "*") && q > 0.0
        })
    })
}

fn gzip(body: &[u8]) -> Vec<u8> {
    // Level 1: a 60 KB snapshot in ~0.3 ms at ~5x smaller; higher levels cost more than the
    // bytes they save on a LAN.
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn gzip_is_taken_only_when_admitted() {
        for (accept, admitted) in [
            ("gzip", true),
            ("br, gzip;q=0.5", true),
            ("GZIP", true),
            ("*", true),
            ("gzip;q=0", false),
            ("gzip; q=0.0, br", false),
            ("br, deflate", false),
            ("", false),
            ("gzipx", false),
        ] {
            assert_eq!(
                accepts_gzip(&headers(&[("accept-encoding", accept)])),
                admitted,
                "{accept:?}"
            );
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn conditional_requests_compare_weakly_and_prefer_etags() {
        let etag = "W/\"1-2-json\"";
        let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(modified);
        let older = httpdate::fmt_http_date(modified - Duration::from_secs(5));
        for (pairs, expected) in [
            (vec![("if-none-match", "W/\"1-2-json\"")], true),
            (vec![("if-none-match", "\"1-2-json\"")], true),
            (vec![("if-none-match", "\"x\", W/\"1-2-json\"")], true),
            (vec![("if-none-match", "*")], true),
            (vec![("if-none-match", "W/\"1-2-csv\"")], false),
            // An ETag that does not match wins over a date that would.
            (
                vec![("if-none-match", "W/\"old\""), ("if-modified-since", &date)],
                false,
            ),
            (vec![("if-modified-since", &date)], true),
            (vec![("if-modified-since", &older)], false),
            (vec![("if-modified-since", "yesterday")], false),
            (vec![], false),
        ] {
            assert_eq!(
                fresh(&headers(&pairs), etag, modified),
                expected,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn help_the_404_sentence_and_the_api_guide_name_every_endpoint() {
        let help = super::super::help();
        let missing = no_such_endpoint();
        let guide = include_str!("../../../../../docs/api.md");
        for e in endpoints() {
            let path = e.shown();
            assert!(
                help.contains(&format!("  GET {path} "))
                    || help.contains(&format!("  GET {path}\n")),
                "serve --help lacks {path}:\n{help}"
            );
            assert!(
                missing.contains(&path),
                "the 404 sentence lacks {path}: {missing}"
            );
            assert!(
                guide.contains(&format!("`GET {path}`")),
                "docs/api.md lacks {path}"
            );
        }
    }

    /// The command line's question for `args` (after `query`).
    fn cli_question(args: &[&str]) -> (Question, Format) {
        use clap::Parser as _;
        let argv = ["bfa", "query"].iter().chain(args);
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let crate::cli::args::Command::Query(query) = cli.command else {
            panic!("not a query: {args:?}");
        };
        crate::cli::question(query.market.market, query.question).unwrap()
    }

    fn params(pairs: &[(&str, &str)], allowed: &[&str]) -> Params {
        let pairs = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Params::parse(Ok(Query(pairs)), allowed).unwrap()
    }

    fn hash(key: &impl std::hash::Hash) -> u64 {
        use std::hash::{BuildHasher as _, RandomState};
        // One state for every key: equal keys hash equal.
        thread_local!(static STATE: RandomState = RandomState::new());
        STATE.with(|s| s.hash_one(key))
    }

    const UNIVERSE: &[&str] = &UNIVERSE_PARAMS;

    /// The same universe asked through the command line and through the API, with every
    /// default and spelled out: one question, one hash (one cache entry), and the library's
    /// defaults (`UniverseQuery::new`), which the Python package takes too.
    #[test]
    fn the_command_line_and_the_api_ask_one_universe() {
        let date = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap();
        let library = Question::universe(Market::Um, UniverseQuery::new(date)).unwrap();
        let (cli, format) = cli_question(&["universe", "2024-01-15", "--format", "json"]);
        let api = universe_question("2024-01-15", &params(&[], UNIVERSE)).unwrap();
        assert_eq!(cli, library);
        assert_eq!(api, library);
        assert_eq!(hash(&(cli, format)), hash(&(api, Format::Json)));
        // The defaults spelled out are the same question.
        let (spelled, _) = cli_question(&[
            "universe",
            "2024-01-15",
            "--contract",
            "perpetual",
            "--min-age",
            "0",
            "--recent",
            "1",
            "--window",
            "30",
            "--by",
            "quote-volume",
            "--delisted-after",
            "7",
        ]);
        let api_spelled = universe_question(
            "2024-01-15",
            &params(
                &[
                    ("contract", "perpetual"),
                    ("min_age", "0"),
                    ("recent", "1"),
                    ("window", "30"),
                    ("by", "quote-volume"),
                    ("delisted_after", "7"),
                    ("include_settled", "false"),
                ],
                UNIVERSE,
            ),
        )
        .unwrap();
        assert_eq!(spelled, library);
        assert_eq!(api_spelled, library);
        // And a question that differs is another key.
        let (other, _) = cli_question(&["universe", "2024-01-15", "--window", "7"]);
        assert_ne!(other, library);
        let api_other =
            universe_question("2024-01-15", &params(&[("window", "7")], UNIVERSE)).unwrap();
        assert_eq!(other, api_other);
    }

    /// A panel asked through the command line and through the API is one question, its
    /// defaults (`every` 1d, the universe's) the library's; a bad `every` or a missing bound is
    /// refused with a sentence.
    #[test]
    fn the_command_line_and_the_api_ask_one_panel() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let mut allowed = vec!["start", "end", "every"];
        allowed.extend(UNIVERSE);
        let library = Question::universe_panel(
            Market::Um,
            UniverseQuery::new(d("2024-01-01")),
            d("2024-03-31"),
            Every::DAILY,
        )
        .unwrap();
        let (cli, _) = cli_question(&["universe", "2024-01-01", "--until", "2024-03-31"]);
        let api = panel_question(&params(
            &[("start", "2024-01-01"), ("end", "2024-03-31")],
            &allowed,
        ))
        .unwrap();
        assert_eq!(cli, library);
        assert_eq!(api, library);
        let (cli, _) = cli_question(&[
            "universe",
            "2024-01-01",
            "--until",
            "2024-03-31",
            "--every",
            "1mo",
            "--top",
            "50",
        ]);
        let api = panel_question(&params(
            &[
                ("start", "2024-01-01"),
                ("end", "2024-03-31"),
                ("every", "1mo"),
                ("top", "50"),
            ],
            &allowed,
        ))
        .unwrap();
        assert_eq!(cli, api);
        let bad = panel_question(&params(
            &[
                ("start", "2024-01-01"),
                ("end", "2024-03-31"),
                ("every", "2w"),
            ],
            &allowed,
        ))
        .unwrap_err();
        assert!(
            bad.sentence.contains("is not a rebalancing period"),
            "{bad:?}"
        );
        let reversed = panel_question(&params(
            &[("start", "2024-03-01"), ("end", "2024-01-31")],
            &allowed,
        ))
        .unwrap_err();
        assert_eq!(
            reversed.sentence,
            "the start 2024-03-01 is after the end 2024-01-31"
        );
        assert!(panel_question(&params(&[("start", "2024-03-01")], &allowed)).is_err());
    }

    #[test]
    fn the_command_line_and_the_api_ask_the_same_events() {
        let allowed = &[
            "since",
            "until",
            "kind",
            "symbol",
            "contract",
            "delisted_after",
        ];
        let (cli, _) = cli_question(&["events", "--symbol", "BTCUSDT", "--since", "2024-01-01"]);
        let api = events_question(&params(
            &[
                ("symbol", "BTCUSDT"),
                ("since", "2024-01-01"),
                ("contract", "all"),
            ],
            allowed,
        ))
        .unwrap();
        assert_eq!(cli, api);
        assert_eq!(hash(&cli), hash(&api));
        // Refused by the library with its sentence, whichever front end asked.
        let reversed = events_question(&params(
            &[("since", "2024-01-02"), ("until", "2024-01-01")],
            allowed,
        ))
        .unwrap_err();
        assert_eq!(
            reversed.sentence,
            "the start 2024-01-02 is after the end 2024-01-01"
        );
    }

    /// `?contract=perpetual` and no contract are one question: the answer computed for one is
    /// served from the cache for the other.
    #[test]
    fn two_spellings_of_a_snapshot_share_one_cached_answer() {
        let date = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap();
        let spelled = params(&[("contract", "perpetual")], &["contract"]);
        let unspelled = params(&[], &["contract"]);
        let key = |p: &Params| {
            (
                Question::snapshot(Market::Um, date, p.contract().unwrap()).unwrap(),
                Format::Csv,
            )
        };
        let cache = super::super::answers::Answers::new(1 << 20);
        cache.put(key(&spelled), Bytes::from_static(b"symbol\nBTCUSDT\n"));
        assert_eq!(
            cache.get(&key(&unspelled)).as_deref(),
            Some(&b"symbol\nBTCUSDT\n"[..])
        );
        let (cli, _) = cli_question(&["snapshot", "2024-01-15", "--format", "csv"]);
        assert_eq!(cli, key(&unspelled).0);
        // Another format is another answer.
        assert!(cache.get(&(key(&spelled).0, Format::Json)).is_none());
    }

    #[test]
    fn quoted_client_text_is_bounded() {
        assert_eq!(truncated("short"), "short");
        let long = "币".repeat(100);
        assert_eq!(truncated(&long).chars().count(), 41);
    }
}
