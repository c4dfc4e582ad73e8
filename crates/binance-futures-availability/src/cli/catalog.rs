//! `catalog`: the catalog of every file of the bucket (ADR 0020) — `update` crawls it, the
//! other commands ask it. Flags and output live here; the crawl is `collect::update_catalog`,
//! the answers `store::Catalog`. The availability database is never opened.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::builder::TypedValueParser;
use clap::{Args, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use super::args::Remote;
use super::render::{self, Format, printable};
use super::{CliError, cancel_on_signal, progress, runtime};
use crate::collect::{self, CollectError, CrawlPlan, CrawlSummary};
use crate::facts::{DayError, Market};
use crate::store::{Catalog, ChangeKind, DEFAULT_MEMORY_LIMIT, MemoryLimit};
use crate::vision::{Dataset, VisionClient, public_url};

/// `catalog`: which catalog file, and the command.
#[derive(Debug, Args)]
pub(crate) struct CatalogArgs {
    /// The catalog file [default: catalog.duckdb beside the database]
    #[arg(long, global = true, env = "BFA_CATALOG", value_name = "PATH")]
    pub catalog: Option<PathBuf>,
    #[command(subcommand)]
    pub command: CatalogCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CatalogCommand {
    /// List the bucket into the catalog and record what changed. The first time, every
    /// market, data type, symbol and interval folder, whole. After that: each leaf from a
    /// little before its last file (new and late files, one request a leaf), the 1/N of
    /// folders listed longest ago whole (replaced and removed files anywhere), and new folders
    /// whole. Keys outside the layout are kept as strays with a reason. A stopped crawl resumes
    /// where it stopped.
    Update {
        /// List every folder whole, from its start.
        #[arg(long)]
        full: bool,
        /// Each run lists whole the 1/N of folders listed longest ago, so a replaced or removed
        /// file anywhere is seen within N runs.
        #[arg(long, value_name = "N", default_value_t = 30,
              value_parser = clap::value_parser!(u32).range(1..=3650))]
        recrawl_days: u32,
        /// Only these markets (comma-separated: spot, um, cm, option) [default: the whole
        /// bucket, strays outside data/ included].
        #[arg(long, value_delimiter = ',', value_name = "MARKETS")]
        market: Vec<Market>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Every dataset with files: symbol folders, files, bytes, first and last period, and
    /// files without a .CHECKSUM beside them.
    Datasets {
        /// Only this market's datasets: spot, um, cm or option.
        #[arg(long)]
        market: Option<Market>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Every symbol folder of DATASET with files: files, bytes, first and last period, and
    /// the periods missing between them (gaps).
    Symbols {
        /// MARKET/PARTITION/TYPE[/INTERVAL], e.g. um/daily/klines/1m.
        dataset: Dataset,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Every file of DATASET, by symbol then period.
    Files {
        /// MARKET/PARTITION/TYPE[/INTERVAL], as the bucket's folders spell it:
        /// um/daily/klines/1m, spot/monthly/aggTrades, option/daily/BVOLIndex.
        dataset: Dataset,
        /// Only this symbol folder.
        #[arg(long, value_parser = symbol_name)]
        symbol: Option<String>,
        /// `urls`: one public download URL per line (for `aria2c -i`, `wget -i`).
        #[arg(long, value_enum, default_value_t)]
        format: FilesFormat,
    },
    /// Files added, replaced or removed since the catalog's first whole crawl, each with when
    /// the listing that showed it began, by that time then key.
    Changes {
        /// From this day (UTC, YYYY-MM-DD), inclusive.
        #[arg(long, value_parser = calendar_day)]
        since: Option<NaiveDate>,
        /// Through this day (UTC, YYYY-MM-DD), inclusive.
        #[arg(long, value_parser = calendar_day)]
        until: Option<NaiveDate>,
        /// Only this dataset's files, e.g. um/daily/klines/1m.
        #[arg(long)]
        dataset: Option<Dataset>,
        /// Only this kind of change.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(ChangeKind::NAMES)
              .map(|s| ChangeKind::parse(&s).unwrap_or(ChangeKind::Added)))]
        kind: Option<ChangeKind>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Keys outside the layout, each with the reason it is not a file of a dataset.
    Strays {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// How `catalog files` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum FilesFormat {
    /// Aligned columns for people, and a total.
    #[default]
    Table,
    /// One JSON array of objects.
    Json,
    /// A header line and one line per row.
    Csv,
    /// One public download URL per line.
    Urls,
}

/// A calendar day, `YYYY-MM-DD` (any day: the catalog's dates are not the futures market's).
fn calendar_day(text: &str) -> Result<NaiveDate, DayError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| d.format("%Y-%m-%d").to_string() == text)
        .ok_or_else(|| DayError::Malformed {
            text: text.to_string(),
        })
}

fn symbol_name(text: &str) -> Result<String, crate::vision::BadSymbol> {
    crate::vision::check_symbol(text).map(|()| text.to_string())
}

/// The catalog's path: `--catalog`/`BFA_CATALOG`, else `catalog.duckdb` beside the database.
fn catalog_path(db_path: &Path, given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| db_path.with_file_name("catalog.duckdb"))
}

/// Runs a `catalog` command.
pub(super) fn run(
    db_path: &Path,
    args: CatalogArgs,
    quiet: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let path = catalog_path(db_path, args.catalog);
    match args.command {
        CatalogCommand::Update {
            full,
            recrawl_days,
            market,
            remote,
        } => {
            let plan = CrawlPlan {
                full,
                recrawl_days,
                markets: market,
            };
            let summary = update(&path, &remote, &plan, quiet)?;
            if !quiet {
                say!("{summary}");
            }
            Ok(())
        }
        CatalogCommand::Datasets { market, format } => {
            let mut rows = Catalog::open(&path)?.datasets()?;
            rows.retain(|r| market.is_none_or(|m| r.dataset.market() == m));
            render::emit(out, format, &rows, |out| {
                let mut t = render::table(
                    &[
                        "dataset",
                        "symbols",
                        "files",
                        "bytes",
                        "first",
                        "last",
                        "no CHECKSUM",
                    ],
                    &[1, 2, 3, 6],
                );
                for r in &rows {
                    t.add_row(vec![
                        r.dataset.to_string(),
                        r.symbols.to_string(),
                        r.files.to_string(),
                        r.bytes.to_string(),
                        r.first.to_string(),
                        r.last.to_string(),
                        r.missing_checksums.to_string(),
                    ]);
                }
                writeln!(out, "{} datasets", rows.len())?;
                if !rows.is_empty() {
                    writeln!(out, "{}", t.trim_fmt())?;
                }
                Ok(())
            })?;
            Ok(())
        }
        CatalogCommand::Symbols { dataset, format } => {
            let rows = Catalog::open(&path)?.symbols(dataset)?;
            render::emit(out, format, &rows, |out| {
                let mut t = render::table(
                    &["symbol", "files", "bytes", "first", "last", "gaps"],
                    &[1, 2, 5],
                );
                for r in &rows {
                    t.add_row(vec![
                        printable(&r.symbol).into_owned(),
                        r.files.to_string(),
                        r.bytes.to_string(),
                        r.first.to_string(),
                        r.last.to_string(),
                        r.gaps.to_string(),
                    ]);
                }
                writeln!(out, "{} symbol folders of {dataset}", rows.len())?;
                if !rows.is_empty() {
                    writeln!(out, "{}", t.trim_fmt())?;
                }
                Ok(())
            })?;
            Ok(())
        }
        CatalogCommand::Files {
            dataset,
            symbol,
            format,
        } => {
            let rows = Catalog::open(&path)?.files(dataset, symbol.as_deref())?;
            let bytes: u64 = rows.iter().map(|r| r.size).sum();
            let total = format!("{} files, {bytes} bytes", rows.len());
            let format = match format {
                FilesFormat::Urls => {
                    for r in &rows {
                        writeln!(out, "{}", public_url(&r.key))?;
                    }
                    return Ok(());
                }
                FilesFormat::Table => Format::Table,
                FilesFormat::Json => Format::Json,
                FilesFormat::Csv => Format::Csv,
            };
            render::emit(out, format, &rows, |out| {
                let mut t = render::table(
                    &[
                        "symbol",
                        "period",
                        "size",
                        "last modified (UTC)",
                        "CHECKSUM",
                    ],
                    &[2],
                );
                for r in &rows {
                    t.add_row(vec![
                        printable(&r.symbol).into_owned(),
                        r.span.to_string(),
                        r.size.to_string(),
                        r.last_modified.format("%Y-%m-%d %H:%M:%S").to_string(),
                        if r.checksum { "yes" } else { "no" }.to_string(),
                    ]);
                }
                if !rows.is_empty() {
                    writeln!(out, "{}", t.trim_fmt())?;
                }
                writeln!(out, "{total}")
            })?;
            // CSV stays one header and its rows; the total goes beside it.
            if format == Format::Csv && !quiet {
                say!("{total}");
            }
            Ok(())
        }
        CatalogCommand::Changes {
            since,
            until,
            dataset,
            kind,
            format,
        } => {
            if let (Some(since), Some(until)) = (since, until) {
                crate::facts::check_order(since, until)?;
            }
            let rows = Catalog::open(&path)?.changes(since, until, dataset, kind)?;
            render::emit(out, format, &rows, |out| {
                let mut t = render::table(&["seen (UTC)", "kind", "key", "size", "was"], &[3, 4]);
                let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map_or(String::new(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                };
                let size = |s: Option<u64>| s.map_or(String::new(), |s| s.to_string());
                for r in &rows {
                    t.add_row(vec![
                        r.seen.format("%Y-%m-%d %H:%M:%S").to_string(),
                        r.kind.as_str().to_string(),
                        printable(&r.key).into_owned(),
                        size(r.size),
                        match (r.previous_size, r.previous_last_modified) {
                            (Some(s), t) => format!("{s} at {}", time(t)),
                            _ => String::new(),
                        },
                    ]);
                }
                writeln!(out, "{} changes", rows.len())?;
                if !rows.is_empty() {
                    writeln!(out, "{}", t.trim_fmt())?;
                }
                Ok(())
            })?;
            Ok(())
        }
        CatalogCommand::Strays { format } => {
            let rows = Catalog::open(&path)?.strays()?;
            render::emit(out, format, &rows, |out| {
                let mut t = render::table(&["key", "size", "last modified (UTC)", "reason"], &[1]);
                for r in &rows {
                    t.add_row(vec![
                        printable(&r.key).into_owned(),
                        r.size.to_string(),
                        r.last_modified.format("%Y-%m-%d %H:%M:%S").to_string(),
                        r.reason.as_str().to_string(),
                    ]);
                }
                writeln!(out, "{} strays", rows.len())?;
                if !rows.is_empty() {
                    writeln!(out, "{}", t.trim_fmt())?;
                }
                Ok(())
            })?;
            Ok(())
        }
    }
}

/// One crawl with a fresh client, stopped cleanly by SIGTERM or Ctrl-C.
fn update(
    path: &Path,
    remote: &Remote,
    plan: &CrawlPlan,
    quiet: bool,
) -> Result<CrawlSummary, CliError> {
    let options = collect::Options {
        concurrency: usize::from(remote.concurrency),
        // A day's listings are ~2.6 × 10⁵ leaves of a few keys each: a batch of 20,000 keeps
        // the writes (each one scan of `files` to diff against) to a dozen a run; big folders
        // still commit every `batch_rows` rows.
        batch_symbols: 20_000,
        progress: progress(quiet),
        batch_rows: MemoryLimit::from_env()
            .unwrap_or(DEFAULT_MEMORY_LIMIT)
            .batch_rows(),
        ..collect::Options::default()
    };
    let client = VisionClient::new(remote.client_config()).map_err(CollectError::Client)?;
    let summary = runtime()?.block_on(async {
        let cancel = CancellationToken::new();
        tokio::spawn(cancel_on_signal(cancel.clone()));
        let options = collect::Options { cancel, ..options };
        collect::update_catalog(path, &client, &options, plan).await
    })?;
    Ok(summary)
}
