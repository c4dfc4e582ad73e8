//! The page at `/`: plain HTML, CSS and JavaScript (no build step) and the vendored charting
//! library (`page/vendor/README.md`), all built into the binary. It reads the same API as
//! everyone else; nothing here knows the database. No inline script, style or `data:` URL:
//! the page lives under `default-src 'self'` (`guard::CSP`), so every part is a file here.

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::api::App;

/// (path, content type, body). Revalidated on every load (`no-cache`) against an ETag of the
/// content, so a new binary's page is never mixed with an old script.
const FILES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("page/index.html"),
    ),
    (
        "/assets/app.js",
        "text/javascript; charset=utf-8",
        include_str!("page/app.js"),
    ),
    (
        "/assets/style.css",
        "text/css; charset=utf-8",
        include_str!("page/style.css"),
    ),
    (
        "/assets/icon.svg",
        "image/svg+xml",
        include_str!("page/icon.svg"),
    ),
    (
        "/assets/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_str!("page/vendor/uPlot.iife.min.js"),
    ),
    (
        "/assets/uPlot.min.css",
        "text/css; charset=utf-8",
        include_str!("page/vendor/uPlot.min.css"),
    ),
];

/// FNV-1a of a file's bytes, computed at compile time: its ETag.
const fn fnv1a(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

pub(super) fn routes() -> Router<Arc<App>> {
    FILES
        .iter()
        .fold(Router::new(), |router, &(path, content_type, body)| {
            let etag = format!("\"{:016x}\"", fnv1a(body));
            router.route(
                path,
                get(move |headers: axum::http::HeaderMap| async move {
                    let cached = headers
                        .get(header::IF_NONE_MATCH)
                        .is_some_and(|tag| tag.as_bytes() == etag.as_bytes());
                    if cached {
                        return (axum::http::StatusCode::NOT_MODIFIED, [(header::ETAG, etag)])
                            .into_response();
                    }
                    (
                        [
                            (header::CONTENT_TYPE, content_type.to_string()),
                            (header::CACHE_CONTROL, "no-cache".to_string()),
                            (header::ETAG, etag),
                        ],
                        body,
                    )
                        .into_response()
                }),
            )
        })
}
