"""The `Allow` header of a 405: the methods the OpenAPI document declares for the path."""

from __future__ import annotations

import re
from typing import Any

_PARAMETER = re.compile(r"\{[^/]+?\}")


def allowed_methods(document: dict[str, Any], path: str) -> list[str]:
    """The methods the document declares for `path` (HEAD wherever GET is served).

    As OpenAPI matches URLs, concrete segments win over templated ones: `/threads/search`
    is its own resource, not a `/threads/{thread_id}`.
    """
    found: dict[int, set[str]] = {}
    for template, item in document["paths"].items():
        literal = re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
        if re.fullmatch(_PARAMETER.sub("[^/]+", literal), path):
            parameters = len(_PARAMETER.findall(template))
            found.setdefault(parameters, set()).update(method.upper() for method in item)
    methods = found[min(found)] if found else set()
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)
