//! The generated whole bucket (`--corpus vision`): listings in byte order equal a sorted
//! materialisation of the same model, presence rules, the clock, scripted events, strays, and
//! agreement with the realistic corpus where the two overlap.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::escape::unescape;
use vision_sim::{
    Bucket, ChangeKind, Event, Keys, ListQuery, Object, SimOptions, SimServer, Start, Vision,
    VisionAt, list,
};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// One GET over a fresh connection: (status, body).
fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn http_head(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "HEAD {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, text)
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// What a listing page says.
#[derive(Debug, Default)]
struct Page {
    keys: Vec<(String, u64, String, String)>,
    folders: Vec<String>,
    truncated: bool,
    next_token: Option<String>,
    next_marker: Option<String>,
}

fn tags<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .map(|p| p.split(&close).next().unwrap())
        .collect()
}

fn parse(xml: &str) -> Page {
    assert!(xml.contains("<ListBucketResult"), "{xml}");
    let un = |s: &str| unescape(s).unwrap().into_owned();
    Page {
        keys: tags(xml, "Contents")
            .into_iter()
            .map(|c| {
                (
                    un(tags(c, "Key")[0]),
                    tags(c, "Size")[0].parse().unwrap(),
                    tags(c, "LastModified")[0].to_string(),
                    tags(c, "ETag")[0].replace("&quot;", ""),
                )
            })
            .collect(),
        folders: tags(xml, "CommonPrefixes")
            .into_iter()
            .map(|c| un(tags(c, "Prefix")[0]))
            .collect(),
        truncated: tags(xml, "IsTruncated")[0] == "true",
        next_token: tags(xml, "NextContinuationToken").first().map(|s| un(s)),
        next_marker: tags(xml, "NextMarker").first().map(|s| un(s)),
    }
}

/// Every entry of a listing, paged through the server: keys and folders in page order.
fn list_all(
    addr: SocketAddr,
    prefix: &str,
    delimiter: bool,
    v2: bool,
    max_keys: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut resume: Option<String> = None;
    loop {
        let mut path = format!(
            "/data.binance.vision?prefix={}&max-keys={max_keys}",
            enc(prefix)
        );
        if delimiter {
            path.push_str("&delimiter=%2F");
        }
        if v2 {
            path.push_str("&list-type=2");
        }
        if let Some(r) = &resume {
            path.push_str(&format!(
                "&{}={}",
                if v2 { "continuation-token" } else { "marker" },
                enc(r)
            ));
        }
        let (status, body) = http_get(addr, &path);
        assert_eq!(status, 200, "{body}");
        let page = parse(&body);
        // A page holds its keys, then its folders; in byte order they interleave.
        let mut entries: Vec<String> = page
            .keys
            .iter()
            .map(|k| k.0.clone())
            .chain(page.folders.iter().cloned())
            .collect();
        entries.sort();
        let last = entries.last().cloned();
        out.extend(entries);
        if !page.truncated {
            return out;
        }
        resume = if v2 {
            page.next_token
        } else {
            page.next_marker.or(last)
        };
        assert!(resume.is_some());
    }
}

/// The entries a listing of `prefix` should show, from the sorted oracle.
fn expected(oracle: &[Object], prefix: &str, delimiter: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for o in oracle.iter().filter(|o| o.key.starts_with(prefix)) {
        let rest = &o.key[prefix.len()..];
        let entry = match rest.find('/').filter(|_| delimiter) {
            Some(i) => format!("{prefix}{}", &rest[..=i]),
            None => o.key.clone(),
        };
        if out.last() != Some(&entry) {
            out.push(entry);
        }
    }
    out
}

fn serve(model: &Arc<Vision>, at: DateTime<Utc>) -> SimServer {
    SimServer::start_bucket(Bucket::Vision(model.at(at)), SimOptions::default()).unwrap()
}

#[test]
fn listings_in_byte_order_equal_a_sorted_materialisation_of_the_model() {
    // An early clock keeps the whole bucket small enough to materialise (~10⁵ keys).
    let at = t("2020-10-15T09:00:00Z");
    let model = Arc::new(Vision::new(0.002));
    let oracle = model.materialise("", at);
    assert!(oracle.len() > 50_000, "{}", oracle.len());
    assert!(oracle.windows(2).all(|w| w[0].key < w[1].key));
    let server = serve(&model, at);
    let addr = server.addr();

    // The whole bucket, flat, V2 and V1, and by folders from the root down two levels.
    let all: Vec<String> = oracle.iter().map(|o| o.key.clone()).collect();
    assert_eq!(list_all(addr, "", false, true, 1000), all);
    assert_eq!(list_all(addr, "", false, false, 1000), all);
    for prefix in ["", "data/", "data/spot/", "data/futures/um/daily/klines/"] {
        for v2 in [true, false] {
            assert_eq!(
                list_all(addr, prefix, true, v2, 1000),
                expected(&oracle, prefix, true),
                "{prefix} v2={v2}"
            );
        }
    }
    // Small pages: folders and keys cut anywhere.
    for prefix in [
        "data/spot/monthly/klines/BTCUSDT/",
        "data/spot/daily/klines/BTCUSDT/1m/",
        "data/futures/um/daily/klines/BTCUSDT/",
        "data/spot/monthly/klines/ADABKRW/1d/",
    ] {
        assert_eq!(
            list_all(addr, prefix, true, true, 7),
            expected(&oracle, prefix, true),
            "{prefix}"
        );
        assert_eq!(
            list_all(addr, prefix, false, false, 13),
            expected(&oracle, prefix, false),
            "{prefix}"
        );
    }

    // start-after from points spread over the bucket, keys and not-keys, with and without
    // a delimiter: the first page is the oracle's next 1000 entries.
    let at_bucket = model.at(at);
    let mut starts: Vec<String> = (0..40)
        .map(|i| oracle[(i * 7919 + 13) % oracle.len()].key.clone())
        .collect();
    starts.extend(starts.clone().iter().map(|k| format!("{k}0")));
    starts.extend(
        [
            "",
            "/",
            "data/futures/um/daily/klines/BTCUSDT/",
            "data/futures/um/daily/klines/BTCUSDT/1m",
            "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-08.zip.CHECKSUM",
            "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2019-02-30.zip",
            "zzz",
        ]
        .map(String::from),
    );
    for start in &starts {
        for (prefix, delimiter) in [("", false), ("data/spot/", false), ("data/", true)] {
            let q = ListQuery {
                v2: true,
                prefix: prefix.to_string(),
                delimiter: delimiter.then(|| "/".to_string()),
                max_keys: 1000,
                start_after: Some(start.clone()),
                continue_after: None,
                url_encoding: false,
            };
            let page = parse(&list(&at_bucket, &q));
            let mut got: Vec<String> = page
                .keys
                .iter()
                .map(|k| k.0.clone())
                .chain(page.folders)
                .collect();
            got.sort();
            // As S3 does, folders come from the keys after the start (a folder listed before
            // shows again when the start is inside it); a start that is a folder of this
            // listing skips all of it (the simulator's continuation after a folder).
            let past = delimiter && start.ends_with('/') && start.starts_with(prefix);
            let after: Vec<Object> = oracle
                .iter()
                .filter(|o| {
                    if past {
                        o.key.as_str() > start.as_str() && !o.key.starts_with(start.as_str())
                    } else {
                        o.key.as_str() > start.as_str()
                    }
                })
                .cloned()
                .collect();
            let want: Vec<String> = expected(&after, prefix, delimiter)
                .into_iter()
                .take(1000)
                .collect();
            assert_eq!(got, want, "start-after {start:?} prefix {prefix:?}");
        }
    }

    // Every listed object is what a HEAD and `get` say it is.
    for o in oracle.iter().step_by(997) {
        assert_eq!(at_bucket.get(&o.key).as_ref(), Some(o), "{}", o.key);
        assert_eq!(at_bucket.get_object(&o.key).as_deref(), Some(o));
        let (status, head) = http_head(addr, &format!("/data.binance.vision/{}", enc(&o.key)));
        assert_eq!(status, 200, "{}", o.key);
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("content-length: {}", o.size)),
            "{head}"
        );
    }
    // GET: a file's bytes are as long as listed, its sidecar is their digest line.
    let zip = "data/spot/daily/klines/BTCUSDT/1d/BTCUSDT-1d-2020-10-01.zip";
    let (status, body) = http_get(addr, &format!("/data.binance.vision/{zip}"));
    assert_eq!(status, 200);
    assert_eq!(body.len() as u64, at_bucket.get(zip).unwrap().size);
    let (status, sum) = http_get(addr, &format!("/data.binance.vision/{zip}.CHECKSUM"));
    assert_eq!(status, 200);
    assert_eq!(sum, vision_sim::checksum_body(&at_bucket.get(zip).unwrap()));
    assert!(sum.ends_with("  BTCUSDT-1d-2020-10-01.zip"));
    let (status, _) = http_get(addr, &format!("/data.binance.vision/{zip}x"));
    assert_eq!(status, 404);
    // Sizes, times and ETags on the page are the objects'.
    let (_, body) = http_get(
        addr,
        "/data.binance.vision?list-type=2&prefix=data%2Fspot%2Fdaily%2Ftrades%2F",
    );
    for (key, size, lm, etag) in parse(&body).keys {
        let o = at_bucket.get(&key).unwrap();
        assert_eq!(size, o.size);
        assert_eq!(
            lm,
            o.last_modified.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        );
        assert_eq!(etag, o.etag);
        assert_eq!(etag.len(), 32);
        assert!(etag.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

#[test]
fn a_later_clock_lists_each_market_as_its_materialisation() {
    let at = t("2026-12-06T09:00:00Z");
    let model = Arc::new(Vision::new(0.001));
    let server = serve(&model, at);
    for prefix in [
        "data/futures/cm/monthly/",
        "data/futures/cm/daily/liquidationSnapshot/",
        "data/option/",
        "data3/",
        "data2/",
        "/",
        "data/futures/um/daily/bookTicker/",
        "data/spot/monthly/aggTrades/",
        "data/futures/um/monthly/fundingRate/",
    ] {
        let oracle = model.materialise(prefix, at);
        assert!(!oracle.is_empty(), "{prefix}");
        let want: Vec<String> = oracle.iter().map(|o| o.key.clone()).collect();
        assert_eq!(
            list_all(server.addr(), prefix, false, true, 1000),
            want,
            "{prefix}"
        );
        assert_eq!(
            list_all(server.addr(), prefix, true, false, 10),
            expected(&oracle, prefix, true),
            "{prefix}"
        );
    }
}

/// The folders right under `prefix` as of the bucket's clock.
fn folders(at: &VisionAt, prefix: &str) -> Vec<String> {
    let mut q = ListQuery {
        v2: true,
        prefix: prefix.to_string(),
        delimiter: Some("/".into()),
        max_keys: 1000,
        ..Default::default()
    };
    let mut out = Vec::new();
    loop {
        let page = parse(&list(at, &q));
        out.extend(
            page.folders
                .iter()
                .map(|f| f[prefix.len()..].trim_end_matches('/').to_string()),
        );
        if !page.truncated {
            return out;
        }
        q.continue_after = out.last().map(|f| format!("{prefix}{f}/"));
    }
}

fn klines_count(at: &VisionAt) -> usize {
    folders(at, "data/futures/cm/daily/klines/").len()
}

fn keys(at: &VisionAt, prefix: &str) -> Vec<Object> {
    at.walk(prefix, Start::At(prefix))
        .map(|o| o.into_owned())
        .collect()
}

/// The period of a data file's name (`YYYY-MM-DD` or `YYYY-MM`).
fn period(key: &str) -> &str {
    let name = key.rsplit('/').next().unwrap();
    let stem = name.split(".zip").next().unwrap();
    let b = stem.as_bytes();
    let daily = b.len() > 10 && b[b.len() - 3] == b'-' && b[b.len() - 6] == b'-';
    &stem[stem.len() - if daily { 10 } else { 7 }..]
}

#[test]
fn markets_types_and_intervals_follow_the_layout() {
    let model = Arc::new(Vision::new(0.01));
    let at = model.at(t("2026-12-06T09:00:00Z"));
    assert_eq!(folders(&at, "data/"), ["futures", "option", "spot"]);
    assert_eq!(folders(&at, "data/futures/"), ["cm", "um"]);
    assert_eq!(folders(&at, "data/option/"), ["daily"]);
    let mut prefixes = 0;
    for market in ["spot", "futures/um", "futures/cm", "option"] {
        for partition in folders(&at, &format!("data/{market}/")) {
            prefixes += folders(&at, &format!("data/{market}/{partition}/")).len();
        }
    }
    // 43 market × partition × type prefixes under data/ (bookTicker's stay, with old files).
    assert_eq!(prefixes, 43);
    assert_eq!(
        folders(&at, "data/futures/um/daily/"),
        [
            "aggTrades",
            "bookDepth",
            "bookTicker",
            "indexPriceKlines",
            "klines",
            "markPriceKlines",
            "metrics",
            "premiumIndexKlines",
            "trades"
        ]
    );
    assert_eq!(
        folders(&at, "data/futures/cm/monthly/"),
        [
            "aggTrades",
            "bookTicker",
            "fundingRate",
            "indexPriceKlines",
            "klines",
            "markPriceKlines",
            "premiumIndexKlines",
            "trades"
        ]
    );
    assert_eq!(
        folders(&at, "data/option/daily/"),
        ["BVOLIndex", "EOHSummary"]
    );
    assert_eq!(
        folders(&at, "data/option/daily/BVOLIndex/"),
        ["BTCBVOLUSDT", "ETHBVOLUSDT"]
    );

    // Intervals: spot daily 13, spot monthly 16, futures monthly 15, futures daily 12 or 15.
    let count = |p: &str| folders(&at, p).len();
    assert_eq!(count("data/spot/daily/klines/BTCUSDT/"), 13);
    assert_eq!(count("data/spot/monthly/klines/BTCUSDT/"), 16);
    assert_eq!(count("data/futures/um/monthly/klines/BTCUSDT/"), 15);
    assert_eq!(
        count("data/futures/um/monthly/markPriceKlines/ETHUSDT/"),
        15
    );
    // 15 intervals and the empty-named folder (`BTCUSDT//`, a stray).
    assert_eq!(count("data/futures/um/daily/klines/BTCUSDT/"), 16);
    assert!(folders(&at, "data/futures/um/daily/klines/BTCUSDT/").contains(&"1mo".to_string()));
    // A subset of the older futures symbols has daily 3d/1w/1mo folders too.
    let wider = Arc::new(Vision::new(0.1));
    let wider = wider.at(at.at);
    let um_daily = folders(&wider, "data/futures/um/daily/klines/");
    let sizes: Vec<usize> = um_daily
        .iter()
        .filter(|s| !s.is_empty() && *s != "BTCUSDT")
        .map(|s| folders(&wider, &format!("data/futures/um/daily/klines/{s}/")).len())
        .collect();
    assert!(sizes.iter().all(|n| *n == 12 || *n == 15), "{sizes:?}");
    assert!(sizes.contains(&12) && sizes.contains(&15), "{sizes:?}");
    assert!(!folders(&at, "data/futures/um/daily/klines/ETHUSDT/").contains(&"1s".into()));

    // Named folders at every scale.
    let tiny = Arc::new(Vision::new(0.0));
    let tiny = tiny.at(t("2026-12-06T09:00:00Z"));
    for (prefix, name) in [
        ("data/spot/daily/klines/", "BTCUSDT"),
        ("data/spot/daily/klines/", "ETHUSDT"),
        ("data/spot/daily/klines/", "币安人生USDT"),
        ("data/futures/um/daily/klines/", "BTCUSDT"),
        ("data/futures/um/daily/klines/", "ETHUSDT"),
        ("data/futures/um/daily/klines/", "BTCUSDT_240329"),
        ("data/futures/um/daily/klines/", "AERGOUSDTSETTLEDSETTLED"),
        ("data/futures/um/daily/klines/", "币安人生USDT"),
        ("data/futures/cm/daily/klines/", "BTCUSD_PERP"),
        ("data/futures/cm/daily/klines/", "BTCUSD_240628"),
        ("data/futures/cm/daily/klines/", "ADAUSD_PERP_SETTLED"),
    ] {
        assert!(
            folders(&tiny, prefix).contains(&name.to_string()),
            "{prefix}{name}"
        );
    }

    // CM: index prices under the pair, premium index only under perpetuals.
    let index = folders(&at, "data/futures/cm/daily/indexPriceKlines/");
    assert!(index.contains(&"BTCUSD".to_string()), "{index:?}");
    assert!(index.iter().all(|s| !s.contains('_')), "{index:?}");
    let premium = folders(&at, "data/futures/cm/daily/premiumIndexKlines/");
    // (a settled perpetual keeps its folder name's `_PERP`)
    assert!(premium.iter().all(|s| s.contains("_PERP")), "{premium:?}");
    assert!(premium.len() < klines_count(&at), "{premium:?}");
    let klines = folders(&at, "data/futures/cm/daily/klines/");
    assert!(klines.iter().any(|s| s.ends_with("_240628")), "{klines:?}");
    assert!(!klines.contains(&"BTCUSD".to_string()));
    assert_eq!(
        folders(&at, "data/futures/cm/daily/liquidationSnapshot/"),
        ["BTCUSD_PERP"]
    );
}

#[test]
fn presence_rules_hold_for_every_key() {
    let model = Arc::new(Vision::new(0.01));
    let at = model.at(t("2026-12-06T09:00:00Z"));
    let check = |prefix: &str, first: &str, last: &str| {
        let mut all = keys(&at, prefix);
        all.retain(|o| model.stray_reason(&o.key).is_none() || prefix == "data3/");
        assert!(!all.is_empty(), "{prefix}");
        for o in &all {
            let p = period(&o.key);
            assert!(p >= &first[..p.len()] && p <= &last[..p.len()], "{}", o.key);
        }
        all.len()
    };
    check(
        "data/futures/um/daily/bookTicker/",
        "2023-05-16",
        "2024-03-30",
    );
    check(
        "data/futures/um/monthly/bookTicker/",
        "2023-05-16",
        "2024-03-30",
    );
    check(
        "data/futures/cm/daily/liquidationSnapshot/",
        "2023-06-25",
        "2024-10-14",
    );
    check("data/option/daily/EOHSummary/", "2023-05-18", "2023-10-23");
    check("data/option/daily/BVOLIndex/", "2023-06-20", "2026-12-05");
    check(
        "data/futures/um/daily/bookDepth/",
        "2023-01-01",
        "2026-12-05",
    );
    check("data/futures/um/daily/metrics/", "2020-09-01", "2026-12-05");
    check("data/futures/um/", "2019-12-31", "2026-12-05");
    check("data/futures/cm/", "2020-08-11", "2026-12-05");
    check("data/spot/", "2017-08-17", "2026-12-05");
    check("data3/", "2023-06-25", "2023-12-31");
    // Monthly files only for complete months.
    check("data/spot/monthly/", "2017-08", "2026-11");
    for none in [
        "data/futures/um/daily/fundingRate/",
        "data/futures/cm/daily/fundingRate/",
        "data/futures/um/monthly/metrics/",
        "data/futures/um/monthly/bookDepth/",
        "data/futures/cm/monthly/liquidationSnapshot/",
        "data/futures/um/daily/liquidationSnapshot/",
        "data/option/monthly/",
        "data/spot/daily/fundingRate/",
        "data/futures/cm/daily/klines/BTCUSD/",
    ] {
        assert!(keys(&at, none).is_empty(), "{none}");
    }
    // 1s klines are spot's only; a sidecar beside every file but the scripted ones.
    for o in keys(&at, "data/futures/um/daily/") {
        assert!(!o.key.contains("/1s/"), "{}", o.key);
    }
    let spot = keys(&at, "data/spot/monthly/klines/BTCUSDT/");
    let missing: Vec<&str> = spot
        .iter()
        .filter(|o| o.key.ends_with(".zip"))
        .filter(|o| !spot.iter().any(|s| s.key == format!("{}.CHECKSUM", o.key)))
        .map(|o| o.key.as_str())
        .collect();
    assert_eq!(
        missing,
        [
            "data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2022-12.zip",
            "data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2022-10.zip"
        ]
    );
    // Gaps: spot LUNAUSDT has none of 2022-05-14..30, and files on both sides.
    let luna = keys(&at, "data/spot/daily/aggTrades/LUNAUSDT/");
    assert!(luna.iter().any(|o| period(&o.key) == "2022-05-13"));
    assert!(luna.iter().any(|o| period(&o.key) == "2022-05-31"));
    assert!(
        !luna
            .iter()
            .any(|o| ("2022-05-14"..="2022-05-30").contains(&period(&o.key)))
    );
}

#[test]
fn the_clock_shows_a_day_from_the_next_morning_and_late_files_days_later() {
    let model = Arc::new(Vision::new(0.01));
    let mut seen = 0;
    let mut late = 0;
    for prefix in [
        "data/spot/daily/aggTrades/",
        "data/futures/cm/daily/klines/BTCUSD_PERP/",
        "data/futures/um/daily/metrics/",
    ] {
        let listed = keys(&model.at(t("2026-12-06T09:00:00Z")), prefix);
        for o in listed.iter().filter(|o| o.key.ends_with(".zip")) {
            let day = d(period(&o.key));
            let first = model.first_version(&o.key).unwrap();
            let next = day + Duration::days(1);
            let morning = |h: u32, m: u32| next.and_hms_opt(h, m, 0).unwrap().and_utc();
            let lm = first.last_modified;
            seen += 1;
            if lm > morning(8, 40) {
                late += 1;
                assert!(lm < morning(8, 40) + Duration::days(8), "{}", o.key);
            } else {
                assert!(lm >= morning(6, 50), "{} {lm}", o.key);
            }
            if seen % 50 == 0 || lm > morning(8, 40) {
                // Absent just before it appears, present from then on.
                let before = model.at(lm - Duration::seconds(1));
                assert_eq!(before.get(&o.key), None, "{}", o.key);
                assert_eq!(model.at(lm).get(&o.key).unwrap().last_modified, lm);
                if lm <= morning(8, 40) {
                    assert_eq!(model.at(morning(6, 0)).get(&o.key), None);
                    assert!(model.at(morning(9, 0)).get(&o.key).is_some());
                }
            }
        }
    }
    let share = late as f64 / seen as f64;
    assert!(seen > 20_000, "{seen}");
    assert!((0.003..0.03).contains(&share), "{late} late of {seen}");

    // A month's files come in the first days of the next month.
    for o in keys(
        &model.at(t("2026-12-06T09:00:00Z")),
        "data/spot/monthly/klines/BTCUSDT/1d/",
    ) {
        let p = period(&o.key);
        if p.len() != 7 {
            continue; // the unpadded stray is not BTCUSDT's
        }
        let month = d(&format!("{p}-01"));
        let next = month.checked_add_months(chrono::Months::new(1)).unwrap();
        let lm = model
            .first_version(&o.key)
            .unwrap()
            .last_modified
            .date_naive();
        assert!(
            lm >= next && lm < next + Duration::days(5),
            "{} {lm}",
            o.key
        );
    }
    // The listing moves with the server's clock.
    let server = serve(&model, t("2026-12-05T06:00:00Z"));
    let leaf = "data/futures/cm/daily/aggTrades/BTCUSD_PERP/";
    let before = list_all(server.addr(), leaf, false, true, 1000);
    server.set_clock(t("2026-12-05T09:00:00Z"));
    let after = list_all(server.addr(), leaf, false, true, 1000);
    let new: Vec<&String> = after.iter().filter(|k| !before.contains(k)).collect();
    let key = format!("{leaf}BTCUSD_PERP-aggTrades-2026-12-04.zip");
    if model.first_version(&key).unwrap().last_modified <= t("2026-12-05T09:00:00Z") {
        assert_eq!(new, [&key, &format!("{key}.CHECKSUM")]);
    } else {
        assert!(new.is_empty());
    }
}

#[test]
fn changes_between_two_instants_are_the_scripted_events_and_the_appearances() {
    let model = Arc::new(Vision::new(0.001));
    // Every scripted replacement and removal is seen, at its instant, with its sidecar.
    let mut replaced = 0;
    let mut removed = 0;
    for s in model.script() {
        let folder = &s.key[..s.key.rfind('/').unwrap() + 1];
        match s.event {
            Event::Replaced { at, size } => {
                replaced += 1;
                let changes = model.changes_between_in(folder, at - Duration::seconds(1), at);
                let kinds: Vec<(&str, ChangeKind)> =
                    changes.iter().map(|c| (c.key.as_str(), c.kind)).collect();
                assert_eq!(
                    kinds,
                    [
                        (s.key.as_str(), ChangeKind::Replaced),
                        (format!("{}.CHECKSUM", s.key).as_str(), ChangeKind::Replaced)
                    ],
                    "{}",
                    s.key
                );
                let c = &changes[0];
                let (b, a) = (c.before.as_ref().unwrap(), c.after.as_ref().unwrap());
                assert_eq!((a.size, a.last_modified), (size, at));
                assert!(b.last_modified < at && b.size != size && b.etag != a.etag);
            }
            Event::Removed { at } => {
                removed += 1;
                let changes = model.changes_between_in(folder, at - Duration::seconds(1), at);
                let kinds: Vec<(&str, ChangeKind)> =
                    changes.iter().map(|c| (c.key.as_str(), c.kind)).collect();
                assert_eq!(
                    kinds,
                    [
                        (s.key.as_str(), ChangeKind::Removed),
                        (format!("{}.CHECKSUM", s.key).as_str(), ChangeKind::Removed)
                    ],
                    "{}",
                    s.key
                );
                assert!(model.at(at).get(&s.key).is_none());
                assert!(model.at(at - Duration::seconds(1)).get(&s.key).is_some());
            }
            Event::NoSidecar => {
                let now = model.at(t("2026-12-06T09:00:00Z"));
                assert!(now.get(&s.key).is_some(), "{}", s.key);
                assert!(now.get(&format!("{}.CHECKSUM", s.key)).is_none());
            }
            Event::NoFile => {
                let now = model.at(t("2026-12-06T09:00:00Z"));
                assert!(now.get(&s.key).is_none(), "{}", s.key);
                assert!(now.get(&format!("{}.CHECKSUM", s.key)).is_some());
            }
        }
    }
    assert!(replaced >= 5 && removed >= 3);

    // Over a whole day of the whole bucket: the additions are exactly the keys that appeared
    // in (t0, t1], and the only replacements are the scripted ones.
    let (t0, t1) = (t("2026-11-20T00:00:00Z"), t("2026-11-21T00:00:00Z"));
    let changes = model.changes_between(t0, t1);
    let added: Vec<&str> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Added)
        .map(|c| c.key.as_str())
        .collect();
    assert!(added.len() > 300, "{}", added.len());
    for c in &changes {
        match c.kind {
            ChangeKind::Added => {
                let lm = c.after.as_ref().unwrap().last_modified;
                assert!(lm > t0 && lm <= t1, "{} {lm}", c.key);
                assert_eq!(model.first_version(&c.key).unwrap().last_modified, lm);
            }
            ChangeKind::Replaced => assert!(
                model.script().iter().any(|s| c.key.starts_with(&s.key)
                    && matches!(s.event, Event::Replaced { at, .. } if at > t0 && at <= t1)),
                "{}",
                c.key
            ),
            ChangeKind::Removed => panic!("nothing is scripted to go that day: {}", c.key),
        }
    }
    let scripted_that_day = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Replaced)
        .count();
    assert_eq!(scripted_that_day, 4, "two files and their sidecars");
    // Completeness, on one market: the keys at t1 not at t0 are the additions.
    let prefix = "data/futures/cm/";
    let k0: std::collections::HashSet<String> = model
        .materialise(prefix, t0)
        .into_iter()
        .map(|o| o.key)
        .collect();
    let mut new: Vec<String> = model
        .materialise(prefix, t1)
        .into_iter()
        .map(|o| o.key)
        .filter(|k| !k0.contains(k))
        .collect();
    new.sort();
    let added_cm: Vec<String> = added
        .iter()
        .filter(|k| k.starts_with(prefix))
        .map(|k| k.to_string())
        .collect();
    assert!(!new.is_empty());
    assert_eq!(added_cm, new);
}

#[test]
fn changes_between_looks_only_where_changes_can_be_and_misses_none() {
    let model = Arc::new(Vision::new(0.001));
    for (t0, t1) in [
        ("2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"),
        ("2026-11-20T08:00:00Z", "2026-11-20T15:10:00Z"),
        ("2022-03-20T12:00:00Z", "2022-03-22T00:00:00Z"),
        ("2024-10-31T00:00:00Z", "2024-11-03T00:00:00Z"),
        ("2022-11-14T00:00:00Z", "2022-11-16T00:00:00Z"),
        ("2023-12-28T00:00:00Z", "2024-01-05T00:00:00Z"),
    ] {
        let (t0, t1) = (t(t0), t(t1));
        let fast = model.changes_between(t0, t1);
        assert!(!fast.is_empty());
        assert_eq!(fast, model.diff_by_walking_in("", t0, t1), "{t0} {t1}");
    }
    let (t0, t1) = (t("2026-11-20T00:00:00Z"), t("2026-11-21T00:00:00Z"));
    let cm = "data/futures/cm/daily/";
    assert_eq!(
        model.changes_between_in(cm, t0, t1),
        model.diff_by_walking_in(cm, t0, t1)
    );
}

#[test]
fn strays_are_listed_with_their_reasons() {
    let model = Arc::new(Vision::new(0.001));
    let at = model.at(t("2026-12-06T09:00:00Z"));
    let strays = model.strays();
    for needle in [
        "data2/.DS_Store",
        ".csv",
        "/data/spot/monthly/",
        "part-00000-",
        "ADABKRW-1d-2020-8.zip",
        "BTCUSDT//",
        "index.html",
        ".css",
        ".js",
    ] {
        assert!(
            strays.iter().any(|s| s.key.contains(needle)),
            "no stray with {needle}"
        );
    }
    let sidecar = strays
        .iter()
        .find(|s| s.reason == "sidecar without file")
        .unwrap();
    assert!(at.get(&sidecar.key).is_some());
    assert!(at.get(sidecar.key.trim_end_matches(".CHECKSUM")).is_none());
    let server = serve(&model, at.at);
    let (status, body) = http_get(
        server.addr(),
        &format!("/data.binance.vision/{}", enc(&sidecar.key)),
    );
    assert_eq!(status, 200);
    assert_eq!(body.len() as u64, at.get(&sidecar.key).unwrap().size);
    let unpadded = "data/spot/monthly/klines/ADABKRW/1d/ADABKRW-1d-2020-8.zip";
    assert!(at.get(&format!("{unpadded}.CHECKSUM")).is_none());
    // Each is listed in its folder and found by HEAD, and has a reason.
    for s in &strays {
        assert!(!s.reason.is_empty());
        assert_eq!(model.stray_reason(&s.key), Some(s.reason));
        let folder = &s.key[..s.key.rfind('/').map_or(0, |i| i + 1)];
        let listed = list_all(server.addr(), folder, true, true, 1000);
        assert!(listed.contains(&s.key), "{} not in {folder}", s.key);
        let (status, _) = http_head(
            server.addr(),
            &format!("/data.binance.vision/{}", enc(&s.key)),
        );
        assert_eq!(status, 200, "{}", s.key);
    }
    // data3/ is all strays, with one reason.
    let data3 = keys(&at, "data3/");
    assert!(data3.len() > 100);
    assert!(data3.iter().all(|o| model.stray_reason(&o.key).is_some()));
    assert_eq!(
        model.stray_reason("data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip"),
        None
    );
}

#[test]
fn the_realistic_corpus_and_the_whole_bucket_agree_where_they_overlap() {
    let as_of = d("2026-08-20");
    let realistic = vision_sim::realistic(as_of);
    let model = Arc::new(Vision::new(1.0));
    let at = model.at(as_of.and_hms_opt(9, 0, 0).unwrap().and_utc());
    let sampled = Arc::new(Vision::new(0.01));
    let sampled = sampled.at(at.at);
    let old = "2026-08-06";
    let mut compared = 0;
    let mut sampled_compared = 0;
    for (folder, interval) in [
        ("BTCUSDT", "1m"),
        ("BTCUSDT", "1d"),
        ("BTCUSDT", "1h"),
        ("ETHUSDT", "1m"),
        ("1000PEPEUSDT", "1m"),
        ("TLMUSDT", "1d"),
        ("BTCUSDT_240329", "1m"),
        ("币安人生USDT", "1d"),
    ] {
        let prefix = format!("data/futures/um/daily/klines/{folder}/{interval}/");
        let theirs: Vec<&Object> = realistic
            .objects()
            .iter()
            .filter(|o| o.key.starts_with(&prefix) && period(&o.key) < old)
            .collect();
        let ours: Vec<Object> = keys(&at, &prefix)
            .into_iter()
            .filter(|o| period(&o.key) < old)
            .collect();
        assert!(!theirs.is_empty(), "{prefix}");
        assert_eq!(
            ours.iter().map(|o| &o.key).collect::<Vec<_>>(),
            theirs.iter().map(|o| &o.key).collect::<Vec<_>>(),
            "{prefix}"
        );
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a, *b);
            compared += 1;
            if let Some(s) = sampled.get(&a.key) {
                assert_eq!(&s, a);
                sampled_compared += 1;
            }
        }
    }
    // Monthly 1d klines and the strays of realistic's folder.
    for key in [
        "data/futures/um/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2024-02.zip",
        "data/futures/um/monthly/klines/ETHUSDT/1d/ETHUSDT-1d-2021-07.zip.CHECKSUM",
        "data/futures/um/daily/klines/BTCUSDT//",
        "data/futures/um/daily/klines//",
    ] {
        assert_eq!(at.get(key).as_ref(), realistic.get(key), "{key}");
        compared += 1;
    }
    assert!(compared > 10_000, "{compared}");
    assert!(sampled_compared > 1_000, "{sampled_compared}");
}

/// Peak RSS and CPU per key of listing a large prefix of the full-size bucket, page by page as
/// a crawler does (generation and rendering of the XML). Run with
/// `cargo test --release -p vision-sim --test vision -- --ignored --nocapture scale_one`.
#[test]
#[ignore]
fn scale_one_listing_memory_and_cpu() {
    let model = Arc::new(Vision::new(1.0));
    let at = model.at(t("2026-12-06T09:00:00Z"));
    let total: u64 = model.census(at.at).iter().map(|c| c.1).sum();
    let pages: usize = std::env::var("PAGES")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(20_000);
    let cpu = || {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let f: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        // utime and stime, fields 14 and 15 (1-based), in clock ticks (100 Hz).
        (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) as f64 / 100.0
    };
    let hwm = || {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .unwrap()
            .to_string()
    };
    let before = hwm();
    let (c0, w0) = (cpu(), std::time::Instant::now());
    let mut q = ListQuery {
        v2: true,
        prefix: "data/spot/daily/klines/".into(),
        max_keys: 1000,
        ..Default::default()
    };
    let (mut n, mut bytes) = (0u64, 0usize);
    for _ in 0..pages {
        let xml = list(&at, &q);
        bytes += xml.len();
        let count = &xml[xml.find("<KeyCount>").unwrap() + 10..];
        n += count[..count.find('<').unwrap()].parse::<u64>().unwrap();
        let last = &xml[xml.rfind("<Key>").unwrap() + 5..];
        let last = last[..last.find("</Key>").unwrap()].to_string();
        q.continue_after = Some(last);
    }
    let (c1, w1) = (cpu(), w0.elapsed());
    println!(
        "scale 1.0: {total} keys in the bucket; listed {n} keys of data/spot/daily/klines/ in {pages} pages, {bytes} bytes of XML"
    );
    println!(
        "CPU {:.2} s ({:.0} ns a key), wall {:.2?}; {before} before, {} after",
        c1 - c0,
        (c1 - c0) * 1e9 / n as f64,
        w1,
        hwm()
    );
    let w = std::time::Instant::now();
    let changes = model.changes_between(t("2026-11-20T00:00:00Z"), t("2026-11-21T00:00:00Z"));
    println!(
        "changes_between over one day of the scale-1.0 bucket: {} changes in {:.2?}; {}",
        changes.len(),
        w.elapsed(),
        hwm()
    );
}
