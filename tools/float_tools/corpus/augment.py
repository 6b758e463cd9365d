"""Identity augmentation: one seeded new look of a portrait per clip (colour, light, scale, rotation, blur,
glasses), with the face layout moved exactly as the pixels.

A model that sees a face in one look learns that look; the same person under another white balance, light,
framing or with glasses is, for the renderer, a new identity. The geometry (scale and rotation about the face
centre) is one affine warp of a wider crop of the source image, so the portrait is resampled once and the
corners come from the photo, not from padding; the layout's points go through the same matrix, so the
renderer's tracks (eyes, mouth, face box) stay true. Neutral parameters return the usual crop unchanged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from float_tools.corpus.config import AugmentConfig, FaceLayout
from float_tools.corpus.portrait import Portrait, crop_portrait

__all__ = ["MARGIN", "AugmentParams", "augment_portrait", "clip_rng", "draw_params"]

MARGIN = 1.6
"""The wider crop the geometry is taken from, in usual crop sides: it holds the whole frame down to a zoom
of 0.71 at 8 deg or 0.77 at 15 deg (further out the wide crop's border is mirrored)."""
RNG_STREAM = 7
"""Stream number of the per-clip generator (the plan uses 1, 2, 4; the clip's pose/blink 3, noise 6)."""


@dataclass(frozen=True)
class AugmentParams:
    """One clip's look. ``gains``: RGB multipliers (white balance x brightness); ``light_strength``: ramp
    1 +- strength at the frame's edge along ``light_angle_deg`` (0 = brighter to the right, 90 = brighter
    down); ``glasses_grey``: rim level 0-255; ``glasses_tint``: lens darkening 0 (clear) to 1 (opaque)."""

    scale: float = 1.0
    rotation_deg: float = 0.0
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    light_angle_deg: float = 0.0
    light_strength: float = 0.0
    blur_sigma: float = 0.0
    glasses: bool = False
    glasses_grey: float = 30.0
    glasses_tint: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Rounded values for the clip's ground-truth JSON."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, tuple):
                out[key] = [round(float(v), 4) for v in value]
            elif isinstance(value, float):
                out[key] = round(value, 4)
            else:
                out[key] = value
        return out


def clip_rng(seed: int, index: int) -> np.random.Generator:
    """The augmentation's generator for clip ``index`` of a corpus with ``seed``."""
    return np.random.default_rng([seed, RNG_STREAM, index])


def draw_params(config: AugmentConfig, rng: np.random.Generator) -> AugmentParams:
    """Draw one look. Every value is always drawn, in a fixed order, so changing one strength never moves
    the draws of the others. Lenses are clear half the time, lightly tinted or dark (sunglasses) otherwise."""
    u = rng.uniform(size=13)
    channel = 1.0 + config.colour * (2.0 * u[0:3] - 1.0)
    level = 1.0 + config.brightness * (2.0 * u[3] - 1.0)
    low, high = config.scale
    blur_low, blur_high = config.blur_sigma
    tint = 0.0 if u[11] < 0.5 else (0.1 + 0.2 * u[12] if u[11] < 0.75 else 0.6 + 0.25 * u[12])
    return AugmentParams(
        scale=float(low + (high - low) * u[4]),
        rotation_deg=float(config.rotation_deg * (2.0 * u[5] - 1.0)),
        gains=(float(level * channel[0]), float(level * channel[1]), float(level * channel[2])),
        light_angle_deg=float(360.0 * u[6]),
        light_strength=float(config.lighting * u[7]),
        blur_sigma=float(blur_low + (blur_high - blur_low) * u[8]),
        glasses=bool(u[9] < config.glasses),
        glasses_grey=float(10.0 + 70.0 * u[10]),
        glasses_tint=float(tint),
    )


def _geometry(
    image: np.ndarray, layout: FaceLayout, resolution: int, params: AugmentParams, source: str
) -> Portrait:
    """The usual crop, zoomed by ``scale`` and turned by ``rotation_deg`` (counter-clockwise on screen)
    about its centre (the face centre), resampled once from a wider crop of the source."""
    if params.scale == 1.0 and params.rotation_deg == 0.0:
        return crop_portrait(image, layout, resolution, source=source)
    wide_size = math.ceil(resolution * MARGIN)
    wide = crop_portrait(image, layout, wide_size, source=source, margin=MARGIN)
    # wide pixels per usual-crop pixel is wide_size / (resolution * MARGIN); undo it, then zoom and turn
    zoom = params.scale * resolution * MARGIN / wide_size
    matrix = cv2.getRotationMatrix2D((wide_size / 2, wide_size / 2), params.rotation_deg, zoom)
    matrix[:, 2] += resolution / 2 - wide_size / 2
    pixels = cv2.warpAffine(
        wide.image, matrix, (resolution, resolution), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
    )

    def f(p: tuple[float, float]) -> tuple[float, float]:
        q = matrix @ np.array([p[0], p[1], 1.0])
        return (float(q[0]), float(q[1]))

    w = wide.layout
    moved = FaceLayout(
        left_eye=f(w.left_eye), right_eye=f(w.right_eye), mouth=f(w.mouth), mouth_width=w.mouth_width * zoom
    )
    return Portrait(image=np.ascontiguousarray(pixels), layout=moved, source=source)


def _glasses(image: np.ndarray, layout: FaceLayout, params: AugmentParams) -> np.ndarray:
    """Rims, bridge and temples around both eyes (float32 RGB in and out); lenses darkened by the tint.

    Sizes follow the eye distance (lens half-width 0.3, half-height 0.22 of it, rim 0.05) and the eye
    line's angle, so the occluder sits on any face the way real frames do."""
    size = image.shape[0]
    iod = layout.eye_distance
    (lx, ly), (rx, ry) = layout.left_eye, layout.right_eye
    ex, ey = (rx - lx) / iod, (ry - ly) / iod  # along the eye line
    nx, ny = -ey, ex  # towards the mouth
    angle = math.degrees(math.atan2(ey, ex))
    half_w, half_h, drop = 0.3 * iod, 0.22 * iod, 0.05 * iod
    shift = 4  # cv2 sub-pixel drawing: coordinates in 1/16 px
    one = 1 << shift

    def pt(x: float, y: float) -> tuple[int, int]:
        return (round(x * one), round(y * one))

    rim = np.zeros((size, size), np.uint8)
    lens = np.zeros((size, size), np.uint8)
    thick = max(1, round(0.05 * iod))
    axes = (round(half_w * one), round(half_h * one))
    centres = [(x + drop * nx, y + drop * ny) for x, y in ((lx, ly), (rx, ry))]
    for cx, cy in centres:
        cv2.ellipse(lens, pt(cx, cy), axes, angle, 0, 360, 255, -1, cv2.LINE_AA, shift)
        cv2.ellipse(rim, pt(cx, cy), axes, angle, 0, 360, 255, thick, cv2.LINE_AA, shift)
    (ax, ay), (bx, by) = centres
    lift = 0.35 * half_h
    bridge = (pt(ax + half_w * ex - lift * nx, ay + half_w * ey - lift * ny),
              pt(bx - half_w * ex - lift * nx, by - half_w * ey - lift * ny))  # fmt: skip
    cv2.line(rim, *bridge, 255, thick, cv2.LINE_AA, shift)
    reach = 0.35 * iod
    for cx, cy, sign in ((ax, ay, -1.0), (bx, by, 1.0)):
        start = (cx + sign * half_w * ex - lift * nx, cy + sign * half_w * ey - lift * ny)
        end = (start[0] + sign * reach * ex, start[1] + sign * reach * ey)
        cv2.line(rim, pt(*start), pt(*end), 255, thick, cv2.LINE_AA, shift)
    tint = params.glasses_tint * (lens.astype(np.float32) / 255.0)[..., None]
    out = image * (1.0 - tint) + 12.0 * tint
    alpha = (rim.astype(np.float32) / 255.0)[..., None]
    return out * (1.0 - alpha) + params.glasses_grey * alpha


def _photometric(image: np.ndarray, layout: FaceLayout, params: AugmentParams) -> np.ndarray:
    """Glasses, then light ramp x channel gains (they light the glasses too), then blur; uint8 in and out."""
    neutral = params.gains == (1.0, 1.0, 1.0) and params.light_strength == 0.0 and params.blur_sigma == 0.0
    if neutral and not params.glasses:
        return image
    frame = image.astype(np.float32)
    if params.glasses:
        frame = _glasses(frame, layout, params)
    size = image.shape[0]
    if params.light_strength > 0.0:
        theta = math.radians(params.light_angle_deg)
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        toward = ((xs - size / 2) * math.cos(theta) + (ys - size / 2) * math.sin(theta)) / (size / 2)
        frame = frame * np.clip(1.0 + params.light_strength * toward, 0.0, None)[..., None]
    frame = frame * np.asarray(params.gains, dtype=np.float32)
    if params.blur_sigma > 0.0:
        frame = cv2.GaussianBlur(frame, (0, 0), params.blur_sigma, borderType=cv2.BORDER_REFLECT_101)
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def augment_portrait(
    image: np.ndarray, layout: FaceLayout, resolution: int, params: AugmentParams, source: str = ""
) -> Portrait:
    """The corpus portrait of ``image`` (uint8 RGB [H, W, 3], face at ``layout``) in the look ``params``:
    uint8 [R, R, 3] with its layout in those pixels. ``AugmentParams()`` gives ``crop_portrait``'s bytes."""
    portrait = _geometry(image, layout, resolution, params, source)
    pixels = _photometric(portrait.image, portrait.layout, params)
    return Portrait(image=pixels, layout=portrait.layout, source=source)
