"""Stage 2's random windows (``window_sampling: random``): what each window holds, and its source frame."""

from __future__ import annotations

import torch

from float_train.clips import ClipTensors


def _clips() -> ClipTensors:
    """Three clips, motion[t] = [clip, t] (which clip, which frame); the second is too short for a window."""
    lengths = [12, 4, 20]
    motion = [
        torch.stack([torch.full((t_len,), float(c)), torch.arange(t_len, dtype=torch.float32)], 1)
        for c, t_len in enumerate(lengths)
    ]
    audio = [torch.arange(t_len, dtype=torch.float32)[:, None].repeat(1, 3) for t_len in lengths]
    emotion = [torch.full((7,), float(c)) for c in range(len(lengths))]
    return ClipTensors(motion, audio, emotion)


def test_windows_are_contiguous_frames_of_one_clip_with_a_source_from_that_clip() -> None:
    windows = _clips().draw_windows(64, 6, torch.Generator().manual_seed(0))
    motion, audio, source = windows["motion"], windows["audio"], windows["source"]
    assert motion.shape == (64, 6, 2) and audio.shape == (64, 6, 3) and source.shape == (64, 2)
    clip = motion[:, 0, 0]
    assert set(clip.tolist()) == {0.0, 2.0}  # the 4-frame clip is never drawn
    assert torch.equal(motion[:, :, 0], clip[:, None].expand(-1, 6))
    assert torch.equal(motion[:, :, 1].diff(dim=1), torch.ones(64, 5))
    assert torch.equal(audio[:, :, 0], motion[:, :, 1])  # audio and motion of the same frames
    assert torch.equal(windows["emotion"][:, 0], clip)
    assert torch.equal(source[:, 0], clip)
    # 'any': sources spread over the whole clip, not only the window
    assert len(set(source[:, 1].tolist())) > 8


def test_source_frame_first_takes_each_clip_first_frame() -> None:
    windows = _clips().draw_windows(32, 6, torch.Generator().manual_seed(0), source_frame="first")
    assert torch.equal(windows["source"][:, 1], torch.zeros(32))
    assert torch.equal(windows["source"][:, 0], windows["motion"][:, 0, 0])
    # windows still start anywhere
    assert len(set(windows["motion"][:, 0, 1].tolist())) > 4
