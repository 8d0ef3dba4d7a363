// Hash routes ("#/devices/abc"): only real files are ever requested from the
// server, so the same build works behind the local gateway and CloudFront.
// Each page is its own module, loaded when first visited.
import { h, mount, errorBox } from "./dom.js";
import * as session from "./session.js";

const routes = [];
let renderId = 0;
let cleanups = [];

/** route("/devices/:id", () => import("./pages/device.js"), {title, public, roles}) */
export function route(pattern, load, options = {}) {
  const names = [];
  const regex = new RegExp(
    "^" + pattern.replace(/:(\w+)/g, (_, name) => (names.push(name), "([^/]+)")) + "/?$",
  );
  routes.push({ pattern, regex, names, load, ...options });
}

export function parse(hash) {
  const raw = (hash || "").replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?");
  return { path, query: Object.fromEntries(new URLSearchParams(search)) };
}

/** Run `fn` when the page is left (timers, live updates, charts). */
export function onLeave(fn) {
  cleanups.push(fn);
}

export function go(path) {
  window.location.hash = `#${path}`;
}

export async function render() {
  const id = ++renderId;
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {
      /* a page's cleanup must not stop the next page */
    }
  }
  const main = document.getElementById("main");
  const { path, query } = parse(window.location.hash);
  const found = routes.find((r) => r.regex.test(path));
  if (!found) {
    document.title = "Not found · GridPulse";
    mount(main, h("h1", {}, "Not found"), h("p", {}, "There is no page here. "), h("a", { href: "#/" }, "Go to the overview"));
    return;
  }
  if (!found.public && !session.current()) {
    go(`/signin?next=${encodeURIComponent(path)}`);
    return;
  }
  if (found.roles && !found.roles.includes(session.role())) {
    mount(main, h("h1", {}, "Not allowed"), h("p", {}, "Your role cannot open this page."));
    return;
  }
  const params = Object.fromEntries(found.names.map((n, i) => [n, decodeURIComponent(path.match(found.regex)[i + 1])]));
  document.title = `${found.title || "GridPulse"} · GridPulse`;
  mount(main, h("p", { class: "muted" }, "Loading…"));
  try {
    const page = await found.load();
    if (id !== renderId) return; // the person moved on meanwhile
    await page.render(main, params, query, { isCurrent: () => id === renderId });
  } catch (err) {
    if (id === renderId) mount(main, h("h1", {}, found.title || "Error"), errorBox(err));
  }
  if (id === renderId) {
    // After a move to another page, focus goes to its content; on the first load it stays at
    // the top of the document, so the first Tab reaches the skip link.
    if (id > 1) main.focus({ preventScroll: true });
    document.dispatchEvent(new CustomEvent("gridpulse:rendered", { detail: { path } }));
  }
}
