/** The hosted Checkout and Billing Portal pages, driven the way a browser submits forms. */
import assert from "node:assert/strict";
import { completeSession, createPrice, stripeClient, submitForm, withEmulator } from "./helpers.ts";

Deno.test("the Checkout page lists line items and total with Pay and Cancel buttons", async () => {
  await withEmulator(async (emulator) => {
    const stripe = stripeClient(emulator);
    const price = await createPrice(stripe, { unitAmount: 1999, name: "Pro <plan>" });
    const session = await stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price: price.id, quantity: 2 }],
      customer_email: "page@example.com",
    });
    const response = await fetch(session.url!);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/html/);
    const html = await response.text();
    assert.match(html, /Pro &lt;plan&gt;/);
    assert.match(html, /USD 19\.99 \/ month/);
    assert.match(html, /<td class="quantity">2<\/td>/);
    assert.match(html, /<td id="total" data-amount="3998">USD 39\.98<\/td>/);
    assert.match(html, /<button type="submit" id="pay" data-testid="pay">Pay<\/button>/);
    assert.match(html, /id="cancel" data-testid="cancel"[^>]*>Cancel<\/button>/);
    assert.match(html, /value="page@example.com"/);
  });
});

Deno.test("Pay completes the session and redirects to success_url with the session id", async () => {
  await withEmulator(async (emulator) => {
    const stripe = stripeClient(emulator);
    const price = await createPrice(stripe, { recurring: false });
    const session = await stripe.checkout.sessions.create({
      mode: "payment",
      customer_creation: "always",
      line_items: [{ price: price.id, quantity: 1 }],
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
});

Deno.test("Cancel redirects to cancel_url and leaves the session open", async () => {
  await withEmulator(async (emulator) => {
    const stripe = stripeClient(emulator);
    const price = await createPrice(stripe, { recurring: false });
    const session = await stripe.checkout.sessions.create({
      mode: "payment",
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: "https://shop.example/ok",
      cancel_url: "https://shop.example/cart",
    });
    const response = await submitForm(session.url!, { buttonText: "Cancel" });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "https://shop.example/cart");
    assert.equal((await stripe.checkout.sessions.retrieve(session.id)).status, "open");
  });
});

Deno.test("an expired session's page says so instead of offering Pay", async () => {
  await withEmulator(async (emulator) => {
    const stripe = stripeClient(emulator);
    const price = await createPrice(stripe, { recurring: false });
    const session = await stripe.checkout.sessions.create({
      mode: "payment",
      line_items: [{ price: price.id, quantity: 1 }],
    });
    await stripe.checkout.sessions.expire(session.id);
    const html = await (await fetch(session.url!)).text();
    assert.match(html, /This Checkout Session has expired\./);
    assert.doesNotMatch(html, /id="pay"/);
    const unknown = await fetch(`${emulator.url}/checkout/cs_test_unknown`);
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
  });
});

Deno.test("the portal lists subscriptions, cancels one and links back to return_url", async () => {
  await withEmulator(async (emulator) => {
    const stripe = stripeClient(emulator);
    const price = await createPrice(stripe, { unitAmount: 900, name: "Basic" });
    const checkout = await stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price: price.id, quantity: 1 }],
      customer_email: "portal@example.com",
    });
    await completeSession(emulator, checkout.id);
    const { customer, subscription } = await stripe.checkout.sessions.retrieve(checkout.id);
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
});

Deno.test("the portal refuses to cancel another customer's subscription", async () => {
  await withEmulator(async (emulator) => {
    const stripe = stripeClient(emulator);
    const price = await createPrice(stripe);
    const checkout = await stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price: price.id, quantity: 1 }],
    });
    await completeSession(emulator, checkout.id);
    const { subscription } = await stripe.checkout.sessions.retrieve(checkout.id);
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
});
