// The catalog page: markets → datasets → a dataset's symbols → a symbol's calendar of periods,
// what downloading a selection costs, and the recent changes. It reads the catalog routes
// (/v1/catalog/…), the CLI's JSON, and nothing else. No framework, no build step. Every view
// is a state of the URL's hash (#market=um&dataset=um/daily/klines/1m&symbol=BTCUSDT&sel=…),
// so links and the back button work and a view can be shared.
"use strict";

const $ = (id) => document.getElementById(id);
const DAY_MS = 86400000;
const MARKETS = [
  ["spot", "spot pairs"],
  ["um", "USD-M futures"],
  ["cm", "COIN-M futures"],
  ["option", "European options"],
];
// A file is late when the first version the catalog saw was uploaded this long after the end
// of its period (the next day's, or the next month's, 00:00 UTC); `catalog lag` measures the
// same hours over a whole dataset.
const LATE_HOURS = { daily: 48, monthly: 7 * 24 };
// Rows of the changes feed drawn (the count says how many there are).
const FEED_ROWS = 200;

// /v1/catalog/datasets: each with `last_change`, its newest change (added, replaced or
// removed), which the catalog keeps at publish, so the history itself is never read whole.
let datasets = [];
const cache = new Map();

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(body && body.error ? body.error : `${path}: HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// Answers that do not change while the page is open (a publish is a reload away).
function cached(path) {
  if (!cache.has(path)) {
    const promise = api(path);
    promise.catch(() => cache.delete(path));
    cache.set(path, promise);
  }
  return cache.get(path);
}

function showError(error) {
  const box = $("error");
  box.textContent = error ? error.message : "";
  box.hidden = !error;
}

const count = (n) => Number(n).toLocaleString("en");

function plural(n, word) {
  return `${count(n)} ${word}${n === 1 ? "" : "s"}`;
}

// Bytes as a person reads them (decimal units, as download tools print them).
function size(bytes) {
  const units = ["bytes", "kB", "MB", "GB", "TB", "PB"];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${count(value)} bytes` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c != null));
  return node;
}

// ---- state: the hash ---------------------------------------------------------------------

function state() {
  const p = new URLSearchParams(location.hash.slice(1));
  return {
    market: p.get("market") || "",
    dataset: p.get("dataset") || "",
    symbol: p.get("symbol") || "",
    sel: p.getAll("sel"),
    since: p.get("since") || "",
    until: p.get("until") || "",
    dsort: p.get("dsort") || "dataset:asc",
    ssort: p.get("ssort") || "symbol:asc",
    days: p.get("days") || "7",
    kind: p.has("kind") ? p.get("kind") : "replaced,removed",
  };
}

// The hash of `changes` applied to the current state; `null` or "" removes a key.
function hashWith(changes) {
  const s = { ...state(), ...changes };
  const p = new URLSearchParams();
  for (const key of ["market", "dataset", "symbol"]) if (s[key]) p.set(key, s[key]);
  for (const symbol of s.sel) p.append("sel", symbol);
  if (s.since) p.set("since", s.since);
  if (s.until) p.set("until", s.until);
  if (s.dsort !== "dataset:asc") p.set("dsort", s.dsort);
  if (s.ssort !== "symbol:asc") p.set("ssort", s.ssort);
  if (s.days !== "7") p.set("days", s.days);
  if (s.kind !== "replaced,removed") p.set("kind", s.kind);
  return "#" + p.toString();
}

function go(changes) {
  location.hash = hashWith(changes);
}

// ---- keys, periods -----------------------------------------------------------------------

// A file's key → its dataset, symbol and period:
// data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-15.zip.
function parseKey(key) {
  const parts = key.split("/");
  if (parts[0] !== "data") return null;
  const i = parts[1] === "futures" ? 2 : 1;
  const [market, partition, type, symbol] = parts.slice(i, i + 4);
  const rest = parts.slice(i + 4);
  if (!symbol || rest.length < 1 || rest.length > 2) return null;
  const interval = rest.length === 2 ? rest[0] : null;
  const period = (rest[rest.length - 1].match(/-(\d{4}-\d{2}(?:-\d{2})?)\.zip$/) || [])[1] || "";
  return { dataset: [market, partition, type, interval].filter(Boolean).join("/"), symbol, period };
}

// A dataset in a route's path: its slashes are the path's (/v1/catalog/files/um/daily/klines/1m).
const dsPath = (dataset) => dataset.split("/").map(encodeURIComponent).join("/");

const partitionOf = (dataset) => dataset.split("/")[1];

function parsePeriod(text) {
  return new Date(text.length === 7 ? text + "-01T00:00:00Z" : text + "T00:00:00Z");
}

function nextPeriod(date, partition) {
  return partition === "monthly"
    ? new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1))
    : new Date(date.getTime() + DAY_MS);
}

function periodText(date, partition) {
  return date.toISOString().slice(0, partition === "monthly" ? 7 : 10);
}

function todayMinus(days) {
  return new Date(Date.now() - days * DAY_MS).toISOString().slice(0, 10);
}

function timeText(iso) {
  return iso ? iso.replace("T", " ").replace(/(\.\d+)?Z$/, "") : "-";
}

// ---- tables ------------------------------------------------------------------------------

function sorter(spec) {
  const [key, dir] = spec.split(":");
  const sign = dir === "desc" ? -1 : 1;
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === y) return 0;
    if (x == null) return 1; // nothing sorts last either way
    if (y == null) return -1;
    return (x < y ? -1 : 1) * sign;
  };
}

// Marks the sorted column's header (aria-sort) and makes every header's button sort by it:
// the same column again flips the order; a new one starts with its natural order.
function wireSort(table, spec, stateKey) {
  const [key, dir] = spec.split(":");
  for (const th of table.querySelectorAll("th[data-key]")) {
    const mine = th.dataset.key === key;
    th.setAttribute("aria-sort", mine ? (dir === "desc" ? "descending" : "ascending") : "none");
    th.querySelector("button").onclick = () => {
      const numeric = th.classList.contains("num");
      const next = mine ? (dir === "asc" ? "desc" : "asc") : (numeric ? "desc" : "asc");
      go({ [stateKey]: `${th.dataset.key}:${next}` });
    };
  }
}

// Scrolls a table's box (not the page) so that its chosen row shows.
function reveal(box) {
  const row = box.querySelector("tr.chosen");
  if (row && (row.offsetTop < box.scrollTop || row.offsetTop > box.scrollTop + box.clientHeight - 40)) {
    box.scrollTop = row.offsetTop - box.clientHeight / 3;
  }
}

function cell(text, className, title) {
  return el("td", { className: className || "", title: title || "" }, text);
}

// ---- markets and datasets ----------------------------------------------------------------

function drawMarkets(s) {
  const body = $("market-table").querySelector("tbody");
  body.replaceChildren(...MARKETS.map(([market, name]) => {
    const of = datasets.filter((d) => d.dataset.split("/")[0] === market);
    const sum = (field) => of.reduce((t, d) => t + d[field], 0);
    const link = el("a", { href: hashWith({ market, dataset: "", symbol: "", sel: [], since: "", until: "" }) }, market);
    const row = el("tr", { className: s.market === market ? "chosen" : "", dataset: { market } },
      el("td", {}, link, " ", el("span", { className: "muted" }, name)),
      cell(count(of.length), "num"),
      cell(count(sum("symbols")), "num"),
      cell(count(sum("files")), "num"),
      cell(size(sum("bytes")), "num", `${count(sum("bytes"))} bytes`));
    if (s.market === market) row.setAttribute("aria-current", "true");
    row.addEventListener("click", (e) => { if (e.target.tagName !== "A") link.click(); });
    return row;
  }));
}

function drawDatasets(s) {
  const section = $("datasets");
  section.hidden = !s.market;
  if (!s.market) return;
  $("datasets-title").textContent = `Datasets of ${s.market}`;
  const rows = datasets.filter((d) => d.dataset.split("/")[0] === s.market);
  rows.sort(sorter(s.dsort));
  const table = $("dataset-table");
  wireSort(table, s.dsort, "dsort");
  table.querySelector("tbody").replaceChildren(...rows.map((d) => {
    const link = el("a", { href: hashWith({ dataset: d.dataset, symbol: "", sel: [], since: "", until: "" }) }, d.dataset);
    const row = el("tr", { className: s.dataset === d.dataset ? "chosen" : "", dataset: { dataset: d.dataset } },
      el("td", {}, link),
      cell(count(d.symbols), "num"),
      cell(count(d.files), "num"),
      cell(size(d.bytes), "num", `${count(d.bytes)} bytes`),
      cell(d.first || "-"),
      cell(d.last || "-"),
      cell(d.last_change ? timeText(d.last_change).slice(0, 10) : "-", "",
        d.last_change ? `${timeText(d.last_change)} UTC` : "no file added, replaced or removed since the catalog's first crawl"));
    if (s.dataset === d.dataset) row.setAttribute("aria-current", "true");
    row.addEventListener("click", (e) => { if (e.target.tagName !== "A") link.click(); });
    return row;
  }));
  reveal($("dataset-scroll"));
}

// ---- a dataset's symbols, and the cost of a selection ------------------------------------

async function drawSymbols(s) {
  const section = $("symbols");
  section.hidden = !s.dataset;
  if (!s.dataset) return;
  $("symbols-title").textContent = `Symbols of ${s.dataset}`;
  const rows = [...await cached(`/v1/catalog/symbols/${dsPath(s.dataset)}`)];
  rows.sort(sorter(s.ssort));
  const table = $("symbol-table");
  wireSort(table, s.ssort, "ssort");
  const selected = new Set(s.sel);
  table.querySelector("tbody").replaceChildren(...rows.map((r) => {
    const box = el("input", { type: "checkbox", checked: selected.has(r.symbol), ariaLabel: `${r.symbol} in the selection` });
    box.addEventListener("change", () => {
      const sel = state().sel.filter((x) => x !== r.symbol);
      if (box.checked) sel.push(r.symbol);
      go({ sel });
    });
    const link = el("a", { href: hashWith({ symbol: r.symbol }) }, r.symbol);
    const row = el("tr", { className: s.symbol === r.symbol ? "chosen" : "", dataset: { symbol: r.symbol } },
      el("td", {}, box),
      el("td", {}, link),
      cell(count(r.files), "num"),
      cell(size(r.bytes), "num", `${count(r.bytes)} bytes`),
      cell(r.first || "-"),
      cell(r.last || "-"),
      cell(count(r.gaps), "num" + (r.gaps ? " has-gaps" : "")));
    if (s.symbol === r.symbol) row.setAttribute("aria-current", "true");
    row.addEventListener("click", (e) => { if (e.target.tagName === "TD" || e.target.tagName === "TR") link.click(); });
    return row;
  }));
  reveal($("symbol-scroll"));
  $("symbol-more").textContent = plural(rows.length, "symbol folder");
  table.dataset.rows = String(rows.length);
  return rows;
}

let costRun = 0;

// Files and bytes `/v1/catalog/files` would list: its X-Total-Files and X-Total-Bytes headers,
// sent before the first file, so the body is not read.
async function totals(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    const error = new Error(body && body.error ? body.error : `${url}: HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  const files = Number(response.headers.get("x-total-files"));
  const bytes = Number(response.headers.get("x-total-bytes"));
  if (response.body) response.body.cancel().catch(() => {});
  if (!response.headers.has("x-total-files") || Number.isNaN(files) || Number.isNaN(bytes)) {
    throw new Error(`${url}: no X-Total-Files and X-Total-Bytes headers`);
  }
  return { files, bytes };
}

// Runs `task` over `items`, `width` at a time.
async function eachLimited(items, width, task) {
  const out = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

// Files and bytes of the selection: the dataset, the ticked symbols (none ticked: all of
// them), from `since` to `until` (either may be empty), as `catalog files` would list them.
// A folder's whole life is priced from the symbols' totals; a range by the files route's
// totals: one request for the dataset, or one per symbol when symbols are ticked or the
// dataset has more files than one answer lists (the server refuses those).
async function drawCost(s, symbolRows) {
  const run = ++costRun;
  const partition = partitionOf(s.dataset);
  const hint = partition === "monthly" ? "YYYY-MM" : "YYYY-MM-DD";
  $("since").placeholder = hint;
  $("until").placeholder = hint;
  $("since").value = s.since;
  $("until").value = s.until;
  const known = new Set(symbolRows.map((r) => r.symbol));
  const chosen = s.sel.filter((x) => known.has(x));
  $("cost-symbols").textContent = chosen.length ? plural(chosen.length, "symbol") : "all symbols";

  const range = new URLSearchParams();
  if (s.since) range.set("since", s.since);
  if (s.until) range.set("until", s.until);
  const filesUrl = (symbol, format) => {
    const q = new URLSearchParams(range);
    if (symbol) q.set("symbol", symbol);
    q.set("format", format);
    return `/v1/catalog/files/${dsPath(s.dataset)}?${q}`;
  };
  const links = chosen.length ? chosen.map((x) => [x, filesUrl(x, "urls")]) : [["all symbols", filesUrl(null, "urls")]];
  $("cost-links").replaceChildren("Download URLs, one a line (for wget -i or aria2c -i): ",
    ...links.flatMap(([name, href], i) => [i ? ", " : "", el("a", { href, className: "urls" }, name)]));

  const total = $("cost-total");
  total.textContent = "Counting…";
  delete total.dataset.files;
  delete total.dataset.bytes;
  let files = 0;
  let bytes = 0;
  try {
    const rows = chosen.length ? symbolRows.filter((r) => chosen.includes(r.symbol)) : symbolRows;
    if (!s.since && !s.until) {
      for (const r of rows) {
        files += r.files;
        bytes += r.bytes;
      }
    } else {
      let parts = null;
      if (!chosen.length) {
        parts = await totals(filesUrl(null, "json")).then((t) => [t], (error) => {
          if (error.status === 400 && rows.length > 1) return null; // too many: per symbol
          throw error;
        });
      }
      if (!parts) {
        // A folder outside a well-formed range has no file in it: not asked (a malformed
        // one is asked, for the server's sentence).
        const shape = /^\d{4}-\d{2}(-\d{2})?$/;
        const valid = (!s.since || shape.test(s.since)) && (!s.until || shape.test(s.until));
        const inRange = rows.filter((r) => !valid || (r.first &&
          (!s.until || r.first.slice(0, s.until.length) <= s.until) &&
          (!s.since || r.last.slice(0, s.since.length) >= s.since)));
        parts = await eachLimited(inRange, 6, (r) => totals(filesUrl(r.symbol, "json")));
      }
      for (const t of parts) {
        files += t.files;
        bytes += t.bytes;
      }
    }
  } catch (error) {
    if (run !== costRun) return;
    total.textContent = error.message;
    total.classList.add("error");
    return;
  }
  if (run !== costRun) return;
  total.classList.remove("error");
  const span = s.since || s.until ? ` from ${s.since || "the first period"} to ${s.until || "the last"}` : ", every period";
  total.replaceChildren(
    "Downloading this selection: ",
    el("strong", {}, `${plural(files, "file")}, ${size(bytes)}`),
    ` (${count(bytes)} bytes)${span}.`);
  total.dataset.files = String(files);
  total.dataset.bytes = String(bytes);
}

// ---- a symbol's calendar of periods ------------------------------------------------------

async function drawSymbol(s, symbolRows) {
  const section = $("symbol");
  section.hidden = !(s.dataset && s.symbol);
  if (section.hidden) return;
  const record = symbolRows.find((r) => r.symbol === s.symbol);
  if (!record) throw new Error(`${s.dataset} has no symbol folder ${s.symbol}`);
  const partition = partitionOf(s.dataset);
  const q = new URLSearchParams({ symbol: s.symbol });
  const [files, gaps, replaced] = await Promise.all([
    cached(`/v1/catalog/files/${dsPath(s.dataset)}?${q}&format=json`),
    cached(`/v1/catalog/gaps/${dsPath(s.dataset)}?${q}`),
    cached(`/v1/catalog/changes?dataset=${encodeURIComponent(s.dataset)}&kind=replaced`),
  ]);
  if (state().symbol !== s.symbol || state().dataset !== s.dataset) return;

  // The first version of each replaced file (its earliest replacement's previous one).
  const firstSeen = new Map();
  const replacements = new Map();
  for (const c of replaced) {
    const k = parseKey(c.key);
    if (!k || k.symbol !== s.symbol) continue;
    if (!replacements.has(k.period)) replacements.set(k.period, []);
    replacements.get(k.period).push(c);
    if (!firstSeen.has(c.key)) firstSeen.set(c.key, c.previous_last_modified);
  }
  const lateMs = LATE_HOURS[partition] * 3600000;
  const kinds = new Map();
  const lateBy = new Map();
  for (const f of files) {
    const end = nextPeriod(parsePeriod(f.period), partition);
    const first = new Date(firstSeen.get(f.key) || f.last_modified);
    const lag = first - end;
    if (replacements.has(f.period)) kinds.set(f.period, "replaced");
    else if (lag > lateMs) kinds.set(f.period, "late");
    else kinds.set(f.period, "file");
    if (lag > lateMs) lateBy.set(f.period, lag);
  }
  const mine = gaps.filter((g) => g.symbol === s.symbol);
  for (const g of mine) {
    for (let d = parsePeriod(g.from); d <= parsePeriod(g.to); d = nextPeriod(d, partition)) {
      kinds.set(periodText(d, partition), g.covered_by ? "covered" : "missing");
    }
  }

  $("symbol-title").textContent = `${s.symbol} in ${s.dataset}`;
  const facts = [
    ["files", `${count(record.files)}, ${size(record.bytes)} (${count(record.bytes)} bytes)`],
    ["first period", record.first || "none"],
    ["last period", record.last || "none"],
    ["missing inside", record.gaps ? plural(record.gaps, partition === "monthly" ? "month" : "day") : "none"],
    ["replaced", replacements.size ? plural(replacements.size, "file") : "none recorded"],
    ["late", lateBy.size ? plural(lateBy.size, "file") : "none"],
  ];
  $("symbol-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("late-rule").textContent = `Late: the first version the catalog saw was uploaded more than ` +
    `${partition === "monthly" ? "7 days" : "48 hours"} after the ${partition === "monthly" ? "month" : "day"} ended. ` +
    `Missing: no file between the first and the last period; "in the other partition" when the ` +
    `${partition === "monthly" ? "daily" : "monthly"} files have it.`;

  drawPeriods(record, partition, kinds, replacements, lateBy);

  const events = [];
  if (record.first) events.push([record.first, `${record.first}: first file`]);
  for (const g of mine) {
    const unit = partition === "monthly" ? "month" : "day";
    const where = g.covered_by ? `, the ${g.covered_by} files have ${g.periods === 1 ? "it" : "them"}` : ", in neither partition";
    events.push([g.from, `${g.from}${g.to !== g.from ? ` to ${g.to}` : ""}: ${plural(g.periods, unit)} missing${where}`]);
  }
  for (const [period, list] of replacements) {
    for (const c of list) {
      events.push([period, `${period}: replaced (seen ${timeText(c.seen)} UTC), ` +
        `${count(c.previous_size)} bytes of ${timeText(c.previous_last_modified)} → ${count(c.size)} bytes of ${timeText(c.last_modified)}`]);
    }
  }
  for (const run of runsOf([...lateBy.keys()].sort(), partition)) {
    const worst = Math.max(...run.periods.map((p) => lateBy.get(p)));
    const days = Math.round(worst / DAY_MS);
    const what = run.periods.length === 1 ? "late" : `${count(run.periods.length)} files late`;
    events.push([run.from, `${run.from}${run.to !== run.from ? ` to ${run.to}` : ""}: ${what}, ` +
      `uploaded up to ${days >= 2 ? plural(days, "day") : plural(Math.round(worst / 3600000), "hour")} after`]);
  }
  if (record.last) events.push([record.last + "~", `${record.last}: last file`]);
  events.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  $("events").replaceChildren(...events.map(([, text]) => el("li", {}, text)));
  section.dataset.symbol = s.symbol;
  section.dataset.dataset = s.dataset;
}

// Consecutive periods, as runs.
function runsOf(periods, partition) {
  const runs = [];
  for (const p of periods) {
    const open = runs[runs.length - 1];
    if (open && periodText(nextPeriod(parsePeriod(open.to), partition), partition) === p) {
      open.to = p;
      open.periods.push(p);
    } else {
      runs.push({ from: p, to: p, periods: [p] });
    }
  }
  return runs;
}

const KIND_TEXT = {
  file: "file",
  late: "file, late",
  replaced: "file, replaced",
  covered: "missing, in the other partition",
  missing: "missing",
};

// One row per year: days as a contribution calendar (a column per week, Monday first), or
// twelve months.
function drawPeriods(record, partition, kinds, replacements, lateBy) {
  const box = $("periods");
  box.replaceChildren();
  if (!record.first) return;
  const monthly = partition === "monthly";
  const last = parsePeriod(record.last);
  let row = null;
  let grid = null;
  let year = null;
  for (let d = parsePeriod(record.first); d <= last; d = nextPeriod(d, partition)) {
    if (d.getUTCFullYear() !== year) {
      year = d.getUTCFullYear();
      grid = el("div", { className: monthly ? "months" : "weeks" });
      row = el("div", { className: "year" }, el("span", { className: "year-label" }, String(year)), grid);
      box.append(row);
    }
    const text = periodText(d, partition);
    const kind = kinds.get(text) || "missing";
    let title = `${text}: ${KIND_TEXT[kind]}`;
    if (lateBy.has(text)) title += ` (uploaded ${Math.round(lateBy.get(text) / 3600000)} h after the period ended)`;
    if (replacements.has(text)) title += ` (${replacements.get(text).length}×)`;
    const span = el("span", { className: `period ${kind}`, title, dataset: { period: text } });
    if (monthly) {
      span.style.gridColumn = String(d.getUTCMonth() + 1);
      span.textContent = text.slice(5);
    } else {
      const jan1 = Date.UTC(year, 0, 1);
      const index = Math.round((d.getTime() - jan1) / DAY_MS) + (new Date(jan1).getUTCDay() + 6) % 7;
      span.style.gridColumn = String(Math.floor(index / 7) + 1);
      span.style.gridRow = String((index % 7) + 1);
    }
    grid.append(span);
  }
  box.dataset.files = String([...kinds.values()].filter((k) => k === "file" || k === "late" || k === "replaced").length);
}

// ---- the changes feed --------------------------------------------------------------------

async function drawChanges(s) {
  $("changes-days").value = s.days;
  $("changes-kind").value = s.kind;
  $("changes-scope").textContent = s.dataset ? `of ${s.dataset}` : "of every dataset";
  const since = todayMinus(Number(s.days) - 1);
  const kinds = s.kind ? s.kind.split(",") : [""];
  const lists = await Promise.all(kinds.map((kind) => {
    const q = new URLSearchParams({ since });
    if (s.dataset) q.set("dataset", s.dataset);
    if (kind) q.set("kind", kind);
    return cached(`/v1/catalog/changes?${q}`);
  }));
  const rows = lists.flat();
  rows.sort((a, b) => (a.seen < b.seen ? 1 : a.seen > b.seen ? -1 : a.key < b.key ? -1 : 1));
  const kindText = s.kind ? s.kind.split(",").join(" or ") : "";
  $("changes-count").textContent = `${plural(rows.length, (kindText ? kindText + " " : "") + "file")} since ${since}` +
    (rows.length > FEED_ROWS ? `, the newest ${FEED_ROWS} below` : "") + ".";
  const table = $("changes-table");
  table.hidden = rows.length === 0;
  table.querySelector("tbody").replaceChildren(...rows.slice(0, FEED_ROWS).map((c) => {
    const k = parseKey(c.key) || { dataset: "", symbol: c.key, period: "" };
    const market = k.dataset.split("/")[0];
    const symbolLink = k.dataset ? el("a", { href: hashWith({ market, dataset: k.dataset, symbol: k.symbol, sel: [], since: "", until: "" }) }, k.symbol) : k.symbol;
    const was = c.previous_size == null ? "" : `${count(c.previous_size)} of ${timeText(c.previous_last_modified)}`;
    return el("tr", { className: "change " + c.kind, title: c.key },
      cell(timeText(c.seen)),
      cell(c.kind),
      el("td", {}, k.dataset ? el("a", { href: hashWith({ market, dataset: k.dataset, symbol: "", sel: [], since: "", until: "" }) }, k.dataset) : "-"),
      el("td", {}, symbolLink),
      cell(k.period),
      cell(c.size == null ? "-" : count(c.size), "num"),
      cell(was, "num"));
  }));
  table.dataset.rows = String(rows.length);
}

// ---- drawing a state ---------------------------------------------------------------------

let drawing = Promise.resolve();
// The first drawing keeps the page where the browser put it; later ones (a click) bring the
// symbol's calendar into view when one was chosen.
let drawn = 0;

async function draw() {
  const s = state();
  document.body.dataset.ready = "0";
  showError(null);
  drawMarkets(s);
  drawDatasets(s);
  const parts = [];
  parts.push(drawChanges(s));
  parts.push((async () => {
    const rows = await drawSymbols(s);
    if (!rows) {
      $("symbol").hidden = true;
      return;
    }
    await Promise.all([drawCost(s, rows), drawSymbol(s, rows)]);
  })());
  const results = await Promise.allSettled(parts);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) showError(failed.reason);
  if (drawn++ && s.symbol && !$("symbol").hidden && !failed) $("symbol").scrollIntoView({ block: "nearest" });
  document.body.dataset.ready = "1";
  document.body.dataset.view = location.hash;
}

function redraw() {
  drawing = drawing.then(draw, draw);
}

$("cost-form").addEventListener("submit", (e) => {
  e.preventDefault();
  go({ since: $("since").value.trim(), until: $("until").value.trim() });
});
$("cost-clear").addEventListener("click", () => go({ sel: [], since: "", until: "" }));
$("changes-days").addEventListener("change", (e) => go({ days: e.target.value }));
$("changes-kind").addEventListener("change", (e) => go({ kind: e.target.value }));
window.addEventListener("hashchange", redraw);

async function start() {
  try {
    datasets = await api("/v1/catalog/datasets");
  } catch (error) {
    $("status").textContent = "No catalog to show.";
    showError(error);
    document.body.dataset.ready = "1";
    return;
  }
  const sum = (field) => datasets.reduce((t, d) => t + d[field], 0);
  const newest = datasets.reduce((t, d) => (d.last_change && d.last_change > t ? d.last_change : t), "");
  $("status").textContent = `${plural(sum("files"), "file")}, ${size(sum("bytes"))}, in ` +
    `${plural(datasets.length, "dataset")} and ${plural(sum("symbols"), "symbol folder")}` +
    (newest ? `; the last change seen ${timeText(newest)} UTC.` : "; no change since the first crawl.");
  redraw();
}

start();
