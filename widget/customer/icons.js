// Inline line icons (24×24, drawn with currentColor) built with DOM APIs: no
// icon font or image request, so they work on any host page.

import { svg } from "../shared/dom.js";

const SHAPES = {
  chat: [["path", { d: "M21 11.5a8.5 8.5 0 0 1-12.4 7.6L3.5 20.5l1.4-4.6A8.5 8.5 0 1 1 21 11.5z" }]],
  close: [["path", { d: "M6 6l12 12M18 6L6 18" }]],
  send: [["path", { d: "M21 3 10.5 13.5" }], ["path", { d: "M21 3l-6.5 18-4-7.5L3 9.5z" }]],
  person: [["circle", { cx: 12, cy: 8, r: 4 }], ["path", { d: "M4 21a8 8 0 0 1 16 0" }]],
  assistant: [
    ["rect", { x: 4, y: 8, width: 16, height: 12, rx: 3 }],
    ["path", { d: "M12 4v4M9 13.5v1M15 13.5v1" }],
  ],
  offline: [["path", { d: "M3 3l18 18M8.5 16.5a5 5 0 0 1 7 0M5 12.9a10 10 0 0 1 4.2-2.5M12 9a10 10 0 0 1 7 3.9M2 8.8a15 15 0 0 1 3.6-2.4M10 5.1A15 15 0 0 1 22 8.8M12 20h.01" }]],
  clock: [["circle", { cx: 12, cy: 12, r: 9 }], ["path", { d: "M12 7v5l3.5 2" }]],
  info: [["circle", { cx: 12, cy: 12, r: 9 }], ["path", { d: "M12 11v6M12 7.5v.01" }]],
  check: [["path", { d: "M5 12.5l4.5 4.5L19 7.5" }]],
  star: [["path", { d: "M12 3.2l2.7 5.6 6.1.9-4.4 4.3 1 6.1L12 17.2l-5.4 2.9 1-6.1-4.4-4.3 6.1-.9z" }]],
};

/** An <svg> icon hidden from screen readers (the control it sits in carries the label). */
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
