"""The official face-crop rule, generalised: square crop around a face box, black padding, fixed output size.

Official FLOAT inference: square crop centred on the detected box with half-side
``int(1.6 * max(box_w / 2, box_h / 2))``, zero (black) padding where the square leaves the image, resized to
512x512 (area filter when shrinking, bicubic when enlarging). ``scale`` and ``size`` are parameters here.
The :class:`CropBox` is kept with every frame so an app can paste generated frames back (:func:`paste_back`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch


@dataclass(frozen=True)
class CropBox:
    """A square region of a source frame, in source pixels: centre (``cx``, ``cy``) and integer ``half`` side.

    The region is columns ``[x0, x0 + side)`` and rows ``[y0, y0 + side)`` with ``x0 = round(cx) - half``;
    it may extend past the frame (those pixels are black in the crop).
    """

    cx: float
    cy: float
    half: int

    @property
    def side(self) -> int:
        return 2 * self.half

    @property
    def x0(self) -> int:
        return round(self.cx) - self.half

    @property
    def y0(self) -> int:
        return round(self.cy) - self.half

    def as_xyxy(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) in source pixels, x1/y1 exclusive."""
        return (self.x0, self.y0, self.x0 + self.side, self.y0 + self.side)

    def to_list(self) -> list[float]:
        return [float(self.cx), float(self.cy), float(self.half)]

    @classmethod
    def from_list(cls, values: list[float] | tuple[float, ...]) -> CropBox:
        return cls(float(values[0]), float(values[1]), int(values[2]))


def crop_box_from_face(face_box: tuple[float, float, float, float], scale: float = 1.6) -> CropBox:
    """The official rule: square centred on ``face_box`` (x0, y0, x1, y1) with half-side ``int(scale * r)``.

    ``r = max(width / 2, height / 2)`` of the face box; ``scale = 1.6`` is the official value.
    """
    x0, y0, x1, y1 = (float(v) for v in face_box)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"face_box must have x1 > x0 and y1 > y0, got {face_box}")
    half = max(1, int(scale * max((x1 - x0) / 2, (y1 - y0) / 2)))
    return CropBox(cx=(x0 + x1) / 2, cy=(y0 + y1) / 2, half=half)


def crop_region(image: np.ndarray, box: CropBox) -> np.ndarray:
    """The square ``box`` cut from ``image`` [H, W, C], black where it leaves the frame: [side, side, C]."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box.as_xyxy()
    out = np.zeros((box.side, box.side, *image.shape[2:]), dtype=image.dtype)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a square image to ``size`` x ``size``: area filter when shrinking, bicubic when enlarging."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    interpolation = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interpolation)


def crop_face(image: np.ndarray, box: CropBox, size: int = 512) -> np.ndarray:
    """Crop ``box`` from ``image`` (uint8 RGB [H, W, 3]) and resize it: uint8 [size, size, 3]."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be RGB [H, W, 3], got shape {tuple(image.shape)}")
    return resize_square(crop_region(image, box), size)


def paste_back(frame: np.ndarray, crop: np.ndarray, box: CropBox) -> np.ndarray:
    """Put a (generated) ``crop`` [S, S, 3] back into a copy of ``frame`` [H, W, 3] where ``box`` was cut.

    The crop is resized to the box side; parts of the box outside the frame are dropped.
    """
    height, width = frame.shape[:2]
    patch = crop
    if patch.shape[0] != box.side:
        interpolation = cv2.INTER_AREA if patch.shape[0] > box.side else cv2.INTER_CUBIC
        patch = cv2.resize(patch, (box.side, box.side), interpolation=interpolation)
    out = frame.copy()
    x0, y0, x1, y1 = box.as_xyxy()
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0:sy1, sx0:sx1] = patch[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
    return out


def to_model_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 RGB [H, W, 3] or [B, H, W, 3] -> float32 [3, H, W] or [B, 3, H, W] in [-1, 1] (x / 127.5 - 1)."""
    # decoded PIL/Arrow buffers can be read-only; np.require copies only then
    tensor = torch.from_numpy(np.require(images, np.uint8, ["C", "W"])).float().div(127.5).sub(1.0)
    return tensor.permute(2, 0, 1) if tensor.ndim == 3 else tensor.permute(0, 3, 1, 2)
