//! The one HTTP client: pooled keep-alive, HTTP/2 where offered, timeouts, a User-Agent naming
//! the tool, and retries for transient failures only (timeouts, connection errors, 5xx, 429),
//! with exponential backoff, full jitter and `Retry-After`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{StatusCode, header};

use super::{Cause, VisionError};

/// Characters kept as they are in paths and query values: RFC 3986 unreserved, and `/`.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Where the bucket is listed and where its files are served.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Path-style S3 bucket URL, e.g. `https://s3-ap-northeast-1.amazonaws.com/data.binance.vision`.
    pub s3_url: String,
    /// Base URL of the files, e.g. `https://data.binance.vision`.
    pub data_url: String,
}

impl Endpoints {
    /// The public URL of a key: `{data_url}/{key}`, percent-encoded.
    pub fn file_url(&self, key: &str) -> String {
        format!(
            "{}/{}",
            self.data_url.trim_end_matches('/'),
            utf8_percent_encode(key, KEEP)
        )
    }

    fn list_url(&self, params: &[(&str, &str)]) -> String {
        let mut url = self.s3_url.trim_end_matches('/').to_string();
        for (i, (name, value)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(name);
            url.push('=');
            url.extend(utf8_percent_encode(value, KEEP));
        }
        url
    }
}

/// How often and how patiently to retry transient failures.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The backoff before the second attempt; it doubles per attempt, capped at `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
        }
    }
}

/// Client settings; endpoints are always configuration, never constants.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub endpoints: Endpoints,
    pub retry: RetryPolicy,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response.
    pub read_timeout: Duration,
}

impl ClientConfig {
    pub fn new(endpoints: Endpoints) -> Self {
        ClientConfig {
            endpoints,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
        }
    }
}

/// Request counters, shared by every clone of a client.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
}

/// What a HEAD of an existing file tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
    pub etag: Option<String>,
}

/// A client for the bucket; cheap to clone (the connection pool and counters are shared).
#[derive(Debug, Clone)]
pub struct VisionClient {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    stats: Arc<Stats>,
}

/// One failed attempt, before the policy decides whether to try again.
struct Failure {
    cause: Cause,
    transient: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn bad_listing(detail: String) -> Failure {
        // A body that does not parse is most often a response cut short: worth another try.
        Failure {
            cause: Cause::BadListing(detail),
            transient: true,
            retry_after: None,
        }
    }
}

impl VisionClient {
    pub fn new(config: ClientConfig) -> Result<VisionClient, VisionError> {
        for url in [&config.endpoints.s3_url, &config.endpoints.data_url] {
            if let Err(e) = reqwest::Url::parse(url) {
                return Err(VisionError {
                    what: "configuring the endpoints".into(),
                    url: url.clone(),
                    attempts: 0,
                    cause: Cause::Transport(format!("not a valid URL: {e}")),
                });
            }
        }
        let http = reqwest::Client::builder()
            .user_agent(crate::config::USER_AGENT)
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| VisionError {
                what: "building the HTTP client".into(),
                url: config.endpoints.s3_url.clone(),
                attempts: 0,
                cause: Cause::Transport(e.to_string()),
            })?;
        Ok(VisionClient {
            http,
            config: Arc::new(config),
            stats: Arc::new(Stats::default()),
        })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.config.endpoints
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// HEAD of one key: `Some` when the file exists (200), `None` when it does not (404).
    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, VisionError> {
        let url = self.config.endpoints.file_url(key);
        self.with_retries(format!("HEAD {key}"), &url, || async {
            let resp = self.http.head(&url).send().await.map_err(transport)?;
            match resp.status() {
                StatusCode::OK => {
                    let h = resp.headers();
                    let text = |name| {
                        h.get(name)
                            .and_then(|v: &header::HeaderValue| v.to_str().ok())
                    };
                    Ok(Some(ObjectMeta {
                        size: text(header::CONTENT_LENGTH)
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0),
                        last_modified: text(header::LAST_MODIFIED)
                            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
                            .map(|t| t.with_timezone(&Utc)),
                        etag: text(header::ETAG).map(|e| e.trim_matches('"').to_string()),
                    }))
                }
                StatusCode::NOT_FOUND => Ok(None),
                _ => Err(status_failure(&resp, None)),
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
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, VisionError> {
        let url = self.config.endpoints.list_url(params);
        self.with_retries(what, &url, || async {
            let resp = self.http.get(&url).send().await.map_err(transport)?;
            if !resp.status().is_success() {
                let retry_after = retry_after(&resp);
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                return Err(status_failure_parts(
                    status,
                    retry_after,
                    s3_error_code(&body),
                ));
            }
            // Strictly UTF-8: `text()` would replace bad bytes and quietly change a name.
            let body = resp.bytes().await.map_err(transport)?;
            let body = std::str::from_utf8(&body)
                .map_err(|e| Failure::bad_listing(format!("the listing is not UTF-8: {e}")))?;
            parse(body).map_err(Failure::bad_listing)
        })
        .await
    }

    /// Runs `op` until it succeeds, fails permanently, or the attempts are spent.
    async fn with_retries<T, F, Fut>(
        &self,
        what: String,
        url: &str,
        mut op: F,
    ) -> Result<T, VisionError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let policy = &self.config.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let failure = match op().await {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            if !failure.transient || attempt >= policy.max_attempts {
                return Err(VisionError {
                    what,
                    url: url.to_string(),
                    attempts: attempt,
                    cause: failure.cause,
                });
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let delay = failure
                .retry_after
                .unwrap_or_else(|| backoff(policy, attempt));
            tracing::debug!(%url, attempt, ?delay, cause = %failure.cause, "retrying");
            tokio::time::sleep(delay).await;
        }
    }
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
    // The URL is already part of `VisionError`; reqwest would repeat it.
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    // Builder errors (a malformed URL) will not get better by trying again.
    Failure {
        cause: Cause::Transport(text),
        transient: !e.is_builder(),
        retry_after: None,
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let value = resp.headers().get(header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn status_failure(resp: &reqwest::Response, code: Option<String>) -> Failure {
    status_failure_parts(resp.status(), retry_after(resp), code)
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
fn s3_error_code(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Error {
        #[serde(rename = "Code")]
        code: String,
    }
    quick_xml::de::from_str::<Error>(body).ok().map(|e| e.code)
}
