// A sink's charts: attempts per minute by outcome, and latency, as SVG bars on labelled axes.
import { h } from "./dom.js";

// Each outcome has its colour (console.css); failures are drawn as any other outcome is.
export const OUTCOMES = ["delivered", "retrying", "failed"];
const CHART = { width: 640, height: 150, left: 48, bottom: 24, top: 10 };

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children.flat(Infinity)) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// `columns` are lists of [outcome, value] stacked bottom up, `xLabels` [position 0..1, text]
// under the x axis, `unit` after the y axis's values, `title` what a screen reader is told.
function chart(name, columns, xLabels, unit, title) {
  const { width, height, left, bottom, top } = CHART;
  const plotWidth = width - left - 6, plotHeight = height - bottom - top;
  const max = Math.max(1, ...columns.map((stack) => stack.reduce((sum, [, n]) => sum + n, 0)));
  const step = plotWidth / Math.max(1, columns.length);
  const y = (n) => top + plotHeight - (n / max) * plotHeight;
  const bars = columns.flatMap((stack, i) => {
    let base = 0;
    return stack.filter(([, n]) => n > 0).map(([outcome, n]) => {
      const rect = svg("rect", { class: `bar ${outcome}`, "data-outcome": outcome, "data-value": n,
        x: left + i * step + 1, y: y(base + n), width: Math.max(1, step - 2), height: Math.max(1, y(base) - y(base + n)) },
      svg("title", {}, `${n}${unit} ${outcome}`));
      base += n;
      return rect;
    });
  });
  const middle = max / 2;
  const axes = [
    svg("line", { class: "grid", x1: left, y1: y(middle), x2: width - 6, y2: y(middle) }),
    svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: top + plotHeight }),
    svg("line", { class: "axis", x1: left, y1: top + plotHeight, x2: width - 6, y2: top + plotHeight }),
    svg("text", { class: "tick", x: left - 5, y: top + 8, "text-anchor": "end", "data-y-max": max }, `${max}${unit}`),
    svg("text", { class: "tick", x: left - 5, y: y(middle) + 4, "text-anchor": "end" }, `${Math.round(middle * 10) / 10}${unit}`),
    svg("text", { class: "tick", x: left - 5, y: top + plotHeight, "text-anchor": "end" }, `0`),
    xLabels.map(([at, text]) => svg("text", { class: "tick", x: left + at * plotWidth, y: height - 6,
      "text-anchor": at === 0 ? "start" : at === 1 ? "end" : "middle" }, text)),
  ];
  return svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title,
    preserveAspectRatio: "xMidYMid meet", "data-chart": name }, axes, bars);
}

function legend(totals) {
  return h("p", { class: "legend" }, OUTCOMES.map((o) => h("span", { class: `key ${o}`, "data-total": o }, `${totals[o] || 0} ${o}`)));
}

// Attempts per minute over the last `minutes`, by outcome: a sink that fails shows it.
export function rateChart(attempts, minutes, partial) {
  const now = Date.now(), counts = Array.from({ length: minutes }, () => ({})), totals = {};
  for (const a of attempts) {
    const age = Math.floor((now - Date.parse(a.date_created)) / 60000);
    if (age < 0 || age >= minutes) continue;
    const slot = counts[minutes - 1 - age];
    slot[a.outcome] = (slot[a.outcome] || 0) + 1;
    totals[a.outcome] = (totals[a.outcome] || 0) + 1;
  }
  const summary = OUTCOMES.map((o) => `${totals[o] || 0} ${o}`).join(", ");
  return h("figure", {},
    chart("rate", counts.map((slot) => OUTCOMES.map((o) => [o, slot[o] || 0])),
      [[0, `${minutes} min ago`], [0.5, `${minutes / 2} min ago`], [1, "now"]], "",
      `Attempts per minute, last ${minutes} minutes: ${summary}`),
    h("figcaption", { class: "muted" }, `Attempts per minute, last ${minutes} minutes`,
      partial ? ` (the newest ${attempts.length} attempts only)` : ""),
    legend(totals),
  );
}

export function latencyChart(attempts, count) {
  const recent = attempts.slice(0, count).reverse();
  return h("figure", {},
    chart("latency", recent.map((a) => [[a.outcome, a.latency_ms]]), [[0, "older"], [1, "newest"]], " ms",
      `Latency of the last ${recent.length} attempts, in milliseconds`),
    h("figcaption", { class: "muted" }, `Latency of the last ${recent.length} attempts (ms), by outcome`),
  );
}
