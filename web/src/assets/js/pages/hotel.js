// A hotel: its floors (sections) and their rooms, each room with a usage bar
// (kWh over the chosen range, from GET /hotels/{id}/usage) and a table
// alternative. A room links to its live page. The "Next 24 hours (forecast)"
// card sums the hotel's devices' newest forecasts (GET /hotels/{id}/forecast).
import { h, mount, card, table, kwh } from "../dom.js";
import { get } from "../api.js";
import { areaForecastCard } from "./forecast.js";

// Devices without a forecast are named from GET /devices/{id} (the first ones; the rest by id).
const NAMED = 20;
const describe = (ids) => Promise.all(ids.slice(0, NAMED).map((id) => get(`/devices/${encodeURIComponent(id)}`).catch(() => ({ device_id: id }))));

const RANGES = [
  ["-24h", "Last 24 hours"],
  ["-7d", "Last 7 days"],
  ["-30d", "Last 30 days"],
];

async function allPages(path) {
  const items = [];
  let token = null;
  do {
    const data = await get(path, { limit: 1000, next_token: token });
    items.push(...data.items);
    token = data.next_token;
  } while (token && items.length < 5000);
  return items;
}

function bar(value, max, label) {
  const outer = h("div", { class: "bar", role: "img", "aria-label": label });
  const inner = h("span");
  inner.style.width = `${max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0}%`;
  outer.append(inner);
  return outer;
}

export async function render(main, params, query, page) {
  const id = params.id;
  const range = RANGES.some(([v]) => v === query.range) ? query.range : "-7d";
  const [hotel, sections] = await Promise.all([get(`/hotels/${encodeURIComponent(id)}`), allPages(`/hotels/${encodeURIComponent(id)}/sections`)]);
  const [usage, roomLists] = await Promise.all([
    get(`/hotels/${encodeURIComponent(id)}/usage`, { start: range }),
    Promise.all(sections.map((s) => allPages(`/sections/${encodeURIComponent(s.section_id)}/rooms`))),
  ]);
  if (!page.isCurrent()) return; // the person moved on while it loaded
  const roomKwh = new Map();
  const sectionKwh = new Map();
  for (const s of usage.sections) {
    sectionKwh.set(s.section_id, Number(s.kwh));
    for (const r of s.rooms) if (r.room_id) roomKwh.set(r.room_id, Number(r.kwh));
  }
  const max = Math.max(0, ...roomKwh.values());
  const rangeLabel = RANGES.find(([v]) => v === range)[1].toLowerCase();
  const picker = h(
    "select",
    { id: "range", "aria-label": "Usage range" },
    RANGES.map(([v, label]) => h("option", { value: v, selected: v === range }, label)),
  );
  picker.addEventListener("change", () => (window.location.hash = `#/hotels/${encodeURIComponent(id)}?range=${picker.value}`));

  const floors = sections.map((s, i) => {
    const rooms = roomLists[i];
    const rows = rooms.map((r) => [r, roomKwh.get(r.room_id) || 0]);
    return h(
      "section",
      { class: "card floor", "aria-labelledby": `floor-${i}` },
      h("h2", { id: `floor-${i}` }, s.section_name, " ", h("span", { class: "muted" }, `· ${kwh(sectionKwh.get(s.section_id) || 0)}`)),
      rows.length
        ? h(
            "ul",
            { class: "usage-bars" },
            rows.map(([r, value]) =>
              h(
                "li",
                {},
                h("a", { href: `#/rooms/${encodeURIComponent(r.room_id)}` }, `Room ${r.room_number}`),
                bar(value, max, `Room ${r.room_number}: ${kwh(value)}`),
                h("span", { class: "num" }, kwh(value)),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No rooms on this floor."),
      rows.length
        ? h(
            "details",
            { class: "alt" },
            h("summary", {}, "Show as a table"),
            table(`${s.section_name}: kWh by room, ${rangeLabel}`, ["Room", "Occupancy", "kWh"], rows.map(([r, value]) => [r.room_number, r.occupancy_status || "–", kwh(value)])),
          )
        : null,
    );
  });
  const unassigned = usage.sections.find((s) => !s.section_id);
  const forecast = areaForecastCard(`/hotels/${encodeURIComponent(id)}/forecast`, { what: "hotel", describe, isCurrent: page.isCurrent });
  mount(
    main,
    h("p", {}, h("a", { href: "#/hotels" }, "← Hotels")),
    h("h1", {}, hotel.hotel_name),
    h("p", { class: "muted" }, [hotel.address, hotel.timezone].filter(Boolean).join(" · ")),
    h("div", { class: "figures" }, h("div", { class: "figure", id: "hotel-total" }, h("span", { class: "label" }, `Usage, ${rangeLabel}`), h("strong", { class: "value" }, kwh(usage.total_kwh)))),
    forecast,
    h("p", {}, h("label", { for: "range" }, "Range "), picker),
    floors.length ? floors : card("Floors", h("p", { class: "muted" }, "This hotel has no floors yet.")),
    unassigned ? card("Devices not in a room", h("p", {}, kwh(unassigned.kwh))) : null,
  );
  await forecast.load();
}

