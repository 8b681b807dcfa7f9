"""Turn files into Documents: find the files, pick the reader by extension and content."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidOption, ParseError
from ..records import Document, Page
from . import abstracts, jats
from .pdf import read_pdf

SUFFIXES = {".pdf", ".txt", ".md", ".nbib", ".medline", ".xml", ".nxml", ".ris", ".bib", ".jsonl", ".csv"}


@dataclass(frozen=True)
class Limits:
    max_pages: int = 500
    max_file_mb: float = 100.0

    def __post_init__(self):
        if self.max_pages < 1:
            raise InvalidOption(f"max_pages must be at least 1, not {self.max_pages}")
        if not self.max_file_mb > 0 or self.max_file_mb == float("inf"):
            raise InvalidOption(f"max_file_mb must be a number of MB above 0, not {self.max_file_mb}")


class EmptyFolder(ParseError):
    """A folder given to index that holds no file medrag reads (with --prune, the way to empty an index)."""


def discover(paths: list[Path]) -> tuple[list[Path], list[ParseError]]:
    """Files under the given paths that medrag can read, sorted; plus errors for paths that do not exist."""
    found: list[Path] = []
    problems: list[ParseError] = []
    readable = f"medrag reads {', '.join(sorted(SUFFIXES))}"
    for p in paths:
        try:
            if p.is_dir():
                inside = [f for f in sorted(p.rglob("*")) if f.is_file() and f.suffix.lower() in SUFFIXES
                          and not any(part.startswith(".") for part in f.relative_to(p).parts)]
                if not inside:
                    problems.append(EmptyFolder(p, f"no file in this folder that medrag can read ({readable})"))
                found += inside
            elif p.is_file():
                if p.suffix.lower() in SUFFIXES:
                    found.append(p)
                else:
                    problems.append(ParseError(p, f"unsupported file type {p.suffix or '(none)'}; {readable}"))
            elif p.exists():
                problems.append(ParseError(p, "not a regular file or folder"))
            else:
                problems.append(ParseError(p, "no such file or folder"))
        except OSError as exc:  # a name too long for the file system, a folder that cannot be listed
            problems.append(ParseError(p, f"cannot be read ({exc.strerror or exc})"))
    return found, problems


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                               "convert it to UTF-8") from None


def load(path: Path, limits: Limits = Limits()) -> tuple[list[Document], list[ParseError]]:
    """Read one file into documents. Raises ParseError when the whole file is unusable."""
    size = path.stat().st_size
    if size > limits.max_file_mb * 1024 * 1024:
        raise ParseError(path, f"{size / 1048576:.1f} MB is over the limit of {limits.max_file_mb:g} MB "
                               "(raise --max-file-mb)")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return [read_pdf(path, limits.max_pages)], []
    if size == 0:
        raise ParseError(path, "empty file (0 bytes)")
    text = _decode(path, path.read_bytes())
    head = text.lstrip()[:2000]
    if suffix in (".nbib", ".medline") or (suffix == ".txt" and head.startswith("PMID-")):
        return abstracts.read_medline(path, text)
    if suffix in (".xml", ".nxml"):
        if "<PubmedArticleSet" in head or "<PubmedArticle" in head:
            return abstracts.read_pubmed_xml(path, text)
        if jats.looks_like_jats(head):
            return jats.read_jats(path, text)
        raise ParseError(path, "XML that is not a PubMed export (no <PubmedArticleSet>) nor a JATS "
                               "article (no <article> or <pmc-articleset>)")
    if suffix == ".ris":
        return abstracts.read_ris(path, text)
    if suffix == ".bib":
        return abstracts.read_bibtex(path, text)
    if suffix == ".jsonl":
        return abstracts.read_jsonl(path, text)
    if suffix == ".csv":
        return abstracts.read_csv(path, text)
    if not text.strip():
        raise ParseError(path, "no text in file")
    title = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.strip()), path.stem)
    return [Document(source=str(path), kind="text", pages=(Page(1, text.strip()),), title=title[:200])], []
