/**
 * `trigger`: the emulator control and `payments stripe trigger <event>` run the real flow
 * behind an event, in the account whose webhook endpoint listens, and the event arrives
 * signed like any other.
 */
import assert from "node:assert/strict";
import { run } from "../../cli/main.ts";
import { TRIGGERS } from "../../emulator/trigger.ts";
import {
  eventTypes,
  postControl,
  stripeClient,
  test,
  verifiedEvent,
  withListener,
} from "./helpers.ts";

const REQUIRED = [
  "checkout.session.completed",
  "checkout.session.async_payment_failed",
  "invoice.paid",
  "invoice.payment_failed",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "charge.refunded",
  "product.updated",
  "price.created",
];

test("every trigger runs a flow that emits its event to the listening account", async ({ emulator, stripe }) => {
  await withListener(stripe, async (receiver, endpoint) => {
    for (const event of REQUIRED) assert.ok(Object.hasOwn(TRIGGERS, event), event);
    for (const event of Object.keys(TRIGGERS)) {
      const response = await postControl(emulator, `trigger/${event}`);
      const body = await response.json();
      assert.equal(response.status, 200, JSON.stringify(body));
      const types = body.events.map((emitted: { type: string }) => emitted.type);
      assert.ok(types.includes(event), `${event}: ${types.join(", ")}`);
      const listed = await stripe.events.list({ type: event, limit: 100 });
      const ids = body.events.map((emitted: { id: string }) => emitted.id);
      assert.ok(listed.data.some((found) => ids.includes(found.id)), event);
    }
    await receiver.waitFor((received) =>
      REQUIRED.every((type) => eventTypes(received).includes(type))
    );
    const webhook = receiver.received.find((item) =>
      JSON.parse(item.body).type === "charge.refunded"
    )!;
    assert.equal((await verifiedEvent(stripe, webhook, endpoint)).type, "charge.refunded");

    const unknown = await postControl(emulator, "trigger/invoice.nonsense");
    assert.equal(unknown.status, 404);
    assert.match((await unknown.json()).error.message, /No trigger for 'invoice.nonsense'/);
    const listed = await (await fetch(`${emulator.url}/_emulator/triggers`)).json();
    assert.deepEqual(
      listed.map((item: { event: string }) => item.event),
      Object.keys(TRIGGERS),
    );
  });
});

test("a trigger needs api_key when several accounts listen", async ({ emulator }) => {
  for (const key of ["sk_test_one", "sk_test_two"]) {
    await stripeClient(emulator, key).webhookEndpoints.create({
      url: "http://127.0.0.1:9/unreachable",
      enabled_events: ["product.created"],
    });
  }
  const ambiguous = await postControl(emulator, "trigger/product.created");
  assert.equal(ambiguous.status, 400);
  assert.equal((await ambiguous.json()).error.param, "api_key");
  const chosen = await postControl(emulator, "trigger/product.created", {
    api_key: "sk_test_two",
  });
  assert.equal(chosen.status, 200);
  await chosen.body?.cancel();
  const two = await stripeClient(emulator, "sk_test_two").products.list();
  const one = await stripeClient(emulator, "sk_test_one").products.list();
  assert.deepEqual([one.data.length, two.data.length], [0, 1]);
});

test("payments stripe trigger <event> runs the flow and lists its events", async ({ emulator, stripe }) => {
  await stripe.webhookEndpoints.create({
    url: "http://127.0.0.1:9/unreachable",
    enabled_events: ["invoice.paid"],
  });
  const lines: string[] = [];
  const io = {
    out: (line: string) => lines.push(line),
    env: () => undefined,
    readStdin: () => Promise.resolve(""),
  };
  const code = await run(
    ["payments", "stripe", "trigger", "invoice.paid", "--emulator-url", emulator.url],
    io,
  );
  assert.equal(code, 0);
  assert.match(lines[0], /^Triggered invoice\.paid: .* \(\d+ events\)$/);
  assert.ok(lines.some((line) => /^ {2}evt_\w+ {2}invoice\.paid$/.test(line)), lines.join("\n"));
  assert.equal((await stripe.events.list({ type: "invoice.paid" })).data.length, 1);

  const json: string[] = [];
  const jsonCode = await run(
    ["payments", "stripe", "trigger", "price.created", "--emulator-url", emulator.url, "--json"],
    { ...io, out: (line: string) => json.push(line) },
  );
  assert.equal(jsonCode, 0);
  assert.equal(JSON.parse(json.join("\n")).trigger, "price.created");

  const failed = await run(
    ["payments", "stripe", "trigger", "nope.nothing", "--emulator-url", emulator.url],
    io,
  );
  assert.equal(failed, 1);
  const usage = await run(["payments", "stripe", "trigger"], io);
  assert.equal(usage, 2);
  const unreachable = await run(
    ["stripe", "trigger", "invoice.paid", "--emulator-url", "http://127.0.0.1:9"],
    io,
  );
  assert.equal(unreachable, 1);
});
