//! Query latency, bulk upsert throughput and file size on a database shaped like full history:
//! 1000 symbols from 2019-12-31 to yesterday with staggered lives and gaps (~1 M rows).
//!
//! Run: `cargo bench --bench queries` (release profile, shared with tests and binaries).
//! `BFA_BENCH_KEEP=/some/file.duckdb` keeps a copy of the database it built.

use std::time::{Duration, Instant};

use binance_futures_availability::facts::ContractFilter;
use binance_futures_availability::store::{AvailabilityRow, Batch, Database, SymbolUpdate};
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

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("bench.duckdb");
    let start = NaiveDate::from_ymd_opt(2019, 12, 31).expect("date");
    let end = Utc::now().date_naive() - Days::days(1);
    let total_days = (end - start).num_days();
    let symbols: Vec<String> = (0..1000).map(|i| format!("SYM{i:04}USDT")).collect();

    let mut db = Database::open_for_write(&path).expect("open for write");
    let now = Utc::now();
    let mut rows_total = 0usize;
    let mut write_time = Duration::ZERO;
    let lives: Vec<(NaiveDate, NaiveDate)> = (0..symbols.len() as i64)
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
    let batch_for = |chunk: &[String], offset: usize, size: i64| -> Batch {
        let mut batch = Batch::default();
        for (j, symbol) in chunk.iter().enumerate() {
            let (first, last) = lives[offset + j];
            for (k, date) in first.iter_days().take_while(|d| *d <= last).enumerate() {
                let gap = (offset + j).is_multiple_of(8) && k % 97 == 50;
                batch.rows.push(AvailabilityRow {
                    date,
                    symbol: symbol.clone(),
                    available: !gap,
                    file_size_bytes: (!gap).then_some(size + (k as i64 % 7000)),
                    last_modified: (!gap).then(|| Utc.from_utc_datetime(&(date + Days::days(1)).and_hms_opt(7, 30, 0).expect("time"))),
                    url: format!("https://data.binance.vision/data/futures/um/daily/klines/{symbol}/1m/{symbol}-1m-{date}.zip"),
                    status_code: if gap { 404 } else { 200 },
                    probe_timestamp: now,
                });
            }
            batch.symbols.push(SymbolUpdate {
                symbol: symbol.clone(),
                class: classify(symbol),
                first_file_date: Some(first),
                last_file_date: Some(last),
                checked: Some((start, end)),
            });
        }
        batch
    };
    // Transactions as a collection commits them: a batch closes at `batch_rows` rows or
    // `batch_symbols` symbols, whichever comes first.
    let opts = binance_futures_availability::collect::Options::default();
    let mut batch = Batch::default();
    for (i, symbol) in symbols.iter().enumerate() {
        let one = batch_for(std::slice::from_ref(symbol), i, 55_000);
        batch.rows.extend(one.rows);
        batch.symbols.extend(one.symbols);
        if batch.rows.len() >= opts.batch_rows
            || batch.symbols.len() >= opts.batch_symbols
            || i + 1 == symbols.len()
        {
            rows_total += batch.rows.len();
            let t = Instant::now();
            db.write_batch(&batch).expect("write");
            write_time += t.elapsed();
            batch = Batch::default();
        }
    }
    // Replacing existing rows (every size changes) is the costlier upsert path.
    let replace = batch_for(&symbols[..100], 0, 60_000);
    let t = Instant::now();
    let replaced = db.write_batch(&replace).expect("replace");
    let replace_time = t.elapsed();
    // What a collection does before publishing: rebuild `day_files` from the earliest day
    // written (here: all of it), then checkpoint and close.
    let t = Instant::now();
    db.refresh().expect("refresh");
    let refresh_time = t.elapsed();
    // Writers checkpoint once, at close (see `Database::open_for_write`): that cost belongs to
    // the writes, so the insert rate below counts it.
    let t = Instant::now();
    db.close().expect("close");
    let close_time = t.elapsed();
    let size = std::fs::metadata(&path).expect("file").len();
    if let Some(keep) = std::env::var_os("BFA_BENCH_KEEP") {
        // For poking at the file afterwards (EXPLAIN, the duckdb CLI, Python).
        std::fs::copy(&path, &keep).expect("keep a copy of the database");
    }

    println!("## queries (bench: queries)\n");
    println!(
        "Database: {} symbols, {rows_total} rows, {start} → {end}; file size {:.1} MB\n",
        symbols.len(),
        size as f64 / 1e6
    );
    println!(
        "Bulk insert: {:.0} rows/s ({rows_total} new rows in {:.2} s of batches + {:.2} s for the checkpoint at close, which also covers the rows below); upsert replacing existing rows: {:.0} rows/s ({replaced} rows in {:.2} s)\n",
        rows_total as f64 / (write_time + close_time).as_secs_f64(),
        write_time.as_secs_f64(),
        close_time.as_secs_f64(),
        replaced as f64 / replace_time.as_secs_f64(),
        replace_time.as_secs_f64()
    );
    println!(
        "Full rebuild of day_files: {:.2} s\n",
        refresh_time.as_secs_f64()
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
