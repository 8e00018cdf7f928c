"""What every attack receives, and the one shape it returns.

An attack is a plain function ``attack(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]``
registered against the names of the checks it measures in the catalogue (privsynth/checks.py). Attacks see
tables, never models: the shadow-model attack, which must refit the generator, finds a ``fit_and_sample``
factory and a task mapper in ``data.shadow``, injected by the pipeline, so this package never imports
generators/ or privacy/. The registry runs an attack on the candidate table and, when its checks ask for
them, on the controls: holdout rows it has never seen posing as the synthetic table (null: the risk must
come out near zero) and training rows posing as it (positive: the attack must fire). Attacks only measure;
thresholds and pass/fail are the gate's business.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence, TypeVar

import numpy as np
import pandas as pd

from privsynth.data.domain import PublicDomain
from privsynth.data.sample import row_sample
from privsynth.errors import DataError
from privsynth.parallel import MapOutcome, Progress
from privsynth.results import AttackResult

#: the column a person-level shadow or audit training set carries with each row's person (a label, not a real
#: id): the pipeline's fit takes it out before the generator sees the rows and hands it to PrivateData, so a
#: DP-SGD shadow fit samples and clips persons exactly as the release fit does
PERSON_KEY = "__person__"


def with_person_key(frame: pd.DataFrame, persons: Sequence[str]) -> pd.DataFrame:
    """``frame`` with the ``PERSON_KEY`` column set to ``persons`` (one label per row)."""
    return frame.assign(**{PERSON_KEY: list(persons)})


def synthetic_only(frame: pd.DataFrame) -> pd.DataFrame:
    """A fit's output without ``PERSON_KEY``: a control that republishes its training set (the copying
    generator) would otherwise carry the labels into the features."""
    return frame.drop(columns=[PERSON_KEY], errors="ignore")

A = TypeVar("A")
T = TypeVar("T")

FitAndSample = Callable[[pd.DataFrame, int], pd.DataFrame]
"""``fit_and_sample(train, seed) -> synthetic``: a fresh generator of the release's configuration (and, for a
DP generator, its budget) fitted on ``train`` and sampled. Must be picklable: it runs on dask workers."""



@dataclass(frozen=True)
class AuditedFit:
    """One canary-audit fit: the synthetic table, and the noise audit of the fit, measured where the noise is
    added (privacy/noise_audit.py, run by the pipeline's factory): the sum of squared standardised noise (noise
    added over noise charged) over ``noise_values`` values, and the fit's epsilon as a function of the noise
    ratio. Plain data and a picklable callable, so attacks/ never imports privacy/."""

    synthetic: pd.DataFrame
    noise_squares: float = 0.0
    noise_values: int = 0
    implied_epsilon: Callable[[float], float] | None = None
    implied_method: str = ""

    @classmethod
    def table_only(cls, fit_and_sample: FitAndSample) -> "FitAndAudit":
        """An audit factory from a plain ``fit_and_sample`` (a control that adds no noise to read)."""
        return _TableOnly(fit_and_sample)


FitAndAudit = Callable[[pd.DataFrame, int], AuditedFit]
"""``fit_and_audit(train, seed)``: the canary audit's factory, a fit as ``FitAndSample`` plus its noise audit."""


@dataclass(frozen=True)
class _TableOnly:
    fit_and_sample: FitAndSample

    def __call__(self, train: pd.DataFrame, seed: int) -> AuditedFit:
        return AuditedFit(self.fit_and_sample(train, seed))


TaskMapper = Callable[[Callable[[A], T], Sequence[A], "Progress | None", str], MapOutcome[T]]
"""``map(fn, args, progress, label)``: ``[fn(a) for a in args]`` on the compute cluster (parallel.map_tasks)."""


@dataclass(frozen=True)
class ShadowSetup:
    """Everything the shadow-model attack needs that a table attack does not: its targets (training rows, or
    holdout rows named by the threat model), the attacker's population (holdout rows without any target), what
    the report may say of each target (its source row number and isolation, never its values), the generator
    factory and the task mapper. Built by attacks.membership.targets.plan_shadow_attack."""

    targets: pd.DataFrame
    population: pd.DataFrame
    described: Mapping[str, list[Any]]
    fit_and_sample: FitAndSample
    map_tasks: TaskMapper
    runs: int
    train_size: int
    synthetic_rows: int
    selection: str
    delta: float
    progress: Progress | None = None
    #: person level: each target row's target person (0..persons-1), whose rows go in or out together; None
    #: when every target row is its own target (row level)
    owners: np.ndarray | None = None
    #: person level: the contribution bound k (every target person has at most k rows)
    rows_per_person: int | None = None


@dataclass(frozen=True)
class AuditSetup:
    """What the one-run canary audit (attacks/canary.py) needs: the attacker's population (holdout rows, never
    a training row of the release), the generator factory and task mapper, its sizes, and the claim it is
    held against (None for a non-DP baseline), which only sets what its detection floor reports. At person
    level its canaries are persons of ``rows_per_canary`` rows."""

    population: pd.DataFrame
    fit_and_audit: FitAndAudit
    map_tasks: TaskMapper
    canaries: int
    runs: int
    base_rows: int
    delta: float
    claimed_epsilon: float | None
    alpha: float = 0.05
    progress: Progress | None = None
    #: person level: the contribution bound k; each canary is then a person of k identical rows, in or out
    #: together (attacks/canary.py); 1 at row level
    rows_per_canary: int = 1


@dataclass(frozen=True)
class PersonSample:
    """Persons the person-level attacks ask about, when the threat model names a person column: their kept rows
    (members: training persons; control: holdout persons), each row's person, and each person's row count in
    the source before the contribution bound (attacks.membership.person_distance.person_sample builds it)."""

    members: pd.DataFrame
    member_ids: np.ndarray
    control: pd.DataFrame
    control_ids: np.ndarray
    source_rows: pd.Series


@dataclass(frozen=True)
class AttackData:
    """The attacker's view. ``members`` are training rows (the targets); ``control`` are holdout rows of the
    same size, never used to fit the generator (non-members, and anonymeter's control set); ``reference`` are
    further holdout rows, disjoint from both (the density attack's population sample). All frames have the
    canonical dtypes of ``domain.cast``."""

    members: pd.DataFrame
    control: pd.DataFrame
    domain: PublicDomain
    known_columns: tuple[str, ...]
    secret_columns: tuple[str, ...]
    n_attacks: int
    seed: int
    reference: pd.DataFrame | None = None
    shadow: ShadowSetup | None = None
    audit: AuditSetup | None = None
    persons: PersonSample | None = None
    #: each member's and control row's person, when the threat model names a person column (internal, never
    #: an attack feature): the anonymeter attacks then count persons (``anonymeter_targets``)
    member_persons: np.ndarray | None = None
    control_persons: np.ndarray | None = None


Attack = Callable[[AttackData, pd.DataFrame], list[AttackResult]]


#: the fewest rows per side (members, control) an attack is run on
MIN_ATTACK_ROWS = 20


def attack_sample_size(train_rows: int, holdout_rows: int, sample_size: int) -> int:
    """Rows per side the attacks use; raises DataError when the tables are too small to attack. Needs only the
    row counts, so the pipeline checks it before any budget is booked."""
    size = min(sample_size, train_rows, holdout_rows // 2)
    if size < MIN_ATTACK_ROWS:
        raise DataError(f"the training rows ({train_rows}) and holdout ({holdout_rows} rows) are too small: attacks "
                        f"need at least {MIN_ATTACK_ROWS} training rows and a holdout of at least "
                        f"{2 * MIN_ATTACK_ROWS} (raise data.holdout_fraction or give a larger table or data.holdout "
                        "file)")
    return size


def attack_tables(train: pd.DataFrame, holdout: pd.DataFrame, domain: PublicDomain, sample_size: int,
                  known_columns: Sequence[str], secret_columns: Sequence[str], n_attacks: int,
                  seed: int, train_persons: np.ndarray | None = None,
                  holdout_persons: np.ndarray | None = None) -> tuple[AttackData, pd.DataFrame]:
    """Members (training rows), control and null rows (disjoint holdout rows), all of one size; the null rows
    are also the density attack's reference. Returns the attack data and the null table. ``train_persons`` /
    ``holdout_persons``: each row's person, when the threat model names a person column; the data then keeps
    the persons of its members and control rows (the rows drawn are the same either way)."""
    size = attack_sample_size(len(train), len(holdout), sample_size)
    rng = np.random.default_rng([seed, 0xA77])
    member_rows = np.sort(rng.choice(len(train), size, replace=False))
    members = train.iloc[member_rows].reset_index(drop=True)
    order = rng.permutation(len(holdout))
    control = holdout.iloc[np.sort(order[:size])].reset_index(drop=True)
    null = holdout.iloc[np.sort(order[size:2 * size])].reset_index(drop=True)
    people = {} if train_persons is None or holdout_persons is None else \
        {"member_persons": train_persons[member_rows], "control_persons": holdout_persons[np.sort(order[:size])]}
    data = AttackData(members, control, domain, tuple(known_columns), tuple(secret_columns), n_attacks, seed,
                      reference=null, **people)
    return data, null


def anonymeter_targets(data: AttackData) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The members and control rows an anonymeter attack targets, and what its details should say of them.

    Without persons: ``data.members`` and ``data.control`` as they are (nothing to add). With a person column:
    ONE row per person on each side (a seeded uniform draw among the person's rows in the sample), both sides
    then cut to the same number of persons by a seeded draw (anonymeter needs equal sizes). Its risks are
    shares of attacked targets, so a person with 40 rows would otherwise weigh 40 times, and a singling-out
    predicate that isolates "one row" among a person's near-identical rows would be counted against a person
    it cannot single out. The unit of the risk is then the person."""
    if data.member_persons is None or data.control_persons is None:
        return data.members, data.control, {}
    rng = np.random.default_rng([data.seed, 0x9E50])
    members = data.members.iloc[_one_row_per_person(data.member_persons, rng)]
    control = data.control.iloc[_one_row_per_person(data.control_persons, rng)]
    size = min(len(members), len(control))
    members = members.iloc[np.sort(rng.choice(len(members), size, replace=False))].reset_index(drop=True)
    control = control.iloc[np.sort(rng.choice(len(control), size, replace=False))].reset_index(drop=True)
    return members, control, {"unit": "person", "persons_per_side": size,
                              "sample_rows_per_side": min(len(data.members), len(data.control)),
                              "targets_are": "one seeded uniform row per person, sides cut to equal persons"}


def with_unit(result: AttackResult, unit: Mapping[str, Any]) -> AttackResult:
    """``result`` with ``unit`` (``anonymeter_targets``' note on persons) added to its details; unchanged when
    there is nothing to add (row level)."""
    return replace(result, details={**result.details, **unit}) if unit else result


def _one_row_per_person(persons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions (ascending) of one uniformly drawn row of each person in ``persons``."""
    order = rng.permutation(len(persons))
    first = pd.Series(persons[order]).drop_duplicates().index.to_numpy()
    return np.sort(order[first])
#: the most synthetic rows an attack compares with (anonymeter's attacks and the distance attack): a larger
#: candidate is attacked through a seeded uniform sample of this size, so those attacks cost the same from
#: 50,000 rows up. The bundled Adult and Bank Marketing candidates (about 39,000 and 36,000 rows) stay whole.
MAX_SYNTHETIC_ROWS = 50_000


def synthetic_sample(synthetic: pd.DataFrame, seed: int, limit: int = MAX_SYNTHETIC_ROWS) -> pd.DataFrame:
    """``synthetic`` itself, or a seeded uniform sample of ``limit`` of its rows (in their original order)."""
    return row_sample(synthetic, seed, limit, stream=0x5A5)
