//! Query latency, bulk upsert throughput and file size on a database shaped like full history:
//! 1000 symbols from 2019-12-31 to yesterday with staggered lives and gaps (~1 M rows), and the
//! same rows in schema 2's shape (key, two indexes, stored urls, `day_files`), rebuilt here with
//! SQL so that both are measured in one run on one machine.
//!
//! Run: `cargo bench --bench queries` (release profile, shared with tests and binaries).
//! `BFA_BENCH_KEEP=/some/file.duckdb` keeps a copy of the database it built.

use std::time::{Duration, Instant};

use binance_futures_availability::facts::{ContractFilter, DayRange};
use binance_futures_availability::store::{AvailabilityRow, Batch, Database, Seen, SymbolUpdate};
use binance_futures_availability::vision::Market;
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
                            last_modified: Some(Utc.from_utc_datetime(
                                &(date + Days::days(1)).and_hms_opt(7, 30, 0).expect("time"),
                            )),
                        }
                    },
                    probe_timestamp: now,
                });
            }
            batch.symbols.push(SymbolUpdate {
                symbol: symbol.clone(),
                class: Market::Um.classify(symbol),
                first_file_date: Some(first),
                last_file_date: Some(last),
                checked: DayRange::new(self.start, self.end).ok(),
            });
        }
        batch
    }
}

/// How long filling a database took, by phase.
struct Fill {
    rows: usize,
    batches: Duration,
    tidy: Duration,
    close: Duration,
}

/// Writes the whole history into a new file at `path` the way a first collection does: in
/// transactions of the size a collection commits (a batch closes at `batch_rows` rows or
/// `batch_symbols` symbols), symbol by symbol, then sorts by date and closes.
fn fill(history: &History, path: &std::path::Path) -> Fill {
    let mut db = Database::open_for_write(path).expect("open for write");
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
    let t = Instant::now();
    db.tidy().expect("tidy");
    let tidy = t.elapsed();
    let t = Instant::now();
    db.close().expect("close");
    Fill {
        rows,
        batches,
        tidy,
        close: t.elapsed(),
    }
}

/// What a daily update writes into the full file: the last `days` days of every living symbol,
/// every size changed (so every row is replaced), in one batch; then the publish steps.
/// Returns rows written and the time from the batch to the closed file.
fn upsert_days(history: &History, path: &std::path::Path, days: i64) -> (u64, Duration) {
    let mut db = Database::open_for_write(path).expect("open for write");
    let from = history.end - Days::days(days - 1);
    let mut batch = history.batch(0, history.symbols.len(), 61_000);
    batch.rows.retain(|r| r.date >= from);
    let t = Instant::now();
    let n = db.write_batch(&batch).expect("upsert");
    db.tidy().expect("tidy");
    db.close().expect("close");
    (n, t.elapsed())
}

/// Schema 2's shape with the same rows, built from the schema-3 file at `v3`: its file size,
/// the time to load and key it, and a read-only connection for its queries.
fn v2_baseline(v3: &std::path::Path, v2: &std::path::Path) -> (u64, Duration, duckdb::Connection) {
    let conn = duckdb::Connection::open(v2).expect("open the v2 file");
    let t = Instant::now();
    conn.execute_batch(&format!(
        "ATTACH '{}' AS v3 (READ_ONLY);
         CREATE TABLE daily_availability (date DATE NOT NULL, symbol VARCHAR NOT NULL,
           available BOOLEAN NOT NULL, file_size_bytes BIGINT, last_modified TIMESTAMP,
           url VARCHAR, status_code INTEGER, probe_timestamp TIMESTAMP);
         INSERT INTO daily_availability SELECT * FROM v3.daily_availability ORDER BY symbol, date;
         ALTER TABLE daily_availability ADD PRIMARY KEY (date, symbol);
         CREATE INDEX idx_symbol_date ON daily_availability (symbol, date);
         CREATE INDEX idx_available_date ON daily_availability (available, date);
         CREATE TABLE symbols AS SELECT * FROM v3.symbols;
         CREATE TABLE day_files AS
           SELECT d.date, d.symbol, d.file_size_bytes, d.last_modified, s.contract_type
           FROM daily_availability d JOIN symbols s USING (symbol)
           WHERE d.available ORDER BY d.date, d.symbol;
         DETACH v3; CHECKPOINT;",
        v3.display()
    ))
    .expect("build the v2 file");
    let load = t.elapsed();
    drop(conn);
    let size = std::fs::metadata(v2).expect("v2 file").len();
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .and_then(|c| c.threads(1))
        .expect("config");
    let conn = duckdb::Connection::open_with_flags(v2, config).expect("open v2 read-only");
    (size, load, conn)
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let history = History::new();
    let (start, end, symbols) = (history.start, history.end, &history.symbols);
    let total_days = (end - start).num_days();

    // The file the queries run on is built the way a first collection builds it.
    let path = dir.path().join("bench.duckdb");
    let bulk = fill(&history, &path);
    let size = std::fs::metadata(&path).expect("file").len();
    if let Some(keep) = std::env::var_os("BFA_BENCH_KEEP") {
        // For poking at the file afterwards (EXPLAIN, the duckdb CLI, Python).
        std::fs::copy(&path, &keep).expect("keep a copy of the database");
    }
    let v2_path = dir.path().join("v2.duckdb");
    let (v2_size, v2_load, v2) = v2_baseline(&path, &v2_path);
    let updated = dir.path().join("updated.duckdb");
    std::fs::copy(&path, &updated).expect("copy");
    let (one_day, one_day_time) = upsert_days(&history, &updated, 1);
    let (lookback, lookback_time) = upsert_days(&history, &updated, 20);

    println!("## queries (bench: queries)\n");
    println!(
        "Database: {} symbols, {} rows, {start} → {end}; file size {:.1} MB ({:.1} bytes a row); \
         the same rows in schema 2's shape: {:.1} MB\n",
        symbols.len(),
        bulk.rows,
        size as f64 / 1e6,
        size as f64 / bulk.rows as f64,
        v2_size as f64 / 1e6,
    );
    // Checkpoints belong to the writes (writers checkpoint once, at close), so rates count them.
    println!(
        "First load: {:.0} rows/s ({} rows: {:.2} s of batches, {:.2} s to sort by date, {:.2} s to checkpoint and compact at close); schema 2's shape, loaded in one statement and keyed: {:.2} s\n",
        bulk.rows as f64 / (bulk.batches + bulk.tidy + bulk.close).as_secs_f64(),
        bulk.rows,
        bulk.batches.as_secs_f64(),
        bulk.tidy.as_secs_f64(),
        bulk.close.as_secs_f64(),
        v2_load.as_secs_f64(),
    );
    println!(
        "Upsert into the full file, every row replaced, batch to closed file: one day {:.0} rows/s ({one_day} rows in {:.3} s); the 20-day lookback {:.0} rows/s ({lookback} rows in {:.3} s)\n",
        one_day as f64 / one_day_time.as_secs_f64(),
        one_day_time.as_secs_f64(),
        lookback as f64 / lookback_time.as_secs_f64(),
        lookback_time.as_secs_f64(),
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
    // The same questions from a handle that keeps a read index (serve's, a Python session's),
    // built by its first snapshot.
    let mut indexed = Database::open(&path).expect("open read-only");
    indexed.keep_read_index();
    let t = Instant::now();
    n += indexed
        .snapshot(day(0), ContractFilter::Perpetual)
        .expect("snapshot")
        .len();
    let index_built = t.elapsed();
    let index_bytes = indexed.read_index_bytes().expect("an index");
    for (name, contracts) in [
        (
            "snapshot (perpetual), read index",
            ContractFilter::Perpetual,
        ),
        ("snapshot (all), read index", ContractFilter::All),
    ] {
        measure(name, 30000, |i| {
            n += indexed.snapshot(day(i), contracts).expect("snapshot").len()
        });
    }
    measure("range (one month), read index", 10000, |i| {
        let s = day(i).min(end - Days::days(31));
        n += indexed
            .range(s, s + Days::days(30), ContractFilter::Perpetual)
            .expect("range")
            .len()
    });
    measure("range (whole history), read index", 300, |_| {
        n += indexed
            .range(start, end, ContractFilter::Perpetual)
            .expect("range")
            .len()
    });
    measure("range (whole history), scan", 100, |_| {
        n += db
            .range(start, end, ContractFilter::Perpetual)
            .expect("range")
            .len()
    });
    drop((db, indexed));
    // Schema 2's statements on schema 2's shape, rows fetched the same way.
    let v2_rows = |sql: &str, params: &[&dyn duckdb::ToSql]| -> usize {
        let mut stmt = v2.prepare_cached(sql).expect("prepare");
        let mut rows = stmt.query(params).expect("query");
        let mut k = 0;
        while let Some(r) = rows.next().expect("row") {
            let _: String = r.get(1).expect("column");
            k += 1;
        }
        k
    };
    measure("schema 2: snapshot (day_files)", 3000, |i| {
        n += v2_rows(
            "SELECT date, symbol, file_size_bytes, last_modified, contract_type FROM day_files WHERE date = ?",
            &[&day(i)],
        )
    });
    measure("schema 2: timeline", 2000, |i| {
        n += v2_rows(
            "SELECT date, symbol, available, file_size_bytes, status_code FROM daily_availability WHERE symbol = ?",
            &[&symbols[(i * 13) % symbols.len()]],
        )
    });
    measure("schema 2: range (one month, day_files)", 1000, |i| {
        let s = day(i).min(end - Days::days(31));
        n += v2_rows(
            "SELECT count(*), symbol, min(date), max(date) FROM day_files WHERE date BETWEEN ? AND ? GROUP BY symbol",
            &[&s, &(s + Days::days(30))],
        )
    });
    drop(v2);
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
    println!(
        "\nRead index: built by a handle's first snapshot in {:.0} ms; {index_bytes} bytes ({:.1} MB) for the rows with a file\n",
        index_built.as_secs_f64() * 1e3,
        index_bytes as f64 / 1e6,
    );
    println!("\n(checksum {n})");
}
