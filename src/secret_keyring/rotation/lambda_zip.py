"""Build a rotation Lambda's deployment zip: this package without its Django parts, plus, for the
Vault backend, hvac and what it needs.

* ``aws`` (default): the Secrets Manager rotation Lambda. The runtime provides boto3, so the zip
  holds only ``secret_keyring``.
* ``vault``: the scheduled Vault/OpenBao rotation. The runtime has no hvac, so the zip also holds
  hvac and its dependencies (requests, urllib3, certifi, idna, charset-normalizer), copied from
  the distributions installed next to this package (``pip install
  'django-secret-keyring[vault]'``). Compiled extension modules are left out: the zip must run
  on the Lambda's architecture whatever machine built it, and the one dependency that ships them
  (charset-normalizer) falls back to its pure-Python modules.

The archive is reproducible (sorted entries, fixed timestamps and modes), so Terraform's
``source_code_hash`` changes only when the code or a bundled version does.
"""

from __future__ import annotations

import re
import zipfile
from importlib import metadata
from pathlib import Path

from secret_keyring.errors import ConfigurationError

__all__ = ["BACKENDS", "HANDLER", "HANDLERS", "build_lambda_zip", "bundled_distributions"]

#: The handler string for ``aws_lambda_function.handler`` of each backend.
HANDLERS = {
    "aws": "secret_keyring.rotation.aws.lambda_handler",
    "vault": "secret_keyring.rotation.vault.lambda_handler",
}
#: The Secrets Manager rotation Lambda's handler (the default backend).
HANDLER = HANDLERS["aws"]
BACKENDS = tuple(HANDLERS)
#: Distributions whose requirements are bundled, per backend (the runtime provides boto3).
_ROOTS = {"aws": (), "vault": ("hvac",)}
_EXCLUDED_PARTS = {"django", "__pycache__"}
_EXCLUDED_FILES = {"testing.py"}
#: Installer bookkeeping that describes this machine's installation, not the code.
_EXCLUDED_METADATA = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
_COMPILED = (".so", ".pyd", ".dylib", ".pyc", ".pyo")
_EPOCH = (1980, 1, 1, 0, 0, 0)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def bundled_distributions(backend: str) -> list[metadata.Distribution]:
    """The installed distributions a backend's zip carries: the roots and their requirements,
    recursively, without optional extras. Sorted by name.

    Raises:
        ConfigurationError: unknown backend.
        ImportError: a distribution is not installed (names the extra to install).
    """
    if backend not in _ROOTS:
        raise ConfigurationError(
            f"unknown Lambda backend {backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    found: dict[str, metadata.Distribution] = {}
    # (name, conditional): a requirement with an environment marker (python_version...) that is
    # not installed was not needed here, so it is not needed in the zip either.
    pending = [(root, False) for root in _ROOTS[backend]]
    while pending:
        raw_name, conditional = pending.pop()
        name = _canonical(raw_name)
        if name in found:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if conditional:
                continue
            raise ImportError(
                f"the {backend} rotation Lambda bundles {name}, which is not installed; install "
                f"it with pip install 'django-secret-keyring[{backend}]'"
            ) from None
        found[name] = distribution
        for requirement in distribution.requires or ():
            requirement_name, _, marker = requirement.partition(";")
            if "extra" in marker:
                continue  # an optional feature, such as requests[socks]
            match = _NAME.match(requirement_name)
            if match:
                pending.append((match.group(1), bool(marker.strip())))
    return [found[name] for name in sorted(found)]


def _distribution_files(distribution: metadata.Distribution) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for entry in distribution.files or ():
        parts = entry.parts
        if (
            not parts
            or parts[0] == ".."  # console scripts installed into bin/
            or "__pycache__" in parts
            or entry.name.endswith(_COMPILED)
            or (parts[0].endswith(".dist-info") and entry.name in _EXCLUDED_METADATA)
        ):
            continue
        located = Path(str(distribution.locate_file(entry)))
        if located.is_file():
            files[entry.as_posix()] = located
    return files


def _package_files() -> dict[str, Path]:
    package = Path(__file__).resolve().parents[1]
    root = package.parent
    return {
        f.relative_to(root).as_posix(): f
        for f in package.rglob("*")
        if f.is_file()
        and not _EXCLUDED_PARTS.intersection(f.relative_to(package).parts)
        and f.name not in _EXCLUDED_FILES
        and f.suffix in {".py", ".typed"}
    }


def build_lambda_zip(path: str | Path, *, backend: str = "aws") -> list[str]:
    """Write the zip for ``backend`` (``"aws"`` or ``"vault"``) to ``path``; returns the
    archive's member names.

    Raises:
        ConfigurationError: unknown backend.
        ImportError: the backend's SDK is not installed here.
        OSError: ``path`` cannot be written.
    """
    members = _package_files()
    for distribution in bundled_distributions(backend):
        members.update(_distribution_files(distribution))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(members)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name].read_bytes())
    return names
