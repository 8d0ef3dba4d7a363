// Hotels in the caller's scope, paged by the API's next_token.
import { h, mount, table } from "../dom.js";
import { get } from "../api.js";

export async function render(main, _params, _query, view) {
  const list = h("div");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More hotels");
  const rows = [];
  let token = null;
  async function page() {
    const data = await get("/hotels", { limit: 100, next_token: token });
    if (!view.isCurrent()) return;
    for (const x of data.items) {
      rows.push([h("a", { href: `#/hotels/${encodeURIComponent(x.hotel_id)}` }, x.hotel_name), x.address || "–", x.timezone || "UTC"]);
    }
    token = data.next_token;
    more.hidden = !token;
    mount(
      list,
      rows.length
        ? table(`${rows.length} hotels`, ["Hotel", "Address", "Time zone"], rows, { class: "list", id: "hotels" })
        : h("p", { class: "muted" }, "No hotels in your scope."),
    );
  }
  more.addEventListener("click", page);
  mount(main, h("h1", {}, "Hotels"), list, more);
  await page();
}
