"""No value reaches a string that NiceGUI, Vue or the browser parses as markup, attributes or code.

`element.props(f"alt='{name}'")` is parsed: a quote in `name` ends the value and the rest becomes new
attributes (`onmouseover=...`). The same holds for `.classes()`, `.style()`, `ui.html`, `ui.markdown`, slot
templates and JavaScript strings. This scan reads every module under `portal/` and fails when such a call
gets anything but a constant: a value goes into `element.props["alt"] = value` (or `set_props`) instead.

What counts as a constant: a literal; an f-string, `+` or `%` built only from constants; `a if test else b`
with constant branches (the test may be anything: the result is one of the two literals); a list, tuple
or dict of constants; and a module-level name bound once to a constant (in the same module, or imported
from another `portal` module). Anything else needs an entry in `ALLOWED` with the reason it is safe.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "portal"

# Calls whose string arguments are parsed as props, classes, styles, HTML, Markdown, templates or code.
SINKS = frozenset(
    {
        "props",  # element.props("a=b c='d'"): parsed into attributes
        "classes",  # element.classes(...): split into class names
        "style",  # element.style("k: v; ..."): parsed into CSS properties
        "html",  # ui.html(...)
        "markdown",  # ui.markdown(...)
        "mermaid",  # ui.mermaid(...)
        "restructured_text",  # ui.restructured_text(...)
        "set_content",  # the content of ui.html / ui.markdown / ui.mermaid elements
        "add_slot",  # a Vue template: {{ }} and :bindings run as JavaScript
        "run_javascript",  # ui.run_javascript / client.run_javascript
        "add_head_html",  # ui.add_head_html
        "add_body_html",  # ui.add_body_html
        "add_css",  # ui.add_css: a </style> in a value ends the stylesheet
        "add_scss",
        "add_sass",
    }
)
# Keywords that turn any call into a sink: `ui.notify(text, html=True)` (the flag, not an email's
# `html=body`), `.on("click", js_handler=...)`.
HTML_KEYWORDS = frozenset({"html", "text_html"})
CODE_KEYWORDS = frozenset({"js_handler"})
# Props whose value Vue or the browser runs as code.
CODE_PROP = re.compile(r"^(:|@|v-|on)", re.IGNORECASE)

# Provably safe exceptions: (file, a snippet of the call, whitespace-insensitive) -> why it is safe.
ALLOWED: dict[tuple[str, str], str] = {
    # email.message.EmailMessage.set_content, not an element's: the plain-text part of an outgoing email.
    ("portal/mail/transport.py", "message.set_content(text)"): "an email's text part, not page content",
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    call: str
    value: str
    snippet: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: {self.call}(...) is given {self.value!r}; set the value as data "
            "(element.props['name'] = value, set_props(element, {...}), element.style['k'] = value) or "
            "use a literal"
        )


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _module_file(module: str) -> Path | None:
    if module != "portal" and not module.startswith("portal."):
        return None
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class Module:
    """One parsed module: which of its module-level names are constants, and what it imports."""

    def __init__(self, source: str) -> None:
        self.tree = ast.parse(source)
        self.source = source
        stores: dict[str, int] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                stores[node.id] = stores.get(node.id, 0) + 1
            elif isinstance(node, ast.arg):
                stores[node.arg] = stores.get(node.arg, 0) + 1
            elif isinstance(node, ast.Global | ast.Nonlocal):
                for name in node.names:
                    stores[name] = stores.get(name, 0) + 2
        self.bindings: dict[str, ast.expr] = {}
        self.imports: dict[str, tuple[str, str | None]] = {}  # local name -> (module, attribute or None)
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (node.module, alias.name)
                continue
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = (alias.name, None)
                continue
            else:
                continue
            if isinstance(target, ast.Name) and stores.get(target.id) == 1:
                self.bindings[target.id] = value
        self._resolving: set[str] = set()

    def is_constant_name(self, name: str) -> bool:
        if name in self.bindings:
            if name in self._resolving:  # a cycle proves nothing
                return False
            self._resolving.add(name)
            try:
                return is_constant(self.bindings[name], self)
            finally:
                self._resolving.discard(name)
        if name in self.imports:
            module, attribute = self.imports[name]
            if attribute is None:
                return False
            other = _module_of(module)
            return other is not None and other.is_constant_name(attribute)
        return False

    def is_constant_attribute(self, node: ast.Attribute) -> bool:
        """`module.NAME` where `module` is an imported `portal` module and NAME one of its constants."""
        if not isinstance(node.value, ast.Name) or node.value.id not in self.imports:
            return False
        module, attribute = self.imports[node.value.id]
        other = _module_of(f"{module}.{attribute}" if attribute else module)
        return other is not None and other.is_constant_name(node.attr)


@cache
def _module_of(module: str) -> Module | None:
    path = _module_file(module)
    return Module(path.read_text(encoding="utf-8")) if path else None


def is_constant(node: ast.expr | None, module: Module) -> bool:
    """True when `node` can only ever evaluate to text written in the source code."""
    if node is None:
        return True
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str | int | float | bool | type(None))
    if isinstance(node, ast.JoinedStr):
        return all(is_constant(part, module) for part in node.values)
    if isinstance(node, ast.FormattedValue):
        return is_constant(node.value, module) and is_constant(node.format_spec, module)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return is_constant(node.left, module) and is_constant(node.right, module)
    if isinstance(node, ast.IfExp):
        return is_constant(node.body, module) and is_constant(node.orelse, module)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(is_constant(item, module) for item in node.elts)
    if isinstance(node, ast.Dict):
        return all(is_constant(key, module) for key in node.keys) and all(
            is_constant(value, module) for value in node.values
        )
    if isinstance(node, ast.Name):
        return module.is_constant_name(node.id)
    if isinstance(node, ast.Attribute):
        return module.is_constant_attribute(node)
    return False


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _sink_arguments(node: ast.Call) -> list[ast.expr]:
    """The arguments of `node` that are parsed as markup or code (none when it is not a sink)."""
    name = _call_name(node)
    if name in SINKS:
        return [*node.args, *(k.value for k in node.keywords if k.arg is not None)]
    found = []
    for keyword in node.keywords:
        if keyword.arg in CODE_KEYWORDS:
            found.append(keyword.value)
        elif (
            keyword.arg in HTML_KEYWORDS
            and isinstance(keyword.value, ast.Constant)
            and keyword.value.value is True
        ):
            found.extend(node.args)  # the text of ui.notify(..., html=True), ui.chat_message(...)
            found.extend(k.value for k in node.keywords if k.arg in ("message", "text", "content"))
    return found


def _code_prop_assignments(tree: ast.AST) -> list[tuple[ast.Subscript, ast.expr]]:
    """`x.props[key] = value` statements (key and value to check)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Attribute)
                    and target.value.attr == "props"
                ):
                    found.append((target, node.value))
    return found


def scan(source: str, path: str, allowed: dict[tuple[str, str], str] | None = None) -> list[Finding]:
    """Every place in `source` where a non-constant value reaches a sink (minus the allowed ones)."""
    allowed = ALLOWED if allowed is None else allowed
    snippets = [_squash(snippet) for (file, snippet) in allowed if file == path]
    module = Module(source)
    findings = []

    def report(node: ast.AST, call: str, value: ast.expr) -> None:
        segment = ast.get_source_segment(source, node) or ""
        if any(snippet in _squash(segment) for snippet in snippets):
            return
        text = ast.get_source_segment(source, value) or ast.dump(value)
        findings.append(Finding(path, node.lineno, call, textwrap.shorten(text, 100), segment))

    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            for argument in _sink_arguments(node):
                if not is_constant(argument, module):
                    report(node, _call_name(node) or "call", argument)
    for target, value in _code_prop_assignments(module.tree):
        key = target.slice
        if not is_constant(key, module):
            report(target, "props[...] =", key)
        elif (
            isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and CODE_PROP.match(key.value)
            and not is_constant(value, module)
        ):
            report(target, f"props[{key.value!r}] =", value)
    return sorted(findings, key=lambda f: f.line)


def _portal_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_value_is_interpolated_into_props_classes_styles_html_or_javascript() -> None:
    findings = []
    for path in _portal_files():
        findings += scan(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    assert not findings, "A value is written into a string that is parsed as markup or code:\n" + "\n".join(
        map(str, findings)
    )


def test_every_allowed_exception_is_still_needed() -> None:
    stale = []
    for (file, snippet), reason in ALLOWED.items():
        assert reason.strip(), f"{file}: {snippet!r} needs a reason"
        path = ROOT / file
        source = path.read_text(encoding="utf-8") if path.is_file() else ""
        unallowed = scan(source, file, allowed={})
        if not any(_squash(snippet) in _squash(f.snippet) for f in unallowed):
            stale.append(f"{file}: {snippet!r}")
    assert not stale, "remove these ALLOWED entries, nothing matches them any more:\n" + "\n".join(stale)


def test_the_scan_reads_the_whole_package() -> None:
    files = _portal_files()
    assert len(files) > 50 and any(p.name == "billing.py" for p in files)
    calls = sum(
        1
        for path in files
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and _call_name(node) in SINKS
    )
    assert calls > 300, calls  # the scan sees the pages' props/classes calls (it would prove nothing else)


# -- the scan itself can fail ----------------------------------------------------------------------------
BAD = {
    "the avatar bug": "ui.image(path).props(f\"alt='{profile.name}'\")",
    "an f-string": 'ui.label().classes(f"text-{color}")',
    "a % format": 'ui.label().style("color: %s" % color)',
    "a .format call": 'ui.button().props("aria-label={}".format(label))',
    "a name": "ui.input().props(extra)",
    "a concatenation": 'ui.input().props("outlined " + extra)',
    "a translated text": "ui.button().props(_('Menu'))",
    "a keyword": "ui.label().classes(replace=choice)",
    "an attribute of a row": "ui.label().classes(row.css)",
    "ui.html": "ui.html(description, sanitize=False)",
    "ui.markdown": 'ui.markdown(f"**{name}**")',
    "ui.run_javascript": 'ui.run_javascript(f"alert({value!r})")',
    "ui.add_head_html": 'ui.add_head_html(f"<title>{name}</title>")',
    "ui.add_body_html": "ui.add_body_html(snippet)",
    "a slot template": 'table.add_slot("body", TEMPLATE.replace("{x}", name))',
    "an HTML notification": 'ui.notify(f"<b>{name}</b>", html=True)',
    "a JavaScript handler": 'ui.button().on("click", js_handler=f"() => alert({name})")',
    "a bound prop": 'element.props[":title"] = name',
    "an event-handler prop": 'element.props["onmouseover"] = code',
    "a computed prop name": "element.props[key] = value",
    "a name rebound later": 'CSS = "a"\nCSS = user_css\nui.label().classes(CSS)',
    "a name that is a parameter elsewhere": 'CSS = "a"\ndef f(CSS):\n    ui.label().classes(CSS)',
    "a module constant built from a call": "CSS = choose()\nui.label().classes(CSS)",
}
GOOD = {
    "a literal": 'ui.label().props("outlined dense").classes("w-full").style("gap: 0")',
    "a conditional between literals": 'ui.label().classes("text-green-700" if ok else "text-red-700")',
    "literals joined": 'ui.label().classes("tabular-nums " + ("text-xl" if strong else ""))',
    "a keyword literal": 'ui.button().props(remove="loading")',
    "a module constant": 'CELL = """<q-td>{{ props.value }}</q-td>"""\ntable.add_slot("body", CELL)',
    "a constant imported from portal": (
        "from portal.components.tables import LINK_CELL\ntable.add_slot('body-cell-number', LINK_CELL)"
    ),
    "a value set as data": 'element.props["alt"] = name\nelement.style["background-color"] = color',
    "the helper": 'set_props(ui.button(), {"aria-label": _("Menu")})',
    "a plain notification": "ui.notify(message, html=False)\nui.notify(message)",
    "a literal HTML head": 'ui.add_head_html(\'<link rel="stylesheet" href="/static/portal.css">\')',
}


@pytest.mark.parametrize("source", BAD.values(), ids=BAD.keys())
def test_the_scan_flags_a_value_in_a_sink(source: str) -> None:
    assert scan(source, "portal/probe.py", allowed={}), f"not flagged:\n{source}"


@pytest.mark.parametrize("source", GOOD.values(), ids=GOOD.keys())
def test_the_scan_passes_constants_and_values_set_as_data(source: str) -> None:
    assert scan(source, "portal/probe.py", allowed={}) == []


def test_an_allowed_exception_is_matched_by_file_and_snippet() -> None:
    source = "ui.label().classes(COLOURS[status])\nui.label().classes(other)"
    allowed = {("portal/probe.py", "classes( COLOURS[status] )"): "a colour from a closed set"}
    assert [f.line for f in scan(source, "portal/probe.py", allowed=allowed)] == [2]
    assert len(scan(source, "portal/elsewhere.py", allowed=allowed)) == 2  # keyed by file too
