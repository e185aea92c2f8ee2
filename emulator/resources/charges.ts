/** Charges: retrieve and list; charges are created by PaymentIntents, never directly. */
import type Stripe from "stripe";
import { unixNow } from "../clock.ts";
import type { Context } from "../context.ts";
import { noSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newId } from "../ids.ts";
import { newestFirst, paginate } from "../pagination.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import { endpoint, type PathParams } from "../router.ts";

export type ChargeStatus = "succeeded" | "pending" | "failed";

export function findCharge(ctx: Context, id: string, param = "id"): Stripe.Charge {
  const charge = ctx.partition.charges.get(id);
  if (!charge) throw noSuch("charge", id, param);
  return charge;
}

export function insertCharge(
  ctx: Context,
  paymentIntent: Stripe.PaymentIntent,
  status: ChargeStatus,
  paymentMethodType: "card" | "us_bank_account",
): Stripe.Charge {
  const id = newId("ch");
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
      email: paymentIntent.receipt_email,
      name: null,
      phone: null,
      tax_id: null,
    },
    calculated_statement_descriptor: "STRIPE EMULATOR",
    captured: false,
    created: unixNow(),
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
    payment_method_details: paymentMethodDetails(paymentMethodType),
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
  setChargeStatus(charge, status);
  return ctx.partition.insert(ctx.partition.charges, id, charge);
}

/** Moves a charge to its final state (a pending bank debit settles later). */
export function setChargeStatus(charge: Stripe.Charge, status: ChargeStatus): void {
  charge.status = status;
  charge.paid = status === "succeeded";
  charge.captured = status === "succeeded";
  charge.amount_captured = status === "succeeded" ? charge.amount : 0;
  charge.balance_transaction = status === "succeeded" ? newId("txn") : null;
  charge.failure_code = status === "failed" ? "card_declined" : null;
  charge.failure_message = status === "failed" ? "Your card was declined." : null;
  charge.outcome = {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    network_status: status === "failed" ? "declined_by_network" : "approved_by_network",
    reason: status === "failed" ? "generic_decline" : null,
    risk_level: "normal",
    risk_score: 20,
    seller_message: status === "failed"
      ? "The bank did not return any further details."
      : "Payment complete.",
    type: status === "failed" ? "issuer_declined" : "authorized",
  };
}

function paymentMethodDetails(
  type: "card" | "us_bank_account",
): Stripe.Charge.PaymentMethodDetails {
  if (type === "us_bank_account") {
    return {
      type,
      us_bank_account: {
        account_holder_type: "individual",
        account_type: "checking",
        bank_name: "STRIPE TEST BANK",
        fingerprint: "emulatorbank0001",
        last4: "6789",
        routing_number: "110000000",
      },
    } as Stripe.Charge.PaymentMethodDetails;
  }
  return {
    type,
    card: {
      amount_authorized: null,
      brand: "visa",
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
      country: "US",
      exp_month: 12,
      exp_year: 2034,
      fingerprint: "emulatorcard0001",
      funding: "credit",
      last4: "4242",
      network: "visa",
      three_d_secure: null,
      wallet: null,
    },
  } as Stripe.Charge.PaymentMethodDetails;
}

/** `GET /v1/charges/{id}`: only `expand`. */
const RETRIEVE_PARAMS: ParamSpec = {};

function retrieveCharge(ctx: Context, params: ParamReader, path: PathParams) {
  return expand(ctx.partition, findCharge(ctx, path.id), params.expand());
}

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "customer", "payment_intent"],
  ignored: ["created", "transfer_group"],
};

function listCharges(ctx: Context, params: ParamReader) {
  const customer = params.string("customer");
  const paymentIntent = params.string("payment_intent");
  const charges = [...ctx.partition.charges.values()].filter((charge) =>
    (customer === undefined || charge.customer === customer) &&
    (paymentIntent === undefined || charge.payment_intent === paymentIntent)
  );
  const list = paginate(charges, params, "/v1/charges", newestFirst(ctx.partition));
  return expand(ctx.partition, list, params.expand());
}

export const chargeRoutes = [
  endpoint("GET", "/v1/charges", LIST_PARAMS, listCharges),
  endpoint("GET", "/v1/charges/{id}", RETRIEVE_PARAMS, retrieveCharge),
];
