"""The HTML report in real headless Chromium, driven over the DevTools protocol.

Chromium's ``--remote-debugging-pipe`` speaks DevTools JSON over file descriptors 3 (in) and
4 (out), NUL-delimited, so no websocket library is needed. We record every network request,
console message, log entry (CSP violations land there), uncaught exception and dialog while
the page loads, then ask the page itself what it rendered.
"""
import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from test_report import EVIL, make_run, wp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = next((p for p in (os.environ.get("WATTPRINT_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser"), shutil.which("google-chrome")) if p), None)


class DevTools:
    def __init__(self, binary, profile):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--disable-default-apps", "--mute-audio",
                 "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]

        def fds():  # the protocol's fixed descriptors: 3 = commands in, 4 = replies out
            r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)  # safe even if either is 3 or 4
            os.dup2(r, 3)
            os.dup2(w, 4)

        # close_fds=False: subprocess would otherwise close 3 and 4 after preexec_fn.
        self.proc = subprocess.Popen([binary, *flags], preexec_fn=fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next = 0
        self.events: list = []
        self._replies: dict = {}
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cv:
                    self._replies[None] = "closed"
                    self._cv.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cv:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self._cv.notify_all()

    def send(self, method, params=None, session=None, timeout=30.0):
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._next not in self._replies:
                if None in self._replies or time.monotonic() > deadline:
                    raise RuntimeError(f"no reply to {method}")
                self._cv.wait(0.1)
            reply = self._replies.pop(self._next)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_for(self, method, timeout=30.0):
        deadline = time.monotonic() + timeout
        with self._cv:
            while not any(e.get("method") == method for e in self.events):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no {method} event")
                self._cv.wait(0.1)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass


def load_in_chromium(path, profile, width=794):
    """Load ``path`` in a ``width`` px wide window (794: an A4 page at 96 dpi)."""
    dt = DevTools(CHROMIUM, profile)
    try:
        target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            dt.send(f"{domain}.enable", session=session)
        dt.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 1123, "deviceScaleFactor": 1,
                                                       "mobile": False}, session=session)
        dt.events.clear()
        url = "file://" + os.path.abspath(path)
        dt.send("Page.navigate", {"url": url}, session=session)
        dt.wait_for("Page.loadEventFired")
        time.sleep(0.3)  # late requests or console output would arrive now
        probe = dt.send("Runtime.evaluate", {"returnByValue": True, "expression": """(() => {
            const plots = [...document.querySelectorAll('svg.plot')];
            return {
              title: document.title,
              plots: plots.map(s => s.getAttribute('class')),
              drawn: plots.filter(s => s.getBoundingClientRect().width > 100
                                     && s.getBoundingClientRect().height > 50).length,
              polylines: document.querySelectorAll('svg.power polyline.series').length,
              bars: document.querySelectorAll('svg.breakdown rect.bar').length,
              scripts: document.scripts.length,
              pwned: typeof window.__pwned !== 'undefined',
              overflow: document.documentElement.scrollWidth - window.innerWidth,
              text: document.body.innerText,
            };
        })()"""}, session=session)["result"]["value"]
        return url, list(dt.events), probe
    finally:
        dt.close()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs Debian's chromium)")
def test_report_loads_offline_with_no_errors_and_its_plots(store_path, tmp_path):
    evil = EVIL + "<script>window.__pwned=1</script>"
    make_run(store_path, "b1", project=evil, tags=[evil], command=f"python {evil}")
    make_run(store_path, "b2", n=600, tags=["tuning"])
    out = tmp_path / "report.html"
    r = wp("report", "b1", "b2", "--html", str(out))
    assert r.returncode == 0, r.stderr
    url, events, probe = load_in_chromium(out, tmp_path / "profile")

    requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    assert requests == [url], requests  # the file itself, nothing else
    console = [e["params"] for e in events if e["method"] == "Runtime.consoleAPICalled"]
    assert console == []
    logs = [e["params"]["entry"] for e in events if e["method"] == "Log.entryAdded"]
    assert [x for x in logs if x["level"] in ("error", "warning")] == []
    assert not [e for e in events if e["method"] in ("Runtime.exceptionThrown", "Page.javascriptDialogOpening")]

    assert probe["scripts"] == 0 and probe["pwned"] is False
    assert evil.replace("\n", " ") in probe["text"] or "<script>window.__pwned=1</script>" in probe["text"]
    assert probe["plots"].count("plot power") == 2 and "plot regions" in probe["plots"]
    assert probe["plots"].count("plot predictions") == 2
    assert probe["drawn"] == len(probe["plots"]) >= 7
    assert probe["polylines"] == 6 and probe["bars"] == 6
    assert "sum of 2 runs" in probe["text"]
    assert probe["overflow"] <= 0, probe["overflow"]  # nothing sticks out of an A4-wide window


# -- what a person sees: a screenshot and the A4 print ---------------------------------------
def _png(path):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB or RGBA PNG, decoded here (no imaging library)."""
    import struct
    import zlib

    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, head = 8, b"", None
    while pos < len(raw):
        n, kind = struct.unpack(">I4s", raw[pos:pos + 8])
        body = raw[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    width, height, depth, color, _, _, interlace = head
    assert depth == 8 and color in (2, 6) and interlace == 0, head
    bpp = 3 if color == 2 else 4
    data, stride, prev, rows = zlib.decompress(idat), width * bpp, bytearray(width * bpp), []
    for y in range(height):
        f, line = data[y * (stride + 1)], bytearray(data[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp * 4)])  # every 4th pixel
        prev = line
    return width, height, rows


def _chromium(*args, timeout=120):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--mute-audio",
                           *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs Debian's chromium)")
def test_screenshot_of_the_report_for_a_person_to_look_at(store_path, tmp_path):
    from test_report_html import add_windows

    make_run(store_path, "shot-1", n=3000)
    add_windows(store_path, "shot-1", warmup_s=240.0)
    out = tmp_path / "report.html"
    assert wp("report", "shot-1", "--html", str(out)).returncode == 0
    png = tmp_path / "report-a4.png"
    # A4 at 96 dpi: 794 x 1123 CSS pixels, the first page as a reader's screen shows it
    _chromium("--hide-scrollbars", "--window-size=794,1123", f"--user-data-dir={tmp_path / 'profile'}",
              f"--screenshot={png}", "file://" + str(out))
    print(f"\nscreenshot of the HTML report: {png}")
    width, height, rows = _png(png)
    assert 1.35 <= height / width <= 1.48, (width, height)  # A4 is 1.414
    pixels = [p for row in rows for p in row]
    colours = set(pixels)
    ink = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    assert len(colours) > 20 and 0.01 < ink < 0.6, (len(colours), ink)  # text and charts, not blank
    # the power chart is on that first screen too: its first line's colour is drawn
    assert any(abs(r - 0x1f) < 30 and abs(g - 0x77) < 30 and abs(b - 0xb4) < 30 for r, g, b in pixels)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs Debian's chromium)")
def test_the_report_prints_on_a4_pages(store_path, tmp_path):
    import re

    make_run(store_path, "pdf-1", n=3000)
    out = tmp_path / "report.html"
    assert wp("report", "pdf-1", "--html", str(out)).returncode == 0
    pdf = tmp_path / "report.pdf"
    _chromium("--no-pdf-header-footer", f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={pdf}",
              "file://" + str(out))
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf.read_bytes())
    assert 1 <= len(boxes) <= 8, len(boxes)
    # A4 is 595.3 x 841.9 points; Chromium's default (US Letter) would be 612 x 792
    assert all(abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2 for w, h in boxes), boxes
