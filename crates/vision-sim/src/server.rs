//! The HTTP side: path-style S3 under `/data.binance.vision` (and the bucket root, like the
//! CloudFront file host), with latency, scripted faults, counters and a peak-concurrency gauge.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use crate::BUCKET;
use crate::corpus::{Corpus, checksum_body, digest_line, object_bytes};
use crate::s3::{self, Keys, ListQuery};
use crate::vision::Bucket;

/// Latency added to every request.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    pub latency: Duration,
    /// A random extra of up to this much per request.
    pub jitter: Duration,
}

/// A fault the bucket can answer with instead of the real response.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Any status with an S3 error document (500 InternalError, 403 AccessDenied, …).
    Status(u16),
    /// 503 SlowDown, as S3 throttles.
    SlowDown,
    /// 429 with a `Retry-After` header.
    TooManyRequests { retry_after_secs: u64 },
    /// Wait this long before answering (longer than a client's timeout is a timeout).
    Delay(Duration),
    /// A listing cut in the middle (well-formed HTTP, broken XML).
    TruncatedXml,
    /// A body that is not XML at all.
    GarbageXml,
    /// The connection dies in the middle of the body.
    Reset,
    /// Listing pages that never end, in one of the ways a client must notice (listings only;
    /// every page of a matching prefix, whatever `times` says).
    Paging(Paging),
    /// The healthy body, one byte per interval: no read ever waits long, the whole never ends.
    Trickle(Duration),
    /// A listing body of this many bytes, streamed without a length: far past any real page.
    Huge(u64),
    /// Objects: a data file's bytes replaced by same-length garbage (not a zip), and its
    /// CHECKSUM computed from that garbage, so only reading the zip finds it. Match the zip's
    /// key (which its `.CHECKSUM` key contains) to fault both.
    CorruptZip,
    /// Objects: a CHECKSUM whose digest is not the file's (the file itself is healthy).
    WrongChecksum,
    /// Objects: a CDN's stale copy, served for a key the listing shows in a newer version:
    /// this older object's bytes, `Content-Length`, `Last-Modified` and `ETag`, and for its
    /// `.CHECKSUM` the digest of those bytes (so the pair verifies). Match the zip's key to
    /// serve both.
    StaleCopy(Box<crate::Object>),
}

/// Broken pagination. The first page is the healthy one, made to claim more follows; its
/// continuation tokens are the simulator's own (`loop-N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// Every later page hands back the token it was asked with.
    SameToken,
    /// Tokens go `loop-1`, `loop-2`, `loop-1`, … while the keys still increase.
    TokenCycle,
    /// Every later page repeats the first page's keys under a fresh token.
    RepeatKeys,
    /// Every later page has one new, larger key and a fresh token, forever.
    Endless,
}

/// When to fault: requests whose key (objects) or `prefix|start-after` (listings) contains
/// `pattern` get `fault`, the first `times` requests per distinct key, or always when `None`.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub pattern: String,
    pub fault: Fault,
    pub times: Option<u32>,
}

/// What the server has seen, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    pub requests: u64,
    pub lists: u64,
    pub heads: u64,
    pub gets: u64,
    pub faults: u64,
    pub peak_in_flight: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    lists: AtomicU64,
    heads: AtomicU64,
    gets: AtomicU64,
    faults: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
}

struct Sim {
    corpus: RwLock<Bucket>,
    faults: Mutex<Vec<(FaultRule, HashMap<String, u32>)>>,
    options: SimOptions,
    counters: Counters,
}

/// A running simulated bucket on 127.0.0.1, on its own thread and runtime, stopped on drop.
pub struct SimServer {
    addr: SocketAddr,
    sim: Arc<Sim>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimServer {
    /// Starts serving `corpus` on an ephemeral port of 127.0.0.1.
    pub fn start(corpus: Corpus, options: SimOptions) -> std::io::Result<SimServer> {
        Self::start_on(
            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
            corpus,
            options,
        )
    }

    /// Starts serving `corpus` on `addr`.
    pub fn start_on(
        addr: SocketAddr,
        corpus: Corpus,
        options: SimOptions,
    ) -> std::io::Result<SimServer> {
        Self::start_bucket_on(addr, Bucket::Corpus(corpus), options)
    }

    /// Starts serving any bucket, a generated one (`Bucket::Vision`) included, on an ephemeral
    /// port of 127.0.0.1.
    pub fn start_bucket(bucket: Bucket, options: SimOptions) -> std::io::Result<SimServer> {
        Self::start_bucket_on(
            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
            bucket,
            options,
        )
    }

    /// Starts serving any bucket on `addr`.
    pub fn start_bucket_on(
        addr: SocketAddr,
        bucket: Bucket,
        options: SimOptions,
    ) -> std::io::Result<SimServer> {
        let sim = Arc::new(Sim {
            corpus: RwLock::new(bucket),
            faults: Mutex::new(Vec::new()),
            options,
            counters: Counters::default(),
        });
        // Bound here (blocking) so that callers inside an async runtime can start a server too.
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(sim.clone());
        let thread = std::thread::Builder::new()
            .name("vision-sim".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => return tracing::error!("vision-sim could not listen: {e}"),
                    };
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                        let _ = rx.await;
                    });
                    if let Err(e) = serve.await {
                        tracing::error!("vision-sim stopped: {e}");
                    }
                });
                // Close lingering keep-alive connections without waiting for them.
                runtime.shutdown_background();
            })?;
        Ok(SimServer {
            addr,
            sim,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The path-style bucket URL: the client's `--s3-url`.
    pub fn s3_url(&self) -> String {
        format!("http://{}/{BUCKET}", self.addr)
    }

    /// The file host: the client's `--data-url`.
    pub fn data_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> SimStats {
        let c = &self.sim.counters;
        SimStats {
            requests: c.requests.load(Ordering::Relaxed),
            lists: c.lists.load(Ordering::Relaxed),
            heads: c.heads.load(Ordering::Relaxed),
            gets: c.gets.load(Ordering::Relaxed),
            faults: c.faults.load(Ordering::Relaxed),
            peak_in_flight: c.peak_in_flight.load(Ordering::Relaxed),
        }
    }

    pub fn reset_stats(&self) {
        let c = &self.sim.counters;
        for counter in [
            &c.requests,
            &c.lists,
            &c.heads,
            &c.gets,
            &c.faults,
            &c.peak_in_flight,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    pub fn add_fault(&self, rule: FaultRule) {
        self.sim
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((rule, HashMap::new()));
    }

    pub fn clear_faults(&self) {
        self.sim
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Changes the bucket while it serves: late uploads, replacements, new folders.
    ///
    /// # Panics
    /// When the server serves a generated bucket, which has no corpus to change: move its clock
    /// (`set_clock`) instead.
    pub fn with_corpus<R>(&self, f: impl FnOnce(&mut Corpus) -> R) -> R {
        self.with_bucket(|bucket| match bucket {
            Bucket::Corpus(corpus) => f(corpus),
            Bucket::Vision(_) => panic!(
                "with_corpus: this server serves a generated bucket; move its clock with set_clock"
            ),
        })
    }

    /// Reads or changes whatever bucket the server serves.
    pub fn with_bucket<R>(&self, f: impl FnOnce(&mut Bucket) -> R) -> R {
        f(&mut self
            .sim
            .corpus
            .write()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// Moves a generated bucket's clock: it answers as of `at` from the next request on.
    ///
    /// # Panics
    /// When the server serves a corpus, which has no clock.
    pub fn set_clock(&self, at: chrono::DateTime<chrono::Utc>) {
        self.with_bucket(|bucket| match bucket {
            Bucket::Vision(v) => v.at = at,
            Bucket::Corpus(_) => {
                panic!("set_clock: this server serves a corpus, which has no clock")
            }
        })
    }

    /// Blocks until the server stops (for the binary).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn router(sim: Arc<Sim>) -> Router {
    Router::new().fallback(handle).with_state(sim)
}

/// Decrements the in-flight gauge however the request ends.
struct InFlight<'a>(&'a Counters);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn handle(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let c = &sim.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    let now = c.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    c.peak_in_flight.fetch_max(now, Ordering::Relaxed);
    let _guard = InFlight(c);

    let latency = sim.options.latency + sim.options.jitter.mul_f64(fastrand_f64());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let Ok(path) = percent_decode_str(uri.path()).decode_utf8() else {
        return xml_error(
            StatusCode::BAD_REQUEST,
            "InvalidURI",
            "The path is not UTF-8.",
            uri.path(),
        );
    };
    let path = path.strip_prefix('/').unwrap_or(&path);
    let key = match path.strip_prefix(BUCKET) {
        Some("") | Some("/") => None,
        Some(rest) => match rest.strip_prefix('/') {
            Some(k) => Some(k.to_string()),
            None => {
                return xml_error(
                    StatusCode::NOT_FOUND,
                    "NoSuchBucket",
                    "The specified bucket does not exist",
                    path,
                );
            }
        },
        None => Some(path.to_string()),
    };
    match key {
        None if method == Method::GET => {
            c.lists.fetch_add(1, Ordering::Relaxed);
            list(&sim, &query).await
        }
        Some(key) if method == Method::GET || method == Method::HEAD => {
            let counter = if method == Method::HEAD {
                &c.heads
            } else {
                &c.gets
            };
            counter.fetch_add(1, Ordering::Relaxed);
            object(&sim, &key, method == Method::HEAD).await
        }
        _ => xml_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The bucket is read-only.",
            path,
        ),
    }
}

fn fastrand_f64() -> f64 {
    // Jitter needs no quality: the low bits of the clock will do.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1000) / 1000.0
}

/// The fault to answer `subject` with, if a rule says so.
fn fault_for(sim: &Sim, subject: &str) -> Option<Fault> {
    let mut rules = sim.faults.lock().unwrap_or_else(PoisonError::into_inner);
    for (rule, hits) in rules.iter_mut() {
        if !subject.contains(&rule.pattern) {
            continue;
        }
        let n = hits.entry(subject.to_string()).or_insert(0);
        if rule.times.is_none_or(|t| *n < t) {
            *n += 1;
            sim.counters.faults.fetch_add(1, Ordering::Relaxed);
            return Some(rule.fault.clone());
        }
    }
    None
}

/// Answers with a fault; `body` is what a healthy response would have carried.
async fn faulted(fault: Fault, resource: &str, body: impl FnOnce() -> String) -> Option<Response> {
    let status = |s: u16, code: &str, msg: &str| {
        xml_error(
            StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            msg,
            resource,
        )
    };
    Some(match fault {
        Fault::Status(403) => status(403, "AccessDenied", "Access Denied"),
        Fault::Status(s) if s >= 500 => status(
            s,
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
        Fault::Status(s) => status(s, "SimulatedError", "A simulated error."),
        Fault::SlowDown => status(503, "SlowDown", "Please reduce your request rate."),
        Fault::TooManyRequests { retry_after_secs } => {
            let mut r = status(429, "TooManyRequests", "Too many requests.");
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            r
        }
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            return None;
        }
        Fault::TruncatedXml => {
            let mut text = body();
            let cut = (text.len() / 2..text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            text.truncate(cut);
            xml(StatusCode::OK, text)
        }
        Fault::GarbageXml => xml(StatusCode::OK, "<<<this is not XML at all".to_string()),
        // Handled by `list` before any page is rendered.
        Fault::Paging(_) => return None,
        // Handled by `object`, which damages the bytes; a listing is not affected.
        Fault::CorruptZip | Fault::WrongChecksum | Fault::StaleCopy(_) => return None,
        Fault::Trickle(interval) => {
            let bytes = body().into_bytes();
            let drip = futures_util::stream::unfold(0, move |i| {
                let byte = bytes.get(i).copied();
                async move {
                    tokio::time::sleep(interval).await;
                    byte.map(|b| (Ok::<_, std::io::Error>(Bytes::from(vec![b])), i + 1))
                }
            });
            xml_stream(Body::from_stream(drip))
        }
        Fault::Huge(total) => {
            const CHUNK: u64 = 64 << 10;
            let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult>";
            let chunks = futures_util::stream::unfold(0u64, move |sent| async move {
                (sent < total).then(|| {
                    let n = CHUNK.min(total - sent);
                    let chunk = if sent == 0 {
                        let mut c = head.as_bytes().to_vec();
                        c.resize(n as usize, b' ');
                        c
                    } else {
                        vec![b' '; n as usize]
                    };
                    (Ok::<_, std::io::Error>(Bytes::from(chunk)), sent + n)
                })
            });
            xml_stream(Body::from_stream(chunks))
        }
        Fault::Reset => {
            let head = body()
                .into_bytes()
                .into_iter()
                .take(64)
                .collect::<Vec<u8>>();
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from(head)),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "simulated reset",
                )),
            ];
            let mut r = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            r
        }
    })
}

/// The broken pagination scripted for `prefix`, if any.
fn paging_for(sim: &Sim, prefix: &str) -> Option<Paging> {
    let rules = sim.faults.lock().unwrap_or_else(PoisonError::into_inner);
    rules.iter().find_map(|(rule, _)| match rule.fault {
        Fault::Paging(p) if prefix.contains(&rule.pattern) => Some(p),
        _ => None,
    })
}

/// One page of broken pagination; `raw_token` is what the client sent (`loop-N`, or none).
fn broken_page(corpus: &Bucket, mut q: ListQuery, how: Paging, raw_token: Option<&str>) -> String {
    let n: u64 = raw_token
        .and_then(|t| t.strip_prefix("loop-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    q.continue_after = None;
    let (first, _) = s3::page(corpus, &q);
    // Names past every real one (U+FFFD sorts after any name in the bucket), larger on later
    // pages. Continuation requests carry no start-after, so nothing else is known to both.
    let made = |i: u64| {
        let name = format!("{}\u{FFFD}{i:09}", q.prefix);
        match q.delimiter {
            Some(ref d) => s3::Entry::Folder(format!("{name}{d}")),
            None => s3::Entry::Key(std::borrow::Cow::Owned(crate::Object {
                key: name,
                size: 1,
                last_modified: chrono::DateTime::UNIX_EPOCH,
                etag: "0".into(),
                kind: crate::ObjectKind::Other,
            })),
        }
    };
    let (entries, next) = match (how, n) {
        (_, 0) => (first, "loop-1".to_string()),
        (Paging::SameToken, n) => (first, format!("loop-{n}")),
        (Paging::TokenCycle, n) => (vec![made(n)], format!("loop-{}", 3 - n.min(2))),
        (Paging::RepeatKeys, n) => (first, format!("loop-{}", n + 1)),
        (Paging::Endless, n) => (vec![made(n)], format!("loop-{}", n + 1)),
    };
    s3::render(&q, &entries, Some(next))
}

async fn list(sim: &Sim, query: &HashMap<String, String>) -> Response {
    let v2 = query.get("list-type").map(String::as_str) == Some("2");
    if let Some(how) = paging_for(sim, query.get("prefix").map_or("", String::as_str)) {
        sim.counters.faults.fetch_add(1, Ordering::Relaxed);
        let q = ListQuery {
            v2: true,
            prefix: query.get("prefix").cloned().unwrap_or_default(),
            delimiter: query.get("delimiter").filter(|d| !d.is_empty()).cloned(),
            max_keys: 1000,
            start_after: query.get("start-after").filter(|s| !s.is_empty()).cloned(),
            continue_after: None,
            url_encoding: false,
        };
        let raw = query.get("continuation-token").map(String::as_str);
        let body = broken_page(
            &sim.corpus.read().unwrap_or_else(PoisonError::into_inner),
            q,
            how,
            raw,
        );
        return xml(StatusCode::OK, body);
    }
    let max_keys = match query.get("max-keys").map(|m| m.parse::<usize>()) {
        None => 1000,
        Some(Ok(m)) => m.min(1000),
        Some(Err(_)) => {
            return xml_error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "max-keys is not a number",
                "",
            );
        }
    };
    let continue_after = match query.get("continuation-token").filter(|_| v2) {
        Some(t) => match s3::untoken(t) {
            Some(after) => Some(after),
            None => {
                return xml_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "The continuation token provided is incorrect",
                    "",
                );
            }
        },
        None => None,
    };
    let q = ListQuery {
        v2,
        prefix: query.get("prefix").cloned().unwrap_or_default(),
        delimiter: query.get("delimiter").filter(|d| !d.is_empty()).cloned(),
        max_keys,
        start_after: query
            .get(if v2 { "start-after" } else { "marker" })
            .filter(|s| !s.is_empty())
            .cloned(),
        continue_after,
        url_encoding: query.get("encoding-type").map(String::as_str) == Some("url"),
    };
    let subject = format!(
        "{}|{}",
        q.prefix,
        q.continue_after
            .as_deref()
            .or(q.start_after.as_deref())
            .unwrap_or("")
    );
    let render = || {
        s3::list(
            &*sim.corpus.read().unwrap_or_else(PoisonError::into_inner),
            &q,
        )
    };
    if let Some(fault) = fault_for(sim, &subject)
        && let Some(response) = faulted(fault, &q.prefix, render).await
    {
        return response;
    }
    xml(StatusCode::OK, render())
}

async fn object(sim: &Sim, key: &str, head_only: bool) -> Response {
    let fault = fault_for(sim, key);
    // These two change the bytes served, below; every other fault replaces the answer.
    let damage = fault.clone().filter(|f| {
        matches!(
            f,
            Fault::CorruptZip | Fault::WrongChecksum | Fault::StaleCopy(_)
        )
    });
    if damage.is_none()
        && let Some(fault) = fault
        && let Some(response) = faulted(fault, key, String::new).await
    {
        return response;
    }
    let found = sim
        .corpus
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get_object(key)
        .map(std::borrow::Cow::into_owned);
    // A stale copy stands in for the zip itself; its CHECKSUM is answered below.
    let found = match &damage {
        Some(Fault::StaleCopy(old)) if !key.ends_with(".CHECKSUM") && found.is_some() => {
            Some((**old).clone())
        }
        _ => found,
    };
    let Some(o) = found else {
        if head_only {
            return StatusCode::NOT_FOUND.into_response();
        }
        return xml_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            key,
        );
    };
    let body = if head_only {
        Body::empty()
    } else if let Some(zip_key) = key.strip_suffix(".CHECKSUM") {
        let zip = sim
            .corpus
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get_object(zip_key)
            .map(std::borrow::Cow::into_owned);
        Body::from(match (zip, damage) {
            (Some(z), Some(Fault::CorruptZip)) => digest_line(&z.key, &garbage(z.size)),
            (Some(z), Some(Fault::WrongChecksum)) => digest_line(&z.key, b"not this file"),
            (Some(_), Some(Fault::StaleCopy(old))) => checksum_body(&old),
            (Some(z), _) => checksum_body(&z),
            // A sidecar whose file is missing (a stray of the generated bucket): a digest of
            // nothing, as long as the size it is listed with.
            (None, _) => digest_line(zip_key, b""),
        })
    } else if damage == Some(Fault::CorruptZip) {
        Body::from(garbage(o.size))
    } else {
        Body::from(object_bytes(&o))
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(o.size));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(
        &o.last_modified
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
    ) {
        h.insert(header::LAST_MODIFIED, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", o.etag)) {
        h.insert(header::ETAG, v);
    }
    r
}

/// Same-length bytes that are no zip.
fn garbage(size: u64) -> Vec<u8> {
    vec![b'#'; size as usize]
}

fn xml_stream(body: Body) -> Response {
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

fn xml_error(status: StatusCode, code: &str, message: &str, resource: &str) -> Response {
    xml(status, s3::error_xml(code, message, resource))
}
