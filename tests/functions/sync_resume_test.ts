import assert from "node:assert/strict";
import type { SyncProgress } from "../../functions/wire.ts";
import { call, type Stack, withStack } from "../support/stack.ts";

const SEED = { customers: 530, subscriptions: 40, invoices: 25, payments: 60 };

async function seed(stack: Stack) {
  const response = await fetch(`${stack.emulatorUrl}/_emulator/seed`, {
    method: "POST",
    body: JSON.stringify({ ...SEED, api_key: "sk_test_localemulator0000000000" }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return await response.json();
}

/** Reads the sync's NDJSON stream until `stopAfter` says so, then drops the connection. */
async function streamSync(
  stack: Stack,
  body: unknown,
  stopAfter: (step: SyncProgress) => boolean = () => false,
): Promise<SyncProgress[]> {
  const response = await fetch(`${stack.functionsUrl}/stripe/test/sync`, {
    method: "POST",
    headers: {
      apikey: stack.secretKey,
      accept: "application/x-ndjson",
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200);
  const steps: SyncProgress[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return steps;
    buffered += value;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines.filter(Boolean)) {
      const step = JSON.parse(line) as SyncProgress;
      steps.push(step);
      if (stopAfter(step)) {
        await reader.cancel();
        return steps;
      }
    }
  }
}

async function mirrored(stack: Stack) {
  const [row] = await stack.sql`
    select (select count(*)::int from payments.customers where environment = 'test' and archived_at is null) as customers,
           (select count(*)::int from payments.stripe_subscriptions where environment = 'test' and archived_at is null) as subscriptions`;
  return row;
}

Deno.test("an interrupted sync resumes after its last stored page instead of starting over", async () => {
  await withStack({}, async (stack) => {
    assert.equal((await stack.connectStripe()).status, 200);
    await seed(stack);

    // The client goes away after the second page of customers: the run stays unfinished.
    const first = await streamSync(
      stack,
      {},
      (step) => step.type === "page" && step.object === "customer" && step.page === 2,
    );
    assert.equal(first.at(-1)?.type, "page");
    // The server may have stored a page or two ahead of what the client read before it left.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [checkpoint] = await stack.sql`
      select c.cursor, c.total, c.completed from payments_private.sync_checkpoints c
      where c.environment = 'test' and c.object_type = 'customer'`;
    assert.ok(
      checkpoint.total >= 200 && checkpoint.total < 530,
      `checkpoint at ${checkpoint.total}`,
    );
    assert.equal(checkpoint.total % 100, 0, "a checkpoint follows whole pages");
    assert.equal(checkpoint.completed, false);
    assert.equal((await mirrored(stack)).customers, checkpoint.total);

    const resumed = await streamSync(stack, { resume: true });
    assert.equal(resumed[0].type, "resumed");
    const customerPages = resumed.flatMap((step) =>
      step.type === "page" && step.object === "customer" ? [step] : []
    );
    assert.equal(
      customerPages.reduce((sum, step) => sum + step.count, 0),
      530 - checkpoint.total,
      "only the customers after the checkpoint are listed",
    );
    assert.equal(customerPages[0].total, checkpoint.total + 100);
    assert.ok(
      !resumed.some((step) => step.type === "page" && step.object === "product"),
      "types done before the interruption are not listed again",
    );
    const done = resumed.at(-1)!;
    assert.equal(done.type, "done");
    if (done.type !== "done") return;
    assert.equal(done.counts.customer, 530);
    assert.equal(done.counts.subscription, 40);
    // Invoices are paid by their own PaymentIntents: those and the one-off payments.
    assert.equal(done.counts.payment_intent, SEED.invoices + SEED.payments);
    assert.deepEqual(done.archived, { customer: 0, subscription: 0 });
    assert.deepEqual(await mirrored(stack), {
      customers: 530,
      subscriptions: 40,
    });

    // Nothing left to resume: --resume starts a full sync, which sees every object again.
    const again = await call(stack, "POST", "/stripe/test/sync?resume=true", {
      token: stack.secretKey,
    });
    assert.equal(again.status, 200);
    assert.equal(again.body.sync.type, "done");
    assert.equal(again.body.sync.counts.customer, 530);
  });
});

Deno.test("sync refuses a resume flag that is not a boolean", async () => {
  await withStack({}, async (stack) => {
    const { status, body } = await call(stack, "POST", "/stripe/test/sync", {
      token: stack.secretKey,
      body: { resume: "yes" },
    });
    assert.equal(status, 400);
    assert.equal(body.error.details.fields[0].field, "resume");
  });
});
