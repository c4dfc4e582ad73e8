"""Type stubs for the Rust core (``binance_futures_availability._native``)."""

import datetime
import os
from typing import Any, Callable, List, Optional, Union

DateLike = Union[str, datetime.date]
# A period of a catalog dataset: a day (a date or 'YYYY-MM-DD') or a month ('YYYY-MM').
PeriodLike = Union[str, datetime.date]

__version__: str
DEFAULT_S3_URL: str
DEFAULT_DATA_URL: str
DEFAULT_LOOKBACK: int

class AvailabilityError(RuntimeError):
    """A runtime failure: the database file, DuckDB, the network."""

class NotCheckedError(AvailabilityError):
    """A day after the day the database is complete through: run ``update``."""

def default_db_path() -> str: ...
def default_catalog_path(db: Union[str, os.PathLike[str]]) -> str:
    """``catalog.duckdb`` beside the database at ``db`` (the CLI's catalog by default)."""

class Table:
    """One answer: ``polars.DataFrame(t)``, ``pyarrow.table(t)`` (no copy) or ``t.to_pylist()``."""

    @property
    def columns(self) -> List[str]: ...
    def to_pylist(self) -> List[dict]: ...
    def to_polars(self) -> Any:
        """A polars DataFrame (needs polars)."""
    def to_pandas(self) -> Any:
        """A pandas DataFrame, through pyarrow (needs pyarrow and pandas)."""
    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object: ...
    def __len__(self) -> int: ...

class Database:
    """A read-only handle on a database file; safe to share between threads."""

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        *,
        unchecked_days: str = "raise",
        market: str = "um",
    ) -> None: ...
    @property
    def path(self) -> str: ...
    @property
    def market(self) -> str: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Database": ...
    def __exit__(self, *exc: object) -> None: ...
    def snapshot(self, date: DateLike, contract: str = "perpetual") -> Table:
        """Symbols with a file on ``date``: symbol, file_size_bytes, last_modified (UTC)."""
    def timeline(self, symbol: str) -> Table:
        """Every stored day of ``symbol``: date, available, file_size_bytes, status_code."""
    def symbol(self, symbol: str) -> dict[str, Any]:
        """What the database knows of one folder: contract, first/last file, checked range."""
    def range(self, start: DateLike, end: DateLike, contract: str = "perpetual") -> Table:
        """Symbols with a file in [start, end]: symbol, days_available, first_date, last_date."""
    def summary(self, start: Optional[DateLike] = None, end: Optional[DateLike] = None) -> Table:
        """Symbols with a file per day: date, perpetual, delivery."""
    def new_listings(self, date: DateLike, contract: str = "perpetual") -> List[str]: ...
    def delistings(self, date: DateLike, contract: str = "perpetual") -> List[str]: ...
    def universe(
        self,
        date: DateLike,
        *,
        contract: Optional[str] = None,
        quote: Optional[str] = None,
        min_age: Optional[int] = None,
        recent: Optional[int] = None,
        top: Optional[int] = None,
        by: Optional[str] = None,
        window: Optional[int] = None,
        delisted_after: Optional[int] = None,
        include_settled: bool = False,
    ) -> Table:
        """Symbols tradable as of the start of ``date``, from facts before it only, by rank:
        symbol, base_symbol, rank, mean_quote_volume, days_listed, traded_on_date (None while
        unchecked). An option left at None is ``query universe``'s default (contract
        'perpetual', min_age 0, recent 1, by 'quote-volume', window 30, delisted_after 7,
        every member), which the library holds in one place."""
    def universe_panel(
        self,
        start: DateLike,
        end: DateLike,
        every: str = "1d",
        *,
        contract: Optional[str] = None,
        quote: Optional[str] = None,
        min_age: Optional[int] = None,
        recent: Optional[int] = None,
        top: Optional[int] = None,
        by: Optional[str] = None,
        window: Optional[int] = None,
        delisted_after: Optional[int] = None,
        include_settled: bool = False,
    ) -> Table:
        """The universe of every rebalance date from ``start`` through ``end``, by date then
        rank: date, symbol, rank, mean_quote_volume, days_listed, traded_on_date; each date's
        rows are ``universe(date, …)``'s. ``every``: '1d', '1w' (Mondays), '1mo' (the first
        day of every month) or 'Nd' (every N days from ``start``)."""
    def lives(self, symbol: Optional[str] = None, *, delisted_after: Optional[int] = None) -> Table:
        """Every folder's lives (or one symbol's) by symbol then life: symbol, life,
        first_file, first_trade, last_trade, last_file, end (None while open),
        gap_days_before."""
    def events(
        self,
        *,
        since: Optional[DateLike] = None,
        until: Optional[DateLike] = None,
        kind: Optional[str] = None,
        symbol: Optional[str] = None,
        delisted_after: Optional[int] = None,
        contract: Optional[str] = None,
    ) -> Table:
        """Listings, gaps, delistings, relistings by date then symbol: date, symbol,
        base_symbol, kind, detail. None is the library's default: delisted_after 7, contract
        'all'."""
    def trading(
        self, symbol: str, start: Optional[DateLike] = None, end: Optional[DateLike] = None
    ) -> Table:
        """A symbol's 1d rows by date: date, open, high, low, close, volume, quote_volume,
        trades, taker_buy_volume, taker_buy_quote_volume."""

class FileStream:
    """A dataset's files as a one-shot Arrow stream, read while consumed
    (``pyarrow.RecordBatchReader.from_stream(s)``, ``polars.DataFrame(s)``)."""

    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object: ...

class Catalog:
    """A read-only handle on a catalog file (``open_catalog()``); safe to share between
    threads. Each answer's columns and values are ``catalog … --format json``'s."""

    def __init__(self, path: Union[str, os.PathLike[str]]) -> None: ...
    @property
    def path(self) -> str: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Catalog": ...
    def __exit__(self, *exc: object) -> None: ...
    def datasets(self, market: Optional[str] = None) -> Table:
        """Every dataset with files: dataset, symbols, files, bytes, first, last,
        missing_checksums, last_change."""
    def symbols(self, dataset: str) -> Table:
        """Every symbol folder of ``dataset``: symbol, files, bytes, first, last, gaps."""
    def files(
        self,
        dataset: str,
        symbol: Optional[str] = None,
        since: Optional[PeriodLike] = None,
        until: Optional[PeriodLike] = None,
        *,
        batch_rows: Optional[int] = None,
    ) -> Table:
        """Every file by symbol then period: key, symbol, period, size, last_modified,
        checksum; in Arrow batches of at most ``batch_rows`` (65,536) rows."""
    def iter_files(
        self,
        dataset: str,
        symbol: Optional[str] = None,
        since: Optional[PeriodLike] = None,
        until: Optional[PeriodLike] = None,
        *,
        batch_rows: Optional[int] = None,
    ) -> FileStream:
        """As ``files``, streamed while consumed: a few batches in memory at a time."""
    def gaps(self, dataset: str, symbol: Optional[str] = None) -> Table:
        """Runs of missing periods: symbol, from, to, periods, covered_by."""
    def lag(self, dataset: str) -> Table:
        """One row: files, p50_hours, p90_hours, p99_hours, max_hours, replaced."""
    def changes(
        self,
        since: Optional[DateLike] = None,
        until: Optional[DateLike] = None,
        dataset: Optional[str] = None,
        kind: Optional[str] = None,
        *,
        batch_rows: Optional[int] = None,
    ) -> Table:
        """Files added, replaced or removed: seen, key, kind, size, last_modified,
        previous_size, previous_last_modified; in Arrow batches of at most ``batch_rows``
        (65,536) rows."""
    def strays(self) -> Table:
        """Keys outside the layout: key, size, last_modified, reason."""

def update(
    path: Union[str, os.PathLike[str]],
    *,
    lookback: int,
    s3_url: str,
    data_url: str,
    concurrency: int,
    attempts: int,
    request_timeout: int,
    progress: Optional[Callable[[str, str, int, int], object]] = None,
    market: str = "um",
) -> dict[str, Any]: ...

def main(argv: List[str]) -> int:
    """Runs the ``binance-futures-availability`` command (``argv`` starts with the program
    name) in this process and returns its exit code."""
