// A subscription paid through Checkout and then fully refunded, as current Stripe API versions
// report it: the invoice names no PaymentIntent, invoice_payment.paid links them, and
// charge.refunded carries no refunds list. The refund must still reach the invoice's transaction.
import assert from "node:assert/strict";
import { createPrices } from "../../scripts/stack.ts";
import { createCheckout } from "../support/checkout.ts";
import { call, eventually, withStack } from "../support/stack.ts";

const USER = "55555555-5555-4555-8555-555555555555";

Deno.test("a full refund of a subscription invoice turns its transaction refunded through the emulator", async () => {
  await withStack({ jwtSecret: null }, async (stack) => {
    const connected = await stack.connectStripe();
    assert.equal(connected.status, 200, await connected.text());
    const [price] = await createPrices(stack.stripe, "Club", [
      { currency: "usd", unitAmount: 1200, interval: "month" },
    ]);
    const created = await createCheckout(stack, await stack.userToken(USER), {
      mode: "subscription",
      subject: { type: "user", id: USER },
      lineItems: [{ priceId: price }],
      successUrl: "https://club.example/welcome",
      cancelUrl: "https://club.example/plans",
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    const page = await fetch(created.body.checkoutSession.url);
    const html = await page.text();
    const form =
      /<form[^>]*action="([^"]+)"[^>]*>[\s\S]*?Pay|<form[^>]*action="([^"]+)"[^>]*>[\s\S]*?Subscribe/i
        .exec(html);
    assert.ok(form, "the page has a Pay form");
    const paid = await fetch(
      new URL((form[1] ?? form[2]).replaceAll("&amp;", "&"), created.body.checkoutSession.url),
      { method: "POST", redirect: "manual" },
    );
    await paid.body?.cancel();
    assert.equal(paid.status, 303);

    const invoice = await eventually("the invoice's transaction to know its payment", async () => {
      const [row] = await stack.sql`
        select invoice_id, payment_intent_id, charge_id, amount from payments.transactions
        where type = 'subscription_invoice' and payment_intent_id is not null and charge_id is not null`;
      return row;
    });
    assert.equal(Number(invoice.amount), 1200);
    const [{ count }] = await stack.sql`
      select count(*) from payments.transactions where type = 'one_time_payment'`;
    assert.equal(Number(count), 0, "the invoice's PaymentIntent is not a one-time payment too");
    const delivered = await stack.sql`
      select 1 from payments.webhook_events where event_type = 'invoice_payment.paid'`;
    assert.equal(delivered.length, 1, "the endpoint subscribes to invoice_payment.paid");

    await stack.stripe.refunds.create({ payment_intent: invoice.payment_intent_id });
    const refunded = await eventually("the invoice's transaction to be refunded", async () => {
      const [row] = await stack.sql`
        select status, amount_refunded, subject_id from payments.transactions
        where invoice_id = ${invoice.invoice_id} and type = 'subscription_invoice' and status = 'refunded'`;
      return row;
    });
    assert.equal(Number(refunded.amount_refunded), 1200);
    assert.equal(refunded.subject_id, USER);
    const [refund] = await stack.sql`
      select subject_id, invoice_id from payments.transactions where type = 'refund'`;
    assert.deepEqual({ ...refund }, { subject_id: USER, invoice_id: invoice.invoice_id });

    // A sync reads the same PaymentIntent without its invoice: the invoice payments it lists first
    // keep it from being counted again as a one-time payment.
    await stack.sql`delete from payments_private.invoice_payments`;
    const synced = await call(stack, "POST", "/stripe/test/sync", { token: stack.secretKey });
    assert.equal(synced.status, 200, JSON.stringify(synced.body));
    const rows = await stack.sql`
      select type, status from payments.transactions where type <> 'refund' order by type`;
    assert.deepEqual(rows.map((row) => ({ ...row })), [
      { type: "subscription_invoice", status: "refunded" },
    ]);
  });
});
