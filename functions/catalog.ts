// Catalog management through Stripe: create and edit products and prices with camelCase bodies,
// then mirror Stripe's answer at once. The webhook for the same change arrives later and passes
// the same stale gate, so whichever state is newer stays. A create may carry the caller's
// Idempotency-Key, so that a double submit or a retried command makes one object.
import { mapDatabaseErrors } from "./db.ts";
import type { OperatorRoute } from "./deps.ts";
import { json, PaymentsError, validationError } from "./errors.ts";
import {
  type Environment,
  type Stripe,
  stripeFailure,
  stripeFor,
  withinStripeBudget,
} from "./stripe.ts";
import { readJson } from "./body.ts";
import type { Price, PriceInput, Product, ProductInput, Recurring } from "./wire.ts";

/** What differs between the catalog's kinds of object; catalogRoute does the rest. */
interface CatalogKind<Input, Object> {
  name: "product" | "price";
  // The Stripe client leaves out parameters that are undefined: only what the operator gave is
  // sent.
  create(stripe: Stripe, input: Input, options: Stripe.RequestOptions): Promise<Object>;
  update(stripe: Stripe, id: string, input: Input): Promise<Object>;
  wire(object: Object): unknown;
}

const PRODUCTS: CatalogKind<ProductInput, Stripe.Product> = {
  name: "product",
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
  create: (stripe, input, options) =>
    stripe.prices.create({
      product: input.productId!,
      currency: input.currency!.toLowerCase(),
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
 * POST (create) or PATCH (update the object the path names) of one kind: the body checked by
 * payments.validate_catalog_request (the one owner of these rules), the change made in Stripe, then Stripe's answer written through the sync path (same projection and
 * stale gate as webhooks) so that the lists show it at once, and returned in wire shape.
 */
function catalogRoute<Input, Object extends Stripe.Product | Stripe.Price>(
  kind: CatalogKind<Input, Object>,
  creating: boolean,
): OperatorRoute {
  return async (deps, request, environment, id) => {
    const key = creating ? await stripeKey(request, environment, kind.name) : undefined;
    const body = await readJson(request);
    await mapDatabaseErrors(deps.sql`
      select payments.validate_catalog_request(${kind.name}, ${creating}, ${
      deps.sql.json(body as never)
    })`);
    // The shape the check above accepted.
    const input = body as Input;
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
