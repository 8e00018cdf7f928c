"""Signed releases: the public manifest carries an Ed25519 signature by the steward's key.

The manifest lists the SHA-256 of every file of the release, so a valid signature over the manifest's exact
bytes vouches for the whole folder: an edited epsilon, a flipped decision, a swapped table with a recomputed
hash all break it. ``signature.json`` beside the manifest holds the signature and the public key; the key's
fingerprint (SHA-256 of its raw 32 bytes, hex) is what an analyst pins (``privsynth.load(path,
trusted_key=...)``, ``privsynth inspect --key``), because anyone can re-sign a forged manifest with a key of
their own. Without a pin, ``load`` still checks that the release is intact and reports who signed it.

The private key is a 32-byte seed in the steward's state folder (privacy/home.py, ``signing-key``, mode 0600),
never in a release. Ed25519 comes from the ``cryptography`` package (this is its one importer); we write none
of the cryptography ourselves.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from privsynth.errors import IntegrityError

SIGNATURE_NAME = "signature.json"
ALGORITHM = "ed25519"
#: a signature.json is a few hundred bytes; anything far larger is not one (and is not read into memory)
MAX_SIGNATURE_BYTES = 16_384


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint_of(public_key: bytes) -> str:
    """What an analyst pins: SHA-256 of the raw 32-byte public key, in hex."""
    return hashlib.sha256(public_key).hexdigest()


def public_fingerprint(seed: bytes) -> str:
    """The fingerprint of the public half of a steward's signing seed (to tell analysts what to pin)."""
    return fingerprint_of(_raw(Ed25519PrivateKey.from_private_bytes(seed).public_key()))


def sign(manifest_bytes: bytes, seed: bytes) -> bytes:
    """``signature.json``'s bytes for ``manifest_bytes``, signed with the steward's 32-byte seed."""
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = _raw(key.public_key())
    document = {"algorithm": ALGORITHM, "signs": "manifest.json (its exact bytes)",
                "public_key": base64.b64encode(public).decode(), "key_fingerprint": fingerprint_of(public),
                "signature": base64.b64encode(key.sign(manifest_bytes)).decode()}
    return (json.dumps(document, indent=2) + "\n").encode()


@dataclass(frozen=True)
class Signer:
    """Who signed a release: the public key's fingerprint, and whether the caller pinned (and so checked) it."""

    fingerprint: str
    pinned: bool


def _field(document: dict[str, Any], name: str, where: Path) -> str:
    value = document.get(name)
    if not isinstance(value, str) or len(value) > 1024:
        raise IntegrityError(f"{where}: field {name} is missing or malformed; the release's signature cannot be "
                             "read, do not trust it")
    return value


def _b64(document: dict[str, Any], name: str, size: int, where: Path) -> bytes:
    try:
        raw = base64.b64decode(_field(document, name, where), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise IntegrityError(f"{where}: field {name} is not {size} bytes of base64; the release's signature cannot "
                             "be read, do not trust it")
    return raw


def _pinned(trusted_key: str | bytes) -> set[str]:
    """The forms a pin may take: a hex fingerprint, a base64 public key, or the raw 32-byte public key."""
    if isinstance(trusted_key, bytes):
        return {fingerprint_of(trusted_key)}
    wanted = trusted_key.strip()
    return {wanted.lower(), wanted}


def read_signature(signature_path: Path) -> dict[str, Any]:
    """``signature.json`` as a JSON object; a link, a folder, an oversized or unparsable file is refused."""
    if signature_path.is_symlink() or not signature_path.is_file():
        raise IntegrityError(f"{signature_path}: missing or not a regular file; the release is not signed, do not "
                             "trust it")
    if signature_path.stat().st_size > MAX_SIGNATURE_BYTES:
        raise IntegrityError(f"{signature_path}: larger than {MAX_SIGNATURE_BYTES} bytes, not a signature")
    try:
        document = json.loads(signature_path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise IntegrityError(f"{signature_path}: not valid JSON; the release's signature cannot be read, do not "
                             "trust it") from None
    if not isinstance(document, dict):
        raise IntegrityError(f"{signature_path}: not a signature (a JSON object is expected)")
    return document


def verify(manifest_bytes: bytes, signature_path: Path, trusted_key: str | bytes | None = None) -> Signer:
    """Check ``signature.json`` against the manifest's exact bytes; with ``trusted_key`` (a hex fingerprint, a
    base64 public key or raw public key bytes), also that the release was signed by that key. Raises
    IntegrityError naming what failed."""
    document = read_signature(signature_path)
    if document.get("algorithm") != ALGORITHM:
        raise IntegrityError(f"{signature_path}: field algorithm is not {ALGORITHM!r}; the release's signature "
                             "cannot be checked, do not trust it")
    raw_public = _b64(document, "public_key", 32, signature_path)
    signature = _b64(document, "signature", 64, signature_path)
    try:
        Ed25519PublicKey.from_public_bytes(raw_public).verify(signature, manifest_bytes)
    except (InvalidSignature, ValueError):
        raise IntegrityError(f"{signature_path}: the signature does not match manifest.json; the manifest was "
                             "altered after release (or re-signed badly), do not use it") from None
    found = fingerprint_of(raw_public)
    if document.get("key_fingerprint", found) != found:
        raise IntegrityError(f"{signature_path}: field key_fingerprint is not the fingerprint of public_key; the "
                             "signature file was edited, do not trust it")
    if trusted_key is not None and not _pinned(trusted_key) & {found, base64.b64encode(raw_public).decode()}:
        shown = trusted_key.hex() if isinstance(trusted_key, bytes) else trusted_key.strip()
        raise IntegrityError(f"{signature_path}: signed by key {found[:16]}…, not by the trusted key "
                             f"{shown[:16]}…; this release did not come from the steward you trust")
    return Signer(found, trusted_key is not None)
