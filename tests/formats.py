"""Build each abstract format from real PubMedQA records (the shared data), for tests and benchmarks."""
from __future__ import annotations

import csv
import io
import json
from xml.sax.saxutils import escape


def records(pubmedqa: dict, n: int, offset: int = 0) -> list[dict]:
    out = []
    for pmid, r in list(pubmedqa.items())[offset:offset + n]:
        abstract = " ".join(f"{label}: {text}" for label, text in zip(r["LABELS"], r["CONTEXTS"]))
        out.append({"pmid": pmid, "title": r["QUESTION"], "abstract": abstract, "year": r.get("YEAR"),
                    "doi": f"10.5555/pqa.{pmid}", "authors": ["Doe, Jane", "Roe, Richard"],
                    "journal": "PubMedQA Test Journal"})
    return out


def _wrap(tag: str, text: str) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) > 70:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return f"{tag:<4}- " + "\n      ".join(lines)


def medline(recs: list[dict], broken: bool = True) -> str:
    blocks = []
    for r in recs:
        blocks.append("\n".join([
            f"PMID- {r['pmid']}", _wrap("TI", r["title"]), _wrap("AB", r["abstract"]),
            *[f"FAU - {a}" for a in r["authors"]], f"DP  - {r['year']}", f"JT  - {r['journal']}",
            f"LID - {r['doi']} [doi]"]))
    if broken:
        blocks.append("PMID- 99999999\nTI  - A record that lost its abstract\nDP  - 2001")
    return "\n\n".join(blocks) + "\n"


def pubmed_xml(recs: list[dict], broken: bool = True) -> str:
    arts = []
    for r in recs:
        authors = "".join(f"<Author><LastName>{escape(a.split(', ')[0])}</LastName><ForeName>{escape(a.split(', ')[1])}"
                          "</ForeName></Author>" for a in r["authors"])
        arts.append(
            f"<PubmedArticle><MedlineCitation><PMID>{r['pmid']}</PMID><Article><Journal><JournalIssue><PubDate>"
            f"<Year>{r['year']}</Year></PubDate></JournalIssue><Title>{escape(r['journal'])}</Title></Journal>"
            f"<ArticleTitle>{escape(r['title'])}</ArticleTitle><Abstract><AbstractText>{escape(r['abstract'])}"
            f"</AbstractText></Abstract><AuthorList>{authors}</AuthorList></Article></MedlineCitation>"
            f"<PubmedData><ArticleIdList><ArticleId IdType=\"pubmed\">{r['pmid']}</ArticleId>"
            f"<ArticleId IdType=\"doi\">{r['doi']}</ArticleId></ArticleIdList></PubmedData></PubmedArticle>")
    if broken:
        arts.append("<PubmedArticle><PubmedData/></PubmedArticle>")
    return '<?xml version="1.0"?>\n<PubmedArticleSet>' + "".join(arts) + "</PubmedArticleSet>\n"


def ris(recs: list[dict], broken: bool = True) -> str:
    out = []
    for r in recs:
        out += ["TY  - JOUR", f"TI  - {r['title']}", f"AB  - {r['abstract']}", *[f"AU  - {a}" for a in r["authors"]],
                f"PY  - {r['year']}", f"DO  - {r['doi']}", f"AN  - {r['pmid']}", f"JO  - {r['journal']}", "ER  - ", ""]
    if broken:
        out += ["TY  - JOUR", "TI  - An entry with no abstract", "ER  - ", ""]
    return "\n".join(out)


def bibtex(recs: list[dict], broken: bool = True) -> str:
    out = []
    for r in recs:
        out.append(f"@article{{pqa{r['pmid']},\n  title = {{{r['title']}}},\n  abstract = {{{r['abstract']}}},\n"
                   f"  author = {{{' and '.join(r['authors'])}}},\n  year = {{{r['year']}}},\n  doi = {{{r['doi']}}},\n"
                   f"  pmid = {{{r['pmid']}}},\n  journal = {{{r['journal']}}}\n}}\n")
    if broken:
        out.append("@article{broken,\n  title = {Unclosed brace,\n  year = 2001\n")
    return "\n".join(out)


def jsonl(recs: list[dict], broken: bool = True) -> str:
    lines = [json.dumps({**r, "authors": r["authors"]}) for r in recs]
    if broken:
        lines.append('{"title": "cut off in the middle", "abstract": ')
    return "\n".join(lines) + "\n"


def csv_text(recs: list[dict], broken: bool = True) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["pmid", "title", "abstract", "doi", "year", "authors", "journal"])
    w.writeheader()
    for r in recs:
        w.writerow({**r, "authors": "; ".join(r["authors"])})
    if broken:
        w.writerow({"pmid": "99999998", "title": "no abstract here", "abstract": ""})
    return buf.getvalue()


WRITERS = {"abstracts.nbib": medline, "pubmed.xml": pubmed_xml, "refs.ris": ris, "refs.bib": bibtex,
           "rows.jsonl": jsonl, "rows.csv": csv_text}
