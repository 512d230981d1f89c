"""``wattprint plan``: GPU-hours, energy, CO2e, cost and embodied emissions before training starts."""
from __future__ import annotations

from ..errors import UsageError
from ._common import add_store
from ..units import check_finite_tree
from ._output import json_text, say

# CLI option -> plan() keyword, passed through when given
_PASS = ("params", "tokens", "flops", "config", "samples", "seq_len", "epochs", "layers", "hidden", "hardware",
         "count", "deadline_days", "where", "pue", "precision", "mfu", "host_w", "trials", "price_low", "price_high",
         "prices")


def add_arguments(parser, name):
    a = parser.add_argument
    g = parser.add_argument_group("work (one of)")
    g.add_argument("--params", metavar="N", help="parameters, e.g. 7e9 or 7B (with --tokens: 6 x N x D FLOPs)")
    g.add_argument("--tokens", metavar="D", help="training tokens, e.g. 2e12 or 2T")
    g.add_argument("--flops", metavar="F", help="the training's FLOPs, e.g. 8.4e22")
    g.add_argument("--config", metavar="PATH", help="a local Hugging Face config.json (GPT-2, Llama, Mistral, BERT, T5)")
    g.add_argument("--samples", metavar="N", help="training samples (x --seq-len x --epochs = tokens)")
    g.add_argument("--seq-len", metavar="L", help="tokens per sample; with the model's shape adds attention FLOPs")
    g.add_argument("--epochs", metavar="E", help="passes over the data (default 1)")
    g.add_argument("--layers", metavar="N", help="transformer layers (for the attention term)")
    g.add_argument("--hidden", metavar="D", help="model width d_model (for the attention term)")
    g.add_argument("--from-run", metavar="RUN_ID", help="scale a measured run's stable part (needs --total-work)")
    g.add_argument("--total-work", metavar="W", help="total work in the run's progress units (steps, samples...)")
    a("--hardware", metavar="LIST", help="accelerators to compare, e.g. H100,A100,V100 (default H100)")
    a("--count", metavar="N", help="devices per option (default: one node)")
    a("--deadline-days", metavar="D", help="size the device count to finish within D days (at the low MFU)")
    a("--where", metavar="LIST", help="places: aws:us-east-1,gcp:europe-north1,DE, or all-clouds, or aws/gcp/azure")
    a("--pue", metavar="P", help="data-centre PUE for every option (default: the cloud's, else the industry average)")
    a("--precision", metavar="P", help="bf16 (default), fp16, tf32 or fp32: which datasheet peak")
    a("--mfu", metavar="M", help="model FLOPs utilisation: 0.35 or a range 0.3-0.5 (default: published reports)")
    a("--price-low", metavar="USD", help="your price per device-hour, low end (spot), for every option")
    a("--price-high", metavar="USD", help="your price per device-hour, high end (on-demand), for every option")
    a("--prices", metavar="TABLE", help="price table for every option: strubell2019, aws-2023-10, azure-2024-03")
    a("--host-w", metavar="W", help="host power per node in W (default: datasheet maximum, low end half)")
    a("--trials", metavar="K", help="trainings in the campaign (tuning sweep + final): totals x K")
    a("--sweep-from-project", metavar="P", help="K from a stored project: (final + tuning runs) / final, by energy")
    a("--top", metavar="N", default="10", help="rows shown in the terminal table (default 10; --json has all)")
    a("--html", metavar="PATH", help="also write an offline HTML page with the options chart")
    add_store(parser)
    a("--json", action="store_true", help="print one JSON object")


def _top(text) -> int:
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"--top: a whole number of rows, got {text!r}") from None
    if not 1 <= n <= 10000:
        raise UsageError(f"--top: 1 to 10000 rows, got {n}")
    return n


def run(args) -> int:
    from ..plan import plan

    top = _top(args.top)
    kw = {k: getattr(args, k) for k in _PASS if getattr(args, k, None) is not None}
    if args.sweep_from_project is not None:
        if args.trials is not None:
            raise UsageError("give --trials or --sweep-from-project, not both")
        kw["trials"], kw["trials_basis"] = _sweep_ratio(args)
    if args.from_run is not None or args.total_work is not None:
        kw["from_run"] = _from_run(args, kw)
    p = plan(**kw)
    check_finite_tree(p.options)  # refused before anything is written or printed
    text = json_text(p.as_dict()) if args.json else ""
    if args.html:
        from ..plan.html import write

        write(p, args.html)
    if args.json:
        print(text)
        return 0
    if args.html == "-":  # the page is the output
        return 0
    from ..plan.text import render

    say(render(p, top))
    if args.html:
        say(f"wrote {args.html}")
    return 0


def _from_run(args, kw) -> dict:
    if not (args.from_run and args.total_work):
        raise UsageError("--from-run RUN and --total-work W go together: W is the whole training's work in "
                         "the run's progress units")
    given = [k for k in ("params", "tokens", "flops", "config", "samples") if k in kw]
    if given:
        raise UsageError(f"--from-run gives the work: drop --{given[0].replace('_', '-')}")
    from ..plan.from_run import scaled
    from ._common import open_store

    store = open_store(args)
    rec = store.get_run(args.from_run)
    return scaled(rec, store.progress(rec.key), args.total_work)


def _sweep_ratio(args) -> tuple[float, str]:
    from ..campaign import account
    from ._common import open_store

    store = open_store(args)
    runs = store.run_lines(project=args.sweep_from_project)
    if not runs:
        raise UsageError(f"no runs of project {args.sweep_from_project!r} in {store.path}; "
                         "'wattprint runs' lists the stored runs")
    levels = {lv["level"]: lv for lv in account(runs)["levels"]}
    final, tuning = levels["final"], levels["tuning"]
    if not final["runs"] or final["energy_kwh"] <= 0:
        raise UsageError(f"project {args.sweep_from_project!r} has no run tagged 'final' with energy: tag the final "
                         "training (--tag final) or pass --trials K")
    k = (final["energy_kwh"] + tuning["energy_kwh"]) / final["energy_kwh"]
    return k, (f"measured in project {args.sweep_from_project}: ({final['runs']} final + {tuning['runs']} tuning "
               f"runs) / final, by energy")
