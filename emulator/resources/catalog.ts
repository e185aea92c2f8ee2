/**
 * Building products and prices. Shared by the products and prices endpoints (which create each
 * other through `default_price_data` and `product_data`) and by Checkout's inline `price_data`.
 */
import type Stripe from "stripe";
import { unixNow } from "../clock.ts";
import type { Context } from "../context.ts";
import { invalidRequest, missingParam, noSuch } from "../errors.ts";
import { newId } from "../ids.ts";
import type { ParamReader, ParamSpec } from "../params.ts";

const INTERVALS = ["day", "week", "month", "year"] as const;
const TAX_BEHAVIORS = ["exclusive", "inclusive", "unspecified"] as const;

/** `recurring` in inline price data (`default_price_data`, Checkout's `price_data`). */
export const INLINE_RECURRING_PARAMS: ParamSpec = { read: ["interval", "interval_count"] };

/** `default_price_data` on `POST /v1/products`. */
export const DEFAULT_PRICE_DATA_PARAMS: ParamSpec = {
  read: ["currency", "metadata", "tax_behavior", "unit_amount", "unit_amount_decimal"],
  nested: { recurring: INLINE_RECURRING_PARAMS },
  ignored: ["currency_options", "custom_unit_amount"],
};

/** `marketing_features[i]` on product create and update. */
export const MARKETING_FEATURE_PARAMS: { each: ParamSpec } = { each: { read: ["name"] } };

export function buildProduct(ctx: Context, params: ParamReader): Stripe.Product {
  const id = params.string("id") || newId("prod", 14);
  if (ctx.partition.products.has(id)) {
    throw invalidRequest(`Product already exists.`, "id", "resource_already_exists");
  }
  const now = unixNow();
  const product: Stripe.Product = {
    id,
    object: "product",
    active: params.boolean("active") ?? true,
    created: now,
    default_price: null,
    description: params.nullableString("description") ?? null,
    images: params.strings("images") ?? [],
    livemode: ctx.livemode,
    marketing_features: readFeatures(params) ?? [],
    metadata: params.metadata() ?? {},
    name: params.requireString("name"),
    package_dimensions: null,
    shippable: params.boolean("shippable") ?? null,
    statement_descriptor: params.nullableString("statement_descriptor") ?? null,
    tax_code: params.nullableString("tax_code") ?? null,
    tax_details: null,
    type: "service",
    unit_label: params.nullableString("unit_label") ?? null,
    updated: now,
    url: params.nullableString("url") ?? null,
  };
  return ctx.partition.insert(ctx.partition.products, id, product);
}

export function readFeatures(params: ParamReader): Stripe.Product.MarketingFeature[] | undefined {
  return params.objects("marketing_features")?.map((feature) => ({
    name: feature.requireString("name"),
  }));
}

/**
 * Builds a price for `productId` from `unit_amount`, `currency`, `recurring` ... Used with the
 * price's own parameters and with `default_price_data` / `price_data` hashes.
 */
export function buildPrice(ctx: Context, params: ParamReader, productId: string): Stripe.Price {
  const currency = params.requireString("currency").toLowerCase();
  const { unitAmount, unitAmountDecimal } = readUnitAmount(params);
  const recurring = readRecurring(params);
  const product = ctx.partition.products.get(productId);
  if (!product) throw noSuch("product", productId, params.name("product"));
  const lookupKey = params.nullableString("lookup_key") ?? null;
  if (lookupKey) claimLookupKey(ctx, lookupKey, params.boolean("transfer_lookup_key") ?? false);

  const price: Stripe.Price = {
    id: newId("price"),
    object: "price",
    active: params.boolean("active") ?? true,
    billing_scheme: "per_unit",
    created: unixNow(),
    currency,
    custom_unit_amount: null,
    livemode: ctx.livemode,
    lookup_key: lookupKey,
    metadata: params.metadata() ?? {},
    nickname: params.nullableString("nickname") ?? null,
    product: product.id,
    recurring,
    tax_behavior: params.oneOf("tax_behavior", TAX_BEHAVIORS) ?? "unspecified",
    tiers_mode: null,
    transform_quantity: null,
    type: recurring ? "recurring" : "one_time",
    unit_amount: unitAmount,
    unit_amount_decimal: wireDecimal(unitAmountDecimal),
  };
  return ctx.partition.insert(ctx.partition.prices, price.id, price);
}

/**
 * A lookup key names one price per account: reusing it fails unless `transfer_lookup_key`
 * moves it from the price that holds it (which then emits `price.updated`).
 */
export function claimLookupKey(ctx: Context, lookupKey: string, transfer: boolean): void {
  for (const holder of ctx.partition.prices.values()) {
    if (holder.lookup_key !== lookupKey) continue;
    if (!transfer) {
      throw invalidRequest(
        `A price (\`${holder.id}\`) already uses that lookup key.`,
        "lookup_key",
      );
    }
    const before = structuredClone(holder);
    holder.lookup_key = null;
    ctx.emitUpdated("price.updated", before, holder);
  }
}

function readUnitAmount(params: ParamReader) {
  const unitAmount = params.integer("unit_amount", 0);
  const decimal = params.string("unit_amount_decimal");
  if (unitAmount !== undefined && decimal !== undefined) {
    throw invalidRequest(
      "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
      params.name("unit_amount"),
      "parameters_exclusive",
    );
  }
  if (unitAmount !== undefined) return { unitAmount, unitAmountDecimal: String(unitAmount) };
  if (decimal !== undefined) {
    if (!/^\d+(\.\d{1,12})?$/.test(decimal)) {
      throw invalidRequest(`Invalid decimal: ${decimal}`, params.name("unit_amount_decimal"));
    }
    const whole = Number(decimal);
    return {
      unitAmount: Number.isInteger(whole) ? whole : null,
      unitAmountDecimal: decimal,
    };
  }
  throw missingParam(params.name("unit_amount"));
}

function readRecurring(params: ParamReader): Stripe.Price.Recurring | null {
  const recurring = params.object("recurring");
  if (!recurring) return null;
  const interval = recurring.oneOf("interval", INTERVALS);
  if (!interval) throw missingParam(recurring.name("interval"));
  return {
    interval,
    interval_count: recurring.integer("interval_count", 1) ?? 1,
    meter: null,
    trial_period_days: recurring.integer("trial_period_days", 0) ?? null,
    usage_type: "licensed",
  };
}

/** What one unit of a price costs, for totals; decimal amounts are rounded to whole cents. */
export function unitAmountOf(price: Stripe.Price): number {
  return price.unit_amount ?? Math.round(Number(price.unit_amount_decimal ?? 0));
}

type Decimal = NonNullable<Stripe.Price["unit_amount_decimal"]>;

/** The SDK types decimal fields as its `Decimal` class; on the wire they are plain strings. */
export function wireDecimal(value: string): Decimal {
  return value as unknown as Decimal;
}
