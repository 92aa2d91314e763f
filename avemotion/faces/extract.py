"""Entry point of the ``faces`` rule: the face stacks of one shard of clips for one track."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Mapping

import numpy as np

from ..artifacts import atomic_output
from .align import align_face
from .checks import FaceCheck
from .dataset import extract_faces_from_dataset
from .detection import Detection, FaceAnalyzer, FaceLandmarks
from .dlib_faces import DlibFaces
from .frames import DecodeDamage, Timeline, VideoDecodeError, iter_source_frames, prefetch
from .mediapipe_faces import MediaPipeFaces
from .stack import Coverage, FaceStackWriter, FaceTrackResult, finish_stack
from .subject import SubjectTracker, box_iou

log = logging.getLogger(__name__)


def make_analyzer(track_settings: Mapping, min_detection_confidence: float) -> FaceAnalyzer:
    """The analyzer a track's config block selects (``method``: mediapipe | dlib)."""
    method = track_settings["method"]
    if method == "mediapipe":
        return MediaPipeFaces(min_detection_confidence=min_detection_confidence,
                              model_selection=int(track_settings["model_selection"]),
                              fallback=bool(track_settings["fallback"]))
    if method == "dlib":
        scale = track_settings["detect_scale"]
        return DlibFaces(detect_scale=scale if scale == "auto" else float(scale),
                         upsample=int(track_settings["upsample"]),
                         min_score=float(track_settings["min_score"]),
                         min_face_px=int(track_settings["min_face_px"]),
                         follow=bool(track_settings["follow"]))
    raise ValueError(f"face method {method!r} has no frame analyzer (mediapipe | dlib)")


def extract_faces_from_video(video_path: str | Path, timeline: Timeline, out_path: str | Path, analyzer: FaceAnalyzer,
                             size: int, track: str = "a", queue_size: int = 8, redetect_every: int = 1,
                             check: FaceCheck | None = None, coverage: Coverage = Coverage(),
                             tracker: SubjectTracker | None = None, gzip_level: int = 1) -> FaceTrackResult:
    """Detect, landmark and align the subject's face in every unique source frame of a clip and write
    the face stack (section 2.1). Never raises for a bad clip: it is written quarantined with a reason,
    as is a clip with too little face (``coverage``).

    Candidates are tried most likely subject first; one becomes the frame's face only if it passes
    ``check`` (face-like landmarks and appearance, :mod:`.checks`; None: a default :class:`.FaceCheck`
    made for this clip) and is not a one-frame jump of the subject's track (:class:`.SubjectTracker`).

    With ``redetect_every`` = k > 1 and an analyzer that can follow a face (MediaPipe; dlib with
    ``follow``), the detector runs on every k-th frame only; in between, the landmarks are fitted around
    the subject's previous face and must pass the landmark geometry check, and a frame where that fails
    is detected afresh (so no face is lost to the shortcut). ``gzip_level``: :class:`.FaceStackWriter`'s.
    """
    import h5py

    tracker = tracker if tracker is not None else SubjectTracker()
    own_check = check is None
    check = FaceCheck() if check is None else check
    rejected: Counter[str] = Counter()
    failure = None
    n_decoded = 0
    damage = DecodeDamage()
    with atomic_output(out_path, suffix=".h5") as tmp, h5py.File(tmp, "w") as handle:
        writer = FaceStackWriter(handle, size, analyzer.n_landmarks, gzip_level=gzip_level)
        try:
            followed: Detection | None = None
            frames_since_detection = 0
            frames = iter_source_frames(video_path, timeline.unique_frames, damage)
            for frame_index, rgb in prefetch(frames, queue_size):
                n_decoded += 1
                found, subject = None, followed
                if followed is not None and frames_since_detection < redetect_every:
                    found = analyzer.landmarks(rgb, followed)
                    if found is not None and check.problem(rgb, found, followed, analyzer.method,
                                                           appearance=False) is not None:
                        found = None
                    frames_since_detection += 1
                if found is None:
                    frames_since_detection = 1
                    candidates = with_roll_of(followed, tracker.rank(analyzer.detect(rgb, near=tracker.previous_box)))
                    subject, found = choose_subject(rgb, candidates, analyzer, tracker, check, rejected)
                if found is None or subject is None:
                    tracker.missed()
                    followed = None
                    continue
                followed = analyzer.follow(found, subject) if redetect_every > 1 else None
                writer.add(frame_index, align_face(rgb, found.eye_corners, size), found.landmarks,
                           found.eye_corners, subject.score)
        except VideoDecodeError as error:  # a clip PyAV cannot read is quarantined: FFmpeg's message says why
            log.error("clip %s: video could not be decoded after %d frames (%s)", timeline.clip_id, n_decoded, error)
            failure = f"video could not be decoded after {n_decoded} frames ({error})"
        except Exception as error:  # a clip the analysis fails on is quarantined too, its traceback logged
            log.exception("clip %s: decoding/analysis failed", timeline.clip_id)
            failure = f"video could not be decoded after {n_decoded} frames ({type(error).__name__}: {error})"
        failure = failure or undecodable(damage, n_decoded)
        if damage.n_packets_skipped:
            log.warning("clip %s: %s; %d of %d timeline frames decoded, the others count as without face",
                        timeline.clip_id, damage.summary(), n_decoded, len(timeline.unique_frames))
        elif failure is None and n_decoded < len(timeline.unique_frames):
            log.warning("clip %s: %d of %d timeline frames not in the video (counted as without face)",
                        timeline.clip_id, len(timeline.unique_frames) - n_decoded, len(timeline.unique_frames))
        if own_check:
            check.close()
        if rejected:
            log.info("clip %s track %s: detections rejected: %s", timeline.clip_id, track, dict(rejected))
        result = finish_stack(handle, writer, timeline, analyzer.method, size, track, failure,
                              {"n_frames_decoded": n_decoded, "n_rejected_not_face": sum(rejected.values()),
                               "n_rejected_jump": tracker.n_jumps_refused, **damage.attrs()}, coverage,
                              damage.summary())
    log.info("clip %s track %s: %d faces in %d unique frames (%s)", timeline.clip_id, track, result.n_faces,
             result.n_unique_frames, result.status)
    return result


def undecodable(damage: DecodeDamage, n_decoded: int) -> str | None:
    """The failure of a clip whose every frame the decoder refused (None: some frame decoded)."""
    if n_decoded or not damage.n_packets_skipped:
        return None
    return f"video could not be decoded: no frame of the timeline decoded ({damage.summary()})"


def with_roll_of(followed: Detection | None, candidates: list[Detection]) -> list[Detection]:
    """The candidates, those on the followed face (IoU >= 0.5) starting their landmark fit from its roll
    where the detector gave none (dlib's upright HOG filters)."""
    if followed is None:
        return candidates
    return [replace(candidate, roll_hint=followed.roll_hint)
            if candidate.roll_hint == 0.0 and box_iou(candidate.box, followed.box) >= 0.5 else candidate
            for candidate in candidates]


def choose_subject(rgb, candidates: list[Detection], analyzer: FaceAnalyzer, tracker: SubjectTracker,
                   check: FaceCheck, rejected: Counter[str]) -> tuple[Detection | None, FaceLandmarks | None]:
    """The first candidate whose landmarks fit, that passes the face checks and that the tracker takes."""
    for candidate in candidates:
        found = analyzer.landmarks(rgb, candidate)
        if found is None:
            continue
        problem = check.problem(rgb, found, candidate, analyzer.method, appearance=not tracker.continues(candidate))
        if problem is not None:
            rejected[problem.split(" ", 1)[0]] += 1
            continue
        if tracker.accept(candidate):
            return candidate, found
    return None, None


class FaceTrackExtractor:
    """One face track's extractor, built once and used for many clips (a shard): the analyzer and the
    face check keep no state from one clip to the next, so a clip's stack does not depend on the
    clips extracted before it. ``settings`` is :func:`track_settings`'s block for ``track`` (result
    settings only); ``queue_size`` (config ``faces.queue_size``, a run setting) bounds the decoded
    frames waiting for analysis.

    A track that reads the dataset's own face crops may also hold, as ``method_settings
    ["without_crops"]``, the method of the clips that have none (the other datasets of a pooled
    training set): those clips are analysed with it (`extract(..., crops=False)`)."""

    def __init__(self, settings: Mapping, track: str, queue_size: int) -> None:
        self.settings, self.track, self.queue_size = settings, track, int(queue_size)
        self.size = int(settings["size"])
        self.gzip_level = int(settings["gzip_level"])
        self.method_settings = settings["method_settings"]
        self.coverage = Coverage.from_config(settings)
        self.analyzer: FaceAnalyzer | None = None
        self.check: FaceCheck | None = None
        analysed = self.method_settings.get("without_crops") if self.reads_crops else self.method_settings
        if analysed is not None:
            self.analyzer = make_analyzer(analysed, float(settings["min_detection_confidence"]))
            self.check = FaceCheck(min_score=float(settings["check_min_score"]))

    @property
    def reads_crops(self) -> bool:
        return self.method_settings["method"] == "dataset"

    @property
    def method(self) -> str:
        return str(self.method_settings["method"])

    def extract(self, video_path: str | Path, timeline_path: str | Path, out_path: str | Path,
                crops: bool = True, crop_folder: str | None = None) -> FaceTrackResult:
        """One clip's stack: from the dataset's crops when the track reads them and ``crops`` (the
        clip's dataset has them; in the folder ``crop_folder``, None: the clip's id), else found in the
        video."""
        timeline = Timeline.read(timeline_path)
        if self.reads_crops and crops:
            return extract_faces_from_dataset(self.method_settings["dataset_faces_dir"], timeline, out_path, self.size,
                                              self.track, int(self.method_settings["dataset_frame_offset"]),
                                              self.coverage, self.gzip_level, crop_folder)
        if self.analyzer is None:
            raise ValueError("the track reads the dataset's face crops, which this clip's dataset does not have")
        return extract_faces_from_video(video_path, timeline, out_path, self.analyzer, self.size, self.track,
                                        self.queue_size, int(self.settings["redetect_every"]), self.check,
                                        self.coverage, gzip_level=self.gzip_level)

    def write_quarantined(self, clip_id: str, timeline_path: str | Path, out_path: str | Path,
                          failure: str) -> FaceTrackResult:
        """An empty stack marked quarantined with ``failure`` (a clip whose extraction raised)."""
        import h5py

        try:
            timeline = Timeline.read(timeline_path)
        except (OSError, ValueError, KeyError):  # the failure may be the timeline itself
            timeline = Timeline(clip_id, 0.0, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        with atomic_output(out_path, suffix=".h5") as tmp, h5py.File(tmp, "w") as handle:
            writer = FaceStackWriter(handle, self.size, 0, gzip_level=self.gzip_level)
            return finish_stack(handle, writer, timeline, self.method, self.size, self.track, failure, None,
                                self.coverage)

    def close(self) -> None:
        for part in (self.analyzer, self.check):
            if part is not None:
                part.close()

    def __enter__(self) -> "FaceTrackExtractor":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def extract_face_track(video_path: str | Path, timeline_path: str | Path, out_path: str | Path,
                       settings: Mapping, track: str, queue_size: int) -> FaceTrackResult:
    """One clip's face stack for one track (the ``predict`` command; shards use :func:`extract_face_shard`)."""
    with FaceTrackExtractor(settings, track, queue_size) as extractor:
        return extractor.extract(video_path, timeline_path, out_path)


def extract_face_shard(videos: Mapping[str, str], media_dir: str | Path, out_dir: str | Path, settings: Mapping,
                       track: str, table_path: str | Path, queue_size: int,
                       crop_clips: Mapping[str, str] | None = None) -> dict[str, str]:
    """Rule ``faces``: one shard's face stacks for one track, ``<clip>.h5`` in ``out_dir``.
    ``videos``: {clip_id: video path}; each clip's timeline is in the media shard's folder
    ``media_dir`` (:data:`avemotion.layout.TIMELINE`). ``crop_clips``: where a track reads the dataset's
    crops, {clip id: crop folder} of the clips that have them (None: every clip, in the folder of
    its id). Returns {clip_id: reason} of the clips whose
    extraction raised (written quarantined). Last, the shard table ``table_path``."""
    from ..layout import FACE_STACK, TIMELINE
    from ..shards import run_each_clip

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with FaceTrackExtractor(settings, track, queue_size) as extractor:
        return run_each_clip(
            sorted(videos), f"faces track {track}",
            lambda clip_id: extractor.extract(videos[clip_id], TIMELINE.in_folder(media_dir, clip_id),
                                              FACE_STACK.in_folder(folder, clip_id),
                                              crops=crop_clips is None or clip_id in crop_clips,
                                              crop_folder=None if crop_clips is None else crop_clips.get(clip_id)),
            lambda clip_id, failure: extractor.write_quarantined(clip_id, TIMELINE.in_folder(media_dir, clip_id),
                                                                 FACE_STACK.in_folder(folder, clip_id), failure),
            table_path)
