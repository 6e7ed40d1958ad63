"""Element properties set from values, never parsed from strings.

`element.props(f"alt='{name}'")` parses its text: a quote in `name` ends the value and the rest becomes new
attributes (an `onmouseover=...` handler). `set_props` puts each value into the element's props dictionary
as data, so Vue renders it as one attribute value whatever it holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from nicegui.element import Element

E = TypeVar("E", bound=Element)

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# Vue binds ":x" and "v-..." as JavaScript and "@x" as a handler; an attribute "on..." is a handler too.
_CODE_PREFIXES = (":", "@", "v-", "on")


def set_props(element: E, values: Mapping[str, Any]) -> E:
    """Set each named prop (e.g. {"alt": name, "aria-label": _("Menu")}) to its value; return the element.

    Names are fixed by the code: one that Vue or the browser would run as code is refused.
    """
    for name in values:
        if not _NAME.fullmatch(name) or name.lower().startswith(_CODE_PREFIXES):
            raise ValueError(f"not a plain property name: {name!r}")
    element.props.update(values)
    return element
