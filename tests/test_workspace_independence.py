"""The package boundary rule: packages never import a sibling float package nor depend on one.

Apps (`apps/`) and tools (`tools/`) may compose packages; the six packages under `packages/` must each install
and work alone. These tests read the source and the pyproject of every package (not just what imports at run
time), and a slow test installs each package alone into a fresh virtual environment and imports it.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES_DIR = ROOT / "packages"
EXPECTED_PACKAGES = {
    "float-motion-ae": "float_motion_ae",
    "float-flow": "float_flow",
    "float-audio": "float_audio",
    "float-emotion": "float_emotion",
    "float-data": "float_data",
    "float-eval": "float_eval",
}
FLOAT_IMPORT_NAMES = set(EXPECTED_PACKAGES.values())
FLOAT_DIST_NAMES = set(EXPECTED_PACKAGES) | {"float-kit", "float-tools"}


def _normalise_dist(requirement: str) -> str:
    """Distribution name of a PEP 508 requirement string, normalised (``Float_Flow>=1`` -> ``float-flow``)."""
    name = re.split(r"[\s<>=!~;\[(@]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def sibling_imports(source: str, own_import_name: str) -> list[str]:
    """Float packages other than ``own_import_name`` imported by a Python source text (absolute imports)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in FLOAT_IMPORT_NAMES and top != own_import_name:
                found.append(name)
    # importlib.import_module("float_x") / __import__("float_x") spelled as string literals
    for match in re.finditer(r"""(?:import_module|__import__)\(\s*['"](float_[a-z_][a-z_.]*)""", source):
        top = match.group(1).split(".")[0]
        if top in FLOAT_IMPORT_NAMES and top != own_import_name:
            found.append(match.group(1))
    return found


def sibling_dependencies(pyproject: dict, own_dist_name: str) -> list[str]:
    """Float distributions other than itself listed anywhere in a package's dependency tables."""
    project = pyproject.get("project", {})
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    for group in pyproject.get("dependency-groups", {}).values():
        requirements.extend(item for item in group if isinstance(item, str))
    sources = pyproject.get("tool", {}).get("uv", {}).get("sources", {})
    names = [_normalise_dist(r) for r in requirements] + [_normalise_dist(s) for s in sources]
    return sorted({n for n in names if n in FLOAT_DIST_NAMES and n != own_dist_name})


def test_all_six_packages_exist_with_src_layout_and_py_typed() -> None:
    present = {p.name for p in PACKAGES_DIR.iterdir() if (p / "pyproject.toml").is_file()}
    assert present == set(EXPECTED_PACKAGES)
    for dist, module in EXPECTED_PACKAGES.items():
        package_dir = PACKAGES_DIR / dist
        pyproject = tomllib.loads((package_dir / "pyproject.toml").read_text())
        assert pyproject["project"]["name"] == dist
        assert "build-system" in pyproject, f"{dist}: needs a [build-system]"
        assert (package_dir / "src" / module / "__init__.py").is_file(), f"{dist}: src/{module}/__init__.py"
        assert (package_dir / "src" / module / "py.typed").is_file(), f"{dist}: src/{module}/py.typed"
        assert (package_dir / "README.md").is_file(), f"{dist}: README.md"
        assert any((package_dir / "tests").glob("test_*.py")), f"{dist}: has no tests"


@pytest.mark.parametrize("dist", sorted(EXPECTED_PACKAGES))
def test_package_source_imports_no_sibling_float_package(dist: str) -> None:
    module = EXPECTED_PACKAGES[dist]
    offenders: list[str] = []
    for path in sorted((PACKAGES_DIR / dist).rglob("*.py")):
        for name in sibling_imports(path.read_text(encoding="utf-8"), module):
            offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, "packages must not import sibling float packages:\n" + "\n".join(offenders)


@pytest.mark.parametrize("dist", sorted(EXPECTED_PACKAGES))
def test_package_pyproject_lists_no_sibling_float_package(dist: str) -> None:
    pyproject = tomllib.loads((PACKAGES_DIR / dist / "pyproject.toml").read_text())
    assert sibling_dependencies(pyproject, dist) == []


def test_checkers_catch_violations() -> None:
    """The rule checkers themselves flag every spelling of a sibling dependency (and nothing else)."""
    source = (
        "import os\n"
        "import float_flow.sampler as s\n"
        "from float_audio import load_audio\n"
        "from . import helpers\n"
        "from float_motion_ae.model import MotionAutoEncoder\n"
        "mod = importlib.import_module('float_eval.fid')\n"
    )
    expected = ["float_flow.sampler", "float_audio", "float_eval.fid"]
    assert sibling_imports(source, "float_motion_ae") == expected
    pyproject = {
        "project": {
            "dependencies": ["torch>=2", "Float_Flow>=0.1", "float-motion-ae"],
            "optional-dependencies": {"x": ["float.eval ; python_version>'3'"]},
        },
        "dependency-groups": {"dev": ["pytest", "float-data"]},
        "tool": {"uv": {"sources": {"float-audio": {"workspace": True}}}},
    }
    assert sibling_dependencies(pyproject, "float-motion-ae") == [
        "float-audio",
        "float-data",
        "float-eval",
        "float-flow",
    ]


def _uv_binary() -> str | None:
    return os.environ.get("UV") or shutil.which("uv")


@pytest.mark.slow
@pytest.mark.parametrize("dist", sorted(EXPECTED_PACKAGES))
def test_package_installs_and_imports_alone(dist: str, tmp_path: Path) -> None:
    """`uv pip install packages/<dist>` into an empty venv pulls in no other float package and imports."""
    uv = _uv_binary()
    if uv is None:
        pytest.skip("uv is not on PATH")
    # Pin third-party versions to the lock so the isolated install reuses uv's cache (no 3 GB re-download).
    constraints = tmp_path / "constraints.txt"
    exported = subprocess.run(
        [uv, "export", "--frozen", "--no-hashes", "--no-emit-workspace", "--no-header", "--all-groups"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    constraints.write_text(exported)
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            "--link-mode",
            "symlink",
            "--constraint",
            str(constraints),
            str(PACKAGES_DIR / dist),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    listed = subprocess.run(
        [uv, "pip", "list", "--python", str(python), "--format", "freeze"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    installed = {_normalise_dist(line) for line in listed.splitlines() if line.strip()}
    assert dist in installed
    assert installed & FLOAT_DIST_NAMES == {dist}, f"{dist} pulled in {installed & FLOAT_DIST_NAMES}"
    module = EXPECTED_PACKAGES[dist]
    probe = subprocess.run(
        [str(python), "-c", f"import {module}, sys; print({module}.__name__); print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert probe.returncode == 0, probe.stderr
    loaded = set(probe.stdout.splitlines()[1].strip("[]").replace("'", "").split(", "))
    assert loaded & FLOAT_IMPORT_NAMES == {module}
