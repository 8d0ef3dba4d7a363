// Admin: users and roles. List (paged), create with role and scope, change a
// user's role and scope, deactivate / activate.
import { h, mount, table, when, errorBox } from "../dom.js";
import { get, post, put, patch } from "../api.js";

const ROLES = ["viewer", "operator", "admin"];
const list = (text) => text.split(",").map((x) => x.trim()).filter(Boolean);

function roleSelect(id, current) {
  return h("select", { id, name: "role" }, ROLES.map((r) => h("option", { value: r, selected: r === current }, r)));
}

export async function render(main, _params, _query, view) {
  const status = h("div", { "aria-live": "polite" });
  const rowsBox = h("div");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More users");
  const users = [];
  let token = null;

  const create = h(
    "form",
    { class: "grid-form", id: "create-user" },
    h("div", { class: "field" }, h("label", { for: "new-name" }, "Name"), h("input", { id: "new-name", name: "name", required: true, maxlength: 100 })),
    h("div", { class: "field" }, h("label", { for: "new-email" }, "Email"), h("input", { id: "new-email", name: "email", type: "email", required: true })),
    h("div", { class: "field" }, h("label", { for: "new-password" }, "Password"), h("input", { id: "new-password", name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 8 })),
    h("div", { class: "field" }, h("label", { for: "new-role" }, "Role"), roleSelect("new-role", "viewer")),
    h("div", { class: "field" }, h("label", { for: "new-hotels" }, "Hotel ids (comma-separated)"), h("input", { id: "new-hotels", name: "hotel_ids" })),
    h("div", { class: "field" }, h("label", { for: "new-cities" }, "Cities (comma-separated)"), h("input", { id: "new-cities", name: "cities" })),
    h("div", { class: "field" }, h("button", { type: "submit" }, "Create user")),
  );
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const u = await post("/users", {
        name: create.name.value.trim(),
        email: create.email.value.trim(),
        password: create.password.value,
        role: create.role.value,
        hotel_ids: list(create.hotel_ids.value),
        cities: list(create.cities.value),
      });
      users.unshift(u);
      create.reset();
      mount(status, h("p", { class: "ok" }, `Created ${u.email}.`));
      draw();
    } catch (err) {
      mount(status, errorBox(err));
    }
  });

  function row(u, i) {
    const role = roleSelect(`role-${i}`, u.role);
    const hotels = h("input", { id: `hotels-${i}`, value: (u.hotel_ids || []).join(", "), size: 16 });
    const cities = h("input", { id: `cities-${i}`, value: (u.cities || []).join(", "), size: 12 });
    const save = h("button", { type: "button", "aria-label": `Save role and scope of ${u.email}` }, "Save");
    save.addEventListener("click", async () => {
      try {
        Object.assign(u, await put(`/users/${encodeURIComponent(u.user_id)}`, { role: role.value, hotel_ids: list(hotels.value), cities: list(cities.value) }));
        mount(status, h("p", { class: "ok" }, `Saved ${u.email}.`));
        draw();
      } catch (err) {
        mount(status, errorBox(err));
      }
    });
    const toggle = h("button", { type: "button", class: "secondary", "aria-label": `${u.active ? "Deactivate" : "Activate"} ${u.email}` }, u.active ? "Deactivate" : "Activate");
    toggle.addEventListener("click", async () => {
      try {
        Object.assign(u, await patch(`/users/${encodeURIComponent(u.user_id)}/${u.active ? "deactivate" : "activate"}`));
        mount(status, h("p", { class: "ok" }, `${u.email} is now ${u.active ? "active" : "deactivated"}.`));
        draw();
      } catch (err) {
        mount(status, errorBox(err));
      }
    });
    return [
      h("span", {}, h("strong", {}, u.name), h("br"), u.email),
      h("span", {}, h("label", { class: "sr-only", for: `role-${i}` }, `Role of ${u.email}`), role),
      h("span", {}, h("label", { class: "sr-only", for: `hotels-${i}` }, `Hotel ids of ${u.email}`), hotels),
      h("span", {}, h("label", { class: "sr-only", for: `cities-${i}` }, `Cities of ${u.email}`), cities),
      u.active ? "active" : "deactivated",
      when(u.created_at),
      h("span", { class: "buttons" }, save, toggle),
    ];
  }

  function draw() {
    mount(rowsBox, table(`${users.length} users`, ["User", "Role", "Hotels", "Cities", "State", "Created", "Actions"], users.map(row), { class: "list", id: "users" }));
  }

  async function page() {
    const data = await get("/users", { limit: 100, next_token: token });
    if (!view.isCurrent()) return;
    users.push(...data.items);
    token = data.next_token;
    more.hidden = !token;
    draw();
  }
  more.addEventListener("click", () => page().catch((err) => mount(status, errorBox(err))));
  mount(main, h("h1", {}, "Users"), h("details", { class: "card" }, h("summary", {}, "Create a user"), create), status, rowsBox, more);
  await page();
}
