"""The conda environments of `--sdm conda`, checked statically.

Conda channels cannot be reached from the machines this project is built on, so no environment is
created here. Instead this test reads every `envs/*.yaml` and every rule file and checks what an
environment build would need to get right:

- every package an env file and `requirements.txt` both name carries the same pin (`requirements.txt`
  is what `setup.sh` installs and the suite runs against), and every Python package comes from pip
  (the same wheels as `setup.sh`), not from a conda channel;
- no env file installs from a relative path (`-e ..`): Snakemake copies the file to
  `.snakemake/conda/<hash>.yaml` and conda runs pip there, so `..` would be `.snakemake/`; the package
  itself reaches the scripts through Snakemake's script preamble (the workflow directory is on their
  `sys.path`), which `test_script_rules_import_the_package_from_the_workflow_directory` runs;
- every rule's `conda:` env covers the third-party imports of its `script:` and of every `avemotion`
  module the script imports, directly or through other `avemotion` modules (walked with `ast`),
  where an env "covers" an import when the distribution that provides it is one it lists or one of
  theirs' dependencies (read from the installed packages' metadata, which are the same pinned
  versions).
"""
from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "avemotion"

# Import names whose distribution has another name, or whose installed metadata does not say
# (dlib-bin's RECORD lists dlib/ but importlib does not map it; pkg_resources is setuptools').
IMPORT_TO_DISTRIBUTION = {
    "cv2": "opencv-contrib-python",  # what mediapipe 0.10.21 pulls in; never also opencv-python
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "PyYAML",
    "av": "av",
    "dlib": "dlib-bin",
    "PIL": "pillow",
    "pkg_resources": "setuptools",
    "imageio_ffmpeg": "imageio-ffmpeg",
}
# Conda-level (non-pip) dependencies an env file may name: the interpreter, pip itself, and
# command-line tools the scripts run (not Python packages, so requirements.txt does not list them).
CONDA_LEVEL_ALLOWED = {"python", "pip", "espeak-ng", "sox"}
# Dependencies a distribution uses but does not declare (pyAudioAnalysis 0.3.14 declares none; its
# ShortTermFeatures imports these).
UNDECLARED_DEPENDENCIES = {"pyaudioanalysis": {"numpy", "scipy", "matplotlib", "tqdm"}}
# Every Python `script:` needs these whatever it imports: Snakemake's preamble unpickles the
# `snakemake` object (snakemake.script, snakemake.io) in the env's interpreter.
SCRIPT_PREAMBLE_DISTRIBUTIONS = {"snakemake"}


# --- parsing ---------------------------------------------------------------------------------------

def requirements_pins() -> dict[str, Requirement]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = requirement
    return pins


def env_files() -> list[Path]:
    return sorted((REPO / "envs").glob("*.yaml"))


def read_env(path: Path) -> tuple[list[str], list[str]]:
    """(conda-level dependencies, pip lines) of an env file."""
    spec = yaml.safe_load(path.read_text())
    conda, pip = [], []
    for dependency in spec.get("dependencies") or []:
        if isinstance(dependency, dict):
            assert set(dependency) == {"pip"}, f"{path.name}: unknown dependency block {dependency}"
            pip.extend(str(line).strip() for line in dependency["pip"])
        else:
            conda.append(str(dependency).strip())
    return conda, pip


def env_requirements(path: Path) -> dict[str, Requirement]:
    _, pip = read_env(path)
    return {canonicalize_name(Requirement(line).name): Requirement(line) for line in pip if not line.startswith("-")}


def conda_name(dependency: str) -> str:
    return re.split(r"[=<>! ]", dependency, maxsplit=1)[0].split("::")[-1].lower()


RULE_START = re.compile(r"^\s*(?:rule|checkpoint)\b[^:]*:")
DIRECTIVE = re.compile(r"^\s*(name|conda|script):\s*(.*)$")


def rule_blocks() -> list[dict]:
    """Every rule in rules/*.smk and the Snakefile with its name, `conda:` and `script:` (string
    literals; a directive on its own line takes the next non-empty line)."""
    rules = []
    for smk in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        lines = smk.read_text().splitlines()
        current = None
        for number, line in enumerate(lines):
            if RULE_START.match(line):
                name = line.split(":", 1)[0].split()[1:] or [""]
                current = {"file": smk.name, "line": number + 1, "name": name[0], "conda": None, "script": None}
                rules.append(current)
                continue
            match = DIRECTIVE.match(line)
            if current is None or not match:
                continue
            key, value = match.groups()
            value = value.split("#", 1)[0].strip()
            if not value:
                value = next(next_line.strip() for next_line in lines[number + 1:] if next_line.strip())
            if key == "name" and current["name"]:
                continue
            current[key] = value
    for rule in rules:
        for key in ("conda", "script"):
            if rule[key] is not None:
                literal = rule[key]
                assert re.fullmatch(r"[rf]?(['\"]).*\1", literal), (
                    f"{rule['file']}:{rule['line']}: {key}: is not a string literal ({literal}); this test reads "
                    "it statically")
                rule[key] = (REPO / "rules" / ast.literal_eval(literal.lstrip("rf"))).resolve() \
                    if rule["file"] != "Snakefile" else (REPO / ast.literal_eval(literal.lstrip("rf"))).resolve()
    return rules


# --- imports ---------------------------------------------------------------------------------------

def module_path(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def guarded_by_import_error(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """An import inside `try: ... except ImportError` (or ModuleNotFoundError) is optional."""
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.Try) and node in parent.body:
            for handler in parent.handlers:
                names = [handler.type] if not isinstance(handler.type, ast.Tuple) else handler.type.elts
                if any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError"} for n in names):
                    return True
        node = parent
    return False


@cache
def direct_imports(path: Path, module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(package modules, third-party top-level names) that the file imports anywhere in its body
    (function-level imports too: a script may call the function)."""
    tree = ast.parse(path.read_text(), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    is_package = path.name == "__init__.py"
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    local, external = set(), set()

    def add(name: str):
        top = name.split(".")[0]
        if top == PACKAGE:
            # importing a.b.c runs a/__init__, a/b/__init__ and a/b/c
            parts = name.split(".")
            for k in range(1, len(parts) + 1):
                candidate = ".".join(parts[:k])
                if module_path(candidate):
                    local.add(candidate)
        elif top not in sys.stdlib_module_names and top != "__future__":
            external.add(top)

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and guarded_by_import_error(node, parents):
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)) \
                and getattr(node.func, "attr", getattr(node.func, "id", None)) in {"find_spec", "import_module"} \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            add(node.args[0].value)  # a package located or imported by name (dlib's model files)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            add(target)
            for alias in node.names:  # `from pkg import module`
                if target.split(".")[0] == PACKAGE and module_path(f"{target}.{alias.name}"):
                    add(f"{target}.{alias.name}")
    return frozenset(local), frozenset(external)


def script_imports(script: Path) -> tuple[set[str], set[str]]:
    """The package modules a script loads (transitively) and the third-party names they import."""
    modules, external = set(), set()
    local, names = direct_imports(script, "__script__")
    external |= names
    todo = list(local)
    while todo:
        module = todo.pop()
        if module in modules:
            continue
        modules.add(module)
        more, names = direct_imports(module_path(module), module)
        external |= names
        todo.extend(more - modules)
    return modules, external


# --- distributions ---------------------------------------------------------------------------------

@cache
def import_distribution(name: str) -> str:
    if name in IMPORT_TO_DISTRIBUTION:
        return canonicalize_name(IMPORT_TO_DISTRIBUTION[name])
    providers = metadata.packages_distributions().get(name)
    assert providers, f"no installed distribution provides `import {name}`: add it to IMPORT_TO_DISTRIBUTION"
    return canonicalize_name(providers[0])


@cache
def dependency_closure(distribution: str) -> frozenset[str]:
    """The distribution and everything pip installs with it (the installed metadata of the pinned
    versions; environment markers evaluated for this interpreter, extras not followed)."""
    seen, todo = set(), [canonicalize_name(distribution)]
    environment = default_environment() | {"extra": ""}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(UNDECLARED_DEPENDENCIES.get(name, ()))
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (e.g. a platform-only dependency); nothing to follow
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                todo.append(canonicalize_name(requirement.name))
    return frozenset(seen)


def env_closure(path: Path) -> set[str]:
    closure = set()
    for name in env_requirements(path):
        closure |= dependency_closure(name)
    return closure


# --- tests -----------------------------------------------------------------------------------------

ENV_FILES = env_files()


def test_every_env_file_is_used_and_every_rule_has_one():
    rules = [rule for rule in rule_blocks() if rule["script"] is not None]
    assert rules, "no rule with a script: found in rules/*.smk"
    missing = [f"{rule['file']}:{rule['line']} {rule['name']}" for rule in rules if rule["conda"] is None]
    assert missing == [], f"rules without a conda: env: {missing}"
    used = {rule["conda"] for rule in rules}
    assert used <= set(ENV_FILES), f"rules name env files that do not exist: {used - set(ENV_FILES)}"
    assert set(ENV_FILES) <= used, f"env files no rule uses: {set(ENV_FILES) - used}"


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda path: path.name)
def test_env_pins_equal_requirements(path):
    pins = requirements_pins()
    conda, pip = read_env(path)
    assert "python=3.11" in conda, f"{path.name}: needs python=3.11 (pyproject's requires-python)"
    assert "pip" in conda, f"{path.name}: needs pip (the Python packages come from pip: requirements.txt's wheels)"
    for dependency in conda:
        assert conda_name(dependency) in CONDA_LEVEL_ALLOWED, (
            f"{path.name}: {dependency!r} comes from a conda channel; list Python packages under pip: with "
            "requirements.txt's pin")
    for line in pip:
        assert not re.search(r"(^|\s)(-e|--editable)\b|^\.|^/|file:", line), (
            f"{path.name}: {line!r} installs from a path; Snakemake runs conda (and pip) from .snakemake/conda/, "
            "so relative paths point there, not at the repository")
        if line.startswith("-"):
            assert line.startswith("--extra-index-url "), f"{path.name}: pip option {line!r} (only an extra index)"
    requirements = env_requirements(path)
    assert requirements, f"{path.name}: no pip packages"
    wrong = {name: (str(requirement.specifier), str(pins[name].specifier))
             for name, requirement in requirements.items()
             if name in pins and requirement.specifier != pins[name].specifier}
    assert wrong == {}, f"{path.name}: pins differ from requirements.txt (env, requirements.txt): {wrong}"
    unpinned = [name for name, requirement in requirements.items() if name not in pins and not requirement.specifier]
    assert unpinned == [], f"{path.name}: packages requirements.txt does not pin and the env leaves open: {unpinned}"
    if "torch" in requirements:
        assert any(line.startswith("--extra-index-url") and "whl/cpu" in line for line in pip), (
            f"{path.name}: torch needs PyTorch's CPU index, else pip takes PyPI's multi-GB CUDA build")


SCRIPT_RULES = [rule for rule in rule_blocks() if rule["script"] is not None and rule["conda"] is not None]


@pytest.mark.parametrize("rule", SCRIPT_RULES, ids=lambda rule: rule["name"] or f"{rule['file']}:{rule['line']}")
def test_rule_env_covers_its_script_imports(rule):
    script, env = rule["script"], rule["conda"]
    assert script.is_file(), f"{rule['file']}:{rule['line']}: script {script} does not exist"
    _, names = script_imports(script)
    needed = {import_distribution(name): name for name in names}
    needed |= {canonicalize_name(name): "(the script preamble)" for name in SCRIPT_PREAMBLE_DISTRIBUTIONS}
    closure = env_closure(env)
    missing = {distribution: name for distribution, name in needed.items() if distribution not in closure}
    assert missing == {}, (
        f"rule {rule['name']} ({rule['file']}:{rule['line']}): env {env.name} lacks the distributions of these "
        f"imports of {script.name} and the {PACKAGE} modules it loads (distribution: import): {missing}")


def test_import_walk_follows_the_package():
    """The walk sees imports made through package modules and inside functions."""
    modules, names = script_imports(REPO / "workflow_scripts" / "train_audio_svm.py")
    assert "avemotion.models" in modules and "avemotion.models.pipelines" in modules
    assert {"torch", "sklearn", "numpy"} <= names
    assert import_distribution("sklearn") == "scikit-learn"
    assert "soundfile" in script_imports(REPO / "workflow_scripts" / "demo_corpus.py")[1]  # a function-level import


def test_script_rules_import_the_package_from_the_workflow_directory(tmp_path):
    """Why the env files need not install `avemotion`: Snakemake's script preamble appends the
    workflow's directory (the Snakefile's, which it puts on sys.path) to the script's sys.path, so a
    script finds the package of its own workflow in any interpreter, with `--directory` elsewhere.
    Run on a tiny workflow whose package is installed nowhere."""
    workflow = tmp_path / "workflow"
    (workflow / "localpkg").mkdir(parents=True)
    (workflow / "localpkg" / "__init__.py").write_text("WHERE = __file__\n")
    (workflow / "scripts").mkdir()
    (workflow / "scripts" / "where.py").write_text(
        "import os, localpkg\n"
        "open(snakemake.output[0], 'w').write(localpkg.WHERE + '\\n' + os.getcwd() + '\\n')\n")
    (workflow / "Snakefile").write_text(
        'rule where:\n    output:\n        "where.txt",\n    script:\n        "scripts/where.py"\n')
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "--snakefile", str(workflow / "Snakefile"),
         "--directory", str(work), "--cores", "1", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    where, cwd = (work / "where.txt").read_text().splitlines()
    assert Path(where) == workflow / "localpkg" / "__init__.py"
    assert Path(cwd) == work
