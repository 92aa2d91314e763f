"""Face stage on the real-photo scene set (tests/face_scenes.py), 224-px crops, as each config runs it:
config.yaml's two tracks (the detector on every frame) and configs/paper.yaml's track A (dlib, the
landmarks following the face between detections on every ``faces.redetect_every``-th frame).

The checks:

* the subject's eye corners, found again on each aligned crop by the *other* track's landmarker (dlib 68
  on track A's MediaPipe crops, MediaPipe FaceMesh on track B's dlib crops), sit within 4 px of the
  template, after removing that landmarker's constant offset measured on the upright photos
  (:func:`face_scenes.landmarker_offsets`: the two landmarkers put eye corners a little apart);
* no distractor (the astronaut's mission patch, a cat, a one-frame printed face) is ever aligned,
  nor any other non-subject face;
* the clip without a human face is quarantined;
* the subject is aligned in every frame it is in view (:data:`MIN_DETECTION_RATE`).

Scenes are built and measured once per module (about 40 s on two cores for the three runs).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avemotion.config import REPO, load_config, track_settings
from avemotion.faces import make_analyzer as make_face_analyzer
from face_scenes import SCENE_NAMES, TRACK_LANDMARKER, build_scenes, measure, scene_family, shared_landmarkers

# run -> (config files merged over config.yaml, face track, redetect_every from the config or 1)
RUNS: dict[str, tuple[tuple[Path, ...], str, bool]] = {
    "a": ((), "a", False),
    "b": ((), "b", False),
    "paper-a": ((REPO / "configs" / "paper.yaml",), "a", True),
}
# At 224 px: 4 % of the template's 94-px outer-eye-corner distance (faces.align), half the 8-10 % normalised
# error past which face-alignment benchmarks (300-W, WFLW) count a fit as failed; no crop may go past
# twice the bound (8.5 %, a failed fit by that measure).
MAX_ALIGNMENT_ERROR_PX = 4.0
# Paper 2.1 detects and aligns the face within each frame: every scene's subject must be aligned in
# every frame it is in view (each family is inside what a track is built to find: faces from track
# B's min_face_px of 48 px, rolled, squeezed or dark for track A's fallback, docs/faces.md).
MIN_DETECTION_RATE = 1.0
# Measured misses of it, strict like KNOWN_MISALIGNED below: track B on the 48-px astronaut aligns 5 of
# 6 frames (one frame's two dlib fits disagree, faces.dlib_faces, and the frame is left without a face).
KNOWN_MISSED = {("b", "scale48_astronaut")}
SUBJECT_SCENES = [name for name in SCENE_NAMES if scene_family(name) != "noface"]
NOFACE_SCENES = [name for name in SCENE_NAMES if scene_family(name) == "noface"]


def make_analyzer(run: str):
    """The run's analyzer with its config's settings and the frames between detections."""
    configs, track, follows = RUNS[run]
    faces = load_config(*configs)["faces"]
    settings = track_settings(faces, track)
    assert settings["method_settings"]["method"] == {"a": "mediapipe", "b": "dlib", "paper-a": "dlib"}[run]
    analyzer = make_face_analyzer(settings["method_settings"], faces["min_detection_confidence"])
    return analyzer, int(settings["redetect_every"]) if follows else 1


def landmarker_track(run: str) -> str:
    """The track whose landmarker convention the run's crops follow (face_scenes: "a" MediaPipe, "b" dlib)."""
    method = {"a": "mediapipe", "b": "dlib", "paper-a": "dlib"}[run]
    return next(track for track, landmarker in TRACK_LANDMARKER.items() if landmarker == method)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return {scene.name: scene for scene in build_scenes(tmp_path_factory.mktemp("face_scenes"))}


@pytest.fixture(scope="module")
def measured(scenes, tmp_path_factory):
    """measured(run, scene name) -> face_scenes.Measurement, each measured once per module."""
    analyzers, cache = {}, {}
    folder = tmp_path_factory.mktemp("face_stacks")

    def get(run: str, name: str):
        if (run, name) not in cache:
            if run not in analyzers:
                analyzers[run] = make_analyzer(run)
            analyzer, redetect_every = analyzers[run]
            (folder / run).mkdir(exist_ok=True)
            cache[(run, name)] = measure(scenes[name], analyzer, folder / run, redetect_every=redetect_every)
        return cache[(run, name)]

    yield get
    for analyzer, _ in analyzers.values():
        analyzer.close()


def alignment_bound(m) -> float:
    """4 px, or where the independent landmarker cannot read even the crops aligned by the scene's
    true eye corners within 3 px (its noise floor: the squeezed yaw proxy, grace_hopper's glasses),
    that floor + 1 px: the stage aligns as well as it can be checked."""
    floor = float(np.max(m.ideal_errors)) if len(m.ideal_errors) else 0.0
    return max(MAX_ALIGNMENT_ERROR_PX, floor + 1.0)


# Measured misses of the bound, kept visible: strict, so a fix that passes them fails the test until
# this list and the face-stage numbers of docs/benchmarks.md are updated.
# * dlib on grace_hopper in the dark (brightness 0.35, noise, glasses): crops 3.6-6.2 px, median 4.9;
#   with the paper's settings, following the face: 3.6-7.2 px, median 4.4;
# * dlib on grace_hopper at 48 px (about 22 px between her outer eye corners): median 5.2 px.
KNOWN_MISALIGNED = {("b", "dark_grace_hopper"), ("b", "scale48_grace_hopper"), ("paper-a", "dark_grace_hopper")}


@pytest.mark.parametrize("name", SUBJECT_SCENES)
@pytest.mark.parametrize("run", RUNS)
def test_subject_eye_corners_refound_within_4px_of_template(run, name, scenes, measured, request):
    """The typical (median) crop of a scene within the bound, none beyond twice the bound."""
    if (run, name) in KNOWN_MISALIGNED:
        request.applymarker(pytest.mark.xfail(strict=True, reason="measured miss, see KNOWN_MISALIGNED"))
    m = measured(run, name)
    offset = shared_landmarkers()[1][(landmarker_track(run), scenes[name].subject)]
    assert m.n_found > 0, f"run {run}, {name}: no aligned face of the subject to check ({m.n_found}/{m.n_visible})"
    assert m.n_not_refound == 0, (f"run {run}, {name}: the independent landmarker found no face on "
                                  f"{m.n_not_refound} of {len(m.errors)} aligned crops")
    bound = alignment_bound(m)
    details = (f"per crop: {np.round(m.errors, 1).tolist()}; before removing the landmarker's offset of "
               f"{np.round(np.linalg.norm(offset, axis=1), 1).tolist()} px: {np.round(m.raw_errors, 1).tolist()}; "
               f"on truth-aligned crops: {np.round(m.ideal_errors, 1).tolist()}; spread {m.spread:.1f} px")
    assert float(np.median(m.errors)) <= bound, (
        f"run {run}, {name}: eye corners re-found a median {np.median(m.errors):.1f} px from the template "
        f"at 224 px, bound {bound:.1f} ({details})")
    assert m.max_error <= 2 * bound, (
        f"run {run}, {name}: a crop's eye corners re-found {m.max_error:.1f} px from the template at 224 px, "
        f"more than twice the bound {bound:.1f} ({details})")


def test_the_bound_is_4px_wherever_the_checker_reads_truth_aligned_crops_within_3px(measured):
    """The noise-floor allowance is the exception: frontal faces of 64 px and up, rolled or beside a
    distractor, are held to 4 px in every run."""
    strict = [(run, name) for run in RUNS for name in SUBJECT_SCENES
              if scene_family(name) in ("roll", "distractor") or name.startswith(("scale64", "scale90", "scale160"))]
    loose = [(run, name, round(alignment_bound(measured(run, name)), 1)) for run, name in strict
             if alignment_bound(measured(run, name)) > MAX_ALIGNMENT_ERROR_PX]
    assert loose == [], f"scenes whose bound exceeds 4 px: {loose}"


@pytest.mark.parametrize("name", SCENE_NAMES)
@pytest.mark.parametrize("run", RUNS)
def test_only_the_subject_is_aligned(run, name, measured):
    m = measured(run, name)
    assert not m.distractor_frames, (f"run {run}, {name}: a distractor aligned as the face in (frame, what) "
                                     f"{m.distractor_frames}")
    assert not m.stray_frames, (f"run {run}, {name}: a face that is neither the subject nor a known distractor "
                                f"aligned in frames {m.stray_frames}")


@pytest.mark.parametrize("name", SUBJECT_SCENES)
@pytest.mark.parametrize("run", RUNS)
def test_detection_rate(run, name, measured, request):
    if (run, name) in KNOWN_MISSED:
        request.applymarker(pytest.mark.xfail(strict=True, reason="measured miss, see KNOWN_MISSED"))
    m = measured(run, name)
    assert m.detection_rate >= MIN_DETECTION_RATE, (
        f"run {run}, {name}: subject aligned in {m.n_found} of {m.n_visible} frames "
        f"({m.detection_rate:.2f} < {MIN_DETECTION_RATE}); status {m.status} {m.reason}")


@pytest.mark.parametrize("name", NOFACE_SCENES)
@pytest.mark.parametrize("run", RUNS)
def test_clip_without_face_is_quarantined(run, name, measured):
    m = measured(run, name)
    assert m.status == "quarantined", (f"run {run}, {name}: status {m.status!r}, faces aligned in frames "
                                       f"{sorted([f for f, _ in m.distractor_frames] + m.stray_frames)}")
