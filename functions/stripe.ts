// The Stripe SDK, configured for the edge runtime (optionally pointed at a local emulator), and
// the client for an environment built from its stored secret key.
import Stripe from "stripe";
import { mapDatabaseErrors } from "./db.ts";
import type { Deps, StripeFactory } from "./deps.ts";
import { PaymentsError } from "./errors.ts";
import type { Environment } from "./wire.ts";

export type { Environment, Stripe };

export const STRIPE_API_VERSION = Stripe.API_VERSION;

/** `apiBase` (STRIPE_API_BASE) sends every call to another server, such as the local emulator. */
export function stripeFactory(apiBase?: string): StripeFactory {
  const target = apiBase ? new URL(apiBase) : undefined;
  return (secretKey) =>
    new Stripe(secretKey, {
      httpClient: Stripe.createFetchHttpClient(),
      // POSTs always carry an Idempotency-Key (the SDK adds one when we do not), so retrying is safe.
      maxNetworkRetries: 2,
      timeout: 20_000,
      appInfo: { name: "payments-postgres" },
      ...(target
        ? {
          host: target.hostname,
          port: Number(target.port || (target.protocol === "https:" ? 443 : 80)),
          protocol: target.protocol === "https:" ? "https" : "http",
        }
        : {}),
    });
}

/** Secret keys must belong to the path's mode: sk_test_/rk_test_ for test, sk_live_/rk_live_ for live. */
export function checkSecretKey(environment: Environment, key: unknown): string {
  if (typeof key !== "string" || key.trim() === "") {
    throw new PaymentsError(
      400,
      "validation_failed",
      "secretKey: a Stripe secret key is required.",
      {
        details: { fields: [{ field: "secretKey", message: "is required" }] },
      },
    );
  }
  if (new RegExp(`^(sk|rk)_${environment}_`).test(key.trim()) && key.trim().length < 16) {
    const message = "is too short to be a Stripe key";
    throw new PaymentsError(400, "validation_failed", `secretKey: ${message}.`, {
      details: { fields: [{ field: "secretKey", message }] },
    });
  }
  const pattern = new RegExp(`^(sk|rk)_${environment}_[A-Za-z0-9_]{8,}$`);
  if (!pattern.test(key.trim())) {
    const message =
      `must be a ${environment}-mode secret or restricted key (sk_${environment}_... or rk_${environment}_...)`;
    throw new PaymentsError(400, "validation_failed", `secretKey: ${message}.`, {
      details: { fields: [{ field: "secretKey", message }] },
    });
  }
  return key.trim();
}

/** Stripe's own message for a failed call, without anything that could carry a secret. */
export function stripeFailure(error: unknown, doing: string): PaymentsError {
  if (error instanceof Stripe.errors.StripeError) {
    return new PaymentsError(502, "stripe_error", `Stripe refused to ${doing}: ${error.message}`, {
      details: {
        type: error.rawType ?? error.type,
        code: error.code,
        param: error.param,
        statusCode: error.statusCode,
      },
      cause: error,
    });
  }
  return new PaymentsError(502, "stripe_error", `Stripe could not be reached to ${doing}.`, {
    cause: error,
  });
}

/** Runs one Stripe call, turning any failure into a 502 that carries Stripe's message. */
export async function callStripe<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw stripeFailure(error, doing);
  }
}

/** A Stripe client holding the environment's stored secret key. */
export async function stripeFor(deps: Deps, environment: Environment): Promise<Stripe> {
  const [row] = await mapDatabaseErrors(
    deps.sql`select payments_private.get_provider_secret(${environment}, 'secret_key') as key`,
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
