// Admin screen: users (create, edit, signed link, revoke, delete) and teams.
import { $, h, api, fmtClock } from "./live.js";

let users = [];
let editing = null;   // login being edited, or null for a new user

function flash(msg, kind = "ok") {
  const f = $("#flash");
  f.textContent = msg;
  f.dataset.kind = kind;
  f.hidden = !msg;
  clearTimeout(flash.t);
  if (msg && kind === "ok") flash.t = setTimeout(() => { f.hidden = true; }, 6000);
}

// ------------------------------------------------------------ users

async function loadUsers() {
  try {
    users = (await api("GET", "/api/users")) || [];
    renderUsers();
  } catch (e) {
    $("#user-rows").replaceChildren(h("tr", { class: "placeholder" }, h("td", { colspan: "9", class: "muted", text: `Could not load users: ${e.message}` })));
  }
}

function renderUsers() {
  const body = $("#user-rows");
  if (!users.length) {
    body.replaceChildren(h("tr", { class: "placeholder" }, h("td", { colspan: "9", class: "muted", text: "No users yet." })));
    return;
  }
  const sorted = [...users].sort((a, b) => String(a.login).localeCompare(String(b.login)));
  body.replaceChildren(...sorted.map(userRow));
}

function userRow(u) {
  const eff = u.effective || {};
  const modes = eff.modes && typeof eff.modes === "object"
    ? Object.entries(eff.modes).map(([c, m]) => `${c}: ${m}`).join(", ") : "";
  return h("tr", { class: "user-row", dataset: { login: u.login } },
    h("td", { class: "mono", text: u.login }),
    h("td", { text: u.name || "" }),
    h("td", null, h("span", { class: "role-badge", dataset: { role: u.role || "" }, text: u.role || "" })),
    h("td", { text: u.team || "" }),
    h("td", { class: "mono", text: u.endpoint || "" }),
    h("td", { text: u.sip_message ? "Yes" : "No" }),
    h("td", { class: "profile", title: modes || null, text: eff.profile || "" }),
    h("td", { class: "muted", text: u.has_password ? "Set" : "—" }),
    h("td", { class: "actions" },
      h("button", { type: "button", class: "btn btn-small", dataset: { action: "edit" }, text: "Edit" }),
      h("button", { type: "button", class: "btn btn-small", dataset: { action: "link" }, text: "Signed link" }),
      h("button", { type: "button", class: "btn btn-small", dataset: { action: "revoke" }, text: "Revoke sessions" }),
      h("button", { type: "button", class: "btn btn-small btn-danger", dataset: { action: "delete" }, text: "Delete" })),
  );
}

$("#user-rows").addEventListener("click", async (e) => {
  const btn = e.target.closest("button[data-action]");
  if (!btn) return;
  const login = btn.closest("tr").dataset.login;
  const path = `/api/users/${encodeURIComponent(login)}`;
  const action = btn.dataset.action;
  if (action === "edit") { fillForm(users.find((u) => u.login === login)); return; }
  if (action === "delete" && !confirm(`Delete user ${login}? Their sessions and links stop working.`)) return;
  btn.disabled = true;
  try {
    if (action === "link") {
      const r = await api("POST", `${path}/link`, { days: 30 });
      showLink(login, r);
    } else if (action === "revoke") {
      await api("POST", `${path}/revoke`, {});
      flash(`Ended every session and link of ${login}.`);
      await loadUsers();
    } else if (action === "delete") {
      await api("DELETE", path);
      flash(`Deleted ${login}.`);
      if (editing === login) resetForm();
      await Promise.all([loadUsers(), loadTeams()]);
    }
  } catch (ex) {
    flash(`${ex.message}`, "error");
  } finally {
    btn.disabled = false;
  }
});

// ------------------------------------------------------------ signed link

function showLink(login, r) {
  const panel = $("#link-panel");
  const input = $("#link-url");
  input.value = (r && r.url) || "";
  $("#link-for").textContent = `For ${login}` + (r && r.expires ? `, valid until ${fmtClock(r.expires)}` : "")
    + ". Anyone with this link signs in as this user.";
  panel.hidden = false;
  panel.scrollIntoView({ block: "nearest" });
  input.focus();
  input.select();
}

$("#link-copy").addEventListener("click", async () => {
  const input = $("#link-url");
  input.select();
  let ok = false;
  try {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(input.value); ok = true; }
  } catch { ok = false; }
  if (!ok) { try { ok = document.execCommand("copy"); } catch { ok = false; } }
  $("#link-copy").textContent = ok ? "Copied" : "Select and copy";
  setTimeout(() => { $("#link-copy").textContent = "Copy"; }, 2000);
});
$("#link-close").addEventListener("click", () => { $("#link-panel").hidden = true; });

// ------------------------------------------------------------ form

const form = $("#user-form");

function fillForm(u) {
  if (!u) return;
  editing = u.login;
  form.elements.login.value = u.login || "";
  form.elements.login.readOnly = true;
  form.elements.name.value = u.name || "";
  form.elements.role.value = u.role || "rep";
  form.elements.team.value = u.team || "";
  form.elements.endpoint.value = u.endpoint || "";
  form.elements.sip_message.checked = !!u.sip_message;
  form.elements.password.value = "";
  $("#form-title").textContent = `Edit ${u.login}`;
  $("#form-error").hidden = true;
  form.scrollIntoView({ block: "nearest" });
  form.elements.name.focus();
}

function resetForm() {
  editing = null;
  form.reset();
  form.elements.login.readOnly = false;
  $("#form-title").textContent = "Add a user";
  $("#form-error").hidden = true;
}

$("#f-reset").addEventListener("click", resetForm);
$("#new-user").addEventListener("click", () => { resetForm(); form.elements.login.focus(); });

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const el = form.elements;
  const body = {
    login: el.login.value.trim(),
    name: el.name.value.trim(),
    role: el.role.value,
    team: el.team.value.trim(),
    endpoint: el.endpoint.value.trim(),
    sip_message: el.sip_message.checked,
  };
  if (el.password.value) body.password = el.password.value;
  const err = $("#form-error");
  err.hidden = true;
  if (!body.login) { err.textContent = "A login is needed."; err.hidden = false; return; }
  $("#f-save").disabled = true;
  try {
    await api("POST", "/api/users", body);
    flash(`Saved ${body.login}.`);
    resetForm();
    await Promise.all([loadUsers(), loadTeams()]);
  } catch (ex) {
    err.textContent = ex.message;
    err.hidden = false;
  } finally {
    $("#f-save").disabled = false;
  }
});

// ------------------------------------------------------------ teams

async function loadTeams() {
  const body = $("#team-rows");
  try {
    const teams = (await api("GET", "/api/teams")) || [];
    if (!teams.length) {
      body.replaceChildren(h("tr", { class: "placeholder" }, h("td", { colspan: "4", class: "muted", text: "No teams yet: set a team on a user." })));
    } else {
      body.replaceChildren(...teams.map((t) => h("tr", { class: "team-row", dataset: { team: t.team } },
        h("td", { text: t.team }),
        h("td", { text: (t.reps || []).join(", ") }),
        h("td", { text: (t.supervisors || []).join(", ") }),
        h("td", { text: t.profile || "" }))));
    }
    $("#team-names").replaceChildren(...teams.map((t) => h("option", { value: t.team })));
  } catch (e) {
    body.replaceChildren(h("tr", { class: "placeholder" }, h("td", { colspan: "4", class: "muted", text: `Could not load teams: ${e.message}` })));
  }
}

api("GET", "/api/me").then((me) => { if (me) $("#me-name").textContent = me.name || me.login || ""; }).catch(() => {});
Promise.all([loadUsers(), loadTeams()]).finally(() => { document.body.dataset.ready = "1"; });
