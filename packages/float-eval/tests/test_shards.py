"""Point 5 of #28: shards merge into the single run's report; progress per frame; CSV; --paper-table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fe_standins import FrameCount, components
from typer.testing import CliRunner

from float_eval import ClipSampling, EvalConfig, evaluate, merge_shards, register_metric, run_shard
from float_eval.cli import app
from float_eval.registry import unregister_metric


def _config(gen: Path, ref: Path, src: Path) -> EvalConfig:
    return EvalConfig(
        generated=gen,
        reference=ref,
        sources=src,
        fvd=ClipSampling(min_clips=2, clip_hop=4),
        lse_min_track=5,
        lse_min_face_size=10,
        pfid_translation=True,
    )


def test_three_shards_merge_into_the_single_run(folders: tuple[Path, Path, Path], tmp_path: Path) -> None:
    gen, ref, src = folders
    config = _config(gen, ref, src)
    single = evaluate(config, components(), progress=False)
    paths = [run_shard(config, i, 3, tmp_path / f"s{i}.npz", components(), progress=False) for i in (1, 2, 3)]
    merged = merge_shards(list(reversed(paths)))  # any order
    assert set(single.aggregate) == {"fid", "fvd", "csim", "efid", "pfid", "lse_d", "lse_c"}
    for key, value in single.aggregate.items():
        assert value is not None
        # Fréchet distances from summed float64 statistics; CSIM and LSE from the same per-video scores.
        assert merged.aggregate[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    for key in ("csim", "lse_d", "lse_c"):
        assert merged.aggregate[key] == single.aggregate[key]
    assert merged.model_dump(exclude={"aggregate"}) == single.model_dump(exclude={"aggregate"})
    assert [v.name for v in merged.per_video] == ["a", "b", "c", "d"]

    with pytest.raises(ValueError, match="shards 2/3 are missing"):
        merge_shards([paths[0], paths[2]])
    with pytest.raises(ValueError, match="given twice"):
        merge_shards([paths[0], paths[0], paths[1], paths[2]])
    other = run_shard(
        config.model_copy(update={"lse_min_track": 6}), 2, 3, tmp_path / "x.npz", components(), False
    )
    with pytest.raises(ValueError, match=r"differ in their settings \(lse_min_track\)"):
        merge_shards([paths[0], other, paths[2]])
    (tmp_path / "junk.npz").write_bytes(b"not a shard")
    with pytest.raises(ValueError, match="not a float-eval shard file"):
        merge_shards([tmp_path / "junk.npz"])


def test_cli_shards_merge_and_write_csv(folders: tuple[Path, Path, Path], tmp_path: Path) -> None:
    gen, ref, _ = folders
    register_metric("frame_count", FrameCount)
    try:
        runner = CliRunner()
        args = ["run", "--generated", str(gen), "--reference", str(ref), "--metrics", "frame_count"]
        args.append("--no-progress")
        single = runner.invoke(app, [*args, "--out", str(tmp_path / "single.json"), "--paper-table"])
        assert single.exit_code == 0, single.output
        assert "FLOAT (paper, Table 1, HDTF)" in (tmp_path / "single.md").read_text()
        for i in (1, 2):
            part = runner.invoke(app, [*args, "--shard", f"{i}/2", "--out", str(tmp_path / "run.json")])
            assert part.exit_code == 0 and f"run.shard-{i}-of-2.npz" in part.output
        bad = runner.invoke(app, [*args, "--shard", "3/2"])
        assert bad.exit_code == 2 and "1 <= i <= n" in bad.output
        shards = [str(tmp_path / f"run.shard-{i}-of-2.npz") for i in (1, 2)]
        merged = runner.invoke(app, ["merge", *shards, "--out", str(tmp_path / "merged.json")])
        assert merged.exit_code == 0, merged.output
        assert "3 pairs scored" in merged.output and "frame_count: 27.3333" in merged.output
        a = json.loads((tmp_path / "single.json").read_text())
        b = json.loads((tmp_path / "merged.json").read_text())
        assert a == b
        missing = runner.invoke(app, ["merge", shards[0]])
        assert missing.exit_code == 2 and "shards 2/2 are missing" in missing.output
    finally:
        unregister_metric("frame_count")
    rows = list(csv.DictReader((tmp_path / "merged.csv").open()))
    assert rows[0]["video"] == "(all)" and float(rows[0]["frame_count"]) == pytest.approx(82 / 3)
    assert [r["video"] for r in rows[1:]] == ["a", "b", "c", "d"]
    assert rows[2]["frames_generated"] == "12" and "frame counts differ" in rows[2]["problems"]
    assert rows[4]["problems"] == "no generated video of this name"


def test_third_party_metric_without_state_cannot_be_sharded(
    folders: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    class NoState(FrameCount):
        name = "no_state"
        state = None  # type: ignore[assignment]

    register_metric("no_state", NoState)
    try:
        gen, ref, _ = folders
        config = EvalConfig(generated=gen, reference=ref, metrics=["no_state"])
        with pytest.raises(ValueError, match="'no_state' cannot be sharded"):
            run_shard(config, 1, 2, tmp_path / "s.npz", progress=False)
    finally:
        unregister_metric("no_state")


def test_progress_shows_frames_within_a_video(
    folders: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    gen, ref, _ = folders
    evaluate(EvalConfig(generated=gen, reference=ref, metrics=["fid"]), components(), progress=True)
    err = capsys.readouterr().err
    assert "a generated metrics" in err and "frame" in err and "float-eval" in err
