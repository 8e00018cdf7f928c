#!/usr/bin/env python
"""Wall time and peak memory of every long step of the loop, per bundled table (issue 17).

    nice -n 10 .venv/bin/python bench/speed.py                       # every table, every step
    .venv/bin/python bench/speed.py --tables adult --steps aim,shadow_fit --json /tmp/speed.json

Tables: ``adult`` (threat_models/adult.yaml), ``bank_marketing`` (threat_models/bank_marketing.yaml),
``diabetes`` (bench/threat_models/diabetes_rows.yaml: rows as units, benchmark only) and ``diabetes_1m``: the
diabetes rows resampled to 1,000,000 with a fixed seed, written to a temporary Parquet file at bench time
(never committed), under the same threat model. Steps:

  aim, mst     generator fit at the table's epsilon on the pipeline's training split (``rounds`` and, for AIM,
               ``jax``: seconds jax spent tracing, lowering and compiling, from its own monitoring events)
  aim_small    one AIM fit on the shadow attack's train_size rows (1,000) drawn from the holdout with a fixed seed,
               through PrivateData as the pipeline's ShadowGenerator builds it (simulation noise, seed 0):
               ``rounds``, the workload AIM scored (``workload``) and the mean 2-way TVD of 5 x train_size sampled
               rows against those rows (``tvd2``), to compare AIM's settings on a wide table (``--aim-params``)
  shadow_fit   one shadow run at the threat model's train_size (fit on holdout rows + sample 5 x train_size):
               the first in a fresh process (``cold``: imports and compilation) and the mean of the next two
               (``warm``, as a dask worker runs its second and later fits)
  anonymeter   singling-out, linkability and attribute inference on the candidate, null and positive tables
  membership   distance/DCR, density and exact-copy attacks on the same three tables, and the choice of the
               shadow targets (isolation scores); the shadow fits themselves are ``shadow_fit`` and ``run``
  utility      marginal TVDs with bootstrap, train-on-synthetic AUC, the report's marginals and associations
  run          the whole ``privsynth run FILE`` with the threat model's defaults (``make demo`` for adult)

For the attack and utility steps the candidate table is a stand-in of the size a fit would sample (the
training row count), drawn column by column from the holdout's own values: the steps' cost depends on the
table's size and shape, not on which generator made it, and this keeps a slow fit out of their timing.

Each step runs in its own process (no warm caches from another step); peak MB is the largest summed resident
memory of that process and its children (dask workers included), sampled every 0.2 s; CPU s is the CPU time
of the whole process tree (imports and data reading included), which a shared machine inflates far less than
wall time. A step past --timeout
is stopped and shown as ">N". The machine's load average is printed beside every row: on a shared machine,
compare ratios from one run, and read rows measured under load as upper bounds.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
THREAT_MODELS = {"adult": ROOT / "threat_models" / "adult.yaml",
                 "bank_marketing": ROOT / "threat_models" / "bank_marketing.yaml",
                 "diabetes": ROOT / "bench" / "threat_models" / "diabetes_rows.yaml"}
TABLES = (*THREAT_MODELS, "diabetes_1m")
STEPS = ("aim", "mst", "aim_small", "shadow_fit", "anonymeter", "membership", "utility", "run")
RESAMPLE_ROWS, RESAMPLE_SEED = 1_000_000, 17
#: JSON of AIM parameters that ``aim_small`` sets over the threat model's (``--aim-params``)
AIM_PARAMS_ENV = "PRIVSYNTH_BENCH_AIM_PARAMS"


# ---------------------------------------------------------------------------------------------- child side
def _threat_model_path(table: str, workdir: Path) -> Path:
    return THREAT_MODELS.get(table) or workdir / "diabetes_1m.yaml"


def _inputs(table: str, workdir: Path) -> tuple[Any, Any]:
    from privsynth.data.inputs import read_inputs
    from privsynth.privacy.noise import NoiseSource
    from privsynth.threat_model import load_threat_model

    loaded = load_threat_model(_threat_model_path(table, workdir))
    # a fixed simulation split: the benchmark times the steps, it releases nothing
    return loaded, read_inputs(loaded, NoiseSource.simulation(RESAMPLE_SEED).generator("split"))


def _jax_compile_clock() -> dict[str, float]:
    """Seconds jax spends tracing, lowering and compiling (its own monitoring events), summed per event."""
    spent = {"trace": 0.0, "lower": 0.0, "compile": 0.0}
    names = {"/jax/core/compile/jaxpr_trace_duration": "trace",
             "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
             "/jax/core/compile/backend_compile_duration": "compile"}
    try:
        import jax.monitoring
    except ImportError:
        return spent

    def listen(event: str, duration: float, **_: Any) -> None:
        if event in names:
            spent[names[event]] += duration

    jax.monitoring.register_event_duration_secs_listener(listen)
    return spent


def _fit(kind: str, table: str, workdir: Path) -> dict[str, Any]:
    from privsynth.generators.registry import make_generator
    from privsynth.pipeline import odometer_for
    from privsynth.privacy.noise import NoiseSource
    from privsynth.privacy.private_data import PrivateData

    loaded, inputs = _inputs(table, workdir)
    model = loaded.model
    clock = _jax_compile_clock()
    generator = make_generator(kind, model.generator.params if model.generator.kind == kind else None)
    odometer = odometer_for(generator, model.privacy.epsilon, model.privacy.delta)
    private = PrivateData(inputs.train, inputs.domain, odometer, NoiseSource.simulation(model.generator.seed))
    start = time.perf_counter()
    generator.fit(private, progress=lambda line: print(f"  {kind}: {line}", file=sys.stderr, flush=True))
    seconds = time.perf_counter() - start
    details = generator.guarantee_.details
    jax_s = sum(clock.values())
    return {"seconds": seconds, "rows": len(inputs.train), "rounds": details.get("rounds"),
            "jax_s": round(jax_s, 1), "jax_share": round(jax_s / seconds, 3), "jax": clock,
            "epsilon_spent": generator.guarantee_.epsilon}


def _shadow_fit(table: str, workdir: Path) -> dict[str, Any]:
    import numpy as np

    from privsynth.pipeline import ShadowGenerator

    loaded, inputs = _inputs(table, workdir)
    model, spec = loaded.model, loaded.model.attacks.shadow
    factory = ShadowGenerator(model.generator.kind, model.generator.params, model.privacy.epsilon,
                              model.privacy.delta, model.privacy.allow_non_dp, inputs.domain,
                              spec.synthetic_rows or 5 * spec.train_size, model.compute.device)
    times = []
    for run in range(3):
        rows = np.random.default_rng([RESAMPLE_SEED, run]).choice(len(inputs.holdout), spec.train_size, replace=False)
        start = time.perf_counter()
        factory(inputs.holdout.iloc[np.sort(rows)].reset_index(drop=True), seed=run)
        times.append(time.perf_counter() - start)
        print(f"  shadow fit {run}: {times[-1]:.1f} s", file=sys.stderr, flush=True)
    return {"seconds": times[0], "cold": times[0], "warm": float(np.mean(times[1:])), "train_size": spec.train_size}


def _aim_small(table: str, workdir: Path) -> dict[str, Any]:
    import numpy as np

    from privsynth.evaluation.marginals import mean_tvd
    from privsynth.generators.registry import make_generator
    from privsynth.pipeline import odometer_for
    from privsynth.privacy.noise import NoiseSource
    from privsynth.privacy.private_data import PrivateData

    loaded, inputs = _inputs(table, workdir)
    model, spec = loaded.model, loaded.model.attacks.shadow
    picked = np.random.default_rng([RESAMPLE_SEED, 0xA1]).choice(len(inputs.holdout), spec.train_size, replace=False)
    rows = inputs.holdout.iloc[np.sort(picked)].reset_index(drop=True)
    params = model.generator.params if model.generator.kind == "aim" else None
    overrides = json.loads(os.environ.get(AIM_PARAMS_ENV, "{}"))
    if overrides:
        params = {**(params.model_dump() if params is not None else {}), **overrides}
    generator = make_generator("aim", params)
    private = PrivateData(rows, inputs.domain, odometer_for(generator, model.privacy.epsilon, model.privacy.delta),
                          NoiseSource.simulation(0))
    start = time.perf_counter()
    generator.fit(private, progress=lambda line: print(f"  aim: {line}", file=sys.stderr, flush=True))
    seconds = time.perf_counter() - start
    synthetic = inputs.domain.cast(generator.sample(5 * spec.train_size, seed=0))
    details = generator.guarantee_.details
    return {"seconds": seconds, "rows": len(rows), "rounds": details.get("rounds"),
            "workload": f"{details['workload_marginals']} of {details['workload_of']}" if "workload_of" in details
            else "all", "tvd2": mean_tvd(rows, synthetic, inputs.domain, 2),
            "epsilon_spent": generator.guarantee_.epsilon}


def _stand_in_candidate(inputs: Any, seed: int = 0) -> Any:
    """Training-size table whose columns are drawn independently from the holdout's values (see module doc)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng([seed, 0x5BE])
    n = len(inputs.train)
    return pd.DataFrame({c: inputs.holdout[c].to_numpy()[rng.integers(0, len(inputs.holdout), n)]
                         for c in inputs.domain.names}).pipe(inputs.domain.cast)


def _attack_step(step: str, table: str, workdir: Path) -> dict[str, Any]:
    from privsynth.attacks.base import attack_tables
    from privsynth.attacks.copies import exact_copies
    from privsynth.attacks.inference import attribute_inference
    from privsynth.attacks.linkability import linkability
    from privsynth.attacks.membership.density import density_membership
    from privsynth.attacks.membership.distance import distance_membership
    from privsynth.attacks.membership.vulnerable import pick_targets
    from privsynth.attacks.singling_out import singling_out

    loaded, inputs = _inputs(table, workdir)
    model, spec = loaded.model, loaded.model.attacks
    candidate = _stand_in_candidate(inputs)
    data, null = attack_tables(inputs.train, inputs.holdout, inputs.domain, spec.sample_size,
                               model.attacker.known_columns, model.attacker.secret_columns, spec.n_attacks, spec.seed)
    positive = data.members
    parts: dict[str, float] = {}

    def timed(name: str, fn: Any) -> None:
        start = time.perf_counter()
        fn()
        parts[name] = round(parts.get(name, 0.0) + time.perf_counter() - start, 2)
        print(f"  {name}: {parts[name]} s", file=sys.stderr, flush=True)

    start = time.perf_counter()
    for label, table_ in (("candidate", candidate), ("null", null), ("positive", positive)):
        if step == "anonymeter":
            timed("singling_out", lambda: singling_out(data, table_))
            timed("linkability", lambda: linkability(data, table_))
            timed("inference", lambda: attribute_inference(data, table_))
        else:
            timed("distance", lambda: distance_membership(data, table_))
            timed("copies", lambda: exact_copies(data, table_))
            if label != "null":
                timed("density", lambda: density_membership(data, table_))
    if step == "membership" and spec.shadow.enabled:
        timed("targets", lambda: pick_targets(inputs.train, inputs.domain, spec.shadow.targets,
                                               spec.shadow.selection, spec.seed))
    return {"seconds": time.perf_counter() - start, "parts": parts, "candidate_rows": len(candidate)}


def _utility(table: str, workdir: Path) -> dict[str, Any]:
    from privsynth.evaluation.comparison import association_matrices, marginal_shares
    from privsynth.evaluation.marginals import marginal_tvd
    from privsynth.evaluation.ml import tstr_auc
    from privsynth.evaluation.registry import UtilityData
    from privsynth.pipeline import report_columns

    loaded, inputs = _inputs(table, workdir)
    model, candidate = loaded.model, _stand_in_candidate(inputs)
    parts = {}
    start = time.perf_counter()
    data = UtilityData(inputs.train, inputs.holdout, inputs.domain, model.data.target, seed=0)
    marginal_tvd(data, candidate)
    parts["tvd"] = round(time.perf_counter() - start, 2)
    tstr_auc(data, candidate)
    parts["tstr"] = round(time.perf_counter() - start - parts["tvd"], 2)
    marginal_shares(inputs.holdout, candidate, inputs.domain, report_columns(model))
    association_matrices(inputs.holdout, candidate, inputs.domain)
    seconds = time.perf_counter() - start
    parts["comparison"] = round(seconds - parts["tvd"] - parts["tstr"], 2)
    return {"seconds": seconds, "parts": parts}


def child(table: str, step: str, workdir: Path) -> dict[str, Any]:
    if step in ("aim", "mst"):
        return _fit(step, table, workdir)
    if step == "aim_small":
        return _aim_small(table, workdir)
    if step == "shadow_fit":
        return _shadow_fit(table, workdir)
    if step in ("anonymeter", "membership"):
        return _attack_step(step, table, workdir)
    if step == "utility":
        return _utility(table, workdir)
    raise ValueError(step)


# ---------------------------------------------------------------------------------------------- parent side
def _tree_rss(pid: int) -> int:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def _children_cpu() -> float:
    """User + system CPU seconds of every finished child of this process and of the children they waited for
    (a step's whole process tree, dask workers included, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


def measured(cmd: list[str], timeout: float, verbose: bool, max_mb: float) -> dict[str, Any]:
    """Run ``cmd``; wall seconds, peak summed RSS of its process tree, exit code, its last stdout line. The
    tree is stopped past ``timeout`` seconds or ``max_mb`` MB (the machine is shared: never let a step swap it)."""
    load = os.getloadavg()[0]
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None if verbose else subprocess.DEVNULL,
                            text=True, start_new_session=True)
    peak, stop, over = [0], threading.Event(), [False]

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            if peak[0] > max_mb * 2**20:
                over[0] = True
                _kill_tree(proc.pid)
            stop.wait(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_tree(proc.pid)
        out, _ = proc.communicate()
        timed_out = True
    stop.set()
    watcher.join()
    lines = [line for line in (out or "").splitlines() if line.startswith("{")]
    return {"wall": time.perf_counter() - start, "cpu": _children_cpu() - cpu_before, "peak_mb": peak[0] / 2**20,
            "rc": proc.returncode, "stdout": out or "",
            "timed_out": timed_out, "over_memory": over[0], "child": json.loads(lines[-1]) if lines else None,
            "load_start": load, "load_end": os.getloadavg()[0]}


def make_resample(workdir: Path) -> None:
    """The 1,000,000-row diabetes table (rows drawn with replacement, fixed seed) and its threat model.

    Drawn with replacement, nearly every row has copies on both sides of the split, so unseen rows are not
    unseen: the null control of ``exact_copies`` reaches its 0.01 gate (the run refused it before the fit) and
    train-on-real scores itself on copies of its training rows (the TSTR gap blocked). Both gates are
    reported, not gated, for this table only: they judge the resampling, not the synthetic table."""
    import numpy as np
    import yaml

    from privsynth.data.bundled import bundled_table
    from privsynth.data.io import read_raw

    raw = read_raw(bundled_table("diabetes"))
    rows = np.random.default_rng(RESAMPLE_SEED).integers(0, len(raw), RESAMPLE_ROWS)
    raw.iloc[rows].reset_index(drop=True).to_parquet(workdir / "diabetes_1m.parquet", index=False)
    document = yaml.safe_load(THREAT_MODELS["diabetes"].read_text())
    document["name"], document["data"]["source"] = "diabetes_1m", str(workdir / "diabetes_1m.parquet")
    document.setdefault("gates", {}).update({"exact_copies": "report", "tstr_auc_gap": "report"})
    (workdir / "diabetes_1m.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def note(step: str, child_out: dict[str, Any] | None) -> str:
    if not child_out:
        return ""
    if step == "aim":
        return f"{child_out['rounds']} rounds; jax trace+compile {child_out['jax_s']} s ({child_out['jax_share']:.0%})"
    if step == "aim_small":
        return (f"{child_out['rows']} rows, {child_out['rounds']} rounds, 2-way TVD {child_out['tvd2']:.3f}; "
                f"workload {child_out['workload']}")
    if step == "mst":
        return f"jax trace+compile {child_out['jax_s']} s ({child_out['jax_share']:.0%})"
    if step == "shadow_fit":
        return f"cold {child_out['cold']:.1f} s, warm {child_out['warm']:.1f} s ({child_out['train_size']} rows)"
    if "parts" in child_out:
        return ", ".join(f"{k} {v:g}" for k, v in child_out["parts"].items())
    return ""


def _blocking_checks(stdout: str) -> list[str]:
    """The rows of ``privsynth run``'s results table whose result is neither pass nor info, as 'check estimate
    (threshold) result'."""
    rows = []
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) == 7 and cells[0] and cells[-1] not in ("pass", "info", "result"):
            rows.append(f"{cells[0]} {cells[1]} (threshold {cells[3]}) {cells[-1]}")
    return rows or ["see the run's output"]


def run_step(table: str, step: str, workdir: Path, timeout: float, verbose: bool, max_mb: float) -> dict[str, Any]:
    if step == "run":
        out = workdir / f"run-{table}"
        cmd = [str(Path(sys.executable).with_name("privsynth")), "run", str(_threat_model_path(table, workdir)),
               "--out", str(out)]
        result = measured(cmd, timeout, verbose, max_mb)
        result["seconds"] = result["wall"]
        result["note"] = {0: "released", 3: "blocked"}.get(result["rc"], f"exit {result['rc']}")
        if result["rc"] == 3:  # which checks blocked it (the run folder goes with the temporary directory)
            result["note"] += ": " + "; ".join(_blocking_checks(result["stdout"]))
    else:
        cmd = [sys.executable, __file__, "--one", table, step, "--workdir", str(workdir)]
        result = measured(cmd, timeout, verbose, max_mb)
        child_out = result["child"]
        result["seconds"] = child_out["seconds"] if child_out else result["wall"]
        result["note"] = note(step, child_out) if child_out else f"exit {result['rc']}"
    result.pop("stdout")
    if result["timed_out"]:
        result["note"] = f"stopped after {timeout:.0f} s"
    if result["over_memory"]:
        result["note"] = f"stopped: memory over {max_mb:.0f} MB"
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tables", default=",".join(TABLES))
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per step before it is stopped")
    ap.add_argument("--max-mb", type=float, default=16000.0, help="stop a step whose processes hold more")
    ap.add_argument("--aim-params", default=None, help='aim_small only: JSON of AIM parameters over the threat '
                    'model\'s, e.g. \'{"workload_size": null}\' for the whole workload')
    ap.add_argument("--json", default=None, help="also write every row to this JSON file")
    ap.add_argument("--verbose", action="store_true", help="show each step's progress lines")
    ap.add_argument("--one", nargs=2, metavar=("TABLE", "STEP"), help=argparse.SUPPRESS)
    ap.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.aim_params is not None:
        json.loads(args.aim_params)  # fail here, not in every child
        os.environ[AIM_PARAMS_ENV] = args.aim_params
    if args.one:
        print(json.dumps(child(*args.one, Path(args.workdir)), default=float))
        return
    tables, steps = args.tables.split(","), args.steps.split(",")
    unknown = [t for t in tables if t not in TABLES] + [s for s in steps if s not in STEPS]
    if unknown:
        sys.exit(f"unknown table(s) or step(s) {unknown}: tables {list(TABLES)}, steps {list(STEPS)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="privsynth-speed-") as tmp:
        workdir = Path(tmp)
        if "diabetes_1m" in tables:
            make_resample(workdir)
        print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}")
        print("| table | step | seconds | CPU s | peak MB | load | notes |\n|---|---|---|---|---|---|---|")
        for table in tables:
            for step in steps:
                r = run_step(table, step, workdir, args.timeout, args.verbose, args.max_mb)
                seconds = f">{args.timeout:.0f}" if r["timed_out"] else f"{r['seconds']:.1f}"
                print(f"| {table} | {step} | {seconds} | {r['cpu']:.0f} | {r['peak_mb']:.0f} | {r['load_start']:.1f}-"
                      f"{r['load_end']:.1f} | {r['note']} |", flush=True)
                rows.append({"table": table, "step": step, **r})
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=float))


if __name__ == "__main__":
    main()
