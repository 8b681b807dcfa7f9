"""The `medrag` command: thin wrappers over rag.Library that format results and report errors."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import config
from .errors import MedragError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Retrieval-augmented summaries of medical literature, every finding cited.")

IndexOpt = typer.Option(None, "--index", "-i", help="Index folder [default: $MEDRAG_INDEX or indexes/default].")
ServerOpt = typer.Option(None, "--server", envvar="MEDRAG_SERVER", show_envvar=True,
                         help="Ask a running `medrag serve` at this URL instead of loading the models here.")


def _version(value: bool):
    if value:
        from . import __version__

        typer.echo(f"medrag {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                          help="Print medrag's version and exit.")):
    """Retrieval-augmented summaries of medical literature, every finding cited."""


def _fail(exc: Exception, code: int = 1):
    typer.echo(f"medrag: error: {exc}", err=True)
    raise typer.Exit(code)


def _library(index: Optional[Path], **kwargs):
    from .library import Library

    return Library(index or config.default_index(), **kwargs)


@app.command()
def index(
    paths: List[Path] = typer.Argument(..., help="PDF/abstract files or folders (searched recursively)."),
    index: Optional[Path] = IndexOpt,
    embedder: Optional[str] = typer.Option(None, help="sentence-transformers id or folder [default: all-MiniLM-L6-v2]."),
    index_type: str = typer.Option("auto", help="Vector index for a new index: flat (exact), hnsw (approximate), "
                                   "ivfpq (compressed) or auto (flat below 100,000 passages, HNSW below "
                                   "2,000,000, IVF-PQ from there)."),
    chunk_tokens: int = typer.Option(config.CHUNK_TOKENS, help="Passage size in embedder tokens (new index)."),
    overlap: int = typer.Option(config.CHUNK_OVERLAP, help="Tokens shared by neighbouring passages (new index)."),
    prune: bool = typer.Option(False, help="Remove documents whose files no longer exist."),
    max_pages: int = typer.Option(500, help="Skip PDFs with more pages than this."),
    max_file_mb: float = typer.Option(100.0, help="Skip files larger than this many MB."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ... [default: cuda when present]."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's summary as one JSON object."),
):
    """Parse, chunk, embed and store papers; re-runs only do the work that changed files need."""
    try:
        lib = _library(index, embedder=embedder, device=device, index_type=index_type,
                       chunk_tokens=chunk_tokens, overlap=overlap)
        report = lib.index(*paths, prune=prune, max_pages=max_pages, max_file_mb=max_file_mb,
                           progress=sys.stderr.isatty() and not as_json)
    except (MedragError, ValueError) as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _fail("interrupted; every file finished before the interruption is kept in the index", 130)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(f"index {report.index}")
        typer.echo(f"  files seen {report.seen:>6}   indexed {report.indexed:>5}   unchanged {report.unchanged:>5}"
                   f"   skipped {report.skipped:>4}   removed {report.removed:>4}")
        typer.echo(f"  passages added {report.chunks_added:>4}   removed {report.chunks_removed:>4}   "
                   f"seconds {report.seconds:.1f}")
        for f in report.skipped_files:
            typer.echo(f"  skipped {f.path}: {f.reason}", err=True)
    raise typer.Exit(0 if report.ok else 2)


@app.command()
def upgrade(index: Optional[Path] = IndexOpt,
            device: Optional[str] = typer.Option(None, help="cpu, cuda, ... [default: cuda when present].")):
    """Bring an index written by an older medrag to the current format, in place, from the texts it holds."""
    try:
        lib = _library(index, device=device)
        passages = lib.upgrade(progress=sys.stderr.isatty())
    except MedragError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _fail("interrupted; the index is unchanged (the upgrade is one transaction)", 130)
    if passages:
        typer.echo(f"index {lib.path} upgraded: {passages} passages re-embedded with their title and section")
    else:
        typer.echo(f"index {lib.path} is already current")


@app.command()
def info(index: Optional[Path] = IndexOpt,
         as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
         documents: bool = typer.Option(False, "--documents", help="List every document too.")):
    """Show what an index holds."""
    try:
        lib = _library(index)
        data = lib.info()
        docs = lib.documents() if documents else None
    except MedragError as exc:
        _fail(exc)
    if as_json:
        if docs is not None:
            data["document_list"] = [{k: v for k, v in d.items() if k != "references"} for d in docs]
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"index      {data['path']}")
    typer.echo(f"documents  {data['documents']}  ({', '.join(f'{k}: {v}' for k, v in data['kinds'].items()) or 'none'})")
    typer.echo(f"passages   {data['chunks']}   files {data['files']}")
    typer.echo(f"embedder   {data['embedder']} ({data['dimension']} dimensions)")
    typer.echo(f"vectors    {data['index_type']}   passage {data.get('chunk_tokens')} tokens, overlap {data.get('overlap')}")
    typer.echo(f"format     v{data['version']}, written by medrag {data['medrag_version']} at {data['updated']}")
    for d in docs or []:
        ids = " ".join(x for x in (f"PMID {d['pmid']}" if d["pmid"] else "", f"doi:{d['doi']}" if d["doi"] else "") if x)
        typer.echo(f"  {d['doc_id']}  {d['year'] or '----'}  {d['title'][:70]}  {ids}".rstrip())
        if d.get("source"):
            typer.echo(f"      {Path(d['source']).name}" + (f"#{d['record']}" if d.get("record") else ""))


@app.command()
def search(
    query: str = typer.Option(..., "--query", "-q", help="What to look for."),
    k: int = typer.Option(10, "-k", help="How many passages."),
    index: Optional[Path] = IndexOpt,
    mode: str = typer.Option("hybrid", help="dense, lexical or hybrid (both, fused by reciprocal rank)."),
    max_per_doc: Optional[int] = typer.Option(None, help="At most this many passages from one paper; 0: rank by "
                                              "score alone [default: adaptive, a paper's later passages count less]."),
    year_from: Optional[int] = typer.Option(None, help="Only documents from this year on."),
    year_to: Optional[int] = typer.Option(None, help="Only documents up to this year."),
    source: Optional[str] = typer.Option(None, help="Only files whose path matches this glob, e.g. '*oncology*'."),
    kind: Optional[str] = typer.Option(None, help="Only this document type: pdf, abstract, text or jats."),
    mmr: Optional[float] = typer.Option(None, help="Diversify with MMR; lambda in [0, 1], 1 = relevance only."),
    rerank: str = typer.Option("none", help="Second ranking stage: none, sentence-window or dense-window "
                               "(slow on a CPU)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the query and its hits."),
    server: Optional[str] = ServerOpt,
):
    """Find the passages that best answer a query."""
    options = dict(mode=mode, max_per_doc=max_per_doc, year_from=year_from, year_to=year_to, source=source,
                   kind=kind, mmr=mmr, rerank=rerank)
    try:
        if server:
            from .client import Client, hits_from_dict

            hits = hits_from_dict(Client(server).search(query, k=k, **options))
        else:
            hits = _library(index).search(query, k, **options)
    except MedragError as exc:
        _fail(exc)
    if as_json:
        typer.echo(hits.to_json())
        return
    from .results import shorten

    if not hits:
        typer.echo("no passages matched", err=True)
    for h in hits:
        where = ", ".join(x for x in (h.pages, h.section) if x)
        typer.echo(f"{h.rank:>2}. [{h.score:.4f}] {h.title[:90]} ({h.year or 'n.d.'}) {where}")
        typer.echo(f"    {shorten(h.text, 300)}\n")


@app.command()
def summarize(
    query: Optional[str] = typer.Option(None, "--query", "-q", help="The question to answer from the indexed papers."),
    queries_file: Optional[Path] = typer.Option(None, "--queries-file", help="Several questions, one per line (blank "
                                                "lines and lines starting with # skipped): summaries in their order, "
                                                "written in batches on a GPU."),
    index: Optional[Path] = IndexOpt,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Hub id, local folder or .gguf file; "
                                        "'extractive' (no generator: the papers' own sentences); 'smollm2' (a small "
                                        "offline generator); or 'auto' [default: $MEDRAG_MODEL or auto: Llama 3.2 1B "
                                        "Instruct when on this machine, else extractive]."),
    k: int = typer.Option(8, "-k", help="Passages to retrieve before packing."),
    mode: str = typer.Option("hybrid", help="Retrieval mode: dense, lexical or hybrid."),
    max_per_doc: Optional[int] = typer.Option(None, help="At most this many passages from one paper; 0: rank by "
                                              "score alone [default: adaptive, a paper's later passages count less]."),
    year_from: Optional[int] = typer.Option(None, help="Only documents from this year on."),
    year_to: Optional[int] = typer.Option(None, help="Only documents up to this year."),
    source: Optional[str] = typer.Option(None, help="Only files whose path matches this glob."),
    kind: Optional[str] = typer.Option(None, help="Only this document type: pdf, abstract, text or jats."),
    rerank: str = typer.Option("none", help="Second ranking stage: none, sentence-window or dense-window."),
    min_score: Optional[float] = typer.Option(None, help="Evidence threshold: below this best-passage similarity "
                                              "the answer is insufficient_evidence [default: 0.42, for all-MiniLM-L6-v2]."),
    min_coverage: Optional[float] = typer.Option(None, help="Below this share of the question's key words "
                                                 "(weighted by rarity) in one retrieved paper the answer is "
                                                 "insufficient_evidence; 0 turns the check off [default: 0.35]."),
    context_tokens: int = typer.Option(1536, help="Token budget for the passages in the prompt."),
    max_new_tokens: int = typer.Option(384, help="Most tokens the model may write."),
    temperature: float = typer.Option(0.0, help="0 is greedy (the same answer every time); above 0 samples."),
    seed: Optional[int] = typer.Option(None, help="Random seed when sampling."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ... [default: cuda when present]."),
    dtype: Optional[str] = typer.Option(None, help="float32, bfloat16, float16 [default: bfloat16 on CUDA, else float32]."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write the Markdown (or JSON with --json) here."),
    server: Optional[str] = ServerOpt,
):
    """Key findings on a question, each cited to the paper, page and passage that supports it."""
    if (query is None) == (queries_file is None):
        _fail("give the question with --query, or a file of questions with --queries-file (one of the two)", 2)
    if queries_file is not None:
        return _summarize_file(queries_file, index, device, server, as_json, out, dict(
            model=model, k=k, mode=mode, max_per_doc=max_per_doc, year_from=year_from, year_to=year_to, source=source,
            kind=kind, min_score=min_score, min_coverage=min_coverage, context_tokens=context_tokens,
            max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, rerank=rerank), dtype)
    stream = sys.stderr.isatty() and not as_json
    on_text = (lambda t: typer.echo(t, err=True, nl=False)) if stream else None
    try:
        if server:
            from .client import Client

            result, exports = Client(server).summarize(
                query, on_text, model=model, k=k, mode=mode, max_per_doc=max_per_doc, year_from=year_from,
                year_to=year_to, source=source, kind=kind, min_score=min_score, min_coverage=min_coverage,
                context_tokens=context_tokens, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                rerank=rerank)
            raw, note = result["raw"], result["note"]
            text = json.dumps(result, indent=2, ensure_ascii=False) if as_json else exports["markdown"]
        else:
            lib = _library(index, device=device)
            result = lib.summarize(query, model=model, k=k, mode=mode, max_per_doc=max_per_doc,
                                   year_from=year_from, year_to=year_to, source=source, kind=kind, min_score=min_score,
                                   min_coverage=min_coverage, context_tokens=context_tokens,
                                   max_new_tokens=max_new_tokens,
                                   temperature=temperature, seed=seed, dtype=dtype, rerank=rerank, on_text=on_text)
            raw, note = result.raw, result.note
            text = result.to_json() if as_json else result.to_markdown()
    except MedragError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    if stream and raw:
        typer.echo("\n" + "─" * 60, err=True)
    _emit(text, out, [note] if note else [])


def _summarize_file(path: Path, index, device, server, as_json: bool, out, options: dict, dtype) -> None:
    try:
        lines = path.read_text(encoding="utf-8").replace("\x00", "").splitlines()  # NUL bytes are no text
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{path}: cannot read the questions ({getattr(exc, 'strerror', None) or exc})")
    queries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not queries:
        _fail(f"{path}: no questions in the file (one per line)")
    try:
        if server:
            from .client import Client

            client = Client(server)
            answers = [client.summarize(q, None, **options) for q in queries]
            results = [r for r, _ in answers]
            notes = {r["note"] for r in results if r["note"]}
            text = json.dumps(results, indent=2, ensure_ascii=False) if as_json else \
                "\n\n---\n\n".join(e["markdown"] for _, e in answers)
        else:
            summaries = _library(index, device=device).summarize_many(queries, dtype=dtype, **options)
            notes = {s.note for s in summaries if s.note}
            text = json.dumps([s.to_dict() for s in summaries], indent=2, ensure_ascii=False) if as_json else \
                "\n\n---\n\n".join(s.to_markdown() for s in summaries)
    except MedragError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    _emit(text, out, sorted(notes))


def _emit(text: str, out: Optional[Path], notes: list[str]) -> None:
    """Notes to stderr, the result to stdout and, with --out, to that file."""
    for note in notes:
        typer.echo(f"medrag: note: {note}", err=True)
    typer.echo(text)
    if out:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(f"{out}: cannot write ({exc.strerror})")


@app.command()
def serve(
    index: Optional[Path] = IndexOpt,
    host: str = typer.Option("127.0.0.1", help="Address to listen on; anything but 127.0.0.1 lets other "
                             "machines in (medrag has no login: see the README)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Summarizer for requests that name none "
                                        "[default: $MEDRAG_MODEL or auto]."),
    queue: int = typer.Option(4, help="Summaries that may wait for a busy model; more are refused with 503."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ... [default: cuda when present]."),
):
    """Serve the index as a web page and a JSON API, with the models loaded once."""
    from .server import serve as run_server

    if host != "127.0.0.1":
        typer.echo(f"medrag: warning: listening on {host}: anyone who can reach it can query the index and "
                   "read its PDFs", err=True)
    typer.echo(f"medrag: serving {index or config.default_index()} at http://{host}:{port}", err=True)
    try:
        run_server(_library(index, device=device), host=host, port=port, queue_size=queue, model=model)
    except MedragError as exc:
        _fail(exc)


eval_app = typer.Typer(no_args_is_help=True, help="Measure retrieval (`eval retrieval`) or a model's accuracy on "
                       "medical multiple-choice questions (`eval mcq`).")
app.add_typer(eval_app, name="eval")


@eval_app.command("retrieval")
def evaluate_cmd(
    queries: Path = typer.Argument(..., help='JSONL file of {"query": ..., "relevant": [doc ids, PMIDs or DOIs]}.'),
    index: Optional[Path] = IndexOpt,
    modes: str = typer.Option("dense,lexical,hybrid", help="Comma-separated retrieval modes to score."),
    limit: Optional[int] = typer.Option(None, help="Score only the first N queries."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
):
    """Score retrieval: Recall@1/5/10, MRR@10 and nDCG@10 for each mode."""
    from .evaluate import evaluate, read_queries

    try:
        lib = _library(index)
        lib.store
        scores = evaluate(lib, read_queries(queries, limit), [m.strip() for m in modes.split(",") if m.strip()])
    except (MedragError, OSError) as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in scores], indent=2))
        return
    typer.echo(f"{'mode':<8} {'queries':>7} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7} {'nDCG@10':>8}")
    for s in scores:
        typer.echo(f"{s.mode:<8} {s.queries:>7} {s.recall[1]:>6.3f} {s.recall[5]:>6.3f} {s.recall[10]:>6.3f} "
                   f"{s.mrr10:>7.3f} {s.ndcg10:>8.3f}")


@eval_app.command("mcq")
def eval_mcq(
    data: Path = typer.Option(..., "--data", help="Questions: MedQA or MedMCQA JSONL, or PubMedQA JSON/JSONL."),
    model: str = typer.Option(..., "--model", "-m", help="smollm2, a hub id, a model folder or a .gguf file."),
    index: Optional[Path] = typer.Option(None, "--index", "-i", help="Put the top passages of this index for each "
                                         "question in the prompt (the retrieval-augmented setting)."),
    scoring: str = typer.Option("letter-probs", help="letter-probs (the most probable option letter; always "
                                "answers) or generated (the letter the greedy reply names; none counts wrong)."),
    k: int = typer.Option(3, "-k", help="Passages per question with --index."),
    limit: Optional[int] = typer.Option(None, help="Ask only the first N questions."),
    compare_no_rag: bool = typer.Option(False, "--compare-no-rag", help="With --index, also ask every question "
                                        "without retrieval and report both."),
    exclude_own: bool = typer.Option(False, "--exclude-own", help="Leave out passages of the document whose PMID "
                                     "(or doc id) is the question's id: PubMedQA without its own abstract."),
    with_abstract: bool = typer.Option(False, "--with-abstract", help="Give PubMedQA questions their abstract in "
                                       "the prompt (by default the question alone)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Results JSONL, one line per question; a rerun "
                                       "with the same file asks only the questions not yet in it."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ... [default: cuda when present]."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
):
    """Accuracy on medical multiple-choice questions (95% interval, per subject), with or without retrieval."""
    from .mcq import SCORINGS, evaluate_mcq, read_items

    if scoring not in SCORINGS:
        _fail(f"--scoring {scoring!r} is not one of {', '.join(SCORINGS)}", 2)
    if compare_no_rag and index is None:
        _fail("--compare-no-rag needs --index (the run with retrieval to compare)", 2)
    try:
        items = read_items(data, limit)
        library = None
        if index is not None:
            library = _library(index, device=device)
            library.store
        from .generate import load_generator

        generator = load_generator(model, device=device, backend="transformers")  # letter scores need its logits
        summary = evaluate_mcq(generator, items, scoring=scoring, library=library, k=k, exclude_own=exclude_own,
                               compare_no_rag=compare_no_rag, with_context=with_abstract, out=out, data=str(data),
                               progress=sys.stderr.isatty() or not as_json)
    except (MedragError, OSError) as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _fail("interrupted; every answer finished before the interruption is kept" +
              (f" in {out}, and a rerun with --out {out} asks only the rest" if out else ""), 130)
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
        return

    def line(label: str, a) -> str:
        extra = f"   no option named {a.unanswered}" if a.unanswered else ""
        return (f"{label:<28} {a.accuracy:>7.1%}  95% CI {a.ci_low:.1%}-{a.ci_high:.1%}  "
                f"({a.correct}/{a.n}){extra}")

    setting = f"with retrieval (k={k}{', own document left out' if exclude_own else ''})" if index else "no retrieval"
    typer.echo(f"{summary.model} on {data} ({summary.scoring} scoring), {setting}")
    typer.echo(line("accuracy", summary.overall))
    if summary.no_rag is not None:
        typer.echo(line("without retrieval", summary.no_rag))
        typer.echo(f"{'retrieval gain':<28} {summary.overall.accuracy - summary.no_rag.accuracy:>+7.1%}")
    for subject, a in sorted(summary.per_subject.items()):
        typer.echo(line(f"  {subject[:26]}", a))
    if out:
        typer.echo(f"results {out}")


@app.command()
def finetune(
    data: Path = typer.Option(..., "--data", help="Training questions: MedQA or MedMCQA JSONL, or PubMedQA."),
    base: str = typer.Option(..., "--base", help="The model to fine-tune: smollm2, a hub id, a folder or a .gguf."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the checkpoints, the adapter and the merged model."),
    steps: int = typer.Option(1000, help="Optimizer steps."),
    lr: float = typer.Option(2e-4, "--lr", help="Learning rate (AdamW, linear decay after warm-up)."),
    lora_r: int = typer.Option(16, "--lora-r", help="LoRA rank (alpha is twice the rank)."),
    batch_size: int = typer.Option(8, help="Questions per step."),
    save_every: int = typer.Option(100, help="Write a checkpoint every N steps."),
    limit: Optional[int] = typer.Option(None, help="Train on only the first N questions."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in --out."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ... [default: cuda when present]."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's report as one JSON object."),
):
    """LoRA fine-tuning on multiple-choice questions; saves the adapter and a merged model for --model OUT."""
    from .finetune import FinetuneConfig, finetune as run_finetune

    try:
        config_ = FinetuneConfig(steps=steps, lr=lr, lora_r=lora_r, batch_size=batch_size, save_every=save_every)
        report = run_finetune(data, base, out, config_, resume=resume, limit=limit, device=device,
                              progress=sys.stderr.isatty() or not as_json)
    except (MedragError, OSError, ValueError) as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _fail(f"interrupted; rerun with --resume to continue from the last checkpoint in {out}", 130)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    typer.echo(f"fine-tuned {base} on {report.examples} questions: steps {report.start_step}->{report.steps}, "
               f"loss {report.first_loss:.3f} -> {report.last_loss:.3f}, {report.seconds:.0f} s")
    typer.echo(f"  adapter {report.adapter}")
    typer.echo(f"  merged model {report.merged}  (use it with --model {report.merged})")


corpus_app = typer.Typer(no_args_is_help=True, help="Bring literature in from PubMed and PubMed Central, "
                         "as files `medrag index` reads.")
app.add_typer(corpus_app, name="corpus")


@corpus_app.command("fetch")
def corpus_fetch(
    pubmed: Optional[str] = typer.Option(None, "--pubmed", help="A PubMed query: its abstracts."),
    pmids: Optional[str] = typer.Option(None, "--pmids", help="Abstracts by PMID: a file (one or more a line) or "
                                        "a comma-separated list."),
    dois: Optional[str] = typer.Option(None, "--dois", help="Abstracts by DOI (looked up in PubMed): a file or a "
                                       "comma-separated list."),
    pmc_oa: Optional[str] = typer.Option(None, "--pmc-oa", help="Open-access full texts (JATS) by PMCID: a file or "
                                         "a comma-separated list."),
    recipe: Optional[Path] = typer.Option(None, "--recipe", help="A recipe.json to rebuild (its IDs when it has "
                                          "them, else its query)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder to fetch into (with --recipe, by default "
                                       "the recipe's folder)."),
    max_records: int = typer.Option(200, "--max", help="Most records a --pubmed query brings in (at most 10,000)."),
    fmt: str = typer.Option("xml", "--format", help="Abstracts as xml (PubMed XML) or medline (.nbib)."),
    email: Optional[str] = typer.Option(None, envvar="NCBI_EMAIL", show_envvar=True,
                                        help="Your e-mail, sent to NCBI as its usage policy asks."),
    api_key: Optional[str] = typer.Option(None, envvar="NCBI_API_KEY", show_envvar=True,
                                          help="NCBI API key: up to 10 requests a second instead of 3."),
    tool: Optional[str] = typer.Option(None, envvar="NCBI_TOOL", show_envvar=True,
                                       help="Tool name sent to NCBI (medrag when unset)."),
    eutils_url: Optional[str] = typer.Option(None, envvar="MEDRAG_EUTILS_URL", show_envvar=True,
                                             help="E-utilities base URL, for a mirror, proxy or test server "
                                             "(NCBI's when unset)."),
    retries: int = typer.Option(5, help="Tries per request before giving up."),
    timeout: float = typer.Option(60.0, help="Seconds to wait for a reply."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's report as one JSON object."),
):
    """Fetch abstracts (by query, PMID or DOI) or open-access full texts (by PMCID) into a folder, resumably."""
    from .corpus import EUtils, Recipe, fetch_corpus, read_ids

    given = [name for name, v in (("--pubmed", pubmed), ("--pmids", pmids), ("--dois", dois),
                                  ("--pmc-oa", pmc_oa), ("--recipe", recipe)) if v]
    if len(given) != 1:
        _fail("give one of --pubmed, --pmids, --dois, --pmc-oa or --recipe" +
              (f" (not {' and '.join(given)})" if given else ""), 2)
    try:
        if recipe:
            wanted = Recipe.load(recipe)
            out = out or recipe.parent
        elif pmc_oa:
            wanted = Recipe(database="pmc", ids=tuple(read_ids(pmc_oa)))
        else:
            wanted = Recipe(query=pubmed, ids=tuple(read_ids(pmids)) if pmids else (),
                            dois=tuple(read_ids(dois)) if dois else (), max=max_records if pubmed else None, format=fmt)
        if out is None:
            _fail("say where to fetch to with --out", 2)
        client = EUtils(eutils_url, email=email, api_key=api_key, tool=tool, retries=retries, timeout=timeout)
        if not client.email and not as_json:
            typer.echo("medrag: note: NCBI asks for a contact e-mail (--email or NCBI_EMAIL)", err=True)
        progress = sys.stderr.isatty() and not as_json
        report = fetch_corpus(wanted, out, client=client, on_batch=(lambda b: typer.echo(
            f"  batch {b.number}/{b.total}: {b.records} records" + (f" in {b.file}" if b.file else "") +
            (f", {b.missing} not found" if b.missing else ""), err=True)) if progress else None)
    except MedragError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _fail("interrupted; every batch finished before the interruption is kept, and the next run fetches "
              "only the rest", 130)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    source = f"query {report.query!r}" if report.query else f"{report.requested} IDs"
    typer.echo(f"corpus {report.folder}  ({report.database}, {source})")
    typer.echo(f"  records {report.requested:>6}   fetched {report.fetched:>5}   already on disk {report.on_disk:>5}"
               f"   not found {len(report.missing):>4}   files {len(report.files)}   requests {report.requests}")
    for label, ids in (("not found", report.missing), (f"DOIs not in {report.database}", report.dois_not_found),
                       ("without full text (the publisher allows only the abstract)", report.no_full_text)):
        if ids:
            typer.echo(f"  {label}: {', '.join(ids[:20])}{' …' if len(ids) > 20 else ''}", err=True)
    typer.echo(f"next: medrag index {report.folder}")


def main():  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
