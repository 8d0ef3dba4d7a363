// The street-light map: every light the caller can see as a round marker
// coloured by its state (legend, popup in words, and the same lights as a
// table), the city summary, and for operators and admins On/Off controls that
// follow each command until the lamp confirms it. Markers are Leaflet markers
// (focusable buttons named "<name>: <state>", in reading order: north to south,
// then west to east); Enter or Space opens the popup and moves the focus into
// it, Escape (or its close button) closes it and gives the focus back to the
// marker, and a redrawn popup or table keeps the focus where it was.
import { h, mount, table, card, errorBox, when, num, loadScript, loadStyle } from "../dom.js";
import { get, config } from "../api.js";
import { onLeave } from "../router.js";
import * as session from "../session.js";
import { STATES, stateOf, describe, legend, swatch, control, follow } from "./lightkit.js";

const MAX_PAGES = 20; // 20 x 1000 lights: more than any city here
const REFRESH_MS = 30_000;

async function allLights(city) {
  const items = [];
  let token = null;
  for (let i = 0; i < MAX_PAGES; i++) {
    const data = await get("/lights/map", { city, limit: 1000, next_token: token });
    items.push(...data.items);
    token = data.next_token;
    if (!token) break;
  }
  return items;
}

function figures(summary) {
  const figure = (label, value, extra = "") => h("div", { class: `figure ${extra}` }, h("span", { class: "label" }, label), h("span", { class: "value" }, value));
  return h(
    "div",
    { class: "figures compact", "aria-label": "City summary" },
    figure("Lights", num(summary.total_lights)),
    figure("On", num(summary.lights_on)),
    figure("Off", num(summary.lights_off)),
    figure("In error", num(summary.lights_in_error)),
    figure("Offline", num(summary.lights_offline)),
    figure("Last change", when(summary.last_updated), "small"),
  );
}

export async function render(main, _params, query, page) {
  const city = query.city || "";
  const operate = session.canOperate();
  let alive = true;
  onLeave(() => (alive = false));

  loadStyle("vendor/leaflet/leaflet.css");
  const leaflet = loadScript("vendor/leaflet/leaflet.js"); // meanwhile, not after the data
  const [everything, lights, summary, cfg] = await Promise.all([
    city ? allLights(undefined) : null,
    allLights(city || undefined),
    get("/lights/summary", { city: city || undefined }).catch((err) => err),
    config(),
  ]);
  if (!page.isCurrent()) return;
  const cities = [...new Set((everything || lights).map((l) => l.city).filter(Boolean))].sort((a, b) => a.localeCompare(b));
  if (city && !cities.includes(city)) cities.push(city);

  const picker = h(
    "select",
    { id: "city" },
    h("option", { value: "" }, "All my cities"),
    cities.map((c) => h("option", { value: c, selected: c === city }, c)),
  );
  picker.addEventListener("change", () => {
    window.location.hash = picker.value ? `#/lights?city=${encodeURIComponent(picker.value)}` : "#/lights";
  });

  const status = h("p", { role: "status", "aria-live": "polite", class: "muted" });
  const summaryBox = h("div");
  const showSummary = (s) =>
    mount(summaryBox, s instanceof Error ? (s.code === "city_not_found" ? h("p", { class: "muted" }, s.message) : errorBox(s)) : figures(s));
  showSummary(summary);

  const mapBox = h("div", { class: "map", id: "light-map", role: "region", "aria-label": "Map of the street lights (the table below lists the same lights)" });
  const listBox = h("div");
  mount(
    main,
    h("h1", {}, city ? `Street lights in ${city}` : "Street lights"),
    h("p", { class: "toolbar" }, h("label", { for: "city" }, "City "), picker),
    summaryBox,
    status,
    card("Map", legend(), mapBox, cfg.tileUrl ? null : h("p", { class: "muted" }, "No map tiles are configured: the lights are shown on a plain background.")),
    card("Lights", listBox),
  );

  await leaflet;
  if (!page.isCurrent()) return;
  const L = window.L;
  const map = L.map(mapBox, { preferCanvas: false, attributionControl: Boolean(cfg.tileUrl) });
  onLeave(() => map.remove());
  if (cfg.tileUrl) L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: cfg.tileAttribution || "" }).addTo(map);

  const byId = new Map(lights.map((l) => [l.light_id, l]));
  const markers = new Map();
  const busy = new Set();

  function controls(light, where) {
    if (!operate) return null;
    return h(
      "span",
      { class: "controls" },
      ["on", "off"].map((action) =>
        h(
          "button",
          {
            type: "button",
            class: action === "off" ? "secondary" : null,
            disabled: busy.has(light.light_id),
            dataset: { lightId: light.light_id, action },
            "aria-label": where === "table" ? `Turn ${light.name} ${action}` : null,
            // after the click has finished bubbling: redrawing the popup removes this
            // button, and Leaflet closes a popup on a click it cannot trace to it
            onclick: () => setTimeout(() => send(light.light_id, action)),
          },
          action === "on" ? "On" : "Off",
        ),
      ),
    );
  }

  // One popup element per light, filled again in place when the light changes
  // (replacing it would close the popup under the person's pointer).
  const popups = new Map();
  function fillPopup(light) {
    let el = popups.get(light.light_id);
    if (!el) popups.set(light.light_id, (el = h("div", { class: "light-popup", dataset: { popupFor: light.light_id } })));
    const key = stateOf(light);
    mount(
      el,
      h("h3", {}, h("a", { href: `#/lights/${encodeURIComponent(light.light_id)}`, dataset: { lightId: light.light_id } }, light.name)),
      h("p", { class: "popup-status" }, swatch(key), `Status: ${describe(light)}`),
      h("p", {}, `Last seen: ${when(light.last_seen)}`),
      h("p", {}, `Last change: ${when(light.last_status_change)}`),
      controls(light, "popup"),
    );
    return el;
  }

  // Which control inside `box` has the focus ("name" for a light's link), so
  // that a redraw can give it back: redrawing removes the focused element.
  function focusedIn(box) {
    const el = document.activeElement;
    if (!el || !box.contains(el)) return null;
    return { lightId: el.dataset.lightId, action: el.dataset.action || "name" };
  }
  function refocus(box, was) {
    if (!was) return;
    const id = CSS.escape(was.lightId || "");
    const target =
      (was.action !== "name" && box.querySelector(`button[data-light-id="${id}"][data-action="${was.action}"]:not([disabled])`)) ||
      box.querySelector(`a[data-light-id="${id}"]`);
    if (target) target.focus({ preventScroll: true });
  }

  // The marker's dot: its colour in the style (CSSOM, which the CSP allows),
  // its outline (dashed when offline) in app.css by data-state.
  const dots = new Map();

  function drawMarker(light) {
    const loc = light.location || {};
    if (loc.latitude === null || loc.latitude === undefined || loc.longitude === null || loc.longitude === undefined) return;
    const key = stateOf(light);
    let marker = markers.get(light.light_id);
    if (!marker) {
      const dot = h("span", { class: "light-dot", "aria-hidden": "true" });
      dots.set(light.light_id, dot);
      // keyboard: true makes the icon a focusable role=button; the name comes from aria-label below
      const icon = L.divIcon({ html: dot, className: "light-marker", iconSize: [22, 22], popupAnchor: [0, -8], tooltipAnchor: [12, 0] });
      marker = L.marker([loc.latitude, loc.longitude], { icon, keyboard: true, riseOnHover: true }).addTo(map);
      marker.bindPopup(fillPopup(light), { minWidth: 220 });
      // an element, never a string: Leaflet puts string content in as HTML
      marker.bindTooltip(() => h("span", {}, `${byId.get(light.light_id).name}: ${STATES[stateOf(byId.get(light.light_id))].label}`));
      markers.set(light.light_id, marker);
      keyboardOn(marker, light.light_id);
    } else {
      const popupEl = popups.get(light.light_id);
      const was = focusedIn(popupEl);
      fillPopup(light);
      if (marker.isPopupOpen()) marker.getPopup().update();
      refocus(popupEl, was);
    }
    const dot = dots.get(light.light_id);
    dot.style.backgroundColor = STATES[key].color;
    dot.setAttribute("data-state", key);
    const el = marker.getElement();
    if (el) {
      el.setAttribute("data-light-id", light.light_id);
      el.setAttribute("data-state", key);
      el.setAttribute("aria-label", `${light.name}: ${STATES[key].label}`); // an attribute value: text
    }
  }

  // Enter or Space on a marker opens its popup and moves the focus into it
  // (Leaflet itself only reacts to Enter, and leaves the focus on the marker,
  // after every other marker in the tab order). Closing the popup while the
  // focus is in it gives the focus back to the marker.
  function keyboardOn(marker, lightId) {
    const el = marker.getElement();
    el.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" && e.key !== " ") return;
      e.preventDefault(); // no keypress (Leaflet's Enter toggles), no page scroll for Space
      e.stopPropagation();
      if (!marker.isPopupOpen()) marker.openPopup();
      const first = popups.get(lightId).querySelector("a, button:not([disabled])");
      if (first) first.focus({ preventScroll: true });
    });
    el.setAttribute("aria-expanded", "false");
    marker.on("popupopen", () => el.setAttribute("aria-expanded", "true"));
    marker.on("popupclose", (e) => {
      el.setAttribute("aria-expanded", "false");
      const active = document.activeElement;
      const container = e.popup.getElement();
      if (alive && (!active || active === document.body || (container && container.contains(active)))) el.focus({ preventScroll: true });
    });
  }

  function drawTable() {
    const rows = [...byId.values()].map((l) => {
      const key = stateOf(l);
      return [
        h("a", { href: `#/lights/${encodeURIComponent(l.light_id)}`, dataset: { lightId: l.light_id } }, l.name),
        ...(city ? [] : [l.city || "–"]),
        h("span", { dataset: { state: key } }, swatch(key), STATES[key].label),
        describe(l),
        when(l.last_seen),
        ...(operate ? [controls(l, "table")] : []),
      ];
    });
    const was = focusedIn(listBox);
    mount(
      listBox,
      rows.length
        ? table(`${rows.length} lights`, ["Name", ...(city ? [] : ["City"]), "State", "Details", "Last seen", ...(operate ? ["Switch"] : [])], rows, { class: "list", id: "lights-table" })
        : h("p", { class: "muted" }, "No street lights to show."),
    );
    refocus(listBox, was);
  }

  function update(light) {
    byId.set(light.light_id, light);
    drawMarker(light);
    drawTable();
  }

  async function send(lightId, action) {
    const light = byId.get(lightId);
    busy.add(lightId);
    update(light);
    mount(status, `Sending “${action}” to ${light.name}…`);
    try {
      const answer = await control(lightId, action);
      const pending = { ...light, last_command: { command_id: answer.command_id, action, state: "pending", issued_at: new Date().toISOString() } };
      update(pending);
      mount(status, `${light.name}: command ${action} sent, waiting for the lamp to confirm.`);
      const last = await follow(lightId, answer.command_id, (d) => update({ ...byId.get(lightId), ...fromDetail(d.light) }), { alive: () => alive });
      if (!alive) return;
      const cmd = last && last.light.last_command;
      if (cmd && cmd.command_id === answer.command_id && cmd.state !== "pending") {
        mount(status, `${light.name}: command ${action} ${cmd.state}.`);
      } else {
        mount(status, `${light.name}: command ${action} is still pending (the lamp has not reported yet).`);
      }
      get("/lights/summary", { city: city || undefined }).then(showSummary, () => {});
    } catch (err) {
      mount(status, errorBox(err));
    } finally {
      busy.delete(lightId);
      if (alive && byId.has(lightId)) update(byId.get(lightId));
    }
  }

  // The view first: Leaflet draws a marker's element once the map has one.
  const points = lights.filter((l) => l.location && l.location.latitude != null && l.location.longitude != null).map((l) => [l.location.latitude, l.location.longitude]);
  if (points.length) map.fitBounds(points, { padding: [30, 30], maxZoom: 17 });
  else map.setView([20, 0], 2);
  // Added (so tabbed to) in reading order: north to south, then west to east.
  const reading = [...lights].sort((a, b) => (b.location?.latitude ?? -91) - (a.location?.latitude ?? -91) || (a.location?.longitude ?? 0) - (b.location?.longitude ?? 0));
  for (const light of reading) drawMarker(light);
  drawTable();
  // Escape anywhere in the map closes the open popup (the focus goes back to its marker).
  let popupOpen = false;
  map.on("popupopen", () => (popupOpen = true));
  map.on("popupclose", () => (popupOpen = false));
  mapBox.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && popupOpen) {
      e.preventDefault();
      map.closePopup();
    }
  });
  // Focusing a marker outside the view must not scroll the map's box (Leaflet pans instead).
  mapBox.addEventListener("scroll", () => {
    mapBox.scrollTop = 0;
    mapBox.scrollLeft = 0;
  });

  // Lamps change on their own (schedules, faults, other operators): read the map again now and then.
  const timer = setInterval(async () => {
    if (!alive || document.hidden) return;
    try {
      const [fresh, s] = await Promise.all([allLights(city || undefined), get("/lights/summary", { city: city || undefined }).catch((err) => err)]);
      if (!alive) return;
      // redraw only what changed (a redrawn table would lose the keyboard focus)
      const changed = fresh.filter((l) => !busy.has(l.light_id) && JSON.stringify(byId.get(l.light_id)) !== JSON.stringify(l));
      for (const light of changed) {
        byId.set(light.light_id, light);
        drawMarker(light);
      }
      if (changed.length) drawTable();
      showSummary(s);
    } catch {
      /* the next turn tries again */
    }
  }, REFRESH_MS);
  onLeave(() => clearInterval(timer));
}

/** GET /lights/{id}'s light -> the fields of a map item. */
function fromDetail(light) {
  return {
    light_id: light.light_id,
    name: light.name,
    city: light.city,
    location: { latitude: light.latitude, longitude: light.longitude },
    status: light.status,
    online: light.online,
    last_seen: light.last_seen,
    last_status_change: light.last_status_change,
    last_command: light.last_command,
  };
}
