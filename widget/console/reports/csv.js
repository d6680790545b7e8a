// CSV for spreadsheet apps (RFC 4180: commas, CRLF, quotes doubled), UTF-8 with a byte order mark so
// that Excel reads it as UTF-8. A cell a spreadsheet would take for a formula (starting with = + - @,
// a tab or a carriage return: an agent's name, a reason) is written as text: a leading apostrophe,
// quoted.

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export const BOM = "\uFEFF";

/** One cell: null and undefined are empty; numbers as they are; text made safe. */
export function csvCell(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  if (typeof value !== "number" && FORMULA_START.test(text)) return `"'${text.replace(/"/g, '""')}"`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(cells) {
  return `${cells.map(csvCell).join(",")}\r\n`;
}

/** The whole file: a heading line, then each table as a section (its title, its header, its rows), a blank line between. */
export function csvFile(heading, tables) {
  return BOM + csvLine(heading) + tables.map((table) =>
    `\r\n${csvLine([table.title])}${csvLine(table.headers)}${table.rows.map(csvLine).join("")}`).join("");
}
