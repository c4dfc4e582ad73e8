"""The command from the wheel (``python -m binance_futures_availability``, the console script's
entry) is the binary's ``main``: the same bytes on stdout and stderr, the same exit codes."""

from __future__ import annotations

import signal
import subprocess
import sys

from conftest import Cli


def module(cli: Cli, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "binance_futures_availability", *args],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_answers_are_the_binarys_bytes(sim, db_path):
    cli = Cli(db_path, sim)
    for args in (
        ("query", "snapshot", "2024-01-15"),
        ("query", "timeline", "icpusdt", "--format", "json"),
        ("query", "range", "2024-01-01", "2024-03-31", "--format", "csv"),
        ("--version",),
    ):
        ours, binary = module(cli, *args), cli.run(*args)
        assert (ours.returncode, ours.stdout, ours.stderr) == (0, binary.stdout, binary.stderr), args


def test_refusals_exit_as_the_binary_does(sim, db_path, tmp_path):
    cli = Cli(db_path, sim)
    missing = Cli(tmp_path / "missing.duckdb", sim)
    for who, args, code in (
        (cli, ("query", "snapshot", "2024-13-01"), 2),
        (cli, ("query", "timeline", "NOSUCHUSDT"), 2),
        (cli, ("no-such-command",), 2),
        (missing, ("query", "snapshot", "2024-01-15"), 1),
    ):
        ours, binary = module(who, *args), who.run(*args)
        assert binary.returncode == code, (args, binary.stderr)
        assert (ours.returncode, ours.stdout, ours.stderr) == (code, binary.stdout, binary.stderr), args


def test_ctrl_c_stops_an_update_as_the_binary_does(slow_sim, tmp_path):
    """Ctrl-C during a run: the command commits what it gathered and exits 1 with the binary's
    sentence — no Python KeyboardInterrupt traceback after it."""
    cli = Cli(tmp_path / "availability.duckdb", slow_sim)
    proc = subprocess.Popen(
        [sys.executable, "-m", "binance_futures_availability", "update"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    # The progress log's first line ("update (listing): N/M symbols") says the run is under way.
    first = proc.stderr.readline()
    assert first, "the update printed nothing"
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 1, first + rest
    assert "What was collected is committed; run again to finish" in rest, rest
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest, rest
