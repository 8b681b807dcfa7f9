"""JATS XML full texts (PubMed Central's `<article>`, or efetch's `<pmc-articleset>` of several).

A JATS article marks its own structure, so nothing is guessed: the title, authors, year, journal
and PMID/PMCID/DOI come from `<front>`, the text from the abstract and the `<body>` sections (figure
and table captions kept, also from `<floats-group>`; tables and formulas left out), each paragraph under its section path
("Results / Plasma thyroid hormones"), and the references from `<back>`. JATS has no pages: the
document is one page-less text whose passages carry their section, and citations name it.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import ParseError
from ..records import Document, Page
from .abstracts import Records, parse_xml

KIND = "jats"
ROOT = re.compile(r"<(pmc-articleset|article)[\s>/]")
# Left out of paragraph text: they are not prose (captions are taken separately).
_SKIP = {"fig", "fig-group", "table-wrap", "table-wrap-group", "table", "disp-formula", "disp-formula-group",
         "graphic", "media", "supplementary-material", "alternatives", "tex-math", "math", "object-id"}
_CAPTIONED = {"fig", "table-wrap"}
_BLOCK = {"p", "title", "label", "list-item", "sec", "caption", "def-item", "term"}
_NOT_TEXT = {"title", "label", "sec-meta", "ref-list", "supplementary-material", "object-id", "graphic", "media"}
_ABSTRACT_TYPES = {None, "", "summary", "author-summary"}  # not teasers, graphical or TOC abstracts
_DATE_PREFERENCE = ("epub", "ppub", "pub", "collection", "epub-ppub", "pmc-release")
SECTION_SEPARATOR = " / "


def looks_like_jats(head: str) -> bool:
    return ROOT.search(head) is not None


def read_jats(path: Path, text: str) -> Records:
    root = _strip_namespaces(parse_xml(path, text))
    if root.tag == "article":
        articles = [root]
    elif root.tag == "pmc-articleset":
        articles = root.findall("article")
    else:
        raise ParseError(path, f"XML whose root is <{root.tag}>, not a JATS <article> or <pmc-articleset>")
    docs, problems = [], []
    for i, art in enumerate(articles, 1):
        try:
            docs.append(read_article(path, i, art))
        except ParseError as exc:
            problems.append(exc)
    if not docs and not problems:
        raise ParseError(path, "no <article> in the article set")
    return docs, problems


def read_article(path: Path, index: int, art: ET.Element) -> Document:
    meta = art.find("front/article-meta")
    if meta is None:
        meta = ET.Element("article-meta")
    ids = {(e.get("pub-id-type") or ""): _text(e) for e in meta.findall("article-id")}
    pmcid = ids.get("pmcid") or ids.get("pmc")
    pmcid = "PMC" + re.sub(r"^PMC", "", pmcid) if pmcid else None
    label = pmcid or (f"PMID {ids['pmid']}" if ids.get("pmid") else f"record {index}")
    title = _text(meta.find("title-group/article-title"))

    blocks: list[tuple[tuple[str, ...], str]] = []
    for abstract in meta.findall("abstract"):
        if abstract.get("abstract-type") in _ABSTRACT_TYPES:
            name = _text(abstract.find("title")) or ("Abstract" if not abstract.get("abstract-type") else "Summary")
            # A structured abstract's parts are a few sentences each, shorter than a passage: the
            # abstract is one section, each part labelled in the text as PubMed labels them.
            parts: list = []
            _blocks(abstract, (), parts)
            last = None
            for path_, paragraph in parts:
                part = path_[-1] if path_ else None
                blocks.append(((name,), f"{part}: {paragraph}" if part and path_ != last else paragraph))
                last = path_
    body = art.find("body")
    if body is not None:
        _blocks(body, (), blocks)
    floats = art.find("floats-group")  # PMC puts figures and tables here, after the back matter
    if floats is not None:
        for el in floats.iter():
            if el.tag in _CAPTIONED:
                _caption(el, ("Figures and tables",), blocks)
    if not blocks:
        raise ParseError(f"{path}#{index}", f"{label} has neither body text nor an abstract")

    # One page-less text: the title, then each paragraph; a section starts where its path changes.
    parts, sections, offset, current = [], [], 0, object()
    if title:
        parts.append(title)
        sections.append((0, None))
        offset = len(title) + 2
        current = None
    for path_, paragraph in blocks:
        name = SECTION_SEPARATOR.join(path_) or None
        if name != current:
            sections.append((offset, name))
            current = name
        parts.append(paragraph)
        offset += len(paragraph) + 2
    return Document(
        source=str(path), kind=KIND, pages=(Page(1, "\n\n".join(parts)),), title=title,
        authors=_authors(meta), year=_year(meta), doi=ids.get("doi") or None, pmid=ids.get("pmid") or None,
        journal=_journal(art), record=label, references=tuple(_references(art)), sections=tuple(sections),
    )


def _blocks(el: ET.Element, path: tuple[str, ...], out: list) -> None:
    """Paragraphs under `el` with the section path each sits in, in reading order."""
    for child in el:
        tag = child.tag
        if tag == "sec":
            title = _text(child.find("title"))
            _blocks(child, path + (title,) if title else path, out)
        elif tag == "p":
            text = _text(child)
            if text:
                out.append((path, text))
            for inner in child.iter():
                if inner.tag in _CAPTIONED:
                    _caption(inner, path, out)
        elif tag in _CAPTIONED:
            _caption(child, path, out)
        elif tag in _SKIP or tag in _NOT_TEXT:
            for inner in child.iter():  # a group of figures or tables still has captions
                if inner is not child and inner.tag in _CAPTIONED:
                    _caption(inner, path, out)
        else:  # lists, boxed text, quotes, statements: their paragraphs are prose too
            _blocks(child, path, out)


def _caption(el: ET.Element, path: tuple[str, ...], out: list) -> None:
    caption = _text(el.find("caption"))
    if caption:
        label = _text(el.find("label"))
        out.append((path, f"{label.rstrip('.')}. {caption}" if label else caption))


def _text(el: ET.Element | None) -> str:
    """The element's words, less the parts that are not prose, with whitespace collapsed."""
    if el is None:
        return ""
    parts: list[str] = []

    def walk(node: ET.Element) -> None:
        parts.append(node.text or "")
        for child in node:
            if child.tag not in _SKIP:
                walk(child)
                if child.tag in _BLOCK:  # "...levels.</p><p>*p < 0.05" must not run together
                    parts.append(" ")
            parts.append(child.tail or "")

    walk(el)
    return " ".join("".join(parts).split())


def _strip_namespaces(root: ET.Element) -> ET.Element:
    # JATS itself has no namespace, but MathML, XLink and ALI parts do; "{uri}math" becomes "math".
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]
    return root


def _authors(meta: ET.Element) -> tuple[str, ...]:
    out = []
    for contrib in meta.findall("contrib-group/contrib"):
        if contrib.get("contrib-type", "author") != "author":
            continue
        name = contrib.find("name")
        if name is None:
            name = contrib.find("name-alternatives/name")
        if name is not None:
            out.append(" ".join(x for x in (_text(name.find("given-names")), _text(name.find("surname"))) if x))
        elif contrib.find("string-name") is not None:
            out.append(_text(contrib.find("string-name")))
        elif contrib.find("collab") is not None:
            out.append(_text(contrib.find("collab")))
    return tuple(a for a in out if a)


def _year(meta: ET.Element) -> int | None:
    dates = {}
    for d in meta.findall("pub-date"):
        kind = d.get("pub-type") or d.get("date-type") or "pub"
        year = (d.findtext("year") or "").strip()
        if year.isdigit():
            dates.setdefault(kind, int(year))
    for kind in _DATE_PREFERENCE:
        if kind in dates:
            return dates[kind]
    return next(iter(dates.values()), None)


def _journal(art: ET.Element) -> str | None:
    jm = art.find("front/journal-meta")
    if jm is None:
        return None
    for where in ("journal-title-group/journal-title", "journal-title"):
        if _text(jm.find(where)):
            return _text(jm.find(where))
    ta = next((_text(j) for j in jm.findall("journal-id") if j.get("journal-id-type") == "nlm-ta"), "")
    return ta or None


def _references(art: ET.Element) -> list[str]:
    out = []
    for ref in art.iterfind("back//ref"):
        cit = next((c for c in ref if c.tag in ("mixed-citation", "element-citation", "citation", "nlm-citation")), None)
        if cit is None:
            continue
        label = _text(ref.find("label"))
        # A mixed citation carries its own punctuation between its parts; an element citation is
        # bare parts that need putting together.
        mixed = cit.tag == "mixed-citation" or any((c.tail or "").strip() for c in cit)
        text = _text(cit) if mixed or len(cit) == 0 else _element_citation(cit)
        if text:
            out.append(f"{label.rstrip('.')}. {text}" if label else text)
    return out


def _element_citation(cit: ET.Element) -> str:
    names = []
    for group in cit.findall("person-group") or [cit]:
        if group.get("person-group-type", "author") != "author":
            continue
        for n in group:
            if n.tag in ("name", "string-name"):
                names.append(" ".join(x for x in (_text(n.find("surname")), _text(n.find("given-names"))) if x)
                             or _text(n))
            elif n.tag == "collab":
                names.append(_text(n))
    if cit.find("etal") is not None or any(g.find("etal") is not None for g in cit.findall("person-group")):
        names.append("et al.")
    year, volume = _text(cit.find("year")), _text(cit.find("volume"))
    pages = "-".join(x for x in (_text(cit.find("fpage")), _text(cit.find("lpage"))) if x)
    where = (year + (f";{volume}" if volume else "") + (f":{pages}" if pages else "")).strip(";:")
    parts = [", ".join(names), _text(cit.find("article-title")) or _text(cit.find("chapter-title")),
             _text(cit.find("source")), where]
    text = ". ".join(p.rstrip(".") for p in parts if p)
    ids = {(p.get("pub-id-type") or ""): _text(p) for p in cit.findall("pub-id")}
    extra = [f"doi:{ids['doi']}" if ids.get("doi") else "", f"PMID {ids['pmid']}" if ids.get("pmid") else ""]
    return ". ".join(x for x in [text, *extra] if x) + ("." if text else "")
