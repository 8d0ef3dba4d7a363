// Entry point: the routes, the navigation for the signed-in person's role, sign-out.
import { h, mount } from "./dom.js";
import { route, render, go } from "./router.js";
import * as session from "./session.js";
import { api } from "./api.js";

const page = (name) => () => import(`./pages/${name}.js`);

route("/signin", page("signin"), { title: "Sign in", public: true });
route("/forgot", page("forgot"), { title: "Forgot password", public: true });
route("/reset", page("forgot"), { title: "Choose a new password", public: true });
route("/", page("overview"), { title: "Overview" });
route("/devices", page("devices"), { title: "Devices" });
route("/devices/:id", page("device"), { title: "Device" });
route("/hotels", page("hotels"), { title: "Hotels" });
route("/hotels/:id", page("hotel"), { title: "Hotel" });
route("/rooms/:id", page("room"), { title: "Room" });
route("/alerts", page("alerts"), { title: "Alerts" });
route("/lights", page("lights"), { title: "Street lights" });
route("/lights/:id", page("light"), { title: "Street light" });
route("/meters/:id", page("meter"), { title: "Prepaid meter" });
route("/assistant", page("assistant"), { title: "Assistant" });
route("/admin/users", page("users"), { title: "Users", roles: ["admin"] });

const links = [
  ["#/", "Overview"],
  ["#/hotels", "Hotels"],
  ["#/devices", "Devices"],
  ["#/alerts", "Alerts"],
  ["#/lights", "Street lights"],
  ["#/assistant", "Assistant"],
  ["#/admin/users", "Users", "admin"],
];

function navigation() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  const user = session.user();
  if (!user) {
    mount(nav);
    mount(who);
    return;
  }
  const here = window.location.hash || "#/";
  mount(
    nav,
    h(
      "ul",
      {},
      links
        .filter(([, , role]) => !role || role === user.role)
        .map(([href, label]) =>
          h("li", {}, h("a", { href, "aria-current": (here === href || (href !== "#/" && here.startsWith(href))) && "page" }, label)),
        ),
    ),
  );
  mount(
    who,
    h("span", { class: "muted" }, `${user.name || user.email} · ${user.role}`),
    h("button", { type: "button", id: "signout", onclick: signOut }, "Sign out"),
  );
}

async function signOut() {
  try {
    await api("/auth/logout", { method: "POST" });
  } catch {
    /* the session ends here whatever the API says */
  }
  session.clear();
  go("/signin");
}

const menuToggle = document.querySelector(".menu-toggle");

function openMenu(open) {
  menuToggle.setAttribute("aria-expanded", String(open));
  document.getElementById("nav").classList.toggle("open", open);
}

menuToggle.addEventListener("click", () => openMenu(menuToggle.getAttribute("aria-expanded") !== "true"));

// The skip link moves focus to main; following its href would change the route to "#main".
document.querySelector(".skip").addEventListener("click", (e) => {
  e.preventDefault();
  document.getElementById("main").focus();
});

window.addEventListener("hashchange", () => {
  openMenu(false); // at phone width the menu closes behind the chosen page
  navigation();
  render();
});
navigation();
render();

// The assistant panel reachable from every page (webops helper).
import "./assistant-panel.js";
