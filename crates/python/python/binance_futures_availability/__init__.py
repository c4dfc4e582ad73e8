"""Which Binance USD-M futures had a daily klines file on Binance Vision, every day since
2019-09-25 — asked of the database that ``binance-futures-availability update`` keeps.

The modern API::

    import binance_futures_availability as bfa
    import polars as pl

    db = bfa.open()                           # read-only; BFA_DB or ~/.cache/binance-futures/…
    pl.DataFrame(db.snapshot("2024-01-15"))   # Arrow, no copy (also pyarrow.table(...))
    db.timeline("btcusdt").to_pylist()        # list of dicts

The original tool's API, unchanged (``binance_futures_availability.queries``)::

    from binance_futures_availability.queries import AvailabilityQueries
    q = AvailabilityQueries()
    print(q.get_available_symbols_on_date('2024-01-15'))

Errors: ``ValueError`` for bad input (a malformed date, an unknown symbol — with the closest
names suggested, an unknown quote asset, a number out of range), ``FileNotFoundError`` when
there is no database, ``NotCheckedError`` (an ``AvailabilityError``) for a day after the day
the database is complete through, ``AvailabilityError`` for everything else that fails at run
time. Messages are the command line's sentences.
"""

from __future__ import annotations

import os
from typing import Callable, Optional, Sequence, Union

from . import _native
from ._native import AvailabilityError, Catalog, Database, FileStream, NotCheckedError, Table

__version__ = _native.__version__

__all__ = [
    "AvailabilityError",
    "AvailabilityDatabase",
    "Database",
    "NotCheckedError",
    "SnapshotQueries",
    "Stage",
    "Table",
    "TimelineQueries",
    "AnalyticsQueries",
    "AvailabilityQueries",
    "Catalog",
    "FileStream",
    "default_catalog_path",
    "default_db_path",
    "open",
    "open_catalog",
    "update",
    "__version__",
]

PathLike = Union[str, "os.PathLike[str]"]


def default_db_path() -> str:
    """The database the command line uses: ``BFA_DB`` if set, else
    ``~/.cache/binance-futures/availability.duckdb``."""
    return os.environ.get("BFA_DB") or str(_native.default_db_path())


def _path(path: Optional[PathLike]) -> str:
    return os.fspath(path) if path is not None else default_db_path()


def open(  # noqa: A001 - the package's verb
    path: Optional[PathLike] = None, *, market: str = "um"
) -> Database:
    """Opens the database read-only (default: :func:`default_db_path`), for questions about
    ``market``: ``"um"`` (USD-M futures), ``"cm"`` (COIN-M futures, collected with
    ``update(market="cm")``) or ``"spot"`` (``update(market="spot")``); every question is
    answered for each.

    Raises ``FileNotFoundError`` when there is none, ``ValueError`` for a market the database
    does not keep; the file is never changed.
    """
    return Database(_path(path), market=market)


def default_catalog_path() -> str:
    """The catalog the command line's ``catalog`` commands use: ``BFA_CATALOG`` if set, else
    ``catalog.duckdb`` beside :func:`default_db_path`."""
    return os.environ.get("BFA_CATALOG") or str(_native.default_catalog_path(default_db_path()))


def open_catalog(path: Optional[PathLike] = None) -> Catalog:
    """Opens the catalog of every file of the bucket read-only (default:
    :func:`default_catalog_path`), as ``binance-futures-availability catalog update`` keeps it.

    Its questions are ``catalog datasets|symbols|files|gaps|lag|changes|strays``'s, each a
    :class:`Table` whose columns and values are the command's ``--format json`` keys and
    values; ``files`` comes in Arrow batches of at most 65,536 rows, and ``iter_files`` streams
    them while they are read. Raises ``FileNotFoundError`` when there is none; the file is
    never changed.
    """
    return Catalog(os.fspath(path) if path is not None else default_catalog_path())


class Stage(str):
    """Which stage of a run a progress call counts, given as its first argument.

    It is the run's kind as text (``"update"``), as that argument always was, so
    ``progress(kind, done, total)`` callbacks written for it keep working; besides, it names the
    stage: ``stage.name`` is ``"1m listings"`` (every symbol folder listed), then
    ``"1d klines"`` (the 1d klines files read), and ``done`` counts from zero again at each.
    ``stage.kind`` is the run's kind, ``str(stage)`` too.
    """

    kind: str
    name: str

    def __new__(cls, kind: str, name: str) -> "Stage":
        stage = super().__new__(cls, kind)
        stage.kind = kind
        stage.name = name
        return stage

    def __repr__(self) -> str:
        return f"Stage(kind={self.kind!r}, name={self.name!r})"


def update(
    path: Optional[PathLike] = None,
    *,
    lookback: int = _native.DEFAULT_LOOKBACK,
    s3_url: Optional[str] = None,
    data_url: Optional[str] = None,
    concurrency: int = 64,
    attempts: int = 5,
    request_timeout: int = 120,
    progress: Optional[Callable[[Stage, int, int], object]] = None,
    market: Optional[str] = None,
    markets: Optional[Sequence[str]] = None,
) -> dict:
    """Brings the database to yesterday (UTC), as ``binance-futures-availability update`` does:
    the first run lists the whole bucket, later ones the days since the last run plus the last
    ``lookback`` days again (files arrive late and get replaced).

    ``s3_url`` / ``data_url`` default to ``BFA_S3_URL`` / ``BFA_DATA_URL``, else the real
    bucket. ``progress(stage, done, total)`` is called after each symbol folder; ``stage`` is a
    :class:`Stage`, the run's kind as text that names its stage (``stage.name``: ``"1m
    listings"``, then ``"1d klines"``; ``done`` counts from zero at each). If it raises, or
    Ctrl-C arrives, the run stops, keeps what it gathered, and the exception propagates
    (``KeyboardInterrupt`` for Ctrl-C). Returns the run's
    summary: ``kind``, ``symbols``, ``files``, ``trading_files`` (1d files read), ``requests``,
    ``retries``, ``rows_written``, ``elapsed_seconds``. Runs with the GIL released.
    ``market="cm"`` (or ``"spot"``) collects that market instead, into tables of its own in the
    same file. ``markets=["um", "spot"]`` collects several in one run, published together (as
    ``update --markets um,spot``), and returns ``{market: summary}``.
    """
    if market is not None and markets is not None:
        raise ValueError("name the markets in one of market= or markets=, not both")
    return _native.update(
        _path(path),
        lookback=lookback,
        s3_url=s3_url or os.environ.get("BFA_S3_URL") or _native.DEFAULT_S3_URL,
        data_url=data_url or os.environ.get("BFA_DATA_URL") or _native.DEFAULT_DATA_URL,
        concurrency=concurrency,
        attempts=attempts,
        request_timeout=request_timeout,
        progress=None if progress is None else _staged(progress),
        market=market or "um",
        markets=None if markets is None else list(markets),
    )


def _staged(
    progress: Callable[[Stage, int, int], object],
) -> Callable[[str, str, int, int], object]:
    """The native run calls ``(kind, stage name, done, total)``; the user's callback gets a
    :class:`Stage`. One ``Stage`` a stage, not one a call."""
    stages: dict[tuple[str, str], Stage] = {}

    def call(kind: str, name: str, done: int, total: int) -> object:
        stage = stages.get((kind, name))
        if stage is None:
            stage = stages[(kind, name)] = Stage(kind, name)
        return progress(stage, done, total)

    return call


# The original package's names, after the modern ones they rest on.
from .queries import (  # noqa: E402
    AnalyticsQueries,
    AvailabilityDatabase,
    AvailabilityQueries,
    SnapshotQueries,
    TimelineQueries,
)
