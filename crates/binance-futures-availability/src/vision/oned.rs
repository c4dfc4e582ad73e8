//! The 1d klines folders as collection sees them: a listing of a symbol's monthly or daily 1d
//! folder becomes the files it holds (span, size, Last-Modified), and one file is fetched with
//! its `.CHECKSUM` and read by `klines` into days. `collect` decides which folders to list and
//! which files to fetch; it knows nothing of keys, siblings or zips.
//!
//! Nothing from after the run's end is read: a monthly file is listed only for a month that is
//! over by then (one for the month in progress would state days not over yet), and a file that
//! states a later day is refused. A download that is not the version listed (another size, or
//! another Last-Modified where the server sends one: a stale CDN copy) is refused too, so old
//! rows are never stored under a new version; the next run fetches it again.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Semaphore;

use super::klines::{ChecksumDefect, KlineFileError, Problem, read_1d_file};
use super::{Cause, VisionClient, VisionError, keys};
use crate::facts::{DailyTrading, Span};

/// The largest 1d zip fetched. A monthly file of 31 rows is ~2 KB and a daily one ~0.4 KB, so
/// 1 MiB is hundreds of times that, and 64 in flight hold at most 64 MiB.
pub const MAX_1D_ZIP_BYTES: usize = 1 << 20;

/// The largest CHECKSUM read: real ones are ~100 bytes.
const MAX_CHECKSUM_BYTES: usize = 4 << 10;

/// Which of a symbol's two 1d folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneDayFolder {
    Daily,
    Monthly,
}

/// A 1d file as listed: which span it states, and the version of it the bucket holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed1d {
    pub span: Span,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// Why a listed 1d file gave no days: the request failed, or what came back is not a file.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Request(#[from] VisionError),
    #[error(transparent)]
    File(#[from] KlineFileError),
}

impl FetchError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, FetchError::Request(e) if e.is_cancelled())
    }
}

/// Lists `symbol`'s 1d files of `folder`: the monthly folder whole (a symbol has at most a few
/// dozen months, one page), the daily folder over `[from, to]` only, from its first day.
/// A span is kept only when it ends by `to`: a month not over by then is left to its daily
/// files. Each listing page takes a `permits` permit.
pub async fn list_1d_files(
    client: &VisionClient,
    permits: &Semaphore,
    symbol: &str,
    folder: OneDayFolder,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<BTreeMap<Span, Listed1d>, VisionError> {
    let (prefix, start_after, days) = match folder {
        OneDayFolder::Monthly => (
            keys::kline_1d_folder(symbol, Span::Month(crate::facts::Month::of(from))),
            None,
            // Two keys a month: ~500 months a page.
            (to - from).num_days() / 15,
        ),
        OneDayFolder::Daily => (
            keys::kline_1d_folder(symbol, Span::Day(from)),
            Some(keys::start_after_1d_day(symbol, from)),
            (to - from).num_days() + 1,
        ),
    };
    // Two keys a day need ⌈days/500⌉ pages; four keys a day and two more pages leave room for
    // stray files, as for the 1m folder.
    let max_pages = u32::try_from(2 + days.max(0) / 250).unwrap_or(u32::MAX);
    let mut lister = client.lister(&prefix, None, start_after, max_pages);
    let mut files = BTreeMap::new();
    loop {
        let page = {
            let _permit = permits
                .acquire()
                .await
                .map_err(|_| client.error(format!("listing {prefix}"), &[], Cause::Cancelled))?;
            lister.next_page().await?
        };
        let Some(page) = page else {
            return Ok(files);
        };
        let mut past_end = false;
        for o in &page.objects {
            let Some((name, span)) = keys::parse_kline_1d_key(&o.key) else {
                continue;
            };
            if name != symbol {
                continue;
            }
            if span.first_day() > to {
                past_end = true;
                break;
            }
            if span.last_day() >= from && span.last_day() <= to {
                files.insert(
                    span,
                    Listed1d {
                        span,
                        size: o.size,
                        last_modified: o.last_modified,
                    },
                );
            }
        }
        // Keys sort by day, so a key past `to` ends the window: the next page would hold only
        // later days.
        if past_end || page.next_token.is_none() {
            return Ok(files);
        }
    }
}

/// Fetches one listed 1d file and its `.CHECKSUM`, and reads it: every day it states, none
/// after `through` (the run's last day). A file gone since the listing, a download that is not
/// the version `listed`, a missing CHECKSUM, a mismatch, a bad zip, a malformed row or a day
/// after `through` is an error naming the key.
pub async fn fetch_1d_file(
    client: &VisionClient,
    permits: &Semaphore,
    symbol: &str,
    listed: &Listed1d,
    through: NaiveDate,
) -> Result<Vec<DailyTrading>, FetchError> {
    let key = keys::kline_1d_key(symbol, listed.span);
    let checksum_key = format!("{key}.CHECKSUM");
    let fail = |problem| KlineFileError {
        key: key.clone(),
        problem,
    };
    let (zip, checksum) = {
        let _permit = permits
            .acquire()
            .await
            .map_err(|_| client.error(format!("GET {key}"), &[], Cause::Cancelled))?;
        // Both at once under one permit: a file costs one round trip, not two, and
        // `--concurrency` counts it as one request (documented there).
        tokio::try_join!(
            client.get_object(&key, MAX_1D_ZIP_BYTES),
            client.get_object(&checksum_key, MAX_CHECKSUM_BYTES)
        )?
    };
    let (zip, meta) = zip.ok_or_else(|| fail(Problem::Vanished))?;
    // Listings carry milliseconds, `Last-Modified` whole seconds.
    let modified_differs = meta
        .last_modified
        .is_some_and(|t| t.timestamp() != listed.last_modified.timestamp());
    if meta.size != listed.size || modified_differs {
        return Err(fail(Problem::NotAsListed {
            listed_size: listed.size,
            listed_modified: listed.last_modified,
            got_size: meta.size,
            got_modified: meta.last_modified,
        })
        .into());
    }
    let (checksum, _) = checksum.ok_or_else(|| fail(Problem::ChecksumMissing))?;
    let bytes = checksum.len();
    let checksum = String::from_utf8(checksum).map_err(|_| {
        fail(Problem::ChecksumMalformed {
            bytes,
            defect: ChecksumDefect::NotUtf8,
        })
    })?;
    let days = read_1d_file(&key, &zip, &checksum)?;
    // Rows are in order: the last is the latest.
    if let Some(late) = days.last().filter(|d| d.date > through) {
        return Err(fail(Problem::AfterEnd {
            date: late.date,
            end: through,
        })
        .into());
    }
    Ok(days)
}
