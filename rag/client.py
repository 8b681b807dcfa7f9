"""Ask a running `medrag serve` instead of loading the models here (`--server URL` or MEDRAG_SERVER)."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable

from .errors import ServerError


class Client:
    """The JSON API of a medrag server; every method returns what the CLI's --json prints."""

    def __init__(self, url: str, timeout: float = 600.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ServerError(f"server {url!r} is not an http(s) URL (for example http://127.0.0.1:8000)")

    def _post(self, path: str, body: dict, accept: str = "application/json"):
        data = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
        request = urllib.request.Request(self.url + path, data=data, method="POST",
                                         headers={"Content-Type": "application/json", "Accept": accept})
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail", exc.reason)
            except ValueError:
                detail = exc.reason
            retry = exc.headers.get("Retry-After")
            raise ServerError(f"{self.url} answered {exc.code}: {detail}"
                              + (f" (retry in {retry} s)" if retry else "")) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServerError(f"cannot reach the medrag server at {self.url} "
                              f"({getattr(exc, 'reason', exc)}); is `medrag serve` running?") from None

    def search(self, query: str, **options) -> dict:
        with self._post("/api/search", {"query": query, **options}) as response:
            return json.load(response)

    def summarize(self, query: str, on_text: Callable[[str], None] | None = None, **options) -> tuple[dict, dict]:
        """The summary as `to_dict()` gives it, and its Markdown, BibTeX and RIS renderings; the text the
        model writes goes to `on_text` as it arrives."""
        summary = exports = None
        with self._post("/api/summarize", {"query": query, "stream": True, **options}, "text/event-stream") as response:
            for event, data in _events(response):
                if event == "token" and on_text:
                    on_text(data)
                elif event == "summary":
                    summary = data
                elif event == "exports":
                    exports = data
                elif event == "error":
                    raise ServerError(f"{self.url}: {data.get('detail')}")
        if summary is None or exports is None:
            raise ServerError(f"{self.url} ended the answer before the summary")
        return summary, exports


def _events(response):
    """(event, data) pairs of a server-sent event stream; comments (keep-alives) are skipped."""
    event, data = "message", []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))


def hits_from_dict(data: dict):
    """`Hits` again from the JSON a server sent (the same fields `Hits.to_dict` writes)."""
    from .records import Hit
    from .results import Hits

    fields = set(Hit.__dataclass_fields__)
    hits = [Hit(**{**{k: v for k, v in h.items() if k in fields}, "authors": tuple(h.get("authors") or ())})
            for h in data["hits"]]
    return Hits(data["query"], hits, data.get("mode", "hybrid"))
