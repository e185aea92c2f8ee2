import assert from "node:assert/strict";
import { type Stack, withStack } from "../support/stack.ts";
import { customerUpdatedEvent, signPayload } from "../support/webhooks.ts";

function event(id: string) {
  return JSON.stringify(
    customerUpdatedEvent(id, { created: 1_700_000_000, customerId: "cus_cache" }),
  );
}

async function deliver(stack: Stack, body: string, secret: string): Promise<number> {
  const signature = await signPayload(body, secret);
  const response = await fetch(`${stack.functionsUrl}/webhooks/stripe/test`, {
    method: "POST",
    headers: { "stripe-signature": signature, "content-type": "application/json" },
    body,
  });
  await response.body?.cancel();
  return response.status;
}

const store = (stack: Stack, secret: string) =>
  stack.sql`select payments_private.set_provider_secret('test', 'webhook_secret', ${secret})`;

Deno.test("webhook: a rotated secret works on its first delivery although the old one is cached", async () => {
  await withStack({}, async (stack) => {
    await store(stack, "whsec_first_secret");
    assert.equal(await deliver(stack, event("evt_cache_1"), "whsec_first_secret"), 200);

    await store(stack, "whsec_rotated_secret");
    assert.equal(await deliver(stack, event("evt_cache_2"), "whsec_rotated_secret"), 200);
    // Signed with neither: refused, from the cache or from the database alike.
    assert.equal(await deliver(stack, event("evt_cache_3"), "whsec_forged"), 400);
    const [{ count }] = await stack.sql`
      select count(*)::int as count from payments.webhook_events where environment = 'test'`;
    assert.equal(count, 2);
  });
});

Deno.test("webhook: a secret configured after a 503 is used on the next delivery", async () => {
  await withStack({}, async (stack) => {
    assert.equal(await deliver(stack, event("evt_cache_4"), "whsec_later_secret"), 503);
    await store(stack, "whsec_later_secret");
    assert.equal(await deliver(stack, event("evt_cache_4"), "whsec_later_secret"), 200);
  });
});
