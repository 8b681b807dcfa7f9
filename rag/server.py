"""`medrag serve`: one Library behind a JSON API and a web page, its models loaded once.

A thin layer like the CLI: every answer comes from Library.search / .summarize and the same
`to_dict()` the CLI prints with --json. What the server adds is the traffic rules: one generation
at a time per model, the rest waiting in arrival order in a bounded line (503 + Retry-After when it
is full), size limits on bodies and queries, and files served only by document id.
"""
# No `from __future__ import annotations`: FastAPI reads the request models defined in create_app
# from the endpoints' annotations, which must be the classes themselves, not strings.
import asyncio
import json
import threading
import time
from collections import deque
from pathlib import Path
from typing import Optional

from .errors import IndexNotFound, InvalidQuery, MedragError, MissingDependency

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 16 * 1024
MAX_QUERY_CHARS = 1000
KEEPALIVE_S = 1.0  # an idle stream sends a comment this often, which is also how a disconnect is noticed


class QueueFull(MedragError):
    """Every place in a model's line is taken."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"the server is busy; retry in {retry_after} s")


class Stopped(Exception):
    """Raised inside a generation whose client has gone, to free the model for the next one."""


class GenerationQueue:
    """One generation at a time; up to `size` more wait their turn in arrival order.

    Lives on the event loop (no locks): `enter` hands out a ticket, a future that is done when the
    holder may run; `leave` gives the ticket back, whether it was waiting or running."""

    def __init__(self, size: int):
        self.size = size
        self._waiting: deque[asyncio.Future] = deque()
        self._running: asyncio.Future | None = None
        self._seconds = 2.0  # how long the last generation took, for Retry-After

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def enter(self) -> asyncio.Future:
        ticket = asyncio.get_running_loop().create_future()
        if self._running is None:
            self._running = ticket
            ticket.set_result(None)
        elif len(self._waiting) >= self.size:
            raise QueueFull(max(1, round(self._seconds * (len(self._waiting) + 1))))
        else:
            self._waiting.append(ticket)
        return ticket

    def leave(self, ticket: asyncio.Future, seconds: float | None = None) -> None:
        if seconds is not None:
            self._seconds = seconds
        if ticket in self._waiting:
            self._waiting.remove(ticket)
            ticket.cancel()
        elif ticket is self._running:
            self._running = self._waiting.popleft() if self._waiting else None
            if self._running is not None:
                self._running.set_result(None)


def _sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def create_app(library, *, queue_size: int = 4, model: str | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, max_query_chars: int = MAX_QUERY_CHARS):
    """The FastAPI app serving `library`. `model` is the summarizer used when a request names none."""
    try:
        from fastapi import FastAPI, HTTPException, Request
        from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
        from fastapi.staticfiles import StaticFiles
        from pydantic import BaseModel, Field
    except ImportError as exc:
        raise MissingDependency(f"medrag serve needs {exc.name}: pip install 'medrag[serve]'") from None
    import anyio

    from . import __version__, config
    from .library import choose_model
    from .retrieve import check_query

    class Query(BaseModel):
        """What a search and a summary both take: the query and how its passages are found."""
        query: str = Field(min_length=1, max_length=max_query_chars)
        mode: str = "hybrid"
        max_per_doc: Optional[int] = None
        year_from: Optional[int] = None
        year_to: Optional[int] = None
        source: Optional[str] = Field(None, max_length=200)
        kind: Optional[str] = Field(None, max_length=20)
        rerank: str = "none"

    class SearchRequest(Query):
        k: int = Field(10, ge=1, le=100)
        mmr: Optional[float] = None

    class SummarizeRequest(Query):
        model: Optional[str] = Field(None, max_length=200)
        k: int = Field(8, ge=1, le=50)
        min_score: Optional[float] = None
        min_coverage: Optional[float] = Field(None, ge=0.0, le=1.0)
        context_tokens: int = Field(1536, ge=64, le=8192)
        max_new_tokens: int = Field(384, ge=1, le=2048)
        temperature: float = Field(0.0, ge=0.0, le=2.0)
        seed: Optional[int] = None
        stream: bool = False  # server-sent events instead of one JSON object

    app = FastAPI(title="medrag", version=__version__, docs_url="/api/docs", redoc_url=None)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    queues: dict[str, GenerationQueue] = {}
    default_model = model or config.default_model()

    @app.exception_handler(MedragError)
    async def _medrag_error(request, exc: MedragError):
        if isinstance(exc, QueueFull):
            return JSONResponse({"detail": str(exc)}, 503, headers={"Retry-After": str(exc.retry_after)})
        status = 404 if isinstance(exc, IndexNotFound) else 422 if isinstance(exc, InvalidQuery) else 400
        return JSONResponse({"detail": str(exc)}, status)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    @app.get("/api/info")
    async def info():
        library.refresh()
        data = await anyio.to_thread.run_sync(library.info)
        data["server"] = {"medrag_version": __version__, "default_model": default_model,
                          "queue_size": queue_size, "waiting": {m: q.waiting for m, q in queues.items()}}
        return data

    @app.get("/api/documents")
    async def documents():
        library.refresh()
        docs = await anyio.to_thread.run_sync(library.documents)
        return [{k: v for k, v in d.items() if k != "references"} for d in docs]

    @app.get("/api/documents/{doc_id}/file")
    async def document_file(doc_id: str):
        # Only a file the index holds, looked up by its id: nothing of the request becomes a path.
        library.refresh()
        doc = library.store.document(doc_id) if len(doc_id) <= 200 else None
        path = Path(doc["source"]) if doc and doc.get("kind") == "pdf" else None
        if path is None or not path.is_file():
            raise HTTPException(404, "no such document file")
        return FileResponse(path, media_type="application/pdf", content_disposition_type="inline",
                            filename=path.name)

    @app.post("/api/search")
    async def search(req: SearchRequest):
        library.refresh()
        hits = await anyio.to_thread.run_sync(lambda: library.search(
            req.query, req.k, mode=req.mode, max_per_doc=req.max_per_doc, year_from=req.year_from,
            year_to=req.year_to, source=req.source, kind=req.kind, mmr=req.mmr, rerank=req.rerank))
        return hits.to_dict()

    @app.post("/api/summarize")
    async def summarize(req: SummarizeRequest, request: Request, format: str = "json"):
        if format not in ("json", "markdown", "bibtex", "ris"):
            raise HTTPException(422, "format is one of json, markdown, bibtex, ris")
        check_query(req.query, req.k, req.mode)  # a bad request is refused before it takes a place in line
        library.refresh()
        name, _ = choose_model(req.model or default_model)
        queue = queues.setdefault(name, GenerationQueue(queue_size))
        ticket = queue.enter()  # QueueFull: 503 before anything is streamed
        stop = threading.Event()

        def on_text(text: str) -> None:
            if stop.is_set():
                raise Stopped()
            if tokens is not None:
                loop.call_soon_threadsafe(tokens.put_nowait, text)

        def run():
            return library.summarize(
                req.query, model=req.model or default_model, k=req.k, mode=req.mode, max_per_doc=req.max_per_doc,
                year_from=req.year_from, year_to=req.year_to, source=req.source, kind=req.kind,
                min_score=req.min_score, min_coverage=req.min_coverage, context_tokens=req.context_tokens,
                max_new_tokens=req.max_new_tokens, temperature=req.temperature, seed=req.seed, rerank=req.rerank,
                on_text=on_text)

        def start() -> asyncio.Task:
            began = time.monotonic()
            task = asyncio.ensure_future(anyio.to_thread.run_sync(run))
            # The next in line runs only when this generation has really ended, even if its client left.
            task.add_done_callback(lambda t: (t.cancelled() or t.exception(),
                                              queue.leave(ticket, time.monotonic() - began)))
            return task

        loop = asyncio.get_running_loop()
        tokens: asyncio.Queue | None = asyncio.Queue() if req.stream else None
        if not req.stream:
            try:
                while not (await asyncio.wait({ticket}, timeout=KEEPALIVE_S))[0]:
                    if await request.is_disconnected():
                        queue.leave(ticket)
                        return PlainTextResponse("client gone", 499)
            except BaseException:
                queue.leave(ticket)
                raise
            try:
                summary = await start()
            except Stopped:
                return PlainTextResponse("client gone", 499)
            if format == "json":
                return summary.to_dict()
            text = {"markdown": summary.to_markdown, "bibtex": summary.to_bibtex, "ris": summary.to_ris}[format]()
            return PlainTextResponse(text, media_type="text/markdown" if format == "markdown" else "text/plain")

        async def events():
            task = None
            try:
                yield _sse("queued", {"waiting": queue.waiting, "model": name})
                while not (await asyncio.wait({ticket}, timeout=KEEPALIVE_S))[0]:
                    yield ": waiting\n\n"  # fails once the client has gone, which ends this stream
                task = start()
                yield _sse("started", {"model": name})
                while not task.done() or not tokens.empty():
                    try:
                        yield _sse("token", await asyncio.wait_for(tokens.get(), KEEPALIVE_S))
                    except asyncio.TimeoutError:
                        yield ": working\n\n"
                try:
                    summary = task.result()
                except MedragError as exc:
                    yield _sse("error", {"detail": str(exc)})
                    return
                yield _sse("summary", summary.to_dict())
                yield _sse("exports", {"markdown": summary.to_markdown(), "bibtex": summary.to_bibtex(),
                                       "ris": summary.to_ris()})
            finally:
                stop.set()
                if task is None:
                    queue.leave(ticket)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return app


class BodyLimit:
    """Refuse request bodies over `limit` bytes with 413, whether or not they declare their length."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(scope, receive, send)
        seen, started, refused = 0, False, False

        async def limited_receive():
            # Past the limit the client is answered 413 here and the app is told the client left,
            # so whatever it answers instead goes nowhere.
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit and not refused:
                    refused = True
                    if not started:
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message):
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, tracked_send)

    async def _refuse(self, scope, receive, send):
        from starlette.responses import JSONResponse

        await JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)(scope, receive, send)


def serve(library, *, host: str = "127.0.0.1", port: int = 8000, queue_size: int = 4,
          model: str | None = None) -> None:
    """Load the embedder, then serve `library` until interrupted."""
    try:
        import uvicorn
    except ImportError:
        raise MissingDependency("medrag serve needs uvicorn: pip install 'medrag[serve]'") from None
    app = create_app(library, queue_size=queue_size, model=model)
    library.query_embedder  # loaded now, not by the first visitor
    uvicorn.run(app, host=host, port=port, log_level="warning")
