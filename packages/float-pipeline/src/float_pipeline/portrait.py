"""The portrait side of the pipeline: read the image, find the square region to animate, composite back.

Both ``crop`` modes give a :class:`float_data.CropBox` in original pixels, so rendering and paste-back share
one geometry: with a face crop the box is the official 1.6x square around the detected face, and where that
square runs past the image the missing part mirrors the image's border (:func:`crop_reflected`: the model
never saw black bars); without one (``--no-crop``) it is the smallest square centred on the image that
contains it, so the image is padded (black), never stretched.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from float_data import CropBox, FaceDetector, crop_box_from_face, crop_face, make_detector, stable_face_box
from float_pipeline.errors import ImageError, NoFaceError
from float_pipeline.official_crop import (
    OFFICIAL_SCORE,
    SFD_FILE,
    default_detector_weights_dir,
    official_crop,
    official_face_box,
)

ImageInput = str | Path | Image.Image | np.ndarray


@dataclass(frozen=True)
class Portrait:
    """A prepared portrait.

    Attributes:
        original: uint8 RGB [H, W, 3], the image as given.
        crop: uint8 RGB [S, S, 3], the square the auto-encoder animates (S = bundle resolution).
        box: where ``crop`` sits in ``original`` (source pixels; may extend past the border).
        detector: name of the face detector that placed ``box`` (None without a face crop).
        note: what the user should know about the crop (e.g. the official rule without its detector).
    """

    original: np.ndarray
    crop: np.ndarray
    box: CropBox
    detector: str | None = None
    note: str | None = None


def _describe(image: ImageInput) -> str:
    return str(image) if isinstance(image, str | Path) else f"the {type(image).__name__} image"


def _upright_rgb(opened: Image.Image) -> np.ndarray:
    # Phones store the sensor's orientation in EXIF (tag 0x0112) rather than rotating the pixels; every
    # viewer (and Gradio's upload) applies it, so the portrait must be turned the same way before the face
    # detector and the crop see it.
    return np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))


def load_image(image: ImageInput) -> np.ndarray:
    """A path, PIL image or uint8 array -> uint8 RGB [H, W, 3] (alpha dropped, greyscale expanded, EXIF
    orientation applied).

    Raises:
        ImageError: missing or unreadable file, an image too large to decode safely, or an array that is not
            an image.
    """
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4) or array.dtype != np.uint8:
            raise ImageError(
                f"image array must be uint8 RGB [H, W, 3], got {array.dtype} {tuple(image.shape)}; "
                "convert it with np.asarray(pil_image.convert('RGB'))"
            )
        return np.ascontiguousarray(array[:, :, :3])
    if isinstance(image, Image.Image):
        return _upright_rgb(image)
    path = Path(image)
    if not path.is_file():
        raise ImageError(f"image not found: {path}; check the path (--image)")
    try:
        with Image.open(path) as opened:
            return _upright_rgb(opened)
    except Image.DecompressionBombError as error:
        # PIL refuses images over 2 x Image.MAX_IMAGE_PIXELS before decoding them (a 20000 x 20000 PNG of a
        # few kB would need 1.2 GB as RGB): a portrait never needs that many pixels.
        raise ImageError(
            f"{path} is too large to read safely ({error}); downscale it (a portrait needs no more than a "
            "few megapixels) and pass it again (--image)"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageError(
            f"{path} is not a readable image ({error}); pass a PNG, JPEG or WebP portrait (--image)"
        ) from error


def crop_reflected(image: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    """``box`` cut from ``image`` (uint8 RGB [H, W, 3]) and resized: uint8 [size, size, 3], like
    ``float_data.crop_face`` but with the part of the square past the image filled by mirroring the image
    at its border (numpy's ``symmetric`` padding, repeated when the overhang is wider than the image).

    A face near an image edge gets its 1.6x square padded with hair, shoulders or background that continue
    the picture, not with the black band the auto-encoder never saw
    in training. A box inside the image gives exactly ``crop_face``'s pixels.
    """
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box.as_xyxy()
    before_y, after_y = max(0, -y0), max(0, y1 - height)
    before_x, after_x = max(0, -x0), max(0, x1 - width)
    if not (before_y or after_y or before_x or after_x):
        return crop_face(image, box, size)
    padded = np.pad(image, ((before_y, after_y), (before_x, after_x), (0, 0)), mode="symmetric")
    shifted = CropBox(cx=box.cx + before_x, cy=box.cy + before_y, half=box.half)
    return crop_face(padded, shifted, size)


def padded_square_box(height: int, width: int) -> CropBox:
    """The smallest square centred on an [H, W] image that contains all of it (``--no-crop``)."""
    return CropBox(cx=width / 2, cy=height / 2, half=math.ceil(max(height, width) / 2))


@functools.lru_cache(maxsize=4)
def cached_detector(name: str, weights_dir: str | None) -> FaceDetector:
    """Build a detector once per (name, weights) per process: dlib's model load takes seconds."""
    return make_detector(name, weights_dir=weights_dir, landmarks=False)


def face_box(
    image: np.ndarray,
    *,
    detector: str = "dlib",
    weights_dir: str | None = None,
    scale: float = 1.6,
    phases: int = 1,
    source: str = "the portrait",
) -> CropBox:
    """The official crop square around the most confident face of ``image`` (uint8 RGB [H, W, 3]).

    ``scale`` is the crop half-side over the face half-size; ``phases`` > 1 averages the face box over that
    many detection heights (``float_data.stable_face_box``), so the crop does not jump with dlib's 1.2x
    image pyramid.

    Raises:
        NoFaceError: no face found (the message suggests ``--no-crop``).
    """
    found = stable_face_box(cached_detector(detector, weights_dir), image, phases=phases)
    if found is None:
        raise NoFaceError(
            f"no face found in {source} by the {detector} detector: pass --no-crop (crop=False) to animate "
            "the whole image padded to a square, or use an image with a visible frontal face"
        )
    return crop_box_from_face(found, scale=scale)


def prepare_portrait(
    image: ImageInput,
    size: int,
    *,
    crop: bool = True,
    detector: str = "dlib",
    weights_dir: str | None = None,
    scale: float = 1.6,
    phases: int = 1,
    rule: str = "kit",
) -> Portrait:
    """Read ``image`` and cut the [size, size] square to animate (face crop, or the whole image padded);
    ``scale`` and ``phases`` as in :func:`face_box`. ``rule="official"`` crops as the official release
    (:mod:`float_pipeline.official_crop`; ``phases`` unused) and notes when the detector is not its SFD."""
    original = load_image(image)
    height, width = original.shape[:2]
    if crop and rule == "official":
        return _official_portrait(original, size, detector, weights_dir, scale, _describe(image))
    if crop:
        box = face_box(
            original,
            detector=detector,
            weights_dir=weights_dir,
            scale=scale,
            phases=phases,
            source=_describe(image),
        )
    else:
        box = padded_square_box(height, width)
    used = cached_detector(detector, weights_dir).name if crop else None
    pixels = crop_reflected(original, box, size) if crop else crop_face(original, box, size)
    return Portrait(original=original, crop=pixels, box=box, detector=used)


def _official_portrait(
    original: np.ndarray, size: int, detector: str, weights_dir: str | None, scale: float, source: str
) -> Portrait:
    found = cached_detector(detector, weights_dir)
    sfd = found.name == "face-alignment"
    box = official_face_box(found, original, min_score=OFFICIAL_SCORE if sfd else None, scale=scale)
    if box is None:
        raise NoFaceError(
            f"no face found in {source} by the {found.name} detector"
            + (f" (score > {OFFICIAL_SCORE})" if sfd else "")
            + ": pass --no-crop (crop=False) to animate the whole image padded to a square"
        )
    note = None
    if not sfd:
        note = (
            f"official crop rule, but the face was found by {found.name} (face-alignment's SFD weights "
            f"{SFD_FILE} not found in {weights_dir or default_detector_weights_dir()}): the crop can differ "
            "from the official one; pass --detector-weights DIR holding that file"
        )
    return Portrait(original, official_crop(original, box, size), box, detector=found.name, note=note)


def feather_mask(box: CropBox, height: int, width: int, feather: float = 0.1) -> np.ndarray:
    """float32 [side, side] blend weights of a pasted square: 1 inside, linear ramps to 0 at its edges.

    Only edges that lie inside the [H, W] frame are feathered (an edge on or past the border has nothing to
    blend with), so a ``--no-crop`` box covering the whole frame gets a mask of ones. ``feather`` is the ramp
    width as a fraction of the side.
    """
    side = box.side
    ramp = max(1, round(feather * side))
    x0, y0, x1, y1 = box.as_xyxy()

    def axis(start: int, stop: int, limit: int) -> np.ndarray:
        position = np.arange(side, dtype=np.float32)
        weight = np.ones(side, dtype=np.float32)
        if start > 0:  # the low edge is inside the frame
            weight = np.minimum(weight, (position + 0.5) / ramp)
        if stop < limit:  # the high edge is inside the frame
            weight = np.minimum(weight, (side - position - 0.5) / ramp)
        return np.clip(weight, 0.0, 1.0)

    return np.minimum(axis(y0, y1, height)[:, None], axis(x0, x1, width)[None, :])


class PasteBack:
    """Composites generated crops into the original image with a feathered mask (built once per clip)."""

    def __init__(self, original: np.ndarray, box: CropBox, feather: float = 0.1) -> None:
        self.original = original
        self.box = box
        height, width = original.shape[:2]
        x0, y0, x1, y1 = box.as_xyxy()
        # The part of the box inside the frame, in frame and in box coordinates.
        self._frame = (max(y0, 0), min(y1, height), max(x0, 0), min(x1, width))
        self._inner = (self._frame[0] - y0, self._frame[1] - y0, self._frame[2] - x0, self._frame[3] - x0)
        fy0, fy1, fx0, fx1 = self._frame
        iy0, iy1, ix0, ix1 = self._inner
        self._mask = feather_mask(box, height, width, feather)[iy0:iy1, ix0:ix1, None]
        self._background = original[fy0:fy1, fx0:fx1].astype(np.float32) * (1.0 - self._mask)

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        """uint8 [S, S, 3] generated crop -> uint8 [H, W, 3] frame at the original resolution."""
        import cv2

        side = self.box.side
        patch = crop
        if patch.shape[0] != side:
            interpolation = cv2.INTER_AREA if patch.shape[0] > side else cv2.INTER_CUBIC
            patch = cv2.resize(patch, (side, side), interpolation=interpolation)
        fy0, fy1, fx0, fx1 = self._frame
        iy0, iy1, ix0, ix1 = self._inner
        out = self.original.copy()
        blended = patch[iy0:iy1, ix0:ix1].astype(np.float32) * self._mask + self._background
        out[fy0:fy1, fx0:fx1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        return out
