/** Customers: create, retrieve, update, delete, list (`email`). */
import type Stripe from "stripe";
import { unixNow } from "../clock.ts";
import type { Context } from "../context.ts";
import { noSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newId, randomToken } from "../ids.ts";
import { newestFirst, paginate } from "../pagination.ts";
import type { ParamReader } from "../params.ts";
import { type PathParams, route } from "../router.ts";
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

function retrieveCustomer(ctx: Context, params: ParamReader, path: PathParams) {
  const deleted = ctx.partition.deletedCustomers.get(path.id);
  if (deleted) return deleted;
  return expand(ctx.partition, findCustomer(ctx, path.id), params.expand());
}

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
  route("POST", "/v1/customers", createCustomer),
  route("GET", "/v1/customers", listCustomers),
  route("GET", "/v1/customers/{id}", retrieveCustomer),
  route("POST", "/v1/customers/{id}", updateCustomer),
  route("DELETE", "/v1/customers/{id}", deleteCustomer),
];
