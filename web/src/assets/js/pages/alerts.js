// Alerts the caller may see, newest first, with filters (status, severity,
// type) and read / resolve buttons. Resolve is offered to the device's owner,
// operators and admins (the API refuses it to other viewers).
import { h, mount, table, when, errorBox } from "../dom.js";
import { get, put } from "../api.js";
import * as session from "../session.js";

const STATUSES = ["open", "read", "resolved", ""];
const SEVERITIES = ["", "info", "warning", "critical"];

function select(id, label, values, current, names = {}) {
  return h(
    "span",
    { class: "field inline" },
    h("label", { for: id }, label),
    h("select", { id, name: id }, values.map((v) => h("option", { value: v, selected: v === current }, names[v] || v || "any"))),
  );
}

export async function render(main, _params, query, view) {
  const filters = {
    status: query.status ?? "open",
    severity: query.severity || "",
    alert_type: query.alert_type || "",
    device_id: query.device_id || "",
  };
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter alerts" },
    select("status", "Status", STATUSES, filters.status, { "": "any" }),
    select("severity", "Severity", SEVERITIES, filters.severity),
    h("span", { class: "field inline" }, h("label", { for: "alert_type" }, "Type"), h("input", { id: "alert_type", name: "alert_type", value: filters.alert_type, placeholder: "e.g. max_power", size: 14 })),
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    q.set("status", form.status.value);
    for (const k of ["severity", "alert_type"]) if (form[k].value) q.set(k, form[k].value.trim());
    if (filters.device_id) q.set("device_id", filters.device_id);
    window.location.hash = `#/alerts?${q}`;
  });
  const list = h("div");
  const status = h("div", { "aria-live": "polite" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More alerts");
  const me = session.user() || {};
  const alerts = [];
  let token = null;

  function actions(a) {
    const out = [];
    if (a.status === "open") {
      out.push(h("button", { type: "button", class: "secondary", onclick: () => act(a, "read") }, "Mark read"));
    }
    if (a.status !== "resolved" && (session.canOperate() || a.owner_id === me.user_id)) {
      out.push(h("button", { type: "button", onclick: () => act(a, "resolve"), "aria-label": `Resolve: ${a.message}` }, "Resolve"));
    }
    return out.length ? h("span", { class: "buttons" }, out) : "–";
  }

  async function act(a, what) {
    try {
      const updated = await put(`/alerts/${encodeURIComponent(a.alert_id)}/${what}`);
      Object.assign(a, updated);
      mount(status, h("p", { class: "ok" }, what === "read" ? "Marked read." : "Resolved."));
      draw();
    } catch (err) {
      mount(status, errorBox(err));
    }
  }

  function draw() {
    mount(
      list,
      alerts.length
        ? table(
            `${alerts.length} alerts`,
            ["When", "Device", "Severity", "Type", "Message", "Status", "Actions"],
            alerts.map((a) => [
              when(a.last_seen),
              h("a", { href: `#/devices/${encodeURIComponent(a.device_id)}` }, a.device_name || a.device_id),
              h("span", { class: `sev sev-${a.severity}` }, a.severity),
              a.alert_type,
              `${a.message}${a.count > 1 ? ` (×${a.count})` : ""}`,
              a.status,
              actions(a),
            ]),
            { class: "list", id: "alerts" },
          )
        : h("p", { class: "muted" }, "No alerts match."),
    );
  }

  async function page() {
    const data = await get("/alerts", { ...filters, limit: 50, next_token: token });
    if (!view.isCurrent()) return;
    alerts.push(...data.items);
    token = data.next_token;
    more.hidden = !token;
    draw();
  }
  more.addEventListener("click", () => page().catch((err) => mount(status, errorBox(err))));
  mount(main, h("h1", {}, "Alerts"), form, status, list, more);
  await page();
}
