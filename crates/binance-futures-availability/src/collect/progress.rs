//! Progress on stderr: a bar on a terminal, a line per tenth of the work in logs, or nothing.

use std::sync::atomic::Ordering;

use indicatif::{ProgressBar, ProgressStyle};

use crate::store::RunKind;

/// How progress is shown on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar with counts, rate and ETA (for a terminal).
    Bar,
    /// A plain line per tenth of the work (for logs).
    Log,
    Quiet,
}

/// Progress on stderr: a bar on a terminal, a line per tenth in logs, or nothing.
pub(super) struct Reporter {
    bar: Option<ProgressBar>,
    log: Option<(RunKind, u64, std::sync::atomic::AtomicU64)>,
}

impl Reporter {
    pub(super) fn new(mode: Progress, kind: RunKind, total: u64) -> Reporter {
        match mode {
            Progress::Bar => {
                let bar = ProgressBar::new(total);
                let style = ProgressStyle::with_template(
                    "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} symbols ({per_sec}, ETA {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.set_prefix(kind.as_str());
                Reporter {
                    bar: Some(bar),
                    log: None,
                }
            }
            Progress::Log => Reporter {
                bar: None,
                log: Some((kind, total, std::sync::atomic::AtomicU64::new(0))),
            },
            Progress::Quiet => Reporter {
                bar: None,
                log: None,
            },
        }
    }

    pub(super) fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if let Some((kind, total, done)) = &self.log {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            let step = (*total / 10).max(1);
            if n.is_multiple_of(step) || n == *total {
                say!("{kind}: {n}/{total} symbols");
            }
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
