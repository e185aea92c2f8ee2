/** `GET /v1/events` as reconciliation reads it: pagination, filters and the 30-day window. */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { postControl, startReceiver, stripeClient, stripeError, test } from "./helpers.ts";

async function allEvents(
  stripe: Stripe,
  params: Stripe.EventListParams = {},
): Promise<Stripe.Event[]> {
  const events: Stripe.Event[] = [];
  for await (const event of stripe.events.list({ limit: 2, ...params })) events.push(event);
  return events;
}

test("events auto-paginate newest first and filter by type, types[] and created", async ({ emulator }) => {
  const stripe = stripeClient(emulator);
  const customers = [];
  for (let i = 0; i < 5; i++) {
    customers.push(await stripe.customers.create({ email: `c${i}@example.com` }));
  }
  await stripe.products.create({ name: "Pro" });

  const all = await allEvents(stripe);
  assert.equal(all.length, 6);
  assert.equal(new Set(all.map((event) => event.id)).size, 6, "No event repeats across pages.");
  assert.equal(all[0].type, "product.created", "The newest event comes first.");
  assert.deepEqual(
    all.slice(1).map((event) => (event.data.object as Stripe.Customer).id),
    customers.map((customer) => customer.id).reverse(),
  );

  assert.equal((await allEvents(stripe, { type: "customer.created" })).length, 5);
  assert.equal((await allEvents(stripe, { type: "customer.*" })).length, 5);
  const both = await allEvents(stripe, { types: ["product.created", "customer.created"] });
  assert.equal(both.length, 6);
  assert.equal((await allEvents(stripe, { types: ["invoice.paid"] })).length, 0);

  const future = Math.floor(Date.now() / 1000) + 3600;
  assert.equal((await allEvents(stripe, { created: { gte: future } })).length, 0);
  assert.equal((await allEvents(stripe, { created: { gte: all[5].created } })).length, 6);

  const exclusive = await stripeError(
    stripe.events.list({ type: "customer.created", types: ["product.created"] }),
  );
  assert.equal(exclusive.statusCode, 400);
  assert.equal(exclusive.param, "types");
  const tooMany = await stripeError(
    stripe.events.list({ types: Array.from({ length: 21 }, (_, i) => `type.${i}`) }),
  );
  assert.equal(tooMany.statusCode, 400);
});

test("events older than 30 days are no longer listed", async ({ emulator }) => {
  const stripe = stripeClient(emulator);
  await stripe.customers.create({ email: "old@example.com" });
  await stripe.customers.create({ email: "new@example.com" });
  const [newest, oldest] = (await stripe.events.list()).data;

  const aged = await postControl(emulator, `events/${oldest.id}/backdate`, {
    days: 29,
  });
  assert.equal(aged.status, 200);
  assert.equal((await allEvents(stripe)).length, 2, "29 days old is still inside the window.");

  await postControl(emulator, `events/${oldest.id}/backdate`, { days: 2 });
  assert.deepEqual((await allEvents(stripe)).map((event) => event.id), [newest.id]);
  const refused = await postControl(emulator, `events/${oldest.id}/backdate`, {
    days: 0,
  });
  assert.equal(refused.status, 400);
  await refused.body?.cancel();
});

test("delivery_success=false lists the events an endpoint has not acknowledged", async ({ emulator }) => {
  const stripe = stripeClient(emulator);
  const receiver = await startReceiver((_index, webhook) =>
    JSON.parse(webhook.body).type === "customer.created" ? 500 : 200
  );
  try {
    await stripe.webhookEndpoints.create({
      url: receiver.url,
      enabled_events: ["customer.created", "product.created"],
    });
    const customer = await stripe.customers.create({ email: "down@example.com" });
    await stripe.products.create({ name: "Pro" });
    // The first attempt and both (fast) retries of the customer event, and the product event.
    await receiver.waitFor((received) => received.length >= 4);
    await new Promise((resolve) => setTimeout(resolve, 50));

    const pending = await allEvents(stripe, { delivery_success: false });
    assert.deepEqual(pending.map((event) => event.type), ["customer.created"]);
    assert.equal((pending[0].data.object as Stripe.Customer).id, customer.id);
    assert.equal(pending[0].pending_webhooks, 1);
    const delivered = await allEvents(stripe, { delivery_success: true });
    assert.deepEqual(delivered.map((event) => event.type), ["product.created"]);
  } finally {
    await receiver.stop();
  }
});
