// One street light: its details, controls for operators and admins (followed
// until the lamp confirms), its burning hours per day and its log, paged.
import { h, mount, table, card, errorBox, when, kwh } from "../dom.js";
import { get } from "../api.js";
import { onLeave } from "../router.js";
import * as session from "../session.js";
import { STATES, stateOf, describe, swatch, control, follow } from "./lightkit.js";

export async function render(main, params, _query, page) {
  const id = params.id;
  const path = `/lights/${encodeURIComponent(id)}`;
  let alive = true;
  onLeave(() => (alive = false));
  const [detail, usage] = await Promise.all([get(path), get(`${path}/usage`).catch((err) => err)]);
  if (!page.isCurrent()) return;

  const heading = h("h1", {}, detail.light.name);
  const facts = h("div");
  const status = h("p", { role: "status", "aria-live": "polite", class: "muted" });
  const logBox = h("div");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More");

  function showLight(light) {
    const key = stateOf(light);
    const flat = { ...light, location: { latitude: light.latitude, longitude: light.longitude } };
    mount(
      facts,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "State"),
        h("dd", { id: "light-state", dataset: { state: key } }, swatch(key), STATES[key].label),
        h("dt", {}, "Details"),
        h("dd", {}, describe(flat)),
        h("dt", {}, "Mode"),
        h("dd", {}, light.is_automatic ? "automatic (schedule)" : "manual"),
        h("dt", {}, "Brightness"),
        h("dd", {}, `${light.brightness} %`),
        h("dt", {}, "City"),
        h("dd", {}, light.city || "–"),
        h("dt", {}, "Address"),
        h("dd", {}, light.address || "–"),
        h("dt", {}, "Location"),
        h("dd", {}, light.latitude != null ? `${light.latitude}, ${light.longitude}` : "–"),
        h("dt", {}, "Last seen"),
        h("dd", {}, when(light.last_seen)),
        h("dt", {}, "Last status change"),
        h("dd", {}, when(light.last_status_change)),
        light.error_details ? [h("dt", {}, "Error"), h("dd", { class: "error" }, light.error_details)] : null,
      ),
    );
  }

  // The log: the first page comes with the detail; "More" reads GET /lights/{id}/logs.
  let logRows = [];
  let token = null;
  function logRow(e) {
    return [when(e.created_at), e.action, e.performed_by, e.control_type, `${e.previous_status || "–"} → ${e.new_status || "–"}`, e.brightness ?? "", e.error_details || ""];
  }
  function showLog() {
    mount(
      logBox,
      logRows.length
        ? table("Control and status history, newest first", ["When", "Action", "By", "Type", "Status", "Brightness", "Error"], logRows, { class: "list", id: "light-log" })
        : h("p", { class: "muted" }, "Nothing logged yet."),
    );
  }
  async function loadLog(reset) {
    const data = await get(`${path}/logs`, { limit: 20, next_token: reset ? undefined : token });
    if (reset) logRows = [];
    logRows.push(...data.items.map(logRow));
    token = data.next_token;
    more.hidden = !token;
    showLog();
  }
  more.addEventListener("click", () => loadLog(false).catch((err) => mount(status, errorBox(err))));

  let controlsBox = null;
  if (session.canOperate()) {
    const brightness = h("input", { id: "brightness", type: "number", min: 0, max: 100, step: 1, inputmode: "numeric" });
    const buttons = [
      ["on", "Turn on"],
      ["off", "Turn off"],
      ["auto", "Automatic"],
    ].map(([action, label]) => h("button", { type: "button", class: action === "on" ? null : "secondary", onclick: () => send(action) }, label));
    async function send(action) {
      buttons.forEach((b) => (b.disabled = true));
      mount(status, `Sending “${action}”…`);
      try {
        const answer = await control(id, action, action === "off" ? undefined : brightness.value);
        mount(status, `Command ${action} sent, waiting for the lamp to confirm.`);
        const now = await get(path);
        if (!alive) return;
        showLight(now.light);
        const last = (await follow(id, answer.command_id, (d) => showLight(d.light), { alive: () => alive })) || now;
        if (!alive) return;
        const cmd = last.light.last_command;
        mount(status, cmd && cmd.command_id === answer.command_id && cmd.state !== "pending" ? `Command ${action} ${cmd.state}.` : `Command ${action} is still pending (the lamp has not reported yet).`);
        await loadLog(true);
      } catch (err) {
        mount(status, errorBox(err));
      } finally {
        buttons.forEach((b) => (b.disabled = false));
      }
    }
    controlsBox = card(
      "Control",
      h("p", { class: "toolbar" }, h("label", { for: "brightness" }, "Brightness (0–100 %, optional) "), brightness, " ", buttons),
    );
  }

  let usageBox;
  if (usage instanceof Error) usageBox = errorBox(usage);
  else {
    usageBox = [
      h("p", {}, `${usage.from} to ${usage.to} (${usage.tz}): ${usage.total_burning_hours} burning hours`, usage.total_energy_kwh != null ? `, ${kwh(usage.total_energy_kwh)}` : ""),
      table(
        "Burning hours per day",
        ["Day", "Burning hours", "Switch-ons", "Energy"],
        usage.days.map((d) => [d.date, d.burning_hours, String(d.switch_ons), d.energy_kwh != null ? kwh(d.energy_kwh) : "–"]),
        { class: "list" },
      ),
    ];
  }

  showLight(detail.light);
  logRows = detail.recent_logs.map(logRow);
  mount(
    main,
    h("p", {}, h("a", { href: detail.light.city ? `#/lights?city=${encodeURIComponent(detail.light.city)}` : "#/lights" }, "← Street lights")),
    heading,
    status,
    card("Light", facts),
    controlsBox,
    card("Usage", usageBox),
    card("Log", logBox, more),
  );
  showLog();
  // recent_logs is the log's first page; read it properly to know whether there is more.
  loadLog(true).catch(() => {});
}
