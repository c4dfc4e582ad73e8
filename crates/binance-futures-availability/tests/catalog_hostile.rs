//! Issue 26's acceptance for the catalog's crawl: hostile listings — endless continuation
//! tokens, malformed XML, keys of 10 kB, a level that hands out folders without end — end
//! bounded, with a sentence naming the prefix and the reason, exit 1, and leave the catalog
//! either absent or valid (what the healthy folders gave, committed).
//!
//! Each case runs the real binary against a bucket of its own: a small S3 listing server on an
//! ephemeral port of 127.0.0.1 whose pages are made per request (so an endless listing costs
//! the server nothing), healthy except where the case makes it hostile. `crawl` is the
//! watchdog: a run that does not end within its time is killed and the test fails; while it
//! runs, its peak RSS is read from /proc.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The one family of symbol folders the healthy bucket has, and its symbols.
const FAMILY: &str = "data/futures/um/daily/klines/";
const SYMBOLS: [&str; 3] = ["ADAUSDT", "BTCUSDT", "ETHUSDT"];
const HOSTILE: &str = "data/futures/um/daily/klines/BTCUSDT/";

/// One listing request, as the server read it.
struct Ask {
    prefix: String,
    /// `delimiter=/` was asked: a level, not a folder listed flat.
    level: bool,
    /// The continuation token, `None` on the first page.
    token: Option<String>,
}

/// What a case serves instead of the healthy page, or `None` for the healthy page.
type Hostile = dyn Fn(&Ask) -> Option<String> + Send + Sync;

/// An S3 listing server on 127.0.0.1: every request answered on a thread of its own, the
/// connection closed after the answer. It counts the listings it served.
struct Bucket {
    url: String,
    lists: Arc<AtomicU64>,
}

impl Bucket {
    fn start(hostile: impl Fn(&Ask) -> Option<String> + Send + Sync + 'static) -> Bucket {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/bucket", listener.local_addr().unwrap());
        let lists = Arc::new(AtomicU64::new(0));
        let counted = lists.clone();
        let hostile: Arc<Hostile> = Arc::new(hostile);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (hostile, counted) = (hostile.clone(), counted.clone());
                std::thread::spawn(move || serve(stream, &*hostile, &counted));
            }
        });
        Bucket { url, lists }
    }

    fn lists(&self) -> u64 {
        self.lists.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: std::net::TcpStream, hostile: &Hostile, counted: &AtomicU64) {
    let (mut head, mut buf) = (Vec::new(), [0u8; 8192]);
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 1 << 20 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split(' ').nth(1).unwrap_or_default();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let mut ask = Ask {
        prefix: String::new(),
        level: false,
        token: None,
    };
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(value)
            .decode_utf8_lossy()
            .into_owned();
        match name {
            "prefix" => ask.prefix = value,
            "delimiter" => ask.level = value == "/",
            "continuation-token" => ask.token = Some(value),
            _ => {}
        }
    }
    counted.fetch_add(1, Ordering::SeqCst);
    let body = hostile(&ask).unwrap_or_else(|| healthy(&ask));
    let _ = stream.write_all(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let _ = stream.write_all(body.as_bytes());
}

/// A ListBucketResult page of `keys` and `folders`, truncated with `next` when it is given.
fn page(keys: &[String], folders: &[String], next: Option<String>) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name>",
    );
    xml.push_str(&format!("<IsTruncated>{}</IsTruncated>", next.is_some()));
    if let Some(token) = next {
        xml.push_str(&format!(
            "<NextContinuationToken>{token}</NextContinuationToken>"
        ));
    }
    for key in keys {
        xml.push_str(&format!(
            "<Contents><Key>{key}</Key><LastModified>2024-01-02T07:00:00.000Z</LastModified>\
             <Size>100</Size><StorageClass>STANDARD</StorageClass></Contents>"
        ));
    }
    for folder in folders {
        xml.push_str(&format!(
            "<CommonPrefixes><Prefix>{folder}</Prefix></CommonPrefixes>"
        ));
    }
    xml.push_str("</ListBucketResult>");
    xml
}

/// The healthy bucket: one family of daily klines with three symbols, each holding three days
/// of 1m files and their sidecars.
fn healthy(ask: &Ask) -> String {
    let levels = [
        ("", "data/"),
        ("data/", "data/futures/"),
        ("data/futures/", "data/futures/um/"),
        ("data/futures/um/", "data/futures/um/daily/"),
        ("data/futures/um/daily/", FAMILY),
    ];
    if ask.level {
        if ask.prefix == FAMILY {
            let folders: Vec<String> = SYMBOLS.iter().map(|s| format!("{FAMILY}{s}/")).collect();
            return page(&[], &folders, None);
        }
        let child = levels.iter().find(|(p, _)| *p == ask.prefix);
        return page(
            &[],
            &child
                .map(|(_, c)| c.to_string())
                .into_iter()
                .collect::<Vec<_>>(),
            None,
        );
    }
    let keys: Vec<String> = SYMBOLS
        .iter()
        .filter(|s| ask.prefix == format!("{FAMILY}{s}/"))
        .flat_map(|s| {
            (1..=3).flat_map(move |d| {
                let zip = format!("{FAMILY}{s}/1m/{s}-1m-2024-01-0{d}.zip");
                [zip.clone(), format!("{zip}.CHECKSUM")]
            })
        })
        .collect();
    page(&keys, &[], None)
}

/// How a crawl ended.
struct Ended {
    code: Option<i32>,
    stderr: String,
    /// Peak RSS in kB (VmHWM), as last read before it exited.
    peak_kb: u64,
    elapsed: Duration,
}

/// A temporary folder for the database and the catalog, and the binary pointed at `bucket`.
struct Crawl {
    dir: tempfile::TempDir,
    bucket: Bucket,
}

impl Crawl {
    fn new(hostile: impl Fn(&Ask) -> Option<String> + Send + Sync + 'static) -> Crawl {
        Crawl {
            dir: tempfile::tempdir().unwrap(),
            bucket: Bucket::start(hostile),
        }
    }

    fn cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_binance-futures-availability"));
        c.env("BFA_DB", self.dir.path().join("availability.duckdb"))
            .env("BFA_S3_URL", &self.bucket.url)
            .env("BFA_DATA_URL", &self.bucket.url)
            .env("BFA_RETRY_BASE_MS", "1")
            .env("BFA_READ_TIMEOUT_MS", "5000")
            .env("NO_COLOR", "1")
            .env_remove("BFA_LOG")
            .env_remove("BFA_CATALOG");
        c
    }

    fn catalog(&self) -> std::path::PathBuf {
        self.dir.path().join("catalog.duckdb")
    }

    /// `catalog update`, killed and failed if it has not ended within `secs` seconds.
    fn update(&self, secs: u64) -> Ended {
        let started = Instant::now();
        let mut child = self
            .cmd()
            .args(["catalog", "update", "--quiet"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        });
        let mut peak_kb = 0;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if let Some(kb) = crate::common::peak_rss_kb(child.id()) {
                peak_kb = kb;
            }
            // A run that grows without end is stopped before it takes the machine.
            if started.elapsed() > Duration::from_secs(secs) || peak_kb > 1 << 20 {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "catalog update did not end within {secs} s and 1 GB ({} listings served, \
                     peak RSS {} MB): {}",
                    self.bucket.lists(),
                    peak_kb / 1024,
                    reader.join().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Ended {
            code: status.code(),
            stderr: reader.join().unwrap(),
            peak_kb,
            elapsed: started.elapsed(),
        }
    }

    /// The catalog's files of um/daily/klines/1m, by symbol, and its strays' keys: read with
    /// the binary's own queries, so a catalog that is there must be a valid one.
    fn committed(&self) -> (Vec<String>, Vec<String>) {
        let json = |args: &[&str]| -> Vec<Value> {
            let out = self.cmd().args(args).output().unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        };
        let files = json(&["catalog", "files", "um/daily/klines/1m", "--format", "json"])
            .iter()
            .map(|f| f["symbol"].as_str().unwrap().to_string())
            .collect();
        let strays = json(&["catalog", "strays", "--format", "json"])
            .iter()
            .map(|s| s["key"].as_str().unwrap().to_string())
            .collect();
        (files, strays)
    }
}

/// The line the user reads: stderr without the progress and log lines around it.
fn sentence(ended: &Ended) -> String {
    ended.stderr.trim().to_string()
}

/// Asserts a failed run: exit 1, one sentence with every piece of `expected`, not too long to
/// read.
fn assert_failed(case: &str, ended: &Ended, expected: &[&str]) {
    let text = sentence(ended);
    eprintln!(
        "{case}: exit {:?} in {:.1} s, peak RSS {} MB: {text}",
        ended.code,
        ended.elapsed.as_secs_f64(),
        ended.peak_kb / 1024
    );
    assert_eq!(ended.code, Some(1), "{case}: {text}");
    for piece in expected {
        assert!(text.contains(piece), "{case}: {piece:?} is not in {text}");
    }
    assert!(
        text.len() < 2_000,
        "{case}: a sentence of {} bytes: {text}",
        text.len()
    );
    assert!(
        ended.peak_kb / 1024 < MAX_PEAK_MB,
        "{case}: peak RSS {} MB",
        ended.peak_kb / 1024
    );
}

fn keys(prefix: &str, from: u64, n: u64, width: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| format!("{prefix}{i:0width$}"))
        .collect()
}

/// The page number a token of this bucket stands for (`p-7` → 7; the first page is 0).
fn page_no(ask: &Ask) -> u64 {
    ask.token
        .as_deref()
        .and_then(|t| t.strip_prefix("p-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn endless_tokens_at_a_level_end_at_its_page_bound_and_nothing_is_published() {
    let crawl = Crawl::new(|ask| {
        (ask.level && ask.prefix == FAMILY).then(|| {
            let n = page_no(ask);
            page(
                &[],
                &[format!("{FAMILY}S{n:08}/")],
                Some(format!("p-{}", n + 1)),
            )
        })
    });
    let ended = crawl.update(120);
    assert_failed(
        "endless tokens at a level",
        &ended,
        &[
            "could not list the bucket's folders: listing data/futures/um/daily/klines/ failed: \
             the listing does not progress: it did not end within 100 pages",
            &crawl.bucket.url,
        ],
    );
    // The five levels above, and the family's pages up to the bound.
    assert_eq!(crawl.bucket.lists(), 5 + 100);
    assert!(
        !crawl.catalog().exists(),
        "a crawl without a plan publishes nothing"
    );
}

/// Peak RSS a hostile run may reach: the bound for a whole crawl.
const MAX_PEAK_MB: u64 = 250;

#[test]
fn endless_tokens_in_a_symbol_folder_end_bounded_and_the_rest_is_committed() {
    // A fresh token forever, with one new key a page (the page bound ends it), or a thousand
    // (each a stray the crawl keeps until the folder ends: the bound on names' bytes ends it
    // first, at ~1,200 pages, before 5,000 pages of them reach ~600 MB).
    for (per_page, expected) in [
        (
            1,
            "the listing does not progress: it did not end within 5000 pages",
        ),
        (
            1000,
            "the listing does not progress: its keys and folders passed 64 MiB of names by page",
        ),
    ] {
        let crawl = Crawl::new(move |ask| {
            (!ask.level && ask.prefix == HOSTILE).then(|| {
                let n = page_no(ask);
                page(
                    &keys(&format!("{HOSTILE}1m/junk-"), n * per_page, per_page, 10),
                    &[],
                    Some(format!("p-{}", n + 1)),
                )
            })
        });
        let ended = crawl.update(600);
        let case = format!("endless tokens in a symbol folder, {per_page} keys a page");
        assert_failed(
            &case,
            &ended,
            &[
                &format!(
                    "error: 1 folder(s) failed; first: listing {HOSTILE} failed: \
                     {expected}"
                ),
                "Everything else is committed; run again to finish",
            ],
        );
        // The levels, the two healthy folders, one more request, and the hostile pages.
        assert!(
            crawl.bucket.lists() <= 5 + 3 + 5000,
            "{case}: {}",
            crawl.bucket.lists()
        );
        let (files, strays) = crawl.committed();
        assert_eq!(
            files.iter().filter(|s| *s == "ADAUSDT").count(),
            3,
            "{case}"
        );
        assert_eq!(
            files.iter().filter(|s| *s == "ETHUSDT").count(),
            3,
            "{case}"
        );
        assert!(!files.iter().any(|s| s == "BTCUSDT"), "{case}: {files:?}");
        assert!(strays.is_empty(), "{case}: {} strays", strays.len());
    }
}

#[test]
fn malformed_pages_end_with_what_is_wrong_with_them() {
    let lm = "<LastModified>2024-01-02T07:00:00.000Z</LastModified>";
    let key = format!("{HOSTILE}1m/BTCUSDT-1m-2024-01-01.zip");
    let whole = page(std::slice::from_ref(&key), &[], None);
    let long = format!("{HOSTILE}1m/{}", "k".repeat(10_240));
    let bad_time = |key: &str| {
        format!(
            "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>{key}</Key>\
             <LastModified>yesterday</LastModified><Size>1</Size></Contents>\
             </ListBucketResult>"
        )
    };
    let cases: Vec<(&str, bool, String, String)> = vec![
        (
            "a document cut between elements",
            false,
            whole[..whole.find("</ListBucketResult>").unwrap()].to_string(),
            "the listing could not be read: the page ends before </ListBucketResult>".into(),
        ),
        (
            "a document cut inside a tag",
            false,
            whole[..whole.find("<Key>").unwrap() + 3].to_string(),
            "the listing could not be read: syntax error: tag not closed".into(),
        ),
        (
            "the wrong root",
            false,
            "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code></Error>".into(),
            "the listing could not be read: the document is a <Error>, not a ListBucketResult"
                .into(),
        ),
        (
            "a Size that is no number",
            false,
            format!(
                "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>{key}</Key>\
                 {lm}<Size>12 bytes</Size></Contents></ListBucketResult>"
            ),
            "the listing could not be read: Size is \"12 bytes\"".into(),
        ),
        (
            "a Size no object has (S3's largest is 5 TiB)",
            false,
            format!(
                "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>{key}</Key>\
                 {lm}<Size>18446744073709551615</Size></Contents></ListBucketResult>"
            ),
            "the listing could not be read: Size is \"18446744073709551615\"".into(),
        ),
        (
            "a LastModified that is no time",
            false,
            bad_time(&key),
            format!("the listing could not be read: the entry {key} has no valid LastModified"),
        ),
        (
            "a LastModified that is no time, on a key of 10 kB",
            false,
            bad_time(&long),
            format!(
                "the listing could not be read: the entry {} has no valid LastModified",
                &long[..200]
            ),
        ),
        (
            "the wrong root at a level",
            true,
            "<html><body>Service Unavailable</body></html>".into(),
            "could not list the bucket's folders: listing data/futures/um/daily/klines/ failed: \
             the listing could not be read: the document is a <html>, not a ListBucketResult"
                .into(),
        ),
    ];
    for (case, at_level, body, expected) in cases {
        let served = body.clone();
        let crawl = Crawl::new(move |ask| {
            let hostile = if at_level {
                ask.level && ask.prefix == FAMILY
            } else {
                !ask.level && ask.prefix == HOSTILE
            };
            hostile.then(|| served.clone())
        });
        let ended = crawl.update(120);
        // Retried (a page cut short is most often a connection's fault), then given up.
        assert_failed(case, &ended, &[&expected, "after 5 attempts"]);
        if at_level {
            assert!(!crawl.catalog().exists(), "{case}");
        } else {
            let (files, strays) = crawl.committed();
            assert_eq!(files.len(), 6, "{case}: {files:?}");
            assert!(strays.is_empty(), "{case}: {strays:?}");
        }
    }
}

/// A case of `pages_no_s3_would_send_end_with_a_sentence`: what it serves, where.
type Case = (&'static str, Box<Hostile>, String);

#[test]
fn pages_no_s3_would_send_end_with_a_sentence() {
    let long = |i: u64| format!("{HOSTILE}1m/{i:06}-{}", "k".repeat(10_240));
    let bytes = long(0).len();
    let in_folder = |ask: &Ask| !ask.level && ask.prefix == HOSTILE;
    let cases: Vec<Case> = vec![
        (
            "a page of 10 kB keys",
            Box::new(move |ask| {
                in_folder(ask).then(|| page(&(0..300).map(long).collect::<Vec<_>>(), &[], None))
            }),
            format!(
                "listing {HOSTILE} failed: the listing is not one S3 would send: page 1 lists a \
                 name of {bytes} bytes, longer than the 1024 an S3 key can be: \"{}\", after 1 \
                 attempt",
                &long(0)[..200]
            ),
        ),
        (
            // 300 a page (3 MB, under the page cap), forever: 15 GB kept without a bound.
            "a folder of many 10 kB keys",
            Box::new(move |ask| {
                in_folder(ask).then(|| {
                    let n = page_no(ask);
                    let keys: Vec<String> = (n * 300..n * 300 + 300).map(long).collect();
                    page(&keys, &[], Some(format!("p-{}", n + 1)))
                })
            }),
            format!("listing {HOSTILE} failed: the listing is not one S3 would send: page 1"),
        ),
        (
            "a folder name of 10 kB",
            Box::new(|ask| {
                (ask.level && ask.prefix == FAMILY)
                    .then(|| page(&[], &[format!("{FAMILY}{}/", "S".repeat(10_240))], None))
            }),
            format!(
                "could not list the bucket's folders: listing {FAMILY} failed: the listing is not \
                 one S3 would send: page 1 lists a name of {} bytes",
                FAMILY.len() + 10_241
            ),
        ),
        (
            // 40 a kB: a 4 MB page could hold 40,000.
            "a page of 2000 keys",
            Box::new(move |ask| {
                in_folder(ask)
                    .then(|| page(&keys(&format!("{HOSTILE}1m/junk-"), 0, 2000, 6), &[], None))
            }),
            format!(
                "listing {HOSTILE} failed: the listing is not one S3 would send: page 1 lists \
                 2000 keys and folders, more than the 1000 an S3 page holds"
            ),
        ),
        (
            // Each token kept to spot a repeat, and sent back in the next page's URL.
            "continuation tokens of 10 kB",
            Box::new(move |ask| {
                in_folder(ask).then(|| {
                    let n = page_no(ask);
                    page(
                        &keys(&format!("{HOSTILE}1m/junk-"), n, 1, 6),
                        &[],
                        Some(format!("p-{}-{}", n + 1, "t".repeat(10_240))),
                    )
                })
            }),
            format!(
                "listing {HOSTILE} failed: the listing is not one S3 would send: page 1 hands out \
                 a continuation token of 10244 bytes, longer than the 4096 this client follows"
            ),
        ),
    ];
    for (case, hostile, expected) in cases {
        let crawl = Crawl::new(hostile);
        let ended = crawl.update(300);
        assert_failed(case, &ended, &[&expected]);
        // Refused at its first page (the levels, the two healthy folders, one more request).
        assert!(
            crawl.bucket.lists() <= 5 + 3 + 1,
            "{case}: {}",
            crawl.bucket.lists()
        );
        if crawl.catalog().exists() {
            let (files, strays) = crawl.committed();
            assert_eq!(files.len(), 6, "{case}: {files:?}");
            assert!(strays.is_empty(), "{case}: {} strays", strays.len());
        }
    }
}

#[test]
fn a_level_that_hands_out_folders_without_end_stops_at_its_page_bound() {
    // "A million-folder prefix": a thousand new symbol folders a page, forever.
    let crawl = Crawl::new(|ask| {
        (ask.level && ask.prefix == FAMILY).then(|| {
            let n = page_no(ask);
            let folders: Vec<String> = keys(&format!("{FAMILY}S"), n * 1000, 1000, 9)
                .into_iter()
                .map(|f| format!("{f}/"))
                .collect();
            page(&[], &folders, Some(format!("p-{}", n + 1)))
        })
    });
    let ended = crawl.update(300);
    assert_failed(
        "a level of endless folders",
        &ended,
        &[
            "could not list the bucket's folders: listing data/futures/um/daily/klines/ failed: \
             the listing does not progress: it did not end within 100 pages",
        ],
    );
    assert_eq!(crawl.bucket.lists(), 5 + 100);
    assert!(!crawl.catalog().exists());
}

/// Each folder's strays are kept whole until the folder ends; the bound on one listing's names
/// (64 MiB) alone would be paid once per folder in flight: eight endless folders at once reached
/// 1.06 GB before the crawl's folders shared one budget (128 MiB, `Stall::TooMuchHeld`); at the
/// default `--concurrency 64`, ~8 GB.
#[test]
fn many_endless_folders_at_once_stay_bounded() {
    let crawl = Crawl::new(|ask| {
        if ask.level && ask.prefix == FAMILY {
            let folders: Vec<String> = (0..8).map(|i| format!("{FAMILY}S{i:03}USDT/")).collect();
            return Some(page(&[], &folders, None));
        }
        (!ask.level && ask.prefix.starts_with(FAMILY)).then(|| {
            let n = page_no(ask);
            page(
                &keys(&format!("{}1m/junk-", ask.prefix), n * 1000, 1000, 10),
                &[],
                Some(format!("p-{}", n + 1)),
            )
        })
    });
    let ended = crawl.update(600);
    assert_failed(
        "eight endless folders at once",
        &ended,
        &["8 folder(s) failed", "the listing does not progress"],
    );
}
