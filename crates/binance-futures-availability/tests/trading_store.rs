//! The trading tables on real DuckDB files: a daily file's day wins over a monthly file's, in
//! whichever order they come and within one batch, and the difference is recorded once; a
//! monthly file fills the days without one; each file's version is kept for the next plan;
//! availability writes and trading writes never touch each other's rows.

use crate::common;

use binance_futures_availability::facts::{DailyTrading, DayRange, Month, Span};
use binance_futures_availability::store::{
    AvailabilityRow, Batch, Database, ReadFile, Seen, StoreError, SymbolUpdate, TradingFile,
};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use common::day;

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 3, hour, 0, 0).unwrap()
}

fn trade(date: &str, quote_volume: f64, trades: u64) -> DailyTrading {
    DailyTrading {
        date: day(date),
        open: 1.0,
        high: 2.0,
        low: 0.5,
        close: 1.5,
        volume: quote_volume / 1.25,
        quote_volume,
        trades,
        taker_buy_volume: 1.0,
        taker_buy_quote_volume: 1.25,
    }
}

fn daily(symbol: &str, t: DailyTrading) -> TradingFile {
    TradingFile {
        symbol: symbol.into(),
        span: Span::Day(t.date),
        size: 600,
        last_modified: at(8),
        days: vec![t],
    }
}

fn monthly(symbol: &str, days: Vec<DailyTrading>) -> TradingFile {
    TradingFile {
        symbol: symbol.into(),
        span: Span::Month(Month::of(days[0].date)),
        size: 9_000,
        last_modified: at(3),
        days,
    }
}

fn quote_volumes(db: &Database, symbol: &str) -> Vec<(NaiveDate, f64)> {
    db.trading(symbol, day("2024-01-01"), day("2024-12-31"))
        .unwrap()
        .iter()
        .map(|t| (t.date, t.quote_volume))
        .collect()
}

fn fresh() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_for_write(&dir.path().join("t.duckdb")).unwrap();
    (dir, db)
}

#[test]
fn the_daily_value_stays_and_each_disagreement_is_recorded_once_in_any_order() {
    let feb = |qv_10: f64| {
        vec![
            trade("2024-02-09", 90.0, 9),
            trade("2024-02-10", qv_10, 10),
            trade("2024-02-11", 110.0, 11),
        ]
    };
    // Daily first, then the month (which says 101 for the 10th).
    let (_d1, mut a) = fresh();
    a.write_trading(&[daily("BTCUSDT", trade("2024-02-10", 100.0, 10))])
        .unwrap();
    a.write_trading(&[monthly("BTCUSDT", feb(101.0))]).unwrap();
    // The month first, then the daily file.
    let (_d2, mut b) = fresh();
    b.write_trading(&[monthly("BTCUSDT", feb(101.0))]).unwrap();
    b.write_trading(&[daily("BTCUSDT", trade("2024-02-10", 100.0, 10))])
        .unwrap();
    // Both in one batch.
    let (_d3, mut c) = fresh();
    c.write_trading(&[
        monthly("BTCUSDT", feb(101.0)),
        daily("BTCUSDT", trade("2024-02-10", 100.0, 10)),
    ])
    .unwrap();
    let expected = vec![
        (day("2024-02-09"), 90.0),
        (day("2024-02-10"), 100.0),
        (day("2024-02-11"), 110.0),
    ];
    for db in [&a, &b, &c] {
        assert_eq!(quote_volumes(db, "BTCUSDT"), expected);
        let found = db.trading_disagreements().unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (
                found[0].date,
                found[0].daily_quote_volume,
                found[0].monthly_quote_volume
            ),
            (day("2024-02-10"), 100.0, 101.0)
        );
    }
    // Agreeing files record nothing, and writing the same files again changes no value.
    let (_d4, mut e) = fresh();
    e.write_trading(&[daily("ETHUSDT", trade("2024-02-10", 100.0, 10))])
        .unwrap();
    e.write_trading(&[monthly("ETHUSDT", feb(100.0))]).unwrap();
    e.write_trading(&[monthly("ETHUSDT", feb(100.0))]).unwrap();
    assert!(e.trading_disagreements().unwrap().is_empty());
    assert_eq!(quote_volumes(&e, "ETHUSDT").len(), 3);
}

#[test]
fn a_changed_file_replaces_its_days_and_its_version_is_kept() {
    let (_dir, mut db) = fresh();
    let jan = |qv: f64| {
        monthly(
            "币安人生USDT",
            vec![trade("2024-01-30", qv, 1), trade("2024-01-31", qv, 0)],
        )
    };
    db.write_trading(&[jan(5.0)]).unwrap();
    let mut replaced = jan(7.0);
    replaced.size = 9_100;
    replaced.last_modified = at(9);
    assert_eq!(db.write_trading(&[replaced]).unwrap(), 2);
    assert_eq!(
        quote_volumes(&db, "币安人生USDT"),
        vec![(day("2024-01-30"), 7.0), (day("2024-01-31"), 7.0)]
    );
    // A re-uploaded monthly file is not a disagreement with itself.
    assert!(db.trading_disagreements().unwrap().is_empty());
    assert_eq!(
        db.trading_files("币安人生USDT").unwrap(),
        vec![ReadFile {
            span: Span::Month(Month::new(2024, 1).unwrap()),
            size: 9_100,
            last_modified: at(9),
        }]
    );
    let days = db
        .trading("币安人生USDT", day("2024-01-01"), day("2024-01-31"))
        .unwrap();
    assert_eq!(
        days.iter().map(|t| t.tradable()).collect::<Vec<_>>(),
        [true, false]
    );

    let twice = [
        daily("X", trade("2024-02-10", 1.0, 1)),
        daily("X", trade("2024-02-10", 2.0, 1)),
    ];
    let e = db.write_trading(&twice).unwrap_err();
    assert!(matches!(e, StoreError::DuplicateTradingFile { .. }), "{e}");
    assert!(
        e.to_string().contains("X's file for 2024-02-10 twice"),
        "{e}"
    );
    assert!(
        quote_volumes(&db, "X").is_empty(),
        "nothing of a refused batch is stored"
    );
}

#[test]
fn availability_and_trading_writes_never_touch_each_others_rows() {
    let (_dir, mut db) = fresh();
    db.write_trading(&[daily("BTCUSDT", trade("2024-02-10", 100.0, 10))])
        .unwrap();
    let row = |seen| AvailabilityRow {
        date: day("2024-02-10"),
        symbol: "BTCUSDT".into(),
        seen,
        probe_timestamp: at(10),
    };
    db.write_batch(&Batch {
        rows: vec![row(Seen::File {
            size: 57_000,
            last_modified: Some(at(7)),
        })],
        symbols: vec![SymbolUpdate {
            symbol: "BTCUSDT".into(),
            class: binance_futures_availability::vision::Market::Um.classify("BTCUSDT"),
            first_file_date: Some(day("2024-02-10")),
            last_file_date: Some(day("2024-02-10")),
            checked: Some(DayRange::day(day("2024-02-10"))),
        }],
    })
    .unwrap();
    db.write_batch(&Batch {
        rows: vec![row(Seen::Absent)],
        symbols: vec![],
    })
    .unwrap();
    assert_eq!(
        quote_volumes(&db, "BTCUSDT"),
        vec![(day("2024-02-10"), 100.0)]
    );
    db.write_trading(&[daily("BTCUSDT", trade("2024-02-10", 120.0, 12))])
        .unwrap();
    let days = db.timeline("BTCUSDT").unwrap().days;
    assert_eq!(
        days.len(),
        1,
        "the availability row is the one written, alone"
    );
    assert!(!days[0].available);
}
