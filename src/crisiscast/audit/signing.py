"""The audit signing key: Ed25519 (``cryptography``), held outside the audit store.

Where the private key comes from, first found wins:

1. the ``CRISISCAST_AUDIT_SIGNING_KEY`` environment secret (the PEM text, read as a
   ``SecretStr`` and never printed);
2. the file named by ``[store] signing_key_file`` (PEM, PKCS#8, unencrypted; ``audit keygen``
   writes it with mode 0600 and refuses a file that others can read).

The public key is what a verifier needs: ``audit keygen`` prints it and writes it next to the
private key (``<file>.pub``), so it can be published. Its fingerprint (``SHA256:`` and the hex
SHA-256 of the 32 raw key bytes) names the key in every checkpoint and export.

``cryptography`` is imported by the functions that use a key, so a store without a signing key
(the default) never imports it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from crisiscast.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "KEY_ENV",
    "fingerprint",
    "generate_key",
    "load_private_key",
    "load_public_key",
    "public_pem",
    "signature_holds",
]

KEY_ENV = "CRISISCAST_AUDIT_SIGNING_KEY"


def public_pem(key: Ed25519PublicKey) -> str:
    """The public key as PEM text (SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def fingerprint(key: Ed25519PublicKey) -> str:
    """``SHA256:<hex>`` of the raw public key: the key's name in checkpoints and exports."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def generate_key(path: Path) -> Ed25519PrivateKey:
    """Create a new key in ``path`` (mode 0600, never overwriting) and its public key in
    ``path.pub``; ``ConfigError`` when the file exists or cannot be written."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(
            f"The key file {path} already exists; keep it, or move it away to make a new key."
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot create the key file {path}: {exc.strerror}.") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    Path(f"{path}.pub").write_text(public_pem(key.public_key()), encoding="ascii")
    return key


def _private_from_pem(pem: bytes, where: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{where} is not an unencrypted PEM private key; create one with crisiscast audit keygen."
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{where} is not an Ed25519 key; create one with crisiscast audit keygen.")
    return key


def load_private_key(key_file: str) -> Ed25519PrivateKey | None:
    """The signing key from the environment secret or ``key_file``; None when neither is set.

    A key file that group or others may read is refused (``chmod 600`` it).
    """
    secret = os.environ.get(KEY_ENV)
    if secret:
        from pydantic import SecretStr

        value = SecretStr(secret)
        return _private_from_pem(value.get_secret_value().encode(), f"The {KEY_ENV} secret")
    if not key_file:
        return None
    path = Path(key_file)
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"The signing key file {path} may be read by other users; run chmod 600 {path}."
            )
        pem = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"The signing key file {path} does not exist; create it with crisiscast audit keygen {path}."
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the signing key file {path}: {exc.strerror}.") from exc
    return _private_from_pem(pem, f"The signing key file {path}")


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file (or the private key file, whose public half is used)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read the public key file {path}: {exc.strerror or exc}.") from exc
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        return _private_from_pem(pem, f"The key file {path}").public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"The public key file {path} is not an Ed25519 key.")
    return key


def signature_holds(key: Ed25519PublicKey, signature: bytes, text: bytes) -> bool:
    """True when ``signature`` is ``key``'s signature of ``text``."""
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(signature, text)
    except InvalidSignature:
        return False
    return True
