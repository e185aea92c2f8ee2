// The start both session routes share: the calling user, the JSON body, the environment's
// Stripe client, and the session row the database validated and the caller's RLS allowed.
import { authenticate } from "./auth.ts";
import { readJson } from "./body.ts";
import { asUser, type Tx } from "./db.ts";
import type { Deps } from "./deps.ts";
import { type Environment, type Stripe, stripeFor } from "./stripe.ts";

export async function startSession<Row>(
  deps: Deps,
  request: Request,
  environment: Environment,
  /** Runs the payments function that creates the row, as the user. */
  create: (tx: Tx, body: Record<string, unknown>) => Promise<Row[]>,
): Promise<{ row: Row; stripe: Stripe }> {
  const claims = await authenticate(request, deps.auth, "authenticated");
  const body = await readJson(request);
  // Refuse before writing anything when Stripe is not configured for this environment.
  const stripe = await stripeFor(deps, environment);
  const [row] = await asUser(deps.sql, claims, (tx) => create(tx, body));
  return { row, stripe };
}
