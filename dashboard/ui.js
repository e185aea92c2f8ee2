// DOM and formatting helpers shared by the pages.
import { environment } from "./api.js";

/** h("a", {href, class: "x", onclick}, "text", child) → element */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

export function showError(error) {
  const box = document.getElementById("error");
  box.textContent = error
    ? `${error.message ?? error}${
      error.status ? ` (HTTP ${error.status}${error.code ? `, ${error.code}` : ""})` : ""
    }`
    : "";
  box.hidden = !error;
}

/** Runs `work` with the button disabled; errors go to the page's error box. */
export async function busy(button, work) {
  showError(null);
  button.disabled = true;
  try {
    return await work();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

/** A button that runs `work` when clicked, as `busy` does. */
export function actionButton(attributes, label, work) {
  const button = h("button", { type: "button", ...attributes }, label);
  button.addEventListener("click", () => busy(button, work));
  return button;
}

/**
 * A form of labelled fields (`[label, input]` pairs) ending with its submit button; `work`, when
 * given, runs on submit as `busy` does, with the key of this submission attempt: the same while
 * the unchanged form is submitted again (a double submit, a retry after a lost answer), so that
 * an Idempotency-Key made of it creates one object; new after an edit or a success.
 */
export function labelledForm(attributes, fields, submit, work) {
  const form = h(
    "form",
    attributes,
    fields.map(([label, input]) => h("label", {}, label, input)),
    submit,
  );
  if (work) {
    let attempt = null;
    form.addEventListener("input", () => (attempt = null));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      attempt ??= newKey();
      busy(submit, async () => {
        await work(attempt);
        attempt = null;
      });
    });
  }
  return form;
}

/**
 * The filters above a list: labelled fields and Apply. Calls `load` now and on every Apply,
 * showing failures; resolves with the form once the first load is done.
 */
export async function filterForm(fields, load) {
  const form = labelledForm(
    { class: "filters" },
    fields,
    h("button", { type: "submit", class: "secondary" }, "Apply"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    showError(null);
    load().catch(showError);
  });
  await load();
  return form;
}

export function money(amount, currency) {
  if (amount === null || amount === undefined) return "–";
  if (!currency) return String(amount);
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency: currency.toUpperCase() })
      .format(amount / 100);
  } catch {
    return `${currency.toUpperCase()} ${(amount / 100).toFixed(2)}`;
  }
}

export function time(value) {
  if (!value) return "–";
  const date = new Date(value);
  // Dates in UTC, as Stripe and the database keep them.
  return date.toISOString().slice(0, 19).replace("T", " ");
}

const TONES = {
  processed: "ok",
  succeeded: "ok",
  active: "ok",
  trialing: "ok",
  configured: "ok",
  connected: "ok",
  failed: "bad",
  past_due: "bad",
  unpaid: "bad",
  error: "bad",
  interrupted: "bad",
  pending: "warn",
  running: "warn",
  incomplete: "warn",
  partially_refunded: "warn",
  refunded: "warn",
};

export function status(value) {
  return h(
    "span",
    { class: "status", dataset: { tone: TONES[value] ?? "idle", status: value } },
    value ?? "–",
  );
}

/** A link to the object in Stripe's dashboard (test objects live under /test/). */
export function stripeLink(id, kind) {
  if (!id) return "–";
  const prefix = environment() === "test" ? "test/" : "";
  return h("a", {
    href: `https://dashboard.stripe.com/${prefix}${kind}/${encodeURIComponent(id)}`,
    target: "_blank",
    rel: "noopener noreferrer",
    title: "Open in Stripe's dashboard",
  }, id);
}

/**
 * A table with a header and rows; `columns` are [title, (row) => cell, {number}?]. `onSelect`
 * makes rows clickable.
 */
export function table(columns, rows, { onSelect, rowAttributes } = {}) {
  const body = h("tbody");
  const add = (items) => {
    for (const row of items) {
      const tr = h(
        "tr",
        {
          class: onSelect ? "selectable" : undefined,
          ...(rowAttributes?.(row) ?? {}),
          onclick: onSelect ? () => onSelect(row, tr) : undefined,
        },
        columns.map(([, cell, options]) =>
          h("td", { class: options?.number ? "number" : undefined }, cell(row))
        ),
      );
      body.append(tr);
    }
  };
  add(rows);
  const element = h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        columns.map(([title, , options]) =>
          h("th", { class: options?.number ? "number" : undefined }, title)
        ),
      ),
    ),
    body,
  );
  return { element, add, body };
}

/**
 * A list page by page: the first page at once, then a "Load more" button while there is a
 * nextCursor. `load(cursor)` returns the API's page.
 */
export async function pagedTable(columns, load, options = {}) {
  const first = await load(null);
  const { element, add } = table(columns, first.data, options);
  let cursor = first.nextCursor;
  const more = actionButton(
    { class: "secondary", hidden: !cursor },
    "Load more",
    async () => {
      const next = await load(cursor);
      add(next.data);
      cursor = next.nextCursor;
      more.hidden = !cursor;
    },
  );
  const empty = first.data.length === 0
    ? h("p", { class: "muted" }, options.empty ?? "Nothing yet.")
    : null;
  return { element: h("div", {}, element, empty, more), first };
}

// crypto.randomUUID exists only on https and localhost; getRandomValues everywhere, so a dashboard
// served over plain http on a private network can still create.
function newKey() {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}
