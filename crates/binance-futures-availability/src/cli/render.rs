//! Output rendering: a readable table by default, JSON and CSV for programs.

use std::io::{self, Write};

use chrono::NaiveDate;
use comfy_table::{Cell, CellAlignment, Table, presets};
use serde::Serialize;

use crate::facts::ContractFilter;
use crate::store::{DayCount, RangeRow, SnapshotRow, Timeline};

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// One JSON array of objects.
    Json,
    /// A header line and one line per row.
    Csv,
}

fn json<T: Serialize>(out: &mut impl Write, rows: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, rows)?;
    writeln!(out)
}

fn csv<T: Serialize>(out: &mut impl Write, rows: &[T]) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for row in rows {
        w.serialize(row).map_err(io::Error::other)?;
    }
    w.flush()
}

/// JSON and CSV straight from the rows; the table from `table`.
fn emit<T: Serialize, W: Write>(
    out: &mut W,
    format: Format,
    rows: &[T],
    table: impl FnOnce(&mut W) -> io::Result<()>,
) -> io::Result<()> {
    match format {
        Format::Json => json(out, &rows),
        Format::Csv => csv(out, rows),
        Format::Table => table(out),
    }
}

fn table(header: &[&str], right: &[usize]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(header.iter().map(Cell::new));
    for &i in right {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

fn contract_name(c: ContractFilter) -> &'static str {
    match c {
        ContractFilter::Perpetual => "perpetual",
        ContractFilter::Delivery => "delivery",
        ContractFilter::All => "perpetual and delivery",
    }
}

pub fn snapshot(
    out: &mut impl Write,
    format: Format,
    date: NaiveDate,
    contract: ContractFilter,
    rows: &[SnapshotRow],
) -> io::Result<()> {
    emit(out, format, rows, |out| {
        writeln!(
            out,
            "{} {} symbols with a file on {date}",
            rows.len(),
            contract_name(contract)
        )?;
        let mut t = table(&["symbol", "file size", "last modified (UTC)"], &[1]);
        for r in rows {
            t.add_row(vec![
                r.symbol.clone(),
                opt(r.file_size_bytes),
                opt(r.last_modified.map(|t| t.format("%Y-%m-%d %H:%M:%S"))),
            ]);
        }
        if !rows.is_empty() {
            writeln!(out, "{t}")?;
        }
        Ok(())
    })
}

pub fn timeline(out: &mut impl Write, format: Format, t: &Timeline) -> io::Result<()> {
    emit(out, format, &t.days, |out| {
        let s = &t.symbol;
        let kind = format!(
            "{}{}{}",
            s.contract.as_str(),
            s.quote_asset
                .as_deref()
                .map(|q| format!(", quote {q}"))
                .unwrap_or_default(),
            if s.settled { ", settled" } else { "" }
        );
        writeln!(out, "{} ({kind})", s.symbol)?;
        writeln!(out, "  first day with a file  {}", opt(s.first_file_date))?;
        writeln!(out, "  last day with a file   {}", opt(s.last_file_date))?;
        writeln!(out, "  days available         {}", t.days_available())?;
        let checked = match (s.checked_from, s.checked_through) {
            (Some(f), Some(c)) => format!("{f} to {c}; later days not checked yet"),
            _ => "never listed completely (probed days only)".to_string(),
        };
        writeln!(out, "  checked                {checked}")?;
        let gaps = t.gaps();
        if gaps.is_empty() {
            writeln!(out, "  gaps                   none")?;
        } else {
            for (i, (from, to, verified)) in gaps.iter().enumerate() {
                let days = (*to - *from).num_days() + 1;
                let what = if *verified { "no file" } else { "not checked" };
                let label = if i == 0 { "gaps" } else { "" };
                writeln!(
                    out,
                    "  {label:<22} {from} to {to} ({days} day{}, {what})",
                    if days == 1 { "" } else { "s" }
                )?;
            }
        }
        writeln!(out)?;
        let mut table = table(&["date", "available", "file size", "status"], &[2, 3]);
        for d in &t.days {
            table.add_row(vec![
                d.date.to_string(),
                if d.available {
                    "yes".into()
                } else {
                    "no".into()
                },
                opt(d.file_size_bytes),
                opt(d.status_code),
            ]);
        }
        if !t.days.is_empty() {
            writeln!(out, "{table}")?;
        }
        Ok(())
    })
}

pub fn range(
    out: &mut impl Write,
    format: Format,
    start: NaiveDate,
    end: NaiveDate,
    rows: &[RangeRow],
) -> io::Result<()> {
    emit(out, format, rows, |out| {
        writeln!(
            out,
            "{} symbols with a file between {start} and {end}",
            rows.len()
        )?;
        let mut t = table(&["symbol", "days", "first", "last"], &[1]);
        for r in rows {
            t.add_row(vec![
                r.symbol.clone(),
                r.days_available.to_string(),
                r.first_date.to_string(),
                r.last_date.to_string(),
            ]);
        }
        if !rows.is_empty() {
            writeln!(out, "{t}")?;
        }
        Ok(())
    })
}

pub fn summary(out: &mut impl Write, format: Format, rows: &[DayCount]) -> io::Result<()> {
    emit(out, format, rows, |out| {
        let mut t = table(&["date", "perpetual", "delivery"], &[1, 2]);
        for r in rows {
            t.add_row(vec![
                r.date.to_string(),
                r.perpetual.to_string(),
                r.delivery.to_string(),
            ]);
        }
        writeln!(out, "{t}")
    })
}
