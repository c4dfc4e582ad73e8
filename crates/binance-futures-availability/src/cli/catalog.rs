//! `catalog`: the catalog of every file of the bucket (ADR 0020) — `update` crawls it, the
//! other commands ask it. Flags and output live here; the crawl is `collect::update_catalog`,
//! the answers `store::Catalog`. The availability database is never opened.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use super::args::Remote;
use super::render::{self, Format, printable};
use super::{CliError, cancel_on_signal, progress, runtime};
use crate::collect::{self, CollectError, CrawlSummary};
use crate::facts::Market;
use crate::store::{Catalog, DEFAULT_MEMORY_LIMIT, MemoryLimit};
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
    /// List the bucket into the catalog: every market, data type, symbol and interval folder
    /// not listed yet — the whole bucket the first time, the rest after a stopped crawl. Keys
    /// outside the layout are kept as strays with a reason.
    Update {
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
        CatalogCommand::Update { remote } => {
            let summary = update(&path, &remote, quiet)?;
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
fn update(path: &Path, remote: &Remote, quiet: bool) -> Result<CrawlSummary, CliError> {
    let options = collect::Options {
        concurrency: usize::from(remote.concurrency),
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
        collect::update_catalog(path, &client, &options).await
    })?;
    Ok(summary)
}
