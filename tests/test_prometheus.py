"""Prometheus: scraped over HTTP on loopback and parsed with prometheus_client's own parser."""
import http.server
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

import wattprint
from sysfs import FakeRapl
from wattprint.errors import UsageError

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


def flat(analytic, watts, **kw):
    return analytic(lambda t: watts, lambda t: watts * t, **kw)


def parse(text):
    """{(metric sample name, domain): (value, labels)}."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, s.labels.get("domain"))] = (s.value, s.labels, fam.type)
    return out


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return parse(r.read().decode())


def test_track_serves_the_runs_counters(analytic, store_path):
    cpu, gpu = flat(analytic, 40.0), flat(analytic, 250.0, name="gpu:0", kind="gpu")
    with wattprint.track(meters=[cpu, gpu], store=store_path, interval=0.02,
                         prometheus_port=0) as run:
        time.sleep(0.3)
        first = scrape(run.prometheus_port)
        time.sleep(0.3)
        second = scrape(run.prometheus_port)
        port = run.prometheus_port
    e1, labels, typ = first[("wattprint_energy_joules_total", "gpu:0")]
    assert typ == "counter" and labels["run"] == run.run_id and labels["kind"] == "gpu"
    assert labels["source"] == "analytic" and labels["label"] == "measured"
    e2 = second[("wattprint_energy_joules_total", "gpu:0")][0]
    assert 250 * 0.25 < e1 < e2  # counts up
    assert (e2 - e1) == pytest.approx(250 * 0.3, rel=0.25)
    w = second[("wattprint_power_watts", "cpu:0")][0]
    assert w == pytest.approx(40.0, rel=0.01)
    assert second[("wattprint_energy_joules_total", "cpu:0")][0] < e2
    # The server is gone after the run.
    with pytest.raises(OSError):
        scrape(port)


def test_port_in_use_warns_and_the_training_goes_on(analytic, store_path, caplog):
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="wattprint"):
            with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, interval=0.02,
                                 prometheus_port=port) as run:
                time.sleep(0.05)
    assert run.record.status == "finished" and run.record.energy_j > 0
    assert "cannot serve Prometheus metrics" in caplog.text


@pytest.mark.parametrize("bad", ["abc", -1, 70000, 1.5, True])
def test_bad_port_is_a_usage_error_before_training(bad):
    with pytest.raises(UsageError, match="prometheus port"):
        wattprint.track(prometheus_port=bad)


class Gateway(http.server.BaseHTTPRequestHandler):
    pushes: list = []

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Gateway.pushes.append((self.command, self.path, body.decode()))
        self.send_response(200)
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, *a):
        pass


@pytest.fixture
def gateway():
    Gateway.pushes = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}", Gateway.pushes
    srv.shutdown()
    srv.server_close()


def test_final_totals_are_pushed_to_a_pushgateway(analytic, store_path, gateway, monkeypatch):
    url, pushes = gateway
    monkeypatch.setenv("WATTPRINT_PUSHGATEWAY", url)
    with wattprint.track(meters=[flat(analytic, 100.0)], store=store_path, interval=0.02) as run:
        time.sleep(0.2)
    assert pushes, "nothing was pushed"
    method, path, body = pushes[-1]
    assert method == "PUT"
    assert path.startswith("/metrics/job/wattprint/") and f"/run/{run.run_id}" in path
    pushed = parse(body)[("wattprint_energy_joules_total", "cpu:0")][0]
    assert pushed == pytest.approx(run.record.energy_j, rel=1e-6)


def test_unreachable_pushgateway_does_not_stop_the_run(analytic, store_path, monkeypatch, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("WATTPRINT_PUSHGATEWAY", dead)
    with caplog.at_level(logging.WARNING, logger="wattprint"):
        with wattprint.track(meters=[flat(analytic, 10.0)], store=store_path, interval=0.02) as run:
            pass
    assert run.record.status == "finished"
    assert "push to" in caplog.text


@pytest.fixture
def rapl(tmp_path):
    fake = FakeRapl(tmp_path / "sysfs", {"package-0": 40.0, "dram": 5.0}).start()
    yield fake
    fake.stop()


def exporter(*args, rapl):
    env = dict(os.environ, WATTPRINT_SYSFS_ROOT=rapl.root)
    return subprocess.Popen([sys.executable, "-m", "wattprint", "exporter", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_exporter_daemon_serves_node_counters(rapl, gateway):
    url, pushes = gateway
    p = exporter("--port", "0", "--addr", "127.0.0.1", "--interval", "0.05", "--no-gpus",
                 "--push-gateway", url, "--push-interval", "0.2", "--node", "n7", rapl=rapl)
    try:
        line = p.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", line)
        assert m, line + p.stderr.read() if p.poll() is not None else line
        port = int(m.group(1))
        t1, a = time.monotonic(), scrape(port)
        time.sleep(0.5)
        t2, b = time.monotonic(), scrape(port)
        pkg = [k for k in a if k[0] == "wattprint_energy_joules_total" and k[1].startswith("cpu")]
        assert pkg, a
        rate = (b[pkg[0]][0] - a[pkg[0]][0]) / (t2 - t1)
        assert rate == pytest.approx(40.0, rel=0.2)
        assert a[pkg[0]][1]["node"] == "n7" and a[pkg[0]][1]["source"] == "rapl"
        assert b[("wattprint_power_watts", pkg[0][1])][0] == pytest.approx(40.0, rel=0.2)
        dram = [k for k in b if k[0] == "wattprint_power_watts" and k[1].startswith("dram")]
        assert b[dram[0]][0] == pytest.approx(5.0, rel=0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
    assert pushes and "/metrics/job/wattprint/instance/n7" in pushes[-1][1]


def test_exporter_once_prints_the_text_format(rapl):
    p = exporter("--once", "--interval", "0.1", "--no-gpus", rapl=rapl)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    fams = {f.name: f for f in text_string_to_metric_families(out)}
    assert fams["wattprint_energy_joules"].type == "counter"
    assert sum(s.value for s in fams["wattprint_energy_joules"].samples) > 0


@pytest.mark.parametrize("args, msg", [
    (["--port", "70000"], "prometheus port"),
    (["--interval", "0"], "--interval"),
    (["--push-interval", "-1"], "--push-interval"),
])
def test_exporter_bad_input_is_one_line_exit_2(cli, args, msg):
    r = cli("exporter", *args, "--no-gpus")
    assert r.returncode == 2
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ranks_of_one_node_serve_on_port_plus_local_rank(analytic, store_path, monkeypatch):
    for k, v in {"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "GROUP_RANK": "2",
                 "TORCHELASTIC_RUN_ID": "pj"}.items():
        monkeypatch.setenv(k, v)
    base = free_port()
    with wattprint.track(meters=[flat(analytic, 30.0)], store=store_path, interval=0.02,
                         prometheus_port=base) as run:
        time.sleep(0.05)
        assert run.prometheus_port == base + 1
        got = scrape(base + 1)
    (value, labels, _) = got[("wattprint_energy_joules_total", "cpu:0")]
    assert labels["node"] == "2" and labels["run"].endswith(".n2.r5") and value > 0
