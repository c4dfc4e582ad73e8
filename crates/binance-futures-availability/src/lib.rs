//! `binance-futures-availability` keeps a DuckDB database of which Binance USD-M futures had a
//! daily 1m-klines file on Binance Vision, every day since 2019-09-25, and answers "which symbols
//! were available on day X?" in well under a millisecond, in process or over HTTP.
//!
//! Data flows one way: [`cli`] → [`collect`] → [`vision`] → [`facts`] → [`store`]; queries go
//! [`cli`] → [`store`]. Nothing reaches back up. The modules, what each is for and what it must
//! not know:
//!
//! | module | for | must not know |
//! |---|---|---|
//! | [`facts`] | the types that flow between the others: a daily file seen, a contract kind | HTTP, DuckDB, flags |
//! | [`vision`] | the bucket: markets and datasets as values, each dataset owning its key grammar (`market`, `dataset`), symbol names (`keys`), paged listing (`list`), the one window lister (`window`), the file-reader seam and the klines format on it (`file`, `klines`), HEAD, the HTTP client and its retry and resource bounds (`client`) | DuckDB, the plan of a run |
//! | [`collect`] | a run: the plan (`plan`), the one run driver with bounded concurrency and the breaker (`driver`), its stages (`listing`, `trading`, `probe`), where facts become rows (`observe`), progress; where a run's state is decided (`run`) | keys and pages, SQL |
//! | [`store`] | DuckDB: schema and migrations, batches (`write`), queries (`read`), how rows lie for both query shapes (`layout`), the run log (`runs`), the copy-and-publish protocol (`session`), the files beside the database (`files`), backup/restore/export | HTTP, flags |
//! | [`schedule`] | the daily loop with an injected clock, the pid file | flags, rendering |
//! | [`validate`] | the database against itself and exchangeInfo | flags, rendering |
//! | [`config`] | the defaults that name the outside world (endpoints, the default path) | everything else |
//! | [`cli`] | clap, input checks (exit 2), dispatch, rendering; `serve`, the same queries over HTTP (routes, the published file watched and its handles, the answer cache, the page) | SQL, keys |
//!
//! Library users start at [`store::Database`] (queries) and [`collect::run`] (collection).

/// `eprintln!` that cannot panic: a closed stderr (`2>&1 | head`) is not worth a crash.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod cli;
pub mod collect;
pub mod config;
pub mod facts;
pub mod schedule;
pub mod store;
pub mod validate;
pub mod vision;
