# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible_collections.onprem.wandb.plugins.plugin_utils.manifests import (
    image_refs,
    image_values,
    images_outside,
    manifest_images,
    unflatten,
)


@pytest.mark.parametrize(
    "flat, nested",
    [
        ({}, {}),
        ({"a": 1}, {"a": 1}),
        ({"a.b": 1, "a.c": 2}, {"a": {"b": 1, "c": 2}}),
        ({"x.y.z": {"k": "v"}, "x.w": []}, {"x": {"y": {"z": {"k": "v"}}, "w": []}}),
    ],
)
def test_unflatten(flat, nested):
    assert unflatten(flat) == nested


@pytest.mark.parametrize(
    "flat, message",
    [
        ({"a": 1, "a.b": 2}, "runs through a value"),
        ({"a..b": 1}, "empty key"),
    ],
)
def test_unflatten_refuses(flat, message):
    with pytest.raises(ValueError, match=message):
        unflatten(flat)


def test_image_values_pins_to_the_registry():
    got = image_values(
        {
            "app.image": {"repository": "wandb/local", "tag": "0.82.2"},
            "otel.image": {"repository": "/otel/collector", "tag": 0.1, "digest": "sha256:ab"},
        },
        "reg.example:5000/",
    )
    assert got == {
        "app": {"image": {"repository": "reg.example:5000/wandb/local", "tag": "0.82.2"}},
        "otel": {"image": {"repository": "reg.example:5000/otel/collector", "tag": "0.1", "digest": "sha256:ab"}},
    }


def test_image_values_can_write_the_digest_after_the_tag():
    images = {
        "app.image": {"repository": "wandb/local", "tag": "0.82.2", "digest": "sha256:ab"},
        "weave.image": {"repository": "wandb/weave-python", "tag": "0.82.2", "digest": ""},
    }
    got = image_values(images, "reg:5000", digest_after_tag=True)
    assert got == {
        "app": {"image": {"repository": "reg:5000/wandb/local", "tag": "0.82.2@sha256:ab"}},
        "weave": {"image": {"repository": "reg:5000/wandb/weave-python", "tag": "0.82.2"}},
    }
    # What the chart then renders is what image_refs lists.
    rendered = {f"{v['image']['repository']}:{v['image']['tag']}" for v in got.values()}
    assert rendered == set(image_refs(images, "reg:5000"))


def test_image_refs_are_what_the_runtime_pulls():
    images = {
        "image": {"repository": "jetstack/cert-manager-controller", "tag": "v1.21.1", "digest": "sha256:ab"},
        "webhook.image": {"repository": "jetstack/cert-manager-webhook", "tag": "v1.21.1", "digest": ""},
        "again.image": {"repository": "jetstack/cert-manager-webhook", "tag": "v1.21.1"},
    }
    assert image_refs(images, "reg:5000") == [
        "reg:5000/jetstack/cert-manager-controller:v1.21.1@sha256:ab",
        "reg:5000/jetstack/cert-manager-webhook:v1.21.1",
    ]


@pytest.mark.parametrize(
    "images, registry, message",
    [
        ({"app.image": {"repository": "wandb/local", "tag": "latest"}}, "r:5000", "latest"),
        ({"app.image": {"repository": "wandb/local"}}, "r:5000", "needs a repository and a tag"),
        ({"app.image": "wandb/local:1"}, "r:5000", "needs a repository and a tag"),
        ({"app.image": {"repository": "wandb/local", "tag": "1"}}, "", "no registry"),
    ],
)
def test_image_values_refuses(images, registry, message):
    with pytest.raises(ValueError, match=message):
        image_values(images, registry)


def _pod(containers, init=()):
    return {
        "containers": [{"name": n, "image": i} for n, i in containers],
        "initContainers": [{"name": n, "image": i} for n, i in init],
    }


def test_manifest_images_reads_every_workload_kind():
    docs = [
        None,
        {"kind": "Service", "metadata": {"name": "svc"}, "spec": {"ports": []}},
        {
            "kind": "Deployment",
            "metadata": {"name": "app"},
            "spec": {"template": {"spec": _pod([("app", "r/a:1")], [("init", "r/i:1")])}},
        },
        {"kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {"template": {"spec": _pod([("db", "r/d:1")])}}},
        {"kind": "DaemonSet", "metadata": {"name": "ds"}, "spec": {"template": {"spec": _pod([("agent", "x/o:1")])}}},
        {"kind": "Job", "metadata": {"name": "job"}, "spec": {"template": {"spec": _pod([("hook", "alpine/k8s:1")])}}},
        {
            "kind": "CronJob",
            "metadata": {"name": "cj"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": _pod([("c", "r/c:1")])}}}},
        },
        {"kind": "Pod", "metadata": {"name": "test"}, "spec": _pod([("t", "busybox")])},
        {"kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "p2"}, "spec": _pod([("t", "r/p:2")])}]},
    ]
    got = manifest_images(docs)
    assert [g["image"] for g in got] == sorted(
        ["r/a:1", "r/i:1", "r/d:1", "x/o:1", "alpine/k8s:1", "r/c:1", "busybox", "r/p:2"]
    )
    assert {"image": "r/i:1", "kind": "Deployment", "name": "app", "container": "init"} in got


def test_manifest_images_skips_helm_test_hooks():
    test_pod = {
        "kind": "Pod",
        "metadata": {"name": "t", "annotations": {"helm.sh/hook": "test"}},
        "spec": _pod([("t", "python:3.12")]),
    }
    upgrade_job = {
        "kind": "Job",
        "metadata": {"name": "j", "annotations": {"helm.sh/hook": "pre-upgrade,post-upgrade"}},
        "spec": {"template": {"spec": _pod([("j", "alpine/k8s:1")])}},
    }
    assert [i["image"] for i in manifest_images([test_pod, upgrade_job])] == ["alpine/k8s:1"]
    assert [i["image"] for i in manifest_images([test_pod, upgrade_job], tests=True)] == ["alpine/k8s:1", "python:3.12"]


def test_manifest_images_reads_yaml_text():
    text = """---
kind: Deployment
metadata: {name: app, labels: {a: 1, a: 2}}
spec: {template: {spec: {containers: [{name: app, image: "r/a:1"}]}}}
---
# Source: an empty document
---
kind: Service
metadata: {name: app}
"""
    assert manifest_images(text) == [{"image": "r/a:1", "kind": "Deployment", "name": "app", "container": "app"}]


def test_images_outside_the_registry():
    images = [
        {"image": i, "kind": "Pod", "name": "p", "container": "c"}
        for i in ["reg:5000/wandb/local:1", "reg:50000/x:1", "wandb/local:1", "reg:5000"]
    ]
    assert [i["image"] for i in images_outside(images, "reg:5000/")] == ["reg:50000/x:1", "wandb/local:1", "reg:5000"]
