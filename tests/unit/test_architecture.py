"""The shape of the code: no import cycle anywhere in portal/, no module past the size that needs a seam.

The layers themselves (pages -> components -> use-case packages -> mail -> core -> db -> domain) are checked
by `lint-imports` (contracts in pyproject.toml), which `make test` runs; ruff's PLC0415 forbids the imports
inside functions that used to hide cycles. grimp counts every import, those inside functions included.
"""

from __future__ import annotations

from pathlib import Path

import grimp

import portal

ROOT = Path(portal.__file__).resolve().parent
MAX_LINES = 650  # DESIGN: "a module past about 600 lines has a seam to split along"


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y"]]


def test_no_module_of_the_portal_is_part_of_an_import_cycle() -> None:
    graph = grimp.build_graph("portal")
    # a package imports its own modules when they are named in its __init__; count module-to-module imports
    assert _cycles(graph) == []


def test_no_module_is_past_the_size_that_needs_a_seam() -> None:
    sizes = {
        str(path.relative_to(ROOT.parent)): len(path.read_text(encoding="utf-8").splitlines())
        for path in ROOT.rglob("*.py")
        if "migrations" not in path.parts
    }
    too_long = {path: lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"split these along their seams (DESIGN: about 600 lines at most): {too_long}"
