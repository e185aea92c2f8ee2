import assert from "node:assert/strict";
import { errorAnswer } from "../../functions/errors.ts";
import { breakAppTrigger } from "../support/app_trigger.ts";
import { call, rowCount, withStack } from "../support/stack.ts";

Deno.test("config validates the key, stores it, creates the webhook endpoint and syncs", async () => {
  await withStack({}, async (stack) => {
    const stripe = stack.stripe;
    const product = await stripe.products.create({ name: "Synced" });
    await stripe.prices.create({ product: product.id, currency: "usd", unit_amount: 100 });

    const connected = await stack.connectStripe();
    const body = await connected.json();
    assert.equal(connected.status, 200, JSON.stringify(body));
    assert.equal(body.webhook.status, "configured");
    assert.equal(body.sync.type, "done");
    assert.equal(body.sync.counts.product, 1);
    assert.ok(!JSON.stringify(body).includes("sk_test_localemulator"), "the key is never returned");

    const endpoints = await stripe.webhookEndpoints.list();
    assert.equal(endpoints.data.length, 1);
    assert.equal(endpoints.data[0].url, `${stack.functionsUrl}/webhooks/stripe/test`);
    const [{ types }] = await stack.sql`select payments.stripe_webhook_event_types() as types`;
    assert.deepEqual([...endpoints.data[0].enabled_events].sort(), [...types].sort());

    const status = await call(stack, "GET", "/stripe/status", { token: stack.secretKey });
    assert.equal(status.status, 200);
    const test = status.body.environments.test;
    assert.equal(test.configured, true);
    assert.equal(test.secretKeyLast4, "0000");
    assert.equal(test.counts.products, 1);
    assert.equal(test.webhook.signingSecretStored, true);
    assert.equal(status.body.environments.live.configured, false);
    assert.ok(!JSON.stringify(status.body).includes("whsec_"), "no secret in the status");

    // Configuring again repairs rather than duplicates the endpoint.
    assert.equal((await stack.connectStripe()).status, 200);
    assert.equal((await stripe.webhookEndpoints.list()).data.length, 1);
  });
});

Deno.test("config refuses keys of the wrong mode or shape with a field error", async () => {
  await withStack({}, async (stack) => {
    for (
      const secretKey of ["sk_live_abcdefghijkl", "pk_test_abcdefghijkl", "sk_test_abc", "", 42]
    ) {
      const { status, body } = await call(stack, "PUT", "/stripe/test/config", {
        token: stack.secretKey,
        body: { secretKey },
      });
      assert.equal(status, 400);
      assert.equal(body.error.details.fields[0].field, "secretKey");
    }
  });
});

Deno.test("admin routes need the service role; users get 403 and strangers 401", async () => {
  await withStack({}, async (stack) => {
    const user = await stack.userToken("66666666-6666-4666-8666-666666666666");
    assert.equal((await call(stack, "GET", "/stripe/status", { token: user })).status, 403);
    assert.equal((await call(stack, "GET", "/stripe/status")).status, 401);
    assert.equal(
      (await call(stack, "POST", "/stripe/test/sync", { token: stack.publishableKey })).status,
      403,
    );
  });
});

Deno.test("sync pages through a few hundred objects and archives what Stripe no longer has", async () => {
  await withStack({}, async (stack) => {
    const stripe = stack.stripe;
    assert.equal((await stack.connectStripe()).status, 200);
    const ids: string[] = [];
    for (let i = 0; i < 230; i++) {
      ids.push((await stripe.products.create({ name: `Product ${i}` })).id);
    }
    const response = await fetch(`${stack.functionsUrl}/stripe/test/sync`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.secretKey}`, accept: "application/x-ndjson" },
    });
    assert.equal(response.status, 200);
    const lines = (await response.text()).trim().split("\n").map((line) => JSON.parse(line));
    const productPages = lines.filter((line) => line.type === "page" && line.object === "product");
    assert.deepEqual(productPages.map((page) => page.count), [100, 100, 30]);
    assert.equal(lines.at(-1).type, "done");
    const [{ count }] = await stack.sql`
      select count(*)::int from payments.stripe_products where archived_at is null`;
    assert.equal(count, 230);

    await stack
      .sql`insert into payments.stripe_products (environment, product_id, name, stripe_updated_at)
      values ('test', 'prod_gone', 'Gone from Stripe', now() - interval '1 day')`;
    const again = await call(stack, "POST", "/stripe/test/sync", { token: stack.secretKey });
    assert.equal(again.status, 200);
    assert.equal(again.body.sync.archived.product, 1);
    const [gone] = await stack
      .sql`select archived_at from payments.stripe_products where product_id = 'prod_gone'`;
    assert.ok(gone.archived_at);
    const [connection] = await stack
      .sql`select last_sync_status, last_sync_counts from payments.provider_connections`;
    assert.equal(connection.last_sync_status, "succeeded");
    assert.equal(connection.last_sync_counts.product, 230);
  });
});

Deno.test("a streamed sync that fails ends with the error line the one error mapping gives, and logs the cause", async () => {
  const logged: string[] = [];
  await withStack({ log: (line) => logged.push(line) }, async (stack) => {
    assert.equal((await stack.connectStripe()).status, 200);
    await stack.stripe.products.create({ name: "Breaks the sync" });
    // A failure the mapping does not know (an app's trigger), carrying text the caller must not see.
    await stack.sql.unsafe(`
      create function public.failing_product_trigger() returns trigger language plpgsql as $$
      begin
        raise exception 'product mirror broke: password=hunter2';
      end $$;
      create trigger failing_product_trigger after insert or update on payments.stripe_products
        for each row execute function public.failing_product_trigger();`);
    const response = await fetch(`${stack.functionsUrl}/stripe/test/sync`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.secretKey}`, accept: "application/x-ndjson" },
    });
    assert.equal(response.status, 200);
    const text = await response.text();
    const lines = text.trim().split("\n").map((line) => JSON.parse(line));
    const answered = errorAnswer(new Error("anything unexpected"), () => {}).body.error;
    assert.deepEqual(lines.at(-1), {
      type: "error",
      code: answered.code,
      message: answered.message,
    });
    assert.equal(answered.code, "internal_error");
    assert.doesNotMatch(text, /hunter2|failing_product_trigger|\bat\b.*\.ts/);
    assert.ok(
      logged.some((line) => /^unexpected error: product mirror broke/.test(line)),
      `the cause is logged through deps.log: ${JSON.stringify(logged)}`,
    );
  });
});

Deno.test("replay reprocesses a failed event once and 404s an unknown one", async () => {
  await withStack({}, async (stack) => {
    const event = {
      id: "evt_replay",
      object: "event",
      type: "product.created",
      created: 1_700_000_000,
      livemode: false,
      api_version: "2026-10-28.endive",
      data: {
        object: {
          id: "prod_replay",
          object: "product",
          name: "Replayed",
          active: true,
          metadata: {},
          created: 1_700_000_000,
          updated: 1_700_000_000,
        },
      },
    };
    const fix = await breakAppTrigger(stack.sql, "not yet");
    const [{ result }] = await stack.sql`select payments.ingest_stripe_event('test', ${
      stack.sql.json(event)
    }) as result`;
    assert.equal(result.status, "failed");
    await fix();

    const replayed = await call(stack, "POST", "/stripe/test/events/evt_replay/replay", {
      token: stack.secretKey,
    });
    assert.equal(replayed.status, 200, JSON.stringify(replayed.body));
    assert.equal(replayed.body.event.status, "processed");
    const twice = await call(stack, "POST", "/stripe/test/events/evt_replay/replay", {
      token: stack.secretKey,
    });
    assert.equal(twice.body.event.status, "duplicate");
    const missing = await call(stack, "POST", "/stripe/test/events/evt_nope/replay", {
      token: stack.secretKey,
    });
    assert.equal(missing.status, 404);
  });
});

Deno.test("removing the config deletes the key and the webhook endpoint", async () => {
  await withStack({}, async (stack) => {
    assert.equal((await stack.connectStripe()).status, 200);
    const removed = await call(stack, "DELETE", "/stripe/test/config", {
      token: stack.secretKey,
    });
    assert.equal(removed.status, 200);
    assert.equal(removed.body.removed, true);
    assert.equal(removed.body.webhookRemoved, true);
    assert.equal((await stack.stripe.webhookEndpoints.list()).data.length, 0);
    const again = await call(stack, "DELETE", "/stripe/test/config", {
      token: stack.secretKey,
    });
    assert.deepEqual(again.body, { environment: "test", removed: false, webhookRemoved: false });
    const status = await call(stack, "GET", "/stripe/status", { token: stack.secretKey });
    assert.equal(status.body.environments.test.configured, false);
  });
});

Deno.test("a key of another Stripe account archives the previous account's rows", async () => {
  await withStack({}, async (stack) => {
    assert.equal((await stack.connectStripe()).status, 200);
    await stack
      .sql`insert into payments.stripe_products (environment, product_id, name, stripe_updated_at)
      values ('test', 'prod_old_account', 'Old', now())`;
    await stack.sql`select payments.link_customer('test', 'user', 'someone', 'cus_old_account')`;
    const other = await call(stack, "PUT", "/stripe/test/config", {
      token: stack.secretKey,
      body: { secretKey: "sk_test_anotheraccount999999" },
    });
    assert.equal(other.status, 200, JSON.stringify(other.body));
    assert.equal(other.body.account.accountChanged, true);
    assert.equal(
      (await stack.stripe.webhookEndpoints.list()).data.length,
      0,
      "the previous account's endpoint is removed",
    );
    const [old] = await stack
      .sql`select archived_at from payments.stripe_products where product_id = 'prod_old_account'`;
    assert.ok(old.archived_at);
    assert.equal(await rowCount(stack, "payments.customer_mappings"), 0);
  });
});
