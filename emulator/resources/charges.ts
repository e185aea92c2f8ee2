/** Charges: retrieve and list; charges are created by PaymentIntents, never directly. */
import type Stripe from "stripe";
import type { Decline } from "../cards.ts";
import type { Context } from "../context.ts";
import { orNoSuch } from "../errors.ts";
import { newId } from "../ids.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import { collection, whereEqual } from "./collection.ts";

export type ChargeStatus = "succeeded" | "pending" | "failed";

export function findCharge(ctx: Context, id: string, param = "id"): Stripe.Charge {
  return orNoSuch(ctx.partition.charges.get(id), "charge", id, param);
}

export function insertCharge(
  ctx: Context,
  paymentIntent: Stripe.PaymentIntent,
  status: ChargeStatus,
  decline?: Decline,
): Stripe.Charge {
  const id = newId("ch");
  const method = typeof paymentIntent.payment_method === "string"
    ? ctx.partition.paymentMethods.get(paymentIntent.payment_method)?.paymentMethod
    : undefined;
  const charge: Stripe.Charge = {
    id,
    object: "charge",
    amount: paymentIntent.amount,
    amount_captured: 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: null,
    billing_details: {
      address: null,
      email: method?.billing_details.email ?? paymentIntent.receipt_email,
      name: method?.billing_details.name ?? null,
      phone: null,
      tax_id: null,
    },
    calculated_statement_descriptor: "STRIPE EMULATOR",
    captured: false,
    created: ctx.now(),
    currency: paymentIntent.currency,
    customer: paymentIntent.customer,
    description: paymentIntent.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    fraud_details: {},
    livemode: ctx.livemode,
    metadata: { ...paymentIntent.metadata },
    on_behalf_of: null,
    outcome: null,
    paid: false,
    payment_intent: paymentIntent.id,
    payment_method: typeof paymentIntent.payment_method === "string"
      ? paymentIntent.payment_method
      : null,
    payment_method_details: paymentMethodDetails(method),
    receipt_email: paymentIntent.receipt_email,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    refunds: { object: "list", data: [], has_more: false, url: `/v1/charges/${id}/refunds` },
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: "pending",
    transfer_data: null,
    transfer_group: null,
  };
  setChargeStatus(charge, status, decline);
  return ctx.partition.insert(ctx.partition.charges, id, charge);
}

/** Moves a charge to its final state (a pending bank debit settles later). */
export function setChargeStatus(
  charge: Stripe.Charge,
  status: ChargeStatus,
  decline?: Decline,
): void {
  const failed = status === "failed";
  charge.status = status;
  charge.paid = status === "succeeded";
  charge.captured = status === "succeeded";
  charge.amount_captured = status === "succeeded" ? charge.amount : 0;
  charge.balance_transaction = status === "succeeded" ? newId("txn") : null;
  charge.failure_code = failed ? decline?.code ?? "card_declined" : null;
  charge.failure_message = failed ? decline?.message ?? "Your card was declined." : null;
  charge.outcome = {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    network_status: failed ? "declined_by_network" : "approved_by_network",
    reason: failed ? decline?.declineCode ?? "generic_decline" : null,
    risk_level: "normal",
    risk_score: 20,
    seller_message: failed
      ? "The bank did not return any further details with this decline."
      : "Payment complete.",
    type: failed ? "issuer_declined" : "authorized",
  };
}

/** What the charge records of the PaymentMethod it used. */
function paymentMethodDetails(
  method: Stripe.PaymentMethod | undefined,
): Stripe.Charge.PaymentMethodDetails {
  if (method?.us_bank_account) {
    const bank = method.us_bank_account;
    return {
      type: "us_bank_account",
      us_bank_account: {
        account_holder_type: bank.account_holder_type,
        account_type: bank.account_type,
        bank_name: bank.bank_name,
        fingerprint: bank.fingerprint,
        last4: bank.last4,
        payment_reference: null,
        routing_number: bank.routing_number,
      },
    } as Stripe.Charge.PaymentMethodDetails;
  }
  const card = method?.card;
  return {
    type: "card",
    card: {
      amount_authorized: null,
      authorization_code: null,
      brand: card?.brand ?? "visa",
      checks: card?.checks ?? null,
      country: card?.country ?? "US",
      electronic_commerce_indicator: null,
      exp_month: card?.exp_month ?? 12,
      exp_year: card?.exp_year ?? 2034,
      fingerprint: card?.fingerprint ?? null,
      funding: card?.funding ?? "credit",
      installments: null,
      last4: card?.last4 ?? "4242",
      mandate: null,
      network: card?.brand ?? "visa",
      network_transaction_id: null,
      regulated_status: card?.regulated_status ?? null,
      three_d_secure: null,
      transaction_link_id: null,
      wallet: null,
    },
  } as Stripe.Charge.PaymentMethodDetails;
}

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "customer", "payment_intent"],
  ignored: ["created", "transfer_group"],
};

function listCharges(ctx: Context, params: ParamReader) {
  return whereEqual(ctx.partition.charges.values(), params, ["customer", "payment_intent"]);
}

export const chargeRoutes = collection("/v1/charges", {
  list: [LIST_PARAMS, listCharges],
  find: findCharge,
});
