//! The command's entry: arguments in, exit code out (0 ok, 1 runtime failure, 2 bad usage or
//! input). One function for both ways the command runs — the `binance-futures-availability`
//! binary and the wheel's console script (`_native.main`, ADR 0016) — so they cannot differ.
//! It sets the process up (allocator, log filter) and prints the final error sentence; what
//! the command does lives in `run`.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use clap::Parser;

use super::{Cli, CliError, run};

/// Parses `args` (the program name first, as `std::env::args_os()` gives it), runs the
/// command and returns its exit code. `--help` and `--version` print and return 0; a usage
/// error prints clap's sentence and returns 2.
pub fn main<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout, usage errors to stderr; a closed stream is not
            // worth a panic.
            let _ = e.print();
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    // glibc raises its mmap threshold each time a large block is freed, after which DuckDB's
    // 256 KiB buffers come from heap arenas that fragment and never shrink: a backfill's
    // resident memory stayed ~50 MB above what DuckDB held. A fixed threshold keeps them
    // mapped, so evicted buffers go back to the system. Only for collecting: in `serve` every
    // query's large blocks were mapped, faulted in and unmapped (each unmap interrupts every
    // core, TLB shootdowns), and that took a third of its CPU (BENCHMARKS.md, session 7). A
    // one-shot query does not notice either way (26.5 vs 26.0 ms, within noise).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if cli.collects() {
        // SAFETY: mallopt only sets an allocator parameter (glibc takes the arena lock). The
        // binary calls it before any other thread exists; the wheel's console script calls it
        // from Python's main thread before the command starts any.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
    // A bare level in BFA_LOG is the tool's own events; dependencies only when named.
    let spec = std::env::var("BFA_LOG").ok();
    let filter = match super::log_filter(spec.as_deref(), cli.quiet()) {
        Ok(filter) => filter,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            return 2;
        }
    };
    // Colour only for a person at a terminal; logs (the daemon's, journald) get plain text.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // `try_init`: a second command in one Python process keeps the first one's subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .try_init();
    let code = match run(cli) {
        Ok(()) => 0,
        // The reader stopped reading (`| head`): not a failure of ours, nothing to say.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            // Not `eprintln!`: with stderr closed (`2>&1 | head`) it would panic (exit 101).
            let _ = writeln!(std::io::stderr(), "error: {e}");
            e.exit_code()
        }
    };
    // The binary's runtime flushes stdout at exit; inside Python nobody would, and an answer's
    // last line could be lost.
    let _ = std::io::stdout().flush();
    code
}
