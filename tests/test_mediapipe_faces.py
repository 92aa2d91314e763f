"""Track A's second look: when MediaPipe's full-range model finds no face, the short-range
model looks again on a crop around the subject's last box (a turned face) and on the whole frame (a face
too near for the full-range model); faces are kept only where FaceMesh fits landmarks. Real photos
(skimage's astronaut, matplotlib's grace_hopper.jpg) placed on the cluttered canvases of test_faces."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from avemotion.config import load_config
from avemotion.faces import MediaPipeFaces
from avemotion.faces.subject import box_iou
from test_faces import CANVAS, PHOTOS, cluttered_background, place_photo

# the face box of the upright photos (MediaPipe full range on the whole photo, source pixels)
PHOTO_FACE_BOX = {"astronaut": (174.0, 68.0, 278.0, 172.0), "grace_hopper": (166.0, 128.0, 366.0, 329.0)}
# a detection of the face: PASCAL VOC's overlap criterion for a detection of an object
MATCH_IOU = 0.5
# the config's threshold: a detection scored below it is dropped
MIN_SCORE = load_config()["faces"]["min_detection_confidence"]


def scene(name: str, angle: float, face_height: float, center: tuple[float, float], squeeze: float = 1.0,
          seed: int = 3, radius: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A frame with the photo's face ``face_height`` px tall, rolled by ``angle`` degrees, its eye midpoint at
    ``center``; ``squeeze`` < 1 is a yaw proxy: the photo compressed horizontally to that fraction about
    the face's left edge. Returns the frame and the face's true box (bounding box of the moved corners)."""
    photo, eye_mid = PHOTOS[name]
    x0, y0, x1, y1 = PHOTO_FACE_BOX[name]
    squeeze_map = np.array([[squeeze, 0, x0 * (1 - squeeze)], [0, 1, 0]])
    squeezed = cv2.warpAffine(photo, squeeze_map, (photo.shape[1], photo.shape[0]), borderMode=cv2.BORDER_REPLICATE)
    eye = (squeeze * eye_mid[0] + squeeze_map[0, 2], eye_mid[1])
    scale = face_height / (y1 - y0)
    frame = place_photo(cluttered_background(seed), squeezed, eye, angle, scale, center,
                        radius if radius is not None else 1.6 * (y1 - y0))
    to_frame = cv2.getRotationMatrix2D(eye, angle, scale)
    to_frame[:, 2] += np.asarray(center) - np.asarray(eye)
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]])
    corners[:, 0] = squeeze * corners[:, 0] + squeeze_map[0, 2]
    moved = corners @ to_frame[:, :2].T + to_frame[:, 2]
    return frame, np.concatenate([moved.min(axis=0), moved.max(axis=0)])


@pytest.fixture(scope="module")
def analyzers():
    made = {"full_only": MediaPipeFaces(fallback=False), "fallback": MediaPipeFaces()}
    yield made
    for analyzer in made.values():
        analyzer.close()


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_frontal_face_is_the_full_range_models_answer(name, analyzers):
    """A face the full-range model finds: the same detections, no second look."""
    frame, truth = scene(name, 10.0, 150, (320, 230))
    full = analyzers["full_only"].detect(frame)
    both = analyzers["fallback"].detect(frame, near=truth)
    assert len(full) == 1 and box_iou(full[0].box, truth) > MATCH_IOU
    assert len(both) == 1 and np.array_equal(both[0].box, full[0].box) and both[0].score == full[0].score


@pytest.mark.parametrize("face_height", [150, 190])
def test_turned_face_found_around_the_last_box(face_height, analyzers):
    """The astronaut rolled 20 degrees, frontal in one frame, then turned (yaw proxy: face compressed to
    35 %): the full-range model misses the turned face; the short-range model on a crop around the frontal
    frame's box finds it (on the whole frame it does not)."""
    frontal, _ = scene("astronaut", 20.0, face_height, (320, 230))
    last = analyzers["fallback"].detect(frontal)
    assert len(last) == 1
    turned, truth = scene("astronaut", 20.0, face_height, (320, 230), squeeze=0.35)
    assert analyzers["full_only"].detect(turned) == []
    assert analyzers["fallback"].detect(turned) == []  # without the last box: not found
    found = analyzers["fallback"].detect(turned, near=last[0].box)
    assert len(found) == 1 and found[0].score >= MIN_SCORE
    # the truth box is the squeezed face's, 35 % as wide; a box of the face's height and its frontal
    # width around it (a detector's boxes keep a face's proportions) overlaps it by 0.35
    assert box_iou(found[0].box, truth) > 0.3
    landmarks = analyzers["fallback"].landmarks(turned, found[0])
    assert landmarks is not None
    eyes = landmarks.eye_corners.mean(axis=0)
    assert truth[0] < eyes[0] < truth[2] and truth[1] < eyes[1] < truth[3]


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_near_face_found_by_the_short_range_model(name, analyzers):
    """A face 540 px tall in a 640 x 480 frame is beyond the full-range model; the short-range model on
    the whole frame finds it, with or without a last box."""
    frame, truth = scene(name, -10.0, 540, (320, 200), seed=4, radius=400)
    assert analyzers["full_only"].detect(frame) == []
    for near in (None, truth + np.array([20.0, -10.0, 20.0, -10.0])):
        found = analyzers["fallback"].detect(frame, near=near)
        assert len(found) >= 1 and max(box_iou(d.box, truth) for d in found) > MATCH_IOU
        best = max(found, key=lambda d: box_iou(d.box, truth))
        assert best.score >= MIN_SCORE and analyzers["fallback"].landmarks(frame, best) is not None


def test_landmarks_of_a_second_look_face_equal_a_fresh_fit(analyzers):
    """detect() keeps the landmarks it fitted while checking a face; landmarks() returns exactly those."""
    frame, _ = scene("grace_hopper", 0.0, 540, (320, 200), seed=4, radius=400)
    analyzer = analyzers["fallback"]
    found = analyzer.detect(frame)
    kept = analyzer.landmarks(frame, found[0])
    fresh = analyzer.landmarks(frame.copy(), found[0])
    np.testing.assert_array_equal(kept.landmarks, fresh.landmarks)


def no_face_frames() -> dict[str, np.ndarray]:
    height, width = CANVAS
    return {
        "clutter": cluttered_background(11),
        "cat": cv2.resize(skimage.data.chelsea(), (width, height)),
        "cat_close": cv2.resize(skimage.data.chelsea()[50:250, 100:350], (width, height)),
        "coins": cv2.cvtColor(cv2.resize(skimage.data.coins(), (width, height)), cv2.COLOR_GRAY2RGB),
        "dark_clutter": (cluttered_background(12) * 0.2).astype(np.uint8),
    }


@pytest.mark.parametrize("name", sorted(no_face_frames()))
def test_no_face_frame_gives_no_detection(name, analyzers):
    """Frames without a human face, as if the subject had left: nothing, with or without a last box."""
    frame = no_face_frames()[name]
    for near in (None, np.array([260.0, 170.0, 380.0, 290.0]), np.array([170.0, 60.0, 470.0, 420.0])):
        assert analyzers["fallback"].detect(frame, near=near) == []
