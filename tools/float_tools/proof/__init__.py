"""FLOAT-kit's learning proof: score a bundle's lip sync on held-out audio of the offline corpus.

float-train trains the demo bundle (``apps/float-train/configs/demo-*.yaml``); ``python -m
float_tools.proof.run``
generates clips for a held-out corpus and scores them (mouth-opening Pearson r against the ground truth, a
shuffled-audio baseline, auto-encoder PSNR). ``float_tools.proof.portraits`` writes the training corpus's
extra portraits
and ``float_tools.proof.crop_scale`` measures a prepared set's crop zoom. ``python -m
float_tools.proof.unseen`` scores a bundle on real portraits nobody picked, with two mouth meters (dlib,
MediaPipe). See ``docs/proof.md``.
"""

from float_tools.proof.measure import pearson, psnr, shuffled_pairs, speech_mask

__all__ = ["pearson", "psnr", "shuffled_pairs", "speech_mask"]
