"""Deep3DFaceRecon regressor layout, POS alignment, coefficient slices, E-FID and P-FID."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from float_eval.metrics import ANGLE_SLICE, EXP_SLICE, TRANS_SLICE, CoefficientFID, pose_coefficients
from float_eval.nets import ReconNet, load_lm3d, load_recon_net
from float_eval.ops import align_for_recon, pos_fit


def test_recon_net_keys_shapes_and_strict_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = ReconNet()
    state = net.state_dict()
    assert not any(k.startswith("backbone.fc") for k in state)
    assert tuple(state["backbone.conv1.weight"].shape) == (64, 3, 7, 7)
    assert tuple(state["backbone.layer4.2.conv3.weight"].shape) == (2048, 512, 1, 1)
    heads = [tuple(state[f"final_layers.{i}.weight"].shape) for i in range(7)]
    assert heads == [
        (80, 2048, 1, 1),
        (64, 2048, 1, 1),
        (80, 2048, 1, 1),
        (3, 2048, 1, 1),
        (27, 2048, 1, 1),
        (2, 2048, 1, 1),
        (1, 2048, 1, 1),
    ]
    torch.save({"net_recon": state, "epoch": 20}, tmp_path / "epoch_20.pth")
    loaded = load_recon_net(tmp_path / "epoch_20.pth")
    with torch.no_grad():
        out = loaded(torch.rand(1, 3, 224, 224))
    assert out.shape == (1, 257)
    # Coefficient layout: head 1 (expression) fills 80:144, head 3 (angles) 224:227, heads 5-6 254:257.
    feat = torch.randn(1, 2048, 1, 1)
    with torch.no_grad():
        heads_out = [layer(feat).flatten(1) for layer in loaded.final_layers]
        full = torch.cat(heads_out, 1)
    torch.testing.assert_close(full[:, EXP_SLICE], heads_out[1])
    torch.testing.assert_close(full[:, ANGLE_SLICE], heads_out[3])
    torch.testing.assert_close(full[:, TRANS_SLICE], torch.cat(heads_out[5:], 1))
    assert pose_coefficients(full, with_translation=True).shape == (1, 6)
    state.pop("final_layers.6.bias")
    with pytest.raises(RuntimeError, match="Missing key"):
        load_recon_net(state)


def test_pos_fit_recovers_scale_and_translation() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3))
    xp = 2.5 * x[:, :2] + np.array([100.0, 40.0])
    t, s = pos_fit(xp, x)
    assert s == pytest.approx(2.5)
    np.testing.assert_allclose(t, [100.0, 40.0])


def test_lm3d_and_alignment_put_the_face_in_the_crop(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    lm68 = rng.normal(size=(68, 3))
    savemat(tmp_path / "similarity_Lm3D_all.mat", {"lm": lm68})
    lm3d = load_lm3d(tmp_path / "similarity_Lm3D_all.mat")
    np.testing.assert_allclose(lm3d[2], lm68[30])  # nose tip (landmark 31)
    np.testing.assert_allclose(lm3d[0], lm68[[36, 39]].mean(0))  # eye centre from landmarks 37, 40
    # Landmarks that are lm3d seen at scale 102 around the image centre: the crop needs no rescaling.
    size = 224
    pts = np.stack([lm3d[:, 0] * 1.0 + size / 2, size - 1 - (lm3d[:, 1] + (size - 1) / 2)], 1)
    img = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    crop = align_for_recon(img, pts, lm3d, rescale=1.0 + 1e-9)  # the reference truncates the resized size
    assert crop.shape == (3, 224, 224) and float(crop.min()) >= 0.0 and float(crop.max()) <= 1.0
    torch.testing.assert_close(crop, torch.from_numpy(np.asarray(img, np.float32) / 255).permute(2, 0, 1))


@pytest.mark.parametrize(
    ("kind", "translation", "dim"), [("expression", False, 64), ("pose", False, 3), ("pose", True, 6)]
)
def test_coefficient_fid_dims_and_values(kind: str, translation: bool, dim: int) -> None:
    torch.manual_seed(0)
    metric = CoefficientFID(kind, torch.nn.Identity(), np.zeros((5, 3)), with_translation=translation)
    real = torch.randn(300, 257, dtype=torch.float64)
    metric.update(real, real=True)
    metric.update(real, real=False)
    assert metric.dim == dim
    assert metric.compute() == pytest.approx(0.0, abs=1e-6)
    shifted = real.clone()
    shifted[:, EXP_SLICE] += 0.5
    shifted[:, ANGLE_SLICE] += 0.1
    metric.reset()
    metric.update(real, real=True)
    metric.update(shifted, real=False)
    expected = 64 * 0.25 if kind == "expression" else 3 * 0.01
    assert metric.compute() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match=r"\[N, 257\]"):
        metric.update(torch.zeros(3, 64), real=True)
