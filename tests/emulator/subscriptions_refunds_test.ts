/** Subscription updates, cancellation, renewal and failed renewals; refunds. */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import type { RunningEmulator } from "../../emulator/server.ts";
import {
  buySubscription,
  completeSession,
  INVOICE_PAID_BY_CARD,
  lastEventId,
  openSession,
  postControl,
  stripeError,
  test,
  typesSince,
} from "./helpers.ts";

async function subscribe(
  emulator: RunningEmulator,
  stripe: Stripe,
  email = "sub@example.com",
): Promise<Stripe.Subscription> {
  const { subscription } = await buySubscription(emulator, stripe, { customer_email: email });
  return await stripe.subscriptions.retrieve(subscription as string);
}

test("subscriptions list by customer and status, canceled ones only with status=all", async ({ emulator, stripe }) => {
  const first = await subscribe(emulator, stripe, "a@example.com");
  const second = await subscribe(emulator, stripe, "b@example.com");
  await stripe.subscriptions.cancel(first.id);
  assert.deepEqual((await stripe.subscriptions.list()).data.map((s) => s.id), [second.id]);
  assert.deepEqual(
    (await stripe.subscriptions.list({ status: "all" })).data.map((s) => s.id),
    [second.id, first.id],
  );
  assert.deepEqual(
    (await stripe.subscriptions.list({ status: "canceled" })).data.map((s) => s.id),
    [first.id],
  );
  assert.deepEqual(
    (await stripe.subscriptions.list({ customer: second.customer as string })).data
      .map((s) => s.id),
    [second.id],
  );
});

test("cancel_at_period_end is set and cleared with customer.subscription.updated", async ({ emulator, stripe }) => {
  const subscription = await subscribe(emulator, stripe);
  const updatesBefore = (await stripe.events.list({ type: "customer.subscription.updated" }))
    .data.length;
  const periodEnd = subscription.items.data[0].current_period_end;
  const scheduled = await stripe.subscriptions.update(subscription.id, {
    cancel_at_period_end: true,
    metadata: { reason: "budget" },
  });
  assert.equal(scheduled.cancel_at_period_end, true);
  assert.equal(scheduled.cancel_at, periodEnd);
  assert.equal(scheduled.status, "active");
  assert.deepEqual(scheduled.metadata, { reason: "budget" });
  const event = (await stripe.events.list({ type: "customer.subscription.updated" })).data[0];
  const previous = event.data.previous_attributes as Partial<Stripe.Subscription>;
  assert.equal(previous.cancel_at_period_end, false);

  const resumed = await stripe.subscriptions.update(subscription.id, {
    cancel_at_period_end: false,
  });
  assert.equal(resumed.cancel_at, null);
  assert.equal(
    (await stripe.events.list({ type: "customer.subscription.updated" })).data.length,
    updatesBefore + 2,
  );
});

test("DELETE cancels now with customer.subscription.deleted", async ({ emulator, stripe }) => {
  const subscription = await subscribe(emulator, stripe);
  const canceled = await stripe.subscriptions.cancel(subscription.id, {
    cancellation_details: { comment: "Too pricey", feedback: "too_expensive" },
  });
  assert.equal(canceled.status, "canceled");
  assert.equal(canceled.cancellation_details?.comment, "Too pricey");
  assert.equal(canceled.cancellation_details?.feedback, "too_expensive");
  assert.ok(canceled.canceled_at);
  assert.ok(canceled.ended_at);
  assert.equal(canceled.cancellation_details?.reason, "cancellation_requested");
  const events = await stripe.events.list({ type: "customer.subscription.deleted" });
  assert.equal((events.data[0].data.object as Stripe.Subscription).id, subscription.id);
  const again = await stripeError(stripe.subscriptions.cancel(subscription.id));
  assert.equal(again.statusCode, 400);
  const update = await stripeError(
    stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true }),
  );
  assert.equal(update.statusCode, 400);
});

test("renew bills the next period with a paid invoice", async ({ emulator, stripe }) => {
  const subscription = await subscribe(emulator, stripe);
  const [item] = subscription.items.data;
  const mark = await lastEventId(stripe);

  const response = await postControl(emulator, `subscriptions/${subscription.id}/renew`);
  assert.equal(response.status, 200);
  const renewed = await response.json() as Stripe.Subscription;
  assert.equal(renewed.items.data[0].current_period_start, item.current_period_end);
  assert.ok(renewed.items.data[0].current_period_end > item.current_period_end);
  assert.notEqual(renewed.latest_invoice, subscription.latest_invoice);

  const invoice = await stripe.invoices.retrieve(renewed.latest_invoice as string);
  assert.equal(invoice.status, "paid");
  assert.equal(invoice.billing_reason, "subscription_cycle");
  assert.equal(invoice.period_start, item.current_period_start);
  assert.equal(invoice.period_end, item.current_period_end);
  assert.match(invoice.number ?? "", /-0002$/);
  const types = await typesSince(stripe, mark);
  assert.deepEqual(types, [
    "customer.subscription.updated",
    ...INVOICE_PAID_BY_CARD,
  ]);
  assert.equal(
    (await stripe.invoices.list({ subscription: subscription.id })).data.length,
    2,
  );
});

test("fail_payment leaves the subscription past_due until a renewal pays it", async ({ emulator, stripe }) => {
  const subscription = await subscribe(emulator, stripe);
  const mark = await lastEventId(stripe);
  const failed = await postControl(emulator, `subscriptions/${subscription.id}/fail_payment`);
  assert.equal(failed.status, 200);
  const pastDue = await failed.json() as Stripe.Subscription;
  assert.equal(pastDue.status, "past_due");
  const types = await typesSince(stripe, mark);
  for (
    const type of [
      "invoice.payment_failed",
      "payment_intent.payment_failed",
      "customer.subscription.updated",
    ]
  ) {
    assert.ok(types.includes(type), type);
  }
  const invoice = await stripe.invoices.retrieve(pastDue.latest_invoice as string);
  assert.equal(invoice.status, "open");
  assert.equal(invoice.attempt_count, 1);

  const renew = await postControl(emulator, `subscriptions/${subscription.id}/renew`);
  const recovered = await renew.json() as Stripe.Subscription;
  assert.equal(recovered.status, "active");
  assert.equal(recovered.latest_invoice, invoice.id);
  assert.equal((await stripe.invoices.retrieve(invoice.id)).status, "paid");
});

test("renewing a subscription set to cancel at period end ends it", async ({ emulator, stripe }) => {
  const subscription = await subscribe(emulator, stripe);
  await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true });
  const response = await postControl(emulator, `subscriptions/${subscription.id}/renew`);
  assert.equal((await response.json()).status, "canceled");
  const again = await postControl(emulator, `subscriptions/${subscription.id}/renew`);
  assert.equal(again.status, 400);
  await again.body?.cancel();
  const missing = await postControl(emulator, "subscriptions/sub_missing/renew");
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

test("deleting a customer cancels their subscriptions", async ({ emulator, stripe }) => {
  const subscription = await subscribe(emulator, stripe);
  await stripe.customers.del(subscription.customer as string);
  assert.equal((await stripe.subscriptions.retrieve(subscription.id)).status, "canceled");
});

test("refunds are full or partial, update the charge and emit refund and charge events", async ({ emulator, stripe }) => {
  const session = await openSession(stripe, { mode: "payment" }, { unitAmount: 1000 });
  await completeSession(emulator, session.id);
  const { payment_intent } = await stripe.checkout.sessions.retrieve(session.id);
  const paymentIntent = await stripe.paymentIntents.retrieve(payment_intent as string);
  const chargeId = paymentIntent.latest_charge as string;

  const partial = await stripe.refunds.create({
    payment_intent: paymentIntent.id,
    amount: 300,
    reason: "requested_by_customer",
    metadata: { ticket: "42" },
  });
  assert.match(partial.id, /^re_/);
  assert.equal(partial.amount, 300);
  assert.equal(partial.charge, chargeId);
  assert.equal(partial.status, "succeeded");
  let charge = await stripe.charges.retrieve(chargeId);
  assert.equal(charge.amount_refunded, 300);
  assert.equal(charge.refunded, false);

  const tooMuch = await stripeError(stripe.refunds.create({ charge: chargeId, amount: 800 }));
  assert.deepEqual([tooMuch.statusCode, tooMuch.param], [400, "amount"]);
  const rest = await stripe.refunds.create({ charge: chargeId });
  assert.equal(rest.amount, 700);
  charge = await stripe.charges.retrieve(chargeId);
  assert.equal(charge.amount_refunded, 1000);
  assert.equal(charge.refunded, true);
  const done = await stripeError(stripe.refunds.create({ charge: chargeId }));
  assert.equal(done.code, "charge_already_refunded");

  assert.equal((await stripe.refunds.retrieve(partial.id)).amount, 300);
  assert.deepEqual(
    (await stripe.refunds.list({ charge: chargeId })).data.map((r) => r.id),
    [rest.id, partial.id],
  );
  assert.equal((await stripe.events.list({ type: "refund.created" })).data.length, 2);
  const refunded = (await stripe.events.list({ type: "charge.refunded" })).data;
  assert.equal(refunded.length, 2);
  assert.equal((refunded[0].data.object as Stripe.Charge).amount_refunded, 1000);
  const missing = await stripeError(stripe.refunds.create({}));
  assert.equal(missing.code, "parameter_missing");
});
