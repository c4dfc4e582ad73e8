"""Fixtures: a real vision-sim on 127.0.0.1 serving the realistic bucket, and a database built
from it by the real command line, which is also the oracle the package is compared with.

The binaries come from ``$BFA_BIN_DIR``, else ``$CARGO_TARGET_DIR/release``, else
``~/.cache/bfa-target/release`` (where ``.ci/run`` builds them).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess

import pytest


def _bin_dir() -> pathlib.Path:
    if os.environ.get("BFA_BIN_DIR"):
        return pathlib.Path(os.environ["BFA_BIN_DIR"])
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/bfa-target")
    return pathlib.Path(target) / "release"


def _binary(name: str) -> pathlib.Path:
    path = _bin_dir() / name
    if not path.exists():
        pytest.exit(
            f"{path} is missing: build it first (`cargo build --release --workspace`), "
            "or point BFA_BIN_DIR at the folder holding it",
            returncode=2,
        )
    return path


class Sim:
    """vision-sim on an ephemeral port; its address is read from the line it prints once it
    listens, so nothing waits on a timer."""

    def __init__(self, latency_ms: int = 0, corpus: str = "realistic", *extra: str) -> None:
        self.proc = subprocess.Popen(
            [
                str(_binary("vision-sim")),
                "--addr", "127.0.0.1:0",
                "--corpus", corpus,
                "--latency-ms", str(latency_ms),
                *extra,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if " on http://" not in first:
            self.proc.kill()
            raise RuntimeError(f"vision-sim did not start: {first!r}")
        self.base = first.rsplit(" on ", 1)[1].strip()
        self.s3_url = f"{self.base}/data.binance.vision"
        self.data_url = self.base

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


class Cli:
    """The real command line against one database."""

    def __init__(self, db: pathlib.Path, sim: Sim) -> None:
        self.exe = _binary("binance-futures-availability")
        self.db = db
        self.env = dict(
            os.environ,
            BFA_DB=str(db),
            BFA_S3_URL=sim.s3_url,
            BFA_DATA_URL=sim.data_url,
            BFA_RETRY_BASE_MS="1",
            TZ="UTC",
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.exe), *args], env=self.env, capture_output=True, text=True)

    def ok(self, *args: str) -> str:
        out = self.run(*args)
        assert out.returncode == 0, f"{args} exited {out.returncode}: {out.stderr}"
        return out.stdout

    def json(self, *args: str):
        return json.loads(self.ok(*args, "--format", "json"))


@pytest.fixture(scope="session")
def sim():
    server = Sim()
    yield server
    server.stop()


@pytest.fixture()
def slow_sim():
    """A bucket that answers every request after 50 ms: a run against it takes seconds."""
    server = Sim(latency_ms=50)
    yield server
    server.stop()


@pytest.fixture()
def coin_m_sim():
    """A bucket of COIN-M folders (perpetuals, a quarterly, a settled folder, a pair)."""
    server = Sim(corpus="coin-m")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def spot_sim():
    """A bucket of spot pairs (a delisting, a pair that came back, microseconds from 2025)."""
    server = Sim(corpus="spot")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def built(sim, tmp_path_factory) -> pathlib.Path:
    """A database of the whole realistic bucket, made by `update` (the README's way)."""
    db = tmp_path_factory.mktemp("built") / "availability.duckdb"
    Cli(db, sim).ok("update", "--quiet")
    return db


@pytest.fixture()
def db_path(built, tmp_path) -> pathlib.Path:
    """A private copy of the built database: a test that writes cannot change another's."""
    copy = tmp_path / "availability.duckdb"
    shutil.copyfile(built, copy)
    return copy


@pytest.fixture()
def cli(db_path, sim) -> Cli:
    return Cli(db_path, sim)


# The catalog (`catalog update`, ADR 0020): vision-sim's whole bucket at a small scale, crawled
# twice a week apart, so it holds added, replaced and removed files.
CATALOG_T0 = "2026-11-19T09:00:00Z"
CATALOG_T1 = "2026-11-26T09:00:00Z"
CATALOG_SCALE = "0.0005"


class CatalogCli:
    """The real command line's `catalog` commands against one catalog file."""

    def __init__(self, catalog: pathlib.Path, sim: Sim | None = None) -> None:
        self.exe = _binary("binance-futures-availability")
        self.catalog = catalog
        self.env = dict(
            os.environ,
            BFA_CATALOG=str(catalog),
            BFA_DB=str(catalog.parent / "availability.duckdb"),
            BFA_RETRY_BASE_MS="1",
            TZ="UTC",
        )
        if sim is not None:
            self.env.update(BFA_S3_URL=sim.s3_url, BFA_DATA_URL=sim.data_url)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.exe), "catalog", *args], env=self.env, capture_output=True, text=True
        )

    def ok(self, *args: str) -> str:
        out = self.run(*args)
        assert out.returncode == 0, f"{args} exited {out.returncode}: {out.stderr}"
        return out.stdout

    def json(self, *args: str):
        return json.loads(self.ok(*args, "--format", "json"))


@pytest.fixture(scope="session")
def catalog_path(tmp_path_factory) -> pathlib.Path:
    """A catalog of the whole simulated bucket at T0, updated by a whole crawl at T1 (files
    added, replaced and removed in between), both by `catalog update`."""
    path = tmp_path_factory.mktemp("catalog") / "catalog.duckdb"
    for at, extra in [(CATALOG_T0, ()), (CATALOG_T1, ("--full",))]:
        sim = Sim(0, "vision", "--scale", CATALOG_SCALE, "--at", at)
        try:
            CatalogCli(path, sim).ok("update", "-q", *extra)
        finally:
            sim.stop()
    return path
