// A room: its real-time usage (GET /rooms/{id}/real-time-usage, refreshed every
// 5 s while the page is open and visible), its devices, and the "Next 24 hours
// (forecast)" card (GET /rooms/{id}/forecast: its devices' newest forecasts summed).
import { h, mount, card, table, kwh, watts, when, errorBox } from "../dom.js";
import { get } from "../api.js";
import { onLeave } from "../router.js";
import { deviceHref } from "./devices.js";
import { areaForecastCard } from "./forecast.js";

const EVERY_MS = 5000;

export async function render(main, params, _query, page) {
  const id = encodeURIComponent(params.id);
  const [usage, devices] = await Promise.all([get(`/rooms/${id}/real-time-usage`), get("/devices", { room_id: params.id, limit: 200 })]);
  if (!page.isCurrent()) return;
  const live = h("div", { id: "live", "aria-live": "polite" });
  const status = h("p", { class: "muted", id: "updated" });
  const problem = h("div");
  const byId = new Map(devices.items.map((d) => [d.device_id, d]));
  const forecast = areaForecastCard(`/rooms/${id}/forecast`, { what: "room", describe: async (ids) => ids.map((i) => byId.get(i) || { device_id: i }), isCurrent: page.isCurrent });

  function draw(u) {
    mount(
      live,
      h(
        "div",
        { class: "figures" },
        h("div", { class: "figure", id: "room-power" }, h("span", { class: "label" }, "Power now"), h("strong", { class: "value" }, watts(u.current_power_w))),
        h("div", { class: "figure", id: "room-today" }, h("span", { class: "label" }, "Today"), h("strong", { class: "value", "data-kwh": u.current_kwh }, kwh(u.current_kwh))),
        h("div", { class: "figure" }, h("span", { class: "label" }, "Newest reading"), h("strong", { class: "value small" }, when(u.timestamp))),
      ),
      card(
        "Devices",
        u.devices.length || devices.items.length
          ? table(
              "Devices in this room, live",
              ["Device", "State", "Power now", "Today", "Newest reading"],
              (u.devices.length ? u.devices : devices.items).map((d) => {
                const info = byId.get(d.device_id) || d;
                return [
                  h("a", { href: deviceHref(info) }, info.device_name || d.device_name),
                  info.online === undefined ? "–" : info.online ? "online" : "offline",
                  watts(d.current_power_w),
                  kwh(d.current_kwh),
                  when(d.timestamp),
                ];
              }),
              { id: "room-devices" },
            )
          : h("p", { class: "muted" }, "No devices in this room."),
      ),
    );
    status.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every 5 s`;
  }

  mount(
    main,
    h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => history.back() }, "← Back")),
    h("h1", {}, `Room ${usage.room_number || ""}`.trim()),
    status,
    problem,
    live,
    forecast,
  );
  draw(usage);
  const timer = setInterval(async () => {
    if (!page.isCurrent()) return clearInterval(timer);
    if (document.hidden) return;
    try {
      draw(await get(`/rooms/${id}/real-time-usage`));
      mount(problem);
    } catch (err) {
      mount(problem, errorBox(err));
    }
  }, EVERY_MS);
  onLeave(() => clearInterval(timer));
  await forecast.load();
}
