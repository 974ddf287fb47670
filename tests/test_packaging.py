"""The install is the same every time, and the wheel carries all harvest needs (docs/install.md).

The wheel is built for real with `pip wheel --no-deps` from a copy of the project in a
temporary folder (so no build/ or .egg-info lands in the work tree), without build
isolation so that no network is needed: the dev extra brings setuptools.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "harvest", src / "harvest", ignore=SKIP)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--quiet", "--wheel-dir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [path] = out.glob("*.whl")
    assert path.name.startswith("harvest_charity-")
    return zipfile.ZipFile(path)


def dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    [member] = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(member).decode("utf-8")


def test_the_wheel_holds_every_file_of_the_package_and_py_typed(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "harvest/py.typed" in names
    source = ROOT / "harvest"
    files = [p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    wanted = {p.relative_to(ROOT).as_posix() for p in files if not p.name.startswith(".")}
    assert {n for n in wanted if not n.endswith(".py")}  # the yaml, json, csv and templates
    missing = sorted(wanted - names)
    assert not missing, f"add to [tool.setuptools.package-data]: {missing}"


def test_the_wheel_is_named_harvest_charity_with_its_licence_and_classifiers(
    wheel: zipfile.ZipFile,
) -> None:
    metadata = Parser().parsestr(dist_info(wheel, "METADATA"))
    assert metadata["Name"] == "harvest-charity"
    assert metadata["License-Expression"] == "Apache-2.0"
    assert "Typing :: Typed" in metadata.get_all("Classifier")
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel.namelist())
    assert "pandas" in metadata.get_all("Provides-Extra")


def test_the_wheel_installs_the_harvest_command(wheel: zipfile.ZipFile) -> None:
    scripts = dist_info(wheel, "entry_points.txt").split("[console_scripts]")[1]
    target = re.search(r"^harvest = ([\w.]+):(\w+)$", scripts, re.M)
    assert target, scripts
    assert callable(getattr(importlib.import_module(target[1]), target[2]))


# harvest.testing (the connector contract, for outside connectors' own tests) needs pytest,
# which only its extra brings: checked on its own, and left out of the runtime's check.
OWN_EXTRA = {"harvest/testing": ["testing"]}


def imported_packages(folder: Path) -> set[str]:
    """Top-level names of the modules a folder imports, but its own and the standard library's."""
    names: set[str] = set()
    skip = [ROOT / f for f in OWN_EXTRA if ROOT / f != folder]
    for path in folder.rglob("*.py"):
        if any(path.is_relative_to(s) for s in skip):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    # tests import conftest, fakes, test_forget… and bench/'s generators from sys.path
    local = {p.stem for where in (folder, ROOT / "bench") for p in where.iterdir()}
    return names - set(sys.stdlib_module_names) - local - {"harvest"}


def declared(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


@pytest.mark.parametrize(
    ("folder", "extras"),
    [("harvest", []), *OWN_EXTRA.items(), ("tests", ["dev"])],
    ids=["harvest", *OWN_EXTRA, "tests"],
)
def test_every_package_that_is_imported_is_a_declared_dependency(
    folder: str, extras: list[str]
) -> None:
    owners = importlib.metadata.packages_distributions()
    optional = PROJECT["optional-dependencies"]
    deps = declared([*PROJECT["dependencies"], *(r for e in extras for r in optional[e])])
    undeclared = {
        module: owners.get(module)
        for module in imported_packages(ROOT / folder)
        if not {canonicalize_name(d) for d in owners.get(module, [module])} & deps
    }
    assert not undeclared, (
        f"{folder}/ imports these, but pyproject.toml does not declare them: {undeclared}"
    )


def constraints() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    assert all(len(pin) == 2 for pin in pins), "constraints.txt holds only name==version lines"
    return {canonicalize_name(name): version for name, version in pins}


def test_constraints_pin_every_dependency_within_its_declared_range() -> None:
    pins = constraints()
    extras = PYPROJECT["project"]["optional-dependencies"]
    for line in [*PROJECT["dependencies"], *extras["dev"], *extras["pandas"]]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in constraints.txt: run `make constraints`"
        assert requirement.specifier.contains(pins[name]), (
            f"constraints.txt pins {name}=={pins[name]}, outside {requirement}: "
            "run `make constraints`"
        )


def test_ruff_and_mypy_are_pinned_exactly() -> None:
    dev = {
        canonicalize_name(Requirement(r).name): Requirement(r)
        for r in PROJECT["optional-dependencies"]["dev"]
    }
    for tool in ("ruff", "mypy"):
        [spec] = list(dev[tool].specifier)
        assert spec.operator == "==", f"{tool} must be pinned exactly, not {spec}"


def test_make_setup_and_ci_install_from_the_constraints_file() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("$(VENV)/.installed:")[1].split("\n\n")[0]
    installs = [line for line in recipe.splitlines() if "pip install" in line]
    assert installs and all("PIP_CONSTRAINT=$(CURDIR)/constraints.txt" in line for line in installs)
    assert "constraints.txt" in recipe.splitlines()[0]  # a new constraints file reinstalls
    assert re.search(r"^test: setup\b", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
