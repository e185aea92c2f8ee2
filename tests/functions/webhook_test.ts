import assert from "node:assert/strict";
import { connect } from "../../functions/db.ts";
import { createHandler } from "../../functions/handler.ts";
import { breakAppTrigger } from "../support/app_trigger.ts";
import { call, postStreamed, rowCount, type Stack, withStack } from "../support/stack.ts";
import { customerUpdatedEvent, signPayload } from "../support/webhooks.ts";

const SECRET = "whsec_test_secret_for_webhook_tests";

const sign = (payload: string, secret = SECRET, timestamp?: number) =>
  signPayload(payload, secret, timestamp);

async function useSecret(stack: Stack) {
  await stack.sql`select payments_private.set_provider_secret('test', 'webhook_secret', ${SECRET})`;
}

/** A test against a stack whose test environment knows the webhook secret. */
function webhookTest(name: string, fn: (stack: Stack) => Promise<void>) {
  Deno.test(`webhook: ${name}`, async () => {
    await withStack({}, async (stack) => {
      await useSecret(stack);
      await fn(stack);
    });
  });
}

async function post(stack: Stack, body: string, signature?: string, environment = "test") {
  return await call(stack, "POST", `/webhooks/stripe/${environment}`, {
    body,
    headers: signature === undefined ? {} : { "stripe-signature": signature },
  });
}

/** Delivers `body` as Stripe would, signed with the secret the stack knows. */
async function deliver(stack: Stack, body: string) {
  return await post(stack, body, await sign(body));
}

/** The name of the customer the events project, cus_webhook. */
async function customerName(stack: Stack): Promise<string> {
  const [customer] = await stack
    .sql`select name from payments.customers where customer_id = 'cus_webhook'`;
  return customer.name;
}

webhookTest(
  "a signed event is processed once; duplicates answer 200 without reprocessing",
  async (stack) => {
    const body = JSON.stringify(customerUpdatedEvent("evt_dup", { created: 1_700_000_000 }));
    const first = await deliver(stack, body);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.status, "processed");
    const second = await deliver(stack, body);
    assert.equal(second.status, 200);
    assert.equal(second.body.status, "duplicate");
    const [row] = await stack
      .sql`select attempt_count, processing_status from payments.webhook_events`;
    assert.deepEqual({ ...row }, { attempt_count: 1, processing_status: "processed" });
    assert.equal(await customerName(stack), "Ada");
  },
);

webhookTest(
  "bad signatures, stale timestamps and missing headers answer 400 and write nothing",
  async (stack) => {
    const body = JSON.stringify(customerUpdatedEvent("evt_bad", { created: 1_700_000_000 }));
    assert.equal((await post(stack, body, await sign(body, "whsec_other"))).status, 400);
    const old = await sign(body, SECRET, Math.floor(Date.now() / 1000) - 301);
    const stale = await post(stack, body, old);
    assert.equal(stale.status, 400);
    assert.equal(stale.body.error.code, "invalid_signature");
    assert.equal((await post(stack, body)).status, 400);
    assert.equal((await post(stack, body + " ", await sign(body))).status, 400);
    assert.equal(await rowCount(stack, "payments.webhook_events"), 0);
  },
);

webhookTest("during secret rotation any matching v1 signature is accepted", async (stack) => {
  const body = JSON.stringify(customerUpdatedEvent("evt_rotation", { created: 1_700_000_000 }));
  const timestamp = Math.floor(Date.now() / 1000);
  const old = (await sign(body, "whsec_old_secret", timestamp)).split(",v1=")[1];
  const current = (await sign(body, SECRET, timestamp)).split(",v1=")[1];
  const { status } = await post(stack, body, `t=${timestamp},v1=${old},v1=${current}`);
  assert.equal(status, 200);
});

webhookTest(
  "a livemode event on the test path, or malformed JSON, answers 400 and writes nothing",
  async (stack) => {
    const livemode = customerUpdatedEvent("evt_live", { created: 1_700_000_000, livemode: true });
    for (const body of [JSON.stringify(livemode), "{not json"]) {
      const { status, body: answer } = await deliver(stack, body);
      assert.equal(status, 400, body.slice(0, 20));
      assert.equal(answer.error.code, "invalid_event");
    }
    assert.equal(await rowCount(stack, "payments.webhook_events"), 0);
  },
);

webhookTest("bodies over 1 MiB answer 413", async (stack) => {
  const body = JSON.stringify({
    ...customerUpdatedEvent("evt_big", { created: 1 }),
    padding: "x".repeat(1024 * 1024),
  });
  const { status } = await deliver(stack, body);
  assert.equal(status, 413);
  assert.equal(await rowCount(stack, "payments.webhook_events"), 0);
});

webhookTest("a streamed body without a length is cut off past 1 MiB with 413", async (stack) => {
  const { status, pulled } = await postStreamed(
    stack,
    "/webhooks/stripe/test",
    { "stripe-signature": "t=1,v1=00" },
    new TextEncoder().encode("x".repeat(64 * 1024)),
    32,
  );
  assert.equal(status, 413);
  assert.ok(pulled <= 18, `reading stopped early (${pulled} chunks pulled)`);
  assert.equal(await rowCount(stack, "payments.webhook_events"), 0);
});

webhookTest("an older event delivered after a newer one does not overwrite it", async (stack) => {
  const newer = JSON.stringify(
    customerUpdatedEvent("evt_newer", { created: 1_700_000_100, name: "Newer" }),
  );
  const older = JSON.stringify(
    customerUpdatedEvent("evt_older", { created: 1_700_000_000, name: "Older" }),
  );
  assert.equal((await deliver(stack, newer)).status, 200);
  assert.equal((await deliver(stack, older)).status, 200);
  assert.equal(await customerName(stack), "Newer");
});

webhookTest(
  "a failing app trigger answers 500, leaves the event failed, and a redelivery succeeds",
  async (stack) => {
    const fix = await breakAppTrigger(stack.sql, "fulfillment is down");
    const body = JSON.stringify(customerUpdatedEvent("evt_flaky", { created: 1_700_000_000 }));
    const failed = await deliver(stack, body);
    assert.equal(failed.status, 500);
    assert.equal(failed.body.error.code, "event_failed");
    const [event] = await stack
      .sql`select processing_status, last_error from payments.webhook_events`;
    assert.equal(event.processing_status, "failed");
    assert.match(event.last_error, /fulfillment is down/);
    assert.equal(
      await rowCount(stack, "payments.customers"),
      0,
      "the projection was rolled back with the trigger",
    );

    await fix();
    const retried = await deliver(stack, body);
    assert.equal(retried.status, 200);
    assert.equal(retried.body.status, "processed");
  },
);

Deno.test("webhook: answers 503 database_unavailable when the database is unreachable, so Stripe retries", async () => {
  await withStack({}, async (stack) => {
    const sql = connect("postgres://postgres@127.0.0.1:9/none?sslmode=disable", { max: 1 });
    try {
      const handler = createHandler({ ...stack.deps, sql });
      const body = JSON.stringify(customerUpdatedEvent("evt_down", { created: 1 }));
      const response = await handler(
        new Request(`${stack.functionsUrl}/webhooks/stripe/test`, {
          method: "POST",
          body,
          headers: { "stripe-signature": await sign(body) },
        }),
      );
      assert.equal(response.status, 503);
      assert.equal((await response.json()).error.code, "database_unavailable");
    } finally {
      await sql.end({ timeout: 0 });
    }
  });
});

webhookTest("concurrent deliveries of one event are processed exactly once", async (stack) => {
  const body = JSON.stringify(customerUpdatedEvent("evt_parallel", { created: 1_700_000_000 }));
  const signature = await sign(body);
  const results = await Promise.all(
    Array.from({ length: 10 }, () => post(stack, body, signature)),
  );
  assert.deepEqual(results.map((r) => r.status), Array(10).fill(200));
  const statuses = results.map((r) => r.body.status).sort();
  assert.deepEqual(statuses, ["duplicate", ...Array(8).fill("duplicate"), "processed"].sort());
  const [row] = await stack
    .sql`select attempt_count, processing_status from payments.webhook_events`;
  assert.deepEqual({ ...row }, { attempt_count: 1, processing_status: "processed" });
});

webhookTest(
  "a timestamp more than 300 s in the future answers 400 and writes nothing",
  async (stack) => {
    const body = JSON.stringify(customerUpdatedEvent("evt_future", { created: 1_700_000_000 }));
    const now = Math.floor(Date.now() / 1000);
    const future = await post(stack, body, await sign(body, SECRET, now + 301));
    assert.equal(future.status, 400);
    assert.equal(future.body.error.code, "invalid_signature");
    assert.equal(await rowCount(stack, "payments.webhook_events"), 0);
    // Clocks a little apart are fine, both ways.
    const skewed = await post(stack, body, await sign(body, SECRET, now + 240));
    assert.equal(skewed.status, 200);
  },
);
