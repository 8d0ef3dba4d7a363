// What the map (lights.js) and a light's page (light.js) share: the state a
// light is shown in (with its colour and words), sending a command, and
// following that command until the lamp confirms it or it fails.
import { h } from "../dom.js";
import { get, post } from "../api.js";

/** The states a light is shown in, in the legend's order: colour and words. */
export const STATES = {
  on: { label: "On", color: "#f2b705" },
  off: { label: "Off", color: "#3d4754" },
  error: { label: "Error", color: "#c62828" },
  offline: { label: "Offline", color: "#9aa5b1" },
  pending: { label: "Command pending", color: "#0b6bcb" },
  unknown: { label: "Unknown", color: "#ffffff" },
};

/** A light (an item of /lights/map, or GET /lights/{id}'s light) -> a key of STATES. */
export function stateOf(light) {
  if (light.last_command && light.last_command.state === "pending") return "pending";
  if (light.status === "error") return "error";
  if (!light.online) return "offline";
  return STATES[light.status] ? light.status : "unknown";
}

/** "Off (offline)", "On, command off pending": the state in words, never colour alone. */
export function describe(light) {
  const parts = [STATES[light.status] ? STATES[light.status].label : String(light.status)];
  if (!light.online) parts.push("offline");
  const cmd = light.last_command;
  if (cmd) parts.push(`last command ${cmd.action}: ${cmd.state}`);
  return parts.join(" · ");
}

export function swatch(key) {
  const el = h("span", { class: `swatch swatch-${key}`, "aria-hidden": "true" });
  el.style.background = STATES[key].color;
  return el;
}

export function legend() {
  return h(
    "ul",
    { class: "legend", "aria-label": "Legend" },
    Object.entries(STATES).map(([key, s]) => h("li", {}, swatch(key), s.label)),
  );
}

/** POST /lights/{id}/control -> the API's answer ({command_id, status, ...}). */
export function control(lightId, action, brightness) {
  const body = { action };
  if (brightness !== undefined && brightness !== null && brightness !== "") body.brightness = Number(brightness);
  return post(`/lights/${encodeURIComponent(lightId)}/control`, body);
}

/**
 * Read the light every `every` ms until its command `commandId` is confirmed or
 * failed (or another command replaced it), for at most `timeout` ms; `onUpdate`
 * gets each reading ({light, recent_logs}). Stops early when `alive()` is false.
 * Resolves to the last reading.
 */
export async function follow(lightId, commandId, onUpdate, { alive = () => true, every = 1500, timeout = 120_000 } = {}) {
  const until = Date.now() + timeout;
  let last = null;
  while (alive() && Date.now() < until) {
    await new Promise((r) => setTimeout(r, every));
    if (!alive()) break;
    try {
      last = await get(`/lights/${encodeURIComponent(lightId)}`);
    } catch {
      continue; // a failed read is retried at the next turn
    }
    onUpdate(last);
    const cmd = last.light.last_command;
    if (!cmd || cmd.command_id !== commandId || cmd.state !== "pending") break;
  }
  return last;
}
