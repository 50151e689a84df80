"""Griffe extension: Sphinx cross-reference roles as Markdown code.

The docstrings of qnrecovery name other objects the Sphinx way
(``:class:`~qnrecovery.interfaces.PathProblem```). mkdocstrings renders
Markdown, where such a role would show up verbatim; this extension turns each
into inline code with the name the role would display (the last component
after ``~``, else the full target).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const|ref|term):`([^`]+)`"
)


def _shown(match: re.Match[str]) -> str:
    target = match.group(1).strip()
    explicit = re.fullmatch(r"(.+?)\s*<([^>]+)>", target)
    if explicit is not None:
        return f"`{explicit.group(1)}`"
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


class SphinxRoles(Extension):
    """Rewrite Sphinx roles in every docstring once the tree is loaded."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_shown, obj.docstring.value)
