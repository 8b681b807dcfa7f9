// The medrag page: plain DOM, no framework, every asset served by medrag itself.
"use strict";

const $ = (id) => document.getElementById(id);
let tab = "summarize";

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// Where a citation opens: the PDF at its page, else the paper's PubMed or DOI page.
function sourceLink(ref, cit) {
  if (ref.kind === "pdf") {
    const page = cit ? cit.page_start : 1;
    return { href: `/api/documents/${encodeURIComponent(ref.doc_id)}/file#page=${page}`, label: `PDF, p. ${page}` };
  }
  if (ref.pmid) return { href: `https://pubmed.ncbi.nlm.nih.gov/${encodeURIComponent(ref.pmid)}/`, label: `PubMed ${ref.pmid}` };
  if (ref.doi) return { href: `https://doi.org/${ref.doi}`, label: `doi:${ref.doi}` };
  return null;
}

function filters() {
  const body = {};
  for (const id of ["year_from", "year_to", "kind", "source", "model"]) {
    const v = $(id).value.trim();
    if (v) body[id] = id.startsWith("year") ? Number(v) : v;
  }
  return body;
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function failure(resp) {
  let detail = resp.statusText;
  try { detail = JSON.stringify((await resp.json()).detail); } catch (e) { /* not JSON */ }
  const retry = resp.headers.get("Retry-After");
  return `${resp.status}: ${detail}${retry ? ` (retry in ${retry} s)` : ""}`;
}

// ---- summarize: server-sent events read from a POST ----------------------------------------
async function summarize(query) {
  const stream = $("stream"), out = $("summary");
  stream.textContent = ""; stream.hidden = true; stream.dataset.tokens = "0"; out.replaceChildren();
  status("Waiting for the model…");
  const body = { query, stream: true, ...filters() };
  const mnt = Number($("max_new_tokens").value);
  if (mnt) body.max_new_tokens = mnt;
  const resp = await fetch("/api/summarize", {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(body),
  });
  if (!resp.ok) { status(await failure(resp), true); return; }
  const reader = resp.body.getReader(), decoder = new TextDecoder();
  let buffer = "", summary = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (!data) continue;
      const payload = JSON.parse(data);
      if (event === "queued") status(payload.waiting ? `Queued behind ${payload.waiting} other question(s)…` : "Starting…");
      else if (event === "started") status(`Writing with ${payload.model}…`);
      else if (event === "token") {
        stream.hidden = false; stream.textContent += payload;
        stream.dataset.tokens = String(Number(stream.dataset.tokens) + 1);
        stream.scrollTop = stream.scrollHeight;
      } else if (event === "summary") { summary = payload; renderSummary(payload); }
      else if (event === "exports") renderDownloads(payload, query);
      else if (event === "error") status(payload.detail, true);
    }
  }
  if (summary) status(summary.timings ? `Done (${summary.model || "no model"}).` : "Done.");
}

function renderSummary(s) {
  const out = $("summary");
  out.replaceChildren(el("h2", { text: s.query }));
  if (s.status !== "ok") {
    out.append(el("div", { class: "insufficient", id: "insufficient" },
      el("strong", { text: "The indexed literature does not answer this question. " }),
      el("span", { class: "reason", text: s.reason || "" })));
    return;
  }
  const refs = Object.fromEntries(s.references.map((r) => [r.number, r]));
  if (s.fallback) out.append(el("p", { class: "fallback", id: "fallback", text: `${s.fallback}.` }));
  if (s.unmatched && s.unmatched.length) {
    const names = s.unmatched.map((w) => `'${w}'`).join(" or ");
    out.append(el("p", { class: "fallback", id: "unmatched",
      text: `No indexed paper names ${names}: read the findings as evidence on the rest of the question.` }));
  }
  if (s.answer) out.append(el("p", { class: "answer", text: `Answer: ${s.answer}` }));
  const list = el("ul", { class: "findings" });
  s.findings.forEach((f, i) => {
    const li = el("li", { class: "finding" }, el("span", { text: f.text }));
    f.citations.forEach((c, j) => {
      const mark = { supported: "", partial: "?", unsupported: "✗" }[c.verdict] ?? "";
      const chip = el("button", { type: "button", class: `chip ${c.verdict}`, "aria-expanded": "false",
        title: `${c.verdict}${c.reason ? ": " + c.reason : ""}`, text: `[${c.reference}${mark}${c.inferred ? "†" : ""}]` });
      const box = citationBox(c, refs[c.reference]);
      box.hidden = true;
      chip.addEventListener("click", () => {
        box.hidden = !box.hidden;
        chip.setAttribute("aria-expanded", String(!box.hidden));
      });
      li.append(chip);
      li.append(box);
    });
    list.append(li);
  });
  out.append(el("h3", { text: "Key findings" }), list);
  const ol = el("ol", { class: "refs" });
  for (const r of s.references) {
    const link = sourceLink(r, null);
    ol.append(el("li", { value: String(r.number) }, r.label, " ",
      link ? el("a", { href: link.href, target: "_blank", rel: "noopener", text: link.label }) : null));
  }
  out.append(el("h3", { text: "References" }), ol);
  const share = s.verbatim
    ? "Each finding is a sentence of its paper, quoted verbatim: chosen for closeness to the question, which does not prove that it answers it"
    : s.supported_share === null ? "no citations" : `${Math.round(100 * s.supported_share)}% of citations supported`;
  out.append(el("p", { class: "footer", text: `${share}. Model: ${s.model}${s.fallback ? ", findings extractive" : ""}.${s.note ? " " + s.note : ""}` }));
}

function citationBox(c, ref) {
  const link = sourceLink(ref, c);
  const where = [c.page, c.section].filter(Boolean).join(", ");
  return el("div", { class: "quote" },
    el("div", { class: "quote-text", text: `“${c.quote}”` }),
    el("div", { class: "meta" },
      el("span", { class: `verdict ${c.verdict}`, text: c.verdict }),
      c.reason ? ` (${c.reason})` : "", " · ", el("span", { class: "paper", text: ref ? ref.title : "" }),
      where ? ` · ${where}` : "", " · ",
      link ? el("a", { class: "open", href: link.href, target: "_blank", rel: "noopener", text: `Open ${link.label}` }) : null));
}

function renderDownloads(exports, query) {
  const slug = query.toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, 40) || "summary";
  const p = el("p", { class: "downloads" }, "Download: ");
  for (const [key, ext, type] of [["markdown", "md", "text/markdown"], ["bibtex", "bib", "application/x-bibtex"],
                                  ["ris", "ris", "application/x-research-info-systems"]]) {
    const url = URL.createObjectURL(new Blob([exports[key]], { type }));
    p.append(el("a", { href: url, download: `${slug}.${ext}`, id: `download-${key}`, text: key === "ris" ? "RIS" : key === "bibtex" ? "BibTeX" : "Markdown" }));
  }
  $("summary").append(p);
}

// ---- search and documents ----------------------------------------------------------------
async function search(query) {
  status("Searching…");
  const resp = await fetch("/api/search", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query, k: 10, ...filters(), model: undefined }) });
  if (!resp.ok) { status(await failure(resp), true); return; }
  const data = await resp.json();
  const ol = $("hits");
  ol.replaceChildren();
  for (const h of data.hits) {
    const link = sourceLink(h, h);
    ol.append(el("li", { class: "hit" },
      el("div", { class: "hit-meta" }, `${h.title} (${h.year || "n.d."}) ${[h.pages, h.section].filter(Boolean).join(", ")} · score ${h.score.toFixed(4)} `,
        link ? el("a", { href: link.href, target: "_blank", rel: "noopener", text: link.label }) : null),
      el("div", { text: h.text })));
  }
  status(`${data.hits.length} passages.`);
}

async function documents() {
  const resp = await fetch("/api/documents");
  if (!resp.ok) { status(await failure(resp), true); return; }
  const ul = $("documents");
  ul.replaceChildren();
  for (const d of await resp.json()) {
    const link = sourceLink(d, null);
    ul.append(el("li", {}, `${d.title || d.source} (${d.year || "n.d."}) `,
      link ? el("a", { href: link.href, target: "_blank", rel: "noopener", text: link.label }) : null));
  }
  status("");
}

async function info() {
  try {
    const resp = await fetch("/api/info");
    const d = await resp.json();
    $("index-info").textContent = resp.ok ? `${d.documents} documents · ${d.chunks} passages · default model ${d.server.default_model}` : String(d.detail);
  } catch (e) { $("index-info").textContent = "server unreachable"; }
}

function show(name) {
  tab = name;
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.tab === name);
  for (const t of ["summarize", "search", "documents"]) $(`${t}-pane`).hidden = t !== name;
  $("ask").hidden = name === "documents";
  $("go").textContent = name === "search" ? "Search" : "Summarize";
  if (name === "documents") documents();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => show(b.dataset.tab));
  $("ask").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = $("query").value.trim();
    if (!q) return;
    $("go").disabled = true;
    try { await (tab === "search" ? search(q) : summarize(q)); }
    catch (e) { status(String(e), true); }
    finally { $("go").disabled = false; }
  });
  info();
});
