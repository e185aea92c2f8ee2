/** Checkout Sessions: creation, line items, expiry, and what completing one creates. */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import {
  completeSession,
  createPrice,
  INVOICE_PAID_BY_CARD,
  lastEventId,
  openPaymentSession,
  openSession,
  postControl,
  stripeError,
  test,
  typesSince,
} from "./helpers.ts";

test("a payment session is open, priced, hosted and shaped like Stripe's", async ({ emulator, stripe }) => {
  const price = await createPrice(stripe, { unitAmount: 1200, recurring: false, name: "Mug" });
  const session = await stripe.checkout.sessions.create({
    mode: "payment",
    line_items: [{ price: price.id, quantity: 3 }],
    success_url: "https://shop.example/ok",
    cancel_url: "https://shop.example/cancel",
    client_reference_id: "user_7",
    metadata: { order_id: "o1" },
  });
  assert.match(session.id, /^cs_test_/);
  assert.equal(session.status, "open");
  assert.equal(session.payment_status, "unpaid");
  assert.equal(session.amount_total, 3600);
  assert.equal(session.currency, "usd");
  assert.equal(session.url, `${emulator.url}/checkout/${session.id}`);
  assert.equal(session.client_reference_id, "user_7");
  assert.deepEqual(session.metadata, { order_id: "o1" });
  assert.equal(session.payment_intent, null);
  assert.equal(session.line_items, undefined);
  assert.ok(session.expires_at > session.created);

  const expanded = await stripe.checkout.sessions.retrieve(session.id, {
    expand: ["line_items"],
  });
  assert.equal(expanded.line_items?.data.length, 1);
  const [item] = expanded.line_items!.data;
  assert.equal(item.object, "item");
  assert.equal(item.description, "Mug");
  assert.equal(item.quantity, 3);
  assert.equal(item.amount_total, 3600);
  assert.equal(item.price?.id, price.id);

  const items = await stripe.checkout.sessions.listLineItems(session.id);
  assert.deepEqual(items.data.map((i) => i.id), [item.id]);
  assert.equal(items.url, `/v1/checkout/sessions/${session.id}/line_items`);

  const created = await stripe.checkout.sessions.create({
    mode: "payment",
    line_items: [{ price: price.id, quantity: 1 }],
    expand: ["line_items"],
  });
  assert.equal(created.line_items?.data[0].quantity, 1);
  const listed = await stripe.checkout.sessions.list({ expand: ["data.line_items"] });
  assert.deepEqual(listed.data.map((s) => s.id), [created.id, session.id]);
  assert.equal(listed.data[1].line_items?.data[0].id, item.id);
});

test("completing a payment session creates a PaymentIntent and Charge with its metadata", async ({ emulator, stripe }) => {
  const price = await createPrice(stripe, { unitAmount: 2500, recurring: false });
  const session = await stripe.checkout.sessions.create({
    mode: "payment",
    line_items: [{ price: price.id, quantity: 2 }],
    customer_email: "pay@example.com",
    customer_creation: "always",
    payment_intent_data: { metadata: { order_id: "o9" } },
    metadata: { order_id: "o9" },
    success_url: "https://shop.example/ok",
  });
  const before = await lastEventId(stripe);
  await completeSession(emulator, session.id);

  const done = await stripe.checkout.sessions.retrieve(session.id, {
    expand: ["payment_intent", "customer"],
  });
  assert.equal(done.status, "complete");
  assert.equal(done.payment_status, "paid");
  assert.equal(done.customer_details?.email, "pay@example.com");
  const paymentIntent = done.payment_intent as Stripe.PaymentIntent;
  assert.equal(paymentIntent.status, "succeeded");
  assert.equal(paymentIntent.amount, 5000);
  assert.equal(paymentIntent.amount_received, 5000);
  assert.deepEqual(paymentIntent.metadata, { order_id: "o9" });
  assert.equal((done.customer as Stripe.Customer).email, "pay@example.com");
  assert.equal(paymentIntent.customer, (done.customer as Stripe.Customer).id);

  const charge = await stripe.charges.retrieve(paymentIntent.latest_charge as string);
  assert.equal(charge.status, "succeeded");
  assert.equal(charge.paid, true);
  assert.equal(charge.amount_captured, 5000);
  assert.equal(charge.payment_intent, paymentIntent.id);
  assert.deepEqual(charge.metadata, { order_id: "o9" });
  assert.deepEqual(
    (await stripe.charges.list({ payment_intent: paymentIntent.id })).data
      .map((c) => c.id),
    [charge.id],
  );
  assert.deepEqual(
    (await stripe.paymentIntents.list({ customer: paymentIntent.customer as string }))
      .data.map((p) => p.id),
    [paymentIntent.id],
  );
  assert.equal((await stripe.paymentIntents.retrieve(paymentIntent.id)).id, paymentIntent.id);

  assert.deepEqual(await typesSince(stripe, before), [
    "customer.created",
    "payment_intent.created",
    "charge.succeeded",
    "payment_intent.succeeded",
    "checkout.session.completed",
  ]);
  const completed = (await stripe.events.list({ type: "checkout.session.completed" })).data[0];
  const object = completed.data.object as Stripe.Checkout.Session;
  assert.deepEqual(object.metadata, { order_id: "o9" });
  assert.equal(completed.request?.id, null);
});

test("a guest payment without customer_creation has no customer object", async ({ emulator, stripe }) => {
  const session = await openPaymentSession(stripe);
  await completeSession(emulator, session.id);
  const done = await stripe.checkout.sessions.retrieve(session.id);
  assert.equal(done.customer, null);
  assert.equal(done.customer_details?.email, "buyer@example.com");
  assert.equal((await stripe.customers.list()).data.length, 0);
});

test("completing a subscription session creates subscription, invoice and payment", async ({ emulator, stripe }) => {
  const monthly = await createPrice(stripe, { unitAmount: 1500 });
  const setupFee = await createPrice(stripe, { unitAmount: 500, recurring: false });
  const session = await stripe.checkout.sessions.create({
    mode: "subscription",
    line_items: [{ price: monthly.id, quantity: 2 }, { price: setupFee.id, quantity: 1 }],
    customer_email: "sub@example.com",
    subscription_data: { metadata: { team_id: "t1" } },
    metadata: { team_id: "t1" },
    success_url: "https://app.example/ok",
  });
  assert.equal(session.amount_total, 3500);
  const before = await lastEventId(stripe);
  await completeSession(emulator, session.id);

  const done = await stripe.checkout.sessions.retrieve(session.id);
  assert.equal(done.payment_status, "paid");
  assert.equal(done.payment_intent, null);
  const subscription = await stripe.subscriptions.retrieve(done.subscription as string, {
    expand: ["latest_invoice.payments"],
  });
  assert.equal(subscription.status, "active");
  assert.equal(subscription.customer, done.customer);
  assert.deepEqual(subscription.metadata, { team_id: "t1" });
  assert.equal(subscription.items.data.length, 1);
  const [item] = subscription.items.data;
  assert.match(item.id, /^si_/);
  assert.equal(item.price.id, monthly.id);
  assert.equal(item.quantity, 2);
  assert.ok(item.current_period_end > item.current_period_start);

  const invoice = subscription.latest_invoice as Stripe.Invoice;
  assert.equal(invoice.id, done.invoice);
  assert.equal(invoice.status, "paid");
  assert.equal(invoice.billing_reason, "subscription_create");
  assert.equal(invoice.amount_paid, 3500);
  assert.equal(invoice.amount_remaining, 0);
  assert.equal(invoice.customer_email, "sub@example.com");
  assert.equal(invoice.parent?.type, "subscription_details");
  assert.equal(invoice.parent?.subscription_details?.subscription, subscription.id);
  assert.deepEqual(invoice.parent?.subscription_details?.metadata, { team_id: "t1" });
  assert.equal(invoice.lines.data.length, 2);
  assert.match(invoice.number ?? "", /^[A-Z0-9]+-0001$/);
  const payment = invoice.payments?.data[0];
  assert.equal(payment?.status, "paid");
  const paymentIntent = await stripe.paymentIntents.retrieve(
    payment?.payment.payment_intent as string,
  );
  assert.equal(paymentIntent.status, "succeeded");
  assert.equal(paymentIntent.amount, 3500);
  assert.equal((await stripe.invoices.retrieve(invoice.id)).id, invoice.id);
  assert.deepEqual(
    (await stripe.invoices.list({ subscription: subscription.id })).data.map((i) => i.id),
    [invoice.id],
  );

  assert.deepEqual(await typesSince(stripe, before), [
    "customer.created",
    "payment_method.attached",
    "customer.subscription.created",
    ...INVOICE_PAID_BY_CARD,
    "customer.subscription.updated",
    "checkout.session.completed",
  ]);
});

test("a subscription session for an existing customer reuses that customer", async ({ emulator, stripe }) => {
  const customer = await stripe.customers.create({ email: "known@example.com" });
  const session = await openSession(stripe, { customer: customer.id });
  await completeSession(emulator, session.id);
  const subscriptions = await stripe.subscriptions.list({ customer: customer.id });
  assert.equal(subscriptions.data.length, 1);
  assert.equal((await stripe.customers.list()).data.length, 1);
});

test("delayed payments complete unpaid, then succeed", async ({ emulator, stripe }) => {
  const session = await openPaymentSession(stripe);
  await completeSession(emulator, session.id, "async_pending");
  let current = await stripe.checkout.sessions.retrieve(session.id);
  assert.equal(current.status, "complete");
  assert.equal(current.payment_status, "unpaid");
  const processing = await stripe.paymentIntents.retrieve(current.payment_intent as string);
  assert.equal(processing.status, "processing");

  const before = await lastEventId(stripe);
  await completeSession(emulator, session.id, "async_succeeded");
  current = await stripe.checkout.sessions.retrieve(session.id);
  assert.equal(current.payment_status, "paid");
  assert.deepEqual(await typesSince(stripe, before), [
    "charge.succeeded",
    "payment_intent.succeeded",
    "checkout.session.async_payment_succeeded",
  ]);
});

test("a delayed subscription payment that fails emits async_payment_failed", async ({ emulator, stripe }) => {
  const session = await openSession(stripe);
  const before = await lastEventId(stripe);
  await completeSession(emulator, session.id, "async_failed");
  const current = await stripe.checkout.sessions.retrieve(session.id);
  assert.equal(current.payment_status, "unpaid");
  const subscription = await stripe.subscriptions.retrieve(current.subscription as string);
  assert.equal(subscription.status, "incomplete_expired");
  const types = await typesSince(stripe, before);
  assert.equal(types.at(-1), "checkout.session.async_payment_failed");
  for (
    const type of [
      "checkout.session.completed",
      "payment_intent.processing",
      "payment_intent.payment_failed",
      "invoice.payment_failed",
    ]
  ) {
    assert.ok(types.includes(type), type);
  }
  assert.ok(types.indexOf("checkout.session.completed") < types.indexOf("charge.failed"));
});

test("completing twice or with an unknown outcome is refused", async ({ emulator, stripe }) => {
  const session = await openPaymentSession(stripe);
  const base = "checkout/sessions";
  const unknown = await postControl(emulator, `${base}/${session.id}/complete`, {
    outcome: "maybe",
  });
  assert.equal(unknown.status, 400);
  assert.equal((await unknown.json()).error.param, "outcome");
  await completeSession(emulator, session.id);
  const again = await postControl(emulator, `${base}/${session.id}/complete`);
  assert.equal(again.status, 400);
  await again.body?.cancel();
  const missing = await postControl(emulator, `${base}/cs_test_missing/complete`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

test("an open session can be expired once, emitting checkout.session.expired", async ({ stripe }) => {
  const session = await openPaymentSession(stripe);
  const expired = await stripe.checkout.sessions.expire(session.id);
  assert.equal(expired.status, "expired");
  const again = await stripeError(stripe.checkout.sessions.expire(session.id));
  assert.equal(again.statusCode, 400);
  const events = await stripe.events.list({ type: "checkout.session.expired" });
  assert.equal((events.data[0].data.object as Stripe.Checkout.Session).id, session.id);
  assert.deepEqual(
    (await stripe.checkout.sessions.list({ status: "expired" })).data.map((s) => s.id),
    [session.id],
  );
});

test("session creation validates mode, prices and mode-specific data", async ({ stripe }) => {
  const monthly = await createPrice(stripe);
  const once = await createPrice(stripe, { recurring: false });
  const item = (price: Stripe.Price) => [{ price: price.id, quantity: 1 }];

  const noMode = await stripeError(stripe.checkout.sessions.create({ line_items: item(once) }));
  assert.deepEqual([noMode.code, noMode.param], ["parameter_missing", "mode"]);
  const recurringInPayment = await stripeError(
    stripe.checkout.sessions.create({ mode: "payment", line_items: item(monthly) }),
  );
  assert.equal(recurringInPayment.param, "line_items[0][price]");
  const noRecurring = await stripeError(
    stripe.checkout.sessions.create({ mode: "subscription", line_items: item(once) }),
  );
  assert.equal(noRecurring.param, "line_items");
  const wrongData = await stripeError(stripe.checkout.sessions.create({
    mode: "subscription",
    line_items: item(monthly),
    payment_intent_data: { metadata: { a: "b" } },
  }));
  assert.equal(wrongData.param, "payment_intent_data");
  const unknownPrice = await stripeError(stripe.checkout.sessions.create({
    mode: "payment",
    line_items: [{ price: "price_missing", quantity: 1 }],
  }));
  assert.deepEqual([unknownPrice.statusCode, unknownPrice.param], [404, "line_items[0][price]"]);
  await stripe.prices.update(once.id, { active: false });
  const inactive = await stripeError(
    stripe.checkout.sessions.create({ mode: "payment", line_items: item(once) }),
  );
  assert.match(inactive.message, /inactive/);
  const unknownCustomer = await stripeError(stripe.checkout.sessions.create({
    mode: "subscription",
    customer: "cus_missing",
    line_items: item(monthly),
  }));
  assert.deepEqual([unknownCustomer.statusCode, unknownCustomer.param], [404, "customer"]);
});

test("a billing portal session points at the hosted portal for a customer", async ({ emulator, stripe }) => {
  const customer = await stripe.customers.create({ email: "p@example.com" });
  const session = await stripe.billingPortal.sessions.create({
    customer: customer.id,
    return_url: "https://app.example/account",
  });
  assert.match(session.id, /^bps_/);
  assert.equal(session.object, "billing_portal.session");
  assert.equal(session.customer, customer.id);
  assert.equal(session.return_url, "https://app.example/account");
  assert.equal(session.url, `${emulator.url}/billing_portal/${session.id}`);
  assert.match(String(session.configuration), /^bpc_/);
  const missing = await stripeError(
    stripe.billingPortal.sessions.create({ customer: "cus_missing" }),
  );
  assert.deepEqual([missing.statusCode, missing.param], [404, "customer"]);
  const noCustomer = await stripeError(stripe.billingPortal.sessions.create({} as never));
  assert.equal(noCustomer.code, "parameter_missing");
});
