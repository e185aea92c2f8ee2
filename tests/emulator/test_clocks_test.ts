/**
 * Test clocks, driven by the SDK's `stripe.testHelpers.testClocks`: advancing renews
 * subscriptions with the card on file, ends trials, applies `cancel_at_period_end` and expires
 * open Checkout Sessions, each with its events.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import {
  createPrice,
  customerPayingBy,
  INVOICE_PAID_BY_CARD,
  lastEventId,
  postControl,
  sessionFor,
  stripeError,
  test,
  typesDuring,
  typesSince,
} from "./helpers.ts";

const DAY = 24 * 60 * 60;
const START = Date.UTC(2031, 0, 15, 12) / 1000;

async function advance(stripe: Stripe, clock: string, to: number): Promise<void> {
  const advancing = await stripe.testHelpers.testClocks.advance(clock, { frozen_time: to });
  assert.equal(advancing.status, "advancing");
  const ready = await stripe.testHelpers.testClocks.retrieve(clock);
  assert.equal(ready.status, "ready");
  assert.equal(ready.frozen_time, to);
}

/** What advancing `clock` to `to` emits between `test_clock.advancing` and `test_clock.ready`. */
async function typesWhileAdvancing(stripe: Stripe, clock: string, to: number): Promise<string[]> {
  return (await typesDuring(stripe, () => advance(stripe, clock, to))).slice(1, -1);
}

/** A customer on a new clock at START, paying by `card`, trialing a monthly price for `days`. */
async function trialOnClock(stripe: Stripe, card: string, unitAmount: number, days: number) {
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: START });
  const price = await createPrice(stripe, { unitAmount });
  const customer = await customerPayingBy(stripe, card, { test_clock: clock.id });
  const trialing = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    trial_period_days: days,
  });
  assert.equal(trialing.status, "trialing");
  return { clock, price, customer, trialing };
}

test("advancing a test clock renews with the card on file, then a failing card goes past_due", async ({ stripe }) => {
  const clock = await stripe.testHelpers.testClocks.create({
    frozen_time: START,
    name: "Monthly renewals",
  });
  assert.equal(clock.object, "test_helpers.test_clock");
  assert.equal(clock.status, "ready");
  const price = await createPrice(stripe, { unitAmount: 1200 });
  const customer = await customerPayingBy(stripe, "pm_card_visa", {
    email: "clock@example.com",
    test_clock: clock.id,
  });
  assert.equal(customer.test_clock, clock.id);
  assert.equal(customer.created, START);
  const subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
  });
  assert.equal(subscription.status, "active");
  assert.equal(subscription.test_clock, clock.id);
  assert.equal(subscription.start_date, START);
  const periodEnd = subscription.items.data[0].current_period_end;
  assert.equal(periodEnd, Date.UTC(2031, 1, 15, 12) / 1000);

  // Nothing is due before the period ends.
  assert.deepEqual(await typesDuring(stripe, () => advance(stripe, clock.id, START + 10 * DAY)), [
    "test_helpers.test_clock.advancing",
    "test_helpers.test_clock.ready",
  ]);

  assert.deepEqual(await typesDuring(stripe, () => advance(stripe, clock.id, periodEnd + DAY)), [
    "test_helpers.test_clock.advancing",
    "customer.subscription.updated",
    ...INVOICE_PAID_BY_CARD,
    "test_helpers.test_clock.ready",
  ]);
  const renewed = await stripe.subscriptions.retrieve(subscription.id, {
    expand: ["latest_invoice"],
  });
  assert.equal(renewed.status, "active");
  assert.equal(renewed.items.data[0].current_period_start, periodEnd);
  const invoice = renewed.latest_invoice as Stripe.Invoice;
  assert.equal(invoice.billing_reason, "subscription_cycle");
  assert.equal(invoice.status, "paid");
  assert.equal(invoice.amount_paid, 1200);
  assert.equal(invoice.created, periodEnd);

  // 4000 0000 0000 0341 attaches, then declines the next renewal.
  const failing = await stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
    customer: customer.id,
  });
  await stripe.customers.update(customer.id, {
    invoice_settings: { default_payment_method: failing.id },
  });
  const nextEnd = renewed.items.data[0].current_period_end;
  assert.deepEqual(await typesWhileAdvancing(stripe, clock.id, nextEnd + DAY), [
    "customer.subscription.updated",
    "invoice.created",
    "invoice.finalized",
    "payment_intent.created",
    "charge.failed",
    "payment_intent.payment_failed",
    "invoice.payment_failed",
    "customer.subscription.updated",
  ]);
  const pastDue = await stripe.subscriptions.retrieve(subscription.id, {
    expand: ["latest_invoice"],
  });
  assert.equal(pastDue.status, "past_due");
  assert.equal((pastDue.latest_invoice as Stripe.Invoice).status, "open");

  const onClock = await stripe.subscriptions.list({ test_clock: clock.id });
  assert.deepEqual(onClock.data.map((item) => item.id), [subscription.id]);
  assert.equal((await stripe.subscriptions.list({ test_clock: "clock_other" })).data.length, 0);
  const listed = await stripe.testHelpers.testClocks.list();
  assert.deepEqual(listed.data.map((item) => item.id), [clock.id]);
  const backwards = await stripeError(
    stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: START }),
  );
  assert.equal(backwards.statusCode, 400);
  assert.equal(backwards.param, "frozen_time");
});

test("a test clock ends trials, applies cancel_at_period_end and expires Checkout Sessions", async ({ stripe }) => {
  const { clock, price, customer, trialing } = await trialOnClock(stripe, "pm_card_visa", 800, 7);
  assert.equal(trialing.trial_end, START + 7 * DAY);

  const mark = await lastEventId(stripe);
  await advance(stripe, clock.id, START + 5 * DAY);
  assert.ok((await typesSince(stripe, mark)).includes("customer.subscription.trial_will_end"));

  const types = await typesDuring(stripe, () => advance(stripe, clock.id, START + 8 * DAY));
  assert.ok(types.includes("invoice.paid"), types.join(", "));
  const active = await stripe.subscriptions.retrieve(trialing.id, {
    expand: ["latest_invoice"],
  });
  assert.equal(active.status, "active");
  assert.equal((active.latest_invoice as Stripe.Invoice).amount_paid, 800);
  assert.equal(active.items.data[0].current_period_start, START + 7 * DAY);

  await stripe.subscriptions.update(active.id, { cancel_at_period_end: true });
  const periodEnd = active.items.data[0].current_period_end;
  assert.deepEqual(await typesWhileAdvancing(stripe, clock.id, periodEnd + 60), [
    "customer.subscription.deleted",
  ]);
  const canceled = await stripe.subscriptions.retrieve(active.id);
  assert.equal(canceled.status, "canceled");
  assert.equal(canceled.ended_at, active.items.data[0].current_period_end);

  const session = await sessionFor(stripe, price, {
    customer: customer.id,
    success_url: "https://example.com/ok",
  });
  const frozen = (await stripe.testHelpers.testClocks.retrieve(clock.id)).frozen_time;
  assert.equal(session.expires_at, frozen + DAY);
  assert.deepEqual(await typesWhileAdvancing(stripe, clock.id, session.expires_at + 1), [
    "checkout.session.expired",
  ]);
  const expired = await stripe.checkout.sessions.retrieve(session.id);
  assert.equal(expired.status, "expired");

  const deleted = await stripe.testHelpers.testClocks.del(clock.id);
  assert.equal(deleted.deleted, true);
  const gone = await stripe.customers.retrieve(customer.id);
  assert.equal(gone.deleted, true);
  const missing = await stripeError(stripe.testHelpers.testClocks.retrieve(clock.id));
  assert.equal(missing.statusCode, 404);
});

test("a trial on 4000 0000 0000 0341 ends past_due; a Checkout trial on the clock too", async ({ emulator, stripe }) => {
  const { clock, price, customer, trialing } = await trialOnClock(
    stripe,
    "pm_card_chargeCustomerFail",
    2500,
    14,
  );

  const session = await sessionFor(stripe, price, {
    customer: customer.id,
    subscription_data: { trial_period_days: 14 },
  });
  const completed = await postControl(
    emulator,
    `checkout/sessions/${session.id}/complete`,
    { card: "4000 0000 0000 0341" },
  );
  assert.equal(completed.status, 200, "a trial charges nothing, so the card is only attached");
  await completed.body?.cancel();
  const fromCheckout = (await stripe.checkout.sessions.retrieve(session.id)).subscription;

  const types = await typesDuring(stripe, () => advance(stripe, clock.id, START + 15 * DAY));
  assert.equal(types.filter((type) => type === "invoice.payment_failed").length, 2);
  for (const id of [trialing.id, fromCheckout as string]) {
    const ended = await stripe.subscriptions.retrieve(id, { expand: ["latest_invoice"] });
    assert.equal(ended.status, "past_due");
    const invoice = ended.latest_invoice as Stripe.Invoice;
    assert.equal(invoice.amount_due, 2500);
    assert.equal(invoice.status, "open");
    assert.equal(invoice.created, START + 14 * DAY);
  }
});
