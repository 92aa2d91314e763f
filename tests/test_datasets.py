from pathlib import Path

import pytest

from avemotion.artifacts import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, read_tsv
from avemotion.datasets import (
    afew_candidates, build_manifest, clip_id_from_stem, cremad_candidates, dataset_candidates,
    list_candidates, list_dataset_inputs, normalize_label, ravdess_candidates,
)
from media_factory import make_clip, truncate

PROBE = {"require_audio": True, "min_audio_s": 0.1}


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_labels_map_onto_the_paper_classes():
    assert normalize_label("Angry") == "AN" and normalize_label("surprised") == "SU"
    assert normalize_label("HAP") == "HA" and normalize_label(" sad ") == "SA"
    assert normalize_label("bored") is None


def test_clip_ids_are_safe_wildcards():
    assert clip_id_from_stem("000046280") == "000046280"
    assert clip_id_from_stem("my clip (1)") == "my_clip__1_"
    assert clip_id_from_stem("_x") == "clip__x"


def test_afew_layout(tmp_path):
    touch(tmp_path / "Train_AFEW" / "Angry" / "000046280.avi")
    touch(tmp_path / "Train_AFEW" / "Happy" / "000147000.avi")
    touch(tmp_path / "Val_AFEW" / "Sad" / "000433520.avi")
    touch(tmp_path / "Val_AFEW" / "Bored" / "000433999.avi")
    touch(tmp_path / "Test_list_clips" / "003010040.avi")
    test_list = tmp_path / "test.txt"
    test_list.write_text("Test_list_clips/003010040.avi\n")
    candidates, rejections = afew_candidates(tmp_path, str(test_list))
    got = {(c.clip_id, c.label, c.split) for c in candidates}
    assert got == {("000046280", "AN", "train"), ("000147000", "HA", "train"), ("000433520", "SA", "val"),
                   ("003010040", "", "test")}
    assert [(r.clip_id, r.reason) for r in rejections] == [("000433999", "unknown AFEW emotion folder 'Bored'")]


def test_ravdess_naming_calm_and_actor_split(tmp_path):
    names = []
    for actor in range(1, 11):
        for emotion in ("01", "02", "05", "08"):
            names.append(f"01-01-{emotion}-01-01-01-{actor:02d}.mp4")
    for name in names:
        touch(tmp_path / f"Actor_{name[-6:-4]}" / name)
    touch(tmp_path / "Actor_01" / "notes.mp4")
    folded, rejected = ravdess_candidates(tmp_path, "neutral", 0.2, 0.2, seed=0)
    labels = {c.clip_id: c.label for c in folded}
    assert labels["01-01-02-01-01-01-03"] == "NE" and labels["01-01-05-01-01-01-03"] == "AN"
    assert labels["01-01-08-01-01-01-03"] == "SU"
    assert [r.reason for r in rejected] == ["file name is not RAVDESS MM-VC-EM-IN-ST-RE-AC"]
    split_of_actor = {}
    for c in folded:
        split_of_actor.setdefault(c.clip_id[-2:], set()).add(c.split)
    assert all(len(s) == 1 for s in split_of_actor.values()), "an actor spans two splits"
    counts = {s: sum(1 for v in split_of_actor.values() if v == {s}) for s in ("train", "val", "test")}
    assert counts == {"train": 6, "val": 2, "test": 2}
    dropped, rejected = ravdess_candidates(tmp_path, "drop", 0.2, 0.2, seed=0)
    assert len(dropped) == 30 and sum("calm" in r.reason for r in rejected) == 10
    again, _ = ravdess_candidates(tmp_path, "neutral", 0.2, 0.2, seed=0)
    assert [(c.clip_id, c.split) for c in again] == [(c.clip_id, c.split) for c in folded]


def test_cremad_naming(tmp_path):
    for name in ("1001_DFA_ANG_XX.flv", "1001_IEO_HAP_HI.flv", "1002_DFA_NEU_XX.mp4", "1003_TIE_SAD_LO.flv",
                 "1004_DFA_XYZ_XX.flv", "readme.flv"):
        touch(tmp_path / name)
    candidates, rejections = cremad_candidates(tmp_path, 0.0, 0.0, seed=0)
    assert {c.clip_id: c.label for c in candidates} == {
        "1001_DFA_ANG_XX": "AN", "1001_IEO_HAP_HI": "HA", "1002_DFA_NEU_XX": "NE", "1003_TIE_SAD_LO": "SA"}
    assert {c.split for c in candidates} == {"train"}
    assert sorted(r.reason for r in rejections) == [
        "file name is not CREMA-D AAAA_SSS_EMO_LV", "unknown CREMA-D emotion code XYZ"]


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_plain_list(tmp_path, delimiter):
    lines = ["path,label,split", "clips/a.mp4,happy,train", "clips/b.mp4,NE,val", "/abs/c.mp4,,test",
             "clips/d.mp4,bored,train", "clips/e.mp4,SA,holdout", "clips/f.mp4,,train"]
    list_file = tmp_path / ("list.tsv" if delimiter == "\t" else "list.csv")
    list_file.write_text("\n".join(line.replace(",", delimiter) for line in lines) + "\n")
    candidates, rejections = list_candidates(list_file)
    assert [(c.clip_id, c.label, c.split, c.path) for c in candidates] == [
        ("a", "HA", "train", str(tmp_path / "clips/a.mp4")), ("b", "NE", "val", str(tmp_path / "clips/b.mp4")),
        ("c", "", "test", "/abs/c.mp4")]
    assert [(r.clip_id, r.reason) for r in rejections] == [
        ("d", "unknown label 'bored'"), ("e", "unknown split 'holdout' (expected train, val or test)"),
        ("f", "no label for a train clip")]


def test_list_without_required_columns_is_a_clear_error(tmp_path):
    (tmp_path / "l.csv").write_text("file,emotion\na.mp4,HA\n")
    with pytest.raises(ValueError, match="needs columns path, label, split"):
        list_candidates(tmp_path / "l.csv")


def test_duplicate_clip_ids_are_rejected(tmp_path):
    (tmp_path / "l.csv").write_text("path,label,split\nx/a.mp4,HA,train\ny/a.mp4,SA,val\n")
    candidates, rejections = dataset_candidates({"kind": "list", "path": str(tmp_path / "l.csv")})
    assert len(candidates) == 1
    assert rejections[0].reason == f"duplicate clip id (also {tmp_path / 'x/a.mp4'})"


def test_dataset_inputs_are_listed_without_probing(tmp_path):
    touch(tmp_path / "Train_AFEW" / "Angry" / "1.avi")
    touch(tmp_path / "Val_AFEW" / "Sad" / "2.avi")
    assert list_dataset_inputs({"kind": "afew", "path": str(tmp_path)}) == [
        str(tmp_path / "Train_AFEW/Angry/1.avi"), str(tmp_path / "Val_AFEW/Sad/2.avi")]


def test_missing_dataset_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        dataset_candidates({"kind": "afew", "path": str(tmp_path / "nope")})


def test_build_manifest_puts_every_clip_in_exactly_one_table(tmp_path):
    clips = tmp_path / "clips"
    make_clip(clips / "good1.mp4", seconds=1.0, fps=25)
    make_clip(clips / "good2.avi", seconds=1.2, fps=30, codec="mpeg4")
    (clips / "zero.mp4").write_bytes(b"")
    truncate(make_clip(clips / "trunc.mp4", seconds=3.0), 0.4)
    make_clip(clips / "noaudio.mp4", audio=False)
    make_clip(clips / "unknown.mp4")
    list_file = tmp_path / "list.csv"
    list_file.write_text("path,label,split\n" + "\n".join(
        f"clips/{name},{label},train" for name, label in [
            ("good1.mp4", "HA"), ("good2.avi", "SA"), ("zero.mp4", "AN"), ("trunc.mp4", "AN"),
            ("noaudio.mp4", "AN"), ("unknown.mp4", "bored")]) + "\n")
    manifest, quarantine = tmp_path / "manifest.tsv", tmp_path / "quarantine.tsv"
    assert build_manifest({"kind": "list", "path": str(list_file)}, PROBE, manifest, quarantine, threads=2) == (2, 4)
    rows = read_tsv(manifest)
    assert list(rows[0]) == list(MANIFEST_COLUMNS)
    assert {r["clip_id"]: (r["label"], r["fps"], r["n_frames"], r["has_audio"]) for r in rows} == {
        "good1": ("HA", "25.0", "25", "true"), "good2": ("SA", "30.0", "36", "true")}
    quarantined = read_tsv(quarantine)
    assert list(quarantined[0]) == list(QUARANTINE_COLUMNS)
    reasons = {r["clip_id"]: (r["stage"], r["reason"]) for r in quarantined}
    assert reasons["zero"] == ("probe", "zero-byte file")
    assert reasons["trunc"][0] == "probe" and reasons["trunc"][1].startswith("truncated")
    assert reasons["noaudio"] == ("probe", "no audio stream")
    assert reasons["unknown"] == ("dataset", "unknown label 'bored'")
