"""Figures quoted in the README and the demo bundle's model card come from one results file.

``tools/float_tools/proof/results/demo-bundle.json`` holds the committed demo bundle's proof figures. The
slow proof test measures them again and checks each against this file; this test checks that every place that
quotes one quotes it as the file has it (rounded as printed), so a figure cannot drift from the measurement.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "tools" / "float_tools" / "proof" / "results" / "demo-bundle.json"
README = ROOT / "README.md"
MODEL_CARD = (
    ROOT / "packages" / "float-pipeline" / "src" / "float_pipeline" / "bundles" / "demo" / "README.md"
)


def _sets() -> dict[str, dict[str, float]]:
    return json.loads(RESULTS.read_text())["sets"]


def _flat(path: Path) -> str:
    return " ".join(path.read_text().split())  # quotes may wrap across lines


def test_the_readme_quotes_the_results_file() -> None:
    sets, text = _sets(), _flat(README)
    voice, unseen = sets["voice"]["r_true"], sets["unseen"]["r_true"]
    assert f"r = {voice:.2f} on a training face, {unseen:.2f} on a face it never saw" in text


def test_the_model_card_quotes_the_results_file() -> None:
    sets, text = _sets(), _flat(MODEL_CARD)
    voice, unseen = sets["voice"], sets["unseen"]
    assert f"mean Pearson r = {voice['r_true']:.2f}" in text
    assert f"({voice['r_shuffled']:.2f} with another clip's audio)" in text
    assert f"r = {unseen['r_true']:.2f} ({unseen['r_shuffled']:.2f} shuffled)" in text
    assert f"at {voice['ae_psnr_db']:.1f} dB PSNR" in text
    assert f"reconstructs at {unseen['ae_psnr_db']:.1f} dB" in text


UNSEEN = ROOT / "tools" / "float_tools" / "proof" / "results" / "unseen-portraits.json"
PROOF_DOC = ROOT / "docs" / "proof.md"


def _unseen_quote() -> str:
    """How README.md and docs/proof.md quote the unseen-portrait proof: the gate meter's mean and worst."""
    overall = json.loads(UNSEEN.read_text())["overall"]
    meter = overall["gate_meter"]
    figures = overall["meters"][meter]
    return (
        f"mean r = {figures['r_true']:.2f} over nine real portraits it never saw (worst "
        f"{figures['worst_r_true']:.2f}, {meter} meter)"
    )


def test_the_readme_and_proof_doc_quote_the_unseen_portraits_results() -> None:
    quote = _unseen_quote()
    assert quote in _flat(README)
    assert quote in _flat(PROOF_DOC)
    assert quote in _flat(MODEL_CARD)
