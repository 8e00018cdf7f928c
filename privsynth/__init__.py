"""privsynth: differentially private tabular synthesis that proves, before release, that it does not leak.

Public API: ``load`` (analysts), ``run`` (stewards), ``ThreatModel``, ``__version__``. Attributes are imported
lazily so that ``import privsynth`` stays fast and light.
"""
from __future__ import annotations

from typing import Any

from privsynth._version import __version__
__all__ = ["load", "run", "ThreatModel", "load_threat_model", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "load":
        from privsynth.release.load import load

        return load
    if name == "run":
        from privsynth.pipeline import run

        return run
    if name in ("ThreatModel", "load_threat_model"):
        from privsynth import threat_model

        return getattr(threat_model, name)
    raise AttributeError(f"module 'privsynth' has no attribute {name!r}")
