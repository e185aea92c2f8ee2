/**
 * Every object the emulator serves carries every field the pinned SDK's types declare as
 * required, at every depth (sdk_schema.ts reads them from node_modules/stripe), and no
 * includable list (`invoice.payments`, `charge.refunds`) unless it was expanded. Objects are
 * gathered from API responses and from the payloads of every event the flows emit.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { checkObject, interfacesFor, optionalListFields } from "./sdk_schema.ts";
import { completeSession, createPrice, postControl, stripeError, test } from "./helpers.ts";

type Json = Record<string, unknown>;

/** Every object (anything with an `object` field other than `list`) inside `value`. */
function objectsIn(value: unknown, found: Json[] = []): Json[] {
  if (Array.isArray(value)) {
    for (const item of value) objectsIn(item, found);
  } else if (value !== null && typeof value === "object") {
    const object = value as Json;
    if (typeof object.object === "string" && object.object !== "list") found.push(object);
    for (const field of Object.values(object)) objectsIn(field, found);
  }
  return found;
}

test("every served object carries the fields the pinned SDK declares required", async ({ emulator, stripe }) => {
  const served: unknown[] = [];
  const keep = <T>(value: T): T => {
    served.push(value);
    return value;
  };

  keep(await stripe.accounts.retrieveCurrent());
  const monthly = keep(await createPrice(stripe, { unitAmount: 1000 }));
  const oneTime = keep(await createPrice(stripe, { unitAmount: 500, recurring: false }));
  keep(await stripe.products.retrieve(monthly.product as string));
  keep(
    await stripe.products.del(
      (await stripe.products.create({ name: "Short-lived" })).id,
    ),
  );
  keep(
    await stripe.webhookEndpoints.create({
      url: "https://example.com/hook",
      enabled_events: ["*"],
    }),
  );
  const clock = keep(await stripe.testHelpers.testClocks.create({ frozen_time: 1900000000 }));
  const customer = keep(
    await stripe.customers.create({
      email: "schema@example.com",
      test_clock: clock.id,
      payment_method: "pm_card_visa",
      invoice_settings: { default_payment_method: "pm_card_visa" },
    }),
  );
  keep(await stripe.customers.listPaymentMethods(customer.id));
  const subscription = keep(
    await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: monthly.id }],
      expand: ["latest_invoice.payments", "items.data.price.product"],
    }),
  );
  keep(await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: 1903000000 }));
  keep(await stripe.testHelpers.testClocks.retrieve(clock.id));
  keep(await stripe.invoicePayments.list({ expand: ["data.payment.payment_intent"] }));
  keep(await stripe.invoices.list({ expand: ["data.payments"] }));

  const paymentSession = keep(
    await stripe.checkout.sessions.create({
      mode: "payment",
      customer_creation: "always",
      line_items: [{ price: oneTime.id, quantity: 2 }],
      success_url: "https://example.com/ok",
    }),
  );
  await completeSession(emulator, paymentSession.id);
  const paid = keep(
    await stripe.checkout.sessions.retrieve(paymentSession.id, {
      expand: ["line_items", "payment_intent.latest_charge", "customer"],
    }),
  );
  const paymentIntent = paid.payment_intent as Stripe.PaymentIntent;
  keep(
    await stripe.refunds.create({
      payment_intent: paymentIntent.id,
      amount: 100,
      expand: ["charge"],
    }),
  );
  keep(
    await stripe.charges.retrieve((paymentIntent.latest_charge as Stripe.Charge).id, {
      expand: ["refunds", "payment_method", "customer"],
    }),
  );
  const declined = await stripeError(stripe.paymentIntents.create({
    amount: 700,
    currency: "usd",
    payment_method: "pm_card_chargeDeclined",
    confirm: true,
  }));
  keep(declined.raw);
  keep(
    await stripe.paymentIntents.create({
      amount: 700,
      currency: "usd",
      payment_method: "pm_card_authenticationRequired",
      confirm: true,
      return_url: "https://example.com/back",
    }),
  );
  const asyncSession = await stripe.checkout.sessions.create({
    mode: "subscription",
    line_items: [{ price: monthly.id, quantity: 1 }],
    subscription_data: { trial_period_days: 3 },
  });
  await completeSession(emulator, asyncSession.id, "async_pending");
  keep(await stripe.checkout.sessions.list({ expand: ["data.line_items"] }));
  keep(await stripe.checkout.sessions.listLineItems(asyncSession.id));
  keep(
    await stripe.billingPortal.sessions.create({
      customer: customer.id,
      return_url: "https://example.com",
    }),
  );
  keep(await stripe.subscriptions.cancel(subscription.id));
  keep(await stripe.customers.del((await stripe.customers.create({})).id));
  const events = await stripe.events.list({ limit: 100 });
  keep(events);

  const objects = objectsIn(served);
  const types = new Set(objects.map((object) => String(object.object)));
  for (
    const expected of [
      "account",
      "billing_portal.session",
      "charge",
      "checkout.session",
      "customer",
      "event",
      "invoice",
      "invoice_payment",
      "item",
      "line_item",
      "payment_intent",
      "payment_method",
      "plan",
      "price",
      "product",
      "refund",
      "subscription",
      "subscription_item",
      "test_helpers.test_clock",
      "webhook_endpoint",
    ]
  ) {
    assert.ok(types.has(expected), `no ${expected} was served`);
    assert.ok(interfacesFor(expected).length > 0, `the SDK declares no ${expected}`);
  }
  const problems = objects.flatMap((object) => checkObject(object))
    .map((problem) => `${problem.path}: ${problem.message}`);
  assert.deepEqual([...new Set(problems)], []);
  // The check sees a nested field go missing, and an expanded object's too.
  const charge = structuredClone(objects.find((object) => object.object === "charge")) as Json;
  const card = (charge.payment_method_details as Json).card as Json;
  delete card.last4;
  charge.customer = { object: "customer", id: "cus_broken" };
  const found = checkObject(charge).map((problem) => problem.path);
  assert.ok(found.includes("charge.payment_method_details.card.last4"), found.join(", "));
  assert.ok(found.includes("charge.customer.email"), found.join(", "));

  // Lists the SDK declares optional are includable: present only where expanded.
  const expanded = new Set(["payments", "refunds", "line_items"]);
  for (const event of events.data) {
    const object = event.data.object as unknown as Json;
    for (const field of optionalListFields(String(object.object))) {
      assert.ok(!(field in object), `${event.type}: ${object.object}.${field}`);
    }
  }
  const plain = [
    await stripe.invoices.retrieve(String((subscription.latest_invoice as Stripe.Invoice).id)),
    await stripe.charges.retrieve((paymentIntent.latest_charge as Stripe.Charge).id),
    await stripe.checkout.sessions.retrieve(paymentSession.id),
  ] as unknown as Json[];
  for (const object of plain) {
    const optional = optionalListFields(String(object.object));
    assert.ok(optional.some((field) => expanded.has(field)), String(object.object));
    for (const field of optional) assert.ok(!(field in object), `${object.object}.${field}`);
  }

  const response = await postControl(emulator, "reset");
  await response.body?.cancel();
});
