"""``float-demo`` options, offline switches, start-up errors, and a real server on a free local port."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from float_demo.cli import ServeSettings, app, launch_app
from float_demo.offline import OFFLINE_ENV, apply_offline_environment

runner = CliRunner()


@pytest.fixture
def offline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the CLI set its switches in os.environ; monkeypatch restores them after the test."""
    for key in OFFLINE_ENV:
        monkeypatch.setenv(key, "unset-by-test")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_help_lists_the_options_and_safe_defaults() -> None:
    result = runner.invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for option in ("--checkpoint", "--host", "--port", "--device", "--dtype", "--share", "--no-share"):
        assert option in result.output
    settings = ServeSettings()
    assert (settings.host, settings.port, settings.share, settings.checkpoint) == (
        "127.0.0.1",
        7860,
        False,
        None,
    )


def test_offline_switches() -> None:
    environ = {"GRADIO_ANALYTICS_ENABLED": "True", "HF_HUB_OFFLINE": "1"}
    changed = apply_offline_environment(environ)
    assert environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert environ["HF_HUB_DISABLE_TELEMETRY"] == "1" and environ["HF_HUB_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in changed and changed["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert apply_offline_environment(environ) == {}


@pytest.mark.usefixtures("offline_env")
def test_missing_checkpoint_is_one_line_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--checkpoint", str(tmp_path / "nowhere"), "--port", "0"])
    assert result.exit_code == 2
    assert "error: checkpoint" in result.output and "is not a folder" in result.output
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("offline_env")
def test_folder_without_bundle_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--checkpoint", str(tmp_path), "--port", "0"])
    assert result.exit_code == 2
    assert f"{tmp_path} is not a FLOAT-kit bundle: bundle.json is missing" in result.output.replace("\n", "")


@pytest.mark.parametrize(
    ("args", "fragment"), [(["--host", "my box"], "--host"), (["--port", "70000"], "--port")]
)
def test_bad_address_options(args: list[str], fragment: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert f"error: {fragment}" in result.output


def test_server_answers_on_localhost(tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in OFFLINE_ENV:
        monkeypatch.delenv(key, raising=False)
    port = free_port()
    demo = launch_app(ServeSettings(checkpoint=str(tiny_bundle), port=port), block=False)
    try:
        # launch_app switched everything off (Gradio itself rewrites the HF telemetry switch as "True").
        assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
        assert all(
            os.environ[key] in ("1", "True") for key in OFFLINE_ENV if key != "GRADIO_ANALYTICS_ENABLED"
        )
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert page.status_code == 200 and "<!doctype html>" in page.text.lower()
        config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=30).json()
        assert config["title"] == "FLOAT-kit demo"
        assert config["analytics_enabled"] is False
        assert any(dep.get("api_name") == "generate" for dep in config["dependencies"])
    finally:
        demo.close()
