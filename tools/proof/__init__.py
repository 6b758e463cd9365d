"""FLOAT-kit's learning proof: train the demo bundle on the offline corpus, score lip sync on held-out audio.

``python -m proof.train`` trains both stages from the recipes in ``apps/float-train/recipes/`` and exports a
bundle; ``python -m proof.run`` generates clips for a held-out corpus and scores them (mouth-opening Pearson r
against the ground truth, a shuffled-audio baseline, auto-encoder PSNR). See ``docs/proof.md``.
"""

from proof.measure import pearson, psnr, shuffled_pairs, speech_mask

__all__ = ["pearson", "psnr", "shuffled_pairs", "speech_mask"]
