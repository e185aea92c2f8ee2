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

  const [row] = await mapDatabaseErrors(
    deps
      .sql`select payments_private.get_provider_secret(${environment}, 'webhook_secret') as secret`,
  );
  if (!row?.secret) {
    // 5xx so Stripe keeps retrying until the endpoint is configured; nothing is lost.
    throw new PaymentsError(
      503,
      "webhook_not_configured",
      `No webhook signing secret is stored for the ${environment} environment.`,
    );
  }

  const receivedAt = deps.now().getTime();
  let event: { id: string; type: string };
  try {
    // The SDK bounds only the past; a timestamp from the future would let a captured request be
    // replayed for as long as its sender chose.
    if (signedAt(signature) - receivedAt / 1000 > SIGNATURE_TOLERANCE_SECONDS) {
      throw new Error("future");
    }
    // Accepts any of several v1 signatures, as Stripe sends during secret rotation.
    event = await verifier.webhooks.constructEventAsync(
      body,
      signature,
      row.secret,
      SIGNATURE_TOLERANCE_SECONDS,
      crypto,
      receivedAt,
    ) as unknown as { id: string; type: string };
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new PaymentsError(400, "invalid_event", "The webhook body is not valid JSON.");
    }
    throw new PaymentsError(
      400,
      "invalid_signature",
      "The Stripe-Signature header does not match the body, or its timestamp is more than 300 s from now.",
    );
  }

  let result: EventResult;
  try {
    [{ result }] = await mapDatabaseErrors(
      deps.sql`select payments.ingest_stripe_event(${environment}, ${
        deps.sql.json(event as never)
      }) as result`,
    );
  } catch (error) {
    if (error instanceof PaymentsError && error.status === 400) {
      throw new PaymentsError(400, "invalid_event", error.message);
    }
    throw error;
  }

  if (result.status === "failed") {
    deps.log(`webhook event ${result.eventId} (${event.type}) failed: ${result.error}`);
    throw new PaymentsError(
      500,
      "event_failed",
      `Event ${result.eventId} could not be processed; Stripe will retry it.`,
      { details: { eventId: result.eventId, eventType: event.type } },
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

/** The `t=` timestamp of a Stripe-Signature header, or NaN when it has none. */
function signedAt(header: string): number {
  const value = header.split(",").map((part) => part.trim().split("="))
    .find(([name]) => name === "t")?.[1];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : NaN;
}
