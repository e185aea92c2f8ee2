// Realistic, distinct Stripe webhook events for the benchmarks: per simulated purchase a
// customer.created, customer.subscription.created and .updated, checkout.session.completed,
// payment_intent.succeeded, invoice.paid and a product or price update, built from the Stripe
// fixtures in both API shapes (current and 2023-08-16) with unique ids.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../scripts/lib/migrate.mjs";

const fixtures = {
  current: JSON.parse(readFileSync(join(ROOT, "tests/fixtures/stripe/current.json"), "utf8")),
  old: JSON.parse(readFileSync(join(ROOT, "tests/fixtures/stripe/api-2023-08-16.json"), "utf8")),
};

function event(id, type, created, object, apiVersion) {
  return {
    id,
    object: "event",
    api_version: apiVersion,
    created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  };
}

/** Events of one simulated purchase, `n` unique within the run `tag`. */
function purchase(tag, n) {
  const shape = n % 2 === 0 ? "current" : "old";
  const f = fixtures[shape];
  const api = shape === "current" ? "2026-07-29.dahlia" : "2023-08-16";
  const key = `${tag}_${n}`;
  const created = 1_700_000_000 + n * 10;
  const customer = `cus_${key}`;
  const subscription = `sub_${key}`;
  const subject = { payments_subject_type: "user", payments_subject_id: `user-${key}` };
  const items = structuredClone(f.subscription.items);
  items.data[0].id = `si_${key}`;
  items.data[0].subscription = subscription;
  const sub = {
    ...f.subscription,
    id: subscription,
    customer,
    status: "active",
    metadata: subject,
    items,
  };
  const invoice = shape === "current"
    ? {
      ...f.invoice,
      id: `in_${key}`,
      customer,
      status: "paid",
      amount_paid: 2000,
      parent: {
        type: "subscription_details",
        subscription_details: { subscription, metadata: subject },
      },
      payments: {
        object: "list",
        has_more: false,
        data: [{
          object: "invoice_payment",
          status: "paid",
          payment: { type: "payment_intent", payment_intent: `pi_inv_${key}` },
        }],
      },
    }
    : {
      ...f.invoice,
      id: `in_${key}`,
      customer,
      status: "paid",
      paid: true,
      amount_paid: 2000,
      subscription,
      payment_intent: `pi_inv_${key}`,
    };
  const session = {
    ...f["checkout.session"],
    id: `cs_${key}`,
    status: "complete",
    payment_status: "paid",
    amount_total: 1099,
    currency: "usd",
    customer,
    payment_intent: `pi_${key}`,
    metadata: { order_id: key, ...subject },
  };
  const intent = {
    ...f.payment_intent,
    id: `pi_${key}`,
    status: "succeeded",
    amount_received: 1099,
    customer,
    latest_charge: `ch_${key}`,
    metadata: subject,
  };
  const product = { ...f.product, id: `prod_${tag}_${n % 25}`, name: `Product ${n}` };
  const price = {
    ...f.price,
    id: `price_${tag}_${n % 25}`,
    product: product.id,
    nickname: `Price ${n}`,
  };
  return [
    event(`evt_${key}_1`, "customer.created", created, {
      ...f.customer,
      id: customer,
      metadata: subject,
    }, api),
    event(`evt_${key}_2`, "customer.subscription.created", created + 1, {
      ...sub,
      status: "incomplete",
    }, api),
    event(`evt_${key}_3`, "checkout.session.completed", created + 2, session, api),
    event(`evt_${key}_4`, "payment_intent.succeeded", created + 2, intent, api),
    event(`evt_${key}_5`, "customer.subscription.updated", created + 3, sub, api),
    event(`evt_${key}_6`, "invoice.paid", created + 4, invoice, api),
    event(
      `evt_${key}_7`,
      n % 2 ? "product.updated" : "price.updated",
      created + 5,
      n % 2 ? product : price,
      api,
    ),
  ];
}

/**
 * `count` distinct events as JSON strings.
 * @param {number} count
 * @returns {string[]}
 */
export function buildEvents(count) {
  const tag = randomBytes(4).toString("hex");
  const events = [];
  for (let n = 0; events.length < count; n++) events.push(...purchase(tag, n));
  return events.slice(0, count).map((e) => JSON.stringify(e));
}
