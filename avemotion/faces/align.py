"""Alignment (paper 2.1): a 2D similarity transform maps the eye corners of every face to the same
positions of the crop."""
from __future__ import annotations

import numpy as np

# not paper: eye-corner template, as fractions of the crop side, in image order (left to right):
# outer and inner corner of the eye on the image's left, inner and outer corner of the other eye.
# Outer-to-outer spans 42 % of the crop, eyes at 40 % height: the crop holds brows to chin.
EYE_CORNER_TEMPLATE: np.ndarray = np.array(
    [[0.29, 0.40], [0.43, 0.40], [0.57, 0.40], [0.71, 0.40]], dtype=np.float64
)


def eye_corner_template(size: int) -> np.ndarray:
    """The four target eye-corner positions (pixels, float [4, 2]) in a ``size`` x ``size`` crop."""
    return EYE_CORNER_TEMPLATE * float(size)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``source`` points onto
    ``target`` points (closed form, Umeyama without reflection); returns the 2 x 3 matrix."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_mean, target - target_mean
    # complex-number form: target ~ a * source with a = scale * exp(i * angle)
    sc = s[:, 0] + 1j * s[:, 1]
    tc = t[:, 0] + 1j * t[:, 1]
    a = np.vdot(sc, tc) / max(np.vdot(sc, sc).real, 1e-12)
    rotation_scale = np.array([[a.real, -a.imag], [a.imag, a.real]])
    translation = target_mean - rotation_scale @ source_mean
    return np.hstack([rotation_scale, translation[:, None]])


def align_face(rgb: np.ndarray, eye_corners: np.ndarray, size: int) -> np.ndarray:
    """Warp ``rgb`` so that the four eye corners land on :func:`eye_corner_template`; uint8 [S, S, 3]."""
    import cv2

    matrix = similarity_transform(eye_corners, eye_corner_template(size))
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def image_order(corners: np.ndarray) -> np.ndarray:
    """Order the two eyes left to right in the image (a face seen upside down or mirrored by a
    detector's convention still maps onto the template consistently)."""
    first, second = corners[:2], corners[2:]
    if first.mean(axis=0)[0] > second.mean(axis=0)[0]:
        first, second = second[::-1], first[::-1]
    return np.vstack([first, second])


def square_crop(rgb: np.ndarray, center: tuple[float, float], side: float, pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``pixels``-square crop of side ``side`` source pixels around ``center`` (black outside the frame)
    and the 2 x 3 affine map from source to crop pixels."""
    import cv2

    scale = pixels / max(side, 1.0)
    to_crop = np.array([[scale, 0, pixels / 2 - scale * center[0]], [0, scale, pixels / 2 - scale * center[1]]])
    crop = cv2.warpAffine(rgb, to_crop, (pixels, pixels), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)
    return crop, to_crop
