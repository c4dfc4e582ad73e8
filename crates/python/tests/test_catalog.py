"""The catalog from Python: `open_catalog()` asks what `binance-futures-availability catalog …`
asks, and each answer equals the command's `--format json` — through `to_pylist()`, polars and
pyarrow. The catalog is built at test time by the real binary against vision-sim's whole
bucket (`--corpus vision`), crawled twice a week apart so it holds changes."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pyarrow as pa
import pytest

import binance_futures_availability as bfa
from conftest import CatalogCli

DAILY = "um/daily/klines/1m"
MONTHLY = "spot/monthly/klines/1d"


@pytest.fixture(scope="session")
def cat(catalog_path):
    with bfa.open_catalog(catalog_path) as catalog:
        yield catalog


@pytest.fixture(scope="session")
def cli(catalog_path) -> CatalogCli:
    return CatalogCli(catalog_path)


def cli_rows(rows, schema: pa.Schema):
    """The CLI's JSON rows, their instants (the table's timestamp columns) as aware datetimes."""
    times = {f.name for f in schema if pa.types.is_timestamp(f.type)}

    def value(name, v):
        if name in times and v is not None:
            return dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        return v

    return [{k: value(k, v) for k, v in row.items()} for row in rows]


QUESTIONS = [
    (lambda c: c.datasets(), ("datasets",)),
    (lambda c: c.datasets(market="spot"), ("datasets", "--market", "spot")),
    (lambda c: c.symbols(DAILY), ("symbols", DAILY)),
    (lambda c: c.symbols(MONTHLY), ("symbols", MONTHLY)),
    (lambda c: c.files(DAILY), ("files", DAILY)),
    (lambda c: c.files(MONTHLY, since="2021-03", until="2023-12"),
     ("files", MONTHLY, "--since", "2021-03", "--until", "2023-12")),
    (lambda c: c.files(DAILY, symbol="BTCUSDT", since=dt.date(2026, 1, 1), until="2026-01-31"),
     ("files", DAILY, "--symbol", "BTCUSDT", "--since", "2026-01-01", "--until", "2026-01-31")),
    (lambda c: c.gaps(DAILY), ("gaps", DAILY)),
    (lambda c: c.gaps("um/daily/klines/1d", symbol="BNXUSDT"),
     ("gaps", "um/daily/klines/1d", "--symbol", "BNXUSDT")),
    (lambda c: c.lag(DAILY), ("lag", DAILY)),
    (lambda c: c.changes(), ("changes",)),
    (lambda c: c.changes(dataset=DAILY), ("changes", "--dataset", DAILY)),
    (lambda c: c.strays(), ("strays",)),
]


@pytest.mark.parametrize("ask, args", QUESTIONS, ids=[" ".join(q[1]) for q in QUESTIONS])
def test_every_question_equals_the_clis_json(cat, cli, ask, args):
    table = ask(cat)
    expected = cli.json(*args)
    if isinstance(expected, dict):  # `catalog lag` prints its one row as an object
        expected = [expected]
    arrow = pa.table(table)
    want = cli_rows(expected, arrow.schema)
    assert table.to_pylist() == want
    assert arrow.to_pylist() == want
    assert pl.DataFrame(table).to_dicts() == want
    assert expected, "the question has an answer"
    assert len(table) == len(expected)
    assert table.columns == list(expected[0].keys()) == arrow.column_names


def test_changes_by_day_and_kind_equal_the_clis_json(cat, cli):
    """`seen` is when the crawl that saw a change began (the test's own clock): its day is
    asked both ways, as a date and as text."""
    day = pl.DataFrame(cat.changes())["seen"][0].date()
    table = cat.changes(since=day, until=day.isoformat(), kind="replaced")
    expected = cli.json("changes", "--since", str(day), "--until", str(day), "--kind", "replaced")
    assert expected and table.to_pylist() == cli_rows(expected, pa.table(table).schema)
    assert cat.changes(until=day - dt.timedelta(days=1)).to_pylist() == []


def test_the_questions_have_answers_worth_comparing(cat):
    """The fixture is not empty where the comparisons above would pass vacuously."""
    assert len(cat.datasets()) > 20
    assert len(cat.files(DAILY)) > 1000
    assert len(cat.gaps(DAILY)) > 0
    kinds = set(pl.DataFrame(cat.changes())["kind"])
    assert kinds == {"added", "replaced", "removed"}, kinds
    assert len(cat.strays()) > 0
    assert pl.DataFrame(cat.lag(DAILY))["p50_hours"][0] > 0


def test_the_tables_types(cat):
    """Periods are text as the CLI writes them ('2024-01-15' of a daily dataset, '2024-01' of
    a monthly one, both in `datasets`' first/last); sizes unsigned; instants UTC."""
    files = pa.table(cat.files(MONTHLY))
    assert files.schema.field("period").type == pa.string()
    assert re.fullmatch(r"\d{4}-\d{2}", files["period"][0].as_py())
    assert files.schema.field("size").type == pa.uint64()
    assert files.schema.field("last_modified").type == pa.timestamp("us", tz="UTC")
    assert files.schema.field("checksum").type == pa.bool_()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", pa.table(cat.files(DAILY))["period"][0].as_py())
    changes = pa.table(cat.changes())
    assert changes.schema.field("size").nullable and changes.schema.field("seen").type == pa.timestamp("us", tz="UTC")
    assert pa.table(cat.gaps(DAILY)).schema.field("covered_by").nullable


def test_files_come_in_bounded_batches_and_iter_files_streams_them(cat):
    whole = pa.table(cat.files(DAILY))
    n = whole.num_rows
    assert n > 1000
    batched = pa.table(cat.files(DAILY, batch_rows=500))
    sizes = [b.num_rows for b in batched.to_batches()]
    assert len(sizes) == -(-n // 500) and max(sizes) == 500, sizes
    assert batched.equals(whole)
    # The default is 65,536 a batch: this dataset fits one.
    assert [b.num_rows for b in whole.to_batches()] == [n]
    # polars keeps the batches as chunks, no copy into one.
    assert pl.DataFrame(cat.files(DAILY, batch_rows=500)).n_chunks() == len(sizes)

    stream = cat.iter_files(DAILY, batch_rows=700)
    reader = pa.RecordBatchReader.from_stream(stream)
    got = list(reader)
    assert [b.num_rows for b in got][:-1] == [700] * (len(got) - 1) and len(got) == -(-n // 700)
    assert pa.Table.from_batches(got).equals(whole)
    with pytest.raises(bfa.AvailabilityError, match="read already"):
        pa.RecordBatchReader.from_stream(stream)
    # A consumer that stops early lets the reading thread go.
    first = next(iter(pa.RecordBatchReader.from_stream(cat.iter_files(DAILY, batch_rows=10))))
    assert first.num_rows == 10
    # polars reads the stream whole.
    assert pl.DataFrame(cat.iter_files(DAILY)).height == n
    # An empty answer is an empty table with its schema.
    empty = pa.table(cat.files(DAILY, symbol="NOSUCHUSDT"))
    assert empty.num_rows == 0 and empty.column_names == whole.column_names


REFUSALS = [
    (lambda c: c.symbols("um/daily/klines/7x"), ("symbols", "um/daily/klines/7x")),
    (lambda c: c.files("futures/um/daily/klines/1m"), ("files", "futures/um/daily/klines/1m")),
    (lambda c: c.files(DAILY, since="2024-01"), ("files", DAILY, "--since", "2024-01")),
    (lambda c: c.files(MONTHLY, until=dt.date(2024, 1, 1)), ("files", MONTHLY, "--until", "2024-01-01")),
    (lambda c: c.files(DAILY, since="2024-1"), ("files", DAILY, "--since", "2024-1")),
    (lambda c: c.files(DAILY, since="2024-02-01", until="2024-01-31"),
     ("files", DAILY, "--since", "2024-02-01", "--until", "2024-01-31")),
    (lambda c: c.files(DAILY, symbol="../x"), ("files", DAILY, "--symbol", "../x")),
    (lambda c: c.gaps(DAILY, symbol="a/b"), ("gaps", DAILY, "--symbol", "a/b")),
    (lambda c: c.changes(since="2024-02-01", until="2024-01-01"),
     ("changes", "--since", "2024-02-01", "--until", "2024-01-01")),
    (lambda c: c.changes(since="2024-2-1"), ("changes", "--since", "2024-2-1")),
    (lambda c: c.datasets(market="futures"), ("datasets", "--market", "futures")),
]


@pytest.mark.parametrize("ask, args", REFUSALS, ids=[" ".join(q[1]) for q in REFUSALS])
def test_refusals_are_the_clis_sentences(cat, cli, ask, args):
    with pytest.raises(ValueError) as raised:
        ask(cat)
    sentence = str(raised.value)
    out = cli.run(*args)
    assert out.returncode == 2, out
    assert sentence in out.stderr, (sentence, out.stderr)


def test_other_bad_arguments(cat):
    with pytest.raises(ValueError, match='"moved" is not a kind of change'):
        cat.changes(kind="moved")
    with pytest.raises(ValueError, match="batch_rows is 0, outside 1 to 1048576"):
        cat.files(DAILY, batch_rows=0)
    with pytest.raises(ValueError, match="batch_rows is 1" + "0" * 30):
        cat.iter_files(DAILY, batch_rows=10**30)
    with pytest.raises(TypeError, match="since must be a datetime.date, or a 'YYYY-MM-DD' or 'YYYY-MM' string, not int"):
        cat.files(DAILY, since=20240101)


def test_no_catalog_is_the_clis_sentence(tmp_path, monkeypatch):
    missing = tmp_path / "nothing.duckdb"
    with pytest.raises(FileNotFoundError) as raised:
        bfa.open_catalog(missing)
    out = CatalogCli(missing).run("datasets")
    assert out.returncode != 0 and str(raised.value) in out.stderr
    assert str(raised.value) == (
        f"there is no catalog at {missing}; build it with "
        "`binance-futures-availability catalog update`"
    )
    # Neither a path nor BFA_CATALOG: catalog.duckdb beside the database, as the CLI.
    monkeypatch.delenv("BFA_CATALOG", raising=False)
    monkeypatch.setenv("BFA_DB", str(tmp_path / "db" / "availability.duckdb"))
    assert bfa.default_catalog_path() == str(tmp_path / "db" / "catalog.duckdb")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "db" / "catalog.duckdb"))):
        bfa.open_catalog()
    monkeypatch.setenv("BFA_CATALOG", str(missing))
    assert bfa.default_catalog_path() == str(missing)


def test_a_closed_handle_raises_and_the_catalog_file_is_never_changed(catalog_path):
    import hashlib

    digest = hashlib.sha256(catalog_path.read_bytes()).hexdigest()
    c = bfa.open_catalog(str(catalog_path))
    assert c.path == str(catalog_path) or str(c.path) == str(catalog_path)
    c.files(DAILY)
    stream = c.iter_files(DAILY)
    c.close()
    c.close()
    with pytest.raises(bfa.AvailabilityError, match="the catalog handle is closed"):
        c.datasets()
    with pytest.raises(bfa.AvailabilityError, match="the catalog handle is closed"):
        c.iter_files(DAILY)
    # A stream taken before reads through a connection of its own.
    assert pa.RecordBatchReader.from_stream(stream).read_all().num_rows > 0
    assert hashlib.sha256(catalog_path.read_bytes()).hexdigest() == digest
