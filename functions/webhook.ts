// POST /webhooks/stripe/{environment}: verify the signature on the raw body, then hand the event
// to payments.ingest_stripe_event, which records and projects it in one transaction.
import Stripe from "stripe";
import { readCapped } from "./body.ts";
import { mapDatabaseErrors } from "./db.ts";
import type { Deps } from "./deps.ts";
import { json, PaymentsError } from "./errors.ts";
import type { Environment } from "./stripe.ts";
import type { EventResult, WebhookReceivedResponse } from "./wire.ts";

export const MAX_WEBHOOK_BYTES = 1024 * 1024;
export const SIGNATURE_TOLERANCE_SECONDS = 300;

const crypto = Stripe.createSubtleCryptoProvider();
// Verification needs no API key; one SDK instance serves every request.
const verifier = new Stripe("sk_test_verification_only", {
  httpClient: Stripe.createFetchHttpClient(),
});

// Errors go through the one mapping (errors.ts) like every route's: Stripe retries any non-2xx,
// and a database outage answers 503 here too.
export async function receiveWebhook(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  const body = await readCapped(request, MAX_WEBHOOK_BYTES);

  const signature = request.headers.get("stripe-signature");
  if (!signature) {
    throw new PaymentsError(400, "invalid_signature", "Missing Stripe-Signature header.");
  }

  let secret = await webhookSecret(deps, environment);
  if (!secret.value) {
    // 5xx so Stripe keeps retrying until the endpoint is configured; nothing is lost.
    throw new PaymentsError(
      503,
      "webhook_not_configured",
      `No webhook signing secret is stored for the ${environment} environment.`,
    );
  }
  const receivedAt = deps.now().getTime();
  let verified = await verify(body, signature, secret.value, receivedAt);
  if (!verified && secret.cached) {
    // The secret may have been rotated since it was cached: the stored one decides.
    secret = await webhookSecret(deps, environment, { fresh: true });
    verified = !!secret.value && await verify(body, signature, secret.value, receivedAt);
  }
  if (!verified) {
    throw new PaymentsError(
      400,
      "invalid_signature",
      "The Stripe-Signature header does not match the body, or its timestamp is outside the 300 s tolerance.",
    );
  }

  // The verified raw body goes to the database as text: PostgreSQL parses it once, into jsonb,
  // instead of JSON.parse here and JSON.stringify again for the query.
  let result: EventResult;
  let eventType: string;
  try {
    [{ result, eventType }] = await mapDatabaseErrors(
      deps
        .sql`select payments.ingest_stripe_event(${environment}, e) as result, e ->> 'type' as "eventType"
               from (select ${body}::text::jsonb as e) as received`,
    );
  } catch (error) {
    if (error instanceof PaymentsError && error.status === 400) {
      const invalidJson = (error.cause as { code?: string } | undefined)?.code === INVALID_JSON;
      throw new PaymentsError(
        400,
        "invalid_event",
        invalidJson ? "The webhook body is not valid JSON." : error.message,
      );
    }
    throw error;
  }

  if (result.status === "failed") {
    deps.log(`webhook event ${result.eventId} (${eventType}) failed: ${result.error}`);
    throw new PaymentsError(
      500,
      "event_failed",
      `Event ${result.eventId} could not be processed; Stripe will retry it.`,
      { details: { eventId: result.eventId, eventType } },
    );
  }
  return json(
    200,
    {
      received: true,
      eventId: result.eventId,
      status: result.status,
    } satisfies WebhookReceivedResponse,
  );
}

/**
 * How long a webhook secret read from the database is reused by this instance. A delivery signed
 * with a newer secret fails against the cached one and re-reads it at once, so a rotated or newly
 * configured secret works on its first delivery; an old secret, once replaced or removed, keeps
 * verifying for at most this long on an instance that cached it (Stripe itself signs with both
 * for up to 24 hours during a rotation).
 */
export const SECRET_TTL_MS = 5_000;

const INVALID_JSON = "22P02";

interface CachedSecret {
  value: string | null;
  expires: number;
}

// Per database (tests run several in one process), per environment. Not state the function
// depends on: losing it costs one query.
const secrets = new WeakMap<object, Map<Environment, CachedSecret>>();

async function webhookSecret(
  deps: Deps,
  environment: Environment,
  options: { fresh?: boolean } = {},
): Promise<{ value: string | null; cached: boolean }> {
  let cache = secrets.get(deps.sql);
  if (!cache) secrets.set(deps.sql, cache = new Map());
  const now = performance.now();
  const entry = cache.get(environment);
  if (!options.fresh && entry && entry.expires > now) return { value: entry.value, cached: true };
  const [row] = await mapDatabaseErrors(
    deps
      .sql`select payments.stripe_secret(${environment}, 'webhook_secret') as secret`,
  );
  const value: string | null = row?.secret ?? null;
  // A missing secret is not cached: configuring the endpoint takes effect on the next delivery.
  if (value) cache.set(environment, { value, expires: now + SECRET_TTL_MS });
  else cache.delete(environment);
  return { value, cached: false };
}

/**
 * Accepts any of several v1 signatures, as Stripe sends during secret rotation. The SDK bounds only
 * the past; a timestamp from the future would let a captured request be replayed for as long as
 * its sender chose, so the tolerance applies both ways.
 */
async function verify(
  body: string,
  header: string,
  secret: string,
  /** Milliseconds, as the SDK takes it. */
  receivedAt: number,
): Promise<boolean> {
  if (!(signedAt(header) - receivedAt / 1000 <= SIGNATURE_TOLERANCE_SECONDS)) return false;
  try {
    return await verifier.webhooks.signature!.verifyHeaderAsync(
      body,
      header,
      secret,
      SIGNATURE_TOLERANCE_SECONDS,
      crypto,
      receivedAt,
    );
  } catch {
    return false;
  }
}

/** The `t=` timestamp of a Stripe-Signature header, or NaN when it has none. */
function signedAt(header: string): number {
  const value = header.split(",").map((part) => part.trim().split("="))
    .find(([name]) => name === "t")?.[1];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : NaN;
}
