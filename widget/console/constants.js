// The console's fixed values in one place: timings, storage keys, and the
// words it shows for the bridge's codes.

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

/** The bridge's websocket at `path` on this page's host, authenticated by the login token. */
export function socketUrl(path, token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}?token=${encodeURIComponent(token)}`;
}
