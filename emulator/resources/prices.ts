/** Prices: create, retrieve, update, list (`active`, `currency`, `product`, `type`, `lookup_keys`). */
import type Stripe from "stripe";
import type { Context } from "../context.ts";
import { missingParam, noSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newestFirst, paginate } from "../pagination.ts";
import type { ParamReader } from "../params.ts";
import { type PathParams, route } from "../router.ts";
import { buildPrice, buildProduct, claimLookupKey } from "./catalog.ts";

export function findPrice(ctx: Context, id: string, param = "id"): Stripe.Price {
  const price = ctx.partition.prices.get(id);
  if (!price) throw noSuch("price", id, param);
  return price;
}

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

function retrievePrice(ctx: Context, params: ParamReader, path: PathParams) {
  return expand(ctx.partition, findPrice(ctx, path.id), params.expand());
}

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

function listPrices(ctx: Context, params: ParamReader) {
  const active = params.boolean("active");
  const currency = params.string("currency")?.toLowerCase();
  const product = params.string("product");
  const type = params.oneOf("type", ["one_time", "recurring"] as const);
  const lookupKeys = params.strings("lookup_keys");
  const prices = [...ctx.partition.prices.values()].filter((price) =>
    (active === undefined || price.active === active) &&
    (currency === undefined || price.currency === currency) &&
    (product === undefined || price.product === product) &&
    (type === undefined || price.type === type) &&
    (lookupKeys === undefined || lookupKeys.includes(price.lookup_key ?? ""))
  );
  const list = paginate(prices, params, "/v1/prices", newestFirst(ctx.partition));
  return expand(ctx.partition, list, params.expand());
}

export const priceRoutes = [
  route("POST", "/v1/prices", createPrice),
  route("GET", "/v1/prices", listPrices),
  route("GET", "/v1/prices/{id}", retrievePrice),
  route("POST", "/v1/prices/{id}", updatePrice),
];
