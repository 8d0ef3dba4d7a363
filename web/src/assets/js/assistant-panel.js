// The assistant from every page: an "Ask" button at the bottom right opens a
// compact chat panel (pages/assistant.js, loaded on first use). Hidden when
// signed out and on the assistant's own page.
import { h } from "./dom.js";
import * as session from "./session.js";

const toggle = h("button", { type: "button", class: "ask-toggle", "aria-expanded": "false", "aria-controls": "ask-panel", hidden: true }, "Ask the assistant");
const panel = h("aside", { id: "ask-panel", class: "ask-panel", "aria-label": "Assistant", hidden: true });
let chat = null;

async function open(show) {
  toggle.setAttribute("aria-expanded", String(show));
  panel.hidden = !show;
  toggle.textContent = show ? "Close the assistant" : "Ask the assistant";
  if (show && !chat) {
    const { chat: make } = await import("./pages/assistant.js");
    chat = make({ compact: true });
    panel.append(h("h2", {}, "Assistant"), chat.element);
  }
  if (show) chat.input.focus();
}

function sync() {
  const here = (window.location.hash || "#/").split("?")[0];
  const show = Boolean(session.current()) && here !== "#/assistant" && here !== "#/signin";
  toggle.hidden = !show;
  if (!show) {
    open(false);
    if (!session.current() && chat) {
      chat = null; // signed out: nothing of the conversation stays on screen
      panel.replaceChildren();
    }
  }
}

toggle.addEventListener("click", () => open(panel.hidden));
panel.addEventListener("keydown", (e) => {
  if (e.key === "Escape") {
    open(false);
    toggle.focus();
  }
});
document.body.append(panel, toggle);
window.addEventListener("hashchange", sync);
document.addEventListener("gridpulse:rendered", sync);
sync();
