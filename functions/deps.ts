// What the handlers need from the outside world, injected so tests can build them directly.
import type { JwtKeys } from "./auth.ts";
import type { Sql } from "./db.ts";
import { asServer } from "./db.ts";
import { PaymentsError } from "./errors.ts";
import type { Environment, Stripe, StripeFactory } from "./stripe.ts";

export interface Deps {
  sql: Sql;
  jwt: JwtKeys;
  stripe: StripeFactory;
  /** Where Stripe reaches this function; the managed webhook endpoint is built from it. */
  publicUrl?: string;
  log: (message: string) => void;
}

/** A Stripe client holding the environment's stored secret key. */
export async function stripeFor(deps: Deps, environment: Environment): Promise<Stripe> {
  const [row] = await asServer(
    deps.sql`select payments.get_provider_secret(${environment}, 'secret_key') as key`,
  );
  if (!row?.key) {
    throw new PaymentsError(
      503,
      "stripe_not_configured",
      `No Stripe secret key is configured for the ${environment} environment.`,
      {
        details: {
          hint: `PUT /stripe/${environment}/config with {"secretKey": "sk_${environment}_..."}`,
        },
      },
    );
  }
  return deps.stripe(row.key);
}
