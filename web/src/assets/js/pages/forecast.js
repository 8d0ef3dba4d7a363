// Day-ahead forecasts drawn the same way on the device, room and hotel pages:
// the hourly kWh line inside its lower/upper band (uPlot, with the actual kWh
// on a device page) and its table alternative. `areaForecastCard` is the
// "Next 24 hours (forecast)" card of a room or a hotel, from
// GET /rooms/{id}/forecast or GET /hotels/{id}/forecast (the devices' newest
// forecasts summed hour by hour).
import { h, mount, card, table, kwh, when, errorBox } from "../dom.js";
import { get } from "../api.js";
import { chart, alternative, epoch } from "./charts.js";
import { deviceHref } from "./devices.js";

const known = (v) => v !== null && v !== undefined;

/** Draw `rows` ({timestamp, kwh, kwh_lower, kwh_upper[, actual_kwh]}) into `box`; `actual` adds the actual kWh. */
export function forecastChart(box, rows, { label, actual = false }) {
  const series = [
    { label: "Lower", scale: "kWh", values: rows.map((r) => Number(r.kwh_lower)), color: "#7aa7d8", dash: [4, 4] },
    { label: "Upper", scale: "kWh", values: rows.map((r) => Number(r.kwh_upper)), color: "#7aa7d8", dash: [4, 4] },
    { label: "Forecast", scale: "kWh", values: rows.map((r) => Number(r.kwh)), color: "#0b6bcb" },
  ];
  if (actual) series.push({ label: "Actual", scale: "kWh", values: rows.map((r) => (known(r.actual_kwh) ? Number(r.actual_kwh) : null)), color: "#c05600", points: true });
  return chart(box, { label, x: rows.map((r) => epoch(r.timestamp)), series, bands: [[2, 1]] });
}

/** The chart's text alternative: hour, forecast, interval (and actual) per row. */
export function forecastTable(caption, rows, { actual = false, attrs = {} } = {}) {
  const headers = ["Hour", "Forecast", "Interval"];
  if (actual) headers.push("Actual");
  return table(
    caption,
    headers,
    rows.map((r) => {
      const row = [when(r.timestamp), kwh(r.kwh), `${kwh(r.kwh_lower)} – ${kwh(r.kwh_upper)}`];
      if (actual) row.push(known(r.actual_kwh) ? kwh(r.actual_kwh) : "–");
      return row;
    }),
    attrs,
  );
}

/** Decimal strings summed exactly (to the thousandth of a Wh the API gives at most: 6 decimals). */
function total(values) {
  if (!values.every((v) => /^-?\d+(\.\d{0,6})?$/.test(String(v)))) return String(values.reduce((a, v) => a + Number(v), 0));
  let micro = 0n;
  for (const v of values) {
    const [whole, frac = ""] = String(v).replace("-", "").split(".");
    const n = BigInt(whole || "0") * 1000000n + BigInt((frac + "000000").slice(0, 6));
    micro += String(v).startsWith("-") ? -n : n;
  }
  const sign = micro < 0n ? "-" : "";
  const abs = micro < 0n ? -micro : micro;
  return `${sign}${abs / 1000000n}.${String(abs % 1000000n).padStart(6, "0")}`;
}

/**
 * The "Next 24 hours (forecast)" card of a room or hotel. `path` is its forecast route;
 * `describe(ids)` resolves device ids to devices ({device_id, device_name, device_type})
 * for the links to the devices without a forecast; `isCurrent()` is false once the person
 * has left the page (nothing is drawn then). Returns the card; `card.load()` fills it.
 */
export function areaForecastCard(path, { what, describe, isCurrent = () => true }) {
  const box = h("div", { class: "chart", id: "area-forecast-chart" });
  const info = h("div", { "aria-live": "polite" });
  const missingBox = h("div");
  const alt = h("div");
  const sec = card("Next 24 hours (forecast)", info, box, alt, missingBox);
  sec.id = "area-forecast";
  sec.load = async () => {
    let f;
    try {
      f = await get(path);
    } catch (err) {
      box.hidden = true;
      mount(info, errorBox(err));
      return;
    }
    if (!isCurrent()) return;
    const missing = f.devices_without_forecast || [];
    if (missing.length) {
      let devices = [];
      try {
        devices = await describe(missing);
      } catch {
        devices = []; // the links fall back to the ids
      }
      const byId = new Map(devices.map((d) => [d.device_id, d]));
      mount(
        missingBox,
        h("h3", {}, `No forecast yet (${missing.length})`),
        h(
          "ul",
          { id: "devices-without-forecast" },
          missing.map((id) => {
            const d = byId.get(id) || { device_id: id };
            return h("li", {}, h("a", { href: deviceHref(d) }, d.device_name || d.name || id));
          }),
        ),
      );
    } else mount(missingBox);
    if (!f.items.length) {
      box.hidden = true;
      mount(alt);
      mount(
        info,
        h(
          "p",
          { class: "muted", id: "no-area-forecast" },
          f.devices.length || missing.length
            ? `No device in this ${what} has a forecast for the next 24 hours yet: a device gets one once it has 48 hours of energy history.`
            : `This ${what} has no devices to forecast.`,
        ),
      );
      return;
    }
    if (!isCurrent()) return;
    box.hidden = false;
    const sum = total(f.items.map((r) => r.kwh));
    const lower = total(f.items.map((r) => r.kwh_lower));
    const upper = total(f.items.map((r) => r.kwh_upper));
    mount(
      info,
      h(
        "div",
        { class: "figures compact" },
        h("div", { class: "figure", id: "forecast-total" }, h("span", { class: "label" }, "Total, next 24 hours"), h("strong", { class: "value", "data-kwh": sum }, kwh(sum))),
        h("div", { class: "figure", id: "forecast-bounds" }, h("span", { class: "label" }, "Between (bounds summed)"), h("strong", { class: "value small", "data-lower": lower, "data-upper": upper }, `${kwh(lower)} – ${kwh(upper)}`)),
        h("div", { class: "figure", id: "forecast-devices" }, h("span", { class: "label" }, "Devices included"), h("strong", { class: "value small" }, `${f.devices.length} of ${f.devices.length + missing.length}`)),
      ),
      h("p", { class: "muted" }, `From ${when(f.start)} to ${when(f.end)} · each hour sums the newest forecast of every device that covers it.`),
    );
    await forecastChart(box, f.items, { label: `Forecast kWh per hour for this ${what}, with the summed interval` });
    mount(
      alt,
      alternative(
        "Show the forecast as a table",
        forecastTable(`Forecast kWh per hour for this ${what}, with its interval`, f.items, { attrs: { id: "area-forecast-table" } }),
      ),
    );
  };
  return sec;
}
