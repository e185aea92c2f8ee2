// Four function processes against one database: what holds across instances is what the
// database enforces, so the same request or event sent to all of them at once counts once.
import assert from "node:assert/strict";
import { startInstances } from "../../scripts/instances.ts";
import { createPrices } from "../../scripts/stack.ts";
import { createCheckout, paymentRequest } from "../support/checkout.ts";
import { withStack } from "../support/stack.ts";
import { signPayload } from "../support/webhooks.ts";

const USER = "44444444-4444-4444-8444-444444444444";
const INSTANCES = 4;
const ORDERS = 5;

Deno.test("across 4 instances: one checkout per idempotency key, one event per id, one fulfilment per order", async () => {
  await withStack({}, async (stack) => {
    await stack.sql.file("sql/examples/fulfillment.sql");
    // The example fulfils live payments only; this test pays in test mode.
    await stack.sql`insert into public.fulfillment_environments values ('test')`;
    // Counts every time the app's trigger sees a processed completion: once per order is the rule.
    await stack.sql.unsafe(`
      create table public.fulfilments (order_id text not null, event_id text not null);
      create function public.count_fulfilment() returns trigger language plpgsql as $$
      begin
        if new.event_type = 'checkout.session.completed' and new.processing_status = 'processed' then
          insert into public.fulfilments values (new.payload -> 'data' -> 'object' -> 'metadata' ->> 'order_id', new.provider_event_id);
        end if;
        return new;
      end $$;
      create trigger count_fulfilment after insert or update on payments.webhook_events
        for each row execute function public.count_fulfilment();`);
    // Created before connecting, so the first sync brings the price into the catalog that prices orders.
    const [price] = await createPrices(stack.stripe, "Across instances", [{
      currency: "usd",
      unitAmount: 700,
    }]);
    const connected = await stack.connectStripe();
    assert.equal(connected.status, 200, await connected.text());
    // Deliveries come from this test, to every instance at once, not from the emulator.
    const [endpoint] = (await stack.stripe.webhookEndpoints.list()).data;
    await stack.stripe.webhookEndpoints.update(endpoint.id, { disabled: true });

    const running = await startInstances(stack, INSTANCES);
    try {
      const urls = running.instances.map((instance) => instance.functionsUrl);
      const token = await stack.userToken(USER);
      const orders = await stack.sql`
        insert into public.orders (user_id, price_id)
        select ${USER}, ${price} from generate_series(1, ${ORDERS}) returning id`;

      const sessionIds: string[] = [];
      for (const order of orders) {
        const body = paymentRequest(price, {
          metadata: { order_id: order.id },
          idempotencyKey: `order:${order.id}`,
        });
        // Every instance twice, all at once.
        const answers = await Promise.all(
          [...urls, ...urls].map((url) => createCheckout({ functionsUrl: url }, token, body)),
        );
        for (const answer of answers) {
          assert.equal(answer.status, 201, JSON.stringify(answer.body));
        }
        const ids = new Set(answers.map((answer) => answer.body.checkoutSession.checkoutSessionId));
        assert.equal(ids.size, 1, "every instance answers with the same session");
        sessionIds.push(...ids);
      }
      const stripeSessions = await stack.stripe.checkout.sessions.list({ limit: 100 });
      assert.equal(stripeSessions.data.length, ORDERS, "Stripe made one session per key");

      for (const id of sessionIds) {
        const paid = await fetch(
          `${stack.emulatorUrl}/_emulator/checkout/sessions/${id}/complete`,
          {
            method: "POST",
          },
        );
        assert.equal(paid.status, 200, await paid.text());
      }
      // The catalog's events were stored by the sync on connecting; these are the payments'.
      const events = (await stack.stripe.events.list({ limit: 100 })).data
        .filter((event) => !/^(product|price)\./.test(event.type));
      assert.ok(events.length > ORDERS, "the payments produced their events");
      const [{ secret }] = await stack.sql`
        select payments_private.get_provider_secret('test', 'webhook_secret') as secret`;

      // Each event to every instance twice, all at once, as Stripe's retries and a slow
      // endpoint can make it happen.
      const statuses = await Promise.all(events.flatMap((event) => {
        const payload = JSON.stringify(event);
        return [...urls, ...urls].map(async (url) => {
          const response = await fetch(`${url}/webhooks/stripe/test`, {
            method: "POST",
            headers: {
              "stripe-signature": await signPayload(payload, secret),
              "content-type": "application/json",
            },
            body: payload,
          });
          const answer = await response.json();
          return `${response.status} ${answer.status ?? answer.error?.code}`;
        });
      }));
      const tally = Object.groupBy(statuses, (status) => status);
      const first = (tally["200 processed"]?.length ?? 0) + (tally["200 ignored"]?.length ?? 0);
      assert.equal(first, events.length, "each event is recorded by exactly one delivery");
      assert.equal(tally["200 duplicate"]?.length, events.length * (2 * INSTANCES - 1));
      assert.deepEqual(
        Object.keys(tally).filter((key) =>
          !["200 processed", "200 ignored", "200 duplicate"].includes(key)
        ),
        [],
        "every delivery succeeds",
      );

      const [stored] = await stack.sql`
        select count(*)::int as events, count(distinct provider_event_id)::int as distinct_events
        from payments.webhook_events
        where environment = 'test' and provider_event_id = any(${events.map((event) => event.id)})`;
      assert.deepEqual({ ...stored }, { events: events.length, distinct_events: events.length });
      const fulfilments = await stack.sql`
        select order_id, count(*)::int as times from public.fulfilments group by order_id order by order_id`;
      assert.deepEqual(
        fulfilments.map((row) => ({ ...row })),
        orders.map((order) => ({ order_id: order.id, times: 1 }))
          .sort((a, b) => a.order_id.localeCompare(b.order_id)),
      );
      const [paid] = await stack.sql`
        select count(*)::int as count from public.orders where status = 'paid'`;
      assert.equal(paid.count, ORDERS);
    } finally {
      await running.stop();
    }
  });
});
