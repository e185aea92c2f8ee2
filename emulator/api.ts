/**
 * The `/v1` API: authentication, parameter decoding, routing to resources, idempotency keys
 * and Stripe's response headers.
 */
import { authenticate } from "./auth.ts";
import { API_VERSION, Context } from "./context.ts";
import { StripeError } from "./errors.ts";
import { render } from "./expand.ts";
import { canonicalForm, decodeForm, type FormObject } from "./form.ts";
import { newId } from "./ids.ts";
import { checkParams, ParamReader } from "./params.ts";
import { accountRoutes } from "./resources/account.ts";
import { billingPortalRoutes } from "./resources/billing_portal.ts";
import { chargeRoutes } from "./resources/charges.ts";
import { checkoutSessionRoutes } from "./resources/checkout_sessions.ts";
import { customerRoutes } from "./resources/customers.ts";
import { eventRoutes } from "./resources/events.ts";
import { invoiceRoutes } from "./resources/invoices.ts";
import { paymentIntentRoutes } from "./resources/payment_intents.ts";
import { paymentMethodRoutes } from "./resources/payment_methods.ts";
import { priceRoutes } from "./resources/prices.ts";
import { productRoutes } from "./resources/products.ts";
import { refundRoutes } from "./resources/refunds.ts";
import { subscriptionRoutes } from "./resources/subscriptions.ts";
import { testClockRoutes } from "./resources/test_clocks.ts";
import { webhookEndpointRoutes } from "./resources/webhook_endpoints.ts";
import { jsonResponse, toStripeError } from "./responses.ts";
import { type Endpoint, matchRoute } from "./router.ts";
import type { Partition, Store } from "./store.ts";
import type { WebhookDispatcher } from "./webhooks.ts";

const routes: Endpoint[] = [
  ...accountRoutes,
  ...productRoutes,
  ...priceRoutes,
  ...customerRoutes,
  ...checkoutSessionRoutes,
  ...billingPortalRoutes,
  ...subscriptionRoutes,
  ...invoiceRoutes,
  ...paymentIntentRoutes,
  ...paymentMethodRoutes,
  ...testClockRoutes,
  ...chargeRoutes,
  ...refundRoutes,
  ...webhookEndpointRoutes,
  ...eventRoutes,
];

const IDEMPOTENCY_KEY_LIMIT = 255;

export interface ApiDependencies {
  store: Store;
  webhooks: WebhookDispatcher;
  publicUrl: () => string;
}

interface Outcome {
  status: number;
  body: string;
}

export function createApiHandler(deps: ApiDependencies) {
  return async (request: Request, url: URL): Promise<Response> => {
    const requestId = newId("req", 14);
    const headers: Record<string, string> = {
      "request-id": requestId,
      "stripe-version": request.headers.get("stripe-version") ?? API_VERSION,
    };
    const idempotencyKey = request.method === "POST"
      ? request.headers.get("idempotency-key")
      : null;
    if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
    try {
      const { accountId, livemode } = authenticate(request.headers.get("authorization"));
      const partition = deps.store.partition(accountId, livemode);
      const params = await readParams(request, url);
      const ctx = new Context(partition, deps.publicUrl(), deps.webhooks, {
        id: requestId,
        idempotency_key: idempotencyKey,
      });
      const run = async () => {
        // The latency control holds the request here, as if Stripe were still working on it.
        const latency = deps.store.latencyMs;
        if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
        return execute(ctx, request.method, url.pathname, params);
      };
      if (!idempotencyKey) {
        const outcome = await run();
        return jsonResponse(outcome.status, outcome.body, headers);
      }
      const { outcome, replayed } = await runOnce(
        partition,
        idempotencyKey,
        request,
        url,
        params,
        run,
      );
      if (replayed) headers["idempotent-replayed"] = "true";
      return jsonResponse(outcome.status, outcome.body, headers);
    } catch (error) {
      const stripeError = toStripeError(error);
      return jsonResponse(stripeError.status, stripeError.toJSON(), headers);
    }
  };
}

/**
 * Runs one `/v1` request inside the emulator, as the SDK would send it (the trigger fixtures
 * drive real flows this way), and returns the response body or throws its Stripe error.
 */
export function callApi(
  ctx: Context,
  method: string,
  pathname: string,
  params: FormObject = {},
): Record<string, unknown> {
  const outcome = execute(ctx, method, pathname, new ParamReader(params));
  const body = JSON.parse(outcome.body);
  if (outcome.status !== 200) {
    const error = body.error ?? {};
    throw new StripeError(outcome.status, error.type, error.message, error.code, error.param);
  }
  return body;
}

function execute(ctx: Context, method: string, pathname: string, params: ParamReader): Outcome {
  try {
    const match = matchRoute(routes, method, pathname);
    if (!match) {
      throw new StripeError(
        404,
        "invalid_request_error",
        `Unrecognized request URL (${method}: ${pathname}). The Stripe emulator implements ` +
          `only part of the API; see emulator/README.md.`,
      );
    }
    checkParams(params.values, match.route.params);
    const body = render(match.route.handler(ctx, params, match.path), params.expand());
    return { status: 200, body: JSON.stringify(body, null, 2) };
  } catch (error) {
    const stripeError = toStripeError(error);
    return { status: stripeError.status, body: JSON.stringify(stripeError.toJSON(), null, 2) };
  }
}

/**
 * Stripe saves the first response for a key, errors included, and replays it for the same
 * request; the same key with other parameters is an `idempotency_error`, and a key whose first
 * request is still running is a 409 `idempotency_key_in_use` (nothing saved: retry later).
 */
async function runOnce(
  partition: Partition,
  key: string,
  request: Request,
  url: URL,
  params: ParamReader,
  run: () => Promise<Outcome>,
): Promise<{ outcome: Outcome; replayed: boolean }> {
  if (key.length > IDEMPOTENCY_KEY_LIMIT) {
    throw new StripeError(
      400,
      "invalid_request_error",
      `Idempotency keys can be up to ${IDEMPOTENCY_KEY_LIMIT} characters long.`,
      undefined,
      "Idempotency-Key",
    );
  }
  const fingerprint = `${request.method} ${url.pathname} ${canonicalForm(params.values)}`;
  const saved = partition.idempotency.get(key);
  if (saved) {
    if (saved.fingerprint !== fingerprint) {
      throw new StripeError(
        400,
        "idempotency_error",
        `Keys for idempotent requests can only be used with the same parameters they were ` +
          `first used with. Try using a key other than '${key}' if you meant to execute a ` +
          `different request.`,
      );
    }
    return { outcome: saved, replayed: true };
  }
  if (partition.idempotencyInFlight.has(key)) {
    throw new StripeError(
      409,
      "invalid_request_error",
      `There is currently another in-progress request using this idempotency key ` +
        `('${key}'). Retry this request once that one has finished.`,
      "idempotency_key_in_use",
    );
  }
  partition.idempotencyInFlight.add(key);
  try {
    const outcome = await run();
    partition.idempotency.set(key, { fingerprint, ...outcome });
    return { outcome, replayed: false };
  } finally {
    partition.idempotencyInFlight.delete(key);
  }
}

/** GET and DELETE carry parameters in the query; POST in a form body (query merged first). */
async function readParams(request: Request, url: URL): Promise<ParamReader> {
  const entries = [...url.searchParams.entries()];
  if (request.method === "POST") {
    entries.push(...new URLSearchParams(await request.text()).entries());
  }
  return new ParamReader(decodeForm(entries));
}
