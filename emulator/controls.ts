/**
 * Test controls under `/_emulator` (no API key): reset, the delivery log, and the things a
 * real buyer or a real month would do — complete a Checkout Session, renew a subscription,
 * decline a renewal payment.
 */
import { authenticate } from "./auth.ts";
import { authenticatePayment } from "./authentication.ts";
import { failRenewal, renewSubscription } from "./billing.ts";
import { cardByNumber, cardByToken, DEFAULT_TEST_CARD, type TestCard } from "./cards.ts";
import { keylessContext, type KeylessDependencies, locate } from "./context.ts";
import { invalidRequest, StripeError } from "./errors.ts";
import {
  CHECKOUT_OUTCOMES,
  type CheckoutOutcome,
  completeCheckoutSession,
} from "./resources/checkout_sessions.ts";
import { jsonResponse, toStripeError } from "./responses.ts";
import { matchRoute, type PathParams, route } from "./router.ts";
import type { Partition } from "./store.ts";
import { readSeedCounts, seedAccount } from "./seed.ts";
import { runTrigger, TRIGGERS } from "./trigger.ts";

export type ControlDependencies = KeylessDependencies;

const MAX_LATENCY_MS = 60_000;

type ControlHandler = (request: Request, path: PathParams, url: URL) => Promise<unknown>;

export function createControlHandler(deps: ControlDependencies) {
  const subscription = (id: string) =>
    locate(deps, (partition) => partition.subscriptions, "subscription", id);

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
    const { ctx, value: record } = locate(
      deps,
      (partition) => partition.checkoutSessions,
      "checkout.session",
      path.id,
    );
    const body = await readJson(request);
    const outcome = body.outcome ?? "paid";
    if (!CHECKOUT_OUTCOMES.includes(outcome as CheckoutOutcome)) {
      throw invalidRequest(
        `Invalid outcome: must be one of ${CHECKOUT_OUTCOMES.join(", ")}`,
        "outcome",
      );
    }
    const card = body.card === undefined ? DEFAULT_TEST_CARD : testCard(body.card);
    const authenticate = body.authenticate ?? "approve";
    if (!["approve", "fail", "leave"].includes(authenticate as string)) {
      throw invalidRequest(
        "Invalid authenticate: must be one of approve, fail, leave",
        "authenticate",
      );
    }
    const attempt = completeCheckoutSession(ctx, record, outcome as CheckoutOutcome, {
      email: typeof body.email === "string" ? body.email : null,
      name: typeof body.name === "string" ? body.name : null,
    }, card);
    if (attempt.status === "declined") {
      throw new StripeError(402, "card_error", attempt.message, "card_declined");
    }
    if (attempt.status === "requires_action" && authenticate !== "leave") {
      const paymentIntentId = attempt.url.slice(attempt.url.lastIndexOf("/") + 1);
      const result = authenticatePayment(ctx, paymentIntentId, authenticate === "approve");
      if (!result.succeeded) {
        throw new StripeError(
          402,
          "card_error",
          record.lastError ?? "Authentication failed.",
          "payment_intent_authentication_failure",
        );
      }
    }
    return record.session;
  };

  const renew: ControlHandler = (_request, path) => {
    const target = subscription(path.id);
    renewSubscription(target.ctx, target.value, "paid");
    return Promise.resolve(target.value);
  };

  const failPayment: ControlHandler = (_request, path) => {
    const target = subscription(path.id);
    failRenewal(target.ctx, target.value);
    return Promise.resolve(target.value);
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

  /**
   * The account a trigger runs in: the one `api_key` names, else the only test-mode account
   * with a webhook endpoint (the one a developer's app listens on).
   */
  const triggerPartition = (apiKey: unknown): Partition => {
    if (apiKey !== undefined) {
      if (typeof apiKey !== "string") throw invalidRequest("Invalid api_key.", "api_key");
      const { accountId, livemode } = authenticate(`Bearer ${apiKey}`);
      return deps.store.partition(accountId, livemode);
    }
    const test = deps.store.all().filter((partition) => !partition.livemode);
    const listening = test.filter((partition) => partition.webhookEndpoints.size > 0);
    const candidates = listening.length > 0 ? listening : test;
    if (candidates.length === 1) return candidates[0];
    throw invalidRequest(
      candidates.length === 0
        ? "No test-mode account has been used yet: pass api_key (an sk_test_ key)."
        : "Several test-mode accounts could take this trigger: pass api_key to choose one.",
      "api_key",
    );
  };

  const trigger: ControlHandler = async (request, path) => {
    if (!Object.hasOwn(TRIGGERS, path.event)) {
      throw new StripeError(
        404,
        "invalid_request_error",
        `No trigger for '${path.event}'. Triggers: ${Object.keys(TRIGGERS).join(", ")}.`,
        "resource_missing",
        "event",
      );
    }
    const body = await readJson(request);
    return runTrigger(keylessContext(deps, triggerPartition(body.api_key)), path.event);
  };

  /** Moves an event's `created` back by `days`, to test Stripe's 30-day event window. */
  const backdateEvent: ControlHandler = async (request, path) => {
    const found = locate(deps, (partition) => partition.events, "event", path.id);
    const { days } = await readJson(request);
    if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > 365) {
      throw invalidRequest("Invalid days: an integer between 1 and 365.", "days");
    }
    found.value.created -= days * 86_400;
    return found.value;
  };

  const seed: ControlHandler = async (request) => {
    const body = await readJson(request);
    const counts = readSeedCounts(body);
    return seedAccount(triggerPartition(body.api_key), deps.publicUrl(), deps.webhooks, counts);
  };

  const triggers: ControlHandler = () =>
    Promise.resolve(
      Object.entries(TRIGGERS).map(([event, fixture]) => ({
        event,
        description: fixture.description,
      })),
    );

  const routes = [
    route("POST", "/_emulator/reset", reset),
    route("GET", "/_emulator/triggers", triggers),
    route("POST", "/_emulator/trigger/{event}", trigger),
    route("POST", "/_emulator/latency", latency),
    route("POST", "/_emulator/seed", seed),
    route("GET", "/_emulator/latency", () => Promise.resolve({ ms: deps.store.latencyMs })),
    route("GET", "/_emulator/deliveries", deliveries),
    route("POST", "/_emulator/checkout/sessions/{id}/complete", complete),
    route("POST", "/_emulator/subscriptions/{id}/renew", renew),
    route("POST", "/_emulator/subscriptions/{id}/fail_payment", failPayment),
    route("POST", "/_emulator/events/{id}/backdate", backdateEvent),
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

/** A test card number (`4000 0000 0000 0002`) or test PaymentMethod (`pm_card_visa`). */
function testCard(value: unknown): TestCard {
  const card = typeof value === "string" ? cardByNumber(value) ?? cardByToken(value) : undefined;
  if (!card) {
    throw invalidRequest(
      "Invalid card: a test card number or a test PaymentMethod such as pm_card_visa.",
      "card",
    );
  }
  return card;
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
