"""The import graph reads packages -> float-pipeline -> apps -> tools, every arrow one way.

- The six model packages under `packages/` never import (nor depend on) another float package, float-pipeline
  and the apps included: each installs and works alone.
- float-pipeline is the one package that composes them (as diffusers' pipelines compose models and
  schedulers): it may import the six packages, lists each one it imports, and never imports an app or a tool.
- Apps (`apps/`) import packages and float-pipeline, never another app; tools (`tools/`) never import an app.
  Both use only public faces: a package's top-level `__init__` names (plus the documented public module
  `float_pipeline.testing`), never `from float_x.submodule import ...`.

These tests read the source and the pyproject of every member (not just what imports at run time); slow
tests install each package alone (float-pipeline with the packages it composes) into a fresh virtual
environment, import it and, for float-pipeline, run its README example there.
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
APPS_DIR = ROOT / "apps"
TOOLS_DIR = ROOT / "tools"
EXPECTED_PACKAGES = {
    "float-motion-ae": "float_motion_ae",
    "float-flow": "float_flow",
    "float-audio": "float_audio",
    "float-emotion": "float_emotion",
    "float-data": "float_data",
    "float-eval": "float_eval",
}
PIPELINE_DIST, PIPELINE = "float-pipeline", "float_pipeline"
# The model packages float-pipeline composes (float-eval scores videos; nothing generates through it).
COMPOSED_PACKAGES = ("float-motion-ae", "float-flow", "float-audio", "float-emotion", "float-data")
APPS = {
    "float-generate": "float_generate",
    "float-train": "float_train",
    "float-demo": "float_demo",
    "float-evaluate": "float_evaluate",
}
TOOL_MODULES = {"float_tools"}  # tools/pyproject.toml's wheel package
# Modules of a package that are public besides its ``__init__`` (documented as such in its README).
# Documented public subpackages (each has its own ``__init__`` face and a section in the package's docs).
PUBLIC_SUBMODULES = {
    "float_pipeline.testing",
    "float_motion_ae.training",
    "float_motion_ae.renderers",
    "float_eval.metrics",
    "float_eval.nets",
    "float_eval.ops",
}
# Known exceptions to "tools use public faces only", each with its reason: the decoder and training-step
# benchmarks time float-motion-ae's decoder layers and kernels one by one, below any public face.
INTERNAL_IMPORTS_ALLOWED = {
    ("tools/float_tools/bench/decoder.py", "float_motion_ae.decoder"),
    ("tools/float_tools/bench/train_step.py", "float_motion_ae.layers"),
}
PACKAGE_IMPORT_NAMES = set(EXPECTED_PACKAGES.values()) | {PIPELINE}
APP_IMPORT_NAMES = set(APPS.values())
FLOAT_IMPORT_NAMES = PACKAGE_IMPORT_NAMES | APP_IMPORT_NAMES
FLOAT_DIST_NAMES = set(EXPECTED_PACKAGES) | {PIPELINE_DIST} | set(APPS) | {"float-kit", "float-tools"}


def _normalise_dist(requirement: str) -> str:
    """Distribution name of a PEP 508 requirement string, normalised (``Float_Flow>=1`` -> ``float-flow``)."""
    name = re.split(r"[\s<>=!~;\[(@]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules(source: str) -> list[str]:
    """Every absolute module a Python source text imports (dotted, in order), lazy imports included."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    # importlib.import_module("x.y") / __import__("x") spelled as string literals
    found.extend(re.findall(r"""(?:import_module|__import__)\(\s*['"]([A-Za-z_][\w.]*)""", source))
    return found


def sibling_imports(source: str, own_import_name: str) -> list[str]:
    """Float packages and apps other than ``own_import_name`` imported by a Python source text."""
    return [
        name
        for name in imported_modules(source)
        if name.split(".")[0] in FLOAT_IMPORT_NAMES and name.split(".")[0] != own_import_name
    ]


def private_imports(source: str, own_import_name: str) -> list[str]:
    """Submodules of float packages (not their public faces) imported by a source of ``own_import_name``."""
    return [
        name
        for name in imported_modules(source)
        if name.split(".")[0] in PACKAGE_IMPORT_NAMES
        and name.split(".")[0] != own_import_name
        and "." in name
        and name not in PUBLIC_SUBMODULES
    ]


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)


def sibling_dependencies(pyproject: dict, own_dist_name: str) -> list[str]:
    """Float distributions other than itself listed anywhere in a member's dependency tables."""
    project = pyproject.get("project", {})
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    for group in pyproject.get("dependency-groups", {}).values():
        requirements.extend(item for item in group if isinstance(item, str))
    sources = pyproject.get("tool", {}).get("uv", {}).get("sources", {})
    names = [_normalise_dist(r) for r in requirements] + [_normalise_dist(s) for s in sources]
    return sorted({n for n in names if n in FLOAT_DIST_NAMES and n != own_dist_name})


def test_all_packages_exist_with_src_layout_and_py_typed() -> None:
    present = {p.name for p in PACKAGES_DIR.iterdir() if (p / "pyproject.toml").is_file()}
    assert present == set(EXPECTED_PACKAGES) | {PIPELINE_DIST}
    for dist, module in [*EXPECTED_PACKAGES.items(), (PIPELINE_DIST, PIPELINE)]:
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


def test_pipeline_composes_only_the_packages_it_lists() -> None:
    """float-pipeline imports model packages (each listed in its pyproject), never an app or a tool."""
    imported: set[str] = set()
    offenders: list[str] = []
    for path in _sources(PACKAGES_DIR / PIPELINE_DIST):
        for name in imported_modules(path.read_text(encoding="utf-8")):
            top = name.split(".")[0]
            if top in APP_IMPORT_NAMES or top in TOOL_MODULES:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
            if top in EXPECTED_PACKAGES.values():
                imported.add(top)
    assert not offenders, "float-pipeline must not import apps or tools:\n" + "\n".join(offenders)
    pyproject = tomllib.loads((PACKAGES_DIR / PIPELINE_DIST / "pyproject.toml").read_text())
    listed = set(sibling_dependencies(pyproject, PIPELINE_DIST))
    assert listed <= set(EXPECTED_PACKAGES), f"float-pipeline may depend on packages only, lists {listed}"
    by_module = {module: dist for dist, module in EXPECTED_PACKAGES.items()}
    assert {by_module[m] for m in imported} <= listed, "float-pipeline imports a package it does not list"
    assert set(COMPOSED_PACKAGES) <= {by_module[m] for m in imported}


@pytest.mark.parametrize("dist", sorted(APPS))
def test_app_imports_no_other_app_and_only_public_faces(dist: str) -> None:
    own = APPS[dist]
    offenders: list[str] = []
    for path in _sources(APPS_DIR / dist):
        source = path.read_text(encoding="utf-8")
        for name in imported_modules(source):
            top = name.split(".")[0]
            if top in APP_IMPORT_NAMES and top != own:
                offenders.append(f"{path.relative_to(ROOT)} imports the app {name}")
            # An app's tests may build media with a tool (float-train's use tools/float_tools/corpus); its
            # code never.
            if top in TOOL_MODULES and "tests" not in path.relative_to(APPS_DIR / dist).parts:
                offenders.append(f"{path.relative_to(ROOT)} imports the tool {name}")
        offenders.extend(
            f"{path.relative_to(ROOT)} imports {n} (not a public face)" for n in private_imports(source, own)
        )
    assert not offenders, "apps import packages' public faces, never another app:\n" + "\n".join(offenders)
    pyproject = tomllib.loads((APPS_DIR / dist / "pyproject.toml").read_text())
    other_apps = set(sibling_dependencies(pyproject, dist)) & set(APPS)
    assert not other_apps, f"{dist} depends on the app(s) {other_apps}"


def test_tools_import_no_app_and_only_public_faces() -> None:
    offenders: list[str] = []
    for path in _sources(TOOLS_DIR):
        source = path.read_text(encoding="utf-8")
        relative = path.relative_to(ROOT).as_posix()
        for name in imported_modules(source):
            if name.split(".")[0] in APP_IMPORT_NAMES:
                offenders.append(f"{relative} imports the app {name}")
        for name in private_imports(source, ""):
            if (relative, name) not in INTERNAL_IMPORTS_ALLOWED:
                offenders.append(f"{relative} imports {name} (not a public face)")
    assert not offenders, "tools import packages' public faces, never an app:\n" + "\n".join(offenders)
    pyproject = tomllib.loads((TOOLS_DIR / "pyproject.toml").read_text())
    assert not set(sibling_dependencies(pyproject, "float-tools")) & set(APPS)


def test_allowed_internal_imports_are_still_needed() -> None:
    """An exception that no longer matches any import must leave the list (it would hide a regression)."""
    for relative, module in sorted(INTERNAL_IMPORTS_ALLOWED):
        assert module in imported_modules((ROOT / relative).read_text(encoding="utf-8")), (relative, module)


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
    assert sibling_imports("from float_pipeline import Pipeline\nimport float_generate", "float_data") == [
        "float_pipeline",
        "float_generate",
    ]
    assert private_imports(source, "float_motion_ae") == ["float_flow.sampler", "float_eval.fid"]
    public = "from float_pipeline import Pipeline\nfrom float_pipeline.testing import build_random_bundle\n"
    assert private_imports(public + "from float_pipeline.portrait import face_box\n", "float_demo") == [
        "float_pipeline.portrait"
    ]
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


def _fresh_venv(tmp_path: Path, *projects: Path) -> tuple[Path, set[str]]:
    """A new venv with only ``projects`` (and their third-party dependencies) installed: (python, dists)."""
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
            *(str(project) for project in projects),
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
    return python, {_normalise_dist(line) for line in listed.splitlines() if line.strip()}


README_EXAMPLE_NEEDS = {"float-data": (f"{PACKAGES_DIR / 'float-data'}[datasets]", "scikit-image")}


def _install(python: Path, tmp_path: Path, *requirements: str) -> None:
    """``uv pip install`` into an existing fresh venv, pinned to the lock like :func:`_fresh_venv`."""
    uv = _uv_binary()
    assert uv is not None
    constraints = tmp_path / "constraints.txt"
    install = subprocess.run(
        [
            *(uv, "pip", "install", "--quiet", "--python", str(python), "--link-mode", "symlink"),
            *("--constraint", str(constraints), *requirements),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr


def _loaded_modules(python: Path, code: str, cwd: Path) -> set[str]:
    """Top-level modules loaded after running ``code`` in ``python`` (which must succeed)."""
    probe = subprocess.run(
        [str(python), "-c", code + "\nimport sys; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    assert probe.returncode == 0, probe.stderr
    loaded = probe.stdout.splitlines()[-1].strip("[]").replace("'", "").split(", ")
    return {name.split(".")[0] for name in loaded}


@pytest.mark.slow
@pytest.mark.parametrize("dist", sorted(EXPECTED_PACKAGES))
def test_package_installs_and_imports_alone(dist: str, tmp_path: Path) -> None:
    """`uv pip install packages/<dist>` into an empty venv pulls in no other float package, imports, and its
    README's first example runs there."""
    python, installed = _fresh_venv(tmp_path, PACKAGES_DIR / dist)
    assert dist in installed
    assert installed & FLOAT_DIST_NAMES == {dist}, f"{dist} pulled in {installed & FLOAT_DIST_NAMES}"
    module = EXPECTED_PACKAGES[dist]
    assert _loaded_modules(python, f"import {module}", tmp_path) & FLOAT_IMPORT_NAMES == {module}
    # The README's first example runs there too, with what its install line names (float-data's example
    # prepares a dataset from an astronaut crop: the [datasets] extra and scikit-image).
    extra = README_EXAMPLE_NEEDS.get(dist)
    if extra:
        _install(python, tmp_path, *extra)
    readme = (PACKAGES_DIR / dist / "README.md").read_text()
    example = re.findall(r"```python\n(.*?)```", readme, flags=re.S)[0]
    run = subprocess.run([str(python), "-c", example], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Failed to initialize NumPy" not in run.stderr  # a dependency torch needs, declared


@pytest.mark.slow
def test_pipeline_installs_with_what_it_composes_and_its_readme_runs(tmp_path: Path) -> None:
    """float-pipeline + the packages it composes, alone in a fresh venv: no app, no float-eval, no dataset
    stack (a portrait crop needs float-data's core only); it imports and its README example runs there."""
    projects = [PACKAGES_DIR / PIPELINE_DIST, *(PACKAGES_DIR / dist for dist in COMPOSED_PACKAGES)]
    python, installed = _fresh_venv(tmp_path, *projects)
    assert installed & FLOAT_DIST_NAMES == {PIPELINE_DIST, *COMPOSED_PACKAGES}
    assert not installed & {"datasets", "pyarrow", "face-alignment", "face-recognition-models"}
    portrait = ROOT / "tests" / "fixtures" / "portrait.png"
    crop = f"import float_pipeline\nfloat_pipeline.prepare_portrait({str(portrait)!r}, 64)"
    loaded = _loaded_modules(python, crop, tmp_path)
    assert loaded & FLOAT_IMPORT_NAMES == {PIPELINE, *(EXPECTED_PACKAGES[d] for d in COMPOSED_PACKAGES)}
    readme = (PACKAGES_DIR / PIPELINE_DIST / "README.md").read_text()
    example = re.findall(r"```python\n(.*?)```", readme, flags=re.S)[0]
    run = subprocess.run([str(python), "-c", example], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "50 (48, 64, 3) 50 (32, 32)"
