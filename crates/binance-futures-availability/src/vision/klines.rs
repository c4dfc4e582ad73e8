//! What a klines file holds once fetched, read strictly: the `.CHECKSUM` beside it (sha256 and
//! file name), the zip (exactly one CSV, named after the zip, bounded in size), and the CSV rows
//! (`open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,
//! taker_buy_quote_volume,ignore`, times in milliseconds, the header line present from 2022 on
//! and absent before). A 1d file becomes `DailyTrading` rows only when every row is a whole UTC
//! day inside the file's span, in order, once.
//!
//! Anything else is an error naming the key and, for a row, its line: such a file is never
//! stored, and the next run fetches it again. What must not be known here: HTTP, DuckDB.

use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::keys::parse_kline_1d_key;
use crate::facts::{DailyTrading, Span};

/// The header line of files from 2022 on.
const HEADER: &str = "open_time,open,high,low,close,volume,close_time,quote_volume,count,\
                      taker_buy_volume,taker_buy_quote_volume,ignore";

/// The largest CSV accepted once unpacked. A real 1m day is ~205 KB (1,440 rows); a monthly 1d
/// file ~31 rows of ~150 bytes. The bound keeps a hostile zip (a few KB that unpack to
/// gigabytes) from filling memory.
pub const MAX_CSV_BYTES: u64 = 4 * 1024 * 1024;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// A klines file that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct KlineFileError {
    pub key: String,
    #[source]
    pub problem: Problem,
}

/// Why a klines file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("this is not the key of a daily or monthly 1d klines file")]
    NotA1dKey,
    #[error("it was listed, but fetching it answered 404: it is gone since")]
    Vanished,
    #[error("it has no .CHECKSUM beside it (404), so it cannot be verified")]
    ChecksumMissing,
    /// Described, never quoted: a CHECKSUM is whatever the server sent, and its text would go
    /// on into the log, the run record, `status` and `/v1/status`.
    #[error("its CHECKSUM ({bytes} bytes) is not `<sha256>  <file name>`: {defect}")]
    ChecksumMalformed {
        bytes: usize,
        defect: ChecksumDefect,
    },
    #[error("its CHECKSUM is for {}, another file", shown_name(.named, *.bytes))]
    ChecksumForAnother {
        /// The name, when it is one a klines file could have; else only its length is shown.
        named: Option<String>,
        bytes: usize,
    },
    #[error("its sha256 is {actual}, but its CHECKSUM says {expected}")]
    ChecksumMismatch { expected: String, actual: String },
    #[error("it is not a readable zip")]
    BadZip(#[source] zip::result::ZipError),
    #[error("it holds {entries} files, where a klines zip holds exactly one, {expected:?}")]
    Entries { entries: usize, expected: String },
    #[error("it holds {found:?}, where a klines zip holds {expected:?}")]
    EntryName { found: String, expected: String },
    #[error("its CSV is larger than {MAX_CSV_BYTES} bytes once unpacked")]
    TooLarge,
    #[error("its CSV could not be unpacked")]
    Unpack(#[source] std::io::Error),
    #[error("its CSV is not UTF-8")]
    NotUtf8,
    #[error("its CSV holds no rows")]
    Empty,
    #[error("line {line}: {what}")]
    Row { line: usize, what: String },
    /// The body fetched is not the version the listing shows (its size, or its Last-Modified
    /// where the server sends one): a CDN's cached copy of an earlier upload, or a re-upload
    /// since the listing. Storing it would record old rows under the new version, never read
    /// again.
    #[error(
        "the listing shows {listed_size} bytes last modified {}, but the download is \
         {got_size} bytes{}: a copy other than the one listed (a CDN cache not yet refreshed, or \
         a re-upload since the listing); nothing of it is stored, and the next run that lists it \
         fetches it again",
        stamp(*.listed_modified),
        .got_modified.map(|t| format!(" last modified {}", stamp(t))).unwrap_or_default()
    )]
    NotAsListed {
        listed_size: u64,
        listed_modified: DateTime<Utc>,
        got_size: u64,
        got_modified: Option<DateTime<Utc>>,
    },
    /// A day after the run's last: not over when the run started, or not one it checks.
    #[error("it states {date}, after {end}, the last day this run checks; nothing of it is stored")]
    AfterEnd { date: NaiveDate, end: NaiveDate },
}

/// What is wrong with a CHECKSUM's text, said without repeating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumDefect {
    #[error("it is not UTF-8 text")]
    NotUtf8,
    #[error("its line ends in CR without LF")]
    LineEndsInCr,
    #[error("it holds a control character (a second line, a tab or a CR)")]
    Control,
    #[error("no space separates a digest from a file name")]
    NoSpace,
    #[error("it begins with {chars} characters before a space, where a sha256 is 64 hex digits")]
    Digest { chars: usize },
    #[error("no file name follows the digest")]
    NoName,
}

/// A file name a CHECKSUM gives, quoted when it could be a klines file's (letters of any
/// script, digits, `-`, `_`, `.`, at most 100), else only its length.
fn shown_name(named: &Option<String>, bytes: usize) -> String {
    match named {
        Some(name) => format!("{name:?}"),
        None => format!("a name of {bytes} bytes that no klines file has"),
    }
}

fn plausible_name(name: &str) -> bool {
    name.chars().count() <= 100
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One row of a klines CSV, as written (any interval).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kline {
    pub open_time_ms: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub close_time_ms: i64,
    pub quote_volume: f64,
    pub trades: u64,
    pub taker_buy_volume: f64,
    pub taker_buy_quote_volume: f64,
}

/// Reads a daily or monthly 1d klines file: `zip` as fetched from `key`, `checksum` as fetched
/// from `key.CHECKSUM`. Every day it states, in order.
pub fn read_1d_file(
    key: &str,
    zip: &[u8],
    checksum: &str,
) -> Result<Vec<DailyTrading>, KlineFileError> {
    let fail = |problem| KlineFileError {
        key: key.to_string(),
        problem,
    };
    let (_, span) = parse_kline_1d_key(key).ok_or_else(|| fail(Problem::NotA1dKey))?;
    verify_checksum(key, zip, checksum)?;
    let csv = unzip_csv(key, zip)?;
    let rows = parse_csv(&csv).map_err(fail)?;
    daily(&rows, span).map_err(fail)
}

/// Checks `zip` against its CHECKSUM: `<64 hex digits><spaces><file name>`, one line ending
/// in LF, CRLF or nothing (real copies have a newline or not; CRLF is a copy saved on Windows,
/// still verifiable), the name that of `key`'s file.
pub fn verify_checksum(key: &str, zip: &[u8], checksum: &str) -> Result<(), KlineFileError> {
    let fail = |problem| KlineFileError {
        key: key.to_string(),
        problem,
    };
    let malformed = |defect| {
        fail(Problem::ChecksumMalformed {
            bytes: checksum.len(),
            defect,
        })
    };
    let line = checksum
        .strip_suffix("\r\n")
        .or_else(|| checksum.strip_suffix('\n'))
        .unwrap_or(checksum);
    if line.ends_with('\r') {
        return Err(malformed(ChecksumDefect::LineEndsInCr));
    }
    if line.chars().any(char::is_control) {
        return Err(malformed(ChecksumDefect::Control));
    }
    let (expected, named) = line
        .split_once(' ')
        .ok_or_else(|| malformed(ChecksumDefect::NoSpace))?;
    let named = named.trim_start_matches(' ');
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed(ChecksumDefect::Digest {
            chars: expected.chars().count(),
        }));
    }
    if named.is_empty() {
        return Err(malformed(ChecksumDefect::NoName));
    }
    let file = key.rsplit('/').next().unwrap_or(key);
    if named != file {
        return Err(fail(Problem::ChecksumForAnother {
            named: plausible_name(named).then(|| named.to_string()),
            bytes: named.len(),
        }));
    }
    let actual: String = Sha256::digest(zip)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(fail(Problem::ChecksumMismatch {
            expected: expected.to_string(),
            actual,
        }));
    }
    Ok(())
}

/// The one CSV of a klines zip, named as the zip is (`X.zip` holds `X.csv`).
pub fn unzip_csv(key: &str, zip: &[u8]) -> Result<String, KlineFileError> {
    let fail = |problem| KlineFileError {
        key: key.to_string(),
        problem,
    };
    let file = key.rsplit('/').next().unwrap_or(key);
    let expected = format!("{}.csv", file.strip_suffix(".zip").unwrap_or(file));
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|e| fail(Problem::BadZip(e)))?;
    if archive.len() != 1 {
        return Err(fail(Problem::Entries {
            entries: archive.len(),
            expected,
        }));
    }
    let entry = archive.by_index(0).map_err(|e| fail(Problem::BadZip(e)))?;
    if entry.name() != expected {
        return Err(fail(Problem::EntryName {
            found: entry.name().chars().take(120).collect(),
            expected,
        }));
    }
    let mut bytes = Vec::new();
    // One byte past the limit tells "too large" from "exactly at it".
    entry
        .take(MAX_CSV_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(Problem::Unpack(e)))?;
    if bytes.len() as u64 > MAX_CSV_BYTES {
        return Err(fail(Problem::TooLarge));
    }
    String::from_utf8(bytes).map_err(|_| fail(Problem::NotUtf8))
}

/// Every row of a klines CSV. Lines end in `\n` (the last one may not); no blank lines.
pub fn parse_csv(csv: &str) -> Result<Vec<Kline>, Problem> {
    let body = csv.strip_suffix('\n').unwrap_or(csv);
    if body.is_empty() {
        return Err(Problem::Empty);
    }
    let mut rows = Vec::new();
    for (i, line) in body.split('\n').enumerate() {
        if i == 0 && line == HEADER {
            continue;
        }
        rows.push(parse_row(line).map_err(|what| Problem::Row { line: i + 1, what })?);
    }
    if rows.is_empty() {
        return Err(Problem::Empty);
    }
    Ok(rows)
}

fn parse_row(line: &str) -> Result<Kline, String> {
    let fields: Vec<&str> = line.split(',').collect();
    if fields.len() != 12 {
        return Err(format!(
            "{} fields where a kline has 12: {:?}",
            fields.len(),
            line.chars().take(80).collect::<String>()
        ));
    }
    let time = |i: usize, name: &str| millis(fields[i]).map_err(|e| format!("{name} {e}"));
    let number = |i: usize, name: &str| decimal(fields[i]).map_err(|e| format!("{name} {e}"));
    let row = Kline {
        open_time_ms: time(0, "open_time")?,
        open: number(1, "open")?,
        high: number(2, "high")?,
        low: number(3, "low")?,
        close: number(4, "close")?,
        volume: number(5, "volume")?,
        close_time_ms: time(6, "close_time")?,
        quote_volume: number(7, "quote_volume")?,
        // At most i64::MAX, which the store's BIGINT holds.
        trades: fields[8]
            .parse::<i64>()
            .ok()
            .filter(|_| fields[8].bytes().all(|b| b.is_ascii_digit()))
            .map(i64::unsigned_abs)
            .ok_or_else(|| format!("count {:?} is not a number of trades", fields[8]))?,
        taker_buy_volume: number(9, "taker_buy_volume")?,
        taker_buy_quote_volume: number(10, "taker_buy_quote_volume")?,
    };
    // Unused ("0" in every file seen), but still a number: anything else means a shifted or
    // damaged row, a carriage return left by an editor among them.
    number(11, "ignore")?;
    if row.high < row.low {
        return Err(format!("high {} is below low {}", row.high, row.low));
    }
    if row.close_time_ms <= row.open_time_ms {
        return Err("close_time is not after open_time".to_string());
    }
    Ok(row)
}

/// A time in milliseconds since the epoch, between 2017 and 2100: 13 digits. Microseconds (16
/// digits, which Binance's spot files adopted in 2025) are named as such.
fn millis(text: &str) -> Result<i64, String> {
    const FROM: i64 = 1_483_228_800_000; // 2017-01-01
    const TO: i64 = 4_102_444_800_000; // 2100-01-01
    let value: i64 = text
        .parse()
        .ok()
        .filter(|_| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("{text:?} is not a time in milliseconds"))?;
    if (FROM * 1000..TO * 1000).contains(&value) {
        return Err(format!("{text} is in microseconds, not milliseconds"));
    }
    if !(FROM..TO).contains(&value) {
        return Err(format!(
            "{text} is not a time in milliseconds between 2017 and 2100"
        ));
    }
    Ok(value)
}

/// A non-negative decimal as the files write it (`7195.24000000`, `0`): digits and at most one
/// point, nothing else (no sign, exponent, `NaN` or `inf`, which `f64::from_str` would take),
/// and finite: a number past f64's largest (~1.8·10^308, 309 digits before the point) parses to
/// `inf`, which would be stored and rank its symbol first for ever.
fn decimal(text: &str) -> Result<f64, String> {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let points = text.bytes().filter(|b| *b == b'.').count();
    if digits == 0 || digits + points != text.len() || points > 1 {
        return Err(format!(
            "{:?} is not a decimal number",
            text.chars().take(40).collect::<String>()
        ));
    }
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a decimal number"))?;
    if !value.is_finite() {
        return Err(format!(
            "has {digits} digits, too large for a 64-bit float (at most ~1.8e308)"
        ));
    }
    Ok(value)
}

/// The rows of a 1d file as days: each a whole UTC day inside `span`, in order, once; a daily
/// file holds exactly its day.
fn daily(rows: &[Kline], span: Span) -> Result<Vec<DailyTrading>, Problem> {
    if matches!(span, Span::Day(_)) && rows.len() != 1 {
        return Err(Problem::Row {
            line: rows.len().min(2),
            what: format!("a daily 1d file holds one row, this one {}", rows.len()),
        });
    }
    let mut days: Vec<DailyTrading> = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let at = |what: String| Problem::Row { line: i + 1, what };
        let date = day_of(r.open_time_ms).ok_or_else(|| {
            at(format!(
                "open_time {} is not the start of a UTC day",
                r.open_time_ms
            ))
        })?;
        if r.close_time_ms != r.open_time_ms + DAY_MS - 1 {
            return Err(at(format!(
                "close_time {} does not end the day {date} (a 1d kline closes at 23:59:59.999)",
                r.close_time_ms
            )));
        }
        if !span.contains(date) {
            return Err(at(format!("{date} is outside the file's span")));
        }
        if days.last().is_some_and(|d| d.date >= date) {
            return Err(at(format!("{date} is out of order or repeated")));
        }
        days.push(DailyTrading {
            date,
            open: r.open,
            high: r.high,
            low: r.low,
            close: r.close,
            volume: r.volume,
            quote_volume: r.quote_volume,
            trades: r.trades,
            taker_buy_volume: r.taker_buy_volume,
            taker_buy_quote_volume: r.taker_buy_quote_volume,
        });
    }
    Ok(days)
}

fn day_of(ms: i64) -> Option<NaiveDate> {
    (ms % DAY_MS == 0)
        .then(|| DateTime::from_timestamp_millis(ms).map(|t| t.date_naive()))
        .flatten()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::facts::Month;
    use crate::vision::kline_1d_key;

    const REAL_ZIP: &[u8] = include_bytes!("../../../../fixtures/files/BTCUSDT-1m-2020-01-01.zip");
    const REAL_CHECKSUM: &str =
        include_str!("../../../../fixtures/files/BTCUSDT-1m-2020-01-01.zip.CHECKSUM");
    const REAL_KEY: &str = "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-01-01.zip";

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn ms(day: &str) -> i64 {
        d(day)
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    fn row(day: &str, trades: u64) -> String {
        let open = ms(day);
        format!(
            "{open},42000.10,43000.00,41000.50,42500.00,1234.567,{},52000000.12345678,{trades},600.1,25000000.5,0",
            open + DAY_MS - 1
        )
    }

    fn zip_of(name: &str, csv: &str) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(csv.as_bytes()).unwrap();
        out.finish().unwrap().into_inner()
    }

    fn checksum_of(key: &str, zip: &[u8]) -> String {
        let hex: String = Sha256::digest(zip)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{hex}  {}\n", key.rsplit('/').next().unwrap())
    }

    fn file(key: &str, csv: &str) -> (Vec<u8>, String) {
        let name = key.rsplit('/').next().unwrap().replace(".zip", ".csv");
        let zip = zip_of(&name, csv);
        let checksum = checksum_of(key, &zip);
        (zip, checksum)
    }

    #[test]
    fn a_real_vision_file_verifies_unpacks_and_parses() {
        verify_checksum(REAL_KEY, REAL_ZIP, REAL_CHECKSUM).unwrap();
        let csv = unzip_csv(REAL_KEY, REAL_ZIP).unwrap();
        let rows = parse_csv(&csv).unwrap();
        assert_eq!(rows.len(), 1440, "one row a minute");
        assert_eq!(rows[0].open_time_ms, 1_577_836_800_000);
        assert_eq!(rows[0].close_time_ms, 1_577_836_859_999);
        assert_eq!(rows[0].open, 7195.24);
        assert_eq!(rows[0].trades, 493);
        assert_eq!(rows[0].quote_volume, 371_233.518_355_35);
        // Flipping one byte of the real file is caught by its real CHECKSUM.
        let mut tampered = REAL_ZIP.to_vec();
        tampered[100] ^= 1;
        let e = verify_checksum(REAL_KEY, &tampered, REAL_CHECKSUM).unwrap_err();
        assert!(matches!(e.problem, Problem::ChecksumMismatch { .. }), "{e}");
        assert!(e.to_string().starts_with(REAL_KEY), "{e}");
    }

    #[test]
    fn daily_and_monthly_1d_files_become_days_with_or_without_the_header() {
        let key = kline_1d_key("BTCUSDT", Span::Day(d("2021-06-01")));
        let (zip, sum) = file(&key, &format!("{}\n", row("2021-06-01", 77)));
        let days = read_1d_file(&key, &zip, &sum).unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!((days[0].date, days[0].trades), (d("2021-06-01"), 77));
        assert_eq!(days[0].quote_volume, 52_000_000.123_456_78);

        let month = Span::Month(Month::new(2024, 2).unwrap());
        let key = kline_1d_key("币安人生USDT", month);
        let csv = format!(
            "{HEADER}\n{}\n{}\n{}",
            row("2024-02-10", 5),
            row("2024-02-11", 0),
            row("2024-02-29", 9)
        );
        let (zip, sum) = file(&key, &csv);
        let days = read_1d_file(&key, &zip, &sum).unwrap();
        let got: Vec<(NaiveDate, bool)> = days.iter().map(|t| (t.date, t.tradable())).collect();
        assert_eq!(
            got,
            [
                (d("2024-02-10"), true),
                (d("2024-02-11"), false),
                (d("2024-02-29"), true)
            ]
        );
    }

    #[test]
    fn every_malformed_row_is_refused_with_its_line() {
        let month = Span::Month(Month::new(2024, 2).unwrap());
        let key = kline_1d_key("BTCUSDT", month);
        let good = row("2024-02-10", 5);
        let open = ms("2024-02-10");
        let with = |i: usize, value: &str| {
            let mut f: Vec<String> = good.split(',').map(str::to_string).collect();
            f[i] = value.to_string();
            f.join(",")
        };
        for (csv, says) in [
            (
                format!("{good}\n\n{}", row("2024-02-11", 1)),
                "line 2: 1 fields",
            ),
            (format!("{good},0"), "13 fields"),
            (with(1, "NaN"), "open \"NaN\" is not a decimal"),
            (with(2, "inf"), "high \"inf\" is not a decimal"),
            (with(3, "-1"), "low \"-1\" is not a decimal"),
            (with(5, "1e5"), "volume \"1e5\" is not a decimal"),
            (with(5, "1e400"), "volume \"1e400\" is not a decimal"),
            // Parses to `inf` as f64: a malformed row, not a first rank for ever.
            (
                with(7, &"9".repeat(400)),
                "quote_volume has 400 digits, too large for a 64-bit float",
            ),
            (
                with(1, &format!("{}.5", "9".repeat(309))),
                "open has 310 digits, too large",
            ),
            (with(5, "1.2.3"), "volume \"1.2.3\""),
            (with(7, ""), "quote_volume \"\""),
            (with(8, "-3"), "count \"-3\" is not a number of trades"),
            (with(8, "+3"), "count \"+3\""),
            (with(8, "2.5"), "count \"2.5\""),
            (
                with(8, "9223372036854775808"),
                "count \"9223372036854775808\"",
            ),
            (with(0, &format!("{}", open * 1000)), "in microseconds"),
            (with(0, "12"), "between 2017 and 2100"),
            (
                with(0, &format!("{}", open + 1)),
                "not the start of a UTC day",
            ),
            (
                with(6, &format!("{}", open + DAY_MS)),
                "does not end the day",
            ),
            (
                with(6, &format!("{}", open - 5)),
                "close_time is not after open_time",
            ),
            (with(3, "99999999"), "is below low"),
            (
                row("2024-03-01", 1),
                "2024-03-01 is outside the file's span",
            ),
            (
                format!("{}\n{good}", row("2024-02-11", 1)),
                "line 2: 2024-02-10 is out of order",
            ),
            (format!("{good}\n{good}"), "repeated"),
            (
                format!("{good}\r"),
                "line 1: ignore \"0\\r\" is not a decimal",
            ),
            (format!("{}\n", HEADER), "holds no rows"),
            (String::new(), "holds no rows"),
            (format!("{}\n{good}", HEADER.to_uppercase()), "line 1"),
        ] {
            let (zip, sum) = file(&key, &csv);
            let e = match read_1d_file(&key, &zip, &sum) {
                Ok(days) => panic!("{csv:?} was read: {days:?}"),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(says) && e.starts_with(&key), "{csv:?}: {e}");
        }
        // A daily file holds its one day.
        let key = kline_1d_key("BTCUSDT", Span::Day(d("2024-02-10")));
        let (zip, sum) = file(&key, &format!("{good}\n{}", row("2024-02-11", 1)));
        let e = read_1d_file(&key, &zip, &sum).unwrap_err().to_string();
        assert!(e.contains("holds one row, this one 2"), "{e}");
    }

    #[test]
    fn checksums_zips_and_keys_that_are_not_right_are_refused() {
        let key = kline_1d_key("BTCUSDT", Span::Day(d("2024-02-10")));
        let csv = row("2024-02-10", 5);
        let (zip, sum) = file(&key, &csv);
        let hex = &sum[..64];
        for (checksum, says) in [
            (
                String::new(),
                "its CHECKSUM (0 bytes) is not `<sha256>  <file name>`: no space",
            ),
            (hex.to_string(), "(64 bytes) is not `<sha256>"),
            (
                format!("{}  BTCUSDT-1d-2024-02-10.zip", &hex[..63]),
                "begins with 63 characters before a space",
            ),
            (format!("{hex}  "), "no file name follows the digest"),
            (
                format!("{hex}  ETHUSDT-1d-2024-02-10.zip"),
                "is for \"ETHUSDT-1d-2024-02-10.zip\", another file",
            ),
            (
                format!("{hex}  BTCUSDT-1d-2024-02-10.zip\r"),
                "its line ends in CR without LF",
            ),
            (
                format!("{hex}  BTCUSDT-1d-2024-02-10.zip\n{hex}  x.zip\n"),
                "holds a control character",
            ),
            (
                format!("{}  BTCUSDT-1d-2024-02-10.zip", "0".repeat(64)),
                "but its CHECKSUM says 0000",
            ),
        ] {
            let e = read_1d_file(&key, &zip, &checksum).unwrap_err().to_string();
            assert!(e.contains(says), "{checksum:?}: {e}");
        }
        // Whatever a CHECKSUM holds that is not a klines name is described, never repeated: it
        // may be any server's answer (issue 24.11).
        for attacker in [
            "aws_secret_access_key=SECRETSECRET hunter2".to_string(),
            format!("{hex}  SECRET{{\"token\":\"hunter2\"}}"),
            format!("{hex}  {}", "SECRET".repeat(30)),
            format!("SECRET\u{1b}[31m {hex}"),
        ] {
            let e = read_1d_file(&key, &zip, &attacker).unwrap_err().to_string();
            assert!(
                !e.contains("SECRET") && !e.contains("hunter2"),
                "{attacker:?}: {e}"
            );
            assert!(
                e.contains(&format!("({} bytes)", attacker.len()))
                    || e.contains("bytes that no klines file has"),
                "{attacker:?}: {e}"
            );
        }
        // No trailing newline, one space, upper-case hex, a CRLF line end: all as real copies
        // (or a copy saved on Windows) write them.
        for checksum in [
            sum.trim_end().to_string(),
            sum.replace('\n', "\r\n"),
            sum.replacen("  ", " ", 1),
            sum.to_uppercase()
                .replace("BTCUSDT-1D-2024-02-10.ZIP", "BTCUSDT-1d-2024-02-10.zip"),
        ] {
            assert!(read_1d_file(&key, &zip, &checksum).is_ok(), "{checksum:?}");
        }
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PK\x03\x04 not really".to_vec(), "not a readable zip"),
            (zip[..zip.len() / 2].to_vec(), "not a readable zip"),
            (zip_of("other.csv", &csv), "holds \"other.csv\""),
            (
                {
                    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
                    let o = zip::write::SimpleFileOptions::default();
                    w.start_file("BTCUSDT-1d-2024-02-10.csv", o).unwrap();
                    w.write_all(csv.as_bytes()).unwrap();
                    w.start_file("extra.csv", o).unwrap();
                    w.finish().unwrap().into_inner()
                },
                "holds 2 files",
            ),
            (zip_of("BTCUSDT-1d-2024-02-10.csv", "\u{0}\u{ff}"), "line 1"),
        ];
        for (zip, says) in cases {
            let sum = checksum_of(&key, &zip);
            let e = read_1d_file(&key, &zip, &sum).unwrap_err().to_string();
            assert!(e.contains(says), "{says}: {e}");
        }
        // A zip that unpacks past the bound (a zip bomb, in small) is refused, not read.
        let big = "0".repeat(MAX_CSV_BYTES as usize + 1);
        let bomb = zip_of("BTCUSDT-1d-2024-02-10.csv", &big);
        assert!(
            bomb.len() < 100_000,
            "deflate packs it small: {}",
            bomb.len()
        );
        let e = read_1d_file(&key, &bomb, &checksum_of(&key, &bomb)).unwrap_err();
        assert!(matches!(e.problem, Problem::TooLarge), "{e}");
        let e = read_1d_file(
            "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-10.zip",
            &zip,
            &sum,
        )
        .unwrap_err();
        assert!(matches!(e.problem, Problem::NotA1dKey), "{e}");
    }
}
