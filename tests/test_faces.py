"""Face stage (paper 2.1): alignment of real photos under known transforms, HDF5 layout and the
60-fps timeline's -1 frames, no-face clips, several faces in a frame, the dataset's own crops."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import h5py
import matplotlib
import numpy as np
import pytest
import skimage.data
import yaml
from snakemake.utils import validate

from avemotion.artifacts import read_tsv
from avemotion.constants import FACE_TRACKS, VGG_INPUT_SIZE
from avemotion.config import DEFAULT_CONFIG, SCHEMA, track_settings
from avemotion.datasets import crop_folders
from avemotion.faces import (
    Detection, FaceLandmarks, DlibFaces, MediaPipeFaces, Timeline, eye_corner_template, extract_face_shard, extract_face_track,
    extract_faces_from_dataset,
    extract_faces_from_video, find_dataset_face_images, prefetch, read_face_stack, similarity_transform,
    SubjectTracker,
)
from avemotion.faces import make_analyzer as make_face_analyzer
from avemotion.faces.align import EYE_CORNER_TEMPLATE, image_order, square_crop
from avemotion.faces.checks import FaceCheck, geometry_problem
from avemotion.faces.stack import Coverage, face_gaps
from avemotion.faces.subject import box_iou, is_near
from avemotion.layout import FACE_STACK
from avemotion.media import probe_clip


QUEUE_SIZE = 8  # decoded frames waiting for analysis (a run setting: no effect on the stacks)


def face_settings(track: str, size: int = 64, **track_block) -> dict:
    """track_settings() of a validated config whose face track holds only `track_block` (the schema
    fills in the rest) and that keeps every face: one detection per frame, no coverage threshold."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["faces"].update(size=size, redetect_every=1, check_min_score=0.5)
    config["faces"][f"track_{track}"] = {"min_face_fraction": 0.0, "min_faces": 1, **track_block}
    validate(config, schema=str(SCHEMA))
    return track_settings(config["faces"], track)


CANVAS = (480, 640)  # height, width (even: yuv420p)


def grace_hopper() -> np.ndarray:
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


PHOTOS = {
    # photo, its eye midpoint in the photo (pixels, from dlib's 68-point model)
    "astronaut": (skimage.data.astronaut(), (225.0, 103.0)),
    "grace_hopper": (grace_hopper(), (267.0, 195.0)),
}


def cluttered_background(seed: int) -> np.ndarray:
    """Random rectangles and lines over a real texture: edges everywhere, no face."""
    rng = np.random.default_rng(seed)
    height, width = CANVAS
    texture = cv2.resize(skimage.data.coffee(), (width, height))
    canvas = (texture * 0.6).astype(np.uint8)
    for _ in range(40):
        x, y = rng.integers(0, width), rng.integers(0, height)
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(canvas, (int(x), int(y)), (int(x + rng.integers(10, 80)), int(y + rng.integers(10, 80))), color, -1)
        cv2.line(canvas, (int(x), int(y)), (int(rng.integers(0, width)), int(rng.integers(0, height))), color, 2)
    return canvas


def place_photo(canvas: np.ndarray, photo: np.ndarray, eye_mid: tuple[float, float], angle: float, scale: float,
                center: tuple[float, float], radius: float = 230.0) -> np.ndarray:
    """Paste a disc of ``photo`` around the eyes, rotated by ``angle`` degrees and scaled by ``scale``
    about the eye midpoint, which lands on ``center`` (a known similarity transform)."""
    matrix = cv2.getRotationMatrix2D(eye_mid, angle, scale)
    matrix[:, 2] += np.asarray(center) - np.asarray(eye_mid)
    height, width = canvas.shape[:2]
    warped = cv2.warpAffine(photo, matrix, (width, height))
    mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.circle(mask, (int(eye_mid[0]), int(eye_mid[1]) + 40), int(radius), 255, -1)
    warped_mask = cv2.warpAffine(mask, matrix, (width, height)) > 127
    out = canvas.copy()
    out[warped_mask] = warped[warped_mask]
    return out


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 25, lossless: bool = False) -> Path:
    """H.264 clip of ``frames``; ``lossless`` (qp 0): decoded frames are the same on every machine,
    whatever the encoder's thread count."""
    import av

    options = {"qp": "0"} if lossless else {"crf": "12"}
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={**options, "preset": "veryfast"})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return path


def timeline_for(clip_id: str, n_frames: int, fps: float = 25.0) -> Timeline:
    """The media stage's 60-fps map of an ``n_frames`` clip at ``fps``."""
    n_timeline = int(np.floor(n_frames / fps * 60))
    timeline = np.minimum(np.floor(np.arange(n_timeline) * fps / 60 + 1e-9).astype(int), n_frames - 1)
    return Timeline(clip_id=clip_id, source_fps=fps, timeline=timeline, unique_frames=np.unique(timeline))


def write_timeline(path: Path, timeline: Timeline) -> Path:
    path.write_text(json.dumps({
        "clip_id": timeline.clip_id, "source_fps": timeline.source_fps, "n_source_frames": int(timeline.unique_frames.max()) + 1,
        "width": CANVAS[1], "height": CANVAS[0], "duration_s": 0.0, "timeline_fps": 60,
        "timeline": timeline.timeline.tolist(), "unique_frames": timeline.unique_frames.tolist(),
    }))
    return path


# (angle degrees, scale, eye midpoint in the canvas): up to +-30 degrees, scale 0.5-1.5, shifted
TRANSFORMS = [(0.0, 1.0, (320, 220)), (-30.0, 0.7, (250, 200)), (30.0, 1.3, (380, 230)),
              (15.0, 0.5, (420, 160)), (-20.0, 1.5, (300, 210))]


@pytest.fixture(scope="module")
def analyzers():
    made = {"a": MediaPipeFaces(min_detection_confidence=0.5), "b": DlibFaces(detect_scale=1.0, upsample=1)}
    yield made
    for analyzer in made.values():
        analyzer.close()


@pytest.fixture(scope="module")
def transformed_clips(tmp_path_factory):
    """One clip per photo: a frame per known transform, each on its own cluttered background."""
    folder = tmp_path_factory.mktemp("transformed")
    clips = {}
    for name, (photo, eye_mid) in PHOTOS.items():
        frames = [place_photo(cluttered_background(i), photo, eye_mid, angle, scale, center)
                  for i, (angle, scale, center) in enumerate(TRANSFORMS)]
        clips[name] = write_clip(folder / f"{name}.mp4", frames)
    return clips


@pytest.mark.parametrize("track", FACE_TRACKS)
@pytest.mark.parametrize("photo", sorted(PHOTOS))
def test_aligned_crops_of_transformed_copies_coincide(track, photo, analyzers, transformed_clips, tmp_path):
    analyzer = analyzers[track]
    n = len(TRANSFORMS)
    timeline = Timeline(photo, 25.0, np.repeat(np.arange(n), 2), np.arange(n))
    # every frame puts the face somewhere else: a tracker that follows any such jump at once
    result = extract_faces_from_video(transformed_clips[photo], timeline, tmp_path / "faces.h5", analyzer,
                                      VGG_INPUT_SIZE, track, tracker=SubjectTracker(confirm_frames=1))
    assert result.n_faces == n, f"track {track} found {result.n_faces} of {n} copies of {photo}"
    crops = read_face_stack(tmp_path / "faces.h5").faces
    # eye corners re-detected on the aligned crops agree (the re-detection's own jitter is ~ 2-3 px)
    corners = []
    for crop in crops:
        detections = analyzer.detect(crop)
        assert detections, f"no face re-detected on an aligned crop of {photo}"
        corners.append(analyzer.landmarks(crop, max(detections, key=lambda d: d.area)).eye_corners)
    corners = np.array(corners)
    spread = np.linalg.norm(corners - corners.mean(axis=0), axis=2)
    assert spread.max() <= 3.0, f"eye corners differ by up to {spread.max():.1f} px at 224 px"
    # ... and near the template they were aligned to
    assert np.abs(corners.mean(axis=0) - eye_corner_template(VGG_INPUT_SIZE)).max() < 8.0
    grey = np.array([cv2.cvtColor(c, cv2.COLOR_RGB2GRAY).astype(float).ravel() for c in crops])
    mean = grey.mean(axis=0)
    correlations = [np.corrcoef(g, mean)[0, 1] for g in grey]
    assert min(correlations) >= 0.9, f"crop correlations with their mean: {np.round(correlations, 3)}"


def test_similarity_transform_recovers_known_transform():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 100, (4, 2))
    angle, scale, shift = np.deg2rad(25), 1.7, np.array([12.0, -5.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = similarity_transform(points, points @ rotation.T + shift)
    np.testing.assert_allclose(matrix[:, :2], rotation, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)


def test_hdf5_layout_and_timeline_marks_frames_without_face(analyzers, tmp_path):
    photo, eye_mid = PHOTOS["grace_hopper"]
    background = cluttered_background(7)
    with_face = place_photo(background, photo, eye_mid, 5.0, 0.9, (320, 220))
    has_face = [True, True, False, False, True, False, True, True]
    clip = write_clip(tmp_path / "gaps.mp4", [with_face if f else background for f in has_face])
    timeline = timeline_for("gaps", len(has_face))
    write_timeline(tmp_path / "gaps.timeline.json", timeline)
    settings = face_settings("a", method="mediapipe", model_selection=1)
    out = tmp_path / "a" / "gaps.h5"
    result = extract_face_track(clip, tmp_path / "gaps.timeline.json", out, settings, "a", QUEUE_SIZE)
    assert result.status == "ok" and result.n_faces == sum(has_face)
    with h5py.File(out, "r") as handle:
        assert handle["faces"].dtype == np.uint8 and handle["faces"].shape == (5, 64, 64, 3)
        assert handle["faces"].compression in ("gzip", "lzf") and handle["faces"].chunks == (1, 64, 64, 3)
        np.testing.assert_array_equal(handle["frame_index"][:], [0, 1, 4, 6, 7])
        assert handle["frame_index"].dtype == np.int32 and handle["timeline"].dtype == np.int32
        assert handle["landmarks"].shape == (5, 478, 2) and handle["landmarks"].dtype == np.float32
        assert handle["eye_corners"].shape == (5, 4, 2) and handle["scores"].shape == (5,)
        assert np.all(handle["scores"][:] > 0.5)
        timeline_rows = handle["timeline"][:]
        attrs = dict(handle.attrs)
    # never dropped or shifted: one entry per 60-fps frame, -1 exactly where the source frame has no face
    assert len(timeline_rows) == len(timeline.timeline)
    row_of_frame = {0: 0, 1: 1, 4: 2, 6: 3, 7: 4}
    expected = [row_of_frame.get(int(f), -1) for f in timeline.timeline]
    np.testing.assert_array_equal(timeline_rows, expected)
    assert attrs["status"] == "ok" and attrs["method"] == "mediapipe" and attrs["size"] == 64
    assert json.loads(attrs["versions"])["mediapipe"] == "0.10.21"
    assert attrs["detection_rate"] == pytest.approx(5 / 8)


@pytest.mark.parametrize("track", FACE_TRACKS)
def test_a_shard_writes_each_clip_as_extracting_it_alone_would(track, tmp_path):
    """One extractor serves a whole shard: a clip's stack must not depend on the clips before it; a clip
    whose extraction raises (its timeline is missing) is quarantined and the shard goes on."""
    grace, grace_eyes = PHOTOS["grace_hopper"]
    astronaut, astronaut_eyes = PHOTOS["astronaut"]
    media = tmp_path / "media"
    media.mkdir()
    videos = {}
    for clip, (photo, eyes, angle) in {"c1": (astronaut, astronaut_eyes, 10.0), "c2": (grace, grace_eyes, -5.0)}.items():
        frames = [place_photo(cluttered_background(40 + i), photo, eyes, angle + 3 * i, 0.8, (320, 220)) for i in range(4)]
        videos[clip] = str(write_clip(tmp_path / f"{clip}.mp4", frames, lossless=True))
        write_timeline(media / f"{clip}.timeline.json", timeline_for(clip, len(frames)))
    videos["lost"] = videos["c1"]  # no timeline: Timeline.read raises
    settings = face_settings(track, method={"a": "mediapipe", "b": "dlib"}[track])
    failed = extract_face_shard(videos, media, tmp_path / "shard", settings, track, tmp_path / "shard.tsv", QUEUE_SIZE)
    assert list(failed) == ["lost"] and "FileNotFoundError" in failed["lost"]
    assert read_tsv(tmp_path / "shard.tsv") == [{"clip_id": "c1", "error": ""}, {"clip_id": "c2", "error": ""},
                                                {"clip_id": "lost", "error": failed["lost"]}]
    lost = read_face_stack(tmp_path / "shard" / "lost.h5")
    assert lost.status == "quarantined" and lost.reason.startswith(f"clip lost: faces track {track} failed")
    extract_face_track(videos["c2"], media / "c2.timeline.json", tmp_path / "alone.h5", settings, track, QUEUE_SIZE)
    with h5py.File(tmp_path / "shard" / "c2.h5", "r") as in_shard, h5py.File(tmp_path / "alone.h5", "r") as alone:
        assert in_shard.attrs["status"] == "ok" and set(in_shard) == set(alone)
        for name in alone:
            np.testing.assert_array_equal(in_shard[name][()], alone[name][()], err_msg=name)


def test_clip_without_face_is_quarantined(analyzers, tmp_path):
    frames = [cluttered_background(i) for i in range(6)]
    clip = write_clip(tmp_path / "empty.mp4", frames)
    timeline = timeline_for("empty", len(frames))
    result = extract_faces_from_video(clip, timeline, tmp_path / "empty.h5", analyzers["b"], 64, "b")
    assert result.status == "quarantined"
    with h5py.File(tmp_path / "empty.h5", "r") as handle:
        assert handle.attrs["status"] == "quarantined"
        assert handle.attrs["reason"] == "clip empty: no face detected in any of 6 frames (track b, dlib)"
        assert handle["faces"].shape == (0, 64, 64, 3)
        assert np.all(handle["timeline"][:] == -1) and len(handle["timeline"]) == len(timeline.timeline)


def test_undecodable_clip_is_quarantined_not_a_crash(analyzers, tmp_path):
    clip = tmp_path / "broken.mp4"
    clip.write_bytes(b"not a video at all" * 100)
    result = extract_faces_from_video(clip, timeline_for("broken", 5), tmp_path / "broken.h5", analyzers["a"], 64)
    assert result.status == "quarantined" and "broken" in result.reason and "decoded" in result.reason


def test_a_packet_the_decoder_refuses_loses_its_frame_only(analyzers, tmp_path):
    """One flipped byte (the length of the NAL unit) in a middle packet of a real clip: the probe
    passes, the decoder refuses that packet; its frame is lost, every other frame keeps its number
    and its face, and the stack counts the packet."""
    import av

    n_frames = 12
    clip = write_clip(tmp_path / "moving.mp4", moving_grace_hopper(n_frames))
    with av.open(str(clip)) as container:
        packets = sorted((p.pos, p.pts) for p in container.demux(container.streams.video[0]) if p.size)
    position, pts = packets[n_frames // 2]
    lost = sorted(p for _, p in packets).index(pts)  # the packet's frame in presentation order
    data = bytearray(clip.read_bytes())
    data[position] ^= 0xFF
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    probe_clip(damaged, require_audio=False)
    timeline = timeline_for("damaged", n_frames)
    result = extract_faces_from_video(damaged, timeline, tmp_path / "damaged.h5", analyzers["a"], 64)
    assert result.status == "ok" and result.n_faces == n_frames - 1, result.reason
    with h5py.File(tmp_path / "damaged.h5", "r") as handle:
        assert handle["frame_index"][:].tolist() == [i for i in range(n_frames) if i != lost]
        assert handle.attrs["n_packets_skipped"] == 1 and handle.attrs["n_frames_decoded"] == n_frames - 1
        mapped = handle["timeline"][:]
    assert np.all((mapped == -1) == (timeline.timeline == lost))
    extract_faces_from_video(clip, timeline, tmp_path / "whole.h5", analyzers["a"], 64)
    with h5py.File(tmp_path / "whole.h5", "r") as handle:
        assert "n_packets_skipped" not in handle.attrs and handle["frame_index"].shape == (n_frames,)


@pytest.mark.parametrize("track", FACE_TRACKS)
def test_several_faces_keep_the_subject(track, analyzers, tmp_path):
    """Grace Hopper is the subject (largest, in every frame); a smaller astronaut stands beside her, and in
    one frame a larger one passes by: the subject stays Grace Hopper."""
    grace, grace_eyes = PHOTOS["grace_hopper"]
    astronaut, astronaut_eyes = PHOTOS["astronaut"]
    subject_center = (200, 230)
    frames = []
    for i in range(5):
        canvas = place_photo(cluttered_background(20 + i), grace, grace_eyes, 0.0, 0.8, subject_center, radius=170)
        bystander_scale = 2.2 if i == 3 else 1.0  # frame 3: the passer-by's face is larger than hers
        frames.append(place_photo(canvas, astronaut, astronaut_eyes, 0.0, bystander_scale, (480, 200), radius=70))
    clip = write_clip(tmp_path / "two.mp4", frames)
    result = extract_faces_from_video(clip, timeline_for("two", 5), tmp_path / "two.h5", analyzers[track], 64, track)
    assert result.n_faces == 5
    with h5py.File(tmp_path / "two.h5", "r") as handle:
        eye_mids = handle["eye_corners"][:].mean(axis=1)
    assert np.all(np.abs(eye_mids - np.array(subject_center)).max(axis=1) < 25), eye_mids


def test_frames_past_the_end_of_the_video_count_as_without_face(analyzers, tmp_path):
    photo, eye_mid = PHOTOS["grace_hopper"]
    clip = write_clip(tmp_path / "short.mp4", [place_photo(cluttered_background(3), photo, eye_mid, 0, 0.9, (320, 220))] * 3)
    timeline = timeline_for("short", 5)  # claims 5 frames, the file has 3
    result = extract_faces_from_video(clip, timeline, tmp_path / "short.h5", analyzers["a"], 64)
    assert result.status == "ok" and result.n_faces == 3 and result.n_unique_frames == 5
    stack = read_face_stack(tmp_path / "short.h5")
    assert np.all(stack.timeline[timeline.timeline >= 3] == -1) and np.all(stack.timeline[timeline.timeline < 3] >= 0)


def test_dataset_face_crops(tmp_path):
    """Track B from the dataset's own crops: ``<dir>/<split>/<Emotion>/<clip_id>/<frame>.png``."""
    folder = tmp_path / "Faces" / "Train" / "Angry" / "000123"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for frame in (0, 2, 3):
        cv2.imwrite(str(folder / f"{frame:05d}.png"), rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    (folder / "notes.txt").write_text("ignored")
    assert sorted(find_dataset_face_images(tmp_path / "Faces", "000123")) == [0, 2, 3]
    timeline = timeline_for("000123", 5)
    settings = face_settings("b", size=32, method="dlib", dataset_faces_dir=str(tmp_path / "Faces"))
    assert settings["method_settings"]["method"] == "dataset"
    write_timeline(tmp_path / "t.json", timeline)
    result = extract_face_track("unused.mp4", tmp_path / "t.json", tmp_path / "b.h5", settings, "b", QUEUE_SIZE)
    assert result.status == "ok" and result.n_faces == 3
    stack = read_face_stack(tmp_path / "b.h5")
    assert stack.faces.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(stack.frame_index, [0, 2, 3])
    np.testing.assert_array_equal(stack.timeline, [{0: 0, 2: 1, 3: 2}.get(int(f), -1) for f in timeline.timeline])
    missing = extract_faces_from_dataset(tmp_path / "Faces", timeline_for("999", 4), tmp_path / "m.h5", 32)
    assert missing.status == "quarantined" and "999" in missing.reason


def test_a_pooled_shard_reads_each_afew_clip_from_its_own_crop_folder_and_finds_the_others_faces(tmp_path):
    """A pooled training set with AFEW's crops: an AFEW clip whose id the pool prefixed reads the folder
    of its own name; another dataset's clip is analysed with the track's method."""
    folder = tmp_path / "Faces" / "Val" / "Happy" / "000123"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    for frame in (0, 1, 3):
        cv2.imwrite(str(folder / f"{frame:05d}.png"), rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    settings = face_settings("b", size=32, method="dlib", dataset_faces_dir=str(tmp_path / "Faces"))
    settings["method_settings"]["without_crops"] = face_settings("b", size=32, method="dlib")["method_settings"]
    astronaut, astronaut_eyes = PHOTOS["astronaut"]
    frames = [place_photo(cluttered_background(i), astronaut, astronaut_eyes, 0.0, 0.8, (320, 220)) for i in range(4)]
    media = tmp_path / "media"
    media.mkdir()
    videos = {"afew_000123": "unused.avi", "ravdess_000123": str(write_clip(tmp_path / "r.mp4", frames, lossless=True))}
    for clip in videos:
        write_timeline(media / f"{clip}.timeline.json", timeline_for(clip, 4))
    rows = {"afew_000123": {"dataset": "afew", "path": "/data/AFEW/Val_AFEW/Happy/000123.avi"},
            "ravdess_000123": {"dataset": "ravdess", "path": videos["ravdess_000123"]}}
    crop_clips = crop_folders(rows, ["ravdess"])
    assert crop_clips == {"afew_000123": "000123"}
    failed = extract_face_shard(videos, media, tmp_path / "shard", settings, "b", tmp_path / "shard.tsv", QUEUE_SIZE,
                                crop_clips=crop_clips)
    assert failed == {}
    stacks = {}
    for clip in videos:
        with h5py.File(tmp_path / "shard" / f"{clip}.h5", "r") as handle:
            stacks[clip] = (str(handle.attrs["method"]), str(handle.attrs["status"]), handle["frame_index"][:].tolist())
    assert stacks == {"afew_000123": ("dataset", "ok", [0, 1, 3]), "ravdess_000123": ("dlib", "ok", [0, 1, 2, 3])}
    unprefixed = extract_face_shard({"afew_000123": "unused.avi"}, media, tmp_path / "plain", settings, "b",
                                    tmp_path / "plain.tsv", QUEUE_SIZE)
    assert unprefixed == {}
    missing = read_face_stack(tmp_path / "plain" / "afew_000123.h5")
    assert missing.status == "quarantined" and "no face folder named 'afew_000123'" in missing.reason


def test_track_settings_separate_the_tracks_and_keep_what_the_method_reads():
    faces = yaml.safe_load(DEFAULT_CONFIG.read_text())["faces"]
    faces["track_a"] = {"method": "mediapipe", "model_selection": 1, "fallback": True, "min_score": 2.0,
                        "min_face_fraction": 0.1, "min_faces": 3, "dataset_faces_dir": ""}
    a, b = track_settings(faces, "a"), track_settings(faces, "b")
    # min_score is a dlib setting: track A (MediaPipe) does not carry it, so editing it reruns nothing
    assert a["method_settings"] == {"method": "mediapipe", "model_selection": 1, "fallback": True,
                                    "min_face_fraction": 0.1, "min_faces": 3}
    assert b["method_settings"]["method"] == "dlib" and "model_selection" not in b["method_settings"]
    changed = dict(faces, track_a=dict(faces["track_a"], model_selection=0))
    assert track_settings(changed, "b") == b and track_settings(changed, "a") != a


def test_prefetch_passes_reader_errors_and_keeps_order():
    assert list(prefetch(iter(range(50)), maxsize=3)) == list(range(50))

    def failing():
        yield 1
        raise RuntimeError("decoder broke")

    with pytest.raises(RuntimeError, match="decoder broke"):
        list(prefetch(failing()))


@pytest.mark.slow
def test_demo_run_faces(demo_run):
    """Demo corpus: both tracks' stacks, indices, montages; detection rate >= 95 % of frames."""
    faces = demo_run.results / "faces"
    for track in FACE_TRACKS:
        rows = read_tsv(faces / track / "index.tsv")
        shards = demo_run.config["shards"]
        assert rows and all(FACE_STACK.path(r["clip_id"], shards, demo_run.workdir, track=track).is_file() for r in rows)
        n_unique = sum(int(r["n_unique_frames"]) for r in rows)
        n_faces = sum(int(r["n_faces"]) for r in rows)
        assert n_faces >= 0.95 * n_unique, f"track {track}: faces in {n_faces} of {n_unique} frames"
    for split in ("train", "val", "test"):
        assert (faces / "qc" / f"montage_{split}.png").stat().st_size > 0
    assert read_tsv(faces / "qc" / "detection.tsv")


@pytest.mark.slow
def test_editing_face_settings_reruns_only_face_jobs(demo_run):
    """Changing track A's detector setting reruns track A's face jobs (and what reads them), no audio
    or media job, and no track B face job."""
    import yaml

    from avemotion.config import merge_config
    from conftest import run_snakemake

    edited = merge_config(demo_run.config, {"faces": {"track_a": {"model_selection": 0}}})
    configfile = demo_run.workdir / "config_faces_edited.yaml"
    configfile.write_text(yaml.safe_dump(edited, sort_keys=False))
    dry = run_snakemake(demo_run.workdir, "-n", configfile=configfile)
    outputs = [line.split("output:", 1)[1] for line in (dry.stdout + dry.stderr).splitlines() if "output:" in line]
    assert any("results/faces/a/" in line for line in outputs), "track A face jobs should rerun"
    for line in outputs:
        for untouched in ("results/faces/b/", "results/audio/", "results/media/"):
            assert untouched not in line, f"{line.strip()} would rerun after a track A edit"


def test_following_the_subject_between_detections_matches_detecting_every_frame(analyzers, tmp_path):
    photo, eye_mid = PHOTOS["grace_hopper"]
    background = cluttered_background(11)
    frames = [place_photo(background, photo, eye_mid, 2.0 * i, 0.8 + 0.01 * i, (280 + 6 * i, 220 + 2 * i))
              for i in range(10)]
    clip = write_clip(tmp_path / "moving.mp4", frames)
    timeline = timeline_for("moving", len(frames))
    corners = {}
    for every in (1, 4):
        result = extract_faces_from_video(clip, timeline, tmp_path / f"{every}.h5", analyzers["a"], 64,
                                          redetect_every=every)
        assert result.n_faces == len(frames)
        with h5py.File(tmp_path / f"{every}.h5", "r") as handle:
            corners[every] = handle["eye_corners"][:]
    assert np.abs(corners[1] - corners[4]).max() < 3.0


def moving_grace_hopper(n_frames: int = 10) -> list[np.ndarray]:
    """Grace Hopper drifting, turning by 2 degrees and growing by 1 % a frame on clutter."""
    photo, eye_mid = PHOTOS["grace_hopper"]
    background = cluttered_background(11)
    return [place_photo(background, photo, eye_mid, 2.0 * i, 0.8 + 0.01 * i, (280 + 6 * i, 220 + 2 * i))
            for i in range(n_frames)]


def test_dlib_following_the_subject_between_detections_matches_detecting_every_frame(tmp_path):
    clip = write_clip(tmp_path / "moving.mp4", moving_grace_hopper())
    timeline = timeline_for("moving", 10)
    corners = {}
    for every, analyzer in ((1, DlibFaces()), (4, DlibFaces(follow=True))):
        result = extract_faces_from_video(clip, timeline, tmp_path / f"{every}.h5", analyzer, 64, "b",
                                          redetect_every=every)
        assert result.n_faces == 10
        with h5py.File(tmp_path / f"{every}.h5", "r") as handle:
            corners[every] = handle["eye_corners"][:]
    assert np.abs(corners[1] - corners[4]).max() < 3.0  # source pixels; the eyes are ~100 px apart


def test_a_followed_face_that_leaves_is_not_kept(tmp_path):
    """The landmarks fitted where the face was no longer fit a face: the frame is detected afresh."""
    frames = moving_grace_hopper(6) + [cluttered_background(20 + i) for i in range(4)]
    clip = write_clip(tmp_path / "leaves.mp4", frames)
    result = extract_faces_from_video(clip, timeline_for("leaves", 10), tmp_path / "leaves.h5",
                                      DlibFaces(follow=True), 64, "b", redetect_every=4)
    assert result.n_faces == 6
    with h5py.File(tmp_path / "leaves.h5", "r") as handle:
        assert handle["frame_index"][:].tolist() == list(range(6))


def test_dlib_follows_only_with_follow():
    """Without ``follow`` dlib detects every frame whatever redetect_every says (config.yaml's track B)."""
    found = FaceLandmarks(np.zeros((68, 2)), np.zeros((4, 2)))
    detection = Detection(box=np.array([0.0, 0.0, 10.0, 10.0]), score=1.0)
    assert DlibFaces().follow(found, detection) is None
    assert make_face_analyzer(face_settings("b", method="dlib")["method_settings"], 0.5).follows is False
    assert make_face_analyzer(face_settings("b", method="dlib", follow=True)["method_settings"], 0.5).follows


def test_gzip_level_0_stores_the_same_faces_uncompressed(tmp_path, analyzers):
    clip = write_clip(tmp_path / "moving.mp4", moving_grace_hopper(4))
    faces = {}
    for level in (1, 0):
        extract_faces_from_video(clip, timeline_for("moving", 4), tmp_path / f"{level}.h5", analyzers["b"], 64, "b",
                                 gzip_level=level)
        with h5py.File(tmp_path / f"{level}.h5", "r") as handle:
            assert handle["faces"].compression == ("gzip" if level else None)
            faces[level] = handle["faces"][:]
    assert len(faces[0]) == 4 and np.array_equal(faces[0], faces[1])


def test_the_paper_config_follows_dlib_faces_and_stores_them_uncompressed():
    from avemotion.config import REPO, load_config

    paper = track_settings(load_config(REPO / "configs" / "paper.yaml")["faces"], "a")
    demo = track_settings(load_config()["faces"], "b")
    assert paper["method_settings"]["method"] == demo["method_settings"]["method"] == "dlib"
    assert (paper["method_settings"]["follow"], paper["gzip_level"]) == (True, 0)
    assert (demo["method_settings"]["follow"], demo["gzip_level"]) == (False, 1)


def rotated_whole_photo(name: str, angle: float) -> np.ndarray:
    photo, eye_mid = PHOTOS[name]
    matrix = cv2.getRotationMatrix2D(eye_mid, angle, 1.0)
    return cv2.warpAffine(photo, matrix, (photo.shape[1], photo.shape[0]), borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def face_check():
    check = FaceCheck()
    yield check
    check.close()


@pytest.mark.parametrize("angle", [-10.0, 5.0, 10.0])
def test_face_check_rejects_the_astronauts_badge_and_keeps_her_face(angle, face_check):
    """The whole astronaut photo, rolled by up to 10 degrees: dlib at -0.3 also boxes the NASA badge on
    her suit (as large as her face); only her face passes the check."""
    image = rotated_whole_photo("astronaut", angle)
    eye_mid = np.array(PHOTOS["astronaut"][1])
    dlib_faces = DlibFaces(detect_scale=1.0, upsample=0, min_score=-0.3)
    verdicts = {"face": [], "other": []}
    for detection in dlib_faces.detect(image):
        centre = (detection.box[:2] + detection.box[2:]) / 2
        kind = "face" if np.linalg.norm(centre - eye_mid) < 0.5 * (detection.box[2] - detection.box[0]) else "other"
        found = dlib_faces.landmarks(image, detection)  # None: the two landmark fits disagree
        verdicts[kind].append("no consistent fit" if found is None
                              else face_check.problem(image, found, detection, "dlib"))
    assert verdicts["face"] == [None]
    assert verdicts["other"] and all(problem is not None for problem in verdicts["other"]), verdicts


def test_clip_of_the_rolled_astronaut_aligns_her_face_not_her_badge(tmp_path):
    frames = [rotated_whole_photo("astronaut", angle)[:480, :512] for angle in (-10, -8, 10, 5, -10, 8)]
    clip = write_clip(tmp_path / "badge.mp4", frames)
    analyzer = DlibFaces(detect_scale=1.0, upsample=0, min_score=-0.3)
    result = extract_faces_from_video(clip, timeline_for("badge", len(frames)), tmp_path / "badge.h5", analyzer, 64, "b")
    assert result.n_faces == len(frames)
    with h5py.File(tmp_path / "badge.h5", "r") as handle:
        eye_mids = handle["eye_corners"][:].mean(axis=1)
    assert np.abs(eye_mids - np.array(PHOTOS["astronaut"][1])).max() < 20, eye_mids


def test_geometry_check_rejects_faces_upside_down_and_eyes_out_of_the_box():
    corners = np.array([[100, 100], [120, 100], [140, 100], [160, 100]], dtype=float)
    landmarks = np.zeros((68, 2))
    landmarks[30] = (130, 130)  # nose 0.75 eye distances below the eyes
    landmarks[[48, 54]] = [(115, 160), (145, 160)]  # mouth 1.5 below
    box = Detection(box=np.array([80.0, 70.0, 180.0, 190.0]), score=1.0)
    assert geometry_problem(FaceLandmarks(landmarks, corners), box, "dlib") is None
    upside_down = landmarks.copy()
    upside_down[[30, 48, 54], 1] = 200 - upside_down[[30, 48, 54], 1]
    assert "below the eyes" in geometry_problem(FaceLandmarks(upside_down, corners), box, "dlib")
    wide_box = Detection(box=np.array([0.0, 0.0, 600.0, 600.0]), score=1.0)
    assert "box width" in geometry_problem(FaceLandmarks(landmarks, corners), wide_box, "dlib")


def box_at(x: float, y: float, side: float = 80.0) -> Detection:
    return Detection(box=np.array([x, y, x + side, y + side]), score=1.0)


def test_tracker_never_jumps_for_one_frame_and_follows_a_move_that_lasts():
    tracker = SubjectTracker(confirm_frames=3)
    assert all(tracker.accept(box_at(100 + 5 * i, 100)) for i in range(3))
    assert not tracker.accept(box_at(450, 300))  # one frame elsewhere: refused
    tracker.missed()
    assert tracker.accept(box_at(115, 102))  # back at the subject
    accepted = []
    for _ in range(3):  # the subject moved to the other place and stays there
        accepted.append(tracker.accept(box_at(450, 300)))
        if not accepted[-1]:
            tracker.missed()
    assert accepted == [False, False, True] and tracker.n_jumps_refused == 3
    ranked = tracker.rank([box_at(100, 100, 120), box_at(452, 301)])
    assert ranked[0].box[0] == 452  # the subject's place outranks a larger face elsewhere


def test_too_little_face_quarantines_the_clip_with_its_numbers(tmp_path):
    photo, eye_mid = PHOTOS["grace_hopper"]
    background = cluttered_background(5)
    frames = [place_photo(background, photo, eye_mid, 0, 0.8, (320, 220)) if i == 4 else background for i in range(10)]
    clip = write_clip(tmp_path / "glimpse.mp4", frames)
    analyzer = DlibFaces(detect_scale=1.0)
    result = extract_faces_from_video(clip, timeline_for("glimpse", 10), tmp_path / "glimpse.h5", analyzer, 64, "b",
                                      coverage=Coverage(min_fraction=0.2, min_faces=3, max_gap_s=0.1))
    assert result.status == "quarantined" and result.n_faces == 1
    assert result.reason == ("clip glimpse: faces in only 1 of 10 frames (10.0 %); the track needs at least 20 % "
                             "and 3 faces (track b, dlib)")
    with h5py.File(tmp_path / "glimpse.h5", "r") as handle:
        nearest, long_gaps = handle["nearest_face_s"][:], handle.attrs["long_gaps"]
        assert handle.attrs["longest_gap_s"] == pytest.approx(len(nearest[np.flatnonzero(handle["timeline"][:] >= 0).max() + 1:]) / 60)
    assert nearest.min() == 0 and len(long_gaps) == 2  # before and after the one face


def test_face_gaps_measure_distance_to_the_nearest_seen_face():
    nearest, gaps = face_gaps(np.array([-1, 0, 0, -1, -1, -1, 1, -1]), fps=60)
    np.testing.assert_allclose(nearest * 60, [1, 0, 0, 1, 2, 1, 0, 1])
    np.testing.assert_array_equal(gaps, [[0, 1], [3, 6], [7, 8]])
    nearest, gaps = face_gaps(np.full(4, -1), fps=60)
    assert np.isinf(nearest).all() and gaps.tolist() == [[0, 4]]


def test_dlib_auto_scale_finds_small_faces_a_single_pass_misses():
    """48-px faces (dlib box width), antialiased as a camera would: one pass at scale 1 misses them,
    detect_scale auto finds them at their place."""
    single, auto = DlibFaces(detect_scale=1.0), DlibFaces(detect_scale="auto", min_face_px=48)
    found = {"single": 0, "auto": 0}
    for name, face_box_px in (("astronaut", 90.0), ("grace_hopper", 186.0)):
        photo, eye_mid = PHOTOS[name]
        scale = 48 / face_box_px
        small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        for i, angle in enumerate((-15, 0, 15)):
            frame = place_photo(cluttered_background(30 + i), small, (eye_mid[0] * scale, eye_mid[1] * scale), angle,
                                1.0, (320, 220), radius=230 * scale)
            for kind, analyzer in (("single", single), ("auto", auto)):
                boxes = [d.box for d in analyzer.detect(frame)]
                found[kind] += any(abs((b[0] + b[2]) / 2 - 320) < 25 and abs((b[1] + b[3]) / 2 - 230) < 30
                                   for b in boxes)
    assert found == {"single": 0, "auto": 6}


def test_box_iou_is_intersection_over_union():
    first = np.array([0.0, 0.0, 10.0, 20.0])  # 10 wide, 20 tall: area 200
    assert box_iou(first, np.array([5.0, 0.0, 15.0, 20.0])) == pytest.approx(100 / 300)  # half across
    assert box_iou(first, np.array([0.0, 15.0, 10.0, 35.0])) == pytest.approx(50 / 350)  # a quarter down
    assert box_iou(first, np.array([2.0, 4.0, 6.0, 9.0])) == pytest.approx(20 / 200)  # inside it
    assert box_iou(np.array([2.0, 4.0, 6.0, 9.0]), first) == pytest.approx(20 / 200)  # either order
    assert box_iou(first, first) == 1.0
    assert box_iou(first, np.array([10.0, 0.0, 20.0, 20.0])) == 0.0  # touching edges share no area
    assert box_iou(first, np.array([12.0, 25.0, 20.0, 30.0])) == 0.0  # apart in both directions
    assert box_iou(np.array([3.0, 3.0, 3.0, 3.0]), np.array([3.0, 3.0, 3.0, 3.0])) == 0.0  # no area, no union


def test_near_is_overlap_or_centres_within_the_larger_side():
    reference = np.array([0.0, 0.0, 10.0, 40.0])  # centre (5, 20); its larger side is its height, 40
    assert is_near(np.array([5.0, 5.0, 15.0, 15.0]), reference)  # overlapping
    assert is_near(np.array([40.0, 15.0, 50.0, 25.0]), reference)  # centre 40 to the right: within 40
    assert not is_near(np.array([41.0, 15.0, 51.0, 25.0]), reference)  # 41: beyond it
    assert is_near(np.array([0.0, 55.0, 10.0, 65.0]), reference)  # centre 40 below, 10-px box: the larger side counts
    assert not is_near(np.array([0.0, 55.5, 10.0, 65.5]), reference)
    assert is_near(reference, np.array([0.0, 55.0, 10.0, 65.0]))  # either order
    wide = np.array([0.0, 0.0, 60.0, 10.0])  # centre (30, 5); larger side its width, 60
    assert is_near(np.array([85.0, 0.0, 95.0, 10.0]), wide) and not is_near(np.array([86.0, 0.0, 96.0, 10.0]), wide)


def test_rank_puts_the_largest_face_first_without_a_subject_and_the_subjects_place_with_one():
    tracker = SubjectTracker()
    assert tracker.rank([]) == []
    small, large = box_at(0, 0, 40), box_at(300, 0, 80)
    assert [d.box[0] for d in tracker.rank([small, large])] == [300, 0]
    assert tracker.accept(small)
    # merit: relative size + continuity x overlap with the subject's last box
    assert [d.box[0] for d in tracker.rank([large, box_at(4, 0, 40)])] == [4, 300]  # 0.25 + 2 x 0.82 > 1
    assert [d.box[0] for d in SubjectTracker(continuity=0.0, previous_box=small.box).rank(
        [box_at(4, 0, 40), large])] == [300, 4]  # without continuity, size alone
    zero = [Detection(box=np.array([5.0, 5.0, 5.0, 5.0]), score=1.0)] * 2  # no area: no division by zero
    assert len(tracker.rank(zero)) == 2


def test_continues_needs_the_subject_found_in_the_previous_frame_and_half_overlap():
    tracker = SubjectTracker()
    assert not tracker.continues(box_at(0, 0))  # no subject yet
    assert tracker.accept(box_at(0, 0, 80))
    assert tracker.continues(box_at(0, 0, 80))
    half = Detection(box=np.array([0.0, 0.0, 80.0, 40.0]), score=1.0)  # IoU 0.5 with the subject's box
    assert tracker.continues(half) and not tracker.continues(half, min_overlap=0.51)
    assert not tracker.continues(Detection(box=np.array([0.0, 0.0, 80.0, 39.0]), score=1.0))
    tracker.missed()
    assert not tracker.continues(box_at(0, 0, 80))  # not found in the previous frame


def test_a_face_elsewhere_counts_once_per_frame_and_only_in_consecutive_frames():
    tracker = SubjectTracker(confirm_frames=2)
    assert tracker.accept(box_at(0, 0))
    assert not tracker.accept(box_at(400, 0))  # frame 1: elsewhere once
    assert not tracker.accept(box_at(400, 0)) and tracker.n_jumps_refused == 1  # same frame: not a second count
    tracker.missed()
    tracker.missed()  # a frame without that face: the count starts over
    assert not tracker.accept(box_at(400, 0))
    tracker.missed()
    assert tracker.accept(box_at(402, 0))  # the second frame in a row there
    assert tracker.previous_box[0] == 402 and tracker.frames_since_seen == 0 and tracker.elsewhere == []
    assert not tracker.accept(box_at(0, 300))  # a third place, elsewhere again
    tracker.missed()
    assert not tracker.accept(box_at(700, 300)) and tracker.elsewhere[0][0] == 700  # not near the last one: restart


def test_after_forget_frames_any_face_starts_the_track():
    tracker = SubjectTracker(confirm_frames=10, forget_frames=3)
    assert tracker.accept(box_at(0, 0))
    for _ in range(2):
        tracker.missed()
    assert not tracker.accept(box_at(400, 0))  # 2 frames without the subject: still a jump
    tracker.missed()  # the third
    assert tracker.frames_since_seen == 3
    assert tracker.accept(box_at(400, 0))


def test_eye_corner_template_scales_with_the_crop():
    np.testing.assert_allclose(eye_corner_template(100), [[29, 40], [43, 40], [57, 40], [71, 40]])
    np.testing.assert_allclose(eye_corner_template(224), EYE_CORNER_TEMPLATE * 224)


def test_similarity_transform_of_coincident_points_is_a_translation_to_the_target():
    matrix = similarity_transform(np.full((4, 2), 7.0), eye_corner_template(100))
    assert np.isfinite(matrix).all()
    np.testing.assert_allclose(matrix @ np.array([7.0, 7.0, 1.0]), eye_corner_template(100).mean(axis=0))


def test_image_order_puts_the_eye_on_the_images_left_first():
    ordered = eye_corner_template(100)
    np.testing.assert_array_equal(image_order(ordered), ordered)
    np.testing.assert_array_equal(image_order(ordered[::-1]), ordered)  # a face seen upside down
    mirrored = np.vstack([ordered[2:], ordered[:2]])  # the other eye listed first
    np.testing.assert_array_equal(image_order(mirrored), np.vstack([ordered[1::-1], ordered[3:1:-1]]))
    upright = np.array([[50.0, 10.0], [50.0, 20.0], [50.0, 30.0], [50.0, 40.0]])  # eyes one above the other
    np.testing.assert_array_equal(image_order(upright), upright)  # a tie keeps the detector's order


def test_square_crop_maps_the_centre_to_the_crop_centre():
    rgb = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    crop, to_crop = square_crop(rgb, (40.0, 30.0), 20.0, 20)  # one crop pixel per source pixel
    np.testing.assert_allclose(to_crop, [[1, 0, -30], [0, 1, -20]])
    np.testing.assert_array_equal(crop, rgb[20:40, 30:50])
    _, to_crop = square_crop(rgb, (40.0, 30.0), 40.0, 20)  # half size
    np.testing.assert_allclose(to_crop @ np.array([40.0, 30.0, 1.0]), [10, 10])
    np.testing.assert_allclose(to_crop[:, :2], np.eye(2) / 2)
    crop, _ = square_crop(rgb, (0.0, 0.0), 20.0, 20)  # a corner of the frame: black outside
    assert crop[:10].max() == 0 and crop[:, :10].max() == 0
    np.testing.assert_array_equal(crop[10:, 10:], rgb[:10, :10])
    _, to_crop = square_crop(rgb, (40.0, 30.0), 0.25, 8)  # a side under one pixel counts as one
    np.testing.assert_allclose(to_crop[:, :2], 8 * np.eye(2))
