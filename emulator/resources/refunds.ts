/** Refunds: create (full or partial, by charge or PaymentIntent), retrieve, list. */
import type Stripe from "stripe";
import type { Context } from "../context.ts";
import { invalidRequest, missingParam, orNoSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newId } from "../ids.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import { collection, whereEqual } from "./collection.ts";
import { findCharge } from "./charges.ts";
import { findPaymentIntent } from "./payment_intents.ts";

const REASONS = ["duplicate", "fraudulent", "requested_by_customer"] as const;

function findRefund(ctx: Context, id: string): Stripe.Refund {
  return orNoSuch(ctx.partition.refunds.get(id), "refund", id);
}

function chargeToRefund(ctx: Context, params: ParamReader): Stripe.Charge {
  const chargeId = params.nullableString("charge");
  const paymentIntentId = params.nullableString("payment_intent");
  if (chargeId) return findCharge(ctx, chargeId, "charge");
  if (!paymentIntentId) throw missingParam("charge");
  const paymentIntent = findPaymentIntent(ctx, paymentIntentId, "payment_intent");
  const charge = typeof paymentIntent.latest_charge === "string"
    ? ctx.partition.charges.get(paymentIntent.latest_charge)
    : undefined;
  if (!charge || paymentIntent.status !== "succeeded") {
    throw invalidRequest(
      `This PaymentIntent (${paymentIntent.id}) does not have a successful charge to refund.`,
      "payment_intent",
    );
  }
  return charge;
}

const CREATE_PARAMS: ParamSpec = {
  read: ["amount", "charge", "metadata", "payment_intent", "reason"],
  ignored: [
    "currency",
    "customer",
    "instructions_email",
    "origin",
    "refund_application_fee",
    "reverse_transfer",
  ],
};

function createRefund(ctx: Context, params: ParamReader) {
  const charge = chargeToRefund(ctx, params);
  if (charge.status !== "succeeded") {
    throw invalidRequest(`Charge ${charge.id} has not succeeded and cannot be refunded.`, "charge");
  }
  const refundable = charge.amount_captured - charge.amount_refunded;
  if (refundable <= 0) {
    throw invalidRequest(
      `Charge ${charge.id} has already been refunded.`,
      "charge",
      "charge_already_refunded",
    );
  }
  const amount = params.integer("amount", 1) ?? refundable;
  if (amount > refundable) {
    throw invalidRequest(
      `Refund amount (${amount}) is greater than unrefunded amount on charge (${refundable})`,
      "amount",
    );
  }
  const refund: Stripe.Refund = {
    id: newId("re"),
    object: "refund",
    amount,
    balance_transaction: newId("txn"),
    charge: charge.id,
    created: ctx.now(),
    currency: charge.currency,
    customer: charge.customer,
    customer_account: null,
    destination_details: { card: { type: "refund" }, type: "card" },
    metadata: params.metadata() ?? {},
    payment_intent: charge.payment_intent,
    payment_method: charge.payment_method,
    reason: params.oneOf("reason", REASONS) ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: "succeeded",
    transfer_reversal: null,
  };
  ctx.partition.insert(ctx.partition.refunds, refund.id, refund);

  const before = structuredClone(charge);
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded === charge.amount_captured;
  charge.refunds?.data.unshift(refund);
  ctx.emit("refund.created", refund);
  ctx.emitUpdated("charge.refunded", before, charge);
  return expand(ctx.partition, refund, params.expand());
}

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "charge", "payment_intent"],
  ignored: ["created"],
};

function listRefunds(ctx: Context, params: ParamReader) {
  return whereEqual(ctx.partition.refunds.values(), params, ["charge", "payment_intent"]);
}

export const refundRoutes = collection("/v1/refunds", {
  create: [CREATE_PARAMS, createRefund],
  list: [LIST_PARAMS, listRefunds],
  find: findRefund,
});
