# SPDX-License-Identifier: GPL-3.0-or-later
"""W&B's images that the lab can make, carried by the lab's bundle to its registry.

A site mirrors W&B's images from W&B's registries; this machine reaches none,
so the lab builds what it can, as lab/mirror.yml `wandb_images:` lists it:

- the operator (wandb/controller): the upstream source release in
  shared/artifacts (src/wandb-operator-<version>.tar.gz; the Go module proxy
  does not serve it, its dependencies it does), built like its Dockerfile does
  (CGO_ENABLED=0 go build of cmd/main.go) with the pinned toolchain, kept by
  version under CACHE/go/wandb-operator-<version>/manager;
- the in-cluster probe of verify.yml: Debian with python3 and PyMySQL.

Both on the lab's Debian base image. The W&B application images cannot be
made here: the platform's pods wait for them, and the tests say so. The
bundle's manifest.json records each image's digest (the lab inventory pins the
controller by it).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import k8s

import lab


def build_operator(version: str, tarball: Path) -> Path:
    """The operator's manager binary from its source release; its directory."""

    def build(out: Path, env: dict) -> None:
        src = lab.CACHE / "go" / "src" / f"wandb-operator-{version}"
        if not (src / "go.mod").exists():
            # GNU tar refuses members outside the target (absolute or `..`
            # names) on every Python (Debian 12's tarfile has no extraction
            # filters); unpacked beside the target, then moved in one step.
            src.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(src, ignore_errors=True)
            with tempfile.TemporaryDirectory(dir=src.parent) as tmp:
                lab.run(["tar", "-xzf", str(tarball), "-C", tmp, "--no-same-owner", "--no-same-permissions"])
                (Path(tmp) / src.name).rename(src)
        k8s.go(env, "build", "-o", str(out / "manager"), "./cmd/main.go", cwd=src, timed="wandb operator")

    return k8s.go_build("wandb-operator", version, build)


def build() -> dict[str, str]:
    """Every image of `wandb_images:`, built here: {name: local reference}. The lab's bundle
    carries them (lab.build_bundle) and its mirror's registry serves them."""
    images = lab.lab_recipes().get("wandb_images") or {}
    base = lab.build_image("bookworm")
    refs = {}
    for name, image in images.items():
        files = []
        if image.get("source"):
            tarball = lab.artifacts_dir() / image["source"]
            files = [build_operator(str(image["version"]), tarball) / "manager"]
        refs[name] = k8s.build_container_image(
            f"{image['repository']}:{image['version']}",
            k8s.IMAGE_SOURCES / name / "Containerfile",
            files,
            {"BASE": base, "DEBIAN_MIRROR": lab.DEBIAN_MIRROR},
        )[0]
    return refs
