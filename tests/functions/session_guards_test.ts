import assert from "node:assert/strict";
import { DEFAULT_SESSION_GUARDS, sessionGuardsFromEnv } from "../../functions/config.ts";
import { createHandler } from "../../functions/handler.ts";
import { createPrices } from "../../scripts/stack.ts";
import { paymentRequest } from "../support/checkout.ts";
import { call, rowCount, type Stack, withStack } from "../support/stack.ts";

const ALICE = "11111111-1111-4111-8111-111111111111";

const guards = (variables: Record<string, string>) =>
  sessionGuardsFromEnv({ get: (name) => variables[name] });

async function setup(stack: Stack, variables: Record<string, string>) {
  const connected = await stack.connectStripe();
  assert.equal(connected.status, 200, await connected.text());
  const [price] = await createPrices(stack.stripe, "Pack", [{ currency: "usd", unitAmount: 500 }]);
  const handler = createHandler({ ...stack.deps, sessionGuards: guards(variables) });
  const token = await stack.userToken(ALICE);
  const post = async (path: string, body: unknown) => {
    const response = await handler(
      new Request(`${stack.functionsUrl}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
    return { status: response.status, headers: response.headers, body: await response.json() };
  };
  return { price, post };
}

Deno.test("session settings come from the environment, and the defaults keep today's behaviour", () => {
  assert.deepEqual(guards({}), DEFAULT_SESSION_GUARDS);
  assert.deepEqual(
    guards({
      PAYMENTS_USER_ENVIRONMENTS: "live",
      PAYMENTS_REDIRECT_ORIGINS: "https://app.example.com, http://localhost:3000/",
      PAYMENTS_SESSIONS_PER_MINUTE: "5",
      PAYMENTS_PORTAL_CONFIGURATIONS: "bpc_basic, bpc_pro",
    }),
    {
      userEnvironments: ["live"],
      redirectOrigins: ["https://app.example.com", "http://localhost:3000"],
      sessionsPerMinute: 5,
      portalConfigurations: ["bpc_basic", "bpc_pro"],
    },
  );
  assert.throws(() => guards({ PAYMENTS_PORTAL_CONFIGURATIONS: "pro" }), /bpc_/);
  assert.throws(() => guards({ PAYMENTS_USER_ENVIRONMENTS: "prod" }), /test and\/or live/);
  assert.throws(
    () => guards({ PAYMENTS_REDIRECT_ORIGINS: "https://a.example/path" }),
    /origins only/,
  );
  assert.throws(() => guards({ PAYMENTS_SESSIONS_PER_MINUTE: "lots" }), /whole number/);
});

Deno.test("user routes refuse an environment the deployment does not accept; admin routes reach it", async () => {
  await withStack({}, async (stack) => {
    const { price, post } = await setup(stack, { PAYMENTS_USER_ENVIRONMENTS: "live" });
    const refused = await post("/stripe/test/checkout-sessions", paymentRequest(price));
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "forbidden");
    assert.match(refused.body.error.message, /does not accept test-mode sessions from users/);
    const portal = await post("/stripe/test/customer-portal-sessions", {});
    assert.equal(portal.status, 403);
    const [{ count }] = await stack.sql`
      select (select count(*) from payments.stripe_checkout_sessions)
           + (select count(*) from payments.stripe_customer_portal_sessions) as count`;
    assert.equal(Number(count), 0, "nothing is written for a refused environment");
    const admin = await call(stack, "GET", "/stripe/test/transactions", { token: stack.secretKey });
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
  });
});

Deno.test("status warns when a live key is configured and user routes accept test", async () => {
  await withStack({}, async (stack) => {
    const status = () =>
      createHandler({ ...stack.deps, sessionGuards: guards({}) })(
        new Request(`${stack.functionsUrl}/stripe/status`, {
          headers: { apikey: stack.secretKey },
        }),
      ).then((response) => response.json());
    assert.deepEqual((await status()).warnings, [], "no live key, no warning");
    await stack
      .sql`select payments_private.set_provider_secret('live', 'secret_key', 'sk_live_abcdefghijklmnop')`;
    const warnings: string[] = (await status()).warnings;
    assert.ok(warnings.some((text) => /user routes still accept test/.test(text)), warnings.join());
    const strict = await createHandler({
      ...stack.deps,
      sessionGuards: guards({
        PAYMENTS_USER_ENVIRONMENTS: "live",
        PAYMENTS_REDIRECT_ORIGINS: "https://app.example",
      }),
    })(
      new Request(`${stack.functionsUrl}/stripe/status`, { headers: { apikey: stack.secretKey } }),
    );
    assert.deepEqual((await strict.json()).warnings, []);
  });
});

Deno.test("checkout refuses redirect URLs outside PAYMENTS_REDIRECT_ORIGINS with a field error", async () => {
  await withStack({}, async (stack) => {
    const { price, post } = await setup(stack, {
      PAYMENTS_REDIRECT_ORIGINS: "https://app.example",
    });
    const refused = await post(
      "/stripe/test/checkout-sessions",
      paymentRequest(price, { successUrl: "https://evil.example/thanks" }),
    );
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.deepEqual(refused.body.error.details.fields, [
      { field: "successUrl", message: "must be on an allowed origin (https://app.example)." },
    ]);
    const portal = await post("/stripe/test/customer-portal-sessions", {
      returnUrl: "https://evil.example/billing",
    });
    assert.equal(portal.status, 400);
    assert.equal(portal.body.error.details.fields[0].field, "returnUrl");
    const allowed = await post("/stripe/test/checkout-sessions", paymentRequest(price));
    assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
  });
});

Deno.test("session creation over the per-user cap answers 429 with Retry-After", async () => {
  await withStack({}, async (stack) => {
    const { price, post } = await setup(stack, { PAYMENTS_SESSIONS_PER_MINUTE: "2" });
    const path = "/stripe/test/checkout-sessions";
    assert.equal((await post(path, paymentRequest(price, { idempotencyKey: "a" }))).status, 201);
    assert.equal((await post(path, paymentRequest(price))).status, 201);
    const limited = await post(path, paymentRequest(price));
    assert.equal(limited.status, 429, JSON.stringify(limited.body));
    assert.equal(limited.body.error.code, "rate_limited");
    const retryAfter = Number(limited.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.equal(limited.body.error.details.retryAfter, retryAfter);
    const replay = await post(path, paymentRequest(price, { idempotencyKey: "a" }));
    assert.equal(replay.status, 201, "a replayed idempotency key is not a new session");
    assert.equal(await rowCount(stack, "payments.stripe_checkout_sessions"), 2);
  });
});

Deno.test("retrying one failing checkout counts every Stripe attempt toward the per-user cap", async () => {
  await withStack({}, async (stack) => {
    const { post } = await setup(stack, { PAYMENTS_SESSIONS_PER_MINUTE: "3" });
    const path = "/stripe/test/checkout-sessions";
    // Stripe refuses the unknown price, so each retry of the key restarts a Stripe attempt.
    const request = paymentRequest("price_does_not_exist", { idempotencyKey: "same-key" });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await post(path, request));
    assert.deepEqual(answers.map((answer) => answer.status), [400, 400, 400, 429, 429]);
    assert.equal(answers[3].body.error.code, "rate_limited");
    assert.ok(Number(answers[3].headers.get("retry-after")) >= 1);
    const [row] = await stack.sql`
      select status, attempt from payments.stripe_checkout_sessions where idempotency_key = 'same-key'`;
    assert.deepEqual({ ...row }, { status: "failed", attempt: 3 });
  });
});

Deno.test("portal refuses a configurationId unless PAYMENTS_PORTAL_CONFIGURATIONS allows it", async () => {
  await withStack({}, async (stack) => {
    const path = "/stripe/test/customer-portal-sessions";
    const closed = await setup(stack, {});
    const refused = await closed.post(path, { configurationId: "bpc_admin" });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, "validation_failed");
    assert.equal(refused.body.error.details.fields[0].field, "configurationId");
    const open = await setup(stack, { PAYMENTS_PORTAL_CONFIGURATIONS: "bpc_basic" });
    const outside = await open.post(path, { configurationId: "bpc_admin" });
    assert.deepEqual(outside.body.error.details.fields, [
      {
        field: "configurationId",
        message: "must be one of the allowed configurations (bpc_basic).",
      },
    ]);
    // On the list, the request gets past validation to the customer look-up.
    const allowed = await open.post(path, { configurationId: "bpc_basic" });
    assert.equal(allowed.status, 404, JSON.stringify(allowed.body));
  });
});

Deno.test("checkout names an unknown body field instead of ignoring it", async () => {
  await withStack({}, async (stack) => {
    const { price, post } = await setup(stack, {});
    const typo = await post(
      "/stripe/test/checkout-sessions",
      {
        ...paymentRequest(price),
        successURL: "https://app.example/typo",
        lineItems: [{ priceId: price, price_data: { unit_amount: 1 } }],
      },
    );
    assert.equal(typo.status, 400, JSON.stringify(typo.body));
    assert.equal(typo.body.error.code, "validation_failed");
    assert.deepEqual(
      typo.body.error.details.fields.map((f: { field: string }) => f.field),
      ["successURL", "lineItems[0].price_data"],
    );
    assert.equal(await rowCount(stack, "payments.stripe_checkout_sessions"), 0);
  });
});
