"""The package layout is the architecture: each package is a layer and imports
only point down (or within the package). An AST scan of every import, so a new
upward import or a function-local import fails here, not in review."""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Bottom to top. A module may import its own package and any package of a lower
# layer; packages on the same layer are independent of each other.
LAYERS: list[tuple[str, ...]] = [
    ("intervene.vocab", "intervene.errors", "intervene.metrics", "intervene.logctx"),  # the words everything passes around; the counters
    ("intervene.nlp",),                                         # lexicon, text, the two models
    ("intervene.kb",),                                          # the knowledge base and its index
    ("intervene.core",),                                        # detectors, policy, engine: pure decisions
    ("intervene.listen", "intervene.formats", "intervene.store", "intervene.accounts"),
    ("intervene.config",),                                      # the one reader of files and environment
    ("intervene.serving",),                                     # Whisper and the encoder on Ray Serve
    ("intervene.report",),                                      # scores, analysis, tune
    ("intervene.screen",),                                      # the rep's and supervisor's screens
    ("intervene.pbx",),                                         # Asterisk: calls, taps, voice, media
    ("intervene.leads",),                                       # the lead flow: webhooks to hand-off
    ("intervene.app",),                                         # the composition root
    ("intervene.doctor",),                                      # checks an installation as the service sees it
    ("intervene.cli",),                                         # the command line
]


def _layer_of(module: str) -> tuple[int, str]:
    for i, layer in enumerate(LAYERS):
        for pkg in layer:
            if module == pkg or module.startswith(pkg + "."):
                return i, pkg
    raise AssertionError(f"{module}: not in any layer of LAYERS - add its package to the list")


def _modules(package: str) -> list[tuple[str, pathlib.Path]]:
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return out


def _imports(path: pathlib.Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of our packages."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, local: bool) -> None:
        for ch in ast.iter_child_nodes(node):
            inside = local or isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(ch, ast.ImportFrom) and ch.module and ch.level == 0:
                found.append((ch.module, ch.lineno, inside))
            elif isinstance(ch, ast.Import):
                found.extend((a.name, ch.lineno, inside) for a in ch.names)
            visit(ch, inside)
    visit(ast.parse(path.read_text()), False)
    return [f for f in found if f[0].split(".")[0] in ("intervene", "intervene_harness")]


def test_imports_point_down() -> None:
    bad = []
    for module, path in _modules("intervene"):
        if module == "intervene":
            continue
        mine, my_pkg = _layer_of(module)
        for target, line, _ in _imports(path):
            if target.startswith("intervene_harness"):
                bad.append(f"{path.relative_to(ROOT)}:{line}: the product imports the harness ({target})")
                continue
            theirs, their_pkg = _layer_of(target)
            if their_pkg != my_pkg and theirs >= mine:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {my_pkg} (layer {mine}) imports {target} "
                           f"(layer {theirs})")
    assert not bad, "imports that do not point down:\n" + "\n".join(bad)


def test_no_function_local_imports_of_our_code() -> None:
    """A local import hides a cycle or a layering break; the layout should make them unneeded."""
    bad = [f"{path.relative_to(ROOT)}:{line}: {target}"
           for package in ("intervene", "intervene_harness") for _, path in _modules(package)
           for target, line, local in _imports(path) if local]
    assert not bad, "function-local imports:\n" + "\n".join(bad)


def test_every_package_has_a_layer() -> None:
    for module, _ in _modules("intervene"):
        if module != "intervene":
            _layer_of(module)


def test_the_scan_sees_a_violation(tmp_path: pathlib.Path) -> None:
    """The scan itself works: an upward and a local import are both found."""
    f = tmp_path / "m.py"
    f.write_text("from intervene.cli.main import main\n\ndef g():\n    from intervene.vocab import Speaker\n")
    assert _imports(f) == [("intervene.cli.main", 1, False), ("intervene.vocab", 4, True)]
    assert _layer_of("intervene.cli.main")[0] > _layer_of("intervene.core.engine")[0]
