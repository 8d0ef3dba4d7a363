// Every device the caller can see, paged by the API's next_token.
import { h, mount, table, watts, when } from "../dom.js";
import { get } from "../api.js";

export function deviceHref(d) {
  return d.device_type === "prepaid_meter" ? `#/meters/${encodeURIComponent(d.device_id)}` : d.device_type === "light" ? `#/lights/${encodeURIComponent(d.device_id)}` : `#/devices/${encodeURIComponent(d.device_id)}`;
}

export async function render(main, _params, query) {
  const type = query.type || "";
  const filter = h(
    "select",
    { id: "type", "aria-label": "Device type" },
    ["", "meter", "light", "sensor", "prepaid_meter"].map((t) => h("option", { value: t, selected: t === type }, t || "all types")),
  );
  filter.addEventListener("change", () => (window.location.hash = `#/devices${filter.value ? `?type=${filter.value}` : ""}`));
  const list = h("div");
  const more = h("button", { type: "button", hidden: true }, "More");
  let token = null;
  const rows = [];
  async function page() {
    const data = await get("/devices", { device_type: type, limit: 100, next_token: token });
    for (const d of data.items) {
      rows.push([
        h("a", { href: deviceHref(d) }, d.device_name),
        d.device_type,
        d.online === undefined ? d.status : d.online ? "online" : "offline",
        d.power_w !== undefined ? watts(d.power_w) : "",
        when(d.last_seen),
      ]);
    }
    token = data.next_token;
    more.hidden = !token;
    mount(list, table(`${rows.length} devices`, ["Name", "Type", "State", "Power", "Last seen"], rows, { class: "list" }));
  }
  more.addEventListener("click", page);
  mount(main, h("h1", {}, "Devices"), h("p", {}, filter), list, more);
  await page();
}
