/** Products: create, retrieve, update, delete, list. */
import type Stripe from "stripe";
import { unixNow } from "../clock.ts";
import type { Context } from "../context.ts";
import { invalidRequest, noSuch, orNoSuch } from "../errors.ts";
import { expand } from "../expand.ts";
import { PAGINATION, type ParamReader, type ParamSpec } from "../params.ts";
import type { PathParams } from "../router.ts";
import { collection } from "./collection.ts";
import {
  buildPrice,
  buildProduct,
  DEFAULT_PRICE_DATA_PARAMS,
  MARKETING_FEATURE_PARAMS,
  readFeatures,
} from "./catalog.ts";

function findProduct(ctx: Context, id: string, param = "id"): Stripe.Product {
  return orNoSuch(ctx.partition.products.get(id), "product", id, param);
}

/** The product's own fields, which create sets and update changes. */
const PRODUCT_FIELDS = [
  "active",
  "description",
  "images",
  "metadata",
  "name",
  "shippable",
  "statement_descriptor",
  "tax_code",
  "unit_label",
  "url",
];

const CREATE_PARAMS: ParamSpec = {
  read: [...PRODUCT_FIELDS, "id"],
  nested: {
    default_price_data: DEFAULT_PRICE_DATA_PARAMS,
    marketing_features: MARKETING_FEATURE_PARAMS,
  },
  // `features` is the 2023 name of `marketing_features`; `type` is always `service` here.
  ignored: ["features", "package_dimensions", "tax_details", "type"],
};

function createProduct(ctx: Context, params: ParamReader) {
  const product = buildProduct(ctx, params);
  const priceData = params.object("default_price_data");
  const price = priceData ? buildPrice(ctx, priceData, product.id) : undefined;
  if (price) product.default_price = price.id;
  ctx.emit("product.created", product);
  if (price) ctx.emit("price.created", price);
  return expand(ctx.partition, product, params.expand());
}

const UPDATE_PARAMS: ParamSpec = {
  read: [...PRODUCT_FIELDS, "default_price"],
  nested: { marketing_features: MARKETING_FEATURE_PARAMS },
  ignored: ["features", "package_dimensions", "tax_details"],
};

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

/** `DELETE /v1/products/{id}`: no parameters. */
const DELETE_PARAMS: ParamSpec = {};

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

const LIST_PARAMS: ParamSpec = {
  read: [...PAGINATION, "active", "ids", "shippable", "url"],
  ignored: ["created", "type"],
};

function listProducts(ctx: Context, params: ParamReader) {
  const active = params.boolean("active");
  const ids = params.strings("ids");
  const shippable = params.boolean("shippable");
  const url = params.string("url");
  return [...ctx.partition.products.values()].filter((product) =>
    (active === undefined || product.active === active) &&
    (ids === undefined || ids.includes(product.id)) &&
    (shippable === undefined || product.shippable === shippable) &&
    (url === undefined || product.url === url)
  );
}

/** `undefined` keeps the current value; `null` (an empty string in the form) unsets it. */
function optional<T>(value: T | null | undefined, current: T | null): T | null {
  return value === undefined ? current : value;
}

export const productRoutes = collection("/v1/products", {
  create: [CREATE_PARAMS, createProduct],
  list: [LIST_PARAMS, listProducts],
  find: findProduct,
  update: [UPDATE_PARAMS, updateProduct],
  delete: [DELETE_PARAMS, deleteProduct],
});
