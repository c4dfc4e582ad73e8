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
use crate::facts::{Market, Partition, Span};
use crate::question::catalog::{
    CatalogAnswer, CatalogQuestion, ChangesQuestion, FilesQuestion, PeriodError, calendar_day,
    parse_period,
};
use crate::store::{
    Catalog, Change, ChangeKind, ChangeListing, DEFAULT_MEMORY_LIMIT, ExportFormat,
    ExportSelection, FileListing, MemoryLimit,
};
use crate::vision::{Dataset, VisionClient, public_url};

/// `catalog`: which catalog file, and the command.
#[derive(Debug, Args)]
pub(crate) struct CatalogArgs {
    #[command(flatten)]
    pub catalog: super::args::CatalogLocation,
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
    #[command(mut_arg("concurrency", |a| a.default_value(CATALOG_CONCURRENCY)))]
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
    /// Every dataset with files: symbol folders, files, bytes, first and last period, files
    /// without a .CHECKSUM beside them, and when one of its files was last seen added,
    /// replaced or removed.
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
    /// Every file of DATASET, by symbol then period, printed as it is read (the totals first
    /// known, so a dataset of millions of files takes no more memory than a folder).
    Files {
        /// MARKET/PARTITION/TYPE[/INTERVAL], as the bucket's folders spell it:
        /// um/daily/klines/1m, spot/monthly/aggTrades, option/daily/BVOLIndex.
        dataset: Dataset,
        /// Only this symbol folder.
        #[arg(long, value_parser = symbol_name)]
        symbol: Option<String>,
        /// From this period on, inclusive: a day (YYYY-MM-DD) of a daily dataset, a month
        /// (YYYY-MM) of a monthly one.
        #[arg(long, value_parser = period, value_name = "PERIOD")]
        since: Option<Span>,
        /// Through this period, inclusive (a day or a month, as --since).
        #[arg(long, value_parser = period, value_name = "PERIOD")]
        until: Option<Span>,
        /// `urls`: one public download URL per line (for `aria2c -i`, `wget -i`).
        #[arg(long, value_enum, default_value_t)]
        format: FilesFormat,
    },
    /// Each run of periods missing inside a symbol folder's first..last period of DATASET, by
    /// symbol then period, and whether the other partition's files cover it: "monthly" when
    /// every missing day's month has a monthly file, "daily" when every day of the missing
    /// months has a daily file.
    Gaps {
        /// MARKET/PARTITION/TYPE[/INTERVAL], e.g. um/daily/klines/1m.
        dataset: Dataset,
        /// Only this symbol folder.
        #[arg(long, value_parser = symbol_name)]
        symbol: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// How many hours after its period ends (the next day's or month's 00:00 UTC) each file of
    /// DATASET was uploaded, as first seen by the catalog: the 50th, 90th and 99th percentile
    /// (nearest rank) and the longest, over the files the catalog holds, and how many of them
    /// were replaced since.
    Lag {
        /// MARKET/PARTITION/TYPE[/INTERVAL], e.g. um/daily/klines/1m.
        dataset: Dataset,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Files added, replaced or removed since the catalog's first whole crawl, each with when
    /// the listing that showed it began, by that time then key — printed as they are read, so
    /// a history of years takes no more memory than a day.
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
    /// Write the catalog to the folder DEST for other engines: files/market=…/partition=…/
    /// type=…/files-NNNN.parquet, Hive-partitioned, that DuckDB, polars, Spark and Trino read as one
    /// table (columns: key, symbol, period, size, last_modified, checksum, dataset, interval,
    /// and market, partition, type from the folders), plus changes.parquet, strays.parquet and
    /// _manifest.json. Written beside DEST and renamed into place: a failed or stopped export
    /// leaves no DEST.
    Export {
        /// The folder to write: new or empty, or with --force an earlier export.
        dest: PathBuf,
        #[arg(long, default_value = "parquet",
              value_parser = clap::builder::PossibleValuesParser::new(ExportFormat::NAMES)
              .map(|s| ExportFormat::parse(&s).unwrap_or(ExportFormat::Parquet)))]
        format: ExportFormat,
        /// Only these markets' datasets (comma-separated: spot, um, cm, option).
        #[arg(long, value_delimiter = ',', value_name = "MARKETS")]
        market: Vec<Market>,
        /// Only this dataset (repeat for more), e.g. um/daily/klines/1m.
        #[arg(long, value_name = "DATASET")]
        dataset: Vec<Dataset>,
        /// Replace DEST whole if it is an earlier export.
        #[arg(long)]
        force: bool,
    },
}

/// `catalog update`'s requests in flight unless `--concurrency` says otherwise (`update`'s is
/// 64: its requests are HEADs and whole-file downloads).
// A first crawl at full scale and 50 ms (BENCHMARKS.md, session 17): 252 MB peak and 3 min 56 s
// at 128, 227 MB and 3 min 43 s at 96 — each listing in flight holds a body of up to ~0.35 MB
// and its page, and on 2 cores the CPU, not the wait, bounds a first crawl. A next day's
// update is ~1.9 × 10⁵ one-page listings bound by requests in flight (scale 0.1: 26.9 s at
// 64, 15.4 s at 128): 1 min 56 s at 96 at full scale (session 18) against 1 min 30 s at 128,
// under the two minutes issue 26 allows.
const CATALOG_CONCURRENCY: &str = "96";

/// How `catalog files` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, ValueEnum)]
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

/// A period as given to `catalog files`: a day `YYYY-MM-DD` or a month `YYYY-MM`. Which one the
/// dataset takes is checked by `CatalogQuestion::files`, before the catalog is opened.
fn period(text: &str) -> Result<Span, PeriodError> {
    parse_period(text)
}

fn symbol_name(text: &str) -> Result<String, crate::vision::BadSymbol> {
    crate::vision::check_symbol(text).map(|()| text.to_string())
}

/// A `catalog` command as the command line gave it: a crawl, or the library's question and how
/// to print its answer.
enum Asked {
    /// `catalog update`: what to list, and where.
    Crawl(CrawlPlan, Remote),
    /// `catalog export`: where, in what format, which datasets, and whether to replace an
    /// earlier export.
    Export {
        dest: PathBuf,
        format: ExportFormat,
        selection: ExportSelection,
        force: bool,
    },
    /// A question answered in rows.
    Rows(CatalogQuestion, Format),
    /// A dataset's files, streamed.
    Files(FilesQuestion, FilesFormat),
    /// The history's changes, streamed.
    Changes(ChangesQuestion, Format),
}

/// The command line's syntax → the library's question (a bad one is exit 2, before the catalog
/// is opened).
fn ask(command: CatalogCommand) -> Result<Asked, CliError> {
    Ok(match command {
        CatalogCommand::Update {
            full,
            recrawl_days,
            market,
            remote,
        } => Asked::Crawl(
            CrawlPlan {
                full,
                recrawl_days,
                markets: market,
            },
            remote,
        ),
        CatalogCommand::Datasets { market, format } => {
            Asked::Rows(CatalogQuestion::Datasets { market }, format)
        }
        CatalogCommand::Symbols { dataset, format } => {
            Asked::Rows(CatalogQuestion::Symbols { dataset }, format)
        }
        CatalogCommand::Files {
            dataset,
            symbol,
            since,
            until,
            format,
        } => Asked::Files(
            FilesQuestion::new(dataset, symbol.as_deref(), since, until)?,
            format,
        ),
        CatalogCommand::Gaps {
            dataset,
            symbol,
            format,
        } => Asked::Rows(CatalogQuestion::gaps(dataset, symbol.as_deref())?, format),
        CatalogCommand::Lag { dataset, format } => {
            Asked::Rows(CatalogQuestion::Lag { dataset }, format)
        }
        CatalogCommand::Changes {
            since,
            until,
            dataset,
            kind,
            format,
        } => Asked::Changes(ChangesQuestion::new(since, until, dataset, kind)?, format),
        CatalogCommand::Strays { format } => Asked::Rows(CatalogQuestion::Strays, format),
        CatalogCommand::Export {
            dest,
            format,
            market,
            dataset,
            force,
        } => Asked::Export {
            dest,
            format,
            selection: ExportSelection {
                markets: market,
                datasets: dataset,
            },
            force,
        },
    })
}

/// Runs a `catalog` command.
pub(super) fn run(
    db_path: &Path,
    args: CatalogArgs,
    quiet: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let path = args.catalog.path(db_path);
    match ask(args.command)? {
        Asked::Crawl(plan, remote) => {
            let summary = update(&path, &remote, &plan, quiet)?;
            if !quiet {
                say!("{summary}");
            }
            Ok(())
        }
        Asked::Export {
            dest,
            format,
            selection,
            force,
        } => {
            let done = crate::store::export_for_engines(&path, &dest, format, &selection, force)?;
            if !quiet {
                say!(
                    "wrote {}: {} files of {} datasets in {} {} files, {} changes, {} strays",
                    dest.display(),
                    done.files,
                    done.datasets.len(),
                    done.partitions,
                    format.as_str(),
                    done.changes,
                    done.strays
                );
            }
            Ok(())
        }
        Asked::Files(question, format) => {
            let catalog = Catalog::open(&path)?;
            let listing = catalog.file_listing(&question.query())?;
            files(out, &catalog, &listing, question.dataset(), format, quiet)
        }
        Asked::Changes(question, format) => {
            let catalog = Catalog::open(&path)?;
            let listing = catalog.change_listing(question.query())?;
            changes(out, &catalog, &listing, format)
        }
        Asked::Rows(question, format) => {
            let answer = Catalog::open(&path)?.answer(&question)?;
            rows(out, answer, format)
        }
    }
}

/// Prints an answer in rows (`serve` writes its JSON and CSV with this too).
pub(super) fn rows(
    out: &mut impl Write,
    answer: CatalogAnswer,
    format: Format,
) -> Result<(), CliError> {
    match answer {
        CatalogAnswer::Datasets(rows) => {
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
                        "last change (UTC)",
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
                        r.last_change.map_or("-".to_string(), |t| {
                            t.format("%Y-%m-%d %H:%M:%S").to_string()
                        }),
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
        CatalogAnswer::Symbols { dataset, rows } => {
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
        CatalogAnswer::Gaps { dataset, rows } => {
            render::emit(out, format, &rows, |out| {
                let mut t = render::table(&["symbol", "from", "to", "periods", "covered by"], &[3]);
                for r in &rows {
                    t.add_row(vec![
                        printable(&r.symbol).into_owned(),
                        r.from.to_string(),
                        r.to.to_string(),
                        r.periods.to_string(),
                        r.covered_by.map_or("-", |p| p.as_str()).to_string(),
                    ]);
                }
                let missing: i64 = rows.iter().map(|r| r.periods).sum();
                writeln!(
                    out,
                    "{} gaps of {dataset}, {missing} periods missing",
                    rows.len()
                )?;
                if !rows.is_empty() {
                    writeln!(out, "{}", t.trim_fmt())?;
                }
                Ok(())
            })?;
            Ok(())
        }
        CatalogAnswer::Lag { dataset, lag } => {
            match format {
                Format::Json => render::json(out, &lag)?,
                Format::Csv => {
                    let mut w = render::CsvRows::new(&mut *out);
                    w.row(&lag)?;
                    w.finish()?;
                }
                Format::Table => {
                    let h = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2} h"));
                    writeln!(out, "{dataset}: {} files", lag.files)?;
                    writeln!(
                        out,
                        "  from the end of a file's period to the first version the catalog saw"
                    )?;
                    writeln!(out, "  median (p50)   {}", h(lag.p50_hours))?;
                    writeln!(out, "  p90            {}", h(lag.p90_hours))?;
                    writeln!(out, "  p99            {}", h(lag.p99_hours))?;
                    writeln!(out, "  longest        {}", h(lag.max_hours))?;
                    writeln!(out, "  replaced       {} files", lag.replaced)?;
                }
            }
            Ok(())
        }
        CatalogAnswer::Strays(rows) => {
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

/// `catalog files`: the totals from one aggregate, then each file as it is read, in the format
/// asked for — never the whole answer in memory (`serve` streams its answer with this too).
pub(super) fn files(
    out: &mut impl Write,
    catalog: &Catalog,
    listing: &FileListing,
    dataset: Dataset,
    format: FilesFormat,
    quiet: bool,
) -> Result<(), CliError> {
    let total = format!("{} files, {} bytes", listing.files, listing.bytes);
    match format {
        FilesFormat::Urls => catalog.each_file(listing, |r| -> Result<(), CliError> {
            writeln!(out, "{}", public_url(&r.key))?;
            Ok(())
        })?,
        FilesFormat::Json => {
            let mut w = render::JsonRows::new(&mut *out);
            catalog.each_file(listing, |r| -> Result<(), CliError> { Ok(w.row(&r)?) })?;
            w.finish()?;
        }
        FilesFormat::Csv => {
            let mut w = render::CsvRows::new(&mut *out);
            catalog.each_file(listing, |r| -> Result<(), CliError> { Ok(w.row(&r)?) })?;
            w.finish()?;
            // CSV stays one header and its rows; the total goes beside it.
            if !quiet {
                say!("{total}");
            }
        }
        FilesFormat::Table => {
            if listing.files > 0 {
                let symbol = listing
                    .symbols()
                    .map(|s| render::display_width(&printable(s)))
                    .max()
                    .unwrap_or(0);
                let period = match dataset.partition() {
                    Partition::Daily => "YYYY-MM-DD".len(),
                    Partition::Monthly => "YYYY-MM".len(),
                };
                let size = listing.max_size.to_string().len();
                let t = render::StreamTable::new(
                    &[
                        "symbol",
                        "period",
                        "size",
                        "last modified (UTC)",
                        "CHECKSUM",
                    ],
                    &[
                        symbol,
                        period,
                        size,
                        "YYYY-MM-DD HH:MM:SS".len(),
                        "yes".len(),
                    ],
                    &[2],
                );
                t.line(
                    out,
                    &[
                        "symbol",
                        "period",
                        "size",
                        "last modified (UTC)",
                        "CHECKSUM",
                    ],
                )?;
                catalog.each_file(listing, |r| -> Result<(), CliError> {
                    t.line(
                        out,
                        &[
                            &printable(&r.symbol),
                            &r.span.to_string(),
                            &r.size.to_string(),
                            &r.last_modified.format("%Y-%m-%d %H:%M:%S").to_string(),
                            if r.checksum { "yes" } else { "no" },
                        ],
                    )?;
                    Ok(())
                })?;
            }
            writeln!(out, "{total}")?;
        }
    }
    Ok(())
}

/// `catalog changes`: the count from one aggregate, then each change as it is read, in the
/// format asked for — never the whole answer in memory (`serve` streams its answer with this
/// too). The table's columns are as wide as their widest cell, so it reads the changes twice:
/// once for the widths, once to print (a table is for people; JSON and CSV read them once).
pub(super) fn changes(
    out: &mut impl Write,
    catalog: &Catalog,
    listing: &ChangeListing,
    format: Format,
) -> Result<(), CliError> {
    match format {
        Format::Json => {
            let mut w = render::JsonRows::new(&mut *out);
            catalog.each_change(listing, |r| -> Result<(), CliError> { Ok(w.row(r)?) })?;
            w.finish()?;
        }
        Format::Csv => {
            let mut w = render::CsvRows::new(&mut *out);
            catalog.each_change(listing, |r| -> Result<(), CliError> { Ok(w.row(r)?) })?;
            w.finish()?;
        }
        Format::Table => {
            let header = ["seen (UTC)", "kind", "key", "size", "was"];
            let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
            let cells = |r: &Change| {
                [
                    time(r.seen),
                    r.kind.as_str().to_string(),
                    printable(&r.file.key()).into_owned(),
                    r.size.map_or(String::new(), |s| s.to_string()),
                    match (r.previous_size, r.previous_last_modified) {
                        (Some(s), t) => format!("{s} at {}", t.map_or(String::new(), time)),
                        _ => String::new(),
                    },
                ]
            };
            writeln!(out, "{} changes", listing.changes)?;
            if listing.changes > 0 {
                let mut widths = [0; 5];
                catalog.each_change(listing, |r| -> Result<(), CliError> {
                    for (w, cell) in widths.iter_mut().zip(cells(r)) {
                        *w = (*w).max(render::display_width(&cell));
                    }
                    Ok(())
                })?;
                let t = render::StreamTable::new(&header, &widths, &[3, 4]);
                t.line(out, &header)?;
                catalog.each_change(listing, |r| -> Result<(), CliError> {
                    let cells = cells(r);
                    let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
                    Ok(t.line(out, &cells)?)
                })?;
            }
        }
    }
    Ok(())
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
