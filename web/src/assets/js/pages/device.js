// A device: readings chart (power and the kWh counter; drag to zoom, or the
// 1 h / 24 h / 7 d buttons), quarantined readings, daily and monthly energy,
// the 24-hour forecast with its interval band beside actuals, and the alert
// rules form for those the API lets change them. Every chart has a table.
import { h, mount, card, table, kwh, watts, num, when, errorBox } from "../dom.js";
import { get, post, put, ApiError } from "../api.js";
import * as session from "../session.js";
import { chart, alternative, epoch } from "./charts.js";
import { forecastChart, forecastTable } from "./forecast.js";

const RANGES = [
  ["1h", "-1h", "1 h"],
  ["24h", "-24h", "24 h"],
  ["7d", "-7d", "7 d"],
];

async function readings(id, start) {
  // Raw readings for an hour or a day (up to 5000); a week is averaged per 15 min.
  if (start === "-7d") {
    const [power, counter] = await Promise.all([
      get(`/devices/${id}/readings/aggregate`, { field: "power_w", fn: "mean", window: "15m", start }),
      get(`/devices/${id}/readings/aggregate`, { field: "energy_kwh", fn: "max", window: "15m", start }),
    ]);
    const kwhAt = new Map(counter.items.map((p) => [p.timestamp, p.value]));
    return { averaged: true, items: power.items.map((p) => ({ timestamp: p.timestamp, power_w: p.value, kwh_value: kwhAt.get(p.timestamp) ?? null })) };
  }
  const items = [];
  let token = null;
  do {
    const page = await get(`/devices/${id}/readings`, { start, limit: 1000, next_token: token });
    items.push(...page.items);
    token = page.next_token;
  } while (token && items.length < 5000);
  return { averaged: false, items };
}

function readingsSection(id) {
  const box = h("div", { class: "chart", id: "readings-chart" });
  const alt = h("div");
  const note = h("p", { class: "muted" });
  const buttons = RANGES.map(([key, start, label]) => {
    const b = h("button", { type: "button", class: "secondary", "aria-pressed": "false", dataset: { range: key } }, label);
    b.addEventListener("click", () => load(start, b));
    return b;
  });
  async function load(start, button) {
    for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
    mount(note, "Loading…");
    try {
      const data = await readings(id, start);
      const points = data.items.filter((r) => r.timestamp);
      mount(note, points.length ? `${points.length} ${data.averaged ? "15-minute averages" : "readings"}. Drag across the chart to zoom; double-click to zoom out.` : "No readings in this range.");
      const now = Date.now() / 1000;
      await chart(box, {
        label: "Power and meter reading",
        xRange: [now + Number(start.slice(0, -1)) * (start.endsWith("d") ? 86400 : 3600), now],
        x: points.map((r) => epoch(r.timestamp)),
        series: [
          { label: "Power", scale: "W", values: points.map((r) => r.power_w ?? null) },
          { label: "Meter reading", scale: "kWh", values: points.map((r) => r.kwh_value ?? null) },
        ],
      });
      mount(
        alt,
        alternative(
          "Show the readings as a table",
          table(
            `${points.length} ${data.averaged ? "15-minute averages" : "readings"}`,
            ["Time", "Power", "Meter reading", "Voltage", "Current"],
            points.map((r) => [when(r.timestamp), watts(r.power_w), r.kwh_value === null || r.kwh_value === undefined ? "–" : kwh(r.kwh_value), num(r.voltage), num(r.current)]),
            { id: "readings-table" },
          ),
        ),
      );
    } catch (err) {
      mount(note, errorBox(err));
    }
  }
  const section = card("Readings", h("div", { class: "buttons", role: "group", "aria-label": "Time range" }, buttons), note, box, alt);
  return { section, start: () => load("-24h", buttons[1]) };
}

function energySection(id, period, title, start) {
  const box = h("div", { class: "chart", id: `energy-${period}` });
  const sec = card(title, box);
  sec.load = async () => {
  try {
    const e = await get(`/devices/${id}/energy`, { period, start });
    const x = e.items.map((p) => epoch(period === "month" ? `${p.period}-01T00:00:00Z` : `${p.period}T00:00:00Z`));
    sec.append(
      h("p", { class: "muted" }, `Total ${kwh(e.total_kwh)} (${e.tz})`),
      alternative(`Show ${title.toLowerCase()} as a table`, table(title, [period === "month" ? "Month" : "Day", "kWh"], e.items.map((p) => [p.period, kwh(p.kwh)]))),
    );
    if (e.items.length) await chart(box, { label: title, x, series: [{ label: "Energy", scale: "kWh", values: e.items.map((p) => Number(p.kwh)), bars: true }], height: 200, xPad: period === "month" ? 16 * 86400 : 86400 });
    else mount(box, h("p", { class: "muted" }, "No energy recorded yet."));
  } catch (err) {
    mount(box, errorBox(err));
  }
  };
  return sec;
}

function forecastSection(id) {
  const box = h("div", { class: "chart", id: "forecast-chart" });
  const info = h("div", { "aria-live": "polite" });
  const alt = h("div");
  async function draw() {
    let history;
    try {
      history = await get(`/devices/${id}/predictions`, { limit: 3 });
    } catch (err) {
      mount(info, errorBox(err));
      return;
    }
    if (!history.items.length) {
      mount(info, h("p", { class: "muted", id: "no-forecast" }, "No forecast yet: one is made once the device has 48 hours of energy history."));
      mount(box);
      box.hidden = true;
      return;
    }
    box.hidden = false;
    // Older forecasts give the past hours (with their actual kWh); the newest the next 24.
    const hours = new Map();
    for (const f of [...history.items].reverse()) for (const item of f.items) hours.set(item.timestamp, item);
    const rows = [...hours.values()].sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    const newest = history.items[0];
    mount(
      info,
      h("p", { class: "muted" }, `Newest forecast ${when(newest.generated_at)} · ${newest.method} ${newest.model_version || ""} · confidence ${num(newest.confidence)} · band: ${Math.round((newest.coverage || 0.8) * 100)} % interval`),
    );
    await forecastChart(box, rows, { label: "Forecast and actual kWh per hour", actual: true });
    mount(alt, alternative("Show the forecast as a table", forecastTable("Forecast kWh per hour with its interval, and the actual kWh", rows, { actual: true })));
  }
  const controls = [];
  if (session.canOperate()) {
    const result = h("div", { "aria-live": "polite" });
    const button = h("button", { type: "button", id: "forecast-now" }, "Forecast now");
    button.addEventListener("click", async () => {
      button.disabled = true;
      mount(result, h("p", { class: "muted" }, "Forecasting…"));
      try {
        await post(`/devices/${id}/predict`);
        mount(result, h("p", { class: "ok" }, "New forecast made."));
        await draw();
      } catch (err) {
        if (err instanceof ApiError && err.code === "insufficient_history") {
          const b = err.body || {};
          mount(result, h("p", { class: "error", role: "alert", id: "insufficient-history" }, `Not enough history to forecast: it needs ${b.needed_hours ?? 48} hours of energy data and has ${b.have_hours ?? 0}.`));
        } else mount(result, errorBox(err));
      } finally {
        button.disabled = false;
      }
    });
    controls.push(h("p", {}, button), result);
  }
  const sec = card("Next 24 hours (forecast)", controls, info, box, alt);
  sec.load = draw;
  return sec;
}

async function rejectedSection(id) {
  const data = await get(`/devices/${id}/readings/rejected`, { limit: 50 });
  return card(
    "Quarantined readings",
    data.items.length
      ? table(
          `${data.count} newest refused readings (kept 30 days)`,
          ["Received", "Reason", "Field", "Message", "Source"],
          data.items.map((q) => [when(q.received_at), q.reason, q.field || "–", q.message, q.source]),
          { id: "rejected" },
        )
      : h("p", { class: "muted" }, "No reading was refused in the last 30 days."),
  );
}

const RULES = [
  ["max_power_w", "Maximum power (W)", "any"],
  ["min_voltage", "Minimum voltage (V)", "any"],
  ["max_voltage", "Maximum voltage (V)", "any"],
  ["max_current", "Maximum current (A)", "any"],
  ["max_temperature", "Maximum temperature (°C)", "any"],
  ["spike_factor", "Spike factor (× the usual power)", "any"],
  ["offline_after_s", "Offline after (seconds)", "1"],
];

async function rulesSection(id) {
  let rules;
  try {
    rules = await get(`/devices/${id}/alert-rules`);
  } catch (err) {
    if (err.status === 403 || err.status === 404) return null; // only the owner or an admin may see and change them
    return card("Alert rules", errorBox(err));
  }
  const status = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "rules", id: "alert-rules" },
    RULES.map(([name, label, step]) => h("div", { class: "field" }, h("label", { for: `rule-${name}` }, label), h("input", { id: `rule-${name}`, name, type: "number", step, value: rules[name] ?? "" }))),
    h("div", { class: "field check" }, h("input", { id: "rule-notify", name: "notify", type: "checkbox", checked: !!rules.notify }), h("label", { for: "rule-notify" }, "E-mail me when an alert opens")),
    h("div", { class: "field check" }, h("input", { id: "rule-anomaly", name: "anomaly", type: "checkbox", checked: !!rules.anomaly }), h("label", { for: "rule-anomaly" }, "Alert on unusual use for the hour")),
    h("p", {}, h("button", { type: "submit" }, "Save alert rules")),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { notify: form.notify.checked, anomaly: form.anomaly.checked };
    for (const [name] of RULES) if (form[name].value !== "") body[name] = Number(form[name].value);
    try {
      await put(`/devices/${id}/alert-rules`, body);
      mount(status, h("p", { class: "ok" }, "Saved."));
    } catch (err) {
      mount(status, errorBox(err));
    }
  });
  return card("Alert rules", form);
}

export async function render(main, params, _query, page) {
  const id = encodeURIComponent(params.id);
  const d = await get(`/devices/${id}`);
  if (!page.isCurrent()) return;
  const r = readingsSection(id);
  mount(
    main,
    h("p", {}, h("a", { href: "#/devices" }, "← Devices")),
    h("h1", {}, d.device_name || d.name),
    h(
      "dl",
      { class: "facts" },
      [
        ["Type", d.device_type],
        ["State", `${d.online ? "online" : "offline"} · ${d.status}`],
        ["Last seen", when(d.last_seen)],
        ["Power rating", d.power_rating_w ? watts(d.power_rating_w) : "–"],
        ["Room", d.room_id ? h("a", { href: `#/rooms/${encodeURIComponent(d.room_id)}` }, "Open the room") : "–"],
      ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    ),
    r.section,
  );
  const drawn = [energySection(id, "day", "Daily energy", "-30d"), energySection(id, "month", "Monthly energy", "-365d"), forecastSection(id)];
  main.append(...drawn);
  const [, rejected, rules] = await Promise.all([
    Promise.all([r.start(), ...drawn.map((s) => s.load())]),
    rejectedSection(id).catch((err) => card("Quarantined readings", errorBox(err))),
    rulesSection(id),
  ]);
  if (page.isCurrent()) main.append(...[rejected, rules].filter(Boolean));
}
