"""Render a talking frame from one portrait: lip/jaw warp with a dark mouth opening, eyelid warp, head pose.

All warps are backward maps (output pixel -> where to sample the portrait), smooth and monotonic along
each column so nothing folds. The local face warps are built on the canonical (rest pose) grid as
displacement fields; the head pose is a similarity warp about the face centre composed on top, so the
portrait is resampled once per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from float_tools.corpus.config import FaceLayout
from float_tools.corpus.portrait import Portrait

UPPER_LIP_SHARE = 0.3
"""Part of the lip gap made by lifting the upper lip; the jaw and lower lip make the rest."""
MOUTH_INTERIOR_EDGE = np.array([110.0, 40.0, 42.0], dtype=np.float32)
MOUTH_INTERIOR_CORE = np.array([22.0, 6.0, 8.0], dtype=np.float32)
"""RGB of the mouth opening at its rim and in its middle: dark enough for any landmark detector to see."""


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class FrameLandmarks:
    """Ground-truth positions in one output frame (pixels, x right, y down).

    ``mouth`` is the centre of the lip gap, ``mouth_gap_px`` its height at the middle, ``mouth_box``
    (x0, y0, x1, y1) a box holding lips and jaw-drop area at any opening, ``face_box`` (x0, y0, x1, y1) a
    square-ish box like a face detector's (2.3 x eye-to-mouth distance around the face centre).
    """

    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    mouth: tuple[float, float]
    mouth_gap_px: float
    mouth_box: tuple[float, float, float, float]
    face_box: tuple[float, float, float, float]


FACE_BOX_PER_EYE_MOUTH = 2.3
"""Side of ``face_box`` in eye-to-mouth distances (what the LBP detector reports on the astronaut)."""


class FaceRenderer:
    """Render frames of one portrait for given mouth opening, eyelid closure and head pose.

    ``max_opening`` is the lip gap at opening 1, as a fraction of the mouth width.
    """

    def __init__(self, portrait: Portrait, max_opening: float = 0.4) -> None:
        self.portrait = portrait
        self.layout: FaceLayout = portrait.layout
        self.max_gap = max_opening * self.layout.mouth_width
        size = portrait.image.shape[0]
        self.size = size
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        self._xs, self._ys = xs, ys
        ex, ey = self.layout.eye_centre
        self.centre = (0.5 * (ex + self.layout.mouth[0]), 0.5 * (ey + self.layout.mouth[1]))
        self.chin_y = self.layout.mouth[1] + 0.6 * self.layout.eye_mouth_distance

    # ----- local warps on the canonical grid -------------------------------------------------------------
    def _mouth_warp(self, opening: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vertical source offset, mouth-interior alpha, cavity depth ([R, R] each) for ``opening`` in [0, 1].

        Depth is 0 at the lips and 1 in the middle of the opening (it only shades the interior colour).
        """
        L = self.layout
        mx, my, mw = L.mouth[0], L.mouth[1], L.mouth_width
        x, y = self._xs, self._ys
        gap = float(np.clip(opening, 0.0, 1.0)) * self.max_gap
        # Column profiles: the lip gap is an ellipse-like lens; the jaw drop spans a wider, softer band.
        t = (x - mx) / (0.45 * mw)
        lens = np.clip(1.0 - t * t, 0.0, 1.0) ** 0.6
        jaw = 0.5 * (1.0 + np.cos(np.pi * np.clip((x - mx) / (1.1 * mw), -1.0, 1.0)))
        d_up = UPPER_LIP_SHARE * gap * lens
        y_up = my - d_up
        y_lo = my + (1.0 - UPPER_LIP_SHARE) * gap * lens
        reach_up = 0.45 * mw
        chin_span = max(self.chin_y - my, 2.0)
        # Above the gap: the upper lip lifts, fading out towards the nose.
        f_up = _smoothstep((y - (my - reach_up)) / np.maximum(y_up - (my - reach_up), 1e-3))
        src_up = y + d_up * f_up
        # Below the gap: lower lip and jaw drop, the drop widening from the lip lens to the jaw band and
        # fading out under the chin (the neck is compressed, never torn).
        blend = _smoothstep((y - y_lo) / (0.5 * chin_span))
        drop = (1.0 - UPPER_LIP_SHARE) * gap * (lens * (1.0 - blend) + jaw * blend)
        fade = 1.0 - _smoothstep((y - self.chin_y) / (0.8 * chin_span))
        src_lo = y - drop * fade
        inside = (y > y_up) & (y < y_lo)
        src_gap = np.full_like(y, my)
        src_y = np.where(y <= y_up, src_up, np.where(inside, src_gap, src_lo))
        src_y = np.maximum.accumulate(src_y, axis=0)
        # Alpha = how much of each pixel row [y - 0.5, y + 0.5] the gap covers: exact antialiasing, and
        # exactly 0 for a closed mouth.
        alpha = np.clip(np.minimum(y + 0.5, y_lo) - np.maximum(y - 0.5, y_up), 0.0, 1.0)
        rel = np.clip((y - y_up) / np.maximum(y_lo - y_up, 1e-3), 0.0, 1.0)
        depth = 4.0 * rel * (1.0 - rel) * lens
        return src_y - y, alpha.astype(np.float32), depth.astype(np.float32)

    def _eye_warp(self, closure: float) -> tuple[np.ndarray, np.ndarray]:
        """Vertical source offset [R, R] and lash-line darkness [R, R] for eyelid ``closure`` in [0, 1]."""
        L = self.layout
        iod = L.eye_distance
        x, y = self._xs, self._ys
        offset = np.zeros_like(y)
        lash = np.zeros_like(y)
        c = float(np.clip(closure, 0.0, 1.0))
        if c <= 0.0:
            return offset, lash
        half_w, half_h, reach = 0.2 * iod, 0.09 * iod, 0.22 * iod
        for px, py in (L.left_eye, L.right_eye):
            band = 0.5 * (1.0 + np.cos(np.pi * np.clip((x - px) / (1.3 * half_w), -1.0, 1.0)))
            travel = 2.0 * half_h * c * band
            top, bottom = py - half_h, py + half_h
            y_lid = top + travel
            # Above the lid edge the skin slides down over the eye; below it the eye is squeezed.
            src_above = y - travel * _smoothstep((y - (top - reach)) / (reach + travel + 1e-6))
            squeeze = 2.0 * half_h / np.maximum(2.0 * half_h - travel, 1e-3)
            src_below = top + (y - y_lid) * squeeze
            src = np.where(y < y_lid, src_above, np.where(y <= bottom, src_below, y))
            offset += np.where(band > 0, src - y, 0.0)
            sigma = max(0.03 * iod, 0.6)
            narrow = np.clip(1.0 - ((x - px) / half_w) ** 2, 0.0, 1.0)
            lash = np.maximum(lash, c * narrow * np.exp(-(((y - y_lid) / sigma) ** 2)))
        return offset, lash.astype(np.float32)

    # ----- pose ------------------------------------------------------------------------------------------
    def _pose_matrix(self, roll_deg: float, shift: tuple[float, float], scale: float) -> np.ndarray:
        """2x3 forward similarity (canonical -> output pixels)."""
        th = np.deg2rad(roll_deg)
        c, s = np.cos(th) * scale, np.sin(th) * scale
        cx, cy = self.centre
        # y points down, so [[c, s], [-s, c]] turns the face counter-clockwise on screen for roll > 0.
        return np.array(
            [[c, s, cx + shift[0] - c * cx - s * cy], [-s, c, cy + shift[1] + s * cx - c * cy]],
            dtype=np.float64,
        )

    def landmarks(
        self, opening: float, roll_deg: float, shift: tuple[float, float], scale: float
    ) -> FrameLandmarks:
        """Ground-truth landmark positions in the output frame for these motion values."""
        M = self._pose_matrix(roll_deg, shift, scale)
        L = self.layout

        def f(p: tuple[float, float]) -> tuple[float, float]:
            q = M @ np.array([p[0], p[1], 1.0])
            return (float(q[0]), float(q[1]))

        gap = float(np.clip(opening, 0.0, 1.0)) * self.max_gap
        mx, my, mw = L.mouth[0], L.mouth[1], L.mouth_width
        centre = f((mx, my + (0.5 - UPPER_LIP_SHARE) * gap))
        corners = [
            f((mx + dx, my + dy))
            for dx in (-0.7 * mw, 0.7 * mw)
            for dy in (-0.35 * mw, self.max_gap + 0.35 * mw)
        ]
        xs_, ys_ = [p[0] for p in corners], [p[1] for p in corners]
        half = 0.5 * FACE_BOX_PER_EYE_MOUTH * L.eye_mouth_distance
        cx, cy = self.centre
        face = [f((cx + dx, cy + dy)) for dx in (-half, half) for dy in (-half, half)]
        fx, fy = [p[0] for p in face], [p[1] for p in face]
        return FrameLandmarks(
            left_eye=f(L.left_eye),
            right_eye=f(L.right_eye),
            mouth=centre,
            mouth_gap_px=gap * scale,
            mouth_box=(min(xs_), min(ys_), max(xs_), max(ys_)),
            face_box=(min(fx), min(fy), max(fx), max(fy)),
        )

    def render(
        self, opening: float, closure: float, roll_deg: float, shift: tuple[float, float], scale: float
    ) -> np.ndarray:
        """One frame, uint8 RGB [R, R, 3].

        ``opening`` and ``closure`` in [0, 1]; ``roll_deg`` degrees; ``shift`` (x, y) output pixels;
        ``scale`` relative size (1 = rest).
        """
        mouth_dy, interior, depth = self._mouth_warp(opening)
        eye_dy, lash = self._eye_warp(closure)
        local_dy = mouth_dy + eye_dy
        inverse = cv2.invertAffineTransform(self._pose_matrix(roll_deg, shift, scale))
        px = (inverse[0, 0] * self._xs + inverse[0, 1] * self._ys + inverse[0, 2]).astype(np.float32)
        py = (inverse[1, 0] * self._xs + inverse[1, 1] * self._ys + inverse[1, 2]).astype(np.float32)
        # Sample the canonical fields at the pose-mapped points; outside the grid the face is at rest.
        fields = np.stack([local_dy, interior, lash, depth], axis=-1).astype(np.float32)
        at = cv2.remap(fields, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        src_x, src_y = px, py + at[..., 0]
        frame = cv2.remap(
            self.portrait.image, src_x, src_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
        )
        frame = frame.astype(np.float32)
        alpha = at[..., 1:2]
        if float(alpha.max()) > 0.0:
            # Darker towards the middle of the opening, like a mouth cavity.
            shade = at[..., 3:4]
            colour = MOUTH_INTERIOR_EDGE * (1.0 - shade) + MOUTH_INTERIOR_CORE * shade
            frame = frame * (1.0 - alpha) + colour * alpha
        frame = frame * (1.0 - 0.5 * at[..., 2:3])
        return np.clip(np.rint(frame), 0, 255).astype(np.uint8)
