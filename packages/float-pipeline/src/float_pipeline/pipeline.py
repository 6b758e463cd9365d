"""``Pipeline``: portrait + speech -> talking video, streamed window by window.

Data flow for one clip (S = bundle resolution, T = ceil(seconds x 25) frames, d = 512)::

    image -> square crop (face or padded) -> [1, 3, S, S] -> motion_ae.encode (once: identity, maps, motion)
    audio -> 16 kHz waveform -> audio encoder + projection -> [1, T, d_a]
    emotion option -> predictor -> [1, 7]
    flow.generate_windows -> MotionWindow [1, <=L, d] ... -> decode in batches of decode_batch -> uint8 frames

Only one window of motions and one decode batch of images are alive at a time; frames are handed to the
caller (or the mp4 writer) as they are rendered, so memory does not grow with the clip length.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from float_audio import LoadedAudio, SilentAudioError, load_audio
from float_data import to_model_tensor
from float_flow import SamplerConfig, generate_windows, use_onednn_linears
from float_motion_ae import ActivationRenderer, compiled, tune_cpu_allocator
from float_pipeline.bundle import Bundle, load_bundle
from float_pipeline.compile_choice import CompileDecision, decide_compile
from float_pipeline.conditions import build_predictor, emotion_spec, load_pose, predict_emotion
from float_pipeline.errors import OptionError
from float_pipeline.official_crop import find_sfd_weights
from float_pipeline.options import GenerateOptions, GenerationResult
from float_pipeline.portrait import ImageInput, PasteBack, Portrait, prepare_portrait
from float_pipeline.writer import VideoWriter, check_not_an_input, check_output_path

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str | torch.device) -> torch.device:
    """``cpu``, ``cuda[:n]`` or ``mps`` -> a device that exists here (clear error otherwise)."""
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise OptionError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise OptionError(f"--device {device}: Apple MPS is not available on this machine; use --device cpu")
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise OptionError(f"--device {device}: use cpu, cuda or mps")
    return resolved


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``float32`` / ``bfloat16`` / ``float16`` (or a torch dtype) -> torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise OptionError(f"--dtype {dtype}: use one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


@dataclass(frozen=True)
class PreparedClip:
    """Everything one clip needs before sampling starts (all validated, nothing sampled yet).

    Attributes:
        portrait: the image, its crop [S, S, 3] and crop box.
        audio: the decoded 16 kHz mono waveform.
        emotion: [1, 7] float32 emotion distribution.
        pose: [1, T, p] head pose or None.
        options: the validated options.
    """

    portrait: Portrait
    audio: LoadedAudio
    emotion: torch.Tensor
    pose: torch.Tensor | None
    options: GenerateOptions

    @property
    def num_frames(self) -> int:
        return self.audio.num_frames

    @property
    def frame_size(self) -> tuple[int, int]:
        """(height, width) of the frames the clip yields."""
        if self.options.paste_back:
            return self.portrait.original.shape[0], self.portrait.original.shape[1]
        return self.portrait.crop.shape[0], self.portrait.crop.shape[1]


def to_uint8_frames(images: torch.Tensor) -> np.ndarray:
    """Decoder output [N, 3, S, S] (about [-1, 1], unclamped) -> uint8 RGB [N, S, S, 3]."""
    scaled = images.detach().float().clamp(-1.0, 1.0).add(1.0).mul(127.5).round()
    return scaled.to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()


class Pipeline:
    """A loaded bundle ready to animate portraits; models are loaded once and reused for every call.

    Args:
        bundle: a :class:`float_pipeline.Bundle` (``load_bundle(...)``), already on its device and dtype.
        progress: show tqdm progress bars (frames, with ETA) in :meth:`generate`.
    """

    def __init__(self, bundle: Bundle, *, progress: bool = True) -> None:
        self.bundle = bundle
        self.progress = progress
        self._predictors: dict[str, Any] = {}
        if self.device.type == "cpu":
            # The flow transformer's matmuls through oneDNN: ~1.3x faster per fp32 forward on the CPU
            # (float_flow.onednn); training through the same modules falls back to F.linear.
            use_onednn_linears(bundle.flow)

    @classmethod
    def from_pretrained(
        cls,
        checkpoint: str | Path | None = None,
        *,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype = "float32",
        local_files_only: bool | None = None,
        progress: bool = True,
        tune_allocator: bool = False,
    ) -> Pipeline:
        """Load a bundle folder, a Hugging Face id (from the local cache unless ``local_files_only=False``;
        None: local only unless ``FLOAT_ALLOW_DOWNLOADS=1``) or, with ``checkpoint=None``, the demo bundle
        embedded in this package.

        With ``tune_allocator=True`` (the CLIs pass it) and a CPU device, glibc malloc is told to keep freed
        memory (``float_motion_ae.tune_cpu_allocator``): the decoder frees and reallocates the same large maps
        on every frame, which otherwise costs ~1.5x at 512 px (tools/float_tools/bench/decoder.py). It is a
        process-wide setting that keeps the peak heap resident, so a library call never makes it unasked
        (default False).

        Raises:
            BundleError: missing or incomplete bundle (the message names the file).
            OptionError: a device that is not available or an unknown dtype.
        """
        resolved = resolve_device(device)
        if tune_allocator and resolved.type == "cpu":
            tune_cpu_allocator()
        bundle = load_bundle(
            checkpoint,
            device=resolved,
            dtype=resolve_dtype(dtype),
            local_files_only=local_files_only,
        )
        return cls(bundle, progress=progress)

    # ------------------------------------------------------------------------------------- properties
    @property
    def device(self) -> torch.device:
        return self.bundle.flow.x_embedder.proj.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.bundle.flow.x_embedder.proj.weight.dtype

    @property
    def resolution(self) -> int:
        return self.bundle.resolution

    # ---------------------------------------------------------------------------------------- stages
    def _predictor(self, key: str, build: Any) -> Any:
        # Speech-emotion models are large: build each distinct spec once per pipeline (batch mode reuses it).
        if key not in self._predictors:
            self._predictors[key] = build()
        return self._predictors[key]

    def prepare(self, image: ImageInput, audio: str | Path, options: GenerateOptions) -> PreparedClip:
        """Read and check every input (image, face, audio, emotion, pose) before any sampling.

        Raises:
            ImageError, NoFaceError, float_audio.AudioError, OptionError: bad input, with a message naming it.
        """
        defaults = self.bundle.manifest.defaults
        steps = options.steps if options.steps is not None else defaults.steps
        try:
            SamplerConfig(method=defaults.method, nfe=steps)
        except ValueError as error:
            raise OptionError(f"--steps {steps}: {error}") from error
        spec = emotion_spec(self.bundle, options.emotion)
        detector = options.detector or defaults.detector
        portrait = prepare_portrait(
            image,
            self.resolution,
            crop=options.crop,
            detector=detector,
            weights_dir=_detector_weights(detector, options.detector_weights or defaults.detector_weights),
            scale=defaults.crop_scale if options.crop_scale is None else options.crop_scale,
            phases=defaults.crop_phases if options.crop_phases is None else options.crop_phases,
            rule=options.crop_rule or defaults.crop_rule,
        )
        try:
            loaded = load_audio(audio, allow_silent=options.allow_silent)
        except SilentAudioError as error:
            raise SilentAudioError(f"{error} (float-generate: --allow-silent)", error.source) from None
        predictor = self._predictor(spec.model_dump_json(), lambda: build_predictor(spec))
        emotion = predict_emotion(predictor, loaded.waveform, portrait.crop, options.emotion_intensity)
        pose = load_pose(options.pose_from, self.bundle, loaded.num_frames)
        return PreparedClip(portrait, loaded, emotion, pose, options)

    @torch.no_grad()
    def render(self, clip: PreparedClip) -> Iterator[np.ndarray]:
        """Sample and decode ``clip`` window by window: uint8 RGB frames [H, W, 3], one per 25 fps frame."""
        bundle, options = self.bundle, clip.options
        defaults = bundle.manifest.defaults
        device, dtype = self.device, self.dtype
        source_image = to_model_tensor(clip.portrait.crop)[None].to(device=device, dtype=dtype)
        encoded = bundle.motion_ae.encode(source_image)
        # Once per clip: the source maps in the layout (and warp dtype) every decoded frame reads fastest.
        features = bundle.motion_ae.prepare_features(encoded.features)
        source_motion = bundle.motion_ae.motion(encoded.coeffs)
        waveform = clip.audio.waveform[None].to(device)
        audio = bundle.audio_features(
            waveform, clip.num_frames, chunk_seconds=options.audio_chunk_seconds
        ).to(dtype)
        pose = None if clip.pose is None else clip.pose.to(device=device, dtype=dtype)
        compose = PasteBack(clip.portrait.original, clip.portrait.box) if options.paste_back else None
        windows = generate_windows(
            bundle.flow,
            source_motion,
            audio,
            clip.emotion.to(device=device, dtype=dtype),
            pose=pose,
            seed=options.seed,
            sampler=SamplerConfig(
                method=defaults.method, nfe=options.steps if options.steps is not None else defaults.steps
            ),
            audio_scale=defaults.audio_scale if options.audio_scale is None else options.audio_scale,
            emotion_scale=defaults.emotion_scale if options.emotion_scale is None else options.emotion_scale,
            first_context=options.first_context,
            fix_noise_seed=_pick(options.fix_noise_seed, defaults.fix_noise_seed),
        )
        motion_ae = bundle.motion_ae
        previous = motion_ae.renderer
        if self.compile_decision(clip).enabled:
            motion_ae.set_renderer(ActivationRenderer(compile=True))
        try:
            for window in windows:
                motion = window.motion[0]
                for start in range(0, motion.shape[0], options.decode_batch):
                    images = motion_ae.decode(
                        encoded.identity, motion[start : start + options.decode_batch], features
                    )
                    for frame in to_uint8_frames(images):
                        yield frame if compose is None else compose(frame)
        finally:
            motion_ae.set_renderer(previous)

    def compile_decision(self, clip: PreparedClip) -> CompileDecision:
        """Whether ``clip`` decodes through ``torch.compile`` (``GenerateOptions.compile``), and why."""
        return decide_compile(
            clip.options.compile,
            frames=clip.num_frames,
            device=self.device,
            dtype=self.dtype,
            resolution=self.resolution,
        )

    # ------------------------------------------------------------------------------------ public API
    def frames(
        self, image: ImageInput, audio: str | Path, options: GenerateOptions | None = None, **overrides: Any
    ) -> Iterator[np.ndarray]:
        """Stream the frames of a clip: np.uint8 RGB [H, W, 3], one per 25 fps frame, as they are rendered.

        Inputs are read and checked now (errors are raised by this call, not by the first ``next``); sampling
        runs lazily as the iterator is consumed. Frames are S x S (bundle resolution) or, with
        ``paste_back=True``, the original image size.
        """
        clip = self.prepare(image, audio, _options(options, overrides))
        return self.render(clip)

    def generate(
        self,
        image: ImageInput,
        audio: str | Path,
        out: str | Path,
        options: GenerateOptions | None = None,
        **overrides: Any,
    ) -> GenerationResult:
        """Write the talking video of ``image`` speaking ``audio`` to ``out`` (.mp4, H.264 + AAC, 25 fps).

        The output folder is checked first (``out`` may not be the image or the audio file; an existing
        file at ``out`` is replaced, as by any file-writing library call: the command lines ask for
        ``--overwrite``); the video is written to a temporary file next to ``out`` and renamed into place at
        the end, so on any error nothing is left at ``out``.
        """
        began = time.perf_counter()
        opts = _options(options, overrides)
        path = check_output_path(out)
        check_not_an_input(path, image, audio)
        clip = self.prepare(image, audio, opts)
        decision = self.compile_decision(clip)
        compile_before = compiled.compile_seconds()
        height, width = clip.frame_size
        bar = tqdm(
            total=clip.num_frames, unit="frame", desc=Path(path).name, disable=not self.progress, leave=False
        )
        with bar, VideoWriter(path, clip.audio.source, size=(height, width)) as writer:
            for frame in self.render(clip):
                writer.write(frame)
                bar.update(1)
        return GenerationResult(
            path=path,
            num_frames=writer.frames_written,
            duration_s=clip.audio.duration,
            width=width,
            height=height,
            emotion=tuple(float(v) for v in clip.emotion[0]),
            seconds=time.perf_counter() - began,
            detector=clip.portrait.detector,
            notes=tuple(
                note
                for note in (
                    clip.portrait.note,
                    _compile_note(decision, compiled.compile_seconds() - compile_before),
                )
                if note is not None
            ),
            compile_seconds=compiled.compile_seconds() - compile_before,
        )

    def __call__(
        self,
        image: ImageInput,
        audio: str | Path,
        out: str | Path | None = None,
        options: GenerateOptions | None = None,
        **overrides: Any,
    ) -> GenerationResult | Iterator[np.ndarray]:
        """``generate`` when ``out`` is given (returns the :class:`GenerationResult`), else ``frames``."""
        if out is None:
            return self.frames(image, audio, options, **overrides)
        return self.generate(image, audio, out, options, **overrides)


def _compile_note(decision: CompileDecision, seconds: float) -> str | None:
    """The line saying whether the decoder was compiled and what the one-off compile cost (None: off)."""
    if decision.reason == "compile off":
        return None
    failure = compiled.compile_failure()
    if decision.enabled and failure is not None:
        return f"{decision.reason}; fell back to eager ({failure})"
    if decision.enabled:
        return (
            f"{decision.reason}; one-off compile {seconds:.1f} s (cached in {compiled.use_user_cache_dir()})"
        )
    return decision.reason


def _pick(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _detector_weights(detector: str, weights_dir: str | None) -> str | None:
    """The face-alignment weights folder: the one given, else the torch hub cache when it holds SFD."""
    if weights_dir is not None or detector == "dlib":
        return weights_dir
    found = find_sfd_weights()
    return None if found is None else str(found)


def _options(options: GenerateOptions | None, overrides: dict[str, Any]) -> GenerateOptions:
    if options is None:
        return GenerateOptions(**overrides)
    return GenerateOptions.model_validate({**options.model_dump(), **overrides}) if overrides else options
