// The assistant as a chat: questions go to POST /chatbot/query with the
// conversation carried over (so "and yesterday?" follows on), answers come back
// as text, their figures as a small table, their suggestions as buttons.
import { h, mount, table, errorBox } from "../dom.js";
import { post } from "../api.js";

const MAX = 500;
const STORE = "gridpulse.assistant"; // the conversation id, for this tab only

function label(key) {
  const s = key.replace(/_/g, " ");
  return (s.charAt(0).toUpperCase() + s.slice(1)).replace(/\bkwh\b/gi, "kWh").replace(/\bw\b/g, "W");
}

// Keys that only qualify the others (kWh, the time zone): said by the units and the period instead.
const QUALIFIERS = new Set(["unit", "tz"]);

/** A value with its unit when the key names one (total_kwh, total_power_w). */
function withUnit(key, value) {
  if (value === null || value === undefined || typeof value === "object") return text(value);
  if (/(^|_)kwh$/.test(key)) return `${value} kWh`;
  if (/(^|_)w$/.test(key)) return `${value} W`;
  return text(value);
}

function text(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** The answer's `data` as tables: its plain values in one, each list of objects in its own. */
export function figures(data, rowsShown = 10) {
  if (!data || typeof data !== "object") return null;
  const plain = [];
  const lists = [];
  for (const [key, value] of Object.entries(data)) {
    if (Array.isArray(value) && value.length && value.every((v) => v && typeof v === "object" && !Array.isArray(v))) lists.push([key, value]);
    else if (Array.isArray(value)) plain.push([label(key), value.map(text).join(", ") || "–"]);
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) plain.push([`${label(key)}: ${label(k)}`, text(v)]);
    else if (!QUALIFIERS.has(key)) plain.push([label(key), withUnit(key, value)]);
  }
  const out = [];
  if (plain.length) out.push(table("Figures", ["Figure", "Value"], plain, { class: "figures-table" }));
  for (const [key, items] of lists.slice(0, 3)) {
    const columns = [...new Set(items.flatMap((i) => Object.keys(i)))].filter((c) => c !== "device_id").slice(0, 6);
    const shown = items.slice(0, rowsShown);
    const caption = items.length > shown.length ? `${label(key)} (the first ${shown.length} of ${items.length})` : label(key);
    out.push(table(caption, columns.map(label), shown.map((i) => columns.map((c) => withUnit(c, i[c]))), { class: "figures-table" }));
  }
  return out.length ? out : null;
}

export function chat({ compact = false } = {}) {
  let conversation = sessionStorage.getItem(STORE) || null;
  const log = h("div", { class: "chat-log", role: "log", "aria-live": "polite", "aria-label": compact ? "Recent answers" : "Conversation" });
  const input = h("textarea", { id: compact ? "ask-compact" : "question", name: "question", rows: compact ? 2 : 3, maxlength: MAX * 2, "aria-describedby": compact ? null : "question-help" });
  const counter = h("span", { class: "muted", id: compact ? null : "question-help" }, `Up to ${MAX} characters.`);
  const send = h("button", { type: "submit" }, "Ask");
  const restart = h("button", { type: "button", class: "secondary" }, "New conversation");
  const form = h(
    "form",
    { class: "chat-form", novalidate: true },
    h("label", { for: input.id }, compact ? "Question" : "Your question"),
    input,
    h("div", { class: "toolbar" }, send, " ", restart, " ", counter),
  );

  function say(who, ...content) {
    const entry = h("div", { class: `msg msg-${who}` }, h("span", { class: "who" }, who === "you" ? "You" : "Assistant"), content);
    log.append(entry);
    entry.scrollIntoView({ block: "nearest" });
    return entry;
  }

  async function ask(question) {
    question = question.trim();
    if (!question) {
      say("assistant", errorBox({ message: "Type a question first.", field: "question" }));
      input.focus();
      return;
    }
    if (question.length > MAX) {
      say("assistant", errorBox({ message: `That question is ${question.length} characters long; ask in at most ${MAX}.`, field: "question" }));
      input.focus();
      return;
    }
    say("you", h("p", {}, question));
    input.value = "";
    counter.textContent = `Up to ${MAX} characters.`;
    send.disabled = true;
    const waiting = say("assistant", h("p", { class: "muted" }, "Thinking…"));
    try {
      const body = { question, tz: Intl.DateTimeFormat().resolvedOptions().timeZone };
      if (conversation) body.conversation_id = conversation;
      let answer;
      try {
        answer = await post("/chatbot/query", body);
      } catch (err) {
        // an expired or foreign conversation: ask again without it
        if (!conversation || err.status !== 400 || !/conversation/.test(err.field || "")) throw err;
        conversation = null;
        delete body.conversation_id;
        answer = await post("/chatbot/query", body);
      }
      conversation = answer.conversation_id;
      sessionStorage.setItem(STORE, conversation);
      waiting.remove();
      say(
        "assistant",
        h("p", { class: "answer" }, answer.answer),
        answer.period ? h("p", { class: "muted" }, `Period: ${answer.period.label}`) : null,
        figures(answer.data, compact ? 5 : 10),
        answer.suggestions && answer.suggestions.length
          ? h("div", { class: "suggestions", role: "group", "aria-label": "Suggested questions" }, answer.suggestions.map((s) => h("button", { type: "button", class: "secondary", onclick: () => ask(s) }, s)))
          : null,
      );
    } catch (err) {
      waiting.remove();
      say("assistant", errorBox(err));
    } finally {
      send.disabled = false;
      input.focus();
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    ask(input.value);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      ask(input.value);
    }
  });
  input.addEventListener("input", () => {
    const n = input.value.length;
    counter.textContent = n > MAX ? `${n} characters: at most ${MAX}.` : `${n} / ${MAX} characters.`;
    counter.classList.toggle("error", n > MAX);
  });
  restart.addEventListener("click", () => {
    conversation = null;
    sessionStorage.removeItem(STORE);
    mount(log);
    input.focus();
  });
  return { element: h("div", { class: compact ? "chat compact" : "chat" }, log, form), ask, input };
}

export async function render(main) {
  const c = chat();
  mount(
    main,
    h("h1", {}, "Assistant"),
    h("p", { class: "muted" }, "Ask about your own energy, e.g. “How much energy did I use today?” or “Which device used the most this week?”."),
    c.element,
  );
  c.input.focus();
}
