/**
 * The hosted pages a person (or a browser test) clicks through: Checkout at `/checkout/{id}`
 * (Stripe's two columns: order summary, then the payment form with the test card fields), the
 * 3-D Secure step at `/authenticate/{id}`, and the Billing Portal at `/billing_portal/{id}`.
 * Plain HTML forms, no script; controls carry stable ids and `data-testid` attributes.
 */
import type Stripe from "stripe";
import { authenticatePayment } from "./authentication.ts";
import { checkCardNumber, type Decline, type TestCard } from "./cards.ts";
import { type Context, type KeylessDependencies, locate } from "./context.ts";
import { noSuch } from "./errors.ts";
import { completeCheckoutSession } from "./resources/checkout_sessions.ts";
import {
  attachPaymentMethod,
  insertCardPaymentMethod,
  setDefaultPaymentMethod,
} from "./resources/payment_methods.ts";
import {
  cancelSubscriptionNow,
  setCancelAtPeriodEnd,
  switchItemPrice,
} from "./resources/subscriptions.ts";
import { htmlResponse, redirect, toStripeError } from "./responses.ts";
import { matchRoute, type PathParams, route } from "./router.ts";
import type { CheckoutSessionRecord } from "./store.ts";

export type PageDependencies = KeylessDependencies;

type PageHandler = (request: Request, path: PathParams) => Promise<Response> | Response;

const ZERO_DECIMAL_CURRENCIES = new Set(["bif", "clp", "jpy", "krw", "pyg", "vnd", "xaf", "xof"]);
const CANCELABLE = ["active", "trialing", "past_due", "incomplete", "unpaid", "paused"];
/** What the card fields hold when the page opens: the card that always succeeds. */
const PREFILLED_CARD = { number: "4242 4242 4242 4242", expiry: "12 / 34", cvc: "123" };

/** The card fields as typed, and what was wrong with them. */
interface CardForm {
  number: string;
  expiry: string;
  cvc: string;
  email: string;
  name: string;
  error: { field: "number" | "expiry" | "cvc" | "card"; message: string } | null;
}

export function createPageHandler(deps: PageDependencies) {
  const checkout = (id: string) =>
    locate(deps, (partition) => partition.checkoutSessions, "checkout.session", id);
  const portal = (id: string) =>
    locate(deps, (partition) => partition.portalSessions, "billing_portal.session", id);
  const paymentIntent = (id: string) =>
    locate(deps, (partition) => partition.paymentIntents, "payment_intent", id);

  const showCheckout: PageHandler = (_request, path) => {
    const { ctx, value: record } = checkout(path.id);
    const form = emptyForm(ctx, record);
    if (record.lastError) form.error = { field: "card", message: record.lastError };
    return htmlResponse(200, checkoutPage(ctx, record, form));
  };

  const payCheckout: PageHandler = async (request, path) => {
    const { ctx, value: record } = checkout(path.id);
    const fields = new URLSearchParams(await request.text());
    if (record.session.status !== "open") {
      return htmlResponse(409, checkoutPage(ctx, record, emptyForm(ctx, record)));
    }
    // A field left out of the POST keeps the value the page shows (a browser always sends
    // them; a bare POST pays with the prefilled test card). An empty field is an error.
    const form: CardForm = {
      number: fields.get("card_number") ?? PREFILLED_CARD.number,
      expiry: fields.get("card_expiry") ?? PREFILLED_CARD.expiry,
      cvc: fields.get("card_cvc") ?? PREFILLED_CARD.cvc,
      email: fields.get("email")?.trim() ?? "",
      name: fields.get("name")?.trim() ?? "",
      error: null,
    };
    const card = readCard(form);
    if (!card) return htmlResponse(400, checkoutPage(ctx, record, form));
    const attempt = completeCheckoutSession(ctx, record, "paid", {
      email: form.email || null,
      name: form.name || null,
    }, card);
    switch (attempt.status) {
      case "requires_action":
        return redirect(attempt.url);
      case "declined":
        form.error = { field: "card", message: attempt.message };
        return htmlResponse(402, checkoutPage(ctx, record, form));
      case "complete": {
        const { success_url, return_url } = record.session;
        const target = success_url ?? return_url;
        if (!target) return redirect(`${ctx.publicUrl}/checkout/${path.id}`);
        return redirect(target.replaceAll("{CHECKOUT_SESSION_ID}", record.session.id));
      }
    }
  };

  const cancelCheckout: PageHandler = (_request, path) => {
    const target = checkout(path.id).value.session.cancel_url;
    if (target) return redirect(target);
    return htmlResponse(
      200,
      layout("Checkout canceled", `<p id="status-message">You left Checkout.</p>`),
    );
  };

  const showAuthentication: PageHandler = (_request, path) => {
    const { ctx, value: intent } = paymentIntent(path.id);
    return htmlResponse(200, authenticationPage(ctx.publicUrl, intent));
  };

  const authenticate = (approved: boolean): PageHandler => (_request, path) => {
    const { ctx, value: intent } = paymentIntent(path.id);
    const result = authenticatePayment(ctx, intent.id, approved);
    if (result.redirect) return redirect(result.redirect);
    const status = approved ? "succeeded" : "failed";
    return htmlResponse(
      200,
      layout(
        "Authentication",
        `<p id="status-message" data-status="${status}">Authentication ${
          approved ? "complete" : "failed"
        }. You can close this page.</p>`,
      ),
    );
  };

  const showPortal: PageHandler = (_request, path) => {
    const { ctx, value: session } = portal(path.id);
    return htmlResponse(200, portalPage(ctx, session, null));
  };

  /** A portal action on one of the session customer's subscriptions. */
  const onSubscription = (
    action: (ctx: Context, subscription: Stripe.Subscription, form: URLSearchParams) => void,
  ): PageHandler =>
  async (request, path) => {
    const { ctx, value: session } = portal(path.id);
    const subscription = ctx.partition.subscriptions.get(path.subscription);
    if (!subscription || subscription.customer !== session.customer) {
      throw noSuch("subscription", path.subscription);
    }
    action(ctx, subscription, new URLSearchParams(await request.text()));
    return redirect(`${ctx.publicUrl}/billing_portal/${session.id}`);
  };

  const cancelNow = onSubscription((ctx, subscription) => {
    if (CANCELABLE.includes(subscription.status)) cancelSubscriptionNow(ctx, subscription);
  });

  const scheduleCancel = (cancel: boolean) =>
    onSubscription((ctx, subscription) => {
      if (!CANCELABLE.includes(subscription.status)) return;
      const before = structuredClone(subscription);
      setCancelAtPeriodEnd(ctx, subscription, cancel);
      ctx.emitUpdated("customer.subscription.updated", before, subscription);
    });

  const switchPlan = onSubscription((ctx, subscription, form) => {
    const price = ctx.partition.prices.get(form.get("price") ?? "");
    if (!price || !price.active || !plansFor(ctx, subscription).includes(price)) {
      throw noSuch("price", form.get("price") ?? "");
    }
    const before = structuredClone(subscription);
    switchItemPrice(subscription.items.data[0], price);
    ctx.emitUpdated("customer.subscription.updated", before, subscription);
  });

  const updateCard: PageHandler = async (request, path) => {
    const { ctx, value: session } = portal(path.id);
    const customer = ctx.partition.customers.get(session.customer);
    if (!customer) throw noSuch("customer", session.customer);
    const fields = new URLSearchParams(await request.text());
    const form: CardForm = {
      number: fields.get("card_number") ?? "",
      expiry: fields.get("card_expiry") ?? "",
      cvc: fields.get("card_cvc") ?? "",
      email: customer.email ?? "",
      name: fields.get("name")?.trim() ?? "",
      error: null,
    };
    const card = readCard(form);
    if (!card) return htmlResponse(400, portalPage(ctx, session, form));
    const record = insertCardPaymentMethod(ctx, card, {
      email: customer.email,
      name: form.name || customer.name,
    });
    try {
      attachPaymentMethod(ctx, record, customer);
    } catch (error) {
      form.error = { field: "card", message: toStripeError(error).message };
      return htmlResponse(402, portalPage(ctx, session, form));
    }
    setDefaultPaymentMethod(ctx, customer, record.paymentMethod.id);
    for (const subscription of ctx.partition.subscriptions.values()) {
      if (subscription.customer !== customer.id || !CANCELABLE.includes(subscription.status)) {
        continue;
      }
      const before = structuredClone(subscription);
      subscription.default_payment_method = record.paymentMethod.id;
      ctx.emitUpdated("customer.subscription.updated", before, subscription);
    }
    return redirect(`${ctx.publicUrl}/billing_portal/${session.id}`);
  };

  const portalSubscription = "/billing_portal/{id}/subscriptions/{subscription}";
  const routes = [
    route("GET", "/checkout/{id}", showCheckout),
    route("POST", "/checkout/{id}/pay", payCheckout),
    route("POST", "/checkout/{id}/cancel", cancelCheckout),
    route("GET", "/authenticate/{id}", showAuthentication),
    route("POST", "/authenticate/{id}/approve", authenticate(true)),
    route("POST", "/authenticate/{id}/fail", authenticate(false)),
    route("GET", "/billing_portal/{id}", showPortal),
    route("POST", `${portalSubscription}/cancel`, cancelNow),
    route("POST", `${portalSubscription}/cancel_at_period_end`, scheduleCancel(true)),
    route("POST", `${portalSubscription}/resume`, scheduleCancel(false)),
    route("POST", `${portalSubscription}/switch`, switchPlan),
    route("POST", "/billing_portal/{id}/payment_method", updateCard),
  ];

  return async (request: Request, url: URL): Promise<Response | undefined> => {
    const match = matchRoute(routes, request.method, url.pathname);
    if (!match) return undefined;
    try {
      return await match.route.handler(request, match.path);
    } catch (error) {
      const stripeError = toStripeError(error);
      return htmlResponse(
        stripeError.status,
        layout("Error", `<p id="error-message">${escape(stripeError.message)}</p>`),
      );
    }
  };
}

function emptyForm(ctx: Context, record: CheckoutSessionRecord): CardForm {
  return {
    ...PREFILLED_CARD,
    email: customerEmail(ctx, record.session),
    name: record.session.customer_details?.name ?? "",
    error: null,
  };
}

/**
 * Checks the card fields the way Stripe's card element does and returns the test card, or
 * sets `form.error` for the field at fault.
 */
function readCard(form: CardForm): TestCard | undefined {
  const checked = checkCardNumber(form.number);
  if (isDecline(checked)) {
    form.error = {
      field: checked.code === "incorrect_number" ? "number" : "card",
      message: checked.message,
    };
    return undefined;
  }
  const expiry = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(form.expiry);
  if (!expiry || Number(expiry[1]) < 1 || Number(expiry[1]) > 12) {
    form.error = { field: "expiry", message: "Your card's expiration date is incomplete." };
    return undefined;
  }
  const year = expiry[2].length === 2 ? 2000 + Number(expiry[2]) : Number(expiry[2]);
  const now = new Date();
  const month = Number(expiry[1]);
  if (
    year < now.getUTCFullYear() || (year === now.getUTCFullYear() && month <= now.getUTCMonth())
  ) {
    form.error = { field: "expiry", message: "Your card's expiration date is in the past." };
    return undefined;
  }
  const cvcLength = checked.brand === "amex" ? 4 : 3;
  if (!new RegExp(`^\\d{${cvcLength}}$`).test(form.cvc.trim())) {
    form.error = { field: "cvc", message: "Your card's security code is incomplete." };
    return undefined;
  }
  return checked;
}

function isDecline(value: TestCard | Decline): value is Decline {
  return "code" in value;
}

function checkoutPage(ctx: Context, record: CheckoutSessionRecord, form: CardForm): string {
  const { session } = record;
  const rows = record.lineItems.map((item) => {
    const price = item.price as Stripe.Price;
    return `<tr data-line-item="${escape(item.id)}" data-price="${escape(price.id)}">
          <td class="name">${escape(item.description ?? price.id)}</td>
          <td class="unit">${money(price.unit_amount ?? 0, price.currency)}${interval(price)}</td>
          <td class="quantity">${item.quantity ?? 1}</td>
          <td class="amount">${money(item.amount_total, item.currency)}</td>
        </tr>`;
  }).join("\n");
  const total = money(session.amount_total ?? 0, session.currency ?? "usd");
  const trialDays = record.subscriptionData.trialPeriodDays;
  const summary = `
    <section class="summary" aria-label="Order summary">
      <p class="merchant">Stripe emulator <span class="badge">${
    ctx.livemode ? "Live mode" : "Test mode"
  }</span></p>
      <p class="headline">${session.mode === "subscription" ? "Subscribe" : "Pay"}</p>
      <p class="amount-due" id="amount-due">${total}</p>
      ${
    trialDays
      ? `<p class="trial" id="trial">${trialDays} days free, then billed each period</p>`
      : ""
  }
      <table id="line-items">
        <thead><tr><th>Item</th><th>Price</th><th>Qty</th><th>Amount</th></tr></thead>
        <tbody>${rows}</tbody>
        <tfoot><tr><th colspan="3">Total</th><td id="total" data-amount="${session.amount_total}">${total}</td></tr></tfoot>
      </table>
      <p class="session-id">${escape(session.id)}</p>
    </section>`;
  return layout(
    session.mode === "subscription" ? "Subscribe" : "Pay",
    `<div class="checkout">${summary}
    <section class="payment" aria-label="Payment">${
      checkoutActions(`${ctx.publicUrl}/checkout/${session.id}`, session, form, total)
    }</section>
    </div>`,
  );
}

// Stripe prefills the email from the session's customer when one is given.
function customerEmail(ctx: Context, session: Stripe.Checkout.Session): string {
  const customer = typeof session.customer === "string"
    ? ctx.partition.customers.get(session.customer)
    : undefined;
  return session.customer_details?.email ?? session.customer_email ?? customer?.email ?? "";
}

/**
 * `base` is the page's own absolute URL: forms post to absolute URLs, because the page is also
 * served as the answer to a POST (after a decline), from another path.
 */
function checkoutActions(
  base: string,
  session: Stripe.Checkout.Session,
  form: CardForm,
  total: string,
): string {
  if (session.status === "complete") {
    return `<p id="status-message" data-status="complete">This Checkout Session is complete (payment ${
      escape(session.payment_status)
    }).</p>`;
  }
  if (session.status === "expired") {
    const back = session.cancel_url
      ? `<p><a id="expired-return" data-testid="expired-return" href="${
        escape(session.cancel_url)
      }">Return to the merchant</a></p>`
      : "";
    return `<p id="status-message" data-status="expired">This Checkout Session has expired.</p>${back}`;
  }
  const label = session.mode === "subscription" ? "Subscribe" : "Pay";
  return `
      <form id="pay-form" method="post" action="${escape(base)}/pay" novalidate>
        <h2>Contact information</h2>
        <label for="email">Email</label>
        <input type="email" name="email" value="${
    escape(form.email)
  }" id="email" autocomplete="email" placeholder="buyer@example.com">
        <h2>Payment method</h2>
        ${cardFields(form)}
        <label for="name">Name on card</label>
        <input type="text" name="name" value="${
    escape(form.name)
  }" id="name" autocomplete="cc-name">
        <button type="submit" id="pay" data-testid="pay" class="pay">${label}</button>
        <p class="total-note">${escape(total)} · test card 4242 4242 4242 4242</p>
      </form>
      <form id="cancel-form" method="post" action="${escape(base)}/cancel">
        <button type="submit" id="cancel" data-testid="cancel" class="secondary">Cancel</button>
      </form>`;
}

/** Card number, expiry and CVC, grouped as Stripe's card element, with the error beneath. */
function cardFields(form: CardForm): string {
  const invalid = (field: string) =>
    form.error && (form.error.field === field || form.error.field === "card")
      ? ` aria-invalid="true"`
      : "";
  const error = form.error
    ? `<p id="card-error" class="field-error" role="alert" data-field="${form.error.field}">${
      escape(form.error.message)
    }</p>`
    : "";
  return `<fieldset class="card" aria-describedby="card-error">
          <legend>Card information</legend>
          <input type="text" name="card_number" value="${
    escape(form.number)
  }" id="card-number" inputmode="numeric" autocomplete="cc-number" placeholder="1234 1234 1234 1234" aria-label="Card number"${
    invalid("number")
  }>
          <div class="row">
            <input type="text" name="card_expiry" value="${
    escape(form.expiry)
  }" id="card-expiry" inputmode="numeric" autocomplete="cc-exp" placeholder="MM / YY" aria-label="Expiration"${
    invalid("expiry")
  }>
            <input type="text" name="card_cvc" value="${
    escape(form.cvc)
  }" id="card-cvc" inputmode="numeric" autocomplete="cc-csc" placeholder="CVC" aria-label="CVC"${
    invalid("cvc")
  }>
          </div>
        </fieldset>
        ${error}`;
}

/** Stripe's test 3-D Secure page: the buyer approves or fails the challenge. */
function authenticationPage(publicUrl: string, paymentIntent: Stripe.PaymentIntent): string {
  const base = `${publicUrl}/authenticate/${paymentIntent.id}`;
  const waiting = paymentIntent.status === "requires_action";
  const body = waiting
    ? `<p class="amount-due">${money(paymentIntent.amount, paymentIntent.currency)}</p>
    <p>This is a test 3-D Secure page: a real bank would ask the buyer to confirm here.</p>
    <div class="actions">
      <form method="post" action="${escape(base)}/approve">
        <button type="submit" id="authenticate-approve" data-testid="authenticate-approve" class="pay">Complete authentication</button>
      </form>
      <form method="post" action="${escape(base)}/fail">
        <button type="submit" id="authenticate-fail" data-testid="authenticate-fail" class="secondary">Fail authentication</button>
      </form>
    </div>
    <p class="session-id">${escape(paymentIntent.id)}</p>`
    : `<p id="status-message" data-status="${escape(paymentIntent.status)}">This payment is ${
      escape(paymentIntent.status)
    }; there is nothing to authenticate.</p>`;
  return layout("3D Secure 2 test page", body);
}

/** Recurring prices a subscription can switch to: same currency and billing interval. */
function plansFor(ctx: Context, subscription: Stripe.Subscription): Stripe.Price[] {
  const current = subscription.items.data[0].price;
  return [...ctx.partition.prices.values()].filter((price) =>
    price.active && price.recurring && price.currency === current.currency &&
    price.recurring.interval === current.recurring?.interval &&
    price.recurring.interval_count === current.recurring?.interval_count
  );
}

function portalPage(
  ctx: Context,
  session: Stripe.BillingPortal.Session,
  cardForm: CardForm | null,
): string {
  const customer = ctx.partition.customers.get(session.customer);
  const subscriptions = [...ctx.partition.subscriptions.values()]
    .filter((subscription) => subscription.customer === session.customer)
    .reverse();
  const rows = subscriptions.map((subscription) => subscriptionRow(ctx, session, subscription));
  const list = rows.length > 0
    ? `<ul id="subscriptions">${rows.join("\n")}</ul>`
    : `<p id="no-subscriptions">No subscriptions.</p>`;
  const back = session.return_url
    ? `<p><a id="return" data-testid="return" href="${
      escape(session.return_url)
    }">Return to the site</a></p>`
    : "";
  const who = customer?.email ?? customer?.name ?? session.customer;
  const body = `<p class="merchant">Stripe emulator <span class="badge">${
    ctx.livemode ? "Live mode" : "Test mode"
  }</span> · ${escape(who)}</p>
  ${back}
  <h2>Current plan</h2>
  ${list}
  <h2>Payment method</h2>
  ${paymentMethodSection(ctx, session, customer, cardForm)}
  <h2>Invoice history</h2>
  ${invoiceTable(ctx, session.customer)}`;
  return layout("Billing", body);
}

function paymentMethodSection(
  ctx: Context,
  session: Stripe.BillingPortal.Session,
  customer: Stripe.Customer | undefined,
  cardForm: CardForm | null,
): string {
  // The customer's default, else the card a live subscription charges (Checkout saves it there).
  const live = [...ctx.partition.subscriptions.values()].reverse().find((subscription) =>
    subscription.customer === session.customer && CANCELABLE.includes(subscription.status) &&
    typeof subscription.default_payment_method === "string"
  );
  const id = customer?.invoice_settings.default_payment_method ?? live?.default_payment_method;
  const method = typeof id === "string" ? ctx.partition.paymentMethods.get(id) : undefined;
  const card = method?.paymentMethod.card;
  const current = card
    ? `<p id="payment-method" data-payment-method="${escape(method.paymentMethod.id)}">${
      escape(card.brand.toUpperCase())
    } •••• ${escape(card.last4)} · expires ${card.exp_month}/${card.exp_year}</p>`
    : `<p id="payment-method" data-payment-method="">No card on file.</p>`;
  const form: CardForm = cardForm ?? {
    ...PREFILLED_CARD,
    email: customer?.email ?? "",
    name: customer?.name ?? "",
    error: null,
  };
  return `${current}
  <form id="update-card-form" method="post" action="${
    escape(portalBase(ctx, session))
  }/payment_method" novalidate>
    ${cardFields(form)}
    <label for="name">Name on card</label>
    <input type="text" name="name" value="${escape(form.name)}" id="name" autocomplete="cc-name">
    <button type="submit" id="update-card" data-testid="update-card">Update card</button>
  </form>`;
}

function portalBase(ctx: Context, session: Stripe.BillingPortal.Session): string {
  return `${ctx.publicUrl}/billing_portal/${session.id}`;
}

function invoiceTable(ctx: Context, customerId: string): string {
  const invoices = [...ctx.partition.invoices.values()]
    .filter((invoice) => invoice.customer === customerId && invoice.status !== "draft")
    .reverse();
  if (invoices.length === 0) return `<p id="no-invoices">No invoices yet.</p>`;
  const rows = invoices.map((invoice) =>
    `<tr data-invoice-id="${escape(invoice.id)}" data-status="${escape(invoice.status ?? "")}">
      <td>${new Date(invoice.created * 1000).toISOString().slice(0, 10)}</td>
      <td>${escape(invoice.number ?? invoice.id)}</td>
      <td>${money(invoice.total, invoice.currency)}</td>
      <td class="status">${escape(invoice.status ?? "")}</td>
    </tr>`
  ).join("\n");
  return `<table id="invoices">
    <thead><tr><th>Date</th><th>Number</th><th>Amount</th><th>Status</th></tr></thead>
    <tbody>${rows}</tbody>
  </table>`;
}

function subscriptionRow(
  ctx: Context,
  session: Stripe.BillingPortal.Session,
  subscription: Stripe.Subscription,
): string {
  const items = subscription.items.data.map((item) => {
    const product = ctx.partition.products.get(item.price.product as string);
    return `${escape(product?.name ?? item.price.id)} × ${item.quantity ?? 1} — ${
      money(item.price.unit_amount ?? 0, item.price.currency)
    }${interval(item.price)}`;
  }).join(", ");
  const live = CANCELABLE.includes(subscription.status);
  const action = (path: string, text: string, className: string) =>
    `<form method="post" action="${escape(portalBase(ctx, session))}/subscriptions/${
      escape(subscription.id)
    }/${path}">
        <button type="submit" class="${className}" data-testid="${className}" data-subscription-id="${
      escape(subscription.id)
    }">${text}</button>
      </form>`;
  const actions: string[] = [];
  if (live) {
    actions.push(
      subscription.cancel_at_period_end
        ? action("resume", "Resume subscription", "resume-subscription")
        : action("cancel_at_period_end", "Cancel at period end", "cancel-at-period-end"),
    );
    actions.push(action("cancel", "Cancel subscription", "cancel-subscription"));
    const current = subscription.items.data[0].price.id;
    const options = plansFor(ctx, subscription).filter((price) => price.id !== current);
    if (options.length > 0) {
      actions.push(
        `<form method="post" action="${escape(portalBase(ctx, session))}/subscriptions/${
          escape(subscription.id)
        }/switch" class="switch">
        <select name="price" aria-label="New plan" data-testid="plan-select">${
          options.map((price) => {
            const product = ctx.partition.products.get(price.product as string);
            return `<option value="${escape(price.id)}">${escape(product?.name ?? price.id)} — ${
              money(price.unit_amount ?? 0, price.currency)
            }${interval(price)}</option>`;
          }).join("")
        }</select>
        <button type="submit" class="switch-plan" data-testid="switch-plan" data-subscription-id="${
          escape(subscription.id)
        }">Switch plan</button>
      </form>`,
      );
    }
  }
  const ends = subscription.cancel_at_period_end && subscription.cancel_at
    ? ` <span class="ends" data-cancel-at="${subscription.cancel_at}">ends ${
      new Date(subscription.cancel_at * 1000).toISOString().slice(0, 10)
    }</span>`
    : "";
  return `<li data-subscription-id="${escape(subscription.id)}" data-status="${
    escape(subscription.status)
  }">
      <span class="items">${items}</span> <span class="status">${
    escape(subscription.status)
  }</span>${ends}
      <div class="actions">${actions.join("\n")}</div>
    </li>`;
}

function interval(price: Stripe.Price): string {
  const recurring = price.recurring;
  if (!recurring) return "";
  return ` / ${
    recurring.interval_count > 1 ? `${recurring.interval_count} ` : ""
  }${recurring.interval}`;
}

function money(amount: number, currency: string): string {
  const zeroDecimal = ZERO_DECIMAL_CURRENCIES.has(currency.toLowerCase());
  const value = zeroDecimal ? String(amount) : (amount / 100).toFixed(2);
  return `${escape(currency.toUpperCase())} ${value}`;
}

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Stripe emulator</title>
<style>
  *, *::before, *::after { box-sizing: border-box; }
  body { font: 15px/1.5 -apple-system, "Segoe UI", system-ui, sans-serif; margin: 0; color: #1a1f36; background: #fff; overflow-wrap: anywhere; }
  main { max-width: 72rem; margin: 0 auto; padding: 2rem 1.25rem; }
  h1 { font-size: 1.1rem; font-weight: 600; margin: 0 0 1rem; }
  h2 { font-size: 0.95rem; font-weight: 600; margin: 1.25rem 0 0.5rem; }
  .checkout { display: grid; grid-template-columns: minmax(0, 1fr); gap: 2rem; }
  @media (min-width: 900px) {
    .checkout { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 4rem; }
    .summary { padding-right: 2rem; }
  }
  .summary { background: #f6f9fc; border-radius: 8px; padding: 1.5rem; }
  .merchant { color: #697386; font-weight: 500; margin: 0 0 1rem; }
  .badge { background: #ffde92; color: #bb5504; border-radius: 4px; font-size: 0.75rem; padding: 0.1rem 0.4rem; margin-left: 0.4rem; }
  .headline { color: #697386; margin: 0; }
  .amount-due { font-size: 2rem; font-weight: 600; margin: 0 0 1rem; }
  .trial { color: #0a2540; margin: 0 0 1rem; }
  .session-id { color: #a3acb9; font-size: 0.75rem; }
  table { width: 100%; border-collapse: collapse; margin: 0.5rem 0; table-layout: fixed; }
  th, td { text-align: left; padding: 0.4rem 0.25rem; border-bottom: 1px solid #e3e8ee; vertical-align: top; }
  #line-items th:nth-child(3), td.quantity { width: 3rem; }
  label { display: block; margin: 0.75rem 0 0.25rem; color: #30313d; font-size: 0.9rem; }
  input, select { font: inherit; padding: 0.6rem 0.75rem; width: 100%; max-width: 100%; border: 1px solid #e0e0e6; border-radius: 6px; }
  input[aria-invalid="true"] { border-color: #df1b41; color: #df1b41; }
  fieldset.card { border: 0; padding: 0; margin: 0; min-width: 0; }
  fieldset.card legend { font-size: 0.9rem; color: #30313d; margin: 0.75rem 0 0.25rem; padding: 0; }
  fieldset.card > input { border-radius: 6px 6px 0 0; }
  fieldset.card .row { display: flex; }
  fieldset.card .row input { border-top: 0; border-radius: 0 0 0 6px; min-width: 0; }
  fieldset.card .row input + input { border-left: 0; border-radius: 0 0 6px 0; }
  .field-error { color: #df1b41; margin: 0.4rem 0 0; font-size: 0.9rem; }
  form { margin: 0.5rem 0; }
  button { font: inherit; padding: 0.7rem 1.2rem; border: 0; border-radius: 6px; background: #635bff; color: #fff; cursor: pointer; }
  button.pay { width: 100%; margin-top: 1.25rem; font-weight: 600; font-size: 1rem; }
  button.secondary, .actions button:not(.pay) { background: #e3e8ee; color: #1a1f36; }
  .total-note { color: #697386; font-size: 0.8rem; text-align: center; }
  .actions { display: flex; flex-wrap: wrap; gap: 0.5rem; margin-top: 0.5rem; }
  .actions form { margin: 0; }
  .switch { display: flex; flex-wrap: wrap; gap: 0.5rem; }
  .switch select { width: auto; flex: 1 1 12rem; }
  ul#subscriptions { list-style: none; padding: 0; }
  li { margin: 0.75rem 0; padding: 0.75rem; border: 1px solid #e3e8ee; border-radius: 8px; }
  .status { color: #697386; }
</style>
</head>
<body>
<main>
<h1>${escape(title)}</h1>
${body}
</main>
</body>
</html>
`;
}
