"""The package's examples in README.md and docs/*.md (```` ```python package ```` blocks) run
as written, with BFA_DB pointing at a copy of the realistic database, BFA_CATALOG at a catalog of
the simulated whole bucket (conftest's `catalog_path`), and BFA_S3_URL /
BFA_DATA_URL at the simulated bucket (an `update()` example collects from it). (Plain ```` ```python ```` blocks
use the stock duckdb client; `tests/docs.rs` runs those.)"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[3]


def package_blocks():
    files = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    for path in files:
        block, start = None, 0
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if block is None and line.strip() == "```python package":
                block, start = [], number + 1
            elif block is not None and line.strip() == "```":
                yield path, start, "\n".join(block) + "\n"
                block = None
            elif block is not None:
                block.append(line)


def test_the_package_examples_in_the_docs_run(db_path, catalog_path, sim, tmp_path):
    found = list(package_blocks())
    assert len(found) >= 5, f"the README shows the package: {found}"
    for path, line, code in found:
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=dict(
                os.environ,
                BFA_DB=str(db_path),
                BFA_CATALOG=str(catalog_path),
                BFA_S3_URL=sim.s3_url,
                BFA_DATA_URL=sim.data_url,
            ),
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, f"{path}:{line}: the example failed:\n{out.stderr}"
