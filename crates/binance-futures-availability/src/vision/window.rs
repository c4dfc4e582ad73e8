//! One window lister for every dataset: a window of one symbol's folder of any dataset
//! (`um/daily/klines/1m`, `um/monthly/klines/1d`, …) is listed from the file holding its first
//! day, `.CHECKSUM` siblings and stray keys are read past, and the listing stops as soon as it
//! has passed the window's last day. Each page takes a permit of the run's one bound on requests
//! in flight. `collect` plans windows and receives listed files; it knows nothing of keys,
//! siblings or page order.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Semaphore;

use super::dataset::{Dataset, Partition};
use super::{Cause, VisionClient, VisionError};
use crate::facts::{FileFact, Month, Span};

/// Days one listing page of a daily folder covers: a day is two keys (the `.zip` and its
/// `.CHECKSUM`) and a page holds 1000.
pub const DAYS_PER_PAGE: i64 = 500;

/// Pages a listing of `files` files may take before it is abandoned: the two keys a file needs
/// ⌈files/500⌉ pages; four keys a file and two more pages leave room for stray files.
fn max_pages(files: i64) -> u32 {
    u32::try_from(2 + files.max(0) / 250).unwrap_or(u32::MAX)
}

/// Files of `partition` a window `[from, to]` can hold: its days, or its months.
fn files_in(partition: Partition, (from, to): (NaiveDate, NaiveDate)) -> i64 {
    match partition {
        Partition::Daily => (to - from).num_days() + 1,
        Partition::Monthly => {
            let months = |m: Month| {
                let first = m.first_day();
                i64::from(chrono::Datelike::year(&first)) * 12
                    + i64::from(chrono::Datelike::month0(&first))
            };
            months(Month::of(to)) - months(Month::of(from)) + 1
        }
    }
}

/// How much of a window to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// All of it.
    Whole,
    /// Its first page only, so the caller can list the rest in parallel chunks.
    FirstPage,
}

/// A file as listed: the span it states, and the version of it the bucket holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedFile {
    /// The day or month the file holds, as its key states it.
    pub span: Span,
    /// Bytes, as the listing states them; a download of another size is refused.
    pub size: u64,
    /// When it was last uploaded, as the listing states it; a download last modified at
    /// another second is refused.
    pub last_modified: DateTime<Utc>,
}

impl ListedFile {
    /// The fact a daily file's listing states about `symbol`'s day.
    pub fn fact(&self, symbol: &str) -> FileFact {
        FileFact {
            symbol: symbol.to_string(),
            date: self.span.first_day(),
            size: self.size,
            last_modified: self.last_modified,
        }
    }
}

/// What listing a window found: its files by span, and the last day the listing covered (the
/// window's end, or with `Extent::FirstPage` possibly less).
#[derive(Debug, Default)]
pub struct Window {
    /// The symbol's files in the window, by the span each holds, in order.
    pub files: BTreeMap<Span, ListedFile>,
    /// The last day the listing covered: `to`, or with `Extent::FirstPage` the last day of a
    /// file its first page lists. Always `Some` from `list_window`.
    pub reached: Option<NaiveDate>,
}

/// Lists `symbol`'s files of `dataset` whose span ends in `[from, to]` (a daily file: its day;
/// a monthly file: a month over by `to`, so a month in progress is left to its daily files),
/// taking a `permits` permit per page so that every window of a run shares one bound on
/// requests in flight.
pub async fn list_window(
    client: &VisionClient,
    permits: &Semaphore,
    dataset: Dataset,
    symbol: &str,
    (from, to): (NaiveDate, NaiveDate),
    extent: Extent,
) -> Result<Window, VisionError> {
    let folder = dataset.folder(symbol);
    let mut lister = client.lister(
        &folder,
        None,
        Some(dataset.start_after(symbol, from)),
        max_pages(files_in(dataset.partition(), (from, to))),
    );
    let beyond = dataset.start_after(symbol, to + chrono::Duration::days(1));
    let mut window = Window::default();
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
            window.reached = Some(to);
            return Ok(window);
        };
        let mut last_day = None;
        for o in page.objects() {
            let key = o.key.strip_suffix(".CHECKSUM").unwrap_or(o.key);
            let Some((name, span)) = dataset.parse(key) else {
                continue;
            };
            if name != symbol {
                continue;
            }
            last_day = Some(span.last_day());
            let from_its_checksum = key.len() != o.key.len();
            if !from_its_checksum && from <= span.last_day() && span.last_day() <= to {
                window.files.insert(
                    span,
                    ListedFile {
                        span,
                        size: o.size,
                        last_modified: o.last_modified,
                    },
                );
            }
        }
        // Keys sort by period, so once the page reached `to` (or beyond) the window is
        // complete: the next page would only hold the CHECKSUM of `to`'s file or later files.
        let past_end = last_day.is_some_and(|d| d >= to)
            || page
                .objects()
                .next_back()
                .is_some_and(|o| o.key >= beyond.as_str());
        if page.next_token.is_none() || past_end {
            window.reached = Some(to);
            return Ok(window);
        }
        if extent == Extent::FirstPage && last_day.is_some() {
            window.reached = last_day;
            return Ok(window);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn page_bounds_count_files_of_the_partition() {
        // 500 days of a daily folder fit on one page; two spare pages as before.
        assert_eq!(
            max_pages(files_in(
                Partition::Daily,
                (d("2020-01-01"), d("2021-05-14"))
            )),
            2 + 500 / 250
        );
        assert_eq!(
            files_in(Partition::Monthly, (d("2019-12-31"), d("2024-02-10"))),
            51
        );
        assert_eq!(
            files_in(Partition::Monthly, (d("2024-02-01"), d("2024-02-29"))),
            1
        );
        assert_eq!(max_pages(-5), 2);
    }
}
