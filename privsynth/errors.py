"""The few exception types privsynth raises.

Every message is one line that names the file, field or column at fault and says what to do next;
the CLI prints it as is and exits with code 2 (bad input). Tracebacks only with ``--debug``.
"""
from __future__ import annotations


class PrivsynthError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class ThreatModelError(PrivsynthError):
    """The threat model is malformed. Carries every problem found, not just the first."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        head = f"{source}: {len(self.problems)} problem(s) in the threat model: "
        super().__init__(head + "; ".join(self.problems))


class DataError(PrivsynthError):
    """The table cannot be read or does not match the declared public domain."""


class BudgetExceeded(PrivsynthError):
    """A privatised query would spend more than the remaining privacy budget."""


class IntegrityError(PrivsynthError):
    """A release does not verify: a file is missing, altered, or the run was blocked."""


class ReleaseError(PrivsynthError):
    """A release could not be written (for example the output folder is not writable)."""


class NotFittedError(PrivsynthError):
    """A generator was asked for its table or guarantee before ``fit`` (scikit-learn's name for it)."""


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run after it had reserved its folder. ``aftermath`` says, in a sentence, what
    the run left on disk and what the budget ledger holds for it, so the steward need not go and look. A
    KeyboardInterrupt, so that nothing that catches Exception can swallow it."""

    def __init__(self, aftermath: str) -> None:
        self.aftermath = aftermath
        super().__init__(aftermath)
