"""The plan's HTML page in real headless Chromium: offline, no script, no error, its chart drawn."""
import json
import subprocess
import sys

import pytest

from test_browser import CHROMIUM, load_in_chromium
from test_plan import WRAP

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARGS = ["--params", "7e9", "--tokens", "2e12", "--hardware", "H100,A100,V100", "--where",
        "aws:us-east-1,azure:eastus,gcp:europe-north1", "--count", "256"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs Debian's chromium)")
def test_plan_page_loads_offline_with_its_chart(tmp_path):
    out = tmp_path / "plan.html"
    r = subprocess.run([sys.executable, "-c", WRAP, "plan", *ARGS, "--html", str(out)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    url, events, probe = load_in_chromium(out, tmp_path / "profile")
    requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    assert requests == [url], requests
    assert not [e for e in events if e["method"] in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown",
                                                     "Page.javascriptDialogOpening")]
    logs = [e["params"]["entry"] for e in events if e["method"] == "Log.entryAdded"]
    assert [x for x in logs if x["level"] in ("error", "warning")] == []
    assert probe["scripts"] == 0 and probe["title"] == "wattprint plan"
    assert probe["plots"] == ["plot options"] and probe["drawn"] == 1
    text = probe["text"]
    assert "cleanest:" in text and "cheapest:" in text and "fastest:" in text
    assert "e+" not in text  # no scientific notation on the page
    # every option with both a cost and a CO2e is one point with its two range bars
    d = json.loads(subprocess.run([sys.executable, "-c", WRAP, "plan", *ARGS, "--json"], capture_output=True,
                                  text=True, timeout=120).stdout)
    plotted = sum(1 for o in d["options"] if o["cost_usd"] is not None and o["co2e_kg"] is not None)
    html = out.read_text()
    assert plotted >= 5 and html.count('<circle class="point"') == plotted
    assert html.count('<line class="range"') == 2 * plotted
