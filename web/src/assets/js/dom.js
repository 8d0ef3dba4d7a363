// Building DOM nodes without HTML strings: every value from the API becomes a
// text node or an attribute value, so a device named "<img src=x onerror=...>"
// shows as text. Nothing in the app uses innerHTML.

/** h("div", {class: "card", onclick: fn}, "text", child, [more]) -> Element */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `el` with `children`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const precise = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });

export function kwh(value) {
  return value === null || value === undefined ? "–" : `${precise.format(Number(value))} kWh`;
}

export function watts(value) {
  if (value === null || value === undefined) return "–";
  const w = Number(value);
  return Math.abs(w) >= 1000 ? `${number.format(w / 1000)} kW` : `${number.format(w)} W`;
}

export function num(value) {
  return value === null || value === undefined ? "–" : number.format(Number(value));
}

/** "+12 %" / "−5 %" against `before`, or "" when there is nothing to compare. */
export function change(now, before) {
  const a = Number(now);
  const b = Number(before);
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "";
  const pct = ((a - b) / b) * 100;
  return `${pct >= 0 ? "+" : "−"}${number.format(Math.abs(pct))} %`;
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/** A table with a caption: the text alternative of every chart, and lists. */
export function table(caption, headers, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))),
  );
}

export function card(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), children);
}

export function errorBox(err) {
  const message = (err && err.message) || String(err);
  // the field, unless the message names it already ("Invalid request: email, password.")
  const field = err && err.field && !message.includes(err.field) ? ` (${err.field})` : "";
  return h("p", { class: "error", role: "alert" }, `${message}${field}`);
}

/** Load one of the vendored classic scripts (uPlot, Leaflet) once, on the page that needs it. */
const loaded = new Map();
export function loadScript(src) {
  if (!loaded.has(src)) {
    loaded.set(
      src,
      new Promise((resolve, reject) => {
        const s = h("script", { src });
        s.addEventListener("load", resolve);
        s.addEventListener("error", () => reject(new Error(`could not load ${src}`)));
        document.head.append(s);
      }),
    );
  }
  return loaded.get(src);
}

export function loadStyle(href) {
  if (!document.querySelector(`link[data-href="${CSS.escape(href)}"]`)) {
    document.head.append(h("link", { rel: "stylesheet", href, dataset: { href } }));
  }
}
