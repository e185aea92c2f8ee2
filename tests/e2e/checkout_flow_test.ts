// The whole loop, with every real part: checkout through the function, payment on the emulator's
// hosted page, a signed webhook back into the function, projection, and the app's own trigger.
import assert from "node:assert/strict";
import { createPrices } from "../../scripts/stack.ts";
import { createCheckout, paymentRequest } from "../support/checkout.ts";
import { call, eventually, withStack } from "../support/stack.ts";

const USER = "33333333-3333-4333-8333-333333333333";

Deno.test("checkout, pay on the hosted page, signed webhook, order paid by the safe fulfillment trigger", async () => {
  // Configured as a current Supabase project: secret keys and a JWKS, no legacy JWT secret.
  await withStack({ jwtSecret: null }, async (stack) => {
    await stack.sql.file("sql/examples/fulfillment.sql");
    // The example fulfils live payments only; this loop pays with a test card.
    await stack.sql`insert into public.fulfillment_environments values ('test')`;
    // Created before connecting, so the first sync brings the price into the catalog that prices orders.
    const [price] = await createPrices(stack.stripe, "Poster", [{
      currency: "eur",
      unitAmount: 2500,
    }]);
    const connected = await stack.connectStripe();
    assert.equal(connected.status, 200, await connected.text());

    const [order] = await stack.sql`
      insert into public.orders (user_id, price_id) values (${USER}, ${price}) returning id, amount, currency`;
    assert.deepEqual([Number(order.amount), order.currency], [2500, "eur"]);
    const token = await stack.userToken(USER, "grace@example.com");
    const created = await createCheckout(
      stack,
      token,
      paymentRequest(price, {
        successUrl: "https://shop.example/done?session={CHECKOUT_SESSION_ID}",
        metadata: { order_id: order.id },
        idempotencyKey: `order:${order.id}`,
      }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { url, checkoutSessionId } = created.body.checkoutSession;

    // The hosted page shows the line item and a Pay button; submitting it pays and redirects.
    const page = await fetch(url);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /Poster/);
    const form = /<form[^>]*action="([^"]+)"[^>]*>[\s\S]*?Pay/i.exec(html);
    assert.ok(form, "the page has a Pay form");
    const paid = await fetch(new URL(form[1].replaceAll("&amp;", "&"), url), {
      method: "POST",
      redirect: "manual",
    });
    await paid.body?.cancel();
    assert.equal(paid.status, 303);
    assert.equal(
      paid.headers.get("location"),
      `https://shop.example/done?session=${checkoutSessionId}`,
    );

    const row = await eventually("the checkout row to complete", async () => {
      const [row] = await stack.sql`
        select status, payment_status, payment_intent_id, amount_total from payments.stripe_checkout_sessions
        where checkout_session_id = ${checkoutSessionId} and status = 'completed'`;
      return row;
    });
    assert.equal(row.payment_status, "paid");
    assert.equal(Number(row.amount_total), 2500);

    const fulfilled = await eventually("the order to be paid", async () => {
      const [row] = await stack
        .sql`select status, paid_at from public.orders where id = ${order.id} and status = 'paid'`;
      return row;
    });
    assert.ok(fulfilled.paid_at);

    const [event] = await stack.sql`
      select processing_status, attempt_count from payments.webhook_events
      where event_type = 'checkout.session.completed'`;
    assert.deepEqual({ ...event }, { processing_status: "processed", attempt_count: 1 });
    const [payment] = await stack.sql`
      select status, amount, subject_id from payments.transactions where type = 'one_time_payment'`;
    assert.deepEqual({ ...payment, amount: Number(payment.amount) }, {
      status: "succeeded",
      amount: 2500,
      subject_id: USER,
    });

    // The mapping made by this checkout lets the same user open the Billing Portal.
    const portal = await call(stack, "POST", "/stripe/test/customer-portal-sessions", {
      token,
      body: { returnUrl: "https://shop.example/account" },
    });
    assert.equal(portal.status, 201, JSON.stringify(portal.body));
    assert.match(portal.body.customerPortalSession.url, /^http/);

    const status = await call(stack, "GET", "/stripe/status", { token: stack.secretKey });
    assert.equal(status.status, 200);
    assert.equal(status.body.environments.test.configured, true);
  });
});
