"""``wattprint exporter``: serve this node's energy counters and power to Prometheus."""
from __future__ import annotations

import signal
import socket
import sys
import threading


def add_arguments(p, name) -> None:
    p.add_argument("--port", type=int, default=9464, help="HTTP port for /metrics (default 9464; 0: any free port)")
    p.add_argument("--addr", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--interval", type=float, default=1.0, metavar="S",
                   help="seconds between meter reads (default 1)")
    p.add_argument("--push-gateway", metavar="URL", help="also push to this Pushgateway")
    p.add_argument("--push-interval", type=float, default=15.0, metavar="S",
                   help="seconds between pushes (default 15)")
    p.add_argument("--job", default="wattprint", help="Pushgateway job name (default wattprint)")
    p.add_argument("--node", help="node label (default: this host's name)")
    p.add_argument("--once", action="store_true",
                   help="print the metrics once, after one interval, and exit (for a textfile collector)")
    p.add_argument("--no-gpus", action="store_true", help="leave out GPUs")


def run(args) -> int:
    from ..errors import UsageError
    from ..plugins.prometheus import EnergyCollector, Exposer, check_port, client
    from ..meters import discover
    from ..sampler import MIN_INTERVAL_S, Sampler
    from ..units import check_range, check_url, printable, shown

    client()
    port = check_port(args.port)
    check_range(args.interval, "--interval", 3600, "s", lowest=MIN_INTERVAL_S, why="an hour")
    check_range(args.push_interval, "--push-interval", 86400, "s", lowest=0.1, why="a day")
    if args.push_gateway is not None:
        args.push_gateway = check_url(args.push_gateway, "--push-gateway")
    for opt, value in (("--job", args.job), ("--node", args.node)):
        if value is not None and printable(value) != value:
            raise UsageError(f"{opt} {shown(value)}: a label may not hold control characters; "
                             "use letters, digits, '-', '_' or '.'")
    disc = discover(gpus=not args.no_gpus)
    if not disc.meters:
        raise UsageError("no energy source on this machine; 'wattprint doctor' says what is missing")
    sampler = Sampler(disc.meters, args.interval)
    node = args.node or socket.gethostname()

    def reading():
        return sampler.domains, sampler.snapshot(fresh=False, timeout=0.1).energy_j, sampler.power()

    exposer = Exposer(EnergyCollector(reading, node=node), job=args.job,
                      grouping={"instance": node})
    done = threading.Event()
    sampler.start()
    try:
        if args.once:
            done.wait(args.interval)
            sampler.snapshot(fresh=True)
            sys.stdout.write(exposer.text())
            return 0
        try:
            bound = exposer.serve(port, args.addr)
        except OSError as e:
            raise UsageError(f"cannot listen on {shown(args.addr)}:{port} ({e.strerror or e}); "
                             "choose another --port") from None
        if args.push_gateway:
            exposer.push_every(args.push_gateway, args.push_interval)
        names = ", ".join(d.name for d in sampler.domains)
        print(f"wattprint exporter: serving {names} on http://{args.addr}:{bound}/metrics",
              file=sys.stderr, flush=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        while not done.wait(1.0):
            pass
        if args.push_gateway:
            try:
                exposer.push(args.push_gateway)
            except Exception as e:
                print(f"wattprint exporter: last push failed ({e})", file=sys.stderr)
        return 0
    finally:
        exposer.close()
        sampler.stop()
        disc.close()
