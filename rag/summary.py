"""What `summarize` returns: findings with verified citations, the evidence, and references,
with Markdown, JSON, BibTeX, RIS and notebook renderings."""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field

from .pack import Evidence
from .verify import Support

EXTRACTIVE = "extractive"  # the model name that asks for the extractive summarizer

MARKS = {"supported": "", "partial": "?", "unsupported": "✗"}


@dataclass(frozen=True)
class Citation:
    reference: int  # number of the cited paper in the reference list
    passage: Evidence  # the passage the model was shown
    support: Support  # the verifier's verdict; support.quote is the passage's best supporting sentence(s)
    inferred: bool = False  # attached by the verifier because the model cited nothing

    @property
    def mark(self) -> str:
        return f"[{self.reference}{MARKS[self.support.verdict]}{'†' if self.inferred else ''}]"

    @property
    def quote(self) -> str:
        """Verbatim text of the paper, chosen by the verifier, never written by the model."""
        return " ".join((self.support.quote or self.passage.text).split())

    @property
    def page(self) -> str:
        return self.passage.hit.pages

    @property
    def where(self) -> str:
        """The page and section ("p. 3, Methods"), or the section alone for a source without pages."""
        return self.passage.hit.where

    @property
    def place(self) -> str:
        """The page; for a source without pages (JATS), the section ("" when it has none)."""
        return self.page or self.passage.hit.section or ""

    def to_dict(self) -> dict:
        h = self.passage.hit
        return {"reference": self.reference, "evidence": self.passage.number, "doc_id": h.doc_id,
                "chunk_id": h.chunk_id, "page": h.pages, "page_start": h.page_start, "page_end": h.page_end,
                "section": h.section, "quote": self.quote, "support": self.support.score,
                "verdict": self.support.verdict, "reason": self.support.reason,
                "missing_terms": list(self.support.missing), "inferred": self.inferred}


@dataclass(frozen=True)
class Finding:
    text: str
    citations: tuple[Citation, ...]

    def to_dict(self) -> dict:
        return {"text": self.text, "citations": [c.to_dict() for c in self.citations]}


@dataclass(frozen=True)
class Reference:
    """One cited paper; the pages and quotes belong to the citations that point at it."""

    number: int
    passage: Evidence  # the first passage of this paper that was cited (for the paper's metadata)

    @property
    def label(self) -> str:
        h = self.passage.hit
        authors = list(h.authors)
        who = ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else "") if authors else ""
        venue = ", ".join(str(x) for x in (h.journal, h.year) if x)
        ids = "; ".join(x for x in (f"doi:{h.doi}" if h.doi else "", f"PMID {h.pmid}" if h.pmid else "") if x)
        parts = [p for p in (who, h.title, venue, ids) if p]
        return ". ".join(p.rstrip(".") for p in parts) + "."

    def to_dict(self) -> dict:
        h = self.passage.hit
        return {"number": self.number, "doc_id": h.doc_id, "title": h.title, "authors": list(h.authors),
                "journal": h.journal, "year": h.year, "doi": h.doi, "pmid": h.pmid, "source": h.source,
                "kind": h.kind, "label": self.label}


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
    meta_statements: int = 0  # not findings (about the paper, aims, questions, headings): dropped
    stopped: str | None = None  # "repetition": the model began to loop; "budget": cut off mid-finding
    answer_support: Support | None = None  # the answer line against its best passage
    raw: str = ""  # the model's reply as written
    # Set when the model's reply held no finding that verifies and the findings are the evidence's
    # own sentences instead (as `--model extractive` chooses them): why, in a sentence.
    fallback: str | None = None
    # The question's gene, variant and drug names that no indexed paper uses ("pembrolizumab").
    unmatched: tuple[str, ...] = ()
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
                "dropped_findings": self.dropped_findings, "meta_statements": self.meta_statements,
                "stopped": self.stopped, "fallback": self.fallback, "verbatim": self.verbatim,
                "unmatched": list(self.unmatched), "raw": self.raw,
                "timings": self.timings}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_markdown(self) -> str:
        lines = [f"## {self.query}", ""]
        if self.status != "ok":
            lines += [f"**The indexed literature does not answer this question.** {self.reason or ''}".rstrip()]
            return "\n".join(lines) + "\n"
        if self.fallback:
            lines += [f"_{self.fallback}._", ""]
        if self.unmatched:
            lines += [f"_{self.unmatched_line}._", ""]
        if self.answer:
            lines += [f"**Answer:** {self.answer}{self._answer_flag()}", ""]
        lines += ["**Key findings**", ""]
        for f in self.findings:
            lines.append(f"- {f.text} {''.join(c.mark for c in f.citations)}")
            for c in f.citations:
                cited = f"{c.mark} {c.where}" if c.where else c.mark
                if c.quote == " ".join(f.text.split()):  # an extractive finding is its own quote
                    lines.append(f"  > {cited}: the paper's own sentence, verbatim")
                else:
                    lines.append(f"  > {cited}: “{_clip(c.quote)}”")
        lines += ["", "**References**", ""]
        lines += [f"{r.number}. {r.label}" for r in self.references]
        lines += ["", self._footer()]
        return "\n".join(lines) + "\n"

    @property
    def unmatched_line(self) -> str:
        names = " or ".join(f"'{w}'" for w in self.unmatched)
        return f"No indexed paper names {names}: read the findings as evidence on the rest of the question"

    def _answer_flag(self) -> str:
        if self.answer_support is None or self.answer_support.verdict == "supported":
            return ""
        return " _(not clearly supported by any passage: read the findings)_"

    @property
    def verbatim(self) -> bool:
        """Whether the findings are sentences of the papers, verbatim (the extractive summarizer's, or a
        generator's fallback to them): each is its own quote, so "supported" says nothing about it."""
        return bool(self.findings) and (self.model == EXTRACTIVE or bool(self.fallback))

    def _footer(self) -> str:
        share = self.supported_share
        if self.verbatim:
            bits = [f"{len(self.findings)} finding(s), each a sentence of its paper quoted verbatim: chosen for "
                    f"closeness to the question, which does not prove that it answers it"]
        else:
            bits = [f"{sum(c.support.verdict == 'supported' for c in self.citations)} of {len(self.citations)} "
                    f"citations supported ({share:.0%})" if share is not None else "no citations"]
        if self.removed_citations:
            bits.append(f"{self.removed_citations} citation(s) to passages that were not in the evidence removed")
        if self.dropped_findings:
            bits.append(f"{self.dropped_findings} uncited finding(s) dropped")
        if self.meta_statements:
            bits.append(f"{self.meta_statements} statement(s) that are not findings (about the paper, a question, "
                        f"a heading) dropped")
        if self.stopped == "repetition":
            bits.append("the model began repeating itself and was stopped")
        elif self.stopped == "budget":
            bits.append("the reply reached its token budget; its last, unfinished finding was dropped")
        legend = "[n] is paper n" if self.verbatim else \
            ("[n] is paper n, quoted under the finding; [n?] partly supported, [n✗] not supported by the "
             "passage, † cited by medrag's verifier, not the model")
        model = f"{self.model}, findings extractive" if self.fallback else self.model
        return f"_{'; '.join(bits)}. Model: {model}. {legend}._"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        if self.status != "ok":
            return f"<p><b>{html.escape(self.query)}</b></p><p>The indexed literature does not answer this question. " \
                   f"{html.escape(self.reason or '')}</p>"
        items = "".join(
            "<li>" + html.escape(f.text) + " " + "".join(
                f'<details style="display:inline"><summary style="display:inline;cursor:pointer" '
                f'title="{html.escape(c.place)}: {html.escape(_clip(c.quote))}">{html.escape(c.mark)}</summary>'
                f'<blockquote>{html.escape(c.quote)} <i>(<a href="#medrag-ref-{c.reference}">'
                f'{html.escape(c.passage.hit.title[:80])}</a>{", " + html.escape(c.place) if c.place else ""})</i>'
                f'</blockquote></details>'
                for c in f.citations) + "</li>" for f in self.findings)
        refs = "".join(f'<li id="medrag-ref-{r.number}" value="{r.number}">{html.escape(r.label)}</li>'
                       for r in self.references)
        answer = (f"<p><b>Answer:</b> {html.escape(self.answer)}<i>{html.escape(self._answer_flag().strip(' _'))}</i>"
                  "</p>") if self.answer else ""
        fallback = f"<p><i>{html.escape(self.fallback)}.</i></p>" if self.fallback else ""
        unmatched = f"<p><i>{html.escape(self.unmatched_line)}.</i></p>" if self.unmatched else ""
        return (f"<p><b>{html.escape(self.query)}</b></p>{fallback}{unmatched}{answer}"
                f"<p><b>Key findings</b></p><ul>{items}</ul><p><b>References</b></p><ol>{refs}</ol>"
                f"<p><i>{html.escape(self._footer().strip('_'))}</i></p>")

    def _cited_documents(self) -> list[Reference]:
        seen, out = set(), []
        for r in self.references:
            if r.passage.hit.doc_id not in seen:
                seen.add(r.passage.hit.doc_id)
                out.append(r)
        return out

    def _cited_pages(self, reference: Reference) -> str:
        pages = dict.fromkeys(c.place for c in self.citations if c.reference == reference.number)
        return ", ".join(p for p in pages if p) or reference.passage.hit.pages or "full text"

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
                      "doi": h.doi, "pmid": h.pmid, "note": f"cited {self._cited_pages(r)}"}
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
            out.append(f"N1  - cited {self._cited_pages(r)}")
            out.append("ER  - ")
            out.append("")
        return "\n".join(out)


def _clip(text: str, width: int = 300) -> str:
    """A quote shortened at a word boundary for display (the full quote is in the JSON)."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width].rsplit(" ", 1)[0] + " …"


def _bib(value) -> str:
    return str(value).replace("{", "(").replace("}", ")")
