//! The Rust example of docs/queries.md, verbatim (tests/docs.rs checks that they are the same
//! text and runs this program against a database built from vision-sim).
//!
//! cargo run --release --example queries -- ~/.cache/binance-futures/availability.duckdb
use binance_futures_availability::{facts::ContractFilter, store::Database};
use chrono::NaiveDate;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or("availability.duckdb".into());
    let db = Database::open(path.as_ref())?; // read-only, like every query

    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).ok_or("not a date");

    let day = date(2024, 1, 15)?;
    let universe = db.snapshot(day, ContractFilter::Perpetual)?;
    println!("{} perpetuals had a file on {day}", universe.len());
    for row in universe.iter().take(3) {
        println!("  {} {:?} bytes", row.symbol, row.file_size_bytes);
    }

    let btc = db.timeline("BTCUSDT")?; // case-insensitive; unknown names are an error
    println!(
        "BTCUSDT: {} days with a file, first {:?}, gaps {:?}",
        btc.days_available(),
        btc.symbol.first_file_date,
        btc.gaps()
    );

    let q1 = db.range(date(2024, 1, 1)?, date(2024, 3, 31)?, ContractFilter::All)?;
    println!("{} symbols had a file in 2024 Q1", q1.len());
    Ok(())
}
