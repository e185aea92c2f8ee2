// Catalog: products with their prices; create a product or a price, archive or restore either.
// Every change goes through Stripe and is mirrored at once; a create form's resubmission carries
// the same Idempotency-Key (labelledForm), so it makes no second object.
import { call, env } from "../api.js";
import {
  actionButton,
  h,
  labelledForm,
  money,
  pagedTable,
  status,
  stripeLink,
  time,
} from "../ui.js";

// Stripe's zero-decimal currencies: their amounts are whole units, not hundredths.
const ZERO_DECIMAL = new Set(
  "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split(" "),
);

function smallestUnit(amount, currency) {
  return Math.round(Number(amount) * (ZERO_DECIMAL.has(currency.toLowerCase()) ? 1 : 100));
}

function priceText(price) {
  const amount = money(price.unitAmount, price.currency);
  if (!price.recurring) return `${amount} once`;
  const { interval, intervalCount } = price.recurring;
  return `${amount} / ${intervalCount > 1 ? `${intervalCount} ${interval}s` : interval}`;
}

function archiveButton(kind, id, active, reload) {
  return actionButton(
    {
      class: active ? "danger" : "secondary",
      dataset: { action: active ? "archive" : "restore", id },
    },
    active ? "Archive" : "Restore",
    async () => {
      await call("PATCH", env(`/${kind}/${encodeURIComponent(id)}`), { body: { active: !active } });
      await reload();
    },
  );
}

function priceForm(product, reload) {
  const currency = h("input", {
    name: "currency",
    value: "usd",
    size: 4,
    maxlength: 3,
    required: true,
  });
  const amount = h("input", {
    name: "amount",
    type: "number",
    min: 0,
    step: "0.01",
    size: 8,
    required: true,
  });
  const interval = h(
    "select",
    { name: "interval" },
    h("option", { value: "" }, "one-time"),
    ...["day", "week", "month", "year"].map((value) => h("option", { value }, `every ${value}`)),
  );
  const lookupKey = h("input", { name: "lookupKey", size: 14, placeholder: "optional" });
  const submit = h("button", { type: "submit", class: "secondary" }, "Add price");
  return labelledForm(
    { class: "inline price-form", dataset: { productId: product.productId } },
    [["Currency", currency], ["Amount", amount], ["Billing", interval], ["Lookup key", lookupKey]],
    submit,
    async (attempt) => {
      await call("POST", env("/prices"), {
        idempotencyKey: attempt,
        body: {
          productId: product.productId,
          currency: currency.value.trim().toLowerCase(),
          unitAmount: smallestUnit(amount.value, currency.value.trim()),
          ...(interval.value ? { recurring: { interval: interval.value, intervalCount: 1 } } : {}),
          ...(lookupKey.value.trim() ? { lookupKey: lookupKey.value.trim() } : {}),
        },
      });
      await reload();
    },
  );
}

function productDetail(product, reload) {
  return h(
    "section",
    { class: "panel", id: "product-detail", dataset: { productId: product.productId } },
    h(
      "h2",
      {},
      product.name,
      " ",
      status(product.active && !product.archived ? "active" : "archived"),
    ),
    h("p", { class: "muted" }, product.description ?? ""),
    h(
      "p",
      {},
      stripeLink(product.productId, "products"),
      " ",
      archiveButton("products", product.productId, product.active, reload),
    ),
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Price"),
          h("th", {}, "Amount"),
          h("th", {}, "Lookup key"),
          h("th", {}, "Status"),
          h("th", {}, ""),
        ),
      ),
      h(
        "tbody",
        {},
        product.prices.map((price) =>
          h(
            "tr",
            { dataset: { priceId: price.priceId } },
            h("td", {}, stripeLink(price.priceId, "prices")),
            h("td", {}, priceText(price)),
            h("td", {}, price.lookupKey ?? "–"),
            h("td", {}, status(price.active && !price.archived ? "active" : "archived")),
            h("td", {}, archiveButton("prices", price.priceId, price.active, reload)),
          )
        ),
      ),
    ),
    product.prices.length ? null : h("p", { class: "muted" }, "No prices yet."),
    h("h3", {}, "New price"),
    priceForm(product, reload),
  );
}

export async function render(root) {
  let selected = null;
  const draw = async () => {
    const name = h("input", { name: "name", id: "product-name", required: true, size: 24 });
    const description = h("input", { name: "description", id: "product-description", size: 36 });
    const create = h("button", { type: "submit", id: "create-product" }, "Create product");
    const form = labelledForm(
      { class: "inline", id: "product-form" },
      [["Name", name], ["Description", description]],
      create,
      async (attempt) => {
        const body = await call("POST", env("/products"), {
          idempotencyKey: attempt,
          body: {
            name: name.value.trim(),
            ...(description.value.trim() ? { description: description.value.trim() } : {}),
          },
        });
        selected = body.product.productId;
        await draw();
      },
    );

    const products = [];
    const detail = h("div", {});
    const show = (product) => {
      selected = product.productId;
      detail.replaceChildren(productDetail(product, draw));
      for (const row of root.querySelectorAll("tr[data-product-id]")) {
        row.setAttribute("aria-selected", String(row.dataset.productId === selected));
      }
    };
    const { element } = await pagedTable([
      ["Product", (product) => product.name],
      [
        "Prices",
        (product) =>
          product.prices.filter((price) => price.active).map(priceText).join(", ") || "–",
      ],
      ["Status", (product) => status(product.active && !product.archived ? "active" : "archived")],
      ["Created", (product) => time(product.createdAt)],
    ], async (cursor) => {
      const page = await call("GET", env("/products"), { query: { limit: 50, cursor } });
      products.push(...page.data);
      return page;
    }, {
      onSelect: show,
      rowAttributes: (product) => ({ dataset: { productId: product.productId } }),
      empty: "No products yet: create the first one above.",
    });
    root.replaceChildren(
      h("h1", {}, "Catalog"),
      h("section", { class: "panel" }, h("h2", {}, "New product"), form),
      h("div", { class: "split even" }, h("section", { class: "panel" }, element), detail),
    );
    const current = products.find((product) => product.productId === selected) ?? products[0];
    if (current) show(current);
  };
  await draw();
}
