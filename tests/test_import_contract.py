"""The package's import contract, checked on every module:

- importing a module pulls in no heavy library (W&B, Qdrant, torch, the LLM clients, XGBoost/SHAP,
  pandas/pyarrow...): they go inside the functions that need them, so `--help`, the records, parsers,
  prompts and scorers stay fast and testable without them. Every module is imported in a fresh
  process; only EXEMPT modules may do otherwise;
- the PURE modules (the core: space, meta-features, records, parsing, prompts, scoring) import no heavy
  library anywhere, and at run time only other pure modules;
- no import cycle between modules, function-level imports and TYPE_CHECKING imports included;
- no private name (`_name`) imported from another module, nor read off an imported module.

`python tests/test_import_contract.py` prints, for every module, the heavy libraries it imports: the
quickest way to classify a new module.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "metallmix_wandb"

HEAVY = ("wandb", "qdrant_client", "torch", "torchvision", "openai", "xgboost", "shap", "sklearn", "scipy",
         "matplotlib", "pandas", "pyarrow", "llama_cpp")
"""Libraries that cost seconds to import (or pull in a GPU runtime): never at a pure module's top level."""

EXEMPT = {
    "metallmix_wandb.cli.__main__": "`python -m metallmix_wandb.cli`: importing it runs the CLI",
    "metallmix_wandb.training.experiment": "the trainer's torch part (loaded after the config is checked)",
    "metallmix_wandb.training.loop": "the trainer's torch part",
    "metallmix_wandb.training.models": "the trainer's torch/torchvision part",
}
"""The only modules that may import a heavy library at module level (or not be importable at all).
Every other module is import-light: its heavy imports sit inside the functions that need them."""

PURE = (
    "metallmix_wandb.numbers",
    "metallmix_wandb.startup",
    "metallmix_wandb.secrets",
    "metallmix_wandb.safe_text",
    "metallmix_wandb.space.argmax",
    "metallmix_wandb.space.candidates",
    "metallmix_wandb.space.parse",
    "metallmix_wandb.space.schema",
    "metallmix_wandb.space.search_space",
    "metallmix_wandb.space.spec",
    "metallmix_wandb.space.values",
    "metallmix_wandb.space.yaml_io",
    "metallmix_wandb.datasets.meta_features",
    "metallmix_wandb.datasets.reference",
    "metallmix_wandb.knowledge.records",
    "metallmix_wandb.knowledge.experiments",
    "metallmix_wandb.knowledge.scaling",
    "metallmix_wandb.knowledge.trajectory",
    "metallmix_wandb.knowledge.table_rows",
    "metallmix_wandb.knowledge.meta_learner.features",
    "metallmix_wandb.knowledge.meta_learner.quality",
    "metallmix_wandb.knowledge.meta_learner.variants",
    "metallmix_wandb.knowledge.meta_learner.pool",
    "metallmix_wandb.knowledge.meta_learner.shap_summary",
    "metallmix_wandb.recommend.advice",
    "metallmix_wandb.recommend.candidates",
    "metallmix_wandb.recommend.choose",
    "metallmix_wandb.llm.chat",
    "metallmix_wandb.llm.messages",
    "metallmix_wandb.llm.schemas",
    "metallmix_wandb.llm.output",
    "metallmix_wandb.llm.reply",
    "metallmix_wandb.llm.judge",
    "metallmix_wandb.llm.ask",
    "metallmix_wandb.llm.modes",
    "metallmix_wandb.llm.modes.base",
    "metallmix_wandb.llm.modes.json_object",
    "metallmix_wandb.llm.modes.json_schema",
    "metallmix_wandb.llm.modes.text",
    "metallmix_wandb.recommend.explanation_check",
    "metallmix_wandb.recommend.prompts",
    "metallmix_wandb.recommend.explain_text",
    "metallmix_wandb.recommend.record",
    "metallmix_wandb.tune.records",
    "metallmix_wandb.tune.objective",
    "metallmix_wandb.tune.digest",
    "metallmix_wandb.tune.prompts",
    "metallmix_wandb.evaluate.records",
    "metallmix_wandb.evaluate.lookup",
    "metallmix_wandb.evaluate.held_out",
    "metallmix_wandb.evaluate.report_spec",
    "metallmix_wandb.evaluate.request",
    "metallmix_wandb.evaluate.scoring",
    "metallmix_wandb.training.launch_spec",
    "metallmix_wandb.training.splits",
)
"""The pure core (DESIGN.md §3): data in, data out. Stricter than import-light: a pure module imports no
heavy library anywhere (function bodies and TYPE_CHECKING blocks included), and at run time it imports
only other pure modules of the package (an adapter's type under TYPE_CHECKING is fine)."""

# Run in a fresh interpreter. Each module is imported in a child forked from a parent that holds only
# modules already found clean, so the child loads exactly what the module adds: a heavy library in the
# child's sys.modules came from this module. Clean modules are then imported in the parent too, so the
# next child starts warmer: the whole package costs about two imports of itself, not one per module.
# A meta-path hook in the child notes the package line that first asked for each heavy library.
DRIVER = r"""
import importlib, json, os, sys, traceback
heavy, package, modules = json.loads(sys.argv[1])

class Spy:
    first = {}
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in heavy and top not in self.first:
            frames = [f for f in traceback.extract_stack() if f"/{package}/" in f.filename.replace(os.sep, "/")]
            where = frames[-1] if frames else None
            self.first[top] = f"{where.filename.split(package)[-1].lstrip('/')}:{where.lineno}" if where else "?"
        return None

results = {}
for name in modules:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        spy = Spy()
        sys.meta_path.insert(0, spy)
        try:
            importlib.import_module(name)
            out = {"heavy": {h: spy.first.get(h, "?") for h in heavy if h in sys.modules}}
        except BaseException as exc:
            out = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 1 << 16):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    results[name] = json.loads(b"".join(chunks) or b'{"error": "the child died"}')
    if not results[name].get("heavy") and "error" not in results[name]:
        importlib.import_module(name)
print(json.dumps(results))
"""


def package_modules() -> list[str]:
    """Every module of the package, by dotted name (a package by its own name)."""
    out = []
    for f in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = f.relative_to(ROOT).with_suffix("").parts
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def import_report(modules: list[str]) -> dict[str, dict]:
    """module -> {"heavy": {library: "where/it/was/imported.py:line"}} or {"error": text}."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps([HEAVY, PACKAGE, modules])], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_lists_name_modules_that_exist() -> None:
    modules = set(package_modules())
    gone = sorted((set(PURE) | set(EXEMPT)) - modules)
    assert not gone, f"listed modules that no longer exist: remove or rename them: {gone}"
    assert not set(PURE) & set(EXEMPT) and len(PURE) == len(set(PURE))


def _runtime_imports(path: Path) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, under TYPE_CHECKING) for every import anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded |= {id(n) for child in node.body for n in ast.walk(child)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in guarded
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno, id(node) in guarded


def test_pure_modules_stay_pure() -> None:
    files = _module_files()
    problems = []
    for module in PURE:
        for name, line, type_only in _runtime_imports(files[module]):
            top = name.partition(".")[0]
            if top in HEAVY:
                problems.append(f"{module}:{line} imports {name.rsplit('.', 1)[0]}")
            elif top == PACKAGE and not type_only:
                target = name if name in files else name.rsplit(".", 1)[0]
                if target in files and target not in PURE and target != PACKAGE:
                    problems.append(f"{module}:{line} imports the adapter-side module {target}")
    assert not problems, "a pure module must stay pure (move the code to an adapter):\n" + "\n".join(problems)


def test_every_module_is_import_light() -> None:
    from tests.support.require import require  # here: `python tests/test_import_contract.py` runs without it

    require(hasattr(os, "fork"), "os.fork", "the import-report driver forks one child per module")
    report = import_report([m for m in package_modules() if m not in EXEMPT])
    problems = [f"{m}: {r['error']}" if "error" in r else
                f"{m} imports " + ", ".join(f"{lib} (first at {where})" for lib, where in r["heavy"].items())
                for m, r in report.items() if "error" in r or r["heavy"]]
    assert not problems, "move these imports inside the functions that need them:\n" + "\n".join(problems)


# --------------------------------------------------------------------------- the static import graph


def _module_files() -> dict[str, Path]:
    names = package_modules()
    files = sorted((ROOT / PACKAGE).rglob("*.py"))
    return dict(zip(names, files, strict=True))


def _imports(module: str, path: Path, modules: set[str]) -> Iterator[tuple[str, str | None, ast.AST]]:
    """(imported module, name taken from it or None, node) for every import anywhere in the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    yield alias.name, None, node
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parent = module.split(".") if is_package else module.split(".")[:-1]
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            if base != PACKAGE and not base.startswith(PACKAGE + "."):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    yield sub, None, node  # `from pkg import module`
                else:
                    yield base, alias.name, node


def import_graph() -> tuple[dict[str, set[str]], list[str]]:
    """The module graph (every import, at any level) and the private names taken across modules."""
    files = _module_files()
    modules = set(files)
    graph: dict[str, set[str]] = {m: set() for m in files}
    private: list[str] = []
    for module, path in files.items():
        module_aliases: dict[str, str] = {}
        for target, name, node in _imports(module, path, modules):
            if target in modules and target != module:
                graph[module].add(target)
            if name and name.startswith("_") and not name.startswith("__") and target != module:
                private.append(f"{module}:{node.lineno} imports {name} from {target}")
            if isinstance(node, ast.ImportFrom) and name is None:
                for alias in node.names:
                    module_aliases[alias.asname or alias.name] = target
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        module_aliases[alias.asname] = alias.name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in module_aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                private.append(f"{module}:{node.lineno} reads {node.attr} off {module_aliases[node.value.id]}")
    return graph, private


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules() -> None:
    found = cycles(import_graph()[0])
    assert not found, "import cycles (function-level and TYPE_CHECKING imports count): " + "; ".join(
        " <-> ".join(c) for c in found)


def test_no_private_name_crosses_a_module_boundary() -> None:
    private = import_graph()[1]
    assert not private, "make these public (or move them where they are used):\n" + "\n".join(private)


if __name__ == "__main__":
    for name, result in import_report(package_modules()).items():
        print(f"{name:55} {result.get('error') or ', '.join(result['heavy']) or '-'}")
