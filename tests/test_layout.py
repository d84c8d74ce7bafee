"""The layout docs/architecture.md describes, checked: every job in one room, names that do not
collide, imports that run one way, no import cycle, no private name borrowed, no file too long.

Read from the source with ``ast`` (nothing is imported), so the check is fast and sees the
imports inside functions too."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("photometric", "booth", "learning", "firmware_protocol")
MAX_LINES = 600
#: Inside photometric: the forward model (the top level), and what each sub-package may not
#: import. The file layer sits above the forward model and below everything else.
FORWARD_MODEL = ("photometric.errors", "photometric.lights", "photometric.render",
                 "photometric.raster", "photometric.response")
FORBIDDEN = {
    "photometric": ("booth", "learning", "firmware_protocol"),
    "firmware_protocol": ("booth", "learning", "photometric"),
    "learning": ("booth",),
    "photometric.io": ("photometric.stereo", "photometric.calibration",
                       "photometric.relighting", "photometric.sim", "photometric.pipeline"),
    "photometric.stereo": ("photometric.calibration", "photometric.relighting",
                           "photometric.sim", "photometric.pipeline", "photometric.io"),
    "photometric.sim": ("photometric.relighting", "photometric.stereo",
                        "photometric.calibration", "photometric.pipeline"),
    "photometric.relighting": ("photometric.sim", "photometric.stereo",
                               "photometric.calibration", "photometric.pipeline"),
    "photometric.calibration": ("photometric.sim", "photometric.relighting",
                                "photometric.pipeline"),
    **{m: ("photometric.io", "photometric.stereo", "photometric.calibration",
           "photometric.relighting", "photometric.sim", "photometric.pipeline")
       for m in FORWARD_MODEL},
}
#: The training path runs on a GPU machine with only torch and numpy (DESIGN.md).
TRAINING_PATH = ("learning.model", "learning.pack", "learning.loader", "learning.trainer",
                 "learning.evaluation", "learning.checkpoint", "learning.metrics",
                 "learning.settings")


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            if "build" in rel.parts:
                continue
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, str | None, int]]:
    """(module imported, name taken from it or None, line) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((sub, None, node.lineno) if sub in MODULES else
                           (base, a.name, node.lineno))
    return [(m, n, line) for m, n, line in out if m.split(".")[0] in PACKAGES]


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_no_two_modules_share_a_name():
    by_name = defaultdict(list)
    for name in MODULES:
        leaf = name.rpartition(".")[2]
        if "." in name and leaf not in ("__main__",):
            by_name[leaf].append(name)
    # A command and the app's screen for the same task are two front ends over one workflow,
    # named alike on purpose (booth.commands.capture, booth.tui.screens.capture).
    shared = {leaf: names for leaf, names in by_name.items() if len(names) > 1
              and sorted(n.rpartition(".")[0] for n in names)
              != ["booth.commands", "booth.tui.screens"]}
    assert not shared, f"module names used twice: {shared}"


def test_no_file_is_too_long():
    long = {str(p.relative_to(ROOT)): n for p in [*MODULES.values(),
                                                  *(ROOT / "tests").rglob("*.py"),
                                                  *(ROOT / "benchmarks").glob("*.py")]
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("owner, banned", sorted(FORBIDDEN.items()))
def test_imports_run_one_way(owner, banned):
    wrong = [f"{name}:{line} imports {target}"
             for name, imports in IMPORTS.items() if _within(name, owner)
             for target, _, line in imports
             if any(_within(target, b) for b in banned)]
    assert not wrong, "\n".join(wrong)


def test_training_path_imports_only_torch_numpy_and_the_project():
    allowed_third_party = {"torch", "numpy", "yaml", "safetensors", "pydantic", "tqdm",
                           "tensorboard", "torch.utils.tensorboard"}
    wrong = []
    for name in TRAINING_PATH:
        tree = ast.parse(MODULES[name].read_text())
        for node in ast.walk(tree):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                    [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                    else [])
            for m in mods:
                top = m.split(".")[0]
                if top in ("mediapipe", "textual", "gphoto2", "serial", "booth"):
                    wrong.append(f"{name} imports {m}")
    assert not wrong and allowed_third_party, wrong


def _private_uses(name: str, path: Path) -> list[str]:
    """``alias._private`` where ``alias`` is bound by an import of another project module."""
    tree = ast.parse(path.read_text(), str(path))
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in PACKAGES and a.asname:
                    aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                if f"{node.module}.{a.name}" in MODULES:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return [f"{name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in aliases and node.attr.startswith("_")
            and not node.attr.startswith("__") and aliases[node.value.id] != name]


def test_no_module_takes_another_modules_private_name():
    wrong = [f"{name}:{line} takes {target}.{taken}"
             for name, imports in IMPORTS.items()
             for target, taken, line in imports
             if taken and taken.startswith("_") and target != name]
    wrong += [use for name, path in MODULES.items() for use in _private_uses(name, path)]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    graph = {name: {t for t, _, _ in imports if t in MODULES and t != name
                    and not name.startswith(t + ".")}  # a package's own __init__ is its parent
             for name, imports in IMPORTS.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)
