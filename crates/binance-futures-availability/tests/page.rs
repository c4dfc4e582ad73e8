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

    browser
        .call("POST", "/url", json!({"url": format!("{}/", served.url)}))
        .await;
    browser
        .until("the page to load", "document.body.dataset.ready === '1'")
        .await;

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
    // The day picker showed the newest complete day's snapshot.
    let shown = browser
        .script("return document.getElementById('snapshot').dataset.day;")
        .await;
    assert_eq!(shown, json!(days_ago(1).to_string()));

    for (typed, symbol) in [("币安人生USDT", "币安人生USDT"), ("btcusdt", "BTCUSDT")] {
        browser.show_symbol(typed, symbol).await;
        let timeline: Value =
            serde_json::from_str(&env.ok(&["query", "timeline", symbol, "--format", "json"]))
                .unwrap();
        let with_file = timeline
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["available"] == true)
            .count();
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
