// "Forgot password" asks for a reset link; the link in the e-mail opens
// #/reset?token=..., where a new password is chosen.
import { h, mount, errorBox } from "../dom.js";
import { post } from "../api.js";

export async function render(main, _params, query) {
  const status = h("div", { "aria-live": "polite" });
  if (query.token) {
    const form = h(
      "form",
      { class: "narrow" },
      h("label", { for: "password" }, "New password (8 to 128 characters)"),
      h("input", { id: "password", type: "password", autocomplete: "new-password", minlength: 8, maxlength: 128, required: true }),
      h("button", { type: "submit" }, "Set password"),
      status,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await post("/auth/reset-password", { token: query.token, password: form.password.value });
        mount(status, h("p", { class: "ok" }, "Your password is set. "), h("a", { href: "#/signin" }, "Sign in"));
      } catch (err) {
        mount(status, errorBox(err));
      }
    });
    mount(main, h("h1", {}, "Choose a new password"), form);
    return;
  }
  const form = h(
    "form",
    { class: "narrow" },
    h("label", { for: "email" }, "Email"),
    h("input", { id: "email", type: "email", autocomplete: "username", required: true }),
    h("button", { type: "submit" }, "Send reset link"),
    status,
    h("p", {}, h("a", { href: "#/signin" }, "Back to sign in")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await post("/auth/forgot-password", { email: form.email.value.trim() });
      mount(status, h("p", { class: "ok" }, "If that address has an account, a reset link is on its way."));
    } catch (err) {
      mount(status, errorBox(err));
    }
  });
  mount(main, h("h1", {}, "Forgot password"), form);
}
