// What a text shows: one of only spaces, zero-width characters or a BOM is nothing to send (the bridge
// refuses it as `empty_text`; an agent would read an empty line). As handoff.protocol.has_visible.

/** Controls, format characters (zero-width space and joiners, word joiner, BOM, soft hyphen, bidi marks),
 *  separators and spaces, variation selectors, the combining grapheme joiner, and the characters fonts draw
 *  empty (Hangul fillers, the braille blank). */
const SHOWS_NOTHING = /^[\s\p{Cc}\p{Cf}\p{Zs}\p{Zl}\p{Zp}\u034f\u115f\u1160\u2800\u3164\uffa0\ufe00-\ufe0f\u{e0100}-\u{e01ef}]*$/u;

/** Whether `text` has a character that shows. */
export function hasVisible(text) {
  return !SHOWS_NOTHING.test(String(text ?? ""));
}
