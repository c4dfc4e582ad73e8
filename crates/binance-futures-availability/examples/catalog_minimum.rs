//! The fewest listing requests a first `catalog update` can make of the bucket a catalog
//! holds, computed from that catalog (for `benches/catalog_scale.sh`).
//!
//! A crawl lists each level of the layout with `delimiter=/` (the root, `data/`,
//! `data/futures/`, the markets, their partitions, the 43 data-type folders) and every folder
//! below them flat; a page holds at most 1000 keys and folders. So the minimum is
//! Σ over levels of max(1, ⌈(sub-folders + keys directly in it) / 1000⌉) + Σ over listed folders
//! of max(1, ⌈keys / 1000⌉), where a folder's keys are its files, their `.CHECKSUM`s (a file's
//! `checksum` flag) and the strays whose longest listed folder it is.
//!
//! usage: cargo run --release --example catalog_minimum -- CATALOG.duckdb

use std::collections::{BTreeMap, BTreeSet, HashSet};

use binance_futures_availability::vision::{DataType, Dataset, Market, Partition};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: catalog_minimum CATALOG.duckdb")?;
    let conn = duckdb::Connection::open_with_flags(
        &path,
        duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?,
    )?;
    // The prefixes the crawl walks as levels, as `collect::crawl::Level` does.
    let mut levels: BTreeSet<String> = ["", "data/", "data/futures/"].map(String::from).into();
    for m in Market::ALL {
        for p in Partition::ALL {
            for t in DataType::ALL.into_iter().filter(|t| m.offers(p, *t)) {
                levels.insert(m.root().to_string());
                levels.insert(format!("{}{}/", m.root(), p.as_str()));
                levels.insert(format!("{}{}/{}/", m.root(), p.as_str(), t.name()));
            }
        }
    }
    // Keys of each listed folder: files and sidecars by leaf …
    let mut folders: BTreeMap<String, u64> = BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT d.name, l.symbol, count(*) + count(*) FILTER (WHERE f.checksum)
           FROM files f JOIN leaves l ON l.id = f.leaf JOIN datasets d ON d.id = l.dataset
          GROUP BY ALL",
    )?;
    let mut files = 0u64;
    for row in stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })? {
        let (dataset, symbol, keys) = row?;
        let dataset: Dataset = dataset.parse()?;
        *folders
            .entry(format!("{}{symbol}/", dataset.prefix()))
            .or_default() += keys as u64;
        files += keys as u64;
    }
    // … every folder the crawl wrote as listed (a folder of strays only, too) …
    let listed: HashSet<String> = conn
        .prepare("SELECT prefix FROM folders")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    for f in listed.iter().filter(|f| !levels.contains(*f)) {
        folders.entry(f.clone()).or_default();
    }
    // … and each stray in the longest listed folder or level above it.
    let mut at_level: BTreeMap<String, u64> = BTreeMap::new();
    let mut strays = 0u64;
    let mut stmt = conn.prepare("SELECT key FROM strays")?;
    for key in stmt.query_map([], |r| r.get::<_, String>(0))? {
        let key = key?;
        strays += 1;
        let home = key
            .char_indices()
            .filter(|(_, c)| *c == '/')
            .map(|(i, _)| &key[..=i])
            .rev()
            .find(|p| listed.contains(*p) || levels.contains(*p))
            .unwrap_or("");
        if levels.contains(home) {
            *at_level.entry(home.to_string()).or_default() += 1;
        } else {
            *folders.entry(home.to_string()).or_default() += 1;
        }
    }
    let pages = |entries: u64| entries.div_ceil(1000).max(1);
    // A level is listed when something is under it; its entries are its sub-folders (the
    // next segment of every folder and level below it) and the keys directly in it.
    let below: Vec<&String> = folders.keys().chain(levels.iter()).collect();
    let mut level_pages = 0u64;
    let mut levels_listed = 0u64;
    for level in &levels {
        let children: BTreeSet<&str> = below
            .iter()
            .filter(|p| p.len() > level.len() && p.starts_with(level.as_str()))
            .filter(|p| {
                // Only levels with something under them are listed as sub-folders.
                !levels.contains(p.as_str())
                    || folders.keys().any(|f| f.starts_with(p.as_str()))
                    || at_level.get(p.as_str()).is_some_and(|n| *n > 0)
            })
            .map(|p| {
                let rest = &p[level.len()..];
                &p[..level.len() + rest.find('/').map_or(rest.len(), |i| i + 1)]
            })
            .collect();
        let direct = at_level.get(level.as_str()).copied().unwrap_or(0);
        if children.is_empty() && direct == 0 && !level.is_empty() {
            continue;
        }
        levels_listed += 1;
        level_pages += pages(children.len() as u64 + direct);
    }
    let folder_keys: u64 = folders.values().sum();
    let folder_pages: u64 = folders.values().map(|k| pages(*k)).sum();
    println!("levels_listed {levels_listed}");
    println!("level_pages {level_pages}");
    println!("folders {}", folders.len());
    println!("folder_pages {folder_pages}");
    println!("keys {}", folder_keys + at_level.values().sum::<u64>());
    println!("file_and_sidecar_keys {files}");
    println!("strays {strays}");
    println!("min_requests {}", level_pages + folder_pages);
    Ok(())
}
