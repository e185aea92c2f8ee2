// Charts as inline SVG: stacked bars over time buckets, with a y-axis maximum and a few x labels.
import { h } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/**
 * @param {string[]} buckets x values in order (days or hours)
 * @param {{name: string, color: string, values: number[]}[]} series stacked bottom-up
 * @param {{label: (bucket: string) => string, format: (value: number) => string, title: string}} options
 */
export function stackedBars(buckets, series, { label, format, title }) {
  const width = 560;
  const height = 160;
  const left = 56;
  const bottom = 18;
  const totals = buckets.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const slot = (width - left) / Math.max(1, buckets.length);
  const bar = Math.max(1, slot * 0.8);
  const y = (value) => (height - bottom) * (1 - value / max);
  const chart = svg("svg", {
    class: "chart",
    viewBox: `0 0 ${width} ${height}`,
    width: "100%",
    role: "img",
    "aria-label": title,
  });
  chart.append(
    svg("line", {
      x1: left,
      x2: width,
      y1: height - bottom,
      y2: height - bottom,
      stroke: "#c9d1db",
    }),
    svg("text", { x: left - 6, y: 10, "text-anchor": "end" }, format(max)),
    svg("text", { x: left - 6, y: height - bottom, "text-anchor": "end" }, format(0)),
  );
  const every = Math.max(1, Math.ceil(buckets.length / 6));
  buckets.forEach((bucket, i) => {
    let base = 0;
    const x = left + i * slot + (slot - bar) / 2;
    for (const s of series) {
      const value = s.values[i] ?? 0;
      if (value > 0) {
        const rect = svg("rect", {
          x,
          y: y(base + value),
          width: bar,
          height: Math.max(1, y(base) - y(base + value)),
          fill: s.color,
        }, svg("title", {}, `${label(bucket)} · ${s.name}: ${format(value)}`));
        chart.append(rect);
      }
      base += value;
    }
    if (i % every === 0) {
      chart.append(
        svg("text", { x: x + bar / 2, y: height - 4, "text-anchor": "middle" }, label(bucket)),
      );
    }
  });
  const legend = series.length > 1
    ? h(
      "div",
      { class: "legend" },
      series.map((s) => h("span", {}, h("i", { style: `background:${s.color}` }), s.name)),
    )
    : null;
  return h("figure", { style: "margin:0" }, chart, legend);
}

/** Consecutive UTC days (YYYY-MM-DD) from `since` to today. */
export function daysSince(since) {
  const days = [];
  const day = new Date(since);
  day.setUTCHours(0, 0, 0, 0);
  for (const end = Date.now(); day.getTime() <= end; day.setUTCDate(day.getUTCDate() + 1)) {
    days.push(day.toISOString().slice(0, 10));
  }
  return days;
}

/** The last `count` whole hours, as ISO strings of their start. */
export function lastHours(count) {
  const hour = new Date();
  hour.setUTCMinutes(0, 0, 0);
  return Array.from(
    { length: count },
    (_, i) => new Date(hour.getTime() - (count - 1 - i) * 3_600_000).toISOString(),
  );
}
