// Never lose an event: with the function unreachable for Stripe, payments complete and every
// delivery fails; reconciliation reads Stripe's event log and stores each event once, and the
// app's trigger fulfils each order once, however often it runs.
import assert from "node:assert/strict";
import { createPrices } from "../../scripts/stack.ts";
import { createCheckout, paymentRequest } from "../support/checkout.ts";
import { call, eventually, withStack } from "../support/stack.ts";

const USER = "44444444-4444-4444-8444-444444444444";

/** A local port nothing listens on: where Stripe believes the function is, while it is down. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("reconcile stores missed events once and fulfils each order once", async () => {
  const down = `http://127.0.0.1:${closedPort()}`;
  await withStack({ publicUrl: down, webhookRetryDelaysMs: [10] }, async (stack) => {
    await stack.sql.file("sql/examples/fulfillment.sql");
    // The example fulfils live payments only; this test pays in test mode.
    await stack.sql`insert into public.fulfillment_environments values ('test')`;
    // Counts fulfilments: the example trigger must mark each order paid exactly once.
    await stack.sql.unsafe(`
      create table public.fulfilments (order_id uuid not null, at timestamptz not null default now());
      create function public.count_fulfilment() returns trigger language plpgsql as $$
      begin insert into public.fulfilments (order_id) values (new.id); return new; end $$;
      create trigger count_fulfilment after update of status on public.orders
        for each row when (old.status = 'pending' and new.status = 'paid')
        execute function public.count_fulfilment();`);
    // Created before connecting, so the first sync brings the price into the catalog that prices orders.
    const [price] = await createPrices(stack.stripe, "Poster", [{
      currency: "eur",
      unitAmount: 2500,
    }]);
    const connected = await stack.connectStripe();
    assert.equal(connected.status, 200, await connected.text());
    const token = await stack.userToken(USER, "ada@example.com");

    const orders: string[] = [];
    for (let i = 0; i < 3; i++) {
      const [order] = await stack.sql`
        insert into public.orders (user_id, price_id) values (${USER}, ${price}) returning id`;
      orders.push(order.id);
      const created = await createCheckout(
        stack,
        token,
        paymentRequest(price, { metadata: { order_id: order.id } }),
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const paid = await fetch(
        `${stack.emulatorUrl}/_emulator/checkout/sessions/${created.body.checkoutSession.checkoutSessionId}/complete`,
        { method: "POST", body: JSON.stringify({ outcome: "paid" }) },
      );
      assert.equal(paid.status, 200, await paid.text());
    }

    // Every delivery fails (nothing listens where the endpoint points) and is given up on.
    const completed = await stack.stripe.events.list({ type: "checkout.session.completed" });
    assert.equal(completed.data.length, 3);
    await eventually("every delivery attempt to fail", async () => {
      const log = await (await fetch(`${stack.emulatorUrl}/_emulator/deliveries`)).json();
      return log.length > 0 && log.every((delivery: { succeeded: boolean; finished_at: string }) =>
        !delivery.succeeded && delivery.finished_at
      ) && log.filter((delivery: { attempt: number }) =>
            delivery.attempt === 2
          ).length ===
          log.filter((delivery: { attempt: number }) => delivery.attempt === 1).length;
    });
    const [{ stored }] = await stack.sql`
      select count(*)::int as stored from payments.webhook_events where event_type = 'checkout.session.completed'`;
    assert.equal(stored, 0, "Nothing was delivered while the function was down.");

    const before = await call(stack, "GET", "/stripe/status", { token: stack.secretKey });
    assert.equal(before.status, 200);
    const health = before.body.environments.test.delivery;
    assert.equal(health.endpointStatus, "enabled");
    assert.equal(health.lastDeliveryAt, null);
    assert.ok(health.pendingNotStored >= 3, JSON.stringify(health));

    const first = await call(stack, "POST", "/stripe/test/reconcile", {
      token: stack.secretKey,
      body: { since: "1h" },
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.failed, 0, JSON.stringify(first.body.failures));
    assert.ok(first.body.new >= 3);
    assert.equal(first.body.seen + first.body.new, first.body.listed);

    const again = await call(stack, "POST", "/stripe/test/reconcile?since=1h", {
      token: stack.secretKey,
    });
    assert.equal(again.status, 200);
    assert.deepEqual(
      { seen: again.body.seen, new: again.body.new, failed: again.body.failed },
      { seen: first.body.listed, new: 0, failed: 0 },
    );

    // The CLI, as a person and as a script runs it: nothing is left to ingest.
    const cli = async (...args: string[]) => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "cli/main.ts", "payments", "stripe", ...args],
        cwd: new URL("../..", import.meta.url).pathname,
        env: {
          SUPABASE_URL: stack.functionsUrl,
          SUPABASE_SECRET_KEY: stack.secretKey,
          NO_COLOR: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
      return { code: output.code, out: decode(output.stdout), err: decode(output.stderr) };
    };
    const table = await cli("events", "reconcile", "--since", "1h");
    assert.equal(table.code, 0, table.err);
    assert.match(
      table.out,
      new RegExp(
        `^test: reconciled ${first.body.listed} events since .*: ${first.body.listed} already stored, 0 new, 0 failed`,
      ),
    );
    const script = await cli("events", "reconcile", "--since", "2026-01-01T00:00:00Z", "--json");
    assert.equal(script.code, 1, "A time beyond Stripe's 30 days is refused.");
    assert.equal(JSON.parse(script.out).error.code, "validation_failed");
    assert.match(script.err, /^pgpayments: since: must be within the last 30 days/);
    const status = await cli("status", "--environment", "test");
    assert.equal(status.code, 0, status.err);
    assert.match(status.out, /endpoint\s+enabled/);
    assert.match(status.out, /not delivered\s+0/);

    const events = await stack.sql`
      select provider_event_id, processing_status, received_via from payments.webhook_events
      where event_type = 'checkout.session.completed'`;
    assert.deepEqual(
      new Set(events.map((event) => event.provider_event_id)),
      new Set(completed.data.map((event) => event.id)),
    );
    assert.ok(events.every((event) => event.processing_status === "processed"));
    assert.ok(events.every((event) => event.received_via === "reconcile"));
    const paid = await stack.sql`
      select id from public.orders where status = 'paid' and id = any(${orders}::uuid[])`;
    assert.equal(paid.length, 3);
    const fulfilments = await stack.sql`
      select order_id, count(*)::int as n from public.fulfilments group by order_id`;
    assert.deepEqual(
      fulfilments.map((row) => row.n),
      [1, 1, 1],
      "Each order was fulfilled exactly once.",
    );

    const after = await call(stack, "GET", "/stripe/status", { token: stack.secretKey });
    assert.equal(after.body.environments.test.delivery.pendingNotStored, 0);
    assert.ok(after.body.environments.test.delivery.lastReconciledAt);

    const invalid = await call(stack, "POST", "/stripe/test/reconcile", {
      token: stack.secretKey,
      body: { since: "31d" },
    });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.code, "validation_failed");
    const anonymous = await call(stack, "POST", "/stripe/test/reconcile", {
      token: stack.publishableKey,
    });
    assert.equal(anonymous.status, 403, "A publishable key alone is anon, not the service role.");
  });
});

Deno.test("sync reconciles after the objects, and types narrow a reconcile", async () => {
  const down = `http://127.0.0.1:${closedPort()}`;
  await withStack({ publicUrl: down, webhookRetryDelaysMs: [10] }, async (stack) => {
    const connected = await stack.connectStripe();
    assert.equal(connected.status, 200, await connected.text());
    const customer = await stack.stripe.customers.create({ email: "missed@example.com" });
    await stack.stripe.products.create({ name: "Missed product" });

    const narrowed = await call(
      stack,
      "POST",
      "/stripe/test/reconcile?since=1h&types=customer.created",
      { token: stack.secretKey },
    );
    assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
    assert.deepEqual(narrowed.body.types, ["customer.created"]);
    assert.deepEqual(
      { listed: narrowed.body.listed, new: narrowed.body.new },
      { listed: 1, new: 1 },
    );
    const [stored] = await stack.sql`
      select object_id, received_via from payments.webhook_events where event_type = 'customer.created'`;
    assert.deepEqual({ ...stored }, { object_id: customer.id, received_via: "reconcile" });

    const response = await fetch(`${stack.functionsUrl}/stripe/test/sync`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.secretKey}`, accept: "application/x-ndjson" },
    });
    const steps = (await response.text()).trim().split("\n").map((line) => JSON.parse(line));
    const reconciled = steps.find((step) => step.type === "reconciled");
    assert.ok(reconciled, JSON.stringify(steps));
    assert.equal(reconciled.failed, 0);
    assert.ok(reconciled.new >= 1, "The product event nobody delivered is stored by sync.");
    assert.ok(reconciled.seen >= 1, "The customer event stored before is seen, not stored again.");
    assert.equal(steps.at(-1).type, "done");
    const [{ count }] = await stack.sql`
      select count(*)::int from payments.webhook_events where event_type = 'product.created'`;
    assert.equal(count, 1);
  });
});
