// intervene screen: shared store, SSE client, API helper and renderers.
// Loaded as an ES module by rep.js and supervisor.js (admin.js uses api() only).
// Every piece of server text goes through textContent, never innerHTML.

if (!Array.isArray(window.__ivCardTimes)) window.__ivCardTimes = [];

export const CATEGORY_LABELS = {
  accuracy: "Factual error",
  emotion: "Emotional shift",
  momentum: "Stalled conversation",
  opportunity: "Missed opportunity",
  competitive: "Competitor mentioned",
  compliance: "Compliance",
  process: "Process step",
};

export const EVIDENCE_HEADINGS = {
  accuracy: "From the knowledge base",
  competitive: "Battlecard",
  opportunity: "Offer / promotion",
};

export const OUTCOME_LABELS = {
  won: "Won",
  "follow-up": "Follow-up",
  lost: "Lost",
  "no-decision": "No decision",
  "rep-unavailable": "Rep unavailable",
  unknown: "Not set",
};

export const STATE_LABELS = { ringing: "Ringing", live: "Live", ended: "Ended" };
const SEVERITY_LABELS = { low: "Low", medium: "Medium", high: "High" };
const DELIVERY_LABELS = {
  pending: "",
  shown: "",
  spoken: "Spoken on the call",
  whispered: "Whispered to you",
  expired: "Expired",
  interrupted: "Interrupted",
  failed: "Delivery failed",
  "call-ended": "Call ended",
};
const FEEDBACK_LABELS = { used: "Used", edited: "Edited", dismissed: "Dismissed" };

export const categoryLabel = (c) => CATEGORY_LABELS[c] || String(c || "Card");
export const evidenceHeading = (c) => EVIDENCE_HEADINGS[c] || "Supporting data";

// ------------------------------------------------------------------ helpers

export function $(sel, root = document) { return root.querySelector(sel); }

/** Create an element: h("div", {class: "x", dataset: {a: 1}}, "text", child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "dataset") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
      else if (k === "text") el.textContent = String(v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const pad2 = (n) => String(n).padStart(2, "0");

/** mm:ss (or h:mm:ss) for a number of seconds. */
export function fmtDuration(sec) {
  if (typeof sec !== "number" || !isFinite(sec) || sec < 0) return "";
  sec = Math.floor(sec);
  const hh = Math.floor(sec / 3600), mm = Math.floor((sec % 3600) / 60), ss = sec % 60;
  return hh ? `${hh}:${pad2(mm)}:${pad2(ss)}` : `${mm}:${pad2(ss)}`;
}

/** Local clock time of an epoch (seconds); with the date when it is not today. */
export function fmtClock(epoch, withSeconds = false) {
  if (typeof epoch !== "number" || !isFinite(epoch)) return "";
  const d = new Date(epoch * 1000), now = new Date();
  const t = withSeconds
    ? `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
    : `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (d.toDateString() === now.toDateString()) return t;
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${t}`;
}

export const nowWall = () => (performance.timeOrigin + performance.now()) / 1000;

export function loginUrl() {
  const next = location.pathname + location.search;
  return "/login?next=" + encodeURIComponent(next);
}

// ------------------------------------------------------------------ API

/** fetch() wrapper: JSON in and out, the CSRF header, errors as Error(message) with .status. */
export async function api(method, path, body) {
  method = method.toUpperCase();
  const headers = { Accept: "application/json", "X-Intervene": "1" };
  const opts = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (method !== "GET" && method !== "HEAD") {
    headers["Content-Type"] = "application/json";
    if (method !== "DELETE" || body !== undefined) opts.body = JSON.stringify(body === undefined ? {} : body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    const err = new Error("Network error: the server did not answer");
    err.status = 0;
    throw err;
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    if (res.status === 401) {
      location.href = loginUrl();
    }
    const err = new Error((data && data.error) || `Request failed (${res.status})`);
    err.status = res.status;
    throw err;
  }
  return data;
}

// ------------------------------------------------------------------ store

const k = (id) => String(id);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function sub(map, key) {
  let m = map.get(key);
  if (!m) map.set(key, (m = new Map()));
  return m;
}

export const store = {
  me: null,
  calls: new Map(),      // id -> call
  briefings: new Map(),  // call id -> text
  cards: new Map(),      // call id -> Map(seq -> card)
  lines: new Map(),      // call id -> Map(idx -> final line)
  interim: new Map(),    // call id -> Map(speaker -> interim line)
  detailLoaded: new Set(),

  call(id) { return this.calls.get(k(id)) || null; },

  /** Upsert a call; returns true when something changed. */
  upsertCall(c) {
    if (!c || c.id === undefined || c.id === null) return false;
    const old = this.calls.get(k(c.id));
    if (old && same(old, c)) return false;
    this.calls.set(k(c.id), old ? { ...old, ...c } : { ...c });
    return true;
  },

  setBriefing(callId, text) {
    const key = k(callId);
    if (this.briefings.get(key) === text) return false;
    if (text === null || text === undefined) {
      return this.briefings.delete(key);
    }
    this.briefings.set(key, String(text));
    return true;
  },

  cardsOf(callId) {
    const m = this.cards.get(k(callId));
    return m ? [...m.values()].sort((a, b) => a.seq - b.seq) : [];
  },

  /** Upsert a card by (call_id, seq); feedback never goes back to null. */
  upsertCard(card) {
    if (!card || card.call_id === undefined || card.seq === undefined) return false;
    const m = sub(this.cards, k(card.call_id));
    const old = m.get(card.seq);
    let next = old ? { ...old, ...card } : { ...card };
    if (old && old.feedback && !card.feedback) {
      next.feedback = old.feedback;
      next.feedback_text = old.feedback_text;
    }
    if (old && same(old, next)) return false;
    m.set(card.seq, next);
    return true;
  },

  linesOf(callId) {
    const m = this.lines.get(k(callId));
    return m ? [...m.values()].sort((a, b) => a.idx - b.idx) : [];
  },

  interimsOf(callId) {
    const m = this.interim.get(k(callId));
    return m ? [...m.values()] : [];
  },

  /** Upsert a transcript line; returns true when the transcript changed. */
  upsertLine(line) {
    if (!line || line.call_id === undefined) return false;
    const key = k(line.call_id);
    if (line.final) {
      if (line.idx === null || line.idx === undefined) line = { ...line, idx: lineKeyFallback(line) };
      let changed = false;
      const im = this.interim.get(key);
      if (im && im.has(line.speaker)) { im.delete(line.speaker); changed = true; }
      const m = sub(this.lines, key);
      const old = m.get(line.idx);
      if (!old || !same(old, line)) { m.set(line.idx, { ...line }); changed = true; }
      return changed;
    }
    const im = sub(this.interim, key);
    const old = im.get(line.speaker);
    if (!line.text) {
      return im.delete(line.speaker);
    }
    if (old && old.text === line.text) return false;
    im.set(line.speaker, { ...line });
    return true;
  },

  /** Merge GET /api/calls/{id} into the store. */
  mergeDetail(d) {
    if (!d || !d.call) return;
    this.upsertCall(d.call);
    if (d.briefing) this.setBriefing(d.call.id, d.briefing);
    for (const l of d.lines || []) this.upsertLine({ call_id: d.call.id, ...l });
    for (const c of d.cards || []) this.upsertCard({ call_id: d.call.id, ...c });
    this.detailLoaded.add(k(d.call.id));
  },
};

// a final line without an index (should not happen): order it by its start time
function lineKeyFallback(line) {
  return typeof line.start === "number" ? 1e6 + Math.round(line.start * 100) : 1e9;
}

/** Fetch a call's stored detail once and merge it into the store. */
export async function loadCall(id) {
  const d = await api("GET", `/api/calls/${encodeURIComponent(id)}`);
  store.mergeDetail(d);
  return d;
}

// ------------------------------------------------------------------ SSE

const CONN_TEXT = { connecting: "Connecting…", open: "Connected", reconnecting: "Reconnecting…" };

function setConn(state) {
  const el = document.getElementById("conn");
  if (!el || el.dataset.state === state) return;
  el.dataset.state = state;
  const t = el.querySelector(".conn-text") || el;
  t.textContent = CONN_TEXT[state] || state;
  el.title = state === "open" ? "Live updates are on" : CONN_TEXT[state];
}

/**
 * Open the live stream. handlers: {hello(data), call(call), briefing(b), line(line), card(card)};
 * each runs only when the store actually changed (duplicates and replays are ignored).
 */
export function connect(handlers = {}) {
  let es = null;
  let retry = null;
  let backoff = 1000;

  const fire = (kind, data) => {
    try { handlers[kind] && handlers[kind](data); }
    catch (e) { console.error(`intervene: ${kind} handler failed`, e); }
  };

  const dispatch = (kind, raw) => {
    let data;
    try { data = JSON.parse(raw); } catch { return; }
    switch (kind) {
      case "hello":
        if (data && data.me) store.me = data.me;
        backoff = 1000;
        setConn("open");
        fire("hello", data);
        if (document.body && document.body.dataset.ready !== "1") document.body.dataset.ready = "1";
        break;
      case "call":
        if (store.upsertCall(data)) fire("call", store.call(data.id));
        break;
      case "briefing":
        if (data && store.setBriefing(data.call_id, data.text)) fire("briefing", data);
        break;
      case "line":
        if (store.upsertLine(data)) fire("line", data);
        break;
      case "card":
        if (store.upsertCard(data)) fire("card", store.cards.get(k(data.call_id)).get(data.seq));
        break;
    }
  };

  const open = () => {
    retry = null;
    es = new EventSource("/api/events");
    es.addEventListener("open", () => setConn("open"));
    es.addEventListener("error", () => {
      setConn("reconnecting");
      if (es.readyState === EventSource.CLOSED) {
        // the browser gave up (e.g. 401 or a non-SSE answer): check the session, then retry ourselves
        es.close();
        fetch("/api/me", { credentials: "same-origin", cache: "no-store" })
          .then((r) => { if (r.status === 401) location.href = loginUrl(); })
          .catch(() => {});
        if (!retry) {
          retry = setTimeout(open, backoff);
          backoff = Math.min(backoff * 2, 15000);
        }
      }
    });
    for (const kind of ["hello", "call", "briefing", "line", "card"]) {
      es.addEventListener(kind, (ev) => dispatch(kind, ev.data));
    }
  };
  open();
  return { close: () => { if (retry) clearTimeout(retry); if (es) es.close(); } };
}

// ------------------------------------------------------------------ transcript

/** A transcript line element. nameFor(speaker) gives the visible speaker label. */
export function renderLine(line, nameFor) {
  const el = h("div", { class: "line" + (line.final ? "" : " interim") });
  fillLine(el, line, nameFor);
  return el;
}

function fillLine(el, line, nameFor) {
  el.dataset.speaker = line.speaker;
  el.classList.toggle("interim", !line.final);
  if (line.final) el.dataset.idx = String(line.idx); else delete el.dataset.idx;
  const who = h("span", { class: "who", text: nameFor ? nameFor(line.speaker) : line.speaker });
  const text = h("span", { class: "text", text: line.text || "" });
  const kids = [who, text];
  if (typeof line.start === "number") {
    kids.splice(1, 0, h("span", { class: "at", text: fmtDuration(line.start) }));
  }
  el.replaceChildren(...kids);
}

/** Keeps #transcript in step with the store, one element per line, auto-scrolling. */
export class TranscriptView {
  constructor(el, nameFor) {
    this.el = el;
    this.nameFor = nameFor;
    this.finals = new Map();   // idx -> element
    this.interims = new Map(); // speaker -> element
    this.stick = true;
    this.jump = null;
    el.addEventListener("scroll", () => {
      this.stick = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      if (this.stick && this.jump) this.jump.hidden = true;
    }, { passive: true });
  }

  setJumpButton(btn) {
    this.jump = btn;
    btn.hidden = true;
    btn.addEventListener("click", () => {
      this.el.scrollTop = this.el.scrollHeight;
      this.stick = true;
      btn.hidden = true;
    });
  }

  clear() {
    this.el.replaceChildren();
    this.finals.clear();
    this.interims.clear();
    this.stick = true;
    if (this.jump) this.jump.hidden = true;
  }

  renderAll(callId) {
    for (const l of store.linesOf(callId)) this.upsert(l, false);
    // drop interims the store no longer has
    const live = new Set(store.interimsOf(callId).map((l) => l.speaker));
    for (const [sp, el] of this.interims) if (!live.has(sp)) { el.remove(); this.interims.delete(sp); }
    for (const l of store.interimsOf(callId)) this.upsert(l, false);
    this.afterChange(true);
  }

  /** Apply one line event (already in the store). */
  upsert(line, scroll = true) {
    if (line.final) {
      const ie = this.interims.get(line.speaker);
      if (ie) { ie.remove(); this.interims.delete(line.speaker); }
      const idx = line.idx === null || line.idx === undefined ? lineKeyFallback(line) : line.idx;
      let el = this.finals.get(idx);
      const json = JSON.stringify(line);
      if (el) {
        if (el._iv !== json) { fillLine(el, { ...line, idx }, this.nameFor); el._iv = json; }
      } else {
        el = renderLine({ ...line, idx }, this.nameFor);
        el._iv = json;
        this.finals.set(idx, el);
        this.insertFinal(el, idx);
      }
    } else {
      let el = this.interims.get(line.speaker);
      if (!line.text) {
        if (el) { el.remove(); this.interims.delete(line.speaker); }
      } else if (el) {
        fillLine(el, line, this.nameFor);
      } else {
        el = renderLine(line, this.nameFor);
        this.interims.set(line.speaker, el);
        this.el.append(el);
      }
    }
    if (scroll) this.afterChange(false);
  }

  insertFinal(el, idx) {
    // finals in index order, interims after them; usually this appends
    let node = this.el.lastElementChild;
    while (node && (node.classList.contains("interim") || Number(node.dataset.idx) > idx)) {
      node = node.previousElementSibling;
    }
    if (node) node.after(el); else this.el.prepend(el);
  }

  afterChange(force) {
    if (this.stick || force) {
      this.el.scrollTop = this.el.scrollHeight;
      this.stick = true;
    } else if (this.jump) {
      this.jump.hidden = false;
    }
  }
}

// ------------------------------------------------------------------ cards

const recorded = new Set();

function recordRendered(card) {
  const key = `${card.call_id}\u0000${card.seq}`;
  if (recorded.has(key)) return;
  recorded.add(key);
  const call_id = card.call_id, seq = card.seq, decided_wall = card.decided_wall;
  requestAnimationFrame(() => {
    window.__ivCardTimes.push({ call_id, seq, decided_wall, rendered_wall: nowWall() });
  });
}

/** A card element; opts.feedback: show the rep's Used / Edit / Dismiss buttons. */
export function renderCard(card, opts = {}) {
  const el = h("article", { class: "card" });
  fillCard(el, card, opts);
  return el;
}

/** (Re)fill a card element from the card object. Keeps an open editor and its text. */
export function fillCard(el, card, opts = {}) {
  const fb = card.feedback || "none";
  const cat = card.category || "process";
  const editing = el.dataset.editing === "1" && fb === "none";
  const draft = editing ? (el.querySelector("textarea.say-edit") || {}).value : null;

  el.dataset.call = String(card.call_id);
  el.dataset.seq = String(card.seq);
  el.dataset.category = cat;
  el.dataset.severity = card.severity || "";
  el.dataset.feedback = fb;
  el.dataset.delivery = card.delivery || "";
  el.setAttribute("aria-label", `${categoryLabel(cat)}${card.severity ? ", " + card.severity + " severity" : ""}`);

  const head = h("header", { class: "card-head" },
    h("span", { class: "cat", text: categoryLabel(cat) }),
    card.severity ? h("span", { class: "sev", dataset: { severity: card.severity }, text: SEVERITY_LABELS[card.severity] || card.severity }) : null,
    h("span", { class: "card-meta" },
      DELIVERY_LABELS[card.delivery] ? h("span", { class: "delivery", text: DELIVERY_LABELS[card.delivery] }) : null,
      typeof card.at === "number" ? h("time", { class: "card-at", title: "Call time", text: fmtDuration(card.at) }) : null),
  );
  const kids = [head];
  if (card.detected) kids.push(h("p", { class: "detected", text: card.detected }));

  if (fb === "edited" && card.feedback_text) {
    kids.push(h("blockquote", { class: "say edited" },
      h("span", { class: "say-label", text: "You said" }),
      h("span", { class: "say-text", text: card.feedback_text })));
    if (card.say) kids.push(h("p", { class: "say-original", text: "Suggested: " + card.say }));
  } else if (card.say) {
    kids.push(h("blockquote", { class: "say" }, h("span", { class: "say-text", text: card.say })));
  }

  const ev = Array.isArray(card.evidence) ? card.evidence.filter((e) => e && e.text) : [];
  if (ev.length) {
    kids.push(h("section", { class: "evidence" },
      h("h4", { text: evidenceHeading(cat) }),
      h("ul", null, ...ev.map((e) => h("li", null,
        h("span", { class: "ev-text", text: e.text }),
        e.kb_id ? h("span", { class: "kb-id", text: e.kb_id }) : null)))));
  }

  if (fb !== "none") {
    kids.push(h("p", { class: "card-state", dataset: { feedback: fb } },
      h("span", { class: "state-mark", "aria-hidden": "true", text: fb === "dismissed" ? "✕" : "✓" }),
      FEEDBACK_LABELS[fb] || fb));
  } else if (opts.feedback) {
    const busy = el.dataset.busy === "1";
    kids.push(h("div", { class: "card-actions", hidden: editing },
      h("button", { type: "button", class: "btn btn-primary", dataset: { action: "used" }, disabled: busy, text: "Used" }),
      h("button", { type: "button", class: "btn", dataset: { action: "edit" }, disabled: busy, text: "Edit" }),
      h("button", { type: "button", class: "btn btn-quiet", dataset: { action: "dismiss" }, disabled: busy, text: "Dismiss" })));
    if (editing) kids.push(editor(card, draft, busy));
  }
  kids.push(h("p", { class: "card-error", role: "alert", hidden: !el._ivError, text: el._ivError || "" }));
  el.replaceChildren(...kids);
}

function editor(card, text, busy) {
  const ta = h("textarea", { class: "say-edit", rows: "3", "aria-label": "The words you actually used" });
  ta.value = text !== null && text !== undefined ? text : (card.say || "");
  return h("div", { class: "card-edit" },
    h("label", { class: "edit-label", text: "What you actually said" }),
    ta,
    h("div", { class: "card-actions" },
      h("button", { type: "button", class: "btn btn-primary", dataset: { action: "save" }, disabled: busy, text: "Save & used" }),
      h("button", { type: "button", class: "btn btn-quiet", dataset: { action: "cancel" }, disabled: busy, text: "Cancel" })));
}

/** Keeps #cards in step with the store: newest card on top, one element per (call, seq). */
export class CardsView {
  constructor(el, opts = {}) {
    this.el = el;
    this.opts = opts;          // {feedback: bool}
    this.byseq = new Map();
    if (opts.feedback) el.addEventListener("click", (e) => this.onClick(e));
  }

  clear() {
    this.el.replaceChildren();
    this.byseq.clear();
  }

  renderAll(callId) {
    for (const c of store.cardsOf(callId)) this.upsert(c, false);
  }

  upsert(card, fresh = true) {
    let el = this.byseq.get(card.seq);
    const json = JSON.stringify(card);
    if (el) {
      if (el._iv !== json) { el._iv = json; fillCard(el, card, this.opts); }
      return el;
    }
    el = renderCard(card, this.opts);
    el._iv = json;
    if (fresh) {
      el.classList.add("fresh");
      el.addEventListener("animationend", () => el.classList.remove("fresh"), { once: true });
      setTimeout(() => el.classList.remove("fresh"), 4000);
    }
    this.byseq.set(card.seq, el);
    // newest on top: before the first card with a lower seq
    let node = this.el.firstElementChild;
    while (node && Number(node.dataset.seq) > card.seq) node = node.nextElementSibling;
    this.el.insertBefore(el, node);
    recordRendered(card);
    return el;
  }

  refill(el) {
    const card = store.cards.get(el.dataset.call)?.get(Number(el.dataset.seq));
    if (card) { el._iv = JSON.stringify(card); fillCard(el, card, this.opts); }
    return card;
  }

  async onClick(e) {
    const btn = e.target.closest("button[data-action]");
    if (!btn || !this.el.contains(btn)) return;
    const el = btn.closest("article.card");
    if (!el) return;
    const action = btn.dataset.action;
    if (action === "edit") {
      el.dataset.editing = "1";
      el._ivError = "";
      this.refill(el);
      const ta = el.querySelector("textarea.say-edit");
      if (ta) { ta.focus(); ta.setSelectionRange(ta.value.length, ta.value.length); }
      return;
    }
    if (action === "cancel") {
      delete el.dataset.editing;
      el._ivError = "";
      this.refill(el);
      return;
    }
    let body;
    if (action === "used") body = { action: "used" };
    else if (action === "dismiss") body = { action: "dismissed" };
    else if (action === "save") {
      const ta = el.querySelector("textarea.say-edit");
      const text = ta ? ta.value.trim() : "";
      if (!text) { this.showError(el, "Type the words you used, or press Cancel."); return; }
      body = { action: "edited", text };
    } else return;
    await this.send(el, body);
  }

  showError(el, msg) {
    el._ivError = msg;
    const p = el.querySelector(".card-error");
    if (p) { p.textContent = msg; p.hidden = !msg; }
  }

  async send(el, body) {
    const callId = el.dataset.call, seq = Number(el.dataset.seq);
    el.dataset.busy = "1";
    el._ivError = "";
    el.querySelectorAll("button[data-action]").forEach((b) => { b.disabled = true; });
    try {
      const updated = await api("POST",
        `/api/calls/${encodeURIComponent(callId)}/cards/${encodeURIComponent(seq)}/feedback`, body);
      delete el.dataset.busy;
      delete el.dataset.editing;
      const card = updated && updated.seq !== undefined
        ? { call_id: callId, ...updated }
        : { ...(store.cards.get(callId)?.get(seq) || {}), feedback: body.action, feedback_text: body.text || null };
      if (!card.feedback) { card.feedback = body.action; if (body.text) card.feedback_text = body.text; }
      store.upsertCard(card);
      this.refill(el);
    } catch (err) {
      delete el.dataset.busy;
      el._ivError = `Could not save: ${err.message}`;
      this.refill(el);
    }
  }
}

// ------------------------------------------------------------------ call view

/** Briefing + transcript + cards of one call, rendered into the given containers. */
export class CallView {
  constructor({ briefingSlot, transcript, cards, jump, feedback, nameFor }) {
    this.briefingSlot = briefingSlot;
    this.transcript = new TranscriptView(transcript, (sp) => nameFor(sp, this.callId));
    if (jump) this.transcript.setJumpButton(jump);
    this.cards = new CardsView(cards, { feedback: !!feedback });
    this.callId = null;
  }

  show(callId) {
    const changed = k(callId) !== this.callId;
    this.callId = callId === null || callId === undefined ? null : k(callId);
    if (changed) {
      this.transcript.clear();
      this.cards.clear();
      this.briefingSlot.replaceChildren();
    }
    if (this.callId === null) return;
    this.renderBriefing();
    this.transcript.renderAll(this.callId);
    this.cards.renderAll(this.callId);
  }

  is(callId) { return this.callId !== null && k(callId) === this.callId; }

  renderBriefing() {
    const text = this.callId === null ? null : store.briefings.get(this.callId);
    const cur = this.briefingSlot.querySelector(".briefing");
    if (!text) { if (cur) cur.remove(); return; }
    if (cur) {
      const t = cur.querySelector(".briefing-text");
      if (t.textContent !== text) t.textContent = text;
      return;
    }
    this.briefingSlot.append(h("section", { class: "briefing", "aria-label": "Briefing" },
      h("h3", { class: "briefing-title", text: "Briefing" }),
      h("p", { class: "briefing-text", text })));
  }

  onBriefing(b) { if (this.is(b.call_id)) this.renderBriefing(); }
  onLine(line) { if (this.is(line.call_id)) this.transcript.upsert(line); }
  onCard(card) { if (this.is(card.call_id)) this.cards.upsert(card); }
}
