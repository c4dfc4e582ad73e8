//! `binance-futures-availability`: parse the command line, run it, map the outcome to an exit
//! code (0 ok, 1 runtime failure, 2 bad usage or input). Nothing else lives here.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use binance_futures_availability::cli::{self, Cli};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // glibc raises its mmap threshold each time a large block is freed, after which DuckDB's
    // 256 KiB buffers come from heap arenas that fragment and never shrink: a backfill's
    // resident memory stayed ~50 MB above what DuckDB held. A fixed threshold keeps them
    // mapped, so evicted buffers go back to the system. Only for collecting: in `serve` every
    // query's large blocks were mapped, faulted in and unmapped (each unmap interrupts every
    // core, TLB shootdowns), and that took a third of its CPU (BENCHMARKS.md, session 7). A
    // one-shot query does not notice either way (26.5 vs 26.0 ms, within noise).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if cli.collects() {
        // SAFETY: mallopt only sets an allocator parameter; called before any other thread
        // exists.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
    // A bare level in BFA_LOG is the tool's own events; dependencies only when named.
    let spec = std::env::var("BFA_LOG").ok();
    let filter = match cli::log_filter(spec.as_deref(), cli.quiet()) {
        Ok(filter) => filter,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            return ExitCode::from(2);
        }
    };
    // Colour only for a person at a terminal; logs (the daemon's, journald) get plain text.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .init();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader stopped reading (`| head`): not a failure of ours, nothing to say.
        Err(cli::CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Not `eprintln!`: with stderr closed (`2>&1 | head`) it would panic (exit 101).
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
