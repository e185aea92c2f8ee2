// Catalog management through Stripe: create and edit products and prices with camelCase bodies,
// then mirror Stripe's answer at once. The webhook for the same change arrives later and passes
// the same stale gate, so whichever state is newer stays. A create may carry the caller's
// Idempotency-Key, so that a double submit or a retried command makes one object.
import { mapDatabaseErrors } from "./db.ts";
import type { OperatorRoute } from "./deps.ts";
import { type FieldError, json, PaymentsError, validationError } from "./errors.ts";
import {
  type Environment,
  type Stripe,
  stripeFailure,
  stripeFor,
  withinStripeBudget,
} from "./stripe.ts";
import { readJson } from "./body.ts";
import type { Price, PriceInput, Product, ProductInput, Recurring } from "./wire.ts";

type Body = Record<string, unknown>;

const PRODUCT_FIELDS = ["name", "description", "active", "metadata"];
const PRICE_CREATE_FIELDS = [
  "productId",
  "currency",
  "unitAmount",
  "recurring",
  "nickname",
  "lookupKey",
  "active",
  "metadata",
];
const PRICE_UPDATE_FIELDS = ["nickname", "lookupKey", "active", "metadata"];
const INTERVALS = ["day", "week", "month", "year"];

/** What differs between the catalog's kinds of object; catalogRoute does the rest. */
interface CatalogKind<Input, Object> {
  name: "product" | "price";
  input(body: Body, creating: boolean): Input;
  // The Stripe client leaves out parameters that are undefined: only what the operator gave is
  // sent.
  create(stripe: Stripe, input: Input, options: Stripe.RequestOptions): Promise<Object>;
  update(stripe: Stripe, id: string, input: Input): Promise<Object>;
  wire(object: Object): unknown;
}

const PRODUCTS: CatalogKind<ProductInput, Stripe.Product> = {
  name: "product",
  input: productInput,
  create: (stripe, input, options) =>
    stripe.products.create({
      name: input.name!,
      description: input.description || undefined,
      active: input.active,
      metadata: input.metadata,
    }, options),
  update: (stripe, id, input) =>
    stripe.products.update(id, {
      name: input.name,
      description: cleared(input.description),
      active: input.active,
      metadata: input.metadata,
    }),
  wire: productFromStripe,
};

const PRICES: CatalogKind<PriceInput, Stripe.Price> = {
  name: "price",
  input: priceInput,
  create: (stripe, input, options) =>
    stripe.prices.create({
      product: input.productId!,
      currency: input.currency!,
      unit_amount: input.unitAmount!,
      recurring: input.recurring
        ? { interval: input.recurring.interval, interval_count: input.recurring.intervalCount ?? 1 }
        : undefined,
      nickname: input.nickname || undefined,
      lookup_key: input.lookupKey || undefined,
      active: input.active,
      metadata: input.metadata,
    }, options),
  update: (stripe, id, input) =>
    stripe.prices.update(id, {
      nickname: cleared(input.nickname),
      lookup_key: cleared(input.lookupKey),
      // A lookup key held by another price moves to this one, as the operator asked for it here.
      transfer_lookup_key: input.lookupKey === undefined ? undefined : input.lookupKey !== null,
      active: input.active,
      metadata: input.metadata,
    }),
  wire: priceFromStripe,
};

/**
 * POST (create) or PATCH (update the object the path names) of one kind: the body checked, the
 * change made in Stripe, then Stripe's answer written through the sync path (same projection and
 * stale gate as webhooks) so that the lists show it at once, and returned in wire shape.
 */
function catalogRoute<Input, Object extends Stripe.Product | Stripe.Price>(
  kind: CatalogKind<Input, Object>,
  creating: boolean,
): OperatorRoute {
  return async (deps, request, environment, id) => {
    const key = creating ? await stripeKey(request, environment, kind.name) : undefined;
    const input = kind.input(await readJson(request), creating);
    const stripe = await stripeFor(deps, environment);
    const object = await callCatalog(
      creating ? `create the ${kind.name}` : `update ${kind.name} ${id}`,
      () =>
        creating
          ? kind.create(stripe, input, { idempotencyKey: key })
          : kind.update(stripe, id, input),
    );
    await mapDatabaseErrors(deps.sql`
      select payments.upsert_stripe_objects(${environment}, ${kind.name}, ${
      deps.sql.json([object] as never)
    })`);
    return json(creating ? 201 : 200, { [kind.name]: kind.wire(object) });
  };
}

export const createProduct = catalogRoute(PRODUCTS, true);
export const updateProduct = catalogRoute(PRODUCTS, false);
export const createPrice = catalogRoute(PRICES, true);
export const updatePrice = catalogRoute(PRICES, false);

/**
 * The caller's Idempotency-Key (Stripe's rule: 1 to 255 printable ASCII characters) as the key of
 * the Stripe call, scoped to the environment and the kind so that one caller key cannot meet
 * another route's; hashed, so the scoped key stays within Stripe's 255 characters. Without one,
 * the SDK makes a key per call, which covers only its own retries.
 */
async function stripeKey(
  request: Request,
  environment: Environment,
  kind: string,
): Promise<string | undefined> {
  const key = request.headers.get("idempotency-key");
  if (key === null) return undefined;
  if (!/^[\x20-\x7e]{1,255}$/.test(key)) {
    throw validationError([
      { field: "Idempotency-Key", message: "must be 1 to 255 printable ASCII characters" },
    ]);
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  const hex = Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0"));
  return `pgpayments-${environment}-${kind}-${hex.join("")}`;
}

/** A text field to update: null (clear it) becomes the empty string, which Stripe clears. */
function cleared(value: string | null | undefined): string | undefined {
  return value === null ? "" : value;
}

/** Stripe's refusals keep their meaning: an unknown id is a 404, a refused parameter a 400. */
async function callCatalog<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await withinStripeBudget(call);
  } catch (error) {
    const failure = stripeFailure(error, doing);
    const status = (failure.details as { statusCode?: number } | undefined)?.statusCode;
    if (status === 404) {
      throw new PaymentsError(404, "not_found", failure.message, {
        details: failure.details,
        cause: error,
      });
    }
    if (status === 400) {
      throw new PaymentsError(400, "validation_failed", failure.message, {
        details: failure.details,
        cause: error,
      });
    }
    throw failure;
  }
}

export function productFromStripe(product: Stripe.Product): Product {
  return {
    productId: product.id,
    name: product.name,
    description: product.description ?? null,
    active: product.active,
    defaultPriceId: typeof product.default_price === "string"
      ? product.default_price
      : product.default_price?.id ?? null,
    metadata: product.metadata ?? {},
  };
}

export function priceFromStripe(price: Stripe.Price): Price {
  return {
    priceId: price.id,
    productId: typeof price.product === "string" ? price.product : price.product.id,
    currency: price.currency,
    unitAmount: price.unit_amount,
    type: price.type as Price["type"],
    recurring: price.recurring
      ? {
        interval: price.recurring.interval as Recurring["interval"],
        intervalCount: price.recurring.interval_count,
      }
      : null,
    lookupKey: price.lookup_key ?? null,
    nickname: price.nickname ?? null,
    active: price.active,
    metadata: price.metadata ?? {},
  };
}

// ---------------------------------------------------------------------------------------------
// Request bodies

function unknownFields(body: Body, allowed: string[], errors: FieldError[], hint: string): void {
  for (const field of Object.keys(body)) {
    if (!allowed.includes(field)) errors.push({ field, message: `is not accepted; ${hint}` });
  }
}

function optionalText(
  body: Body,
  field: string,
  errors: FieldError[],
  max: number,
  nullable = true,
): string | null | undefined {
  const value = body[field];
  if (value === undefined || (value === null && nullable)) return value as null | undefined;
  if (typeof value !== "string" || value.length > max) {
    errors.push({ field, message: `must be a string of at most ${max} characters` });
    return undefined;
  }
  return value;
}

function optionalBoolean(body: Body, field: string, errors: FieldError[]): boolean | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") errors.push({ field, message: "must be true or false" });
  return typeof value === "boolean" ? value : undefined;
}

/** Stripe's limits: 50 keys of at most 40 characters, string values of at most 500. */
function metadata(body: Body, errors: FieldError[]): Record<string, string> | undefined {
  const value = body.metadata;
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    errors.push({ field: "metadata", message: "must be an object of string values" });
    return undefined;
  }
  const entries = Object.entries(value);
  if (entries.length > 50) errors.push({ field: "metadata", message: "has more than 50 keys" });
  for (const [key, item] of entries) {
    if (key.length === 0 || key.length > 40) {
      errors.push({ field: `metadata.${key}`, message: "keys must have 1 to 40 characters" });
    } else if (typeof item !== "string" || item.length > 500) {
      errors.push({
        field: `metadata.${key}`,
        message: "must be a string of at most 500 characters",
      });
    }
  }
  return value as Record<string, string>;
}

function productInput(body: Body, creating: boolean): ProductInput {
  const errors: FieldError[] = [];
  unknownFields(body, PRODUCT_FIELDS, errors, `a product takes ${PRODUCT_FIELDS.join(", ")}`);
  const name = optionalText(body, "name", errors, 250, false);
  if ((creating && name === undefined && body.name === undefined) || name === "") {
    errors.push({ field: "name", message: "is required" });
  }
  const input: ProductInput = {
    name: name ?? undefined,
    description: optionalText(body, "description", errors, 5000),
    active: optionalBoolean(body, "active", errors),
    metadata: metadata(body, errors),
  };
  if (!creating && Object.keys(body).length === 0) {
    errors.push({ field: "body", message: `must change one of ${PRODUCT_FIELDS.join(", ")}` });
  }
  if (errors.length > 0) throw validationError(errors);
  return input;
}

function priceInput(body: Body, creating: boolean): PriceInput {
  const errors: FieldError[] = [];
  if (creating) {
    unknownFields(
      body,
      PRICE_CREATE_FIELDS,
      errors,
      `a price takes ${PRICE_CREATE_FIELDS.join(", ")}`,
    );
  } else {
    unknownFields(
      body,
      PRICE_UPDATE_FIELDS,
      errors,
      "a price's product, currency, amount and interval never change (as in Stripe): create a new price and archive this one",
    );
    if (Object.keys(body).length === 0) {
      errors.push({
        field: "body",
        message: `must change one of ${PRICE_UPDATE_FIELDS.join(", ")}`,
      });
    }
  }
  const input: PriceInput = {
    nickname: optionalText(body, "nickname", errors, 250),
    lookupKey: optionalText(body, "lookupKey", errors, 200),
    active: optionalBoolean(body, "active", errors),
    metadata: metadata(body, errors),
  };
  if (creating) {
    if (typeof body.productId !== "string" || !/^prod_\w+$/.test(body.productId)) {
      errors.push({ field: "productId", message: "must be a Stripe product id (prod_…)" });
    } else input.productId = body.productId;
    if (typeof body.currency !== "string" || !/^[A-Za-z]{3}$/.test(body.currency)) {
      errors.push({ field: "currency", message: "must be a three-letter ISO currency code" });
    } else input.currency = body.currency.toLowerCase();
    if (
      typeof body.unitAmount !== "number" || !Number.isSafeInteger(body.unitAmount) ||
      body.unitAmount < 0
    ) {
      errors.push({
        field: "unitAmount",
        message: "must be a whole number of the currency's smallest unit (cents), 0 or more",
      });
    } else input.unitAmount = body.unitAmount;
    const recurring = body.recurring;
    if (recurring !== undefined && recurring !== null) {
      const { interval, intervalCount } = recurring as Record<string, unknown>;
      if (typeof recurring !== "object" || Array.isArray(recurring)) {
        errors.push({ field: "recurring", message: "must be {interval, intervalCount}" });
      } else if (typeof interval !== "string" || !INTERVALS.includes(interval)) {
        errors.push({ field: "recurring.interval", message: `must be ${INTERVALS.join(", ")}` });
      } else if (
        intervalCount !== undefined &&
        (!Number.isSafeInteger(intervalCount) || (intervalCount as number) < 1)
      ) {
        errors.push({
          field: "recurring.intervalCount",
          message: "must be a whole number, 1 or more",
        });
      } else {
        input.recurring = {
          interval: interval as "day" | "week" | "month" | "year",
          intervalCount: intervalCount as number | undefined,
        };
      }
    }
  }
  if (errors.length > 0) throw validationError(errors);
  return input;
}
