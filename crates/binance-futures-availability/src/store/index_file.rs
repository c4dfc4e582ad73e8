//! The read index file (ADR 0022): what a one-shot process (`query snapshot`, `range`,
//! `symbols`) answers from without opening DuckDB, whose instance start is ~25 ms of a 26 ms
//! `query snapshot` process (BENCHMARKS.md, issue 13).
//!
//! The writer writes `<db>.readidx` at publish (`WriteSession::publish`), from the closed copy,
//! just before it renames the copy over the database: every row with a file of each kept
//! market, 20 bytes each, by day then name (the order of `store::index`, which answers the
//! same questions from memory for long-lived handles), the folders (`symbols`), and the days
//! every folder was checked through ("checked since", "complete through").
//!
//! **The stamp.** The file starts with a stamp of the database it describes: device, inode,
//! size and modification time (in ns) of the copy as closed, and a copy of its first 12,288
//! bytes — DuckDB's main header and both database headers (each with its checkpoint iteration,
//! meta block and block count). A rename keeps all of them; a republish is another file (a
//! new inode from the copy, written later); a write in place changes the time and the
//! headers. A reader opens the database file with `open(2)`, compares `fstat` and the bytes it
//! reads through that same descriptor with the stamp (Windows' equivalents: `os`), and answers only on equality and without
//! a `<db>.wal` beside it (rows DuckDB would read with the file), so the answer is about the
//! file the path names at that instant. A crash between the index's rename
//! and the database's leaves an index stamped with the unpublished copy: it describes another
//! file than the published one, and is ignored until the next publish replaces it.
//!
//! **Never an error, never a false fact.** Anything the reader cannot answer exactly — no file,
//! another stamp or format or schema version, a market without a section, a day outside what
//! every folder was checked through (whose refusal needs the run log), bytes that do not parse
//! — gives `None`, and the caller asks DuckDB as before. The file is read as hostile input:
//! every offset and count is checked against the file's length before it is used, no
//! allocation is sized by a count the file states beyond what its length holds, and the file
//! is not read past `MAX_FILE_BYTES`.
//!
//! **Bounded.** The writer streams the rows from DuckDB (sorted by DuckDB under the writer's
//! memory limit) to the file; it holds only the names and one start per day. A market with
//! more than `MAX_INDEXED_ROWS` rows with a file (50 MB here), or a day stored twice for a
//! symbol (never by this tool; its order would be DuckDB's storage order) gets no section.
//!
//! What must not be known here: the questions as values (`question`), the command line, and
//! when to publish (`session`).

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::arrow::array::Array;

use super::read::{RangeRow, SnapshotRow, SymbolRecord};
use super::{Database, KEPT_MARKETS, MAX_INDEXED_ROWS, MemoryLimit, StoreError, files, os, schema};
use crate::facts::{Contract, ContractFilter, Market};

/// What the file starts with.
const MAGIC: &[u8; 8] = b"BFA-RIDX";
/// The layout below; a reader ignores a file of any other.
const FORMAT: u32 = 1;
/// The database's first bytes copied into the stamp: DuckDB's main header and its two database
/// headers, a 4,096-byte block each.
const HEAD_BYTES: usize = 12_288;
/// Sections (markets) the directory has room for; four markets exist on Vision.
const MAX_SECTIONS: usize = 8;
/// The fixed header: magic, format, schema, the stamp's stat fields, the head's length, the
/// section count, the directory (8 bytes of name, offset, length per section), and the
/// checksum of all that in its last 4 bytes.
const TOP: usize = 64 + MAX_SECTIONS * 24;
/// A section's fixed head: counts, first day, checked days, offsets, checksums.
const SECTION_HEAD: usize = 80;
/// One row with a file: the symbol's number (with two null flags), the size, the time.
const ENTRY: usize = 20;
/// The size of the symbol's number's flags: the size is null, the time is null.
const NULL_SIZE: u32 = 1 << 31;
const NULL_TIME: u32 = 1 << 30;
/// The most names a section holds: the number's bits below the flags.
const MAX_NAMES: usize = 1 << 30;
/// The most days from a section's first day to its last: a century (146 KB of starts), as
/// `store::index`.
const MAX_DAYS: usize = 36_525;
/// The largest file a reader looks at: every kept market at `MAX_INDEXED_ROWS` (50 MB each)
/// with room for names and days. A larger one is not read.
const MAX_FILE_BYTES: u64 = 4 * (MAX_INDEXED_ROWS as u64 * ENTRY as u64 + 16_000_000);
/// Entries a range reads at a time: 1.3 MB.
const RANGE_CHUNK: usize = 65_536;
/// A date's absence in the file.
const NO_DATE: i32 = i32::MIN;

/// The stamp of a database file: which file it is, and its first bytes.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
    head: Vec<u8>,
}

impl Stamp {
    /// The stamp of the open `file`, read through its descriptor.
    fn of(file: &File) -> std::io::Result<Stamp> {
        let os::Stat {
            dev,
            ino,
            len,
            mtime_ns,
        } = os::stat(file)?;
        let take = usize::try_from(len).map_or(HEAD_BYTES, |l| l.min(HEAD_BYTES));
        let mut head = vec![0; take];
        os::read_exact_at(file, &mut head, 0)?;
        Ok(Stamp {
            dev,
            ino,
            len,
            mtime_ns,
            head,
        })
    }
}

/// What publishing wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    /// The file's bytes.
    pub(crate) bytes: u64,
    /// Markets with a section.
    pub(crate) sections: usize,
}

/// Writes the index of the closed database `work` to `tmp` (a leftover removed first, created
/// exclusively), flushed to disk; the caller renames it into place before renaming `work`.
/// `Ok(None)` when `work` changed while it was read (nothing is left at `tmp`).
pub(crate) fn write(work: &Path, tmp: &Path) -> Result<Option<Written>, StoreError> {
    use super::io_failed as io;
    let file = File::open(work).map_err(io("opening for the read index", work))?;
    let stamp = Stamp::of(&file).map_err(io("reading the header of", work))?;
    let memory = MemoryLimit::from_env()?;
    let mut db = Database::wrap(super::connect_read_only_with(work, Some(memory))?, work);
    let version = schema::version(&db.conn)
        .map_err(db.err("reading the schema version"))?
        .unwrap_or(0);
    files::remove_if_present(tmp).map_err(io("removing a leftover", tmp))?;
    let out = os::open_no_follow(
        std::fs::OpenOptions::new().write(true).create_new(true),
        tmp,
    )
    .map_err(io("creating the read index", tmp))?;
    let written = (|| {
        let mut w = Out {
            w: BufWriter::with_capacity(1 << 20, out),
            pos: 0,
        };
        let io_tmp = |e| super::io_failed("writing the read index", tmp)(e);
        w.put(&[0; TOP]).map_err(io_tmp)?;
        w.put(&stamp.head).map_err(io_tmp)?;
        let mut directory = Vec::new();
        for market in KEPT_MARKETS {
            let Some(schema) = schema::schema_of(market) else {
                continue;
            };
            db.select_market(market)?;
            let start = w.pos;
            match section(&db, &mut w, tmp)? {
                true => directory.push((schema, start, w.pos - start)),
                false => {
                    tracing::info!(
                        "no read index for {market}: too many rows, or a day stored twice"
                    );
                    w.seek(start).map_err(io_tmp)?;
                }
            }
        }
        let end = w.pos;
        let mut top = Vec::with_capacity(TOP);
        top.extend_from_slice(MAGIC);
        top.extend_from_slice(&FORMAT.to_le_bytes());
        top.extend_from_slice(&version.to_le_bytes());
        top.extend_from_slice(&stamp.dev.to_le_bytes());
        top.extend_from_slice(&stamp.ino.to_le_bytes());
        top.extend_from_slice(&stamp.len.to_le_bytes());
        top.extend_from_slice(&stamp.mtime_ns.to_le_bytes());
        top.extend_from_slice(&(stamp.head.len() as u32).to_le_bytes());
        top.extend_from_slice(&(directory.len() as u32).to_le_bytes());
        for (schema, offset, length) in &directory {
            top.extend_from_slice(&tag(schema));
            top.extend_from_slice(&offset.to_le_bytes());
            top.extend_from_slice(&length.to_le_bytes());
        }
        top.resize(TOP - 4, 0);
        top.extend_from_slice(&crc32fast::hash(&top).to_le_bytes());
        w.seek(0).map_err(io_tmp)?;
        w.put(&top).map_err(io_tmp)?;
        let out = w.w.into_inner().map_err(|e| io_tmp(e.into_error()))?;
        out.set_len(end)
            .and_then(|()| out.sync_all())
            .map_err(io_tmp)?;
        Ok(Written {
            bytes: end,
            sections: directory.len(),
        })
    })();
    drop(db);
    // The copy is closed and the writer lock held, so nothing should change it; were it
    // changed, the stamp taken before the rows were read would not describe them.
    let unchanged = Stamp::of(&file).is_ok_and(|now| now == stamp);
    match written {
        Ok(written) if unchanged => Ok(Some(written)),
        other => {
            files::remove_if_present(tmp).map_err(io("removing", tmp))?;
            other.map(|_| None)
        }
    }
}

/// A day's checksum: its entries' bytes, then its first entry and the next day's. A changed
/// byte in either bound or in an entry changes it (CRC-32 detects every error of up to 32
/// consecutive bits), so a damaged day is never answered.
fn day_checksum(mut entries: crc32fast::Hasher, start: u32, end: u32) -> u32 {
    entries.update(&start.to_le_bytes());
    entries.update(&end.to_le_bytes());
    entries.finalize()
}

/// A section's name in the directory: the market's schema, zero-padded to 8 bytes.
fn tag(schema: &str) -> [u8; 8] {
    let mut t = [0; 8];
    let n = schema.len().min(8);
    t[..n].copy_from_slice(&schema.as_bytes()[..n]);
    t
}

/// The index being written, and where in it.
struct Out {
    w: BufWriter<File>,
    pos: u64,
}

impl Out {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.w.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }
    fn seek(&mut self, to: u64) -> std::io::Result<()> {
        self.w.seek(SeekFrom::Start(to))?;
        self.pos = to;
        Ok(())
    }
}

fn day_number(date: NaiveDate) -> i32 {
    (date - NaiveDate::default()).num_days() as i32
}

/// `None` for a day number chrono cannot hold (a hostile file): never a panic.
fn from_day_number(n: i32) -> Option<NaiveDate> {
    NaiveDate::default().checked_add_signed(chrono::TimeDelta::try_days(i64::from(n))?)
}

fn opt_day(date: Option<NaiveDate>) -> i32 {
    date.map_or(NO_DATE, day_number)
}

fn contract_byte(contract: Option<Contract>) -> u8 {
    match contract {
        None => 0,
        Some(Contract::Perpetual) => 1,
        Some(Contract::Delivery) => 2,
    }
}

fn contract_of(byte: u8) -> Option<Option<Contract>> {
    match byte {
        0 => Some(None),
        1 => Some(Some(Contract::Perpetual)),
        2 => Some(Some(Contract::Delivery)),
        _ => None,
    }
}

/// Appends `text` with its length (`u16::MAX` for `None`); `false` when too long.
fn put_text(block: &mut Vec<u8>, text: Option<&str>) -> bool {
    match text {
        None => block.extend_from_slice(&u16::MAX.to_le_bytes()),
        Some(t) => match u16::try_from(t.len()) {
            Ok(n) if n < u16::MAX => {
                block.extend_from_slice(&n.to_le_bytes());
                block.extend_from_slice(t.as_bytes());
            }
            _ => return false,
        },
    }
    true
}

/// Writes the section of `db`'s market at the writer's position; `false` (what was written
/// is to be dropped) when the market is not indexed.
fn section(db: &Database, w: &mut Out, tmp: &Path) -> Result<bool, StoreError> {
    let what = "reading the rows for the read index file";
    let io_tmp = |e| super::io_failed("writing the read index", tmp)(e);
    if super::index::indexable_rows(db, what)?.is_none() {
        return Ok(false);
    }
    let mut names: Vec<String> = db.rows(
        "SELECT DISTINCT symbol FROM daily_availability_facts WHERE available",
        [],
        what,
        |r| r.get(0),
    )?;
    // Byte order, as `str` and the scan's sort order them.
    names.sort_unstable();
    if names.len() > MAX_NAMES {
        return Ok(false);
    }
    let known = db.known()?;
    let mut names_block = Vec::new();
    for name in &names {
        names_block.push(contract_byte(known.get(name).map(|r| r.contract)));
        if !put_text(&mut names_block, Some(name)) {
            return Ok(false);
        }
    }
    let symbols = db.symbols()?;
    let mut symbols_block = Vec::new();
    for s in &symbols {
        if !put_text(&mut symbols_block, Some(&s.symbol))
            || !put_text(&mut symbols_block, s.quote_asset.as_deref())
        {
            return Ok(false);
        }
        symbols_block.push(contract_byte(Some(s.contract)));
        symbols_block.push(u8::from(s.settled));
        for d in [
            s.delivery_date,
            s.first_file_date,
            s.last_file_date,
            s.checked_from,
            s.checked_through,
        ] {
            symbols_block.extend_from_slice(&opt_day(d).to_le_bytes());
        }
    }
    let since = db.checked_since()?;
    let through = db.complete_through()?;
    let start = w.pos;
    w.put(&[0; SECTION_HEAD]).map_err(io_tmp)?;
    let names_off = w.pos;
    w.put(&names_block).map_err(io_tmp)?;
    let symbols_off = w.pos;
    w.put(&symbols_block).map_err(io_tmp)?;
    let entries_off = w.pos;
    // Sorted by DuckDB, which spills past the writer's memory limit: only one start per day is
    // held here.
    let mut stmt = db
        .conn
        .prepare(
            "SELECT symbol, date, file_size_bytes, last_modified FROM daily_availability_facts
             WHERE available ORDER BY date, symbol",
        )
        .map_err(db.err(what))?;
    // Per day: its first entry, and the checksum of its entries and bounds (`day_checksum`).
    let mut table: Vec<[u32; 2]> = Vec::new();
    let mut hasher = crc32fast::Hasher::new();
    let mut first_day = 0;
    let mut entries: u32 = 0;
    let mut last: Option<(i32, u32)> = None;
    for batch in stmt.query_arrow([]).map_err(db.err(what))? {
        let (symbol, date, size, modified) =
            super::index::file_columns(&batch).map_err(db.err(what))?;
        for row in 0..batch.num_rows() {
            let Ok(id) = names.binary_search_by(|n| n.as_str().cmp(symbol.value(row))) else {
                // A row that appeared since the names were read: the file is read-only.
                return Ok(false);
            };
            let id = id as u32;
            let day = date.value(row);
            if last == Some((day, id)) {
                return Ok(false);
            }
            if last.is_none() {
                first_day = day;
            }
            last = Some((day, id));
            let Some(d) = usize::try_from(i64::from(day) - i64::from(first_day))
                .ok()
                .filter(|d| *d < MAX_DAYS)
            else {
                return Ok(false);
            };
            while table.len() <= d {
                if let Some(open) = table.last_mut() {
                    open[1] = day_checksum(std::mem::take(&mut hasher), open[0], entries);
                }
                table.push([entries, 0]);
            }
            let mut number = id;
            if size.is_null(row) {
                number |= NULL_SIZE;
            }
            if modified.is_null(row) {
                number |= NULL_TIME;
            }
            let mut entry = [0u8; ENTRY];
            entry[..4].copy_from_slice(&number.to_le_bytes());
            entry[4..12].copy_from_slice(&size.value(row).to_le_bytes());
            entry[12..].copy_from_slice(&modified.value(row).to_le_bytes());
            hasher.update(&entry);
            w.put(&entry).map_err(io_tmp)?;
            entries += 1;
        }
    }
    drop(stmt);
    if let Some(open) = table.last_mut() {
        open[1] = day_checksum(hasher, open[0], entries);
    }
    let days = table.len() as u32;
    table.push([entries, 0]);
    let starts_off = w.pos;
    let bytes: Vec<u8> = table
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    w.put(&bytes).map_err(io_tmp)?;
    let end = w.pos;
    let mut head = Vec::with_capacity(SECTION_HEAD);
    head.extend_from_slice(&(names.len() as u32).to_le_bytes());
    head.extend_from_slice(&(symbols.len() as u32).to_le_bytes());
    head.extend_from_slice(&first_day.to_le_bytes());
    head.extend_from_slice(&days.to_le_bytes());
    head.extend_from_slice(&entries.to_le_bytes());
    head.extend_from_slice(&crc32fast::hash(&names_block).to_le_bytes());
    head.extend_from_slice(&opt_day(since).to_le_bytes());
    head.extend_from_slice(&opt_day(through).to_le_bytes());
    for offset in [names_off, symbols_off, symbols_off, entries_off, starts_off] {
        head.extend_from_slice(&offset.to_le_bytes());
    }
    head.extend_from_slice(&crc32fast::hash(&symbols_block).to_le_bytes());
    head.extend_from_slice(&crc32fast::hash(&head).to_le_bytes());
    debug_assert_eq!(head.len(), SECTION_HEAD);
    w.seek(start).map_err(io_tmp)?;
    w.put(&head).map_err(io_tmp)?;
    w.seek(end).map_err(io_tmp)?;
    Ok(true)
}

/// A market's section of a read index file whose stamp is the database's: what a one-shot
/// process answers from. Every method answers `None` for what it cannot answer exactly.
pub struct IndexFile {
    file: File,
    file_len: u64,
    names: Vec<(Option<Contract>, String)>,
    /// The symbols' block: from, to, records, checksum.
    symbols: (u64, u64, u32, u32),
    first_day: i32,
    days: u32,
    entries: u32,
    since: Option<NaiveDate>,
    through: Option<NaiveDate>,
    starts_off: u64,
    entries_off: u64,
}

/// Little-endian fields of a byte slice, checked: `None` past its end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.array()?))
    }
    fn text(&mut self) -> Option<Option<String>> {
        match self.u16()? {
            u16::MAX => Some(None),
            n => Some(Some(
                std::str::from_utf8(self.take(usize::from(n))?)
                    .ok()?
                    .to_string(),
            )),
        }
    }
    fn day(&mut self) -> Option<Option<NaiveDate>> {
        match self.i32()? {
            NO_DATE => Some(None),
            n => Some(Some(from_day_number(n)?)),
        }
    }
}

/// `len` bytes at `offset` of `file`, when they lie inside its first `file_len` bytes.
fn read_at(file: &File, file_len: u64, offset: u64, len: u64) -> Option<Vec<u8>> {
    if offset.checked_add(len)? > file_len {
        return None;
    }
    let mut buf = vec![0; usize::try_from(len).ok()?];
    os::read_exact_at(file, &mut buf, offset).ok()?;
    Some(buf)
}

impl IndexFile {
    /// The section of `market` in the read index beside `db`, if that index describes the file
    /// `db` names now; `None` otherwise, or when anything in it does not parse.
    pub fn open(db: &Path, market: Market) -> Option<IndexFile> {
        let resolved = files::resolve(db).ok()?;
        let file = File::open(files::Beside::of(&resolved).read_index()).ok()?;
        let file_len = file.metadata().ok()?.len();
        if file_len > MAX_FILE_BYTES {
            return None;
        }
        let top = read_at(&file, file_len, 0, TOP as u64)?;
        if crc32fast::hash(&top[..TOP - 4]).to_le_bytes() != top[TOP - 4..] {
            return None;
        }
        let mut c = Cursor { bytes: &top, at: 0 };
        if c.take(8)? != MAGIC || c.u32()? != FORMAT {
            return None;
        }
        // The database's schema, as `Database::open` would accept it.
        let version = c.i32()?;
        if !(schema::READABLE_FROM..=schema::SCHEMA_VERSION).contains(&version) {
            return None;
        }
        let (dev, ino, len) = (c.u64()?, c.u64()?, c.u64()?);
        let mtime_ns = i128::from_le_bytes(c.array()?);
        let head_len = c.u32()? as usize;
        let sections = c.u32()? as usize;
        if head_len > HEAD_BYTES || sections > MAX_SECTIONS {
            return None;
        }
        let head = read_at(&file, file_len, TOP as u64, head_len as u64)?;
        let stamp = Stamp {
            dev,
            ino,
            len,
            mtime_ns,
            head,
        };
        let database = File::open(&resolved).ok()?;
        if Stamp::of(&database).ok()? != stamp {
            return None;
        }
        // A write in place not checkpointed (a library user's handle, killed) leaves the file as
        // stamped and its rows in `<db>.wal`, which DuckDB reads with the file.
        if files::Beside::of(&resolved).wal().exists() {
            return None;
        }
        let want = tag(schema::schema_of(market)?);
        let (offset, length) = (0..sections).find_map(|_| {
            let t: [u8; 8] = c.array()?;
            let (offset, length) = (c.u64()?, c.u64()?);
            (t == want).then_some((offset, length))
        })?;
        let section_end = offset.checked_add(length)?.min(file_len);
        let head = read_at(&file, section_end, offset, SECTION_HEAD as u64)?;
        if crc32fast::hash(&head[..SECTION_HEAD - 4]).to_le_bytes() != head[SECTION_HEAD - 4..] {
            return None;
        }
        let mut c = Cursor {
            bytes: &head,
            at: 0,
        };
        let (names, symbols, first_day, days, entries, names_crc) =
            (c.u32()?, c.u32()?, c.i32()?, c.u32()?, c.u32()?, c.u32()?);
        let (since, through) = (c.day()?, c.day()?);
        let (names_off, names_end, symbols_off, entries_off, starts_off) =
            (c.u64()?, c.u64()?, c.u64()?, c.u64()?, c.u64()?);
        let symbols_crc = c.u32()?;
        // Every block lies inside the section, in the order written.
        let entries_len = u64::from(entries).checked_mul(ENTRY as u64)?;
        let starts_len = (u64::from(days) + 1) * 8;
        let ordered = offset.checked_add(SECTION_HEAD as u64)? == names_off
            && names_off <= names_end
            && names_end == symbols_off
            && symbols_off <= entries_off
            && entries_off.checked_add(entries_len)? == starts_off
            && starts_off.checked_add(starts_len)? <= section_end
            && days as usize <= MAX_DAYS
            && (names as usize) <= MAX_NAMES;
        if !ordered {
            return None;
        }
        let block = read_at(&file, section_end, names_off, names_end - names_off)?;
        if crc32fast::hash(&block) != names_crc {
            return None;
        }
        let mut c = Cursor {
            bytes: &block,
            at: 0,
        };
        // Each name takes at least 3 bytes, so the count is bounded by the block just read.
        let mut parsed = Vec::with_capacity((names as usize).min(block.len() / 3));
        for _ in 0..names {
            let contract = contract_of(c.u8()?)?;
            parsed.push((contract, c.text()??));
        }
        Some(IndexFile {
            file,
            file_len: section_end,
            names: parsed,
            symbols: (symbols_off, entries_off, symbols, symbols_crc),
            first_day,
            days,
            entries,
            since,
            through,
            starts_off,
            entries_off,
        })
    }

    /// Whether `day` is one `Database::require_checked` lets through (outside, the refusal's
    /// sentence needs the run log: the scan says it).
    fn checked(&self, day: NaiveDate) -> bool {
        self.since.is_none_or(|since| day >= since) && self.through.is_some_and(|t| day <= t)
    }

    fn admits(&self, symbol: usize, contracts: ContractFilter) -> bool {
        match contracts {
            ContractFilter::All => true,
            _ => self.names[symbol].0.is_some_and(|c| contracts.admits(c)),
        }
    }

    /// Days `first..=last` of the section (numbers within it, `last` inside): each one's
    /// first entry, the entry after it, and its checksum.
    fn day_table(&self, first: u32, last: u32) -> Option<Vec<(u32, u32, u32)>> {
        if first > last || last >= self.days {
            return None;
        }
        let bytes = read_at(
            &self.file,
            self.file_len,
            self.starts_off + u64::from(first) * 8,
            (u64::from(last - first) + 2) * 8,
        )?;
        let pairs: Vec<(u32, u32)> = bytes
            .chunks_exact(8)
            .map(|p| {
                (
                    u32::from_le_bytes([p[0], p[1], p[2], p[3]]),
                    u32::from_le_bytes([p[4], p[5], p[6], p[7]]),
                )
            })
            .collect();
        pairs
            .windows(2)
            .map(|w| {
                let ((a, crc), (b, _)) = (w[0], w[1]);
                (a <= b && b <= self.entries).then_some((a, b, crc))
            })
            .collect()
    }

    /// Day `(a, b, crc)`'s entries, `(symbol, size, time)`, read `RANGE_CHUNK` at a time into
    /// `each`; `None` when the checksum says the day is damaged (`each` may have seen some).
    fn day_entries(
        &self,
        (a, b, crc): (u32, u32, u32),
        mut each: impl FnMut(usize, Option<i64>, Option<i64>),
    ) -> Option<()> {
        let mut hasher = crc32fast::Hasher::new();
        let mut at = a;
        while at < b {
            let to = b.min(at.saturating_add(RANGE_CHUNK as u32));
            let bytes = read_at(
                &self.file,
                self.file_len,
                self.entries_off + u64::from(at) * ENTRY as u64,
                u64::from(to - at) * ENTRY as u64,
            )?;
            hasher.update(&bytes);
            for e in bytes.chunks_exact(ENTRY) {
                let mut c = Cursor { bytes: e, at: 0 };
                let number = c.u32()?;
                let (size, time) = (c.i64()?, c.i64()?);
                let symbol = (number & !(NULL_SIZE | NULL_TIME)) as usize;
                if symbol >= self.names.len() {
                    return None;
                }
                each(
                    symbol,
                    (number & NULL_SIZE == 0).then_some(size),
                    (number & NULL_TIME == 0).then_some(time),
                );
            }
            at = to;
        }
        (day_checksum(hasher, a, b) == crc).then_some(())
    }

    /// The day's number in the section, or `None` for a day outside it (no row).
    fn day_in(&self, date: NaiveDate) -> Option<u32> {
        u32::try_from(i64::from(day_number(date)) - i64::from(self.first_day))
            .ok()
            .filter(|d| *d < self.days)
    }

    /// `Database::snapshot`'s rows for a checked `date`.
    pub fn snapshot(&self, date: NaiveDate, contracts: ContractFilter) -> Option<Vec<SnapshotRow>> {
        if !self.checked(date) {
            return None;
        }
        let Some(d) = self.day_in(date) else {
            return Some(Vec::new());
        };
        let day = *self.day_table(d, d)?.first()?;
        // Sized by the day's entries, at most a chunk's: the count is the file's word.
        let mut rows = Vec::with_capacity(((day.1 - day.0) as usize).min(RANGE_CHUNK));
        self.day_entries(day, |symbol, size, time| {
            if self.admits(symbol, contracts) {
                rows.push(SnapshotRow {
                    symbol: self.names[symbol].1.clone(),
                    file_size_bytes: size,
                    // As `store::index`: a time chrono cannot hold reads as none.
                    last_modified: time.and_then(DateTime::<Utc>::from_timestamp_micros),
                });
            }
        })?;
        Some(rows)
    }

    /// `Database::range`'s rows for checked `start` and `end`.
    pub fn range(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        contracts: ContractFilter,
    ) -> Option<Vec<RangeRow>> {
        if !self.checked(start) || !self.checked(end) || start > end || self.days == 0 {
            return None;
        }
        // Clipped to the section's days: a range over centuries costs what the file holds.
        let lo = (i64::from(day_number(start)) - i64::from(self.first_day)).max(0);
        let hi =
            (i64::from(day_number(end)) - i64::from(self.first_day)).min(i64::from(self.days) - 1);
        let mut seen: Vec<(i64, i32, i32)> = vec![(0, i32::MAX, i32::MIN); self.names.len()];
        if lo <= hi {
            let (lo, hi) = (u32::try_from(lo).ok()?, u32::try_from(hi).ok()?);
            for (i, day) in self.day_table(lo, hi)?.into_iter().enumerate() {
                let n = i32::try_from(i64::from(self.first_day) + i64::from(lo) + i as i64).ok()?;
                self.day_entries(day, |symbol, _, _| {
                    let s = &mut seen[symbol];
                    *s = (s.0 + 1, s.1.min(n), s.2.max(n));
                })?;
            }
        }
        seen.iter()
            .enumerate()
            .filter(|(symbol, s)| s.0 > 0 && self.admits(*symbol, contracts))
            .map(|(symbol, &(days, first, last))| {
                Some(RangeRow {
                    symbol: self.names[symbol].1.clone(),
                    days_available: days,
                    first_date: from_day_number(first)?,
                    last_date: from_day_number(last)?,
                })
            })
            .collect()
    }

    /// `Database::symbols`'s rows.
    pub fn symbols(&self) -> Option<Vec<SymbolRecord>> {
        let (from, to, count, crc) = self.symbols;
        let block = read_at(&self.file, self.file_len, from, to.checked_sub(from)?)?;
        if crc32fast::hash(&block) != crc {
            return None;
        }
        let mut c = Cursor {
            bytes: &block,
            at: 0,
        };
        // Each record takes at least 26 bytes.
        let mut records = Vec::with_capacity((count as usize).min(block.len() / 26));
        for _ in 0..count {
            let symbol = c.text()??;
            let quote_asset = c.text()?;
            let contract = contract_of(c.u8()?)??;
            let settled = match c.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            };
            records.push(SymbolRecord {
                symbol,
                contract,
                quote_asset,
                settled,
                delivery_date: c.day()?,
                first_file_date: c.day()?,
                last_file_date: c.day()?,
                checked_from: c.day()?,
                checked_through: c.day()?,
            });
        }
        (c.at == block.len()).then_some(records)
    }
}
