"""Build the rotation Lambda's deployment zip: this package without its Django parts.

The Lambda runtime provides boto3, so the zip holds only ``secret_keyring`` (standard library
plus boto3 at run time). The archive is reproducible (sorted entries, fixed timestamps and
modes), so Terraform's ``source_code_hash`` changes only when the code does.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["HANDLER", "build_lambda_zip"]

#: The handler string for ``aws_lambda_function.handler``.
HANDLER = "secret_keyring.rotation.aws.lambda_handler"
_EXCLUDED_PARTS = {"django", "__pycache__"}
_EXCLUDED_FILES = {"testing.py"}
_EPOCH = (1980, 1, 1, 0, 0, 0)


def build_lambda_zip(path: str | Path) -> list[str]:
    """Write the zip to ``path``; returns the archive's member names.

    Raises:
        OSError: ``path`` cannot be written.
    """
    package = Path(__file__).resolve().parents[1]
    root = package.parent
    files = sorted(
        f
        for f in package.rglob("*")
        if f.is_file()
        and not _EXCLUDED_PARTS.intersection(f.relative_to(package).parts)
        and f.name not in _EXCLUDED_FILES
        and f.suffix in {".py", ".typed"}
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            name = file.relative_to(root).as_posix()
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes())
            names.append(name)
    return names
