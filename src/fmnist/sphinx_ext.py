"""A Sphinx extension for the report site: pages a screen reader can read, without script errors.

- Every figure's alt text is the description its PNG carries (`plots.style.save` writes what the
  figure shows, in words, into the image); myst-nb gives a notebook's images none.
- Every table has header cells with text: pandas' index-name row is folded into the header row,
  and a header cell left empty (a table's corner) becomes a data cell. A table wider than the
  column scrolls (the site's stylesheet), so it can take the keyboard's focus.
- The bibliography's entries are list items of its list (docutils marks them with a role that
  ARIA deprecated, which leaves the list with children it does not allow).
- With Jupyter Book 1.0.4 (sphinx-thebe 0.3.1, Sphinx 7) every page got sphinx-thebe's inline
  configuration script twice, and the second `const THEBE_JS_URL` raised a JavaScript error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup
from docutils import nodes
from PIL import Image

from fmnist.plots import PNG_DESCRIPTION  # `fmnist.plots` alone loads no matplotlib

TABLE = re.compile(r"<table\b.*?</table>", re.DOTALL)


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


def png_description(path: Path) -> str | None:
    """The description a PNG carries in its text fields, if it is a PNG that has one."""
    try:
        with Image.open(path) as image:
            text = getattr(image, "text", {}).get(PNG_DESCRIPTION)
    except (OSError, ValueError):
        return None
    return " ".join(text.split()) if text else None


def describe_images(app, doctree) -> None:
    """Give each image without alt text the description its file carries."""
    for node in doctree.findall(nodes.image):
        if node.get("alt") or "://" in node["uri"] or node["uri"].startswith("data:"):
            continue
        path = Path(app.env.relfn2path(node["uri"], app.env.docname)[1])
        text = png_description(path)
        if text:
            node["alt"] = text


def _empty(cell) -> bool:
    return not cell.get_text().strip()


def fix_table(html: str) -> str:
    """One HTML table with header cells a screen reader can name (see the module's note)."""
    soup = BeautifulSoup(html, "html.parser")
    table = soup.table
    rows = table.thead.find_all("tr", recursive=False) if table.thead else []
    if len(rows) == 2:  # pandas: column names, then a row holding only the index's name
        top, names = (row.find_all(["th", "td"], recursive=False) for row in rows)
        if names and top and _empty(top[0]) and not _empty(names[0]) and all(
                _empty(c) for c in names[1:]):
            top[0].clear()
            top[0].append(names[0].get_text().strip())
            rows[1].decompose()
    for cell in table.find_all("th"):
        if _empty(cell):
            cell.name = "td"
    if not table.has_attr("tabindex"):
        table["tabindex"] = "0"
    return str(soup)


def fix_body(body: str) -> str:
    """A page's HTML body with every table fixed and the bibliography's entries as list items."""
    body = TABLE.sub(lambda m: fix_table(m.group(0)), body)
    return body.replace('role="doc-biblioentry"', 'role="listitem"')


def fix_page(app, pagename, templatename, context, doctree) -> None:
    """Rewrite the rendered body of a page (`fix_body`)."""
    if "body" in context:
        context["body"] = fix_body(context["body"])


def setup(app) -> dict[str, Any]:
    # Early: `html-page-context` stops at the first handler that returns a template name.
    app.connect("html-page-context", dedupe_scripts, priority=100)
    app.connect("html-page-context", fix_page, priority=100)
    # Before Sphinx's image collector (priority 500) rewrites each image's path.
    app.connect("doctree-read", describe_images, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
