"""Artifacts as a lab shares them: files honour the umask, tables end lines with \\n."""
from __future__ import annotations

import os
import stat

import pytest

from avemotion.artifacts import atomic_output, read_tsv, write_tsv


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_atomic_output_honours_the_umask(tmp_path, umask_022):
    with atomic_output(tmp_path / "out.json") as tmp:
        tmp.write_text("{}")
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o644
    os.umask(0o077)
    with atomic_output(tmp_path / "private.json") as tmp:
        tmp.write_text("{}")
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600


def test_tsv_lines_end_with_newline_only(tmp_path):
    write_tsv(tmp_path / "t.tsv", ["clip_id", "reason"], [{"clip_id": "c0", "reason": "no face"}])
    assert (tmp_path / "t.tsv").read_bytes() == b"clip_id\treason\nc0\tno face\n"
    assert read_tsv(tmp_path / "t.tsv") == [{"clip_id": "c0", "reason": "no face"}]


def test_a_multi_line_reason_stays_on_its_row(tmp_path):
    reason = ("clip c0: media failed (RuntimeError: ffmpeg could not extract audio: [in#0 @ 0x1] moov atom not found\n"
              "Error opening input file c0.mp4.\r\n\tError opening input files: Invalid data)")
    write_tsv(tmp_path / "t.tsv", ["clip_id", "reason", "n"], [{"clip_id": "c0", "reason": reason, "n": 3}])
    lines = (tmp_path / "t.tsv").read_text().split("\n")
    assert len(lines) == 3 and lines[2] == "" and lines[1].count("\t") == 2
    assert read_tsv(tmp_path / "t.tsv")[0]["reason"] == " ".join(reason.split())
