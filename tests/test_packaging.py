"""What the PaaS buildpacks read agrees with the project: pinned requirements, Python version, Procfile."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.version import Version

from .conftest import REPO


def pins() -> dict[str, str]:
    found = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            found[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return found


def test_every_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = pins()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pinned, f"{name} missing from requirements.txt (run `make requirements`)"
        assert Version(pinned[name]) in requirement.specifier, f"{name}=={pinned[name]} outside {requirement.specifier}"
    assert (REPO / "requirements.txt").read_text().rstrip().endswith("\n.")  # then the project itself


def test_python_version_and_procfile() -> None:
    version = (REPO / ".python-version").read_text().strip()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert Version(version + ".0") >= Version("3.11") and "3.11" in version
    assert project["requires-python"].startswith(">=3.11")
    assert (REPO / "Procfile").read_text().strip() == "worker: cantines worker"
