/**
 * PaymentIntents: create, confirm, cancel, retrieve, list; and the state changes Checkout and
 * invoices drive. Confirming charges the PaymentMethod's test card (cards.ts): it succeeds,
 * is declined (`charge.failed`, `payment_intent.payment_failed`), or needs 3-D Secure
 * (`requires_action`, approved or failed on the hosted `/authenticate/{id}` page); a bank
 * debit stays `processing` until it settles.
 */
import type Stripe from "stripe";
import { AUTHENTICATION_FAILED, chargeCard, type Decline } from "../cards.ts";
import type { Context } from "../context.ts";
import { invalidRequest, missingParam, orNoSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newId, randomToken } from "../ids.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import type { PathParams } from "../router.ts";
import { collection, whereEqual } from "./collection.ts";
import { insertCharge, setChargeStatus } from "./charges.ts";
import { findCustomer } from "./customers.ts";
import { cardError, resolvePaymentMethod } from "./payment_methods.ts";

export interface PaymentIntentInput {
  amount: number;
  currency: string;
  customer: string | null;
  metadata: Stripe.Metadata;
  description: string | null;
  receiptEmail: string | null;
  paymentMethod: string | null;
}

export function findPaymentIntent(ctx: Context, id: string, param = "id"): Stripe.PaymentIntent {
  return orNoSuch(ctx.partition.paymentIntents.get(id), "payment_intent", id, param);
}

/** Stores a PaymentIntent and emits `payment_intent.created`. */
export function openPaymentIntent(ctx: Context, input: PaymentIntentInput): Stripe.PaymentIntent {
  const id = newId("pi");
  const method = input.paymentMethod
    ? ctx.partition.paymentMethods.get(input.paymentMethod)?.paymentMethod
    : undefined;
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
    created: ctx.now(),
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
    payment_method: input.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: [method?.type ?? "card"],
    payment_record: null,
    processing: null,
    receipt_email: input.receiptEmail,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: input.paymentMethod ? "requires_confirmation" : "requires_payment_method",
    transfer_data: null,
    transfer_group: null,
  };
  ctx.partition.insert(ctx.partition.paymentIntents, id, paymentIntent);
  ctx.emit("payment_intent.created", paymentIntent);
  return paymentIntent;
}

export type ConfirmResult =
  | { status: "succeeded" | "processing" | "requires_action" }
  | { status: "failed"; decline: Decline };

export interface ConfirmOptions {
  /** The buyer is away: renewals, `off_session: true`. */
  offSession: boolean;
  /** The buyer just passed the 3-D Secure step for this payment. */
  authenticated?: boolean;
  /** Where the 3-D Secure page sends the buyer back. */
  returnUrl?: string | null;
}

/** Charges the PaymentIntent's PaymentMethod and moves the PaymentIntent on, with its events. */
export function confirmPaymentIntent(
  ctx: Context,
  paymentIntent: Stripe.PaymentIntent,
  options: ConfirmOptions,
): ConfirmResult {
  const id = paymentIntent.payment_method;
  const record = typeof id === "string" ? ctx.partition.paymentMethods.get(id) : undefined;
  if (!record) {
    throw invalidRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method.",
      "payment_method",
      "payment_intent_unexpected_state",
    );
  }
  if (!record.card) {
    processPaymentIntent(ctx, paymentIntent);
    return { status: "processing" };
  }
  const attempt = chargeCard(record.card, {
    offSession: options.offSession,
    authenticated: options.authenticated ?? false,
    saved: record.paymentMethod.customer !== null,
  });
  switch (attempt.result) {
    case "succeeded":
      succeedPaymentIntent(ctx, paymentIntent);
      return { status: "succeeded" };
    case "requires_action":
      requireAction(ctx, paymentIntent, options.returnUrl ?? null);
      return { status: "requires_action" };
    case "declined":
      failPaymentIntent(ctx, paymentIntent, attempt.decline);
      return { status: "failed", decline: attempt.decline };
  }
}

/** 3-D Secure: the buyer is sent to the hosted authentication page. */
function requireAction(
  ctx: Context,
  paymentIntent: Stripe.PaymentIntent,
  returnUrl: string | null,
): void {
  paymentIntent.status = "requires_action";
  paymentIntent.next_action = {
    type: "redirect_to_url",
    redirect_to_url: {
      return_url: returnUrl,
      url: `${ctx.publicUrl}/authenticate/${paymentIntent.id}`,
    },
  };
  ctx.emit("payment_intent.requires_action", paymentIntent);
}

/** The buyer failed 3-D Secure: no charge, the PaymentIntent needs another method. */
export function failAuthentication(ctx: Context, paymentIntent: Stripe.PaymentIntent): void {
  paymentIntent.status = "requires_payment_method";
  paymentIntent.next_action = null;
  paymentIntent.last_payment_error = lastPaymentError(
    ctx,
    AUTHENTICATION_FAILED,
    null,
    paymentIntent,
  );
  ctx.emit("payment_intent.payment_failed", paymentIntent);
}

/** A delayed payment method: a pending charge, and the PaymentIntent `processing`. */
export function processPaymentIntent(ctx: Context, paymentIntent: Stripe.PaymentIntent): void {
  const charge = insertCharge(ctx, paymentIntent, "pending");
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
  paymentIntent.next_action = null;
  ctx.emit("charge.succeeded", charge);
  ctx.emit("payment_intent.succeeded", paymentIntent);
  return charge;
}

export function failPaymentIntent(
  ctx: Context,
  paymentIntent: Stripe.PaymentIntent,
  decline: Decline,
): void {
  const charge = settleCharge(ctx, paymentIntent, "failed", decline);
  paymentIntent.status = "requires_payment_method";
  paymentIntent.next_action = null;
  paymentIntent.last_payment_error = lastPaymentError(ctx, decline, charge.id, paymentIntent);
  ctx.emit("charge.failed", charge);
  ctx.emit("payment_intent.payment_failed", paymentIntent);
}

function lastPaymentError(
  ctx: Context,
  decline: Decline,
  chargeId: string | null,
  paymentIntent: Stripe.PaymentIntent,
): Stripe.PaymentIntent.LastPaymentError {
  const method = typeof paymentIntent.payment_method === "string"
    ? ctx.partition.paymentMethods.get(paymentIntent.payment_method)?.paymentMethod
    : undefined;
  return {
    ...(chargeId ? { charge: chargeId } : {}),
    code: decline.code,
    ...(decline.declineCode ? { decline_code: decline.declineCode } : {}),
    doc_url: `https://stripe.com/docs/error-codes/${decline.code.replaceAll("_", "-")}`,
    message: decline.message,
    ...(method ? { payment_method: method } : {}),
    type: decline.code === "payment_intent_authentication_failure"
      ? "invalid_request_error"
      : "card_error",
  } as Stripe.PaymentIntent.LastPaymentError;
}

/** Settles the pending charge of a delayed payment, or makes a new charge for a card. */
function settleCharge(
  ctx: Context,
  paymentIntent: Stripe.PaymentIntent,
  status: "succeeded" | "failed",
  decline?: Decline,
): Stripe.Charge {
  const pending = typeof paymentIntent.latest_charge === "string"
    ? ctx.partition.charges.get(paymentIntent.latest_charge)
    : undefined;
  if (pending?.status === "pending") {
    setChargeStatus(pending, status, decline);
    return pending;
  }
  const charge = insertCharge(ctx, paymentIntent, status, decline);
  paymentIntent.latest_charge = charge.id;
  return charge;
}

/** A declined confirmation answers 402 with the PaymentIntent, as Stripe does. */
function throwIfDeclined(
  ctx: Context,
  paymentIntent: Stripe.PaymentIntent,
  result: ConfirmResult,
  params: ParamReader,
): void {
  if (result.status !== "failed") return;
  const shown = expand(ctx.partition, paymentIntent, params.expand());
  const method = ctx.partition.paymentMethods.get(paymentIntent.payment_method as string);
  throw cardError(result.decline, {
    ...(paymentIntent.latest_charge ? { charge: paymentIntent.latest_charge } : {}),
    payment_intent: structuredClone(shown),
    ...(method ? { payment_method: structuredClone(method.paymentMethod) } : {}),
  });
}

/** Fees, Connect transfers and statement descriptors: accepted with a payment, not emulated. */
export const UNEMULATED_ROUTING_PARAMS = [
  "application_fee_amount",
  "on_behalf_of",
  "statement_descriptor",
  "statement_descriptor_suffix",
  "transfer_data",
  "transfer_group",
];

/** Capture, mandates, shipping and method choice are not emulated: cards only. */
const CONFIRM_IGNORED = [
  "capture_method",
  "confirmation_token",
  "error_on_requires_action",
  "mandate",
  "mandate_data",
  "payment_details",
  "payment_method_data",
  "payment_method_options",
  "payment_method_types",
  "radar_options",
  "setup_future_usage",
  "shipping",
  "use_stripe_sdk",
];

const CREATE_PARAMS: ParamSpec = {
  read: [
    "amount",
    "confirm",
    "currency",
    "customer",
    "description",
    "metadata",
    "off_session",
    "payment_method",
    "receipt_email",
    "return_url",
  ],
  ignored: [
    ...CONFIRM_IGNORED,
    ...UNEMULATED_ROUTING_PARAMS,
    "amount_details",
    "automatic_payment_methods",
    "confirmation_method",
    "customer_account",
    "excluded_payment_method_types",
    "hooks",
    "payment_method_configuration",
  ],
};

function createPaymentIntent(ctx: Context, params: ParamReader) {
  const amount = params.integer("amount", 1);
  if (amount === undefined) throw missingParam("amount");
  const currency = params.string("currency");
  if (!currency) throw missingParam("currency");
  const customerId = params.nullableString("customer") ?? null;
  if (customerId) findCustomer(ctx, customerId, "customer");
  const methodId = params.nullableString("payment_method");
  const method = methodId ? resolvePaymentMethod(ctx, methodId, "payment_method") : undefined;
  if (
    method && typeof method.paymentMethod.customer === "string" &&
    method.paymentMethod.customer !== customerId
  ) {
    throw invalidRequest(
      `The provided PaymentMethod belongs to another customer; pass that customer.`,
      "payment_method",
    );
  }
  const paymentIntent = openPaymentIntent(ctx, {
    amount,
    currency: currency.toLowerCase(),
    customer: customerId,
    metadata: params.metadata() ?? {},
    description: params.nullableString("description") ?? null,
    receiptEmail: params.nullableString("receipt_email") ?? null,
    paymentMethod: method?.paymentMethod.id ?? null,
  });
  if (params.boolean("confirm")) {
    const result = confirm(ctx, paymentIntent, params);
    throwIfDeclined(ctx, paymentIntent, result, params);
  } else if (params.has("off_session")) {
    throw invalidRequest("`off_session` can only be used with `confirm: true`.", "off_session");
  }
  return expand(ctx.partition, paymentIntent, params.expand());
}

function confirm(
  ctx: Context,
  paymentIntent: Stripe.PaymentIntent,
  params: ParamReader,
): ConfirmResult {
  const offSession = params.string("off_session");
  return confirmPaymentIntent(ctx, paymentIntent, {
    offSession: offSession !== undefined && offSession !== "false",
    returnUrl: params.nullableString("return_url") ?? null,
  });
}

const CONFIRM_PARAMS: ParamSpec = {
  read: ["off_session", "payment_method", "receipt_email", "return_url"],
  ignored: CONFIRM_IGNORED,
};

const CONFIRMABLE = ["requires_payment_method", "requires_confirmation", "requires_action"];

function confirmEndpoint(ctx: Context, params: ParamReader, path: PathParams) {
  const paymentIntent = findPaymentIntent(ctx, path.id);
  if (!CONFIRMABLE.includes(paymentIntent.status)) {
    throw invalidRequest(
      `This PaymentIntent's status is ${paymentIntent.status}; it cannot be confirmed.`,
      undefined,
      "payment_intent_unexpected_state",
    );
  }
  const methodId = params.nullableString("payment_method");
  if (methodId) {
    paymentIntent.payment_method =
      resolvePaymentMethod(ctx, methodId, "payment_method").paymentMethod.id;
  }
  const receiptEmail = params.nullableString("receipt_email");
  if (receiptEmail !== undefined) paymentIntent.receipt_email = receiptEmail;
  const result = confirm(ctx, paymentIntent, params);
  throwIfDeclined(ctx, paymentIntent, result, params);
  return expand(ctx.partition, paymentIntent, params.expand());
}

const CANCEL_PARAMS: ParamSpec = { read: ["cancellation_reason"] };

const CANCELLATION_REASONS = ["abandoned", "duplicate", "fraudulent", "requested_by_customer"];

function cancelPaymentIntent(ctx: Context, params: ParamReader, path: PathParams) {
  const paymentIntent = findPaymentIntent(ctx, path.id);
  if (["succeeded", "canceled", "processing"].includes(paymentIntent.status)) {
    throw invalidRequest(
      `You cannot cancel this PaymentIntent because it has a status of ${paymentIntent.status}.`,
      undefined,
      "payment_intent_unexpected_state",
    );
  }
  paymentIntent.status = "canceled";
  paymentIntent.canceled_at = ctx.now();
  paymentIntent.next_action = null;
  paymentIntent.cancellation_reason = (params.oneOf("cancellation_reason", CANCELLATION_REASONS) ??
    null) as Stripe.PaymentIntent.CancellationReason | null;
  ctx.emit("payment_intent.canceled", paymentIntent);
  return expand(ctx.partition, paymentIntent, params.expand());
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
  return whereEqual(ctx.partition.paymentIntents.values(), params, ["customer"]);
}

export const paymentIntentRoutes = collection("/v1/payment_intents", {
  create: [CREATE_PARAMS, createPaymentIntent],
  list: [LIST_PARAMS, listPaymentIntents],
  retrieve: [RETRIEVE_PARAMS, retrievePaymentIntent],
  actions: {
    confirm: [CONFIRM_PARAMS, confirmEndpoint],
    cancel: [CANCEL_PARAMS, cancelPaymentIntent],
  },
});
