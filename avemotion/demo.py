"""The generated demo corpus: short audio-video clips of real faces and real speech, seven emotions.

The paper (section 3.1) trains and evaluates on AFEW, which cannot be shipped; this module makes a
small stand-in so that the whole pipeline runs on a fresh machine. It is deterministic from a seed
(every clip's parameters come from ``numpy.random.default_rng([seed, split, class, k])``, so adding
clips does not change the earlier ones) and writes, under ``out_dir``::

    clips.tsv                        path, label, split, clip_id (a `list` dataset; paths relative)
    parameters.tsv                   every generation parameter of every clip (the design, auditable)
    {split}/{label}/demo_{split}_{label}_{k:03d}.mp4

Video
    Two real face photos shipped inside installed packages (scikit-image's ``astronaut``,
    matplotlib's ``grace_hopper.jpg``), each also mirrored: four identities. The face is animated per
    emotion by a thin-plate-spline warp (OpenCV's ``ThinPlateSplineShapeTransformer``) along
    MediaPipe FaceMesh landmarks: brows, upper lids, mouth corners and lips move, the face oval, eye
    corners, lower lids, nose and the patch border stay put. Because a TPS interpolant is linear in
    the displacements of its control points, one displacement field per photo, mirror and expression
    is computed once (at apex) and every frame is one ``cv2.remap`` with the field scaled by the
    onset-apex-offset envelope. The face patch (soft elliptical mask) is placed on a cluttered
    background (a crop of another shipped photo plus random shapes) with head motion (rotation,
    translation, zoom), colour/gamma changes of the identity, side lighting with flicker, Gaussian
    blur and sensor noise; frame rates 24/25/30 fps and several small frame sizes.

Audio
    Real speech from espeak-ng (an English voice variant per identity, i.e. per "actor"), a sentence
    of random words from a neutral word list (the words never give the class away), with per-emotion
    prosody: pitch (``-p``), speed (``-s``), amplitude (``-a``) and word gap (``-g``), each drawn from
    a class-group range. Pink background noise and mains hum at a random level independent of the
    class; resampled to 44.1 or 48 kHz and muxed as AAC next to the H.264 video.

Fusion has work to do
    Each modality alone separates only four groups; the class is the pair (face group, voice group)::

        face groups  (alike in the face):  {AN, DI} frown: brows down/in, lids narrowed, mouth corners down
                                            {FE, SU} brows and lids raised, jaw dropped
                                            {NE, SA} no expression
                                            {HA}     smile (mouth corners up and out)
        voice groups (alike in the voice): {AN, FE} high pitch, fast, loud
                                            {DI, SA} low pitch, slow, quiet, gaps between words
                                            {NE, SU} middle pitch, medium speed and loudness
                                            {HA}     highest pitch, fairly fast

    Within a face group the two classes fall in different voice groups, and within a voice group in
    different face groups, so the seven (face, voice) pairs are all distinct: a perfect face model
    reaches 4/7 accuracy (HA plus a coin flip per pair), so does a perfect voice model, and fusion
    can reach 7/7. The two classes of a face pair share exactly the same face parameter
    distribution (and vice versa for voice), so the within-pair difference lives in one modality only.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from math import gcd
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from .artifacts import atomic_output, write_tsv
from .constants import CLASSES, SPLITS

if TYPE_CHECKING:
    from av.audio.stream import AudioStream
    from av.container import OutputContainer
    from av.video.stream import VideoStream

log = logging.getLogger(__name__)

CLIPS_COLUMNS: tuple[str, ...] = ("path", "label", "split", "clip_id")

# The fusion design (module docstring): each class is a distinct (face group, voice group) pair.
FACE_GROUP: dict[str, str] = {
    "AN": "brows_down", "DI": "brows_down",
    "FE": "brows_up_jaw_drop", "SU": "brows_up_jaw_drop",
    "NE": "still", "SA": "still",
    "HA": "smile",
}
VOICE_GROUP: dict[str, str] = {
    "AN": "high_fast_loud", "FE": "high_fast_loud",
    "DI": "low_slow_quiet", "SA": "low_slow_quiet",
    "NE": "mid", "SU": "mid",
    "HA": "highest",
}

# espeak-ng prosody ranges per voice group: pitch (-p, 0-99), speed (-s, words/min),
# amplitude (-a, 0-200), word gap (-g, units of 10 ms). Ranges of different groups do not overlap
# in pitch or speed, so each voice pair is consistently distinct.
VOICE_PROSODY: dict[str, dict[str, tuple[int, int]]] = {
    "high_fast_loud": {"pitch": (66, 76), "speed": (205, 225), "amplitude": (150, 170), "word_gap": (0, 0)},
    "low_slow_quiet": {"pitch": (4, 14), "speed": (110, 125), "amplitude": (55, 70), "word_gap": (3, 5)},
    "mid": {"pitch": (36, 46), "speed": (155, 170), "amplitude": (95, 110), "word_gap": (0, 1)},
    "highest": {"pitch": (88, 98), "speed": (180, 195), "amplitude": (120, 135), "word_gap": (0, 0)},
}

# Face expressions: displacement of FaceMesh landmarks at apex, in units of the inter-ocular
# distance (outer eye corners 33/263), as (outward, down): outward is away from the face's vertical
# midline, so one table serves both halves of the face and the mirrored identities.
_RIGHT_BROW_INNER, _LEFT_BROW_INNER = (107, 66, 55, 65), (336, 296, 285, 295)
_RIGHT_BROW_MID, _LEFT_BROW_MID = (105, 52), (334, 282)
_RIGHT_BROW_OUTER, _LEFT_BROW_OUTER = (70, 63, 46, 53), (300, 293, 276, 283)
_UPPER_LIDS = (159, 158, 160, 386, 385, 387)
_MOUTH_CORNERS = (61, 291)
# Inner lip points 13/14 coincide on a closed mouth (grace_hopper): moving them apart folds the
# spline, so the mouth opens by moving the lower lip's outer edge with the chin instead.
_UPPER_LIP_OUTER = (0,)
_LOWER_LIP_OUTER = (17,)
_CHIN = (152,)
_JAW_NEAR, _JAW_MID, _JAW_FAR = (148, 377), (176, 400), (149, 378)


def _points(indices: Iterable[int], outward: float, down: float) -> dict[int, tuple[float, float]]:
    return {index: (outward, down) for index in indices}


FACE_EXPRESSIONS: dict[str, dict[int, tuple[float, float]]] = {
    "still": {},
    "smile": {
        **_points(_MOUTH_CORNERS, 0.13, -0.12),
        **_points(_LOWER_LIP_OUTER, 0.0, 0.02),
        **_points(_UPPER_LIDS, 0.0, 0.02),
    },
    # A frown: brows down and in, lids narrowed, mouth corners pulled in and down. The mouth carries
    # it for the astronaut, whose photo already smiles and whose brows hide under her fringe.
    "brows_down": {
        **_points(_RIGHT_BROW_INNER + _LEFT_BROW_INNER, -0.08, 0.15),
        **_points(_RIGHT_BROW_MID + _LEFT_BROW_MID, -0.04, 0.10),
        **_points(_RIGHT_BROW_OUTER + _LEFT_BROW_OUTER, 0.0, 0.05),
        **_points(_UPPER_LIDS, 0.0, 0.04),
        **_points(_MOUTH_CORNERS, -0.06, 0.10),
        **_points(_UPPER_LIP_OUTER, 0.0, -0.04),
    },
    "brows_up_jaw_drop": {
        **_points(_RIGHT_BROW_INNER + _LEFT_BROW_INNER, 0.0, -0.13),
        **_points(_RIGHT_BROW_MID + _LEFT_BROW_MID, 0.0, -0.13),
        **_points(_RIGHT_BROW_OUTER + _LEFT_BROW_OUTER, 0.0, -0.09),
        **_points(_UPPER_LIDS, 0.0, -0.04),
        **_points(_MOUTH_CORNERS, -0.04, 0.06),
        **_points(_LOWER_LIP_OUTER + _CHIN, 0.0, 0.18),
        **_points(_JAW_NEAR, 0.0, 0.15), **_points(_JAW_MID, 0.0, 0.11), **_points(_JAW_FAR, 0.0, 0.06),
    },
}
# Apex intensity range (scales the displacements above): strong enough that a small face model
# trained from scratch on a few dozen clips sees the expression through identity and lighting.
EXPRESSION_INTENSITY: tuple[float, float] = (1.15, 1.4)
# Points that stay put besides the face oval: eye corners, lower lids, nose.
_FIXED_LANDMARKS: tuple[int, ...] = (33, 133, 362, 263, 145, 144, 153, 374, 373, 380, 1, 4, 6, 168)

PHOTOS: tuple[str, ...] = ("astronaut", "grace_hopper")
# One espeak-ng English voice variant per identity (photo x mirror): the four "actors".
VOICE_VARIANTS: tuple[str, ...] = ("f1", "f2", "f4", "f5")
BACKGROUNDS: tuple[str, ...] = ("coffee", "rocket", "brick", "gravel", "grass", "colorwheel", "hubble_deep_field")
# Neutral words: numbers, objects, places; none of them carries an emotion.
NEUTRAL_WORDS: tuple[str, ...] = (
    "table", "window", "seven", "paper", "river", "number", "garden", "yellow", "morning", "station",
    "pencil", "corner", "button", "carpet", "ladder", "marble", "kettle", "orange", "tuesday", "eleven",
    "bottle", "ticket", "cable", "folder", "pocket", "market", "basket", "timber", "summer", "wooden",
    "twelve", "copper", "harbor", "signal", "bridge", "north", "letter", "coffee", "circle", "motor",
)

DEFAULT_FRAME_SIZES: tuple[tuple[int, int], ...] = ((320, 240), (360, 288), (400, 300))
DEFAULT_FRAME_RATES: tuple[int, ...] = (24, 25, 30)
AUDIO_RATES: tuple[int, ...] = (44100, 48000)
ESPEAK_RATE = 22050
PATCH_SIZE = 256  # face patch side in pixels; the inter-ocular distance is a quarter of it
PATCH_IOD = PATCH_SIZE / 4


@dataclass(frozen=True)
class ClipSpec:
    """Every parameter of one demo clip (one row of parameters.tsv)."""

    clip_id: str
    path: str
    label: str
    split: str
    duration_s: float
    fps: int
    width: int
    height: int
    identity: int
    photo: str
    mirrored: bool
    face_group: str
    intensity: float
    onset_s: float
    apex_s: float
    offset_s: float
    end_s: float
    face_x: float  # face centre in frame, fraction of width
    face_y: float
    face_iod: float  # inter-ocular distance in frame, fraction of height
    rotation_deg: float
    rotation_hz: float
    shift_frac: float
    shift_hz: float
    zoom: float
    phase: float
    hue_shift: int
    saturation: float
    gamma: float
    light_gain: float
    light_side: float
    flicker: float
    blur_sigma: float
    noise_sigma: float
    background: str
    voice_group: str
    voice: str
    pitch: int
    speed: int
    amplitude: int
    word_gap: int
    words: str
    speech_start_s: float
    noise_rms: float
    hum_hz: int
    hum_rms: float
    audio_rate: int
    render_seed: int


def plan_demo_corpus(seed: int, clips_per_class: Mapping[str, int], duration_s: Sequence[float],
                     frame_sizes: Sequence[Sequence[int]] = DEFAULT_FRAME_SIZES,
                     frame_rates: Sequence[int] = DEFAULT_FRAME_RATES) -> list[ClipSpec]:
    """All clip parameters, deterministic from ``seed``; identities are balanced over classes."""
    low, high = float(min(duration_s)), float(max(duration_s))
    specs = []
    for split_index, split in enumerate(SPLITS):
        for class_index, label in enumerate(CLASSES):
            for k in range(int(clips_per_class[split])):
                rng = np.random.default_rng([seed, split_index, class_index, k])
                identity = (k + split_index + class_index) % (2 * len(PHOTOS))
                specs.append(_plan_clip(rng, split, label, k, identity, low, high, frame_sizes, frame_rates))
    return specs


def _plan_clip(rng: np.random.Generator, split: str, label: str, k: int, identity: int, low: float,
               high: float, frame_sizes: Sequence[Sequence[int]], frame_rates: Sequence[int]) -> ClipSpec:
    clip_id = f"demo_{split}_{label}_{k:03d}"
    duration = round(float(rng.uniform(low, high)), 3)
    width, height = (int(v) for v in frame_sizes[int(rng.integers(len(frame_sizes)))])
    onset = float(rng.uniform(0.05, 0.2)) * duration
    apex = onset + float(rng.uniform(0.2, 0.3)) * duration
    offset = apex + float(rng.uniform(0.25, 0.4)) * duration
    end = offset + float(rng.uniform(0.15, 0.3)) * duration
    prosody = VOICE_PROSODY[VOICE_GROUP[label]]
    speed = int(rng.integers(prosody["speed"][0], prosody["speed"][1] + 1))
    word_gap = int(rng.integers(prosody["word_gap"][0], prosody["word_gap"][1] + 1))
    speech_start = float(rng.uniform(0.05, 0.25))
    # espeak-ng says these two-syllable words ~20 % slower than its nominal words/min.
    seconds_per_word = 1.2 * 60.0 / speed + 0.01 * word_gap
    n_words = int(np.clip((duration - speech_start - 0.1) // seconds_per_word, 2, 8))
    return ClipSpec(
        clip_id=clip_id, path=f"{split}/{label}/{clip_id}.mp4", label=label, split=split,
        duration_s=duration, fps=int(frame_rates[int(rng.integers(len(frame_rates)))]),
        width=width, height=height,
        identity=identity, photo=PHOTOS[identity // 2], mirrored=bool(identity % 2),
        face_group=FACE_GROUP[label], intensity=round(float(rng.uniform(*EXPRESSION_INTENSITY)), 3),
        onset_s=round(onset, 3), apex_s=round(apex, 3), offset_s=round(offset, 3), end_s=round(end, 3),
        face_x=round(float(rng.uniform(0.38, 0.62)), 3), face_y=round(float(rng.uniform(0.42, 0.55)), 3),
        face_iod=round(float(rng.uniform(0.19, 0.26)), 3),
        rotation_deg=round(float(rng.uniform(2.0, 7.0)), 2), rotation_hz=round(float(rng.uniform(0.2, 0.7)), 3),
        shift_frac=round(float(rng.uniform(0.01, 0.04)), 3), shift_hz=round(float(rng.uniform(0.2, 0.6)), 3),
        zoom=round(float(rng.uniform(-0.06, 0.06)), 3), phase=round(float(rng.uniform(0, 2 * np.pi)), 3),
        hue_shift=int(rng.integers(-8, 9)), saturation=round(float(rng.uniform(0.7, 1.2)), 3),
        gamma=round(float(rng.uniform(0.8, 1.25)), 3), light_gain=round(float(rng.uniform(0.75, 1.15)), 3),
        light_side=round(float(rng.uniform(-0.3, 0.3)), 3), flicker=round(float(rng.uniform(0.0, 0.06)), 3),
        blur_sigma=round(float(rng.choice([0.0, rng.uniform(0.5, 1.3)])), 3),
        noise_sigma=round(float(rng.uniform(1.5, 6.0)), 2),
        background=BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))],
        voice_group=VOICE_GROUP[label], voice=VOICE_VARIANTS[identity],
        pitch=int(rng.integers(prosody["pitch"][0], prosody["pitch"][1] + 1)), speed=speed,
        amplitude=int(rng.integers(prosody["amplitude"][0], prosody["amplitude"][1] + 1)),
        word_gap=word_gap,
        words=" ".join(rng.choice(NEUTRAL_WORDS, size=n_words, replace=False)),
        speech_start_s=round(speech_start, 3), noise_rms=round(float(rng.uniform(0.002, 0.008)), 4),
        hum_hz=int(rng.choice([50, 60])), hum_rms=round(float(rng.uniform(0.0, 0.003)), 4),
        audio_rate=int(rng.choice(AUDIO_RATES)), render_seed=int(rng.integers(2**31 - 1)),
    )


@dataclass
class FacePhoto:
    """A face photo cut to a PATCH_SIZE square around the face, with its FaceMesh landmarks."""

    name: str
    patch: np.ndarray  # uint8 RGB [PATCH_SIZE, PATCH_SIZE, 3]
    landmarks: np.ndarray  # float32 [478 or 468, 2] in patch pixels


def load_photo(name: str) -> np.ndarray:
    """The RGB photo shipped inside an installed package."""
    if name == "astronaut":
        import skimage.data

        return skimage.data.astronaut()
    if name == "grace_hopper":
        import matplotlib
        from PIL import Image

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        return np.asarray(Image.open(path).convert("RGB"))
    raise ValueError(f"unknown demo photo {name!r}")


def prepare_face_photos(names: Sequence[str] = PHOTOS) -> dict[str, FacePhoto]:
    """Find the face with MediaPipe FaceMesh once per photo and cut the patch around it."""
    import cv2
    import mediapipe as mp

    photos = {}
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        for name in names:
            image = load_photo(name)
            result = mesh.process(image)
            if not result.multi_face_landmarks:
                raise RuntimeError(f"MediaPipe FaceMesh found no face in the shipped photo {name!r}")
            height, width = image.shape[:2]
            points = np.array([[p.x * width, p.y * height] for p in result.multi_face_landmarks[0].landmark],
                              dtype=np.float64)
            centre = points[list(_face_oval_indices())].mean(axis=0)
            scale = PATCH_IOD / np.linalg.norm(points[33] - points[263])
            # Face centre slightly above the patch centre, leaving room for the chin and neck.
            to_patch = np.array([[scale, 0, PATCH_SIZE / 2 - scale * centre[0]],
                                 [0, scale, PATCH_SIZE * 0.46 - scale * centre[1]]])
            patch = cv2.warpAffine(image, to_patch, (PATCH_SIZE, PATCH_SIZE), flags=cv2.INTER_AREA,
                                   borderMode=cv2.BORDER_REFLECT)
            landmarks = points @ to_patch[:, :2].T + to_patch[:, 2]
            photos[name] = FacePhoto(name, patch, landmarks.astype(np.float32))
    return photos


@lru_cache(maxsize=1)
def _face_oval_indices() -> tuple[int, ...]:
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_FACE_OVAL

    return tuple(sorted({index for edge in FACEMESH_FACE_OVAL for index in edge}))


def expression_displacement(landmarks: np.ndarray, expression: str, anchors: Sequence[int]) -> np.ndarray:
    """Apex displacement field [H, W, 2] of the patch for one expression (paper-free demo helper).

    Thin-plate spline through the moved landmarks and the fixed anchors (face oval, eye corners,
    lower lids, nose, patch border). Returned as the *backward* offset used by ``cv2.remap``
    (source = pixel - displacement), which for these small motions is the inverse warp to first order.
    """
    import cv2

    moves = FACE_EXPRESSIONS[expression]
    grid = np.stack(np.meshgrid(np.arange(PATCH_SIZE, dtype=np.float32),
                                np.arange(PATCH_SIZE, dtype=np.float32)), axis=-1)
    if not moves:
        return np.zeros_like(grid)
    iod = float(np.linalg.norm(landmarks[33] - landmarks[263]))
    midline_x = float(landmarks[[1, 4, 6, 168]][:, 0].mean())
    moved_index = sorted(moves)
    fixed_index = [i for i in list(anchors) + list(_FIXED_LANDMARKS) if i not in moves]
    edge = np.linspace(0, PATCH_SIZE - 1, 5, dtype=np.float32)
    border = np.array([[x, y] for x in edge for y in edge
                       if x in (0, PATCH_SIZE - 1) or y in (0, PATCH_SIZE - 1)], dtype=np.float32)
    source = np.concatenate([landmarks[moved_index], landmarks[fixed_index], border]).astype(np.float32)
    offsets = np.zeros_like(source)
    for row, index in enumerate(moved_index):
        outward, down = moves[index]
        side = np.sign(landmarks[index, 0] - midline_x)
        offsets[row] = (outward * side * iod, down * iod)
    transformer = cv2.createThinPlateSplineShapeTransformer()
    matches = [cv2.DMatch(i, i, 0) for i in range(len(source))]
    # estimateTransformation(a, b) makes applyTransformation map a -> b: here pixel -> source pixel.
    transformer.estimateTransformation(source[None], (source - offsets)[None], matches)
    _, mapped = transformer.applyTransformation(grid.reshape(1, -1, 2))
    return (mapped.reshape(grid.shape) - grid).astype(np.float32)


def expression_envelope(t: float, spec: ClipSpec) -> float:
    """Onset-apex-offset timing: 0 before onset, smooth rise to apex, hold, smooth fall to 0."""
    def smooth(x: float) -> float:
        x = min(max(x, 0.0), 1.0)
        return x * x * (3 - 2 * x)

    rise = smooth((t - spec.onset_s) / max(spec.apex_s - spec.onset_s, 1e-6))
    fall = 1.0 - smooth((t - spec.offset_s) / max(spec.end_s - spec.offset_s, 1e-6))
    return spec.intensity * rise * fall


_WORKER_PHOTOS: dict[str, FacePhoto] = {}


def _init_worker_with_photos() -> None:
    _init_worker(prepare_face_photos())


def _init_worker(photos: dict[str, FacePhoto]) -> None:
    import cv2

    cv2.setNumThreads(1)
    _WORKER_PHOTOS.clear()
    _WORKER_PHOTOS.update(photos)
    _identity.cache_clear()
    _displacement.cache_clear()


@lru_cache(maxsize=8)
def _identity(photo: str, mirrored: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(patch, soft head mask [H,W,1] float32, landmarks) of one identity."""
    import cv2

    face = _WORKER_PHOTOS[photo]
    patch, landmarks = face.patch, face.landmarks.copy()
    if mirrored:
        patch = np.ascontiguousarray(patch[:, ::-1])
        landmarks[:, 0] = PATCH_SIZE - 1 - landmarks[:, 0]
    mask = np.zeros((PATCH_SIZE, PATCH_SIZE), np.float32)
    centre = landmarks[list(_face_oval_indices())].mean(axis=0)
    axes = (int(PATCH_IOD * 1.35), int(PATCH_IOD * 1.8))
    cv2.ellipse(mask, (int(centre[0]), int(centre[1] + 0.15 * PATCH_IOD)), axes, 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), PATCH_IOD * 0.12)
    return patch, mask[..., None], landmarks


@lru_cache(maxsize=32)
def _displacement(photo: str, mirrored: bool, expression: str) -> np.ndarray:
    _, _, landmarks = _identity(photo, mirrored)
    return expression_displacement(landmarks, expression, _face_oval_indices())


@lru_cache(maxsize=16)
def _background_photo(name: str) -> np.ndarray:
    import skimage.data

    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def _colour_identity(patch: np.ndarray, spec: ClipSpec) -> np.ndarray:
    import cv2

    hsv = cv2.cvtColor(patch, cv2.COLOR_RGB2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + spec.hue_shift) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * spec.saturation, 0, 255)
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32) / 255.0
    return (rgb ** spec.gamma * 255.0).astype(np.float32)


def _cluttered_background(spec: ClipSpec, rng: np.random.Generator) -> np.ndarray:
    import cv2

    photo = _background_photo(spec.background)
    h, w = photo.shape[:2]
    crop_h = int(min(h, w * spec.height / spec.width) * rng.uniform(0.5, 1.0))
    crop_w = int(crop_h * spec.width / spec.height)
    y0, x0 = int(rng.integers(0, h - crop_h + 1)), int(rng.integers(0, w - crop_w + 1))
    background = cv2.resize(photo[y0:y0 + crop_h, x0:x0 + crop_w], (spec.width, spec.height),
                            interpolation=cv2.INTER_AREA).astype(np.float32)
    shapes = background.copy()
    for _ in range(int(rng.integers(6, 16))):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        x, y = int(rng.integers(0, spec.width)), int(rng.integers(0, spec.height))
        size = int(rng.integers(8, max(9, spec.height // 4)))
        kind = int(rng.integers(3))
        if kind == 0:
            cv2.rectangle(shapes, (x, y), (x + size, y + int(size * rng.uniform(0.3, 2))), colour, -1)
        elif kind == 1:
            cv2.circle(shapes, (x, y), size // 2, colour, -1)
        else:
            cv2.line(shapes, (x, y), (int(rng.integers(0, spec.width)), int(rng.integers(0, spec.height))),
                     colour, int(rng.integers(1, 4)))
    return cv2.addWeighted(background, 0.45, shapes, 0.55, 0)


def face_placement(spec: ClipSpec, t: float) -> tuple[float, float, float, float]:
    """Where the face is at time ``t``: (rotation in degrees, scale of the face patch, x, y of the
    face centre in frame pixels). The inter-ocular distance in the frame is ``scale * PATCH_IOD``."""
    wave = 2 * np.pi * t
    angle = spec.rotation_deg * np.sin(spec.rotation_hz * wave + spec.phase)
    scale = spec.face_iod * spec.height / PATCH_IOD * (1 + spec.zoom * t / max(spec.duration_s, 1e-6))
    cx = spec.width * (spec.face_x + spec.shift_frac * np.sin(spec.shift_hz * wave + 2 * spec.phase))
    cy = spec.height * (spec.face_y + spec.shift_frac * np.cos(spec.shift_hz * wave + spec.phase))
    return angle, scale, cx, cy


def render_frames(spec: ClipSpec) -> Iterable[np.ndarray]:
    """The clip's RGB uint8 frames, one per 1/fps s."""
    import cv2

    rng = np.random.default_rng(spec.render_seed)
    patch, mask, landmarks = _identity(spec.photo, spec.mirrored)
    patch = _colour_identity(patch, spec)
    displacement = _displacement(spec.photo, spec.mirrored, spec.face_group)
    grid = np.stack(np.meshgrid(np.arange(PATCH_SIZE, dtype=np.float32),
                                np.arange(PATCH_SIZE, dtype=np.float32)), axis=-1)
    background = _cluttered_background(spec, rng)
    face_centre = landmarks[list(_face_oval_indices())].mean(axis=0)
    columns = np.linspace(-1.0, 1.0, spec.width, dtype=np.float32)
    side_light = (1.0 + spec.light_side * columns)[None, :, None]
    n_frames = max(1, int(round(spec.duration_s * spec.fps)))
    # Sensor noise from OpenCV's seeded thread-local RNG: 8x faster than numpy's normal, and
    # deterministic since each clip renders in one thread.
    cv2.setRNGSeed(spec.render_seed)
    noise = np.empty((spec.height, spec.width, 3), np.float32)
    for index in range(n_frames):
        t = index / spec.fps
        level = expression_envelope(t, spec)
        if level > 0:
            source = grid + level * displacement
            face = cv2.remap(patch, source[..., 0], source[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        else:
            face = patch
        angle, scale, cx, cy = face_placement(spec, t)
        matrix = cv2.getRotationMatrix2D((float(face_centre[0]), float(face_centre[1])), float(angle), float(scale))
        matrix[:, 2] += (cx - face_centre[0], cy - face_centre[1])
        size = (spec.width, spec.height)
        placed = cv2.warpAffine(face, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        alpha = cv2.warpAffine(mask, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[..., None]
        frame = placed * alpha + background * (1.0 - alpha)
        gain = spec.light_gain * (1.0 + spec.flicker * np.sin(2 * np.pi * 3.1 * t + spec.phase))
        frame = frame * (gain * side_light)
        if spec.blur_sigma > 0:
            frame = cv2.GaussianBlur(frame, (0, 0), spec.blur_sigma)
        cv2.randn(noise, 0.0, spec.noise_sigma)
        frame = frame + noise
        yield np.clip(frame, 0, 255).astype(np.uint8)


def synthesize_speech(spec: ClipSpec, workdir: Path) -> np.ndarray:
    """espeak-ng speech for the clip's words and prosody, float32 at ESPEAK_RATE."""
    import soundfile

    wav = workdir / f"{spec.clip_id}.speech.wav"
    command = ["espeak-ng", "-v", f"en-us+{spec.voice}", "-p", str(spec.pitch), "-s", str(spec.speed),
               "-a", str(spec.amplitude), "-g", str(spec.word_gap), "-z", "-w", str(wav), spec.words]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    speech, rate = soundfile.read(wav, dtype="float32")
    wav.unlink()
    if rate != ESPEAK_RATE:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz, expected {ESPEAK_RATE}")
    voiced = np.flatnonzero(np.abs(speech) > 1e-3)
    return speech[voiced[0]:voiced[-1] + 1] if len(voiced) else speech


def render_audio(spec: ClipSpec, speech: np.ndarray) -> np.ndarray:
    """Speech placed in a clip-long track with pink noise and hum, resampled to spec.audio_rate."""
    from scipy.signal import resample_poly

    rng = np.random.default_rng([spec.render_seed, 1])
    n = int(round(spec.duration_s * ESPEAK_RATE))
    start = int(spec.speech_start_s * ESPEAK_RATE)
    room = max(0, n - start - int(0.05 * ESPEAK_RATE))
    if len(speech) > room:
        speech = speech[:room].copy()
        fade = min(len(speech), int(0.05 * ESPEAK_RATE))
        speech[len(speech) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    track = np.zeros(n, np.float32)
    track[start:start + len(speech)] = speech
    spectrum = np.fft.rfft(rng.normal(size=n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    pink = np.fft.irfft(spectrum, n)
    pink *= spec.noise_rms / max(float(np.sqrt(np.mean(pink ** 2))), 1e-12)
    t = np.arange(n) / ESPEAK_RATE
    hum = spec.hum_rms * np.sqrt(2) * (np.sin(2 * np.pi * spec.hum_hz * t) + 0.3 * np.sin(6 * np.pi * spec.hum_hz * t))
    track = track + pink.astype(np.float32) + hum.astype(np.float32)
    divisor = gcd(spec.audio_rate, ESPEAK_RATE)
    resampled = resample_poly(track, spec.audio_rate // divisor, ESPEAK_RATE // divisor)
    return np.clip(resampled, -1.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class Encoding:
    """How :func:`write_clip` encodes a clip: container, video codec and its settings, audio codec."""

    container: str  # PyAV/FFmpeg format name: mp4, avi, flv
    video_codec: str
    audio_codec: str
    video_options: Mapping[str, str] = field(default_factory=dict)
    codec_tag: str = ""  # the video FourCC to write where the container stores one (AVI); "" = the codec's
    video_bit_rate: int = 0  # bits/s; 0 = the codec's default (x264 takes its crf from video_options)


# asm=0: x264's AVX-512 code reads memory it never wrote (measured: with it, 1 clip in 3 encoded
# differently from run to run; with MALLOC_PERTURB_ set, never), and its other SIMD paths are not
# bit-exact with the C code, so the corpus would differ between CPUs. The C encoder costs ~0.3 s
# more per clip and makes the corpus the same everywhere.
DEMO_ENCODING = Encoding("mp4", "libx264", "aac", {"crf": "23", "preset": "veryfast", "x264-params": "asm=0"})
# Mono samples per audio frame handed to the encoder (an MP3 frame's). AAC and MP3 encoders regroup
# them into their own frame size, so only PCM packets depend on it.
AUDIO_CHUNK = 1152


def write_clip(path: Path, frames: Iterable[np.ndarray], fps: int, width: int, height: int,
               audio: np.ndarray | None, audio_rate: int, encoding: Encoding = DEMO_ENCODING) -> None:
    """Encode RGB frames and mono float32 audio (None: a video-only file) into ``path`` with
    ``encoding`` (by default the demo corpus': H.264 + AAC in MP4), atomically."""
    import av

    with atomic_output(path, suffix=path.suffix) as tmp:
        with av.open(str(tmp), mode="w", format=encoding.container) as container:
            video = _video_stream(container, encoding, fps, width, height)
            sound = None if audio is None else container.add_stream(encoding.audio_codec, rate=audio_rate,
                                                                    layout="mono")
            for index, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = index
                container.mux(video.encode(frame))
            container.mux(video.encode())
            if sound is not None:
                _mux_audio(container, sound, audio, audio_rate)


def _video_stream(container: OutputContainer, encoding: Encoding, fps: int, width: int, height: int) -> VideoStream:
    video = container.add_stream(encoding.video_codec, rate=fps)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    if encoding.codec_tag:
        video.codec_context.codec_tag = encoding.codec_tag
    if encoding.video_options:
        video.options = dict(encoding.video_options)
    if encoding.video_bit_rate:
        video.codec_context.bit_rate = encoding.video_bit_rate
    video.codec_context.thread_count = 1
    return video


def _mux_audio(container: OutputContainer, sound: AudioStream, audio: np.ndarray, audio_rate: int) -> None:
    import av

    for offset in range(0, len(audio), AUDIO_CHUNK):
        block = av.AudioFrame.from_ndarray(audio[None, offset:offset + AUDIO_CHUNK], format="fltp", layout="mono")
        block.sample_rate = audio_rate
        block.pts = offset
        container.mux(sound.encode(block))
    container.mux(sound.encode())


def render_clip(spec: ClipSpec, out_dir: Path) -> str:
    """Render and write one clip; returns its clip_id."""
    with tempfile.TemporaryDirectory(prefix="avemotion_demo_") as workdir:
        speech = synthesize_speech(spec, Path(workdir))
    audio = render_audio(spec, speech)
    write_clip(out_dir / spec.path, render_frames(spec), spec.fps, spec.width, spec.height, audio, spec.audio_rate)
    return spec.clip_id


def _render_in_worker(spec: ClipSpec, out_dir: str) -> str:
    return render_clip(spec, Path(out_dir))


def generate_demo_corpus(out_dir: Path, seed: int, clips_per_class: dict[str, int],
                         duration_s: tuple[float, float], **options) -> Path:
    """Generate the demo corpus under ``out_dir`` and return the path of its ``clips.tsv``.

    Options: ``threads`` (worker processes, default 1), ``frame_sizes`` ([[w, h], ...]),
    ``frame_rates`` ([fps, ...]). clips.tsv is written last, so its presence means every clip exists.
    """
    threads = int(options.pop("threads", 1))
    frame_sizes = [tuple(size) for size in options.pop("frame_sizes", None) or DEFAULT_FRAME_SIZES]
    frame_rates = list(options.pop("frame_rates", None) or DEFAULT_FRAME_RATES)
    if options:
        raise TypeError(f"unknown demo corpus options: {sorted(options)}")
    if any(w % 2 or h % 2 for w, h in frame_sizes):
        raise ValueError(f"frame sizes must be even for H.264 4:2:0, got {frame_sizes}")
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    out_dir = Path(out_dir)
    specs = plan_demo_corpus(seed, clips_per_class, duration_s, frame_sizes, frame_rates)
    _remove_stale_clips(out_dir, {spec.path for spec in specs})
    log.info("demo corpus: %d clips, %d worker(s), into %s", len(specs), threads, out_dir)
    if threads <= 1:
        _init_worker(prepare_face_photos())
        for spec in specs:
            render_clip(spec, out_dir)
            log.info("wrote %s", spec.path)
    else:
        # Forked workers that run MediaPipe themselves: a child forked after the parent had run
        # MediaPipe can inherit a lock held by one of its threads and hang; spawned workers would
        # re-run the calling script (a Snakemake script has no main guard).
        with ProcessPoolExecutor(max_workers=threads, mp_context=get_context("fork"),
                                 initializer=_init_worker_with_photos) as pool:
            for clip_id in pool.map(_render_in_worker, specs, [str(out_dir)] * len(specs)):
                log.info("wrote %s", clip_id)
    write_tsv(out_dir / "parameters.tsv", [f.name for f in fields(ClipSpec)], [asdict(s) for s in specs])
    clips_tsv = out_dir / "clips.tsv"
    write_tsv(clips_tsv, CLIPS_COLUMNS, [asdict(s) for s in specs])
    return clips_tsv


def _remove_stale_clips(out_dir: Path, planned: set[str]) -> None:
    """Drop clips of an earlier, larger plan so the folder matches clips.tsv."""
    for split in SPLITS:
        for old in (out_dir / split).glob("*/demo_*.mp4") if (out_dir / split).is_dir() else ():
            if old.relative_to(out_dir).as_posix() not in planned:
                old.unlink()
