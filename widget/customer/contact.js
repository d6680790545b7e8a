// Contact details someone can reply to: the bridge's own rule (handoff/requests.py,
// contact_kind), checked before a callback or message request is sent.

const EMAIL = /^[^@\s<>()[\],;:"]+@[^@\s<>()[\],;:"]+\.[^@\s<>()[\],;:".]{2,}$/;
const PHONE = /^\+?[0-9(][0-9 ().\-/]*[0-9]$/;
const MAX_EMAIL = 254;
const PHONE_DIGITS = { min: 7, max: 15 };

/** "phone", "email", or null for text nobody could reply to. */
export function contactKind(text) {
  const value = String(text ?? "").trim();
  if (value.includes("@")) return value.length <= MAX_EMAIL && EMAIL.test(value) ? "email" : null;
  const digits = (value.match(/[0-9]/g) || []).length;
  return PHONE.test(value) && digits >= PHONE_DIGITS.min && digits <= PHONE_DIGITS.max ? "phone" : null;
}
