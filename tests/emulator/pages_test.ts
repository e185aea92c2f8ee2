/** The hosted Checkout and Billing Portal pages, driven the way a browser submits forms. */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import {
  buySubscription,
  completeSession,
  createPrice,
  openPaymentSession,
  openSession,
  sessionFor,
  submitForm,
  test,
} from "./helpers.ts";

test("the Checkout page lists line items and total with Pay and Cancel buttons", async ({ stripe }) => {
  const session = await openSession(stripe, { customer_email: "page@example.com" }, {
    unitAmount: 1999,
    name: "Pro <plan>",
    quantity: 2,
  });
  const response = await fetch(session.url!);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /text\/html/);
  const html = await response.text();
  assert.match(html, /Pro &lt;plan&gt;/);
  assert.match(html, /USD 19\.99 \/ month/);
  assert.match(html, /<td class="quantity">2<\/td>/);
  assert.match(html, /<td id="total" data-amount="3998">USD 39\.98<\/td>/);
  assert.match(
    html,
    /<button type="submit" id="pay" data-testid="pay" class="pay">Subscribe<\/button>/,
  );
  assert.match(html, /name="card_number" value="4242 4242 4242 4242" id="card-number"/);
  assert.match(html, /id="card-expiry"/);
  assert.match(html, /id="card-cvc"/);
  assert.match(html, /id="cancel" data-testid="cancel"[^>]*>Cancel<\/button>/);
  assert.match(html, /value="page@example.com"/);
});

test("Pay completes the session and redirects to success_url with the session id", async ({ emulator, stripe }) => {
  const session = await openPaymentSession(stripe, {
    customer_creation: "always",
    success_url: "https://shop.example/thanks?id={CHECKOUT_SESSION_ID}&x=1",
  });
  const response = await submitForm(session.url!, { id: "pay-form" }, {
    email: "typed@example.com",
    name: "Typed Name",
  });
  assert.equal(response.status, 303);
  assert.equal(
    response.headers.get("location"),
    `https://shop.example/thanks?id=${session.id}&x=1`,
  );
  const done = await stripe.checkout.sessions.retrieve(session.id);
  assert.equal(done.status, "complete");
  assert.equal(done.customer_details?.email, "typed@example.com");
  assert.equal(done.customer_details?.name, "Typed Name");

  const after = await (await fetch(session.url!)).text();
  assert.doesNotMatch(after, /id="pay"/);
  assert.match(after, /data-status="complete"/);
  const again = await fetch(`${emulator.url}/checkout/${session.id}/pay`, {
    method: "POST",
    body: new URLSearchParams(),
  });
  assert.equal(again.status, 409);
  await again.body?.cancel();
});

test("Cancel redirects to cancel_url and leaves the session open", async ({ stripe }) => {
  const session = await openPaymentSession(stripe, {
    success_url: "https://shop.example/ok",
    cancel_url: "https://shop.example/cart",
  });
  const response = await submitForm(session.url!, { buttonText: "Cancel" });
  assert.equal(response.status, 303);
  assert.equal(response.headers.get("location"), "https://shop.example/cart");
  assert.equal((await stripe.checkout.sessions.retrieve(session.id)).status, "open");
});

test("an expired session's page says so instead of offering Pay", async ({ emulator, stripe }) => {
  const price = await createPrice(stripe, { recurring: false });
  const session = await sessionFor(stripe, price);
  await stripe.checkout.sessions.expire(session.id);
  const html = await (await fetch(session.url!)).text();
  assert.match(html, /This Checkout Session has expired\./);
  assert.doesNotMatch(html, /id="expired-return"/);
  const withCancel = await sessionFor(stripe, price, { cancel_url: "https://shop.example/cart" });
  await stripe.checkout.sessions.expire(withCancel.id);
  assert.match(
    await (await fetch(withCancel.url!)).text(),
    /<a id="expired-return" data-testid="expired-return" href="https:\/\/shop.example\/cart">/,
  );
  assert.doesNotMatch(html, /id="pay"/);
  const unknown = await fetch(`${emulator.url}/checkout/cs_test_unknown`);
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

test("the portal lists subscriptions, cancels one and links back to return_url", async ({ emulator, stripe }) => {
  const { customer, subscription } = await buySubscription(emulator, stripe, {
    customer_email: "portal@example.com",
  }, { unitAmount: 900, name: "Basic" });
  const portal = await stripe.billingPortal.sessions.create({
    customer: customer as string,
    return_url: "https://app.example/account",
  });

  const html = await (await fetch(portal.url)).text();
  assert.match(html, /Basic × 1 — USD 9\.00 \/ month/);
  assert.match(html, new RegExp(`data-subscription-id="${subscription}" data-status="active"`));
  assert.match(
    html,
    /<a id="return" data-testid="return" href="https:\/\/app.example\/account">/,
  );
  assert.match(html, />Cancel subscription<\/button>/);

  const response = await submitForm(portal.url, { buttonText: "Cancel subscription" });
  assert.equal(response.status, 303);
  assert.equal(response.headers.get("location"), portal.url);
  const canceled = await stripe.subscriptions.retrieve(subscription as string);
  assert.equal(canceled.status, "canceled");
  const deleted = await stripe.events.list({ type: "customer.subscription.deleted" });
  assert.equal(deleted.data.length, 1);

  const after = await (await fetch(portal.url)).text();
  assert.match(after, /data-status="canceled"/);
  assert.doesNotMatch(after, />Cancel subscription</);
});

test("the portal refuses to cancel another customer's subscription", async ({ emulator, stripe }) => {
  const { subscription } = await buySubscription(emulator, stripe);
  const stranger = await stripe.customers.create({ email: "stranger@example.com" });
  const portal = await stripe.billingPortal.sessions.create({ customer: stranger.id });
  const html = await (await fetch(portal.url)).text();
  assert.match(html, /No subscriptions\./);
  const response = await fetch(
    `${emulator.url}/billing_portal/${portal.id}/subscriptions/${subscription}/cancel`,
    { method: "POST", redirect: "manual" },
  );
  assert.equal(response.status, 404);
  await response.body?.cancel();
  assert.equal((await stripe.subscriptions.retrieve(subscription as string)).status, "active");
});

test("a declined or mistyped card is shown inline and leaves the session open", async ({ stripe }) => {
  const session = await openPaymentSession(stripe, {
    success_url: "https://shop.example/ok",
  });
  const cases: [Record<string, string>, number, RegExp, string][] = [
    [{ card_number: "4000 0000 0000 0002" }, 402, /Your card was declined\./, "card"],
    [{ card_number: "4000 0000 0000 9995" }, 402, /insufficient funds/, "card"],
    [{ card_number: "4242 4242 4242 4241" }, 400, /Your card number is invalid\./, "number"],
    [{ card_expiry: "01 / 20" }, 400, /expiration date is in the past/, "expiry"],
    [{ card_cvc: "1" }, 400, /security code is incomplete/, "cvc"],
  ];
  for (const [fields, status, message, field] of cases) {
    const response = await submitForm(session.url!, { id: "pay-form" }, fields);
    assert.equal(response.status, status, JSON.stringify(fields));
    const html = await response.text();
    assert.match(html, message);
    assert.match(
      html,
      new RegExp(`id="card-error" class="field-error" role="alert" data-field="${field}"`),
    );
    assert.match(html, /aria-invalid="true"/);
  }
  const open = await stripe.checkout.sessions.retrieve(session.id, {
    expand: ["payment_intent"],
  });
  assert.equal(open.status, "open");
  const paymentIntent = open.payment_intent as Stripe.PaymentIntent;
  assert.equal(paymentIntent.last_payment_error?.decline_code, "insufficient_funds");

  const paid = await submitForm(session.url!, { id: "pay-form" });
  assert.equal(paid.status, 303);
  const done = await stripe.checkout.sessions.retrieve(session.id);
  assert.equal(done.status, "complete");
  assert.equal(done.payment_intent, paymentIntent.id, "the retry reuses the PaymentIntent");
});

test("the 3-D Secure card shows the authentication step, then completes or fails", async ({ emulator, stripe }) => {
  const price = await createPrice(stripe);
  const create = () =>
    sessionFor(stripe, price, { success_url: "https://shop.example/ok?s={CHECKOUT_SESSION_ID}" });
  const session = await create();
  const response = await submitForm(session.url!, { id: "pay-form" }, {
    card_number: "4000 0025 0000 3155",
  });
  assert.equal(response.status, 303);
  const challenge = response.headers.get("location")!;
  assert.match(challenge, new RegExp(`^${emulator.url}/authenticate/pi_`));
  const waiting = await stripe.checkout.sessions.retrieve(session.id, {
    expand: ["subscription"],
  });
  assert.equal(waiting.status, "open");
  assert.equal((waiting.subscription as Stripe.Subscription).status, "incomplete");
  const approved = await submitForm(challenge, {
    id: undefined,
    buttonText: "Complete authentication",
  });
  assert.equal(approved.status, 303);
  assert.equal(approved.headers.get("location"), `https://shop.example/ok?s=${session.id}`);
  const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ["subscription"] });
  assert.equal(done.status, "complete");
  assert.equal((done.subscription as Stripe.Subscription).status, "active");

  const failing = await create();
  const second = await submitForm(failing.url!, { id: "pay-form" }, {
    card_number: "4000002500003155",
  });
  const failed = await submitForm(second.headers.get("location")!, {
    buttonText: "Fail authentication",
  });
  assert.equal(failed.status, 303);
  assert.equal(failed.headers.get("location"), failing.url);
  const page = await (await fetch(failing.url!)).text();
  assert.match(page, /We are unable to authenticate your payment method/);
  assert.equal((await stripe.checkout.sessions.retrieve(failing.id)).status, "open");
});

test("the portal lists invoices and the card, switches plan, schedules and resumes a cancel, updates the card", async ({ emulator, stripe }) => {
  const basic = await createPrice(stripe, { unitAmount: 900, name: "Basic" });
  const pro = await createPrice(stripe, { unitAmount: 2900, name: "Pro" });
  const checkout = await sessionFor(stripe, basic, { customer_email: "portal@example.com" });
  await completeSession(emulator, checkout.id);
  const { customer, subscription, invoice } = await stripe.checkout.sessions.retrieve(
    checkout.id,
  );
  const portal = await stripe.billingPortal.sessions.create({ customer: customer as string });
  const html = await (await fetch(portal.url)).text();
  assert.match(html, new RegExp(`data-invoice-id="${invoice}" data-status="paid"`));
  assert.match(html, /id="payment-method" data-payment-method="pm_\w+">VISA •••• 4242/);

  const switched = await submitForm(portal.url, { buttonText: "Switch plan" }, {
    price: pro.id,
  });
  assert.equal(switched.status, 303);
  const afterSwitch = await stripe.subscriptions.retrieve(subscription as string);
  assert.equal(afterSwitch.items.data[0].price.id, pro.id);
  const updated = await stripe.events.list({ type: "customer.subscription.updated", limit: 1 });
  const previous = updated.data[0].data.previous_attributes as Partial<Stripe.Subscription>;
  assert.equal(previous.items?.data[0].price.id, basic.id);

  await submitForm(portal.url, { buttonText: "Cancel at period end" });
  assert.equal(
    (await stripe.subscriptions.retrieve(subscription as string)).cancel_at_period_end,
    true,
  );
  assert.match(await (await fetch(portal.url)).text(), />Resume subscription</);
  await submitForm(portal.url, { buttonText: "Resume subscription" });
  assert.equal(
    (await stripe.subscriptions.retrieve(subscription as string)).cancel_at_period_end,
    false,
  );

  const declined = await submitForm(portal.url, { id: "update-card-form" }, {
    card_number: "4000000000000002",
  });
  assert.equal(declined.status, 402);
  assert.match(await declined.text(), /Your card was declined\./);
  const saved = await submitForm(portal.url, { id: "update-card-form" }, {
    card_number: "5555 5555 5555 4444",
  });
  assert.equal(saved.status, 303);
  const owner = await stripe.customers.retrieve(customer as string) as Stripe.Customer;
  const method = await stripe.paymentMethods.retrieve(
    owner.invoice_settings.default_payment_method as string,
  );
  assert.equal(method.card?.brand, "mastercard");
  assert.equal(
    (await stripe.subscriptions.retrieve(subscription as string)).default_payment_method,
    method.id,
  );
  assert.match(await (await fetch(portal.url)).text(), /MASTERCARD •••• 4444/);
});
