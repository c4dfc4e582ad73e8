//! The pages: `/` (the availability history) and `/catalog` (the catalog: markets, datasets,
//! symbols, a symbol's periods, what a download costs, recent changes). Plain HTML, CSS and
//! JavaScript (no build step) and the vendored charting library (`page/vendor/README.md`), all
//! built into the binary. They read the same API as everyone else; nothing here knows the
//! database or the catalog. No inline script, style or `data:` URL:
//! the page lives under `default-src 'self'` (`guard::CSP`), so every part is a file here.

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::api::App;

/// A file the pages are made of.
struct File {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
    /// What a page is, for `serve --help`; `None` for what pages load (scripts, styles).
    about: Option<&'static str>,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file served, the pages first. Revalidated on every load (`no-cache`) against an ETag
/// of the content, so a new binary's page is never mixed with an old script.
const FILES: &[File] = &[
    File {
        path: "/",
        content_type: HTML,
        body: include_str!("page/index.html"),
        about: Some("the page: symbols per day, a symbol's calendar, a day's snapshot"),
    },
    File {
        path: "/catalog",
        content_type: HTML,
        body: include_str!("page/catalog.html"),
        about: Some("the catalog: datasets, symbols, a symbol's periods, download costs"),
    },
    File {
        path: "/assets/app.js",
        content_type: JS,
        body: include_str!("page/app.js"),
        about: None,
    },
    File {
        path: "/assets/catalog.js",
        content_type: JS,
        body: include_str!("page/catalog.js"),
        about: None,
    },
    File {
        path: "/assets/style.css",
        content_type: CSS,
        body: include_str!("page/style.css"),
        about: None,
    },
    File {
        path: "/assets/catalog.css",
        content_type: CSS,
        body: include_str!("page/catalog.css"),
        about: None,
    },
    File {
        path: "/assets/icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("page/icon.svg"),
        about: None,
    },
    File {
        path: "/assets/uPlot.iife.min.js",
        content_type: JS,
        body: include_str!("page/vendor/uPlot.iife.min.js"),
        about: None,
    },
    File {
        path: "/assets/uPlot.min.css",
        content_type: CSS,
        body: include_str!("page/vendor/uPlot.min.css"),
        about: None,
    },
];

/// The pages (path, what it is), for `serve --help`: from the table the router serves, so a
/// page cannot be served without being listed.
pub(super) fn pages() -> impl Iterator<Item = (&'static str, &'static str)> {
    FILES
        .iter()
        .filter_map(|f| f.about.map(|about| (f.path, about)))
}

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
    FILES.iter().fold(Router::new(), |router, file| {
        let (path, content_type, body) = (file.path, file.content_type, file.body);
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
