//! The daily scheduler (ADR 0005): when the next update is due, whether to catch up at start,
//! and the loop that runs updates until it is told to stop. Time comes from a [`Clock`], so tests
//! step through days without waiting for them.
//!
//! The loop never overlaps updates: each one takes the database's writer lock, and when a manual
//! `update` holds it the scheduled one is skipped and tried again a little later.

mod pidfile;

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use crate::collect::CollectError;
pub use pidfile::{PidFile, PidFileError, SchedulerInfo, State, log_path, pid_namespace, pid_path};

/// How long to wait before trying again after a failed update, or one that found the writer
/// lock taken. Never later than the next daily run.
pub const RETRY_AFTER_FAILURE: TimeDelta = TimeDelta::minutes(30);
/// How long to wait before trying again when another writer holds the lock.
pub const RETRY_AFTER_LOCKED: TimeDelta = TimeDelta::minutes(10);

/// The daily time (UTC) at which `update` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The time of day, UTC.
    pub at: NaiveTime,
}

impl Default for Schedule {
    /// 02:00 UTC, as the original tool ran.
    fn default() -> Self {
        Schedule {
            at: NaiveTime::from_hms_opt(2, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.at.format("%H:%M"))
    }
}

/// A daily time that is not `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a time of day of the form HH:MM (UTC)")]
pub struct BadSchedule {
    text: String,
}

/// Stored and shown as `HH:MM`, as typed.
impl serde::Serialize for Schedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Schedule::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Schedule {
    /// Parses `HH:MM` (24-hour, UTC).
    pub fn parse(text: &str) -> Result<Schedule, BadSchedule> {
        NaiveTime::parse_from_str(text, "%H:%M")
            .map(|at| Schedule { at })
            .map_err(|_| BadSchedule {
                text: text.to_string(),
            })
    }

    /// The first scheduled moment strictly after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now.date_naive().and_time(self.at).and_utc();
        if today > now {
            today
        } else {
            today + TimeDelta::days(1)
        }
    }
}

/// The day an update at `now` brings the database to: yesterday, UTC.
pub fn update_end(now: DateTime<Utc>) -> NaiveDate {
    let today = now.date_naive();
    today.pred_opt().unwrap_or(today)
}

/// The day every folder must be checked through for the data to be fresh: the day before
/// yesterday. The daily update checks through yesterday; one missed day is tolerated.
pub fn fresh_through(now: DateTime<Utc>) -> NaiveDate {
    update_end(now) - TimeDelta::days(1)
}

/// Whether to run at once at start: no update ever succeeded, or the last one that did stopped
/// short of yesterday (the machine was off, the scheduler stopped, runs failed).
pub fn catch_up_due(last_success_end: Option<NaiveDate>, now: DateTime<Utc>) -> bool {
    last_success_end.is_none_or(|end| end < update_end(now))
}

/// Where the loop gets the time and how it waits.
pub trait Clock {
    /// The time now.
    fn now(&self) -> DateTime<Utc>;
    /// Returns at `when` (at once when it has passed).
    fn sleep_until(&self, when: DateTime<Utc>) -> impl Future<Output = ()> + Send;
}

/// The wall clock. Sleeps in steps of at most a minute and looks at the clock again, so a
/// suspended machine or a clock change does not push a run back by hours.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, when: DateTime<Utc>) {
        loop {
            let left = when - Utc::now();
            if left <= TimeDelta::zero() {
                return;
            }
            let step = left
                .to_std()
                .unwrap_or_default()
                .min(Duration::from_secs(60));
            tokio::time::sleep(step).await;
        }
    }
}

/// Runs updates: at once if [`catch_up_due`], then daily at `schedule`, until `shutdown` is
/// cancelled. `update(end)` runs one update to `end` and must itself stop early when `shutdown`
/// is cancelled (committing what it gathered). Writes one line per run through `log`.
pub async fn run_loop<C, U, F, S>(
    clock: &C,
    schedule: Schedule,
    last_success_end: Option<NaiveDate>,
    shutdown: &CancellationToken,
    mut update: U,
    mut log: impl FnMut(DateTime<Utc>, &str),
) where
    C: Clock,
    U: FnMut(NaiveDate) -> F,
    F: Future<Output = Result<S, CollectError>>,
    S: std::fmt::Display,
{
    let start = clock.now();
    let mut due = if catch_up_due(last_success_end, start) {
        log(
            start,
            &match last_success_end {
                Some(end) => format!("catching up: the last successful update reached {end}"),
                None => "catching up: no update has succeeded yet".to_string(),
            },
        );
        start
    } else {
        schedule.next_after(start)
    };
    loop {
        log(
            clock.now(),
            &format!("next update at {}", due.format("%Y-%m-%d %H:%M UTC")),
        );
        tokio::select! {
            _ = clock.sleep_until(due) => {}
            _ = shutdown.cancelled() => return,
        }
        let began = clock.now();
        let result = update(update_end(began)).await;
        let now = clock.now();
        let next = schedule.next_after(now);
        due = match result {
            Ok(summary) => {
                log(now, &format!("update ok: {summary}"));
                next
            }
            Err(CollectError::Interrupted { summary }) => {
                log(now, &format!("update interrupted: {summary}"));
                next
            }
            Err(e) if e.is_lock_held() => {
                log(now, &format!("update skipped: {e}"));
                (now + RETRY_AFTER_LOCKED).min(next)
            }
            Err(e) => {
                log(now, &format!("update failed: {e}"));
                (now + RETRY_AFTER_FAILURE).min(next)
            }
        };
        if shutdown.is_cancelled() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn next_run_is_today_before_the_time_and_tomorrow_from_it_on() {
        let s = Schedule::parse("02:00").unwrap();
        assert_eq!(
            s.next_after(at("2026-03-10T01:59:59Z")),
            at("2026-03-10T02:00:00Z")
        );
        assert_eq!(
            s.next_after(at("2026-03-10T02:00:00Z")),
            at("2026-03-11T02:00:00Z")
        );
        assert_eq!(
            s.next_after(at("2026-12-31T23:00:00Z")),
            at("2027-01-01T02:00:00Z")
        );
        let late = Schedule::parse("23:45").unwrap();
        assert_eq!(
            late.next_after(at("2026-03-10T23:44:00Z")),
            at("2026-03-10T23:45:00Z")
        );
    }

    #[test]
    fn bad_times_are_refused() {
        for bad in ["2", "25:00", "02:60", "2am", ""] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn catch_up_when_the_last_success_is_older_than_yesterday() {
        let now = at("2026-03-10T10:00:00Z");
        assert!(catch_up_due(None, now));
        assert!(catch_up_due(NaiveDate::from_ymd_opt(2026, 3, 4), now));
        assert!(catch_up_due(NaiveDate::from_ymd_opt(2026, 3, 8), now));
        assert!(!catch_up_due(NaiveDate::from_ymd_opt(2026, 3, 9), now));
    }
}
