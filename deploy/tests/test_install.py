"""deploy/install.sh against a release folder served on 127.0.0.1: it installs the archive whose
SHA-256 matches, and installs nothing when the checksum, the download or the archive is wrong."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import platform
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

INSTALL_SH = Path(__file__).resolve().parents[1] / "install.sh"
CMD = "binance-futures-availability"
TARGETS = {
    ("Linux", "x86_64"): "x86_64-unknown-linux-gnu",
    ("Linux", "aarch64"): "aarch64-unknown-linux-gnu",
    ("Darwin", "x86_64"): "x86_64-apple-darwin",
    ("Darwin", "arm64"): "aarch64-apple-darwin",
}
TARGET = TARGETS.get((platform.system(), platform.machine()))
pytestmark = pytest.mark.skipif(TARGET is None, reason="install.sh has no archive for this machine")


def archive(folder: Path, *, member: str | None = None, body: bytes = b"#!/bin/sh\necho bfa 9.9.9\n") -> Path:
    name = f"{CMD}-{TARGET}"
    path = folder / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(member or f"{name}/{CMD}")
        info.size = len(body)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(body))
    return path


def checksum(path: Path, digest: str | None = None) -> None:
    digest = digest or hashlib.sha256(path.read_bytes()).hexdigest()
    Path(f"{path}.sha256").write_text(f"{digest}  {path.name}\n")


@pytest.fixture
def release(tmp_path):
    folder = tmp_path / "release"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_install(url: str, install_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, BFA_RELEASE_URL=url, BFA_INSTALL_DIR=str(install_dir))
    return subprocess.run(["sh", str(INSTALL_SH)], env=env, capture_output=True, text=True, timeout=60)


def test_installs_the_archive_whose_checksum_matches(release, tmp_path):
    folder, url = release
    checksum(archive(folder))
    bin_dir = tmp_path / "bin"
    done = run_install(url, bin_dir)
    assert done.returncode == 0, done.stderr
    assert f"installed {bin_dir}/{CMD}" in done.stderr
    out = subprocess.run([str(bin_dir / CMD)], capture_output=True, text=True, check=True)
    assert out.stdout == "bfa 9.9.9\n"


def test_a_wrong_checksum_installs_nothing(release, tmp_path):
    folder, url = release
    checksum(archive(folder), digest="0" * 64)
    bin_dir = tmp_path / "bin"
    done = run_install(url, bin_dir)
    assert done.returncode == 1
    assert "the release says " + "0" * 64 + ": not installed" in done.stderr
    assert not (bin_dir / CMD).exists()


def test_a_missing_archive_installs_nothing(release, tmp_path):
    _, url = release
    done = run_install(url, tmp_path / "bin")
    assert done.returncode == 1
    assert f"could not download {url}/{CMD}-{TARGET}.tar.gz" in done.stderr
    assert not (tmp_path / "bin").exists()


def test_an_archive_without_the_command_installs_nothing(release, tmp_path):
    folder, url = release
    checksum(archive(folder, member="something-else"))
    done = run_install(url, tmp_path / "bin")
    assert done.returncode == 1
    assert f"holds no {CMD}-{TARGET}/{CMD}: not installed" in done.stderr
    assert not (tmp_path / "bin" / CMD).exists()
