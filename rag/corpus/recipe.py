"""A corpus recipe: what to fetch (a query, PMIDs, DOIs or PMCIDs), small enough to commit.

`corpora/<name>/recipe.json` is JSON, never pickle. When a recipe lists `ids`, those are the
corpus and the query only records how they were found, so anyone who fetches it gets the same
records; a recipe without `ids` runs its query (or resolves its DOIs) and the fetch writes the IDs it
found back into the folder's recipe.json.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import FetchError

VERSION = 1  # recipe.json says {"medrag_recipe": 1, ...}
DATABASES = ("pubmed", "pmc")  # abstracts; open-access full texts
FORMATS = ("xml", "medline")
MAX_QUERY_RECORDS = 10_000  # esearch returns at most the first 10,000 matches of a PubMed query


@dataclass(frozen=True)
class Recipe:
    database: str = "pubmed"
    query: str | None = None
    ids: tuple[str, ...] = ()  # PMIDs (pubmed) or PMCIDs (pmc)
    dois: tuple[str, ...] = ()
    max: int | None = None  # most records a query brings in [default: 10,000]
    format: str = "xml"  # pubmed only: "xml" (PubmedArticleSet) or "medline" (.nbib text)
    description: str | None = None

    def __post_init__(self):
        if self.database not in DATABASES:
            raise FetchError(f"database {self.database!r} is not one of {', '.join(DATABASES)}")
        if self.format not in FORMATS:
            raise FetchError(f"format {self.format!r} is not one of {', '.join(FORMATS)}")
        if self.database == "pmc" and self.format != "xml":
            raise FetchError("PMC full texts come as JATS XML only (format xml)")
        query = " ".join((self.query or "").split()) or None
        object.__setattr__(self, "query", query)
        object.__setattr__(self, "ids", tuple(dict.fromkeys(_check_id(self.database, i) for i in self.ids)))
        object.__setattr__(self, "dois", tuple(dict.fromkeys(_check_doi(d) for d in self.dois)))
        if not (query or self.ids or self.dois):
            raise FetchError("a recipe needs a query, IDs or DOIs")
        if self.max is not None:
            if isinstance(self.max, bool) or not str(self.max).isdigit() or not 1 <= int(self.max) <= MAX_QUERY_RECORDS:
                raise FetchError(f"max must be a whole number from 1 to {MAX_QUERY_RECORDS:,} (esearch's limit), "
                                 f"not {self.max!r}")
            object.__setattr__(self, "max", int(self.max))

    def to_dict(self) -> dict:
        data = {"medrag_recipe": VERSION, **asdict(self)}
        data["ids"], data["dois"] = list(self.ids), list(self.dois)
        return {k: v for k, v in data.items() if v not in (None, [], "")}

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        write_json(path, self.to_dict())
        return path

    @classmethod
    def from_dict(cls, data: dict, where: str = "recipe") -> "Recipe":
        if not isinstance(data, dict) or "medrag_recipe" not in data:
            raise FetchError(f"{where} is not a medrag recipe (no \"medrag_recipe\" field)")
        if data["medrag_recipe"] != VERSION:
            raise FetchError(f"{where} is recipe version {data['medrag_recipe']}; this medrag reads version {VERSION}")
        known = {"database", "query", "ids", "dois", "max", "format", "description"}
        unknown = sorted(set(data) - known - {"medrag_recipe"})
        if unknown:
            raise FetchError(f"{where}: unknown field(s) {', '.join(unknown)}")
        fields = {k: data[k] for k in known if k in data}
        for key in ("ids", "dois"):
            if key in fields and not isinstance(fields[key], list):
                raise FetchError(f"{where}: {key} must be a list")
            fields[key] = tuple(str(x) for x in fields.get(key, ()))
        return cls(**fields)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Recipe":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FetchError(f"{path}: no such recipe") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FetchError(f"{path}: not a readable JSON recipe ({exc})") from None
        return cls.from_dict(data, str(path))


def read_ids(value: str) -> list[str]:
    """IDs from a file (one or more a line, `#` comments) or from a comma-separated list."""
    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8-sig") if path.is_file() else value
    except OSError as exc:
        raise FetchError(f"{value}: cannot read ({exc.strerror})") from None
    text = re.sub(r"#[^\n]*", "", text)
    return [t for t in re.split(r"[\s,;]+", text) if t]


def write_json(path: Path, data: dict) -> None:
    """Write JSON so that a crash leaves the old file or the new one, never half of either."""
    write_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _check_id(database: str, value) -> str:
    raw = str(value).strip()
    token = re.sub(r"^(PMID:?\s*)", "", raw, flags=re.IGNORECASE)
    if database == "pmc":
        m = re.fullmatch(r"(?:PMC)?(\d{1,10})", token, flags=re.IGNORECASE)
        if not m:
            raise FetchError(f"{raw!r} is not a PMCID (PMC followed by digits)")
        return f"PMC{m.group(1)}"
    if not re.fullmatch(r"\d{1,9}", token):
        raise FetchError(f"{raw!r} is not a PMID (digits only)")
    return token


def _check_doi(value) -> str:
    raw = str(value).strip()
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", raw, flags=re.IGNORECASE)
    if not re.fullmatch(r"10\.\d{4,9}/\S+", doi):
        raise FetchError(f"{raw!r} is not a DOI (10.NNNN/...)")
    return doi
