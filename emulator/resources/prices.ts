/** Prices: create, retrieve, update, list (`active`, `currency`, `product`, `type`, `lookup_keys`). */
import type Stripe from "stripe";
import type { Context } from "../context.ts";
import { missingParam, orNoSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import type { PathParams } from "../router.ts";
import { collection } from "./collection.ts";
import { buildPrice, buildProduct, claimLookupKey } from "./catalog.ts";

export function findPrice(ctx: Context, id: string, param = "id"): Stripe.Price {
  return orNoSuch(ctx.partition.prices.get(id), "price", id, param);
}

const CREATE_PARAMS: ParamSpec = {
  read: [
    "active",
    "currency",
    "lookup_key",
    "metadata",
    "nickname",
    "product",
    "tax_behavior",
    "transfer_lookup_key",
    "unit_amount",
    "unit_amount_decimal",
  ],
  nested: {
    product_data: {
      read: [
        "active",
        "id",
        "metadata",
        "name",
        "statement_descriptor",
        "tax_code",
        "unit_label",
      ],
      ignored: ["tax_details"],
    },
    recurring: {
      read: ["interval", "interval_count", "trial_period_days"],
      // Every price is `licensed`: no metered usage.
      ignored: ["aggregate_usage", "meter", "usage_type"],
    },
  },
  // Only `per_unit` prices in one currency.
  ignored: [
    "billing_scheme",
    "currency_options",
    "custom_unit_amount",
    "tiers",
    "tiers_mode",
    "transform_quantity",
  ],
};

function createPrice(ctx: Context, params: ParamReader) {
  const productData = params.object("product_data");
  const productId = params.string("product");
  if (!productId && !productData) throw missingParam("product");
  const product = productData ? buildProduct(ctx, productData) : undefined;
  const price = buildPrice(ctx, params, product?.id ?? productId ?? "");
  if (product) ctx.emit("product.created", product);
  ctx.emit("price.created", price);
  return expand(ctx.partition, price, params.expand());
}

const UPDATE_PARAMS: ParamSpec = {
  read: ["active", "lookup_key", "metadata", "nickname", "tax_behavior", "transfer_lookup_key"],
  ignored: ["currency_options"],
};

function updatePrice(ctx: Context, params: ParamReader, path: PathParams) {
  const price = findPrice(ctx, path.id);
  const before = structuredClone(price);
  const lookupKey = params.nullableString("lookup_key");
  if (lookupKey && lookupKey !== price.lookup_key) {
    claimLookupKey(ctx, lookupKey, params.boolean("transfer_lookup_key") ?? false);
  }
  if (lookupKey !== undefined) price.lookup_key = lookupKey;
  price.active = params.boolean("active") ?? price.active;
  price.metadata = params.metadata(price.metadata) ?? price.metadata;
  const nickname = params.nullableString("nickname");
  if (nickname !== undefined) price.nickname = nickname;
  price.tax_behavior =
    params.oneOf("tax_behavior", ["exclusive", "inclusive", "unspecified"] as const) ??
      price.tax_behavior;
  ctx.emitUpdated("price.updated", before, price);
  return expand(ctx.partition, price, params.expand());
}

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "active", "currency", "lookup_keys", "product", "type"],
  ignored: ["created", "recurring"],
};

function listPrices(ctx: Context, params: ParamReader) {
  const active = params.boolean("active");
  const currency = params.string("currency")?.toLowerCase();
  const product = params.string("product");
  const type = params.oneOf("type", ["one_time", "recurring"] as const);
  const lookupKeys = params.strings("lookup_keys");
  return [...ctx.partition.prices.values()].filter((price) =>
    (active === undefined || price.active === active) &&
    (currency === undefined || price.currency === currency) &&
    (product === undefined || price.product === product) &&
    (type === undefined || price.type === type) &&
    (lookupKeys === undefined || lookupKeys.includes(price.lookup_key ?? ""))
  );
}

export const priceRoutes = collection("/v1/prices", {
  create: [CREATE_PARAMS, createPrice],
  list: [LIST_PARAMS, listPrices],
  find: findPrice,
  update: [UPDATE_PARAMS, updatePrice],
});
