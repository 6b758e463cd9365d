"""float.pth as it really comes: fake files built from the design manifest, one per variant, each with its
documented outcome (docs/float-generate.md, "Using the official weights").

Most fake files hold stride-0 tensors (one stored value expanded to the official shape), so they are a few kB
and inspect in milliseconds; the full conversion into a bundle (827 MB of tensors) is the slow test.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

import float_pipeline.convert as convert_module
from float_audio import AudioProjection
from float_flow import FlowMatchingTransformer
from float_motion_ae import OFFICIAL_LICENSE_NOTICE, MotionAutoEncoder
from float_pipeline import (
    ConversionError,
    ConvertedOfficial,
    OfficialCheckpointWarning,
    convert_official_checkpoint,
    read_manifest,
)
from float_pipeline.official import (
    OfficialCheckpoint,
    inspect_official,
    official_buffer_names,
    official_parameter_shapes,
    read_official,
)

FIXTURES = Path(__file__).parent / "fixtures"
# Keys and shapes of the 274 parameters of the official float.pth, and the values of its 36 buffers (copies of
# the design manifests shared/design/official_float_pth.json and official_buffers.json; no weights).
MANIFEST = FIXTURES / "official_float_pth.json"
BUFFERS = FIXTURES / "official_buffers.json"
OFFICIAL_PARAMS = 206_657_800


def _official_shapes() -> dict[str, list[int]]:
    return json.loads(MANIFEST.read_text())["tensors"]


def _official_buffers() -> dict[str, torch.Tensor]:
    data = json.loads(BUFFERS.read_text())["buffers"]
    return {
        name: torch.tensor(entry["values"], dtype=getattr(torch, entry["dtype"]))
        for name, entry in data.items()
    }


def _parameters(dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The 274 parameters, each one distinct value expanded to its official shape (a tiny file)."""
    return {
        name: torch.tensor(1e-3 * (k + 1), dtype=dtype).expand(shape)
        for k, (name, shape) in enumerate(_official_shapes().items())
    }


WAV2VEC2_KEYS = {
    "audio_encoder.wav2vec2.encoder.layers.0.attention.k_proj.weight": torch.zeros(()).expand(768, 768),
    "emotion_encoder.wav2vec2_for_emotion.classifier.out_proj.weight": torch.zeros(()).expand(7, 1024),
}


def _variant(name: str) -> dict[str, Any] | Any:
    """The object a fake float.pth of this variant holds."""
    params = _parameters()
    if name == "parameters only":
        return params
    if name == "with buffers":
        return {**params, **_official_buffers()}
    if name == "in a state_dict wrapper":
        return {"state_dict": params, "epoch": 12}
    if name == "in a G wrapper, two levels down":
        return {"checkpoint": {"G": params}, "step": torch.tensor(3)}
    if name == "DataParallel module. prefix":
        return {f"module.{k}": v for k, v in params.items()}
    if name == "with wav2vec2 keys":
        return {**params, **WAV2VEC2_KEYS}
    if name == "with an unknown key":
        return {**params, "fmt.ema_decay": torch.tensor(0.999)}
    if name == "float16":
        return _parameters(torch.float16)
    if name == "c_embedder 1030 wide":
        return {**params, "fmt.c_embedder.weight": torch.zeros(()).expand(1024, 1030)}
    if name == "pos_embed 61 frames":
        return {**params, "fmt.pos_embed": torch.zeros(()).expand(1, 61, 1024)}
    if name == "a missing parameter":
        return {k: v for k, v in params.items() if k != "fmt.blocks.3.mlp.fc1.weight"}
    if name == "NaN and Inf":
        nan = torch.zeros(512, 20)
        nan[3, 4] = float("nan")
        inf = torch.zeros(512)
        inf[0] = float("inf")
        return {
            **params,
            "motion_autoencoder.dec.direction.weight": nan,
            "audio_encoder.audio_projection.0.bias": inf,
        }
    if name == "integer tensor":
        return {**params, "fmt.decoder.linear.bias": torch.zeros(512, dtype=torch.int64)}
    if name == "a modified blur kernel":
        buffers = _official_buffers()
        buffers["motion_autoencoder.dec.to_rgbs.3.upsample.kernel"] = torch.ones(4, 4) / 16
        return {**params, **buffers}
    if name == "a modified band mask":
        buffers = _official_buffers()
        buffers["fmt.alignment_mask"] = torch.zeros(60, 60, dtype=torch.bool)
        return {**params, **buffers}
    if name == "two state dicts":
        return {"G": params, "G_ema": params}
    if name == "not a state dict":
        return {"weights": [1, 2, 3]}
    raise AssertionError(name)


# variant -> (note or error pattern, is it an error); the docs' variant table states the same outcomes.
OUTCOMES: dict[str, tuple[str, bool]] = {
    "parameters only": ("", False),
    "with buffers": (r"36 registered buffer\(s\) stored too", False),
    "in a state_dict wrapper": (r"inside a wrapper, at checkpoint\['state_dict'\]", False),
    "in a G wrapper, two levels down": (r"at checkpoint\['checkpoint'\]\['G'\]", False),
    "DataParallel module. prefix": ("'module.'.*stripped", False),
    "with wav2vec2 keys": (r"2 wav2vec2 tensor\(s\) ignored", False),
    "with an unknown key": (r"1 tensor\(s\) no converter maps.*fmt\.ema_decay", False),
    "float16": ("cast to float32: 274 stored as float16", False),
    "legacy format": ("legacy \\(non-zip\\) format: read whole", False),
    "c_embedder 1030 wide": (r"fmt\.c_embedder\.weight is \[1024, 1030\], official \[1024, 1031\]", True),
    "pos_embed 61 frames": (r"fmt\.pos_embed is \[1, 61, 1024\], official \[1, 60, 1024\]", True),
    "a missing parameter": (
        r"lacks 1 of the 274 official parameters: fmt\.blocks\.3\.mlp\.fc1\.weight",
        True,
    ),
    "NaN and Inf": (
        r"NaN or infinite values in 2 tensor\(s\): audio_encoder\.audio_projection\.0\.bias, "
        r"motion_autoencoder\.dec\.direction\.weight",
        True,
    ),
    "integer tensor": (r"not floating point: fmt\.decoder\.linear\.bias", True),
    "a modified blur kernel": (r"motion_autoencoder\.dec\.to_rgbs\.3\.upsample\.kernel differs", True),
    "a modified band mask": (r"fmt\.alignment_mask differs from the band mask", True),
    "two state dicts": (r"in 2 places \(checkpoint\['G'\], checkpoint\['G_ema'\]\)", True),
    "not a state dict": ("holds no official FLOAT tensors", True),
}


def _inspect_file(path: Path) -> OfficialCheckpoint:
    state, notes = read_official(path)
    return inspect_official(state, notes)


@pytest.mark.parametrize("variant", list(OUTCOMES))
def test_each_variant_of_float_pth_gives_its_documented_outcome(variant: str, tmp_path: Path) -> None:
    pattern, is_error = OUTCOMES[variant]
    path = tmp_path / "float.pth"
    if variant == "legacy format":
        torch.save(_variant("parameters only"), path, _use_new_zipfile_serialization=False)
    else:
        torch.save(_variant(variant), path)
    assert path.stat().st_size < 200_000  # stride-0 tensors: the whole variant set stays tiny
    if is_error:
        with pytest.raises(ConversionError, match=pattern):
            _inspect_file(path)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = _inspect_file(path)
    unknown = [w for w in caught if issubclass(w.category, OfficialCheckpointWarning)]
    assert len(unknown) == (variant == "with an unknown key")
    assert found.counts() == {"motion_autoencoder.": 177, "audio_encoder.audio_projection.": 4, "fmt.": 93}
    notes = "\n".join(found.notes)
    if pattern:
        assert len(found.notes) == 1, found.notes
        assert re.search(pattern, notes), notes
    else:
        assert found.notes == []


def test_our_rebuilt_shapes_and_buffers_are_the_official_ones() -> None:
    assert {k: list(v) for k, v in official_parameter_shapes().items()} == _official_shapes()
    assert official_buffer_names() == set(_official_buffers())
    # the values: a file holding the official buffers passes the constant check (test above), and so do
    # the package converters' own rebuilt kernels
    model = MotionAutoEncoder()
    for name, value in _official_buffers().items():
        if name.startswith("motion_autoencoder."):
            assert torch.equal(model.get_buffer(name.removeprefix("motion_autoencoder.")), value), name


def test_mmap_is_why_legacy_files_need_the_fallback(tmp_path: Path) -> None:
    path = tmp_path / "legacy.pth"
    torch.save({"a": torch.zeros(2)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="mmap"):
        torch.load(path, weights_only=True, mmap=True)


def _tiny_converted(projection_in: int = 16) -> ConvertedOfficial:
    """Stand-in for the 827 MB conversion: tiny models, the real notes of an inspected variant."""
    torch.manual_seed(0)
    motion_ae = MotionAutoEncoder(size=32, latent_dim=32, motion_dim=4, channel_max=16, motion_layers=2)
    flow = FlowMatchingTransformer(
        dim_motion=32, dim_hidden=32, depth=1, num_heads=2, num_frames=10, num_prev_frames=2, dim_audio=16
    )
    checkpoint = inspect_official(_variant("with buffers"))
    return ConvertedOfficial(motion_ae, flow, AudioProjection(projection_in, 16), checkpoint)


@pytest.fixture
def tiny_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert_module, "convert_official_state", lambda state, notes=None: _tiny_converted())


def _backbone(tmp_path: Path, hidden: int, layers: int) -> str:
    folder = tmp_path / "wav2vec2"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"hidden_size": hidden, "num_hidden_layers": layers}))
    return str(folder)


def test_conversion_states_its_findings_once_and_records_the_official_settings(
    tmp_path: Path, tiny_conversion: None, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = tmp_path / "float.pth"
    torch.save(_variant("with buffers"), checkpoint)
    out = convert_official_checkpoint(
        checkpoint,
        tmp_path / "bundle",
        audio_backbone=_backbone(tmp_path, 4, 4),  # 16 = the tiny projection's input
        emotion_model=None,
        audio_chunk_seconds=0,
        detector_weights=tmp_path / "no-sfd-here",
    )
    err = capsys.readouterr().err
    assert err.count(OFFICIAL_LICENSE_NOTICE) == 1  # once, not again by each package's converter
    assert "note: 36 registered buffer(s) stored too" in err
    assert "note: no emotion model (--emotion-model none)" in err and "predicts the emotion" in err
    assert "SFD weights (s3fd-619a316812.pth) not found in" in err and "dlib" in err
    manifest = read_manifest(out)
    assert manifest.defaults.crop_rule == "official" and manifest.defaults.detector == "auto"
    assert manifest.defaults.detector_weights is None and manifest.defaults.emotion == "neutral"
    assert manifest.audio.kind == "wav2vec2" and manifest.audio.chunk_seconds == 0
    card = (out / "README.md").read_text()
    assert "one-hot" in card and "official release predicts the emotion" in card
    assert "36 registered buffer(s)" in card and "whole clip in one pass" in card


def test_conversion_records_local_sfd_weights(tmp_path: Path, tiny_conversion: None) -> None:
    weights = tmp_path / "fa"
    weights.mkdir()
    (weights / "s3fd-619a316812.pth").write_bytes(b"stub")
    checkpoint = tmp_path / "float.pth"
    torch.save(_variant("parameters only"), checkpoint)
    out = convert_official_checkpoint(
        checkpoint, tmp_path / "bundle", audio_backbone="/models/w2v", detector_weights=weights
    )
    manifest = read_manifest(out)
    assert manifest.defaults.detector_weights == str(weights)
    assert manifest.audio.chunk_seconds == 30.0 and manifest.defaults.emotion == "auto"


def test_bundle_consistency_is_checked_at_conversion(tmp_path: Path, tiny_conversion: None) -> None:
    checkpoint = tmp_path / "float.pth"
    torch.save(_variant("parameters only"), checkpoint)
    # wav2vec2-base: 12 layers x 768 = 9216 features, but this projection reads 16
    with pytest.raises(ConversionError, match=r"audio_projection\.in_dim=16 != audio encoder width 9216"):
        convert_official_checkpoint(
            checkpoint, tmp_path / "bundle", audio_backbone=_backbone(tmp_path, 768, 12)
        )
    assert not (tmp_path / "bundle").exists()


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="official checkpoint not found"):
        convert_official_checkpoint(tmp_path / "float.pth", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_converts_a_real_sized_float_pth_with_everything_around_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """All 274 tensors at full size (float16 halves the 827 MB), with buffers, wav2vec2 keys and a wrapper."""
    generator = torch.Generator().manual_seed(0)
    params = {
        name: torch.randn(shape, generator=generator).to(torch.float16)
        for name, shape in _official_shapes().items()
    }
    checkpoint = tmp_path / "float.pth"
    torch.save({"state_dict": {**params, **_official_buffers(), **WAV2VEC2_KEYS}}, checkpoint)
    out = tmp_path / "bundle"
    assert convert_official_checkpoint(checkpoint, out, audio_backbone="/models/wav2vec2") == out
    err = capsys.readouterr().err
    assert err.count(OFFICIAL_LICENSE_NOTICE) == 1
    for note in ("inside a wrapper", "36 registered buffer", "2 wav2vec2 tensor(s) ignored", "float16"):
        assert note in err, note
    manifest = read_manifest(out)
    assert manifest.license == "cc-by-nc-nd-4.0" and manifest.resolution == 512
    assert manifest.audio.kind == "wav2vec2" and manifest.audio.backbone == "/models/wav2vec2"
    assert manifest.emotion_predictor is not None and manifest.emotion_predictor.name == "speech"
    assert manifest.defaults.steps == 9 and manifest.defaults.emotion == "auto"
    assert "CC BY-NC-ND 4.0" in (out / "README.md").read_text()
    tensors = {
        component: load_file(out / component / "model.safetensors")
        for component in ("motion_ae", "flow", "audio_projection")
    }
    params_written = sum(
        t.numel() for part in tensors.values() for name, t in part.items() if "alignment_mask" not in name
    )
    assert params_written == OFFICIAL_PARAMS
    pairs = {
        "motion_autoencoder.dec.direction.weight": tensors["motion_ae"]["dec.direction.weight"],
        "fmt.blocks.7.attn.qkv.weight": tensors["flow"]["blocks.7.attn.qkv.weight"],
        "audio_encoder.audio_projection.0.weight": tensors["audio_projection"]["linear.weight"],
    }
    for name, ours in pairs.items():
        assert torch.equal(ours, params[name].float()), name
    with pytest.raises(ConversionError, match="overwrite"):
        convert_official_checkpoint(checkpoint, out)
