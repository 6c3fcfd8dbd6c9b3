"""The modules of ``mmmulti`` point one way: no module imports a module that
imports it back, at module level or inside a function (a lazy import hides a
cycle from Python, not from the next reader). Read from the source with ``ast``,
so nothing is imported."""
import ast
import os
import os.path as osp
from typing import Dict, List, Set

from conftest import REPO

PKG = osp.join(REPO, 'mmmulti')


def _module_names() -> Dict[str, str]:
    """Dotted module name -> file, for every module under ``mmmulti/``."""
    names = {}
    for root, _, files in os.walk(PKG):
        for f in files:
            if f.endswith('.py'):
                rel = osp.relpath(osp.join(root, f), REPO)[:-3].split(os.sep)
                if rel[-1] == '__init__':
                    rel = rel[:-1]
                names['.'.join(rel)] = osp.join(root, f)
    return names


def _imports(name: str, path: str, modules: Set[str]) -> Set[str]:
    """The ``mmmulti`` modules that ``name`` imports anywhere in its file: for
    ``from X import y``, ``X.y`` where that is a module, else ``X``."""
    is_pkg = path.endswith('__init__.py')
    package = name if is_pkg else name.rpartition('.')[0]
    out = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                base = '.'.join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ''
            targets = [f'{base}.{a.name}' if f'{base}.{a.name}' in modules else base
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # ``import a.b.c`` of a name inside a.b
                t = t.rpartition('.')[0]
            if t and t != name:
                out.add(t)
    return out


def import_graph(prefix: str = 'mmmulti') -> Dict[str, Set[str]]:
    """Edges among the modules whose names start with ``prefix``."""
    files = _module_names()
    modules = set(files)
    keep = {m for m in modules if m == prefix or m.startswith(prefix + '.')}
    return {m: _imports(m, files[m], modules) & keep for m in sorted(keep)}


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import cycle (its modules in order, the first repeated), or []."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(m: str) -> List[str]:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        path.pop()
        state[m] = 2
        return []

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return []


def test_cycle_finder_sees_a_lazy_cycle():
    # a two-module cycle, and one through three modules, are found; a chain is not
    assert find_cycle({'a': {'b'}, 'b': {'a'}}) == ['a', 'b', 'a']
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': set()}) == []


def test_graph_reads_function_level_and_relative_imports():
    graph = import_graph('mmmulti.models.earl')
    # builder reads the family table; the families register into it
    assert 'mmmulti.models.earl.table' in graph['mmmulti.models.earl.builder']
    assert 'mmmulti.models.earl.table' in graph['mmmulti.models.earl.anchor_head']
    assert 'mmmulti.models.earl.mixin' in graph['mmmulti.models.earl.table']


def test_earl_package_has_no_import_cycle():
    assert find_cycle(import_graph('mmmulti.models.earl')) == []


def test_simulation_package_has_no_import_cycle():
    assert find_cycle(import_graph('mmmulti.simulation')) == []



def test_protocol_package_has_no_import_cycle():
    assert find_cycle(import_graph('mmmulti.protocol')) == []
