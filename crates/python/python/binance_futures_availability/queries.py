"""The original tool's query classes (``binance-futures-availability`` 1.5.0 on PyPI), with
their names, arguments and return shapes, answered by the Rust core.

Differences, all deliberate:

- The file is opened read-only and never changed (the original opened it read-write and ran
  DDL on open).
- ``AvailabilityQueries`` exists: the original README's first example imports it, but the
  published package never had it. Here it has every method of the three classes.
- A question about a day after the day the database is complete through (no run has checked
  it yet) is answered as the original answered it, from whatever is stored, with a
  ``UserWarning`` carrying the sentence the modern API raises ``NotCheckedError`` with.
- ``detect_delistings(date)`` lists only symbols whose folder was checked through ``date``: a
  day not yet published is not a delisting (the original returned every symbol for it).
- An unknown symbol raises ``ValueError`` naming the closest known ones, instead of answering
  as if the symbol had no days.
- ``AvailabilityDatabase`` is a read-only handle without the original's ``query(sql)`` and
  ``insert_*`` methods: for SQL, open the file with the stock ``duckdb`` client
  (``duckdb.connect(path, read_only=True)``); the original's SQL runs unchanged on it.
- As in the original, the universe is the perpetual contracts (its database held only those);
  the modern API (``binance_futures_availability.open``) takes ``contract=`` for the others.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import List, Optional, Union

from . import _native, default_db_path

DateLike = Union[str, _dt.date]


class AvailabilityDatabase:
    """A read-only handle on the database file; closes on ``close()`` or leaving ``with``."""

    def __init__(self, db_path: Optional[Union[str, "os.PathLike[str]"]] = None) -> None:
        self.db_path = os.fspath(db_path) if db_path is not None else default_db_path()
        # Unchecked days answered as the original did, with a warning (see the module doc).
        self._db = _native.Database(self.db_path, unchecked_days="warn")

    def close(self) -> None:
        """Closes the handle; closing twice is fine."""
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.db_path!r})"


def _naive_utc(ts: Optional[_dt.datetime]) -> Optional[_dt.datetime]:
    # The original returned DuckDB TIMESTAMPs: naive datetimes holding UTC.
    return ts.replace(tzinfo=None) if ts is not None else None


class SnapshotQueries(AvailabilityDatabase):
    """Which symbols had a file on a day, or in a range."""

    def get_available_symbols_on_date(self, date: DateLike) -> List[dict]:
        """Symbols with a file on ``date``, sorted by symbol: dicts of ``symbol``,
        ``file_size_bytes`` and ``last_modified`` (a naive ``datetime`` in UTC)."""
        rows = self._db.snapshot(date).to_pylist()
        for row in rows:
            row["last_modified"] = _naive_utc(row["last_modified"])
        return rows

    def get_symbols_in_date_range(self, start_date: DateLike, end_date: DateLike) -> List[str]:
        """Symbols with a file on at least one day of ``[start_date, end_date]``, sorted."""
        return [row["symbol"] for row in self._db.range(start_date, end_date).to_pylist()]


class TimelineQueries(AvailabilityDatabase):
    """One symbol's days."""

    def get_symbol_availability_timeline(self, symbol: str) -> List[dict]:
        """Every stored day of ``symbol`` by date, days without a file included: dicts of
        ``date`` (``'YYYY-MM-DD'``), ``available``, ``file_size_bytes``, ``status_code``."""
        days = self._db.timeline(symbol).to_pylist()
        for day in days:
            day["date"] = day["date"].isoformat()
        return days

    def get_symbol_first_listing_date(self, symbol: str) -> Optional[_dt.date]:
        """The first day with a file, or ``None`` if the folder has none."""
        return self._db.symbol(symbol)["first_file_date"]

    def get_symbol_last_available_date(self, symbol: str) -> Optional[_dt.date]:
        """The last day with a file, or ``None`` if the folder has none."""
        return self._db.symbol(symbol)["last_file_date"]


class AnalyticsQueries(AvailabilityDatabase):
    """Counts per day, listings and delistings."""

    def get_availability_summary(self) -> List[dict]:
        """Symbols with a file per day over everything the database covers: dicts of
        ``date`` (``'YYYY-MM-DD'``) and ``available_count``."""
        return _counts(self._db.summary())

    def get_symbol_count_by_date_range(self, start_date: DateLike, end_date: DateLike) -> List[dict]:
        """Symbols with a file per day of ``[start_date, end_date]``: dicts of ``date`` and
        ``available_count``."""
        return _counts(self._db.summary(start_date, end_date))

    def detect_new_listings(self, date: DateLike) -> List[str]:
        """Symbols with a file on ``date`` and none before, sorted."""
        return self._db.new_listings(date)

    def detect_delistings(self, date: DateLike) -> List[str]:
        """Symbols with a file the day before ``date`` and, verified, none on ``date``; a
        folder not yet checked through ``date`` is not among them."""
        return self._db.delistings(date)


def _counts(table) -> List[dict]:
    return [
        {"date": row["date"].isoformat(), "available_count": row["perpetual"]}
        for row in table.to_pylist()
    ]


class AvailabilityQueries(SnapshotQueries, TimelineQueries, AnalyticsQueries):
    """Every query of the original's three classes on one handle — the class the original
    README's example imports::

        from binance_futures_availability.queries import AvailabilityQueries
        q = AvailabilityQueries()
        print(q.get_available_symbols_on_date('2024-01-15'))
    """
