/** Customers: create, retrieve, update, delete, list (`email`). */
import type Stripe from "stripe";
import { unixNow } from "../clock.ts";
import type { Context } from "../context.ts";
import { noSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newId, randomToken } from "../ids.ts";
import { newestFirst, paginate } from "../pagination.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import { endpoint, type PathParams } from "../router.ts";
import { cancelSubscriptionNow } from "./subscriptions.ts";

export interface CustomerInput {
  email: string | null;
  name: string | null;
  phone: string | null;
  description: string | null;
  metadata: Stripe.Metadata;
  address?: Stripe.Address | null;
  preferredLocales?: string[];
}

export function findCustomer(ctx: Context, id: string, param = "id"): Stripe.Customer {
  const customer = ctx.partition.customers.get(id);
  if (!customer) throw noSuch("customer", id, param);
  return customer;
}

/** Stores a new customer; the caller emits `customer.created` (Checkout does, for new buyers). */
export function insertCustomer(ctx: Context, input: CustomerInput): Stripe.Customer {
  const customer: Stripe.Customer = {
    id: newId("cus", 14),
    object: "customer",
    address: input.address ?? null,
    balance: 0,
    created: unixNow(),
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
    test_clock: null,
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
  "invoice_settings",
  "next_invoice_sequence",
  "promotion_code",
  "shipping",
  "source",
  "tax",
  "tax_exempt",
  "validate",
];

const CREATE_PARAMS: ParamSpec = {
  read: ["description", "email", "metadata", "name", "phone", "preferred_locales"],
  nested: { address: ADDRESS_PARAMS },
  ignored: [...IGNORED_CUSTOMER_PARAMS, "payment_method", "tax_id_data", "test_clock"],
};

function createCustomer(ctx: Context, params: ParamReader) {
  const customer = insertCustomer(ctx, {
    email: params.nullableString("email") ?? null,
    name: params.nullableString("name") ?? null,
    phone: params.nullableString("phone") ?? null,
    description: params.nullableString("description") ?? null,
    metadata: params.metadata() ?? {},
    address: readAddress(params),
    preferredLocales: params.strings("preferred_locales"),
  });
  ctx.emit("customer.created", customer);
  return expand(ctx.partition, customer, params.expand());
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
  nested: { address: ADDRESS_PARAMS },
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
  read: [...PAGINATION, "email"],
  ignored: ["created", "test_clock"],
};

function listCustomers(ctx: Context, params: ParamReader) {
  const email = params.string("email");
  const customers = [...ctx.partition.customers.values()].filter((customer) =>
    email === undefined || customer.email === email
  );
  const list = paginate(customers, params, "/v1/customers", newestFirst(ctx.partition));
  return expand(ctx.partition, list, params.expand());
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

export const customerRoutes = [
  endpoint("POST", "/v1/customers", CREATE_PARAMS, createCustomer),
  endpoint("GET", "/v1/customers", LIST_PARAMS, listCustomers),
  endpoint("GET", "/v1/customers/{id}", RETRIEVE_PARAMS, retrieveCustomer),
  endpoint("POST", "/v1/customers/{id}", UPDATE_PARAMS, updateCustomer),
  endpoint("DELETE", "/v1/customers/{id}", DELETE_PARAMS, deleteCustomer),
];
