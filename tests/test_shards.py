"""Shards (avemotion.shards): stable clip-to-shard keys, and the media and audio shard jobs on real
clips, where one clip that fails is quarantined with its reason and the shard's others go on."""
from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from avemotion import audio
from avemotion.artifacts import read_tsv, write_tsv, MANIFEST_COLUMNS
from avemotion.audio import read_audio_features, write_audio_shard
from avemotion.config import load_config
from avemotion.constants import IS10_DIM
from avemotion.media import probe_clip, write_media_index, write_media_shard
from avemotion.layout import FACE_STACK, TIMELINE, WAV
from avemotion.shards import clip_shard, clips_by_shard, run_each_clip
from media_factory import make_clip

MEDIA_SETTINGS = {"timeline_fps": 60, "audio_sample_rate": 16000}
AUDIO_SETTINGS = load_config()["audio"]


def test_a_clips_shard_depends_on_its_id_only():
    ids = [f"clip{i:05d}" for i in range(2000)]
    shards = [clip_shard(clip, 16) for clip in ids]
    assert set(shards) == {f"{i:02d}" for i in range(16)}
    # the same key in every process and Python version (sha1, not hash()): pinned
    assert [clip_shard("demo_train_AN_000", n) for n in (1, 8, 200)] == ["0", "0", "120"]
    # a uniform hash puts 125 +- 11 of 2000 ids in each of 16 shards: twice that is 11 standard deviations off
    assert max(shards.count(s) for s in set(shards)) < 2 * len(ids) / 16, "shards should be about even"
    with pytest.raises(ValueError, match="at least 1"):
        clip_shard("x", 0)


def test_adding_clips_leaves_the_others_in_their_shards():
    before = clips_by_shard([f"old{i}" for i in range(50)], 8)
    after = clips_by_shard([f"old{i}" for i in range(50)] + ["new0", "new1"], 8)
    changed = {shard for shard in after if after[shard] != before.get(shard)}
    assert changed == {clip_shard("new0", 8), clip_shard("new1", 8)}
    assert FACE_STACK.path("new0", 8, track="a") == Path(
        f"results/faces/a/shard_{clip_shard('new0', 8)}/new0.h5")


def test_only_shards_that_hold_clips_are_listed():
    shards = clips_by_shard(["a", "b", "c"], 100)
    assert sum(len(clips) for clips in shards.values()) == 3 and all(shards.values())
    assert list(shards) == sorted(shards)


def test_one_failing_clip_is_quarantined_and_the_rest_go_on(tmp_path):
    done, quarantined = [], {}

    def process(clip):
        if clip == "bad":
            raise RuntimeError("boom")
        done.append(clip)

    failed = run_each_clip(["a", "bad", "c"], "stage x", process, quarantined.__setitem__, tmp_path / "shard_0.tsv")
    assert done == ["a", "c"]
    assert failed == quarantined == {"bad": "stage x failed (RuntimeError: boom)"}
    # written last: a job killed before it leaves this output missing, so Snakemake plans it again
    assert read_tsv(tmp_path / "shard_0.tsv") == [{"clip_id": "a", "error": ""}, {"clip_id": "bad", "error": failed["bad"]},
                                                  {"clip_id": "c", "error": ""}]


def manifest_row(clip_id: str, path: Path, probed: dict[str, float] | None = None) -> dict[str, str]:
    """The clip's manifest row: probed from the file, or ``probed`` as given."""
    if probed is None:
        info = probe_clip(path)
        probed = {"duration_s": info.duration_s, "fps": info.fps, "n_frames": info.n_frames,
                  "width": info.width, "height": info.height}
    return {"clip_id": clip_id, "split": "train", "label": "HA", "path": str(path), "dataset": "test",
            **{key: str(value) for key, value in probed.items()}, "has_audio": "true", "audio_path": ""}


@pytest.fixture(scope="module")
def media_shard(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shard")
    paths = {"good1": make_clip(folder / "good1.mp4", seconds=1.2), "good2": make_clip(folder / "good2.mp4", seconds=0.8)}
    rows = {clip: manifest_row(clip, path) for clip, path in paths.items()}
    broken = folder / "broken.mp4"
    # its row as the manifest had it before the file went bad
    rows["broken"] = manifest_row("broken", broken, {"duration_s": 1.0, "fps": 25.0, "n_frames": 25, "width": 96,
                                                     "height": 72})
    broken.write_bytes(b"went bad after the manifest was built" * 50)
    out = folder / "results" / "media" / "shard_3"
    failed = write_media_shard(rows, out, MEDIA_SETTINGS, out.with_suffix(".tsv"))
    return folder, rows, out, failed


def test_media_shard_quarantines_a_clip_ffmpeg_cannot_read(media_shard):
    folder, rows, out, failed = media_shard
    assert list(failed) == ["broken"] and "ffmpeg could not extract audio" in failed["broken"]
    assert {row["clip_id"]: row["error"] for row in read_tsv(out.with_suffix(".tsv"))} == {
        "broken": failed["broken"], "good1": "", "good2": ""}
    for clip in ("good1", "good2"):
        timeline = json.loads((out / f"{clip}.timeline.json").read_text())
        assert "error" not in timeline and len(timeline["timeline"]) == round(float(rows[clip]["duration_s"]) * 60)
        with wave.open(str(out / f"{clip}.wav"), "rb") as handle:
            # the clip's whole audio, to the sample
            assert handle.getframerate() == 16000
            assert abs(handle.getnframes() - float(rows[clip]["duration_s"]) * 16000) <= 1
    broken = json.loads((out / "broken.timeline.json").read_text())
    assert broken["timeline"] == [] and broken["error"].startswith("clip broken: media failed (RuntimeError")
    manifest = folder / "manifest.tsv"
    write_tsv(manifest, MANIFEST_COLUMNS, list(rows.values()))
    clip_ids = sorted(rows)
    write_media_index(manifest, {clip: TIMELINE.in_folder(out, clip) for clip in clip_ids},
                      {clip: WAV.in_folder(out, clip) for clip in clip_ids}, folder / "index.tsv")
    index = {row["clip_id"]: row for row in read_tsv(folder / "index.tsv")}
    assert index["broken"]["status"] == "quarantined" and index["broken"]["reason"] == broken["error"]
    assert index["good1"]["status"] == index["good2"]["status"] == "ok"


def test_audio_shard_goes_on_past_a_clip_without_its_wav(media_shard):
    folder, rows, media, _ = media_shard
    outs = {feature: folder / "results" / "audio" / feature / "shard_3" for feature in audio.FEATURES}
    table = folder / "results" / "audio" / "shard_3.tsv"
    failed = write_audio_shard(["broken", "ghost", "good1", "good2"], media, outs, AUDIO_SETTINGS, table)
    assert list(failed) == ["ghost"] and "FileNotFoundError" in failed["ghost"]
    assert [row["error"] == "" for row in read_tsv(table)] == [True, False, True, True]
    for feature, folder_of_feature in outs.items():
        assert sorted(p.stem for p in folder_of_feature.glob("*.h5")) == ["broken", "ghost", "good1", "good2"]
        ghost = read_audio_features(folder_of_feature / "ghost.h5")
        assert not ghost.ok and ghost.reason.startswith("clip ghost: audio features failed (FileNotFoundError")
        assert read_audio_features(folder_of_feature / "good1.h5").ok
        assert not read_audio_features(folder_of_feature / "broken.h5").ok  # a wav of 0 samples
    assert read_audio_features(outs["is10"] / "good2.h5").data.shape == (IS10_DIM,)


def test_shard_names_have_the_width_of_the_last_shard():
    assert {clip_shard(f"clip{i}", 10) for i in range(200)} == {str(i) for i in range(10)}  # "0" .. "9"
    assert {clip_shard(f"clip{i}", 100) for i in range(2000)} == {f"{i:02d}" for i in range(100)}  # "00" .. "99"
    assert {clip_shard(f"clip{i}", 1) for i in range(20)} == {"0"}


def test_a_shards_clips_are_sorted_by_id():
    assert clips_by_shard(["c", "a", "b"], 1) == {"0": ["a", "b", "c"]}
    assert clips_by_shard([], 4) == {}
