"""Open a local HTML file in headless Chromium and report what a reader would see: console errors, images
that failed to load, and a full-page screenshot. Drives Chromium over the DevTools protocol with
websocket-client (small, pure Python) instead of Playwright or Selenium, which would download their own
browser or driver; we use Debian's ``chromium`` package, which .ci/run installs when it is missing."""
from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websocket

# flags for a closed network and a root user (see the machine notes): no sandbox, no background traffic
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1200,900", "--remote-debugging-port=0"]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageCheck:
    console_errors: list[str] = field(default_factory=list)
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    title: str = ""
    text: str = ""


class _DevTools:
    def __init__(self, url: str) -> None:
        self.socket = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, **params: object) -> dict:
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        if any(e.get("method") == event for e in self.events):
            return
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv())
            self.events.append(message)
            if message.get("method") == event:
                return
        raise TimeoutError(f"no {event} within {timeout} s")


def check_page(html: Path, screenshot: Path | None = None) -> PageCheck:
    """Load ``html`` (file URL) in headless Chromium; collect console errors and exceptions, count images
    that did not decode, and write a full-page PNG to ``screenshot``."""
    if not html.is_file():
        raise FileNotFoundError(f"{html}: no such file to open in the browser")
    binary = chromium_path()
    if binary is None:
        raise FileNotFoundError("chromium not found: install Debian's chromium package (.ci/run does)")
    profile = Path(tempfile.mkdtemp(prefix="privsynth-chromium-"))
    process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as response:
            pages = [t for t in json.load(response) if t["type"] == "page"]
        tools = _DevTools(pages[0]["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log"):
            tools.call(f"{domain}.enable")
        tools.events.clear()
        navigation = tools.call("Page.navigate", url=html.resolve().as_uri())
        if navigation.get("errorText"):  # Chromium shows its own error page, which has no console error
            raise RuntimeError(f"{html}: chromium could not load it ({navigation['errorText']})")
        tools.wait_for("Page.loadEventFired")
        result = PageCheck()
        probe = ("JSON.stringify({title: document.title, text: document.body.innerText, "
                 "images: document.images.length, broken: Array.from(document.images)"
                 ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt || i.src.slice(0, 40))})")
        page = json.loads(tools.call("Runtime.evaluate", expression=probe, returnByValue=True)["result"]["value"])
        result.title, result.text, result.images, result.broken_images = (page["title"], page["text"], page["images"],
                                                                          page["broken"])
        if screenshot is not None:
            shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        for event in tools.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                result.console_errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                result.console_errors.append(" ".join(str(a.get("value")) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                result.console_errors.append(params["entry"].get("text", ""))
        tools.socket.close()
        return result
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


def artefact_dir() -> Path:
    """Where browser tests keep their screenshots: $PRIVSYNTH_TEST_ARTEFACTS or build/test-artefacts."""
    return Path(os.environ.get("PRIVSYNTH_TEST_ARTEFACTS", Path(__file__).resolve().parents[1] / "build" / "test-artefacts"))
