//! Shared test support: a simulated bucket, a temporary database, the real binary, and the
//! expected database computed from the corpus independently of the code under test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Duration, NaiveDate, Utc};
use vision_sim::{Corpus, CorpusSpec, SimOptions, SimServer, SymbolSpec};

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

pub fn days_ago(n: i64) -> NaiveDate {
    today() - Duration::days(n)
}

pub fn spec_symbol(
    name: &str,
    first: NaiveDate,
    last: NaiveDate,
    gaps: &[(NaiveDate, NaiveDate)],
) -> SymbolSpec {
    SymbolSpec {
        name: name.into(),
        first,
        last,
        gaps: gaps.to_vec(),
        size: None,
        other_intervals: vec![],
        zero_trade_tail: 0,
    }
}

/// A small bucket with every kind of name: unicode, settled, delivery, BUSD, gaps, stray keys.
pub fn small_spec() -> CorpusSpec {
    let root = "data/futures/um/daily/klines/";
    CorpusSpec {
        symbols: vec![
            SymbolSpec {
                other_intervals: vec!["1h".into()],
                ..spec_symbol(
                    "BTCUSDT",
                    day("2019-12-31"),
                    day("2024-03-01"),
                    &[(day("2021-02-22"), day("2021-02-26"))],
                )
            },
            spec_symbol("ETHUSDT", day("2019-12-31"), day("2024-03-01"), &[]),
            spec_symbol(
                "币安人生USDT",
                day("2024-01-10"),
                day("2024-02-20"),
                &[(day("2024-01-20"), day("2024-01-20"))],
            ),
            spec_symbol("ICPUSDT_SETTLED", day("2021-05-11"), day("2022-06-09"), &[]),
            spec_symbol("ICPUSDT", day("2022-09-28"), day("2024-03-01"), &[]),
            spec_symbol(
                "AERGOUSDTSETTLEDSETTLED",
                day("2023-06-01"),
                day("2023-07-01"),
                &[],
            ),
            spec_symbol("BTCUSDT_240329", day("2023-10-01"), day("2024-03-01"), &[]),
            spec_symbol("ADABUSD", day("2022-01-01"), day("2023-12-15"), &[]),
        ],
        stray_keys: vec![
            format!("{root}/"),
            format!("{root}BTCUSDT//"),
            format!("{root}BTCUSDT/1m/BTCUSDT-1m-2020-01-01.zip.tmp"),
            format!("{root}ETHUSDT/1m/BTCUSDT-1m-2021-01-01.zip"),
        ],
        as_of: None,
    }
}

/// A temporary database next to a running simulated bucket, and the binary pointed at both.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub sim: SimServer,
}

impl Env {
    pub fn new(corpus: Corpus) -> Env {
        Env::with_options(corpus, SimOptions::default())
    }

    /// The binary against any bucket vision-sim serves (the generated whole bucket too).
    pub fn with_bucket(bucket: vision_sim::Bucket) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("availability.duckdb");
        let sim = SimServer::start_bucket(bucket, SimOptions::default()).unwrap();
        Env { dir, db, sim }
    }

    pub fn with_options(corpus: Corpus, options: SimOptions) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("availability.duckdb");
        let sim = SimServer::start(corpus, options).unwrap();
        Env { dir, db, sim }
    }

    /// The binary with `--db`, the endpoints and fast retries set through the environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_binance-futures-availability"));
        c.env("BFA_DB", &self.db)
            .env("BFA_S3_URL", self.sim.s3_url())
            .env("BFA_DATA_URL", self.sim.data_url())
            .env("BFA_RETRY_BASE_MS", "1")
            .env("BFA_READ_TIMEOUT_MS", "2000")
            .env("NO_COLOR", "1")
            .env_remove("BFA_LOG");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and insists on success, showing stderr otherwise.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed with {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// `<db><suffix>`: the files the tool keeps next to the database.
pub fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Polls `done` every 20 ms until it holds, failing after `secs` seconds with `what`.
/// Waits on an observable condition, never on time alone.
pub fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One row of `daily_availability`, probe time left out.
pub type Row = (
    NaiveDate,
    String,
    bool,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i32>,
);

/// A running process's peak RSS in kB (`VmHWM` of its own address space), none once it has
/// exited. Not `wait4`'s `ru_maxrss`: Linux carries the spawning process's high-water mark into
/// the child's at `exec`, so a child of the test binary would count other tests' memory.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A read-only DuckDB connection to `db`, independent of the code under test.
pub fn read_only(db: &Path) -> duckdb::Connection {
    duckdb::Connection::open_with_flags(
        db,
        duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .unwrap(),
    )
    .unwrap()
}

/// The database's tables, constraints and indexes as DuckDB states them: two files with equal
/// catalogs answer the original's SQL alike.
pub fn catalog(db: &Path) -> Vec<String> {
    let conn = read_only(db);
    let mut stmt = conn
        .prepare(
            "SELECT sql FROM duckdb_tables() WHERE schema_name = 'main'
             UNION ALL SELECT table_name || ': ' || constraint_text FROM duckdb_constraints()
             WHERE schema_name = 'main'
             UNION ALL SELECT sql FROM duckdb_indexes() WHERE schema_name = 'main'
             ORDER BY 1",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every row of the database, by (symbol, date).
pub fn db_rows(db: &Path) -> Vec<Row> {
    db_rows_of(db, "daily_availability")
}

/// Every row of a view of the original's shape (`cm.daily_availability`), by (symbol, date).
pub fn db_rows_of(db: &Path, view: &str) -> Vec<Row> {
    let conn = read_only(db);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT date::VARCHAR, symbol, available, file_size_bytes, strftime(last_modified, '%Y-%m-%dT%H:%M:%SZ'), url, status_code
             FROM {view} ORDER BY symbol, date"
        ))
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            day(&r.get::<_, String>(0)?),
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// What the database must hold after listing `corpus` over `[start, end]`: each daily file, and
/// each day without one strictly between a symbol's first and last file as a verified absence.
pub fn expected_rows(corpus: &Corpus, start: NaiveDate, end: NaiveDate) -> Vec<Row> {
    expected_rows_in(corpus, "data/futures/um/daily/klines/", start, end)
}

/// `expected_rows` of the market whose daily klines folder is `root` (`vision_sim::CM_ROOT`).
pub fn expected_rows_in(corpus: &Corpus, root: &str, start: NaiveDate, end: NaiveDate) -> Vec<Row> {
    let mut by_symbol: BTreeMap<String, BTreeMap<NaiveDate, &vision_sim::Object>> = BTreeMap::new();
    for (symbol, date, o) in corpus.daily_1m_files_in(root) {
        if start <= date && date <= end {
            by_symbol
                .entry(symbol.to_string())
                .or_default()
                .insert(date, o);
        }
    }
    // The public address, whichever endpoint was listed (schema 3 derives it).
    let url = |symbol: &str, date: NaiveDate| {
        let key = format!("{root}{symbol}/1m/{symbol}-1m-{date}.zip");
        format!(
            "https://data.binance.vision/{}",
            percent_encoding::utf8_percent_encode(&key, URL_KEEP)
        )
    };
    let mut rows = Vec::new();
    for (symbol, files) in by_symbol {
        let (first, last) = (*files.keys().next().unwrap(), *files.keys().last().unwrap());
        for date in first.iter_days().take_while(|d| *d <= last) {
            rows.push(match files.get(&date) {
                Some(o) => (
                    date,
                    symbol.clone(),
                    true,
                    Some(o.size as i64),
                    Some(o.last_modified.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                    Some(url(&symbol, date)),
                    Some(200),
                ),
                None => (
                    date,
                    symbol.clone(),
                    false,
                    None,
                    None,
                    Some(url(&symbol, date)),
                    Some(404),
                ),
            });
        }
    }
    rows
}

/// `rows` are `expected`, row for row, or the counts and the first difference are told.
pub fn assert_same_rows(rows: &[Row], expected: &[Row]) {
    assert!(
        rows == expected,
        "{} rows against {}; first difference: {:?}",
        rows.len(),
        expected.len(),
        rows.iter().zip(expected).find(|(a, b)| a != b)
    );
}

pub const URL_KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// What the cross-client tests install: the stock DuckDB client and the DataFrame libraries the
/// docs' examples use, and moto and the AWS CLI for the third-party S3 server.
const PY_REQUIREMENTS: [&str; 7] = [
    "duckdb==2.0.1",
    "pandas==2.3.3",
    "polars==2.1.0",
    "pyarrow==26.0.1",
    "moto[server]==5.2.1",
    "awscli==1.45.11",
    "boto3==1.43.11",
];

/// A virtual environment under the target folder with [`PY_REQUIREMENTS`], created once per
/// machine (and topped up when the list changes); its interpreter.
pub fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("py-venv");
    let python = venv.join("bin").join("python");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(venv.with_extension("lock"))
        .unwrap();
    lock.lock().unwrap();
    let ready = venv.join("ready");
    let wanted = PY_REQUIREMENTS.join("\n");
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(wanted.as_str()) {
        if !python.exists() {
            let status = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3 is needed for the cross-client tests");
            assert!(status.success(), "python3 -m venv failed");
        }
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .args(PY_REQUIREMENTS)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "pip install of {PY_REQUIREMENTS:?} failed (PyPI must be reachable once)"
        );
        std::fs::write(&ready, wanted).unwrap();
    }
    python
}

/// Runs `cmd`, insisting on success and showing its stderr otherwise.
pub fn output_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed with {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `serve` running on an ephemeral loopback port against `env`'s database; stopped (SIGTERM)
/// when dropped.
pub struct Served {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    /// What it printed to stderr, as it prints it.
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Served {
    pub fn start(env: &Env, extra: &[&str]) -> Served {
        Served::start_logging(env, extra, "")
    }

    /// As `start`, with `BFA_LOG=log` (empty: unset, warnings only), to see its info lines.
    pub fn start_logging(env: &Env, extra: &[&str], log: &str) -> Served {
        use std::io::BufRead;
        let mut child = env
            .cmd()
            .env("BFA_LOG", log)
            .arg("serve")
            .args(if extra.contains(&"--addr") {
                &[][..]
            } else {
                &["--addr", "127.0.0.1:0"][..]
            })
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        let url = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("serve exited before listening: {seen}"))
                .unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if let Some(at) = line.find("http://") {
                let rest = &line[at..];
                break rest[..rest.find("/ ").unwrap()].to_string();
            }
        };
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(seen));
        let sink = std::sync::Arc::clone(&stderr);
        // Drained so that serve never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Served { child, url, stderr }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, as systemd stops it; how it exited.
    pub fn stop(mut self) -> std::process::ExitStatus {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

/// One stored trading day, as compared: (open, close, quote volume, trades, volume).
pub type TradeRow = (f64, f64, f64, u64, f64);

fn trade_row(t: &vision_sim::trading::DayTrade) -> TradeRow {
    let n = |s: &str| s.parse::<f64>().unwrap();
    (
        n(&t.open),
        n(&t.close),
        n(&t.quote_volume),
        t.trades,
        n(&t.volume),
    )
}

/// What `daily_trading` must hold after a backfill of `corpus`, from its objects alone: a day
/// of a month with a monthly file as that file writes it (`monthly_trade`); any other day with
/// a daily 1d file as that file writes it (`file_day`).
pub fn expected_trading(corpus: &Corpus) -> BTreeMap<(String, NaiveDate), TradeRow> {
    use chrono::Datelike;
    use vision_sim::ObjectKind;
    let mut monthly: std::collections::HashSet<(String, NaiveDate)> = Default::default();
    let mut rows = BTreeMap::new();
    let symbol_of = |key: &str| key.rsplit('/').nth(2).unwrap().to_string();
    // The rows each file states, in its market's shape: a daily file's row wins over a
    // monthly one's for its day.
    for o in corpus.objects() {
        if let ObjectKind::Monthly1d { first, .. } = o.kind {
            let symbol = symbol_of(&o.key);
            monthly.insert((symbol.clone(), first));
            for t in vision_sim::kline_rows(o).unwrap() {
                rows.insert((symbol.clone(), t.date), trade_row(&t));
            }
        }
    }
    for o in corpus.objects() {
        if let ObjectKind::Daily1d { date, .. } = o.kind {
            let symbol = symbol_of(&o.key);
            if !monthly.contains(&(symbol.clone(), date.with_day(1).unwrap())) {
                for t in vision_sim::kline_rows(o).unwrap() {
                    rows.insert((symbol.clone(), t.date), trade_row(&t));
                }
            }
        }
    }
    rows
}

/// Every row of `daily_trading`, read with a connection of its own.
pub fn db_trading(db: &Path) -> BTreeMap<(String, NaiveDate), TradeRow> {
    db_trading_of(db, "daily_trading")
}

/// Every row of a market's trading table (`cm.daily_trading`), as `db_trading` reads USD-M's.
pub fn db_trading_of(db: &Path, table: &str) -> BTreeMap<(String, NaiveDate), TradeRow> {
    let conn = read_only(db);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT symbol, date::VARCHAR, open, close, quote_volume, trades, volume FROM {table}"
        ))
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            (r.get::<_, String>(0)?, day(&r.get::<_, String>(1)?)),
            (
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get::<_, i64>(5)? as u64,
                r.get(6)?,
            ),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}
