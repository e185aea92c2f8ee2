/** Idempotency keys and cursor pagination. */
import assert from "node:assert/strict";
import { postControl, stripeError, test, TEST_KEY } from "./helpers.ts";

/** The SDK's `lastResponse.headers` is typed as a record but may be a `Headers` object. */
function header(response: { headers: unknown }, name: string): string | null {
  return new Headers(response.headers as HeadersInit).get(name);
}

test("the same Idempotency-Key and parameters replay the stored response", async ({ stripe }) => {
  const first = await stripe.customers.create(
    { email: "once@example.com" },
    { idempotencyKey: "create-once" },
  );
  const second = await stripe.customers.create(
    { email: "once@example.com" },
    { idempotencyKey: "create-once" },
  );
  assert.equal(second.id, first.id);
  assert.equal(header(second.lastResponse, "idempotent-replayed"), "true");
  assert.equal(header(first.lastResponse, "idempotent-replayed"), null);
  assert.equal((await stripe.customers.list()).data.length, 1);
  const created = await stripe.events.list({ type: "customer.created" });
  assert.equal(created.data.length, 1);
});

test("the same Idempotency-Key with other parameters is a 400 idempotency_error", async ({ stripe }) => {
  await stripe.customers.create({ email: "a@example.com" }, { idempotencyKey: "key-1" });
  const error = await stripeError(
    stripe.customers.create({ email: "b@example.com" }, { idempotencyKey: "key-1" }),
  );
  assert.equal(error.statusCode, 400);
  assert.equal(error.type, "StripeIdempotencyError");
  const otherPath = await stripeError(
    stripe.products.create({ name: "x" }, { idempotencyKey: "key-1" }),
  );
  assert.equal(otherPath.type, "StripeIdempotencyError");
});

test("an error response is stored and replayed for its Idempotency-Key", async ({ stripe }) => {
  const params = { product: "prod_missing", currency: "usd", unit_amount: 100 };
  const first = await stripeError(stripe.prices.create(params, { idempotencyKey: "bad" }));
  await stripe.products.create({ id: "prod_missing", name: "Now exists" });
  const replay = await stripeError(stripe.prices.create(params, { idempotencyKey: "bad" }));
  assert.equal(first.statusCode, 404);
  assert.equal(replay.statusCode, 404);
  assert.equal(replay.message, first.message);
  assert.equal(replay.headers?.["idempotent-replayed"], "true");
});

test("lists are newest first with has_more, url and a default limit of 10", async ({ stripe }) => {
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) ids.push((await stripe.customers.create({ name: `c${i}` })).id);
  const page = await stripe.customers.list();
  assert.equal(page.object, "list");
  assert.equal(page.url, "/v1/customers");
  assert.equal(page.data.length, 10);
  assert.equal(page.has_more, true);
  assert.deepEqual(page.data.map((c) => c.id), ids.slice(2).reverse());
});

test("starting_after and ending_before walk the list both ways", async ({ stripe }) => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await stripe.products.create({ name: `p${i}` })).id);
  const newestFirst = [...ids].reverse();

  const first = await stripe.products.list({ limit: 2 });
  assert.deepEqual(first.data.map((p) => p.id), newestFirst.slice(0, 2));
  assert.equal(first.has_more, true);
  const second = await stripe.products.list({ limit: 2, starting_after: newestFirst[1] });
  assert.deepEqual(second.data.map((p) => p.id), newestFirst.slice(2, 4));
  assert.equal(second.has_more, true);
  const last = await stripe.products.list({ limit: 2, starting_after: newestFirst[3] });
  assert.deepEqual(last.data.map((p) => p.id), newestFirst.slice(4));
  assert.equal(last.has_more, false);

  const before = await stripe.products.list({ limit: 2, ending_before: newestFirst[4] });
  assert.deepEqual(before.data.map((p) => p.id), newestFirst.slice(2, 4));
  assert.equal(before.has_more, true);
  const top = await stripe.products.list({ limit: 2, ending_before: newestFirst[1] });
  assert.deepEqual(top.data.map((p) => p.id), newestFirst.slice(0, 1));
  assert.equal(top.has_more, false);

  const everything: string[] = [];
  for await (const product of stripe.products.list({ limit: 2 })) everything.push(product.id);
  assert.deepEqual(everything, newestFirst);
});

test("limit must be between 1 and 100 and cursors must exist", async ({ stripe }) => {
  for (const limit of [0, 101]) {
    const error = await stripeError(stripe.products.list({ limit }));
    assert.equal(error.statusCode, 400);
    assert.equal(error.param, "limit");
  }
  assert.equal((await stripe.products.list({ limit: 100 })).data.length, 0);
  const cursor = await stripeError(stripe.products.list({ starting_after: "prod_nope" }));
  assert.equal(cursor.statusCode, 400);
  assert.equal(cursor.param, "starting_after");
  const both = await stripeError(
    stripe.products.list({ starting_after: "prod_a", ending_before: "prod_b" }),
  );
  assert.equal(both.code, "parameters_exclusive");
});

test("a cursor still works after its object stops matching the filter", async ({ stripe }) => {
  const a = await stripe.products.create({ name: "a" });
  const b = await stripe.products.create({ name: "b" });
  const c = await stripe.products.create({ name: "c" });
  await stripe.products.update(b.id, { active: false });
  const page = await stripe.products.list({ active: true, starting_after: b.id });
  assert.deepEqual(page.data.map((p) => p.id), [a.id]);
  assert.ok(c.id);
});

test("bracket-notation arrays also decode from curl's empty-bracket form", async ({ emulator }) => {
  const headers = {
    authorization: `Bearer ${TEST_KEY}`,
    "content-type": "application/x-www-form-urlencoded",
  };
  const create = await fetch(`${emulator.url}/v1/webhook_endpoints`, {
    method: "POST",
    headers,
    body:
      "url=https%3A%2F%2Fexample.com%2Fhook&enabled_events[]=invoice.paid&enabled_events[]=charge.refunded&metadata[team]=billing",
  });
  const endpoint = await create.json();
  assert.deepEqual(endpoint.enabled_events, ["invoice.paid", "charge.refunded"]);
  assert.deepEqual(endpoint.metadata, { team: "billing" });
});

test("a key whose first request is still running is a 409 idempotency_key_in_use", async ({ emulator, stripe }) => {
  const hold = await postControl(emulator, "latency", { ms: 300 });
  assert.equal(hold.status, 200);
  await hold.body?.cancel();
  const first = stripe.customers.create(
    { email: "slow@example.com" },
    { idempotencyKey: "in-flight" },
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  const conflict = await stripeError(
    stripe.customers.create({ email: "slow@example.com" }, { idempotencyKey: "in-flight" }),
  );
  assert.equal(conflict.statusCode, 409);
  assert.equal(conflict.code, "idempotency_key_in_use");
  const created = await first;
  assert.equal(header(created.lastResponse, "idempotent-replayed"), null);

  await (await postControl(emulator, "latency", { ms: 0 })).body?.cancel();
  const replay = await stripe.customers.create(
    { email: "slow@example.com" },
    { idempotencyKey: "in-flight" },
  );
  assert.equal(replay.id, created.id);
  assert.equal(header(replay.lastResponse, "idempotent-replayed"), "true");
  assert.equal((await stripe.customers.list()).data.length, 1);

  const invalid = await postControl(emulator, "latency", { ms: -1 });
  assert.equal(invalid.status, 400);
  assert.equal((await invalid.json()).error.param, "ms");
});
