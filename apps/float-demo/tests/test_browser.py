"""End to end in a real browser: the ``float-demo`` server (``launch_app``, as the CLI calls it) serves a
tiny random bundle on a free localhost port, headless Chromium (Debian's ``chromium``, driven by Playwright)
uploads the real portrait and speech fixtures, clicks Generate, and must get a playable <video>; the page must
never reach beyond localhost.

A screenshot of the finished page is saved as ``<tmp_path>/float-demo.png`` (run pytest with
``--basetemp DIR`` to keep it at a known place).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from float_demo.cli import ServeSettings, launch_app
from float_demo.offline import OFFLINE_ENV
from float_pipeline.testing import read_mp4, wav_frames

pytestmark = [
    pytest.mark.slow,
    # Gradio's queue uses pandas options that pandas 4 deprecates; not ours to fix.
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),
]

RENDER_TIMEOUT_MS = 240_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tiny_bundle: Path) -> Iterator[str]:
    """The demo server in a background thread of this process (the model is already imported here, so it
    starts in seconds); the offline switches it sets are undone afterwards."""
    port = _free_port()
    with pytest.MonkeyPatch.context() as patch:
        for key in OFFLINE_ENV:
            patch.delenv(key, raising=False)
        demo = launch_app(ServeSettings(checkpoint=str(tiny_bundle), port=port), block=False)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            demo.close()


def test_generate_in_headless_chromium(
    server: str, require_tool, portrait_png: Path, speech_wav: Path, tmp_path: Path
) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import expect, sync_playwright

    requested: list[str] = []
    with sync_playwright() as playwright:
        # Debian's build (playwright install cannot download here); root in a container needs --no-sandbox.
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--headless=new"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(server, wait_until="networkidle")
            expect(page.locator("#generate")).to_be_visible(timeout=60_000)

            # Generate with nothing uploaded: a readable message, not a stack trace.
            page.locator("#generate").click()
            toast = page.get_by_text("no portrait: upload a face image (PNG, JPEG or WebP) first")
            expect(toast).to_be_visible(timeout=60_000)
            assert "Traceback" not in page.content()
            page.get_by_role("button", name="×").or_(page.get_by_label("Close")).first.click()

            page.locator("#portrait input[type=file]").set_input_files(str(portrait_png))
            page.locator("#speech input[type=file]").set_input_files(str(speech_wav))
            expect(page.locator("#portrait img")).to_be_visible(timeout=60_000)
            expect(page.locator("#speech audio, #speech .waveform-container").first).to_be_attached(
                timeout=60_000
            )
            page.locator("#generate").click()

            video = page.locator("#result video")
            expect(video).to_be_attached(timeout=RENDER_TIMEOUT_MS)
            page.wait_for_function(
                "() => { const v = document.querySelector('#result video'); return v && v.readyState >= 1; }",
                timeout=60_000,
            )
            # Play it (muted: headless Chromium's autoplay policy) and watch the clock move.
            played = video.evaluate(
                """async v => {
                    v.muted = true;
                    await v.play();
                    await new Promise(resolve => setTimeout(resolve, 600));
                    v.pause();
                    return {time: v.currentTime, error: v.error && v.error.message, state: v.readyState};
                }"""
            )
            duration = video.evaluate("v => v.duration")
            width = video.evaluate("v => v.videoWidth")
            source = video.evaluate("v => v.currentSrc || v.src")
            expect(page.locator("#summary")).to_contain_text("94 frames (3.74 s of speech) at 32x32")
            page.screenshot(path=str(tmp_path / "float-demo.png"), full_page=True)
            body = page.request.get(source).body()
        finally:
            browser.close()

    # The browser decoded the mp4's header: 94 frames at 25 fps (+ AAC padding), 32 px wide.
    assert 3.7 <= duration <= 3.9
    assert width == 32
    assert played["error"] is None and played["time"] > 0 and played["state"] >= 2
    # The same bytes decode to every frame, with the speech as audio.
    (tmp_path / "served.mp4").write_bytes(body)
    frames, has_audio, _ = read_mp4(tmp_path / "served.mp4")
    assert frames.shape == (wav_frames(speech_wav), 32, 32, 3) and has_audio
    assert (tmp_path / "float-demo.png").stat().st_size > 10_000
    # Offline: every request the page made went to the demo server itself.
    outside = [url for url in requested if not url.startswith((server, "blob:", "data:"))]
    assert requested and outside == []
