/**
 * Every emulated object carries the top-level keys of Stripe's own example of it
 * (tests/fixtures/stripe/current.json), read from the raw JSON the emulator sends.
 */
import assert from "node:assert/strict";
import { INCLUDABLE } from "../../emulator/expand.ts";
import type { RunningEmulator } from "../../emulator/server.ts";
import { completeSession, createPrice, sessionFor, test, TEST_KEY } from "./helpers.ts";

const fixtures: Record<string, Record<string, unknown>> = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/stripe/current.json", import.meta.url)),
);

/**
 * Keys the emulator leaves out on purpose. `invoice.subscription` was removed from the API
 * (use `parent.subscription_details.subscription`); the fixture still carries a stale copy.
 * The fixtures show includable fields (`charge.refunds`) filled in; the API returns them only
 * when expanded.
 */
const OMITTED: Record<string, readonly string[]> = {
  ...INCLUDABLE,
  invoice: ["subscription", ...INCLUDABLE.invoice],
};

async function raw(
  emulator: RunningEmulator,
  path: string,
  form?: Record<string, string>,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${emulator.url}${path}`, {
    method: form ? "POST" : "GET",
    headers: { authorization: `Bearer ${TEST_KEY}` },
    body: form ? new URLSearchParams(form) : undefined,
  });
  assert.equal(response.status, 200, path);
  return await response.json();
}

test("emulated objects carry every top-level key of the current fixtures", async ({ emulator, stripe }) => {
  const price = await createPrice(stripe, { unitAmount: 700, name: "Shape" });
  const oneTime = await createPrice(stripe, { unitAmount: 300, recurring: false });
  const endpoint = await stripe.webhookEndpoints.create({
    url: "https://example.com/hook",
    enabled_events: ["*"],
  });
  const subscriptionSession = await sessionFor(stripe, price);
  await completeSession(emulator, subscriptionSession.id);
  const paymentSession = await sessionFor(stripe, oneTime);
  await completeSession(emulator, paymentSession.id);
  const session = await raw(emulator, `/v1/checkout/sessions/${subscriptionSession.id}`);
  const payment = await raw(emulator, `/v1/checkout/sessions/${paymentSession.id}`);
  const subscription = await raw(emulator, `/v1/subscriptions/${session.subscription}`);
  const paymentIntent = await raw(emulator, `/v1/payment_intents/${payment.payment_intent}`);
  const refund = await stripe.refunds.create({ payment_intent: String(payment.payment_intent) });
  // Portal sessions cannot be retrieved, in Stripe as here: check the create response.
  const portal = await raw(emulator, "/v1/billing_portal/sessions", {
    customer: String(session.customer),
  });
  const events = await raw(emulator, "/v1/events?limit=1");
  const invoicePayments = await raw(emulator, `/v1/invoice_payments?invoice=${session.invoice}`);

  const emulated: Record<string, Record<string, unknown>> = {
    account: await raw(emulator, "/v1/account"),
    product: await raw(emulator, `/v1/products/${price.product}`),
    price: await raw(emulator, `/v1/prices/${price.id}`),
    customer: await raw(emulator, `/v1/customers/${session.customer}`),
    "checkout.session": session,
    "billing_portal.session": portal,
    subscription,
    subscription_item: (subscription.items as { data: Record<string, unknown>[] }).data[0],
    invoice: await raw(emulator, `/v1/invoices/${session.invoice}`),
    invoice_payment: (invoicePayments.data as Record<string, unknown>[])[0],
    payment_intent: paymentIntent,
    charge: await raw(emulator, `/v1/charges/${paymentIntent.latest_charge}`),
    refund: await raw(emulator, `/v1/refunds/${refund.id}`),
    webhook_endpoint: await raw(emulator, `/v1/webhook_endpoints/${endpoint.id}`),
    event: (events.data as Record<string, unknown>[])[0],
  };

  assert.deepEqual(Object.keys(emulated).sort(), Object.keys(fixtures).sort());
  for (const [name, fixture] of Object.entries(fixtures)) {
    const omitted = OMITTED[name] ?? [];
    const missing = Object.keys(fixture).filter((key) =>
      !(key in emulated[name]) && !omitted.includes(key)
    );
    assert.deepEqual(missing, [], `${name} lacks ${missing.join(", ")}`);
    assert.equal(emulated[name].object, fixture.object, name);
    for (const key of omitted) assert.ok(!(key in emulated[name]), `${name}.${key}`);
  }
});
