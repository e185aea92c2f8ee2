/** Authentication, accounts, test/live separation and Stripe's error shapes. */
import assert from "node:assert/strict";
import { accountIdFor } from "../../emulator/auth.ts";
import { LIVE_KEY, stripeClient, stripeError, test, TEST_KEY } from "./helpers.ts";

test("a request without an API key gets Stripe's 401 error shape", async ({ emulator }) => {
  const response = await fetch(`${emulator.url}/v1/customers`);
  assert.equal(response.status, 401);
  const body = await response.json();
  assert.equal(body.error.type, "invalid_request_error");
  assert.match(body.error.message, /did not provide an API key/);
});

test("a malformed or publishable key is refused with 401 through the SDK", async ({ emulator }) => {
  for (const key of ["pk_test_abc", "sk_demo_abc", "sk_test_"]) {
    const error = await stripeError(stripeClient(emulator, key).customers.list());
    assert.equal(error.statusCode, 401, key);
    assert.equal(error.type, "StripeAuthenticationError", key);
    assert.match(error.message, /Invalid API Key provided/, key);
  }
});

test("curl-style Basic auth with the key as user name is accepted", async ({ emulator }) => {
  const response = await fetch(`${emulator.url}/v1/account`, {
    headers: { authorization: `Basic ${btoa(`${TEST_KEY}:`)}` },
  });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).id, accountIdFor("emulator"));
});

test("the account id follows the key's account part, so other keys can be other accounts", async ({ emulator }) => {
  const main = await stripeClient(emulator, "sk_test_acme_one").accounts.retrieveCurrent();
  const restricted = await stripeClient(emulator, "rk_live_acme_two").accounts
    .retrieveCurrent();
  const other = await stripeClient(emulator, "sk_test_globex").accounts.retrieveCurrent();
  assert.match(main.id, /^acct_[0-9a-f]{16}$/);
  assert.equal(main.id, accountIdFor("acme"));
  assert.equal(restricted.id, main.id);
  assert.notEqual(other.id, main.id);
  assert.equal(main.object, "account");
  assert.equal(main.charges_enabled, true);
});

test("test and live keys see separate data and objects carry livemode", async ({ emulator }) => {
  const test = stripeClient(emulator, TEST_KEY);
  const live = stripeClient(emulator, LIVE_KEY);
  const testProduct = await test.products.create({ name: "Test only" });
  const liveProduct = await live.products.create({ name: "Live only" });
  assert.equal(testProduct.livemode, false);
  assert.equal(liveProduct.livemode, true);
  assert.deepEqual((await test.products.list()).data.map((p) => p.id), [testProduct.id]);
  assert.deepEqual((await live.products.list()).data.map((p) => p.id), [liveProduct.id]);
  const error = await stripeError(live.products.retrieve(testProduct.id));
  assert.equal(error.statusCode, 404);
  const session = await live.checkout.sessions.create({
    mode: "payment",
    line_items: [{
      price_data: { currency: "usd", unit_amount: 500, product_data: { name: "Live thing" } },
      quantity: 1,
    }],
    success_url: "https://example.com/ok",
  });
  assert.match(session.id, /^cs_live_/);
});

test("another account's objects are invisible", async ({ emulator }) => {
  const product = await stripeClient(emulator, "sk_test_one").products.create({ name: "One" });
  const error = await stripeError(
    stripeClient(emulator, "sk_test_two").products.retrieve(product.id),
  );
  assert.equal(error.statusCode, 404);
});

test("an unknown id is a 404 resource_missing naming the param", async ({ emulator }) => {
  const error = await stripeError(stripeClient(emulator).customers.retrieve("cus_missing"));
  assert.equal(error.statusCode, 404);
  assert.equal(error.type, "StripeInvalidRequestError");
  assert.equal(error.code, "resource_missing");
  assert.equal(error.param, "id");
  assert.equal(error.message, "No such customer: 'cus_missing'");
});

test("a missing required param is a 400 parameter_missing naming it", async ({ stripe }) => {
  const error = await stripeError(
    stripe.prices.create({ currency: "usd", unit_amount: 100 } as never),
  );
  assert.equal(error.statusCode, 400);
  assert.equal(error.code, "parameter_missing");
  assert.equal(error.param, "product");

  const nested = await stripeError(stripe.checkout.sessions.create({
    mode: "payment",
    line_items: [{ quantity: 1 }],
  }));
  assert.equal(nested.code, "parameter_missing");
  assert.equal(nested.param, "line_items[0][price]");
});

test("an invalid integer is a 400 parameter_invalid_integer naming the param", async ({ emulator }) => {
  const response = await fetch(`${emulator.url}/v1/prices`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${TEST_KEY}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "product=prod_x&currency=usd&unit_amount=ten",
  });
  assert.equal(response.status, 400);
  const { error } = await response.json();
  assert.deepEqual(
    { type: error.type, code: error.code, param: error.param },
    {
      type: "invalid_request_error",
      code: "parameter_invalid_integer",
      param: "unit_amount",
    },
  );
});

test("an unknown API path is a 404 invalid_request_error", async ({ emulator }) => {
  const response = await fetch(`${emulator.url}/v1/coupons`, {
    headers: { authorization: `Bearer ${TEST_KEY}` },
  });
  assert.equal(response.status, 404);
  assert.match((await response.json()).error.message, /Unrecognized request URL/);
});

test("every response carries a request id and the API version", async ({ emulator }) => {
  const response = await fetch(`${emulator.url}/v1/account`, {
    headers: { authorization: `Bearer ${TEST_KEY}` },
  });
  await response.body?.cancel();
  assert.match(response.headers.get("request-id") ?? "", /^req_/);
  assert.equal(response.headers.get("stripe-version"), "2026-10-28.endive");
});
