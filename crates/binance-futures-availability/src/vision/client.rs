//! The one HTTP client: pooled keep-alive, HTTP/2 where offered, timeouts, a User-Agent naming
//! the tool, and retries for transient failures only (timeouts, connection errors, 5xx, 429),
//! with exponential backoff, full jitter and `Retry-After`.
//!
//! Every request ends in bounded time and memory whatever the server does (ADR 0009): a total
//! deadline besides the read timeout, bodies read against a cap, `Retry-After` obeyed up to a
//! limit, no redirect from https to http, and every wait cancellable. URLs are built from the
//! parsed endpoints and shown with their credentials hidden.
//!
//! Files (HEAD and GET of a key) go through a client of their own that follows a redirect only
//! within the data URL's authority: a file host redirecting to another host (a metadata
//! service, a loopback port) would otherwise have that host's answer read as the file, and a
//! malformed one described in the log, the run record and `status`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{StatusCode, Url, header};
use tokio_util::sync::CancellationToken;

pub use super::urls::Endpoints;
use super::urls::{Bases, MAX_REDIRECTS, may_redirect, redact, same_authority};
use super::{Cause, PageError, SetupError, VisionError};

/// The largest listing body read: a page of 1000 keys is ~0.3 MB (330 bytes an entry), so 4 MiB
/// is 12× that, and 64 requests in flight hold at most 256 MiB even against a hostile server.
pub const MAX_LISTING_BYTES: usize = 4 << 20;

/// An error document is read this far for its `<Code>`; real ones are ~300 bytes.
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

/// How often and how patiently to retry transient failures.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The backoff before the second attempt; it doubles per attempt, capped at `max_delay`.
    pub base_delay: Duration,
    /// The longest backoff between two attempts, however many came before (20 s by default).
    pub max_delay: Duration,
    /// The longest a server's `Retry-After` is obeyed; a longer ask is cut to this and logged.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            // S3 and CloudFront ask for seconds when they ask at all; an hour is a broken or
            // hostile server, and a run must not sleep past its next daily slot on its word.
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`, and whether the server asked for longer.
    fn delay(&self, attempt: u32, asked: Option<Duration>) -> (Duration, bool) {
        match asked {
            Some(asked) if asked > self.max_retry_after => (self.max_retry_after, true),
            Some(asked) => (asked, false),
            None => (backoff(self, attempt), false),
        }
    }
}

/// Client settings; endpoints are always configuration, never constants.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where the bucket is listed and its files are served.
    pub endpoints: Endpoints,
    /// Which failures are retried, how often and how long apart.
    pub retry: RetryPolicy,
    /// Longest wait for a connection (TCP and TLS) to be set up; 10 s by default.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response.
    pub read_timeout: Duration,
    /// Longest one request may take, body included: a server trickling a byte at a time never
    /// trips `read_timeout`, and would hold the request forever without this.
    pub request_timeout: Duration,
    /// Largest listing body read; a larger one is an error, read no further.
    pub max_body_bytes: usize,
}

impl ClientConfig {
    /// The settings a run uses for `endpoints`: 5 attempts, a 10 s connect, 30 s read and
    /// 120 s request timeout, listing bodies up to `MAX_LISTING_BYTES`.
    pub fn new(endpoints: Endpoints) -> Self {
        ClientConfig {
            endpoints,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            // A real page (~0.3 MB) takes well under a second; two minutes covers a slow link.
            request_timeout: Duration::from_secs(120),
            max_body_bytes: MAX_LISTING_BYTES,
        }
    }
}

/// Request counters, shared by every clone of a client.
#[derive(Debug, Default)]
pub struct Stats {
    /// Attempts sent, retries included (a HEAD, a GET, a listing page each count one).
    pub requests: AtomicU64,
    /// Of `requests`, those that retried a transient failure.
    pub retries: AtomicU64,
    /// The server's clock (`Date` header of its latest answer), seconds since the epoch; 0
    /// until one answered with a date.
    pub server_time: AtomicI64,
}

/// What a HEAD of an existing file tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Bytes: the `Content-Length` of a HEAD (0 when absent), the body's length of a GET.
    pub size: u64,
    /// When the file was last uploaded, as `Last-Modified` says (whole seconds); `None` when
    /// the server sent none.
    pub last_modified: Option<DateTime<Utc>>,
    /// The `ETag`, without its quotes: S3's fingerprint of the content (for a file uploaded
    /// whole, its MD5), so a replacement with other bytes has another.
    pub etag: Option<String>,
}

/// A client for the bucket; cheap to clone (the connection pool and counters are shared).
#[derive(Debug, Clone)]
pub struct VisionClient {
    /// Listings: S3 may redirect to the bucket's region, another host.
    http: reqwest::Client,
    /// Files: redirects within the data URL's authority only.
    files: reqwest::Client,
    config: Arc<ClientConfig>,
    bases: Arc<Bases>,
    stats: Arc<Stats>,
    /// Listing bodies read before, kept for the next pages (`Bodies`).
    bodies: Arc<Bodies>,
    /// Cancelled: every request in flight and every wait between attempts ends at once.
    cancel: CancellationToken,
}

/// Buffers for listing bodies, reused from page to page. A page (~0.35 MB) is above glibc's
/// mmap threshold, which collecting commands fix at 128 KiB (`cli::entry`): a fresh buffer a
/// page was mapped, faulted in page by page and unmapped, ~130 page faults a listing — 2.9 M
/// faults and most of the 6 s of system time of a scale-0.1 crawl (2.2 × 10⁴ pages). Only as
/// many buffers are kept as were in use at once (bodies are read and parsed in well under the
/// 50 ms a request waits), at most `KEPT` of at most `MAX_KEPT_BYTES` each.
#[derive(Default)]
struct Bodies(std::sync::Mutex<Vec<Vec<u8>>>);

impl std::fmt::Debug for Bodies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.0.lock().map_or(0, |v| v.len());
        write!(f, "Bodies({kept} kept)")
    }
}

impl Bodies {
    const KEPT: usize = 16;
    const MAX_KEPT_BYTES: usize = 1 << 20;

    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default()
    }

    fn give(&self, mut body: Vec<u8>) {
        if body.capacity() > Self::MAX_KEPT_BYTES {
            return;
        }
        body.clear();
        if let Ok(mut kept) = self.0.lock()
            && kept.len() < Self::KEPT
        {
            kept.push(body);
        }
    }
}

/// One failed attempt, before the policy decides whether to try again.
struct Failure {
    cause: Cause,
    transient: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn bad_listing(detail: PageError) -> Failure {
        // A body that does not parse is most often a response cut short: worth another try.
        Failure {
            cause: Cause::BadListing(detail),
            transient: true,
            retry_after: None,
        }
    }
}

/// Where a client's redirects may lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Follow {
    /// Listings: S3 may send a request to the bucket's region.
    Anywhere,
    /// Files: only the first request's scheme, host and port, so a redirect cannot make us
    /// fetch (and report) what another host holds.
    SameHost,
}

/// At most `MAX_REDIRECTS` redirects, never from https to plain http, and within `follow`.
fn redirect_policy(follow: Follow) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let origin = attempt.previous().first().cloned();
        let from = attempt.previous().last().cloned();
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if follow == Follow::SameHost
            && let Some(origin) = origin
            && !same_authority(&origin, attempt.url())
        {
            // Only the authority is named: the rest of the target is the server's text.
            let to = authority(attempt.url());
            attempt.error(format!(
                "refused a redirect to another host ({to}): a file is read only from the data \
                 URL's host"
            ))
        } else if let Some(from) = from
            && !may_redirect(&from, attempt.url())
        {
            let to = redact(attempt.url());
            attempt.error(format!("refused a redirect from https to {to}"))
        } else {
            attempt.follow()
        }
    })
}

impl VisionClient {
    /// A client with `config`'s settings; a bad endpoint is refused here, before any request.
    pub fn new(config: ClientConfig) -> Result<VisionClient, SetupError> {
        let bases = Bases::parse(&config.endpoints)?;
        let http = build(&config, redirect_policy(Follow::Anywhere))?;
        let files = build(&config, redirect_policy(Follow::SameHost))?;
        Ok(VisionClient {
            http,
            files,
            config: Arc::new(config),
            bases: Arc::new(bases),
            stats: Arc::new(Stats::default()),
            bodies: Arc::new(Bodies::default()),
            cancel: CancellationToken::new(),
        })
    }

    /// This client (sharing its pool and counters), stopped when `cancel` is: requests in
    /// flight are dropped and waits between attempts cut short, with `Cause::Cancelled`.
    pub fn with_cancel(&self, cancel: CancellationToken) -> VisionClient {
        VisionClient {
            cancel,
            ..self.clone()
        }
    }

    /// The endpoints this client was built with, as given: credentials in them are not hidden.
    pub fn endpoints(&self) -> &Endpoints {
        &self.config.endpoints
    }

    /// Today by the server's clock, once a server answered with a `Date` header.
    pub fn server_date(&self) -> Option<chrono::NaiveDate> {
        match self.stats.server_time.load(Ordering::Relaxed) {
            0 => None,
            secs => DateTime::from_timestamp(secs, 0).map(|t| t.date_naive()),
        }
    }

    fn note_date(&self, resp: &reqwest::Response) {
        if let Some(t) = resp
            .headers()
            .get(header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        {
            self.stats
                .server_time
                .store(t.timestamp(), Ordering::Relaxed);
        }
    }

    /// The counters of this client and every clone of it, a run's so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// HEAD of one key: `Some` when the file exists (200), `None` when it does not (404).
    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, VisionError> {
        let url = self.bases.file(key);
        self.with_retries(format!("HEAD {key}"), &url, || async {
            let resp = self
                .files
                .head(url.clone())
                .send()
                .await
                .map_err(transport)?;
            self.note_date(&resp);
            match resp.status() {
                StatusCode::OK => {
                    let size = resp
                        .headers()
                        .get(header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    Ok(Some(meta(&resp, size)))
                }
                StatusCode::NOT_FOUND => Ok(None),
                _ => Err(status_failure_parts(
                    resp.status(),
                    retry_after(&resp),
                    None,
                )),
            }
        })
        .await
    }

    /// GET of one file's bytes: `Some` when it exists (200), `None` when it does not (404), with
    /// the version the server says they are (`size` is the body's length as read).
    /// A body past `limit` bytes is refused, read no further.
    pub async fn get_object(
        &self,
        key: &str,
        limit: usize,
    ) -> Result<Option<(Vec<u8>, ObjectMeta)>, VisionError> {
        let url = self.bases.file(key);
        self.with_retries(format!("GET {key}"), &url, || async {
            let resp = self
                .files
                .get(url.clone())
                .send()
                .await
                .map_err(transport)?;
            self.note_date(&resp);
            match resp.status() {
                StatusCode::OK => {
                    let mut meta = meta(&resp, 0);
                    let body = read_capped(resp, limit).await?;
                    meta.size = body.len() as u64;
                    Ok(Some((body, meta)))
                }
                StatusCode::NOT_FOUND => Ok(None),
                status => {
                    let retry_after = retry_after(&resp);
                    let code = read_capped(resp, MAX_ERROR_BODY_BYTES)
                        .await
                        .ok()
                        .and_then(|body| s3_error_code(&String::from_utf8_lossy(&body)));
                    Err(status_failure_parts(status, retry_after, code))
                }
            }
        })
        .await
    }

    /// GET of a listing URL built from query parameters, parsed by `parse` within the same
    /// attempt, so a body cut short is retried like any other transient failure.
    pub(super) async fn get_parsed<T>(
        &self,
        what: String,
        params: &[(&str, &str)],
        parse: impl Fn(&str) -> Result<T, PageError>,
    ) -> Result<T, VisionError> {
        let url = self.bases.list(params);
        self.with_retries(what, &url, || async {
            let resp = self.http.get(url.clone()).send().await.map_err(transport)?;
            self.note_date(&resp);
            if !resp.status().is_success() {
                let retry_after = retry_after(&resp);
                let status = resp.status();
                // The code is a courtesy: an error body too large or cut short just has none.
                let code = read_capped(resp, MAX_ERROR_BODY_BYTES)
                    .await
                    .ok()
                    .and_then(|body| s3_error_code(&String::from_utf8_lossy(&body)));
                return Err(status_failure_parts(status, retry_after, code));
            }
            let mut body = self.bodies.take();
            let read = read_capped_into(resp, self.config.max_body_bytes, &mut body).await;
            // Strictly UTF-8: `text()` would replace bad bytes and quietly change a name.
            let parsed = read.and_then(|()| {
                std::str::from_utf8(&body)
                    .map_err(|e| Failure::bad_listing(PageError::NotUtf8(e)))
                    .and_then(|text| parse(text).map_err(Failure::bad_listing))
            });
            self.bodies.give(body);
            parsed
        })
        .await
    }

    /// An error about `url` that no request of its own caused (a listing that stalls).
    pub(super) fn error(&self, what: String, params: &[(&str, &str)], cause: Cause) -> VisionError {
        VisionError {
            what,
            url: redact(&self.bases.list(params)),
            attempts: 1,
            cause,
        }
    }

    /// Whether this client's run was stopped.
    pub(super) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Runs `op` until it succeeds, fails permanently, the attempts are spent, or the client is
    /// cancelled (which ends a request in flight and a wait between attempts alike).
    async fn with_retries<T, F, Fut>(
        &self,
        what: String,
        url: &Url,
        mut op: F,
    ) -> Result<T, VisionError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let policy = &self.config.retry;
        let error = |attempts, cause| VisionError {
            what: what.clone(),
            url: redact(url),
            attempts,
            cause,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Err(error(attempt, Cause::Cancelled)),
                outcome = op() => outcome,
            };
            let failure = match outcome {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            if !failure.transient || attempt >= policy.max_attempts {
                return Err(error(attempt, failure.cause));
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let (delay, cut) = policy.delay(attempt, failure.retry_after);
            if cut {
                tracing::warn!(
                    "{} asked to wait {} s before retrying; waiting {} s, the longest this \
                     client obeys",
                    redact(url),
                    failure.retry_after.unwrap_or_default().as_secs(),
                    delay.as_secs()
                );
            }
            tracing::debug!(url = %redact(url), attempt, ?delay, cause = %failure.cause, "retrying");
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Err(error(attempt, Cause::Cancelled)),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// The reqwest client both of ours are: the same settings, their own redirect rule.
fn build(
    config: &ClientConfig,
    redirect: reqwest::redirect::Policy,
) -> Result<reqwest::Client, SetupError> {
    reqwest::Client::builder()
        .user_agent(crate::config::USER_AGENT)
        .connect_timeout(config.connect_timeout)
        .read_timeout(config.read_timeout)
        .timeout(config.request_timeout)
        .redirect(redirect)
        .pool_max_idle_per_host(256)
        .build()
        .map_err(SetupError::Client)
}

/// `host:port` of a URL, all of it that a refused redirect shows.
fn authority(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => "no host".to_string(),
    }
}

/// What a 200's headers say of the object; `size` as the caller knows it.
fn meta(resp: &reqwest::Response, size: u64) -> ObjectMeta {
    let h = resp.headers();
    let text = |name| {
        h.get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    ObjectMeta {
        size,
        last_modified: text(header::LAST_MODIFIED)
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|t| t.with_timezone(&Utc)),
        etag: text(header::ETAG).map(|e| e.trim_matches('"').to_string()),
    }
}

/// Reads a body chunk by chunk, refusing it as soon as it passes `limit` bytes (or announces
/// more), so a hostile server costs at most `limit` bytes of memory per request.
async fn read_capped(resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    read_capped_into(resp, limit, &mut body).await?;
    Ok(body)
}

/// `read_capped` into `body`, which is cleared first and keeps its capacity.
async fn read_capped_into(
    mut resp: reqwest::Response,
    limit: usize,
    body: &mut Vec<u8>,
) -> Result<(), Failure> {
    let too_large = || Failure {
        cause: Cause::TooLarge { limit },
        // The same server will send the same body again.
        transient: false,
        retry_after: None,
    };
    let announced = resp.content_length().unwrap_or(0);
    if announced > limit as u64 {
        return Err(too_large());
    }
    body.clear();
    body.reserve(announced as usize);
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(())
}

/// Full jitter: a random wait up to `base · 2^(attempt-1)`, capped.
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let ceiling = policy
        .base_delay
        .saturating_mul(1 << (attempt - 1).min(16))
        .min(policy.max_delay);
    ceiling.mul_f64(fastrand::f64())
}

fn transport(e: reqwest::Error) -> Failure {
    // Builder errors (a malformed URL) will not get better by trying again, nor will a redirect
    // the policy refused: the same server sends the same one.
    let transient = !e.is_builder() && !e.is_redirect();
    Failure {
        // The URL is already part of `VisionError`; reqwest would repeat it.
        cause: Cause::Transport(e.without_url()),
        transient,
        retry_after: None,
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let value = resp.headers().get(header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn status_failure_parts(
    status: StatusCode,
    retry_after: Option<Duration>,
    code: Option<String>,
) -> Failure {
    let transient = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
    Failure {
        cause: Cause::Status {
            status: status.as_u16(),
            code,
        },
        transient,
        retry_after,
    }
}

/// The `<Code>` of an S3 error document (`SlowDown`, `AccessDenied`, …), if the body is one.
/// Real codes are a word of at most ~40 letters; anything else is the server's own text, which
/// is not repeated into the log and the run record.
fn s3_error_code(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Error {
        #[serde(rename = "Code")]
        code: String,
    }
    quick_xml::de::from_str::<Error>(body)
        .ok()
        .map(|e| e.code)
        .filter(|c| !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_asked_wait_is_capped_at_the_policy() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3600))),
            (Duration::from_secs(60), true)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3))),
            (Duration::from_secs(3), false)
        );
        let (backoff, cut) = policy.delay(30, None);
        assert!(backoff <= policy.max_delay && !cut);
    }
}
