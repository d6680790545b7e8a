// Inline line icons (24×24, drawn with currentColor) built with DOM APIs: no
// icon font or image request, so they work on any host page and under the
// console's strict Content-Security-Policy.

import { svg } from "./dom.js";

const path = (...ds) => ds.map((d) => ["path", { d }]);

const SHAPES = {
  attach: path("M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9"),
  bell: path("M6 16V11a6 6 0 0 1 12 0v5l2 2H4z", "M10 21h4"),
  bellOff: path("M6 16V11a6 6 0 0 1 9.5-4.9", "M18 11v5l2 2H8", "M10 21h4", "M3 3l18 18"),
  bolt: path("M13 2L4 14h7l-1 8 9-12h-7z"),
  bot: [["rect", { x: 4, y: 8, width: 16, height: 12, rx: 3 }], ["path", { d: "M12 4v4M9 13.5v1M15 13.5v1" }]],
  chart: path("M4 20V10", "M10 20V4", "M16 20v-7", "M22 20H2"),
  chat: path("M21 11.5a8.5 8.5 0 0 1-12.4 7.6L3.5 20.5l1.4-4.6A8.5 8.5 0 1 1 21 11.5z"),
  check: path("M5 12.5l4.5 4.5L19 7.5"),
  clock: [["circle", { cx: 12, cy: 12, r: 9 }], ["path", { d: "M12 7v5l3.5 2" }]],
  close: path("M6 6l12 12M18 6L6 18"),
  file: path("M6 2h8l5 5v15H6z", "M14 2v5h5", "M9 13h7M9 17h7"),
  inbox: path("M3 13l3-8h12l3 8v6H3z", "M3 13h5l1 3h6l1-3h5"),
  info: [["circle", { cx: 12, cy: 12, r: 9 }], ["path", { d: "M12 11v6M12 7.5v.01" }]],
  logout: path("M15 4h4v16h-4", "M10 8l-4 4 4 4", "M6 12h11"),
  mail: path("M3 5h18v14H3z", "M3 6l9 7 9-7"),
  mention: [["circle", { cx: 12, cy: 12, r: 4 }], ["path", { d: "M16 8v5a3 3 0 0 0 6 0v-1a10 10 0 1 0-4 8" }]],
  note: path("M5 4h14v10l-6 6H5z", "M13 20v-6h6"),
  offline: path("M3 3l18 18M8.5 16.5a5 5 0 0 1 7 0M5 12.9a10 10 0 0 1 4.2-2.5M12 9a10 10 0 0 1 7 3.9M2 8.8a15 15 0 0 1 3.6-2.4M10 5.1A15 15 0 0 1 22 8.8M12 20h.01"),
  panel: path("M4 4h16v16H4z", "M14 4v16"),
  person: [["circle", { cx: 12, cy: 8, r: 4 }], ["path", { d: "M4 21a8 8 0 0 1 16 0" }]],
  phone: path("M5 3h4l2 5-3 2a11 11 0 0 0 6 6l2-3 5 2v4a2 2 0 0 1-2 2A17 17 0 0 1 3 5a2 2 0 0 1 2-2z"),
  search: [["circle", { cx: 10.5, cy: 10.5, r: 6.5 }], ["path", { d: "M15.5 15.5L21 21" }]],
  send: path("M21 3 10.5 13.5", "M21 3l-6.5 18-4-7.5L3 9.5z"),
  star: path("M12 3.2l2.7 5.6 6.1.9-4.4 4.3 1 6.1L12 17.2l-5.4 2.9 1-6.1-4.4-4.3 6.1-.9z"),
  transfer: path("M4 8h14", "M14 4l4 4-4 4", "M20 16H6", "M10 12l-4 4 4 4"),
};

/** An <svg> icon hidden from screen readers (the control or text next to it carries the meaning). */
export function icon(name, className = "icon") {
  return svg(
    "svg",
    {
      class: className, viewBox: "0 0 24 24", width: 24, height: 24, fill: "none", stroke: "currentColor",
      "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", focusable: "false",
    },
    SHAPES[name].map(([tag, attributes]) => svg(tag, attributes)),
  );
}
