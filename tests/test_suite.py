"""The suite fails instead of going green by skipping: no test skips itself (a
missing rule, file or tool is a failure with a message), and every test runs under a time limit, so
that a hung Snakemake or SLURM run fails its test instead of stalling the suite."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import FAST_TIMEOUT_S, TIMEOUT_S, timeout_for

TESTS = Path(__file__).resolve().parent
# A strict xfail is allowed: it records a measured miss and fails the test once the miss is gone.
SKIPS = re.compile(r"pytest\.skip\(|\.skipif\b|importorskip|mark\.skip\b|pytest\.xfail\("
                   r"|(?:applymarker|add_marker)\(\s*pytest\.mark\.(?:skip\b|xfail\((?!.*strict=True))")


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


@pytest.mark.parametrize("line", [
    "request.applymarker(pytest.mark.xfail(reason='flaky'))",
    "request.applymarker(pytest.mark.xfail(strict=False, reason='flaky'))",
    "item.add_marker(pytest.mark.skip(reason='no tool'))",
    "pytest.skip('no espeak')",
    "@pytest.mark.skipif(sys.platform == 'win32', reason='x')",
])
def test_the_guard_sees_every_way_to_skip(line: str):
    assert SKIPS.search(line), line


def test_a_strict_xfail_is_not_a_skip():
    assert not SKIPS.search('request.applymarker(pytest.mark.xfail(strict=True, reason="measured miss"))')
