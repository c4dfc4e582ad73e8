//! The in-process snapshot latency on a given database file, for comparing front ends on the
//! same file in the same run (crates/python/bench/bench.py runs it beside the Python calls).
//!
//! cargo run --release --example time_snapshot -- FILE [DATE] [ITERATIONS]
//! prints `p50_ms p99_ms` of `Database::snapshot(DATE, Perpetual)`.
use std::time::Instant;

use binance_futures_availability::{facts::ContractFilter, store::Database};
use chrono::NaiveDate;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: time_snapshot FILE [DATE] [ITERATIONS]")?;
    let day = NaiveDate::parse_from_str(&args.next().unwrap_or("2024-01-15".into()), "%Y-%m-%d")?;
    let iterations: usize = args.next().unwrap_or("2000".into()).parse()?;
    let db = Database::open(path.as_ref())?;
    // Warm up as the Python bench does: the first call reads the symbols once per handle.
    for _ in 0..iterations / 10 {
        db.snapshot(day, ContractFilter::Perpetual)?;
    }
    let mut samples: Vec<f64> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            let rows = db.snapshot(day, ContractFilter::Perpetual);
            let elapsed = t.elapsed().as_secs_f64() * 1e3;
            rows.map(|_| elapsed)
        })
        .collect::<Result<_, _>>()?;
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    println!("{:.4} {:.4}", at(0.5), at(0.99));
    Ok(())
}
