"""Artifacts as a lab shares them: files honour the umask, tables end lines with \\n."""
from __future__ import annotations

import json
import os
import stat

import h5py
import numpy as np
import pytest

from avemotion.artifacts import (
    PREDICTION_COLUMNS,
    PROBABILITY_COLUMNS,
    STATUS_OK,
    STATUS_QUARANTINED,
    atomic_output,
    library_versions,
    one_line,
    read_audio_features,
    read_face_stack,
    read_manifest,
    read_predictions,
    read_status,
    read_tsv,
    set_status,
    write_predictions,
    write_tsv,
)


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


def test_cells_are_written_as_the_readers_expect(tmp_path):
    """Booleans as true/false, floats with every digit (repr), None and missing cells empty."""
    columns = ["clip_id", "has_audio", "fps", "n_frames", "missing", "none"]
    write_tsv(tmp_path / "t.tsv", columns, [{"clip_id": "c0", "has_audio": True, "fps": 1 / 3, "n_frames": 12,
                                             "none": None}, {"clip_id": "c1", "has_audio": False}])
    rows = read_tsv(tmp_path / "t.tsv")
    assert rows[0] == {"clip_id": "c0", "has_audio": "true", "fps": repr(1 / 3), "n_frames": "12", "missing": "",
                       "none": ""}
    assert float(rows[0]["fps"]) == 1 / 3  # exact round trip
    assert rows[1]["has_audio"] == "false" and rows[1]["fps"] == ""
    assert read_manifest(tmp_path / "t.tsv") == rows


def test_one_line_touches_only_text_with_breaks_or_tabs():
    assert one_line("no  break  here") == "no  break  here"  # spaces alone are kept as they are
    assert one_line("a\rb") == "a b" and one_line("a\tb") == "a b" and one_line("a \n\n b") == "a b"


def test_atomic_output_leaves_nothing_when_the_block_fails(tmp_path):
    target = tmp_path / "deeper" / "out.zip"
    with pytest.raises(RuntimeError):
        with atomic_output(target, suffix=".zip") as tmp:
            assert tmp.parent == target.parent and tmp.name.startswith(".out.zip.") and tmp.suffix == ".zip"
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert list(target.parent.iterdir()) == []
    with atomic_output(target) as tmp:
        assert tmp.suffix == ".tmp"
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and list(target.parent.iterdir()) == [target]


def test_predictions_round_trip_ok_and_quarantined_rows(tmp_path):
    probs = np.array([0.1, 0.2, 0.3, 0.05, 0.05, 0.2, 0.1])
    write_predictions(tmp_path / "p.tsv", [
        {"clip_id": "c0", "split": "val", "label": "AN", "probs": probs},  # status ok and no reason by default
        {"clip_id": "c1", "split": "test", "label": "", "probs": None, "status": "quarantined", "reason": "no face"},
    ])
    table = read_tsv(tmp_path / "p.tsv")
    assert list(table[0]) == list(PREDICTION_COLUMNS)
    assert table[0]["p_AN"] == "0.10000000" and table[0]["status"] == "ok" and table[0]["reason"] == ""
    assert [table[1][c] for c in PROBABILITY_COLUMNS] == [""] * 7 and table[1]["reason"] == "no face"
    rows = read_predictions(tmp_path / "p.tsv")
    np.testing.assert_allclose(rows[0]["probs"], probs)
    assert rows[1]["probs"] is None and rows[1]["status"] == "quarantined"
    assert {k: rows[1][k] for k in ("clip_id", "split", "label", "reason")} == {
        "clip_id": "c1", "split": "test", "label": "", "reason": "no face"}


@pytest.mark.parametrize("row, message", [
    ({"probs": np.full(7, 1 / 7), "status": "quarantined"}, "a quarantined row carries no probabilities"),
    ({"probs": np.full(6, 1 / 6)}, "probabilities must be 7 finite numbers"),
    ({"probs": np.array([np.nan] + [1 / 6] * 6)}, "probabilities must be 7 finite numbers"),
    ({"probs": np.full(7, 1 / 7), "status": "unsure"}, "unknown status 'unsure'"),
])
def test_a_prediction_row_that_breaks_the_layout_is_refused(tmp_path, row, message):
    with pytest.raises(ValueError, match=f"clip c9: {message}"):
        write_predictions(tmp_path / "p.tsv", [{"clip_id": "c9", "split": "val", "label": "AN", **row}])
    assert not (tmp_path / "p.tsv").exists()


def test_status_attributes_and_their_defaults(tmp_path):
    with h5py.File(tmp_path / "a.h5", "w") as handle:
        set_status(handle, STATUS_QUARANTINED, "silent")
        with pytest.raises(ValueError, match="unknown status 'maybe'"):
            set_status(handle, "maybe")
    assert read_status(tmp_path / "a.h5") == ("quarantined", "silent")
    with h5py.File(tmp_path / "b.h5", "w") as handle:
        set_status(handle, STATUS_OK)
    assert read_status(tmp_path / "b.h5") == ("ok", "")
    with h5py.File(tmp_path / "c.h5", "w"):
        pass  # an artifact without the attributes is ok
    assert read_status(tmp_path / "c.h5") == ("ok", "")


def test_face_stack_and_audio_features_are_read_with_their_status(tmp_path):
    with h5py.File(tmp_path / "faces.h5", "w") as handle:
        handle["faces"] = np.zeros((2, 4, 4, 3), np.uint8)
        handle["frame_index"] = np.array([0, 3])
        handle["timeline"] = np.array([0, -1, -1, 1, 1])
        set_status(handle, STATUS_OK)
    stack = read_face_stack(tmp_path / "faces.h5")
    assert stack.faces.shape == (2, 4, 4, 3) and stack.frame_index.tolist() == [0, 3] and stack.status == "ok"
    assert stack.timeline_faces().tolist() == [True, False, False, True, True]  # frame 0 is a face too
    for name, key, shape in (("maps.h5", "maps", (2, 34, 34)), ("is10.h5", "features", (1582,))):
        with h5py.File(tmp_path / name, "w") as handle:
            handle[key] = np.ones(shape)
            handle.attrs["clip_id"] = "c0"
            set_status(handle, STATUS_QUARANTINED if key == "maps" else STATUS_OK, "short" if key == "maps" else "")
        features = read_audio_features(tmp_path / name)
        assert features.data.shape == shape and features.clip_id == "c0"
        assert features.ok == (key == "features") and features.reason == ("short" if key == "maps" else "")


def test_library_versions_name_each_package_or_its_absence():
    versions = json.loads(library_versions(("numpy", "no-such-package-here")))
    assert versions == {"no-such-package-here": "not installed", "numpy": np.__version__}
