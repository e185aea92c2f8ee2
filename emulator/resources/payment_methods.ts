/**
 * PaymentMethods: test cards (`pm_card_visa` ...) and card numbers become PaymentMethods that
 * can be attached to customers, set as their default and charged; bank debits for the delayed
 * Checkout outcomes. The card behind each one decides what a charge does (cards.ts).
 */
import type Stripe from "stripe";
import { attachDecline, cardByNumber, cardByToken, type Decline, type TestCard } from "../cards.ts";
import type { Context } from "../context.ts";
import { invalidRequest, missingParam, orNoSuch, StripeError } from "../errors.ts";
import { expand } from "../expand.ts";
import { newId } from "../ids.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import { endpoint, type PathParams } from "../router.ts";
import { collection, listPage } from "./collection.ts";
import type { PaymentMethodRecord } from "../store.ts";
import { findCustomer } from "./customers.ts";

/** A card payment declined by the issuer: Stripe's 402 `card_error`. */
export function cardError(decline: Decline, extra: Record<string, unknown> = {}): StripeError {
  return new StripeError(402, "card_error", decline.message, decline.code, undefined, {
    ...(decline.declineCode ? { decline_code: decline.declineCode } : {}),
    ...extra,
  });
}

export function findPaymentMethod(ctx: Context, id: string, param = "id"): PaymentMethodRecord {
  return orNoSuch(ctx.partition.paymentMethods.get(id), "payment_method", id, param);
}

/**
 * The PaymentMethod a parameter names: a stored `pm_...`, or a test payment method such as
 * `pm_card_visa`, which (as in Stripe) makes a new PaymentMethod each time it is used.
 */
export function resolvePaymentMethod(ctx: Context, id: string, param: string): PaymentMethodRecord {
  const card = cardByToken(id);
  if (card) return insertCardPaymentMethod(ctx, card);
  return findPaymentMethod(ctx, id, param);
}

function basePaymentMethod(ctx: Context, billing: Partial<Stripe.PaymentMethod.BillingDetails>) {
  return {
    id: newId("pm"),
    object: "payment_method" as const,
    allow_redisplay: "unspecified" as const,
    billing_details: {
      address: null,
      email: null,
      name: null,
      phone: null,
      tax_id: null,
      ...billing,
    },
    created: ctx.now(),
    customer: null,
    customer_account: null,
    livemode: ctx.livemode,
    metadata: {},
  };
}

export function insertCardPaymentMethod(
  ctx: Context,
  card: TestCard,
  billing: Partial<Stripe.PaymentMethod.BillingDetails> = {},
  expiry: { month: number; year: number } = { month: 12, year: 2034 },
): PaymentMethodRecord {
  const paymentMethod: Stripe.PaymentMethod = {
    ...basePaymentMethod(ctx, billing),
    type: "card",
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
      country: "US",
      display_brand: card.brand === "amex" ? "american_express" : card.brand,
      exp_month: expiry.month,
      exp_year: expiry.year,
      fingerprint: fingerprintOf(card.number),
      funding: card.funding,
      generated_from: null,
      last4: card.number.slice(-4),
      networks: { available: [card.brand], preferred: null },
      regulated_status: "unregulated",
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
  };
  const record = { paymentMethod, card };
  return ctx.partition.insert(ctx.partition.paymentMethods, paymentMethod.id, record);
}

/** A US bank account, the delayed payment method of the `async_*` Checkout outcomes. */
export function insertBankPaymentMethod(
  ctx: Context,
  billing: Partial<Stripe.PaymentMethod.BillingDetails> = {},
): PaymentMethodRecord {
  const paymentMethod: Stripe.PaymentMethod = {
    ...basePaymentMethod(ctx, billing),
    type: "us_bank_account",
    us_bank_account: {
      account_holder_type: "individual",
      account_type: "checking",
      bank_name: "STRIPE TEST BANK",
      financial_connections_account: null,
      fingerprint: "emulatorbank0001",
      last4: "6789",
      networks: { preferred: "ach", supported: ["ach"] },
      routing_number: "110000000",
      status_details: null,
    },
  };
  const record = { paymentMethod, card: null };
  return ctx.partition.insert(ctx.partition.paymentMethods, paymentMethod.id, record);
}

function fingerprintOf(number: string): string {
  let hash = 0;
  for (const char of number) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `emu${hash.toString(36).padStart(13, "0")}`;
}

/** Attaches a PaymentMethod to a customer; a card the issuer refuses is declined here. */
export function attachPaymentMethod(
  ctx: Context,
  record: PaymentMethodRecord,
  customer: Stripe.Customer,
): void {
  const { paymentMethod } = record;
  if (paymentMethod.customer === customer.id) return;
  if (paymentMethod.customer) {
    throw invalidRequest(
      `The payment method you provided has already been attached to a customer.`,
      "payment_method",
    );
  }
  const decline = record.card ? attachDecline(record.card) : null;
  if (decline) throw cardError(decline);
  paymentMethod.customer = customer.id;
  ctx.emit("payment_method.attached", paymentMethod);
}

/** Makes `paymentMethod` the customer's default for invoices and subscriptions. */
export function setDefaultPaymentMethod(
  ctx: Context,
  customer: Stripe.Customer,
  paymentMethodId: string | null,
): void {
  const before = structuredClone(customer);
  customer.invoice_settings.default_payment_method = paymentMethodId;
  ctx.emitUpdated("customer.updated", before, customer);
}

const CARD_PARAMS: ParamSpec = {
  read: ["cvc", "exp_month", "exp_year", "number"],
  ignored: ["networks", "token"],
};

const BILLING_PARAMS: ParamSpec = {
  read: ["email", "name", "phone"],
  ignored: ["address", "tax_id"],
};

const CREATE_PARAMS: ParamSpec = {
  read: ["metadata", "type"],
  nested: { billing_details: BILLING_PARAMS, card: CARD_PARAMS },
  ignored: ["allow_redisplay", "customer", "payment_method", "radar_options"],
};

/** `type: card` with a test card number: raw card data, as test mode allows. */
function createPaymentMethod(ctx: Context, params: ParamReader) {
  const type = params.string("type");
  if (!type) throw missingParam("type");
  if (type !== "card") {
    throw invalidRequest("The Stripe emulator creates only `card` PaymentMethods.", "type");
  }
  const cardParams = params.object("card");
  if (!cardParams) throw missingParam("card");
  const number = cardParams.requireString("number");
  const card = cardByNumber(number);
  if (!card) {
    throw cardError({
      code: "incorrect_number",
      declineCode: null,
      message: "Your card number is incorrect. Use a test card such as 4242 4242 4242 4242.",
    }, { param: "card[number]" });
  }
  const billing = params.object("billing_details");
  const record = insertCardPaymentMethod(ctx, card, {
    email: billing?.nullableString("email") ?? null,
    name: billing?.nullableString("name") ?? null,
    phone: billing?.nullableString("phone") ?? null,
  }, {
    month: cardParams.requireInteger("exp_month", 1, 12),
    year: cardParams.requireInteger("exp_year", 2000, 2100),
  });
  record.paymentMethod.metadata = params.metadata() ?? {};
  return expand(ctx.partition, record.paymentMethod, params.expand());
}

const ATTACH_PARAMS: ParamSpec = { read: ["customer"], ignored: ["customer_account"] };

function attach(ctx: Context, params: ParamReader, path: PathParams) {
  const customer = findCustomer(ctx, params.requireString("customer"), "customer");
  const record = resolvePaymentMethod(ctx, path.id, "payment_method");
  attachPaymentMethod(ctx, record, customer);
  return expand(ctx.partition, record.paymentMethod, params.expand());
}

/** `POST /v1/payment_methods/{id}/detach`: only `expand`. */
const DETACH_PARAMS: ParamSpec = {};

function detach(ctx: Context, params: ParamReader, path: PathParams) {
  const record = findPaymentMethod(ctx, path.id);
  const customerId = record.paymentMethod.customer;
  if (typeof customerId !== "string") {
    throw invalidRequest(
      `The payment method ${path.id} is not attached to a customer.`,
      "payment_method",
    );
  }
  const customer = ctx.partition.customers.get(customerId);
  if (customer?.invoice_settings.default_payment_method === path.id) {
    setDefaultPaymentMethod(ctx, customer, null);
  }
  record.paymentMethod.customer = null;
  ctx.emit("payment_method.detached", record.paymentMethod, { customer: customerId });
  return expand(ctx.partition, record.paymentMethod, params.expand());
}

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "customer", "type"],
  ignored: ["allow_redisplay", "customer_account"],
};

function listPaymentMethods(ctx: Context, params: ParamReader, path: PathParams) {
  const customer = path.customer ?? params.string("customer");
  if (path.customer) findCustomer(ctx, path.customer);
  const type = params.string("type");
  const methods = [...ctx.partition.paymentMethods.values()]
    .map((record) => record.paymentMethod)
    .filter((method) =>
      (customer === undefined || method.customer === customer) &&
      (type === undefined || method.type === type) &&
      // Stripe lists only saved methods: one-off PaymentMethods of guests stay private.
      method.customer !== null
    );
  const url = path.customer
    ? `/v1/customers/${path.customer}/payment_methods`
    : "/v1/payment_methods";
  return listPage(ctx, params, methods, url);
}

const CUSTOMER_LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "type"],
  ignored: ["allow_redisplay"],
};

export const paymentMethodRoutes = [
  ...collection("/v1/payment_methods", {
    create: [CREATE_PARAMS, createPaymentMethod],
    find: (ctx, id) => findPaymentMethod(ctx, id).paymentMethod,
    actions: { attach: [ATTACH_PARAMS, attach], detach: [DETACH_PARAMS, detach] },
  }),
  endpoint("GET", "/v1/payment_methods", LIST_PARAMS, listPaymentMethods),
  endpoint(
    "GET",
    "/v1/customers/{customer}/payment_methods",
    CUSTOMER_LIST_PARAMS,
    listPaymentMethods,
  ),
];
