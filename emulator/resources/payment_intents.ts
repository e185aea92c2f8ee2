/**
 * PaymentIntents: retrieve and list, plus the state changes Checkout and invoices drive
 * (processing → succeeded or failed), each with the events Stripe emits.
 */
import type Stripe from "stripe";
import { unixNow } from "../clock.ts";
import type { Context } from "../context.ts";
import { noSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newId, randomToken } from "../ids.ts";
import { newestFirst, paginate } from "../pagination.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import { endpoint, type PathParams } from "../router.ts";
import { insertCharge, setChargeStatus } from "./charges.ts";

export interface PaymentIntentInput {
  amount: number;
  currency: string;
  customer: string | null;
  metadata: Stripe.Metadata;
  description: string | null;
  receiptEmail: string | null;
  /** Cards settle at once; a US bank account debit stays `processing` first. */
  paymentMethodType: "card" | "us_bank_account";
}

export function findPaymentIntent(ctx: Context, id: string, param = "id"): Stripe.PaymentIntent {
  const paymentIntent = ctx.partition.paymentIntents.get(id);
  if (!paymentIntent) throw noSuch("payment_intent", id, param);
  return paymentIntent;
}

/** Stores a confirmed PaymentIntent and emits `payment_intent.created`. */
export function openPaymentIntent(ctx: Context, input: PaymentIntentInput): Stripe.PaymentIntent {
  const id = newId("pi");
  const paymentIntent: Stripe.PaymentIntent = {
    id,
    object: "payment_intent",
    allowed_payment_method_types: null,
    amount: input.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: "automatic",
    client_secret: `${id}_secret_${randomToken(25)}`,
    confirmation_method: "automatic",
    created: unixNow(),
    currency: input.currency,
    customer: input.customer,
    customer_account: null,
    description: input.description,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: ctx.livemode,
    managed_payments: null,
    metadata: { ...input.metadata },
    next_action: null,
    on_behalf_of: null,
    payment_method: newId("pm"),
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: [input.paymentMethodType],
    payment_record: null,
    processing: null,
    receipt_email: input.receiptEmail,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: "requires_confirmation",
    transfer_data: null,
    transfer_group: null,
  };
  ctx.partition.insert(ctx.partition.paymentIntents, id, paymentIntent);
  ctx.emit("payment_intent.created", paymentIntent);
  return paymentIntent;
}

function methodType(paymentIntent: Stripe.PaymentIntent): "card" | "us_bank_account" {
  return paymentIntent.payment_method_types[0] === "us_bank_account" ? "us_bank_account" : "card";
}

/** A delayed payment method: a pending charge, and the PaymentIntent `processing`. */
export function processPaymentIntent(ctx: Context, paymentIntent: Stripe.PaymentIntent): void {
  const charge = insertCharge(ctx, paymentIntent, "pending", methodType(paymentIntent));
  paymentIntent.latest_charge = charge.id;
  paymentIntent.status = "processing";
  ctx.emit("charge.pending", charge);
  ctx.emit("payment_intent.processing", paymentIntent);
}

export function succeedPaymentIntent(
  ctx: Context,
  paymentIntent: Stripe.PaymentIntent,
): Stripe.Charge {
  const charge = settleCharge(ctx, paymentIntent, "succeeded");
  paymentIntent.status = "succeeded";
  paymentIntent.amount_received = paymentIntent.amount;
  paymentIntent.last_payment_error = null;
  ctx.emit("charge.succeeded", charge);
  ctx.emit("payment_intent.succeeded", paymentIntent);
  return charge;
}

export function failPaymentIntent(ctx: Context, paymentIntent: Stripe.PaymentIntent): void {
  const charge = settleCharge(ctx, paymentIntent, "failed");
  paymentIntent.status = "requires_payment_method";
  paymentIntent.last_payment_error = {
    charge: charge.id,
    code: "card_declined",
    decline_code: "generic_decline",
    doc_url: "https://stripe.com/docs/error-codes/card-declined",
    message: "Your card was declined.",
    type: "card_error",
  } as Stripe.PaymentIntent.LastPaymentError;
  ctx.emit("charge.failed", charge);
  ctx.emit("payment_intent.payment_failed", paymentIntent);
}

/** Settles the pending charge of a delayed payment, or makes a new charge for a card. */
function settleCharge(
  ctx: Context,
  paymentIntent: Stripe.PaymentIntent,
  status: "succeeded" | "failed",
): Stripe.Charge {
  const pending = typeof paymentIntent.latest_charge === "string"
    ? ctx.partition.charges.get(paymentIntent.latest_charge)
    : undefined;
  if (pending?.status === "pending") {
    setChargeStatus(pending, status);
    return pending;
  }
  const charge = insertCharge(ctx, paymentIntent, status, methodType(paymentIntent));
  paymentIntent.latest_charge = charge.id;
  return charge;
}

/** `GET /v1/payment_intents/{id}`. */
const RETRIEVE_PARAMS: ParamSpec = { ignored: ["client_secret"] };

function retrievePaymentIntent(ctx: Context, params: ParamReader, path: PathParams) {
  return expand(ctx.partition, findPaymentIntent(ctx, path.id), params.expand());
}

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "customer"],
  ignored: ["created", "customer_account"],
};

function listPaymentIntents(ctx: Context, params: ParamReader) {
  const customer = params.string("customer");
  const paymentIntents = [...ctx.partition.paymentIntents.values()].filter((paymentIntent) =>
    customer === undefined || paymentIntent.customer === customer
  );
  const list = paginate(
    paymentIntents,
    params,
    "/v1/payment_intents",
    newestFirst(ctx.partition),
  );
  return expand(ctx.partition, list, params.expand());
}

export const paymentIntentRoutes = [
  endpoint("GET", "/v1/payment_intents", LIST_PARAMS, listPaymentIntents),
  endpoint("GET", "/v1/payment_intents/{id}", RETRIEVE_PARAMS, retrievePaymentIntent),
];
