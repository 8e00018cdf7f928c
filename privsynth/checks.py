"""The check catalogue: every check a release is judged on, declared once.

A check is a name the threat model's ``gates`` can set a threshold for, the rule the gate applies, the default
threshold, which controls it runs on, what it means in one sentence, and the function that measures it
(``implementation``, "module:function" under privsynth.attacks or privsynth.evaluation, resolved by those
layers' registries, so this bottom layer imports nothing). Everything else reads this table: the threat
model's gate schema, the registries that run the checks, the gate that judges them and the reports that
explain them. Adding an attack is one file (its implementation) and one line here.

Rules:
* ``upper_ci_at_most``: passes when the upper end of the 95% interval is within the threshold, and (for
  attacks with a positive control) the control fired above the threshold, so a blind attack cannot pass;
* ``excess_over_null_at_most``: the same on the risk ABOVE the null control (unseen real rows posing as the
  synthetic table). anonymeter's risks on a population where a blind guess often succeeds (a binary secret)
  sit well above zero for any table drawn from that population, the ideal synthetic table included; the
  threshold bounds what the synthetic table adds to what the population itself gives away;
* ``lower_bound_at_most_claim``: a 95% lower bound on epsilon must not exceed the generator's claimed epsilon
  (no threshold to set: a larger bound is an implementation fault); report-only for non-DP generators;
* ``report_only``: measured and shown, never gated.

The gate fails closed: a declared check without a finite measured result blocks the release.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Rule = Literal["upper_ci_at_most", "excess_over_null_at_most", "lower_bound_at_most_claim", "report_only"]
Control = Literal["null", "positive"]
#: when a check applies: always, when the shadow attack is enabled, when the canary audit is enabled, when the
#: threat model declares a target, when it declares a person column
Scope = Literal["always", "shadow", "audit", "target", "person"]
#: an epsilon audit whose best possible bound (every guess right) stays below this multiple of the claim is
#: a smoke test: it could not show a fault that multiplies the real epsilon by 3
RANGE_OF_INTEREST = 3.0


@dataclass(frozen=True)
class Check:
    name: str
    kind: Literal["attack", "utility"]
    rule: Rule
    meaning: str
    implementation: str
    default_threshold: float | None = None
    threshold_range: tuple[float, float] = (0.0, 1.0)
    #: the controls the pipeline runs the same implementation on (tables posing as the synthetic table)
    controls: tuple[Control, ...] = ()
    #: one result per secret column, named "<name>:<column>"
    per_secret: bool = False
    scope: Scope = "always"

    @property
    def gated(self) -> bool:
        return self.rule in ("upper_ci_at_most", "excess_over_null_at_most")

    @property
    def relative(self) -> bool:
        """Whether the threshold bounds the risk above the null control rather than the risk itself."""
        return self.rule == "excess_over_null_at_most"


_ANONYMETER = "anonymeter 1.1.0, attack on training rows against the same attack on unseen control rows"
CATALOGUE: dict[str, Check] = {c.name: c for c in (
    Check("singling_out_univariate", "attack", "excess_over_null_at_most",
          "share of one-attribute predicates built from the synthetic table that isolate exactly one real person "
          f"({_ANONYMETER})",
          "privsynth.attacks.singling_out:singling_out", 0.10, controls=("null", "positive")),
    Check("singling_out_multivariate", "attack", "excess_over_null_at_most",
          f"the same with predicates over several attributes ({_ANONYMETER})",
          "privsynth.attacks.singling_out:singling_out", 0.10, controls=("null", "positive")),
    Check("linkability", "attack", "excess_over_null_at_most",
          "linking a person's two halves of attributes (known columns, the rest) through the synthetic table "
          f"({_ANONYMETER})",
          "privsynth.attacks.linkability:linkability", 0.10, controls=("null", "positive")),
    Check("attribute_inference", "attack", "excess_over_null_at_most",
          f"inferring a secret column from every other column with the synthetic table, per secret ({_ANONYMETER})",
          "privsynth.attacks.inference:attribute_inference", 0.25, controls=("null", "positive"), per_secret=True),
    Check("membership_distance_auc", "attack", "upper_ci_at_most",
          "AUC of telling training rows from unseen rows by their distance to the closest synthetic row (0.5 = blind)",
          "privsynth.attacks.membership.distance:distance_membership", 0.60, (0.5, 1.0), ("null", "positive")),
    Check("dcr_closer_to_train", "attack", "upper_ci_at_most",
          "share of synthetic rows closer to a training row than to a holdout row (0.5 = no preference)",
          "privsynth.attacks.membership.distance:distance_membership", 0.60, (0.5, 1.0), ("null", "positive")),
    Check("membership_person_auc", "attack", "report_only",
          "AUC of telling training PERSONS (all their rows) from unseen persons by their row closest to the synthetic "
          "table (0.5 = blind), overall and per row count (1, 2-3, 4-9, 10+ rows in the source)",
          "privsynth.attacks.membership.person_distance:person_membership", scope="person"),
    Check("membership_density_auc", "attack", "upper_ci_at_most",
          "AUC of the density-ratio attack (DOMIAS): synthetic density over population density (0.5 = blind)",
          "privsynth.attacks.membership.density:density_membership", 0.60, (0.5, 1.0), ("positive",)),
    Check("shadow_auc", "attack", "upper_ci_at_most",
          "mean held-out AUC of the shadow-model attack on the most vulnerable records (the attacker knows the "
          "generator and refits it); its positive control attacks a generator that publishes its training rows",
          "privsynth.attacks.membership.shadow_attack:shadow_attack", 0.65, (0.5, 1.0), scope="shadow"),
    Check("empirical_epsilon", "attack", "lower_bound_at_most_claim",
          "95% lower bound on the epsilon the generator's training actually spends, from the shadow attack's errors "
          "(above the claimed epsilon: an implementation fault)",
          "privsynth.attacks.membership.shadow_attack:shadow_attack", scope="shadow"),
    Check("canary_epsilon", "attack", "lower_bound_at_most_claim",
          "95% lower bound on the generator's epsilon from one-run canary auditing (Steinke, Nasr & Jagielski "
          "2023): public-domain canaries added to holdout rows with probability 1/2, guessed from the synthetic "
          "output (above the claimed epsilon: an implementation fault)",
          "privsynth.attacks.canary:canary_audit", scope="audit"),
    Check("noise_epsilon", "attack", "lower_bound_at_most_claim",
          "epsilon implied by the noise the canary-audit fits actually added: every Gaussian answer and DP-SGD step "
          "read against the noise charged for it (99.9% upper bound of the ratio); marginal mechanisms: a lower "
          "bound (Gaussian DP of the measured noise), DP-SGD: the claim's accountant re-run (above the claimed "
          "epsilon: an implementation fault)",
          "privsynth.attacks.canary:canary_audit", scope="audit"),
    Check("exact_copies", "attack", "upper_ci_at_most",
          "excess share of synthetic rows identical to a training row over rows identical to an unseen row",
          "privsynth.attacks.copies:exact_copies", 0.01, controls=("null", "positive")),
    Check("tvd_1way", "utility", "upper_ci_at_most",
          "mean total-variation distance of the one-way marginals, synthetic against the holdout (16 public bins)",
          "privsynth.evaluation.marginals:marginal_tvd", 0.10),
    Check("tvd_2way", "utility", "upper_ci_at_most",
          "mean total-variation distance of the two-way marginals, synthetic against the holdout",
          "privsynth.evaluation.marginals:marginal_tvd", 0.20),
    Check("tstr_auc_gap", "utility", "upper_ci_at_most",
          "ROC AUC for data.target of a model trained on real rows minus one trained on synthetic rows, both tested "
          "on the holdout", "privsynth.evaluation.ml:tstr_auc", 0.15, scope="target"),
    Check("tstr_auc", "utility", "report_only", "ROC AUC for data.target of a model trained on the synthetic table",
          "privsynth.evaluation.ml:tstr_auc", scope="target"),
    Check("trtr_auc", "utility", "report_only", "ROC AUC for data.target of a model trained on the real training rows",
          "privsynth.evaluation.ml:tstr_auc", scope="target"),
)}


def check_of(result_name: str) -> Check:
    """The catalogue entry of a result name ("attribute_inference:income" -> attribute_inference)."""
    family = result_name.split(":", 1)[0]
    if family not in CATALOGUE:
        raise KeyError(f"{result_name!r} is not a check of the catalogue (privsynth/checks.py)")
    return CATALOGUE[family]


def implementations(kind: str, names: list[str] | None = None) -> list[str]:
    """The distinct implementations of ``kind`` checks, in catalogue order."""
    chosen = [c for c in CATALOGUE.values() if c.kind == kind and (names is None or c.name in names)]
    return list(dict.fromkeys(c.implementation for c in chosen))
