/**
 * Test controls under `/_emulator` (no API key): reset, the delivery log, and the things a
 * real buyer or a real month would do — complete a Checkout Session, renew a subscription,
 * decline a renewal payment.
 */
import { failRenewal, renewSubscription } from "./billing.ts";
import { Context } from "./context.ts";
import { invalidRequest, noSuch } from "./errors.ts";
import {
  CHECKOUT_OUTCOMES,
  type CheckoutOutcome,
  completeCheckoutSession,
} from "./resources/checkout_sessions.ts";
import { jsonResponse, toStripeError } from "./responses.ts";
import { matchRoute, type PathParams, route } from "./router.ts";
import type { Partition, Store } from "./store.ts";
import type { WebhookDispatcher } from "./webhooks.ts";

export interface ControlDependencies {
  store: Store;
  webhooks: WebhookDispatcher;
  publicUrl: () => string;
}

const MAX_LATENCY_MS = 60_000;

type ControlHandler = (request: Request, path: PathParams, url: URL) => Promise<unknown>;

export function createControlHandler(deps: ControlDependencies) {
  const contextFor = (partition: Partition) =>
    new Context(partition, deps.publicUrl(), deps.webhooks);

  const subscription = (id: string) => {
    const found = deps.store.locate((partition) => partition.subscriptions, id);
    if (!found) throw noSuch("subscription", id);
    return { ctx: contextFor(found.partition), subscription: found.value };
  };

  const reset: ControlHandler = async () => {
    await deps.webhooks.reset();
    deps.store.reset();
    return { reset: true };
  };

  const deliveries: ControlHandler = (_request, _path, url) => {
    const eventId = url.searchParams.get("event");
    const endpointId = url.searchParams.get("endpoint");
    const type = url.searchParams.get("type");
    return Promise.resolve(
      deps.webhooks.deliveries().filter((delivery) =>
        (!eventId || delivery.event_id === eventId) &&
        (!endpointId || delivery.endpoint_id === endpointId) &&
        (!type || delivery.event_type === type)
      ),
    );
  };

  const complete: ControlHandler = async (request, path) => {
    const found = deps.store.locate((partition) => partition.checkoutSessions, path.id);
    if (!found) throw noSuch("checkout.session", path.id);
    const body = await readJson(request);
    const outcome = body.outcome ?? "paid";
    if (!CHECKOUT_OUTCOMES.includes(outcome as CheckoutOutcome)) {
      throw invalidRequest(
        `Invalid outcome: must be one of ${CHECKOUT_OUTCOMES.join(", ")}`,
        "outcome",
      );
    }
    completeCheckoutSession(contextFor(found.partition), found.value, outcome as CheckoutOutcome, {
      email: typeof body.email === "string" ? body.email : null,
      name: typeof body.name === "string" ? body.name : null,
    });
    return found.value.session;
  };

  const renew: ControlHandler = (_request, path) => {
    const target = subscription(path.id);
    renewSubscription(target.ctx, target.subscription);
    return Promise.resolve(target.subscription);
  };

  const failPayment: ControlHandler = (_request, path) => {
    const target = subscription(path.id);
    failRenewal(target.ctx, target.subscription);
    return Promise.resolve(target.subscription);
  };

  const latency: ControlHandler = async (request) => {
    const body = await readJson(request);
    const ms = body.ms;
    if (typeof ms !== "number" || !Number.isInteger(ms) || ms < 0 || ms > MAX_LATENCY_MS) {
      throw invalidRequest(`Invalid ms: an integer between 0 and ${MAX_LATENCY_MS}.`, "ms");
    }
    deps.store.latencyMs = ms;
    return { ms };
  };

  const routes = [
    route("POST", "/_emulator/reset", reset),
    route("POST", "/_emulator/latency", latency),
    route("GET", "/_emulator/latency", () => Promise.resolve({ ms: deps.store.latencyMs })),
    route("GET", "/_emulator/deliveries", deliveries),
    route("POST", "/_emulator/checkout/sessions/{id}/complete", complete),
    route("POST", "/_emulator/subscriptions/{id}/renew", renew),
    route("POST", "/_emulator/subscriptions/{id}/fail_payment", failPayment),
  ];

  return async (request: Request, url: URL): Promise<Response | undefined> => {
    const match = matchRoute(routes, request.method, url.pathname);
    if (!match) return undefined;
    try {
      return jsonResponse(200, await match.route.handler(request, match.path, url));
    } catch (error) {
      const stripeError = toStripeError(error);
      return jsonResponse(stripeError.status, stripeError.toJSON());
    }
  };
}

/** An empty body is an empty object, so `curl -X POST` alone works. */
async function readJson(request: Request): Promise<Record<string, unknown>> {
  const text = (await request.text()).trim();
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {
    // Reported below, in the same words as a non-object body.
  }
  throw invalidRequest("The request body must be a JSON object.");
}
