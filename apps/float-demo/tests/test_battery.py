"""float-demo's part of the fault battery (issue #29): stopped by SIGTERM, it cleans up like after Ctrl-C;
form values must be finite; and what held is kept: it listens on 127.0.0.1 only and serves no file of the
machine through path tricks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from float_demo.cli import ServeSettings, launch_app, stop_on_sigterm
from float_demo.offline import OFFLINE_ENV
from float_demo.request import DemoInputError, parse_form


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_sigterm_is_handled_like_ctrl_c() -> None:
    """Item 11: SIGTERM ended the demo without any clean-up (Python's default action)."""
    previous = signal.getsignal(signal.SIGTERM)
    try:
        stop_on_sigterm()
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGTERM, None)
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.slow  # a real server process: Gradio's import and start-up take ~15 s
def test_sigterm_removes_the_videos_and_uploads(
    tiny_bundle: Path, portrait_png: Path, tmp_path: Path
) -> None:
    """Item 11: SIGTERM to float-demo left its videos and Gradio's uploads in the temp dir."""
    temp, uploads = tmp_path / "tmp", tmp_path / "gradio"
    temp.mkdir()
    port = _free_port()
    env = {**os.environ, "TMPDIR": str(temp), "GRADIO_TEMP_DIR": str(uploads), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "float_demo", "--checkpoint", str(tiny_bundle), "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "the demo did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        with portrait_png.open("rb") as handle:
            answer = httpx.post(
                f"http://127.0.0.1:{port}/gradio_api/upload", files={"files": handle}, timeout=30
            )
        assert answer.status_code == 200, answer.text
        assert _files(uploads), "the upload is in Gradio's cache"
        outputs = list(temp.glob("float-demo-*"))
        assert len(outputs) == 1 and outputs[0].is_dir()  # the private folder of rendered videos
        (outputs[0] / "float-demo-0123456789ab.mp4").write_bytes(b"a rendered video")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert not list(temp.glob("float-demo-*"))
    assert _files(uploads) == []


@pytest.mark.parametrize("field", ["emotion_intensity", "audio_scale", "emotion_scale"])
def test_form_numbers_are_finite(field: str) -> None:
    """Item 7: no NaN or infinity reaches the sampler from the page either."""
    with pytest.raises(DemoInputError, match="finite"):
        parse_form({field: float("nan")})


PROBES = (
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/file=../../../../../../etc/passwd",
    "/gradio_api/file=..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/gradio_api/file=%2Fetc%2Fpasswd",
    "/gradio_api/file=//etc/passwd",
    "/file=/etc/passwd",
    "/gradio_api/file={bundle}/bundle.json",
    "/static/../../../../etc/passwd",
    "/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/gradio_api/file={home}/.bashrc",
    "/gradio_api/upload_progress?upload_id=../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
)


def test_listens_on_localhost_and_refuses_path_tricks(
    tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held, kept: the default address is 127.0.0.1 and 12 path-traversal probes get no file."""
    for key in OFFLINE_ENV:
        monkeypatch.delenv(key, raising=False)
    port = _free_port()
    demo = launch_app(ServeSettings(checkpoint=str(tiny_bundle), port=port), block=False)
    try:
        assert demo.server_name == "127.0.0.1"
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/", timeout=30).status_code == 200
        for probe in PROBES:
            path = probe.format(bundle=tiny_bundle, home=Path.home())
            answer = httpx.get(base + path, timeout=30)
            assert "root:" not in answer.text and '"resolution"' not in answer.text, path
            assert answer.status_code in (400, 403, 404, 405), (path, answer.status_code)
    finally:
        demo.close()
