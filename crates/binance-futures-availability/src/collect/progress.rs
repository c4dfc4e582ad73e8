//! Progress: a bar on a terminal, a line per tenth of the work in logs, a callback for a
//! program that embeds the library (the Python package), or nothing. A run has stages (the 1m
//! listings, then the 1d klines files; or the HEAD probes); each counts its symbols from zero,
//! under its name, and every output (bar, log line, callback) names it from one `Stage`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use indicatif::{ProgressBar, ProgressStyle};

use crate::store::RunKind;

/// Called after each symbol folder with `(stage, done, total)`; `done` starts again from zero
/// at each stage of a run, and `stage` says which one it is.
pub type ProgressFn = Arc<dyn Fn(Stage, u64, u64) + Send + Sync>;

/// Which pass of a run is under way: the run's kind and its step, shown as `update (1d klines)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// The job, `backfill`, `update`, `probe` or `catalog update`: what the Python callback's
    /// `stage` equals.
    pub run: Job,
    /// Which pass of that run.
    pub step: Step,
}

/// What a stage belongs to: a run that writes the availability database, or a crawl that
/// writes the catalog (ADR 0020).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// `backfill`, `update` or `probe`.
    Run(RunKind),
    /// `catalog update`.
    Catalog,
}

impl Job {
    /// The job's name in progress output and the Python callback.
    pub fn as_str(self) -> &'static str {
        match self {
            Job::Run(kind) => kind.as_str(),
            Job::Catalog => "catalog update",
        }
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The passes a run makes over its symbols; `backfill` and `update` list the 1m folders, then
/// read the 1d klines files; `probe` sends one HEAD per symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// `1m listings`: each symbol's daily 1m folder listed over the run's window.
    Listing1m,
    /// `1d klines`: each listed symbol's 1d klines files, daily and monthly, listed and read.
    Klines1d,
    /// `HEAD`: one HEAD per symbol, for the probed day's file.
    Head,
    /// `folders`: each symbol folder of the catalog listed (ADR 0020).
    Folders,
}

impl Step {
    /// What the step counts: symbols, or a crawl's folders.
    pub fn unit(self) -> &'static str {
        match self {
            Step::Folders => "folders",
            Step::Listing1m | Step::Klines1d | Step::Head => "symbols",
        }
    }

    /// The step's name in progress output (and Python's `stage.name`).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Listing1m => "1m listings",
            Step::Klines1d => "1d klines",
            Step::Head => "HEAD",
            Step::Folders => "folders",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.run, self.step.as_str())
    }
}

/// How progress is shown.
#[derive(Clone)]
pub enum Progress {
    /// A progress bar with counts, rate and ETA on stderr (for a terminal).
    Bar,
    /// A plain line on stderr per tenth of the work (for logs).
    Log,
    /// Called after each symbol folder is done with `(stage, done, total)`, from the run's
    /// worker threads; it should return quickly.
    Callback(ProgressFn),
    /// Nothing: the default for a library caller.
    Quiet,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Progress::Bar => "Bar",
            Progress::Log => "Log",
            Progress::Callback(_) => "Callback",
            Progress::Quiet => "Quiet",
        })
    }
}

/// Progress as `Progress` says: a bar, log lines, a callback, or nothing.
pub(super) struct Reporter {
    bar: Option<ProgressBar>,
    log: Option<(String, u64, &'static str)>,
    callback: Option<(ProgressFn, Stage, u64)>,
    /// Folders done so far, for the log lines and the callback.
    done: std::sync::atomic::AtomicU64,
}

impl Reporter {
    pub(super) fn new(mode: &Progress, stage: Stage, total: u64) -> Reporter {
        let mut reporter = Reporter {
            bar: None,
            log: None,
            callback: None,
            done: Default::default(),
        };
        match mode {
            Progress::Bar => {
                let bar = ProgressBar::new(total);
                let style = ProgressStyle::with_template(
                    &format!(
                        "{{prefix}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {} ({{rate}}, ETA {{eta}})",
                        stage.step.unit()
                    ),
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                // indicatif's `per_sec` prints four decimals ("361.6395/s"); whole units read.
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}/s", state.per_sec());
                    },
                );
                bar.set_style(style);
                bar.set_prefix(stage.to_string());
                reporter.bar = Some(bar);
            }
            Progress::Log => {
                reporter.log = Some((format!("{stage}"), total, stage.step.unit()));
            }
            Progress::Callback(f) => reporter.callback = Some((f.clone(), stage, total)),
            Progress::Quiet => {}
        }
        reporter
    }

    pub(super) fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some((label, total, unit)) = &self.log {
            let step = (*total / 10).max(1);
            if n.is_multiple_of(step) || n == *total {
                say!("{label}: {n}/{total} {unit}");
            }
        }
        if let Some((f, stage, total)) = &self.callback {
            f(*stage, n, *total);
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
