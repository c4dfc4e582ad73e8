// The page: reads the same read-only API as everyone else and draws it. No framework, no
// build step. State lives in the URL's hash (#market=spot&symbol=BTCUSDT&day=2024-01-15&contract=all),
// so a view can be shared as a link.
"use strict";

const $ = (id) => document.getElementById(id);
const DAY_MS = 86400000;

// All symbol records, from /v1/symbols, for the search.
let symbols = [];

// The market whose tables every answer comes from (`?market=`): the hash's, else USD-M's when
// the file keeps it, else the first the file keeps (/v1/status names them).
let market = "um";
const MARKET_TITLES = { um: "USD-M futures", cm: "COIN-M futures", spot: "spot" };

function withMarket(path) {
  return market === "um" ? path : `${path}${path.includes("?") ? "&" : "?"}market=${encodeURIComponent(market)}`;
}

async function api(path) {
  const response = await fetch(withMarket(path), { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(body && body.error ? body.error : `${path}: HTTP ${response.status}`);
    error.status = response.status;
    error.suggestions = body && body.suggestions;
    throw error;
  }
  return body;
}

function showError(error) {
  const box = $("error");
  box.textContent = error ? error.message : "";
  box.hidden = !error;
}

function parseDay(text) {
  return new Date(text + "T00:00:00Z");
}

function dayText(date) {
  return date.toISOString().slice(0, 10);
}

function addDays(date, n) {
  return new Date(date.getTime() + n * DAY_MS);
}

// Names compared as a person types them: any case, any Unicode normal form.
function fold(text) {
  return text.normalize("NFKC").toLocaleLowerCase();
}

function readHash() {
  return new URLSearchParams(location.hash.slice(1));
}

function writeHash(changes) {
  const params = readHash();
  for (const [key, value] of Object.entries(changes)) {
    if (value) params.set(key, value); else params.delete(key);
  }
  history.replaceState(null, "", "#" + params.toString());
}

// ---- the history chart -------------------------------------------------------------------

let chart = null;

function drawHistory(counts) {
  const xs = counts.map((c) => parseDay(c.date).getTime() / 1000);
  const data = [xs, counts.map((c) => c.perpetual), counts.map((c) => c.delivery)];
  const box = $("chart");
  box.replaceChildren();
  if (counts.length === 0) {
    box.textContent = "No files recorded yet.";
    return;
  }
  // The page's colours (light or dark scheme), for the axes' text and grid.
  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue("--muted").trim();
  const grid = { stroke: css.getPropertyValue("--line").trim(), width: 1 };
  const axis = { stroke: fg, grid, ticks: grid };
  const options = {
    width: box.clientWidth || 800,
    height: 320,
    scales: { x: { time: true } },
    series: [
      { value: (u, v) => (v == null ? "" : dayText(new Date(v * 1000))) },
      { label: "perpetual", stroke: "#0969da", width: 1.5, fill: "rgba(9,105,218,0.08)" },
      { label: "delivery", stroke: "#bf8700", width: 1.5 },
    ],
    axes: [axis, { ...axis, label: "symbols", size: 60 }],
    cursor: { drag: { x: true, y: false } },
    hooks: {
      ready: [(u) => {
        u.over.addEventListener("click", () => {
          const i = u.cursor.idx;
          if (i != null) showDay(dayText(new Date(u.data[0][i] * 1000)));
        });
      }],
    },
  };
  chart = new uPlot(options, data, box);
  box.dataset.points = String(counts.length);
}

window.addEventListener("resize", () => {
  if (chart) chart.setSize({ width: $("chart").clientWidth, height: 320 });
});

// ---- a symbol: search, calendar, events --------------------------------------------------

function findSymbol(text) {
  const wanted = fold(text.trim());
  return symbols.find((s) => s.symbol === text.trim()) ||
    symbols.find((s) => fold(s.symbol) === wanted);
}

function showMatches(text) {
  const list = $("matches");
  list.replaceChildren();
  const wanted = fold(text.trim());
  if (!wanted) return;
  const found = symbols.filter((s) => fold(s.symbol).includes(wanted));
  // Names that start with the text first, then by name.
  found.sort((a, b) => (fold(b.symbol).startsWith(wanted) - fold(a.symbol).startsWith(wanted)) ||
    (a.symbol < b.symbol ? -1 : 1));
  for (const s of found.slice(0, 24)) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = s.symbol;
    button.addEventListener("click", () => showSymbol(s.symbol));
    item.append(button);
    list.append(item);
  }
  if (found.length > 24) {
    const more = document.createElement("li");
    more.className = "muted";
    more.textContent = `and ${found.length - 24} more`;
    list.append(more);
  }
}

async function showSymbol(text) {
  showError(null);
  const record = findSymbol(text);
  const name = record ? record.symbol : text.trim();
  let days;
  try {
    days = await api("/v1/timeline/" + encodeURIComponent(name));
  } catch (error) {
    if (error.suggestions && error.suggestions.length) showMatches(error.suggestions[0]);
    showError(error);
    return;
  }
  if (!record) return;
  $("search").value = record.symbol;
  showMatches("");
  writeHash({ symbol: record.symbol });
  drawSymbol(record, days);
}

// What each day of the symbol's life is: "file", "absent" (checked, none), "unchecked".
function classify(record, days) {
  const stored = new Map(days.map((d) => [d.date, d.available]));
  const first = record.first_file_date && parseDay(record.first_file_date);
  if (!first) return [];
  const last = parseDay(record.last_file_date);
  const checked = record.checked_through ? parseDay(record.checked_through) : last;
  const end = checked > last ? checked : last;
  const out = [];
  for (let d = first; d <= end; d = addDays(d, 1)) {
    const text = dayText(d);
    let kind;
    if (stored.has(text)) kind = stored.get(text) ? "file" : "absent";
    // After the last file, a checked day without a row had no file; inside the life it was
    // never checked (probed days, or a window not listed yet).
    else if (d > last && d <= checked) kind = "absent";
    else kind = "unchecked";
    out.push({ date: d, text, kind });
  }
  return out;
}

function runs(classified, kind) {
  const found = [];
  for (const day of classified) {
    const open = found[found.length - 1];
    if (day.kind === kind && open && addDays(open.to, 1).getTime() === day.date.getTime()) {
      open.to = day.date;
    } else if (day.kind === kind) {
      found.push({ from: day.date, to: day.date });
    }
  }
  return found;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function drawSymbol(record, days) {
  const classified = classify(record, days);
  $("calendar-card").hidden = false;
  $("symbol-name").textContent = record.symbol;
  const facts = [
    ["contract", record.contract + (record.settled ? ", settled" : "") +
      (record.quote_asset ? `, quote ${record.quote_asset}` : "")],
    ["first file", record.first_file_date || "none"],
    ["last file", record.last_file_date || "none"],
    ["days with a file", String(days.filter((d) => d.available).length)],
    ["checked", record.checked_from ? `${record.checked_from} to ${record.checked_through}` : "probed days only"],
  ];
  if (record.delivery_date) facts.splice(1, 0, ["delivery", record.delivery_date]);
  $("symbol-facts").replaceChildren(...facts.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    return [dt, dd];
  }));

  // One row per year, a column per week (Monday first), as a contribution calendar.
  const calendar = $("calendar");
  calendar.replaceChildren();
  const byYear = new Map();
  for (const day of classified) {
    const year = day.date.getUTCFullYear();
    if (!byYear.has(year)) byYear.set(year, []);
    byYear.get(year).push(day);
  }
  for (const [year, yearDays] of byYear) {
    const row = document.createElement("div");
    row.className = "year";
    const label = document.createElement("span");
    label.className = "year-label";
    label.textContent = year;
    const weeks = document.createElement("div");
    weeks.className = "weeks";
    const jan1 = Date.UTC(year, 0, 1);
    const offset = (new Date(jan1).getUTCDay() + 6) % 7;
    for (const day of yearDays) {
      const index = Math.round((day.date.getTime() - jan1) / DAY_MS) + offset;
      const cell = document.createElement("span");
      cell.className = "day " + day.kind;
      cell.style.gridColumn = String(Math.floor(index / 7) + 1);
      cell.style.gridRow = String((index % 7) + 1);
      cell.title = `${day.text}: ${day.kind === "file" ? "file" : day.kind === "absent" ? "checked, no file" : "not checked"}`;
      cell.dataset.date = day.text;
      cell.addEventListener("click", () => showDay(day.text));
      weeks.append(cell);
    }
    row.append(label, weeks);
    calendar.append(row);
  }

  const events = [];
  if (record.first_file_date) events.push(`${record.first_file_date}: first file`);
  const last = record.last_file_date && parseDay(record.last_file_date);
  for (const kind of ["absent", "unchecked"]) {
    for (const run of runs(classified, kind)) {
      if (last && run.from > last) continue; // after the end: said below
      const n = Math.round((run.to - run.from) / DAY_MS) + 1;
      const what = kind === "absent" ? "no file" : "not checked";
      events.push(`${dayText(run.from)}: ${plural(n, "day")} ${what}, to ${dayText(run.to)}`);
    }
  }
  if (record.last_file_date) {
    const after = record.checked_through && parseDay(record.checked_through) > last;
    events.push(`${record.last_file_date}: last file` +
      (after ? ` (none since, checked through ${record.checked_through})` : ""));
  }
  events.sort();
  $("events").replaceChildren(...events.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
  $("calendar-card").dataset.symbol = record.symbol;
  $("calendar").dataset.files = String(classified.filter((d) => d.kind === "file").length);
}

// ---- a day -------------------------------------------------------------------------------

async function showDay(text) {
  if (!text) return;
  showError(null);
  $("day-input").value = text;
  const contract = $("contract").value;
  let rows;
  try {
    rows = await api(`/v1/snapshot/${encodeURIComponent(text)}?contract=${contract}`);
  } catch (error) {
    showError(error);
    return;
  }
  writeHash({ day: text, contract: contract === "perpetual" ? "" : contract });
  // A spot pair has no contract type (every pair is filed as the market's "perpetual").
  const noun = market === "spot" ? "pair" : contract === "all" ? "symbol" : contract + " symbol";
  $("snapshot-count").textContent = `${plural(rows.length, noun)} with a file on ${text}`;
  const body = $("snapshot").querySelector("tbody");
  body.replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    const link = document.createElement("a");
    link.href = "#symbol=" + encodeURIComponent(r.symbol);
    link.textContent = r.symbol;
    link.addEventListener("click", (e) => { e.preventDefault(); showSymbol(r.symbol); $("symbol").scrollIntoView(); });
    name.append(link);
    const size = document.createElement("td");
    size.className = "num";
    size.textContent = r.file_size_bytes == null ? "-" : r.file_size_bytes.toLocaleString("en");
    const modified = document.createElement("td");
    modified.textContent = r.last_modified ? r.last_modified.replace("T", " ").replace(/(\.\d+)?Z$/, "") : "-";
    tr.append(name, size, modified);
    return tr;
  }));
  $("snapshot").hidden = false;
  $("snapshot").dataset.day = text;
}

// ---- start -------------------------------------------------------------------------------

$("search").addEventListener("input", (e) => showMatches(e.target.value));
$("search-form").addEventListener("submit", (e) => { e.preventDefault(); showSymbol($("search").value); });
$("day-form").addEventListener("submit", (e) => { e.preventDefault(); showDay($("day-input").value); });

// The switch between the markets the file keeps; hidden when it keeps one. A switch starts the
// page afresh on the other market (a symbol or day of one market means nothing in another).
function drawMarkets(kept) {
  const select = $("market");
  select.replaceChildren(...kept.map((m) => {
    const option = document.createElement("option");
    option.value = m;
    option.textContent = MARKET_TITLES[m] || m;
    option.selected = m === market;
    return option;
  }));
  $("market-form").hidden = kept.length < 2;
  const title = `Binance ${MARKET_TITLES[market] || market} on Binance Vision`;
  $("title").textContent = title;
  document.title = title;
}

$("market").addEventListener("change", (e) => {
  history.replaceState(null, "", "#" + new URLSearchParams({ market: e.target.value }).toString());
  location.reload();
});

async function start() {
  let status;
  market = readHash().get("market") || "um";
  try {
    status = await api("/v1/status");
    if (!readHash().get("market") && !status.markets.includes(market) && status.markets.length) {
      market = status.markets[0];
      status = await api("/v1/status");
    }
    symbols = await api("/v1/symbols");
  } catch (error) {
    $("status").textContent = "No database to show.";
    showError(error);
    return;
  }
  drawMarkets(status.markets.includes(market) ? status.markets : [...status.markets, market]);
  const c = status.symbols;
  $("status").textContent = (market === "spot"
    ? `${c.total.toLocaleString("en")} pair folders, `
    : `${c.total.toLocaleString("en")} symbol folders (${c.perpetual} perpetual, ${c.delivery} delivery), `) +
    `${status.rows.toLocaleString("en")} days recorded, ` +
    (status.checked_through ? `complete through ${status.checked_through}` : "not yet complete") +
    (status.stale ? " — stale" : "") + ".";
  $("day-input").min = status.first_day;
  // Spot pairs are neither perpetual nor delivery contracts: no choice to offer.
  for (const e of [$("contract"), document.querySelector("label[for=contract]")]) e.hidden = market === "spot";
  if (status.checked_through) $("day-input").max = status.checked_through;
  try {
    drawHistory(await api("/v1/summary"));
  } catch (error) {
    showError(error);
  }
  const hash = readHash();
  if (hash.get("contract")) $("contract").value = hash.get("contract");
  if (hash.get("symbol")) {
    $("search").value = hash.get("symbol");
    await showSymbol(hash.get("symbol"));
  }
  await showDay(hash.get("day") || status.checked_through);
  document.body.dataset.ready = "1";
}

start();
