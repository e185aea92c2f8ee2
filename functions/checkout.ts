// POST /stripe/{environment}/checkout-sessions
import { inTransaction, mapDatabaseErrors } from "./db.ts";
import type { Deps } from "./deps.ts";
import { json, PaymentsError, validationError } from "./errors.ts";
import { resolveCustomer, subjectMetadata } from "./customers.ts";
import { DEFAULT_SESSION_GUARDS } from "./config.ts";
import { applySessionGuards, startSession } from "./session_start.ts";
import { callStripe, type Environment, outcomeUnknown, type Stripe } from "./stripe.ts";
import type { CheckoutSession, CheckoutSessionResponse } from "./wire.ts";

interface CheckoutRow {
  id: string;
  environment: Environment;
  created_by: string;
  subject_type: string;
  subject_id: string;
  mode: CheckoutSession["mode"];
  status: CheckoutSession["status"];
  payment_status: string | null;
  attempt: number;
  line_items: { priceId: string; quantity: number }[];
  success_url: string;
  cancel_url: string;
  metadata: Record<string, string>;
  checkout_session_id: string | null;
  url: string | null;
  expires_at: Date | null;
  customer_id: string | null;
  customer_email: string | null;
  amount_total: string | null;
  currency: string | null;
  idempotency_key: string | null;
  created_at: Date;
}

export async function createCheckoutSession(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  const start = await startSession<CheckoutRow>(
    deps,
    request,
    environment,
    (tx, body) =>
      tx<CheckoutRow[]>`
      select * from payments.create_checkout_session(${environment}, ${tx.json(body as never)})`,
  );
  const stripe = start.stripe;
  let row = start.row;

  // The database decides whether the row's Stripe session can be handed out; a row it readies
  // for a new session (expired, failed or about to lapse) comes back initialized.
  if (row.status !== "initialized") {
    // A restart is a new Stripe session attempt: it counts toward the user's cap, so it runs
    // with the deployment's session settings.
    const id = row.id;
    [row] = await inTransaction(deps.sql, async (tx) => {
      await applySessionGuards(tx, deps.sessionGuards ?? DEFAULT_SESSION_GUARDS);
      return await tx<CheckoutRow[]>`select * from payments.restart_checkout_session(${id})`;
    });
    if (row.status !== "initialized") return respond(row);
  }

  const subject = { type: row.subject_type, id: row.subject_id };
  const checkoutId = row.id;
  let session: Stripe.Checkout.Session;
  try {
    const requestKey = `payments-checkout-${checkoutId}-${row.attempt}`;
    const customer = await resolveCustomer(
      deps,
      stripe,
      environment,
      subject,
      row.customer_email ?? undefined,
      requestKey,
    );
    // The row holds the request as the database validated it; the Stripe call is built from it.
    const metadata = { ...row.metadata, ...subjectMetadata(subject) };
    // Lets the projection ignore late events of a session this row has already replaced.
    const sessionMetadata = { ...metadata, payments_attempt: String(row.attempt) };
    session = await callStripe("create the Checkout Session", () =>
      stripe.checkout.sessions.create(
        {
          mode: row.mode,
          customer,
          client_reference_id: checkoutId,
          line_items: row.line_items.map((item) => ({
            price: item.priceId,
            quantity: item.quantity,
          })),
          success_url: row.success_url,
          cancel_url: row.cancel_url,
          metadata: sessionMetadata,
          ...(row.mode === "subscription"
            ? { subscription_data: { metadata } }
            : { payment_intent_data: { metadata } }),
        },
        // Derived from the row: a retry after a crash gets the very session Stripe already made.
        { idempotencyKey: requestKey },
      ));
  } catch (error) {
    // Only a definite refusal ends the attempt: when Stripe may have made the session, the row
    // keeps its attempt (and so its idempotency key), and the retry gets that very session.
    if (error instanceof PaymentsError && error.code === "stripe_error" && !outcomeUnknown(error)) {
      await mapDatabaseErrors(
        deps.sql`select payments.record_checkout_session_failure(${checkoutId}, ${error.message})`,
      );
      throw lineItemError(error) ?? error;
    }
    throw error;
  }
  [row] = await mapDatabaseErrors(
    deps.sql<CheckoutRow[]>`
      select * from payments.record_checkout_session_result(${checkoutId}, ${
      deps.sql.json(session as never)
    })`,
  );
  return respond(row);
}

/** Stripe refusing a price (unknown, inactive, other currency) is the caller's mistake: a 400. */
function lineItemError(error: PaymentsError): PaymentsError | undefined {
  const { type, param } = (error.details ?? {}) as { type?: string; param?: string };
  const index = /^line_items\[(\d+)\]\[price\]$/.exec(param ?? "")?.[1];
  if (type !== "invalid_request_error" || index === undefined) return undefined;
  const stripeMessage = (error.cause as { message?: string })?.message ?? "refused by Stripe";
  const field = `lineItems[${index}].priceId`;
  return validationError([{ field, message: stripeMessage }]);
}

function respond(row: CheckoutRow): Response {
  return json(
    201,
    {
      checkoutSession: {
        id: row.id,
        checkoutSessionId: row.checkout_session_id,
        url: row.status === "open" ? row.url : null,
        status: row.status,
        paymentStatus: row.payment_status,
        mode: row.mode,
        subject: { type: row.subject_type, id: row.subject_id },
        customerId: row.customer_id,
        amountTotal: row.amount_total === null ? null : Number(row.amount_total),
        currency: row.currency,
        expiresAt: row.expires_at?.toISOString() ?? null,
        idempotencyKey: row.idempotency_key,
        createdAt: row.created_at.toISOString(),
      },
    } satisfies CheckoutSessionResponse,
  );
}
