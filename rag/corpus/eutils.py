"""A small, polite client for NCBI's E-utilities: esearch and efetch, with limits NCBI asks for.

Why the standard library's urllib and not Biopython's `Bio.Entrez` (which medrag otherwise uses,
`Bio.Medline` reads MEDLINE here and in `rag.ingest`): in Biopython 1.88 each Entrez function
hard-codes its NCBI URL, so a mirror, proxy or test server cannot be named; `email`, `tool` and
`api_key` are module globals shared by the whole process; requests have no timeout, so a stalled
connection hangs forever; failures are retried a fixed 3 times, 15 s apart, without regard to a
429's Retry-After; and a 200 reply is passed on without checking that it is whole and well formed.
What medrag needs on top of urllib is about the size of this module, and it does all of that.

NCBI's rules (https://www.ncbi.nlm.nih.gov/books/NBK25497/): at most 3 requests a second without an
API key, 10 with one; `tool` and `email` identify the caller; POST for long ID lists.
"""
from __future__ import annotations

import email.utils
import http.client
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from .. import __version__, config
from ..errors import FetchError

# Seconds between two requests. 1/3 s is NCBI's limit; Biopython found 0.37 s kept clear of 429s.
MIN_INTERVAL = 0.37
MIN_INTERVAL_WITH_KEY = 0.11
POST_OVER_CHARS = 1000  # NCBI: use POST when the URL would be long (and for more than ~200 IDs)
POST_FROM_IDS = 200
MAX_RETRY_AFTER = 300.0  # a server asking for a longer pause than this is answered by giving up later

_turns: dict[str, float] = {}  # host -> when its last request went out, shared by every client
_turns_lock = threading.Lock()


class BadReply(ValueError):
    """A reply that arrived whole but is not what was asked for (malformed or an error page)."""


@dataclass(frozen=True)
class SearchPage:
    count: int  # all matches of the query
    ids: list[str]  # the matches on this page
    translation: str = ""  # the query as NCBI understood it
    warnings: tuple[str, ...] = ()


@dataclass
class EUtils:
    """esearch and efetch against `base_url`, one request at a time within NCBI's rate.

    Every None falls back to its environment variable (MEDRAG_EUTILS_URL, NCBI_EMAIL, NCBI_API_KEY,
    NCBI_TOOL) and then to NCBI's own address and the tool name "medrag". A request that fails with
    429, 5xx, a timeout, a broken connection, a cut-short body or an unusable reply is tried again
    after `backoff` seconds, doubling each time up to `max_backoff` (or as long as a 429's Retry-After
    asks); after `retries` tries, FetchError names what was asked for and what went wrong.
    """

    base_url: str | None = None
    email: str | None = None
    api_key: str | None = None
    tool: str | None = None
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    min_interval: float | None = None  # seconds between requests [default: by NCBI's rule]
    requests: int = field(default=0, init=False)  # HTTP requests made, retries included

    def __post_init__(self):
        self.base_url = (self.base_url or config.eutils_url()).rstrip("/") + "/"
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise FetchError(f"E-utilities URL {self.base_url!r} is not an http(s) URL")
        self.email = self.email or config.ncbi_email()
        self.api_key = self.api_key or config.ncbi_api_key()
        self.tool = self.tool or config.ncbi_tool()
        if self.retries < 1:
            raise FetchError(f"retries must be at least 1, not {self.retries}")
        if self.min_interval is None:
            self.min_interval = MIN_INTERVAL_WITH_KEY if self.api_key else MIN_INTERVAL

    # ---- the two utilities ------------------------------------------------------------------
    def esearch(self, db: str, term: str, *, retstart: int = 0, retmax: int = 10_000) -> SearchPage:
        """One page of the IDs that match `term` in `db` (pubmed or pmc)."""
        params = {"db": db, "term": term, "retstart": retstart, "retmax": retmax}
        return self.call("esearch.fcgi", params, f"esearch {db} for {_clip(term, 80)!r}", _read_search)

    def efetch(self, db: str, ids: list[str], *, rettype: str | None = None, retmode: str = "xml",
               check: Callable[[bytes], object] | None = None):
        """The records of `ids` from `db`, as the raw bytes and whatever `check` makes of them.

        `check` turns the body into something (the records it holds) or raises BadReply, so a
        reply that is cut short or malformed is fetched again rather than kept."""
        params = {"db": db, "id": ",".join(ids), "retmode": retmode}
        if rettype:
            params["rettype"] = rettype
        what = f"efetch {db} {_describe(ids)}"
        return self.call("efetch.fcgi", params, what, lambda body: (body, check(body) if check else None))

    # ---- the machinery ------------------------------------------------------------------------
    def call(self, utility: str, params: dict, what: str, read: Callable[[bytes], object]):
        """Request `utility` until `read` accepts the reply, or give up with FetchError."""
        url = self.base_url + utility
        query = urlencode({**params, **self._identity()})
        post = len(query) > POST_OVER_CHARS or str(params.get("id", "")).count(",") + 1 >= POST_FROM_IDS
        problem = ""
        for attempt in range(1, self.retries + 1):
            wait = None
            self._take_turn()
            self.requests += 1
            request = Request(url if post else f"{url}?{query}", data=query.encode() if post else None,
                              headers={"User-Agent": f"medrag/{__version__}"})
            try:
                with urlopen(request, timeout=self.timeout) as reply:
                    body = reply.read()  # raises IncompleteRead when the body is shorter than announced
                return read(body)
            except HTTPError as exc:
                problem = f"HTTP {exc.code} {exc.reason}{_snippet(exc)}"
                if exc.code != 429 and exc.code < 500:
                    if self.api_key:
                        problem = problem.replace(self.api_key, "(API key)")
                    raise FetchError(f"{what}: {url} answered {problem}") from None
                wait = _retry_after(exc.headers.get("Retry-After")) if exc.code == 429 else None
            except BadReply as exc:
                problem = f"unusable reply ({exc})"
            except http.client.IncompleteRead as exc:
                problem = f"reply cut short ({len(exc.partial)} bytes of {len(exc.partial) + (exc.expected or 0)})"
            except (TimeoutError, socket.timeout):
                problem = f"no reply within {self.timeout:g} s"
            except URLError as exc:
                reason = exc.reason
                problem = (f"no reply within {self.timeout:g} s" if isinstance(reason, (TimeoutError, socket.timeout))
                           else f"cannot connect ({reason})")
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                problem = f"connection failed ({type(exc).__name__}: {exc})"
            if attempt < self.retries:
                time.sleep(min(wait, MAX_RETRY_AFTER) if wait is not None else
                           min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
        tries = "1 try" if self.retries == 1 else f"{self.retries} tries"
        if self.api_key:  # NCBI's 429 reply quotes the key back
            problem = problem.replace(self.api_key, "(API key)")
        raise FetchError(f"{what}: gave up after {tries} at {url}: {problem}")

    def _identity(self) -> dict:
        out = {"tool": self.tool}
        if self.email:
            out["email"] = self.email
        if self.api_key:
            out["api_key"] = self.api_key
        return out

    def _take_turn(self) -> None:
        """Wait until this host may be asked again; the turn is shared by every client in the process."""
        host = urlsplit(self.base_url).netloc
        with _turns_lock:
            now = time.monotonic()
            start = max(now, _turns.get(host, 0.0) + self.min_interval)
            _turns[host] = start
        if start > now:
            time.sleep(start - now)


def parse_xml(body: bytes) -> ET.Element:
    """The root of an XML reply; BadReply when it is malformed or declares entities."""
    if b"<!ENTITY" in body:
        raise BadReply("XML with entity declarations is refused")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise BadReply(f"malformed XML: {exc}") from None


def _read_search(body: bytes) -> SearchPage:
    root = parse_xml(body)
    if root.tag != "eSearchResult":
        raise BadReply(f"expected <eSearchResult>, got <{root.tag}>")
    error = root.findtext("ERROR")
    if error:
        raise BadReply(f"NCBI reported: {_clip(error, 200)}")
    count = root.findtext("Count")
    if count is None or not count.strip().isdigit():
        raise BadReply("no <Count> in the search result")
    warnings = tuple(" ".join(e.itertext()).strip() for e in root.iterfind("WarningList/*"))
    return SearchPage(int(count), [i.text.strip() for i in root.iterfind("IdList/Id") if i.text],
                      root.findtext("QueryTranslation") or "", tuple(w for w in warnings if w))


def _retry_after(value: str | None) -> float | None:
    """Seconds a 429 asks to wait: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _snippet(exc: HTTPError) -> str:
    try:
        text = exc.read(300).decode("utf-8", "replace")
    except Exception:
        return ""
    text = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return f": {_clip(text, 160)}" if text else ""


def _describe(ids: list[str]) -> str:
    shown = ", ".join(ids[:5])
    return f"IDs {shown}" + (f" … ({len(ids)} IDs)" if len(ids) > 5 else "")


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"
