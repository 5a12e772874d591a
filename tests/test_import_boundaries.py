"""Runtime code never imports training or evaluation code.

facelens/eval (measurements) and facelens/train (fitting) may import the runtime; the
runtime packages may not import them. The one exception is a CLI command function (a
callback registered on the Typer app), which imports them lazily inside its body so that
`import facelens` or `import facelens.cli` never loads them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import typer

PACKAGE = Path(__file__).resolve().parent.parent / "facelens"
OFFLINE = ("facelens.eval", "facelens.train")  # evaluation's and training's homes
IMPORTERS = {"import_module", "__import__"}  # importlib.import_module("facelens.eval.x")
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_offline(name: str) -> bool:
    return any(name == home or name.startswith(home + ".") for home in OFFLINE)


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Absolute names this node imports (`from a import b` counts as a and a.b)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: resolve against this module's package
            parts = module.split(".")
            anchor = parts[: len(parts) - node.level + (1 if is_package else 0)]
            base = ".".join([*anchor, base] if base else anchor)
        return [base] + [f"{base}.{alias.name}" for alias in node.names]
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        first = node.args[0]
        if name in IMPORTERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [first.value]
    return []


def boundary_violations(
    source: str, module: str, is_package: bool = False, commands: frozenset[str] = frozenset()
) -> list[str]:
    """Each import of facelens.eval / facelens.train this runtime module may not make;
    `commands` names the module's top-level functions that are registered CLI commands."""
    found: list[str] = []

    def visit(node: ast.AST, outermost: ast.AST | None) -> None:
        allowed = isinstance(outermost, FUNCTIONS) and outermost.name in commands
        for name in _imported(node, module, is_package):
            if _is_offline(name) and not allowed:
                where = f"in {outermost.name}()" if outermost else "at module level"
                found.append(f"{module}:{node.lineno} imports {name} {where}")
                break
        for child in ast.iter_child_nodes(node):
            # the outermost def or class decides: a helper nested in a command is inside it
            top = outermost or (child if isinstance(child, (*FUNCTIONS, ast.ClassDef)) else None)
            visit(child, top)

    visit(ast.parse(source), None)
    return found


def _callbacks(app: typer.Typer) -> Iterator:
    for command in app.registered_commands:
        yield command.callback
    for group in app.registered_groups:
        yield from _callbacks(group.typer_instance)


def _cli_commands() -> dict[str, frozenset[str]]:
    """Top-level functions registered as commands on `facelens`, by module."""
    from facelens.cli import app

    by_module: dict[str, set[str]] = {}
    for callback in _callbacks(app):
        if "." not in callback.__qualname__:  # only module-level functions
            by_module.setdefault(callback.__module__, set()).add(callback.__name__)
    return {module: frozenset(names) for module, names in by_module.items()}


def _runtime_modules() -> list[Path]:
    paths = sorted(PACKAGE.rglob("*.py"))
    return [path for path in paths if not _is_offline(_module_name(path))]


def test_the_runtime_never_imports_training_or_evaluation_code():
    modules, commands = _runtime_modules(), _cli_commands()
    assert len(modules) > 50 and len(commands["facelens.cli.evaluate"]) >= 4
    found = [
        violation
        for path in modules
        for violation in boundary_violations(
            path.read_text(),
            _module_name(path),
            path.name == "__init__.py",
            commands.get(_module_name(path), frozenset()),
        )
    ]
    assert found == []


def test_importing_the_runtime_loads_no_training_or_evaluation_module():
    code = (
        "import sys, facelens, facelens.lens, facelens.cli, facelens.api.app\n"
        "print(sorted(m for m in sys.modules if m.startswith(('facelens.eval', "
        "'facelens.train'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_offline_homes_exist_and_are_not_walked():
    for home in OFFLINE:
        assert (PACKAGE.parent / home.replace(".", "/") / "__init__.py").is_file()
    walked = {_module_name(path) for path in _runtime_modules()}
    assert not any(_is_offline(name) for name in walked)
    assert {"facelens.quality.policies", "facelens.cli.quality"} <= walked


def test_the_check_catches_each_kind_of_import():
    runtime, command = "facelens.quality.policies", frozenset({"quality_eval"})
    caught = [
        ("import facelens.eval.lfw_pairs", runtime),
        ("from facelens.eval.lfw_pairs import threshold_at_fmr", runtime),
        ("from facelens import train", runtime),
        ("from ..train import degrade", runtime),
        ("def f():\n    from facelens.train import degrade", runtime),
        ("import importlib\nimportlib.import_module('facelens.eval.lfw')", runtime),
        ("def helper():\n    from facelens.eval.lfw import evaluate_lfw", "facelens.cli.quality"),
        ("class C:\n    def quality_eval(self):\n        import facelens.eval", runtime),
    ]
    for source, module in caught:
        assert len(boundary_violations(source, module, commands=command)) == 1, source
    # relative import from a package's __init__: `from . import x` inside facelens/eval
    assert len(boundary_violations("from . import lfw", "facelens.eval", is_package=True)) == 1
    allowed = [
        "import facelens.evaluation_notes",  # a prefix of the name, not the package
        "from facelens.recognition.operating_points import threshold_for",
        "def quality_eval():\n    from facelens.eval.quality import evaluate_quality",
        "def quality_eval():\n    def inner():\n        import facelens.train",
    ]
    for source in allowed:
        assert boundary_violations(source, "facelens.cli.quality", commands=command) == [], source
