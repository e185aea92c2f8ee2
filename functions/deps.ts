// What the handlers need from the outside world, injected so tests can build them directly.
// This module imports types only, from modules that do not import it back.
import type Stripe from "stripe";
import type { AuthKeys } from "./auth.ts";
import type { Sql } from "./db.ts";

/** Builds a Stripe client for a secret key (pointed at the emulator in tests). */
export type StripeFactory = (secretKey: string) => Stripe;

export interface Deps {
  sql: Sql;
  auth: AuthKeys;
  stripe: StripeFactory;
  /** Where Stripe reaches this function; the managed webhook endpoint is built from it. */
  publicUrl?: string;
  log: (message: string) => void;
  /** The clock: the function reads the time only from here. */
  now: () => Date;
}
