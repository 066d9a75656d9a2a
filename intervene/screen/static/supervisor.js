// Supervisor screen: every visible call, live; one call's transcript and cards, read-only.
import {
  $, h, api, connect, store, loadCall, CallView, fmtClock, fmtDuration,
  OUTCOME_LABELS, STATE_LABELS, categoryLabel,
} from "./live.js";

const ACTIVE = new Set(["ringing", "live"]);
const rows = new Map();   // call id -> <li>
let selected = null;

const view = new CallView({
  briefingSlot: $("#briefing-slot"),
  transcript: $("#transcript"),
  cards: $("#cards"),
  jump: $("#jump"),
  feedback: false,
  nameFor: (speaker, callId) => {
    const c = store.call(callId);
    if (speaker === "rep") return (c && (c.rep_name || c.rep)) || "Rep";
    if (speaker === "ai") return "Assistant";
    return (c && (c.lead_name || c.lead)) || "Lead";
  },
});

function showMe(me) {
  if (!me) return;
  store.me = me;
  $("#me-name").textContent = me.name || me.login || "";
  const nav = $("#nav");
  if (me.role === "admin" && !nav.querySelector('a[href="/admin"]')) nav.append(h("a", { href: "/admin", text: "Admin" }));
}

// ------------------------------------------------------------ the list

const startedOf = (c) => (typeof c.started === "number" ? c.started : 0);

/** Sort key: in-progress calls first, then newest first. */
function before(a, b) {
  const aa = ACTIVE.has(a.state), ba = ACTIVE.has(b.state);
  if (aa !== ba) return aa;
  return startedOf(a) > startedOf(b);
}

function latestCard(id) {
  const m = store.cards.get(String(id));
  if (!m || !m.size) return null;
  let best = null;
  for (const c of m.values()) if (!best || c.seq > best.seq) best = c;
  return best;
}

function fillRow(btn, c) {
  btn.dataset.state = c.state || "";
  const n = Math.max(c.interventions || 0, store.cards.get(String(c.id))?.size || 0);
  const last = latestCard(c.id);
  const outcome = c.state === "ended" && c.outcome && c.outcome !== "unknown" ? OUTCOME_LABELS[c.outcome] || c.outcome : "";
  btn.replaceChildren(
    h("span", { class: "cr-rep", text: c.rep_name || c.rep || "Unassigned" }),
    h("span", { class: "cr-right" },
      h("span", { class: "state-badge small", dataset: { state: c.state || "" }, text: STATE_LABELS[c.state] || c.state || "" }),
      h("span", { class: "cr-started", title: "Started", text: fmtClock(c.started) })),
    h("span", { class: "cr-lead", text: (c.lead_name || c.lead || "Unknown caller") + (c.lead_name && c.lead ? ` · ${c.lead}` : "") }),
    h("span", { class: "cr-cards" },
      h("span", { class: "cr-count", dataset: { count: n }, text: n === 1 ? "1 card" : `${n} cards` }),
      last ? h("span", { class: "cat cr-cat", dataset: { category: last.category }, text: categoryLabel(last.category) }) : null,
      c.practice ? h("span", { class: "tag", text: "Practice" }) : null,
      outcome ? h("span", { class: "cr-outcome", text: outcome }) : null),
  );
}

function upsertRow(c) {
  if (!c) return;
  const id = String(c.id);
  let li = rows.get(id);
  if (!li) {
    const btn = h("button", { type: "button", class: "call-row", dataset: { call: id } });
    btn.addEventListener("click", () => {
      select(id);
      if (window.matchMedia("(max-width: 900px)").matches) $("#call-head").scrollIntoView({ block: "start" });
    });
    li = h("li", null, btn);
    rows.set(id, li);
  }
  fillRow(li.firstElementChild, c);
  place(li, c);
  if (id === selected) li.firstElementChild.setAttribute("aria-current", "true");
  const active = [...store.calls.values()].filter((x) => ACTIVE.has(x.state)).length;
  $("#calls-count").textContent = active ? `${active} in progress` : "";
}

function place(li, c) {
  const list = $("#call-rows");
  if (li.parentNode === list) {
    // still in order between its neighbours? then leave it alone
    const p = li.previousElementSibling && store.call(li.previousElementSibling.firstElementChild.dataset.call);
    const n = li.nextElementSibling && store.call(li.nextElementSibling.firstElementChild.dataset.call);
    if ((!p || !before(c, p)) && (!n || !before(n, c))) return;
    li.remove();
  }
  let node = list.firstElementChild;
  while (node) {
    const other = store.call(node.firstElementChild.dataset.call);
    if (!other || before(c, other)) break;
    node = node.nextElementSibling;
  }
  list.insertBefore(li, node);
}

// ------------------------------------------------------------ the detail

function select(id) {
  selected = id === null ? null : String(id);
  for (const [rid, li] of rows) {
    const b = li.firstElementChild;
    if (rid === selected) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
  }
  if (selected !== null && location.hash !== `#call=${encodeURIComponent(selected)}`) {
    history.replaceState(null, "", `#call=${encodeURIComponent(selected)}`);
  }
  const has = selected !== null;
  $("#detail-empty").hidden = has;
  $("#call-head").hidden = !has;
  $("#detail-body").hidden = !has;
  view.show(selected);
  renderHead();
  if (has && !store.detailLoaded.has(selected)) {
    const id = selected;
    store.detailLoaded.add(id);
    loadCall(id).then((d) => {
      if (d && d.score) scores.set(String(id), d.score);
      if (d && typeof d.summary === "string") summaries.set(String(id), d.summary);
      if (selected === id) { view.show(id); renderHead(); }
      upsertRow(store.call(id));
    }).catch((e) => { store.detailLoaded.delete(id); console.warn("intervene: could not load call", id, e.message); });
  }
}

// The rep's score for a call (the same as `intervene calls show`): each part with why.
const scores = new Map();
function renderScore(score) {
  const el = $("#call-score");
  if (!el) return;
  el.hidden = !score;
  if (!score) return;
  const parts = Object.entries(score.parts || {}).map(([name, v]) =>
    h("li", { class: "score-part", "data-part": name }, h("b", { text: `${name} ${v}` }), " ",
      h("span", { class: "score-why", text: (score.explain || {})[name] || "" })));
  el.replaceChildren(h("div", { class: "score-total", text: `Score ${score.total}/100` }), h("ul", null, ...parts));
}

// The call in a few sentences (report/summary.py): what people said, so text only, never HTML.
const summaries = new Map();
const summaryAsked = new Set();   // calls whose summary was fetched again when they ended
function renderSummary(summary) {
  const el = $("#call-summary");
  if (!el) return;
  el.hidden = !summary;
  if (!summary) return;
  $("#summary-lines").replaceChildren(...summary.split("\n").map((line) => h("li", { text: line })));
}

/** A call that ended while on screen has its score and summary only now. */
function refreshEnded(c) {
  const id = String(c.id);
  if (c.state !== "ended" || selected !== id || summaries.has(id) || summaryAsked.has(id)) return;
  summaryAsked.add(id);
  loadCall(id).then((d) => {
    if (d && d.score) scores.set(id, d.score);
    if (d && typeof d.summary === "string") summaries.set(id, d.summary);
    if (selected === id) renderHead();
  }).catch((e) => console.warn("intervene: could not load call", id, e.message));
}

function renderHead() {
  const c = selected !== null ? store.call(selected) : null;
  if (!c) return;
  $("#call-lead").textContent = c.lead_name || c.lead || "Unknown caller";
  $("#call-lead-number").textContent = c.lead_name && c.lead ? c.lead : "";
  const st = $("#call-state");
  st.dataset.state = c.state || "";
  st.textContent = STATE_LABELS[c.state] || c.state || "";
  $("#call-practice").hidden = !c.practice;
  const facts = [
    ["Rep", c.rep_name || c.rep],
    ["Team", c.team],
    ["Started", fmtClock(c.started)],
    ["Profile", c.profile],
    ["Outcome", c.state === "ended" ? OUTCOME_LABELS[c.outcome] || c.outcome : null],
    ["Note", c.outcome_note],
  ].filter(([, v]) => v);
  $("#call-facts").replaceChildren(...facts.map(([k, v]) => h("span", null, `${k}: `, h("b", { text: v }))));
  renderScore(scores.get(String(selected)));
  renderSummary(summaries.get(String(selected)));
  tick();
}

function tick() {
  const c = selected !== null ? store.call(selected) : null;
  const t = $("#call-timer");
  if (!c) return;
  if (c.state === "live") t.textContent = fmtDuration(Date.now() / 1000 - startedOf(c));
  else if (c.state === "ended" && typeof c.ended_at === "number") t.textContent = fmtDuration(c.ended_at - startedOf(c));
  else t.textContent = "";
}
setInterval(tick, 1000);

// ------------------------------------------------------------ live

function initialSelect() {
  if (selected !== null) return;
  const m = /^#call=(.+)$/.exec(location.hash);
  if (m) {
    const id = decodeURIComponent(m[1]);
    if (store.calls.has(id)) select(id);
  }
}

connect({
  hello: (d) => {
    showMe(d.me);
    for (const c of store.calls.values()) upsertRow(c);
    initialSelect();
  },
  call: (c) => {
    upsertRow(c);
    if (selected === String(c.id)) { renderHead(); refreshEnded(c); }
    initialSelect();
  },
  briefing: (b) => view.onBriefing(b),
  line: (l) => view.onLine(l),
  card: (card) => {
    view.onCard(card);
    const li = rows.get(String(card.call_id));
    const c = store.call(card.call_id);
    if (li && c) fillRow(li.firstElementChild, c);
  },
});

api("GET", "/api/me").then(showMe).catch(() => {});
api("GET", "/api/calls").then((calls) => {
  for (const c of calls || []) { store.upsertCall(c); upsertRow(store.call(c.id)); }
  initialSelect();
}).catch((e) => console.warn("intervene: could not list calls", e.message));
