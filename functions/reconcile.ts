// Reconciliation: read Stripe's event log (GET /v1/events, 30 days) and feed every event the
// database has not stored through payments.ingest_stripe_event, the webhook's own path, so dedupe
// and once-only fulfilment hold whichever way an event arrives. Delivery health reads the same log.
import { readJson } from "./body.ts";
import { mapDatabaseErrors } from "./db.ts";
import type { Deps, OperatorRoute } from "./deps.ts";
import { json, PaymentsError, validationError } from "./errors.ts";
import { type Environment, type Stripe, stripeFailure, stripeFor } from "./stripe.ts";
import type { DeliveryHealth, EventResult, ReconcileResponse } from "./wire.ts";

/** Stripe keeps (and lists) the events of the last 30 days. */
export const EVENT_LOG_DAYS = 30;
export const DEFAULT_RECONCILE_SINCE = "72h";
// Stripe's limit for `types[]`; more types than this are filtered here instead.
const MAX_TYPES = 20;
// Failures listed in the answer; the count covers them all.
const MAX_REPORTED_FAILURES = 20;
const PAGE_SIZE = 100;

export const reconcile: OperatorRoute = async (deps, request, environment) => {
  const url = new URL(request.url);
  const body = request.method === "POST" ? await readJson(request) : {};
  const since = parseSince(body.since ?? url.searchParams.get("since") ?? undefined, deps.now());
  const types = parseTypes(body.types ?? url.searchParams.get("types") ?? undefined);
  const stripe = await stripeFor(deps, environment);
  return json(
    200,
    (await reconcileEvents(deps, stripe, environment, since, types)) satisfies ReconcileResponse,
  );
};

/** `72h`, `3d`, `90m` or an ISO 8601 time; at most 30 days back (what Stripe still lists). */
export function parseSince(value: unknown, now: Date): Date {
  const text = value === undefined ? DEFAULT_RECONCILE_SINCE : value;
  const invalid = (message: string) => validationError([{ field: "since", message }]);
  if (typeof text !== "string" || text.trim() === "") {
    throw invalid("must be a duration such as 72h or 3d, or an ISO 8601 time");
  }
  const duration = /^(\d{1,6})([mhd])$/.exec(text.trim());
  let since: Date;
  if (duration) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as "m" | "h" | "d"];
    since = new Date(now.getTime() - Number(duration[1]) * unit);
  } else if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    since = new Date(text.trim());
    if (Number.isNaN(since.getTime())) throw invalid(`'${text}' is not a valid ISO 8601 time`);
  } else {
    throw invalid(`'${text}' is not a duration such as 72h or 3d, nor an ISO 8601 time`);
  }
  if (since.getTime() < now.getTime() - EVENT_LOG_DAYS * 86_400_000) {
    throw invalid(`must be within the last ${EVENT_LOG_DAYS} days, the events Stripe keeps`);
  }
  return since;
}

/** An array of event types, or one comma-separated string (a query parameter). */
function parseTypes(value: unknown): string[] | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const types = typeof value === "string" ? value.split(",").map((type) => type.trim()) : value;
  if (
    !Array.isArray(types) || types.length === 0 ||
    !types.every((type) => typeof type === "string" && /^[a-z0-9_.]+$/.test(type))
  ) {
    throw validationError([{ field: "types", message: "must be a list of Stripe event types" }]);
  }
  return [...new Set(types as string[])];
}

/**
 * Pages through Stripe's events since `since` (of `types`, or of the types the webhook endpoint
 * subscribes to) and ingests the ones not stored. Memory holds one page at a time.
 */
export async function reconcileEvents(
  deps: Deps,
  stripe: Stripe,
  environment: Environment,
  since: Date,
  types?: string[],
): Promise<ReconcileResponse> {
  const [{ handled }] = await mapDatabaseErrors(
    deps.sql`select payments.stripe_webhook_event_types() as handled`,
  );
  // Without a choice, the events the managed endpoint would have been sent, and no others.
  const wanted = new Set<string>(types ?? handled);
  const result: ReconcileResponse = {
    environment,
    since: since.toISOString(),
    types: types ?? null,
    listed: 0,
    seen: 0,
    new: 0,
    failed: 0,
    failures: [],
  };
  let page: Stripe.Event[] = [];
  const flush = async () => {
    if (page.length > 0) await ingestPage(deps, environment, page, result);
    page = [];
  };
  const params: Stripe.EventListParams = {
    limit: PAGE_SIZE,
    created: { gte: Math.floor(since.getTime() / 1000) },
    ...(wanted.size <= MAX_TYPES ? { types: [...wanted] } : {}),
  };
  try {
    // Newest first, as Stripe lists them; dedupe makes the order of ingestion irrelevant, and
    // the guarded upserts keep the newest state of each object.
    for await (const event of stripe.events.list(params)) {
      if (!wanted.has(event.type)) continue;
      result.listed++;
      page.push(event);
      if (page.length === PAGE_SIZE) await flush();
    }
  } catch (error) {
    if (error instanceof PaymentsError) throw error;
    throw stripeFailure(error, "list events");
  }
  await flush();
  return result;
}

async function ingestPage(
  deps: Deps,
  environment: Environment,
  events: Stripe.Event[],
  result: ReconcileResponse,
): Promise<void> {
  const [{ unseen }] = await mapDatabaseErrors(deps.sql`
    select payments.unseen_stripe_event_ids(${environment}, ${
    events.map((event) => event.id)
  }) as unseen`);
  const unseenIds = new Set<string>(unseen);
  result.seen += events.length - unseenIds.size;
  for (const event of events) {
    if (!unseenIds.has(event.id)) continue;
    let outcome: EventResult;
    try {
      outcome = await mapDatabaseErrors(deps.sql.begin(async (tx) => {
        // Marks the stored row as reconciled (the column's default reads this setting).
        await tx`select set_config('payments.received_via', 'reconcile', true)`;
        const [{ result }] = await tx`select payments.ingest_stripe_event(${environment}, ${
          tx.json(event as never)
        }) as result`;
        return result as EventResult;
      }));
    } catch (error) {
      // A malformed event (400) is reported and the others go on; an outage stops the run.
      if (!(error instanceof PaymentsError) || error.status !== 400) throw error;
      outcome = { eventId: event.id, status: "failed", error: error.message };
    }
    if (outcome.status === "duplicate") {
      result.seen++; // a webhook delivery stored it meanwhile
    } else if (outcome.status === "failed") {
      result.failed++;
      if (result.failures.length < MAX_REPORTED_FAILURES) {
        result.failures.push({ eventId: event.id, type: event.type, error: outcome.error });
      }
      deps.log(`reconciled event ${event.id} (${event.type}) failed: ${outcome.error}`);
    } else {
      result.new++;
    }
  }
}

// Delivery health scans this far back, and at most this many undelivered events.
const HEALTH_WINDOW_HOURS = 72;
const HEALTH_SCAN_LIMIT = 500;
// Status must answer quickly when Stripe is slow or down: one short try per Stripe call.
const HEALTH_REQUEST = { timeout: 5_000, maxNetworkRetries: 0 };

/**
 * The managed endpoint as Stripe reports it, the last verified delivery, and the events Stripe
 * still has pending that the database has not stored. Stripe failures are reported, not thrown:
 * status must answer when Stripe does not.
 */
export async function deliveryHealth(
  deps: Deps,
  environment: Environment,
  endpointId: string | null,
): Promise<DeliveryHealth> {
  const [times] = await mapDatabaseErrors(deps.sql`
    select last_delivery_at, last_reconciled_at from payments.webhook_delivery_times(${environment})`);
  const health: DeliveryHealth = {
    endpointStatus: endpointId ? "unknown" : "missing",
    lastDeliveryAt: times?.last_delivery_at?.toISOString() ?? null,
    lastReconciledAt: times?.last_reconciled_at?.toISOString() ?? null,
    pendingNotStored: null,
    scannedSince: new Date(deps.now().getTime() - HEALTH_WINDOW_HOURS * 3_600_000).toISOString(),
    error: null,
  };
  let stripe: Stripe;
  try {
    stripe = await stripeFor(deps, environment);
  } catch (error) {
    if (error instanceof PaymentsError && error.code === "stripe_not_configured") {
      return { ...health, endpointStatus: "missing", error: null };
    }
    throw error;
  }
  if (endpointId) {
    try {
      const endpoint = await stripe.webhookEndpoints.retrieve(endpointId, {}, HEALTH_REQUEST);
      health.endpointStatus = endpoint.status === "enabled" ? "enabled" : "disabled";
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) health.endpointStatus = "missing";
      else health.error = stripeFailure(error, "read the webhook endpoint").message;
    }
  }
  try {
    const pending: string[] = [];
    for await (
      const event of stripe.events.list({
        limit: PAGE_SIZE,
        delivery_success: false,
        created: { gte: Math.floor(new Date(health.scannedSince).getTime() / 1000) },
      }, HEALTH_REQUEST)
    ) {
      if (event.pending_webhooks > 0) pending.push(event.id);
      if (pending.length >= HEALTH_SCAN_LIMIT) break;
    }
    const [{ unseen }] = await mapDatabaseErrors(deps.sql`
      select payments.unseen_stripe_event_ids(${environment}, ${pending}) as unseen`);
    health.pendingNotStored = unseen.length;
  } catch (error) {
    if (error instanceof PaymentsError) throw error;
    health.error = stripeFailure(error, "list undelivered events").message;
  }
  return health;
}
