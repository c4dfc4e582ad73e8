//! The catalog's questions on a catalog of the whole bucket (issue 27, point 1): in-process
//! p50/p99 of each, on a catalog `benches/catalog_scale.sh` built and kept (`KEEP=FILE`).
//!
//! Run: `BFA_CATALOG_BENCH=FILE cargo bench --bench catalog_queries` (release profile, shared
//! with tests and binaries). Without the variable it says how to make the file and exits.
//! `BFA_BENCH_ONLY=NAME` measures only the question of that name (to profile it alone).

use std::time::{Duration, Instant};

use binance_futures_availability::question::catalog::{
    CatalogAnswer, CatalogQuestion, ChangesQuestion, FilesQuestion, parse_period,
};
use binance_futures_availability::store::{Catalog, StoreError};
use chrono::Duration as Days;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p) as usize]
}

/// Measures `f` unless `BFA_BENCH_ONLY` names another question: one question alone, to
/// profile it.
fn measure(name: &str, iterations: usize, mut f: impl FnMut() -> usize) {
    if std::env::var("BFA_BENCH_ONLY").is_ok_and(|only| only != name) {
        return;
    }
    let rows = f();
    let mut samples: Vec<Duration> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    let (p50, p99) = (
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    );
    println!(
        "| {name} | {rows} | {:.2} ms | {:.2} ms | {iterations} |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

fn main() {
    let Some(path) = std::env::var_os("BFA_CATALOG_BENCH") else {
        eprintln!(
            "BFA_CATALOG_BENCH names no catalog: build one with \
             `KEEP=/tmp/catalog-1.0.duckdb bash benches/catalog_scale.sh 1.0 BIN SIM MINIMUM`"
        );
        return;
    };
    let catalog = Catalog::open(std::path::Path::new(&path)).expect("the catalog opens");
    let ds = |s: &str| s.parse().expect("a dataset");
    println!("| question | rows | p50 | p99 | runs |\n|---|---|---|---|---|");
    let files = FilesQuestion::new(ds("um/daily/klines/1m"), Some("BTCUSDT"), None, None)
        .expect("a question");
    measure("files um/daily/klines/1m --symbol BTCUSDT", 50, || {
        let listing = catalog.file_listing(&files.query()).expect("a listing");
        let mut n = 0;
        catalog
            .each_file(&listing, |_| {
                n += 1;
                Ok::<_, StoreError>(())
            })
            .expect("files");
        n
    });
    let month = FilesQuestion::new(
        ds("spot/daily/klines/1m"),
        Some("BTCUSDT"),
        parse_period("2024-01-01").ok(),
        parse_period("2024-01-31").ok(),
    )
    .expect("a question");
    measure(
        "files spot/daily/klines/1m --symbol BTCUSDT, one month",
        50,
        || {
            let listing = catalog.file_listing(&month.query()).expect("a listing");
            listing.files as usize
        },
    );
    let ask = |q: &CatalogQuestion| -> usize {
        match catalog.answer(q).expect("an answer") {
            CatalogAnswer::Datasets(rows) => rows.len(),
            CatalogAnswer::Symbols { rows, .. } => rows.len(),
            CatalogAnswer::Gaps { rows, .. } => rows.len(),
            CatalogAnswer::Lag { .. } => 1,
            CatalogAnswer::Strays(rows) => rows.len(),
        }
    };
    let symbols = CatalogQuestion::Symbols {
        dataset: ds("spot/daily/klines/1m"),
    };
    measure("symbols spot/daily/klines/1m", 20, || ask(&symbols));
    let datasets = CatalogQuestion::Datasets { market: None };
    measure("datasets", 20, || ask(&datasets));
    let today = chrono::Utc::now().date_naive();
    let changes =
        ChangesQuestion::new(Some(today - Days::days(7)), None, None, None).expect("a question");
    // Each change's key written into one reused buffer: the least a reader of the keys does
    // (before session 18 each change came with its key made, a `String`).
    let keys = |catalog: &Catalog| {
        let listing = catalog.change_listing(changes.query()).expect("a listing");
        let (mut n, mut key) = (0, String::new());
        catalog
            .each_change(&listing, |c| {
                key.clear();
                c.file.write_key(&mut key).expect("a key");
                std::hint::black_box(&key);
                n += 1;
                Ok::<_, StoreError>(())
            })
            .expect("changes");
        n
    };
    measure("changes --since 7 days ago", 20, || keys(&catalog));
    // The same on a handle opened for it, as the CLI asks (one question a process): the file
    // opened and its leaves read (`LeafTable`, kept by a handle for its later questions) each time.
    measure("changes --since 7 days ago, on a new handle", 10, || {
        keys(&Catalog::open(std::path::Path::new(&path)).expect("the catalog opens"))
    });
    // As `catalog changes --format json` writes them (the CLI's writer is serde_json's pretty
    // printer a row at a time), into memory.
    measure("changes --since 7 days ago, as JSON", 20, || {
        let listing = catalog.change_listing(changes.query()).expect("a listing");
        let mut out = Vec::new();
        catalog
            .each_change(&listing, |c| {
                serde_json::to_writer_pretty(&mut out, c).expect("JSON");
                Ok::<_, StoreError>(())
            })
            .expect("changes");
        out.len()
    });
    let gaps = CatalogQuestion::gaps(ds("um/daily/klines/1m"), None).expect("a question");
    measure("gaps um/daily/klines/1m", 10, || ask(&gaps));
}
