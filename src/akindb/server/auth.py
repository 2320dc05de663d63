"""API keys: roles (read < write < admin) scoped to collections, stored only as SHA-256 hashes.

A key looks like ``akdb_<id>_<secret>``: ``id`` (8 hex digits) finds the entry, the SHA-256 of
the whole key is compared with ``hmac.compare_digest`` (constant time). The secret has 256 bits
of entropy, so a fast hash is enough (no password stretching needed); the plain key is shown
once, when created, and never written anywhere.

The store is a small TOML file, by default ``keys.toml`` in the database directory (mode 0600),
written atomically. The server re-reads it when it changes, so ``akindb keys revoke`` takes
effect without a restart::

    [[keys]]
    id = "1a2b3c4d"
    sha256 = "…64 hex…"
    role = "read"
    collections = ["docs", "notes"]   # or ["*"] for every collection
    created_at = 1700000000.0
    expires_at = 0.0                  # 0 = never
    revoked = false
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from akindb.collection.database import validate_name
from akindb.errors import InvalidArgumentError
from akindb.storage.atomic import atomic_write_bytes

KEYS_FILE = "keys.toml"
ROLES = ("read", "write", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}
_KEY = re.compile(r"^akdb_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")
_DUMMY = hashlib.sha256(b"akindb-dummy").hexdigest()


def hash_key(key: str) -> str:
    """SHA-256 hex of a key (what is stored).

    >>> hash_key("akdb_00000000_x")[:12]
    'dccfa79db7f0'
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """One stored key (its hash, never the key itself)."""

    id: str
    sha256: str
    role: str
    collections: tuple[str, ...]
    created_at: float
    expires_at: float = 0.0
    revoked: bool = False

    def allows(self, role: str, collection: str | None) -> bool:
        """Whether this key may act as ``role`` on ``collection`` (``None``: database-wide)."""
        if _RANK[self.role] < _RANK[role]:
            return False
        if collection is None:
            return "*" in self.collections
        return "*" in self.collections or collection in self.collections

    def can_see(self, collection: str) -> bool:
        return "*" in self.collections or collection in self.collections

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at > 0 and (now or time.time()) >= self.expires_at


@dataclass
class AuthResult:
    """Outcome of checking a presented key: a key, or the reason (code) it was refused."""

    key: ApiKey | None
    code: str = ""
    message: str = ""


@dataclass
class KeyStore:
    """The key file; reloaded when its mtime changes. Thread-safe."""

    path: Path
    _keys: dict[str, ApiKey] = field(default_factory=dict)
    _mtime: float = -1.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_db(cls, db_dir: Path, key_file: Path | None = None) -> KeyStore:
        return cls(Path(key_file) if key_file is not None else Path(db_dir) / KEYS_FILE)

    # ---- reading -----------------------------------------------------------------------------
    def _reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            self._keys, self._mtime = {}, -1.0
            return
        if mtime == self._mtime:
            return
        with self.path.open("rb") as fh:
            data = tomllib.load(fh)
        keys: dict[str, ApiKey] = {}
        for row in data.get("keys", []):
            k = ApiKey(
                id=str(row["id"]),
                sha256=str(row["sha256"]),
                role=str(row["role"]),
                collections=tuple(str(c) for c in row.get("collections", [])),
                created_at=float(row.get("created_at", 0.0)),
                expires_at=float(row.get("expires_at", 0.0)),
                revoked=bool(row.get("revoked", False)),
            )
            if k.role in _RANK:
                keys[k.id] = k
        self._keys, self._mtime = keys, mtime

    def entries(self) -> list[ApiKey]:
        with self._lock:
            self._reload()
            return sorted(self._keys.values(), key=lambda k: k.created_at)

    def check(self, presented: str | None) -> AuthResult:
        """Find the key for a presented secret, in constant time with respect to the secret."""
        if not presented:
            return AuthResult(
                None,
                "missing_api_key",
                "this server needs an API key: send it as 'Authorization: Bearer <key>' or "
                "'X-API-Key: <key>' (create one with `akindb keys create`)",
            )
        with self._lock:
            self._reload()
            m = _KEY.match(presented)
            entry = self._keys.get(m.group(1)) if m else None
        ok = hmac.compare_digest(hash_key(presented), entry.sha256 if entry else _DUMMY)
        if entry is None or not ok:
            return AuthResult(
                None, "invalid_api_key",
                "the API key is not valid here; check it, or create one with `akindb keys create`",
            )
        if entry.revoked:
            return AuthResult(
                None, "invalid_api_key",
                f"API key {entry.id} was revoked; ask an admin for a new one",
            )
        if entry.expired():
            return AuthResult(
                None, "invalid_api_key",
                f"API key {entry.id} has expired; ask an admin for a new one",
            )
        return AuthResult(entry)

    # ---- writing -----------------------------------------------------------------------------
    def create(
        self, role: str, collections: list[str], *, expires_in_s: float | None = None
    ) -> tuple[str, ApiKey]:
        """Create a key; returns ``(plain_key, stored_entry)``. The plain key is not kept."""
        if role not in _RANK:
            raise InvalidArgumentError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")
        cols = [c.strip() for c in collections if c.strip()]
        if not cols:
            raise InvalidArgumentError(
                "a key needs --collections: a comma-separated list of names, or '*' for all"
            )
        for c in cols:
            if c != "*":
                validate_name(c)
        with self._lock:
            self._reload()
            kid = secrets.token_hex(4)
            while kid in self._keys:
                kid = secrets.token_hex(4)
            plain = f"akdb_{kid}_{secrets.token_urlsafe(32)}"
            now = time.time()
            entry = ApiKey(
                id=kid, sha256=hash_key(plain), role=role, collections=tuple(cols),
                created_at=now, expires_at=now + expires_in_s if expires_in_s else 0.0,
            )
            self._keys[kid] = entry
            self._write()
        return plain, entry

    def revoke(self, key_id: str) -> ApiKey:
        with self._lock:
            self._reload()
            if key_id not in self._keys:
                raise InvalidArgumentError(
                    f"no API key with id {key_id!r}; list them with `akindb keys list`"
                )
            entry = replace(self._keys[key_id], revoked=True)
            self._keys[key_id] = entry
            self._write()
        return entry

    def _write(self) -> None:
        lines = [
            "# akindb API keys. Only SHA-256 hashes of keys are stored here; a lost key cannot",
            "# be recovered: revoke it and create a new one (`akindb keys --help`).",
        ]
        for k in sorted(self._keys.values(), key=lambda k: k.created_at):
            lines += [
                "",
                "[[keys]]",
                f"id = {json.dumps(k.id)}",
                f"sha256 = {json.dumps(k.sha256)}",
                f"role = {json.dumps(k.role)}",
                f"collections = {json.dumps(list(k.collections))}",
                f"created_at = {k.created_at!r}",
                f"expires_at = {k.expires_at!r}",
                f"revoked = {'true' if k.revoked else 'false'}",
            ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, ("\n".join(lines) + "\n").encode("utf-8"))
        os.chmod(self.path, 0o600)
        self._mtime = -1.0
