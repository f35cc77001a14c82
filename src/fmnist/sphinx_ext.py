"""A Sphinx extension for the report site: drop scripts that a page would include twice.

With Jupyter Book 1.0.4 (sphinx-thebe 0.3.1, Sphinx 7) every page got sphinx-thebe's inline
configuration script twice, and the second `const THEBE_JS_URL` raised a JavaScript error.
"""

from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple[str, str]:
    attributes = getattr(script, "attributes", {}) or {}
    # The same inline script arrives once with filename None and once with "".
    return (str(getattr(script, "filename", script) or ""), str(attributes.get("body", "")))


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep the first of identical script entries of a page."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app) -> dict[str, Any]:
    # Early: `html-page-context` stops at the first handler that returns a template name.
    app.connect("html-page-context", dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
