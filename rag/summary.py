"""What `summarize` returns: findings with verified citations, the evidence, and references,
with Markdown, JSON, BibTeX, RIS and notebook renderings."""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field

from .pack import Evidence
from .verify import Support

MARKS = {"supported": "", "partial": "?", "unsupported": "✗"}


@dataclass(frozen=True)
class Citation:
    reference: int  # number in the reference list
    passage: Evidence  # the passage the model was shown; passage.text is the quoted evidence
    support: Support
    inferred: bool = False  # attached by the verifier because the model cited nothing

    @property
    def mark(self) -> str:
        return f"[{self.reference}{MARKS[self.support.verdict]}{'†' if self.inferred else ''}]"

    def to_dict(self) -> dict:
        return {"reference": self.reference, "evidence": self.passage.number, "doc_id": self.passage.hit.doc_id,
                "chunk_id": self.passage.hit.chunk_id, "pages": self.passage.hit.pages,
                "support": self.support.score, "verdict": self.support.verdict,
                "missing_terms": list(self.support.missing), "inferred": self.inferred}


@dataclass(frozen=True)
class Finding:
    text: str
    citations: tuple[Citation, ...]

    def to_dict(self) -> dict:
        return {"text": self.text, "citations": [c.to_dict() for c in self.citations]}


@dataclass(frozen=True)
class Reference:
    number: int
    passage: Evidence

    @property
    def label(self) -> str:
        h = self.passage.hit
        authors = list(h.authors)
        who = ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else "") if authors else ""
        venue = ", ".join(str(x) for x in (h.journal, h.year) if x)
        ids = "; ".join(x for x in (f"doi:{h.doi}" if h.doi else "", f"PMID {h.pmid}" if h.pmid else "") if x)
        where = h.pages + (f" ({h.section})" if h.section else "")
        parts = [p for p in (who, h.title, venue, ids) if p]
        return ". ".join(p.rstrip(".") for p in parts) + f". {where}."

    def to_dict(self) -> dict:
        h = self.passage.hit
        return {"number": self.number, "doc_id": h.doc_id, "chunk_id": h.chunk_id, "title": h.title,
                "authors": list(h.authors), "journal": h.journal, "year": h.year, "doi": h.doi, "pmid": h.pmid,
                "pages": h.pages, "section": h.section, "source": h.source, "evidence": self.passage.number,
                "label": self.label}


@dataclass
class Summary:
    query: str
    status: str  # "ok" or "insufficient_evidence"
    answer: str = ""
    findings: list[Finding] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    model: str | None = None
    reason: str | None = None  # why the evidence was judged insufficient
    note: str | None = None  # e.g. which model was chosen for the user
    removed_citations: int = 0  # numbers the model cited that were not in the evidence
    dropped_findings: int = 0  # findings left with no citation that any passage supports
    answer_support: Support | None = None  # the answer line against its best passage
    raw: str = ""  # the model's reply as written
    timings: dict = field(default_factory=dict)

    @property
    def citations(self) -> list[Citation]:
        return [c for f in self.findings for c in f.citations]

    @property
    def supported_share(self) -> float | None:
        cs = self.citations
        return sum(c.support.verdict == "supported" for c in cs) / len(cs) if cs else None

    def __repr__(self) -> str:
        return f"<Summary {self.status}: {len(self.findings)} findings, {len(self.references)} references for {self.query[:50]!r}>"

    # ---- renderings -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"query": self.query, "status": self.status, "answer": self.answer, "reason": self.reason,
                "findings": [f.to_dict() for f in self.findings], "evidence": [e.to_dict() for e in self.evidence],
                "references": [r.to_dict() for r in self.references], "model": self.model, "note": self.note,
                "answer_support": None if self.answer_support is None else
                {"support": self.answer_support.score, "verdict": self.answer_support.verdict,
                 "missing_terms": list(self.answer_support.missing)},
                "supported_share": self.supported_share, "removed_citations": self.removed_citations,
                "dropped_findings": self.dropped_findings, "raw": self.raw, "timings": self.timings}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_markdown(self) -> str:
        lines = [f"## {self.query}", ""]
        if self.status != "ok":
            lines += [f"**The indexed literature does not answer this question.** {self.reason or ''}".rstrip()]
            return "\n".join(lines) + "\n"
        lines += [f"**Answer:** {self.answer}{self._answer_flag()}", "", "**Key findings**", ""]
        lines += [f"- {f.text} {''.join(c.mark for c in f.citations)}" for f in self.findings]
        lines += ["", "**References**", ""]
        lines += [f"{r.number}. {r.label}" for r in self.references]
        lines += ["", self._footer()]
        return "\n".join(lines) + "\n"

    def _answer_flag(self) -> str:
        if self.answer_support is None or self.answer_support.verdict == "supported":
            return ""
        return " _(not clearly supported by any passage: read the findings)_"

    def _footer(self) -> str:
        share = self.supported_share
        bits = [f"{sum(c.support.verdict == 'supported' for c in self.citations)} of {len(self.citations)} "
                f"citations supported ({share:.0%})" if share is not None else "no citations"]
        if self.removed_citations:
            bits.append(f"{self.removed_citations} citation(s) to passages that were not in the evidence removed")
        if self.dropped_findings:
            bits.append(f"{self.dropped_findings} uncited finding(s) dropped")
        legend = "[n?] partly supported, [n✗] not supported by the passage, † cited by medrag's verifier, not the model"
        return f"_{'; '.join(bits)}. Model: {self.model}. {legend}._"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        if self.status != "ok":
            return f"<p><b>{html.escape(self.query)}</b></p><p>The indexed literature does not answer this question. " \
                   f"{html.escape(self.reason or '')}</p>"
        items = "".join(
            "<li>" + html.escape(f.text) + " " + "".join(
                f'<a href="#medrag-ref-{c.reference}" title="{html.escape(c.passage.text[:300])}">'
                f"{html.escape(c.mark)}</a>" for c in f.citations) + "</li>" for f in self.findings)
        refs = "".join(f'<li id="medrag-ref-{r.number}" value="{r.number}">{html.escape(r.label)}</li>'
                       for r in self.references)
        return (f"<p><b>{html.escape(self.query)}</b></p><p><b>Answer:</b> {html.escape(self.answer)}"
                f"<i>{html.escape(self._answer_flag().strip(' _'))}</i></p>"
                f"<p><b>Key findings</b></p><ul>{items}</ul><p><b>References</b></p><ol>{refs}</ol>"
                f"<p><i>{html.escape(self._footer().strip('_'))}</i></p>")

    def _cited_documents(self) -> list[Reference]:
        seen, out = set(), []
        for r in self.references:
            if r.passage.hit.doc_id not in seen:
                seen.add(r.passage.hit.doc_id)
                out.append(r)
        return out

    def to_bibtex(self) -> str:
        """The cited papers as BibTeX entries, one per document."""
        entries, keys = [], set()
        for r in self._cited_documents():
            h = r.passage.hit
            surname = re.sub(r"\W", "", (h.authors[0].split(",")[0].split()[-1] if h.authors else "anon")) or "anon"
            word = next((w for w in re.findall(r"[A-Za-z]{4,}", h.title)), "paper").lower()
            key = base = f"{surname.lower()}{h.year or ''}{word}"
            n = 1
            while key in keys:
                n += 1
                key = f"{base}{n}"
            keys.add(key)
            fields = {"title": h.title, "author": " and ".join(h.authors), "journal": h.journal, "year": h.year,
                      "doi": h.doi, "pmid": h.pmid, "note": f"cited {h.pages}"}
            body = ",\n".join(f"  {k} = {{{_bib(v)}}}" for k, v in fields.items() if v)
            entries.append(f"@article{{{key},\n{body}\n}}")
        return "\n\n".join(entries) + ("\n" if entries else "")

    def to_ris(self) -> str:
        """The cited papers as RIS records, one per document."""
        out = []
        for r in self._cited_documents():
            h = r.passage.hit
            out.append("TY  - JOUR")
            out.append(f"TI  - {h.title}")
            out += [f"AU  - {a}" for a in h.authors]
            for tag, value in (("JO", h.journal), ("PY", h.year), ("DO", h.doi), ("AN", h.pmid)):
                if value:
                    out.append(f"{tag}  - {value}")
            out.append(f"N1  - cited {h.pages}")
            out.append("ER  - ")
            out.append("")
        return "\n".join(out)


def _bib(value) -> str:
    return str(value).replace("{", "(").replace("}", ")")
