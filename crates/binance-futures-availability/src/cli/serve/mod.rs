//! `serve`: one database for a whole team. A read-only HTTP API whose answers are the command
//! line's JSON and CSV, and a page to look at the history, served from the file the scheduler
//! publishes (it is never written, and a publish is picked up within a second).
//!
//! The parts: `published` (which file, the handles on it, swapping them on a publish),
//! `answers` (what was already answered from that file), `api`
//! (routes, parameters, validators, errors), `page` (the page's files, built into the binary),
//! `guard` (which Host names are answered, the security headers).
//! This file owns the socket: loopback unless asked, bounded connections, a deadline for
//! headers, and a graceful stop on SIGTERM/Ctrl-C.

mod answers;
mod api;

pub(crate) use api::DEFAULT_MAX_FILES;
mod guard;
mod page;
mod published;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{CliError, ServeArgs};

/// Request line and headers together at most: a client cannot make the server buffer more.
/// 16 KiB holds any URL of ours a thousand times over (hyper's floor is 8 KiB).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// `serve --help` after the options: the pages and endpoints from the router's own tables (so
/// a route cannot be added without being listed), the database's then the catalog's, then the
/// notes and exit codes.
pub(super) fn help() -> String {
    let mut text = String::from("Endpoints (docs/api.md has an example of each):\n");
    let rows = page::pages().chain(api::ENDPOINTS.iter().map(|e| (e.path, e.about)));
    for (path, about) in rows {
        // 27 columns: the longest path, `/v1/universe/{date}`, and room to spare.
        let line = format!("  GET {path:<27}{about}");
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.push_str(
        "Catalog endpoints (--catalog's file; docs/catalog.md), {dataset} as \
         um/daily/klines/1m:\n",
    );
    for e in &api::catalog::ENDPOINTS {
        // 31 columns: the longest path, `/v1/catalog/symbols/{dataset}`, and two spaces.
        let line = format!("  GET {:<31}{}", e.shown(), e.about);
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.push_str(super::args::SERVE_NOTES);
    text
}

/// A failure to start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The socket could not be had (address in use, permission).
    #[error("could not listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// A non-loopback address without `--public`.
    #[error(
        "{addr} can be reached from other machines, and the API has no authentication; pass \
         --public to serve it there, or listen on 127.0.0.1"
    )]
    NotLoopback { addr: SocketAddr },
    /// An `--allow-host` that is no host name.
    #[error(transparent)]
    BadHost(#[from] guard::BadHost),
}

impl ServeError {
    /// Whether the command line was at fault (exit 2), not the machine.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ServeError::NotLoopback { .. } | ServeError::BadHost(_)
        )
    }
}

pub(super) fn run(db_path: &Path, args: &ServeArgs, quiet: bool) -> Result<(), CliError> {
    if !args.addr.ip().is_loopback() && !args.public {
        return Err(ServeError::NotLoopback { addr: args.addr }.into());
    }
    let handles = args
        .handles
        .and_then(|n| NonZeroUsize::new(usize::from(n)))
        .or_else(|| std::thread::available_parallelism().ok())
        .unwrap_or(NonZeroUsize::MIN);
    let timeout = Duration::from_secs(args.request_timeout);
    let loopback = args.addr.ip().is_loopback();
    // Checked before anything is opened (exit 2); the port is known once listening.
    guard::Hosts::new(args.addr.port(), &args.allow_host, !loopback).map_err(ServeError::from)?;
    super::runtime()?.block_on(async {
        let listener = TcpListener::bind(args.addr)
            .await
            .map_err(|source| ServeError::Listen {
                addr: args.addr,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: args.addr,
            source,
        })?;
        let hosts = guard::Hosts::new(local.port(), &args.allow_host, !loopback)
            .map_err(ServeError::from)?;
        if args.public {
            tracing::warn!(
                "serving on {local}, reachable from other machines, without authentication"
            );
            if args.allow_host.is_empty() {
                tracing::warn!(
                    "answering requests for any host name: name this server's with --allow-host \
                     so that a web page cannot read it through DNS rebinding"
                );
            }
        }
        let limits = published::Limits {
            handles,
            cache_bytes: args.cache_mb as usize * 1024 * 1024,
            max_files: args.max_files,
        };
        // Blocking on the runtime's thread is fine here: nothing is served yet.
        let published = Arc::new(published::Published::for_market(
            db_path,
            limits,
            crate::facts::Market::Um,
            Some(api::refill_answer),
        ));
        tokio::spawn(Arc::clone(&published).watch());
        // The catalog is watched on its own: absent, or not servable, only its routes say so.
        let catalog = Arc::new(published::Published::for_market(
            &args.catalog.path(db_path),
            limits,
            crate::facts::Market::Um,
            Some(api::catalog::refill),
        ));
        tokio::spawn(Arc::clone(&catalog).watch());
        let others = crate::store::KEPT_MARKETS
            .into_iter()
            .filter(|m| *m != crate::facts::Market::Um)
            .map(|m| (m, tokio::sync::OnceCell::new()))
            .collect();
        let app = api::App {
            published,
            others,
            db_path: db_path.to_path_buf(),
            limits,
            catalog,
            timeout,
        };
        let router = api::router(Arc::new(app), Arc::new(hosts));
        // Listening before the line a supervisor waits for: a stop right after it is heard.
        let stop = CancellationToken::new();
        tokio::spawn(stop_on_signal(stop.clone()));
        if !quiet {
            say!(
                "serving {} at http://{local}/ with {handles} handle{} (Ctrl-C to stop)",
                db_path.display(),
                if handles.get() == 1 { "" } else { "s" }
            );
        }
        accept(
            listener,
            router,
            args.max_connections as usize,
            timeout,
            stop,
        )
        .await;
        Ok(())
    })
}

/// Serves connections until `stop`, at most `max` at once; then lets those open finish what
/// they are answering (up to `timeout`).
async fn accept(
    listener: TcpListener,
    router: axum::Router,
    max: usize,
    timeout: Duration,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(max));
    let mut http = hyper::server::conn::http1::Builder::new();
    // The timer makes the header deadline work: a client that opens connections and trickles
    // (or never sends) its headers holds a slot for `timeout` at most, idle keep-alives too.
    http.timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = stop.cancelled() => break,
        };
        // Never closed, so never an error.
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, mostly: wait for connections to close rather than
                // spin on the error.
                tracing::warn!("could not accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let stop = stop.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    // Every slot back means every connection closed.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(timeout, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "stopped with requests still running after {} s",
            timeout.as_secs()
        );
    }
}

/// Listening from the call on, not from the task's first poll (as `cancel_on_signal`).
fn stop_on_signal(stop: CancellationToken) -> impl Future<Output = ()> + Send + 'static {
    let signals = super::Signals::listen();
    async move {
        let Some(mut signals) = signals else {
            return;
        };
        signals.next().await;
        say!("stopping: answering the requests in flight");
        stop.cancel();
    }
}
