"""Read the model's reply into an answer and findings with passage numbers, however it drifts.

Small models wander from the format: numbered lists instead of bullets, "(Passage 2)" or
"[1, 3]" or "[1-3]" instead of "[1][3]", a findings heading or none, citations on the line
after the finding, repeated lines, or the refusal sentinel wrapped in other words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .prompts import SENTINEL, SYSTEM, USER

_BULLET = re.compile(r"^\s*(?:[-*•·▪‣]|\d{1,2}[.)]|\(\d{1,2}\))\s+")
_CITATION = re.compile(
    r"\[\s*(?:passages?|sources?|refs?\.?|references?)?\s*(\d{1,3}(?:\s*(?:[,;–-]|and)\s*\d{1,3})*)\s*\]"
    r"|\(\s*(?:passages?|sources?|refs?\.?)\s*(\d{1,3}(?:\s*(?:[,;–-]|and)\s*\d{1,3})*)\s*\)"
    r"|\b(?:passages?|sources?)\s+(\d{1,3}(?:\s*(?:,|and)\s*\d{1,3})*)", re.IGNORECASE)
_ANSWER = re.compile(r"^\s*(?:\*\*)?\s*(?:answer|summary|conclusion)\s*(?:\*\*)?\s*:\s*(?:\*\*)?", re.IGNORECASE)
_STOP = re.compile(r"^\s*(?:#+\s*)?(?:references|bibliography|table\b|\*{3,}|-{3,}|question:)", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[a-z0-9%)\]][.!?])\s+(?=[A-Z])")
_HEADING = re.compile(r"^\s*(?:#+\s*|\*\*)?\s*(?:key\s+)?(?:findings?|points?|evidence)\s*:?\s*(?:\*\*)?\s*$", re.I)
# Lines that say nothing of the evidence: a template placeholder filled in literally ("<three
# sentences>"), a passage's header copied from the prompt ("Title (2010), p. 2, Results"), the
# refusal sentinel after findings were given, the prompt's instructions echoed.
_PLACEHOLDER = re.compile(r"^\W*<[^<>]{1,120}>\W*$")
_HEADER_ECHO = re.compile(r"^.{3,300}\((?:19|20)\d\d\),\s*(?:pp?\.\s*\d+|abstract)(?:[-–]\d+)?(?:,\s*[\w ,&-]{1,60})?\s*$",
                          re.IGNORECASE)


# A passage as the subject of the sentence: "Passage 3 shows that X" is the finding X, cited to
# passage 3; "Passage 3 describes Y" is a statement about the passage and is kept as one ("The
# passage describes Y"), so that it is recognised as such, rather than left without its subject.
_PASSAGE_SUBJECT = re.compile(r"^(?:the\s+)?(?:passages?|sources?)\s+(\d{1,3}(?:\s*(?:,|and)\s*\d{1,3})*)\s*,?\s+"
                              r"(?=(?:also\s+)?[a-z])", re.IGNORECASE)
_REPORTS_THAT = re.compile(r"^(?:also\s+)?(?:shows?|showed|shown|indicates?|indicated|suggests?|suggested|confirms?|"
                           r"confirmed|reports?|reported|states?|stated|notes?|noted|finds?|found|demonstrates?|"
                           r"demonstrated|reveals?|revealed|mentions?|mentioned|explains?|explained|says)\s+that\s+(?=\w)")


def _unstrip_subject(body: str) -> str:
    """A line whose subject is a passage ("Passage 3 shows that ...", "Passage 3 describes ..."),
    rewritten so that removing the citation leaves a sentence (see _PASSAGE_SUBJECT)."""
    m = _PASSAGE_SUBJECT.match(body)
    if not m:
        return body
    rest, cited = body[m.end():], f" [{m.group(1)}]"
    said = _REPORTS_THAT.match(rest)
    if said:
        rest = rest[said.end():]
        return rest[:1].upper() + rest[1:] + cited
    return "The passage " + rest + cited


# The prompt's own words: a line made of them is the instructions echoed ("End every finding with the
# numbers of the passages it comes from ..."), not a finding.
_PROMPT_WORDS = set(re.findall(r"[a-z]+", (SYSTEM + " " + USER.format(passages="", question="", sentinel="")).lower()))


def _echoes_prompt(text: str) -> bool:
    words = re.findall(r"[a-z]+", text.lower())
    return len(words) >= 6 and sum(w in _PROMPT_WORDS for w in words) >= 0.9 * len(words)


def _says_nothing(line: str) -> bool:
    text = line.strip()
    return bool(_PLACEHOLDER.match(text) or _HEADER_ECHO.match(text) or SENTINEL.lower() in text.lower()
                or _echoes_prompt(text))


@dataclass(frozen=True)
class ParsedFinding:
    text: str
    numbers: tuple[int, ...]  # as the model wrote them, before any check against the evidence


@dataclass(frozen=True)
class ParsedReply:
    answer: str
    findings: tuple[ParsedFinding, ...]
    insufficient: bool


def _numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:[,;]|and)\s*", group):
        m = re.match(r"(\d+)\s*[–-]\s*(\d+)$", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            out += list(range(a, b + 1)) if 0 < b - a < 10 else [a, b]
        elif part.strip().isdigit():
            out.append(int(part))
    return out


def citations_in(text: str) -> tuple[str, tuple[int, ...]]:
    """The text with citation marks removed, and the numbers they held (in order, without repeats)."""
    numbers: list[int] = []
    for m in _CITATION.finditer(text):
        numbers += [n for n in _numbers(next(g for g in m.groups() if g)) if n not in numbers]
    clean = _CITATION.sub("", text)
    clean = re.sub(r"\s+([.,;:])", r"\1", " ".join(clean.split())).strip(" -–;,")
    # what led in to a citation that is gone ("In passage 2, the authors found ..." -> "In, the ...")
    lead = re.match(r"(?:in|from|according to|as (?:shown|reported|stated|described) in)\s*,\s*(?=[a-z])", clean,
                    flags=re.IGNORECASE)
    if lead and numbers:
        clean = clean[lead.end()].upper() + clean[lead.end() + 1:]
    return clean, tuple(numbers)


def parse_reply(reply: str) -> ParsedReply:
    text = reply.strip()
    if not text or SENTINEL.lower() in text.lower()[:200] and len(text) < 400:
        return ParsedReply("", (), True)
    answer = ""
    findings: list[ParsedFinding] = []
    seen: set[str] = set()
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().replace("**", "")
        bullet = _BULLET.match(line)
        line = (bullet.group() if bullet else "") + _unstrip_subject(line[bullet.end() if bullet else 0:])
        if _STOP.match(line):
            break  # the model has moved on from answering (reference lists, tables, a new question)
        if _BULLET.match(line) or _ANSWER.match(line) or len(line) < 200:
            lines.append(line)
        else:
            lines += _SENTENCE.split(line)  # a paragraph of prose: one finding per sentence
    for line in lines:
        if not line or _HEADING.match(line):
            continue
        if _ANSWER.match(line):
            answer = citations_in(_ANSWER.sub("", line))[0]
            answer = "" if _says_nothing(answer) else answer
            continue
        if _says_nothing(_BULLET.sub("", citations_in(line)[0])):
            continue
        clean, numbers = citations_in(_BULLET.sub("", line))
        if not clean and numbers and findings:
            # Citations on their own line belong to the finding above.
            last = findings[-1]
            findings[-1] = ParsedFinding(last.text, tuple(dict.fromkeys(last.numbers + numbers)))
            continue
        if not _BULLET.match(line) and not numbers and not findings and not answer:
            answer = clean  # a first plain sentence is the answer
            continue
        if len(clean) < 8 or clean.lower() in seen:
            continue
        seen.add(clean.lower())
        findings.append(ParsedFinding(clean, numbers))
    if not answer and findings:
        answer = findings[0].text
    return ParsedReply(answer, tuple(findings), False)
