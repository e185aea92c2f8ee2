// POST /stripe/{environment}/customer-portal-sessions
import { authenticate } from "./auth.ts";
import { asServer, asUser } from "./db.ts";
import type { Deps } from "./deps.ts";
import { json, PaymentsError } from "./errors.ts";
import { callStripe, type Environment, stripeFor } from "./stripe.ts";
import { parsePortalRequest, readJson } from "./validate.ts";
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
  created_at: Date;
}

export async function createCustomerPortalSession(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  const claims = await authenticate(request, deps.auth, "authenticated");
  const body = parsePortalRequest(await readJson(request));

  // Refuse before writing anything when Stripe is not configured for this environment.
  const stripe = await stripeFor(deps, environment);
  let row = await asUser(deps.sql, claims, async (tx) => {
    const [created] = await tx<PortalRow[]>`
      select * from payments.create_customer_portal_session(${environment}, ${
      tx.json(body as never)
    })`;
    return created;
  });

  const portalId = row.id;
  try {
    const session = await callStripe(
      "create the Billing Portal session",
      () =>
        stripe.billingPortal.sessions.create(
          {
            customer: row.customer_id,
            ...(body.returnUrl ? { return_url: body.returnUrl } : {}),
            ...(body.configurationId ? { configuration: body.configurationId } : {}),
          },
          { idempotencyKey: `payments-portal-${portalId}` },
        ),
    );
    [row] = await asServer(deps.sql<PortalRow[]>`
      select * from payments.record_customer_portal_session_result(${portalId}, ${
      deps.sql.json(session as never)
    })`);
  } catch (error) {
    if (error instanceof PaymentsError && error.code === "stripe_error") {
      await asServer(
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
