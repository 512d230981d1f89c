"""``wattprint doctor``: which meters this machine has, which it cannot read, and how to fix it."""
from __future__ import annotations

import platform
import sys

from ._common import add_json
from ._output import print_json, printable


def add_arguments(p, name) -> None:
    p.add_argument("--sysfs-root", help="read powercap under this root instead of / "
                                        "(also $WATTPRINT_SYSFS_ROOT)")
    p.add_argument("--store", metavar="PATH", help="check this run store path")
    add_json(p)


def run(args) -> int:
    from .. import __version__
    from ..meters import discover
    from ..store import default_path
    from ..store.check import diagnose

    disc = discover(sysfs_root=args.sysfs_root)
    store_path = args.store or default_path()
    store = diagnose(store_path)
    domains = disc.domains
    out = {
        "wattprint": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
        "domains": [d.as_dict() for d in domains],
        "unavailable": [u.__dict__ for u in disc.unavailable],
        "store": store.as_dict(),
        "hints": cpu_hints(domains),
    }
    disc.close()
    if args.json:
        print_json(out)
        return 0
    print(f"wattprint {__version__} · Python {out['python']} · {out['platform']}")
    print("\nMeasuring:")
    for d in domains:
        print(printable(f"  {d.name:<10} {d.label:<8} {d.source:<10} {d.method}"))
    if not domains:
        print("  nothing: no meter could be opened")
    if disc.unavailable:
        print("\nNot available:")
        for u in disc.unavailable:
            print(printable(f"  {u.source:<10} {u.reason}"))  # reasons can hold user paths
            if u.fix:
                print(printable(f"  {'':<10} fix: {u.fix}"))
    for hint in out["hints"]:
        print()
        print(printable(f"Hint: {hint}"))
    modelled = [d for d in domains if d.label == "modelled"]
    if modelled:
        print(f"\n{len(modelled)} domain(s) are modelled, not measured: their energy is an estimate.")
    print()
    print(printable(f"Store: {store.path} ({'writable' if store.writable else 'NOT writable'}: "
                    f"{store.message})"))  # the path is the user's: no raw control characters
    return 0



def cpu_hints(domains) -> list[str]:
    """What a user of a VM (a CPU name without a model number, or one no table row matches)
    can do so that the modelled CPU is charged its own power, not a default."""
    hints = []
    for d in domains:
        if d.source != "cpu-model" or "W/core default" not in d.method:
            continue
        name = d.meta.get("cpu") or "unknown"
        if d.meta.get("matched"):
            why = (f"CPU '{name}' matched {d.meta['matched']}, but its power per thread is "
                   "unknown here (no thread count or no published TDP), so a default of 12 W/core "
                   "is charged")
        else:
            from ..meters.cpu_names import closest

            near = closest(name, 3) if name != "unknown" else []
            why = (f"CPU '{name}' names no model wattprint knows (a VM often hides it), so a "
                   "default of 12 W/core is charged"
                   + (f"; closest: {', '.join(near)}" if near else ""))
        hints.append(f"{why}. Name the CPU with `wattprint run --cpu NAME` "
                     "(`wattprint hardware CPU` lists them; your cloud's instance page names the "
                     "model), or give its package power with `--cpu-tdp-w W` (where its thread "
                     "count is unknown: the power of the CPUs the run may use).")
    return hints
