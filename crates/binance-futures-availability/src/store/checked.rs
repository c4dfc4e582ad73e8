//! What a checked range may claim. A day counts as checked for the 1m dataset only once the
//! bucket has published it — some folder has a file for it or for a later day. A listing of a
//! day nobody has a file for yet (Vision's outages last days to weeks: binance-public-data
//! #244, #336, #414) saw nothing, so it proves nothing; recording it as checked turned a
//! 34-day outage into 14 days of false absences for every symbol (issue 24).

use std::collections::HashMap;

use chrono::NaiveDate;
use duckdb::params;

use super::{Database, StoreError, SymbolRecord, date_value};

/// The last day the bucket has published as far as `known` shows: the newest day any folder
/// has a 1m file for. No day after it counts as checked, whatever a run listed; the one
/// definition for planning (`collect`), "complete through" and lives.
pub fn published_through(known: &HashMap<String, SymbolRecord>) -> Option<NaiveDate> {
    known.values().filter_map(|r| r.last_file_date).max()
}

impl Database {
    /// Cuts every stored checked range at `published`, the last day any folder has a file for
    /// (`None`: no file at all, so nothing is checked); a range wholly after it is cleared.
    /// One statement over `symbols`, a row per folder (~1,000).
    pub fn limit_checked(&mut self, published: Option<NaiveDate>) -> Result<u64, StoreError> {
        let changed = match published {
            Some(day) => self.conn.execute(
                "UPDATE symbols SET
                   checked_from = CASE WHEN checked_from > ?1 THEN NULL ELSE checked_from END,
                   checked_through = CASE WHEN checked_from > ?1 THEN NULL ELSE ?1 END
                 WHERE checked_through > ?1",
                params![date_value(day)],
            ),
            None => self.conn.execute(
                "UPDATE symbols SET checked_from = NULL, checked_through = NULL
                 WHERE checked_through IS NOT NULL",
                [],
            ),
        }
        .map_err(self.err("limiting checked ranges to the days the bucket has published"))?;
        if changed > 0 {
            self.known_symbols.take();
            self.lives.take();
        }
        Ok(changed as u64)
    }
}
