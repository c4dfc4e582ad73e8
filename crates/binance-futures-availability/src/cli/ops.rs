//! The operator's commands: `status`, `validate`, `backup`, `restore`, `export` (of the
//! database, and with `--catalog` of the catalog).

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use super::render::ReportFormat;
use super::report::{self, CatalogView, StatusView};
use super::{CliError, ValidateArgs, runtime};
use crate::facts::Market;
use crate::schedule::PidFile;
use crate::store::{self, Catalog, Database, ExportFormat, WriterLock};
use crate::validate::{self, Exchange, Fetched, Skipped, Source};

/// Data is stale when not every folder was checked through `schedule::fresh_through`.
pub(super) fn stale(checked_through: Option<NaiveDate>, now: DateTime<Utc>) -> bool {
    checked_through.is_none_or(|c| c < crate::schedule::fresh_through(now))
}

/// Days the bucket may publish nothing before `status` calls it an outage: a day's files appear
/// the next morning (06:50–08:40 UTC), so an update at 02:00 finds the day before yesterday's
/// latest; a third day without any file is not a delay of the upload.
pub(super) const OUTAGE_DAYS: i64 = 2;

/// The last day the bucket published, when the last successful update asked for more than
/// `OUTAGE_DAYS` days after it and found no file of any of them in any folder.
pub(super) fn silent_after(contents: &crate::store::DbStatus) -> Option<NaiveDate> {
    let published = contents.coverage.map(|c| c.last())?;
    let asked = contents.last_successful_update.as_ref()?.end_date?;
    ((asked - published).num_days() > OUTAGE_DAYS).then_some(published)
}

pub(super) fn status(
    db_path: &Path,
    catalog: &Path,
    market: Market,
    format: ReportFormat,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut view = status_view(&Database::open_market(db_path, market)?, Utc::now())?;
    view.catalog = Some(catalog_view(catalog));
    report::status(out, format, &view)?;
    // An outage explains the staleness, and `update` cannot mend it: said instead.
    if let Some(after) = view.published_nothing_after {
        return Err(CliError::Outage {
            after,
            through: view
                .contents
                .last_successful_update
                .as_ref()
                .and_then(|r| r.end_date)
                .unwrap_or(after),
        });
    }
    if view.stale {
        return Err(CliError::Stale {
            checked_through: view.contents.checked_through,
        });
    }
    Ok(())
}

/// What `status` shows of the catalog at `path`: opened read-only if there is a file (never
/// created), its contents, its size and its writer; a catalog that cannot be read is reported
/// with the sentence why, and changes nothing of what `status` says of the database or how it
/// exits.
pub(super) fn catalog_view(path: &Path) -> CatalogView {
    let mut view = CatalogView {
        path: path.to_path_buf(),
        built: false,
        size_bytes: None,
        writer: WriterLock::holder(path),
        error: None,
        contents: None,
    };
    let file = store::resolve(path).unwrap_or_else(|_| path.to_path_buf());
    if !file.exists() {
        return view;
    }
    view.built = true;
    view.size_bytes = std::fs::metadata(&file).ok().map(|m| m.len());
    match Catalog::open(path).and_then(|c| c.status()) {
        Ok(contents) => view.contents = Some(contents),
        Err(e) => view.error = Some(super::store_sentence(&e)),
    }
    view
}

/// What `status` shows of `db` at `now`: its contents, and what is beside it (the writer's
/// lock, the scheduler's pid file).
pub(super) fn status_view(db: &Database, now: DateTime<Utc>) -> Result<StatusView, CliError> {
    let db_path = db.path();
    let size_bytes = std::fs::metadata(db_path)
        .map_err(|source| CliError::Size {
            path: db_path.to_path_buf(),
            source,
        })?
        .len();
    status_view_sized(db, size_bytes, now)
}

/// `status_view` for a file whose size is known: `serve` knows the size of the file it
/// answers from, and the path may be briefly absent during a publish.
pub(super) fn status_view_sized(
    db: &Database,
    size_bytes: u64,
    now: DateTime<Utc>,
) -> Result<StatusView, CliError> {
    let db_path = db.path();
    let contents = db.status()?;
    Ok(StatusView {
        path: db_path.to_path_buf(),
        market: db.market().name(),
        first_day: db.market().first_day(),
        markets: db
            .collected_markets()?
            .into_iter()
            .map(Market::name)
            .collect(),
        size_bytes,
        stale: stale(contents.checked_through, now),
        published_nothing_after: silent_after(&contents),
        writer: WriterLock::holder(db_path),
        scheduler: PidFile::inspect(db_path)?,
        contents,
        catalog: None,
    })
}

pub(super) fn validate(
    db_path: &Path,
    args: &ValidateArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let db = Database::open_market(db_path, args.market.market)?;
    // exchangeInfo's failure is the comparison's own failed line: the checks of the file run
    // and print whatever the network does.
    let market = args.market.market;
    let source = match &args.exchange_info {
        Some(text) => Source::parse(text),
        // Only kept markets reach here (`--market` takes no other), and each has one.
        None => crate::config::exchange_info_url(market)
            .map_or(Source::None, |url| Source::Url(url.into())),
    };
    let fetched = runtime()?.block_on(validate::exchange_info(&source));
    let exchange = match &fetched {
        Ok(Fetched::Info(info)) => Exchange::Info(info),
        Ok(Fetched::GeoBlocked { url }) => Exchange::Skip(Skipped::GeoBlocked { url: url.clone() }),
        Ok(Fetched::NotAsked) => Exchange::Skip(Skipped::NotAsked),
        Err(e) => Exchange::Unavailable(e),
    };
    let report = validate::check(&db, exchange)?;
    report::validation(out, args.format, &report)?;
    if report.passed() {
        Ok(())
    } else {
        Err(CliError::ValidationFailed)
    }
}

pub(super) fn backup(
    db_path: &Path,
    dest: &Path,
    force: bool,
    quiet: bool,
) -> Result<(), CliError> {
    let status = store::backup(db_path, dest, force)?;
    if !quiet {
        say!(
            "backed up {} to {}: {} rows, {} symbols",
            db_path.display(),
            dest.display(),
            status.rows,
            status.symbols.total
        );
    }
    Ok(())
}

pub(super) fn restore(
    src: &Path,
    db_path: &Path,
    force: bool,
    quiet: bool,
) -> Result<(), CliError> {
    let status = store::restore(src, db_path, force)?;
    if !quiet {
        say!(
            "restored {} from {}: {} rows, {} symbols, checked through {}",
            db_path.display(),
            src.display(),
            status.rows,
            status.symbols.total,
            status
                .checked_through
                .map_or("no day".to_string(), |d| d.to_string())
        );
    }
    Ok(())
}

pub(super) fn export(
    db_path: &Path,
    dest: &Path,
    (format, market): (ExportFormat, Market),
    force: bool,
    quiet: bool,
) -> Result<(), CliError> {
    let files = store::export(db_path, dest, format, market, force)?;
    if !quiet {
        for f in files {
            say!("wrote {}", f.display());
        }
    }
    Ok(())
}

pub(super) fn backup_catalog(
    catalog: &Path,
    dest: &Path,
    force: bool,
    quiet: bool,
) -> Result<(), CliError> {
    let status = store::backup_catalog(catalog, dest, force)?;
    if !quiet {
        say!(
            "backed up {} to {}: {} files, {} strays, {} changes",
            catalog.display(),
            dest.display(),
            status.files,
            status.strays,
            status.changes.total()
        );
    }
    Ok(())
}

pub(super) fn restore_catalog(
    src: &Path,
    catalog: &Path,
    force: bool,
    quiet: bool,
) -> Result<(), CliError> {
    let status = store::restore_catalog(src, catalog, force)?;
    if !quiet {
        say!(
            "restored {} from {}: {} files, {} strays, {} changes",
            catalog.display(),
            src.display(),
            status.files,
            status.strays,
            status.changes.total()
        );
    }
    Ok(())
}

pub(super) fn export_catalog(
    catalog: &Path,
    dest: &Path,
    format: ExportFormat,
    force: bool,
    quiet: bool,
) -> Result<(), CliError> {
    let files = store::export_catalog(catalog, dest, format, force)?;
    if !quiet {
        for f in files {
            say!("wrote {}", f.display());
        }
    }
    Ok(())
}
