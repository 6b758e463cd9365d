"""The FID feature pipeline equals pytorch-fid's on the same frames with the same random Inception weights."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_fid import inception as pfi

from float_eval import WeightsError
from float_eval.metrics import FID
from float_eval.nets import FID_WEIGHTS, build_fid_inception, fid_inception_state_keys
from float_eval.nets.inception import _fid_backbone


@pytest.fixture(scope="module")
def random_fid_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    net = _fid_backbone(None)
    # Non-trivial batch-norm statistics so the test would notice a normalisation difference.
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.fixture(scope="module")
def fid_net(random_fid_state: dict[str, torch.Tensor]) -> torch.nn.Module:
    return build_fid_inception(random_fid_state)


def _reference_inception(state: dict[str, torch.Tensor]) -> pfi.InceptionV3:
    # pytorch-fid's own constructor, with its download replaced by our random state dict.
    with mock.patch.object(pfi, "load_state_dict_from_url", return_value=state):
        return pfi.InceptionV3([3]).eval()


def test_state_dict_keys_load_strictly(random_fid_state: dict[str, torch.Tensor], tmp_path: Path) -> None:
    keys = fid_inception_state_keys()
    assert len(keys) == len(random_fid_state) == 566
    assert keys["fc.weight"] == (1008, 2048)
    assert keys["Mixed_7c.branch3x3dbl_3a.conv.weight"] == (384, 384, 1, 3)
    assert {k: tuple(v.shape) for k, v in random_fid_state.items()} == keys
    path = tmp_path / FID_WEIGHTS
    torch.save(random_fid_state, path)
    net = build_fid_inception(path)
    assert torch.equal(
        net.blocks[3][2].branch1x1.conv.weight, random_fid_state["Mixed_7c.branch1x1.conv.weight"]
    )
    broken = dict(random_fid_state)
    broken.pop("Mixed_5b.branch_pool.conv.weight")
    with pytest.raises(RuntimeError, match="Missing key"):
        build_fid_inception(broken)


def test_features_equal_pytorch_fid(
    random_fid_state: dict[str, torch.Tensor], fid_net: torch.nn.Module, tmp_path: Path
) -> None:
    torch.manual_seed(1)
    frames = torch.randint(0, 256, (2, 3, 40, 56), dtype=torch.uint8)
    # pytorch-fid's path: PNG files -> PIL RGB -> ToTensor ([0, 1]) -> InceptionV3.
    files = []
    for i, f in enumerate(frames):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(f.permute(1, 2, 0).numpy()).save(files[-1])
    from pytorch_fid.fid_score import ImagePathDataset
    from torchvision.transforms import ToTensor

    ref_input = torch.stack([ImagePathDataset(files, transforms=ToTensor())[i] for i in range(2)])
    with torch.no_grad():
        ref = _reference_inception(random_fid_state)(ref_input)[0].squeeze(3).squeeze(2)
    metric = FID(network=fid_net, device="cpu")
    ours = metric.features(frames)  # uint8 in, /255 inside
    assert ours.shape == (2, 2048)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    assert ours.std() > 0


def test_fid_streams_and_resets() -> None:
    torch.manual_seed(2)
    # Stand-in with pytorch-fid's output convention (a list of [N, D, 1, 1]); the streaming is what is tested.
    pool = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.AdaptiveAvgPool2d(1))

    class StandIn(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            return [pool(x)]

    metric = FID(network=StandIn(), device="cpu", batch_size=3, feature_dim=8)
    frames = torch.rand(10, 3, 16, 16)
    for chunk in frames.split(4):
        metric.update(chunk, real=True)
    metric.update(frames, real=False)
    assert metric.real.count == metric.fake.count == 10
    np.testing.assert_allclose(metric.real.sum, metric.fake.sum, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(metric.real.outer, metric.fake.outer, rtol=1e-6, atol=1e-6)
    assert metric.compute() == pytest.approx(0.0, abs=1e-6)
    metric.update(frames.flip(0)[:5] * 0.5, real=False)
    assert metric.compute() > 1e-4
    metric.reset()
    assert metric.real.count == 0


def test_missing_inception_weights_name_file_and_source(tmp_path: Path) -> None:
    with pytest.raises(WeightsError) as info:
        FID(weights_dir=tmp_path)
    message = str(info.value)
    assert FID_WEIGHTS in message
    assert "github.com/mseitzer/pytorch-fid/releases" in message
    assert str(tmp_path / FID_WEIGHTS) in message
    assert "FLOAT_EVAL_WEIGHTS" in message


@pytest.mark.slow
def test_fid_statistics_equal_pytorch_fid_from_files(
    random_fid_state: dict[str, torch.Tensor], fid_net: torch.nn.Module, tmp_path: Path
) -> None:
    """Mean and covariance from a frame folder equal pytorch-fid's calculate_activation_statistics."""
    from pytorch_fid import fid_score

    from float_eval.video import read_video

    torch.manual_seed(3)
    for i in range(2):
        img = torch.randint(0, 256, (36, 44, 3), dtype=torch.uint8)
        Image.fromarray(img.numpy()).save(tmp_path / f"{i:03d}.png")
    files = sorted(str(p) for p in tmp_path.glob("*.png"))
    ref_mu, ref_sigma = fid_score.calculate_activation_statistics(
        files, _reference_inception(random_fid_state), batch_size=4, dims=2048, device="cpu", num_workers=0
    )
    metric = FID(network=fid_net, device="cpu")
    metric.update(read_video(tmp_path).frames, real=False)
    mu, sigma = metric.fake.mean_cov()
    np.testing.assert_allclose(mu, ref_mu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(sigma, ref_sigma, rtol=1e-4, atol=1e-6)


@pytest.mark.gpu
def test_fid_features_on_cuda_equal_cpu(fid_net: torch.nn.Module) -> None:
    torch.manual_seed(4)
    frames = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    cpu = FID(network=fid_net, device="cpu").features(frames)
    gpu = FID(network=build_fid_inception(fid_net.state_dict()), device="cuda").features(frames)
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-4)
