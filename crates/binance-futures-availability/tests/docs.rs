//! The documentation, executed: what README.md and docs/*.md show is what the tool does.
//!
//! One database is built the way the README's "Try it offline" builds it — `update` against
//! vision-sim's realistic bucket — with the bucket fixed at [`AS_OF`], so the docs' numbers do
//! not move from day to day. Then:
//! - every ```` ```console ```` block runs with [trycmd] (the harness clap uses for its own
//!   docs): each `$ command` must print what follows it (stdout and stderr together) and exit as
//!   its `? code` line says (0 when there is none). `[..]` elides part of a line, `...` lines,
//!   `[DB]` stands for the database's path. After a deliberate change, `TRYCMD=overwrite cargo
//!   test --release --test integration docs::` rewrites the blocks; review the diff;
//! - every `bfa …` / `binance-futures-availability …` / `cargo run --release -- …` line of a
//!   ```` ```bash ```` block (examples too long-running, or with side effects, to execute here)
//!   must parse with today's command line, synopsis brackets included: `[--format table|json]`
//!   is tried as `--format table`, `[START END]` and `[--x …]` are dropped;
//! - the Rust example of docs/queries.md is `examples/queries.rs`, word for word, and prints
//!   what the doc shows after it;
//! - every ```` ```python ```` block runs with the stock `duckdb`, pandas and polars, in a
//!   folder whose `availability.duckdb` is that database and whose `bfa-export/` is its
//!   `export` (and `catalog-export/` the `catalog export` of its bucket's catalog).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use clap::Parser;
use common::{Env, day};

/// The morning the simulated bucket shows: files through the day before. Earlier than the day
/// the docs were written, so that every run of this test already lives "days later" and the
/// docs elide what depends on the real date (how far `update` checked, the run's times).
const AS_OF: &str = "2026-11-20";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// README.md and every Markdown file under docs/.
fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    let mut dirs = vec![repo().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A fenced block: its info string's language, first content line (1-based) and text.
struct Block {
    lang: String,
    line: usize,
    text: String,
}

fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    lang: info.trim().to_string(),
                    line: i + 2,
                    text: String::new(),
                })
            }
            (Some(_), Some("")) => out.extend(open.take()),
            (Some(b), _) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(
        open.is_none(),
        "{}: a code block is never closed",
        path.display()
    );
    out
}

/// The database every example asks, built once per test process.
fn built() -> &'static Env {
    static BUILT: OnceLock<Env> = OnceLock::new();
    BUILT.get_or_init(|| {
        let env = Env::new(vision_sim::realistic(day(AS_OF)));
        env.ok(&["update", "--quiet"]);
        env
    })
}

/// The catalog of the docs' bucket (`catalog update` beside the built database), crawled once
/// per test process for the examples that read its `catalog export`.
fn built_catalog() -> &'static Path {
    static CATALOG: OnceLock<PathBuf> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let env = built();
        let catalog = env.dir.path().join("docs-catalog.duckdb");
        env.ok(&[
            "catalog",
            "--catalog",
            catalog.to_str().unwrap(),
            "update",
            "-q",
        ]);
        catalog
    })
}

/// A private copy of the built database, named as the docs name it.
fn copy_of_built() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("availability.duckdb");
    std::fs::copy(&built().db, &db).unwrap();
    (dir, db)
}

#[test]
fn console_examples_print_what_the_docs_show() {
    let files: Vec<PathBuf> = doc_files()
        .into_iter()
        .filter(|f| blocks(f).iter().any(|b| b.lang == "console"))
        .collect();
    assert!(
        files.len() >= 3,
        "the README and the guides show command output: {files:?}"
    );
    let env = built();
    let exe = Path::new(env!("CARGO_BIN_EXE_binance-futures-availability"));
    for file in files {
        // Each file gets its own copy: examples that write must not change another's answers.
        let (_dir, db) = copy_of_built();
        trycmd::TestCases::new()
            .case(&file)
            .register_bin("bfa", exe)
            .register_bin("binance-futures-availability", exe)
            .env("BFA_DB", db.display().to_string())
            .env("BFA_S3_URL", env.sim.s3_url())
            .env("BFA_DATA_URL", env.sim.data_url())
            .env("BFA_RETRY_BASE_MS", "1")
            .env("NO_COLOR", "1")
            // `--help` wraps to the terminal's width, else COLUMNS', else 100.
            .env("COLUMNS", "100")
            .env("TZ", "UTC")
            .insert_var("[DB]", db.display().to_string())
            .unwrap()
            .insert_var(
                "[CATALOG]",
                db.with_file_name("catalog.duckdb").display().to_string(),
            )
            .unwrap()
            .run();
    }
}

/// `[--format table|json]` → `--format table`; `[START END]`, `[--format …]` → nothing.
fn expand_synopsis(segment: &str) -> String {
    let mut out = String::new();
    let mut rest = segment;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        let placeholder = inner
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == ' ' || c == '_');
        if !inner.contains('…') && !placeholder {
            let first_alternatives: Vec<&str> = inner
                .split(' ')
                .map(|w| w.split('|').next().unwrap_or(w))
                .collect();
            out.push_str(&first_alternatives.join(" "));
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// The tool's arguments in one shell line, if the line runs the tool.
fn tool_args(segment: &str) -> Option<Vec<String>> {
    let words = shlex::split(&expand_synopsis(segment))?;
    let mut words = words
        .into_iter()
        .skip_while(|w| w.contains('=') && !w.starts_with('-'));
    let program = words.next()?;
    let words: Vec<String> = words.collect();
    match program.as_str() {
        "bfa" | "binance-futures-availability" => Some(words),
        "cargo" if words.starts_with(&["run".into(), "--release".into(), "--".into()]) => {
            Some(words[3..].to_vec())
        }
        _ => None,
    }
}

#[test]
fn every_command_line_in_the_docs_parses() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for file in doc_files() {
        for block in blocks(&file) {
            if block.lang != "bash" {
                continue;
            }
            for (i, line) in block.text.lines().enumerate() {
                // Shell variables are the reader's to fill in.
                if line.contains('$') {
                    continue;
                }
                for segment in line.split(" && ").flat_map(|s| s.split(" | ")) {
                    let Some(args) = tool_args(segment) else {
                        continue;
                    };
                    checked += 1;
                    let argv = std::iter::once("binance-futures-availability".to_string())
                        .chain(args.iter().cloned());
                    use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
                    let refused = match binance_futures_availability::cli::Cli::try_parse_from(argv)
                    {
                        Ok(_) => None,
                        // `--help` and `--version` parse: clap reports them as what to print.
                        Err(e) if matches!(e.kind(), DisplayHelp | DisplayVersion) => None,
                        Err(e) => Some(e),
                    };
                    if let Some(e) = refused {
                        wrong.push(format!(
                            "{}:{}: `{}` does not parse: {}",
                            file.display(),
                            block.line + i,
                            segment.trim(),
                            e.render()
                        ));
                    }
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} command lines found");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn synopsis_brackets_expand_to_a_command_line() {
    let cases = [
        (
            "bfa query snapshot 2024-01-15 [--contract perpetual|all] [--format …]",
            "bfa query snapshot 2024-01-15 --contract perpetual ",
        ),
        ("bfa query summary [START END]", "bfa query summary "),
        (
            "bfa backup /b.duckdb [--force]",
            "bfa backup /b.duckdb --force",
        ),
        (
            "bfa validate [--exchange-info FILE|URL]",
            "bfa validate --exchange-info FILE",
        ),
    ];
    for (synopsis, line) in cases {
        assert_eq!(expand_synopsis(synopsis), line, "{synopsis}");
    }
    assert_eq!(
        tool_args("BFA_DB=/x cargo run --release -- update --lookback 5"),
        Some(vec!["update".into(), "--lookback".into(), "5".into()])
    );
    assert_eq!(
        tool_args("cargo run --release -p vision-sim -- --addr x"),
        None
    );
    assert_eq!(
        tool_args("sudo install target/release/bfa /usr/local/bin/"),
        None
    );
}

/// The text of `examples/queries.rs` without its leading `//!` lines.
fn example_source() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/queries.rs");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip_while(|l| l.starts_with("//!"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `cargo test` builds the examples beside the test binaries: `target/<profile>/examples/`.
fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run the whole suite (`cargo test --release --workspace`), which builds \
         the examples, or `cargo build --release --examples` first",
        path.display()
    );
    path
}

#[test]
fn the_rust_example_is_the_shipped_example_and_prints_what_the_doc_shows() {
    let doc = repo().join("docs/queries.md");
    let blocks = blocks(&doc);
    let at = blocks
        .iter()
        .position(|b| b.lang == "rust")
        .expect("docs/queries.md shows a Rust example");
    assert_eq!(
        blocks[at].text,
        example_source(),
        "docs/queries.md's Rust example and examples/queries.rs differ"
    );
    let shown = blocks
        .get(at + 1)
        .filter(|b| b.lang == "text")
        .expect("the Rust example is followed by a ```text block with what it prints");
    let (_dir, db) = copy_of_built();
    let out = common::output_ok(Command::new(example_binary("queries")).arg(&db));
    snapbox::Assert::new().eq(String::from_utf8(out.stdout).unwrap(), shown.text.as_str());
}

#[test]
fn python_examples_run_with_the_stock_duckdb_client() {
    let python = common::python();
    let mut ran = 0;
    for file in doc_files() {
        for block in blocks(&file).into_iter().filter(|b| b.lang == "python") {
            let (dir, db) = copy_of_built();
            if block.text.contains("bfa-export") {
                let export = dir.path().join("bfa-export").display().to_string();
                built().ok(&["--db", &db.display().to_string(), "export", &export]);
            }
            if block.text.contains("catalog-export") {
                let export = dir.path().join("catalog-export").display().to_string();
                let catalog = built_catalog().display().to_string();
                built().ok(&["catalog", "--catalog", &catalog, "export", "-q", &export]);
            }
            let out = Command::new(&python)
                .arg("-c")
                .arg(&block.text)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}:{}: the Python example failed:\n{}",
                file.display(),
                block.line,
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 2, "only {ran} Python examples found");
}

/// Whether `actual` is `expected` with each `[..]` standing for any text.
fn line_matches(expected: &str, actual: &str) -> bool {
    let mut pieces = expected.split("[..]");
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    for (i, piece) in pieces.iter().enumerate() {
        if i + 1 == pieces.len() {
            return rest.ends_with(piece);
        }
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// docs/api.md's ```` ```http ```` blocks (request, headers; then status, headers shown, body)
/// are asked of `serve` on the docs' database, and its ```` ```python serve ```` blocks run
/// against it.
#[test]
fn api_examples_answer_what_the_docs_show() {
    let served = common::Served::start(built(), &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let file = repo().join("docs/api.md");
    let mut asked = 0;
    for block in blocks(&file) {
        let at = format!("{}:{}", file.display(), block.line);
        if block.lang == "python serve" {
            let code = block.text.replace("http://127.0.0.1:8080", &served.url);
            let out = Command::new(common::python())
                .arg("-c")
                .arg(&code)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{at}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        }
        if block.lang != "http" {
            continue;
        }
        let mut lines = block.text.lines();
        let request = lines.next().unwrap();
        let path = request.strip_prefix("GET ").expect("a GET request line");
        let mut get = client.get(format!("{}{path}", served.url));
        for header in lines.by_ref().take_while(|l| !l.is_empty()) {
            let (name, value) = header.split_once(": ").unwrap();
            get = get.header(name, value);
        }
        let response = rt.block_on(get.send()).unwrap();
        let status = lines.next().unwrap();
        assert_eq!(
            format!(
                "{} {}",
                response.status().as_u16(),
                response.status().canonical_reason().unwrap()
            ),
            status,
            "{at}"
        );
        for header in lines.by_ref().take_while(|l| !l.is_empty()) {
            let (name, value) = header.split_once(": ").unwrap();
            assert_eq!(
                response.headers().get(name).and_then(|v| v.to_str().ok()),
                Some(value),
                "{at}: header {name}"
            );
        }
        let body = rt.block_on(response.text()).unwrap();
        let expected: Vec<&str> = lines.collect();
        let (expected, open) = match expected.split_last() {
            Some((&"...", head)) => (head, true),
            _ => (&expected[..], false),
        };
        let actual: Vec<&str> = body.lines().collect();
        assert!(
            actual.len() >= expected.len() && (open || actual.len() == expected.len()),
            "{at}: {} lines shown, {} answered:\n{body}",
            expected.len(),
            actual.len()
        );
        for (e, a) in expected.iter().zip(&actual) {
            assert!(line_matches(e, a), "{at}: expected {e:?}, answered {a:?}");
        }
        asked += 1;
    }
    assert!(asked >= 10, "only {asked} examples in docs/api.md");
}

#[test]
fn elisions_match_what_they_stand_for() {
    assert!(line_matches("\"path\": \"[..]\",", "\"path\": \"/tmp/x\","));
    assert!(line_matches("a [..] b [..] c", "a 1 b 2 c"));
    assert!(line_matches("exact", "exact"));
    assert!(!line_matches("exact", "exactly"));
    assert!(!line_matches("a [..] c", "a b d"));
    assert!(!line_matches("[..]x", "y"));
}
