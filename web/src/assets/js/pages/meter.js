// A prepaid (Tuya) meter: its balance (with when and where it was read), its
// usage, a top-up form and the billing ledger; for admins the unit price,
// prepayment mode, resetting the balance (after a confirmation dialog) and the
// users the meter is assigned to (assign, remove). Every top-up attempt carries its own Idempotency-Key, kept
// only when the same attempt is sent again after the network failed (so the
// money moves at most once), and new after any answer or a changed amount.
import { h, mount, table, card, errorBox, when, kwh } from "../dom.js";
import { api, get, post, del } from "../api.js";
import { onLeave } from "../router.js";
import * as session from "../session.js";

// Answers after which the request may or may not have run: retry with the same key.
const UNKNOWN_OUTCOME = new Set([0, 500, 503, 504]);

function money(value, balance) {
  if (value === null || value === undefined) return "–";
  const sym = (balance && (balance.currency_symbol || balance.currency)) || "";
  return sym ? `${value} ${sym}` : String(value);
}

/**
 * Whether the person may top up: admins and operators (in scope: they see it),
 * and a viewer who sees the meter only because it is assigned to them (not as
 * its owner, nor through a hotel or city), as the API decides.
 */
function mayTopUp(device) {
  if (session.canOperate()) return true;
  const me = session.user() || {};
  const inScope =
    device.owner_id === me.user_id ||
    (device.hotel_id && (me.hotel_ids || []).includes(device.hotel_id)) ||
    (device.city && (me.cities || []).some((c) => c.toLowerCase() === device.city.toLowerCase()));
  return !inScope;
}

/** An API error with what each bad field was told ("Input should be greater than 0 (amount)"). */
function problem(err) {
  const fields = (err && err.fields) || [];
  return errorBox(fields.length ? { message: fields.map((f) => f.message).join("; "), field: err.field } : err);
}

export async function render(main, params, _query, page) {
  const id = params.id;
  const base = `/devices/${encodeURIComponent(id)}`;
  let alive = true;
  const timers = [];
  onLeave(() => {
    alive = false;
    timers.forEach(clearTimeout);
  });

  const [device, balance, usage] = await Promise.all([
    get(base),
    get(`${base}/balance`).catch((err) => err),
    get(`${base}/usage`).catch((err) => err),
  ]);
  if (!page.isCurrent()) return;
  if (device.device_type !== "prepaid_meter") {
    mount(main, h("h1", {}, device.device_name), h("p", {}, "This device is not a prepaid meter. "), h("a", { href: `#/devices/${encodeURIComponent(id)}` }, "Open its device page"));
    return;
  }

  let lastBalance = balance instanceof Error ? null : balance;
  const balanceBox = h("div", { id: "balance" });
  function showBalance(b) {
    if (b instanceof Error) {
      // no balance read: what the device record last stored, if anything
      const s = device.summary;
      mount(
        balanceBox,
        problem(b),
        s
          ? h("p", {}, `Last stored: balance ${money(s.balance, s)}${s.energy_balance != null ? `, ${kwh(s.energy_balance)}` : ""}, credit ${s.credit_status}, read at ${when(s.as_of)}.`)
          : null,
      );
      return;
    }
    lastBalance = b;
    const figure = (label, value, extra = {}) => h("div", { class: "figure", ...extra }, h("span", { class: "label" }, label), h("span", { class: "value" }, value));
    mount(
      balanceBox,
      h(
        "div",
        { class: "figures compact" },
        figure("Money balance", money(b.money_balance, b), { id: "money-balance" }),
        figure("Energy balance", b.energy_balance != null ? kwh(b.energy_balance) : "–"),
        figure("Credit", b.credit_status),
        figure("Unit price", b.unit_price != null ? `${money(b.unit_price, b)} / kWh` : "–"),
        figure("Prepayment", b.prepayment_enabled === null || b.prepayment_enabled === undefined ? "–" : b.prepayment_enabled ? "on" : "off"),
      ),
      h(
        "p",
        { class: b.source === "live" ? "muted" : "warn" },
        b.source === "live"
          ? `Read from the meter (Tuya) at ${when(b.as_of)}.`
          : `Tuya cannot be reached: the last known balance, read at ${when(b.as_of)}.`,
      ),
    );
  }
  async function refreshBalance() {
    showBalance(await get(`${base}/balance`).catch((err) => err));
  }

  const usageBox =
    usage instanceof Error
      ? errorBox(usage)
      : [
          table(
            "Energy",
            ["Used in total", "Purchased in total", "This month", "Today"],
            [[kwh(usage.total_energy_used), kwh(usage.total_energy_purchased), kwh(usage.monthly_energy), kwh(usage.daily_energy)]],
          ),
          h("p", { class: "muted" }, `${usage.source === "live" ? "Read" : "Last read"} at ${when(usage.as_of)}.`),
        ];

  // ------------------------------------------------------------ the ledger
  const ledgerBox = h("div");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More");
  let rows = [];
  let token = null;
  let entries = [];
  function ledgerRow(e) {
    const moneyMove = e.money_before != null || e.money_after != null ? `${e.money_before ?? "–"} → ${e.money_after ?? "–"}` : "";
    return [
      when(e.created_at),
      e.operation.replace(/_/g, " "),
      e.amount != null ? money(e.amount, lastBalance) : e.operation === "reset_balance" ? "" : e.value != null && typeof e.value !== "boolean" ? String(e.value) : e.value === true ? "on" : e.value === false ? "off" : "",
      e.energy_kwh != null ? kwh(e.energy_kwh) : "",
      moneyMove,
      h("span", { class: `state-${e.status}` }, e.status),
      e.error || "",
      when(e.applied_at),
    ];
  }
  function showLedger() {
    mount(
      ledgerBox,
      rows.length
        ? table("Billing operations, newest first", ["When", "Operation", "Amount", "Energy", "Balance before → after", "Status", "Error", "Applied"], rows, { class: "list", id: "ledger" })
        : h("p", { class: "muted" }, "No billing operations yet."),
    );
  }
  async function loadLedger(reset) {
    const data = await get(`${base}/ledger`, { limit: 20, next_token: reset ? undefined : token });
    if (reset) {
      rows = [];
      entries = [];
    }
    entries.push(...data.items);
    rows.push(...data.items.map(ledgerRow));
    token = data.next_token;
    more.hidden = !token;
    showLedger();
  }
  more.addEventListener("click", () => loadLedger(false).catch((err) => mount(ledgerBox, errorBox(err))));

  // While an operation is pending (Tuya down), read the ledger and balance again now and then.
  function watchPending(ledgerId, statusBox = topupStatus, what = "top-up", tries = 40) {
    if (!alive || tries <= 0) return;
    timers.push(
      setTimeout(async () => {
        if (!alive) return;
        try {
          await loadLedger(true);
          const entry = entries.find((e) => e.ledger_id === ledgerId);
          if (entry && entry.status !== "pending") {
            mount(statusBox, h("p", { class: entry.status === "applied" ? "ok" : "error" }, `The pending ${what} is now ${entry.status}.`));
            await refreshBalance();
            return;
          }
        } catch {
          /* tried again below */
        }
        watchPending(ledgerId, statusBox, what, tries - 1);
      }, 3000),
    );
  }

  // ------------------------------------------------------------ top-up
  const topupStatus = h("div", { role: "status", "aria-live": "polite" });
  let attempt = null; // {key, amount} of the last attempt whose outcome is unknown
  let topup = null;
  if (mayTopUp(device)) {
    const amount = h("input", { id: "amount", name: "amount", type: "text", inputmode: "decimal", autocomplete: "off", required: true, "aria-describedby": "amount-help" });
    const submit = h("button", { type: "submit" }, "Top up");
    topup = h(
      "form",
      { class: "narrow actions", novalidate: true, "aria-label": "Top up" },
      h("label", { for: "amount" }, `Amount${lastBalance && lastBalance.currency ? ` (${lastBalance.currency})` : ""}`),
      amount,
      h("p", { id: "amount-help", class: "muted" }, "Money to add to the meter's balance, e.g. 10 or 12.50."),
      submit,
      topupStatus,
    );
    topup.addEventListener("submit", async (e) => {
      e.preventDefault();
      const value = amount.value.trim();
      if (!value) {
        mount(topupStatus, errorBox({ message: "Enter an amount.", field: "amount" }));
        amount.focus();
        return;
      }
      if (!attempt || attempt.amount !== value) attempt = { key: crypto.randomUUID(), amount: value };
      submit.disabled = true;
      mount(topupStatus, h("p", { class: "muted" }, "Sending the top-up…"));
      try {
        const { status, data } = await api(`${base}/add-balance`, { method: "POST", body: { amount: value }, headers: { "Idempotency-Key": attempt.key } });
        attempt = null; // answered: the next top-up is a new attempt
        if (status === 202 || data.status === "pending") {
          mount(topupStatus, h("p", { class: "warn" }, `Pending: Tuya is unreachable; it will be applied once it is back (${money(value, lastBalance)}).`));
          watchPending(data.ledger_id);
        } else {
          mount(
            topupStatus,
            h("p", { class: "ok" }, `Applied: ${money(value, lastBalance)} added.`, data.money_balance != null ? ` Balance now ${money(data.money_balance, lastBalance)}.` : ""),
          );
          amount.value = "";
        }
        await Promise.all([loadLedger(true), refreshBalance()]);
      } catch (err) {
        if (!UNKNOWN_OUTCOME.has(err.status)) attempt = null;
        const body = err.body || {};
        mount(
          topupStatus,
          problem(err),
          UNKNOWN_OUTCOME.has(err.status) ? h("p", { class: "muted" }, "Nothing is lost: press Top up again to retry the same top-up (it will not be applied twice).") : null,
          body.ledger_id ? h("p", { class: "muted" }, `Ledger entry ${body.ledger_id}: ${body.status}.`) : null,
        );
        if (body.ledger_id) loadLedger(true).catch(() => {});
      } finally {
        submit.disabled = false;
      }
    });
  }

  // ------------------------------------------------------------ admin: price and prepayment mode
  let adminBox = null;
  let assignedBox = null;
  if (session.isAdmin()) {
    const adminStatus = h("div", { role: "status", "aria-live": "polite" });
    const price = h("input", { id: "price", type: "text", inputmode: "decimal", required: true, value: lastBalance && lastBalance.unit_price != null ? lastBalance.unit_price : "" });
    const symbol = h("input", { id: "currency-symbol", type: "text", maxlength: 8, value: lastBalance && lastBalance.currency_symbol ? lastBalance.currency_symbol : "" });
    const priceForm = h(
      "form",
      { class: "narrow actions", novalidate: true, "aria-label": "Unit price" },
      h("label", { for: "price" }, "Unit price per kWh"),
      price,
      h("label", { for: "currency-symbol" }, "Currency symbol (optional)"),
      symbol,
      h("button", { type: "submit" }, "Set price"),
    );
    const run = async (path, body, done) => {
      mount(adminStatus, h("p", { class: "muted" }, "Sending…"));
      try {
        const { status, data } = await api(path, { method: "POST", body, headers: { "Idempotency-Key": crypto.randomUUID() } });
        mount(adminStatus, h("p", { class: status === 202 ? "warn" : "ok" }, status === 202 ? "Pending: Tuya is unreachable; it will be applied once it is back." : `${done} (${data.message}).`));
        await Promise.all([loadLedger(true), refreshBalance()]);
      } catch (err) {
        mount(adminStatus, problem(err));
      }
    };
    priceForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const body = { price: price.value.trim() };
      if (symbol.value.trim()) body.currency_symbol = symbol.value.trim();
      run(`${base}/set-price`, body, "Price set");
    });
    const mode = (enable) => h("button", { type: "button", class: "secondary", onclick: () => run(`${base}/prepayment-mode?enable=${enable}`, undefined, `Prepayment ${enable ? "on" : "off"}`) }, enable ? "Prepayment on" : "Prepayment off");
    adminBox = card(
      "Admin",
      priceForm,
      h("p", { class: "toolbar" }, "Prepayment mode: ", mode(true), " ", mode(false)),
      adminStatus,
      resetBalance(device, base, { money: () => lastBalance, refresh: () => Promise.all([loadLedger(true), refreshBalance()]), watchPending }),
    );
    assignedBox = assignedUsers(base);
  }

  showBalance(balance);
  mount(
    main,
    h("p", {}, h("a", { href: "#/devices?type=prepaid_meter" }, "← Prepaid meters")),
    h("h1", {}, device.device_name),
    h("p", { class: "muted" }, `Prepaid meter · ${device.online ? "online" : "offline"} · last seen ${when(device.last_seen)}${device.external_id ? ` · Tuya id ${device.external_id}` : ""}`),
    card("Balance", balanceBox),
    topup ? card("Top up", topup) : null,
    card("Usage", usageBox),
    card("Ledger", ledgerBox, more),
    adminBox,
    assignedBox,
  );
  await loadLedger(true).catch((err) => mount(ledgerBox, errorBox(err)));
}

// ------------------------------------------------------------ admin: reset the balance
/**
 * "Reset balance…" opens a modal <dialog> saying what will happen; only its
 * "Reset balance" button sends POST .../reset-balance. The answer (applied with
 * the balance the API returns, pending while Tuya is down, or the error) shows
 * under the button, then the balance and the ledger are read again. As for a
 * top-up, an attempt whose outcome is unknown keeps its Idempotency-Key.
 */
function resetBalance(device, base, { money: current, refresh, watchPending }) {
  const status = h("div", { id: "reset-status", role: "status", "aria-live": "polite" });
  let attempt = null;
  const what = h("p", {});
  const confirm = h("button", { type: "button", class: "danger" }, "Reset balance");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const dialog = h(
    "dialog",
    { class: "confirm", "aria-labelledby": "reset-title", "aria-describedby": "reset-what" },
    h("h2", { id: "reset-title" }, "Reset the balance?"),
    h("div", { id: "reset-what" }, what, h("p", {}, "The meter's balance is set to 0 on the meter (Tuya). This cannot be undone; the ledger keeps the operation.")),
    h("p", { class: "toolbar" }, confirm, " ", cancel),
  );
  const open = h("button", { type: "button", class: "secondary", "aria-haspopup": "dialog" }, "Reset balance…");
  open.addEventListener("click", () => {
    const b = current();
    mount(
      what,
      `${device.device_name}: `,
      b ? `money balance ${money(b.money_balance, b)}, energy balance ${b.energy_balance != null ? kwh(b.energy_balance) : "–"}.` : "balance not read.",
    );
    dialog.showModal();
    cancel.focus(); // the safe choice has the focus
  });
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => open.focus());
  confirm.addEventListener("click", async () => {
    dialog.close();
    attempt ||= crypto.randomUUID();
    open.disabled = true;
    mount(status, h("p", { class: "muted" }, "Resetting the balance…"));
    try {
      const { status: code, data } = await api(`${base}/reset-balance`, { method: "POST", headers: { "Idempotency-Key": attempt } });
      attempt = null;
      const b = current();
      if (code === 202 || data.status === "pending") {
        mount(status, h("p", { class: "warn" }, "Pending: Tuya is unreachable; the reset will be applied once it is back."));
        watchPending(data.ledger_id, status, "balance reset");
      } else {
        const now = [];
        if (data.money_balance != null) now.push(`money balance ${money(data.money_balance, b)}`);
        if (data.energy_balance != null) now.push(`energy balance ${kwh(data.energy_balance)}`);
        mount(status, h("p", { class: "ok" }, `Balance reset${now.length ? `: ${now.join(", ")}` : ""}.`));
      }
      await refresh();
    } catch (err) {
      if (!UNKNOWN_OUTCOME.has(err.status)) attempt = null;
      const body = err.body || {};
      mount(
        status,
        problem(err),
        UNKNOWN_OUTCOME.has(err.status) ? h("p", { class: "muted" }, "Press Reset balance again to retry the same reset (it will not be applied twice).") : null,
        body.ledger_id ? h("p", { class: "muted" }, `Ledger entry ${body.ledger_id}: ${body.status}.`) : null,
      );
      if (body.ledger_id) refresh().catch(() => {});
    } finally {
      open.disabled = false;
    }
  });
  return h("div", { class: "reset" }, h("p", { class: "toolbar" }, "Balance: ", open), status, dialog);
}

// ------------------------------------------------------------ admin: assigned users
/**
 * The users the meter is assigned to (GET .../users, paged), each with a Remove
 * button (DELETE .../assign/{user_id}), and a form to assign one more
 * (POST .../assign {user_id}). The person types an e-mail (suggested from the
 * first 1000 users of GET /users, read when the field is first used) or a user
 * id; an e-mail is turned into the user id from that list.
 */
function assignedUsers(base) {
  const listBox = h("div", { id: "assigned-users" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More");
  const status = h("div", { role: "status", "aria-live": "polite" });
  const who = h("input", { id: "assign-user", name: "user", type: "text", autocomplete: "off", list: "assign-user-options", "aria-describedby": "assign-user-help", required: true });
  const options = h("datalist", { id: "assign-user-options" });
  const submit = h("button", { type: "submit" }, "Assign");
  const form = h(
    "form",
    { class: "narrow actions", novalidate: true, "aria-label": "Assign a user" },
    h("label", { for: "assign-user" }, "User's e-mail or user id"),
    who,
    options,
    h("p", { id: "assign-user-help", class: "muted" }, "The user may then see this meter, top it up and read its ledger."),
    submit,
  );
  let users = []; // GET /users (first 1000): e-mail -> user id
  let token = null;
  let items = [];

  function show() {
    mount(
      listBox,
      items.length
        ? table(
            "Users assigned to this meter",
            ["Name", "E-mail", "Role", "Assigned", "Action"],
            items.map((u) => [
              u.name || "–",
              u.email || u.user_id,
              u.role || "–",
              when(u.assigned_at),
              h("button", { type: "button", class: "secondary", "aria-label": `Remove ${u.email || u.user_id}`, onclick: () => remove(u) }, "Remove"),
            ]),
            { class: "list" },
          )
        : h("p", { class: "muted" }, "No user is assigned to this meter."),
    );
  }
  async function load(reset) {
    const data = await get(`${base}/users`, { limit: 100, next_token: reset ? undefined : token });
    if (reset) items = [];
    items.push(...data.items);
    token = data.next_token;
    more.hidden = !token;
    show();
  }
  more.addEventListener("click", () => load(false).catch((err) => mount(status, errorBox(err))));

  async function remove(u) {
    const name = u.email || u.user_id;
    mount(status, h("p", { class: "muted" }, `Removing ${name}…`));
    try {
      await del(`${base}/assign/${encodeURIComponent(u.user_id)}`);
      mount(status, h("p", { class: "ok" }, `${name} is no longer assigned to this meter.`));
    } catch (err) {
      mount(status, problem(err));
    }
    await load(true).catch((err) => mount(status, errorBox(err)));
    who.focus(); // the row and its button are gone
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = who.value.trim();
    let userId = value;
    if (!value) {
      mount(status, errorBox({ message: "Enter the user's e-mail or user id.", field: "user_id" }));
      who.focus();
      return;
    }
    if (value.includes("@")) {
      await readUsers();
      const found = users.find((u) => (u.email || "").toLowerCase() === value.toLowerCase());
      if (!found) {
        mount(status, errorBox({ message: "No user with that e-mail among the users listed: enter the user id.", field: "user_id" }));
        who.focus();
        return;
      }
      userId = found.user_id;
    }
    submit.disabled = true;
    mount(status, h("p", { class: "muted" }, "Assigning…"));
    try {
      await post(`${base}/assign`, { user_id: userId });
      mount(status, h("p", { class: "ok" }, `${value} is assigned to this meter.`));
      who.value = "";
      await load(true);
    } catch (err) {
      mount(status, problem(err));
      who.focus();
    } finally {
      submit.disabled = false;
    }
  });

  // The users to suggest, read once when the field is first used (not on every visit).
  let usersRead = null;
  const readUsers = () =>
    (usersRead ||= get("/users", { limit: 1000 })
      .then((data) => {
        users = data.items;
        mount(options, users.filter((u) => u.email).map((u) => h("option", { value: u.email, label: `${u.name || u.email} (${u.role})` })));
      })
      .catch(() => {})); // typing a user id still works
  who.addEventListener("focus", readUsers);
  load(true).catch((err) => mount(listBox, errorBox(err)));
  const section = card("Assigned users", listBox, more, form, status);
  section.querySelector("h2").id = "assigned-users-title";
  section.setAttribute("aria-labelledby", "assigned-users-title"); // a named region
  return section;
}
