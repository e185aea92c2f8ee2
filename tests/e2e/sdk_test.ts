// The client SDK with the real supabase-js against the local stack: the snippet, RLS
// refusals, validation, missing customers, network failures, and the same file run by Node.
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import {
  type CheckoutSessionParams,
  createPaymentsClient,
  PaymentsError,
  type Subject,
} from "../../client/mod.ts";
import { createPrices } from "../../scripts/stack.ts";
import { type Stack, withStack } from "../support/stack.ts";

const USER = "44444444-4444-4444-8444-444444444444";
const OTHER_USER = "55555555-5555-4555-8555-555555555555";
const TEAM = "66666666-6666-4666-8666-666666666666";
const ORIGIN = "https://app.example";

function supabaseFor(stack: Stack, token?: string, url = stack.baseUrl) {
  return createClient(url, stack.publishableKey, {
    global: token ? { headers: { Authorization: `Bearer ${token}` } } : {},
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
}

async function catalog(stack: Stack): Promise<{ oneTime: string; monthly: string }> {
  const [oneTime, monthly] = await createPrices(stack.stripe, "Pro", [
    { currency: "usd", unitAmount: 1900 },
    { currency: "usd", unitAmount: 1200, interval: "month" },
  ]);
  return { oneTime, monthly };
}

Deno.test("the SDK creates checkout and portal sessions and reports the server's errors", async (t) => {
  await withStack({}, async (stack) => {
    const connected = await stack.connectStripe();
    assert.equal(connected.status, 200, await connected.text());
    const prices = await catalog(stack);
    const user = { email: "ada@example.com" };
    const supabase = supabaseFor(stack, await stack.userToken(USER, user.email));
    const payments = createPaymentsClient(supabase);
    // The snippet: the monthly Pro subscription, billed to a subject.
    const proMonthly = (subject: Subject): CheckoutSessionParams => ({
      mode: "subscription",
      subject,
      lineItems: [{ priceId: prices.monthly, quantity: 1 }],
      successUrl: `${ORIGIN}/billing/success`,
      cancelUrl: `${ORIGIN}/billing`,
      customerEmail: user.email,
      idempotencyKey: `${subject.type}:${subject.id}:pro-monthly`,
    });

    await t.step("the issue's team snippet is refused by the default RLS with 403", async () => {
      const { data, error } = await payments.stripe.createCheckoutSession(
        "test",
        proMonthly({ type: "team", id: TEAM }),
      );
      assert.equal(data, null);
      assert.ok(error instanceof PaymentsError);
      assert.ok(error instanceof Error);
      assert.ok("statusCode" in error && error.statusCode === 403);
      assert.equal(error.code, "forbidden");
      assert.match(error.message, /row level security/i);
    });

    await t.step(
      "a subscription for the caller's own user subject returns a checkout url",
      async () => {
        const params = proMonthly({ type: "user", id: USER });
        const { data, error } = await payments.stripe.createCheckoutSession("test", params);
        assert.equal(error, null);
        assert.ok(data);
        const session = data.checkoutSession;
        assert.match(session.url ?? "", /^http:\/\/127\.0\.0\.1:\d+\//);
        assert.equal(session.status, "open");
        assert.equal(session.mode, "subscription");
        assert.deepEqual(session.subject, { type: "user", id: USER });
        assert.match(session.checkoutSessionId ?? "", /^cs_test_/);

        // The same idempotency key and body hand back the same session.
        const again = await payments.stripe.createCheckoutSession("test", params);
        assert.equal(again.error, null);
        assert.equal(again.data?.checkoutSession.id, session.id);
        assert.equal(again.data?.checkoutSession.url, session.url);

        // The same key with another body is a conflict.
        const conflict = await payments.stripe.createCheckoutSession("test", {
          ...params,
          lineItems: [{ priceId: prices.monthly, quantity: 2 }],
        });
        assert.equal(conflict.data, null);
        assert.equal(conflict.error?.statusCode, 409);
        assert.equal(conflict.error?.code, "idempotency_conflict");
      },
    );

    await t.step("a one-time payment returns a checkout url", async () => {
      const { data, error } = await payments.stripe.createCheckoutSession("test", {
        mode: "payment",
        lineItems: [{ priceId: prices.oneTime, quantity: 2 }],
        successUrl: `${ORIGIN}/checkout/success`,
        cancelUrl: `${ORIGIN}/pricing`,
        customerEmail: null,
        metadata: { order_id: "order-1" },
        idempotencyKey: "order:order-1",
      });
      assert.equal(error, null);
      assert.match(data?.checkoutSession.url ?? "", /^http/);
      assert.equal(data?.checkoutSession.mode, "payment");
    });

    await t.step("invalid parameters give data null and a 400 with the field details", async () => {
      const { data, error } = await payments.stripe.createCheckoutSession("test", {
        mode: "payment",
        lineItems: [],
        successUrl: "not a url",
        cancelUrl: `${ORIGIN}/pricing`,
      });
      assert.equal(data, null);
      assert.ok(error instanceof PaymentsError);
      assert.equal(error.statusCode, 400);
      assert.equal(error.code, "validation_failed");
      const fields = (error.details as { fields: { field: string }[] }).fields.map((f) => f.field);
      assert.deepEqual(fields.sort(), ["lineItems", "successUrl"]);
    });

    await t.step("an unknown environment is a 404", async () => {
      const { data, error } = await payments.stripe.createCheckoutSession(
        "staging" as "test",
        {
          mode: "payment",
          lineItems: [{ priceId: prices.oneTime }],
          successUrl: `${ORIGIN}/ok`,
          cancelUrl: `${ORIGIN}/no`,
        },
      );
      assert.equal(data, null);
      assert.equal(error?.statusCode, 404);
      assert.equal(error?.code, "not_found");
    });

    await t.step("the portal is a 404 for a subject without a customer", async () => {
      const other = createPaymentsClient(supabaseFor(stack, await stack.userToken(OTHER_USER)));
      const { data, error } = await other.stripe.createCustomerPortalSession("test", {
        subject: { type: "user", id: OTHER_USER },
        returnUrl: `${ORIGIN}/billing`,
      });
      assert.equal(data, null);
      assert.ok(error);
      assert.ok("statusCode" in error && error.statusCode === 404);
      assert.equal(error.code, "not_found");
    });

    await t.step("the portal opens for a subject whose checkout made a customer", async () => {
      const { data, error } = await payments.stripe.createCustomerPortalSession("test", {
        subject: { type: "user", id: USER },
        returnUrl: `${ORIGIN}/billing`,
      });
      assert.equal(error, null);
      assert.match(data?.customerPortalSession.url ?? "", /^http/);
      assert.equal(data?.customerPortalSession.returnUrl, `${ORIGIN}/billing`);
      assert.match(data?.customerPortalSession.customerId ?? "", /^cus_/);
    });

    await t.step("a caller without a user token gets a 401", async () => {
      const anonymous = createPaymentsClient(supabaseFor(stack));
      const { data, error } = await anonymous.stripe.createCustomerPortalSession("test", {});
      assert.equal(data, null);
      assert.equal(error?.statusCode, 401);
      assert.equal(error?.code, "unauthorized");
    });

    await t.step("a custom function name is used in the path", async () => {
      const renamed = createPaymentsClient(supabase, { functionName: "billing" });
      const { error } = await renamed.stripe.createCustomerPortalSession("test", {});
      // The local server only serves `payments`; its 404 body is still a server answer.
      assert.equal(error?.statusCode, 404);
    });

    await t.step("the same SDK file runs in Node and returns a checkout url", async () => {
      const script = `
        import { createClient } from "@supabase/supabase-js";
        import { createPaymentsClient } from "./client/index.js";
        const env = process.env;
        const supabase = createClient(env.SUPABASE_URL, env.SUPABASE_ANON_KEY, {
          global: { headers: { Authorization: "Bearer " + env.USER_TOKEN } },
          auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
        });
        const payments = createPaymentsClient(supabase);
        const ok = await payments.stripe.createCheckoutSession("test", {
          mode: "subscription", subject: { type: "user", id: env.USER_ID },
          lineItems: [{ priceId: env.PRICE_ID, quantity: 1 }],
          successUrl: "https://app.example/billing/success", cancelUrl: "https://app.example/billing",
          customerEmail: "node@example.com", idempotencyKey: "node:" + env.USER_ID,
        });
        const bad = await payments.stripe.createCustomerPortalSession("test", {
          subject: { type: "team", id: "nobody" },
        });
        console.log(JSON.stringify({
          url: ok.data?.checkoutSession.url ?? null, okError: ok.error?.message ?? null,
          badData: bad.data, badStatus: bad.error?.statusCode, badName: bad.error?.name,
        }));
      `;
      const userId = crypto.randomUUID();
      const output = await new Deno.Command("node", {
        args: ["--experimental-websocket", "--input-type=module", "--eval", script],
        cwd: new URL("../..", import.meta.url).pathname,
        env: {
          SUPABASE_URL: stack.baseUrl,
          SUPABASE_ANON_KEY: stack.publishableKey,
          USER_TOKEN: await stack.userToken(userId),
          USER_ID: userId,
          PRICE_ID: prices.monthly,
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, stderr);
      const result = JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
      assert.equal(result.okError, null);
      assert.match(result.url, /^http:\/\/127\.0\.0\.1:\d+\//);
      assert.equal(result.badData, null);
      assert.ok([403, 404].includes(result.badStatus), JSON.stringify(result));
      assert.equal(result.badName, "PaymentsError");
    });
  });
});

Deno.test("the SDK resolves a network failure to statusCode 0 and code network_error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const supabase = createClient(`http://127.0.0.1:${closedPort}`, "anon", {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  const payments = createPaymentsClient(supabase);
  const { data, error } = await payments.stripe.createCheckoutSession("test", {
    mode: "payment",
    lineItems: [{ priceId: "price_1" }],
    successUrl: `${ORIGIN}/ok`,
    cancelUrl: `${ORIGIN}/no`,
  });
  assert.equal(data, null);
  assert.ok(error instanceof PaymentsError);
  assert.equal(error.statusCode, 0);
  assert.equal(error.code, "network_error");
  assert.match(error.message, /^Could not reach the payments function/);
});

Deno.test("createPaymentsClient refuses something that is not a SupabaseClient", () => {
  assert.throws(
    () => createPaymentsClient({} as never),
    (error: unknown) => error instanceof TypeError && /SupabaseClient/.test(error.message),
  );
});
