"""The original tool's API (`binance_futures_availability.queries`), against the command
line's JSON on the same realistic database."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import warnings

import duckdb
import pytest

from binance_futures_availability.queries import (
    AnalyticsQueries,
    AvailabilityQueries,
    SnapshotQueries,
    TimelineQueries,
)

DAY = "2024-01-15"


def naive_utc(text):
    # The CLI writes "2024-01-16T07:01:25Z"; the original API returns naive UTC datetimes.
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None) if text else None


def test_the_original_readme_example_prints_what_the_cli_answers(cli, db_path):
    example = (
        "from binance_futures_availability.queries import AvailabilityQueries\n"
        "q = AvailabilityQueries()\n"
        "print(q.get_available_symbols_on_date('2024-01-15'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", example],
        env=dict(os.environ, BFA_DB=str(db_path)),
        capture_output=True,
        text=True,
        check=True,
    )
    expected = [
        {
            "symbol": r["symbol"],
            "file_size_bytes": r["file_size_bytes"],
            "last_modified": naive_utc(r["last_modified"]),
        }
        for r in cli.json("query", "snapshot", DAY)
    ]
    assert len(expected) > 200
    assert out.stdout == f"{expected}\n"


def test_snapshot_queries_equal_the_cli(cli, db_path):
    with SnapshotQueries(db_path) as q:
        rows = q.get_available_symbols_on_date(dt.date(2024, 1, 15))
        assert [r["symbol"] for r in rows] == [r["symbol"] for r in cli.json("query", "snapshot", DAY)]
        assert all(isinstance(r["last_modified"], dt.datetime) for r in rows)
        symbols = q.get_symbols_in_date_range("2024-01-01", "2024-03-31")
        assert symbols == [r["symbol"] for r in cli.json("query", "range", "2024-01-01", "2024-03-31")]
        assert symbols == sorted(symbols)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "btcusdt", "币安人生USDT", "ICPUSDT", "BTCUSDT_240329"])
def test_timeline_queries_equal_the_cli(cli, db_path, symbol):
    days = cli.json("query", "timeline", symbol)
    with TimelineQueries(db_path) as q:
        assert q.get_symbol_availability_timeline(symbol) == days
        available = [d["date"] for d in days if d["available"]]
        assert q.get_symbol_first_listing_date(symbol) == dt.date.fromisoformat(available[0])
        assert q.get_symbol_last_available_date(symbol) == dt.date.fromisoformat(available[-1])


def test_analytics_summaries_equal_the_cli(cli, db_path):
    with AnalyticsQueries(db_path) as q:
        whole = q.get_availability_summary()
        assert whole == [
            {"date": r["date"], "available_count": r["perpetual"]} for r in cli.json("query", "summary")
        ]
        part = q.get_symbol_count_by_date_range("2024-01-01", "2024-01-31")
        assert part == [
            {"date": r["date"], "available_count": r["perpetual"]}
            for r in cli.json("query", "summary", "2024-01-01", "2024-01-31")
        ]
        assert len(part) == 31


def oracle(db_path, sql, *params):
    """The stock duckdb client reading the file itself: independent of the Rust core."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return [r[0] for r in con.execute(sql, list(params)).fetchall()]
    finally:
        con.close()


def test_new_listings_and_delistings_equal_an_independent_computation(db_path):
    # A day on which some perpetual had its last file the day before, well inside history.
    day = oracle(
        db_path,
        "SELECT last_file_date + 1 FROM symbols WHERE contract_type = 'perpetual' "
        "AND last_file_date BETWEEN DATE '2021-01-01' AND DATE '2025-12-31' "
        "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    )[0]
    delisted = oracle(
        db_path,
        "SELECT d.symbol FROM daily_availability d JOIN symbols s USING (symbol) "
        "WHERE d.date = ?::DATE - 1 AND d.available AND s.contract_type = 'perpetual' "
        "AND s.checked_from <= ?::DATE AND s.checked_through >= ?::DATE "
        "AND NOT EXISTS (SELECT 1 FROM daily_availability x "
        "  WHERE x.symbol = d.symbol AND x.date = ?::DATE AND x.available) ORDER BY 1",
        day, day, day, day,
    )
    listing_day = oracle(
        db_path,
        "SELECT first_file_date FROM symbols WHERE contract_type = 'perpetual' "
        "AND first_file_date > DATE '2023-01-01' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    )[0]
    listed = oracle(
        db_path,
        "SELECT symbol FROM symbols WHERE contract_type = 'perpetual' AND first_file_date = ? ORDER BY 1",
        listing_day,
    )
    with AnalyticsQueries(db_path) as q:
        assert delisted and q.detect_delistings(day) == delisted
        assert listed and q.detect_new_listings(listing_day) == listed


def test_a_day_not_checked_yet_is_not_a_delisting(db_path):
    # The database is checked through yesterday: today's files are not published, and no
    # symbol may be reported delisted because of that (the original listed every symbol).
    today = dt.datetime.now(dt.timezone.utc).date()
    with AvailabilityQueries(db_path) as q:
        assert q.get_available_symbols_on_date(today - dt.timedelta(days=1))
        with pytest.warns(UserWarning, match="is not checked yet"):
            assert q.detect_delistings(today) == []


def test_an_unchecked_day_is_answered_as_the_original_did_with_a_warning(db_path):
    # Complete through yesterday: the original answered today from what was stored (nothing),
    # and so do its classes here, with a UserWarning carrying the modern API's sentence.
    today = dt.datetime.now(dt.timezone.utc).date()
    yesterday = today - dt.timedelta(days=1)
    sentence = (
        f"{today} is not checked yet: the database is complete through {yesterday}; run `update`"
    )
    with AvailabilityQueries(db_path) as q:
        with pytest.warns(UserWarning, match=re.escape(sentence)) as caught:
            assert q.get_available_symbols_on_date(today) == []
        # The warning points at the caller's line, not into the package.
        assert [w.filename for w in caught] == [__file__]
        with pytest.warns(UserWarning, match=re.escape(sentence)):
            counts = q.get_symbol_count_by_date_range(yesterday, today)
        assert [c["date"] for c in counts] == [yesterday.isoformat(), today.isoformat()]
        assert counts[0]["available_count"] > 0 and counts[1]["available_count"] == 0
        with pytest.warns(UserWarning, match=re.escape(sentence)):
            assert q.get_symbols_in_date_range(yesterday, today)
        with pytest.warns(UserWarning, match=re.escape(sentence)):
            assert q.detect_new_listings(today) == []
        # A checked day warns nothing.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert q.get_available_symbols_on_date(yesterday)
            assert q.get_availability_summary()[-1]["date"] == yesterday.isoformat()


def test_availability_queries_has_every_method_of_the_three_classes():
    for cls in (SnapshotQueries, TimelineQueries, AnalyticsQueries):
        for name in dir(cls):
            if name.startswith("get_") or name.startswith("detect_"):
                assert getattr(AvailabilityQueries, name) is getattr(cls, name)


def test_the_default_path_is_bfa_db_as_for_the_cli(db_path, monkeypatch):
    monkeypatch.setenv("BFA_DB", str(db_path))
    with AvailabilityQueries() as q:
        assert q.db_path == str(db_path)
        assert q.get_available_symbols_on_date(DAY)
    monkeypatch.delenv("BFA_DB")
    monkeypatch.setenv("HOME", str(db_path.parent / "nobody"))
    with pytest.raises(FileNotFoundError, match="there is no database at .*nobody/.cache/binance-futures/availability.duckdb"):
        AvailabilityQueries()
