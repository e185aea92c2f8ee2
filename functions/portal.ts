// POST /stripe/{environment}/customer-portal-sessions
import { mapDatabaseErrors } from "./db.ts";
import type { Deps } from "./deps.ts";
import { json, PaymentsError } from "./errors.ts";
import { startSession } from "./session_start.ts";
import { callStripe, type Environment } from "./stripe.ts";
import type { CustomerPortalSession, CustomerPortalSessionResponse } from "./wire.ts";

interface PortalRow {
  id: string;
  customer_id: string;
  subject_type: string;
  subject_id: string;
  status: CustomerPortalSession["status"];
  portal_session_id: string | null;
  url: string | null;
  return_url: string | null;
  configuration_id: string | null;
  created_at: Date;
}

export async function createCustomerPortalSession(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  const start = await startSession<PortalRow>(
    deps,
    request,
    environment,
    (tx, body) =>
      tx<PortalRow[]>`
      select * from payments.create_customer_portal_session(${environment}, ${
        tx.json(body as never)
      })`,
  );
  const stripe = start.stripe;
  let row = start.row;

  const portalId = row.id;
  try {
    const session = await callStripe(
      "create the Billing Portal session",
      () =>
        stripe.billingPortal.sessions.create(
          {
            customer: row.customer_id,
            ...(row.return_url ? { return_url: row.return_url } : {}),
            ...(row.configuration_id ? { configuration: row.configuration_id } : {}),
          },
          { idempotencyKey: `payments-portal-${portalId}` },
        ),
    );
    [row] = await mapDatabaseErrors(deps.sql<PortalRow[]>`
      select * from payments.record_customer_portal_session_result(${portalId}, ${
      deps.sql.json(session as never)
    })`);
  } catch (error) {
    // Unlike a checkout row, a portal row is never retried (each request makes its own), so any
    // Stripe failure, certain or not, ends it.
    if (
      error instanceof PaymentsError &&
      (error.code === "stripe_error" || error.code === "stripe_timeout")
    ) {
      await mapDatabaseErrors(
        deps
          .sql`select payments.record_customer_portal_session_failure(${portalId}, ${error.message})`,
      );
    }
    throw error;
  }

  return json(
    201,
    {
      customerPortalSession: {
        id: row.id,
        portalSessionId: row.portal_session_id,
        url: row.url,
        status: row.status,
        subject: { type: row.subject_type, id: row.subject_id },
        customerId: row.customer_id,
        returnUrl: row.return_url,
        createdAt: row.created_at.toISOString(),
      },
    } satisfies CustomerPortalSessionResponse,
  );
}
