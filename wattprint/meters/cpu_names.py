"""CPU names as /proc/cpuinfo, lscpu and sysctl print them, matched to the shipped tables.

``data/cpu_tdp.csv`` holds the TDP (base power, see ``cpu_tdp.md``); ``data/cpu_cores.csv`` the
cores and hardware threads of the CPUs wattprint meets most (vendor spec pages, a URL per row).
``lookup(name)`` returns one merged row or ``None``: a name matches only when its model number
and its tier words ("Pro", "Max", "X3D") agree exactly, so a family ("AMD EPYC", "Neoverse-N1")
is never guessed. ``closest(name)`` gives the nearest table names for a refusal.
"""
from __future__ import annotations

import builtins
import csv
import difflib
import functools
import os
import re

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
TABLE = os.path.join(DATA, "cpu_tdp.csv")
CORES_TABLE = os.path.join(DATA, "cpu_cores.csv")

_DROP = re.compile(
    r"\(r\)|\(tm\)|®|™|@\s*[\d.]+\s*[gm]hz|\b\d+(st|nd|rd|th)\s+gen(eration)?\b|"
    r"\b\d+-cores?\b|\bprocessor\b|\bcpu\b|\b(with|w/)\s.*$|"
    r"\bintel\b|\bamd\b|\bapple\b|\bqualcomm\b|\bcorporation\b|\baws\b(?!-)|\bampere\b(?!-)")
# Names that say which core a chip uses, not which chip: Graviton2 and Ampere Altra are both
# Neoverse-N1 (lscpu's "Model name" on both), so these are refused with the chips to choose from.
CORE_ONLY = {"neoverse-n1": ("AWS Graviton2", "Ampere Altra Q80-30"),
             "neoverse-v1": ("AWS Graviton3",), "neoverse-v2": ("AWS Graviton4",)}
# Words that name a different chip of the same number ("M1" vs "M1 Pro"): these must agree.
_TIERS = frozenset({"pro", "max", "ultra", "plus", "extreme", "mobile", "embedded", "xt", "x3d"})


def normalise(name: str) -> str:
    """A CPU name reduced to the tokens that identify the model ("xeon gold 6148")."""
    s = _DROP.sub(" ", name.lower().replace("\u00a0", " "))
    s = re.sub(r"[^a-z0-9+\-. ]", " ", s)
    s = " ".join(s.split())
    s = re.sub(r"\bgraviton (\d)\b", r"graviton\1", s)  # "Graviton 2" is "Graviton2"
    s = re.sub(r"\b(e[357]-\d{4}[a-z]*) 0\b", r"\1", s)  # Sandy Bridge: "E5-2680 0 @ 2.70GHz"
    return re.sub(r"\b(i[3579]) (\d{3,5}[a-z]*)\b", r"\1-\2", s)  # Nehalem: "i7 CPU 920"


def cores_in_name(name: str) -> int | None:
    """The core count a name states ("AMD EPYC 9654 96-Core Processor", "64-Cores")."""
    m = re.search(r"\b(\d+)-cores?\b", name.lower())
    return int(m.group(1)) if m and 0 < int(m.group(1)) <= 1024 else None


def _has_digit(tok: str) -> bool:
    return any(c.isdigit() for c in tok)


def _read(path: str) -> list[dict]:
    with builtins.open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _merged(row: dict | None, key: str, c: dict | None) -> dict | None:
    """A TDP row (or None) with its cores-table row (or None) folded in."""
    if row is not None:
        row = dict(row, threads="", max_turbo_w="", cores_url="")
    if c is None:
        return row
    if row is None:  # a chip the TDP table lacks: its TDP (if published) is in this table
        row = {"model": c["model"], "key": key, "tdp_w": c["base_tdp_w"], "n_cores": "",
               "tdp_per_core_w": "", "source": "cpu_cores.csv" if c["base_tdp_w"] else "",
               "ref": ""}
    row.update(n_cores=c["cores"], threads=c["threads"], max_turbo_w=c["max_turbo_w"],
               cores_url=c["url"])
    return row


@functools.lru_cache(maxsize=1)
def _cores() -> dict:
    """The cores table (small) by normalised name."""
    return {normalise(c["model"]): c for c in _read(CORES_TABLE)}


def _exact(key: str) -> dict | None:
    """The merged row whose key is ``key``, found by a text search of the TDP table: the meter's
    usual case, without parsing 4,700 rows into memory (~6 MB at peak)."""
    with builtins.open(TABLE, encoding="utf-8") as f:
        text = f.read()
    header = text[:text.index("\n")]
    found, pos = None, text.find("," + key + ",")
    while pos >= 0 and found is None:
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        r = next(csv.DictReader([header, text[start:end if end >= 0 else len(text)]]))
        found = r if r["key"] == key else None
        pos = text.find("," + key + ",", pos + 1)
    return _merged(found, key, _cores().get(key))


@functools.lru_cache(maxsize=1)
def _rows() -> tuple[dict, list]:
    """(merged rows by key, [(number tokens, all tokens, row)])."""
    cores = _cores()
    by_key = {r["key"]: _merged(r, r["key"], cores.get(r["key"])) for r in _read(TABLE)}
    for key, c in cores.items():
        if key not in by_key:
            by_key[key] = _merged(None, key, c)
    indexed = []
    for r in by_key.values():
        toks = frozenset(r["key"].split())
        indexed.append((frozenset(t for t in toks if _has_digit(t)), toks, r))
    return by_key, indexed


@functools.lru_cache(maxsize=64)
def lookup(model_name: str) -> tuple[dict | None, str]:
    """(merged row or None, how it matched: 'exact', 'tokens' or 'none')."""
    key = normalise(model_name or "")
    q = frozenset(key.split())
    q_numbers = frozenset(t for t in q if _has_digit(t))
    if key:
        row = _exact(key)
        if row is not None:  # no key is a bare family ("epyc"): first-gen "AWS Graviton" is one
            return row, "exact"
    if not q_numbers or key in CORE_ONLY:  # a family or a core design, not a model
        return None, "none"
    _, indexed = _rows()  # parsing every row: only when the text search misses
    best, best_score = None, 0.0
    for numbers, toks, r in indexed:
        # The model number must agree exactly, and so must tier words like "pro".
        if numbers != q_numbers or (q ^ toks) & _TIERS:
            continue
        score = len(q & toks) / len(q | toks)
        if score > best_score:
            best, best_score = r, score
    return (best, "tokens") if best is not None else (None, "none")


def closest(model_name: str, n: int = 5) -> list[str]:
    """The table names nearest to ``model_name``, for a refusal."""
    key = normalise(model_name or "")
    if key in CORE_ONLY:
        return list(CORE_ONLY[key])
    by_key, _ = _rows()
    words = key.split()  # "epyc": names that hold every word asked for, then similar spellings
    near = sorted((k for k in by_key if words and all(w in k.split() for w in words)),
                  key=lambda k: not by_key[k]["threads"])[:n]  # well-known (cores table) first
    near += [k for k in difflib.get_close_matches(key, list(by_key), n=n, cutoff=0.6)
             if k not in near]
    return [by_key[k]["model"] for k in near[:n]]


def search(query: str | None) -> list[dict]:
    """CPUs whose name holds every word of ``query`` ("xeon 8380", "epyc", "amd"), those with a
    known thread count first; "cpu" or no query: the CPUs with a thread count."""
    by_key, _ = _rows()
    q = (query or "").strip().lower()
    if q in ("", "cpu", "cpus"):
        return [r for r in by_key.values() if r["threads"]] if not query or q else []
    words = normalise(q).split() or q.split()
    found = [r for k, r in by_key.items()  # a word is the start of a token: "8380" finds 8380H
             if all(any(t.startswith(w) for t in k.split()) for w in words)]
    return sorted(found, key=lambda r: not r["threads"])


def as_dict(row: dict) -> dict:
    """A CPU row as ``wattprint hardware`` shows it."""
    num = lambda v: float(v) if v else None  # noqa: E731
    return {"kind": "cpu", "model": row["model"], "tdp_w": num(row["tdp_w"]),
            "max_turbo_w": num(row["max_turbo_w"]),
            "cores": int(row["n_cores"]) if row["n_cores"] else None,
            "threads": int(row["threads"]) if row["threads"] else None,
            "tdp_source": row["source"], "url": row["cores_url"] or row["ref"]}


def resolve(name: str) -> dict:
    """The row for a CPU a user named (``--cpu``); ``UsageError`` with the closest names if none."""
    from ..errors import UsageError
    from ..fmt import opt

    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"{opt('cpu').rstrip('=')} must be a CPU model name such as 'AMD EPYC 9654', got {name!r}")
    row, _ = lookup(name)
    if row is None:
        near = closest(name)
        hint = f"; closest: {', '.join(near)}" if near else ""
        raise UsageError(f"unknown CPU {name!r}: give its model with a number, e.g. 'AMD EPYC "
                         f"9654' (wattprint hardware CPU lists them){hint}; or give its power "
                         f"with {opt('cpu_tdp_w')}")
    return row
