"""Paths to the operator binary and tools for the manifest tests."""

import os
import shutil

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def tool(env, default):
    path = os.environ.get(env) or default
    if not (path and os.path.exists(path)):
        pytest.fail(f"{path} not found: run scripts/install-test-deps (or set {env})")
    return path


@pytest.fixture(scope="session")
def operator_bin():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return tool("SHOAL_OPERATOR_BIN", os.path.join(target, "debug", "shoal-operator"))


@pytest.fixture(scope="session")
def helm():
    return tool("SHOAL_HELM", os.path.join(ROOT, ".tools", "bin", "helm"))


@pytest.fixture(scope="session")
def validate():
    return tool("SHOAL_KUBERNETES_VALIDATE", shutil.which("kubernetes-validate") or os.path.join(ROOT, ".venv", "bin", "kubernetes-validate"))
