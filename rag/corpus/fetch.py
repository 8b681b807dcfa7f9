"""Fetch a recipe's records into a folder that `medrag index` reads, resumably.

The folder holds batch files (`pubmed-0001.xml`, `pubmed-0001.nbib`, `pmc-0001.xml`), the recipe
(`recipe.json`, with the IDs it resolved to) and `manifest.json` (the query, the dates, and each
batch's file, requested IDs, the IDs of every record it holds, and the IDs NCBI did not return).

Nothing partial ever looks complete: a batch is checked (whole, well formed, the records it claims),
written to `NAME.part`, synced, and only then renamed; the manifest is rewritten the same way after
each batch. A killed run leaves at most a `.part` file, which `medrag index` does not read and the
next run deletes; a batch renamed just before a kill is adopted by the next run, not fetched again.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import FetchError
from .eutils import BadReply, EUtils
from .recipe import MAX_QUERY_RECORDS, Recipe, write_atomic, write_json
from .records import medline_records, pmc_number, pmc_records, pubmed_xml_records

MANIFEST = "manifest.json"
RECIPE = "recipe.json"
MANIFEST_VERSION = 1
MAX_BATCH = 200  # NCBI: at most ~200 IDs per efetch
DEFAULT_BATCH = {"pubmed": 200, "pmc": 20}  # a PMC full text is ~100 kB; keep each reply a few MB
DOIS_PER_SEARCH = 50
_BATCH_FILE = re.compile(r"^(pubmed|pmc)-(\d{4,})\.(xml|nbib)$")


@dataclass(frozen=True)
class Batch:
    """One batch written: what the CLI shows as the fetch goes on."""

    number: int  # 1-based among this run's batches
    total: int  # batches this run fetches
    file: str | None  # None when NCBI returned none of the IDs
    records: int
    missing: int


@dataclass
class FetchReport:
    folder: str
    database: str
    query: str | None
    requested: int = 0  # IDs the corpus asks for
    fetched: int = 0  # records fetched by this run
    on_disk: int = 0  # IDs already in the folder, not fetched again
    missing: list[str] = field(default_factory=list)  # IDs NCBI returned no record for
    no_full_text: list[str] = field(default_factory=list)  # PMC articles that came without their body
    dois_not_found: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every batch file of the corpus
    requests: int = 0  # HTTP requests this run made, retries included
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {**vars(self), "seconds": round(self.seconds, 3)}


def fetch_corpus(recipe: Recipe, out: str | Path, *, client: EUtils | None = None, batch_size: int | None = None,
                 search_page: int = MAX_QUERY_RECORDS, on_batch: Callable[[Batch], None] | None = None) -> FetchReport:
    """Fetch `recipe` into the folder `out`; a second run fetches only what is not there yet."""
    started = time.perf_counter()
    client = client or EUtils()
    before = client.requests
    out = Path(out)
    size = batch_size or DEFAULT_BATCH[recipe.database]
    if not 1 <= size <= MAX_BATCH:
        raise FetchError(f"batch size must be between 1 and {MAX_BATCH}, not {size}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"{out}: cannot create the folder ({exc.strerror})") from None
    for stale in out.glob("*.part"):  # left by a run that was killed mid-write
        stale.unlink()
    manifest = _open_manifest(out, recipe, client)
    _adopt_orphans(out, manifest, recipe)

    wanted = list(recipe.ids)
    if not wanted and recipe.query:
        wanted += _search(client, recipe, manifest, search_page)
    if not wanted and recipe.dois:
        wanted += _resolve_dois(client, recipe, manifest)
    manifest["ids"] = list(dict.fromkeys(manifest["ids"] + wanted))
    manifest["query"] = manifest.get("query") or recipe.query
    _save(out, manifest)
    pinned = Recipe(database=recipe.database, query=recipe.query or manifest.get("query"), ids=tuple(manifest["ids"]),
                    dois=recipe.dois, max=recipe.max, format=recipe.format, description=recipe.description)
    write_json(out / RECIPE, pinned.to_dict())

    done = {i for b in manifest["batches"] for i in b["requested"]}
    todo = [i for i in wanted if i not in done]
    report = FetchReport(str(out), recipe.database, manifest.get("query"), requested=len(wanted),
                         on_disk=len(wanted) - len(todo))
    batches = [todo[i:i + size] for i in range(0, len(todo), size)]
    for n, ids in enumerate(batches, 1):
        entry = _fetch_batch(client, out, recipe, ids, _next_number(out, manifest))
        manifest["batches"].append(entry)
        _save(out, manifest)  # after the batch file is complete: the manifest never names a partial file
        report.fetched += len(entry["records"])
        if on_batch:
            on_batch(Batch(n, len(batches), entry["file"], len(entry["records"]), len(entry["missing"])))

    wanted_set = set(wanted)
    records = [r for b in manifest["batches"] for r in b["records"]]
    report.missing = [i for b in manifest["batches"] for i in b["missing"] if i in wanted_set]
    report.no_full_text = [r["pmcid"] for r in records if r.get("full_text") is False]
    found_dois = {r["doi"].lower() for r in records if r.get("doi")}
    report.dois_not_found = [d for d in recipe.dois if d.lower() not in found_dois]
    report.files = [b["file"] for b in manifest["batches"] if b["file"]]
    report.requests = client.requests - before
    report.seconds = time.perf_counter() - started
    return report


# ---- resolving the IDs -------------------------------------------------------------------------
def _search(client: EUtils, recipe: Recipe, manifest: dict, page: int) -> list[str]:
    """The query's IDs: from the manifest when the same query was run before, else from esearch."""
    limit = recipe.max or MAX_QUERY_RECORDS
    search = manifest.get("search")
    if search and search["query"] == recipe.query and search["max"] == limit:
        return list(search["ids"])
    ids: list[str] = []
    first = None
    while len(ids) < limit:
        result = client.esearch(recipe.database, recipe.query, retstart=len(ids), retmax=min(page, limit - len(ids)))
        first = first or result
        seen = set(ids)
        new = [i for i in dict.fromkeys(result.ids) if i not in seen]
        ids += new
        if not new or len(ids) >= result.count:
            break
    if recipe.database == "pmc":
        ids = [f"PMC{pmc_number(i)}" for i in ids]
    manifest["query"] = recipe.query
    manifest["search"] = {"query": recipe.query, "max": limit, "count": first.count if first else 0,
                          "translation": first.translation if first else "",
                          "warnings": list(first.warnings) if first else [], "searched": _now(), "ids": ids[:limit]}
    return ids[:limit]


def _resolve_dois(client: EUtils, recipe: Recipe, manifest: dict) -> list[str]:
    resolved = manifest.get("doi_search")
    if resolved and resolved["dois"] == list(recipe.dois):
        return list(resolved["ids"])
    ids: list[str] = []
    for i in range(0, len(recipe.dois), DOIS_PER_SEARCH):
        chunk = recipe.dois[i:i + DOIS_PER_SEARCH]
        term = " OR ".join(f'"{d}"[doi]' for d in chunk)
        ids += client.esearch(recipe.database, term, retmax=len(chunk) * 2).ids
    if recipe.database == "pmc":
        ids = [f"PMC{pmc_number(i)}" for i in ids]
    ids = list(dict.fromkeys(ids))
    manifest["doi_search"] = {"dois": list(recipe.dois), "ids": ids, "searched": _now()}
    return ids


# ---- one batch ---------------------------------------------------------------------------------
def _kind(recipe: Recipe) -> tuple[str, str, Callable[[bytes], list[dict]], str]:
    """File prefix, extension, record reader and the key that names a record."""
    if recipe.database == "pmc":
        return "pmc", ".xml", pmc_records, "pmcid"
    if recipe.format == "medline":
        return "pubmed", ".nbib", medline_records, "pmid"
    return "pubmed", ".xml", pubmed_xml_records, "pmid"


def _fetch_batch(client: EUtils, out: Path, recipe: Recipe, ids: list[str], number: int) -> dict:
    prefix, ext, read, key = _kind(recipe)
    if recipe.database == "pmc":
        body, records = client.efetch("pmc", [pmc_number(i) for i in ids], check=read)
    elif recipe.format == "medline":
        body, records = client.efetch("pubmed", ids, rettype="medline", retmode="text", check=read)
    else:
        body, records = client.efetch("pubmed", ids, check=read)
    asked = set(ids)
    records = [r for r in records if r.get(key) in asked]
    returned = {r[key] for r in records}
    entry = {"file": None, "requested": ids, "records": records,
             "missing": [i for i in ids if i not in returned], "fetched": _now()}
    if records:
        name = f"{prefix}-{number:04d}{ext}"
        write_atomic(out / name, body)
        entry.update(file=name, bytes=len(body), sha256=hashlib.sha256(body).hexdigest())
    return entry


def _next_number(out: Path, manifest: dict) -> int:
    used = [int(m.group(2)) for p in out.iterdir() for m in [_BATCH_FILE.match(p.name)] if m]
    used += [int(m.group(2)) for b in manifest["batches"] if b["file"] for m in [_BATCH_FILE.match(b["file"])] if m]
    return max(used, default=0) + 1


# ---- the manifest ------------------------------------------------------------------------------
def _open_manifest(out: Path, recipe: Recipe, client: EUtils) -> dict:
    path = out / MANIFEST
    if not path.exists():
        return {"medrag_corpus": MANIFEST_VERSION, "database": recipe.database, "format": recipe.format,
                "query": recipe.query, "created": _now(), "updated": _now(), "eutils": client.base_url,
                "tool": client.tool, "ids": [], "batches": []}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(f"{path}: not readable JSON ({exc}); move it away to fetch the folder anew") from None
    if not isinstance(manifest, dict) or manifest.get("medrag_corpus") != MANIFEST_VERSION:
        raise FetchError(f"{path} is not a medrag corpus manifest (version {MANIFEST_VERSION})")
    if (manifest["database"], manifest["format"]) != (recipe.database, recipe.format):
        raise FetchError(f"{out} holds {manifest['database']} records as {manifest['format']}, not "
                         f"{recipe.database} as {recipe.format}; fetch into another folder")
    if recipe.query and manifest.get("query") and manifest["query"] != recipe.query:
        raise FetchError(f"{out} holds the corpus of the query {manifest['query']!r}; fetch "
                         f"{recipe.query!r} into another folder")
    # A batch file removed by hand is fetched again: its IDs no longer count as on disk.
    manifest["batches"] = [b for b in manifest["batches"] if not b["file"] or (out / b["file"]).is_file()]
    return manifest


def _adopt_orphans(out: Path, manifest: dict, recipe: Recipe) -> None:
    """A batch file renamed into place by a run killed before it updated the manifest is complete
    (it was checked before the rename): count its records instead of fetching them again."""
    prefix, ext, read, key = _kind(recipe)
    listed = {b["file"] for b in manifest["batches"]}
    for path in sorted(out.iterdir()):
        m = _BATCH_FILE.match(path.name)
        if not m or path.name in listed or m.group(1) != prefix or path.suffix != ext:
            continue
        body = path.read_bytes()
        try:
            records = read(body)
        except BadReply as exc:
            raise FetchError(f"{path}: not a complete batch ({exc}); remove it and fetch again") from None
        manifest["batches"].append({"file": path.name, "requested": [r[key] for r in records], "records": records,
                                    "missing": [], "fetched": _now(), "bytes": len(body),
                                    "sha256": hashlib.sha256(body).hexdigest(), "adopted": True})


def _save(out: Path, manifest: dict) -> None:
    manifest["updated"] = _now()
    write_json(out / MANIFEST, manifest)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
