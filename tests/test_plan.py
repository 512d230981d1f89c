"""``wattprint plan``: work in FLOPs, device-hours from peak and MFU, ranges, options side by side,
the CLI (real subprocesses) and its bad input."""
import json
import math
import subprocess
import sys

import pytest

from wattprint import datasets, datasets_hw
from wattprint.errors import UsageError
from wattprint.plan import plan
from wattprint.plan.throughput import mfu_range, parse_mfu, peak
from wattprint.plan.work import read_config, work

WRAP = "import sys; from wattprint import cli; sys.exit(cli.main(sys.argv[1:]))"  # as the script does


def wp(*args, timeout=120):
    return subprocess.run([sys.executable, "-c", WRAP, "plan", *args], capture_output=True, text=True,
                          timeout=timeout)


# -- work --------------------------------------------------------------------------------------------
def test_six_n_d_and_the_attention_term():
    w = work(params="7B", tokens="2T")
    assert w.flops == 6 * 7e9 * 2e12 and w.sources[0]["name"] == "6ND"
    a = work(params=7e9, tokens=2e12, seq_len=4096, layers=32, hidden=4096)
    assert a.flops - w.flops == pytest.approx(12 * 32 * 4096 * 4096 * 2e12)
    assert any(s["factor"] == "flops_attention" for s in a.sources)
    no_shape = work(params=7e9, tokens=2e12, seq_len=4096)
    assert no_shape.flops == w.flops and any("attention FLOPs left out" in n for n in no_shape.notes)
    assert work(params=1e9, samples=1000, seq_len=512, epochs=3).tokens == 1000 * 512 * 3
    assert work(flops="8.4e22").flops == 8.4e22


CONFIGS = [("GPT2Config", "GPT2LMHeadModel", dict(n_embd=64, n_layer=3, n_head=4, vocab_size=1000, n_positions=128)),
           ("LlamaConfig", "LlamaForCausalLM", dict(hidden_size=64, intermediate_size=176, num_hidden_layers=3,
                                                     num_attention_heads=8, num_key_value_heads=2, vocab_size=1000)),
           ("LlamaConfig", "LlamaForCausalLM", dict(hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                                                     num_attention_heads=8, vocab_size=500, tie_word_embeddings=True)),
           ("MistralConfig", "MistralForCausalLM", dict(hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                                                         num_attention_heads=8, num_key_value_heads=4, vocab_size=500)),
           ("BertConfig", "BertModel", dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                            num_attention_heads=4, vocab_size=1000)),
           ("RobertaConfig", "RobertaModel", dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                                  num_attention_heads=4, vocab_size=1000, max_position_embeddings=130)),
           ("Qwen2Config", "Qwen2ForCausalLM", dict(hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                                                     num_attention_heads=8, num_key_value_heads=2, vocab_size=500)),
           ("T5Config", "T5ForConditionalGeneration", dict(d_model=64, d_ff=128, d_kv=16, num_heads=4, num_layers=2,
                                                           num_decoder_layers=3, vocab_size=1000,
                                                           feed_forward_proj="gated-gelu", tie_word_embeddings=False))]


@pytest.mark.parametrize("config, model, shape", CONFIGS, ids=[f"{c[1]}-{i}" for i, c in enumerate(CONFIGS)])
def test_config_parameters_match_the_real_model(config, model, shape, tmp_path):
    """The count from config.json equals what transformers builds from the same config (on CPU)."""
    transformers = pytest.importorskip("transformers")
    cfg = getattr(transformers, config)(**shape)
    path = tmp_path / "config.json"
    cfg.to_json_file(str(path))
    n = getattr(transformers, model)(cfg).num_parameters()
    assert read_config(path)["params"] == n
    assert work(config=str(path), tokens=1e9).flops == 6 * n * 1e9


@pytest.mark.parametrize("content, words", [
    (None, "no such file"), ("{not json", "not JSON"), ('["a"]', "not a config object"),
    ('{"model_type": "mamba"}', "not one wattprint counts"), ('{"model_type": "gpt2", "n_embd": 64}', "no 'n_layer'"),
    ('{"model_type": "gpt2", "n_embd": "big", "n_layer": 2, "vocab_size": 5, "n_positions": 8}', "not a number")])
def test_bad_config_is_one_clear_error(content, words, tmp_path):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=words):
        read_config(path)


# -- throughput ----------------------------------------------------------------------------------------
def test_peaks_are_dense_and_known_for_every_row():
    for r in datasets.table("accelerator_peak.csv"):
        spec = datasets_hw.hardware(r["model"])
        tflops, used, src = peak(spec)
        assert tflops > 0 and src["url"].startswith("https://")
        assert "sparsity" not in used
    h100 = datasets_hw.hardware("H100")
    assert peak(h100)[0] < peak(h100, "bf16")[0] * 1.01 and peak(h100, "fp32")[0] < peak(h100)[0]
    v100, _ = datasets_hw.hardware("V100"), None
    assert peak(v100)[1] == "fp16"  # no bf16 on Volta: mixed precision is fp16 there
    with pytest.raises(UsageError, match="no bf16 peak"):
        peak(v100, "bf16")


def test_mfu_range_is_the_published_reports_of_that_generation():
    rows = [r for r in datasets.table("mfu.csv") if "A100" in r["families"].split(";")]
    m = mfu_range(datasets_hw.hardware("A100"))
    assert (m["low"], m["high"]) == (min(float(r["mfu"]) for r in rows), max(float(r["mfu"]) for r in rows))
    assert all(s["url"] for s in m["sources"])
    l4 = mfu_range(datasets_hw.hardware("L4"))  # no report on L4: all reports, said so
    every = [float(r["mfu"]) for r in datasets.table("mfu.csv")]
    assert (l4["low"], l4["high"]) == (min(every), max(every)) and "no published training report" in l4["notes"][0]
    tpu = mfu_range(datasets_hw.hardware("TPUv4"))  # PaLM 540B only
    small = mfu_range(datasets_hw.hardware("TPUv4"), params=1.2e8)
    assert small["low"] == min(every) < tpu["low"] and small["high"] == tpu["high"]
    assert any("lies outside, so the low end" in n for n in small["notes"])


def test_mfu_given_overrides_and_bad_values_are_refused():
    assert parse_mfu("0.35") == (0.35, 0.35) and parse_mfu("0.3-0.5") == (0.3, 0.5)
    for bad in ("35", "0.5-0.3", "abc", "0", "nan"):
        with pytest.raises(UsageError):
            parse_mfu(bad)


# -- options ---------------------------------------------------------------------------------------------
def test_device_hours_energy_and_pue_follow_from_their_inputs():
    p = plan(params=7e9, tokens=2e12, hardware="A100", where="gcp:europe-west4", count=64)
    o = p.options[0]
    pk = o["peak_tflops"] * 1e12
    assert o["device_hours_low"] * 3600 * pk * o["mfu_high"] == pytest.approx(p.flops)
    assert o["device_hours_high"] * 3600 * pk * o["mfu_low"] == pytest.approx(p.flops)
    assert o["wall_hours_high"] == pytest.approx(o["device_hours_high"] / 64)
    assert o["energy_kwh_low"] == pytest.approx(o["energy_kwh_it_low"] * o["pue"])
    assert o["pue"] == datasets.resolve_pue(cloud="gcp:europe-west4").value
    assert o["co2e_kg_high"] == pytest.approx(o["energy_kwh_high"] * o["intensity_g_per_kwh"] / 1000)
    dev = o["device_hours_high"] * o["power_w_high"] / 1000
    assert o["energy_kwh_it_high"] > dev  # the host's share comes on top
    fixed = plan(params=7e9, tokens=2e12, hardware="A100", where="gcp:europe-west4", count=64, pue=1.5, mfu=0.4)
    f = fixed.options[0]
    assert f["pue"] == 1.5 and f["mfu_low"] == f["mfu_high"] == 0.4
    assert f["energy_kwh_low"] == pytest.approx(f["energy_kwh_it_low"] * 1.5)


def test_first_option_is_the_first_named_and_marks_are_the_extremes():
    p = plan(params=7e9, tokens=2e12, hardware="V100,H100,A100", where="aws:us-east-1,gcp:europe-north1,DE",
             count=256)
    assert p.options[0]["hardware"].startswith("Tesla V100") and p.options[0]["location"].startswith("aws:us-east-1")
    assert len(p.options) == 9
    co2 = [o["co2e_kg"] for o in p.options]
    assert p.options[p.marks["cleanest"]]["co2e_kg"] == min(co2)
    s = p.savings["cleanest"]
    assert s["saves"] == pytest.approx(max(co2) - min(co2))
    costs = [o["cost_usd"] for o in p.options if o["cost_usd"] is not None]
    assert p.options[p.marks["cheapest"]]["cost_usd"] == min(costs)
    walls = [o["wall_hours"] for o in p.options]
    assert p.options[p.marks["fastest"]]["wall_hours"] == min(walls)
    for o in p.options:
        for q in ("device_hours", "energy_kwh", "co2e_kg", "wall_hours"):
            assert o[f"{q}_low"] <= o[q] <= o[f"{q}_high"], (q, o["hardware"])
        if o["cost_usd_high"] is not None:
            assert o["cost_usd_low"] <= o["cost_usd_high"]


def test_deadline_sizes_the_count_and_trials_multiply_the_campaign():
    p = plan(params=7e9, tokens=2e12, hardware="H100", deadline_days=30, trials=4)
    o = p.options[0]
    assert o["wall_hours_high"] <= 30 * 24 and o["count"] % 8 == 0
    smaller = plan(params=7e9, tokens=2e12, hardware="H100", count=o["count"] - 8).options[0]
    assert smaller["wall_hours_high"] > 30 * 24  # one node fewer misses the deadline
    assert o["campaign"]["energy_kwh_high"] == pytest.approx(4 * o["energy_kwh_high"])
    with pytest.raises(UsageError, match="not both"):
        plan(params=7e9, tokens=2e12, count=8, deadline_days=30)


def test_all_clouds_ranks_every_region_and_net_co2e_where_a_share_is_published():
    p = plan(params=1e9, tokens=2e10, hardware="H100", where="all-clouds", count=8)
    assert len(p.options) == len(datasets.table("cloud_regions.csv"))
    gcp = [o for o in p.options if o["location"].startswith("gcp:") and o["co2e_net_kg"] is not None]
    assert gcp and all(o["co2e_net_kg"] <= o["co2e_kg"] for o in gcp)
    aws = [o for o in p.options if o["location"].startswith("aws:")]
    assert all(o["co2e_net_kg"] is None and o["cost_usd_high"] for o in aws)


# -- from a measured run -----------------------------------------------------------------------------------
def test_from_run_scales_the_measured_rate_to_the_total_work(store_path):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_report import make_run

    make_run(store_path, "m1")
    from wattprint.plan.from_run import scaled
    from wattprint.store import open_store

    s = open_store(store_path, readonly=True)
    rec = s.get_run("m1")
    rows = s.progress(rec.key)
    work_j = rows[-1][3]
    fr = scaled(rec, rows, 1000)
    with pytest.raises(UsageError, match="does not record its accelerator"):
        plan(from_run=fr, where="DE")  # the test run's GPU is named "0": which one must be said
    p = plan(from_run=fr, hardware="A100,H100")  # the run's own place (DE, PUE 1.1) when none is given
    o, h = p.options
    assert o["location"] == "DE" and o["pue"] == 1.1
    assert o["energy_kwh_it_low"] <= 10 * work_j / 3.6e6 <= o["energy_kwh_it_high"]
    assert o["device_hours"] == pytest.approx(10 * rows[-1][0] / 3600, rel=0.05)
    assert h["device_hours"] == pytest.approx(o["device_hours"] * 312 / 989)  # other hardware: by peak FLOP/s
    assert h["energy_kwh_it_high"] == pytest.approx(h["device_hours_high"] * 0.7 + h["wall_hours_high"] * 4.6)
    r = wp("--from-run", "m1", "--total-work", "1000", "--hardware", "A100", "--where", "DE", "--store", store_path,
           "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["work"]["from_run"] == "m1"


def test_sweep_from_project_takes_the_measured_tuning_ratio(store_path):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_report import make_run

    e_final = sum(make_run(store_path, "f1", project="p", tags=("final",), n=300, predictions=False).values())
    make_run(store_path, "t1", project="p", tags=("tuning",), n=300, predictions=False)
    make_run(store_path, "t2", project="p", tags=("sweep",), n=300, predictions=False)
    make_run(store_path, "x1", project="p", tags=(), n=300, predictions=False)  # experimentation: not part of the ratio
    assert e_final > 0
    r = wp("--params", "1e9", "--tokens", "2e10", "--hardware", "A100", "--sweep-from-project", "p", "--store",
           store_path, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["trials"] == pytest.approx(3.0) and "2 tuning" in d["trials_basis"]
    o = d["options"][0]
    assert o["campaign"]["energy_kwh_high"] == pytest.approx(3 * o["energy_kwh_high"])
    bad = wp("--params", "1e9", "--tokens", "2e10", "--sweep-from-project", "nope", "--store", store_path)
    assert bad.returncode == 2 and "no runs of project" in bad.stderr


# -- CLI -----------------------------------------------------------------------------------------------------
def test_cli_table_json_and_html(tmp_path):
    out = tmp_path / "plan.html"
    r = wp("--params", "7e9", "--tokens", "2e12", "--hardware", "H100,A100", "--where", "aws:us-east-1,DE",
           "--count", "64", "--html", str(out))
    assert r.returncode == 0, r.stderr
    assert "cleanest:" in r.stdout and "cheapest:" in r.stdout and "fastest:" in r.stdout
    assert "e+" not in r.stdout and "e-0" not in r.stdout  # no scientific notation
    assert "first named" in r.stdout
    page = out.read_text()
    assert "<script" not in page and "svg" in page and "Content-Security-Policy" in page
    j = wp("--params", "7e9", "--tokens", "2e12", "--hardware", "H100,A100", "--where", "aws:us-east-1", "--json")
    d = json.loads(j.stdout)
    keys = {"hardware", "count", "device_hours", "device_hours_low", "device_hours_high", "wall_hours", "energy_kwh",
            "energy_kwh_low", "energy_kwh_high", "co2e_kg", "co2e_kg_low", "co2e_kg_high", "cost_usd_low",
            "cost_usd_high", "mfu_low", "mfu_high", "location", "sources"}
    assert d["flops"] == 6 * 7e9 * 2e12 and all(keys <= set(o) for o in d["options"])
    assert d["options"][0]["hardware"] == "H100 SXM5"


@pytest.mark.parametrize("args, words", [
    (["--tokens", "2e12"], "say how much work"),
    (["--params", "7e9"], "how many tokens"),
    (["--params", "seven", "--tokens", "2e12"], "expected a number"),
    (["--params", "7e9", "--tokens", "2e12", "--flops", "1e20"], "one way"),
    (["--params", "7e9", "--tokens", "2e12", "--hardware", "H900"], "unknown hardware"),
    (["--params", "7e9", "--tokens", "2e12", "--where", "aws:mars-1"], "aws region"),
    (["--params", "7e9", "--tokens", "2e12", "--mfu", "40"], "fraction of peak"),
    (["--params", "7e9", "--tokens", "2e12", "--hardware", "TPUv5e", "--precision", "fp32"], "no fp32 peak"),
    (["--params", "1e99", "--tokens", "2e12"], "more than wattprint accepts"),
    (["--from-run", "x"], "go together"),
    (["--params", "7e9", "--tokens", "2e12", "--where", ","], "at least one place"),
    (["--params", "7e9", "--tokens", "2e12", "--hardware", ","], "at least one accelerator"),
    (["--params", "7e9", "--tokens", "2e12", "--count", "2.5"], "whole number"),
    (["--config", "/nonexistent/config.json", "--tokens", "1e9"], "no such file"),
    (["--params", "7e9", "--tokens", "2e12", "--top", "0"], "--top"),
])
def test_bad_input_is_one_line_exit_2(args, words, tmp_path):
    out = tmp_path / "never.html"
    r = wp(*args, "--html", str(out))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert r.stdout == "" and not out.exists()


def test_the_package_itself_is_callable_as_wattprint_plan():
    import wattprint
    import wattprint.plan.text  # noqa: F401  (binds wattprint.plan to the package)

    p = wattprint.plan(params=1e9, tokens=1e10, hardware="A100")
    assert isinstance(p, wattprint.plan.Plan) and p.flops == 6e19


def test_start_up_is_light():
    code = ("import sys, time; t = time.perf_counter(); import wattprint.cli.plan, wattprint.plan; "
            "assert 'numpy' not in sys.modules, 'numpy imported'; print(time.perf_counter() - t)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert math.isfinite(float(r.stdout))


def test_a_deadline_too_short_for_any_real_job_is_refused_and_counts_read_with_separators():
    r = wp("--params", "7e9", "--tokens", "2e12", "--hardware", "H100", "--deadline-days", "0.0001")
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
    assert "needs 63,015,104 devices" in r.stderr and "longer deadline" in r.stderr
    r = wp("--params", "7e9", "--tokens", "2e12", "--hardware", "H100", "--deadline-days", "0.5", "--json")
    count = json.loads(r.stdout)["options"][0]["count"]
    r = wp("--params", "7e9", "--tokens", "2e12", "--hardware", "H100", "--deadline-days", "0.5")
    assert r.returncode == 0 and f"x {count:,}" in r.stdout and count > 1000


@pytest.mark.parametrize("value", ["-1", "-7B", "- 3e9"])
def test_a_negative_size_is_called_negative_not_unreadable(value):
    r = wp(f"--params={value}", "--tokens", "1e12")
    assert r.returncode == 2 and "must be a positive number" in r.stderr


def test_html_to_stdout_is_the_page_alone():
    r = wp("--params", "7e9", "--tokens", "2e12", "--hardware", "H100", "--html", "-")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("<!DOCTYPE html>") and r.stdout.rstrip().endswith("</html>")
    assert "wrote -" not in r.stdout + r.stderr and "device-hours" not in r.stdout.split("<body", 1)[0]
