# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure helpers for Helm values and rendered Kubernetes manifests (images)."""

from __future__ import annotations

import yaml

# Where a pod template sits in each workload kind.
_POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def unflatten(flat: dict) -> dict:
    """{'a.b': 1, 'a.c': 2} -> {'a': {'b': 1, 'c': 2}}; a clash is an error."""
    out: dict = {}
    for path, value in flat.items():
        keys = str(path).split(".")
        if not all(keys):
            raise ValueError(f"empty key in values path {path!r}")
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"values path {path!r} runs through a value")
        if keys[-1] in node:
            raise ValueError(f"values path {path!r} is given twice")
        node[keys[-1]] = value
    return out


def _pinned(images: dict, registry: str) -> dict:
    """{values path: {repository, tag[, digest]}} with each repository under the registry."""
    prefix = registry.rstrip("/")
    if not prefix:
        raise ValueError("no registry given to pin the images to")
    flat = {}
    for path, image in images.items():
        if not isinstance(image, dict) or not image.get("repository") or not str(image.get("tag", "")):
            raise ValueError(f"image {path!r} needs a repository and a tag, got {image!r}")
        if str(image["tag"]) == "latest":
            raise ValueError(f"image {path!r}: 'latest' is no pin; give the release's tag")
        value = {"repository": f"{prefix}/{str(image['repository']).lstrip('/')}", "tag": str(image["tag"])}
        if image.get("digest"):
            value["digest"] = str(image["digest"])
        flat[path] = value
    return flat


def image_values(images: dict, registry: str, digest_after_tag: bool = False) -> dict:
    """Helm values that pin each image to the registry.

    images maps a values path (``app.image``) to ``{repository, tag}`` with the
    repository relative to the registry; ``digest`` is kept when given, or with
    DIGEST_AFTER_TAG written after the tag (``tag: 1.0@sha256:...``) for charts
    that drop the tag when ``image.digest`` is set (W&B's).
    """
    flat = _pinned(images, registry)
    if digest_after_tag:
        for value in flat.values():
            if "digest" in value:
                value["tag"] = f"{value['tag']}@{value.pop('digest')}"
    return unflatten(flat)


def image_refs(images: dict, registry: str) -> list[str]:
    """What a runtime pulls for the images of image_values(): ``registry/repository:tag[@digest]``,
    sorted, each once."""
    return sorted(
        {
            f"{v['repository']}:{v['tag']}" + (f"@{v['digest']}" if "digest" in v else "")
            for v in _pinned(images, registry).values()
        }
    )


def _dig(obj, path):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _is_test_hook(doc: dict) -> bool:
    hooks = str(_dig(doc, ("metadata", "annotations", "helm.sh/hook")) or "")
    return any(hook.strip() in ("test", "test-success") for hook in hooks.split(","))


def manifest_images(documents, tests: bool = False) -> list[dict]:
    """Every container image of the rendered documents, with where it is used.

    DOCUMENTS is a list of parsed manifests or the YAML text of a stream of them
    (helm template's output). Returns ``[{image, kind, name, container}]`` sorted
    by image, one entry per container; documents that are not workloads (or
    empty ones) are skipped, and so are Helm test hooks (only ``helm test``
    creates them) unless TESTS.
    """
    if isinstance(documents, str):
        documents = list(yaml.safe_load_all(documents))
    found = []
    for doc in documents or []:
        if not isinstance(doc, dict):
            continue
        kind = doc.get("kind")
        if kind == "List":
            found.extend(manifest_images(doc.get("items"), tests))
            continue
        if not tests and _is_test_hook(doc):
            continue
        spec = _dig(doc, _POD_SPEC_PATHS.get(kind, ("-",)))
        if not isinstance(spec, dict):
            continue
        name = _dig(doc, ("metadata", "name")) or ""
        for field in _CONTAINER_LISTS:
            for container in spec.get(field) or []:
                found.append(
                    {
                        "image": str(container.get("image", "")),
                        "kind": kind,
                        "name": name,
                        "container": container.get("name", ""),
                    }
                )
    return sorted(found, key=lambda item: (item["image"], item["kind"], item["name"], item["container"]))


def images_outside(images: list[dict], registry: str) -> list[dict]:
    """The entries of manifest_images() whose image is not pulled from the registry."""
    prefix = registry.rstrip("/") + "/"
    return [item for item in images if not item["image"].startswith(prefix)]
