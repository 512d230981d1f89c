"""A matrix of bad CLI inputs: every command x its options x bad values.

Each case must end in exit 2 with ONE stderr line starting 'wattprint' (the problem and the
fix), or in a correct answer (exit 0; valid, finite JSON with --json). Never a traceback, never
'inf'/'nan' in the output, never a raw control character on the terminal. The cases run in-process
(``wattprint.cli.main``) for speed; a few go through real subprocesses at the end.
"""
import json
import os
import re
import stat
import subprocess
import sys

import pytest

from test_report import make_run
from wattprint.cli import COMMANDS, main

ESC = "\x1b]0;pwned\x07\x1b[2J"
LONG = "x" * 5000
ANY = (0, 2)
ERR = (2,)
OK = (0,)

# values every numeric option refuses (the reason differs: not a number, not finite, absurd)
NUM_BAD = ["", "abc", "nan", "NaN", "inf", "-inf", "1e308", "1e999", "-1", ESC, LONG, "日本", "1e5e5", "--"]
# values a numeric option may accept or refuse, but must answer cleanly
NUM_EDGE = ["0", "-0", "1e-320", "0.5", "1_000", "٣", " 7 ", "1e6"]
# values every lookup (region, cloud, hardware, preset, table) refuses
NAME_BAD = ["", "abc-no-such", "日本", ESC, LONG, "../../etc/passwd", "nan"]
# free text (project, tag, job): empty is refused; the rest is data, shown escaped
FREE = ["", ESC, LONG, "日本", "=HYPERLINK(\"http://x\")", "a\nb", "-"]
RUN_ID_BAD = ["", "no-such-run", ESC, "../r1", "r1/x", LONG, "a\nb"]
SURR = "\udcff\udcfe"  # the bytes ff fe, not UTF-8, as they reach sys.argv


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A store with two ordinary runs and one whose strings are hostile (as an old store may
    hold), plus the paths the cases use."""
    d = tmp_path_factory.mktemp("matrix")
    store = str(d / "store" / "runs.sqlite")
    make_run(store, "r1", n=40, predictions=True)
    make_run(store, "r2", n=40, project="other", tags=("tuning",), predictions=False)
    make_run(store, EVIL_ID, n=10, project="\x1b[31mred\x07", tags=("=HYPERLINK(\"http://x\")", "\x1b]0;t\x07"),
             command="rm -rf ~ \x1b[2J")
    (d / "adir").mkdir()
    (d / "text.txt").write_text("not a database\n")
    device_nodes(d)
    return {"store": store, "root": str(d)}


EVIL_ID = "evil\x1b[2J\x07id"


def device_nodes(d) -> tuple[str, str]:
    """(null, full): character devices to write to. As root, private nodes made with mknod, so
    that a regression replaces a node in the test's folder, never the machine's /dev/null."""
    null, full = d / "null", d / "full"
    if os.geteuid() == 0:
        for path, minor in ((null, 3), (full, 7)):
            if not path.exists():
                os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        return str(null), str(full)
    for path, dev in ((null, "/dev/null"), (full, "/dev/full")):  # /dev is not ours to replace
        if not path.exists():
            os.symlink(dev, path)
    return str(null), str(full)


def _paths(w, writing=True):
    """Bad (and a few good) paths: (value, expected exit codes)."""
    out = [("", ERR), (w["dir"], ERR), (w["missing"], ERR), ("/proc/x", ERR), ("/proc/self/status", ERR),
           ("/" + "a" * 5000, ERR), (os.path.join(w["root"], "a" * 300), ERR), (ESC, ANY)]
    if writing:
        out += [(w["root"] + "/null", OK), (w["root"] + "/full", ERR), (os.path.join(w["root"], "x\ny.out"), OK)]
    return out


def _num(opt, base, extra_ok=()):
    """Cases for a numeric option: the bad ones must fail, the edge ones answer cleanly."""
    cases = [(base + [opt, v], ERR) for v in NUM_BAD]
    cases += [(base + [opt, v], ANY) for v in NUM_EDGE]
    cases += [(base + [opt, v], OK) for v in extra_ok]
    return cases


def _names(opt, base, good=()):
    return [(base + [opt, v], ERR) for v in NAME_BAD] + [(base + [opt, v], OK) for v in good]


def _free(opt, base):
    return [(base + [opt, v], ERR if v == "" else ANY) for v in FREE]


def build_cases(w):
    est = ["estimate", "--json"]
    hrs = est + ["--hours", "10"]
    pw = hrs + ["--power-w", "300"]
    hw = hrs + ["--hardware", "V100"]
    c = []
    # estimate: every numeric option
    c += _num("--hours", est + ["--power-w", "300"], ["79.2", "3d"])
    c += _num("--days", est + ["--power-w", "300"], ["3.3"])
    c += _num("--power-w", hrs, ["12kW"])
    c += _num("--device-power-w", hrs + ["--count", "8"], ["250"])
    c += _num("--count", hw, ["8"])
    c += _num("--utilization", hw, ["0.5"])
    c += _num("--pue", pw, ["1.58", "industry"])
    c += _num("--intensity", pw, ["429g/kWh", "0.954lb/kWh"])
    c += _num("--net-intensity", pw + ["--region", "DE"], ["100"])
    c += _num("--price-low", hw + ["--price-high", "3"], ["1.2"])
    c += _num("--price-high", hw, ["3"])
    c += _num("--tariff", pw, ["0.12"])
    c += _num("--embodied-kg-per-device", hw, ["150"])
    c += _num("--host-embodied-kg", hw, ["1200"])
    c += _num("--devices-per-host", hw + ["--embodied"], ["8"])
    c += _num("--lifetime-years", hw + ["--embodied"], ["4"])
    c += _num("--usage", hw + ["--embodied"], ["0.8"])
    c += _num("--runs", pw, ["4"])
    # estimate: every lookup
    c += _names("--hardware", hrs, ["V100", "A100 PCIe 40GB"])
    c += _names("--region", pw, ["DE", "US-CA", "France"])
    c += _names("--cloud", pw, ["gcp:us-central1"])
    c += _names("--provider", pw, ["gcp"])
    c += _names("--prices", hw, ["strubell2019"])
    c += [(pw + ["--from-run", v], ERR) for v in RUN_ID_BAD] + [(est + ["--from-run", "r1"], OK)]
    c += [(["estimate", "--hours", v, "--power-w", "1e6"], ERR) for v in ("1e306", "1e12")]
    c += [(pw + ["--count", "1e9"], ERR), (hw + ["--count", "1e9"], ERR), (pw + ["--runs", "1e308"], ERR)]
    c += [(["estimate"], ERR), (["estimate", "--hours", "1"], ERR), (pw + ["--days", "1"], ERR)]
    # every bound at once: the largest accepted inputs still give a finite answer
    top = ["estimate", "--json", "--hours", "1e8", "--hardware", "V100", "--count", "1e7", "--runs", "1e6",
           "--pue", "10", "--intensity", "1e6", "--net-intensity", "1e6", "--tariff", "1000", "--price-low", "1e5",
           "--price-high", "1e5", "--embodied-kg-per-device", "1e6", "--host-embodied-kg", "1e6",
           "--devices-per-host", "1", "--lifetime-years", "0.1", "--usage", "0.001"]
    c += [(top, OK), (["estimate", "--hours", "1e8", "--power-w", "10GW", "--runs", "1e6", "--intensity", "1e6"], OK),
          (["estimate", "--json", "--days", "1e-99", "--device-power-w", "1e-99", "--count", "1"], OK)]

    # readers: runs, show, predict, campaign, report, export (the shared store)
    c += _free("--project", ["runs"]) + _free("--tag", ["runs"]) + _free("--project", ["runs", "--json"])
    c += [(["runs"], OK), (["runs", "--json"], OK)]
    for cmd in (["show"], ["show", "--json"], ["predict"], ["predict", "--json"]):
        c += [(cmd + [v], ERR) for v in RUN_ID_BAD] + [(cmd + ["r1"], OK), (cmd + ["evil"], OK), (cmd + ["r"], ERR)]
    c += _num("--total", ["predict", "r2"], ["200"])
    c += _free("--project", ["campaign"]) + _free("--tag", ["campaign", "--json"])
    c += [(["campaign"], OK), (["campaign", "--json"], OK)]
    for v in ["", "abc", "-1", "nan", "inf", "1e308d", "1e999h", "2026-13-45", "99999-01-01", ESC, LONG]:
        c += [(["campaign", "--since", v], ERR), (["export", "--since", v, "--out", "-"], ERR)]
    c += [(["campaign", "--since", v], ANY) for v in ("0d", "7d", "2020-01-01", "0001-01-01")]
    c += [(["report", v], ERR) for v in RUN_ID_BAD] + [(["report", "r1"], OK), (["report", "evil"], OK)]
    for opt in ("--html", "--md", "--latex"):
        c += [(["report", "r1", opt, p], exp) for p, exp in _paths(w)]
    c += [(["report"], ERR), (["report", "r1", "--md", "-", "--latex", "-"], ERR)]
    c += [(["export", "--run", v, "--out", "-"], ERR) for v in RUN_ID_BAD]
    c += [(["export", "--out", p], exp) for p, exp in _paths(w)]
    c += [(["export", "--format", "codecarbon", "--out", p], exp) for p, exp in _paths(w)[:4]]
    c += _free("--project", ["export", "--out", "-"]) + _free("--tag", ["export", "--out", "-"])
    c += [(["export", "--format", v, "--out", "-"], ERR) for v in ("", "xlsx", ESC)]
    c += [(["export", "--table", v, "--out", "-"], ERR) for v in ("", "all", ESC)]
    c += [(["export", "--out", "-"], OK), (["export", "--format", "codecarbon", "--out", "-"], OK),
          (["export", "--format", "jsonl", "--out", "-"], OK), (["export"], ERR)]

    # every reader's --store
    for cmd in (["runs"], ["show", "r1"], ["campaign"], ["export", "--out", "-"], ["predict", "r1"],
                ["report", "r1"], ["estimate", "--from-run", "r1"]):
        for p in ("", w["dir"], w["missing"], "/proc/x", w["null"], w["text"], "postgresql://h/db", ESC):
            c.append((cmd + ["--store", p], ANY if p == w["null"] else ERR))  # /dev/null: an empty store

    # lookups and queries
    for cmd in ("regions", "hardware"):
        c += [([cmd, v], ERR) for v in ("", "zzzz-no-match", "日本", ESC, LONG, "\x00")]
        c += [([cmd], OK), ([cmd, "--json"], OK)]
    c += [(["regions", "france"], OK), (["regions", "gcp", "--json"], OK), (["hardware", "A100"], OK)]
    c += [(["reproduce", v], ERR) for v in ("", "abc", "../strubell2019", ESC, LONG)]
    c += [(["reproduce", "strubell2019", "--json"], OK)]

    # exporter (always --once: a valid case must end)
    exp = ["exporter", "--once", "--no-gpus", "--interval", "0.05"]
    for v in ("", "abc", "-1", "70000", "1e308", "nan", ESC):
        c.append((exp + ["--port", v], ERR))
    for v in ("", "abc", "-1", "0", "nan", "inf", "1e308", "1e-320", "1e6"):
        c.append((["exporter", "--once", "--no-gpus", "--interval", v], ERR))
        c.append((exp + ["--push-interval", v], ERR))
    for v in ("", "not a url", "ftp://x", "http://", "http://exa mple.com", ESC, "://x", "http://[::1"):
        c.append((exp + ["--push-gateway", v], ERR))
    c += [(exp + ["--job", v], ERR if v == "" else ANY) for v in ("", ESC, "a/b", LONG)]
    c += [(exp + ["--node", v], ERR if v == "" else ANY) for v in ("", ESC, LONG)]
    c += [(exp + ["--addr", v], ERR) for v in ("",)]
    c += [(exp, OK)]

    # merge
    c += [(["merge", "--dry-run", "--from", p], ERR) for p in ("", w["missing"], "/proc/x", w["text"], ESC)]
    c += [(["merge", "--dry-run", v], ANY) for v in ("no-such-job", ESC, LONG)]
    c += [(["merge", "--dry-run", ""], ERR)]

    # doctor (S's command): any clean answer
    for p in ("", w["missing"], "/proc/x", w["text"], ESC, w["dir"]):
        c += [(["doctor", "--sysfs-root", p], ERR if p == "" else ANY), (["doctor", "--store", p], ERR if p == "" else ANY)]

    # bytes that are not UTF-8 (Python hands them over as lone surrogates), '--opt=' forms, odd names
    for argv in (["runs", "--project", SURR], ["show", SURR], ["export", "--out", SURR], ["regions", SURR],
                 ["campaign", "--tag", SURR], ["estimate", "--hours", "1", "--power-w", "1", "--region", SURR],
                 ["report", "r1", "--md", SURR], ["hardware", SURR], ["merge", "--dry-run", SURR],
                 ["export", "--out=", "-"], ["estimate", "--hours=", "--power-w", "1"], ["runs", "--tag="],
                 ["runs", "--\x1b[2J"], ["estimate", "-\x07"], ["runs", "--project", "a", "--project", ""]):
        c.append((argv, ERR))
    c += [(["show", "--json", "r1"], OK), (["runs", "-p", "bert", "--json"], OK)]

    # unknown commands and options
    c += [([v], ERR) for v in ("", "frobnicate", ESC, "日本", "--bogus", "-x", SURR)]
    c += [([cmd, "--no-such-option"], ERR) for cmd in COMMANDS]
    c += [([cmd, "--help"], OK) for cmd in COMMANDS]
    return c


def build_run_cases(w):
    """``wattprint run``: every bad value fails before the command starts (nothing is stored)."""
    c = []
    tail = ["--", "true"]
    base = ["run", "--json"]
    for opt in ("--interval", "--flush-interval", "--total", "--predict-every", "--budget-kwh",
                "--budget-co2e-kg", "--budget-usd"):
        c += [(base + [opt, v] + tail, ERR) for v in NUM_BAD]
        c += [(base + [opt, v] + tail, ERR) for v in ("1e-320", "1e20")]
    c += [(base + ["--predict-every", "2"] + tail, ERR)]
    for opt in ("--region", "--cloud", "--pue", "--intensity"):
        c += [(base + [opt, v] + tail, ERR) for v in NAME_BAD]
    c += [(base + ["--pue", "0.5"] + tail, ERR), (base + ["--pue", "1e308"] + tail, ERR)]
    for opt in ("--project", "--tag", "--unit"):
        c += [(base + [opt, ""] + tail, ERR)]
    c += [(base + ["--run-id", v] + tail, ERR)
          for v in ("", "a/b", "a\nb", ".hidden", "x" * 129, ESC, "a b", "日本", "..", "a\x00b")]
    c += [(base + ["--progress-regex", v] + tail, ERR) for v in ("", "(", "[", "abc", "(?P<done>a)(?P<done>b)")]
    c += [(base + ["--scope", "x"] + tail, ERR), (base + ["--on-exceed", ""] + tail, ERR)]
    c += [(base + ["--project", SURR] + tail, ERR), (base + ["--run-id=", "--"] + tail, ERR),
          (base + ["--", "true", SURR, ESC], OK)]  # the command itself is passed as given
    c += [(["run", "--store", p] + tail, ERR) for p in ("", w["dir"], "/proc/x", w["text"], w["null"])]
    c += [(["run"], ERR), (["run", "--"], ERR), (["run", "--", ""], ERR), (["run", "--", "no-such-cmd-xyz"], ERR)]
    # valid after all: a real run of 'true'
    c += [(base + ["--run-id", "ok-id_1.2", "--project", ESC, "--tag", "=1+1", "--interval", "0.05"] + tail, OK)]
    return c


def _ids(cases):
    out = []
    for i, (argv, _) in enumerate(cases):
        text = " ".join(argv)[:60].encode("unicode_escape").decode()
        out.append(f"{i}:{text}")
    return out


ROOT = "@ROOT@"  # the module's folder; filled in when a case runs
_W = {"dir": ROOT + "/adir", "text": ROOT + "/text.txt", "missing": ROOT + "/no/such/dir/f.out", "root": ROOT,
      "null": ROOT + "/null"}
CASES = build_cases(_W)
RUN_CASES = build_run_cases(_W)


def _materialise(argv, w):
    return [a.replace(ROOT, w["root"]) for a in argv]


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_INF_NAN = re.compile(r"\b(inf|nan|infinity)\b", re.I)


def _no_constants(name):
    raise AssertionError(f"JSON holds {name}")


def call(argv, capsys):
    try:
        rc = main(list(argv))
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    out, err = capsys.readouterr()
    return rc, out, err


def check(argv, expect, rc, out, err):
    shown = " ".join(argv)[:200].encode("unicode_escape").decode()
    assert "Traceback" not in err and "Traceback" not in out, (shown, err[-2000:])
    assert rc in expect, (shown, rc, err[-1000:], out[:500])
    assert not _CONTROL.search(err), (shown, "raw control character on stderr", err[:500])
    if rc == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("wattprint"), (shown, err)
        assert "internal error" not in err, (shown, err)
        assert len(lines[0]) < 2000, (shown, "error line too long", len(lines[0]))
    if rc == 0:
        if "--json" in argv and "--help" not in argv:
            json.loads(out, parse_constant=_no_constants)
        elif "--out" not in argv or "-" not in argv:  # an export to stdout holds the data raw
            assert not _CONTROL.search(out), (shown, "raw control character on stdout", out[:500])
        assert not _INF_NAN.search(out.replace("information", "")), (shown, out[:500])


def _params(cases):
    return [pytest.param(argv, expect, id=i) for i, (argv, expect) in zip(_ids(cases), cases)]


@pytest.mark.parametrize("argv, expect", _params(CASES))
def test_bad_input(argv, expect, world, capsys, monkeypatch, tmp_path):
    argv = _materialise(argv, world)
    monkeypatch.setenv("WATTPRINT_STORE", world["store"])
    if argv[:1] == ["merge"]:
        monkeypatch.setenv("WATTPRINT_STORE", str(tmp_path / "merge.sqlite"))
    monkeypatch.chdir(tmp_path)
    rc, out, err = call(argv, capsys)
    check(argv, expect, rc, out, err)


@pytest.mark.parametrize("argv, expect", _params(RUN_CASES))
def test_bad_run_input(argv, expect, world, capsys, monkeypatch, tmp_path):
    argv = _materialise(argv, world)
    store = tmp_path / "run-store" / "runs.sqlite"
    monkeypatch.setenv("WATTPRINT_STORE", str(store))
    monkeypatch.chdir(tmp_path)
    rc, out, err = call(argv, capsys)
    check(argv, expect, rc, out, err)
    if rc == 2:
        assert not store.exists(), "a refused run must store nothing"


def test_matrix_is_broad():
    assert len(CASES) + len(RUN_CASES) > 600
    assert {a[0] if a else "" for a, _ in CASES + RUN_CASES} >= set(COMMANDS)


# -- the helpers the matrix relies on -----------------------------------------------------------
def test_printable_escapes_controls_and_keeps_text():
    from wattprint.units import printable

    assert printable("a\x1b[2Jb\x07c") == "a\\x1b[2Jb\\x07c"
    assert printable("tab\tstays, ünïcödé 日本 stays") == "tab\tstays, ünïcödé 日本 stays"
    assert printable("line\nbreak\r\x00\x7f\x9b") == "line\\x0abreak\\x0d\\x00\\x7f\\x9b"
    assert printable("right\u202eleft") == "right\\u202eleft"  # a bidi override cannot reorder a line
    assert printable(None) == ""


@pytest.mark.parametrize("value", ["20260101-120000-abcdef", "ok-id_1.2", "A", "9", "x" * 128, "_a"])
def test_run_id_accepted(value):
    from wattprint.units import check_run_id

    assert check_run_id(value) == value


@pytest.mark.parametrize("value, words", [
    ("", "empty"), ("a/b", "'/'"), ("a\nb", "'\\n'"), (".hidden", "start with '.'"), ("-x", "start with '-'"),
    ("x" * 129, "at most 128"), ("a b", "' '"), ("日本", "'日'"), ("..", "start with '.'"), (None, "expected text"),
    (42, "expected text"), ("a\x00b", "'\\x00'"),
])
def test_run_id_refused(value, words):
    from wattprint.errors import UsageError
    from wattprint.units import check_run_id

    with pytest.raises(UsageError) as e:
        check_run_id(value, "--run-id")
    assert words in str(e.value) and "\n" not in str(e.value)


def test_range_and_url_checks():
    from wattprint.errors import UsageError
    from wattprint.units import check_range, check_url

    assert check_range("3", "--x", 10) == 3.0
    for bad, words in (("11", "more than 10"), ("nan", "finite"), ("1e-200", "too small"), ("2.5", "whole"),
                       ("-1", "more than zero"), ("abc", "expected a number")):
        with pytest.raises(UsageError, match=words):
            check_range(bad, "--x", 10, whole=True)
    assert check_url("pg:9091") == "http://pg:9091"
    for bad in ("not a url", "ftp://x", "http://", "http://a b", "http://h:99999", "http://[::1"):
        with pytest.raises(UsageError):
            check_url(bad, "--push-gateway")


def test_json_is_printed_whole_or_not_at_all(capsys):
    from wattprint.cli._output import print_json
    from wattprint.errors import UsageError

    with pytest.raises(UsageError, match=r"result.levels\[1\].co2e_kg is not a finite number"):
        print_json({"energy_kwh": 1.0, "levels": [{"co2e_kg": 1.0}, {"co2e_kg": float("inf")}]})
    assert capsys.readouterr().out == ""


def test_hostile_strings_reach_the_terminal_escaped(world, capsys, monkeypatch):
    monkeypatch.setenv("WATTPRINT_STORE", world["store"])
    for argv in (["show", "evil"], ["runs"], ["campaign"], ["predict", "evil"], ["report", "evil"]):
        rc, out, err = call(argv, capsys)
        assert rc == 0, (argv, err)
        assert "\x1b" not in out + err and "\x07" not in out + err
    rc, out, _ = call(["show", "evil"], capsys)
    assert "evil\\x1b[2J\\x07id" in out and "\\x1b[31mred\\x07" in out and "rm -rf ~ \\x1b[2J" in out
    rc, out, _ = call(["show", "evil", "--json"], capsys)
    assert json.loads(out)["project"] == "\x1b[31mred\x07"  # JSON stays exact


def test_regions_query_matching_nothing_says_so(capsys):
    rc, out, err = call(["regions", "日本"], capsys)
    assert rc == 2 and out == "" and "no region matches '日本'" in err
    rc, out, err = call(["regions", "germny"], capsys)
    assert rc == 2 and "Germany" in err
    rc, out, err = call(["regions", "japan"], capsys)
    assert rc == 0 and "JP" in out


def test_absurd_magnitudes_name_the_bound(capsys):
    for argv, words in ((["estimate", "--hours", "1e306", "--power-w", "1e6"], "more than 100,000,000 h"),
                        (["estimate", "--hours", "1", "--power-w", "300", "--runs", "1e308"], "more than 1,000,000 runs"),
                        (["estimate", "--hours", "1", "--hardware", "V100", "--count", "1e9"], "ten million"),
                        (["run", "--interval", "1e20", "--", "true"], "a day")):
        rc, out, err = call(argv, capsys)
        assert rc == 2 and out == "" and words in err, (argv, err)


# -- a handful through real processes -------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["estimate", "--hours", "10", "--power-w", "300", "--runs", "1e308", "--json"], "--runs"),
    (["export", "--out", ""], "empty"),
    (["regions", "日本"], "no region matches"),
    (["exporter", "--once", "--push-gateway", "not a url"], "not an http(s) URL"),
    (["run", "--run-id", "a/b", "--", "true"], "--run-id"),
    (["estimate", "--hours", "1", "--power-w", "1", "--region", ""], "--region: empty value"),
    (["show", "x" * 5000], "characters, at most 4096"),
    (["runs", "--project", b"\xff\xfe"], "not UTF-8"),
])
def test_bad_input_through_a_real_process(argv, words, tmp_path):
    env = dict(os.environ, WATTPRINT_STORE=str(tmp_path / "s" / "runs.sqlite"))
    r = subprocess.run([sys.executable, "-m", "wattprint", *argv], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 2 and r.stdout == "", (argv, r.stdout[:300])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wattprint") and words in lines[0], (argv, r.stderr)
    assert not (tmp_path / "s").exists()


def test_a_command_with_bytes_that_are_not_utf8_is_stored_readably(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("WATTPRINT_STORE", str(tmp_path / "runs.sqlite"))
    rc, out, err = call(["run", "--json", "--interval", "0.05", "--", "true", SURR, "a b"], capsys)
    assert rc == 0, err
    assert json.loads(out)["command"] == "true '\\xff\\xfe' 'a b'"
