/**
 * The events each flow emits, in order — the sequences emulator/README.md documents. Each
 * test reads them back with `stripe.events.list`, oldest first.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import {
  completeSession,
  createPrice,
  sessionFor,
  test,
  typesCompleting,
  typesDuring,
} from "./helpers.ts";

/** What a bank debit taken by Checkout emits before it settles: the session completes unpaid. */
const DEBIT_PENDING = [
  "payment_intent.created",
  "charge.pending",
  "payment_intent.processing",
  "checkout.session.completed",
];

test("payment-mode Checkout: card, then delayed payment that succeeds or fails", async ({ emulator, stripe }) => {
  const price = await createPrice(stripe, { recurring: false });
  const session = () => sessionFor(stripe, price);

  assert.deepEqual(await typesCompleting(emulator, stripe, (await session()).id), [
    "payment_intent.created",
    "charge.succeeded",
    "payment_intent.succeeded",
    "checkout.session.completed",
  ]);

  const pending = await session();
  assert.deepEqual(
    await typesCompleting(emulator, stripe, pending.id, "async_pending"),
    DEBIT_PENDING,
  );
  assert.deepEqual(await typesCompleting(emulator, stripe, pending.id, "async_succeeded"), [
    "charge.succeeded",
    "payment_intent.succeeded",
    "checkout.session.async_payment_succeeded",
  ]);

  assert.deepEqual(
    await typesCompleting(emulator, stripe, (await session()).id, "async_failed"),
    [
      ...DEBIT_PENDING,
      "charge.failed",
      "payment_intent.payment_failed",
      "checkout.session.async_payment_failed",
    ],
  );
});

test("subscription-mode Checkout with a delayed payment, a trial, a refund and a cancel", async ({ emulator, stripe }) => {
  const price = await createPrice(stripe);
  const session = (trial?: number) =>
    sessionFor(stripe, price, trial ? { subscription_data: { trial_period_days: trial } } : {});

  const delayed = await session();
  assert.deepEqual(await typesCompleting(emulator, stripe, delayed.id, "async_pending"), [
    "customer.created",
    "payment_method.attached",
    "customer.subscription.created",
    "invoice.created",
    "invoice.finalized",
    ...DEBIT_PENDING,
  ]);
  assert.deepEqual(await typesCompleting(emulator, stripe, delayed.id, "async_failed"), [
    "charge.failed",
    "payment_intent.payment_failed",
    "invoice.payment_failed",
    "customer.subscription.updated",
    "checkout.session.async_payment_failed",
  ]);

  assert.deepEqual(await typesCompleting(emulator, stripe, (await session(14)).id), [
    "customer.created",
    "payment_method.attached",
    "customer.subscription.created",
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
    "checkout.session.completed",
  ]);

  const paid = await session();
  await completeSession(emulator, paid.id);
  const done = await stripe.checkout.sessions.retrieve(paid.id, {
    expand: ["invoice.payments.data.payment.payment_intent"],
  });
  const invoice = done.invoice as Stripe.Invoice;
  const paymentIntent = invoice.payments?.data[0].payment.payment_intent as Stripe.PaymentIntent;
  assert.deepEqual(
    await typesDuring(
      stripe,
      () => stripe.refunds.create({ charge: paymentIntent.latest_charge as string }),
    ),
    ["refund.created", "charge.refunded"],
  );

  const cancel = async () => {
    await stripe.subscriptions.update(done.subscription as string, {
      cancel_at_period_end: true,
    });
    await stripe.subscriptions.cancel(done.subscription as string);
  };
  assert.deepEqual(await typesDuring(stripe, cancel), [
    "customer.subscription.updated",
    "customer.subscription.deleted",
  ]);
});
