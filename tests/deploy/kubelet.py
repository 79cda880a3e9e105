"""A stand-in for the kubelet's atomic writer, which updates Secret and ConfigMap volumes.

Kubernetes documents the layout (``pkg/volume/util/atomic_writer.go``), and Vault Agent's
Kubernetes injector, the Secrets Store CSI driver and External Secrets' mounted Secrets all land
in it: the files live in a timestamped directory ``..2026_01_02_03_04_05.123456789``, a symlink
``..data`` points at the current one, and each user-visible name is a symlink
``keyring.json -> ..data/keyring.json``. An update writes a new timestamped directory, points a
new ``..data_tmp`` symlink at it, renames ``..data_tmp`` over ``..data`` (the one atomic step)
and removes the old directory. A reader that opens ``keyring.json`` sees the old or the new
volume, never a mix, and a reader that had resolved the symlinks once would be left holding a
deleted directory.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

DATA = "..data"


class ProjectedVolume:
    """A mounted volume at ``root``, updated the way the kubelet updates it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def current_dir(self) -> Path | None:
        link = self.root / DATA
        return self.root / link.readlink() if link.is_symlink() else None

    def write(self, files: Mapping[str, str]) -> Path:
        """Publish ``files`` (name -> content) as the volume's new version; returns its dir."""
        old = self.current_dir()
        stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime())
        new = self.root / f"..{stamp}.{secrets.randbelow(10**9):09d}"
        new.mkdir(mode=0o755)
        for name, content in files.items():
            path = new / name
            path.write_text(content)
            path.chmod(0o644)  # the Secret's defaultMode
        temp = self.root / f"{DATA}_tmp"
        temp.unlink(missing_ok=True)
        temp.symlink_to(new.name)  # relative, as the kubelet writes it
        temp.replace(self.root / DATA)  # rename(2): the only step a reader can observe
        for name in files:
            visible = self.root / name
            if not visible.is_symlink():
                visible.symlink_to(f"{DATA}/{name}")
        for stale in self.root.iterdir():  # names the new version no longer has
            if stale.is_symlink() and not stale.name.startswith("..") and stale.name not in files:
                stale.unlink()
        if old is not None:
            shutil.rmtree(old)
        return new
