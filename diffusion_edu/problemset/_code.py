"""Code surgery for problem sets: free names, imports, nbgrader regions.

Two jobs. :class:`Resolver` makes a notebook assembled from pieces of
several chapters run on its own: for every name a cell uses but nobody
defined yet, it finds the import (or, for the answer key, the cell) of the
source notebook that provides it. :func:`splice_solution` writes the
nbgrader version of a stub: the stub's signature and comments, with the
reference solution's body between ``### BEGIN SOLUTION`` and ``### END
SOLUTION`` where the stub raised ``NotImplementedError``, so that
``nbgrader generate_assignment`` gives back the book's stub.
"""

from __future__ import annotations

import ast
import builtins
import re
import symtable
import textwrap

from ._notebooks import Block

__all__ = [
    "Resolver",
    "bound_names",
    "free_names",
    "splice_solution",
    "strict_calls",
    "strip_markers",
]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_IPYTHON = {"display", "get_ipython", "In", "Out", "exit", "quit"}
_YOUR_CODE = re.compile(r"^[ \t]*#[ \t]*your code here[ \t]*$", re.I)
_STUB_LINE = re.compile(r"^([ \t]*)raise[ \t]+NotImplementedError\b")


def _python(source: str) -> str:
    """The source with IPython magics and shell escapes blanked out."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.split("\n"))


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(_python(source))
    except SyntaxError:
        return None


def bound_names(source: str) -> set[str]:
    """Names that a cell binds at the top level (assign, def, import)."""
    try:
        table = symtable.symtable(_python(source), "<cell>", "exec")
    except SyntaxError:
        return set()
    return {s.get_name() for s in table.get_symbols()
            if s.is_assigned() or s.is_imported()}


def free_names(source: str) -> set[str]:
    """Names a cell needs from earlier cells (not builtins)."""
    code = _python(source)
    try:
        table = symtable.symtable(code, "<cell>", "exec")
    except SyntaxError:
        return set()
    bound = {s.get_name() for s in table.get_symbols()
             if s.is_assigned() or s.is_imported()}
    used = {s.get_name() for s in table.get_symbols() if s.is_referenced()}

    def nested(t):
        for child in t.get_children():
            for sym in child.get_symbols():
                if sym.is_global() and sym.is_referenced():
                    used.add(sym.get_name())
            nested(child)

    nested(table)
    needed = used - bound
    # names read at the top level before the cell binds them (x = x + 1)
    tree = _parse(source)
    if tree is not None:
        candidates = used & bound
        stored: set[str] = set()
        for stmt in tree.body:
            here = _stores(stmt)
            if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                reads = _loads(stmt.value) if stmt.value is not None \
                    else set()
                if isinstance(stmt, ast.AugAssign):
                    reads |= _stores(stmt)
                early = reads
            else:
                early = _loads(stmt) - here
            needed |= (early & candidates) - stored
            stored |= here
    return needed - set(dir(builtins)) - _IPYTHON


def _loads(node: ast.AST) -> set[str]:
    """Names read when ``node`` runs (not inside function bodies, which
    run later; their defaults and decorators do count)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load):
            out.add(item.id)
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack += [*item.decorator_list, *item.args.defaults,
                      *[d for d in item.args.kw_defaults if d is not None]]
        elif isinstance(item, ast.Lambda):
            stack += [*item.args.defaults]
        else:
            stack += list(ast.iter_child_nodes(item))
    return out


def _stores(stmt: ast.stmt) -> set[str]:
    out = {n.id for n in ast.walk(stmt)
           if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef,
                         ast.ClassDef)):
        out.add(stmt.name)
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return out


def _import_for(source: str, name: str) -> str | None:
    """An import statement that binds ``name``, if the cell imports it."""
    tree = _parse(source)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound == name:
                    suffix = f" as {alias.asname}" if alias.asname else ""
                    return f"import {alias.name}{suffix}"
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    module = "." * node.level + (node.module or "")
                    suffix = f" as {alias.asname}" if alias.asname else ""
                    return f"from {module} import {alias.name}{suffix}"
    return None


class Resolver:
    """Tracks what a notebook under construction defines, and fills gaps.

    ``imports`` collects the import statements needed (they go in the
    setup cell); :meth:`support` returns whole cells of the source
    notebook to insert when a name is not provided by an import.
    """

    def __init__(self, allow_cells: bool):
        self.defined: set[str] = set()
        self.imports: list[str] = []
        self.allow_cells = allow_cells
        self.missing: set[str] = set()
        self._used_cells: set[tuple[str, int]] = set()

    def add_import(self, statement: str) -> None:
        if statement not in self.imports:
            self.imports.append(statement)
        tree = _parse(statement)
        if tree is not None:
            self.defined |= bound_names(statement)

    def support(self, blocks: list[Block], pool: list[Block],
                pool_id: str) -> list[Block]:
        """Cells of ``pool`` to run before ``blocks``; updates imports."""
        out: list[Block] = []
        for block in blocks:
            if block.kind != "code":
                continue
            for name in sorted(free_names(block.source) - self.defined):
                self._provide(name, pool, pool_id, block.cell, out, set())
            self.defined |= bound_names(block.source)
        return out

    def _provide(self, name, pool, pool_id, before, out, stack) -> None:
        if name in self.defined or name in stack:
            return
        binders = [b for b in pool if name in bound_names(b.source)]
        if not binders:
            self.missing.add(name)
            return
        earlier = [b for b in binders if b.cell < before]
        cell = earlier[-1] if earlier else binders[0]
        statement = _import_for(cell.source, name)
        if statement is not None:
            self.add_import(statement)
            return
        if not self.allow_cells:
            self.missing.add(name)
            return
        key = (pool_id, cell.cell)
        if key in self._used_cells:
            return
        for other in sorted(free_names(cell.source) - self.defined):
            self._provide(other, pool, pool_id, cell.cell, out,
                          stack | {name})
        self._used_cells.add(key)
        out.append(cell)
        self.defined |= bound_names(cell.source)


def strict_calls(check_source: str) -> list[str]:
    """``check_x(answer, strict=True)`` for every check call of a cell."""
    tree = _parse(check_source)
    if tree is None:
        return []
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id.startswith("check_")):
            call = ast.Call(node.func, node.args,
                            [k for k in node.keywords if k.arg != "strict"]
                            + [ast.keyword("strict", ast.Constant(True))])
            out.append(ast.unparse(call))
    return out


def strip_markers(source: str) -> str:
    """The reference answer: a spliced cell without the region markers."""
    return "\n".join(line for line in source.split("\n")
                     if line.strip() not in (BEGIN, END))


def _segment(lines: list[str], node: ast.AST) -> list[str]:
    return lines[node.lineno - 1:node.end_lineno]


def _function_body(lines: list[str], fn: ast.FunctionDef,
                   drop_docstring: bool) -> list[str]:
    body = fn.body
    if (drop_docstring and len(body) > 1 and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        body = body[1:]
    start = body[0].lineno - 1
    if body is fn.body:          # keep comment lines right above the body
        while (start - 1 > fn.lineno - 1
               and lines[start - 1].strip().startswith("#")):
            start -= 1
    return textwrap.dedent("\n".join(lines[start:fn.end_lineno])).split(
        "\n")


def _has_docstring(fn: ast.FunctionDef) -> bool:
    first = fn.body[0]
    return (isinstance(first, ast.Expr) and isinstance(first.value,
                                                       ast.Constant)
            and isinstance(first.value.value, str))


def _names_bound_by(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return set()


def _helpers(tree: ast.Module, fn: ast.FunctionDef,
             lines: list[str]) -> list[str]:
    """Top-level imports, functions and classes ``fn`` needs, in order
    (transitively), as dedented source lines."""
    wanted = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
    chosen: list[ast.stmt] = []
    changed = True
    while changed:
        changed = False
        for node in tree.body:
            if node is fn or node in chosen:
                continue
            if _names_bound_by(node) & wanted:
                chosen.append(node)
                wanted |= {n.id for n in ast.walk(node)
                           if isinstance(n, ast.Name)}
                changed = True
    out: list[str] = []
    for node in tree.body:
        if node in chosen:
            out += textwrap.dedent("\n".join(_segment(lines, node))).split(
                "\n")
            out.append("")
    return out


def splice_solution(stub: str, solutions: list[str]) -> str | None:
    """The stub with each ``raise NotImplementedError`` of a function
    replaced by the body of the solution's function of the same name,
    inside a solution region. None if no function could be matched."""
    tree = _parse(stub)
    if tree is None:
        return None
    defs: dict[str, tuple[list[str], ast.FunctionDef, ast.Module]] = {}
    for source in solutions:
        sol_tree = _parse(source)
        if sol_tree is None:
            continue
        sol_lines = _python(source).split("\n")
        for node in sol_tree.body:
            if isinstance(node, ast.FunctionDef):
                defs[node.name] = (sol_lines, node, sol_tree)
    lines = stub.split("\n")
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    replaced = False
    for fn in sorted(functions, key=lambda n: -n.lineno):
        if fn.name not in defs:
            continue
        rows = [i for i in range(fn.lineno - 1, fn.end_lineno)
                if _STUB_LINE.match(lines[i])]
        if not rows:
            continue
        row = rows[0]
        indent = _STUB_LINE.match(lines[row]).group(1)
        start = row - 1 if row - 1 > fn.lineno - 1 and _YOUR_CODE.match(
            lines[row - 1]) else row
        sol_lines, sol_fn, sol_tree = defs[fn.name]
        helpers = _helpers(sol_tree, sol_fn, sol_lines)
        body = helpers + _function_body(sol_lines, sol_fn,
                                        _has_docstring(fn))
        region = ([indent + BEGIN]
                  + [(indent + line) if line.strip() else ""
                     for line in body]
                  + [indent + END])
        lines[start:row + 1] = region
        replaced = True
    return "\n".join(lines) if replaced else None
