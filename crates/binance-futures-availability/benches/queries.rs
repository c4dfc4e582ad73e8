//! Query latency, bulk upsert throughput and file size on a database shaped like full history:
//! 1000 symbols from 2019-12-31 to yesterday with staggered lives and gaps (~1 M rows).
//!
//! Run: `cargo bench --bench queries` (release profile, shared with tests and binaries).
//! `BFA_BENCH_KEEP=/some/file.duckdb` keeps a copy of the database it built.

use std::time::{Duration, Instant};

use binance_futures_availability::facts::ContractFilter;
use binance_futures_availability::store::{AvailabilityRow, Batch, Database, Seen, SymbolUpdate};
use binance_futures_availability::vision::classify;
use chrono::{Duration as Days, NaiveDate, TimeZone, Utc};

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p) as usize]
}

fn measure(name: &str, iterations: usize, mut f: impl FnMut(usize)) -> (Duration, Duration) {
    for i in 0..iterations / 10 {
        f(i);
    }
    let mut samples: Vec<Duration> = (0..iterations)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed()
        })
        .collect();
    let (p50, p99) = (
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    );
    println!(
        "| {name} | {:.3} ms | {:.3} ms | {iterations} |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    (p50, p99)
}

/// The synthetic history: 1000 symbols with staggered lives, a gap in 97 days for every eighth.
struct History {
    start: NaiveDate,
    end: NaiveDate,
    symbols: Vec<String>,
    lives: Vec<(NaiveDate, NaiveDate)>,
}

impl History {
    fn new() -> History {
        let start = NaiveDate::from_ymd_opt(2019, 12, 31).expect("date");
        let end = Utc::now().date_naive() - Days::days(1);
        let total_days = (end - start).num_days();
        let symbols: Vec<String> = (0..1000).map(|i| format!("SYM{i:04}USDT")).collect();
        let lives = (0..symbols.len() as i64)
            .map(|i| {
                let first = start + Days::days((i * 37) % (total_days - 30));
                let last = if i % 3 == 0 {
                    end
                } else {
                    (first + Days::days(200 + (i * 53) % 1600)).min(end)
                };
                (first, last)
            })
            .collect();
        History {
            start,
            end,
            symbols,
            lives,
        }
    }

    /// The rows and symbol updates of symbols `offset..offset + count`, sizes from `size` on.
    fn batch(&self, offset: usize, count: usize, size: i64) -> Batch {
        let now = Utc::now();
        let mut batch = Batch::default();
        for (j, symbol) in self.symbols[offset..offset + count].iter().enumerate() {
            let (first, last) = self.lives[offset + j];
            for (k, date) in first.iter_days().take_while(|d| *d <= last).enumerate() {
                let gap = (offset + j).is_multiple_of(8) && k % 97 == 50;
                batch.rows.push(AvailabilityRow {
                    date,
                    symbol: symbol.clone(),
                    seen: if gap {
                        Seen::Absent
                    } else {
                        Seen::File {
                            size: size + (k as i64 % 7000),
                            last_modified: Some(Utc.from_utc_datetime(&(date + Days::days(1)).and_hms_opt(7, 30, 0).expect("time"))),
                        }
                    },
                    url: format!("https://data.binance.vision/data/futures/um/daily/klines/{symbol}/1m/{symbol}-1m-{date}.zip"),
                    probe_timestamp: now,
                });
            }
            batch.symbols.push(SymbolUpdate {
                symbol: symbol.clone(),
                class: classify(symbol),
                first_file_date: Some(first),
                last_file_date: Some(last),
                checked: Some((self.start, self.end)),
            });
        }
        batch
    }
}

/// How long filling a database took, by phase.
struct Fill {
    rows: usize,
    batches: Duration,
    refresh: Duration,
    close: Duration,
    replaced: Option<(u64, Duration)>,
}

/// Writes the whole history into a new file at `path` in transactions of the size a collection
/// commits (a batch closes at `batch_rows` rows or `batch_symbols` symbols), refreshes and
/// closes. `bulk`: the way a first collection loads (keys set aside, built at refresh);
/// otherwise into the keyed table, then 100 symbols again with every size changed.
fn fill(history: &History, path: &std::path::Path, bulk: bool) -> Fill {
    let mut db = Database::open_for_write(path).expect("open for write");
    if bulk {
        assert!(db.defer_keys().expect("defer keys"));
    }
    let opts = binance_futures_availability::collect::Options::default();
    let mut rows = 0;
    let mut batches = Duration::ZERO;
    let mut batch = Batch::default();
    for i in 0..history.symbols.len() {
        let one = history.batch(i, 1, 55_000);
        batch.rows.extend(one.rows);
        batch.symbols.extend(one.symbols);
        if batch.rows.len() >= opts.batch_rows
            || batch.symbols.len() >= opts.batch_symbols
            || i + 1 == history.symbols.len()
        {
            rows += batch.rows.len();
            let t = Instant::now();
            db.write_batch(&batch).expect("write");
            batches += t.elapsed();
            batch = Batch::default();
        }
    }
    let replaced = (!bulk).then(|| {
        let replace = history.batch(0, 100, 60_000);
        let t = Instant::now();
        let n = db.write_batch(&replace).expect("replace");
        (n, t.elapsed())
    });
    // What a collection does before publishing: rebuild `day_files` from the earliest day
    // written (here: all of it), build the keys a bulk load set aside, checkpoint and close.
    let t = Instant::now();
    db.refresh().expect("refresh");
    let refresh = t.elapsed();
    let t = Instant::now();
    db.close().expect("close");
    Fill {
        rows,
        batches,
        refresh,
        close: t.elapsed(),
        replaced,
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let history = History::new();
    let (start, end, symbols) = (history.start, history.end, &history.symbols);
    let total_days = (end - start).num_days();

    // The file the queries run on is built the way a first collection builds it.
    let path = dir.path().join("bench.duckdb");
    let bulk = fill(&history, &path, true);
    let size = std::fs::metadata(&path).expect("file").len();
    if let Some(keep) = std::env::var_os("BFA_BENCH_KEEP") {
        // For poking at the file afterwards (EXPLAIN, the duckdb CLI, Python).
        std::fs::copy(&path, &keep).expect("keep a copy of the database");
    }
    let keyed = fill(&history, &dir.path().join("keyed.duckdb"), false);
    let (replaced, replace_time) = keyed.replaced.expect("the keyed fill replaces rows");

    println!("## queries (bench: queries)\n");
    println!(
        "Database: {} symbols, {} rows, {start} → {end}; file size {:.1} MB\n",
        symbols.len(),
        bulk.rows,
        size as f64 / 1e6
    );
    // Checkpoints belong to the writes (writers checkpoint once, at close), so rates count them.
    println!(
        "First load (bulk, keys built after the rows): {:.0} rows/s ({} rows: {:.2} s of batches, {:.2} s to refresh day_files and build the keys, {:.2} s to checkpoint at close)\n",
        bulk.rows as f64 / (bulk.batches + bulk.refresh + bulk.close).as_secs_f64(),
        bulk.rows,
        bulk.batches.as_secs_f64(),
        bulk.refresh.as_secs_f64(),
        bulk.close.as_secs_f64(),
    );
    println!(
        "Upsert into the keyed table: {:.0} rows/s ({} new rows in {:.2} s of batches + {:.2} s for the checkpoint at close, which also covers the rows below); replacing existing rows: {:.0} rows/s ({replaced} rows in {:.2} s)\n",
        keyed.rows as f64 / (keyed.batches + keyed.close).as_secs_f64(),
        keyed.rows,
        keyed.batches.as_secs_f64(),
        keyed.close.as_secs_f64(),
        replaced as f64 / replace_time.as_secs_f64(),
        replace_time.as_secs_f64()
    );
    println!(
        "Full rebuild of day_files: {:.2} s\n",
        keyed.refresh.as_secs_f64()
    );
    println!("| query | p50 | p99 | iterations |\n|---|---|---|---|");
    let db = Database::open(&path).expect("open read-only");
    let day = |i: usize| start + Days::days((i as i64 * 7919) % total_days);
    let mut n = 0;
    measure("snapshot (perpetual)", 3000, |i| {
        n += db
            .snapshot(day(i), ContractFilter::Perpetual)
            .expect("snapshot")
            .len()
    });
    measure("snapshot (all)", 3000, |i| {
        n += db
            .snapshot(day(i), ContractFilter::All)
            .expect("snapshot")
            .len()
    });
    measure("timeline", 2000, |i| {
        n += db
            .timeline(&symbols[(i * 13) % symbols.len()])
            .expect("timeline")
            .days
            .len()
    });
    measure("range (one month)", 1000, |i| {
        let s = day(i).min(end - Days::days(31));
        n += db
            .range(s, s + Days::days(30), ContractFilter::Perpetual)
            .expect("range")
            .len()
    });
    measure("daily counts (one year)", 300, |i| {
        let s = day(i).min(end - Days::days(366));
        n += db
            .daily_counts(s, s + Days::days(365))
            .expect("counts")
            .len()
    });
    drop(db);
    let exe = env!("CARGO_BIN_EXE_binance-futures-availability");
    measure("open read-only (hardened)", 300, |_| {
        n += usize::from(Database::open(&path).is_ok());
    });
    measure("`query snapshot` whole process", 60, |i| {
        let out = std::process::Command::new(exe)
            .args([
                "query",
                "snapshot",
                &day(i).to_string(),
                "--format",
                "json",
                "--db",
            ])
            .arg(&path)
            .output()
            .expect("run the binary");
        assert!(out.status.success());
    });
    println!("\n(checksum {n})");
}
