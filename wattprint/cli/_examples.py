"""Worked examples for each command's ``--help``, in one place (a test parses every one of them
with its command's parser, so an example never shows an option that no longer exists)."""
from __future__ import annotations

# command -> [(command line, what it does)]
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "run": [
        ("wattprint run -- python train.py", "measure a training script, then print its energy"),
        ("wattprint run --project bert --tag final --region FR --log-to mlflow -- python train.py --epochs 3",
         "file the run under a project and tag, with CO2e for the French grid; energy in MLflow too"),
        ("wattprint run --total 10 --unit epoch --json-out run.json -- python train.py",
         "predict the total as epochs finish; write the summary to run.json"),
    ],
    "runs": [
        ("wattprint runs", "the 20 newest runs"),
        ("wattprint runs --project bert --tag tuning --limit 50", "the 50 newest tuning runs of bert"),
        ("wattprint runs --all --json", "every run, as JSON"),
    ],
    "show": [
        ("wattprint show 20261127-1412", "one run, by its id or the start of it"),
        ("wattprint show 20261127-1412 --json", "the whole record, as JSON"),
    ],
    "doctor": [
        ("wattprint doctor", "which meters this machine has, and how to enable the missing ones"),
        ("wattprint doctor --store /shared/wattprint/runs.sqlite --json",
         "also check a shared run store; answer in JSON"),
    ],
    "estimate": [
        ("wattprint estimate --hardware A100 --count 8 --hours 12 --region US-CA",
         "8 A100s for 12 hours on California's grid"),
        ("wattprint estimate --hardware H100 --count 64 --days 14 --cloud gcp:us-central1 --embodied",
         "a two-week cloud training with its cost and the hardware's embodied emissions"),
        ("wattprint estimate --from-run 20261127-1412 --runs 50",
         "50 more runs like a measured one (a hyper-parameter search)"),
    ],
    "reproduce": [
        ("wattprint reproduce strubell2019", "recompute Strubell et al. 2019's tables"),
        ("wattprint reproduce strubell2019 --json", "the same, as JSON"),
    ],
    "predict": [
        ("wattprint predict 20261127-1412", "the predicted total of a running (or stored) run"),
        ("wattprint predict 20261127-1412 --total 40 --json", "the same for 40 units of work, as JSON"),
    ],
    "report": [
        ("wattprint report 20261127-1412 --html report.html", "one offline HTML page with plots"),
        ("wattprint report 20261127-1412 20261128-0930 --md report.md --latex table.tex",
         "two runs summed, as Markdown and as a LaTeX table"),
        ("wattprint report --project bert --since 30d -o bert.html",
         "a project's report: Table 4 levels, energy and CO2e by day, tuning share, costliest runs"),
    ],
    "sweep": [
        ("wattprint sweep --project bert",
         "every trial with its energy, CO2e and cost, the Pareto front and the 'within 1 %' sentence"),
        ("wattprint sweep --project bert --study lr-search --within 0.5 --json",
         "one study, within 0.5 % of the best, as JSON"),
        ("wattprint sweep --project bert --direction maximize --html sweep.html",
         "a higher objective is better; the page plots objective against cumulative energy"),
    ],
    "store": [
        ("wattprint store copy /scratch/wattprint/ postgresql://alice@db.lab.example/lab",
         "per-node stores in a directory into the lab's PostgreSQL database"),
        ("wattprint store copy node0.sqlite node1.sqlite postgresql://alice@db.lab.example/lab --json",
         "two stores, counts as JSON; running it again adds nothing"),
        ("wattprint store init postgresql://admin@db.lab.example/lab",
         "create the tables before granting access (docs/store.md)"),
    ],
    "plan": [
        ("wattprint plan --params 7e9 --tokens 2e12 --hardware H100,A100 --where all-clouds",
         "a 7B model on 2T tokens: H100 or A100, in which cloud region"),
        ("wattprint plan --config config.json --tokens 3e11 --hardware H100 --count 64 --trials 20",
         "a Hugging Face model's shape, 64 GPUs, and a 20-trial search around it"),
        ("wattprint plan --from-run 20261127-1412 --total-work 100000 --hardware A100 --json",
         "scale a measured run to 100,000 steps on A100s; answer in JSON"),
    ],
    "campaign": [
        ("wattprint campaign --project bert", "all of a project's runs, by level (final, tuning, R&D)"),
        ("wattprint campaign --project bert --since 30d --json", "the last 30 days, as JSON"),
    ],
    "export": [
        ("wattprint export --out runs.csv", "every run, one row each, as CSV"),
        ("wattprint export --run 20261127-1412 --what windows --out windows.csv",
         "one run's windows (epochs, evaluations) with their energy"),
        ("wattprint export --project bert --format codecarbon --out emissions.csv",
         "a project's runs in CodeCarbon's emissions.csv columns"),
    ],
    "merge": [
        ("wattprint merge --from /scratch/wattprint --store job.sqlite",
         "job records from the per-node stores in a directory"),
        ("wattprint merge --dry-run --from node0.sqlite --from node1.sqlite --store job.sqlite",
         "say what would be merged, write nothing"),
        ("wattprint merge slurm-4242.0 --force", "rebuild one job's record in the default store"),
    ],
    "exporter": [
        ("wattprint exporter", "serve this node's counters on :9464/metrics"),
        ("wattprint exporter --push-gateway http://pushgw:9091 --job training --push-interval 30",
         "also push them to a Pushgateway every 30 s"),
    ],
    "regions": [
        ("wattprint regions france", "France's grid intensity, with source and year"),
        ("wattprint regions US-", "the US states and US grid zones"),
        ("wattprint regions gcp --json", "Google Cloud's regions, as JSON"),
    ],
    "hardware": [
        ("wattprint hardware A100", "the A100 variants and their power"),
        ("wattprint hardware tpu --json", "Google's TPUs, as JSON"),
    ],
}


def epilog(name: str) -> str:
    """The ``examples:`` block of a command's help (empty for a command without examples)."""
    lines = []
    for command, what in EXAMPLES.get(name, []):
        lines += [f"  {command}", f"      {what}"]
    return "examples:\n" + "\n".join(lines) if lines else ""
