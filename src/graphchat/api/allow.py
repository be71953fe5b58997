"""The `Allow` header of a 405: the methods the OpenAPI document declares for the path."""

from __future__ import annotations

import re
from typing import Any


def allowed_methods(document: dict[str, Any], path: str) -> list[str]:
    """The methods the document declares for `path` (HEAD wherever GET is served)."""
    methods: set[str] = set()
    for template, item in document["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path):
            methods |= {method.upper() for method in item}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)
