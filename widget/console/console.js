// The console's entry: log in, then one view per role of the account.
//
// A view is created with a context (the session, the shared sound output, and
// callbacks to report attention, watch a connection, end the session) and
// returns a View (view.js) with its element and destroy(); VIEWS lists them
// with the role each needs.

import { h, replaceChildren } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { createChatsView } from "./chats/chats.js";
import { createDashboardView } from "./dashboard.js";
import { createReportsView } from "./reports/reports.js";
import { createPrivacyView } from "./privacy.js";
import { createSearchView } from "./search.js";
import { createTeachView } from "./teach/teach.js";
import {
  APP_TITLE, CONNECTION_REFUSALS, ERROR_TEXT, ROLE_LABELS, SESSION_ERRORS, STORAGE, STRINGS, TIMING,
} from "./constants.js";

const VIEWS = [
  { id: "chats", label: "Chats", role: "agent", icon: "chat", create: createChatsView },
  { id: "dashboard", label: "Dashboard", role: "supervisor", icon: "chart", create: createDashboardView },
  { id: "reports", label: "Reports", role: "supervisor", icon: "file", create: createReportsView },
  { id: "teach", label: "Teach", role: "content", icon: "bot", create: createTeachView },
  { id: "privacy", label: "Privacy", role: "supervisor", icon: "person", create: createPrivacyView },
  // Archived conversations (search.js), for agents and supervisors: asks on the Chats or Dashboard view's socket.
  { id: "search", label: "Search", roles: ["agent", "supervisor"], icon: "search", create: createSearchView },
];

/** One AudioContext for the whole page; browsers only let it start after a click or key press. */
class SoundOutput {
  constructor() {
    this.context = null;
    this.onGesture = () => this.unlock();
    document.addEventListener("pointerdown", this.onGesture, true);
    document.addEventListener("keydown", this.onGesture, true);
  }

  unlock() {
    const AudioContextClass = window.AudioContext || window.webkitAudioContext;
    if (!AudioContextClass) return;
    if (!this.context) this.context = new AudioContextClass();
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    if (this.context.state === "running") {
      document.removeEventListener("pointerdown", this.onGesture, true);
      document.removeEventListener("keydown", this.onGesture, true);
    }
  }

  /** The context when it can make a sound now, else null. */
  ready() {
    return this.context && this.context.state === "running" ? this.context : null;
  }
}

const sound = new SoundOutput();
const root = document.getElementById("app");

// ---- the session ---------------------------------------------------------------

function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(STORAGE.session) || "null");
    if (session && typeof session.token === "string" && typeof session.agent === "string"
        && typeof session.displayName === "string"
        && Array.isArray(session.roles) && typeof session.expiresAt === "number") return session;
  } catch {
    // An unreadable entry is treated as no session.
  }
  return null;
}

function saveSession(session) {
  sessionStorage.setItem(STORAGE.session, JSON.stringify(session));
}

function forgetSession() {
  sessionStorage.removeItem(STORAGE.session);
  sessionStorage.removeItem(STORAGE.view);
}

async function requestLogin(name, password) {
  let reply;
  try {
    reply = await fetch("/api/agents/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name, password }),
    });
  } catch {
    throw new Error(STRINGS.loginUnavailable);
  }
  if (reply.status === 401) throw new Error(STRINGS.wrongCredentials);
  if (reply.status === 429) throw new Error(STRINGS.tooManyAttempts);
  if (reply.status === 400) throw new Error(STRINGS.missingCredentials);
  if (!reply.ok) throw new Error(STRINGS.loginUnavailable);
  const body = await reply.json();
  return { agent: body.agent, displayName: body.display_name || body.agent, token: body.token, roles: body.roles || [],
    expiresAt: Date.now() + body.expires_in * 1000 };
}

/** Ends the login on the server too: its token stops working everywhere (best effort: the page forgets it anyway). */
async function requestLogout(token) {
  try {
    await fetch("/api/agents/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: "{}",
    });
  } catch {
    // Offline: the token still expires on its own.
  }
}

// ---- the login screen ---------------------------------------------------------

function showLogin(notice = "") {
  document.title = APP_TITLE;
  const error = h("p", { class: "form-error", id: "login-error", role: "alert" });
  const name = h("input", { id: "login-name", name: "name", autocomplete: "username", required: true, spellcheck: "false", autocapitalize: "none" });
  const password = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "button primary wide" }, "Log in");

  const form = h("form", { class: "login-form", novalidate: true, "aria-describedby": "login-error" },
    h("div", { class: "field" }, h("label", { for: "login-name" }, "Name"), name),
    h("div", { class: "field" }, h("label", { for: "login-password" }, "Password"), password),
    error,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // This click is the gesture that lets the chats view play its alert sound later.
    sound.unlock();
    error.textContent = "";
    if (!name.value.trim() || !password.value) {
      error.textContent = STRINGS.missingCredentials;
      (name.value.trim() ? password : name).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Logging in…";
    try {
      const session = await requestLogin(name.value.trim(), password.value);
      saveSession(session);
      showConsole(session);
    } catch (failure) {
      error.textContent = failure.message;
      submit.disabled = false;
      submit.textContent = "Log in";
      password.select();
      password.focus();
    }
  });

  replaceChildren(root, h("main", { class: "login-screen" },
    h("div", { class: "login-card" },
      h("div", { class: "login-brand" }, h("span", { class: "brand-mark" }, icon("chat")), h("span", {}, APP_TITLE)),
      h("h1", {}, "Log in"),
      h("p", { class: "login-lead" }, "For support agents, supervisors and content editors."),
      notice ? h("p", { class: "notice", role: "status" }, notice) : null,
      form,
    ),
  ));
  name.focus();
}

// ---- the console: header, views, connection status --------------------------

/** The connections of every view: one status line in the header, one banner while any is down. */
class ConnectionStatus {
  constructor(onSessionError) {
    this.onSessionError = onSessionError;
    this.states = new Map();
    this.refusal = "";
    this.pill = h("span", { class: "status-pill is-connecting", role: "status", hidden: true }, "Connecting…");
    this.message = h("span", {});
    this.retry = h("button", { type: "button", class: "button small" }, "Retry now");
    this.banner = h("div", { class: "connection-banner", role: "alert", hidden: true },
      icon("offline"), this.message, this.retry);
    this.retry.addEventListener("click", () => {
      for (const transport of this.states.keys()) transport.retryNow();
    });
    this.timer = setInterval(() => this.render(), TIMING.tickMs);
  }

  track(transport) {
    this.states.set(transport, { connected: false, retryAt: 0, everConnected: false });
    this.pill.hidden = false;
    transport.on("state", ({ connected, retryAt }) => {
      const state = this.states.get(transport);
      if (!state) return;
      Object.assign(state, { connected, retryAt, everConnected: state.everConnected || connected });
      if (connected) this.refusal = "";
      this.render();
    });
    transport.on("envelope", (envelope) => {
      if (envelope.type !== "error" || envelope.id) return;
      const code = envelope.data && envelope.data.code;
      if (SESSION_ERRORS.has(code)) this.onSessionError(code);
      else if (CONNECTION_REFUSALS.has(code)) this.refusal = ERROR_TEXT[code];
      this.render();
    });
  }

  render() {
    const states = [...this.states.values()];
    const down = states.filter((state) => !state.connected);
    const lost = down.filter((state) => state.everConnected || state.retryAt);
    this.pill.className = `status-pill ${down.length === 0 ? "is-online" : lost.length ? "is-offline" : "is-connecting"}`;
    this.pill.textContent = down.length === 0 ? "Connected" : lost.length ? "Reconnecting…" : "Connecting…";
    this.banner.hidden = lost.length === 0;
    if (!lost.length) return;
    const next = Math.min(...lost.map((state) => state.retryAt || Date.now()));
    const seconds = Math.max(0, Math.ceil((next - Date.now()) / 1000));
    const when = seconds > 0 ? `Trying again in ${seconds} s.` : "Trying again now…";
    this.message.textContent = `${this.refusal || "Connection to the server lost."} ${when}`;
  }

  destroy() {
    clearInterval(this.timer);
  }
}

let active = null;

function showConsole(session) {
  const views = VIEWS.filter((view) => (view.roles || [view.role]).some((role) => session.roles.includes(role)));
  const attention = new Map();
  const status = new ConnectionStatus((code) => endSession(code === "forbidden" ? STRINGS.accessRemoved : STRINGS.sessionInvalid));
  const main = h("main", { class: "views", id: "main", tabindex: "-1" });
  const navButtons = new Map();
  const instances = new Map();

  const updateTitle = () => {
    const total = [...attention.values()].reduce((sum, count) => sum + count, 0);
    document.title = total ? `(${total}) ${APP_TITLE}` : APP_TITLE;
    for (const [id, button] of navButtons) {
      const badge = button.querySelector(".nav-badge");
      const count = attention.get(id) || 0;
      badge.textContent = count ? String(count) : "";
      badge.hidden = !count;
      button.querySelector(".nav-badge-meaning").hidden = !count;
    }
  };

  const select = (id) => {
    for (const [viewId, instance] of instances) {
      if (viewId === id) instance.show();
      else instance.hide();
    }
    for (const [viewId, button] of navButtons) {
      if (viewId === id) button.setAttribute("aria-current", "page");
      else button.removeAttribute("aria-current");
    }
    sessionStorage.setItem(STORAGE.view, id);
  };

  const logOut = async () => {
    for (const instance of instances.values()) {
      if (!(await instance.confirmLeave())) return;
    }
    await requestLogout(session.token);
    endSession(STRINGS.loggedOut);
  };

  const nav = h("nav", { class: "view-nav", "aria-label": "Views" },
    views.map((view) => {
      const button = h("button", { type: "button", class: "nav-item", title: view.label, onclick: () => select(view.id) },
        icon(view.icon), h("span", { class: "nav-label" }, view.label), h("span", { class: "nav-badge", hidden: true }),
        h("span", { class: "visually-hidden nav-badge-meaning", hidden: true }, " need attention"));
      navButtons.set(view.id, button);
      return button;
    }));

  // A view's own control in the header (the chats view's status: available or away), and its alerts
  // (the chats view's "New chat waiting") in the bar's free middle, where they cover nothing.
  const headerControls = h("span", { class: "header-controls" });
  const headerAlerts = h("div", { class: "header-alerts" });
  // Three views (every role): the bar is crowded, and on narrower screens its buttons keep only their icons (CSS).
  // Crowded (three views or more) and packed (five or more): on narrower screens their words give way to icons.
  // Two views or more (an agent has Chats and Search) crowd the bar below 1500 px: console.css.
  const header = h("header", { class: `topbar${views.length >= 2 ? " is-crowded" : ""}${views.length >= 5 ? " is-packed" : ""}` },
    h("div", { class: "brand" }, h("span", { class: "brand-mark" }, icon("chat")), h("span", { class: "brand-name" }, APP_TITLE)),
    views.length ? nav : null,
    headerAlerts,
    h("div", { class: "account" },
      status.pill,
      headerControls,
      // The name customers see (never the login name, which only signs in).
      h("span", { class: "avatar", "aria-hidden": "true" }, session.displayName.charAt(0).toUpperCase()),
      h("span", { class: "account-name" },
        h("span", { class: "account-agent" }, session.displayName),
        h("span", { class: "account-roles" }, session.roles.map((role) => ROLE_LABELS[role] || role).join(" · "))),
      h("button", { type: "button", class: "button ghost", onclick: logOut }, icon("logout"), h("span", { class: "logout-label" }, "Log out")),
    ),
  );

  replaceChildren(root, h("a", { class: "skip-link", href: "#main" }, "Skip to content"), header, status.banner, main);

  // Timers hold at most 2^31-1 ms (about 24 days); a longer token is checked again on the next load.
  const expiry = setTimeout(() => endSession(STRINGS.sessionExpired), Math.min(2 ** 31 - 1, Math.max(0, session.expiresAt - Date.now())));
  active = {
    teardown() {
      clearTimeout(expiry);
      status.destroy();
      for (const instance of instances.values()) instance.destroy();
    },
  };

  if (!views.length) {
    main.append(noViewsExplanation(session));
    return;
  }
  for (const view of views) {
    const instance = view.create({
      session,
      sound,
      watchConnection: (transport) => status.track(transport),
      reveal: () => select(view.id),
      // A chat opened read-only in the Chats view (a supervisor's "Open" on the dashboard); null without that view.
      openChat: views.some((each) => each.id === "chats")
        ? (conversationId) => {
          select("chats");
          instances.get("chats").openReadOnly(conversationId);
        }
        : null,
      // The staff socket's requests, the label set and dispositions, for the Search view (the Chats view's, else the Dashboard's).
      staffRequests: () => (instances.get("chats") || instances.get("dashboard")).waiting,
      labels: () => (instances.get("chats") ? instances.get("chats").labels : []),
      dispositions: () => (instances.get("chats") ? instances.get("chats").dispositions : []),
      // A contact's conversation only the archive keeps, opened read-only in the Search view (from the Chats view).
      openArchived: views.some((each) => each.id === "search")
        ? (conversationId, via) => {
          select("search");
          instances.get("search").open(conversationId, via);
        }
        : null,
      setAttention: (count) => {
        attention.set(view.id, count);
        updateTitle();
      },
    });
    instances.set(view.id, instance);
    main.append(instance.element);
    if (instance.headerControl) headerControls.append(instance.headerControl);
    if (instance.headerAlert) headerAlerts.append(instance.headerAlert);
  }
  const remembered = sessionStorage.getItem(STORAGE.view);
  select(views.some((view) => view.id === remembered) ? remembered : views[0].id);
}

function noViewsExplanation(session) {
  const roles = session.roles.map((role) => ROLE_LABELS[role] || role);
  return h("section", { class: "empty-state large", "aria-labelledby": "no-views-title" },
    icon("info", "icon empty-icon"),
    h("h1", { id: "no-views-title" }, "Nothing to show for this account yet"),
    h("p", {}, roles.length
      ? `Your account has the ${roles.join(" and ")} role${roles.length > 1 ? "s" : ""}, which has no view in this console yet.`
      : "Your account has no role."),
    h("p", {}, "The console has a Chats view for agents, a Dashboard for supervisors and a Teach view for content editors. "
      + "Ask an administrator to give your account one of those roles (make agent NAME=… ROLES=agent,supervisor,content)."),
  );
}

function endSession(notice) {
  if (active) active.teardown();
  active = null;
  forgetSession();
  showLogin(notice);
}

function start() {
  const session = loadSession();
  if (!session) return showLogin();
  if (session.expiresAt <= Date.now()) {
    forgetSession();
    return showLogin(STRINGS.sessionExpired);
  }
  showConsole(session);
}

start();
