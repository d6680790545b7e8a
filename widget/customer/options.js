// Checks the options a host page passes. A wrong option must not take the
// support chat off the page: it is reported with console.error and its
// default is used instead.

import {
  COLOR_NAMES, DEFAULT_OPTIONS, MAX_GREETING_CHARACTERS, MAX_TITLE_CHARACTERS, POSITIONS, RTL_LANGUAGES, STRINGS,
} from "./constants.js";

const PREFIX = "SupportChat:";

function report(message) {
  console.error(`${PREFIX} ${message}`);
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function resolveServer(value, defaultServer) {
  if (value === undefined || value === null) return defaultServer;
  try {
    const url = new URL(String(value));
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError("not http(s)");
    url.pathname = url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`;
    url.search = "";
    url.hash = "";
    return url;
  } catch {
    report(`option "server" must be the bridge's http(s) address, e.g. "https://bridge.example"; got ${JSON.stringify(value)}. Using ${defaultServer.origin}.`);
    return defaultServer;
  }
}

function resolveText(name, value, fallback, { allowEmpty = false, maxLength }) {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "string" && (allowEmpty || value.trim()) && value.length <= maxLength) return value.trim();
  const kind = allowEmpty ? "a string" : "a non-empty string";
  report(`option "${name}" must be ${kind} of at most ${maxLength} characters; got ${JSON.stringify(value)}. Using the default.`);
  return fallback;
}

/** A phone number as people write it ("0800 123 4567", "+44 (0)20 7946 0000"); anything else is reported and not shown. */
function resolvePhone(value) {
  if (value === undefined || value === null) return null;
  if (typeof value === "string" && /^\+?[0-9][0-9 ()-]{2,28}$/.test(value.trim())) return value.trim();
  report(`option "phone" must be a phone number such as "0800 123 4567"; got ${JSON.stringify(value)}. Not shown.`);
  return null;
}

// A signed identity as the bridge takes it (handoff/identity.py): two base64url parts, at most 2048 characters.
const IDENTITY = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_IDENTITY = 2048;

/** The site's signed identity for its customer, passed on unread (only the bridge can check it); else anonymous. */
function resolveIdentity(value) {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value === "string" && value.length <= MAX_IDENTITY && IDENTITY.test(value)) return value;
  report(`option "identity" must be the signed identity the site's server made (docs/identity.md); got ${JSON.stringify(String(value)).slice(0, 80)}. Chatting anonymously.`);
  return null;
}

/**
 * The customer id a signed identity names (its payload's ``id``), null for none or an unreadable one. Read, not
 * believed: the widget uses it only to tell whose conversation this browser holds; the bridge checks the signature.
 */
export function contactOf(identity) {
  if (typeof identity !== "string" || !IDENTITY.test(identity)) return null;
  try {
    const base64 = identity.split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    const fields = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0))));
    return fields && typeof fields.id === "string" ? fields.id : null;
  } catch {
    return null;
  }
}

function resolveLanguage(value) {
  if (value === undefined || value === null) return DEFAULT_OPTIONS.language;
  if (typeof value !== "string" || !/^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$/.test(value)) {
    report(`option "language" must be a language tag such as "en", "es" or "ar"; got ${JSON.stringify(value)}. Using English.`);
    return DEFAULT_OPTIONS.language;
  }
  return value.replace("_", "-");
}

function resolveColors(value) {
  const colors = { ...DEFAULT_OPTIONS.colors };
  if (value === undefined || value === null) return colors;
  if (!isPlainObject(value)) {
    report(`option "colors" must be an object such as {primary: "#0b5cad"}; using the default colours.`);
    return colors;
  }
  for (const [name, color] of Object.entries(value)) {
    if (!COLOR_NAMES.includes(name)) {
      report(`unknown colour "colors.${name}"; known: ${COLOR_NAMES.join(", ")}.`);
    } else if (typeof color !== "string" || !CSS.supports("color", color)) {
      report(`"colors.${name}" must be a CSS colour such as "#0b5cad"; got ${JSON.stringify(color)}. Using ${colors[name]}.`);
    } else {
      colors[name] = color;
    }
  }
  return colors;
}

function resolveStrings(value, table) {
  const overrides = {};
  if (value === undefined || value === null) return overrides;
  if (!isPlainObject(value)) {
    report(`option "strings" must be an object of UI strings, e.g. {talkToPerson: "Speak to someone"}.`);
    return overrides;
  }
  for (const [name, text] of Object.entries(value)) {
    const known = name in STRINGS.en || name.startsWith("notice_");
    const expected = Array.isArray(table[name] ?? STRINGS.en[name]) ? "list" : "string";
    if (!known) {
      report(`unknown string "strings.${name}"; see the README for the names.`);
    } else if (expected === "list" ? !(Array.isArray(text) && text.every((item) => typeof item === "string")) : typeof text !== "string") {
      report(`"strings.${name}" must be a ${expected === "list" ? "list of strings" : "string"}.`);
    } else {
      overrides[name] = text;
    }
  }
  return overrides;
}

/**
 * The options with defaults filled in, plus what the widget derives from
 * them: the text direction and a lookup of UI strings.
 */
export function resolveOptions(raw, defaultServer) {
  if (raw !== undefined && !isPlainObject(raw)) {
    report("init() takes one object of options, e.g. {title: \"Northwind Bank\"}; using the defaults.");
    raw = {};
  }
  const given = raw || {};
  for (const name of Object.keys(given)) {
    if (!(name in DEFAULT_OPTIONS)) report(`unknown option "${name}"; known: ${Object.keys(DEFAULT_OPTIONS).join(", ")}.`);
  }
  const language = resolveLanguage(given.language);
  const base = language.split("-")[0].toLowerCase();
  if (!(base in STRINGS) && given.strings === undefined) {
    console.warn(`${PREFIX} no built-in strings for "${language}"; showing English. Pass "strings" to translate.`);
  }
  const table = { ...STRINGS.en, ...(STRINGS[base] || {}) };
  const strings = { ...table, ...resolveStrings(given.strings, table) };
  let position = given.position ?? DEFAULT_OPTIONS.position;
  if (!POSITIONS.includes(position)) {
    report(`option "position" must be one of ${POSITIONS.join(", ")}; got ${JSON.stringify(position)}.`);
    position = DEFAULT_OPTIONS.position;
  }
  return {
    server: resolveServer(given.server, defaultServer),
    title: resolveText("title", given.title, strings.title, { maxLength: MAX_TITLE_CHARACTERS }),
    greeting: resolveText("greeting", given.greeting, strings.greeting, { allowEmpty: true, maxLength: MAX_GREETING_CHARACTERS }),
    phone: resolvePhone(given.phone),
    identity: resolveIdentity(given.identity),
    language,
    direction: RTL_LANGUAGES.has(base) ? "rtl" : "ltr",
    position,
    colors: resolveColors(given.colors),
    strings,
  };
}

/** "Chatting with {agent}" + {agent: "ann"} → "Chatting with ann". */
export function fill(template, values = {}) {
  return template.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

/** WCAG contrast of two colours given as "rgb(r, g, b)" (what getComputedStyle reports). */
export function contrastRatio(first, second) {
  const luminance = (color) => {
    const channels = (color.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
    const [r, g, b] = channels.map((value) => {
      const c = value / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [light, dark] = [luminance(first), luminance(second)].sort((a, b) => b - a);
  return (light + 0.05) / (dark + 0.05);
}
