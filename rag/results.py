"""Result containers that read well in a notebook: a list of hits that renders as a table."""
from __future__ import annotations

import html
import json

from .records import Hit


class Hits(list):
    """A list of Hit with the query it answers; renders as a table in Jupyter."""

    def __init__(self, query: str, hits: list[Hit], mode: str = "hybrid"):
        super().__init__(hits)
        self.query = query
        self.mode = mode

    def __repr__(self) -> str:
        return f"<Hits {len(self)} for {self.query[:60]!r} ({self.mode})>"

    def to_dict(self) -> dict:
        return {"query": self.query, "mode": self.mode, "hits": [h.to_dict() for h in self]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{h.rank}</td><td>{h.score:.4f}</td><td>{html.escape(h.title[:90])}</td><td>{h.year or ''}</td>"
            f"<td>{h.pages}</td><td>{html.escape(h.section or '')}</td><td>{html.escape(shorten(h.text, 240))}</td></tr>"
            for h in self)
        return (f"<p><b>{len(self)} passages</b> for <i>{html.escape(self.query)}</i> ({self.mode})</p>"
                "<table><tr><th>#</th><th>score</th><th>title</th><th>year</th><th>pages</th><th>section</th>"
                f"<th>passage</th></tr>{rows}</table>")

    def _repr_markdown_(self) -> str:
        lines = [f"**{len(self)} passages** for *{self.query}* ({self.mode})", "",
                 "| # | score | title | year | pages | section | passage |", "|---|---|---|---|---|---|---|"]
        for h in self:
            cell = shorten(h.text, 160).replace("|", "\\|")
            lines.append(f"| {h.rank} | {h.score:.4f} | {h.title[:60].replace('|', '/')} | {h.year or ''} | "
                         f"{h.pages} | {h.section or ''} | {cell} |")
        return "\n".join(lines)


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[:width].rsplit(" ", 1)[0]
    return cut + " …"
