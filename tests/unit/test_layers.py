"""The house's layers hold: no module imports, even lazily, one that imports it back.

`make lint` checks the layer contracts (`.importlinter`); this test holds the rule
that import-linter cannot say for single modules: no import cycle anywhere in the
package, function-level imports included.
"""

import grimp


def import_cycles(graph) -> list[list[str]]:
    """Groups of modules that reach each other through imports (Tarjan's algorithm)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in order:
            visit(module)
    return cycles


def test_no_module_of_groupvisits_imports_one_that_imports_it_back():
    assert import_cycles(grimp.build_graph("groupvisits")) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("a", "a.views", "a.services", "a.models"):
        graph.add_module(module)
    graph.add_import(importer="a.views", imported="a.services")
    graph.add_import(importer="a.services", imported="a.models")
    graph.add_import(importer="a.models", imported="a.views")

    assert import_cycles(graph) == [["a.models", "a.services", "a.views"]]
