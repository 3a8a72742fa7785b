"""The package reads as the pipeline: every import in evfer/ (module-level or inside functions) is
read from the source and checked against the layers

    core (events, io, voxel, errors, atomic, fingerprint, jobs, jit, filters, metrics, testing)
      <- emulator <- datasets <- presentation <- training <- cli,   models <- training,
    config used by the stages, configure (the complete config loader) above datasets and models

so that adding a stage's code never drags a later stage in."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evfer"
CORE = {"events", "io", "voxel", "errors", "atomic", "fingerprint", "jobs", "jit", "filters", "metrics", "testing",
        "typed"}
STAGES = ("config", "emulator", "datasets", "models", "configure", "reference", "presentation", "training", "api",
          "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, imported names) of every import statement in ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, [a.name for a in node.names]))
    return [(t, names) for t, names in found if t == "evfer" or t.startswith("evfer.")]


def layer(module: str) -> str:
    """The layer of a module: its first name below evfer ("core" for the core modules)."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    return "core" if top in CORE else top


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
EDGES = [(m, target, names) for m, p in MODULES.items() for target, names in imports(p)]

#: layer -> layers it may import (besides itself)
ALLOWED = {
    "core": set(),
    "config": {"core"},
    "emulator": {"core"},
    "datasets": {"core", "config", "emulator"},
    "models": {"core", "config"},
    "configure": {"core", "config", "emulator", "datasets", "models"},
    "reference": {"core", "config", "emulator", "datasets", "models"},
    "presentation": {"core", "config", "datasets"},
    "training": {"core", "config", "datasets", "models", "configure", "presentation"},
    "api": {"core", "config", "emulator", "datasets", "models", "configure", "presentation", "training"},
    "cli": {"core", "config", "emulator", "datasets", "models", "configure", "reference", "presentation", "training"},
    "": set(STAGES) | {"core"},  # evfer/__init__.py
    "__main__": {"cli"},  # python -m evfer
    "configs": set(),  # the packaged config files
}


def test_every_module_is_in_a_layer():
    assert {layer(m) for m in MODULES} <= set(ALLOWED), sorted({layer(m) for m in MODULES} - set(ALLOWED))


@pytest.mark.parametrize("source_layer", sorted(ALLOWED))
def test_layers_import_only_what_they_may(source_layer):
    bad = []
    for m, target, _ in EDGES:
        if layer(m) == source_layer and layer(target) not in ALLOWED[source_layer] | {source_layer}:
            if target.split(".")[:2] != m.split(".")[:2]:
                bad.append(f"{m} imports {target}")
    assert not bad, "\n".join(bad)


def test_config_does_not_import_the_emulator():
    assert not [t for m, t, _ in EDGES if m == "evfer.config" and layer(t) == "emulator"]


def test_only_the_loader_completes_configs():
    """One loader: nothing but evfer.configure parses configs (the schema's parser leaves source
    options untyped); every stage gets a Config that is checked already."""
    users = {m for m, t, names in EDGES if t == "evfer.config" and "parse_config" in names}
    assert users == {"evfer.configure"}, users
    # the schema's builder makes untyped sources: only the loader uses it for whole configs (the
    # kinds' registry builds a kind's options with it, the models their own group)
    builders = {m for m, t, names in EDGES if t == "evfer.config" and "from_dict" in names}
    assert builders <= {"evfer.configure", "evfer.datasets.kinds", "evfer.models.recognizer"}, builders


def test_nothing_imports_the_cli():
    assert not [(m, t) for m, t, _ in EDGES if layer(t) == "cli" and layer(m) not in ("cli", "__main__")]


def _package(module: str) -> str:
    """The package a module belongs to (evfer.io for evfer.io.hdf5, evfer for evfer.events)."""
    return module if module in MODULES and MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def test_no_private_names_of_other_packages():
    bad = []
    for m, target, names in EDGES:
        other = not (target == _package(m) or target.startswith(_package(m) + "."))
        if not other:
            continue
        private_module = any(part.startswith("_") for part in target.split(".")[1:])
        private_names = [n for n in names if n.startswith("_")]
        if private_module or private_names:
            bad.append(f"{m} imports {target} {private_names}")
    assert not bad, "\n".join(bad)


def test_no_cycles_between_layers_or_packages():
    graph = defaultdict(set)
    for m, target, _ in EDGES:
        a, b = _package(m), _package(target) if target in MODULES else target
        if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):
            graph[a].add(b)
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        stack.pop()

    for node in sorted(graph):
        visit(node)
    assert not cycles, cycles


def test_the_checks_see_real_imports():
    """The reader finds known imports (absolute, relative, inside functions), so the rules above
    cannot pass by reading nothing."""
    targets = {t for m, t, _ in EDGES if m == "evfer.datasets.prepare"}
    assert {"evfer.io", "evfer.config", "evfer.datasets.kinds", "evfer.jobs"} <= targets
    assert ("evfer.datasets.inputs", "evfer.io") in {(m, t) for m, t, _ in EDGES}  # a function-level import
    assert layer("evfer.io.hdf5") == "core" and layer("evfer.datasets.frame_clips") == "datasets"
