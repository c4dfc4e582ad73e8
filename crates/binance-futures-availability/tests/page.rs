//! The page at `/` in a real browser: Debian's Chromium, driven through ChromeDriver's W3C
//! WebDriver protocol (plain JSON over HTTP, so reqwest is the whole client). It loads without
//! a console error, the chart draws the whole history, and typing a symbol as a person would
//! (`币安人生USDT`, `btcusdt`) shows its calendar with exactly its days with a file; all under
//! the page's `default-src 'self'` policy, which refuses an injected script.
//!
//! Debian's `chromium` and `chromium-driver` are installed with apt-get when missing (as
//! `.ci/run` does), like the Python tests install their packages into a venv.

use crate::common;

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use vision_sim::Corpus;

/// ChromeDriver on a free port, and one browser session in it.
struct Browser {
    driver: Child,
    base: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
}

/// Installs Chromium and ChromeDriver from Debian's packages when either is missing.
fn ensure_chromium() {
    let found = |bin: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {bin}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if found("chromium") && found("chromedriver") {
        return;
    }
    let installed = Command::new("sh")
        .args([
            "-c",
            "s=''; [ \"$(id -u)\" -eq 0 ] || s=sudo; $s apt-get update -qq && \
             DEBIAN_FRONTEND=noninteractive $s apt-get install -y -qq chromium chromium-driver",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "this test needs Debian's chromium and chromium-driver, and installing them with \
         apt-get failed; install them and run again"
    );
}

impl Browser {
    async fn start() -> Browser {
        ensure_chromium();
        let mut driver = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start ({e}); install Debian's `chromium` and \
                     `chromium-driver` (.ci/run does)"
                )
            });
        let mut lines = std::io::BufReader::new(driver.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines.next().expect("chromedriver exited").unwrap();
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                break rest.trim_end_matches('.').to_string();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _profile: profile,
        };
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,2000",
            &format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let session = browser
            .call(
                "POST",
                "/session",
                json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
                    "goog:loggingPrefs": {"browser": "ALL"},
                }}}),
            )
            .await;
        let id = session["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.client.get(&url),
            "DELETE" => self.client.delete(&url),
            _ => self
                .client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.to_string()),
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let value: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value["value"].clone()
    }

    async fn script(&self, code: &str) -> Value {
        self.call("POST", "/execute/sync", json!({"script": code, "args": []}))
            .await
    }

    /// Opens the availability page served at `url` and waits until it has drawn.
    async fn open_page(&self, url: &str) {
        self.call("POST", "/url", json!({"url": format!("{url}/")}))
            .await;
        self.until("the page to load", "document.body.dataset.ready === '1'")
            .await;
    }

    /// Polls `condition` (JavaScript returning true) every 50 ms, for up to 20 s.
    async fn until(&self, what: &str, condition: &str) {
        for _ in 0..400 {
            if self.script(&format!("return !!({condition});")).await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}: {condition}");
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                "POST",
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    /// Types `text` into the search box and presses its button, as a person would.
    async fn search(&self, text: &str) {
        let input = self.element("#search").await;
        self.call("POST", &format!("/element/{input}/clear"), json!({}))
            .await;
        self.call(
            "POST",
            &format!("/element/{input}/value"),
            json!({"text": text}),
        )
        .await;
        let button = self.element("#search-form button").await;
        self.call("POST", &format!("/element/{button}/click"), json!({}))
            .await;
    }

    /// Searches `typed` and waits until the calendar shown is `symbol`'s.
    async fn show_symbol(&self, typed: &str, symbol: &str) {
        self.search(typed).await;
        self.until(
            &format!("{symbol}'s calendar"),
            &format!("document.getElementById('calendar-card').dataset.symbol === {symbol:?}"),
        )
        .await;
    }

    /// The symbol's events as the page lists them.
    async fn events(&self) -> String {
        let text = self
            .script("return document.getElementById('events').innerText;")
            .await;
        text.as_str().unwrap_or_default().to_string()
    }

    /// Clicks the element `css` selects, as a person would.
    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.call("POST", &format!("/element/{element}/click"), json!({}))
            .await;
    }

    /// Replaces what the field `css` holds with `text`, typed.
    async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.call("POST", &format!("/element/{element}/clear"), json!({}))
            .await;
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            json!({"text": text}),
        )
        .await;
    }

    /// Waits until the catalog page has drawn a view whose hash holds `part`.
    async fn catalog_view(&self, part: &str) {
        self.until(
            &format!("the view {part}"),
            &format!(
                "decodeURIComponent(location.hash).includes({part:?}) && \
                 document.body.dataset.view === location.hash && \
                 document.body.dataset.ready === '1'"
            ),
        )
        .await;
    }

    /// The visible part of the page as PNG.
    async fn screenshot(&self) -> Vec<u8> {
        let png = self.call("GET", "/screenshot", json!({})).await;
        base64(png.as_str().expect("a base64 screenshot"))
    }

    /// `element.innerText` of `css`.
    async fn text(&self, css: &str) -> String {
        let text = self
            .script(&format!(
                "const e = document.querySelector({css:?}); return e ? e.innerText : null;"
            ))
            .await;
        text.as_str()
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    /// What the page wrote to its console at level SEVERE (errors, failed loads, exceptions).
    async fn console_errors(&self) -> Vec<String> {
        let log = self
            .call("POST", "/se/log", json!({"type": "browser"}))
            .await;
        log.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// Standard base64 (the WebDriver screenshot's encoding), decoded.
fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut held) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
    {
        let value = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        bits = ((bits << 6) | value) & 0xffff;
        held += 6;
        if held >= 8 {
            held -= 8;
            out.push((bits >> held) as u8);
        }
    }
    out
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_draws_the_history_and_shows_a_symbols_calendar() {
    let env = Env::new(vision_sim::realistic(today()));
    env.ok(&["update", "--quiet"]);
    let served = Served::start(&env, &[]);
    let days: Value =
        serde_json::from_str(&env.ok(&["query", "summary", "--format", "json"])).unwrap();
    let browser = Browser::start().await;

    browser.open_page(&served.url).await;

    // The chart has one point per day of the history, and drew it (non-blank pixels).
    let points = browser
        .script("return document.getElementById('chart').dataset.points;")
        .await;
    assert_eq!(points, json!(days.as_array().unwrap().len().to_string()));
    let inked = browser
        .script(
            "const c = document.querySelector('#chart canvas');
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
             return n;",
        )
        .await;
    assert!(
        inked.as_u64().unwrap() > 5_000,
        "the chart is blank: {inked} pixels"
    );
    // A file of one market offers no switch between markets.
    assert_eq!(
        browser
            .script("return document.getElementById('market-form').offsetParent === null;")
            .await,
        json!(true)
    );
    // The day picker showed the newest complete day's snapshot.
    let shown = browser
        .script("return document.getElementById('snapshot').dataset.day;")
        .await;
    assert_eq!(shown, json!(days_ago(1).to_string()));

    for (typed, symbol) in [("币安人生USDT", "币安人生USDT"), ("btcusdt", "BTCUSDT")] {
        browser.show_symbol(typed, symbol).await;
        let (timeline, with_file) = timeline_files(&env, &[symbol]);
        let cells = browser
            .script("return document.querySelectorAll('#calendar .day.file').length;")
            .await;
        assert_eq!(
            cells,
            json!(with_file),
            "{symbol}: days with a file on the calendar"
        );
        let first = timeline[0]["date"].as_str().unwrap();
        let events = browser.events().await;
        assert!(
            events.contains(&format!("{first}: first file")),
            "{symbol}: {events}"
        );
    }
    // ICPUSDT's delisting gap is drawn as checked days without a file, and listed.
    browser.show_symbol("ICPUSDT", "ICPUSDT").await;
    let gap = browser
        .script("return document.querySelector('#calendar [data-date=\"2022-07-01\"]').className;")
        .await;
    assert_eq!(gap, json!("day absent"));
    let events = browser.events().await;
    assert!(
        events.contains("2022-06-10: 110 days no file, to 2022-09-27"),
        "{events}"
    );

    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    // All of that ran under the page's policy, which is in force: a script put into the page
    // (as an injection would) does not run.
    let injected = browser
        .script(
            "const s = document.createElement('script');
             s.textContent = 'window.injected = 1';
             document.body.appendChild(s);
             return window.injected === 1;",
        )
        .await;
    assert_eq!(
        injected,
        json!(false),
        "an inline script ran: no CSP in force"
    );
    browser.call("DELETE", "", json!({})).await;
}

/// `query timeline ARGS --format json` (the command line's answer) and its days with a file:
/// what the page's calendar must draw.
fn timeline_files(env: &Env, args: &[&str]) -> (Value, usize) {
    let command = [&["query", "timeline"][..], args, &["--format", "json"]].concat();
    let timeline: Value = serde_json::from_str(&env.ok(&command)).unwrap();
    let with_file = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["available"] == true)
        .count();
    (timeline, with_file)
}

/// A file keeping USD-M and spot: the page offers both markets; choosing spot (as a person
/// would, in the switch) shows spot's title, its pairs and day range, the newest day's snapshot
/// and a pair's calendar of 2017-2018 days (before USD-M began), each equal to what the
/// command line answers with `--market spot`.
#[tokio::test(flavor = "multi_thread")]
async fn the_page_switches_to_spot_and_shows_its_days_before_usd_m_began() {
    let env = Env::new(Corpus::from_spec(&small_spec()).merged(vision_sim::spot(today())));
    env.ok(&["update", "--quiet", "--markets", "um,spot"]);
    let served = Served::start(&env, &[]);
    let browser = Browser::start().await;
    browser.open_page(&served.url).await;
    assert_eq!(
        browser.text("#title").await,
        "Binance USD-M futures on Binance Vision"
    );
    let markets = browser
        .script("return [...document.querySelectorAll('#market option')].map(o => o.value);")
        .await;
    assert_eq!(markets, json!(["um", "spot"]));

    browser.click("#market option[value=spot]").await;
    browser
        .until(
            "the spot page",
            "location.hash.startsWith('#market=spot') && document.body.dataset.ready === '1'",
        )
        .await;
    assert_eq!(
        browser.text("#title").await,
        "Binance spot on Binance Vision"
    );
    let status: Value =
        serde_json::from_str(&env.ok(&["status", "--market", "spot", "--format", "json"])).unwrap();
    let shown = browser.text("#status").await;
    assert!(shown.starts_with("5 pair folders, "), "{shown}");
    assert_eq!(
        browser
            .script("return document.getElementById('day-input').min;")
            .await,
        json!("2017-08-17")
    );
    let newest = status["checked_through"].as_str().unwrap();
    let snapshot: Value = serde_json::from_str(&env.ok(&[
        "query", "snapshot", newest, "--market", "spot", "--format", "json",
    ]))
    .unwrap();
    let rows = browser
        .script("return [...document.querySelectorAll('#snapshot tbody tr td:first-child')].map(td => td.innerText);")
        .await;
    let want: Vec<&str> = snapshot
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(rows, json!(want));

    browser.show_symbol("bccusdt", "BCCUSDT").await;
    let (_, with_file) = timeline_files(&env, &["BCCUSDT", "--market", "spot"]);
    assert!(with_file > 300, "{with_file}");
    let cells = browser
        .script("return document.querySelectorAll('#calendar .day.file').length;")
        .await;
    assert_eq!(cells, json!(with_file));
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.call("DELETE", "", json!({})).await;
}

/// A catalog with history: the generated bucket crawled on 2026-11-19, its clock moved a week
/// (the scripted replacement of ETHUSDT's trades of 2026-11-01 among it), crawled again whole.
fn catalog_env() -> Env {
    let t0: chrono::DateTime<chrono::Utc> = "2026-11-19T09:00:00Z".parse().unwrap();
    let t1: chrono::DateTime<chrono::Utc> = "2026-11-26T09:00:00Z".parse().unwrap();
    let model = std::sync::Arc::new(vision_sim::Vision::new(0.0005));
    let env = Env::with_bucket(vision_sim::Bucket::Vision(model.at(t0)));
    env.ok(&["catalog", "update", "-q"]);
    env.sim.set_clock(t1);
    env.ok(&["catalog", "update", "-q", "--full"]);
    env
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `catalog files …  --format json`: how many files, how many bytes.
fn files_total(env: &Env, args: &[&str]) -> (u64, u64) {
    let mut all = vec!["catalog", "files"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let files = json_of(&env.ok(&all));
    let files = files.as_array().unwrap();
    let bytes = files.iter().map(|f| f["size"].as_u64().unwrap()).sum();
    (files.len() as u64, bytes)
}

/// The catalog's page at `/catalog`, clicked through as a person would: a market, a dataset,
/// its symbols sorted, a symbol's calendar of periods (a gap the monthly files cover, a file
/// missing in both partitions, a replaced file reached from the changes feed), and the cost of
/// a selection, which is what `catalog files … --format json` lists, summed. Then the link
/// from the availability page, and a server without a catalog: its sentence on the page.
#[tokio::test(flavor = "multi_thread")]
async fn the_catalog_page_clicks_through_markets_datasets_symbols_and_prices_a_selection() {
    let env = catalog_env();
    let served = Served::start(&env, &[]);
    let browser = Browser::start().await;
    let dataset = "um/daily/klines/1m";

    browser
        .call(
            "POST",
            "/url",
            json!({"url": format!("{}/catalog", served.url)}),
        )
        .await;
    browser
        .until("the page to load", "document.body.dataset.ready === '1'")
        .await;
    let datasets = json_of(&env.ok(&["catalog", "datasets", "--format", "json"]));
    let datasets = datasets.as_array().unwrap();
    let status = browser.text("#status").await;
    let files: u64 = datasets.iter().map(|d| d["files"].as_u64().unwrap()).sum();
    assert!(
        status.starts_with(&format!("{} files", thousands(files))),
        "{status}"
    );

    // A market: its datasets, as `catalog datasets` counts them.
    browser.click("tr[data-market=um] a").await;
    browser.catalog_view("market=um").await;
    let shown = browser
        .script(
            "return [...document.querySelectorAll('#dataset-table tbody tr')]
                .map((r) => r.dataset.dataset);",
        )
        .await;
    let um: Vec<&str> = datasets
        .iter()
        .map(|d| d["dataset"].as_str().unwrap())
        .filter(|d| d.starts_with("um/"))
        .collect();
    assert_eq!(shown, json!(um));
    // Each dataset's last change is `catalog datasets`' own (its day; the time in the title).
    let last = browser
        .script(
            "return [...document.querySelectorAll('#dataset-table tbody tr')]
                .map((r) => [r.cells[6].textContent, r.cells[6].title]);",
        )
        .await;
    let want: Vec<Value> = datasets
        .iter()
        .filter(|d| d["dataset"].as_str().unwrap().starts_with("um/"))
        .map(|d| match d["last_change"].as_str() {
            Some(t) => {
                let t = t.replace('T', " ");
                let t = t.split('.').next().unwrap().trim_end_matches('Z');
                json!([&t[..10], format!("{t} UTC")])
            }
            None => json!([
                "-",
                "no file added, replaced or removed since the catalog's first crawl"
            ]),
        })
        .collect();
    assert!(
        want.iter().any(|w| w[0] != "-"),
        "the second crawl changed um's files"
    );
    assert_eq!(last, json!(want));

    // A dataset: its symbols, then sorted by files (most first), as a click on the header does.
    browser
        .click(&format!("tr[data-dataset={dataset:?}] a"))
        .await;
    browser.catalog_view(&format!("dataset={dataset}")).await;
    let symbols = json_of(&env.ok(&["catalog", "symbols", dataset, "--format", "json"]));
    let symbols = symbols.as_array().unwrap();
    let order = "return [...document.querySelectorAll('#symbol-table tbody tr')]
                    .map((r) => r.dataset.symbol);";
    let names = |rows: &[&Value]| -> Value {
        json!(
            rows.iter()
                .map(|r| r["symbol"].as_str().unwrap())
                .collect::<Vec<_>>()
        )
    };
    let mut expected: Vec<&Value> = symbols.iter().collect();
    assert_eq!(browser.script(order).await, names(&expected));
    browser
        .click("#symbol-table th[data-key=files] button")
        .await;
    browser.catalog_view("ssort=files:desc").await;
    expected.sort_by_key(|r| std::cmp::Reverse(r["files"].as_u64().unwrap()));
    assert_eq!(browser.script(order).await, names(&expected));
    let sorted = browser
        .script("return document.querySelector('#symbol-table th[data-key=files]').getAttribute('aria-sort');")
        .await;
    assert_eq!(sorted, json!("descending"));

    // The whole dataset's cost is its files, listed.
    let (all_files, all_bytes) = files_total(&env, &[dataset]);
    let cost = "const t = document.getElementById('cost-total');
                return [t.dataset.files, t.dataset.bytes];";
    browser
        .until(
            "the cost",
            "document.getElementById('cost-total').dataset.files",
        )
        .await;
    assert_eq!(
        browser.script(cost).await,
        json!([all_files.to_string(), all_bytes.to_string()])
    );

    // A symbol with a gap: its calendar, each missing day marked for what covers it.
    let gaps = json_of(&env.ok(&["catalog", "gaps", dataset, "--format", "json"]));
    let gap = &gaps.as_array().unwrap()[0];
    let symbol = gap["symbol"].as_str().unwrap();
    browser
        .click(&format!("#symbol-table tr[data-symbol={symbol:?}] a"))
        .await;
    browser.catalog_view(&format!("symbol={symbol}")).await;
    let cell = |period: &str| {
        format!(
            "const c = document.querySelector('#periods [data-period=\"{period}\"]'); \
             return c ? c.className : null;"
        )
    };
    let marked = if gap["covered_by"].is_null() {
        "period missing"
    } else {
        "period covered"
    };
    for end in ["from", "to"] {
        let period = gap[end].as_str().unwrap();
        assert_eq!(
            browser.script(&cell(period)).await,
            json!(marked),
            "{period}"
        );
    }
    let record = symbols.iter().find(|r| r["symbol"] == symbol).unwrap();
    let with_file = browser
        .script("return document.getElementById('periods').dataset.files;")
        .await;
    assert_eq!(with_file, json!(record["files"].to_string()));
    let events = browser.text("#events").await;
    assert!(
        events.contains(&format!(
            "{}: first file",
            record["first"].as_str().unwrap()
        )),
        "{events}"
    );

    // The cost of two ticked symbols over a range, typed: `catalog files` of each, summed.
    let other = symbols
        .iter()
        .map(|r| r["symbol"].as_str().unwrap())
        .find(|&n| n != symbol)
        .unwrap();
    let picked = [other, symbol];
    for name in picked {
        browser
            .click(&format!("#symbol-table tr[data-symbol={name:?}] input"))
            .await;
        browser.catalog_view(&format!("sel={name}")).await;
    }
    let (since, until) = ("2023-01-01", "2024-06-30");
    browser.type_into("#since", since).await;
    browser.type_into("#until", until).await;
    browser.click("#cost-form button[type=submit]").await;
    browser.catalog_view(&format!("until={until}")).await;
    browser
        .until(
            "the cost",
            "document.getElementById('cost-total').dataset.files",
        )
        .await;
    let mut sum = (0, 0);
    for name in picked {
        let (f, b) = files_total(
            &env,
            &[
                dataset, "--symbol", name, "--since", since, "--until", until,
            ],
        );
        sum = (sum.0 + f, sum.1 + b);
    }
    assert!(sum.0 > 0, "the range holds files");
    assert_eq!(
        browser.script(cost).await,
        json!([sum.0.to_string(), sum.1.to_string()])
    );
    // Its links are the URL lists `catalog files --format urls` prints.
    let link = browser
        .script("return document.querySelector('#cost-links a.urls').href;")
        .await;
    let listed = reqwest::get(link.as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cli = env.ok(&[
        "catalog", "files", dataset, "--symbol", picked[0], "--since", since, "--until", until,
        "--format", "urls",
    ]);
    assert_eq!(listed, cli);
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    // A malformed range: the server's sentence where the total was.
    browser.type_into("#since", "2023-01").await;
    browser.click("#cost-form button[type=submit]").await;
    browser.catalog_view("since=2023-01&").await;
    browser
        .until(
            "the refusal",
            "document.getElementById('cost-total').classList.contains('error')",
        )
        .await;
    let refusal = browser.text("#cost-total").await;
    assert!(refusal.contains("since 2023-01 is a month"), "{refusal}");
    // The browser reports the refused loads, and nothing else.
    let errors = browser.console_errors().await;
    assert!(
        errors.iter().all(|e| e.contains("400")),
        "console errors: {errors:?}"
    );

    // The Clear button empties the selection.
    browser.click("#cost-clear").await;
    browser
        .until(
            "the selection cleared",
            "!location.hash.includes('sel=') && document.body.dataset.view === location.hash",
        )
        .await;
    assert_eq!(browser.text("#cost-symbols").await, "all symbols");

    // The feed of recent changes (of every dataset when none is chosen): the scripted
    // replacement, whose symbol link shows the file replaced on its calendar.
    browser.click("tr[data-market=um] a").await;
    browser
        .until(
            "the market alone",
            "!location.hash.includes('dataset=') && document.body.dataset.view === location.hash && document.body.dataset.ready === '1'",
        )
        .await;
    let replaced = "data/futures/um/daily/trades/ETHUSDT/ETHUSDT-trades-2026-11-01.zip";
    browser
        .until(
            "the replacement in the feed",
            &format!("document.querySelector('#changes-table tr[title=\"{replaced}\"]')"),
        )
        .await;
    browser
        .click(&format!(
            "#changes-table tr[title=\"{replaced}\"] td:nth-child(4) a"
        ))
        .await;
    browser.catalog_view("symbol=ETHUSDT").await;
    browser.catalog_view("dataset=um/daily/trades").await;
    assert_eq!(
        browser.script(&cell("2026-11-01")).await,
        json!("period replaced")
    );
    let events = browser.text("#events").await;
    assert!(events.contains("2026-11-01: replaced"), "{events}");

    // A file removed before the first crawl: missing in both partitions (metrics has no
    // monthly files).
    browser
        .call(
            "POST",
            "/url",
            json!({"url": format!("{}/catalog#market=um&dataset=um/daily/metrics&symbol=BTCUSDT", served.url)}),
        )
        .await;
    browser.catalog_view("dataset=um/daily/metrics").await;
    assert_eq!(
        browser.script(&cell("2024-01-10")).await,
        json!("period missing")
    );

    // The picture for docs/catalog.md: a dataset, the symbol with its longest gap, the cost of
    // a year of two symbols; the window tall enough for the whole calendar.
    let longest = gaps
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|g| g["periods"].as_u64().unwrap())
        .unwrap()["symbol"]
        .as_str()
        .unwrap();
    browser
        .call(
            "POST",
            "/window/rect",
            json!({"width": 1280, "height": 2700}),
        )
        .await;
    browser
        .call(
            "POST",
            "/url",
            json!({"url": format!(
                "{}/catalog#market=um&dataset={dataset}&symbol={longest}&sel=BTCUSDT&sel={longest}&since=2024-01-01&until=2024-12-31",
                served.url
            )}),
        )
        .await;
    browser.catalog_view(&format!("symbol={longest}")).await;
    browser
        .until(
            "the cost",
            "document.getElementById('cost-total').dataset.files",
        )
        .await;
    browser.script("window.scrollTo(0, 0); return 1;").await;
    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    if std::env::var_os("BFA_UPDATE_SCREENSHOTS").is_some() {
        let docs =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/catalog-page.png");
        std::fs::write(docs, &png).unwrap();
    }

    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // The availability page links to it.
    browser
        .call("POST", "/url", json!({"url": format!("{}/", served.url)}))
        .await;
    browser.click("a[href='/catalog']").await;
    browser
        .until(
            "the catalog page",
            "document.body.dataset.ready === '1' && location.pathname === '/catalog'",
        )
        .await;

    // No catalog: the server's sentence, on the page.
    let bare = Env::new(Corpus::from_spec(&small_spec()));
    let bare_served = Served::start(&bare, &[]);
    let answer = reqwest::get(format!("{}/v1/catalog/datasets", bare_served.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sentence = json_of(&answer)["error"].as_str().unwrap().to_string();
    browser
        .call(
            "POST",
            "/url",
            json!({"url": format!("{}/catalog", bare_served.url)}),
        )
        .await;
    browser
        .until("the page to load", "document.body.dataset.ready === '1'")
        .await;
    assert_eq!(browser.text("#error").await, sentence);
    assert_eq!(browser.text("#status").await, "No catalog to show.");
    browser.call("DELETE", "", json!({})).await;
}

/// `1234567` as the page writes it: `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
