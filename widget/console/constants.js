// The console's fixed values in one place: timings, storage keys, and the
// words it shows for the bridge's codes.

export const APP_TITLE = "Support console";

export const STORAGE = {
  // sessionStorage: a reload keeps the login, a new browser tab asks again.
  session: "support-console.session",
  view: "support-console.view",
  // localStorage: a preference that outlives the session.
  muted: "support-console.muted",
  // localStorage: "off" when the agent turned browser notifications off (the permission stays the browser's).
  notifications: "support-console.notifications",
  // localStorage, per agent: the newest message the agent has seen in each conversation (unread.js).
  seen: "support-console.seen",
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
  // A new queue card stops being "New" (and alerting) once it has been on screen this long.
  freshSeenMs: 15000,
  // Logging out waits this long for sends the bridge has not acknowledged yet.
  logoutGraceMs: 3000,
  // The colleagues offered for @mentions are asked for again after this long.
  teamRefreshMs: 60000,
  // Browser notifications about one conversation: at most one this often (more arrivals are counted into the next).
  notifyCoalesceMs: 20000,
};

// What the browser notifications say (notifications.js); {name} and {count} are filled in.
export const NOTIFICATION_TEXT = {
  message: "New message from a customer",
  messages: "{count} new messages from a customer",
  mention: "{name} mentioned you in a note",
  transfer: "{name} transferred a chat to you",
  transferAnonymous: "A chat was transferred to you",
  requestAssigned: "{name} assigned you a request",
  assigned: "{name} assigned you a chat",
};

// The header's notifications button, by the browser's permission and the agent's choice.
export const NOTIFICATION_BUTTON = {
  off: { label: "Turn on notifications", hint: "Get a browser notification for customer messages in chats you are not looking at, mentions, transfers and requests assigned to you" },
  on: { label: "Notifications on", hint: "Browser notifications are on; click to turn them off" },
  denied: { label: "Notifications blocked", hint: "This browser blocks notifications from the console; allow them in the site settings" },
};

// The chats view's keyboard shortcuts (shortcuts.js), in the order the help overlay lists them.
// `keys`: single keys that act only outside text fields; `chords`: with a modifier, they act in text fields too.
export const SHORTCUTS = [
  { id: "next", group: "Chats", label: "Next chat", keys: ["j"], chords: ["Alt+ArrowDown"] },
  { id: "previous", group: "Chats", label: "Previous chat", keys: ["k"], chords: ["Alt+ArrowUp"] },
  { id: "claim", group: "Chats", label: "Claim the customer waiting longest", keys: ["c"], chords: [] },
  { id: "transfer", group: "Chats", label: "Transfer the chat", keys: ["t"], chords: [] },
  { id: "close", group: "Chats", label: "Close the chat (with its outcome)", keys: ["x"], chords: [] },
  { id: "reply", group: "Writing", label: "Write a reply", keys: ["r"], chords: [] },
  { id: "note", group: "Writing", label: "Write a private note", keys: ["n"], chords: [] },
  { id: "canned", group: "Writing", label: "Canned responses", keys: ["/"], chords: [] },
  { id: "send", group: "Writing", label: "Send (Enter in the text box too)", keys: [], chords: ["Control+Enter"] },
  { id: "leave", group: "Writing", label: "Leave the text box (so single keys work)", keys: [], chords: ["Escape"] },
  { id: "status", group: "You", label: "Switch between available and away", keys: ["s"], chords: [] },
  { id: "help", group: "You", label: "Show these shortcuts", keys: ["?"], chords: [] },
];

// How a key is written in the help overlay.
export const KEY_NAMES = { ArrowDown: "↓", ArrowUp: "↑", Control: "Ctrl", Escape: "Esc" };

export const SHORTCUT_TEXT = {
  title: "Keyboard shortcuts",
  lead: "Single keys work when you are not typing in a text box; keys with Ctrl or Alt work everywhere.",
  noChat: "No chat is open.",
  nobodyWaiting: "Nobody is waiting.",
  onlyGone: "Only customers who have left are waiting: claim one from the queue if you still want to.",
  onlyOffered: "The chats waiting are assigned automatically: they are offered to you in turn.",
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
  distress: "Customer in distress",
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

// Why a file was not sent (the attachment endpoints' codes: docs/bridge-protocol.md "Attachments").
export const FILE_REFUSALS = {
  too_large: "the file is larger than 10 MB",
  unsupported_type: "only PNG, JPEG, WebP, GIF and PDF files can be sent",
  disguised_file: "the file is not what its name says",
  malformed_file: "the file is damaged",
  unsafe_file: "PDFs with scripts, actions or attached files cannot be sent",
  too_many_uploads: "too many files in a few minutes; wait a little",
  file_space_full: "no more room for files (this chat's, or today's in all)",
  forbidden: "only the agent serving this chat can send files",
  invalid_transition: "the chat has moved on",
  network: "the bridge could not be reached",
};

export const STRINGS = {
  wrongCredentials: "Wrong name or password.",
  tooManyAttempts: "Too many failed attempts. Wait a little, then try again.",
  missingCredentials: "Enter your name and password.",
  loginUnavailable: "Can't reach the server. Check your connection and try again.",
  sessionExpired: "Your session has expired. Please log in again.",
  sessionInvalid: "Your session is no longer valid. Please log in again.",
  accessRemoved: "Your account no longer has access to this part of the console. Please log in again.",
  loggedOut: "You have logged out.",
  // A queue card's first line: what the customer typed last, also while waiting.
  lastMessage: "Customer's latest message:",
  // A claim lost to a colleague: who won (when the bridge says) and which chat, titled as its card was.
  claimedFirst: "{who} claimed the chat \u201c{chat}\u201d first.",
  // A chat's title with no topic, no reason and no signed-in name.
  unnamedChat: "Customer chat",
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

// The intents of the handoff panel's turns as agents read them (an FAQ shows its topic beside it).
export const INTENT_LABELS = {
  nlu_fallback: "Not understood",
  out_of_scope: "Out of scope",
  request_human: "Asked for a person",
  request_callback: "Asked for a callback",
  faq: "Support question",
  need_help: "Needs help",
  not_helped: "Said it didn't help",
  complain: "Complaint",
  affirm: "Yes",
  deny: "No",
  greet: "Greeting",
  goodbye: "Goodbye",
  thank: "Thanks",
  bot_challenge: "Asked if it's a bot",
};

/** "request_human" -> "Asked for a person"; a name not listed, humanised. */
export function readableIntent(name) {
  return INTENT_LABELS[name] || humanize(name) || "Unknown";
}

export function reasonLabel(reason) {
  return REASON_LABELS[reason] || humanize(reason) || "Unknown reason";
}

/** What the console calls a chat wherever it names it (its queue card, tab, header, a lost claim), so one
 * chat has one name: its topic, else why it came to a person, else the signed-in customer's name. */
export function chatTitle(topic, reason, customerName) {
  return humanize(topic) || (reason ? reasonLabel(reason) : "") || customerName || STRINGS.unnamedChat;
}

/** How the console shows a conversation's id wherever agents read it (a tab, a chat's header, a request card):
 * "#b4AC_Q", its first six characters. */
export function shortId(conversationId) {
  return `#${String(conversationId || "").slice(0, 6)}`;
}

/** The bridge's websocket at `path` on this page's host. */
export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

/** The login token as a websocket subprotocol ("token.<token>" beside "handoff"): proxies log URLs, not this header. */
export function loginProtocols(token) {
  return ["handoff", `token.${token}`];
}

// ---- the content editors' Teach view (docs/bridge-protocol.md, "Content staff") ----

// Why a customer message is in the inbox ({p}:incoming "reasons").
export const INBOX_REASONS = {
  not_understood: "Not understood",
  low_confidence: "Low confidence",
  handoff: "Led to handoff",
};

// A training job's states, as the progress card names them.
export const JOB_STATES = {
  queued: "Waiting to start",
  validating: "Checking the data",
  training: "Training",
  evaluating: "Evaluating",
  deploying: "Deploying",
  done: "Finished",
  refused: "Not deployed",
  failed: "Failed",
};
export const JOB_RUNNING = new Set(["queued", "validating", "training", "evaluating", "deploying"]);

// The evaluation's verdict on a new model, compared with the deployed one.
export const VERDICTS = {
  first: { label: "First model", text: "There was no model to compare with." },
  better: { label: "Better", text: "Better than the model customers talk to now." },
  same: { label: "About the same", text: "About as good as the model customers talk to now." },
  worse: { label: "Worse", text: "Worse than the model customers talk to now, so it was not deployed." },
  published: { label: "Published", text: "Registered from a file, without an evaluation." },
};

// Audit trail actions ({p}:audit "action").
export const AUDIT_ACTIONS = {
  label: "Labelled messages",
  out_of_scope: "Marked out of scope",
  skipped: "Skipped messages",
  undo_label: "Undid a label",
  train: "Started training",
  trained: "Trained a model",
  train_failed: "Training failed",
  deploy: "Deployed a model",
  rollback: "Rolled back",
};

// The teaching loop's error codes (teaching/errors.py), in words for content editors.
export const TEACH_ERROR_TEXT = {
  invalid_request: "That can't be done",
  not_found: "Not found",
  invalid_data: "The training data can't take this",
  invalid_text: "A message can't become an example",
  invalid_name: "That name can't be used",
  invalid_answer: "That answer can't be used",
  unknown_intent: "There is no such intent or FAQ topic",
  conflict: "Some of these messages already teach something else",
  exists: "That name is taken",
  busy: "A model is being trained already",
  worker_unavailable: "The teaching service is not running, so this can't be done right now",
  training_failed: "Training failed",
  refused: "Refused",
  teach_error: "That didn't work",
};

export const TEACH_LIMITS = {
  answerCharacters: 1000,
  nameCharacters: 40,
  // Conversations asked for at once when looking for agents' answers (the bridge rate-limits a socket).
  answerConversations: 8,
  // Messages one labelling request may name (the bridge's MAX_TEACH_ITEMS); bigger groups go in batches.
  itemsPerRequest: 500,
  // Per-intent rows shown before "Show all".
  perIntentRows: 12,
  // Sample messages shown on a closed group.
  groupSamples: 3,
};

// An intent or FAQ key as the training data takes it: lower case, digits, underscores.
export const TEACH_NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

export const TEACH_STRINGS = {
  emptyInbox: "Nothing to teach right now",
  emptyInboxText: "Customer messages the bot did not understand, answered unsure of, or that led to a handoff appear here, grouped by meaning.",
  conversationMissing: "This conversation is not available: it did not go through the chat bridge, or it has expired.",
  noAnswers: "No agent answered these customers.",
  rollbackConfirm: "Customers will talk to the previous model again within a few seconds.",
  overrideAgreement: "I understand this model is worse — deploy anyway",
  connectionLost: "The connection was lost before the server answered. Check whether it was done, then try again.",
};

/** A readable line for an {code, message} error from the Teach view's socket. */
export function describeTeachError(error) {
  const code = error && error.code;
  const message = error && typeof error.message === "string" ? error.message.trim() : "";
  const teach = TEACH_ERROR_TEXT[code];
  if (teach) return message ? `${teach}: ${message}` : `${teach}.`;
  return describeError(error);
}

/** "faq/card_arrival" -> "Card arrival"; "greet" -> "Greet". */
export function intentLabel(name) {
  if (!name) return "";
  return humanize(String(name).replace(/^faq\//, ""));
}

// Response-time targets (chats/sla.js; the bridge's handoff/sla_rules.py RISK_FRACTION is the same):
// a countdown is "at risk" with this share of its target or less left, "breached" once past due.
export const SLA = {
  riskFraction: 0.25,
  labels: { first: "First reply", reply: "Reply" },
  levels: { ok: "On time", "at-risk": "At risk", breached: "Late" },
};
