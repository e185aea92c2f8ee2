/**
 * The hosted pages a person (or a browser test) clicks through: Checkout at
 * `/checkout/{id}` and the Billing Portal at `/billing_portal/{id}`. Plain HTML forms, no
 * script; buttons carry stable text, ids and `data-testid` attributes.
 */
import type Stripe from "stripe";
import { Context } from "./context.ts";
import { noSuch } from "./errors.ts";
import { authenticatePayment } from "./authentication.ts";
import { completeCheckoutSession } from "./resources/checkout_sessions.ts";
import { cancelSubscriptionNow } from "./resources/subscriptions.ts";
import { htmlResponse, redirect, toStripeError } from "./responses.ts";
import { matchRoute, type PathParams, route } from "./router.ts";
import type { CheckoutSessionRecord, Partition, Store } from "./store.ts";
import type { WebhookDispatcher } from "./webhooks.ts";

export interface PageDependencies {
  store: Store;
  webhooks: WebhookDispatcher;
  publicUrl: () => string;
}

type PageHandler = (request: Request, path: PathParams) => Promise<Response> | Response;

const ZERO_DECIMAL_CURRENCIES = new Set(["bif", "clp", "jpy", "krw", "pyg", "vnd", "xaf", "xof"]);
const CANCELABLE = ["active", "trialing", "past_due", "incomplete", "unpaid", "paused"];

export function createPageHandler(deps: PageDependencies) {
  const checkout = (id: string) => {
    const found = deps.store.locate((partition) => partition.checkoutSessions, id);
    if (!found) throw noSuch("checkout.session", id);
    return { ctx: contextFor(found.partition), record: found.value };
  };
  const portal = (id: string) => {
    const found = deps.store.locate((partition) => partition.portalSessions, id);
    if (!found) throw noSuch("billing_portal.session", id);
    return { ctx: contextFor(found.partition), session: found.value };
  };
  const contextFor = (partition: Partition) =>
    new Context(partition, deps.publicUrl(), deps.webhooks);

  const showCheckout: PageHandler = (_request, path) => {
    const { ctx, record } = checkout(path.id);
    return htmlResponse(200, checkoutPage(ctx, record));
  };

  const payCheckout: PageHandler = async (request, path) => {
    const { ctx, record } = checkout(path.id);
    const form = new URLSearchParams(await request.text());
    if (record.session.status !== "open") {
      return htmlResponse(409, checkoutPage(ctx, record));
    }
    completeCheckoutSession(ctx, record, "paid", {
      email: form.get("email")?.trim() || null,
      name: form.get("name")?.trim() || null,
    });
    const { success_url, return_url } = record.session;
    const target = success_url ?? return_url;
    if (!target) return redirect(record.session.url ?? `${ctx.publicUrl}/checkout/${path.id}`);
    return redirect(target.replaceAll("{CHECKOUT_SESSION_ID}", record.session.id));
  };

  const cancelCheckout: PageHandler = (_request, path) => {
    const target = checkout(path.id).record.session.cancel_url;
    if (target) return redirect(target);
    return htmlResponse(
      200,
      layout("Checkout canceled", `<p id="status-message">You left Checkout.</p>`),
    );
  };

  const showPortal: PageHandler = (_request, path) => {
    const { ctx, session } = portal(path.id);
    return htmlResponse(200, portalPage(ctx, session));
  };

  const cancelFromPortal: PageHandler = (_request, path) => {
    const { ctx, session } = portal(path.id);
    const subscription = ctx.partition.subscriptions.get(path.subscription);
    if (!subscription || subscription.customer !== session.customer) {
      throw noSuch("subscription", path.subscription);
    }
    if (CANCELABLE.includes(subscription.status)) cancelSubscriptionNow(ctx, subscription);
    return redirect(`${ctx.publicUrl}/billing_portal/${session.id}`);
  };

  const paymentIntent = (id: string) => {
    const found = deps.store.locate((partition) => partition.paymentIntents, id);
    if (!found) throw noSuch("payment_intent", id);
    return { ctx: contextFor(found.partition), paymentIntent: found.value };
  };

  const showAuthentication: PageHandler = (_request, path) => {
    const { paymentIntent: intent } = paymentIntent(path.id);
    return htmlResponse(200, authenticationPage(intent));
  };

  const authenticate = (approved: boolean): PageHandler => (_request, path) => {
    const { ctx, paymentIntent: intent } = paymentIntent(path.id);
    const result = authenticatePayment(ctx, intent.id, approved);
    if (result.redirect) return redirect(result.redirect);
    return htmlResponse(
      200,
      layout(
        "Authentication",
        `<p id="status-message" data-status="${approved ? "succeeded" : "failed"}">${
          approved ? "Authentication complete." : "Authentication failed."
        } You can close this page.</p>`,
      ),
    );
  };

  const routes = [
    route("GET", "/authenticate/{id}", showAuthentication),
    route("POST", "/authenticate/{id}/approve", authenticate(true)),
    route("POST", "/authenticate/{id}/fail", authenticate(false)),
    route("GET", "/checkout/{id}", showCheckout),
    route("POST", "/checkout/{id}/pay", payCheckout),
    route("POST", "/checkout/{id}/cancel", cancelCheckout),
    route("GET", "/billing_portal/{id}", showPortal),
    route("POST", "/billing_portal/{id}/subscriptions/{subscription}/cancel", cancelFromPortal),
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

function checkoutPage(ctx: Context, record: CheckoutSessionRecord): string {
  const { session } = record;
  const rows = record.lineItems.map((item) => {
    const price = item.price as Stripe.Price;
    const interval = price.recurring
      ? ` / ${
        price.recurring.interval_count > 1 ? `${price.recurring.interval_count} ` : ""
      }${price.recurring.interval}`
      : "";
    return `<tr data-line-item="${escape(item.id)}" data-price="${escape(price.id)}">
      <td class="name">${escape(item.description ?? price.id)}</td>
      <td class="unit">${money(price.unit_amount ?? 0, price.currency)}${interval}</td>
      <td class="quantity">${item.quantity ?? 1}</td>
      <td class="amount">${money(item.amount_total, item.currency)}</td>
    </tr>`;
  }).join("\n");
  const total = money(session.amount_total ?? 0, session.currency ?? "usd");
  const heading = session.mode === "subscription" ? "Subscribe" : "Pay";
  const body = `
    <p class="mode">${escape(ctx.livemode ? "Live mode" : "Test mode")} · ${escape(session.id)}</p>
    <table id="line-items">
      <thead><tr><th>Item</th><th>Price</th><th>Qty</th><th>Amount</th></tr></thead>
      <tbody>${rows}</tbody>
      <tfoot><tr><th colspan="3">Total</th><td id="total" data-amount="${session.amount_total}">${total}</td></tr></tfoot>
    </table>
    ${checkoutActions(session, customerEmail(ctx, session))}`;
  return layout(heading, body);
}

// Stripe prefills the email from the session's customer when one is given.
function customerEmail(ctx: Context, session: Stripe.Checkout.Session): string {
  const customer = typeof session.customer === "string"
    ? ctx.partition.customers.get(session.customer)
    : undefined;
  return session.customer_details?.email ?? session.customer_email ?? customer?.email ?? "";
}

function checkoutActions(session: Stripe.Checkout.Session, email: string): string {
  if (session.status === "complete") {
    return `<p id="status-message" data-status="complete">This Checkout Session is complete (payment ${
      escape(session.payment_status)
    }).</p>`;
  }
  if (session.status === "expired") {
    return `<p id="status-message" data-status="expired">This Checkout Session has expired.</p>`;
  }
  return `
    <form id="pay-form" method="post" action="${escape(session.id)}/pay">
      <label>Email <input type="email" name="email" id="email" value="${
    escape(email)
  }" placeholder="buyer@example.com"></label>
      <label>Name <input type="text" name="name" id="name" autocomplete="name"></label>
      <button type="submit" id="pay" data-testid="pay">Pay</button>
    </form>
    <form id="cancel-form" method="post" action="${escape(session.id)}/cancel">
      <button type="submit" id="cancel" data-testid="cancel" class="secondary">Cancel</button>
    </form>`;
}

function portalPage(ctx: Context, session: Stripe.BillingPortal.Session): string {
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
  return layout(
    "Billing",
    `<p class="mode">${escape(ctx.livemode ? "Live mode" : "Test mode")} · ${
      escape(who)
    }</p>${list}${back}`,
  );
}

function subscriptionRow(
  ctx: Context,
  session: Stripe.BillingPortal.Session,
  subscription: Stripe.Subscription,
): string {
  const items = subscription.items.data.map((item) => {
    const product = ctx.partition.products.get(item.price.product as string);
    const interval = item.price.recurring ? ` / ${item.price.recurring.interval}` : "";
    return `${escape(product?.name ?? item.price.id)} × ${item.quantity ?? 1} — ${
      money(item.price.unit_amount ?? 0, item.price.currency)
    }${interval}`;
  }).join(", ");
  const action = CANCELABLE.includes(subscription.status)
    ? `<form method="post" action="${escape(session.id)}/subscriptions/${
      escape(subscription.id)
    }/cancel">
        <button type="submit" class="cancel-subscription" data-testid="cancel-subscription" data-subscription-id="${
      escape(subscription.id)
    }">Cancel subscription</button>
      </form>`
    : "";
  return `<li data-subscription-id="${escape(subscription.id)}" data-status="${
    escape(subscription.status)
  }">
      <span class="items">${items}</span> <span class="status">${escape(subscription.status)}</span>
      ${action}
    </li>`;
}

/** Stripe's test 3-D Secure page: the buyer approves or fails the challenge. */
function authenticationPage(paymentIntent: Stripe.PaymentIntent): string {
  const waiting = paymentIntent.status === "requires_action";
  const body = waiting
    ? `<p>${money(paymentIntent.amount, paymentIntent.currency)} · ${escape(paymentIntent.id)}</p>
    <p>This is a test 3-D Secure page. A real bank would ask the buyer to confirm here.</p>
    <div class="actions">
      <form method="post" action="${escape(paymentIntent.id)}/approve">
        <button type="submit" id="authenticate-approve" data-testid="authenticate-approve">Complete authentication</button>
      </form>
      <form method="post" action="${escape(paymentIntent.id)}/fail">
        <button type="submit" id="authenticate-fail" data-testid="authenticate-fail" class="secondary">Fail authentication</button>
      </form>
    </div>`
    : `<p id="status-message" data-status="${escape(paymentIntent.status)}">This payment is ${
      escape(paymentIntent.status)
    }; there is nothing to authenticate.</p>`;
  return layout("3D Secure 2 test page", body);
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
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #1a1f36; }
  .mode { color: #697386; font-size: 0.85rem; }
  table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
  th, td { text-align: left; padding: 0.4rem; border-bottom: 1px solid #e3e8ee; }
  form { margin: 0.75rem 0; }
  label { display: block; margin: 0.5rem 0; }
  input { padding: 0.4rem; width: 100%; box-sizing: border-box; }
  button { padding: 0.6rem 1.2rem; border: 0; border-radius: 4px; background: #635bff; color: #fff; font-size: 1rem; cursor: pointer; }
  button.secondary, button.cancel-subscription { background: #e3e8ee; color: #1a1f36; }
  li { margin: 0.75rem 0; }
</style>
</head>
<body>
<h1>${escape(title)}</h1>
${body}
</body>
</html>
`;
}
