// The console's fixed values in one place: timings, storage keys, the words
// it shows for the bridge's codes, and its icon set.

import { svg } from "../shared/dom.js";

export const APP_TITLE = "Support console";

export const STORAGE = {
  // sessionStorage: a reload keeps the login, a new browser tab asks again.
  session: "support-console.session",
  view: "support-console.view",
  // localStorage: a preference that outlives the session.
  muted: "support-console.muted",
};

export const TIMING = {
  tickMs: 1000,
  // Typing signals: "active" at most this often while typing, "inactive" after this much quiet.
  typingRepeatMs: 3000,
  typingIdleMs: 4000,
  // A customer's "typing" without a follow-up expires (the "stopped" signal can be lost).
  customerTypingTimeoutMs: 8000,
  // Read receipts wait for a transcript replay to finish, so one receipt covers it.
  readReceiptDelayMs: 400,
  toastMs: 6000,
  // Logging out waits this long for sends the bridge has not acknowledged yet.
  logoutGraceMs: 3000,
};

export const LIMITS = {
  messageCharacters: 2000,
  // The counter under the composer appears from here on.
  messageCounterFrom: 1800,
};

// Sockets that end with one of these errors mean the login itself is no longer good.
export const SESSION_ERRORS = new Set(["invalid_token", "forbidden"]);
// The bridge refused the connection itself (and closes it); the transport retries.
export const CONNECTION_REFUSALS = new Set(["too_many_connections", "forbidden_origin"]);

// docs/handoff-payload.md "Reasons" and the bridge's own bot_unavailable.
export const REASON_LABELS = {
  requested: "Asked for a person",
  callback: "Callback requested",
  repeated_fallback: "Not understood",
  bot_repeating: "Bot repeating itself",
  customer_repeating: "Customer repeating",
  unresolved: "Answer didn't help",
  frustration: "Frustrated",
  action_error: "Bot error",
  ping_pong: "Going back and forth",
  no_resolution: "No resolution",
  bot_unavailable: "Bot unavailable",
};

export const ROLE_LABELS = { agent: "Agent", supervisor: "Supervisor", content: "Content editor" };

// What the console says for the bridge's error codes (docs/bridge-protocol.md).
export const ERROR_TEXT = {
  already_claimed: "Another agent claimed this chat first.",
  at_limit: "You are serving as many chats as you may. Close, hand back or transfer one first.",
  not_found: "This conversation no longer exists.",
  invalid_transition: "That can't be done now",
  rate_limited: "Too many actions at once. Trying again…",
  too_large: "That message is too long.",
  malformed: "The server refused this",
  internal_error: "Something went wrong on the server. Please try again.",
  too_many_connections: "Too many connections from this address. Retrying…",
  forbidden_origin: "This page is not allowed to connect to the server.",
};

export const STRINGS = {
  wrongCredentials: "Wrong name or password.",
  missingCredentials: "Enter your name and password.",
  loginUnavailable: "Can't reach the server. Check your connection and try again.",
  sessionExpired: "Your session has expired. Please log in again.",
  sessionInvalid: "Your session is no longer valid. Please log in again.",
  accessRemoved: "Your account no longer has access to this part of the console. Please log in again.",
  loggedOut: "You have logged out.",
};

/** A readable error line for an {code, message} error from the bridge. */
export function describeError(error) {
  const code = error && error.code;
  const known = ERROR_TEXT[code];
  // These two are generic; the bridge's own message says what exactly (e.g. "sue is not online").
  if ((code === "invalid_transition" || code === "malformed") && error.message) return `${known}: ${error.message}`;
  return known || (error && error.message) || ERROR_TEXT.internal_error;
}

/** "card_not_working" -> "Card not working". */
export function humanize(key) {
  if (!key) return "";
  const words = String(key).replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function reasonLabel(reason) {
  return REASON_LABELS[reason] || humanize(reason) || "Unknown reason";
}

// 24x24 stroke icons (paths in the style of open icon sets), drawn with svg().
const ICON_PATHS = {
  chat: ["M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"],
  chart: ["M4 20V10", "M10 20V4", "M16 20v-7", "M22 20H2"],
  logout: ["M15 4h4v16h-4", "M10 8l-4 4 4 4", "M6 12h11"],
  bell: ["M6 16V11a6 6 0 0 1 12 0v5l2 2H4z", "M10 21h4"],
  bellOff: ["M6 16V11a6 6 0 0 1 9.5-4.9", "M18 11v5l2 2H8", "M10 21h4", "M3 3l18 18"],
  clock: ["M12 7v5l3 2", "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z"],
  send: ["M4 12l16-8-6 16-2.5-6.5z", "M11.5 13.5L20 4"],
  bolt: ["M13 2L4 14h7l-1 8 9-12h-7z"],
  transfer: ["M4 8h14", "M14 4l4 4-4 4", "M20 16H6", "M10 12l-4 4 4 4"],
  bot: ["M5 9h14v10H5z", "M12 5v4", "M9 14h.01", "M15 14h.01", "M2 13v3", "M22 13v3"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  check: ["M5 12l5 5 9-10"],
  info: ["M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z", "M12 11v5", "M12 8h.01"],
  inbox: ["M3 13l3-8h12l3 8v6H3z", "M3 13h5l1 3h6l1-3h5"],
  phone: ["M5 3h4l2 5-3 2a11 11 0 0 0 6 6l2-3 5 2v4a2 2 0 0 1-2 2A17 17 0 0 1 3 5a2 2 0 0 1 2-2z"],
  panel: ["M4 4h16v16H4z", "M14 4v16"],
  wifiOff: ["M3 3l18 18", "M8.5 16.5a5 5 0 0 1 7 0", "M5 12.5a10 10 0 0 1 5-2.7", "M19 12.5a10 10 0 0 0-2.3-1.6", "M12 20h.01"],
};

/** An icon; decorative (aria-hidden) since the button or text next to it carries the meaning. */
export function icon(name, className = "icon") {
  return svg("svg", { class: className, viewBox: "0 0 24 24", "aria-hidden": "true", focusable: "false" },
    ICON_PATHS[name].map((d) => svg("path", { d })));
}

/** The bridge's websocket at `path` on this page's host, authenticated by the login token. */
export function socketUrl(path, token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}?token=${encodeURIComponent(token)}`;
}
