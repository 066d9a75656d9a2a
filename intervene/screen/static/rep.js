// The rep's screen: the current call's briefing, cards, transcript and outcome.
import {
  $, h, api, connect, store, loadCall, CallView, fmtClock, fmtDuration,
  OUTCOME_LABELS, STATE_LABELS, categoryLabel,
} from "./live.js";

const RECENT_MAX = 12;
const ACTIVE = new Set(["ringing", "live"]);

let pinned = null;       // call id the rep picked from the list (null: follow the newest)
let currentId = null;
let draft = { callId: null, outcome: null, serverOutcome: null, serverNote: "" };
const recentEls = new Map();

const view = new CallView({
  briefingSlot: $("#briefing-slot"),
  transcript: $("#transcript"),
  cards: $("#cards"),
  jump: $("#jump"),
  feedback: true,
  nameFor: (speaker, callId) => {
    if (speaker === "rep") return "You";
    if (speaker === "ai") return "Assistant";
    const c = store.call(callId);
    return (c && (c.lead_name || c.lead)) || "Lead";
  },
});

// ------------------------------------------------------------ header

function showMe(me) {
  if (!me) return;
  store.me = me;
  $("#me-name").textContent = me.name || me.login || "";
  const nav = $("#nav");
  const links = [];
  if (me.role === "supervisor" || me.role === "admin") links.push(["/supervisor", "Supervisor"]);
  if (me.role === "admin") links.push(["/admin", "Admin"]);
  if (nav.childElementCount !== links.length) {
    nav.replaceChildren(...links.map(([href, text]) => h("a", { href, text })));
  }
}

// ------------------------------------------------------------ picking the call

const startedOf = (c) => (typeof c.started === "number" ? c.started : 0);
const endedOf = (c) => (typeof c.ended_at === "number" ? c.ended_at : startedOf(c));

function autoPick() {
  let best = null;
  for (const c of store.calls.values()) {
    if (ACTIVE.has(c.state) && (!best || startedOf(c) > startedOf(best))) best = c;
  }
  if (best) return String(best.id);
  for (const c of store.calls.values()) {
    if (c.state === "ended" && (!best || endedOf(c) > endedOf(best))) best = c;
  }
  return best ? String(best.id) : null;
}

function pick() {
  const id = pinned !== null && store.calls.has(pinned) ? pinned : autoPick();
  if (id !== currentId) showCall(id);
}

function showCall(id) {
  currentId = id;
  const has = id !== null;
  $("#empty").hidden = has;
  $("#call-head").hidden = !has;
  $("#col-main").hidden = !has;
  $("#col-side").hidden = !has;
  view.show(id);
  renderHead();
  renderOutcome();
  markRecent();
  if (has && !store.detailLoaded.has(id)) {
    store.detailLoaded.add(id);   // once; the live stream keeps it current afterwards
    loadCall(id).then(() => {
      if (currentId === id) { view.show(id); renderHead(); renderOutcome(); }
    }).catch((e) => {
      store.detailLoaded.delete(id);
      if (e.status !== 404) console.warn("intervene: could not load call", id, e.message);
    });
  }
}

// ------------------------------------------------------------ call header

function renderHead() {
  const c = currentId !== null ? store.call(currentId) : null;
  if (!c) return;
  $("#call-lead").textContent = c.lead_name || c.lead || "Unknown caller";
  $("#call-lead-number").textContent = c.lead_name && c.lead ? c.lead : "";
  const st = $("#call-state");
  st.dataset.state = c.state || "";
  st.textContent = STATE_LABELS[c.state] || c.state || "";
  $("#call-practice").hidden = !c.practice;
  document.body.dataset.callState = c.state || "";
  tick();
}

function tick() {
  const c = currentId !== null ? store.call(currentId) : null;
  const t = $("#call-timer");
  if (!c) { t.textContent = ""; return; }
  if (c.state === "live") t.textContent = fmtDuration(Date.now() / 1000 - startedOf(c));
  else if (c.state === "ended" && typeof c.ended_at === "number") {
    t.textContent = `${fmtClock(c.started)} · ${fmtDuration(c.ended_at - c.started)}`;
  } else t.textContent = fmtClock(c.started);
}
setInterval(tick, 1000);

// ------------------------------------------------------------ outcome

const outcomeEl = $("#outcome");
const noteEl = $("#outcome-note");
const saveBtn = outcomeEl.querySelector("[data-action=save-outcome]");

function renderOutcome() {
  const c = currentId !== null ? store.call(currentId) : null;
  if (!c || c.state !== "ended") { outcomeEl.hidden = true; return; }
  outcomeEl.hidden = false;
  const saved = c.outcome && c.outcome !== "unknown" ? c.outcome : null;
  const note = c.outcome_note || "";
  // a new call, or the server's outcome changed (saved here or elsewhere): start from the server's
  if (draft.callId !== String(c.id) || draft.serverOutcome !== saved || draft.serverNote !== note) {
    if (draft.callId !== String(c.id)) $("#outcome-error").hidden = true;
    draft = { callId: String(c.id), outcome: saved, serverOutcome: saved, serverNote: note };
    noteEl.value = note;
  }
  outcomeEl.dataset.saved = saved || "";
  $("#outcome-saved").textContent = saved ? `Saved: ${OUTCOME_LABELS[saved] || saved}` : "";
  $("#outcome-title").textContent = saved ? "Call outcome" : "How did the call end?";
  pressOutcome();
}

function pressOutcome() {
  for (const b of outcomeEl.querySelectorAll("button[data-outcome]")) {
    b.setAttribute("aria-pressed", String(b.dataset.outcome === draft.outcome));
  }
  saveBtn.disabled = !draft.outcome || outcomeEl.dataset.busy === "1";
}

outcomeEl.addEventListener("click", async (e) => {
  const ob = e.target.closest("button[data-outcome]");
  if (ob) { draft.outcome = ob.dataset.outcome; pressOutcome(); return; }
  const sb = e.target.closest("button[data-action=save-outcome]");
  if (!sb || !draft.outcome || currentId === null) return;
  const id = currentId;
  const err = $("#outcome-error");
  err.hidden = true;
  outcomeEl.dataset.busy = "1";
  saveBtn.disabled = true;
  saveBtn.textContent = "Saving…";
  try {
    const call = await api("POST", `/api/calls/${encodeURIComponent(id)}/outcome`,
      { outcome: draft.outcome, note: noteEl.value.trim() });
    const next = call && call.id !== undefined ? call
      : { ...store.call(id), outcome: draft.outcome, outcome_note: noteEl.value.trim() };
    store.upsertCall(next);
    updateRecent(store.call(id));
  } catch (ex) {
    err.textContent = `Could not save the outcome: ${ex.message}`;
    err.hidden = false;
  } finally {
    delete outcomeEl.dataset.busy;
    saveBtn.textContent = "Save outcome";
    if (currentId === id) renderOutcome();
  }
});

// ------------------------------------------------------------ recent calls

function recentItem(c) {
  const el = h("li", { class: "call-item-wrap" });
  const btn = h("button", { type: "button", class: "call-item", dataset: { call: c.id } });
  el.append(btn);
  btn.addEventListener("click", () => {
    const id = String(c.id);
    pinned = id === autoPick() ? null : id;
    pick();
  });
  fillRecent(btn, c);
  return el;
}

function fillRecent(btn, c) {
  btn.dataset.state = c.state || "";
  const n = Math.max(c.interventions || 0, store.cardsOf(c.id).length);
  const outcome = c.state === "ended" && c.outcome && c.outcome !== "unknown" ? OUTCOME_LABELS[c.outcome] || c.outcome : "";
  const cards = store.cardsOf(c.id);
  const last = cards.length ? categoryLabel(cards[cards.length - 1].category) : "";
  btn.replaceChildren(
    h("span", { class: "ci-top" },
      h("span", { class: "ci-lead", text: c.lead_name || c.lead || "Unknown caller" }),
      h("span", { class: "state-badge small", dataset: { state: c.state || "" }, text: STATE_LABELS[c.state] || c.state || "" })),
    h("span", { class: "ci-sub" },
      h("span", { text: fmtClock(c.started) }),
      h("span", { text: n === 1 ? "1 card" : `${n} cards` }),
      outcome ? h("span", { class: "ci-outcome", text: outcome }) : (last ? h("span", { text: last }) : null)),
  );
}

function updateRecent(c) {
  if (!c) return;
  const id = String(c.id);
  let li = recentEls.get(id);
  if (li) fillRecent(li.firstElementChild, c);
  else { li = recentItem(c); recentEls.set(id, li); }
  placeRecent(li, c);
  $("#recent").hidden = recentEls.size === 0;
  markRecent();
}

function placeRecent(li, c) {
  const list = $("#call-list");
  // newest first
  let node = list.firstElementChild;
  while (node && node !== li) {
    const other = store.call(node.firstElementChild.dataset.call);
    if (!other || startedOf(other) < startedOf(c)) break;
    node = node.nextElementSibling;
  }
  if (node !== li) list.insertBefore(li, node);
  while (list.childElementCount > RECENT_MAX) {
    const last = list.lastElementChild;
    recentEls.delete(last.firstElementChild.dataset.call);
    last.remove();
  }
}

function markRecent() {
  for (const [id, li] of recentEls) {
    const b = li.firstElementChild;
    if (id === currentId) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
  }
}

// ------------------------------------------------------------ live events

const seenActive = new Set();   // calls already seen ringing or live

function onCall(c) {
  const id = String(c.id);
  const prevCurrent = currentId;
  updateRecent(c);
  // a call that starts ringing (or goes live) takes over the screen, even over a picked old one
  if (ACTIVE.has(c.state) && !seenActive.has(id)) {
    seenActive.add(id);
    if (pinned !== null && id !== pinned) pinned = null;
  }
  pick();
  if (currentId === id && prevCurrent === id) { renderHead(); renderOutcome(); }
}

// A card that arrives while the page is in a background tab: a count in the
// tab's title (no sound), cleared when the rep looks at the page again.
const baseTitle = document.title;
const unseen = new Set();
function noticeInBackground(card) {
  if (!document.hidden || card.feedback) return;
  unseen.add(`${card.call_id}/${card.seq}`);
  document.title = `(${unseen.size}) ${baseTitle}`;
}
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) { unseen.clear(); document.title = baseTitle; }
});

connect({
  hello: (d) => {
    showMe(d.me);
    for (const c of store.calls.values()) updateRecent(c);
    pick();
  },
  call: onCall,
  briefing: (b) => view.onBriefing(b),
  line: (l) => view.onLine(l),
  card: (card) => {
    noticeInBackground(card);
    view.onCard(card);
    const li = recentEls.get(String(card.call_id));
    const c = store.call(card.call_id);
    if (li && c) fillRecent(li.firstElementChild, c);
  },
});

// initial state from the API (the stream's snapshot upserts over it)
api("GET", "/api/me").then(showMe).catch(() => {});
api("GET", "/api/calls").then((calls) => {
  for (const c of calls || []) {
    store.upsertCall(c);
    if (ACTIVE.has(c.state)) seenActive.add(String(c.id));
    updateRecent(store.call(c.id));
  }
  pick();
}).catch((e) => console.warn("intervene: could not list calls", e.message));
