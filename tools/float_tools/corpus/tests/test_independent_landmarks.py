"""An independent landmark detector sees the corpus's mouth motion (the measurement the learning proof uses).

The lip-sync proof of the trained bundle measures mouth opening on generated frames with a detector that knows
nothing about the corpus builder: dlib's HOG face detector and 68-point predictor, shipped offline through
float-data. Before trusting that measurement on generated frames, it must recover the ground truth on the
corpus's own frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from float_data import DlibDetector, mouth_aperture, read_video
from float_tools.corpus import CorpusConfig, build_corpus


@pytest.mark.slow
def test_dlib_mouth_aperture_follows_the_ground_truth_track(tmp_path: Path, require_tool) -> None:  # type: ignore[no-untyped-def]
    require_tool("espeak-ng")
    config = CorpusConfig(
        portraits=["astronaut"],
        voices=["en-us"],
        sentences=["Nobody expected the old clock to start ticking again."],
        n_clips=1,
        seed=1,
        resolution=256,
    )
    (record,) = build_corpus(config, tmp_path, log=lambda _: None)
    truth = np.asarray(json.loads((tmp_path / record.ground_truth).read_text())["tracks"]["mouth_open"])
    frames = read_video(tmp_path / record.video)
    assert len(frames) == len(truth)

    detector = DlibDetector(upsample=1)
    apertures = []
    for frame in frames:
        faces = detector.detect(frame)
        assert faces, "the independent detector must find the face in every corpus frame"
        apertures.append(float(mouth_aperture(detector.landmarks(frame, faces[0].box))))
    apertures_array = np.asarray(apertures)

    # Measured 0.970 on this clip (0.970-0.984 over three held-out sentences).
    assert np.corrcoef(apertures_array, truth)[0, 1] > 0.9
    # Closed in the silent padding, clearly open while speaking.
    assert apertures_array[truth == 0].mean() < apertures_array[truth > 0.5].mean() - 0.1
