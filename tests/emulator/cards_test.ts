/**
 * Stripe's test payment methods through the API: attached to customers, set as their
 * default, used to create and confirm PaymentIntents and to pay the first invoice of
 * subscriptions created with `subscriptions.create`.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import {
  createPrice,
  customerPayingBy,
  INVOICE_PAID_BY_CARD,
  lastEventId,
  openSession,
  postControl,
  stripeError,
  test,
  typesSince,
} from "./helpers.ts";

test("pm_card_visa attaches, becomes the default and pays a PaymentIntent", async ({ stripe }) => {
  const customer = await stripe.customers.create({ email: "card@example.com" });
  const method = await stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
  assert.match(method.id, /^pm_/);
  assert.notEqual(method.id, "pm_card_visa");
  assert.equal(method.customer, customer.id);
  assert.equal(method.card?.last4, "4242");
  assert.equal(method.card?.brand, "visa");
  const updated = await stripe.customers.update(customer.id, {
    invoice_settings: { default_payment_method: method.id },
  });
  assert.equal(updated.invoice_settings.default_payment_method, method.id);
  const listed = await stripe.customers.listPaymentMethods(customer.id);
  assert.deepEqual(listed.data.map((item) => item.id), [method.id]);

  const before = await lastEventId(stripe);
  const paymentIntent = await stripe.paymentIntents.create({
    amount: 2000,
    currency: "usd",
    customer: customer.id,
    payment_method: method.id,
    confirm: true,
    off_session: true,
  });
  assert.equal(paymentIntent.status, "succeeded");
  assert.equal(paymentIntent.amount_received, 2000);
  const charge = await stripe.charges.retrieve(paymentIntent.latest_charge as string);
  assert.equal(charge.payment_method, method.id);
  assert.equal(charge.payment_method_details?.card?.last4, "4242");
  assert.deepEqual(await typesSince(stripe, before), [
    "payment_intent.created",
    "charge.succeeded",
    "payment_intent.succeeded",
  ]);

  const detached = await stripe.paymentMethods.detach(method.id);
  assert.equal(detached.customer, null);
  const after = await stripe.customers.retrieve(customer.id) as Stripe.Customer;
  assert.equal(after.invoice_settings.default_payment_method, null);
});

test("declined test cards answer 402 card_error with the decline code", async ({ stripe }) => {
  for (
    const [token, declineCode] of [
      ["pm_card_chargeDeclined", "generic_decline"],
      ["pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"],
    ]
  ) {
    const before = await lastEventId(stripe);
    const error = await stripeError(stripe.paymentIntents.create({
      amount: 1000,
      currency: "usd",
      payment_method: token,
      confirm: true,
    }));
    assert.equal(error.statusCode, 402);
    assert.equal(error.type, "StripeCardError");
    assert.equal(error.code, "card_declined");
    assert.equal(error.decline_code, declineCode);
    const paymentIntent = error.payment_intent as Stripe.PaymentIntent;
    assert.equal(paymentIntent.status, "requires_payment_method");
    assert.equal(paymentIntent.last_payment_error?.decline_code, declineCode);
    const charge = await stripe.charges.retrieve(paymentIntent.latest_charge as string);
    assert.equal(charge.status, "failed");
    assert.equal(charge.outcome?.reason, declineCode);
    assert.deepEqual(await typesSince(stripe, before), [
      "payment_intent.created",
      "charge.failed",
      "payment_intent.payment_failed",
    ]);
    // The issuer refuses to save these cards too.
    const customer = await stripe.customers.create({});
    const attach = await stripeError(
      stripe.paymentMethods.attach(token, { customer: customer.id }),
    );
    assert.equal(attach.statusCode, 402);
    assert.equal(attach.decline_code, declineCode);
  }

  // A declined PaymentIntent can be confirmed again with another card.
  const error = await stripeError(stripe.paymentIntents.create({
    amount: 1000,
    currency: "usd",
    payment_method: "pm_card_chargeDeclined",
    confirm: true,
  }));
  const retried = await stripe.paymentIntents.confirm(error.payment_intent?.id as string, {
    payment_method: "pm_card_visa",
  });
  assert.equal(retried.status, "succeeded");
});

test("3-D Secure cards need the buyer; a saved 3155 card pays off-session", async ({ emulator, stripe }) => {
  const paymentIntent = await stripe.paymentIntents.create({
    amount: 1500,
    currency: "eur",
    payment_method: "pm_card_authenticationRequiredOnSetup",
    confirm: true,
    return_url: "https://shop.example/done",
  });
  assert.equal(paymentIntent.status, "requires_action");
  assert.equal(paymentIntent.next_action?.type, "redirect_to_url");
  const url = paymentIntent.next_action?.redirect_to_url?.url as string;
  assert.ok(url.startsWith(`${emulator.url}/authenticate/${paymentIntent.id}`));
  const page = await fetch(url);
  assert.match(await page.text(), /data-testid="authenticate-approve"/);
  const approved = await fetch(`${url}/approve`, { method: "POST", redirect: "manual" });
  assert.equal(approved.status, 303);
  const back = new URL(approved.headers.get("location") as string);
  assert.equal(back.origin + back.pathname, "https://shop.example/done");
  assert.equal(back.searchParams.get("redirect_status"), "succeeded");
  assert.equal((await stripe.paymentIntents.retrieve(paymentIntent.id)).status, "succeeded");

  const customer = await customerPayingBy(stripe, "pm_card_authenticationRequiredOnSetup");
  const saved = customer.invoice_settings.default_payment_method as string;
  const offSession = await stripe.paymentIntents.create({
    amount: 1500,
    currency: "eur",
    customer: customer.id,
    payment_method: saved,
    confirm: true,
    off_session: true,
  });
  assert.equal(offSession.status, "succeeded");

  const always = await stripeError(stripe.paymentIntents.create({
    amount: 1500,
    currency: "eur",
    payment_method: "pm_card_authenticationRequired",
    confirm: true,
    off_session: true,
  }));
  assert.equal(always.code, "authentication_required");

  const failing = await stripe.paymentIntents.create({
    amount: 1500,
    currency: "eur",
    payment_method: "pm_card_authenticationRequired",
    confirm: true,
  });
  const failed = await fetch(`${emulator.url}/authenticate/${failing.id}/fail`, {
    method: "POST",
    redirect: "manual",
  });
  await failed.body?.cancel();
  const after = await stripe.paymentIntents.retrieve(failing.id);
  assert.equal(after.status, "requires_payment_method");
  assert.equal(after.last_payment_error?.code, "payment_intent_authentication_failure");
});

test("subscriptions.create pays its first invoice with the customer's default card", async ({ stripe }) => {
  const price = await createPrice(stripe, { unitAmount: 900 });
  const customer = await customerPayingBy(stripe, "pm_card_visa", { email: "sub@example.com" });
  const before = await lastEventId(stripe);
  const subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    expand: ["latest_invoice.payments"],
  });
  assert.equal(subscription.status, "active");
  const invoice = subscription.latest_invoice as Stripe.Invoice;
  assert.equal(invoice.status, "paid");
  assert.equal(invoice.amount_paid, 900);
  assert.equal(invoice.payments?.data[0].status, "paid");
  assert.deepEqual(await typesSince(stripe, before), [
    "customer.subscription.created",
    ...INVOICE_PAID_BY_CARD,
    "customer.subscription.updated",
  ]);

  // A card that attaches but fails every charge leaves a new subscription incomplete.
  const failing = await stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
    customer: customer.id,
  });
  const incomplete = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    default_payment_method: failing.id,
    expand: ["latest_invoice"],
  });
  assert.equal(incomplete.status, "incomplete");
  assert.equal(incomplete.default_payment_method, failing.id);
  assert.equal((incomplete.latest_invoice as Stripe.Invoice).status, "open");
  const refused = await stripeError(stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    default_payment_method: failing.id,
    payment_behavior: "error_if_incomplete",
  }));
  assert.equal(refused.statusCode, 402);
  assert.equal(refused.code, "card_declined");

  const trialing = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    trial_period_days: 14,
    expand: ["latest_invoice"],
  });
  assert.equal(trialing.status, "trialing");
  assert.equal(trialing.trial_end, trialing.items.data[0].current_period_end);
  assert.equal((trialing.trial_end ?? 0) - (trialing.trial_start ?? 0), 14 * 86400);
  const trialInvoice = trialing.latest_invoice as Stripe.Invoice;
  assert.equal(trialInvoice.amount_due, 0);
  assert.equal(trialInvoice.status, "paid");

  const noCard = await stripe.customers.create({});
  const unpaid = await stripe.subscriptions.create({
    customer: noCard.id,
    items: [{ price: price.id }],
    payment_behavior: "default_incomplete",
    expand: ["latest_invoice.confirmation_secret"],
  });
  assert.equal(unpaid.status, "incomplete");
  const secret = (unpaid.latest_invoice as Stripe.Invoice).confirmation_secret;
  assert.equal(secret?.type, "payment_intent");
  assert.match(secret?.client_secret ?? "", /^pi_\w+_secret_\w+$/);
  const plainInvoice = await stripe.invoices.retrieve(
    (unpaid.latest_invoice as Stripe.Invoice).id,
  );
  assert.ok(!("confirmation_secret" in plainInvoice));
});

test("a subscription Checkout declined by its card is paid by the next card", async ({ emulator, stripe }) => {
  const session = await openSession(stripe, {}, { unitAmount: 1100 });
  const complete = `checkout/sessions/${session.id}/complete`;
  const declined = await postControl(emulator, complete, { card: "4000 0000 0000 0341" });
  assert.equal(declined.status, 402);
  assert.equal((await declined.json()).error.type, "card_error");
  const open = await stripe.checkout.sessions.retrieve(session.id, {
    expand: ["subscription"],
  });
  assert.equal(open.status, "open");
  assert.equal((open.subscription as Stripe.Subscription).status, "incomplete");

  const paid = await postControl(emulator, complete, { card: "pm_card_mastercard" });
  assert.equal(paid.status, 200);
  await paid.body?.cancel();
  const done = await stripe.checkout.sessions.retrieve(session.id, {
    expand: ["subscription", "invoice.payments"],
  });
  assert.equal(done.status, "complete");
  const subscription = done.subscription as Stripe.Subscription;
  assert.equal(subscription.status, "active");
  const invoice = done.invoice as Stripe.Invoice;
  assert.equal(invoice.status, "paid");
  assert.deepEqual(invoice.payments?.data.map((payment) => payment.status), ["paid", "open"]);
  const method = await stripe.paymentMethods.retrieve(
    subscription.default_payment_method as string,
  );
  assert.equal(method.card?.brand, "mastercard");

  const unknown = await postControl(emulator, complete, { card: "1234" });
  assert.equal(unknown.status, 400);
  assert.equal((await unknown.json()).error.param, "card");
});
