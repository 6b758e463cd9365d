"""Losses (L1, LPIPS with a local VGG file, L_comp-lp), discriminator, non-saturating loss and R1."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from float_motion_ae import MotionAutoEncoder
from float_motion_ae.training import (
    Discriminator,
    LossWeights,
    MotionAELoss,
    PerceptualLoss,
    component_boxes_from_landmarks,
    crop_regions,
    discriminator_loss,
    fixed_component_boxes,
    generator_adversarial_loss,
    mouth_band_mask,
    r1_penalty,
)

VGG_CONVS = [
    (0, 3, 64),
    (2, 64, 64),
    (5, 64, 128),
    (7, 128, 128),
    (10, 128, 256),
    (12, 256, 256),
    (14, 256, 256),
]
VGG_CONVS += [(17, 256, 512), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512), (28, 512, 512)]


@pytest.fixture(scope="module")
def random_vgg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VGG16 checkpoint in torchvision's key layout with random (He-initialised) weights."""
    generator = torch.Generator().manual_seed(0)
    state = {}
    for index, cin, cout in VGG_CONVS:
        state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3, generator=generator) * math.sqrt(
            2.0 / (cin * 9)
        )
        state[f"features.{index}.bias"] = torch.zeros(cout)
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def perceptual(random_vgg: Path) -> PerceptualLoss:
    return PerceptualLoss(random_vgg)


def test_lpips_reads_the_local_backbone(perceptual: PerceptualLoss, random_vgg: Path) -> None:
    stored = torch.load(random_vgg, weights_only=True)
    assert torch.equal(perceptual.lpips.net.slice5.get_submodule("28").weight, stored["features.28.weight"])
    torch.manual_seed(1)
    a = torch.rand(2, 3, 32, 32) * 2 - 1
    b = (a + 0.3 * torch.randn_like(a)).clamp(-1, 1)
    assert perceptual(a, a).item() == pytest.approx(0.0, abs=1e-6)
    far, near = perceptual(a, -a).item(), perceptual(a, b).item()
    assert far > near > 0.0


def test_missing_lpips_names_the_train_extra(random_vgg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lpips", None)  # as on a core-only install
    with pytest.raises(ModuleNotFoundError, match=r"float-motion-ae\[train\]"):
        PerceptualLoss(random_vgg)


def test_missing_backbone_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOAT_LPIPS_VGG", raising=False)
    with pytest.raises(FileNotFoundError, match=r"FLOAT_LPIPS_VGG.*vgg16-397923af\.pth"):
        PerceptualLoss()
    with pytest.raises(FileNotFoundError, match=r"not found at .*absent\.pth"):
        PerceptualLoss(tmp_path / "absent.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, bad)
    with pytest.raises(ValueError, match=r"not a torchvision VGG16 checkpoint: missing features\.0\.bias"):
        PerceptualLoss(bad)


def test_crops_and_boxes() -> None:
    torch.manual_seed(2)
    images = torch.randn(2, 3, 32, 32)
    whole = crop_regions(images, torch.tensor([[[0.0, 0.0, 32.0, 32.0]]] * 2), 32)
    assert torch.allclose(whole, images, atol=1e-5)
    quarter = crop_regions(images, torch.tensor([[[0.0, 0.0, 16.0, 16.0]]] * 2), 16)
    assert torch.allclose(quarter, images[:, :, :16, :16], atol=1e-5)
    boxes = fixed_component_boxes(512, 3)
    assert boxes.shape == (3, 3, 4)
    assert boxes[0, 2].tolist() == pytest.approx([163.84, 317.44, 348.16, 440.32])
    landmarks = torch.rand(1, 68, 2) * 10 + 20
    landmarks[0, 48:68] = torch.tensor([40.0, 50.0]) + torch.rand(20, 2) * 6
    lm_boxes = component_boxes_from_landmarks(landmarks)
    mouth = lm_boxes[0, 2]
    pts = landmarks[0, 48:68]
    assert (pts[:, 0] >= mouth[0]).all() and (pts[:, 0] <= mouth[2]).all()
    assert (pts[:, 1] >= mouth[1]).all() and (pts[:, 1] <= mouth[3]).all()
    assert (mouth[2] - mouth[0]).item() == pytest.approx((mouth[3] - mouth[1]).item())
    with pytest.raises(ValueError, match=r"\[B, 68, 2\]"):
        component_boxes_from_landmarks(torch.zeros(1, 5, 2))


def test_total_loss_weights_and_finite_gradients(
    perceptual: PerceptualLoss, tiny_model: MotionAutoEncoder
) -> None:
    torch.manual_seed(3)
    source, driving = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    disc = Discriminator(size=32, channel_base=256, channel_max=16)
    weights = LossWeights(l1=1.0, perceptual=0.5, component=2.0, adversarial=0.1, component_crop=16)
    loss_fn = MotionAELoss(weights, perceptual)
    tiny_model.train()
    prediction = tiny_model(source, driving)
    terms = loss_fn(prediction, driving, fake_logits=disc(prediction))
    expected = terms.l1 + 0.5 * terms.perceptual + 2.0 * terms.component + 0.1 * terms.adversarial
    assert terms.total.item() == pytest.approx(expected.item(), rel=1e-6)
    for term in (terms.l1, terms.perceptual, terms.component, terms.adversarial):
        assert term.item() > 0
        (grad,) = torch.autograd.grad(term, prediction, retain_graph=True)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    terms.total.backward()
    grads = [p.grad for p in tiny_model.enc.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # landmark boxes are accepted in place of the fixed boxes
    boxes = torch.tensor([[[4.0, 8.0, 14.0, 16.0], [18.0, 8.0, 28.0, 16.0], [9.0, 20.0, 23.0, 28.0]]] * 2)
    with_boxes = loss_fn(prediction.detach(), driving, boxes=boxes, fake_logits=torch.zeros(2))
    assert torch.isfinite(with_boxes.component) and with_boxes.component > 0


def test_loss_config_validation(perceptual: PerceptualLoss) -> None:
    with pytest.raises(ValidationError, match="l1"):
        LossWeights(l1=-1.0)
    with pytest.raises(ValueError, match="PerceptualLoss"):
        MotionAELoss(LossWeights())
    l1_only = MotionAELoss(LossWeights(perceptual=0.0, component=0.0))
    a, b = torch.zeros(1, 3, 16, 16), torch.ones(1, 3, 16, 16)
    assert l1_only(a, b).total.item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="fake_logits"):
        MotionAELoss(LossWeights(adversarial=1.0), perceptual)(a, b)


def test_discriminator_losses_and_r1() -> None:
    torch.manual_seed(4)
    disc = Discriminator(size=32, channel_base=256, channel_max=16)
    real = (torch.rand(4, 3, 32, 32) * 2 - 1).requires_grad_(True)
    fake = torch.rand(4, 3, 32, 32) * 2 - 1
    real_logits, fake_logits = disc(real), disc(fake)
    assert real_logits.shape == (4,)
    d_loss = discriminator_loss(real_logits, fake_logits)
    r1 = r1_penalty(real_logits, real)
    assert torch.isfinite(d_loss) and r1.item() > 0
    (d_loss + 5.0 * r1).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in disc.parameters())
    # at D = 0 both logistic terms are log 2
    zeros = torch.zeros(3)
    assert discriminator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    assert generator_adversarial_loss(zeros).item() == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="requires_grad"):
        r1_penalty(real_logits, fake)
    with pytest.raises(ValueError, match=r"\[B, 3, 32, 32\]"):
        disc(torch.zeros(1, 3, 16, 16))


def test_mouth_l1_weighs_only_the_mouth_band() -> None:
    size = 20
    mask = mouth_band_mask(size)
    assert mask.shape == (1, 1, size, size) and set(mask.unique().tolist()) == {0.0, 1.0}
    rows, cols = mask[0, 0].nonzero().unbind(1)
    # rows [55 %, 85 %), columns [28 %, 72 %) of the side
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (11, 16, 5, 13)
    target = torch.zeros(2, 3, size, size)
    plain = MotionAELoss(LossWeights(perceptual=0, component=0))
    weighted = MotionAELoss(LossWeights(perceptual=0, component=0, mouth_l1=2.0))
    outside = target.clone()
    outside[..., 0, :] = 0.5  # an error on the top row only
    inside = target.clone()
    inside[..., 12, 6] = 0.5  # one pixel of the mouth band
    assert weighted(outside, target).total == pytest.approx(plain(outside, target).total.item())
    assert weighted(inside, target).total == pytest.approx(3 * plain(inside, target).total.item())
