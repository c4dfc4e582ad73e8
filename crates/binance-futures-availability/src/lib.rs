//! `binance-futures-availability` keeps a DuckDB database of which Binance USD-M futures had a
//! daily 1m-klines file on Binance Vision, every day since 2019-09-25, and answers "which symbols
//! were available on day X?" in well under a millisecond.
//!
//! Data flows one way: [`cli`] → [`collect`] → [`vision`] → [`facts`] → [`store`]; queries go
//! [`cli`] → [`store`]. [`schedule`] runs `collect` daily; [`validate`] checks the store
//! against itself and Binance's exchangeInfo. Nothing reaches back up.

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
