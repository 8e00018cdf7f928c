#!/usr/bin/env python
"""Fidelity that sees resolution: AIM and MST on Adult, bank marketing and diabetes, scored two ways.

    python bench/fidelity.py                                  # aim, mst at epsilon 1 and 10, three tables
    python bench/fidelity.py --datasets adult --generators aim --epsilons 1 --config issue20 --json out.json

Each configuration is fitted in its own process on the TRAIN split and sampled to as many rows, then scored
against TRAIN (like ../shared/benchmarks/anchors.md):

  pub1/2/3   mean TVD of all 1-, 2- and 3-way marginals, numbers cut into 16 equal-width bins over the PUBLIC
             bounds (today's measure, the yardstick's headline)
  dec1/2/3   the same with numbers cut at the deciles of the real TRAIN table: an evaluator may read real
             data (nothing here reaches a release); it sees whether a generator keeps the distribution INSIDE
             a wide public range, which equal-width bins hide
  k2/k3      NIST-CRC-style k-marginal score on the decile bins: 1000 x (1 - mean TVD) over all k-way marginals
  focus2/3   decile-binned mean TVD over the 2- and 3-way marginals that contain a focus column (Adult: fnlwgt,
             capital_gain, hours_per_week; bank: balance, duration, pdays; diabetes: num_lab_procedures,
             num_medications, diag_1)
  tstr       HistGradientBoosting trained on the synthetic table, ROC AUC of the target's last public value on
             the real TEST split

Tables (read from ../shared/datasets or $PRIVSYNTH_DATASETS, never bundled): Adult (adult_train / adult_test, the public domain of
threat_models/adult.yaml); bank marketing (domain.json; a seeded 80/20 split of its 45,211 rows); diabetes
130-US (domain.json; one encounter per patient, the first, since the patient is the unit of privacy; a seeded
80/20 split by patient; 13 of its 48 attributes, listed in DIABETES_COLUMNS: with 20, one AIM fit took over an
hour on a shared 2-core machine).

``--config public`` fits with today's public binning (32 equal-width bins plus a zero bin, small integer ranges
exact); ``--config before`` the same with values spread uniformly inside their bins (the decoding before
issue 20; ``public`` interpolates inside bins). ``--config issue20`` applies CONFIGS["issue20"]: per-column binning (log scale, DP quantile cut points
bought with a declared budget share), consistency rules and, for diabetes, the ICD-9 chapter hierarchy of
diag_1. Time on a shared machine: the load average is printed at start and end.
"""
from __future__ import annotations

import argparse
import copy
import gzip
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("PRIVSYNTH_DATASETS", ROOT.parent / "shared" / "datasets"))
DIABETES_COLUMNS = ["race", "gender", "age", "admission_type_id", "time_in_hospital", "num_lab_procedures",
                    "num_medications", "number_inpatient", "diag_1", "a1c_result", "insulin", "diabetes_med",
                    "readmitted"]
FOCUS = {"adult": ["fnlwgt", "capital_gain", "hours_per_week"], "bank": ["balance", "duration", "pdays"],
         "diabetes": ["num_lab_procedures", "num_medications", "diag_1"]}
_SPEC_KEYS = {"type", "min", "max", "missing", "values", "why"}

#: ICD-9-CM chapters (public: the classification's table of contents), for the diabetes diag_1 hierarchy
ICD9_CHAPTERS = [(1, 139, "infectious"), (140, 239, "neoplasms"), (240, 279, "endocrine"), (280, 289, "blood"),
                 (290, 319, "mental"), (320, 389, "nervous"), (390, 459, "circulatory"), (460, 519, "respiratory"),
                 (520, 579, "digestive"), (580, 629, "genitourinary"), (630, 679, "pregnancy"), (680, 709, "skin"),
                 (710, 739, "musculoskeletal"), (740, 759, "congenital"), (760, 779, "perinatal"),
                 (780, 799, "ill-defined"), (800, 999, "injury")]


def icd9_chapter(code: str) -> str:
    if code[:1] in "VE":
        return "supplementary-" + code[0]
    number = int(float(code))
    return next(name for lo, hi, name in ICD9_CHAPTERS if lo <= number <= hi)


def _issue20(dataset: str, columns: dict[str, dict]) -> dict[str, Any]:
    """Column changes and data-level additions of the ``issue20`` configuration (public choices only)."""
    quantile = {"bins": "quantile", "quantile_bins": 32, "quantile_share": 0.02}
    if dataset == "adult":
        # capital_gain/loss keep the default: 32 equal-width bins and a zero bin align with the public 16-bin
        # measure, the deciles of a 92%-zero column are a single bin, and log bins lost on the public measure
        return {"columns": {"fnlwgt": quantile}, "rules": adult_education_rules(columns)}
    if dataset == "bank":
        return {"columns": {"balance": {"scale": "log"}, "duration": {"scale": "log"}, "pdays": {"scale": "log"},
                            "previous": {"scale": "log"}},
                "rules": ["pdays == -1 -> previous == 0", "previous == 0 -> pdays == -1",
                          "pdays == -1 -> poutcome == 'unknown'"]}
    if dataset == "diabetes":
        mapping = {v: icd9_chapter(v) for v in columns["diag_1"]["values"]}
        return {"columns": {"diag_1": {"parent": {"column": "diag_1_chapter", "mapping": mapping}},
                            "num_lab_procedures": quantile, "num_medications": quantile}, "rules": []}
    raise ValueError(dataset)


#: education -> education_num in Adult (adult.names: the ordinal code of the 16 levels)
ADULT_EDUCATION_NUM = {"Preschool": 1, "1st-4th": 2, "5th-6th": 3, "7th-8th": 4, "9th": 5, "10th": 6, "11th": 7,
                       "12th": 8, "HS-grad": 9, "Some-college": 10, "Assoc-voc": 11, "Assoc-acdm": 12,
                       "Bachelors": 13, "Masters": 14, "Prof-school": 15, "Doctorate": 16}


def adult_education_rules(columns: dict[str, dict]) -> list[str]:
    return [f"education == '{level}' -> education_num == {num}" for level, num in ADULT_EDUCATION_NUM.items()]


def _issue20_bands(dataset: str, columns: dict[str, dict]) -> dict[str, Any]:
    """``issue20`` plus public bands for Adult's small integer columns (exact by default): census 5-year age
    bands, and hours in 5-hour steps with the 40-hour week on its own. Fewer cells per marginal: less noise."""
    plan = _issue20(dataset, columns)
    if dataset == "adult":
        plan["columns"]["age"] = {"edges": list(range(20, 90, 5))}
        plan["columns"]["hours_per_week"] = {"edges": [10, 20, 25, 30, 35, 40, 41, 45, 50, 55, 60, 70, 80]}
    return plan


def _issue20_derived(dataset: str, columns: dict[str, dict]) -> dict[str, Any]:
    """``issue20`` with Adult's education_num declared as education's public parent (adult.names: the ordinal
    code of the 16 levels): generators derive it from education instead of learning it as a column, so the
    education rules hold by construction."""
    plan = _issue20(dataset, columns)
    if dataset == "adult":
        plan["columns"]["education"] = {"parent": {"column": "education_num", "mapping": {
            level: str(num) for level, num in ADULT_EDUCATION_NUM.items()}}}
        plan["rules"] = []
    return plan


def _before(dataset: str, columns: dict[str, dict]) -> dict[str, Any]:
    """The decoding before issue 20 on today's binning: a value spread uniformly inside its bin."""
    numeric = [n for n, c in columns.items() if c.get("type") in ("integer", "float")]
    return {"columns": {n: {"within_bin": "uniform"} for n in numeric}, "rules": []}


CONFIGS = {"public": None, "before": _before, "issue20": _issue20, "issue20-bands": _issue20_bands,
           "issue20-derived": _issue20_derived}


# ------------------------------------------------------------------------------------------------ data
def _domain_columns(path: Path, keep: list[str] | None = None) -> tuple[dict[str, dict], str]:
    doc = json.loads(path.read_text())
    columns = {n: {k: v for k, v in c.items() if k in _SPEC_KEYS} for n, c in doc["columns"].items()
               if c["type"] != "identifier" and (keep is None or n in keep)}
    return columns, doc["target"]


def _split(frame: pd.DataFrame, groups: pd.Series | None, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    keys = np.asarray(groups.unique() if groups is not None else np.arange(len(frame)))
    test_keys = set(rng.permutation(keys)[: len(keys) // 5].tolist())
    in_test = (groups if groups is not None else pd.Series(np.arange(len(frame)))).isin(test_keys).to_numpy()
    return frame[~in_test].reset_index(drop=True), frame[in_test].reset_index(drop=True)


def raw_tables(dataset: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict], str]:
    """(train, test) as text, the public column docs and the target."""
    read = dict(dtype=str, keep_default_na=False, na_values=[""])
    if dataset == "adult":
        import yaml
        doc = yaml.safe_load((ROOT / "threat_models" / "adult.yaml").read_text())
        columns = doc["data"]["columns"]
        train = pd.read_csv(DATASETS / "adult" / "adult_train.csv", **read)
        test = pd.read_csv(DATASETS / "adult" / "adult_test.csv", **read)
        return train, test, columns, doc["data"]["target"]
    if dataset == "bank":
        columns, target = _domain_columns(DATASETS / "bank_marketing" / "domain.json")
        frame = pd.read_csv(DATASETS / "bank_marketing" / "bank_marketing.csv", **read)
        train, test = _split(frame, None)
        return train, test, columns, target
    if dataset == "diabetes":
        columns, target = _domain_columns(DATASETS / "diabetes_130us" / "domain.json", DIABETES_COLUMNS)
        with gzip.open(DATASETS / "diabetes_130us" / "diabetes_130us.csv.gz", "rt") as handle:
            frame = pd.read_csv(handle, **read)
        frame = frame.sort_values("encounter_id", key=lambda s: s.astype(np.int64), kind="stable")
        frame = frame.drop_duplicates("patient_nbr", keep="first")
        train, test = _split(frame, frame["patient_nbr"])
        return train[list(columns)], test[list(columns)], columns, target
    raise SystemExit(f"unknown dataset {dataset!r} (adult, bank, diabetes)")


def prepared(dataset: str, config: str):
    """Checked train/test frames and the PublicDomain a generator sees, under ``config``."""
    from privsynth.data.domain import PublicDomain
    from privsynth.data.io import check_table
    from privsynth.threat_model import DataSpec

    train_raw, test_raw, columns, target = raw_tables(dataset)
    columns = copy.deepcopy(columns)
    extra: dict[str, Any] = {}
    change = CONFIGS[config]
    if change is not None:
        plan = change(dataset, columns)
        for name, fields in plan["columns"].items():
            columns[name].update(fields)
        extra = {"rules": plan["rules"]} if plan["rules"] else {}
    spec = DataSpec.model_validate({"source": dataset, "columns": columns, "target": target, **extra})
    train, _ = check_table(train_raw, spec, f"{dataset} train")
    test, _ = check_table(test_raw, spec, f"{dataset} test")
    kept = {n: c for n, c in spec.columns.items() if n not in spec.drop_columns}
    domain = PublicDomain.from_spec(spec) if hasattr(PublicDomain, "from_spec") else PublicDomain(kept, target)
    return train, test, domain, target


# ------------------------------------------------------------------------------------------------ scoring
def _codes(frame: pd.DataFrame, domain, edges: dict[str, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and cardinalities: categories by public list (missing its own code); numbers in 16
    equal-width public bins, or at ``edges`` (the TRAIN deciles); a missing number its own code."""
    from privsynth.threat_model import CategoricalColumn

    codes, cards = [], []
    for name, spec in domain.columns.items():
        if isinstance(spec, CategoricalColumn):
            c = pd.Categorical(frame[name].astype(object), categories=spec.values).codes.astype(np.int64)
            codes.append(np.where(c < 0, len(spec.values), c))
            cards.append(len(spec.values) + 1)
            continue
        x = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        if edges is None:
            b = np.clip(np.floor((np.clip(x, spec.min, spec.max) - spec.min) / (spec.max - spec.min) * 16), 0, 15)
            n = 16
        else:
            b, n = np.searchsorted(edges[name], x, side="right"), len(edges[name]) + 1
        codes.append(np.where(np.isnan(x), n, b).astype(np.int64))
        cards.append(n + 1)
    return np.stack(codes, axis=1), np.asarray(cards)


def decile_edges(reference: pd.DataFrame, domain) -> dict[str, np.ndarray]:
    from privsynth.threat_model import CategoricalColumn

    out = {}
    for name, spec in domain.columns.items():
        if not isinstance(spec, CategoricalColumn):
            x = pd.to_numeric(reference[name], errors="coerce").to_numpy(dtype=float)
            x = x[~np.isnan(x)]
            out[name] = np.unique(np.quantile(x, np.linspace(0, 1, 11)[1:-1])) if len(x) else np.array([])
    return out


def _tvds(a: np.ndarray, b: np.ndarray, cards: np.ndarray, sets: list[tuple[int, ...]]) -> np.ndarray:
    out = []
    for s in sets:
        shape = tuple(cards[list(s)])
        ha = np.bincount(np.ravel_multi_index(tuple(a[:, j] for j in s), shape), minlength=int(np.prod(shape)))
        hb = np.bincount(np.ravel_multi_index(tuple(b[:, j] for j in s), shape), minlength=int(np.prod(shape)))
        out.append(0.5 * np.abs(ha / ha.sum() - hb / hb.sum()).sum())
    return np.asarray(out)


def fidelity(real: pd.DataFrame, synthetic: pd.DataFrame, domain, focus: list[str]) -> dict[str, float]:
    names = domain.names
    k = len(names)
    focus_idx = {names.index(c) for c in focus if c in names}
    out: dict[str, float] = {}
    for label, edges in (("pub", None), ("dec", decile_edges(real, domain))):
        a, cards = _codes(real, domain, edges)
        b, _ = _codes(synthetic, domain, edges)
        for order in (1, 2, 3):
            sets = list(itertools.combinations(range(k), order))
            tvd = _tvds(a, b, cards, sets)
            out[f"{label}{order}"] = float(tvd.mean())
            if label == "dec":
                if order > 1:
                    out[f"k{order}"] = 1000.0 * (1.0 - float(tvd.mean()))
                    near = [i for i, s in enumerate(sets) if focus_idx & set(s)]
                    out[f"focus{order}"] = float(tvd[near].mean())
                else:
                    out["dec1_per_column"] = {names[j]: round(float(tvd[j]), 4) for j in range(k)}
    return out


# ------------------------------------------------------------------------------------------------ one run
def _one(dataset: str, kind: str, epsilon: float, config: str, seed: int, save: str | None) -> dict[str, Any]:
    from privsynth.evaluation.ml import tstr_auc
    from privsynth.evaluation.registry import UtilityData
    from privsynth.generators.registry import make_generator
    from privsynth.privacy.odometer import Odometer
    from privsynth.privacy.noise import NoiseSource
    from privsynth.privacy.private_data import PrivateData

    train, test, domain, target = prepared(dataset, config)
    generator = make_generator(kind, {})
    private = PrivateData(train, domain, Odometer.for_epsilon(epsilon, 1e-9), NoiseSource.simulation(seed))
    start = time.perf_counter()
    generator.fit(private)
    fit_s = time.perf_counter() - start
    synthetic = domain.cast(generator.sample(len(train), seed=seed))
    if save:
        Path(save).mkdir(parents=True, exist_ok=True)
        synthetic.to_csv(Path(save) / f"{dataset}_{kind}_eps{epsilon:g}_{config}.csv", index=False)
    ml = {u.name: u.value for u in tstr_auc(UtilityData(train, test, domain, target, seed), synthetic)}
    details = dict(generator.guarantee_.details)
    return {"dataset": dataset, "generator": kind, "epsilon": epsilon, "config": config,
            "epsilon_spent": generator.guarantee_.epsilon, "rows": len(train), "fit_s": fit_s,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "tstr": ml.get("tstr_auc"), "trtr": ml.get("trtr_auc"),
            **fidelity(train, synthetic, domain, FOCUS[dataset]),
            "rules": details.get("rules"), "bins": details.get("bins")}


COLUMNS = ["pub1", "pub2", "pub3", "dec1", "dec2", "dec3", "focus2", "focus3", "k2", "k3", "tstr", "fit_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="adult,bank,diabetes")
    ap.add_argument("--generators", default="aim,mst")
    ap.add_argument("--epsilons", default="1,10")
    ap.add_argument("--config", default="public", choices=sorted(CONFIGS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-synth", default=None, help="folder to keep each synthetic CSV (for yardstick.py)")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file (appends to a list)")
    ap.add_argument("--one", nargs=3, metavar=("DATASET", "KIND", "EPSILON"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        dataset, kind, eps = args.one
        print(json.dumps(_one(dataset, kind, float(eps), args.config, args.seed, args.save_synth)))
        return

    print(f"config {args.config}; load average at start {os.getloadavg()[0]:.2f}; {os.cpu_count()} cpus")
    print("| dataset | gen | eps | " + " | ".join(COLUMNS) + " |")
    print("|---" * (3 + len(COLUMNS)) + "|")
    rows = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else []
    for dataset in args.datasets.split(","):
        for kind in args.generators.split(","):
            for eps in args.epsilons.split(","):
                cmd = [sys.executable, __file__, "--one", dataset, kind, eps, "--config", args.config,
                       "--seed", str(args.seed)] + (["--save-synth", args.save_synth] if args.save_synth else [])
                load = os.getloadavg()[0]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
                    print(f"| {dataset} | {kind} | {eps} | failed: {reason[:120]}")
                    continue
                row = json.loads(done.stdout.strip().splitlines()[-1])
                row["load_start"], row["load_end"] = load, os.getloadavg()[0]
                rows.append(row)
                cells = [f"{row[c]:.1f}" if c in ("k2", "k3", "fit_s") else
                         ("  -  " if row[c] is None else f"{row[c]:.4f}") for c in COLUMNS]
                print(f"| {dataset} | {kind} | {eps} | " + " | ".join(cells) + " |", flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(rows, indent=1))
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
