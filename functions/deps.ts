// What the handlers need from the outside world, injected so tests can build them directly.
import type { AuthKeys } from "./auth.ts";
import type { Sql } from "./db.ts";
import type { StripeFactory } from "./stripe.ts";

export interface Deps {
  sql: Sql;
  auth: AuthKeys;
  stripe: StripeFactory;
  /** Where Stripe reaches this function; the managed webhook endpoint is built from it. */
  publicUrl?: string;
  log: (message: string) => void;
}
