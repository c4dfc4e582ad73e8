//! `binance-futures-availability` keeps a DuckDB database of which Binance USD-M futures had a
//! daily 1m-klines file on Binance Vision, every day since 2019-09-25, and answers "which symbols
//! were available on day X?" in well under a millisecond, in process or over HTTP.
//!
//! Data flows one way: [`cli`] → [`collect`] → [`vision`] → [`facts`] → [`store`]; queries go
//! [`cli`] → [`question`] → [`store`]. Nothing reaches back up. The modules, what each is for and what it must
//! not know:
//!
//! | module | for | must not know |
//! |---|---|---|
//! | [`facts`] | the types that flow between the others: a daily file seen, a contract kind, a day's trading, the grammar of a day | HTTP, DuckDB, flags |
//! | [`vision`] | the bucket: markets and datasets as values, each dataset owning its key grammar (`market`, `dataset`), symbol names (`keys`), paged listing (`list`), the one window lister (`window`), the file-reader seam (`file`) and the klines format on it (`klines`), every URL built and shown (`urls`), HEAD, the HTTP client and its retry and resource bounds (`client`) | DuckDB, the plan of a run |
//! | [`collect`] | a run (`collect::run`): the plan (`plan`), the one run driver with bounded concurrency and the breaker (`driver`), its stages (`listing`, `trading`, `probe`), the catalog's crawl (`crawl`), where facts become rows (`observe`), progress (`progress`) | keys and pages, SQL |
//! | [`store`] | DuckDB: schema and migrations (`schema`), batches (`write`), queries (`read`), the read index of long-lived handles (`index`) and the read index file one-shot processes answer from without DuckDB (`index_file`), lives, events and universes (`lives`), the lives index stored at publish (`lives_index`), universe panels (`panel`), trading facts (`trading`), how rows lie for both query shapes (`layout`), what a checked range may claim (`checked`), the run log (`runs`), the copy-and-publish protocol for both kinds of file (`session`), the catalog's file (`catalog`), its questions (`questions`), its history streamed (`changes`), the leaves a read-only handle keeps for it (`leaf_table`), its keys made from one template (`key`), its export for other engines (`export`) and what `status` shows of it (`status`), the writer's lock (`lock`), the files beside the database (`files`), what the file system does differently on Unix and Windows (`os`), backup/restore/export (`backup`), its errors (`error`) | HTTP, flags |
//! | [`columns`] | every answer row's columns, defined once (names, order, types, emptiness): the `Serialize` behind JSON and CSV, the walk the Python package turns into Arrow and dicts | output formats, SQL, flags |
//! | [`question`] | the questions every front end asks, as checked values (`Question`), their rows (`Answer`), and `Database::answer`, the one place one is answered; the catalog's (`catalog`: `CatalogQuestion`, `FilesQuestion`, `Catalog::answer`) | clap, axum, pyo3, SQL |
//! | [`schedule`] | the daily loop with an injected clock, the pid file (`pidfile`) | flags, rendering |
//! | [`validate`] | the database against itself and exchangeInfo | flags, rendering |
//! | [`config`] | the defaults that name the outside world (endpoints, the default path) | everything else |
//! | [`cli`] | clap (`args`), arguments in and exit code out (`entry`), `BFA_LOG` (`logging`), input checks (exit 2), dispatch, rendering (`render`), the operator's commands (`ops`) and reports (`report`), the scheduler's commands (`scheduler`), stop requests (`stop`: SIGTERM, Ctrl-C, Windows' stop event), the catalog's commands (`catalog`); `serve`, the same queries over HTTP: routes (`api`), the published file watched and its handles (`published`), the answer cache (`answers`), the Host rule (`guard`), the page (`page`) | SQL, keys |
//!
//! Library users start at [`store::Database`] (queries) and [`collect::run`] (collection).

#![warn(missing_docs)]

/// `eprintln!` that cannot panic: a closed stderr (`2>&1 | head`) is not worth a crash.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// The one idiom for an enum and its text: a two-way table, `named!(Type { Variant = "name", … })`.
/// It gives `NAMES` (every name, in the table's order: help and error sentences list them so),
/// `as_str`, `parse` (`None` for any other text) and `Display`. `as_str` matches every variant,
/// so a variant without a name does not compile; nothing reads text back with a catch-all.
macro_rules! named {
    ($ty:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every name, in the order help and error sentences list them.
            pub const NAMES: [&'static str; [$($name),+].len()] = [$($name),+];

            /// The name of this value, as stored, typed and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }

            /// The value named `text`, if one is.
            pub fn parse(text: &str) -> Option<$ty> {
                match text {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// The command line and `serve` (see the table above).
pub mod cli;
/// A collection run: plan, bounded concurrency, facts into rows.
pub mod collect;
/// Every answer row's columns, defined once.
pub mod columns;
/// The defaults that name the outside world.
pub mod config;
/// The types that flow between the modules.
pub mod facts;
/// The questions every front end asks, and the one place they are answered.
pub mod question;
/// The daily scheduler.
pub mod schedule;
/// The DuckDB database: schema, writes, queries, backup.
pub mod store;
/// The database checked against itself and exchangeInfo.
pub mod validate;
/// Binance Vision: keys, listing, files, the HTTP client.
pub mod vision;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The module map above names every module: a top-level one as a link opening its row,
    /// each file or folder under it (at any depth) as `name` in that row.
    #[test]
    fn the_module_map_names_every_module() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let map: Vec<&str> = include_str!("lib.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! | [`"))
            .collect();
        let mut unnamed = Vec::new();
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            if ["lib", "main"].contains(&name.as_str())
                || path.extension().is_some_and(|e| e != "rs")
            {
                continue;
            }
            let Some(row) = map.iter().find(|r| r.starts_with(&format!("{name}`]"))) else {
                unnamed.push(name);
                continue;
            };
            let mut dirs = vec![path.clone()];
            while let Some(dir) = dirs.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries {
                    let path = entry.unwrap().path();
                    let sub = path.file_stem().unwrap().to_str().unwrap().to_string();
                    if path.is_dir() {
                        if path.join("mod.rs").exists() {
                            dirs.push(path.clone());
                            if !row.contains(&format!("`{sub}`")) {
                                unnamed.push(format!("{name}::{sub}"));
                            }
                        }
                    } else if path.extension().is_some_and(|e| e == "rs")
                        && sub != "mod"
                        && !row.contains(&format!("`{sub}`"))
                    {
                        unnamed.push(format!("{name}::{sub}"));
                    }
                }
            }
        }
        assert!(
            unnamed.is_empty(),
            "lib.rs's module map does not name {unnamed:?}"
        );
    }
}
