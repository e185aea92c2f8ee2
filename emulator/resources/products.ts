/** Products: create, retrieve, update, delete, list. */
import type Stripe from "stripe";
import { unixNow } from "../clock.ts";
import type { Context } from "../context.ts";
import { invalidRequest, noSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { newestFirst, paginate } from "../pagination.ts";
import type { ParamReader } from "../params.ts";
import { type PathParams, route } from "../router.ts";
import { buildPrice, buildProduct, readFeatures } from "./catalog.ts";

function findProduct(ctx: Context, id: string, param = "id"): Stripe.Product {
  const product = ctx.partition.products.get(id);
  if (!product) throw noSuch("product", id, param);
  return product;
}

function createProduct(ctx: Context, params: ParamReader) {
  const product = buildProduct(ctx, params);
  const priceData = params.object("default_price_data");
  const price = priceData ? buildPrice(ctx, priceData, product.id) : undefined;
  if (price) product.default_price = price.id;
  ctx.emit("product.created", product);
  if (price) ctx.emit("price.created", price);
  return expand(ctx.partition, product, params.expand());
}

function retrieveProduct(ctx: Context, params: ParamReader, path: PathParams) {
  return expand(ctx.partition, findProduct(ctx, path.id), params.expand());
}

function updateProduct(ctx: Context, params: ParamReader, path: PathParams) {
  const product = findProduct(ctx, path.id);
  const before = structuredClone(product);
  const name = params.string("name");
  if (name !== undefined) product.name = params.requireString("name");
  product.active = params.boolean("active") ?? product.active;
  product.description = optional(params.nullableString("description"), product.description);
  product.images = params.strings("images") ?? product.images;
  product.marketing_features = readFeatures(params) ?? product.marketing_features;
  product.metadata = params.metadata(product.metadata) ?? product.metadata;
  product.shippable = params.boolean("shippable") ?? product.shippable;
  product.statement_descriptor = optional(
    params.nullableString("statement_descriptor"),
    product.statement_descriptor ?? null,
  );
  product.tax_code = optional(params.nullableString("tax_code"), product.tax_code ?? null);
  product.unit_label = optional(params.nullableString("unit_label"), product.unit_label ?? null);
  product.url = optional(params.nullableString("url"), product.url);
  const defaultPrice = params.nullableString("default_price");
  if (defaultPrice) {
    const price = ctx.partition.prices.get(defaultPrice);
    if (!price || price.product !== product.id) {
      throw noSuch("price", defaultPrice, "default_price");
    }
  }
  product.default_price = optional(defaultPrice, product.default_price ?? null);
  product.updated = unixNow();
  ctx.emitUpdated("product.updated", before, product);
  return expand(ctx.partition, product, params.expand());
}

function deleteProduct(ctx: Context, _params: ParamReader, path: PathParams) {
  const product = findProduct(ctx, path.id);
  const hasPrices = [...ctx.partition.prices.values()].some((price) =>
    price.product === product.id
  );
  if (hasPrices) {
    throw invalidRequest(
      "This product cannot be deleted because it has one or more user-created prices.",
    );
  }
  ctx.partition.products.delete(product.id);
  ctx.emit("product.deleted", product);
  return { id: product.id, object: "product", deleted: true };
}

function listProducts(ctx: Context, params: ParamReader) {
  const active = params.boolean("active");
  const ids = params.strings("ids");
  const shippable = params.boolean("shippable");
  const url = params.string("url");
  const products = [...ctx.partition.products.values()].filter((product) =>
    (active === undefined || product.active === active) &&
    (ids === undefined || ids.includes(product.id)) &&
    (shippable === undefined || product.shippable === shippable) &&
    (url === undefined || product.url === url)
  );
  const list = paginate(products, params, "/v1/products", newestFirst(ctx.partition));
  return expand(ctx.partition, list, params.expand());
}

/** `undefined` keeps the current value; `null` (an empty string in the form) unsets it. */
function optional<T>(value: T | null | undefined, current: T | null): T | null {
  return value === undefined ? current : value;
}

export const productRoutes = [
  route("POST", "/v1/products", createProduct),
  route("GET", "/v1/products", listProducts),
  route("GET", "/v1/products/{id}", retrieveProduct),
  route("POST", "/v1/products/{id}", updateProduct),
  route("DELETE", "/v1/products/{id}", deleteProduct),
];
