"""The suite fails instead of going green by skipping: no test skips itself (a
missing rule, file or tool is a failure with a message), and every test runs under a time limit, so
that a hung Snakemake or SLURM run fails its test instead of stalling the suite."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import FAST_TIMEOUT_S, TIMEOUT_S, timeout_for

TESTS = Path(__file__).resolve().parent
SKIPS = re.compile(r"pytest\.skip\(|\.skipif\b|importorskip|mark\.skip\b|pytest\.xfail\(")


def test_no_test_skips_itself():
    found = [f"{path.name}:{number}: {line.strip()}"
             for path in sorted(TESTS.glob("*.py")) if path.name != Path(__file__).name
             for number, line in enumerate(path.read_text().splitlines(), 1) if SKIPS.search(line)]
    assert found == [], "tests that skip (make a missing rule, file or tool a failure):\n" + "\n".join(found)


def test_every_test_has_a_time_limit(request: pytest.FixtureRequest):
    assert request.config.pluginmanager.hasplugin("timeout"), "pytest-timeout is not active"
    assert timeout_for({"slow", "slurm"}) == TIMEOUT_S["slurm"] > timeout_for({"slow"}) == TIMEOUT_S["slow"]
    assert timeout_for(set()) == FAST_TIMEOUT_S
    untimed = [item.nodeid for item in request.session.items if item.get_closest_marker("timeout") is None]
    assert untimed == []
    own = request.node.get_closest_marker("timeout")
    assert own.args == (FAST_TIMEOUT_S,)
