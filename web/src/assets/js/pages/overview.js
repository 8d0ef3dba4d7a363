// The overview: one API call (GET /overview) gives today's and this month's
// kWh beside the same span of the period before, the live power of the
// caller's sites and devices, and the open alerts. It refreshes every 30 s.
import { h, mount, card, table, kwh, watts, change, when } from "../dom.js";
import { get } from "../api.js";
import { onLeave } from "../router.js";
import { deviceHref } from "./devices.js";

function figure(label, value, before, id) {
  const delta = change(value, before);
  return h(
    "div",
    { class: "figure", id },
    h("span", { class: "label" }, label),
    h("strong", { class: "value", "data-kwh": value }, kwh(value)),
    h("span", { class: "muted" }, delta ? `${delta} vs ${kwh(before)} the same span before` : "nothing to compare yet"),
  );
}

function draw(main, o) {
  mount(
    main,
    h("h1", {}, "Overview"),
    h("p", { class: "muted", id: "as-of" }, `As of ${when(o.generated_at)} · days and months in ${o.tz} · ${o.devices_counted} devices`),
    o.truncated ? h("p", { class: "error" }, `Only the first ${o.devices_counted} devices are counted; filter the devices list for the rest.`) : null,
    h(
      "div",
      { class: "figures" },
      figure("Today", o.today.kwh, o.today.previous_kwh, "today"),
      figure("This month", o.month.kwh, o.month.previous_kwh, "month"),
      h("div", { class: "figure", id: "power" }, h("span", { class: "label" }, "Power now"), h("strong", { class: "value" }, watts(o.power_w))),
      h(
        "div",
        { class: "figure", id: "open-alerts" },
        h("span", { class: "label" }, "Open alerts"),
        h("strong", { class: "value" }, h("a", { href: "#/alerts?status=open" }, `${o.alerts.open}${o.alerts.open_more ? "+" : ""}`)),
      ),
    ),
    card(
      "Sites",
      o.sites.length
        ? table(
            "Live power by site",
            ["Site", "Power now", "Today", "Devices"],
            o.sites.map((s) => [
              s.hotel_id ? h("a", { href: `#/hotels/${encodeURIComponent(s.hotel_id)}` }, s.name) : s.name,
              watts(s.power_w),
              kwh(s.today_kwh),
              String(s.devices),
            ]),
            { id: "sites" },
          )
        : h("p", { class: "muted" }, "No sites."),
    ),
    card(
      "Devices",
      table(
        "Live power by device",
        ["Device", "Type", "State", "Power now", "Today"],
        o.devices.map((d) => [
          h("a", { href: deviceHref(d) }, d.device_name),
          d.device_type,
          d.online ? "online" : "offline",
          watts(d.power_w),
          kwh(d.today_kwh),
        ]),
        { id: "devices" },
      ),
    ),
    card(
      "Open alerts",
      o.alerts.items.length
        ? h(
            "ul",
            { class: "alerts" },
            o.alerts.items.map((a) =>
              h(
                "li",
                { class: `sev-${a.severity}` },
                h("strong", {}, h("a", { href: `#/devices/${encodeURIComponent(a.device_id)}` }, a.device_name || a.device_id)),
                " ",
                `${a.severity}: ${a.message}`,
                " ",
                h("span", { class: "muted" }, when(a.last_seen)),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No open alerts."),
      o.alerts.open > o.alerts.items.length ? h("p", {}, h("a", { href: "#/alerts?status=open" }, `All ${o.alerts.open}${o.alerts.open_more ? "+" : ""} open alerts`)) : null,
    ),
  );
}

export async function render(main, _params, _query, page) {
  const first = await get("/overview");
  if (!page.isCurrent()) return; // the person moved on while it loaded
  draw(main, first);
  const timer = setInterval(async () => {
    if (!page.isCurrent() || document.hidden) return;
    try {
      draw(main, await get("/overview"));
    } catch {
      /* keep the last figures; the next tick tries again */
    }
  }, 30000);
  onLeave(() => clearInterval(timer));
}
