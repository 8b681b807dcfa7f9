"""What a fetched batch holds: the IDs of each record, read from the reply before it is kept.

Each reader is also the check that a reply is whole: PubMed XML and PMC JATS must parse and have the
expected root; MEDLINE text must end with a whole line and each record have a PMID and the SO
(source) line NCBI closes every record with. A reply that fails is BadReply, fetched again, never written.
"""
from __future__ import annotations

import io
import re

from .eutils import BadReply, parse_xml

_DOI = re.compile(r"(10\.\d{4,9}/\S+)")


def pubmed_xml_records(body: bytes) -> list[dict]:
    root = parse_xml(body)
    if root.tag != "PubmedArticleSet":
        raise BadReply(f"expected <PubmedArticleSet>, got <{root.tag}>")
    out = []
    for art in root:
        if art.tag == "PubmedArticle":
            pmid = art.findtext("MedlineCitation/PMID")
            ids = {i.get("IdType"): (i.text or "").strip() for i in art.iterfind("PubmedData/ArticleIdList/ArticleId")}
        elif art.tag == "PubmedBookArticle":
            pmid = art.findtext("BookDocument/PMID")
            ids = {i.get("IdType"): (i.text or "").strip() for i in art.iterfind("PubmedBookData/ArticleIdList/ArticleId")}
        else:
            continue
        if not pmid or not pmid.strip():
            raise BadReply("a PubMed record without its PMID")
        out.append(_ids(pmid=pmid.strip(), doi=ids.get("doi"), pmcid=ids.get("pmc")))
    return out


def medline_records(body: bytes) -> list[dict]:
    from Bio import Medline

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadReply(f"MEDLINE text that is not UTF-8 (byte offset {exc.start})") from None
    if text.lstrip().startswith("<"):
        raise BadReply("expected MEDLINE text, got markup")
    if text.strip() and not text.endswith("\n"):
        raise BadReply("MEDLINE text that stops mid-line (cut short)")
    out = []
    for rec in Medline.parse(io.StringIO(text)):
        if not rec.get("PMID"):
            raise BadReply("a MEDLINE record without its PMID")
        if not str(rec.get("SO") or "").strip():
            raise BadReply(f"MEDLINE record {rec['PMID']} ends before its SO line (cut short)")
        doi = next((x for x in [*(rec.get("AID") or []), rec.get("LID") or ""] if "[doi]" in x), None)
        out.append(_ids(pmid=rec["PMID"], doi=doi, pmcid=rec.get("PMC")))
    return out


def pmc_records(body: bytes) -> list[dict]:
    root = parse_xml(body)
    if root.tag == "article":
        articles = [root]
    elif root.tag == "pmc-articleset":
        articles = root.findall("article")
    else:
        raise BadReply(f"expected <pmc-articleset>, got <{root.tag}>")
    out = []
    for art in articles:
        ids = {(e.get("pub-id-type") or ""): (e.text or "").strip() for e in art.iterfind("front/article-meta/article-id")}
        pmcid = ids.get("pmcid") or ids.get("pmc")
        if not pmcid:
            raise BadReply("a PMC article without its PMCID")
        # PMC answers with the front matter alone, and HTTP 200, when the publisher does not allow
        # the full text to be downloaded: such a record is kept (its abstract is still worth indexing)
        # and marked, so the user knows.
        body_text = art.find("body")
        full = body_text is not None and any(t.strip() for t in body_text.itertext())
        out.append({**_ids(pmcid=pmcid, pmid=ids.get("pmid"), doi=ids.get("doi")), "full_text": full})
    return out


def pmc_number(value: str) -> str:
    """The numeric PMC UID efetch wants, from "PMC1234567" or "1234567"."""
    return re.sub(r"^PMC", "", str(value).strip(), flags=re.IGNORECASE)


def _ids(pmid=None, doi=None, pmcid=None) -> dict:
    out = {}
    if pmid:
        out["pmid"] = str(pmid).strip()
    if pmcid:
        out["pmcid"] = "PMC" + pmc_number(pmcid)
    if doi:
        m = _DOI.search(str(doi))
        if m:
            out["doi"] = m.group(1).rstrip(".")
    return out
