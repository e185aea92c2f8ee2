/**
 * How subscription money moves: an invoice is finalized and paid by a PaymentIntent charging
 * the subscription's card, and the subscription follows the payment (first payment, trial,
 * renewal, failed renewal, 3-D Secure, late settlement of a bank debit).
 */
import type Stripe from "stripe";
import { type Decline, DEFAULT_TEST_CARD, TEST_CARDS } from "./cards.ts";
import type { Context } from "./context.ts";
import { invalidRequest } from "./errors.ts";
import {
  attachPayment,
  finalizeInvoice,
  insertInvoice,
  type InvoiceLine,
  markInvoiceActionRequired,
  markInvoicePaid,
  markInvoicePaymentFailed,
} from "./resources/invoices.ts";
import {
  confirmPaymentIntent,
  type ConfirmResult,
  failPaymentIntent,
  findPaymentIntent,
  openPaymentIntent,
  succeedPaymentIntent,
} from "./resources/payment_intents.ts";
import { insertCardPaymentMethod } from "./resources/payment_methods.ts";
import {
  advancePeriod,
  cancelSubscriptionNow,
  insertSubscription,
  setSubscriptionStatus,
} from "./resources/subscriptions.ts";

export interface SubscriptionStart {
  customer: Stripe.Customer;
  lines: { price: Stripe.Price; quantity: number }[];
  metadata: Stripe.Metadata;
  description: string | null;
  /** The card or bank account that pays; `null` leaves the first invoice unpaid. */
  paymentMethod: string | null;
  /** Also the subscription's `default_payment_method` (Checkout saves the card it took). */
  saveAsDefault: boolean;
  trialEnd: number | null;
  /** Where the 3-D Secure page returns the buyer. */
  returnUrl?: string | null;
  /** `false` (`payment_behavior: default_incomplete`): create without attempting payment. */
  attemptPayment?: boolean;
}

/**
 * Creates the subscription `incomplete` (or `trialing`) with its first invoice, then collects
 * that invoice: a paid invoice makes it `active`, anything else leaves it `incomplete`.
 */
export function startSubscription(ctx: Context, start: SubscriptionStart) {
  const recurring = start.lines.filter((line) => line.price.type === "recurring");
  const trialing = start.trialEnd !== null;
  const subscription = insertSubscription(ctx, {
    customer: start.customer,
    lines: recurring,
    metadata: start.metadata,
    description: start.description,
    status: trialing ? "trialing" : "incomplete",
    defaultPaymentMethod: start.saveAsDefault ? start.paymentMethod : null,
    trialEnd: start.trialEnd,
  });
  const now = ctx.now();
  const invoice = insertInvoice(ctx, {
    customer: start.customer,
    subscription,
    // One-time prices bought with a subscription are billed once, on its first invoice; a
    // trial bills the recurring prices at zero.
    lines: start.lines.map((line): InvoiceLine => ({
      ...line,
      subscriptionItem: subscription.items.data.find((item) => item.price.id === line.price.id) ??
        null,
      free: trialing && line.price.type === "recurring",
    })),
    billingReason: "subscription_create",
    period: { start: now, end: now },
  });
  ctx.emit("customer.subscription.created", subscription);
  ctx.emit("invoice.created", invoice);
  if (start.attemptPayment === false) {
    finalizeInvoice(ctx, invoice);
    openInvoicePayment(ctx, invoice, start.paymentMethod);
    return { subscription, invoice };
  }
  const result = collectInvoice(ctx, invoice, start.paymentMethod, {
    offSession: false,
    returnUrl: start.returnUrl,
  });
  if (result.status === "succeeded" && !trialing) {
    setSubscriptionStatus(ctx, subscription, "active");
  }
  return { subscription, invoice, result };
}

/** The delayed first payment of a subscription (a bank debit) succeeded or failed. */
export function settleFirstPayment(
  ctx: Context,
  subscription: Stripe.Subscription,
  invoice: Stripe.Invoice,
  succeeded: boolean,
): void {
  settleBankDebit(ctx, invoicePaymentIntent(ctx, invoice), succeeded);
  if (succeeded) markInvoicePaid(ctx, invoice);
  else markInvoicePaymentFailed(ctx, invoice);
  setSubscriptionStatus(ctx, subscription, succeeded ? "active" : "incomplete_expired");
}

/** A bank debit that bounces: the decline of the `async_failed` outcome. */
const BANK_DEBIT_FAILED: Decline = {
  code: "card_declined",
  declineCode: "insufficient_funds",
  message: "The customer's bank account has insufficient funds.",
};

/** A delayed bank debit's PaymentIntent settles: it succeeds or bounces. */
export function settleBankDebit(
  ctx: Context,
  paymentIntent: Stripe.PaymentIntent,
  succeeded: boolean,
): void {
  if (succeeded) succeedPaymentIntent(ctx, paymentIntent);
  else failPaymentIntent(ctx, paymentIntent, BANK_DEBIT_FAILED);
}

/** The buyer passed 3-D Secure for an invoice's payment: the invoice is paid. */
export function invoicePaymentAuthenticated(ctx: Context, invoice: Stripe.Invoice): void {
  markInvoicePaid(ctx, invoice);
  const subscription = subscriptionOf(ctx, invoice);
  if (subscription && ["incomplete", "past_due", "unpaid"].includes(subscription.status)) {
    setSubscriptionStatus(ctx, subscription, "active");
  }
}

function subscriptionOf(ctx: Context, invoice: Stripe.Invoice): Stripe.Subscription | undefined {
  const id = invoice.parent?.subscription_details?.subscription;
  return typeof id === "string" ? ctx.partition.subscriptions.get(id) : undefined;
}

/** The card a subscription charges: its own default, else its customer's. */
export function paymentMethodOf(ctx: Context, subscription: Stripe.Subscription): string | null {
  if (typeof subscription.default_payment_method === "string") {
    return subscription.default_payment_method;
  }
  const customer = ctx.partition.customers.get(subscription.customer as string);
  const fallback = customer?.invoice_settings.default_payment_method;
  return typeof fallback === "string" ? fallback : null;
}

export type RenewalOutcome = "card" | "paid" | "failed";

/**
 * The end of a period: a subscription set to cancel ends; one whose trial ends or whose
 * period renews is billed for the next period. `card` charges its card (test clocks); `paid`
 * and `failed` force the result (the renew and fail_payment controls), and `paid` settles an
 * invoice a failed renewal left open instead of billing a new one.
 */
export function renewSubscription(
  ctx: Context,
  subscription: Stripe.Subscription,
  outcome: RenewalOutcome = "card",
): void {
  assertRenewable(subscription);
  if (subscription.cancel_at_period_end && outcome !== "failed") {
    cancelSubscriptionNow(ctx, subscription, {}, "cancellation_requested");
    return;
  }
  const latest = ctx.partition.invoices.get(subscription.latest_invoice as string);
  if (outcome === "paid" && latest?.status === "open") {
    const paymentIntent = invoicePaymentIntent(ctx, latest);
    succeedPaymentIntent(ctx, paymentIntent);
    markInvoicePaid(ctx, latest);
    setSubscriptionStatus(ctx, subscription, "active");
    return;
  }
  billNextPeriod(ctx, subscription, outcome);
}

/** Bills the next period with a declined card: the subscription becomes `past_due`. */
export function failRenewal(ctx: Context, subscription: Stripe.Subscription): void {
  renewSubscription(ctx, subscription, "failed");
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
  outcome: RenewalOutcome,
): void {
  const customer = ctx.partition.customers.get(subscription.customer as string);
  if (!customer) throw invalidRequest(`The customer of ${subscription.id} no longer exists.`);
  const before = structuredClone(subscription);
  const previous = subscription.items.data[0];
  const period = { start: previous.current_period_start, end: previous.current_period_end };
  const endingTrial = subscription.status === "trialing";
  advancePeriod(subscription);
  if (endingTrial) subscription.status = "active";
  ctx.emitUpdated("customer.subscription.updated", before, subscription);
  const invoice = insertInvoice(ctx, {
    customer,
    subscription,
    lines: subscription.items.data.map((item) => ({
      price: item.price,
      quantity: item.quantity ?? 1,
      subscriptionItem: item,
      free: false,
    })),
    billingReason: "subscription_cycle",
    period,
  });
  ctx.emit("invoice.created", invoice);
  const paymentMethod = outcome === "card"
    ? paymentMethodOf(ctx, subscription)
    : forcedCard(ctx, outcome);
  const result = collectInvoice(ctx, invoice, paymentMethod, { offSession: true });
  setSubscriptionStatus(ctx, subscription, result.status === "succeeded" ? "active" : "past_due");
}

/** The controls force a renewal's result with a test card that always does that. */
function forcedCard(ctx: Context, outcome: "paid" | "failed"): string {
  const card = outcome === "paid"
    ? DEFAULT_TEST_CARD
    : TEST_CARDS.find((candidate) => candidate.behavior === "declined") ?? DEFAULT_TEST_CARD;
  return insertCardPaymentMethod(ctx, card).paymentMethod.id;
}

/** The PaymentIntent of an invoice's latest payment attempt. */
function invoicePaymentIntent(ctx: Context, invoice: Stripe.Invoice): Stripe.PaymentIntent {
  const payment = invoice.payments?.data[0]?.payment.payment_intent;
  const id = typeof payment === "string" ? payment : payment?.id;
  if (!id) throw invalidRequest(`Invoice ${invoice.id} has no payment to settle.`);
  return findPaymentIntent(ctx, id);
}

function openInvoicePayment(
  ctx: Context,
  invoice: Stripe.Invoice,
  paymentMethod: string | null,
): Stripe.PaymentIntent {
  const paymentIntent = openPaymentIntent(ctx, {
    amount: invoice.amount_remaining,
    currency: invoice.currency,
    customer: invoice.customer as string,
    metadata: {},
    description: invoice.billing_reason === "subscription_create"
      ? "Subscription creation"
      : "Subscription update",
    receiptEmail: invoice.customer_email,
    paymentMethod,
  });
  attachPayment(ctx, invoice, paymentIntent);
  return paymentIntent;
}

/**
 * Finalizes an invoice and charges `paymentMethod` for it. A zero total (a trial) is paid
 * without a payment; no payment method is a failed attempt, as in Stripe.
 */
export function collectInvoice(
  ctx: Context,
  invoice: Stripe.Invoice,
  paymentMethod: string | null,
  options: { offSession: boolean; returnUrl?: string | null },
): ConfirmResult {
  if (invoice.status === "draft") finalizeInvoice(ctx, invoice);
  if (invoice.amount_remaining === 0) {
    markInvoicePaid(ctx, invoice);
    return { status: "succeeded" };
  }
  const paymentIntent = openInvoicePayment(ctx, invoice, paymentMethod);
  if (!paymentMethod) {
    markInvoicePaymentFailed(ctx, invoice);
    return {
      status: "failed",
      decline: {
        code: "card_declined",
        declineCode: null,
        message: "The customer has no payment method to charge.",
      },
    };
  }
  const result = confirmPaymentIntent(ctx, paymentIntent, options);
  switch (result.status) {
    case "succeeded":
      markInvoicePaid(ctx, invoice);
      break;
    case "requires_action":
      ctx.partition.authentications.set(paymentIntent.id, { kind: "invoice", id: invoice.id });
      markInvoiceActionRequired(ctx, invoice);
      break;
    case "failed":
      markInvoicePaymentFailed(ctx, invoice);
      break;
    case "processing":
      break;
  }
  return result;
}
