// Customers, Subscriptions and Transactions: newest first, page by page, linked to Stripe.
import { call, env } from "../api.js";
import { filterForm, h, money, pagedTable, showError, status, stripeLink, time } from "../ui.js";

function subject(type, id) {
  return type ? `${type} ${id}` : "–";
}

export async function renderCustomers(root) {
  const { element } = await pagedTable(
    [
      ["Customer", (c) => stripeLink(c.customerId, "customers")],
      ["Email", (c) => c.email ?? "–"],
      ["Name", (c) => c.name ?? "–"],
      ["Billing subject", (c) => c.subject ? subject(c.subject.type, c.subject.id) : "–"],
      ["State", (c) => status(c.deleted ? "deleted" : c.archived ? "archived" : "active")],
      ["Created", (c) => time(c.createdAt)],
    ],
    (cursor) => call("GET", env("/customers"), { query: { cursor } }),
    { empty: "No customers yet." },
  );
  root.replaceChildren(
    h("h1", {}, "Customers"),
    h("section", { class: "panel", id: "customers" }, element),
  );
}

export async function renderSubscriptions(root) {
  const filter = h(
    "select",
    { id: "subscription-status" },
    h("option", { value: "" }, "any status"),
    ...[
      "active",
      "trialing",
      "past_due",
      "unpaid",
      "paused",
      "canceled",
      "incomplete",
      "incomplete_expired",
    ]
      .map((value) => h("option", { value }, value)),
  );
  const list = h("div", {});
  const load = async () => {
    const { element } = await pagedTable(
      [
        ["Subscription", (s) => stripeLink(s.subscriptionId, "subscriptions")],
        [
          "Status",
          (
            s,
          ) => [
            status(s.status),
            s.cancelAtPeriodEnd ? h("span", { class: "muted" }, " cancels at period end") : null,
          ],
        ],
        ["Customer", (s) => stripeLink(s.customerId, "customers")],
        ["Billing subject", (s) => subject(s.subjectType, s.subjectId)],
        [
          "Prices",
          (s) =>
            s.items.map((item) =>
              `${item.priceId}${item.quantity > 1 ? ` × ${item.quantity}` : ""}`
            ).join(", ") || "–",
        ],
        ["Period ends", (s) => time(s.currentPeriodEnd)],
        ["Created", (s) => time(s.createdAt)],
      ],
      (cursor) => call("GET", env("/subscriptions"), { query: { cursor, status: filter.value } }),
      {
        empty: "No subscriptions.",
      },
    );
    list.replaceChildren(element);
  };
  filter.addEventListener("change", () => {
    showError(null);
    load().catch(showError);
  });
  await load();
  root.replaceChildren(
    h("h1", {}, "Subscriptions"),
    h(
      "section",
      { class: "panel", id: "subscriptions" },
      h("div", { class: "filters" }, h("label", {}, "Status", filter)),
      list,
    ),
  );
}

const TRANSACTION_LINKS = [
  ["paymentIntentId", "payments"],
  ["invoiceId", "invoices"],
  ["refundId", "refunds"],
];

export async function renderTransactions(root) {
  const select = (id, values) =>
    h(
      "select",
      { id },
      h("option", { value: "" }, "any"),
      ...values.map((value) => h("option", { value }, value)),
    );
  const type = select("transaction-type", [
    "one_time_payment",
    "subscription_invoice",
    "refund",
    "failed_payment",
  ]);
  const state = select("transaction-status", [
    "succeeded",
    "pending",
    "failed",
    "refunded",
    "partially_refunded",
  ]);
  const customer = h("input", { id: "transaction-customer", placeholder: "cus_…", size: 18 });
  const since = h("input", { id: "transaction-since", type: "date" });
  const totals = h("div", { class: "totals", id: "transaction-totals" });
  const list = h("div", {});
  const load = async () => {
    const query = {
      type: type.value,
      status: state.value,
      customerId: customer.value.trim(),
      since: since.value ? `${since.value}T00:00:00Z` : "",
    };
    const { element, first } = await pagedTable(
      [
        ["Created", (t) => time(t.createdAt)],
        ["Type", (t) => t.type.replaceAll("_", " ")],
        ["Status", (t) => status(t.status)],
        ["Amount", (t) => money(t.amount, t.currency), { number: true }],
        ["Refunded", (t) => t.amountRefunded ? money(t.amountRefunded, t.currency) : "–", {
          number: true,
        }],
        ["Stripe object", (t) => {
          const [field, kind] = TRANSACTION_LINKS.find(([field]) => t[field]) ?? [];
          return field ? stripeLink(t[field], kind) : t.objectId;
        }],
        ["Customer", (t) => t.customerId ? stripeLink(t.customerId, "customers") : "–"],
        ["Billing subject", (t) => subject(t.subjectType, t.subjectId)],
      ],
      (cursor) => call("GET", env("/transactions"), { query: { ...query, cursor } }),
      {
        empty: "No transactions match.",
      },
    );
    totals.replaceChildren(
      ...(first.totals ?? []).map((total) =>
        h(
          "div",
          { class: "figure", dataset: { currency: total.currency ?? "" } },
          h(
            "span",
            { class: "muted" },
            `${total.count} in ${(total.currency ?? "–").toUpperCase()}`,
          ),
          h("strong", {}, money(total.amount - total.amountRefunded, total.currency)),
          total.amountRefunded
            ? h(
              "span",
              { class: "muted" },
              `${money(total.amount, total.currency)} less ${
                money(total.amountRefunded, total.currency)
              } refunded`,
            )
            : null,
        )
      ),
    );
    list.replaceChildren(element);
  };
  const filters = await filterForm([
    ["Type", type],
    ["Status", state],
    ["Customer", customer],
    ["Since", since],
  ], load);
  root.replaceChildren(
    h("h1", {}, "Transactions"),
    h("section", { class: "panel", id: "transactions" }, filters, totals, list),
  );
}
