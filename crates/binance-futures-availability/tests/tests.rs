//! Every integration test, in one binary (ripgrep's `tests/tests.rs` shape; issue 25, item 9):
//! each file beside this one is a module here, not a test binary of its own, so the crate and
//! DuckDB are linked once rather than once per file (BENCHMARKS.md, session 13). `Cargo.toml`
//! sets `autotests = false`, so a new file in `tests/` runs only once it is named below.
//!
//! A file's tests are its module's: `cargo test --release --test integration docs::` runs the
//! docs' tests, `cargo test --release --test integration scale::` the writes at scale.

mod catalog;
mod catalog_export;
mod catalog_hostile;
mod catalog_ops;
mod catalog_questions;
mod collect;
mod common;
mod docs;
mod error_sentences;
mod failed_runs;
mod hardening;
mod hostile_server;
mod index_file;
mod lives;
mod lives_index;
mod markets;
mod migration;
mod operations;
mod outage;
mod page;
mod panel;
mod queries;
mod read_index;
mod scale;
mod scheduler;
mod serve;
mod serve_catalog;
mod signals;
mod trading_collect;
mod trading_files;
mod trading_store;
mod vision_client;
