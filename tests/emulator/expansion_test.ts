/**
 * Includable fields follow the pinned API version: `invoice.payments` and `charge.refunds`
 * appear only when a request expands them, in responses and never in event payloads.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { buySubscription, test, withListener } from "./helpers.ts";

test("invoices carry payments and charges carry refunds only when expanded", async ({ emulator, stripe }) => {
  await withListener(stripe, async (receiver) => {
    const invoiceId = (await buySubscription(emulator, stripe)).invoice as string;

    const plain = await stripe.invoices.retrieve(invoiceId);
    assert.ok(!("payments" in plain), "a plain invoice has no payments");
    assert.ok(!("payment_intent" in plain) && !("charge" in plain));
    const listed = await stripe.invoices.list({ limit: 1 });
    assert.ok(!("payments" in listed.data[0]));

    const expanded = await stripe.invoices.retrieve(invoiceId, { expand: ["payments"] });
    const payment = expanded.payments?.data[0];
    assert.equal(payment?.object, "invoice_payment");
    assert.equal(payment?.status, "paid");
    const withIntent = await stripe.invoices.list({
      expand: ["data.payments.data.payment.payment_intent"],
      limit: 1,
    });
    const intent = withIntent.data[0].payments?.data[0].payment
      .payment_intent as Stripe.PaymentIntent;
    assert.equal(intent.status, "succeeded");

    const chargeId = intent.latest_charge as string;
    await stripe.refunds.create({ charge: chargeId, amount: 500 });
    const charge = await stripe.charges.retrieve(chargeId);
    assert.ok(!("refunds" in charge), "a plain charge has no refunds");
    assert.equal(charge.amount_refunded, 500);
    const withRefunds = await stripe.charges.retrieve(chargeId, { expand: ["refunds"] });
    assert.deepEqual(withRefunds.refunds?.data.map((refund) => refund.amount), [500]);
    const viaIntent = await stripe.paymentIntents.retrieve(intent.id, {
      expand: ["latest_charge"],
    });
    assert.ok(!("refunds" in (viaIntent.latest_charge as Stripe.Charge)));

    await receiver.waitFor((received) =>
      received.some((webhook) => JSON.parse(webhook.body).type === "charge.refunded")
    );
    for (const webhook of receiver.received) {
      const event = JSON.parse(webhook.body);
      const object = event.data.object;
      if (object.object === "invoice") assert.ok(!("payments" in object), event.type);
      if (object.object === "charge") assert.ok(!("refunds" in object), event.type);
      assert.ok(!("refunds" in (event.data.previous_attributes ?? {})), event.type);
    }
  });
});
