// What the handlers need from the outside world, injected so tests can build them directly.
// This module imports types only, from modules that do not import it back.
import type Stripe from "stripe";
import type { AuthKeys } from "./auth.ts";
import type { Sql } from "./db.ts";
import type { Environment } from "./wire.ts";

/** The deployment's guards on the user routes that create sessions. */
export interface SessionGuards {
  /** Environments the user routes accept (admin routes reach both). */
  userEnvironments: Environment[];
  /** Origins redirect URLs may point to; empty accepts any http(s) URL. */
  redirectOrigins: string[];
  /** Stripe session attempts (new sessions and restarts) a user may make a minute; 0: no cap. */
  sessionsPerMinute: number;
  /** Billing Portal configurations (bpc_...) users may choose; empty refuses configurationId. */
  portalConfigurations: string[];
}

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
  /** Absent: DEFAULT_SESSION_GUARDS (functions/config.ts). */
  sessionGuards?: SessionGuards;
}

/**
 * An operator route under /stripe/{environment}/ (functions/operator_routes.ts lists them): the
 * environment is checked, the id path segment decoded and the service role authenticated before
 * it runs. Declared here, not beside the list, so the route modules need not import the list.
 */
export type OperatorRoute = (
  deps: Deps,
  request: Request,
  environment: Environment,
  id: string,
) => Promise<Response>;
