"""Dataset adapters and the manifest: name rules on touched files, and the adapters on small
fixtures in each dataset's real layout and containers (tests/dataset_fixtures.py), built once per
module."""
from __future__ import annotations

import logging
import math
import shutil
import wave
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from snakemake.utils import update_config, validate

from avemotion.artifacts import MANIFEST_COLUMNS, QUARANTINE_COLUMNS, read_tsv
from avemotion.config import DEFAULT_CONFIG, SCHEMA, load_config
from avemotion.datasets import (
    Candidate, Rejection, actor_split, afew_candidates, build_manifest, clip_id_from_stem, cremad_candidates,
    dataset_candidates, list_candidates, list_dataset_inputs, normalize_label, ravdess_candidates, read_split_file,
)
from avemotion.audio import read_clip_audio, samples_as_float
from avemotion.media import audio_source, extract_audio, probe_clip
from conftest import REPO, run_snakemake
from dataset_fixtures import AFEW_FOLDERS, write_afew_fixture, write_cremad_fixture, write_ravdess_fixture
from media_factory import make_clip, truncate

PROBE = {"require_audio": True, "min_audio_s": 0.1}
SHORT = (0.5, 0.6)  # clip durations of the test fixtures (s)
AUDIO_CHECKS = load_config()["audio"]["checks"]


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def dataset_config(kind: str, path: Path, **settings) -> dict:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())["dataset"]
    return {**config, "kind": kind, "path": str(path), **settings}


def manifest_of(tmp_path: Path, dataset: dict, probe: dict = PROBE) -> tuple[list[dict], list[dict]]:
    manifest, quarantine = tmp_path / "manifest.tsv", tmp_path / "quarantine.tsv"
    build_manifest(dataset, probe, manifest, quarantine, threads=2)
    return read_tsv(manifest), read_tsv(quarantine)


def assert_every_file_once(root: Path, rows: list[dict], quarantined: list[dict]) -> None:
    """Every media file below root is a clip's path or audio_path, or one quarantine row: once."""
    media = sorted(str(p) for p in root.rglob("*") if p.suffix in (".avi", ".mp4", ".flv", ".wav"))
    listed = [r["path"] for r in rows] + [r["audio_path"] for r in rows if r["audio_path"]] + \
        [r["path"] for r in quarantined]
    assert sorted(listed) == media


@pytest.fixture(scope="module")
def afew(tmp_path_factory):
    return write_afew_fixture(tmp_path_factory.mktemp("afew"), seed=1, train=3, val=2, test=3, duration_s=SHORT)


@pytest.fixture(scope="module")
def ravdess(tmp_path_factory):
    return write_ravdess_fixture(tmp_path_factory.mktemp("ravdess"), seed=1, actors=3, duration_s=SHORT,
                                 size=(320, 180))


@pytest.fixture(scope="module")
def cremad(tmp_path_factory):
    return write_cremad_fixture(tmp_path_factory.mktemp("cremad"), seed=1, actors=3, clips_per_actor=2,
                                duration_s=SHORT)


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
    touch(tmp_path / "Val_AFEW" / "000433998.avi")
    touch(tmp_path / "Test_AFEW" / "002000001.avi")
    touch(tmp_path / "Test_AFEW" / "Happy" / "002000002.avi")
    touch(tmp_path / "Test_list_clips" / "003010040.avi")
    touch(tmp_path / "stray" / "003010041.avi")
    test_list = tmp_path / "test.txt"
    test_list.write_text("Test_list_clips/003010040.avi\n")
    candidates, rejections = afew_candidates(tmp_path, str(test_list))
    got = {(c.clip_id, c.label, c.split) for c in candidates}
    assert got == {("000046280", "AN", "train"), ("000147000", "HA", "train"), ("000433520", "SA", "val"),
                   ("003010040", "", "test"), ("002000001", "", "test"), ("002000002", "HA", "test")}
    assert sorted((r.clip_id, r.reason) for r in rejections) == [
        ("000433998", "directly in Val_AFEW/, not in an emotion folder"),
        ("000433999", "unknown AFEW emotion folder 'Bored'"),
        ("003010041", "not in a Train_AFEW/, Val_AFEW/ or Test_AFEW/ folder")]


def test_afew_fixture_is_afew_shaped(afew):
    root = afew.root
    assert sorted(p.name for p in root.iterdir()) == ["Faces", "Test_AFEW", "Train_AFEW", "Val_AFEW"]
    assert {p.name for p in (root / "Train_AFEW").iterdir()} <= set(AFEW_FOLDERS.values())
    tests = sorted((root / "Test_AFEW").iterdir())
    assert len(tests) == 3 and all(p.is_file() and p.suffix == ".avi" and len(p.stem) == 9 and p.stem.isdigit()
                                   for p in tests)
    audio_codecs = set()
    for path in afew.paths("audio-video"):
        with av.open(str(path)) as container:
            assert container.format.name == "avi"
            video = container.streams.video[0]
            assert (video.codec_context.name, video.codec_context.codec_tag) == ("mpeg4", "XVID")
            assert (video.codec_context.width, video.codec_context.height, float(video.average_rate)) == (720, 576, 25.0)
            audio_codecs.add(container.streams.audio[0].codec_context.name)
    assert audio_codecs == {"mp3float", "pcm_s16le"}
    # the organisers' faces: a folder per clip id, images named by 0-based frame number, a few missing
    from avemotion.faces.dataset import find_dataset_face_images

    written_tests = [f for f in afew.files if f.split == "test"]
    for entry in afew.files:
        if entry.kind == "broken" or entry == written_tests[-1]:
            continue
        clip_id = Path(entry.path).stem
        images = find_dataset_face_images(afew.faces_dir, clip_id)
        n_frames = probe_clip(root / entry.path).n_frames
        # the fixture drops a frame's crop with probability 0.1: 40 % of a clip's 12-15 frames or more
        # would happen by chance less than 1 % of the time
        assert images and max(images) < n_frames and len(images) >= 0.6 * n_frames
        assert images[min(images)].parent.name == clip_id
    assert find_dataset_face_images(afew.faces_dir, Path(written_tests[-1].path).stem) == {}


def test_afew_unlabelled_test_set_is_predicted_not_rejected(afew, tmp_path):
    rows, quarantined = manifest_of(tmp_path, dataset_config("afew", afew.root))
    assert list(rows[0]) == list(MANIFEST_COLUMNS)
    assert_every_file_once(afew.root, rows, quarantined)
    tests = [r for r in rows if r["split"] == "test"]
    assert len(tests) == 3 and {r["label"] for r in tests} == {""}
    assert all("Test_AFEW" in r["path"] and r["has_audio"] == "true" for r in tests)
    truth = {Path(f.path).stem: f for f in afew.files}
    for row in rows:
        if row["split"] != "test":
            assert row["label"] == truth[row["clip_id"]].label
            assert row["path"].endswith(f"{AFEW_FOLDERS[row['label']]}/{row['clip_id']}.avi")
    assert [(q["stage"], q["reason"]) for q in quarantined] == [("probe", "zero-byte file")]
    assert {r["split"] for r in rows} == {"train", "val", "test"}


def test_afew_labelled_test_list_still_works(afew, tmp_path):
    tests = sorted((afew.root / "Test_AFEW").iterdir())
    truth = {Path(f.path).stem: f.label for f in afew.files}
    listed = tmp_path / "test_labels.txt"
    listed.write_text("".join(f"{p}\t{truth[p.stem]}\n" for p in tests[:2]))
    candidates, rejections = dataset_candidates(dataset_config("afew", afew.root, afew_test_list=str(listed)))
    test = {c.clip_id: c.label for c in candidates if c.split == "test"}
    assert test == {tests[0].stem: truth[tests[0].stem], tests[1].stem: truth[tests[1].stem], tests[2].stem: ""}
    assert not any("duplicate" in r.reason for r in rejections)


def test_ravdess_naming_calm_and_actor_split(tmp_path):
    for actor in range(1, 11):
        for emotion in ("01", "02", "05", "08"):
            touch(tmp_path / f"Actor_{actor:02d}" / f"01-01-{emotion}-01-01-01-{actor:02d}.mp4")
    touch(tmp_path / "Actor_01" / "notes.mp4")
    touch(tmp_path / "Actor_01" / "04-01-01-01-01-01-01.mp4")
    folded, rejected = ravdess_candidates(tmp_path, "neutral", 0.2, 0.2, seed=0)
    labels = {c.clip_id: c.label for c in folded}
    assert labels["01-01-02-01-01-01-03"] == "NE" and labels["01-01-05-01-01-01-03"] == "AN"
    assert labels["01-01-08-01-01-01-03"] == "SU"
    assert sorted(r.reason for r in rejected) == [
        "file name is not RAVDESS MM-VC-EM-IN-ST-RE-AC",
        "unknown RAVDESS modality 04 (01 audio-video, 02 video-only, 03 audio-only)"]
    split_of_actor = {}
    for c in folded:
        split_of_actor.setdefault(c.clip_id[-2:], set()).add(c.split)
    assert all(len(s) == 1 for s in split_of_actor.values()), "an actor spans two splits"
    assert {a: s.pop() for a, s in split_of_actor.items()} == {
        f"{a:02d}": actor_split("ravdess", str(a), 0, 0.2, 0.2) for a in range(1, 11)}
    dropped, rejected = ravdess_candidates(tmp_path, "drop", 0.2, 0.2, seed=0)
    assert len(dropped) == 30 and sum("calm" in r.reason for r in rejected) == 10
    again, _ = ravdess_candidates(tmp_path, "neutral", 0.2, 0.2, seed=0)
    assert [(c.clip_id, c.split) for c in again] == [(c.clip_id, c.split) for c in folded]


def test_ravdess_one_clip_per_recording(ravdess, tmp_path):
    rows, quarantined = manifest_of(tmp_path, dataset_config("ravdess", ravdess.root))
    assert_every_file_once(ravdess.root, rows, quarantined)
    recordings = {r["clip_id"][3:] for r in rows}
    assert len(recordings) == len(rows) == 3 * 3  # speech, song, calm per actor; the anomalies are out
    by_id = {r["clip_id"]: r for r in rows}
    for actor in ("01", "02", "03"):
        kinds = sorted(r["clip_id"][:5] for r in rows if r["clip_id"].endswith(actor))
        assert kinds == ["01-01", "01-01", "02-02"]  # speech and calm from 01 files, song from 02
        song = next(r for r in rows if r["clip_id"].endswith(actor) and r["clip_id"].startswith("02-02-"))
        # song has no audio-video file: the video-only file, paired with its audio-only twin
        assert song["has_audio"] == "true" and Path(song["audio_path"]).name == "03" + song["clip_id"][2:] + ".wav"
    assert all(r["audio_path"] == "" for r in rows if r["clip_id"].startswith("01-"))
    calm = [r for r in rows if r["clip_id"][6:8] == "02"]
    assert len(calm) == 3 and {r["label"] for r in calm} == {"NE"}
    reasons = {Path(q["path"]).name: q["reason"] for q in quarantined}
    speech = next(c for c in by_id if c.startswith("01-01-") and c[6:8] != "02" and c.endswith("02"))
    assert reasons["02" + speech[2:] + ".mp4"] == (
        f"duplicate of RAVDESS recording {speech[3:]}: kept Actor_02/{speech}.mp4")
    assert reasons["03" + speech[2:] + ".wav"] == reasons["02" + speech[2:] + ".mp4"]
    assert reasons["03-01-05-01-01-02-01.wav"].endswith("has audio only (03): no audio-video (01) or video-only (02) file")
    assert reasons["02-01-03-01-02-01-01.mp4"] == "no audio stream"  # video-only, no .wav twin
    # kept for the face models when audio is not required
    rows, quarantined = manifest_of(tmp_path, dataset_config("ravdess", ravdess.root),
                                    {"require_audio": False, "min_audio_s": 0.1})
    silent = {r["clip_id"]: r for r in rows}["02-01-03-01-02-01-01"]
    assert silent["has_audio"] == "false" and silent["audio_path"] == ""


def test_ravdess_speech_song_and_calm_options(ravdess):
    def kept(**settings):
        candidates, rejections = dataset_candidates(dataset_config("ravdess", ravdess.root, **settings))
        return {c.clip_id for c in candidates}, rejections

    both, _ = kept()
    speech, rejections = kept(ravdess_vocal_channels=["speech"])
    assert speech == {c for c in both if c[3:5] == "01"} and len(speech) < len(both)
    song_out = [r for r in rejections if "song" in r.reason]
    assert len(song_out) == 6 and song_out[0].reason == (
        "RAVDESS song (vocal channel 02) left out by dataset.ravdess_vocal_channels")
    song, _ = kept(ravdess_vocal_channels=["song"])
    assert song == {c for c in both if c[3:5] == "02"}
    no_calm, rejections = kept(ravdess_calm="drop")
    assert no_calm == {c for c in both if c[6:8] != "02"}
    assert sum(r.reason == "RAVDESS calm (02) dropped by dataset.ravdess_calm" for r in rejections) == 3


def test_media_stage_takes_audio_from_the_paired_file(ravdess, tmp_path):
    rows, _ = manifest_of(tmp_path, dataset_config("ravdess", ravdess.root))
    paired = next(r for r in rows if r["audio_path"])
    assert audio_source(paired) == paired["audio_path"]
    assert audio_source({"path": "x.mp4", "audio_path": ""}) == "x.mp4"
    n = extract_audio(audio_source(paired), tmp_path / "paired.wav", 16000, has_audio=True)
    audio = read_clip_audio(tmp_path / "paired.wav", "paired")
    samples, rate = samples_as_float(audio.samples), audio.sample_rate
    with wave.open(paired["audio_path"]) as source:
        seconds = source.getnframes() / source.getframerate()
    # the .wav's length at 16 kHz (resampling rounds it by a sample or two), louder than the audio
    # stage's silence bound
    assert rate == 16000 and n == pytest.approx(seconds * 16000, abs=2)
    assert 20 * np.log10(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) > AUDIO_CHECKS["silence_dbfs"]


def test_cremad_naming(tmp_path):
    for name in ("1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1003_TIE_SAD_LO"):
        touch(tmp_path / "VideoFlash" / f"{name}.flv")
        touch(tmp_path / "AudioWAV" / f"{name}.wav")
    touch(tmp_path / "VideoMP4" / "1001_DFA_ANG_XX.mp4")
    touch(tmp_path / "VideoFlash" / "1002_DFA_NEU_XX.flv")
    touch(tmp_path / "AudioWAV" / "1004_DFA_FEA_XX.wav")
    for name in ("1004_DFA_XYZ_XX.flv", "readme.flv"):
        touch(tmp_path / "VideoFlash" / name)
    candidates, rejections = cremad_candidates(tmp_path, 0.0, 0.0, seed=0)
    assert {c.clip_id: (c.label, Path(c.path).parent.name, Path(c.audio_path).name) for c in candidates} == {
        "1001_DFA_ANG_XX": ("AN", "VideoFlash", "1001_DFA_ANG_XX.wav"),
        "1001_IEO_HAP_HI": ("HA", "VideoFlash", "1001_IEO_HAP_HI.wav"),
        "1003_TIE_SAD_LO": ("SA", "VideoFlash", "1003_TIE_SAD_LO.wav")}
    assert {c.split for c in candidates} == {"train"}
    assert sorted(r.reason for r in rejections) == [
        "CREMA-D audio without its video (no 1004_DFA_FEA_XX.flv, as in VideoFlash/)",
        "CREMA-D video without its audio (no 1002_DFA_NEU_XX.wav, as in AudioWAV/)",
        "duplicate of CREMA-D recording 1001_DFA_ANG_XX: kept VideoFlash/1001_DFA_ANG_XX.flv with audio "
        "from AudioWAV/1001_DFA_ANG_XX.wav",
        "file name is not CREMA-D AAAA_SSS_EMO_LV", "unknown CREMA-D emotion code XYZ"]


def test_cremad_flv_and_wav_pairs(cremad, tmp_path):
    flv = cremad.paths("audio-video")[0]
    info = probe_clip(flv)  # FLV (Sorenson H.263) decodes through the project's probe
    # the fixture's frame size and rate; the shortest clip (SHORT) has that many frames at 30 fps
    assert (info.width, info.height, info.fps) == (480, 360, 30.0) and info.n_frames >= round(min(SHORT) * 30)
    with av.open(str(flv)) as container:
        assert container.format.name == "flv" and container.streams.video[0].codec_context.name == "flv"
    rows, quarantined = manifest_of(tmp_path, dataset_config("cremad", cremad.root))
    assert_every_file_once(cremad.root, rows, quarantined)
    assert len(rows) == 6
    assert all(Path(r["audio_path"]).parent.name == "AudioWAV" and Path(r["audio_path"]).stem == r["clip_id"]
               and Path(r["path"]).parent.name == "VideoFlash" and r["has_audio"] == "true" for r in rows)
    assert sorted(q["reason"].split(" (")[0] for q in quarantined) == [
        "CREMA-D audio without its video", "CREMA-D video without its audio"]


def test_actor_split_is_stable_when_actors_are_added(ravdess, tmp_path):
    settings = dict(val_fraction=0.34, test_fraction=0.33, split_seed=5)
    before, _ = dataset_candidates(dataset_config("ravdess", ravdess.root, **settings))
    grown = tmp_path / "grown"
    shutil.copytree(ravdess.root, grown)
    write_ravdess_fixture(grown, seed=1, actors=2, first_actor=4, duration_s=(0.3, 0.35), size=(160, 90),
                          anomalies=False)
    after, _ = dataset_candidates(dataset_config("ravdess", grown, **settings))
    split_before = {c.clip_id: c.split for c in before}
    split_after = {c.clip_id: c.split for c in after}
    assert {c: split_after[c] for c in split_before} == split_before
    assert len(split_after) == len(split_before) + 6
    actors_of = {}
    for c in after:
        actors_of.setdefault(c.split, set()).add(c.clip_id[-2:])
    assert sum(len(a) for a in actors_of.values()) == 5  # disjoint: each actor in one split
    # the fractions hold over many actors, and adding actors moves none
    many = {a: actor_split("cremad", str(a), 0, 0.15, 0.15) for a in range(1001, 1092)}
    more = {a: actor_split("cremad", str(a), 0, 0.15, 0.15) for a in range(1001, 1200)}
    assert {a: more[a] for a in many} == many
    counts = {s: sum(v == s for v in more.values()) for s in ("train", "val", "test")}
    # 199 actors at 0.15: 30 expected, standard deviation 5; within 3 of them
    assert 15 <= counts["val"] <= 45 and 15 <= counts["test"] <= 45


def test_split_file_overrides_the_actor_split(cremad, tmp_path):
    split_file = tmp_path / "splits.tsv"
    third = sorted({Path(f.path).stem for f in cremad.files if f.actor == "1003"})
    split_file.write_text(f"# actor or clip id, split\nactor\tsplit\n1001\ttest\nActor_1002\tval\n{third[0]}\ttrain\n")
    rows, quarantined = manifest_of(tmp_path, dataset_config("cremad", cremad.root, split_file=str(split_file)))
    assert_every_file_once(cremad.root, rows, quarantined)
    splits = {r["clip_id"]: r["split"] for r in rows}
    assert {s for c, s in splits.items() if c.startswith("1001_")} == {"test"}
    assert {s for c, s in splits.items() if c.startswith("1002_")} == {"val"}
    assert [c for c in splits if c.startswith("1003_")] == [third[0]]
    unlisted = [q for q in quarantined if "split_file" in q["reason"]]
    assert sorted(Path(q["path"]).name for q in unlisted) == [f"{third[1]}.flv", f"{third[1]}.wav"]
    assert unlisted[0]["reason"] == (
        f"neither clip {third[1]} nor actor 1003 is listed in dataset.split_file {split_file}")
    assert str(split_file) in list_dataset_inputs(dataset_config("cremad", cremad.root, split_file=str(split_file)))
    split_file.write_text("1001\tholdout\n")
    with pytest.raises(ValueError, match=r"splits.tsv:1: unknown split 'holdout'"):
        read_split_file(split_file)
    split_file.write_text("1001,test\n1001,val\n")
    with pytest.raises(ValueError, match="listed as 'test' and as 'val'"):
        read_split_file(split_file)
    with pytest.raises(ValueError, match="dataset.split_file is for ravdess and cremad"):
        dataset_candidates(dataset_config("afew", tmp_path, split_file=str(split_file)))


def test_dataset_keys_in_the_schema_and_on_the_command_line():
    from snakemake.cli import parse_config

    def overridden(*entries: str) -> dict:
        """config.yaml with `snakemake --config ENTRY ...` merged over it, as Snakemake does."""
        config = yaml.safe_load(DEFAULT_CONFIG.read_text())
        update_config(config, parse_config(list(entries)))
        return config

    # docs/datasets.md: the one-line commands
    config = overridden("dataset={kind: afew, path: /data/AFEW}", "faces={track_b: {dataset_faces_dir: /data/AFEW/Faces}}")
    validate(config, schema=str(SCHEMA))
    assert config["dataset"]["kind"] == "afew" and config["dataset"]["ravdess_vocal_channels"] == ["speech", "song"]
    assert config["faces"]["track_b"]["dataset_faces_dir"] == "/data/AFEW/Faces" and config["faces"]["size"] == 64
    validate(overridden("dataset={kind: ravdess, path: /data/RAVDESS, ravdess_vocal_channels: [speech]}"),
             schema=str(SCHEMA))
    # --config reads nested values as strings: numbers go in a --configfile (README says so)
    with pytest.raises(Exception, match="'3' is not of type 'integer'"):
        validate(overridden("dataset={kind: cremad, path: /data/CREMA-D, split_seed: 3}"), schema=str(SCHEMA))
    with pytest.raises(Exception, match="opera"):
        validate(overridden("dataset={kind: ravdess, path: /x, ravdess_vocal_channels: [opera]}"), schema=str(SCHEMA))


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
    touch(tmp_path / "AudioWAV" / "1001_DFA_ANG_XX.wav")
    assert str(tmp_path / "AudioWAV" / "1001_DFA_ANG_XX.wav") in list_dataset_inputs(
        {"kind": "cremad", "path": str(tmp_path)})


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


def test_paired_audio_file_is_probed_and_quarantined_with_its_video(tmp_path):
    root = tmp_path / "ravdess" / "Actor_01"
    make_clip(root / "02-01-05-01-01-01-01.mp4", audio=False)
    (root / "03-01-05-01-01-01-01.wav").write_bytes(b"")
    rows, quarantined = manifest_of(tmp_path, dataset_config("ravdess", tmp_path / "ravdess"))
    assert rows == []
    assert sorted((Path(q["path"]).name, q["stage"], q["reason"]) for q in quarantined) == [
        ("02-01-05-01-01-01-01.mp4", "probe", "audio file 03-01-05-01-01-01-01.wav: zero-byte file"),
        ("03-01-05-01-01-01-01.wav", "probe", "audio file 03-01-05-01-01-01-01.wav: zero-byte file")]


def test_media_rule_extracts_the_paired_audio(ravdess, tmp_path):
    """Through Snakemake: the media job of a RAVDESS 02 clip takes its audio from the 03 .wav."""
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    run_snakemake(tmp_path, "--cores", "2", "--config", f"dataset={{kind: ravdess, path: {ravdess.root}}}",
                  "--", "results/media/index.tsv", timeout=300)
    rows = read_tsv(tmp_path / "results" / "manifest.tsv")
    index = {r["clip_id"]: r for r in read_tsv(tmp_path / "results" / "media" / "index.tsv")}
    paired = [r["clip_id"] for r in rows if r["audio_path"]]
    # the whole paired .wav: the shortest clip (SHORT) at 16 kHz, less a sample or two of resampling
    assert paired and all(int(index[c]["audio_samples"]) >= min(SHORT) * 16000 - 2 for c in paired)


def test_split_file_rows_name_actors_or_clips(tmp_path):
    split_file = tmp_path / "splits.tsv"
    split_file.write_text("# a comment\n\nactor\tsplit\n7\tVAL\nActor_12 \t test\nactor_3\ttrain\nclip_x\tval\n"
                          "12\ttest\n")
    splits = read_split_file(split_file)
    assert splits.path == str(split_file)
    assert splits.actors == {7: "val", 12: "test", 3: "train"} and splits.clips == {"clip_x": "val"}
    assert splits.split_of("clip_x", "3") == "val"  # a clip's own row wins over its actor's
    assert splits.split_of("clip_y", "03") == "train" and splits.split_of("clip_y", "8") is None
    split_file.write_text("1001,test\nspeaker_2,val\n")  # comma-separated; a key that is not Actor_<n> is a clip
    assert read_split_file(split_file).actors == {1001: "test"}
    assert read_split_file(split_file).clips == {"speaker_2": "val"}
    split_file.write_text("1001\ttest\nactor\tsplit\n")  # a header only at the top
    with pytest.raises(ValueError, match=r"splits.tsv:2: unknown split 'split'"):
        read_split_file(split_file)
    split_file.write_text("1001\n")
    with pytest.raises(ValueError, match=r"splits.tsv:1: expected `actor or clip_id<TAB>split`, got '1001'"):
        read_split_file(split_file)
    split_file.write_text("a\tval\na\ttest\n")
    with pytest.raises(ValueError, match=r"splits.tsv:2: 'a' is listed as 'val' and as 'test'"):
        read_split_file(split_file)


def test_a_split_file_assigns_cremad_clips_and_rejects_the_unlisted_pair(tmp_path):
    for actor in ("1001", "1002"):
        for sentence in ("DFA", "IEO"):
            touch(tmp_path / "VideoFlash" / f"{actor}_{sentence}_ANG_XX.flv")
            touch(tmp_path / "AudioWAV" / f"{actor}_{sentence}_ANG_XX.wav")
    split_file = tmp_path / "splits.tsv"
    split_file.write_text("1001\ttest\n1002_DFA_ANG_XX\tval\n")
    candidates, rejections = dataset_candidates(dataset_config("cremad", tmp_path, split_file=str(split_file)))
    assert {c.clip_id: c.split for c in candidates} == {"1001_DFA_ANG_XX": "test", "1001_IEO_ANG_XX": "test",
                                                        "1002_DFA_ANG_XX": "val"}
    assert sorted(Path(r.path).name for r in rejections) == ["1002_IEO_ANG_XX.flv", "1002_IEO_ANG_XX.wav"]
    assert rejections[0].reason == (f"neither clip 1002_IEO_ANG_XX nor actor 1002 is listed in dataset.split_file "
                                    f"{split_file}")
    assert list_dataset_inputs(dataset_config("cremad", tmp_path, split_file=str(split_file)))[-1] == str(split_file)
    with pytest.raises(FileNotFoundError, match="dataset.split_file .* is not a file"):
        dataset_candidates(dataset_config("cremad", tmp_path, split_file=str(tmp_path / "none.tsv")))
    with pytest.raises(ValueError, match="dataset.split_file is for ravdess and cremad"):
        dataset_candidates(dataset_config("list", tmp_path / "l.csv", split_file=str(split_file)))


def test_dataset_inputs_of_each_kind(tmp_path):
    touch(tmp_path / "Train_AFEW" / "Angry" / "1.AVI")
    touch(tmp_path / "01-01-01-01-01-01-01.wav")
    touch(tmp_path / "notes.txt")
    test_list = tmp_path / "test_list.txt"
    assert list_dataset_inputs({"kind": "afew", "path": str(tmp_path), "afew_test_list": str(test_list)}) == [
        str(tmp_path / "Train_AFEW/Angry/1.AVI"), str(test_list)]  # videos only, then the test list
    assert list_dataset_inputs({"kind": "ravdess", "path": str(tmp_path)}) == [
        str(tmp_path / "01-01-01-01-01-01-01.wav"), str(tmp_path / "Train_AFEW/Angry/1.AVI")]  # audio too
    assert list_dataset_inputs({"kind": "list", "path": str(tmp_path / "clips.csv")}) == [str(tmp_path / "clips.csv")]
    assert list_dataset_inputs({"kind": "afew", "path": str(tmp_path / "missing")}) == []


def test_afew_test_list_takes_its_files_with_or_without_labels(tmp_path):
    for name in ("a", "b", "c", "d"):
        touch(tmp_path / "Test_AFEW" / f"{name}.avi")
    test_list = tmp_path / "Test_AFEW" / "list.txt"
    test_list.write_text("# path<TAB>label\n\na.avi\tHappy\nb.avi\nc.avi\tbored\n")
    candidates, rejections = afew_candidates(tmp_path, str(test_list))
    listed = {c.clip_id: (c.label, c.split, c.path) for c in candidates}
    assert listed["a"] == ("HA", "test", str(tmp_path / "Test_AFEW" / "a.avi"))  # relative to the list
    assert listed["b"][:2] == ("", "test")  # no label: predicted, never scored
    assert listed["d"] == ("", "test", str(tmp_path / "Test_AFEW" / "d.avi"))  # found in the folder
    assert len(candidates) == 3 and [c.path for c in candidates].count(listed["a"][2]) == 1
    [bored] = rejections
    assert (bored.clip_id, bored.path, bored.split) == ("c", str(tmp_path / "Test_AFEW" / "c.avi"), "test")
    assert bored.reason == "unknown label 'bored' in AFEW test list"


# ---------------------------------------------------------------- adapters: every candidate and rejection whole
DEFAULTS = yaml.safe_load(DEFAULT_CONFIG.read_text())["dataset"]  # config.yaml: the documented defaults


def by_path(rejections: list[Rejection]) -> list[Rejection]:
    return sorted(rejections, key=lambda r: r.path)


def test_ravdess_candidates_and_rejections_whole(tmp_path):
    # ravdess_candidates: one clip per recording (the audio-video file; else the video-only file with
    # its audio-only twin), ordered by actor, then recording; every other file rejected with its clip
    # id and the reason, duplicates naming the kept file (relative to the root)
    root = tmp_path / "ravdess"
    a1, a2 = root / "Actor_01", root / "Actor_02"
    names = ["01-01-05-01-01-02-01.mp4", "02-01-05-01-01-02-01.mp4", "03-01-05-01-01-02-01.wav",
             "02-01-03-01-01-01-01.mp4", "03-01-03-01-01-01-01.wav", "extra/02-01-03-01-01-01-01.mp4",
             "03-01-04-01-01-01-01.wav", "notes.mp4", "03-01-01-01-01-01-01.mp4", "01-03-01-01-01-01-01.mp4",
             "01-01-09-01-01-01-01.mp4", "01-02-01-01-01-01-01.mp4", "01-01-02-01-01-01-01.mp4"]
    for name in names:
        touch(a1 / name)
    touch(a2 / "01-01-01-01-01-01-02.mp4")
    candidates, rejections = ravdess_candidates(root, "drop", 0.0, 0.0, 0, vocal_channels=("speech",))
    assert candidates == [
        Candidate("02-01-03-01-01-01-01", str(a1 / "02-01-03-01-01-01-01.mp4"), "HA", "train", "ravdess",
                  str(a1 / "03-01-03-01-01-01-01.wav")),
        Candidate("01-01-05-01-01-02-01", str(a1 / "01-01-05-01-01-02-01.mp4"), "AN", "train", "ravdess"),
        Candidate("01-01-01-01-01-01-02", str(a2 / "01-01-01-01-01-01-02.mp4"), "NE", "train", "ravdess")]
    kept_an = "duplicate of RAVDESS recording 01-05-01-01-02-01: kept Actor_01/01-01-05-01-01-02-01.mp4"
    assert by_path(rejections) == by_path([
        Rejection("02-01-05-01-01-02-01", str(a1 / "02-01-05-01-01-02-01.mp4"), kept_an),
        Rejection("03-01-05-01-01-02-01", str(a1 / "03-01-05-01-01-02-01.wav"), kept_an),
        Rejection("02-01-03-01-01-01-01", str(a1 / "extra/02-01-03-01-01-01-01.mp4"),
                  "duplicate of RAVDESS recording 01-03-01-01-01-01: kept Actor_01/02-01-03-01-01-01-01.mp4 "
                  "with audio from Actor_01/03-01-03-01-01-01-01.wav"),
        Rejection("03-01-04-01-01-01-01", str(a1 / "03-01-04-01-01-01-01.wav"),
                  "RAVDESS recording 01-04-01-01-01-01 has audio only (03): no audio-video (01) or video-only "
                  "(02) file"),
        Rejection("notes", str(a1 / "notes.mp4"), "file name is not RAVDESS MM-VC-EM-IN-ST-RE-AC"),
        Rejection("03-01-01-01-01-01-01", str(a1 / "03-01-01-01-01-01-01.mp4"),
                  "RAVDESS modality 03 (audio-only) in a .mp4 file"),
        Rejection("01-03-01-01-01-01-01", str(a1 / "01-03-01-01-01-01-01.mp4"),
                  "unknown RAVDESS vocal channel 03 (01 speech, 02 song)"),
        Rejection("01-01-09-01-01-01-01", str(a1 / "01-01-09-01-01-01-01.mp4"), "unknown RAVDESS emotion code 09"),
        Rejection("01-02-01-01-01-01-01", str(a1 / "01-02-01-01-01-01-01.mp4"),
                  "RAVDESS song (vocal channel 02) left out by dataset.ravdess_vocal_channels"),
        Rejection("01-01-02-01-01-01-01", str(a1 / "01-01-02-01-01-01-01.mp4"),
                  "RAVDESS calm (02) dropped by dataset.ravdess_calm")])
    split_file = tmp_path / "splits.tsv"
    split_file.write_text("1\tval\n2\ttest\n")
    split, _ = ravdess_candidates(root, "drop", 0.0, 0.0, 0, vocal_channels=("speech",), split_file=str(split_file))
    assert [c.split for c in split] == ["val", "val", "test"]  # the split file's actors, not the fractions


def test_cremad_candidates_and_rejections_whole(tmp_path):
    # cremad_candidates: the video paired with its .wav; a video or .wav alone, further copies of a
    # recording (every one), unknown names and emotions rejected with clip id, path and reason
    root = tmp_path / "cremad"
    pairs = ("1001_DFA_ANG_XX", "1004_IEO_SAD_LO", "1005_DFA_ANG_XX")
    for name in pairs:
        touch(root / "VideoFlash" / f"{name}.flv")
        touch(root / "AudioWAV" / f"{name}.wav")
    extra = [touch(root / folder / "1001_DFA_ANG_XX.wav") for folder in ("AudioWAV2", "AudioWAV3")]
    audio_only = touch(root / "AudioWAV" / "1000_DFA_HAP_XX.wav")
    video_only = touch(root / "VideoFlash" / "1002_DFA_NEU_XX.flv")
    unknown = touch(root / "VideoFlash" / "1003_DFA_XYZ_XX.flv")
    readme = touch(root / "VideoFlash" / "readme.flv")
    candidates, rejections = cremad_candidates(root, 0.0, 0.0, 0)
    assert candidates == [Candidate(name, str(root / "VideoFlash" / f"{name}.flv"), label, "train", "cremad",
                                    str(root / "AudioWAV" / f"{name}.wav"))
                          for name, label in zip(pairs, ("AN", "SA", "AN"))]
    kept = ("duplicate of CREMA-D recording 1001_DFA_ANG_XX: kept VideoFlash/1001_DFA_ANG_XX.flv with audio from "
            "AudioWAV/1001_DFA_ANG_XX.wav")
    assert by_path(rejections) == by_path([
        Rejection("1001_DFA_ANG_XX", str(extra[0]), kept), Rejection("1001_DFA_ANG_XX", str(extra[1]), kept),
        Rejection("1000_DFA_HAP_XX", str(audio_only),
                  "CREMA-D audio without its video (no 1000_DFA_HAP_XX.flv, as in VideoFlash/)"),
        Rejection("1002_DFA_NEU_XX", str(video_only),
                  "CREMA-D video without its audio (no 1002_DFA_NEU_XX.wav, as in AudioWAV/)"),
        Rejection("1003_DFA_XYZ_XX", str(unknown), "unknown CREMA-D emotion code XYZ"),
        Rejection("readme", str(readme), "file name is not CREMA-D AAAA_SSS_EMO_LV")])
    # a split file: listed actors take its split, every clip it does not list is rejected with its audio
    split_file = tmp_path / "splits.tsv"
    split_file.write_text("1004\ttest\n")
    listed, rejected = cremad_candidates(root, 0.0, 0.0, 0, split_file=str(split_file))
    assert [(c.clip_id, c.split, c.dataset) for c in listed] == [("1004_IEO_SAD_LO", "test", "cremad")]
    unlisted = [r for r in rejected if "split_file" in r.reason]
    assert [(r.clip_id, Path(r.path).name) for r in unlisted] == [
        ("1001_DFA_ANG_XX", "1001_DFA_ANG_XX.flv"), ("1001_DFA_ANG_XX", "1001_DFA_ANG_XX.wav"),
        ("1005_DFA_ANG_XX", "1005_DFA_ANG_XX.flv"), ("1005_DFA_ANG_XX", "1005_DFA_ANG_XX.wav")]


def test_the_log_warns_when_a_split_gets_no_actor(tmp_path, caplog):
    # docs/datasets.md: with few actors a split can get none; the manifest log warns (only for a split
    # with a fraction above 0 and no actor, and not when a split file assigns the actors)
    caplog.set_level(logging.WARNING, logger="avemotion.datasets")
    touch(tmp_path / "VideoFlash" / "1001_DFA_ANG_XX.flv")
    touch(tmp_path / "AudioWAV" / "1001_DFA_ANG_XX.wav")
    split_file = tmp_path / "splits.tsv"
    split_file.write_text("1001\ttrain\n")

    def warnings_of(*args, **kwargs) -> list[str]:
        caplog.clear()
        cremad_candidates(tmp_path, *args, **kwargs)
        return [r.getMessage() for r in caplog.records]

    assert warnings_of(1.0, 0.5, 0) == [
        "cremad: no actor fell into the test split (1 actors, fraction 0.50); change dataset.split_seed or give "
        "dataset.split_file"]  # val holds the only actor; test (fraction 0.5) none
    assert warnings_of(0.0, 0.0, 0) == []  # fractions 0: no split expected
    assert warnings_of(0.5, 0.5, 0, split_file=str(split_file)) == []


def test_afew_candidates_and_rejections_whole(tmp_path):
    # afew_candidates: the split and emotion folders give split and label; the test list's lines are
    # path<TAB>label (a path may hold spaces); every candidate is of dataset afew; a rejection keeps
    # the split of its folder
    files = {name: touch(tmp_path / name) for name in (
        "Train_AFEW/Angry/1.avi", "Val_AFEW/Bored/2.avi", "Val_AFEW/3.avi", "stray/4.avi", "Test_AFEW/my clip.avi")}
    test_list = tmp_path / "list.txt"
    test_list.write_text("Test_AFEW/my clip.avi\tHappy\n")
    candidates, rejections = afew_candidates(tmp_path, str(test_list))
    assert candidates == [Candidate("my_clip", str(files["Test_AFEW/my clip.avi"]), "HA", "test", "afew"),
                          Candidate("1", str(files["Train_AFEW/Angry/1.avi"]), "AN", "train", "afew")]
    assert by_path(rejections) == by_path([
        Rejection("2", str(files["Val_AFEW/Bored/2.avi"]), "unknown AFEW emotion folder 'Bored'", split="val"),
        Rejection("3", str(files["Val_AFEW/3.avi"]), "directly in Val_AFEW/, not in an emotion folder", split="val"),
        Rejection("4", str(files["stray/4.avi"]), "not in a Train_AFEW/, Val_AFEW/ or Test_AFEW/ folder")])


def test_an_indented_comment_in_a_split_file_is_skipped(tmp_path):
    split_file = tmp_path / "splits.tsv"
    split_file.write_text("  # actors of the held-out set\n7\ttest\n")
    assert read_split_file(split_file).actors == {7: "test"}


def test_a_rejection_row_has_every_quarantine_column():
    row = Rejection("c", "x/c.avi", "zero-byte file", stage="probe", split="val", dataset="afew").row()
    assert row == {"clip_id": "c", "path": "x/c.avi", "stage": "probe", "reason": "zero-byte file", "split": "val",
                   "dataset": "afew"}
    assert list(row) == list(QUARANTINE_COLUMNS)


def test_the_val_cut_and_the_test_cut_are_the_same_half_open_rule():
    # actor_split: an actor is val when its draw u < val_fraction and test when u < val_fraction +
    # test_fraction: with the cut f as val_fraction (test 0) or as test_fraction (val 0), the same
    # actors fall below it, right at the draw too (found by bisection between adjacent floats)
    for actor in ("1", "2", "3"):
        below, above = 0.0, 1.0  # actor_split(..., 0.0, 0.0) is never val, (..., 1.0, 0.0) always
        while math.nextafter(below, 1.0) < above:
            middle = (below + above) / 2
            if middle in (below, above):
                middle = math.nextafter(below, 1.0)
            if actor_split("ravdess", actor, 0, middle, 0.0) == "val":
                above = middle
            else:
                below = middle
        for cut in (below, above):
            as_val = actor_split("ravdess", actor, 0, cut, 0.0) == "val"
            assert as_val == (actor_split("ravdess", actor, 0, 0.0, cut) == "test"), (actor, cut)
        assert actor_split("ravdess", actor, 0, below, 0.0) == "train"


def write_tree_of_every_kind(root: Path) -> dict[str, Path]:
    """Small RAVDESS, CREMA-D and AFEW folders with enough actors for the fractions and seed to matter."""
    for actor in range(1, 25):
        for name in (f"01-01-05-01-01-01-{actor:02d}.mp4", f"01-01-02-01-01-01-{actor:02d}.mp4",
                     f"01-02-03-01-01-01-{actor:02d}.mp4"):
            touch(root / "ravdess" / f"Actor_{actor:02d}" / name)
        touch(root / "cremad" / "VideoFlash" / f"{1000 + actor}_DFA_ANG_XX.flv")
        touch(root / "cremad" / "AudioWAV" / f"{1000 + actor}_DFA_ANG_XX.wav")
    touch(root / "afew" / "Train_AFEW" / "Angry" / "1.avi")
    touch(root / "afew" / "Test_AFEW" / "2.avi")
    (root / "afew" / "list.txt").write_text("Test_AFEW/2.avi\tSad\n")
    return {kind: root / kind for kind in ("ravdess", "cremad", "afew")}


def test_the_dataset_keys_reach_the_adapters_and_missing_ones_take_config_defaults(tmp_path):
    # dataset_candidates: each kind's adapter gets the dataset keys; a key left out takes config.yaml's
    # value (ravdess_calm neutral, speech and song, fractions 0.15, split_seed 0, no test list)
    roots = write_tree_of_every_kind(tmp_path)
    ravdess = dict(ravdess_calm="drop", val_fraction=0.3, test_fraction=0.4, split_seed=7,
                   ravdess_vocal_channels=["speech"])
    assert dataset_candidates({"kind": "ravdess", "path": str(roots["ravdess"]), **ravdess}) == ravdess_candidates(
        roots["ravdess"], "drop", 0.3, 0.4, 7, vocal_channels=["speech"])
    assert dataset_candidates({"kind": "ravdess", "path": str(roots["ravdess"])}) == ravdess_candidates(
        roots["ravdess"], DEFAULTS["ravdess_calm"], DEFAULTS["val_fraction"], DEFAULTS["test_fraction"],
        DEFAULTS["split_seed"], vocal_channels=DEFAULTS["ravdess_vocal_channels"])
    cremad = dict(val_fraction=0.3, test_fraction=0.4, split_seed=7)
    assert dataset_candidates({"kind": "cremad", "path": str(roots["cremad"]), **cremad}) == cremad_candidates(
        roots["cremad"], 0.3, 0.4, 7)
    assert dataset_candidates({"kind": "cremad", "path": str(roots["cremad"])}) == cremad_candidates(
        roots["cremad"], DEFAULTS["val_fraction"], DEFAULTS["test_fraction"], DEFAULTS["split_seed"])
    test_list = str(roots["afew"] / "list.txt")
    assert dataset_candidates({"kind": "afew", "path": str(roots["afew"]), "afew_test_list": test_list}) == \
        afew_candidates(roots["afew"], test_list)
    assert dataset_candidates({"kind": "afew", "path": str(roots["afew"])}) == afew_candidates(roots["afew"])
    # the defaults differ from the settings above on these folders, so the comparisons see a lost key
    assert ravdess_candidates(roots["ravdess"], "drop", 0.3, 0.4, 7, vocal_channels=["speech"]) != \
        dataset_candidates({"kind": "ravdess", "path": str(roots["ravdess"])})
    split_file = tmp_path / "splits.tsv"
    split_file.write_text("1\ttest\n")
    listed, _ = dataset_candidates({"kind": "ravdess", "path": str(roots["ravdess"]), "split_file": str(split_file)})
    assert {c.split for c in listed} == {"test"}


def test_the_demo_kind_reads_the_demo_list(tmp_path, monkeypatch):
    # dataset_candidates: kind demo reads results/demo_corpus/clips.tsv (no dataset.path needed); its
    # clips are of dataset demo; kind list reads dataset.path, its clips of dataset list
    monkeypatch.chdir(tmp_path)
    demo_list = tmp_path / "results" / "demo_corpus" / "clips.tsv"
    demo_list.parent.mkdir(parents=True)
    demo_list.write_text("path\tlabel\tsplit\nclips/a.mp4\tHA\ttrain\n")
    expected = [Candidate("a", str(Path("results/demo_corpus/clips/a.mp4")), "HA", "train", "demo")]
    assert dataset_candidates({"kind": "demo"}) == (expected, [])
    assert list_candidates(demo_list)[0][0].dataset == "list"
    with pytest.raises(ValueError, match="^unknown dataset.kind 'opera'$"):
        dataset_candidates({"kind": "opera", "path": str(tmp_path)})
    with pytest.raises(FileNotFoundError, match=f"^dataset.path '{tmp_path / 'nope'}' is not a folder "
                                                r"\(dataset.kind=afew\)$"):
        dataset_candidates({"kind": "afew", "path": str(tmp_path / "nope")})


def test_every_copy_of_a_duplicate_clip_id_is_rejected_with_its_split(tmp_path):
    # dataset_candidates: the second and later files of a clip id are rejected (with the split they
    # would have had), beside the adapter's own rejections
    (tmp_path / "l.csv").write_text("path,label,split\nx/a.mp4,HA,train\nb.mp4,bored,train\ny/a.mp4,SA,val\n"
                                    "z/a.mp4,SA,test\n")
    candidates, rejections = dataset_candidates({"kind": "list", "path": str(tmp_path / "l.csv")})
    assert [c.path for c in candidates] == [str(tmp_path / "x/a.mp4")]
    also = f"duplicate clip id (also {tmp_path / 'x/a.mp4'})"
    assert rejections == [Rejection("b", str(tmp_path / "b.mp4"), "unknown label 'bored'"),
                          Rejection("a", str(tmp_path / "y/a.mp4"), also, split="val"),
                          Rejection("a", str(tmp_path / "z/a.mp4"), also, split="test")]
