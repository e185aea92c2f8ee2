// What the handlers need from the outside world, injected so tests can build them directly.
import type { JwtKeys } from "./auth.ts";
import type { Sql } from "./db.ts";
import type { StripeFactory } from "./stripe.ts";

export interface Deps {
  sql: Sql;
  jwt: JwtKeys;
  stripe: StripeFactory;
  /** Where Stripe reaches this function; the managed webhook endpoint is built from it. */
  publicUrl?: string;
  log: (message: string) => void;
}
