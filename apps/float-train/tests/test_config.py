"""Config loading: every bad input gives one clear message naming the field (and exit status 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from float_train.cli import app
from float_train.config import AEStageConfig, ConfigError, FMTStageConfig, apply_overrides, load_config

runner = CliRunner()


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def _base(prepared_dir: Path, tmp_path: Path) -> dict:
    return {
        "run_dir": str(tmp_path / "run"),
        "data": {"root": str(prepared_dir)},
        "loss": {"perceptual": 0, "component": 0},
        "train": {"steps": 10},
    }


def test_overrides_parse_yaml_scalars_and_create_sections() -> None:
    data = apply_overrides(
        {"optim": {"lr": 1.0}}, ["optim.lr=1e-4", "train.steps=5", "train.trackers=[wandb]"]
    )
    assert data == {"optim": {"lr": 1e-4}, "train": {"steps": 5, "trackers": ["wandb"]}}
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["optim.lr"])
    with pytest.raises(ConfigError, match=r"optim\.lr is a value, not a section"):
        apply_overrides({"optim": {"lr": 1.0}}, ["optim.lr.x=1"])


def test_yaml_and_toml_give_the_same_config(prepared_dir: Path, tmp_path: Path) -> None:
    yaml_file = _write(tmp_path / "c.yaml", _base(prepared_dir, tmp_path))
    toml_file = tmp_path / "c.toml"
    toml_file.write_text(
        f'run_dir = "{tmp_path / "run"}"\n[data]\nroot = "{prepared_dir}"\n'
        "[loss]\nperceptual = 0\ncomponent = 0\n[train]\nsteps = 10\n"
    )
    a, b = load_config(yaml_file, "ae"), load_config(toml_file, "ae")
    assert isinstance(a, AEStageConfig) and a == b
    assert a.optim.lr == 1e-4 and a.train.batch_size == 8


def test_fmt_defaults_follow_the_paper(prepared_dir: Path, ae_run: Path, tmp_path: Path) -> None:
    data = {
        "run_dir": str(tmp_path / "r"),
        "data": {"root": str(prepared_dir)},
        "motion_ae": str(ae_run),
        "train": {"steps": 1},
    }
    config = load_config(_write(tmp_path / "f.yaml", data), "fmt")
    assert isinstance(config, FMTStageConfig)
    assert (config.optim.lr, config.optim.grad_clip, config.train.batch_size) == (1e-5, 1.0, 8)
    assert config.loss.p_audio == 0.1 and config.loss.p_context == 0.5 and config.loss.lambda_vel == 1.0
    assert config.emotion.name == "fixed" and config.emotion.options == {"emotion": "neutral"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"optim": {"lr": 1e-4, "lrr": 1}}, "optim.lrr: unknown key"),
        ({"train": {"steps": "many"}}, "train.steps: Input should be a valid integer"),
        ({"optim": {"lr": -1}}, "optim.lr: Input should be greater than 0"),
        ({"train": {"mixed_precision": "fp8", "steps": 3}}, "train.mixed_precision: Input should be 'no'"),
    ],
)
def test_bad_values_name_the_field_and_the_file(
    prepared_dir: Path, tmp_path: Path, change: dict, expected: str
) -> None:
    data = _base(prepared_dir, tmp_path)
    for key, value in change.items():
        data[key] = {**data.get(key, {}), **value}
    path = _write(tmp_path / "bad.yaml", data)
    with pytest.raises(ConfigError) as info:
        load_config(path, "ae")
    assert expected in str(info.value) and str(path) in str(info.value)
    result = runner.invoke(app, ["ae", str(path)])
    assert result.exit_code == 2
    assert result.output.count("error:") == 1 and expected in result.output
    assert "Traceback" not in result.output


def test_missing_data_folder_says_to_run_prepare(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "c.yaml",
        {"run_dir": str(tmp_path / "run"), "data": {"root": str(tmp_path / "nope")}, "train": {"steps": 1}},
    )
    result = runner.invoke(app, ["ae", str(path)])
    assert result.exit_code == 2
    assert f"data.root: dataset folder {tmp_path / 'nope'} does not exist" in result.output
    assert "float-data prepare" in result.output


def test_set_override_and_missing_field_on_the_command_line(prepared_dir: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "c.yaml", _base(prepared_dir, tmp_path))
    result = runner.invoke(app, ["ae", str(path), "--set", "optim.lr=0"])
    assert result.exit_code == 2 and "optim.lr: Input should be greater than 0" in result.output
    data = _base(prepared_dir, tmp_path)
    del data["train"]
    result = runner.invoke(app, ["ae", str(_write(tmp_path / "d.yaml", data))])
    assert result.exit_code == 2 and "train: required field is missing" in result.output


def test_stage_mismatch_and_lpips_without_weights(prepared_dir: Path, tmp_path: Path, monkeypatch) -> None:
    data = {**_base(prepared_dir, tmp_path), "stage": "fmt"}
    result = runner.invoke(app, ["ae", str(_write(tmp_path / "c.yaml", data))])
    assert result.exit_code == 2 and "run `float-train fmt" in result.output
    monkeypatch.delenv("FLOAT_LPIPS_VGG", raising=False)
    data = _base(prepared_dir, tmp_path)
    data["loss"] = {"perceptual": 1.0, "component": 0}
    data["model"] = {"size": 32, "latent_dim": 32, "motion_dim": 8, "channel_base": 512, "channel_max": 16}
    result = runner.invoke(app, ["ae", str(_write(tmp_path / "e.yaml", data))])
    assert result.exit_code == 2 and "set lpips_vgg: PATH" in result.output


def test_device_threads_and_the_old_cpu_key(prepared_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from float_train import loop as loop_module
    from float_train.ae import AETrainer

    def train(**values: object) -> AEStageConfig:
        data = _base(prepared_dir, tmp_path)
        data["train"] |= values
        config = load_config(_write(tmp_path / "c.yaml", data), "ae")
        assert isinstance(config, AEStageConfig)
        return config

    assert train().train.device == "auto" and train().train.threads is None
    assert train(cpu=True).train.device == "cpu" and train(cpu=False).train.device == "auto"  # the old name
    assert train(cpu=True, device="cpu").train.device == "cpu"
    with pytest.raises(ConfigError, match="contradicts device: cuda"):
        train(cpu=True, device="cuda")
    with pytest.raises(ConfigError, match=r"train\.device: Input should be 'auto', 'cpu' or 'cuda'"):
        train(device="tpu")
    with pytest.raises(ConfigError, match=r"train\.threads: Input should be greater than 0"):
        train(threads=0)
    calls: list[int] = []
    monkeypatch.setattr(loop_module.torch, "set_num_threads", calls.append)
    trainer = AETrainer(train(device="cpu", threads=3), show_progress=False)
    assert calls == [3] and trainer.device.type == "cpu"
    if not loop_module.torch.cuda.is_available():
        with pytest.raises(ConfigError, match="sees no CUDA device"):
            AETrainer(train(device="cuda"), show_progress=False)


def test_sampling_modes_belong_to_their_stage(prepared_dir: Path, ae_run: Path, tmp_path: Path) -> None:
    def ae(**data: object) -> None:
        base = _base(prepared_dir, tmp_path)
        base["data"] |= data
        load_config(_write(tmp_path / "a.yaml", base), "ae")

    def fmt(**data: object) -> None:
        base = {
            "run_dir": str(tmp_path / "f"),
            "data": {"root": str(prepared_dir), **data},
            "motion_ae": str(ae_run),
            "train": {"steps": 1},
        }
        load_config(_write(tmp_path / "f.yaml", base), "fmt")

    ae(pair_sampling="video")
    fmt(window_sampling="random")
    with pytest.raises(ConfigError, match="min_gap and max_gap belong to pair_sampling 'frame'"):
        ae(pair_sampling="video", max_gap=4)
    with pytest.raises(ConfigError, match="window_stride belongs to window_sampling 'grid'"):
        fmt(window_sampling="random", window_stride=1)
    fmt(window_sampling="random", source_frame="first")
    with pytest.raises(ConfigError, match="source_frame belongs to window_sampling 'random'"):
        fmt(source_frame="first")
    with pytest.raises(ConfigError, match=r"data\.window_sampling is a stage-2 setting"):
        ae(window_sampling="random")
    with pytest.raises(ConfigError, match=r"data\.pair_sampling is a stage-1 setting"):
        fmt(pair_sampling="video")
