/** Webhook endpoints and signed, ordered, retried delivery. */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { signatureHeader } from "../../emulator/webhooks.ts";
import { startEmulator } from "../../emulator/server.ts";
import type { DeliveryRecord } from "../../emulator/webhooks.ts";
import {
  buySubscription,
  eventTypes,
  LIVE_KEY,
  postControl,
  startReceiver,
  stripeClient,
  stripeError,
  test,
  verifiedEvent,
  withListener,
} from "./helpers.ts";

async function deliveries(url: string, query = ""): Promise<DeliveryRecord[]> {
  return await (await fetch(`${url}/_emulator/deliveries${query}`)).json();
}

async function waitForDeliveries(
  url: string,
  predicate: (records: DeliveryRecord[]) => boolean,
): Promise<DeliveryRecord[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const records = await deliveries(url);
    if (predicate(records)) return records;
    if (Date.now() > deadline) throw new Error(`Deliveries never matched: ${records.length}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("the signature matches Stripe's documented test vector", async () => {
  assert.equal(
    await signatureHeader(
      "whsec_test_secret",
      1700000000,
      '{"id":"evt_test_webhook","object":"event"}',
    ),
    "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990",
  );
});

test("webhook endpoints are created with a secret and otherwise never show it", async ({ stripe }) => {
  const endpoint = await stripe.webhookEndpoints.create({
    url: "https://app.example/hooks",
    enabled_events: ["invoice.paid", "checkout.session.completed"],
    description: "App",
    metadata: { env: "test" },
  });
  assert.match(endpoint.id, /^we_/);
  assert.match(endpoint.secret ?? "", /^whsec_/);
  assert.equal(endpoint.status, "enabled");
  assert.equal(endpoint.livemode, false);
  const retrieved = await stripe.webhookEndpoints.retrieve(endpoint.id);
  assert.equal(retrieved.secret, undefined);
  assert.deepEqual(retrieved.enabled_events, ["invoice.paid", "checkout.session.completed"]);
  const updated = await stripe.webhookEndpoints.update(endpoint.id, {
    url: "https://app.example/hooks2",
    enabled_events: ["*"],
    disabled: true,
  });
  assert.equal(updated.secret, undefined);
  assert.equal(updated.url, "https://app.example/hooks2");
  assert.equal(updated.status, "disabled");
  const listed = await stripe.webhookEndpoints.list();
  assert.deepEqual(listed.data.map((e) => [e.id, e.secret]), [[endpoint.id, undefined]]);
  const deleted = await stripe.webhookEndpoints.del(endpoint.id);
  assert.equal(deleted.deleted, true);
  assert.equal(
    (await stripeError(stripe.webhookEndpoints.retrieve(endpoint.id))).statusCode,
    404,
  );

  const badUrl = await stripeError(
    stripe.webhookEndpoints.create({ url: "not a url", enabled_events: ["*"] }),
  );
  assert.deepEqual([badUrl.statusCode, badUrl.param], [400, "url"]);
  const noEvents = await stripeError(
    stripe.webhookEndpoints.create({ url: "https://x.example", enabled_events: [] }),
  );
  assert.equal(noEvents.param, "enabled_events");
});

test("events are delivered signed, as JSON, only to endpoints that enabled them", async ({ emulator, stripe }) => {
  const everything = await startReceiver();
  const invoices = await startReceiver();
  try {
    const all = await stripe.webhookEndpoints.create({
      url: everything.url,
      enabled_events: ["*"],
    });
    const onlyInvoices = await stripe.webhookEndpoints.create({
      url: invoices.url,
      enabled_events: ["invoice.paid"],
    });
    await buySubscription(emulator, stripe);
    await everything.waitFor((received) =>
      eventTypes(received).includes("checkout.session.completed")
    );
    await invoices.waitFor((received) => received.length === 1);

    assert.deepEqual(eventTypes(invoices.received), ["invoice.paid"]);
    const [webhook] = invoices.received;
    assert.equal(webhook.contentType, "application/json; charset=utf-8");
    const event = await verifiedEvent(stripe, webhook, onlyInvoices);
    assert.equal(event.type, "invoice.paid");
    assert.equal(event.livemode, false);
    await assert.rejects(
      stripe.webhooks.constructEventAsync(webhook.body, webhook.signature, all.secret!),
    );

    // One endpoint sees events in the order they were created.
    const created = (await stripe.events.list({ limit: 100 })).data.reverse().map((e) => e.id);
    const delivered = everything.received.map((received) => JSON.parse(received.body).id);
    assert.deepEqual(delivered, created.filter((id) => delivered.includes(id)));
    assert.ok(eventTypes(everything.received).includes("product.created"));
  } finally {
    await everything.stop();
    await invoices.stop();
  }
});

test("a failed delivery is retried until the receiver accepts it", async ({ emulator, stripe }) => {
  await withListener(stripe, async (receiver, endpoint) => {
    const customer = await stripe.customers.create({ email: "retry@example.com" });
    await receiver.waitFor((received) => received.length === 2);
    const [first, second] = receiver.received;
    assert.equal(JSON.parse(first.body).id, JSON.parse(second.body).id);
    const event = await verifiedEvent(stripe, second, endpoint);
    assert.equal((event.data.object as Stripe.Customer).id, customer.id);

    const records = await waitForDeliveries(
      emulator.url,
      (all) => all.length === 2 && all.every((record) => record.finished_at !== null),
    );
    assert.deepEqual(
      records.map((r) => [r.attempt, r.status_code, r.succeeded]),
      [[1, 500, false], [2, 200, true]],
    );
    assert.equal(records[0].endpoint_url, receiver.url);
    assert.equal(records[0].event_type, "customer.created");
    assert.ok(records[0].next_retry_at);
    assert.ok(records[1].finished_at);
    const stored = await stripe.events.retrieve(event.id);
    assert.equal(stored.pending_webhooks, 0);
    const filtered = await deliveries(emulator.url, `?event=${event.id}`);
    assert.equal(filtered.length, 2);
  }, { enabledEvents: ["customer.created"], respond: (index) => index === 0 ? 500 : 200 });
});

test("retries stop after the back-off schedule is used up", async ({ emulator, stripe }) => {
  await withListener(stripe, async () => {
    const customer = await stripe.customers.create();
    const records = await waitForDeliveries(
      emulator.url,
      (all) => all.length === 3 && all.every((record) => record.finished_at !== null),
    );
    assert.deepEqual(records.map((r) => r.attempt), [1, 2, 3]);
    assert.equal(records[2].next_retry_at, null);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal((await deliveries(emulator.url)).length, 3);
    const events = await stripe.events.list({ type: "customer.created" });
    assert.equal(events.data[0].pending_webhooks, 1);
    assert.ok(customer.id);
  }, { respond: () => 503 });
});

Deno.test("a delivery that outlasts the timeout fails and is retried", async () => {
  const emulator = await startEmulator({
    port: 0,
    webhookRetryDelaysMs: [10],
    // Generous against a loaded machine: only the first answer is slow on purpose.
    webhookTimeoutMs: 300,
  });
  const receiver = await startReceiver(async (index) => {
    if (index === 0) await new Promise((resolve) => setTimeout(resolve, 900));
    return 200;
  });
  try {
    const stripe = stripeClient(emulator);
    await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ["*"] });
    await stripe.customers.create();
    // The log shows an attempt when it starts: wait for the retry to finish too.
    const records = await waitForDeliveries(
      emulator.url,
      (all) => all.length === 2 && all[1].finished_at !== null,
    );
    assert.equal(records[0].error, "Timed out after 300 ms");
    assert.equal(records[0].status_code, null);
    assert.deepEqual([records[1].attempt, records[1].succeeded], [2, true]);
    // Let the slow first request finish before the receiver shuts down.
    await new Promise((resolve) => setTimeout(resolve, 900));
  } finally {
    await receiver.stop();
    await emulator.stop();
  }
});

test("disabled endpoints and endpoints of the other mode receive nothing", async ({ emulator, stripe }) => {
  const live = stripeClient(emulator, LIVE_KEY);
  const receiver = await startReceiver();
  try {
    const disabled = await stripe.webhookEndpoints.create({
      url: receiver.url,
      enabled_events: ["*"],
    });
    await stripe.webhookEndpoints.update(disabled.id, { disabled: true });
    await live.webhookEndpoints.create({ url: receiver.url, enabled_events: ["*"] });
    await stripe.customers.create();
    const liveCustomer = await live.customers.create();
    await receiver.waitFor((received) => received.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(receiver.received.length, 1);
    const event = JSON.parse(receiver.received[0].body);
    assert.equal(event.livemode, true);
    assert.equal(event.data.object.id, liveCustomer.id);
  } finally {
    await receiver.stop();
  }
});

test("events can be retrieved and listed by type, with wildcards", async ({ stripe }) => {
  const customer = await stripe.customers.create({ name: "A" });
  await stripe.customers.update(customer.id, { name: "B" });
  await stripe.products.create({ name: "P" });
  const customerEvents = await stripe.events.list({ type: "customer.*" });
  assert.deepEqual(customerEvents.data.map((e) => e.type), [
    "customer.updated",
    "customer.created",
  ]);
  const exact = await stripe.events.list({ type: "product.created" });
  assert.equal(exact.data.length, 1);
  const event = await stripe.events.retrieve(exact.data[0].id);
  assert.equal(event.object, "event");
  assert.equal(event.api_version, "2026-10-28.endive");
  assert.match(event.request?.id ?? "", /^req_/);
  assert.ok(event.request?.idempotency_key);
  assert.equal((await stripeError(stripe.events.retrieve("evt_missing"))).statusCode, 404);
});

test("reset clears objects, events and the delivery log", async ({ emulator, stripe }) => {
  await withListener(stripe, async () => {
    await stripe.products.create({ name: "Gone soon" });
    await waitForDeliveries(emulator.url, (all) => all.length === 1);
    const response = await postControl(emulator, "reset");
    assert.equal(response.status, 200);
    await response.body?.cancel();
    assert.equal((await stripe.products.list()).data.length, 0);
    assert.equal((await stripe.events.list()).data.length, 0);
    assert.equal((await stripe.webhookEndpoints.list()).data.length, 0);
    assert.deepEqual(await deliveries(emulator.url), []);
  });
});

Deno.test("stopping the emulator cancels pending retries", async () => {
  const emulator = await startEmulator({ port: 0, webhookRetryDelaysMs: [60_000] });
  const receiver = await startReceiver(() => 500);
  try {
    const stripe = stripeClient(emulator);
    await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ["*"] });
    await stripe.customers.create();
    await waitForDeliveries(emulator.url, (all) => all.length === 1 && !!all[0].next_retry_at);
  } finally {
    await emulator.stop();
    await receiver.stop();
  }
});

Deno.test("stopping the emulator aborts a delivery in flight", async () => {
  const emulator = await startEmulator({ port: 0 });
  const arrived = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const receiver = await startReceiver(async () => {
    arrived.resolve();
    await release.promise;
    return 200;
  });
  let stopped = false;
  try {
    const stripe = stripeClient(emulator);
    await stripe.webhookEndpoints.create({ url: receiver.url, enabled_events: ["*"] });
    await stripe.customers.create();
    await arrived.promise;
    await emulator.stop();
    stopped = true;
  } finally {
    if (!stopped) await emulator.stop();
    release.resolve();
    await receiver.stop();
  }
});
