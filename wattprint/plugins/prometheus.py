"""Prometheus metrics: this node's energy counters and power, from a training or a daemon.

    wattprint exporter --port 9464              # a node daemon
    wattprint.track(prometheus_port=9464)       # from the training process itself

Metrics (one series per measured domain):

    wattprint_energy_joules_total{domain,kind,source,label,node,run}   counter, J since start
    wattprint_power_watts{domain,kind,source,label,node,run}           gauge, W over the last poll

``rate(wattprint_energy_joules_total[1m])`` is the average power; ``increase(...[1h]) / 3.6e6``
the kWh of an hour. ``push_gateway=URL`` (or ``WATTPRINT_PUSHGATEWAY``) also pushes them to a
Pushgateway, for jobs too short to be scraped. ``prometheus_client`` is an optional dependency
(``pip install 'wattprint[prometheus]'``), imported only here.

In a multi-process job only ranks that measure something serve (by default the node's local
rank 0); a rank with local rank k serves on ``prometheus_port + k``, so ranks never collide.
"""
from __future__ import annotations

import logging
import os
import socket
import threading

from ..errors import UsageError

log = logging.getLogger("wattprint")

DEFAULT_PORT = 9464
LABELS = ("domain", "kind", "source", "label", "node", "run")
INSTALL = "install it with: pip install 'wattprint[prometheus]'"


def client():
    """prometheus_client, or UsageError saying how to install it."""
    try:
        import prometheus_client
    except ImportError:
        raise UsageError(f"Prometheus export needs prometheus_client; {INSTALL}") from None
    return prometheus_client


def check_port(port) -> int:
    try:
        p = int(port)
    except (TypeError, ValueError):
        raise UsageError(f"prometheus port must be a whole number 0-65535, got {port!r}") from None
    if not 0 <= p <= 65535 or isinstance(port, bool) or (isinstance(port, float) and port != p):
        raise UsageError(f"prometheus port must be a whole number 0-65535, got {port!r}")
    return p


class EnergyCollector:
    """A prometheus_client collector over live readings (taken at scrape time, never waiting
    for a meter read in progress).

    ``reading()`` returns ``(domains, {domain: J}, {domain: W})``, or None before measuring
    starts; ``node`` and ``run_fn`` give the labels.
    """

    def __init__(self, reading, *, node=None, run_fn=None):
        self._reading = reading
        self._node = node or socket.gethostname()
        self._run_fn = run_fn or (lambda: "")

    def describe(self):
        return []  # no fixed series: registering must not read the meters

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        energy = CounterMetricFamily("wattprint_energy_joules",
                                     "Energy drawn since measuring started, per domain (J)",
                                     labels=LABELS)
        power = GaugeMetricFamily("wattprint_power_watts",
                                  "Average power over the last poll, per domain (W)", labels=LABELS)
        reading = self._reading()
        if reading is not None:
            domains, joules, watts = reading
            node, run = str(self._node() if callable(self._node) else self._node), self._run_fn()
            for d in domains:
                values = [d.name, d.kind, d.source, d.label, node, run or ""]
                energy.add_metric(values, joules.get(d.name, 0.0))
                power.add_metric(values, watts.get(d.name, 0.0))
        yield energy
        yield power


class Exposer:
    """A registry with one collector, served over HTTP and/or pushed to a Pushgateway."""

    def __init__(self, collector, *, job="wattprint", grouping=None):
        pc = client()
        self.registry = pc.CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self.job = job
        self.grouping = grouping or {}
        self.server = None
        self.port = None
        self._push_stop = threading.Event()
        self._push_thread = None

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        from prometheus_client import start_http_server

        self.server, _ = start_http_server(port, addr=addr, registry=self.registry)
        self.port = self.server.server_port
        return self.port

    def push(self, gateway: str) -> None:
        from prometheus_client import push_to_gateway

        push_to_gateway(gateway, job=self.job, registry=self.registry,
                        grouping_key=self.grouping, timeout=10)

    def push_every(self, gateway: str, seconds: float) -> None:
        def loop():
            while not self._push_stop.wait(seconds):
                try:
                    self.push(gateway)
                except Exception as e:  # a gateway outage must not stop anything
                    log.warning("wattprint: push to %s failed (%s)", gateway, e)
        self._push_thread = threading.Thread(target=loop, name="wattprint-push", daemon=True)
        self._push_thread.start()

    def close(self) -> None:
        self._push_stop.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class PrometheusPlugin:
    """``track(prometheus_port=N)`` / ``push_gateway=URL``: the run's domains as metrics."""

    def __init__(self, port=None, push_gateway=None, addr=None, push_interval=15.0):
        self.port = None if port is None else check_port(port)
        self.push_gateway = push_gateway
        self.addr = addr or os.environ.get("WATTPRINT_PROMETHEUS_ADDR") or "0.0.0.0"
        self.push_interval = push_interval
        self.exposer: Exposer | None = None
        client()  # missing package: say so at track(), before any training

    def started(self, run) -> None:
        if not run.domains:  # e.g. a rank whose node is measured by another rank
            return
        def reading():
            return run.domains, run.energy(fresh=False).energy_j, run.power()

        collector = EnergyCollector(reading, node=lambda: run.node or socket.gethostname(),
                                    run_fn=lambda: run.run_id)
        self.exposer = Exposer(collector, grouping={"instance": socket.gethostname(),
                                                    "run": run.run_id})
        if self.port is not None:
            port = self.port
            local_rank = run.placement.local_rank
            if port and local_rank:
                port += local_rank  # ranks sharing a node each get their own port
            try:
                run.prometheus_port = self.exposer.serve(port, self.addr)
            except OSError as e:
                log.warning("wattprint: cannot serve Prometheus metrics on %s:%s (%s); "
                            "choose another prometheus_port", self.addr, self.port, e.strerror or e)
        if self.push_gateway:
            self.exposer.push_every(self.push_gateway, self.push_interval)

    def stopping(self, run) -> None:
        if self.exposer is not None and self.push_gateway:
            try:
                self.exposer.push(self.push_gateway)  # the final totals
            except Exception as e:
                log.warning("wattprint: final push to %s failed (%s)", self.push_gateway, e)

    def stopped(self, run) -> None:
        if self.exposer is not None:
            self.exposer.close()
