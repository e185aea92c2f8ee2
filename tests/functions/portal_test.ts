import assert from "node:assert/strict";
import { call, rowCount, withStack } from "../support/stack.ts";

const ALICE = "44444444-4444-4444-8444-444444444444";
const BOB = "55555555-5555-4555-8555-555555555555";

Deno.test("portal answers 404 for a subject without a Stripe customer and keeps no row", async () => {
  await withStack({}, async (stack) => {
    assert.equal((await stack.connectStripe()).status, 200);
    const { status, body } = await call(stack, "POST", "/stripe/test/customer-portal-sessions", {
      token: await stack.userToken(ALICE),
      body: { returnUrl: "https://app.example/billing" },
    });
    assert.equal(status, 404);
    assert.equal(body.error.code, "not_found");
    assert.equal(await rowCount(stack, "payments.stripe_customer_portal_sessions"), 0);
  });
});

Deno.test("portal answers 403 when the caller opens someone else's billing", async () => {
  await withStack({}, async (stack) => {
    assert.equal((await stack.connectStripe()).status, 200);
    const customer = await stack.stripe.customers.create({ email: "bob@example.com" });
    await stack.sql`select payments.link_customer('test', 'user', ${BOB}, ${customer.id})`;
    const { status } = await call(stack, "POST", "/stripe/test/customer-portal-sessions", {
      token: await stack.userToken(ALICE),
      body: { subject: { type: "user", id: BOB } },
    });
    assert.equal(status, 403);
    const own = await call(stack, "POST", "/stripe/test/customer-portal-sessions", {
      token: await stack.userToken(BOB),
      body: { returnUrl: "https://app.example/billing" },
    });
    assert.equal(own.status, 201, JSON.stringify(own.body));
    assert.equal(own.body.customerPortalSession.customerId, customer.id);
    assert.match(own.body.customerPortalSession.url, /^http/);
  });
});
