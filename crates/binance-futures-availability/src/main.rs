//! `binance-futures-availability`: the command. Everything it does, from parsing the
//! arguments to the exit code, is `cli::main`, which the Python wheel's console script runs too.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(binance_futures_availability::cli::main(std::env::args_os()))
}
