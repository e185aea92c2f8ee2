/**
 * The 3-D Secure step: a PaymentIntent in `requires_action` is approved or failed by the buyer
 * (on the hosted `/authenticate/{id}` page, or through the Checkout control), and what it
 * belongs to goes on: a Checkout Session completes, a subscription invoice is paid.
 */
import { invoicePaymentAuthenticated } from "./billing.ts";
import type { Context } from "./context.ts";
import { invalidRequest } from "./errors.ts";
import { completeAfterAuthentication } from "./resources/checkout_sessions.ts";
import { markInvoicePaymentFailed } from "./resources/invoices.ts";
import {
  confirmPaymentIntent,
  failAuthentication,
  findPaymentIntent,
} from "./resources/payment_intents.ts";

export interface AuthenticationResult {
  succeeded: boolean;
  /** Where the buyer goes next, if anywhere. */
  redirect: string | null;
}

export function authenticatePayment(
  ctx: Context,
  paymentIntentId: string,
  approved: boolean,
): AuthenticationResult {
  const paymentIntent = findPaymentIntent(ctx, paymentIntentId);
  if (paymentIntent.status !== "requires_action") {
    throw invalidRequest(
      `PaymentIntent ${paymentIntentId} is ${paymentIntent.status}; it is not waiting for ` +
        `authentication.`,
    );
  }
  const pending = ctx.partition.authentications.get(paymentIntentId) ??
    { kind: "payment_intent" as const, id: paymentIntentId };
  ctx.partition.authentications.delete(paymentIntentId);
  const returnUrl = paymentIntent.next_action?.redirect_to_url?.return_url ?? null;
  if (!approved) {
    failAuthentication(ctx, paymentIntent);
    if (pending.kind === "invoice") {
      const invoice = ctx.partition.invoices.get(pending.id);
      if (invoice) markInvoicePaymentFailed(ctx, invoice);
    }
    if (pending.kind === "checkout") {
      const record = ctx.partition.checkoutSessions.get(pending.id);
      if (record) {
        record.lastError = paymentIntent.last_payment_error?.message ?? null;
        return { succeeded: false, redirect: record.session.url };
      }
    }
    return { succeeded: false, redirect: withStatus(returnUrl, paymentIntentId, "failed") };
  }
  confirmPaymentIntent(ctx, paymentIntent, { offSession: false, authenticated: true });
  switch (pending.kind) {
    case "invoice": {
      const invoice = ctx.partition.invoices.get(pending.id);
      if (invoice) invoicePaymentAuthenticated(ctx, invoice);
      return { succeeded: true, redirect: null };
    }
    case "checkout": {
      const record = ctx.partition.checkoutSessions.get(pending.id);
      if (!record) return { succeeded: true, redirect: null };
      completeAfterAuthentication(ctx, record);
      const target = record.session.success_url ?? record.session.return_url;
      return {
        succeeded: true,
        redirect: target?.replaceAll("{CHECKOUT_SESSION_ID}", record.session.id) ?? null,
      };
    }
    case "payment_intent":
      return { succeeded: true, redirect: withStatus(returnUrl, paymentIntentId, "succeeded") };
  }
}

/** Stripe appends the PaymentIntent and the outcome to a PaymentIntent's `return_url`. */
function withStatus(url: string | null, paymentIntentId: string, status: string): string | null {
  if (!url) return null;
  const target = new URL(url);
  target.searchParams.set("payment_intent", paymentIntentId);
  target.searchParams.set("redirect_status", status);
  return target.toString();
}
