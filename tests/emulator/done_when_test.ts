/**
 * The "Done when" script: only the stripe SDK creates a product and price, opens a
 * subscription Checkout Session, completes it through the hosted page, and the script's own
 * HTTP endpoint receives correctly signed events.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import {
  eventTypes,
  openSession,
  submitForm,
  test,
  verifiedEvent,
  withListener,
} from "./helpers.ts";

test("a subscription bought on the hosted Checkout page reaches a webhook receiver, signed", async ({ stripe }) => {
  await withListener(stripe, async (receiver, endpoint) => {
    const session = await openSession(stripe, {
      success_url: "https://app.example/success?session={CHECKOUT_SESSION_ID}",
      cancel_url: "https://app.example/cancel",
      customer_email: "buyer@example.com",
      metadata: { order_id: "order_42" },
    }, { unitAmount: 4900, name: "Team plan" });
    assert.ok(session.url);

    const response = await submitForm(session.url, { buttonText: "Subscribe" });
    assert.equal(response.status, 303);
    assert.equal(
      response.headers.get("location"),
      `https://app.example/success?session=${session.id}`,
    );

    const wanted = [
      "checkout.session.completed",
      "customer.subscription.created",
      "invoice.paid",
    ];
    await receiver.waitFor((received) =>
      wanted.every((type) => eventTypes(received).includes(type))
    );
    const events = new Map<string, Stripe.Event>();
    for (const webhook of receiver.received) {
      const event = await verifiedEvent(stripe, webhook, endpoint);
      events.set(event.type, event);
    }
    const completed = events.get("checkout.session.completed")!.data
      .object as Stripe.Checkout.Session;
    assert.equal(completed.id, session.id);
    assert.equal(completed.payment_status, "paid");
    assert.equal(completed.metadata?.order_id, "order_42");
    const subscription = events.get("customer.subscription.created")!.data
      .object as Stripe.Subscription;
    assert.equal(subscription.id, completed.subscription);
    const invoice = events.get("invoice.paid")!.data.object as Stripe.Invoice;
    assert.equal(invoice.parent?.subscription_details?.subscription, subscription.id);
    assert.equal(invoice.amount_paid, 4900);
  });
});
