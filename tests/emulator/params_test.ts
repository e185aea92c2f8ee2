/**
 * Unknown parameters are refused with Stripe's `parameter_unknown` error, top-level and nested;
 * `metadata`, `expand[]`, list parameters and accepted-but-ignored parameters pass.
 * Raw `fetch` with a form body, since the SDK's types keep unknown parameters out.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import type { RunningEmulator } from "../../emulator/server.ts";
import { stripeError, test, TEST_KEY } from "./helpers.ts";

type Form = [string, string][];
/** A request, and the parameter its `parameter_unknown` error names. */
type Case = [method: string, path: string, form: Form, refused: string];

/** GET and DELETE send `form` in the query, POST in the body. */
async function call(
  emulator: RunningEmulator,
  method: string,
  path: string,
  form: Form = [],
): Promise<{ status: number; body: Record<string, unknown> }> {
  const encoded = new URLSearchParams(form).toString();
  const withBody = method === "POST";
  const response = await fetch(
    `${emulator.url}${path}${!withBody && encoded ? `?${encoded}` : ""}`,
    {
      method,
      headers: {
        authorization: `Bearer ${TEST_KEY}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: withBody ? encoded : undefined,
    },
  );
  return { status: response.status, body: await response.json() };
}

function assertUnknown(
  result: { status: number; body: Record<string, unknown> },
  param: string,
): void {
  assert.equal(result.status, 400, JSON.stringify(result.body));
  assert.deepEqual(result.body, {
    error: {
      type: "invalid_request_error",
      code: "parameter_unknown",
      message: `Received unknown parameter: ${param}`,
      param,
      doc_url: "https://stripe.com/docs/error-codes/parameter-unknown",
    },
  });
}

const ONE_TIME_LINE: Form = [
  ["line_items[0][price_data][currency]", "usd"],
  ["line_items[0][price_data][unit_amount]", "500"],
  ["line_items[0][price_data][product_data][name]", "Thing"],
  ["line_items[0][quantity]", "1"],
];

const PAYMENT_SESSION: Form = [
  ["mode", "payment"],
  ["success_url", "https://example.com/ok"],
  ...ONE_TIME_LINE,
];

test("every endpoint refuses an unknown top-level parameter before doing anything", async ({ emulator }) => {
  const endpoints: [string, string][] = [
    ["GET", "/v1/account"],
    ["POST", "/v1/products"],
    ["GET", "/v1/products"],
    ["GET", "/v1/products/prod_x"],
    ["POST", "/v1/products/prod_x"],
    ["DELETE", "/v1/products/prod_x"],
    ["POST", "/v1/prices"],
    ["GET", "/v1/prices"],
    ["GET", "/v1/prices/price_x"],
    ["POST", "/v1/prices/price_x"],
    ["POST", "/v1/customers"],
    ["GET", "/v1/customers"],
    ["GET", "/v1/customers/cus_x"],
    ["POST", "/v1/customers/cus_x"],
    ["DELETE", "/v1/customers/cus_x"],
    ["POST", "/v1/checkout/sessions"],
    ["GET", "/v1/checkout/sessions"],
    ["GET", "/v1/checkout/sessions/cs_x"],
    ["POST", "/v1/checkout/sessions/cs_x/expire"],
    ["GET", "/v1/checkout/sessions/cs_x/line_items"],
    ["POST", "/v1/billing_portal/sessions"],
    ["GET", "/v1/subscriptions"],
    ["GET", "/v1/subscriptions/sub_x"],
    ["POST", "/v1/subscriptions/sub_x"],
    ["DELETE", "/v1/subscriptions/sub_x"],
    ["GET", "/v1/invoices"],
    ["GET", "/v1/invoices/in_x"],
    ["GET", "/v1/payment_intents"],
    ["GET", "/v1/payment_intents/pi_x"],
    ["GET", "/v1/charges"],
    ["GET", "/v1/charges/ch_x"],
    ["POST", "/v1/refunds"],
    ["GET", "/v1/refunds"],
    ["GET", "/v1/refunds/re_x"],
    ["POST", "/v1/webhook_endpoints"],
    ["GET", "/v1/webhook_endpoints"],
    ["GET", "/v1/webhook_endpoints/we_x"],
    ["POST", "/v1/webhook_endpoints/we_x"],
    ["DELETE", "/v1/webhook_endpoints/we_x"],
    ["GET", "/v1/events"],
    ["GET", "/v1/events/evt_x"],
  ];
  for (const [method, path] of endpoints) {
    const result = await call(emulator, method, path, [["bogus", "1"]]);
    assertUnknown(result, "bogus");
  }
});

test("an unknown parameter fails the whole request: nothing is created", async ({ emulator }) => {
  assertUnknown(
    await call(emulator, "POST", "/v1/customers", [["email", "a@example.com"], ["emial", "x"]]),
    "emial",
  );
  const list = await call(emulator, "GET", "/v1/customers");
  assert.deepEqual(list.body.data, []);
  assertUnknown(
    await call(emulator, "POST", "/v1/checkout/sessions", [
      ...PAYMENT_SESSION,
      ["sucess_url", "https://example.com/typo"],
    ]),
    "sucess_url",
  );
  assert.deepEqual((await call(emulator, "GET", "/v1/checkout/sessions")).body.data, []);
});

test("unknown nested parameters are named in bracket notation", async ({ emulator }) => {
  /** A payment session with one more parameter, `key`; the error names `refused`. */
  const session = (key: string, value: string, refused = key): Case => [
    "POST",
    "/v1/checkout/sessions",
    [...PAYMENT_SESSION, [key, value]],
    refused,
  ];
  const cases: Case[] = [
    session("line_items[0][bogus]", "1"),
    session("line_items[0][price_data][product_data][colour]", "red"),
    session("line_items[0][price_data][recurring][interval_cnt]", "2"),
    session("payment_intent_data[metdata][order]", "1", "payment_intent_data[metdata]"),
    [
      "POST",
      "/v1/checkout/sessions",
      [
        ["mode", "subscription"],
        ["success_url", "https://example.com/ok"],
        ["line_items[0][price]", "price_x"],
        ["line_items[0][quantity]", "1"],
        ["subscription_data[bogus]", "1"],
      ],
      "subscription_data[bogus]",
    ],
    [
      "POST",
      "/v1/prices",
      [
        ["currency", "usd"],
        ["unit_amount", "100"],
        ["product", "prod_x"],
        ["recurring[interval]", "month"],
        ["recurring[bogus]", "1"],
      ],
      "recurring[bogus]",
    ],
    [
      "POST",
      "/v1/prices",
      [
        ["currency", "usd"],
        ["unit_amount", "100"],
        ["product_data[name]", "Thing"],
        ["product_data[url]", "https://example.com"],
      ],
      "product_data[url]",
    ],
    [
      "POST",
      "/v1/products",
      [["name", "Thing"], ["default_price_data[currency]", "usd"], [
        "default_price_data[lookup_key]",
        "basic",
      ]],
      "default_price_data[lookup_key]",
    ],
    [
      "POST",
      "/v1/products",
      [["name", "Thing"], ["marketing_features[0][name]", "Fast"], [
        "marketing_features[1][title]",
        "Good",
      ]],
      "marketing_features[1][title]",
    ],
    ["POST", "/v1/customers", [["address[zip]", "12345"]], "address[zip]"],
    [
      "DELETE",
      "/v1/subscriptions/sub_x",
      [["cancellation_details[reason]", "x"]],
      "cancellation_details[reason]",
    ],
    ["GET", "/v1/events", [["created[after]", "1"]], "created[after]"],
  ];
  for (const [method, path, form, param] of cases) {
    assertUnknown(await call(emulator, method, path, form), param);
  }
});

test("metadata keys, expand[], list parameters and created ranges are accepted", async ({ emulator }) => {
  const created = await call(emulator, "POST", "/v1/customers", [
    ["email", "a@example.com"],
    ["metadata[any_key_at_all]", "1"],
    ["metadata[bogus]", "2"],
    ["expand[]", "test_clock"],
  ]);
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.deepEqual(created.body.metadata, { any_key_at_all: "1", bogus: "2" });
  const list = await call(emulator, "GET", "/v1/customers", [
    ["limit", "5"],
    ["starting_after", created.body.id as string],
    ["created[gte]", "0"],
    ["email", "a@example.com"],
  ]);
  assert.equal(list.status, 200, JSON.stringify(list.body));
  const events = await call(emulator, "GET", "/v1/events", [
    ["created[gt]", "0"],
    ["created[lte]", "9999999999"],
    ["types[]", "customer.created"],
  ]);
  assert.equal(events.status, 200, JSON.stringify(events.body));
  assert.equal((events.body.data as unknown[]).length, 1);
});

test("parameters real Stripe accepts but the emulator ignores still pass", async ({ emulator }) => {
  const session = await call(emulator, "POST", "/v1/checkout/sessions", [
    ...PAYMENT_SESSION,
    ["automatic_tax[enabled]", "true"],
    ["allow_promotion_codes", "true"],
    ["billing_address_collection", "required"],
    ["locale", "de"],
    ["payment_method_types[0]", "card"],
    ["consent_collection[terms_of_service]", "required"],
    ["phone_number_collection[enabled]", "true"],
    ["line_items[0][adjustable_quantity][enabled]", "true"],
    ["line_items[0][price_data][product_data][tax_details][tax_code]", "txcd_10000000"],
    ["payment_intent_data[capture_method]", "automatic"],
    ["metadata[order]", "42"],
  ]);
  assert.equal(session.status, 200, JSON.stringify(session.body));
  assert.equal(session.body.locale, "de");
  const cancel = await call(emulator, "POST", "/v1/subscriptions/sub_missing", [
    ["proration_behavior", "none"],
  ]);
  assert.equal(cancel.status, 404);
});

test("the SDK sees parameter_unknown as an invalid request naming the parameter", async ({ stripe }) => {
  const params = { name: "Thing", colour: "red" } as unknown as Stripe.ProductCreateParams;
  const error = await stripeError(stripe.products.create(params));
  assert.equal(error.type, "StripeInvalidRequestError");
  assert.equal(error.statusCode, 400);
  assert.equal(error.code, "parameter_unknown");
  assert.equal(error.param, "colour");
  assert.equal(error.message, "Received unknown parameter: colour");
});
