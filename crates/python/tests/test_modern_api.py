"""The modern API: `open()`, Arrow tables for polars and pyarrow, errors with the CLI's
sentences, read-only handles shared by threads, `update()` from Python."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import os
import pathlib
import re
import signal
import subprocess
import sys

import duckdb

import polars as pl
import pyarrow as pa
import pytest

import binance_futures_availability as bfa
from binance_futures_availability.queries import AvailabilityQueries
from conftest import Cli

DAY = "2024-01-15"
UTC = dt.timezone.utc


def as_cli(rows):
    """Rows of `to_pylist()` in the CLI's JSON spelling."""
    def value(v):
        if isinstance(v, dt.datetime):
            return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(v, dt.date):
            return v.isoformat()
        return v
    return [{k: value(v) for k, v in row.items()} for row in rows]


@pytest.mark.parametrize(
    "method, args, cli_args",
    [
        ("snapshot", (DAY,), ("query", "snapshot", DAY)),
        ("snapshot", (DAY, "all"), ("query", "snapshot", DAY, "--contract", "all")),
        ("snapshot", (DAY, "delivery"), ("query", "snapshot", DAY, "--contract", "delivery")),
        ("timeline", ("BTCUSDT",), ("query", "timeline", "BTCUSDT")),
        ("timeline", ("币安人生usdt",), ("query", "timeline", "币安人生USDT")),
        ("range", ("2024-01-01", "2024-03-31"), ("query", "range", "2024-01-01", "2024-03-31")),
        ("range", ("2020-01-01", "2026-01-01", "all"), ("query", "range", "2020-01-01", "2026-01-01", "--contract", "all")),
        ("summary", (), ("query", "summary")),
        ("summary", ("2024-01-01", "2024-01-31"), ("query", "summary", "2024-01-01", "2024-01-31")),
        ("universe", (DAY,), ("query", "universe", DAY)),
        ("universe", (DAY, {"top": 20, "min_age": 30, "window": 7, "quote": "USDT"}),
         ("query", "universe", DAY, "--top", "20", "--min-age", "30", "--window", "7", "--quote", "USDT")),
        ("universe", (DAY, {"by": "trades", "recent": 5, "contract": "all"}),
         ("query", "universe", DAY, "--by", "trades", "--recent", "5", "--contract", "all")),
        ("universe_panel", ("2024-01-01", "2024-03-31", "1w", {"top": 10}),
         ("query", "universe", "2024-01-01", "--until", "2024-03-31", "--every", "1w", "--top", "10")),
        ("universe_panel", ("2023-01-01", "2024-01-01", "1mo", {"top": 50, "min_age": 30, "quote": "USDT"}),
         ("query", "universe", "2023-01-01", "--until", "2024-01-01", "--every", "1mo", "--top", "50",
          "--min-age", "30", "--quote", "USDT")),
        ("universe_panel", ("2024-01-10", "2024-01-20"),
         ("query", "universe", "2024-01-10", "--until", "2024-01-20")),
        ("lives", (), ("query", "lives")),
        ("lives", ("icpusdt", {"delisted_after": 30}),
         ("query", "lives", "--symbol", "icpusdt", "--delisted-after", "30")),
        ("events", ({"since": "2022-01-01", "until": "2022-12-31"},),
         ("query", "events", "--since", "2022-01-01", "--until", "2022-12-31")),
        ("events", ({"symbol": "icpusdt", "delisted_after": 30},),
         ("query", "events", "--symbol", "icpusdt", "--delisted-after", "30")),
        ("events", ({"kind": "delisting"},), ("query", "events", "--kind", "delisting")),
    ],
)
def test_every_query_equals_the_cli_json(cli, db_path, method, args, cli_args):
    db = bfa.open(db_path)
    kwargs = args[-1] if args and isinstance(args[-1], dict) else {}
    args = args[:-1] if kwargs else args
    table = getattr(db, method)(*args, **kwargs)
    expected = cli.json(*cli_args)
    assert expected, "the question has an answer"
    assert as_cli(table.to_pylist()) == expected
    assert len(table) == len(expected)
    assert table.columns == list(expected[0].keys())


def test_polars_and_pyarrow_take_the_tables_with_the_expected_schema(cli, db_path):
    db = bfa.open(db_path)
    frame = pl.DataFrame(db.snapshot(DAY))
    assert frame.schema == pl.Schema(
        {"symbol": pl.String, "file_size_bytes": pl.Int64, "last_modified": pl.Datetime("us", "UTC")}
    )
    expected = cli.json("query", "snapshot", DAY)
    assert frame["symbol"].to_list() == [r["symbol"] for r in expected]
    assert frame["file_size_bytes"].to_list() == [r["file_size_bytes"] for r in expected]

    table = pa.table(db.timeline("BTCUSDT"))
    assert table.schema == pa.schema(
        [
            pa.field("date", pa.date32(), nullable=False),
            pa.field("available", pa.bool_(), nullable=False),
            pa.field("file_size_bytes", pa.int64()),
            pa.field("status_code", pa.int32()),
        ]
    )
    assert as_cli(table.to_pylist()) == cli.json("query", "timeline", "BTCUSDT")

    summary = pl.DataFrame(db.summary("2024-01-01", "2024-01-31"))
    assert summary.schema == pl.Schema(
        {
            "date": pl.Date,
            "perpetual": pl.Int64,
            "delivery": pl.Int64,
            "perpetual_traded": pl.Int64,
            "delivery_traded": pl.Int64,
        }
    )
    # A file is not a trade: never more traded symbols than symbols with a file, here.
    assert (summary["perpetual_traded"] <= summary["perpetual"]).all()
    ranged = pa.table(db.range("2024-01-01", "2024-03-31"))
    assert ranged.column_names == ["symbol", "days_available", "first_date", "last_date"]
    # pandas through Arrow: the same rows.
    assert pa.table(db.snapshot(DAY)).to_pandas()["symbol"].tolist() == frame["symbol"].to_list()


def test_universe_events_and_trading_reach_polars_with_their_types(cli, db_path):
    db = bfa.open(db_path)
    universe = pl.DataFrame(db.universe(DAY, top=10))
    assert universe.schema == pl.Schema(
        {
            "symbol": pl.String,
            "base_symbol": pl.String,
            "rank": pl.UInt32,
            "mean_quote_volume": pl.Float64,
            "days_listed": pl.Int64,
            "traded_on_date": pl.Boolean,
        }
    )
    assert universe["rank"].to_list() == list(range(1, 11))
    events = pl.DataFrame(db.events(symbol="ICPUSDT"))
    assert events.columns == ["date", "symbol", "base_symbol", "kind", "detail"]
    trading = pl.DataFrame(db.trading("BTCUSDT", "2024-01-01", "2024-01-31"))
    assert trading.height == 31 and trading["trades"].dtype == pl.UInt64
    assert trading.columns[:2] == ["date", "open"]
    expected = {r["date"]: r["trades"] for r in trading.to_dicts()}
    assert all(t > 0 for t in expected.values())


def test_tables_convert_to_polars_and_pandas_and_handles_close_with_with(db_path):
    with bfa.open(db_path) as db:
        t = db.snapshot(DAY)
        assert t.to_polars().equals(pl.DataFrame(t))
        frame = t.to_pandas()
        assert frame["symbol"].tolist() == [r["symbol"] for r in t.to_pylist()]
        assert str(frame["last_modified"].dtype) == "datetime64[us, UTC]"
    with pytest.raises(bfa.AvailabilityError, match="the database handle is closed"):
        db.snapshot(DAY)


def test_an_empty_answer_is_an_empty_table_with_its_schema(db_path):
    db = bfa.open(db_path)
    table = db.snapshot("2019-10-01")  # before the archive's first day: nothing exists
    assert len(table) == 0 and table.to_pylist() == []
    assert pl.DataFrame(table).columns == ["symbol", "file_size_bytes", "last_modified"]


TODAY = dt.datetime.now(UTC).date()


@pytest.mark.parametrize(
    "call, exception, sentence",
    [
        (lambda db: db.snapshot("2024-13-01"), ValueError, '"2024-13-01" is not a date of the form YYYY-MM-DD'),
        (lambda db: db.snapshot("2024-1-15"), ValueError, '"2024-1-15" is not a date of the form YYYY-MM-DD'),
        (lambda db: db.snapshot(dt.date(2019, 9, 24)), ValueError, "2019-09-24 is before 2019-09-25, the first day of Binance USD-M futures"),
        (lambda db: db.snapshot(TODAY + dt.timedelta(days=1)), ValueError, f"is after today ({TODAY}, UTC)"),
        (lambda db: db.range("2024-02-01", "2024-01-01"), ValueError, "the start 2024-02-01 is after the end 2024-01-01"),
        (lambda db: db.timeline("BTCUSD"), ValueError, 'unknown symbol "BTCUSD"; did you mean BTCUSD1, BTCUSDC, BTCUSDT, '),
        (lambda db: db.timeline("X" * 1_000_000), ValueError, '"XXXXXXXXXXXXXXXX…" is longer than 64 bytes, longer than any symbol folder'),
        (lambda db: db.symbol("../BTCUSDT"), ValueError, "'.' is not allowed"),
        (lambda db: db.snapshot(DAY, "futures"), ValueError, '"futures" is not a contract filter'),
        (lambda db: db.summary("2024-01-01"), ValueError, "summary takes both start and end, or neither"),
        (lambda db: db.snapshot(20240115), TypeError, "date must be a datetime.date or a 'YYYY-MM-DD' string, not int"),
        (lambda db: db.universe(DAY, window=0), ValueError, "window is 0, outside 1 to 3650"),
        (lambda db: db.universe(DAY, by="volume"), ValueError, '"volume" is not a ranking'),
        (lambda db: db.universe(DAY, top=0), ValueError, "top is 0"),
        (lambda db: db.universe_panel("2024-01-01", "2024-02-01", "2w"), ValueError,
         '"2w" is not a rebalancing period'),
        (lambda db: db.universe_panel("2024-02-01", "2024-01-01"), ValueError,
         "the start 2024-02-01 is after the end 2024-01-01"),
        (lambda db: db.events(kind="halving"), ValueError, '"halving" is not an event kind'),
        (lambda db: db.events(since="2024-02-01", until="2024-01-01"), ValueError, "the start 2024-02-01 is after the end 2024-01-01"),
        (lambda db: db.trading("BTCUSD"), ValueError, 'unknown symbol "BTCUSD"'),
    ],
)
def test_bad_input_raises_with_the_cli_sentence(cli, db_path, call, exception, sentence):
    db = bfa.open(db_path)
    with pytest.raises(exception) as raised:
        call(db)
    assert sentence in str(raised.value)


def test_the_cli_says_the_same_sentences(cli):
    for args, sentence in [
        (("query", "snapshot", "2024-13-01"), '"2024-13-01" is not a date of the form YYYY-MM-DD'),
        (("query", "timeline", "BTCUSD"), 'unknown symbol "BTCUSD"; did you mean BTCUSD1, BTCUSDC, BTCUSDT, '),
        (("query", "range", "2024-02-01", "2024-01-01"), "the start 2024-02-01 is after the end 2024-01-01"),
    ]:
        out = cli.run(*args)
        assert out.returncode == 2 and sentence in out.stderr


def test_a_missing_database_is_file_not_found(tmp_path):
    missing = tmp_path / "nothing.duckdb"
    with pytest.raises(FileNotFoundError, match=re.escape(f"there is no database at {missing}")):
        bfa.open(missing)
    assert not missing.exists()


def test_a_path_that_is_a_symlink_opens_the_file_behind_it(db_path, tmp_path):
    # DuckDB refused the target's .wal when opened through a link (issue 24, point 10).
    (tmp_path / "elsewhere").mkdir()
    real = tmp_path / "elsewhere" / "real.duckdb"
    db_path.rename(real)
    db_path.symlink_to(pathlib.Path("elsewhere") / "real.duckdb")
    with bfa.open(db_path) as through_link, bfa.open(real) as direct:
        assert through_link.snapshot(DAY).to_pylist() == direct.snapshot(DAY).to_pylist()
        assert len(through_link.snapshot(DAY).to_pylist()) > 0


def test_a_closed_handle_raises_the_package_error(db_path):
    db = bfa.open(db_path)
    db.close()
    db.close()
    with pytest.raises(bfa.AvailabilityError, match="the database handle is closed"):
        db.snapshot(DAY)
    assert issubclass(bfa.AvailabilityError, RuntimeError)


def test_a_file_that_is_not_a_database_is_the_package_error(tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(bfa.AvailabilityError, match=str(junk)):
        bfa.open(junk)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reads_never_change_the_file(db_path):
    before = (sha256(db_path), os.stat(db_path).st_mtime_ns, sorted(os.listdir(db_path.parent)))
    db = bfa.open(db_path)
    db.snapshot(DAY).to_pylist()
    pa.table(db.timeline("BTCUSDT"))
    pl.DataFrame(db.range("2024-01-01", "2024-03-31"))
    db.summary()
    db.new_listings(DAY)
    db.delistings(DAY)
    db.symbol("ethusdt")
    from binance_futures_availability.queries import AvailabilityQueries

    with AvailabilityQueries(db_path) as q:
        q.get_availability_summary()
        q.get_symbol_availability_timeline("ETHUSDT")
    db.close()
    after = (sha256(db_path), os.stat(db_path).st_mtime_ns, sorted(os.listdir(db_path.parent)))
    assert after == before


def test_one_handle_serves_many_threads(db_path):
    db = bfa.open(db_path)
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(40)]
    alone = {d: db.snapshot(d).to_pylist() for d in days}
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda d: (d, db.snapshot(d).to_pylist()), days * 5))
    assert all(rows == alone[d] for d, rows in together)


def test_docstrings_teach(db_path):
    assert "polars" in bfa.__doc__ and "AvailabilityQueries" in bfa.__doc__
    for method in ("snapshot", "timeline", "range", "summary", "new_listings", "delistings", "symbol"):
        assert getattr(bfa.Database, method).__doc__, method
    assert "GIL" in bfa.update.__doc__
    import binance_futures_availability.queries as queries

    assert "read-only" in queries.__doc__


def test_update_from_python_builds_what_the_cli_builds(sim, built, tmp_path):
    path = tmp_path / "from-python.duckdb"
    calls = []
    summary = bfa.update(
        path,
        s3_url=sim.s3_url,
        data_url=sim.data_url,
        progress=lambda kind, done, total: calls.append((kind, done, total)),
    )
    assert summary["kind"] == "update" and summary["symbols"] > 900
    # Every count of the command line's summary line, the 1d files read too.
    assert set(summary) == {
        "kind", "symbols", "files", "trading_files", "requests", "retries", "rows_written",
        "elapsed_seconds",
    }
    assert summary["trading_files"] > 0
    assert calls and calls[-1][1] == calls[-1][2] == summary["symbols"]
    assert {kind for kind, _, _ in calls} == {"update"}
    mine, cli = bfa.open(path), bfa.open(built)
    for day in ("2020-06-01", DAY, "2026-01-01"):
        assert mine.snapshot(day, "all").to_pylist() == cli.snapshot(day, "all").to_pylist()
    assert mine.summary().to_pylist() == cli.summary().to_pylist()


def test_the_progress_callback_is_told_each_stage(sim, tmp_path):
    """Issue 25: the 1d stage counted from zero again under the same first argument, so a
    progress bar restarted with no label. The first argument names its stage."""
    calls = []

    def progress(stage, done, total):
        calls.append((stage, stage.kind, stage.name, done, total))

    bfa.update(tmp_path / "staged.duckdb", s3_url=sim.s3_url, data_url=sim.data_url, progress=progress)
    names = [name for _, _, name, _, _ in calls]
    # One stage after the other, each counting its own symbols from 1 to its total.
    assert names == ["1m listings"] * names.count("1m listings") + ["1d klines"] * names.count("1d klines")
    for name in ("1m listings", "1d klines"):
        counts = [(done, total) for _, _, n, done, total in calls if n == name]
        assert counts == [(i, len(counts)) for i in range(1, len(counts) + 1)], name
    # Still the run's kind as text, as the first argument always was.
    assert all(isinstance(s, bfa.Stage) and s == "update" and kind == "update" for s, kind, *_ in calls)
    assert repr(calls[-1][0]) == "Stage(kind='update', name='1d klines')"


def test_a_progress_callback_that_raises_stops_the_run_and_raises(sim, tmp_path):
    path = tmp_path / "stopped.duckdb"

    class Enough(Exception):
        pass

    def progress(kind, done, total):
        if done >= 10:
            raise Enough("stop here")

    with pytest.raises(Enough, match="stop here"):
        bfa.update(path, s3_url=sim.s3_url, data_url=sim.data_url, progress=progress, concurrency=4)


def test_ctrl_c_stops_an_update_promptly_and_keeps_only_what_it_gathered(slow_sim, tmp_path):
    path = tmp_path / "interrupted.duckdb"
    # No progress callback: the signal must reach the run through the waiting thread alone.
    # One request at a time at 50 ms each, the whole run would take ~100 s.
    code = f"""
import sys, time, binance_futures_availability as bfa
started = time.monotonic()
try:
    # Inside the try: the signal is sent as soon as this line is read.
    print("updating", flush=True)
    bfa.update({str(path)!r}, s3_url={slow_sim.s3_url!r}, data_url={slow_sim.data_url!r}, concurrency=1)
except KeyboardInterrupt:
    print(f"interrupted after {{time.monotonic() - started:.1f}} s", flush=True)
    sys.exit(130)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "updating\n"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert float(out.split()[2]) < 10, f"the run went on after the signal: {out}"
    if path.exists():  # a run stopped before it committed anything publishes nothing
        con = duckdb.connect(str(path), read_only=True)
        runs = con.execute("SELECT kind, status FROM collection_runs").fetchall()
        checked = con.execute("SELECT count(*) FROM symbols WHERE checked_through IS NOT NULL").fetchone()[0]
        con.close()
        assert runs == [("update", "interrupted")] and checked < 1007


@pytest.mark.parametrize(
    "kwargs, sentence",
    [
        ({"lookback": 5000}, "lookback is 5000, outside 0 to 3650"),
        ({"concurrency": 0}, "concurrency is 0, outside 1 to 512"),
        # Negative and huge numbers are out of range too, not an OverflowError.
        ({"lookback": -1}, "lookback is -1, outside 0 to 3650"),
        ({"concurrency": -4}, "concurrency is -4, outside 1 to 512"),
        ({"attempts": 2**64}, f"attempts is {2**64}, outside 1 to 20"),
        ({"request_timeout": -1}, "request_timeout is -1, outside 1 to 3600"),
        ({"s3_url": "ftp://example.invalid/x"}, "is not an http(s) URL"),
    ],
)
def test_update_refuses_bad_options_before_touching_anything(tmp_path, kwargs, sentence):
    path = tmp_path / "never.duckdb"
    with pytest.raises(ValueError) as raised:
        bfa.update(path, **kwargs)
    assert sentence in str(raised.value)
    assert not path.exists()


def test_import_is_cheap_and_needs_no_dataframe_library():
    code = "import sys, binance_futures_availability; print(sorted(m for m in ('polars', 'pyarrow', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_day_after_complete_through_raises_not_checked_with_the_cli_sentence(cli, db_path):
    # The database is complete through yesterday (UTC): today is not checked yet.
    db = bfa.open(db_path)
    for call, args in [
        (lambda: db.snapshot(TODAY), ("query", "snapshot", str(TODAY))),
        (lambda: db.snapshot(TODAY, "all"), ("query", "snapshot", str(TODAY), "--contract", "all")),
        (lambda: db.range("2024-01-01", TODAY), ("query", "range", "2024-01-01", str(TODAY))),
        (lambda: db.summary("2024-01-01", TODAY), ("query", "summary", "2024-01-01", str(TODAY))),
    ]:
        with pytest.raises(bfa.NotCheckedError) as raised:
            call()
        assert isinstance(raised.value, bfa.AvailabilityError)
        out = cli.run(*args)
        assert out.returncode == 1 and out.stdout == ""
        assert out.stderr.strip() == f"error: {raised.value}"
    yesterday = TODAY - dt.timedelta(days=1)
    assert str(raised.value) == (
        f"{TODAY} is not checked yet: the database is complete through {yesterday}; run `update`"
    )
    for call in (lambda: db.new_listings(TODAY), lambda: db.delistings(TODAY)):
        with pytest.raises(bfa.NotCheckedError, match="is not checked yet"):
            call()
    # The last checked day is answered; a summary without bounds ends there.
    assert len(db.snapshot(yesterday)) > 0
    assert db.summary().to_pylist()[-1]["date"] == yesterday


@pytest.mark.parametrize(
    "call, sentence",
    [
        (lambda db: db.universe(DAY, min_age=-1), "min_age is -1, outside 0 to 3650"),
        (lambda db: db.universe(DAY, recent=-1), "recent is -1, outside 1 to 3650"),
        (lambda db: db.universe(DAY, window=-30), "window is -30, outside 1 to 3650"),
        (lambda db: db.universe(DAY, top=-1), "top is -1, outside 1 to 4294967295"),
        (lambda db: db.universe(DAY, delisted_after=2**70), f"delisted_after is {2**70}, outside 1 to 3650"),
        (lambda db: db.events(delisted_after=-7), "delisted_after is -7, outside 1 to 3650"),
    ],
)
def test_negative_and_huge_numbers_are_value_errors(db_path, call, sentence):
    db = bfa.open(db_path)
    with pytest.raises(ValueError) as raised:
        call(db)
    assert type(raised.value) is ValueError and str(raised.value) == sentence


def test_an_aware_datetime_is_asked_as_its_utc_day(db_path):
    import pandas as pd

    db = bfa.open(db_path)

    def day_of(when):
        rows = db.summary(when, when).to_pylist()
        assert len(rows) == 1
        return rows[0]["date"]

    plus14 = dt.timezone(dt.timedelta(hours=14))
    minus5 = dt.timezone(dt.timedelta(hours=-5))
    assert day_of(dt.datetime(2024, 1, 3, 1, 0, tzinfo=plus14)) == dt.date(2024, 1, 2)
    assert day_of(dt.datetime(2024, 1, 2, 23, 0, tzinfo=minus5)) == dt.date(2024, 1, 3)
    assert day_of(dt.datetime(2024, 1, 3, 1, 0, tzinfo=UTC)) == dt.date(2024, 1, 3)
    # A naive datetime is UTC already; a date is itself.
    assert day_of(dt.datetime(2024, 1, 3, 1, 0)) == dt.date(2024, 1, 3)
    assert day_of(dt.date(2024, 1, 3)) == dt.date(2024, 1, 3)
    # pandas Timestamps are datetimes: with a zone, their UTC day.
    assert day_of(pd.Timestamp("2024-01-03T01:00:00+14:00")) == dt.date(2024, 1, 2)
    assert day_of(pd.Timestamp("2024-01-03 01:00", tz="Pacific/Kiritimati")) == dt.date(2024, 1, 2)
    assert day_of(pd.Timestamp("2024-01-03 01:00")) == dt.date(2024, 1, 3)
    aware = dt.datetime(2024, 1, 16, 1, 0, tzinfo=plus14)
    assert db.snapshot(aware).to_pylist() == db.snapshot("2024-01-15").to_pylist()


def test_quotes_are_case_insensitive_and_an_unknown_one_is_a_value_error_naming_the_known(cli, db_path):
    db = bfa.open(db_path)
    upper = db.universe(DAY, quote="USDT").to_pylist()
    assert upper and db.universe(DAY, quote="usdt").to_pylist() == upper
    for unknown in ("XYZ", "usdx"):
        with pytest.raises(ValueError) as raised:
            db.universe(DAY, quote=unknown)
        out = cli.run("query", "universe", DAY, "--quote", unknown)
        assert out.returncode == 2 and out.stderr.strip() == f"error: {raised.value}"
        assert str(raised.value).startswith(f'unknown quote asset "{unknown}"; the database knows ')
        assert "USDT" in str(raised.value)


def test_settled_folders_leave_the_universe_unless_asked_and_rows_name_their_base(cli, db_path):
    db = bfa.open(db_path)
    for kwargs, flags in [({}, ()), ({"include_settled": True}, ("--include-settled",))]:
        assert as_cli(db.universe(DAY, **kwargs).to_pylist()) == cli.json("query", "universe", DAY, *flags)
    plain = db.universe(DAY).to_pylist()
    assert all(m["base_symbol"] == m["symbol"] for m in plain)
    events = db.events(kind="delisting", contract="perpetual").to_pylist()
    assert events and all(e["detail"] != "delivered" for e in events)
    delivered = db.events(kind="delisting", contract="delivery").to_pylist()
    assert delivered and all(e["detail"] == "delivered" for e in delivered)
    assert len(db.events(kind="delisting")) == len(events) + len(delivered)
    assert as_cli(db.events(contract="delivery").to_pylist()) == cli.json("query", "events", "--contract", "delivery")


def test_coin_m_is_collected_and_asked_with_market_cm_as_the_cli_does(coin_m_sim, tmp_path):
    """Issue 25: a second market through the same code; the handle is opened for it."""
    path = tmp_path / "both.duckdb"
    summary = bfa.update(
        path, s3_url=coin_m_sim.s3_url, data_url=coin_m_sim.data_url, market="cm"
    )
    assert summary["symbols"] == 5
    from conftest import Cli

    cli = Cli(path, coin_m_sim)
    cm = bfa.open(path, market="cm")
    assert cm.market == "cm" and repr(cm).endswith(' market=cm>')
    assert bfa.open(path).market == "um"
    assert as_cli(cm.snapshot("2024-01-15", "all").to_pylist()) == cli.json(
        "query", "snapshot", "2024-01-15", "--market", "cm", "--contract", "all"
    )
    assert [r["symbol"] for r in cm.snapshot("2024-01-15", "all").to_pylist()] == [
        "BTCUSD_240628", "BTCUSD_PERP", "ETHUSD_PERP",
    ]
    assert cm.timeline("BTCUSD_PERP").to_pylist()[0]["date"] == dt.date(2020, 8, 11)
    # USD-M's tables were not touched: asked about, they say nothing is checked yet.
    with pytest.raises(bfa.NotCheckedError):
        bfa.open(path).snapshot("2024-01-15")
    with pytest.raises(ValueError, match="the option market is not kept"):
        bfa.open(path, market="option")
    with pytest.raises(ValueError, match="is not a market"):
        bfa.open(path, market="coin-m")
    # A run for a market not kept is refused as bad input, leaving no database and no copy.
    option = tmp_path / "option.duckdb"
    with pytest.raises(ValueError, match="the option market is not kept"):
        bfa.update(option, s3_url=coin_m_sim.s3_url, data_url=coin_m_sim.data_url, market="option")
    assert not option.exists() and not list(tmp_path.glob("option.duckdb.writing*"))
    # Issue 28: COIN-M's universe ranks on USD notional, as the command line's does.
    universe = cm.universe("2024-02-01").to_pylist()
    assert sorted(m["symbol"] for m in universe) == ["BTCUSD_PERP", "ETHUSD_PERP"]
    assert as_cli(universe) == cli.json("query", "universe", "2024-02-01", "--market", "cm")


def test_a_handle_follows_a_republished_file_and_drops_its_read_index(sim, tmp_path):
    # A session opened before an update publishes answers from the new file afterwards: its
    # handle (and the read index built from the old file) is replaced on the next question.
    path = tmp_path / "availability.duckdb"
    cli = Cli(path, sim)
    cli.ok("backfill", "--start", "2024-01-01", "--end", "2024-01-10", "--quiet")
    db = bfa.open(path)
    q = AvailabilityQueries(path)
    assert as_cli(db.snapshot("2024-01-05").to_pylist()) == cli.json("query", "snapshot", "2024-01-05")
    with pytest.raises(bfa.NotCheckedError):
        db.snapshot("2024-01-15")
    cli.ok("backfill", "--start", "2024-01-01", "--end", "2024-01-20", "--quiet")
    for day in ("2024-01-05", "2024-01-15"):
        assert as_cli(db.snapshot(day, "all").to_pylist()) == cli.json(
            "query", "snapshot", day, "--contract", "all"
        )
    assert as_cli(db.range("2024-01-01", "2024-01-20").to_pylist()) == cli.json(
        "query", "range", "2024-01-01", "2024-01-20"
    )
    # The original API's handle too, through the same package.
    names = [r["symbol"] for r in q.get_available_symbols_on_date("2024-01-15")]
    assert names == [r["symbol"] for r in cli.json("query", "snapshot", "2024-01-15")]


def test_spot_is_collected_and_asked_with_market_spot_as_the_cli_does(spot_sim, tmp_path):
    """Issue 28: spot through the same code; its universe ranks within one quote asset."""
    path = tmp_path / "spot.duckdb"
    summary = bfa.update(path, s3_url=spot_sim.s3_url, data_url=spot_sim.data_url, market="spot")
    assert summary["symbols"] == 5
    from conftest import Cli

    cli = Cli(path, spot_sim)
    spot = bfa.open(path, market="spot")
    assert spot.market == "spot"
    universe = spot.universe("2024-01-15", quote="USDT")
    assert as_cli(universe.to_pylist()) == cli.json(
        "query", "universe", "2024-01-15", "--market", "spot", "--quote", "USDT"
    )
    assert sorted(m["symbol"] for m in universe.to_pylist()) == ["BNBUSDT", "BTCUSDT", "LUNAUSDT"]
    with pytest.raises(ValueError, match="a spot universe ranks by quote volume within one quote asset"):
        spot.universe("2024-01-15", top=10)
    # Spot's history began in 2017, two years before USD-M's: its days are asked as any other,
    # and the same day asked of USD-M is refused with USD-M's first day.
    snapshot = spot.snapshot("2018-06-01")
    assert as_cli(snapshot.to_pylist()) == cli.json("query", "snapshot", "2018-06-01", "--market", "spot")
    assert "BCCUSDT" in [r["symbol"] for r in snapshot.to_pylist()]
    with pytest.raises(ValueError, match="2018-06-01 is before 2019-09-25, the first day of Binance USD-M futures"):
        bfa.open(path).snapshot("2018-06-01")


def test_update_collects_several_markets_in_one_run_as_update_markets_does(tmp_path):
    """`markets=` is `update --markets`: each market a run of its own, published together."""
    from conftest import Sim

    server = Sim(corpus="coin-m,spot")
    try:
        path = tmp_path / "two.duckdb"
        summaries = bfa.update(
            path, s3_url=server.s3_url, data_url=server.data_url, markets=["cm", "spot"]
        )
        assert sorted(summaries) == ["cm", "spot"]
        assert summaries["spot"]["symbols"] == 5 and summaries["spot"]["kind"] == "update"
        assert summaries["cm"]["symbols"] > 0
        folders = lambda market: {r["symbol"] for r in bfa.open(path, market=market).lives().to_pylist()}
        assert len(folders("spot")) == 5
        assert len(folders("cm")) == summaries["cm"]["symbols"]
        with pytest.raises(ValueError, match="not both"):
            bfa.update(path, s3_url=server.s3_url, data_url=server.data_url, market="cm", markets=["spot"])
        with pytest.raises(ValueError, match="is not a market"):
            bfa.update(path, s3_url=server.s3_url, data_url=server.data_url, markets=["spot", "xx"])
    finally:
        server.stop()
