import { h, mount, errorBox } from "../dom.js";
import { api } from "../api.js";
import * as session from "../session.js";
import { go } from "../router.js";

export async function render(main, _params, query) {
  const status = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "narrow", novalidate: true },
    h("label", { for: "email" }, "Email"),
    h("input", { id: "email", name: "email", type: "email", autocomplete: "username", required: true }),
    h("label", { for: "password" }, "Password"),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit" }, "Sign in"),
    status,
    h("p", {}, h("a", { href: "#/forgot" }, "Forgot your password?")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    mount(status);
    try {
      const { data } = await api("/auth/login", {
        method: "POST",
        body: { email: form.email.value.trim(), password: form.password.value },
      });
      session.save(data);
      go(query.next && query.next.startsWith("/") && !query.next.startsWith("/signin") ? query.next : "/");
    } catch (err) {
      mount(status, errorBox(err.status === 401 ? { message: "Wrong email or password." } : err));
      form.password.select();
    }
  });
  mount(main, h("h1", {}, "Sign in"), form);
  form.email.focus();
}
