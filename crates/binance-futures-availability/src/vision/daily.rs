//! Where a listing page becomes facts about daily files: one window of a symbol's 1m folder is
//! listed from its first day, `.CHECKSUM` siblings and stray keys are read past, and the listing
//! stops as soon as it has passed the window's last day. `collect` plans windows and receives
//! `FileFact`s; it knows nothing of keys, siblings or page order.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use tokio::sync::Semaphore;

use super::{Cause, VisionClient, VisionError, keys};
use crate::facts::FileFact;

/// Days one listing page covers: a day is two keys (the `.zip` and its `.CHECKSUM`) and a page
/// holds 1000.
pub const DAYS_PER_PAGE: i64 = 500;

/// Pages a listing of `days` days may take before it is abandoned: the two keys a day need
/// ⌈days/500⌉ pages; four keys a day and two more pages leave room for stray files.
fn max_pages(days: i64) -> u32 {
    u32::try_from(2 + days.max(0) / 250).unwrap_or(u32::MAX)
}

/// How much of a window to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// All of it.
    Whole,
    /// Its first page only, so the caller can list the rest in parallel chunks.
    FirstPage,
}

/// What listing a window found: its files by day, and the last day the listing covered (the
/// window's end, or with `Extent::FirstPage` possibly less).
#[derive(Debug, Default)]
pub struct Listed {
    pub files: BTreeMap<NaiveDate, FileFact>,
    pub reached: Option<NaiveDate>,
}

/// Lists `symbol`'s daily 1m files in `[from, to]`, taking a `permits` permit per page so that
/// every window of a run shares one bound on requests in flight.
pub async fn list_daily_files(
    client: &VisionClient,
    permits: &Semaphore,
    symbol: &str,
    (from, to): (NaiveDate, NaiveDate),
    extent: Extent,
) -> Result<Listed, VisionError> {
    let folder = keys::daily_1m_folder(symbol);
    let mut lister = client.lister(
        &folder,
        None,
        Some(keys::start_after_day(symbol, from)),
        max_pages((to - from).num_days() + 1),
    );
    let beyond = keys::start_after_day(symbol, to + chrono::Duration::days(1));
    let mut listed = Listed::default();
    loop {
        let page = {
            // The run closes its permits only when it stops.
            let _permit = permits
                .acquire()
                .await
                .map_err(|_| client.error(format!("listing {folder}"), &[], Cause::Cancelled))?;
            lister.next_page().await?
        };
        let Some(page) = page else {
            listed.reached = Some(to);
            return Ok(listed);
        };
        let mut last_day = None;
        for o in &page.objects {
            let key = o.key.strip_suffix(".CHECKSUM").unwrap_or(&o.key);
            let Some((name, date)) = keys::parse_daily_1m_key(key) else {
                continue;
            };
            if name != symbol {
                continue;
            }
            last_day = Some(date);
            if key.len() == o.key.len() && from <= date && date <= to {
                listed.files.insert(
                    date,
                    FileFact {
                        symbol: symbol.to_string(),
                        date,
                        size: o.size,
                        last_modified: o.last_modified,
                    },
                );
            }
        }
        // Keys sort by day, so once the page reached `to` (or beyond) the window is complete:
        // asking for the next page would only fetch the CHECKSUM of `to` or later days.
        let past_end = last_day.is_some_and(|d| d >= to)
            || page.objects.last().is_some_and(|o| o.key >= beyond);
        if page.next_token.is_none() || past_end {
            listed.reached = Some(to);
            return Ok(listed);
        }
        if extent == Extent::FirstPage && last_day.is_some() {
            listed.reached = last_day;
            return Ok(listed);
        }
    }
}
