"""Forged releases: every way the fault campaign (issue 23) altered a release is refused by ``load`` and by
``privsynth inspect`` (exit code 2, one line, no traceback), and a pinned key tells the steward's releases
from anyone else's."""
from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
from typer.testing import CliRunner

from privsynth.cli import app
from privsynth.errors import IntegrityError
from privsynth.privacy.home import StewardHome
from privsynth.release.load import load
from privsynth.release.signing import public_fingerprint, sign

runner = CliRunner()
#: a key that is not the steward's: a forger can sign anything with it
FORGER_SEED = bytes(range(100, 132))


def _manifest(release: Path) -> dict:
    return json.loads((release / "manifest.json").read_text())


def _write(release: Path, manifest: dict, resign: bool = False) -> None:
    content = (json.dumps(manifest, indent=2) + "\n").encode()
    (release / "manifest.json").write_bytes(content)
    if resign:
        (release / "signature.json").write_bytes(sign(content, FORGER_SEED))


def _entry(path: Path) -> dict:
    return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size}


def edited_epsilon(run: Path, blocked: Path) -> Path:
    release = run / "release"
    manifest = _manifest(release)
    manifest["privacy"]["epsilon"] = 0.01
    _write(release, manifest)
    return release


def flipped_blocked_run(run: Path, blocked: Path) -> Path:
    """A blocked run given a release folder: a table and a manifest claiming 'released', hashes correct, and
    the released run's signature copied beside it."""
    forged = run.parent / "blocked-copy"
    shutil.copytree(blocked, forged)
    release = forged / "release"
    release.mkdir()
    shutil.copy(run / "release" / "synthetic.parquet", release)
    shutil.copy(run / "release" / "signature.json", release)
    manifest = _manifest(run / "release")
    manifest["run"], manifest["decision"] = blocked.name, "released"
    manifest["files"] = {"synthetic.parquet": _entry(release / "synthetic.parquet")}
    _write(release, manifest)
    return forged


def recomputed_hashes(run: Path, blocked: Path) -> Path:
    release = run / "release"
    table = release / "synthetic.parquet"
    frame = pd.read_parquet(table)
    frame["age"] = frame["age"].max()
    frame.to_parquet(table)
    manifest = _manifest(release)
    manifest["files"]["synthetic.parquet"] = _entry(table)
    _write(release, manifest)
    return release


def symlinked_manifest(run: Path, blocked: Path) -> Path:
    release = run / "release"
    manifest = _manifest(release)
    manifest["privacy"]["epsilon"] = 0.01
    forged = run.parent / "forged-manifest.json"
    forged.write_text(json.dumps(manifest, indent=2) + "\n")
    (release / "manifest.json").unlink()
    (release / "manifest.json").symlink_to(forged)
    return release


def _extra_entry(name_of: Callable[[Path], str]) -> Callable[[Path, Path], Path]:
    """A file outside the release added to its list, the manifest re-signed by a forger's key (so the path
    check itself is what refuses it, not only the signature)."""

    def forge(run: Path, blocked: Path) -> Path:
        release = run / "release"
        outside = run / "review" / "report.json"
        manifest = _manifest(release)
        manifest["files"][name_of(outside)] = _entry(outside)
        _write(release, manifest, resign=True)
        return release

    return forge


def missing_signature(run: Path, blocked: Path) -> Path:
    (run / "release" / "signature.json").unlink()
    return run / "release"


def downgraded_to_legacy(run: Path, blocked: Path) -> Path:
    """A signed release rewritten as a version-1 manifest, to dodge the signature check."""
    release = run / "release"
    manifest = _manifest(release)
    manifest["privsynth_manifest"] = 1
    _write(release, manifest)
    return release


FORGERIES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "edited epsilon": (edited_epsilon, "signature does not match"),
    "flipped decision of a blocked run": (flipped_blocked_run, "signature does not match"),
    "recomputed hashes of a rewritten table": (recomputed_hashes, "signature does not match"),
    "manifest is a symlink to a forged one": (symlinked_manifest, "symbolic link"),
    "../ entry": (_extra_entry(lambda p: "../review/report.json"), "not a plain file name"),
    "absolute path entry": (_extra_entry(lambda p: str(p)), "not a plain file name"),
    "missing signature": (missing_signature, "not signed"),
    "downgraded to an unsigned legacy manifest": (downgraded_to_legacy, "legacy"),
}


@pytest.mark.parametrize("case", list(FORGERIES))
def test_forged_release_is_refused_by_load_and_inspect(case, released_run, blocked_run, tmp_path):
    forge, message = FORGERIES[case]
    target = forge(released_run, blocked_run)
    with pytest.raises(IntegrityError, match=message):
        load(target)
    result = runner.invoke(app, ["inspect", str(target)])
    text = result.output.strip()
    assert result.exit_code == 2, text
    assert len(text.splitlines()) == 1 and text.startswith("error:") and message in text, text
    assert "Traceback" not in text


def _steward_fingerprint() -> str:
    return public_fingerprint(StewardHome.locate().signing_key())


def test_the_stewards_key_is_accepted_and_another_refused(released_run):
    release = released_run / "release"
    fingerprint = _steward_fingerprint()
    signature = json.loads((release / "signature.json").read_text())
    assert signature["key_fingerprint"] == fingerprint and signature["algorithm"] == "ed25519"
    frame = load(release, trusted_key=fingerprint)
    assert frame.attrs["privsynth_signer"] == {"key_fingerprint": fingerprint, "pinned": True}
    assert load(release, trusted_key=signature["public_key"]).equals(frame)
    assert load(release, trusted_key=base64.b64decode(signature["public_key"])).equals(frame)
    result = runner.invoke(app, ["inspect", str(release), "--key", fingerprint])
    assert result.exit_code == 0 and fingerprint in result.output and "matches --key" in result.output

    other = public_fingerprint(FORGER_SEED)
    with pytest.raises(IntegrityError, match="not by the trusted key"):
        load(release, trusted_key=other)
    result = runner.invoke(app, ["inspect", str(release), "--key", other])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "not by the trusted key" in result.output and "Traceback" not in result.output


def test_a_forger_who_resigns_passes_only_without_a_pin(released_run):
    """Re-signing with another key keeps the folder self-consistent; only pinning the steward's key catches it."""
    release = released_run / "release"
    manifest = _manifest(release)
    manifest["privacy"]["epsilon"] = 0.01
    _write(release, manifest, resign=True)
    assert load(release).attrs["privsynth_signer"]["key_fingerprint"] == public_fingerprint(FORGER_SEED)
    with pytest.raises(IntegrityError, match="not by the trusted key"):
        load(release, trusted_key=_steward_fingerprint())


def _drop(section: str) -> Callable[[dict], None]:
    return lambda m: m.pop(section)


def _set(path: str, value: object) -> Callable[[dict], None]:
    def edit(manifest: dict) -> None:
        node = manifest
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


MALFORMED = {
    "missing privacy": (_drop("privacy"), "field privacy"),
    "missing files": (_drop("files"), "field files"),
    "files is a list": (_set("files", ["synthetic.parquet"]), "field files"),
    "privacy is a string": (_set("privacy", "strong"), "field privacy"),
    "epsilon is a string": (_set("privacy.epsilon", "tiny"), "field privacy.epsilon"),
    "decision blocked": (_set("decision", "blocked"), "field decision"),
    "threat model document altered": (_set("threat_model.document.name", "other"), "field threat_model.sha256"),
    "file entry without hash": (lambda m: m["files"].update({"synthetic.parquet": {"bytes": 1}}), "field files"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_signed_manifest_names_the_field(case, released_run):
    """Signed by a forger so the parser itself is reached: every problem is an IntegrityError naming the field."""
    edit, message = MALFORMED[case]
    release = released_run / "release"
    manifest = _manifest(release)
    edit(manifest)
    _write(release, manifest, resign=True)
    with pytest.raises(IntegrityError, match=message):
        load(release)
    result = runner.invoke(app, ["inspect", str(release)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe", b"null"])
def test_unparsable_signed_manifest_is_an_integrity_error(content, released_run):
    release = released_run / "release"
    (release / "manifest.json").write_bytes(content)
    (release / "signature.json").write_bytes(sign(content, FORGER_SEED))
    with pytest.raises(IntegrityError, match="manifest.json"):
        load(release)


@pytest.mark.parametrize("content", [b"{", b"[]", b'{"algorithm": "ed25519", "public_key": 3}',
                                     b'{"algorithm": "rsa"}'])
def test_malformed_signature_file_is_an_integrity_error(content, released_run):
    (released_run / "release" / "signature.json").write_bytes(content)
    with pytest.raises(IntegrityError, match="signature"):
        load(released_run)


def test_the_signing_key_is_created_once_with_mode_0600(tmp_path):
    home = StewardHome(tmp_path / "home")
    seed = home.signing_key()
    assert len(seed) == 32 and home.signing_key() == seed
    assert (home.signing_key_path.stat().st_mode & 0o777) == 0o600
