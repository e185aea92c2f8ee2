/**
 * How subscription money moves: an invoice is finalized and paid by a PaymentIntent, and the
 * subscription follows the payment (first payment, renewal, failed renewal, late settlement).
 */
import type Stripe from "stripe";
import { unixNow } from "./clock.ts";
import type { Context } from "./context.ts";
import { invalidRequest } from "./errors.ts";
import {
  attachPayment,
  finalizeInvoice,
  insertInvoice,
  type InvoiceLine,
  markInvoicePaid,
  markInvoicePaymentFailed,
} from "./resources/invoices.ts";
import {
  failPaymentIntent,
  findPaymentIntent,
  openPaymentIntent,
  processPaymentIntent,
  succeedPaymentIntent,
} from "./resources/payment_intents.ts";
import {
  advancePeriod,
  cancelSubscriptionNow,
  insertSubscription,
  setSubscriptionStatus,
} from "./resources/subscriptions.ts";

/** `pending` is a delayed payment method (a bank debit) that settles later. */
export type PaymentOutcome = "paid" | "pending" | "failed";

export interface SubscriptionStart {
  customer: Stripe.Customer;
  lines: { price: Stripe.Price; quantity: number }[];
  metadata: Stripe.Metadata;
  description: string | null;
  outcome: "paid" | "pending";
}

/**
 * Creates the subscription and its first invoice, then collects it. A pending payment leaves
 * the subscription `incomplete` until `settleFirstPayment`.
 */
export function startSubscription(ctx: Context, start: SubscriptionStart) {
  const recurring = start.lines.filter((line) => line.price.type === "recurring");
  const subscription = insertSubscription(ctx, {
    customer: start.customer.id,
    lines: recurring,
    metadata: start.metadata,
    description: start.description,
    status: start.outcome === "paid" ? "active" : "incomplete",
  });
  const now = unixNow();
  const invoice = insertInvoice(ctx, {
    customer: start.customer,
    subscription,
    // One-time prices bought with a subscription are billed once, on its first invoice.
    lines: start.lines.map((line): InvoiceLine => ({
      ...line,
      subscriptionItem: subscription.items.data.find((item) => item.price.id === line.price.id) ??
        null,
    })),
    billingReason: "subscription_create",
    period: { start: now, end: now },
  });
  ctx.emit("customer.subscription.created", subscription);
  ctx.emit("invoice.created", invoice);
  collectInvoice(ctx, invoice, start.outcome);
  return { subscription, invoice };
}

/** The delayed first payment of a subscription succeeded or failed. */
export function settleFirstPayment(
  ctx: Context,
  subscription: Stripe.Subscription,
  invoice: Stripe.Invoice,
  succeeded: boolean,
): void {
  retryInvoice(ctx, invoice, succeeded ? "paid" : "failed");
  setSubscriptionStatus(ctx, subscription, succeeded ? "active" : "incomplete_expired");
}

/**
 * Bills the next period and pays it. A subscription set to cancel at period end ends instead,
 * and a subscription whose last renewal failed has that invoice paid rather than a new one.
 */
export function renewSubscription(ctx: Context, subscription: Stripe.Subscription): void {
  assertRenewable(subscription);
  if (subscription.cancel_at_period_end) {
    cancelSubscriptionNow(ctx, subscription);
    return;
  }
  const latest = ctx.partition.invoices.get(subscription.latest_invoice as string);
  if (latest?.status === "open") {
    retryInvoice(ctx, latest, "paid");
    setSubscriptionStatus(ctx, subscription, "active");
    return;
  }
  billNextPeriod(ctx, subscription, "paid");
}

/** Bills the next period with a declined card: the subscription becomes `past_due`. */
export function failRenewal(ctx: Context, subscription: Stripe.Subscription): void {
  assertRenewable(subscription);
  billNextPeriod(ctx, subscription, "failed");
}

function assertRenewable(subscription: Stripe.Subscription): void {
  if (!["active", "past_due", "trialing"].includes(subscription.status)) {
    throw invalidRequest(
      `Subscription ${subscription.id} is ${subscription.status}; only active, trialing or ` +
        `past_due subscriptions have a next period.`,
    );
  }
}

function billNextPeriod(
  ctx: Context,
  subscription: Stripe.Subscription,
  outcome: "paid" | "failed",
): void {
  const customer = ctx.partition.customers.get(subscription.customer as string);
  if (!customer) throw invalidRequest(`The customer of ${subscription.id} no longer exists.`);
  const before = structuredClone(subscription);
  const previous = subscription.items.data[0];
  const period = { start: previous.current_period_start, end: previous.current_period_end };
  advancePeriod(subscription);
  const invoice = insertInvoice(ctx, {
    customer,
    subscription,
    lines: subscription.items.data.map((item) => ({
      price: item.price,
      quantity: item.quantity ?? 1,
      subscriptionItem: item,
    })),
    billingReason: "subscription_cycle",
    period,
  });
  ctx.emit("invoice.created", invoice);
  collectInvoice(ctx, invoice, outcome);
  subscription.status = outcome === "paid" ? "active" : "past_due";
  ctx.emitUpdated("customer.subscription.updated", before, subscription);
}

/** Finalizes a draft invoice and pays it with a new PaymentIntent. */
function collectInvoice(ctx: Context, invoice: Stripe.Invoice, outcome: PaymentOutcome): void {
  finalizeInvoice(ctx, invoice);
  const paymentIntent = openPaymentIntent(ctx, {
    amount: invoice.amount_due,
    currency: invoice.currency,
    customer: invoice.customer as string,
    metadata: {},
    description: invoice.billing_reason === "subscription_create"
      ? "Subscription creation"
      : "Subscription update",
    receiptEmail: invoice.customer_email,
    paymentMethodType: outcome === "pending" ? "us_bank_account" : "card",
  });
  attachPayment(ctx, invoice, paymentIntent);
  applyOutcome(ctx, invoice, paymentIntent, outcome);
}

/** Settles or retries the payment already attached to an open invoice. */
function retryInvoice(ctx: Context, invoice: Stripe.Invoice, outcome: "paid" | "failed"): void {
  const payment = invoice.payments?.data[0]?.payment.payment_intent;
  const id = typeof payment === "string" ? payment : payment?.id;
  if (!id) throw invalidRequest(`Invoice ${invoice.id} has no payment to settle.`);
  applyOutcome(ctx, invoice, findPaymentIntent(ctx, id), outcome);
}

function applyOutcome(
  ctx: Context,
  invoice: Stripe.Invoice,
  paymentIntent: Stripe.PaymentIntent,
  outcome: PaymentOutcome,
): void {
  switch (outcome) {
    case "paid":
      succeedPaymentIntent(ctx, paymentIntent);
      markInvoicePaid(ctx, invoice);
      break;
    case "pending":
      processPaymentIntent(ctx, paymentIntent);
      break;
    case "failed":
      failPaymentIntent(ctx, paymentIntent);
      markInvoicePaymentFailed(ctx, invoice);
      break;
  }
}
