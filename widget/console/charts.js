// Small SVG charts for the dashboard, drawn with svg() (no library, no HTML strings).
//
// Each chart is a <figure>: a caption, the drawing (role="img", named by the
// caption, with a <title>), and the same numbers as a visually hidden table for
// screen readers. Colours come from CSS classes, so the stylesheet owns them.

import { h, svg } from "../shared/dom.js";
import { newId } from "../shared/transport.js";

/** A round top for an axis and its ticks: 0 .. top in 3-5 steps of 1, 2 or 5 x 10^k. */
export function niceTicks(maximum) {
  const max = Math.max(1, maximum);
  const rough = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(1, [1, 2, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= rough));
  const top = Math.ceil(max / step) * step;
  const ticks = [];
  for (let value = 0; value <= top; value += step) ticks.push(value);
  return { top, ticks };
}

function figure({ title, description, legend, drawing, emptyText, table }) {
  const captionId = `chart-${newId()}`;
  if (drawing) {
    drawing.setAttribute("role", "img");
    drawing.setAttribute("aria-labelledby", captionId);
    drawing.prepend(svg("title", {}, title));
  }
  return h("figure", { class: "chart" },
    h("figcaption", { id: captionId }, h("span", { class: "chart-title" }, title),
      description ? h("span", { class: "chart-description" }, description) : null),
    legend,
    drawing || h("p", { class: "chart-empty" }, emptyText),
    table);
}

function dataTable(title, headers, rows) {
  return h("table", { class: "visually-hidden" },
    h("caption", {}, title),
    h("thead", {}, h("tr", {}, headers.map((header) => h("th", { scope: "col" }, header)))),
    h("tbody", {}, rows.map(([label, ...values]) => h("tr", {}, h("th", { scope: "row" }, label), values.map((value) => h("td", {}, String(value)))))));
}

/**
 * Horizontal bars, one row per label, longest first as given.
 * rows: [{label, value, className?}]
 */
export function barList({ title, description, rows, unit, empty }) {
  const table = dataTable(title, ["", unit], rows.map((row) => [row.label, row.value]));
  if (!rows.length) {
    return figure({ title, description, table, emptyText: empty });
  }
  const width = 560;
  const labelWidth = 180;
  const valueRoom = 44;
  const rowHeight = 34;
  const barHeight = 16;
  const max = Math.max(1, ...rows.map((row) => row.value));
  const scale = (width - labelWidth - valueRoom) / max;
  const drawing = svg("svg", { class: "chart-svg bars", viewBox: `0 0 ${width} ${rows.length * rowHeight}`, preserveAspectRatio: "xMinYMin meet" },
    rows.map((row, index) => {
      const y = index * rowHeight;
      const barWidth = Math.max(row.value > 0 ? 2 : 0, row.value * scale);
      return svg("g", { class: `bar-row ${row.className || ""}` },
        svg("text", { class: "chart-label", x: labelWidth - 12, y: y + rowHeight / 2, "text-anchor": "end", "dominant-baseline": "middle" }, row.label),
        svg("rect", { class: "bar-track", x: labelWidth, y: y + (rowHeight - barHeight) / 2, width: width - labelWidth - valueRoom, height: barHeight, rx: 4 }),
        svg("rect", { class: "bar", x: labelWidth, y: y + (rowHeight - barHeight) / 2, width: barWidth, height: barHeight, rx: 4 },
          svg("title", {}, `${row.label}: ${row.value}`)),
        svg("text", { class: "chart-value", x: labelWidth + barWidth + 8, y: y + rowHeight / 2, "dominant-baseline": "middle" }, String(row.value)));
    }));
  return figure({ title, description, drawing, table });
}

function legendOf(series) {
  return h("ul", { class: "chart-legend", "aria-hidden": "true" },
    series.map((entry) => h("li", {}, h("span", { class: `swatch ${entry.className}` }), entry.name)));
}

/**
 * Vertical bars: one group per category, one bar per series in each group.
 * categories: ["00", …]; series: [{name, className, values: [...]}]; labelEvery: show every nth category label.
 */
export function groupedColumns({ title, description, categories, categoryNames, series, labelEvery = 1 }) {
  const table = dataTable(title, ["", ...series.map((entry) => entry.name)],
    categories.map((category, index) => [categoryNames[index], ...series.map((entry) => entry.values[index])]));
  const width = 960;
  const height = 260;
  const margin = { top: 12, right: 8, bottom: 28, left: 40 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const { top, ticks } = niceTicks(Math.max(...series.flatMap((entry) => entry.values)));
  const y = (value) => margin.top + plotHeight - (value / top) * plotHeight;
  const groupWidth = plotWidth / categories.length;
  const barWidth = Math.min(14, (groupWidth * 0.7) / series.length);

  const drawing = svg("svg", { class: "chart-svg", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "xMinYMin meet" },
    ticks.map((tick) => svg("g", { class: "grid" },
      svg("line", { x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick) }),
      svg("text", { class: "chart-axis", x: margin.left - 8, y: y(tick), "text-anchor": "end", "dominant-baseline": "middle" }, String(tick)))),
    categories.map((category, index) => {
      const groupX = margin.left + index * groupWidth;
      const barsX = groupX + (groupWidth - barWidth * series.length) / 2;
      return svg("g", {},
        series.map((entry, position) => {
          const value = entry.values[index];
          return svg("rect", {
            class: `bar ${entry.className}`, x: barsX + position * barWidth, y: y(value),
            width: Math.max(1, barWidth - 2), height: Math.max(0, y(0) - y(value)), rx: 2,
          }, svg("title", {}, `${categoryNames[index]}: ${value} ${entry.name.toLowerCase()}`));
        }),
        index % labelEvery === 0
          ? svg("text", { class: "chart-axis", x: groupX + groupWidth / 2, y: height - 8, "text-anchor": "middle" }, category)
          : null);
    }),
    svg("line", { class: "axis", x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0) }));
  return figure({ title, description, legend: legendOf(series), drawing, table });
}

/** Vertical bars with their values on top; rows: [{label (under the bar), name (in words), value, className?}]. */
export function columns({ title, description, rows, unit }) {
  const table = dataTable(title, ["", unit], rows.map((row) => [row.name, row.value]));
  const width = 400;
  const height = 220;
  const margin = { top: 22, right: 8, bottom: 28, left: 8 };
  const plotHeight = height - margin.top - margin.bottom;
  const max = Math.max(1, ...rows.map((row) => row.value));
  const slot = (width - margin.left - margin.right) / rows.length;
  const barWidth = Math.min(48, slot * 0.6);
  const drawing = svg("svg", { class: "chart-svg columns", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "xMidYMin meet" },
    rows.map((row, index) => {
      const barHeight = (row.value / max) * plotHeight;
      const x = margin.left + index * slot + (slot - barWidth) / 2;
      const top = margin.top + plotHeight - barHeight;
      return svg("g", { class: row.className || "" },
        svg("rect", { class: "bar-track", x, y: margin.top, width: barWidth, height: plotHeight, rx: 4 }),
        svg("rect", { class: "bar", x, y: top, width: barWidth, height: barHeight, rx: 4 }, svg("title", {}, `${row.name}: ${row.value}`)),
        svg("text", { class: "chart-value", x: x + barWidth / 2, y: top - 6, "text-anchor": "middle" }, String(row.value)),
        svg("text", { class: "chart-label", x: x + barWidth / 2, y: height - 8, "text-anchor": "middle" }, row.label));
    }));
  return figure({ title, description, drawing, table });
}
