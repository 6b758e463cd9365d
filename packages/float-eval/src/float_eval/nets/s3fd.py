"""S3FD face detector as syncnet_python's LSE pipeline runs it (``detectors/s3fd``, ``sfd_face.pth``).

The network has the module and parameter names of syncnet_python's ``S3FDNet`` (``vgg.*``, ``L2Norm3_3``,
``L2Norm4_3``, ``L2Norm5_3``, ``extras.*``, ``loc.*``, ``conf.*``), so ``sfd_face.pth`` loads strictly with
:func:`load_s3fd`. face-alignment ships an S3FD too, but it is a different network for this purpose: its
``fc6`` has no dilation, its third pooling does not round up, it reads BGR and its weights file
(``s3fd-619a316812.pth``) has other parameter names; syncnet_python's protocol needs ``sfd_face.pth``.

Detection protocol (``S3FD.detect_faces(image, conf_th=0.9, scales=[0.25])`` in ``run_pipeline.py``):
resize the RGB frame by ``scale`` (bilinear), subtract the per-channel means (123, 117, 104) from R, G, B and
keep RGB order (the reference flips to BGR, subtracts the BGR means and flips back), run the net, softmax,
decode the SSD boxes against one square prior per cell (sizes 16..512, strides 4..128, variances 0.1/0.2),
keep scores above 0.05, NMS at 0.3 (the 5000 best candidates, 750 kept), keep scores above ``conf_th``,
scale to frame pixels and apply a final NMS at 0.1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..ops.detection import decode_s3fd, nms, s3fd_priors
from .faces import Face

__all__ = ["S3FD", "S3FD_WEIGHTS", "S3FDNet", "load_s3fd"]

S3FD_WEIGHTS = "sfd_face.pth"

# Means subtracted from the R, G, B channels (the reference's BGR means [104, 117, 123], reversed).
RGB_MEANS = (123.0, 117.0, 104.0)


class L2Norm(nn.Module):
    """Channel-wise L2 normalisation with a learned per-channel scale (parameter ``weight``)."""

    def __init__(self, channels: int, scale: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10
        return x / norm * self.weight.view(1, -1, 1, 1)


def _vgg() -> nn.ModuleList:
    """VGG-16 trunk + fc6 (dilated) + fc7, as one list so parameter indices match the reference."""
    layers: list[nn.Module] = []
    channels = 3
    # (output channels, convs) per block; pools follow each block, the third one rounds up.
    for block, (width, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))):
        for _ in range(convs):
            layers += [nn.Conv2d(channels, width, 3, 1, padding=1), nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.MaxPool2d(2, 2, ceil_mode=block == 2))
    layers += [nn.Conv2d(512, 1024, 3, 1, padding=6, dilation=6), nn.ReLU(inplace=True)]
    layers += [nn.Conv2d(1024, 1024, 1, 1), nn.ReLU(inplace=True)]
    return nn.ModuleList(layers)


class S3FDNet(nn.Module):
    """S3FD (Zhang et al. 2017) with syncnet_python's parameter names.

    ``forward(x)``: x [B, 3, H, W] float (RGB minus :data:`RGB_MEANS`, 0..255 scale) ->
    ``(loc [B, P, 4], conf [B, P, 2], feature_sizes)`` where P = sum of h * w over the six detection maps
    (``feature_sizes``, row-major cells), ``loc`` the SSD offsets and ``conf`` the background/face logits
    (the first map's background is the max over its three background channels, "max-out").
    """

    # Indices in ``vgg`` after which the conv3_3, conv4_3, conv5_3 and fc7 maps are taken.
    TAPS = (15, 22, 29, 34)

    def __init__(self) -> None:
        super().__init__()
        self.vgg = _vgg()
        self.L2Norm3_3 = L2Norm(256, 10)
        self.L2Norm4_3 = L2Norm(512, 8)
        self.L2Norm5_3 = L2Norm(512, 5)
        self.extras = nn.ModuleList(
            [
                nn.Conv2d(1024, 256, 1, 1),
                nn.Conv2d(256, 512, 3, 2, padding=1),
                nn.Conv2d(512, 128, 1, 1),
                nn.Conv2d(128, 256, 3, 2, padding=1),
            ]
        )
        sources = (256, 512, 512, 1024, 512, 256)
        self.loc = nn.ModuleList([nn.Conv2d(c, 4, 3, 1, padding=1) for c in sources])
        self.conf = nn.ModuleList(
            [nn.Conv2d(c, 4 if i == 0 else 2, 3, 1, padding=1) for i, c in enumerate(sources)]
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
        norms = (self.L2Norm3_3, self.L2Norm4_3, self.L2Norm5_3)
        sources: list[torch.Tensor] = []
        for k, layer in enumerate(self.vgg):
            x = layer(x)
            if k in self.TAPS:
                tap = self.TAPS.index(k)
                sources.append(norms[tap](x) if tap < 3 else x)
        for k, layer in enumerate(self.extras):
            x = F.relu(layer(x), inplace=True)
            if k % 2 == 1:
                sources.append(x)
        locs, confs, sizes = [], [], []
        for i, src in enumerate(sources):
            conf = self.conf[i](src)
            if i == 0:
                background = conf[:, 0:3].amax(dim=1, keepdim=True)
                conf = torch.cat([background, conf[:, 3:]], dim=1)
            locs.append(self.loc[i](src).permute(0, 2, 3, 1).reshape(x.shape[0], -1, 4))
            confs.append(conf.permute(0, 2, 3, 1).reshape(x.shape[0], -1, 2))
            sizes.append((int(src.shape[2]), int(src.shape[3])))
        return torch.cat(locs, 1), torch.cat(confs, 1), sizes


def load_s3fd(path: str | Path, device: str | torch.device = "cpu") -> S3FDNet:
    """``sfd_face.pth`` (a plain state dict) -> :class:`S3FDNet` in eval mode; strict key check."""
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    net = S3FDNet()
    net.load_state_dict(state, strict=True)
    return net.to(device).eval()


class S3FD:
    """syncnet_python's face detector for LSE tracks (``conf_th=0.9``, ``facedet_scale=0.25``).

    ``network``: an :class:`S3FDNet` (or any module with its forward signature); build it from
    ``sfd_face.pth`` with :func:`load_s3fd`. ``detect`` returns boxes without keypoints.
    """

    name = "s3fd"

    def __init__(
        self,
        network: nn.Module,
        scale: float = 0.25,
        conf_threshold: float = 0.9,
        final_nms: float = 0.1,
        device: str | torch.device = "cpu",
    ) -> None:
        if scale <= 0:
            raise ValueError(f"S3FD scale must be positive, got {scale}")
        self.network = network.to(device).eval()
        self.scale = scale
        self.conf_threshold = conf_threshold
        self.final_nms = final_nms
        self.device = torch.device(device)

    @torch.no_grad()
    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 frame [H, W, 3], highest score first (box in frame pixels, no keypoints)."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be [H, W, 3] RGB, got {image.shape}")
        h, w = image.shape[:2]
        # Five 2x poolings need at least 32 input pixels per side (the reference would crash below that).
        if min(h, w) * self.scale < 32:
            raise ValueError(
                f"S3FD needs frames of at least {int(np.ceil(32 / self.scale))} px at scale {self.scale:g}; "
                f"got {w}x{h}: raise the scale (--lse-facedet-scale) or use larger frames"
            )
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
        if self.scale != 1.0:
            # OpenCV's INTER_LINEAR with fx=fy=scale samples at the same half-pixel centres and returns uint8.
            x = F.interpolate(
                x, scale_factor=self.scale, mode="bilinear", align_corners=False, recompute_scale_factor=False
            )
            x = x.round().clamp(0, 255)
        x = x - torch.tensor(RGB_MEANS).view(1, 3, 1, 1)
        loc, conf, sizes = self.network(x.to(self.device))
        scores = torch.softmax(conf[0].float(), dim=-1)[:, 1].cpu().numpy().astype(np.float64)
        priors = s3fd_priors((int(x.shape[2]), int(x.shape[3])), sizes)
        boxes, scores = decode_s3fd(loc[0].float().cpu().numpy().astype(np.float64), scores, priors)
        confident = scores > self.conf_threshold
        boxes, scores = boxes[confident] * np.array([w, h, w, h]), scores[confident]
        if len(scores) == 0:
            return []
        keep = nms(boxes, scores, self.final_nms, pixel_offset=0.0)
        return [Face(box=boxes[i], score=float(scores[i]), kps=None) for i in keep]
