// The state file: a restarted emulator finds its objects, their list order, idempotency keys and
// webhook endpoints (with their signing secrets) again.
import assert from "node:assert/strict";
import Stripe from "stripe";
import { startEmulator } from "../../emulator/server.ts";
import {
  completeSession,
  createPrice,
  eventTypes,
  startReceiver,
  stripeClient,
  stripeError,
} from "./helpers.ts";

const start = (stateFile: string) =>
  startEmulator({ port: 0, webhookRetryDelaysMs: [10], stateFile });

Deno.test("a restarted emulator keeps its objects, list order, idempotency keys and endpoints", async () => {
  const dir = await Deno.makeTempDir();
  const stateFile = `${dir}/emulator.state`;
  const receiver = await startReceiver();
  try {
    const first = await start(stateFile);
    let stripe = stripeClient(first);
    const price = await createPrice(stripe, { recurring: false, name: "Poster" });
    const later = await createPrice(stripe, { recurring: false, name: "Mug" });
    const endpoint = await stripe.webhookEndpoints.create({
      url: receiver.url,
      enabled_events: ["checkout.session.completed"],
    });
    const session = await stripe.checkout.sessions.create({
      mode: "payment",
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: "https://shop.example/done",
    }, { idempotencyKey: "order-1" });
    await completeSession(first, session.id);
    const paid = await stripe.checkout.sessions.retrieve(session.id);
    const intent = paid.payment_intent as string;
    const charge = (await stripe.paymentIntents.retrieve(intent)).latest_charge as string;
    const refund = await stripe.refunds.create({ charge, amount: 500 });
    await receiver.waitFor((received) => received.length === 1);
    await first.stop();
    assert.ok((await Deno.stat(stateFile)).isFile);
    assert.equal((await Deno.stat(stateFile)).mode! & 0o077, 0, "only the owner can read it");

    const second = await start(stateFile);
    try {
      stripe = stripeClient(second);
      const kept = await stripe.checkout.sessions.retrieve(session.id);
      assert.deepEqual([kept.status, kept.payment_status], ["complete", "paid"]);
      assert.equal((await stripe.prices.retrieve(price.id)).unit_amount, price.unit_amount);
      // Newest first, as before the restart.
      const prices = await stripe.prices.list({ limit: 2 });
      assert.deepEqual(prices.data.map((p) => p.id), [later.id, price.id]);
      // The refund is still the one inside its charge's list.
      const refunded = await stripe.charges.retrieve(charge, { expand: ["refunds"] });
      assert.deepEqual(refunded.refunds?.data.map((r) => r.id), [refund.id]);
      assert.equal(refunded.amount_refunded, 500);
      // The same idempotency key replays the saved response instead of making a second session.
      const replayed = await stripe.checkout.sessions.create({
        mode: "payment",
        line_items: [{ price: price.id, quantity: 1 }],
        success_url: "https://shop.example/done",
      }, { idempotencyKey: "order-1" });
      assert.equal(replayed.id, session.id);
      const conflict = await stripeError(stripe.checkout.sessions.create({
        mode: "payment",
        line_items: [{ price: later.id, quantity: 1 }],
        success_url: "https://shop.example/done",
      }, { idempotencyKey: "order-1" }));
      assert.equal(conflict.type, "StripeIdempotencyError");
      const events = await stripe.events.list({ type: "checkout.session.completed" });
      assert.equal(events.data.length, 1);

      // The endpoint still receives, signed with the secret it was created with.
      const next = await stripe.checkout.sessions.create({
        mode: "payment",
        line_items: [{ price: later.id, quantity: 1 }],
        success_url: "https://shop.example/done",
      });
      await completeSession(second, next.id);
      await receiver.waitFor((received) => received.length === 2);
      assert.deepEqual(eventTypes(receiver.received), [
        "checkout.session.completed",
        "checkout.session.completed",
      ]);
      const delivered = receiver.received[1];
      const event = await new Stripe("sk_test_unused").webhooks.constructEventAsync(
        delivered.body,
        delivered.signature,
        endpoint.secret!,
      );
      assert.equal((event.data.object as Stripe.Checkout.Session).id, next.id);
    } finally {
      await second.stop();
    }
  } finally {
    await receiver.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreadable state file stops the start with a message naming it", async () => {
  const dir = await Deno.makeTempDir();
  const stateFile = `${dir}/emulator.state`;
  try {
    await Deno.writeTextFile(stateFile, "not a snapshot");
    await assert.rejects(start(stateFile), (error: Error) => {
      assert.match(error.message, new RegExp(`emulator state in ${stateFile}`));
      assert.match(error.message, /remove the file/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
