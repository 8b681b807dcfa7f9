"""A local E-utilities for the corpus tests: esearch and efetch answered from real captured replies
(tests/data/eutils, tests/data/jats), with faults scripted request by request.

Records beyond the captured ones are PubMedQA records (the shared data) put into the structure of the
captured PubMed XML and MEDLINE replies, so every reply has the shape NCBI gives it.
"""
from __future__ import annotations

import copy
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .formats import medline as medline_text

DATA = Path(__file__).parent / "data"
EUTILS = DATA / "eutils"
JATS = DATA / "jats"
_ARTICLE = re.compile(r"<article[\s>].*?</article>", re.DOTALL)
_PUBMED_ARTICLE = re.compile(r"<PubmedArticle>.*?</PubmedArticle>", re.DOTALL)


def _header(text: str, root: str) -> str:
    """The XML declaration and DOCTYPE of a captured reply: everything before its root element."""
    return text[:text.index(f"<{root}")]


@dataclass
class Logged:
    method: str
    utility: str
    params: dict
    at: float


@dataclass
class FakeEUtils:
    pubmed: dict[str, str] = field(default_factory=dict)  # PMID -> <PubmedArticle> XML
    medline: dict[str, str] = field(default_factory=dict)  # PMID -> MEDLINE record
    pmc: dict[str, str] = field(default_factory=dict)  # numeric PMC UID -> <article> XML
    searches: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (db, term) -> IDs
    faults: list[tuple[str, str, str | None]] = field(default_factory=list)  # (utility, kind, arg), used in order
    always: dict[str, str] = field(default_factory=dict)  # utility -> fault once `faults` has none for it
    hang_seconds: float = 2.0
    log: list[Logged] = field(default_factory=list)
    url: str = ""

    # ---- what the tests script ----------------------------------------------------------------
    def fail(self, utility: str, kind: str, arg: str | None = None) -> None:
        """The next request to `utility` gets `kind`: 429, 500, 400, hang, truncate, malformed, ok."""
        self.faults.append((utility, kind, arg))

    def requests(self, utility: str | None = None) -> list[Logged]:
        return [r for r in self.log if utility is None or r.utility == utility]

    def fetched_ids(self) -> list[str]:
        return [i for r in self.requests("efetch.fcgi") for i in r.params["id"].split(",")]

    # ---- replies ----------------------------------------------------------------------------
    def reply(self, utility: str, params: dict) -> tuple[int, dict, bytes]:
        if utility == "esearch.fcgi":
            return 200, {"Content-Type": "text/xml; charset=UTF-8"}, self._esearch(params)
        if utility == "efetch.fcgi":
            return self._efetch(params)
        return 404, {}, b"<html>not found</html>"

    def _esearch(self, params: dict) -> bytes:
        db, term = params.get("db", "pubmed"), params.get("term", "")
        ids = self.searches.get((db, term))
        if ids is None and "[doi]" in term:
            wanted = {d.lower() for d in re.findall(r'"([^"]+)"\[doi\]', term)}
            ids = [pmid for pmid, xml in self.pubmed.items()
                   if any(d.lower() in wanted for d in re.findall(r'IdType="doi">([^<]+)<', xml))]
        if not ids:
            return (EUTILS / "esearch8.xml").read_bytes()  # NCBI's reply when nothing matched
        start, count = int(params.get("retstart", 0)), int(params.get("retmax", 20))
        text = (EUTILS / "esearch1.xml").read_text()
        root = ET.fromstring(text.encode())
        root.find("Count").text = str(len(ids))
        root.find("RetMax").text = str(len(ids[start:start + count]))
        root.find("RetStart").text = str(start)
        id_list = root.find("IdList")
        for old in list(id_list):
            id_list.remove(old)
        for i in ids[start:start + count]:
            ET.SubElement(id_list, "Id").text = i
        root.find("QueryTranslation").text = term
        return (_header(text, "eSearchResult") + ET.tostring(root, encoding="unicode") + "\n").encode()

    def _efetch(self, params: dict) -> tuple[int, dict, bytes]:
        ids = [i for i in params.get("id", "").split(",") if i]
        db = params.get("db", "pubmed")
        if db == "pmc":
            text = (EUTILS / "efetch_pmc.xml").read_text()
            body = _header(text, "pmc-articleset") + "<pmc-articleset>" + \
                "\n".join(self.pmc[i] for i in ids if i in self.pmc) + "\n</pmc-articleset>"
            return 200, {"Content-Type": "text/xml; charset=UTF-8"}, body.encode()
        if params.get("rettype") == "medline":
            body = "\n" + "\n\n".join(self.medline[i] for i in ids if i in self.medline) + "\n"
            return 200, {"Content-Type": "text/plain; charset=UTF-8"}, body.encode()
        text = (EUTILS / "pubmed2.xml").read_text()
        body = _header(text, "PubmedArticleSet") + "<PubmedArticleSet>\n" + \
            "\n".join(self.pubmed[i] for i in ids if i in self.pubmed) + "\n</PubmedArticleSet>\n"
        return 200, {"Content-Type": "text/xml; charset=UTF-8"}, body.encode()

    def next_fault(self, utility: str) -> tuple[str | None, str | None]:
        for n, (u, kind, arg) in enumerate(self.faults):
            if u == utility:
                del self.faults[n]
                return kind, arg
        return self.always.get(utility), None


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self._serve(urlsplit(self.path).query)

    def do_POST(self):
        self._serve(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())

    def _serve(self, query: str):
        fake: FakeEUtils = self.server.fake
        utility = urlsplit(self.path).path.rsplit("/", 1)[-1]
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        fake.log.append(Logged(self.command, utility, params, time.monotonic()))
        kind, arg = fake.next_fault(utility)
        try:
            if kind == "429":  # NCBI's own words when the rate is exceeded, quoting the key (or address) back
                body = json.dumps({"error": "API rate limit exceeded", "api-key": params.get("api_key", "127.0.0.1"),
                                   "count": "11", "limit": "10"}).encode()
                return self._send(429, {"Retry-After": arg or "1", "Content-Type": "application/json"}, body)
            if kind == "500":
                return self._send(500, {"Content-Type": "text/html"}, b"<html><body>Internal Server Error</body></html>")
            if kind == "400":
                return self._send(400, {"Content-Type": "application/json"}, b'{"error":"API key invalid"}')
            status, headers, body = fake.reply(utility, params)
            if kind == "hang":  # the client times out first; what follows goes nowhere
                time.sleep(fake.hang_seconds)
            if kind == "truncate":  # announce the whole body, send half, close
                self.send_response(status)
                for k, v in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if kind == "malformed":  # a whole reply of half a document
                body = body[:len(body) // 2]
            self._send(status, headers, body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, status: int, headers: dict, body: bytes):
        self.send_response(status)
        for k, v in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start(fake: FakeEUtils) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.fake = fake
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/entrez/eutils/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


# ---- the records it serves ---------------------------------------------------------------------
def real_pubmed() -> dict[str, str]:
    """The two articles of the captured efetch reply, by PMID."""
    text = (EUTILS / "pubmed2.xml").read_text()
    return {re.search(r"<PMID[^>]*>(\d+)</PMID>", a).group(1): a for a in _PUBMED_ARTICLE.findall(text)}


def real_medline() -> dict[str, str]:
    """The four records of the captured MEDLINE reply, by PMID."""
    text = (EUTILS / "pubmed_result2.txt").read_text()
    records = [r.strip("\n") for r in re.split(r"\n\s*\n(?=PMID- )", text) if r.strip()]
    return {re.match(r"PMID- (\d+)", r).group(1): r for r in records}


def real_pmc() -> dict[str, str]:
    """Three JATS articles by numeric PMC UID: the captured efetch's correction and two OA papers."""
    out = {}
    for path in (EUTILS / "efetch_pmc.xml", JATS / "ehp-116-1694.nxml", JATS / "1472-6831-8-11.nxml"):
        article = _ARTICLE.search(path.read_text()).group(0)
        pmc = re.search(r'<article-id pub-id-type="pmc">(\d+)</article-id>', article).group(1)
        out[pmc] = article
    return out


def front_only(article: str) -> str:
    """A JATS article as PMC serves it when the publisher does not allow the full text: front matter only."""
    return re.sub(r"<body>.*</back>", "", article, flags=re.DOTALL)


def pubmedqa_pubmed(recs: list[dict]) -> dict[str, str]:
    """PubMedQA records (tests.formats.records) in the structure of the captured PubmedArticle."""
    template = ET.fromstring(next(iter(real_pubmed().values())))
    out = {}
    for r in recs:
        art = copy.deepcopy(template)
        cit = art.find("MedlineCitation")
        cit.find("PMID").text = r["pmid"]
        article = cit.find("Article")
        article.find("ArticleTitle").text = r["title"]
        article.find("Journal/Title").text = r["journal"]
        article.find("Journal/JournalIssue/PubDate/Year").text = str(r["year"])
        abstract = article.find("Abstract")
        for old in list(abstract):
            abstract.remove(old)
        ET.SubElement(abstract, "AbstractText").text = r["abstract"]
        authors = article.find("AuthorList")
        for old in list(authors):
            authors.remove(old)
        for a in r["authors"]:
            last, first = a.split(", ")
            au = ET.SubElement(authors, "Author", ValidYN="Y")
            ET.SubElement(au, "LastName").text = last
            ET.SubElement(au, "ForeName").text = first
        ids = art.find("PubmedData/ArticleIdList")
        for old in list(ids):
            ids.remove(old)
        ET.SubElement(ids, "ArticleId", IdType="pubmed").text = r["pmid"]
        ET.SubElement(ids, "ArticleId", IdType="doi").text = r["doi"]
        out[r["pmid"]] = ET.tostring(art, encoding="unicode")
    return out


def pubmedqa_medline(recs: list[dict]) -> dict[str, str]:
    """PubMedQA records as MEDLINE records, closed with the SO line as NCBI closes every record."""
    blocks = medline_text(recs, broken=False).strip("\n").split("\n\n")
    return {r["pmid"]: f"{b}\nSO  - {r['journal']}. {r['year']}." for r, b in zip(recs, blocks)}
