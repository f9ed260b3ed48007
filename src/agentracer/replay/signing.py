"""Signing recordings, so `replay` and `annotate` run a stored command unasked only when this
user made the recording on this machine and nobody changed it since.

A recording stores the shell commands it was made with (`command`, `check`, `cwd`); replaying
runs them. The recorder signs them with HMAC-SHA256 under a random key kept in the user's
config directory (created 0600), bound to this host's name. The recorded program never sees
that directory: the sandbox (`replay.isolation`) replaces it with an empty one. Anything else (an edited
`recording.json`, a recording from another user or machine, an interrupted one rebuilt from
`events.jsonl`) verifies as untrusted, and the CLI shows the command and asks first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import socket
from pathlib import Path

from agentracer.replay.recording import Recording

CONFIG_ENV_VAR = "AGENTRACER_CONFIG_DIR"
KEY_FILE = "recording-signing.key"


def _default_config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("agentracer"))


def config_dir() -> Path:
    """`$AGENTRACER_CONFIG_DIR`, else the user's config directory (e.g. ~/.config/agentracer)."""
    if os.environ.get(CONFIG_ENV_VAR):
        return Path(os.environ[CONFIG_ENV_VAR]).expanduser()
    return _default_config_dir()


def key_dirs() -> tuple[Path, ...]:
    """The directories a recorded program must not see, the key created first if missing (so
    the program can never be the one to create it): the config directory in use and, when
    `$AGENTRACER_CONFIG_DIR` points elsewhere, the user's default one, if it exists."""
    _key(create=True)
    return tuple(dict.fromkeys(d for d in (config_dir(), _default_config_dir()) if d.is_dir()))


def _key(create: bool) -> bytes | None:
    path = config_dir() / KEY_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        if not create:
            return None
    except ValueError:
        return None  # a damaged key trusts nothing
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another recorder made it a moment ago
        return _key(create=False)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32))
    return _key(create=False)


def _payload(recording: Recording) -> bytes:
    signed = {
        "id": recording.id,
        "created": recording.created,
        "command": recording.command,
        "check": recording.check,
        "cwd": recording.cwd,
        "host": socket.gethostname(),
    }
    return json.dumps(signed, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


def sign(recording: Recording) -> Recording:
    """`recording` with its signature (the key is created on first use)."""
    key = _key(create=True)
    assert key is not None
    digest = hmac.new(key, _payload(recording), hashlib.sha256).hexdigest()
    return recording.model_copy(update={"signature": digest})


def is_trusted(recording: Recording) -> bool:
    """Whether this user signed `recording` on this machine and its commands are unchanged."""
    key = _key(create=False)
    if key is None or not recording.signature:
        return False
    expected = hmac.new(key, _payload(recording), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, recording.signature)
