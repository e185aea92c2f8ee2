// POST /webhooks/stripe/{environment}: verify the signature on the raw body, then hand the event
// to payments.ingest_stripe_event, which records and projects it in one transaction.
import Stripe from "stripe";
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
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_WEBHOOK_BYTES) throw tooLarge();
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

  let event: { id: string; type: string };
  try {
    // Accepts any of several v1 signatures, as Stripe sends during secret rotation.
    event = await verifier.webhooks.constructEventAsync(
      body,
      signature,
      row.secret,
      SIGNATURE_TOLERANCE_SECONDS,
      crypto,
    ) as unknown as { id: string; type: string };
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new PaymentsError(400, "invalid_event", "The webhook body is not valid JSON.");
    }
    throw new PaymentsError(
      400,
      "invalid_signature",
      "The Stripe-Signature header does not match the body, or its timestamp is outside the 300 s tolerance.",
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

/** The raw body, read no further than `limit` bytes (a chunked body declares no length). */
async function readCapped(request: Request, limit: number): Promise<string> {
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

function tooLarge(): PaymentsError {
  return new PaymentsError(413, "payload_too_large", "Webhook bodies are limited to 1 MiB.");
}
