import assert from "node:assert/strict";
import { depsFromEnv } from "../../functions/config.ts";
import { stripeFactory } from "../../functions/stripe.ts";
import { createHandler } from "../../functions/handler.ts";
import { createPrices } from "../../scripts/stack.ts";
import type { CheckoutSessionParams } from "../../functions/wire.ts";
import { createCheckout, paymentRequest } from "../support/checkout.ts";
import { call, rowCount, type Stack, withStack } from "../support/stack.ts";

const ALICE = "11111111-1111-4111-8111-111111111111";
const BOB = "22222222-2222-4222-8222-222222222222";

async function setup(stack: Stack) {
  const connected = await stack.connectStripe();
  assert.equal(connected.status, 200, await connected.text());
  const stripe = stack.stripe;
  const [price, monthly] = await createPrices(stripe, "Pack", [
    { currency: "usd", unitAmount: 500 },
    { currency: "usd", unitAmount: 900, interval: "month" },
  ]);
  const alice = await stack.userToken(ALICE);
  /** POSTs a Checkout request as alice, or as the user of `token`. */
  const checkout = (body: unknown, token = alice) => createCheckout(stack, token, body);
  /** The same request as alice, for a handler the test builds itself. */
  const checkoutRequest = (body: unknown) =>
    new Request(`${stack.functionsUrl}/stripe/test/checkout-sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  return {
    stripe,
    price,
    monthly,
    bob: await stack.userToken(BOB),
    checkout,
    checkoutRequest,
  };
}

/** Two of the 5.00 pack: the 10.00 the tests below expect. */
function paymentBody(price: string, extra: Partial<CheckoutSessionParams> = {}) {
  return paymentRequest(price, { lineItems: [{ priceId: price, quantity: 2 }], ...extra });
}

Deno.test("checkout creates a Stripe session for the caller and returns 201", async () => {
  await withStack({}, async (stack) => {
    const { stripe, price, checkout } = await setup(stack);
    const { status, body } = await checkout(
      paymentBody(price, { metadata: { order_id: "o-1" }, customerEmail: "alice@example.com" }),
    );
    assert.equal(status, 201, JSON.stringify(body));
    const session = body.checkoutSession;
    assert.equal(session.status, "open");
    assert.match(session.checkoutSessionId, /^cs_test_/);
    assert.match(session.url, /^http/);
    assert.deepEqual(session.subject, { type: "user", id: ALICE });
    assert.ok(Date.parse(session.expiresAt) > Date.now());
    assert.equal(session.amountTotal, 1000, "2 x 5.00 is reported before any webhook");
    assert.equal(session.currency, "usd");
    assert.equal(session.paymentStatus, "unpaid");

    const remote = await stripe.checkout.sessions.retrieve(session.checkoutSessionId);
    assert.equal(remote.client_reference_id, session.id);
    assert.equal(remote.metadata?.order_id, "o-1");
    assert.equal(remote.metadata?.payments_subject_id, ALICE);
    const customer = await stripe.customers.retrieve(remote.customer as string);
    assert.equal((customer as { email: string }).email, "alice@example.com");
  });
});

Deno.test("checkout with the same idempotency key twice makes one Stripe session", async () => {
  await withStack({}, async (stack) => {
    const { stripe, price, checkout } = await setup(stack);
    const body = paymentBody(price, { idempotencyKey: "order:42" });
    const first = await checkout(body);
    const second = await checkout(body);
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.equal(
      second.body.checkoutSession.checkoutSessionId,
      first.body.checkoutSession.checkoutSessionId,
    );
    const sessions = await stripe.checkout.sessions.list({ limit: 100 });
    assert.equal(sessions.data.length, 1);
  });
});

Deno.test("checkout returns 409 when the idempotency key is reused with another body", async () => {
  await withStack({}, async (stack) => {
    const { price, checkout } = await setup(stack);
    await checkout(paymentBody(price, { idempotencyKey: "k" }));
    const { status, body } = await checkout(
      paymentBody(price, { idempotencyKey: "k", metadata: { changed: "yes" } }),
    );
    assert.equal(status, 409);
    assert.equal(body.error.code, "idempotency_conflict");
  });
});

Deno.test("checkout keys idempotency per caller, not per environment", async () => {
  await withStack({}, async (stack) => {
    const { price, bob, checkout } = await setup(stack);
    const a = await checkout(paymentBody(price, { idempotencyKey: "same" }));
    const b = await checkout(
      paymentBody(price, { idempotencyKey: "same", metadata: { other: "body" } }),
      bob,
    );
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.notEqual(a.body.checkoutSession.id, b.body.checkoutSession.id);
  });
});

Deno.test("checkout returns 403 when the caller bills someone else's subject", async () => {
  await withStack({}, async (stack) => {
    const { price, monthly, checkout } = await setup(stack);
    const user = await checkout(paymentBody(price, { subject: { type: "user", id: BOB } }));
    assert.equal(user.status, 403);
    assert.equal(user.body.error.code, "forbidden");
    const team = await checkout(
      paymentBody(monthly, { mode: "subscription", subject: { type: "team", id: "t1" } }),
    );
    assert.equal(team.status, 403);
    assert.equal(await rowCount(stack, "payments.stripe_checkout_sessions"), 0);
  });
});

Deno.test("checkout answers 400 with field-level errors for a bad body", async () => {
  await withStack({}, async (stack) => {
    const { checkout } = await setup(stack);
    const { status, body } = await checkout({
      mode: "subscription",
      lineItems: [{ priceId: "price_1", quantity: 1000 }],
      successUrl: "javascript:alert(1)",
      metadata: { payments_subject_id: "x" },
      idempotencyKey: "x".repeat(201),
    });
    assert.equal(status, 400);
    const fields = body.error.details.fields.map((f: { field: string }) => f.field).sort();
    assert.deepEqual(fields, [
      "cancelUrl",
      "idempotencyKey",
      "lineItems[0].quantity",
      "metadata.payments_subject_id",
      "subject",
      "successUrl",
    ]);
    const malformed = await checkout("{");
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, "invalid_request");
  });
});

Deno.test("checkout keeps the attempt when Stripe cannot be reached; the retry reuses its key and recovers", async () => {
  await withStack({}, async (stack) => {
    const { price, checkoutRequest } = await setup(stack);
    // The same function, but its Stripe calls go to a port where nothing listens.
    const broken = createHandler({ ...stack.deps, stripe: stripeFactory("http://127.0.0.1:9") });
    const request = () => checkoutRequest(paymentBody(price, { idempotencyKey: "retry-me" }));
    const failed = await broken(request());
    assert.equal(failed.status, 502);
    const error = (await failed.json()).error;
    assert.equal(error.code, "stripe_error");
    assert.equal(error.details.retryable, true);
    // Stripe may have made the session: the row keeps its attempt, so the retry sends the same key.
    const [row] = await stack.sql`select status, attempt from payments.stripe_checkout_sessions`;
    assert.deepEqual({ ...row }, { status: "initialized", attempt: 1 });

    const recovered = await createHandler(stack.deps)(request());
    assert.equal(recovered.status, 201);
    const session = (await recovered.json()).checkoutSession;
    assert.equal(session.status, "open");
  });
});

Deno.test("a crash after the Stripe call and before the row update is repaired by the retry", async () => {
  await withStack({}, async (stack) => {
    const { stripe, price, checkout } = await setup(stack);
    const body = paymentBody(price, { idempotencyKey: "crash" });
    const first = await checkout(body);
    const { id, checkoutSessionId } = first.body.checkoutSession;
    // Forget the recorded result, as if the function died right after Stripe answered.
    await stack.sql`update payments.stripe_checkout_sessions
      set status = 'initialized', checkout_session_id = null, url = null, expires_at = null where id = ${id}`;
    const retry = await checkout(body);
    assert.equal(retry.status, 201);
    assert.equal(retry.body.checkoutSession.checkoutSessionId, checkoutSessionId);
    assert.equal((await stripe.checkout.sessions.list({ limit: 100 })).data.length, 1);
  });
});

Deno.test("an expired session is never handed out again: the retry gets a new one", async () => {
  await withStack({}, async (stack) => {
    const { stripe, price, checkout } = await setup(stack);
    const body = paymentBody(price, { idempotencyKey: "expire" });
    const first = await checkout(body);
    const firstId = first.body.checkoutSession.checkoutSessionId;
    await stripe.checkout.sessions.expire(firstId);
    // The expiry reaches the row through the signed webhook.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const [row] = await stack.sql`select status from payments.stripe_checkout_sessions`;
      if (row.status === "expired") break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const retry = await checkout(body);
    assert.equal(retry.status, 201);
    assert.equal(retry.body.checkoutSession.status, "open");
    assert.notEqual(retry.body.checkoutSession.checkoutSessionId, firstId);
  });
});

Deno.test("checkout without a configured Stripe key answers 503 with a hint", async () => {
  await withStack({}, async (stack) => {
    const alice = await stack.userToken(ALICE);
    const { status, body } = await call(stack, "POST", "/stripe/live/checkout-sessions", {
      token: alice,
      body: paymentBody("price_x"),
    });
    assert.equal(status, 503);
    assert.equal(body.error.code, "stripe_not_configured");
  });
});

Deno.test("concurrent checkouts with one idempotency key make one Stripe session", async () => {
  await withStack({}, async (stack) => {
    const { stripe, price, checkout } = await setup(stack);
    const body = paymentBody(price, { idempotencyKey: "double-click" });
    const results = await Promise.all(
      Array.from(
        { length: 8 },
        () => checkout(body),
      ),
    );
    assert.deepEqual(results.map((r) => r.status), Array(8).fill(201));
    const ids = new Set(results.map((r) => r.body.checkoutSession.checkoutSessionId));
    assert.equal(ids.size, 1);
    assert.equal((await stripe.checkout.sessions.list({ limit: 100 })).data.length, 1);
  });
});

Deno.test("concurrent first checkouts of one subject end up with one Stripe customer", async () => {
  await withStack({}, async (stack) => {
    const { stripe, price, checkout } = await setup(stack);
    const results = await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) => checkout(paymentBody(price, { customerEmail: `alice+${i}@example.com` })),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array(8).fill(201),
      JSON.stringify(results.map((r) => r.body)),
    );
    const customers = new Set(results.map((r) => r.body.checkoutSession.customerId));
    assert.equal(customers.size, 1);
    const live = (await stripe.customers.list({ limit: 100 })).data
      .filter((customer) => customer.metadata.payments_subject_id === ALICE);
    assert.equal(live.length, 1, "surplus customers are deleted again");
  });
});

Deno.test("checkout answers 400 naming the line item when Stripe refuses its price", async () => {
  await withStack({}, async (stack) => {
    const { price, checkout } = await setup(stack);
    const { status, body } = await checkout({
      ...paymentBody(price),
      lineItems: [{ priceId: price, quantity: 1 }, { priceId: "price_missing", quantity: 1 }],
    });
    assert.equal(status, 400);
    assert.equal(body.error.details.fields[0].field, "lineItems[1].priceId");
  });
});

Deno.test("checkout answers 400 for NUL characters and writes nothing", async () => {
  await withStack({}, async (stack) => {
    const { price, checkout } = await setup(stack);
    const { status, body } = await checkout(paymentBody(price, { metadata: { note: "a\u0000b" } }));
    assert.equal(status, 400);
    assert.equal(body.error.code, "invalid_request");
    assert.equal(await rowCount(stack, "payments.stripe_checkout_sessions"), 0);
  });
});

Deno.test("a session about to expire is replaced, not handed to a browser", async () => {
  await withStack({}, async (stack) => {
    const { price, checkout } = await setup(stack);
    const body = paymentBody(price, { idempotencyKey: "nearly-expired" });
    const first = await checkout(body);
    await stack
      .sql`update payments.stripe_checkout_sessions set expires_at = now() + interval '20 seconds'`;
    const retry = await checkout(body);
    assert.equal(retry.status, 201);
    assert.notEqual(
      retry.body.checkoutSession.checkoutSessionId,
      first.body.checkoutSession.checkoutSessionId,
    );
    assert.ok(Date.parse(retry.body.checkoutSession.expiresAt) > Date.now() + 60_000);
  });
});

Deno.test("checkout answers 400 for lone UTF-16 surrogates and deeply nested metadata, and writes nothing", async () => {
  await withStack({}, async (stack) => {
    const { price, checkout } = await setup(stack);
    const valid = JSON.stringify(paymentBody(price, { metadata: { note: "MARK" } }));
    let nested = '"x"';
    for (let depth = 0; depth < 10_000; depth++) nested = `{"a":${nested}}`;
    const bodies = [
      // Valid JSON that JavaScript parses, but PostgreSQL refuses (22P02).
      valid.replace('"MARK"', '"\\ud800"'),
      valid.replace('"note"', '"\\udc00"'),
      valid.replace('"MARK"', nested),
    ];
    for (const body of bodies) {
      const response = await checkout(body);
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.error.code, "invalid_request");
    }
    assert.equal(await rowCount(stack, "payments.stripe_checkout_sessions"), 0);
  });
});

/** Holds every Stripe request of the emulator for `ms` (0 lets them run at once again). */
async function holdStripe(stack: Stack, ms: number) {
  const response = await fetch(`${stack.emulatorUrl}/_emulator/latency`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ms }),
  });
  assert.equal(response.status, 200, await response.text());
}

Deno.test("concurrent first checkouts with one key while Stripe is still working give the one session, never a failed row", async () => {
  await withStack({}, async (stack) => {
    const { stripe, price, checkout } = await setup(stack);
    const body = paymentBody(price, { idempotencyKey: "slow-double-click" });
    // Stripe answers 409 idempotency_key_in_use to a same-key request while the first is held.
    await holdStripe(stack, 2_500);
    const statuses: number[] = [];
    const attempt = async () => {
      for (let round = 0; round < 20; round++) {
        const response = await checkout(body);
        statuses.push(response.status);
        if (response.status !== 409) return response;
        assert.equal(response.body.error.code, "request_in_progress");
        assert.equal(response.body.error.details.retryable, true);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      throw new Error("the checkout stayed in progress");
    };
    const results = await Promise.all(Array.from({ length: 10 }, attempt));
    assert.deepEqual(statuses.filter((status) => status !== 409 && status !== 201), []);
    const ids = new Set(results.map((r) => r.body.checkoutSession.checkoutSessionId));
    assert.equal(ids.size, 1);
    assert.equal(results[0].body.checkoutSession.status, "open");
    const rows = await stack.sql`select status, attempt from payments.stripe_checkout_sessions`;
    assert.deepEqual(rows.map((row) => ({ ...row })), [{ status: "open", attempt: 1 }]);
    await holdStripe(stack, 0);
    assert.equal((await stripe.checkout.sessions.list({ limit: 100 })).data.length, 1);
  });
});

Deno.test("a hung Stripe answers 504 within the time budget, and the retry reuses the attempt's key: one Stripe session", async () => {
  await withStack({}, async (stack) => {
    const { stripe, price, checkout, checkoutRequest } = await setup(stack);
    // An earlier checkout gives alice her customer, so the held call below is the session's.
    const earlier = await checkout(paymentBody(price, { idempotencyKey: "earlier" }));
    assert.equal(earlier.status, 201);
    // The same function, configured as deployed, with a Stripe budget of one second.
    const variables: Record<string, string | undefined> = {
      DATABASE_URL: stack.databaseUrl,
      SUPABASE_JWKS: JSON.stringify(stack.jwks),
      JWT_SECRET: stack.jwtSecret,
      STRIPE_API_BASE: stack.emulatorUrl,
      PAYMENTS_STRIPE_TIMEOUT_MS: "1000",
    };
    const configured = depsFromEnv({ get: (name) => variables[name] });
    const impatient = createHandler({ ...configured, log: stack.deps.log });
    const request = () => checkoutRequest(paymentBody(price, { idempotencyKey: "hung" }));

    await holdStripe(stack, 4_000);
    const started = Date.now();
    const hung = await impatient(request());
    const elapsed = Date.now() - started;
    assert.equal(hung.status, 504);
    assert.equal((await hung.json()).error.code, "stripe_timeout");
    assert.ok(elapsed < 2_000, `answered after ${elapsed} ms`);
    const [row] = await stack.sql`
      select id, status, attempt from payments.stripe_checkout_sessions where idempotency_key = 'hung'`;
    assert.deepEqual({ status: row.status, attempt: row.attempt }, {
      status: "initialized",
      attempt: 1,
    });

    // Stripe finishes the held request after all; the retry must get that session, not a second.
    await new Promise((resolve) => setTimeout(resolve, 4_000 - (Date.now() - started) + 500));
    await holdStripe(stack, 0);
    const retried = await impatient(request());
    assert.equal(retried.status, 201);
    const session = (await retried.json()).checkoutSession;
    const made = (await stripe.checkout.sessions.list({ limit: 100 })).data
      .filter((made) => made.client_reference_id === row.id);
    assert.deepEqual(made.map((made) => made.id), [session.checkoutSessionId]);
    await configured.sql.end({ timeout: 1 });
  });
});
