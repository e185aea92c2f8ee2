// The start both session routes share: the calling user, the JSON body, the environment's
// Stripe client, and the session row the database validated and the caller's RLS allowed.
import { authenticate } from "./auth.ts";
import { readJson } from "./body.ts";
import { DEFAULT_SESSION_GUARDS } from "./config.ts";
import { asUser, type Tx } from "./db.ts";
import type { Deps, SessionGuards } from "./deps.ts";
import { PaymentsError } from "./errors.ts";
import { type Environment, type Stripe, stripeFor } from "./stripe.ts";

export async function startSession<Row>(
  deps: Deps,
  request: Request,
  environment: Environment,
  /** Runs the payments function that creates the row, as the user. */
  create: (tx: Tx, body: Record<string, unknown>) => Promise<Row[]>,
): Promise<{ row: Row; stripe: Stripe }> {
  const claims = await authenticate(request, deps.auth, "authenticated");
  const guards = deps.sessionGuards ?? DEFAULT_SESSION_GUARDS;
  if (!guards.userEnvironments.includes(environment)) {
    // Without it any signed-in user could pay with a test card on a production deployment.
    throw new PaymentsError(
      403,
      "forbidden",
      `This deployment does not accept ${environment}-mode sessions from users; it accepts ${
        guards.userEnvironments.join(" and ")
      }.`,
    );
  }
  const body = await readJson(request);
  // Refuse before writing anything when Stripe is not configured for this environment.
  const stripe = await stripeFor(deps, environment);
  const [row] = await asUser(deps.sql, claims, async (tx) => {
    await applySessionGuards(tx, guards);
    return await create(tx, body);
  });
  return { row, stripe };
}

/** The session rules in SQL read the deployment's settings from these, for this transaction. */
export async function applySessionGuards(tx: Tx, guards: SessionGuards): Promise<void> {
  const origins = guards.redirectOrigins.join(",");
  const perMinute = String(guards.sessionsPerMinute);
  const configurations = guards.portalConfigurations.join(",");
  await tx`select set_config('payments.redirect_origins', ${origins}, true),
                  set_config('payments.sessions_per_minute', ${perMinute}, true),
                  set_config('payments.portal_configurations', ${configurations}, true)`;
}
