"""Real-photo scenes for the face stage: small clips of the two portraits of test_faces
(skimage's astronaut, matplotlib's grace_hopper.jpg) under roll, scale, a yaw proxy, bad light, with
face-like distractors, and one clip without a human face; each with per-frame ground truth.

Clips: 640 x 480, 25 fps, 6-8 frames, written with ``test_faces.write_clip`` (PyAV, lossless libx264: the same frames on every machine).
Ground truth per frame: the subject's four eye corners in canvas pixels (the photo's measured corners,
see ``PHOTO_EYE_CORNERS``, moved by the frame's known affine transform), the subject's face width and
the boxes of the distractors in view.

:func:`measure` runs the stage (``avemotion.faces.extract_faces_from_video``, 224-px crops) on a
scene and scores it against that truth: detection rate, faces taken from a distractor, and the
alignment error of the aligned crops as measured by the *other* track's landmarker (dlib 68 on track
A's MediaPipe crops, MediaPipe FaceMesh on track B's dlib crops), called here straight from the
libraries, not through the stage's analyzers.

Usage: ``PYTHONPATH=. python tests/face_scenes.py [--track a|b] [--scenes roll,scale]`` prints a
table of the numbers (the benchmark ``benchmarks/bench_faces.py`` prints the summary).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import skimage.data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_faces import PHOTOS, cluttered_background, timeline_for, write_clip  # noqa: E402

CROP_SIZE = 224  # the VGG input size at which the 4-px alignment bound holds
FPS = 25

# Eye corners of the upright photos (photo pixels, image order: outer/inner corner of the eye on the
# image's left, inner/outer corner of the other eye), measured once:
# * dlib: as the stage finds them, ``DlibFaces(detect_scale=1.0, upsample=1)`` on the whole photo:
#   HOG box, 68-point fit turned upright, eye corners from the 5-point model on that crop.
# * mediapipe: FaceMesh 0.10.21 (static_image_mode, refine_landmarks) on square crops of 2.2 x the dlib
#   box around the face, resized to 256, 320 and 448 px (as the stage crops), points 33, 133, 362, 263,
#   mapped back and averaged over the three sizes (they agree within 0.4 px; on the uncropped photo
#   FaceMesh differs by up to 2 px).
PHOTO_EYE_CORNERS: dict[str, dict[str, np.ndarray]] = {
    "astronaut": {
        "dlib": np.array([[195.3, 100.8], [212.2, 103.4], [237.1, 104.6], [255.2, 104.3]]),
        "mediapipe": np.array([[194.9, 100.5], [213.2, 103.4], [236.2, 104.6], [255.5, 104.0]]),
    },
    "grace_hopper": {
        "dlib": np.array([[208.8, 195.9], [239.7, 194.5], [292.1, 191.1], [323.6, 189.6]]),
        "mediapipe": np.array([[204.2, 193.0], [241.6, 194.2], [287.8, 192.0], [323.0, 188.0]]),
    },
}
# Width of dlib's face box on the upright photo (px): a scene's face width is this times its scale.
PHOTO_FACE_WIDTH: dict[str, float] = {"astronaut": 90.0, "grace_hopper": 186.0}
# Disc of the photo pasted for a portrait scene: centre, radius (photo px). The astronaut's disc
# keeps head and shoulders but not her mission patch (the patch is in the whole-photo scene only).
PHOTO_DISC: dict[str, tuple[tuple[float, float], float]] = {
    "astronaut": ((225.0, 143.0), 150.0),
    "grace_hopper": ((267.0, 235.0), 230.0),
}
# Face-like things in the whole astronaut photo (photo px, x0 y0 x1 y1): the round mission patch
# (dlib's HOG takes it for a face), the name tag, the helmet in her arm.
ASTRONAUT_DISTRACTORS: dict[str, tuple[float, float, float, float]] = {
    "mission patch": (130.0, 342.0, 215.0, 428.0),
    "name tag": (272.0, 336.0, 332.0, 380.0),
    "helmet": (278.0, 342.0, 505.0, 512.0),
}
# radius (photo px) of the printed copy's disc in the printed-face scenes (about the head)
PRINTED_RADIUS: dict[str, float] = {"astronaut": 105.0, "grace_hopper": 150.0}
# skimage.data.chelsea() (451 x 300): the cat's face box (eyes at about (170, 115) and (320, 135)).
CAT_FACE_BOX: tuple[float, float, float, float] = (50.0, 10.0, 420.0, 300.0)
MEDIAPIPE_EYE_CORNERS = (33, 133, 362, 263)
DLIB_EYE_CORNERS = (36, 39, 42, 45)
DLIB5_EYE_CORNERS = (0, 1, 3, 2)  # 5-point model: outer/inner of one eye, then inner/outer of the other
# where the re-finding landmarker looks for the face on an aligned crop when dlib's HOG detector finds
# none there (fractions of the crop side): the mean of the HOG boxes on the upright photos aligned to
# the template (astronaut 0.24 0.24 0.81 0.81, grace_hopper 0.13 0.21 0.82 0.90)
DLIB_FALLBACK_BOX = np.array([0.18, 0.22, 0.82, 0.86])
INDEPENDENT = {"a": "dlib", "b": "mediapipe"}  # track -> the landmarker that checks its crops
TRACK_LANDMARKER = {"a": "mediapipe", "b": "dlib"}  # track -> the stage's own landmarker


@dataclass
class FrameTruth:
    """Ground truth of one frame. ``eye_corners``: the subject's corners in canvas pixels per
    landmarker convention ({"dlib": [4, 2], "mediapipe": [4, 2]}), None when no subject is in view."""

    eye_corners: dict[str, np.ndarray] | None
    face_width: float  # px, the subject's dlib-box width (times the horizontal squeeze); 0 without subject
    distractors: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (label, box x0 y0 x1 y1)


@dataclass
class Scene:
    name: str
    family: str  # roll | scale | turn | dark | distractor | noface
    subject: str | None  # photo name (PHOTOS) or None
    clip: Path
    frames: list[FrameTruth]
    note: str = ""

    @property
    def n_visible(self) -> int:
        return sum(f.eye_corners is not None for f in self.frames)


# ---------------------------------------------------------------------------------------------- drawing
def placement(eye_mid: tuple[float, float], angle: float, scale: float, center: tuple[float, float],
              squeeze: float = 1.0, squeeze_axis: float = 0.0) -> np.ndarray:
    """2 x 3 affine: rotate by ``angle`` degrees and scale by ``scale`` about the photo point ``eye_mid``,
    which lands on ``center``; then, if ``squeeze`` < 1, compress horizontally by ``squeeze`` about the
    vertical line ``x = center[0] + squeeze_axis`` (canvas px; the side of the face that stays)."""
    matrix = cv2.getRotationMatrix2D(tuple(float(v) for v in eye_mid), float(angle), float(scale))
    matrix[:, 2] += np.asarray(center, float) - np.asarray(eye_mid, float)
    if squeeze != 1.0:
        axis = center[0] + squeeze_axis
        compress = np.array([[squeeze, 0.0, axis * (1 - squeeze)], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        matrix = (compress @ np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    return matrix


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.asarray(points, float) @ matrix[:, :2].T + matrix[:, 2]


def transformed_box(matrix: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    corners = apply(matrix, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    return np.concatenate([corners.min(axis=0), corners.max(axis=0)])


def paste(canvas: np.ndarray, image: np.ndarray, matrix: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Warp ``image`` by ``matrix`` onto ``canvas`` where the warped ``mask`` (default: all of it) is set."""
    height, width = canvas.shape[:2]
    if mask is None:
        mask = np.full(image.shape[:2], 255, np.uint8)
    shrinks = abs(np.linalg.det(matrix[:, :2])) < 1
    warped = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_AREA if shrinks else cv2.INTER_LINEAR)
    inside = cv2.warpAffine(mask, matrix, (width, height)) > 127
    out = canvas.copy()
    out[inside] = warped[inside]
    return out


def disc_mask(photo_name: str) -> np.ndarray:
    photo = PHOTOS[photo_name][0]
    (cx, cy), radius = PHOTO_DISC[photo_name]
    mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.circle(mask, (int(cx), int(cy)), int(radius), 255, -1)
    return mask


def eye_mid(photo_name: str) -> tuple[float, float]:
    """Where scenes pin the photo (fixed, so that re-measured corners do not move the scenes)."""
    return PHOTOS[photo_name][1]


def scale_for(photo_name: str, face_width: float) -> float:
    return face_width / PHOTO_FACE_WIDTH[photo_name]


def subject_truth(photo_name: str, matrix: np.ndarray, face_width: float,
                  distractors: list[tuple[str, np.ndarray]] | None = None) -> FrameTruth:
    corners = {kind: apply(matrix, points) for kind, points in PHOTO_EYE_CORNERS[photo_name].items()}
    return FrameTruth(corners, face_width, list(distractors or []))


def grey_print(photo: np.ndarray) -> np.ndarray:
    """A printed greyscale copy: grey, lower contrast, a little lighter (paper)."""
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.repeat((40 + 0.75 * grey).clip(0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def darken(frame: np.ndarray, rng: np.random.Generator, brightness: float = 0.35, gamma: float = 1.4,
           noise: float = 5.0) -> np.ndarray:
    """Underexposure: ``brightness * 255 * (x / 255) ** gamma`` plus Gaussian sensor noise (sigma in grey levels)."""
    dark = brightness * 255.0 * (frame.astype(np.float32) / 255.0) ** gamma
    dark += rng.normal(0.0, noise, frame.shape)
    return dark.clip(0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------------ scenes
def _portrait_scene(name: str, family: str, photo_name: str, poses: list[dict], folder: Path, seed: int,
                    post: Callable[[np.ndarray, int], np.ndarray] | None = None, note: str = "") -> Scene:
    """Scene of one portrait disc, one frame per pose (dict of :func:`placement` arguments with
    ``face_width`` instead of ``scale``), each on its own cluttered background."""
    photo = PHOTOS[photo_name][0]
    mask = disc_mask(photo_name)
    frames, truth = [], []
    for i, pose in enumerate(poses):
        pose = dict(pose)
        width = pose.pop("face_width")
        matrix = placement(eye_mid(photo_name), scale=scale_for(photo_name, width), **pose)
        frame = paste(cluttered_background(seed + i), photo, matrix, mask)
        frames.append(post(frame, i) if post else frame)
        truth.append(subject_truth(photo_name, matrix, width * pose.get("squeeze", 1.0)))
    return Scene(name, family, photo_name, write_clip(folder / f"{name}.mp4", frames, lossless=True), truth, note)


def roll_scene(photo_name: str, folder: Path) -> Scene:
    angles = [-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0]
    poses = [dict(angle=a, face_width=120.0, center=(320 + 4 * i, 220 - 2 * i)) for i, a in enumerate(angles)]
    return _portrait_scene(f"roll_{photo_name}", "roll", photo_name, poses, folder, 100,
                           note="roll -30..+30 deg, face 120 px")


def scale_scene(photo_name: str, face_width: float, folder: Path) -> Scene:
    poses = [dict(angle=(-4.0, 0.0, 4.0)[i % 3], face_width=face_width, center=(300 + 12 * i, 200 + 6 * i))
             for i in range(6)]
    return _portrait_scene(f"scale{int(face_width)}_{photo_name}", "scale", photo_name, poses, folder, 200,
                           note=f"face {int(face_width)} px wide, roll +-4 deg")


def turn_scene(photo_name: str, side: str, folder: Path) -> Scene:
    """Yaw proxy: the face squeezed horizontally to 75..60 % about one side of the face (a three-quarter
    view's foreshortening, without its occlusion)."""
    width = 120.0
    axis = (-0.5 if side == "left" else 0.5) * width
    squeezes = [0.75, 0.7, 0.65, 0.6, 0.6, 0.65, 0.7, 0.75]
    poses = [dict(angle=0.0, face_width=width, center=(320 - 3 * i, 220 + 2 * i), squeeze=s, squeeze_axis=axis)
             for i, s in enumerate(squeezes)]
    return _portrait_scene(f"turn_{side}_{photo_name}", "turn", photo_name, poses, folder, 300,
                           note=f"squeezed to 75..60 % about the face's {side} side, face 120 px")


def dark_scene(photo_name: str, folder: Path) -> Scene:
    rng = np.random.default_rng(400)
    poses = [dict(angle=(-6.0, 0.0, 6.0)[i % 3], face_width=110.0, center=(310 + 5 * i, 220)) for i in range(8)]
    return _portrait_scene(f"dark_{photo_name}", "dark", photo_name, poses, folder, 400,
                           post=lambda frame, i: darken(frame, rng),
                           note="x0.35 brightness, gamma 1.4, noise sigma 5, face 110 px")


def badge_scene(folder: Path, scale: float = 0.92, name: str = "badge_astronaut_whole") -> Scene:
    """The whole astronaut photo (her mission patch, name tag and helmet in view), rotated by up to
    +-10 degrees. At scale 0.92 it fits the canvas (face ~83 px); at 1.25 (face ~112 px, the photo's
    edges cut off) dlib's HOG box on the mission patch is about as large as the one on her face."""
    photo = PHOTOS["astronaut"][0]
    frames, truth = [], []
    for i, angle in enumerate([-10.0, -5.0, 0.0, 5.0, 10.0, 5.0, 0.0, -5.0]):
        matrix = cv2.getRotationMatrix2D((256.0, 256.0), angle, scale)
        matrix[:, 2] += np.array([320.0 + 3 * i, 240.0]) - 256.0
        frames.append(paste(cluttered_background(500 + i), photo, matrix))
        distractors = [(label, transformed_box(matrix, box)) for label, box in ASTRONAUT_DISTRACTORS.items()]
        truth.append(subject_truth("astronaut", matrix, PHOTO_FACE_WIDTH["astronaut"] * scale, distractors))
    return Scene(name, "distractor", "astronaut", write_clip(folder / f"{name}.mp4", frames, lossless=True), truth,
                 f"whole photo x{scale:g} rotated -10..+10 deg: mission patch, name tag, helmet")


def cat_scene(photo_name: str, folder: Path) -> Scene:
    """The subject (face 90 px) beside chelsea the cat, whose face is about twice as wide, every frame."""
    photo, cat = PHOTOS[photo_name][0], skimage.data.chelsea()
    mask = disc_mask(photo_name)
    frames, truth = [], []
    for i in range(8):
        matrix = placement(eye_mid(photo_name), 2.0 * (i % 2) - 1.0, scale_for(photo_name, 90.0), (170 + 3 * i, 200))
        cat_matrix = np.array([[0.5, 0.0, 400.0 - 2 * i], [0.0, 0.5, 150.0 + 2 * i]])
        frame = paste(paste(cluttered_background(600 + i), photo, matrix, mask), cat, cat_matrix)
        truth.append(subject_truth(photo_name, matrix, 90.0, [("cat face", transformed_box(cat_matrix, CAT_FACE_BOX))]))
        frames.append(frame)
    name = f"cat_{photo_name}"
    return Scene(name, "distractor", photo_name, write_clip(folder / f"{name}.mp4", frames, lossless=True), truth,
                 "cat face ~185 px beside the 90-px subject, every frame")


def printed_scene(photo_name: str, folder: Path) -> Scene:
    """The subject (face ~100 px) in every frame; in the middle frame only, a larger printed greyscale
    copy of the other portrait (face ~170 px) elsewhere in the frame."""
    other = "grace_hopper" if photo_name == "astronaut" else "astronaut"
    photo, printed = PHOTOS[photo_name][0], grey_print(PHOTOS[other][0])
    mask = disc_mask(photo_name)
    (cx, cy), _ = PHOTO_DISC[other]
    printed_mask = np.zeros(printed.shape[:2], np.uint8)  # head only: the print must not hide the subject
    cv2.circle(printed_mask, (int(cx), int(cy) - 20), int(PRINTED_RADIUS[other]), 255, -1)
    frames, truth = [], []
    n, middle = 8, 4
    for i in range(n):
        matrix = placement(eye_mid(photo_name), 0.0, scale_for(photo_name, 100.0), (180 + 4 * i, 210 + i))
        frame = paste(cluttered_background(700 + i), photo, matrix, mask)
        distractors = []
        if i == middle:
            print_matrix = placement(eye_mid(other), 3.0, scale_for(other, 170.0), (490, 210))
            frame = paste(frame, printed, print_matrix, printed_mask)
            corners = apply(print_matrix, PHOTO_EYE_CORNERS[other]["dlib"])
            x0, x1 = corners[:, 0].min() - 45, corners[:, 0].max() + 45
            y0, y1 = corners[:, 1].min() - 60, corners[:, 1].max() + 130
            distractors.append(("printed " + other, np.array([x0, y0, x1, y1])))
        frames.append(frame)
        truth.append(subject_truth(photo_name, matrix, 100.0, distractors))
    name = f"printed_{other}_by_{photo_name}"
    return Scene(name, "distractor", photo_name, write_clip(folder / f"{name}.mp4", frames, lossless=True), truth,
                 f"printed grey {other} (face 170 px) in frame {middle} only")


def noface_scene(folder: Path) -> Scene:
    """Clutter, chelsea the cat and skimage's coins: no human face."""
    cat = skimage.data.chelsea()
    coins = np.repeat(skimage.data.coins()[:, :, None], 3, axis=2)
    frames, truth = [], []
    for i in range(8):
        cat_matrix = np.array([[0.55, 0.0, 30.0 + 4 * i], [0.0, 0.55, 40.0 + 2 * i]])
        coins_matrix = np.array([[0.7, 0.0, 350.0 - 3 * i], [0.0, 0.7, 230.0]])
        frame = paste(paste(cluttered_background(800 + i), cat, cat_matrix), coins, coins_matrix)
        frames.append(frame)
        truth.append(FrameTruth(None, 0.0, [("cat face", transformed_box(cat_matrix, CAT_FACE_BOX)),
                                           ("coins", transformed_box(coins_matrix, (0, 0, 384, 303)))]))
    return Scene("noface_cat_coins", "noface", None, write_clip(folder / "noface_cat_coins.mp4", frames), truth,
                 "clutter + cat + coins")


SCENE_BUILDERS: dict[str, Callable[[Path], Scene]] = {
    **{f"roll_{p}": (lambda folder, p=p: roll_scene(p, folder)) for p in PHOTOS},
    **{f"scale{w}_{p}": (lambda folder, p=p, w=w: scale_scene(p, float(w), folder))
       for w in (48, 64, 90, 160) for p in PHOTOS},
    "turn_left_grace_hopper": lambda folder: turn_scene("grace_hopper", "left", folder),
    "turn_right_astronaut": lambda folder: turn_scene("astronaut", "right", folder),
    **{f"dark_{p}": (lambda folder, p=p: dark_scene(p, folder)) for p in PHOTOS},
    "badge_astronaut_whole": badge_scene,
    "badge_astronaut_close": lambda folder: badge_scene(folder, 1.25, "badge_astronaut_close"),
    "cat_astronaut": lambda folder: cat_scene("astronaut", folder),
    "printed_grace_hopper_by_astronaut": lambda folder: printed_scene("astronaut", folder),
    "printed_astronaut_by_grace_hopper": lambda folder: printed_scene("grace_hopper", folder),
    "noface_cat_coins": noface_scene,
}
SCENE_NAMES: list[str] = list(SCENE_BUILDERS)


def scene_family(name: str) -> str:
    for prefix, family in (("roll", "roll"), ("scale", "scale"), ("turn", "turn"), ("dark", "dark"),
                           ("noface", "noface")):
        if name.startswith(prefix):
            return family
    return "distractor"


def build_scenes(folder: str | Path, names: list[str] | None = None) -> list[Scene]:
    """Write the scenes' clips into ``folder`` (all of :data:`SCENE_NAMES` by default) and return them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [SCENE_BUILDERS[name](folder) for name in (names or SCENE_NAMES)]


# ------------------------------------------------------------------------------- independent landmarkers
def similarity_fit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares 2D similarity (2 x 3) mapping ``source`` onto ``target`` (kept apart from the stage's)."""
    s, t = np.asarray(source, float), np.asarray(target, float)
    sm, tm = s.mean(axis=0), t.mean(axis=0)
    sc, tc = (s - sm) @ [1, 1j], (t - tm) @ [1, 1j]
    a = np.vdot(sc, tc) / np.vdot(sc, sc).real
    rotation = np.array([[a.real, -a.imag], [a.imag, a.real]])
    return np.hstack([rotation, (tm - rotation @ sm)[:, None]])


def template(size: int = CROP_SIZE) -> np.ndarray:
    from avemotion.faces.align import eye_corner_template

    return np.asarray(eye_corner_template(size), float)


def left_to_right(corners: np.ndarray) -> np.ndarray:
    first, second = corners[:2], corners[2:]
    if first.mean(axis=0)[0] > second.mean(axis=0)[0]:
        first, second = second[::-1], first[::-1]
    return np.vstack([first, second])


class Landmarkers:
    """The two landmarkers called straight from the libraries, to re-find eye corners on aligned crops."""

    def __init__(self) -> None:
        import dlib
        import mediapipe as mp

        from avemotion.faces.dlib_faces import face_recognition_model_file

        self._dlib_detector = dlib.get_frontal_face_detector()
        # dlib's 5-point model (eye corners and nose, trained for alignment): on grace_hopper's glasses
        # the 68-point fit reads crops aligned by the true corners up to 14 px off, the 5-point one
        # steadily, so it is the better judge of track A's crops
        model = face_recognition_model_file("shape_predictor_5_face_landmarks.dat")
        self._dlib_predictor = dlib.shape_predictor(str(model))
        self._mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                                     min_detection_confidence=0.3)

    def dlib(self, crop: np.ndarray) -> tuple[np.ndarray, bool]:
        """dlib 5-point eye corners on a crop, and whether HOG found the face (else the predictor starts
        from :data:`DLIB_FALLBACK_BOX`, where an aligned face's box belongs)."""
        import dlib

        size = crop.shape[0]
        rects = self._dlib_detector(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), 1)
        center = np.array([size / 2, size * 0.5])
        if rects:
            rect = min(rects, key=lambda r: np.hypot((r.left() + r.right()) / 2 - center[0],
                                                     (r.top() + r.bottom()) / 2 - center[1]))
            found = True
        else:
            x0, y0, x1, y1 = (int(round(v * size)) for v in DLIB_FALLBACK_BOX)
            rect, found = dlib.rectangle(x0, y0, x1, y1), False
        shape = self._dlib_predictor(crop, rect)
        return left_to_right(np.array([(shape.part(i).x, shape.part(i).y) for i in DLIB5_EYE_CORNERS], float)), found

    def mediapipe(self, crop: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """FaceMesh (refined) eye corners on a crop, retried on the crop padded by a quarter each side."""
        for pad in (0, crop.shape[0] // 4):
            image = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else crop
            result = self._mesh.process(np.ascontiguousarray(image))
            if result.multi_face_landmarks:
                height, width = image.shape[:2]
                landmarks = result.multi_face_landmarks[0].landmark
                points = np.array([(landmarks[i].x * width - pad, landmarks[i].y * height - pad)
                                   for i in MEDIAPIPE_EYE_CORNERS])
                return left_to_right(points), True
        return None, False

    def corners(self, kind: str, crop: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """Eye corners read on the crop and on its mirror image, averaged: a landmarker's left/right
        bias (the glasses' rims pull one inner corner) cancels, its noise halves."""
        read = self.dlib if kind == "dlib" else self.mediapipe
        corners, found = read(crop)
        mirrored, found_mirrored = read(np.ascontiguousarray(crop[:, ::-1]))
        if corners is None or mirrored is None:
            return corners, found
        mirrored = mirrored.copy()
        mirrored[:, 0] = crop.shape[1] - 1 - mirrored[:, 0]
        return (corners + left_to_right(mirrored)) / 2, found and found_mirrored

    def close(self) -> None:
        self._mesh.close()


def reference_crop(photo_name: str, landmarker: str, size: int = CROP_SIZE) -> np.ndarray:
    """The upright photo aligned by its measured ``landmarker`` corners onto the template, as the stage aligns."""
    matrix = similarity_fit(PHOTO_EYE_CORNERS[photo_name][landmarker], template(size))
    return cv2.warpAffine(PHOTOS[photo_name][0], matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def landmarker_offsets(landmarkers: Landmarkers, size: int = CROP_SIZE) -> dict[tuple[str, str], np.ndarray]:
    """The independent landmarker's systematic offset, per (track, photo): its eye corners on the
    upright frontal photo aligned by the track's own landmarker's corners, minus the template ([4, 2],
    px at ``size``). The two landmarkers place eye corners a little differently (FaceMesh's outer
    corners lie further out on grace_hopper), which is no alignment error: :func:`measure` subtracts
    this constant before comparing a crop's corners with the template."""
    offsets = {}
    for track, own in TRACK_LANDMARKER.items():
        for photo_name in PHOTOS:
            corners, _ = landmarkers.corners(INDEPENDENT[track], reference_crop(photo_name, own, size))
            offsets[(track, photo_name)] = corners - template(size)
    return offsets


# --------------------------------------------------------------------------------------------- measuring
@dataclass
class Measurement:
    """One scene on one track. Alignment numbers are px at the crop size (224).

    ``errors``: per aligned crop of the subject, the largest distance of its four eye corners, as
    re-found by the independent landmarker *minus that landmarker's constant offset measured on the
    upright photos* (:func:`landmarker_offsets`), from the template; inf where the landmarker found
    no face on the crop. ``raw_errors``: the same without removing the offset. ``spread``: the largest
    distance of a crop's re-found corners from the mean of all the scene's crops (offset-free).
    ``truth_errors`` (diagnostic, no re-finding): the largest distance from the template of the
    scene's true corners (track's own landmarker convention) mapped by the similarity that the
    stored ``eye_corners`` define, i.e. the stage's landmark error in crop pixels."""

    scene: str
    track: str
    status: str
    reason: str
    n_visible: int  # frames with the subject in view
    n_found: int  # of those, frames whose aligned face is the subject's
    distractor_frames: list[tuple[int, str]]  # (frame, distractor label) whose aligned face is a distractor
    stray_frames: list[int]  # frames whose aligned face is neither the subject nor a known distractor
    errors: np.ndarray
    raw_errors: np.ndarray
    spread: float
    truth_errors: np.ndarray
    ideal_errors: np.ndarray
    n_dlib_fallback: int  # crops where dlib's HOG found no face and the predictor started from the template box
    seconds: float

    @property
    def detection_rate(self) -> float:
        return self.n_found / self.n_visible if self.n_visible else math.nan

    @property
    def distractor_aligned(self) -> bool:
        return bool(self.distractor_frames)

    @property
    def max_error(self) -> float:
        return float(self.errors.max()) if len(self.errors) else math.nan

    @property
    def n_not_refound(self) -> int:
        return int(np.isinf(self.errors).sum())


def decoded_frames(clip: str | Path):
    """(index, RGB) of every frame of a clip, decoded with PyAV."""
    import av

    with av.open(str(clip)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            yield index, frame.to_ndarray(format="rgb24")


def _inside(point: np.ndarray, box: np.ndarray, margin: float = 0.1) -> bool:
    x0, y0, x1, y1 = box
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    return bool(x0 - mx <= point[0] <= x1 + mx and y0 - my <= point[1] <= y1 + my)


_LANDMARKERS: Landmarkers | None = None
_OFFSETS: dict[tuple[str, str], np.ndarray] | None = None


def shared_landmarkers() -> tuple[Landmarkers, dict[tuple[str, str], np.ndarray]]:
    """One :class:`Landmarkers` per process and its offsets (measured on first use)."""
    global _LANDMARKERS, _OFFSETS
    if _LANDMARKERS is None:
        _LANDMARKERS = Landmarkers()
        _OFFSETS = landmarker_offsets(_LANDMARKERS)
    return _LANDMARKERS, _OFFSETS


def measure(scene: Scene, analyzer, tmp: str | Path, size: int = CROP_SIZE, redetect_every: int = 1) -> Measurement:
    """Run ``avemotion.faces.extract_faces_from_video(clip, timeline, out, analyzer, 224, track,
    redetect_every=redetect_every)`` on the scene (track "a" for a MediaPipe analyzer, "b" for dlib)
    and score its stack against the truth.

    An aligned face is the subject's when the midpoint of its stored ``eye_corners`` lies within 0.35 x
    the subject's face width of the true eye midpoint; otherwise it is a distractor's when that midpoint
    is inside a distractor box (grown by 10 %), else a stray face. Detection rate = subject faces /
    frames with the subject in view. Alignment error and spread: see :class:`Measurement`; the error
    to compare with the 4-px bound is ``errors`` (after removing the landmarker's constant offset).
    """
    import time

    import h5py

    from avemotion.faces import extract_faces_from_video

    track = {"mediapipe": "a", "dlib": "b"}[analyzer.method]
    landmarkers, offsets = shared_landmarkers()
    out = Path(tmp) / f"{scene.name}.{track}.h5"
    start = time.perf_counter()
    result = extract_faces_from_video(scene.clip, timeline_for(scene.name, len(scene.frames)), out, analyzer, size,
                                      track, redetect_every=redetect_every)
    seconds = time.perf_counter() - start
    with h5py.File(out, "r") as handle:
        faces = handle["faces"][:]
        frame_index = handle["frame_index"][:]
        stored = handle["eye_corners"][:]
    own = TRACK_LANDMARKER[track]
    n_found, distractor_frames, stray_frames, subject_crops, truth_errors = 0, [], [], [], []
    target = template(size)
    for crop, frame, corners in zip(faces, frame_index, stored):
        truth = scene.frames[int(frame)]
        mid = corners.astype(float).mean(axis=0)
        if truth.eye_corners is not None and \
                np.linalg.norm(mid - truth.eye_corners[own].mean(axis=0)) <= 0.35 * truth.face_width:
            n_found += 1
            subject_crops.append(crop)
            to_crop = similarity_fit(corners, target)
            truth_errors.append(float(np.linalg.norm(apply(to_crop, truth.eye_corners[own]) - target, axis=1).max()))
            continue
        labels = [label for label, box in truth.distractors if _inside(mid, box)]
        if labels:
            distractor_frames.append((int(frame), labels[0]))
        else:
            stray_frames.append(int(frame))
    errors, raw_errors, found_corners, n_fallback = [], [], [], 0
    offset = offsets[(track, scene.subject)] if scene.subject else np.zeros((4, 2))
    for crop in subject_crops:
        corners, ok = landmarkers.corners(INDEPENDENT[track], crop)
        if corners is None:
            errors.append(math.inf)
            raw_errors.append(math.inf)
            continue
        n_fallback += INDEPENDENT[track] == "dlib" and not ok
        found_corners.append(corners)
        raw_errors.append(float(np.linalg.norm(corners - target, axis=1).max()))
        errors.append(float(np.linalg.norm(corners - offset - target, axis=1).max()))
    ideal_errors = []
    for frame, rgb in decoded_frames(scene.clip):
        truth = scene.frames[frame]
        if truth.eye_corners is None:
            continue
        crop = cv2.warpAffine(rgb, similarity_fit(truth.eye_corners[own], target), (size, size),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        corners, _ = landmarkers.corners(INDEPENDENT[track], crop)
        ideal_errors.append(math.inf if corners is None else
                            float(np.linalg.norm(corners - offset - target, axis=1).max()))
    spread = 0.0
    if len(found_corners) > 1:
        stack = np.array(found_corners)
        spread = float(np.linalg.norm(stack - stack.mean(axis=0), axis=2).max())
    return Measurement(scene.name, track, result.status, result.reason, scene.n_visible, n_found, distractor_frames,
                       stray_frames, np.array(errors), np.array(raw_errors), spread, np.array(truth_errors),
                       np.array(ideal_errors), n_fallback, seconds)


def own_landmarker_readings(landmarkers: Landmarkers, size: int = CROP_SIZE) -> dict[tuple[str, str], np.ndarray]:
    """Diagnostic of the yardstick: each landmarker's corners on the upright photo aligned by its *own*
    measured corners, minus the template (a landmarker that re-found its corners exactly would read 0;
    what it reads is its own dependence on the face's resolution and box)."""
    readings = {}
    for kind in ("dlib", "mediapipe"):
        for photo_name in PHOTOS:
            corners, _ = landmarkers.corners(kind, reference_crop(photo_name, kind, size))
            readings[(kind, photo_name)] = corners - template(size)
    return readings


def format_offsets(offsets: dict[tuple[str, str], np.ndarray],
                   readings: dict[tuple[str, str], np.ndarray] | None = None) -> str:
    lines = ["independent landmarker's offset on upright frontal crops (px at 224; dx,dy of the corners "
             "L-outer L-inner R-inner R-outer):"]
    for (track, photo_name), offset in sorted(offsets.items()):
        cells = "  ".join(f"({dx:+.1f},{dy:+.1f})" for dx, dy in offset)
        lines.append(f"  track {track} crops re-found by {INDEPENDENT[track]:9s} {photo_name:12s} {cells}"
                     f"  max |offset| {np.linalg.norm(offset, axis=1).max():.1f}")
    for track in TRACK_LANDMARKER:
        mean = np.mean([offsets[(track, p)] for p in PHOTOS], axis=0)
        lines.append(f"  track {track} mean over photos: " + "  ".join(f"({dx:+.1f},{dy:+.1f})" for dx, dy in mean))
    for (kind, photo_name), reading in sorted((readings or {}).items()):
        lines.append(f"  {kind:9s} on its own reference crop of {photo_name:12s} reads max "
                     f"{np.linalg.norm(reading, axis=1).max():.1f} px off the template")
    return "\n".join(lines)


def _max(values: np.ndarray) -> float:
    return float(np.max(values)) if len(values) else math.nan


def format_table(measurements: list[Measurement]) -> str:
    header = (f"{'scene':36s} {'trk':>3} {'status':>11} {'det':>9} {'rate':>5} {'err max':>7} {'raw max':>7} "
              f"{'spread':>6} {'truth':>5} {'ideal':>5} {'fallbk':>6} {'distractor aligned':>20} {'stray':>6}")
    lines = [header]
    for m in measurements:
        distractors = ",".join(f"{f}:{label}" for f, label in m.distractor_frames) or "no"
        lines.append(f"{m.scene:36s} {m.track:>3} {m.status:>11} {m.n_found:>4}/{m.n_visible:<4} "
                     f"{m.detection_rate:>5.2f} {m.max_error:>7.1f} {_max(m.raw_errors):>7.1f} "
                     f"{m.spread:>6.1f} {_max(m.truth_errors):>5.1f} {_max(m.ideal_errors):>5.1f} "
                     f"{m.n_dlib_fallback:>6} {distractors:>20} {len(m.stray_frames):>6}")
    return "\n".join(lines)


def main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="measure the face stage on the real-photo scenes")
    parser.add_argument("--track", choices=["a", "b", "both"], default="both")
    parser.add_argument("--scenes", default="", help="comma-separated name prefixes (default: all)")
    args = parser.parse_args()
    from avemotion.faces import DlibFaces, MediaPipeFaces

    prefixes = [p for p in args.scenes.split(",") if p]
    names = [n for n in SCENE_NAMES if not prefixes or any(n.startswith(p) for p in prefixes)]
    with tempfile.TemporaryDirectory() as tmp:
        scenes = build_scenes(Path(tmp) / "clips", names)
        measurements = []
        for track in (["a", "b"] if args.track == "both" else [args.track]):
            analyzer = MediaPipeFaces() if track == "a" else DlibFaces(detect_scale=1.0, upsample=0, min_score=0.0)
            measurements += [measure(scene, analyzer, tmp) for scene in scenes]
            analyzer.close()
        print(format_table(measurements))
        landmarkers, offsets = shared_landmarkers()
        print(format_offsets(offsets, own_landmarker_readings(landmarkers)))


if __name__ == "__main__":
    main()
