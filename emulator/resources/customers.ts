/** Customers: create, retrieve, update, delete, list (`email`). */
import type Stripe from "stripe";
import type { Context } from "../context.ts";
import { attachDecline } from "../cards.ts";
import { invalidRequest, orNoSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newId, randomToken } from "../ids.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import type { PathParams } from "../router.ts";
import { collection, whereEqual } from "./collection.ts";
import {
  attachPaymentMethod,
  cardError,
  findPaymentMethod,
  resolvePaymentMethod,
} from "./payment_methods.ts";
import { cancelSubscriptionNow } from "./subscriptions.ts";
import { findTestClock } from "./test_clocks.ts";

export interface CustomerInput {
  email: string | null;
  name: string | null;
  phone: string | null;
  description: string | null;
  metadata: Stripe.Metadata;
  address?: Stripe.Address | null;
  preferredLocales?: string[];
  testClock?: string | null;
}

export function findCustomer(ctx: Context, id: string, param = "id"): Stripe.Customer {
  return orNoSuch(ctx.partition.customers.get(id), "customer", id, param);
}

/** Stores a new customer; the caller emits `customer.created` (Checkout does, for new buyers). */
export function insertCustomer(ctx: Context, input: CustomerInput): Stripe.Customer {
  const customer: Stripe.Customer = {
    id: newId("cus", 14),
    object: "customer",
    address: input.address ?? null,
    balance: 0,
    created: ctx.now(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: input.description,
    discount: null,
    email: input.email,
    invoice_prefix: randomToken(8).toUpperCase(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: ctx.livemode,
    metadata: input.metadata,
    name: input.name,
    next_invoice_sequence: 1,
    phone: input.phone,
    preferred_locales: input.preferredLocales ?? [],
    shipping: null,
    tax_exempt: "none",
    test_clock: input.testClock ?? null,
  };
  return ctx.partition.insert(ctx.partition.customers, customer.id, customer);
}

const ADDRESS_PARAMS: ParamSpec = {
  read: ["city", "country", "line1", "line2", "postal_code", "state"],
};

/** Not emulated on create and update alike: balances, invoicing, payment sources, taxes. */
const IGNORED_CUSTOMER_PARAMS = [
  "balance",
  "business_name",
  "cash_balance",
  "coupon",
  "individual_name",
  "invoice_prefix",
  "next_invoice_sequence",
  "promotion_code",
  "shipping",
  "source",
  "tax",
  "tax_exempt",
  "validate",
];

/** `invoice_settings[default_payment_method]`: the card invoices and subscriptions charge. */
const INVOICE_SETTINGS_PARAMS: ParamSpec = {
  read: ["default_payment_method"],
  ignored: ["custom_fields", "footer", "rendering_options"],
};

const CREATE_PARAMS: ParamSpec = {
  read: [
    "description",
    "email",
    "metadata",
    "name",
    "payment_method",
    "phone",
    "preferred_locales",
    "test_clock",
  ],
  nested: { address: ADDRESS_PARAMS, invoice_settings: INVOICE_SETTINGS_PARAMS },
  ignored: [...IGNORED_CUSTOMER_PARAMS, "tax_id_data"],
};

function createCustomer(ctx: Context, params: ParamReader) {
  const clockId = params.nullableString("test_clock") ?? null;
  const clock = clockId ? findTestClock(ctx, clockId, "test_clock") : undefined;
  const methodId = params.nullableString("payment_method");
  const method = methodId ? resolvePaymentMethod(ctx, methodId, "payment_method") : undefined;
  // A card the issuer refuses fails the whole request, before anything exists.
  const decline = method?.card ? attachDecline(method.card) : null;
  if (decline) throw cardError(decline, { param: "payment_method" });
  const defaultId = params.object("invoice_settings")?.nullableString("default_payment_method");
  const param = "invoice_settings[default_payment_method]";
  if (defaultId && defaultId !== methodId && defaultId !== method?.paymentMethod.id) {
    throw invalidRequest(
      `No such PaymentMethod: '${defaultId}'; a new customer's default must be the ` +
        `\`payment_method\` attached with it.`,
      param,
    );
  }
  return ctx.atTime(clock?.frozen_time ?? null, () => {
    const customer = insertCustomer(ctx, {
      email: params.nullableString("email") ?? null,
      name: params.nullableString("name") ?? null,
      phone: params.nullableString("phone") ?? null,
      description: params.nullableString("description") ?? null,
      metadata: params.metadata() ?? {},
      address: readAddress(params),
      preferredLocales: params.strings("preferred_locales"),
      testClock: clock?.id ?? null,
    });
    if (defaultId && method) {
      customer.invoice_settings.default_payment_method = method.paymentMethod.id;
    }
    ctx.emit("customer.created", customer);
    if (method) attachPaymentMethod(ctx, method, customer);
    return expand(ctx.partition, customer, params.expand());
  });
}

/** A PaymentMethod saved on the customer, for `invoice_settings[default_payment_method]`. */
function savedMethod(ctx: Context, customer: Stripe.Customer, id: string): string {
  const param = "invoice_settings[default_payment_method]";
  const record = findPaymentMethod(ctx, id, param);
  if (record.paymentMethod.customer !== customer.id) {
    throw invalidRequest(
      `The customer does not have a payment method with the ID ${id}. The payment method ` +
        `must be attached to the customer.`,
      param,
    );
  }
  return record.paymentMethod.id;
}

/** `GET /v1/customers/{id}`: only `expand`. */
const RETRIEVE_PARAMS: ParamSpec = {};

function retrieveCustomer(ctx: Context, params: ParamReader, path: PathParams) {
  const deleted = ctx.partition.deletedCustomers.get(path.id);
  if (deleted) return deleted;
  return expand(ctx.partition, findCustomer(ctx, path.id), params.expand());
}

const UPDATE_PARAMS: ParamSpec = {
  read: ["description", "email", "metadata", "name", "phone", "preferred_locales"],
  nested: { address: ADDRESS_PARAMS, invoice_settings: INVOICE_SETTINGS_PARAMS },
  ignored: [
    ...IGNORED_CUSTOMER_PARAMS,
    "bank_account",
    "card",
    "default_alipay_account",
    "default_bank_account",
    "default_card",
    "default_source",
  ],
};

function updateCustomer(ctx: Context, params: ParamReader, path: PathParams) {
  const customer = findCustomer(ctx, path.id);
  const before = structuredClone(customer);
  for (const field of ["email", "name", "phone", "description"] as const) {
    const value = params.nullableString(field);
    if (value !== undefined) customer[field] = value;
  }
  customer.metadata = params.metadata(customer.metadata) ?? customer.metadata;
  customer.address = readAddress(params) ?? customer.address;
  customer.preferred_locales = params.strings("preferred_locales") ?? customer.preferred_locales;
  const defaultId = params.object("invoice_settings")?.nullableString("default_payment_method");
  if (defaultId !== undefined) {
    customer.invoice_settings.default_payment_method = defaultId === null
      ? null
      : savedMethod(ctx, customer, defaultId);
  }
  ctx.emitUpdated("customer.updated", before, customer);
  return expand(ctx.partition, customer, params.expand());
}

/** `DELETE /v1/customers/{id}`: no parameters. */
const DELETE_PARAMS: ParamSpec = {};

/** Deleting a customer cancels their subscriptions first, as Stripe does. */
function deleteCustomer(ctx: Context, _params: ParamReader, path: PathParams) {
  const customer = findCustomer(ctx, path.id);
  for (const subscription of ctx.partition.subscriptions.values()) {
    if (subscription.customer === customer.id && subscription.status !== "canceled") {
      cancelSubscriptionNow(ctx, subscription);
    }
  }
  ctx.partition.customers.delete(customer.id);
  const deleted: Stripe.DeletedCustomer = { id: customer.id, object: "customer", deleted: true };
  ctx.partition.deletedCustomers.set(customer.id, deleted);
  ctx.emit("customer.deleted", customer);
  return deleted;
}

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "email", "test_clock"],
  ignored: ["created"],
};

function listCustomers(ctx: Context, params: ParamReader) {
  return whereEqual(ctx.partition.customers.values(), params, ["email", "test_clock"]);
}

function readAddress(params: ParamReader): Stripe.Address | undefined {
  const address = params.object("address");
  if (!address) return undefined;
  return {
    city: address.nullableString("city") ?? null,
    country: address.nullableString("country") ?? null,
    line1: address.nullableString("line1") ?? null,
    line2: address.nullableString("line2") ?? null,
    postal_code: address.nullableString("postal_code") ?? null,
    state: address.nullableString("state") ?? null,
  };
}

export const customerRoutes = collection("/v1/customers", {
  create: [CREATE_PARAMS, createCustomer],
  list: [LIST_PARAMS, listCustomers],
  retrieve: [RETRIEVE_PARAMS, retrieveCustomer],
  update: [UPDATE_PARAMS, updateCustomer],
  delete: [DELETE_PARAMS, deleteCustomer],
});
