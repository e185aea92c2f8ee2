// The Stripe SDK, configured for the edge runtime (optionally pointed at a local emulator), and
// the client for an environment built from its stored secret key.
import { AsyncLocalStorage } from "node:async_hooks";
import Stripe from "stripe";
import { mapDatabaseErrors } from "./db.ts";
import type { Deps, StripeFactory } from "./deps.ts";
import { PaymentsError } from "./errors.ts";
import type { Environment } from "./wire.ts";

export type { Environment, Stripe };

export const STRIPE_API_VERSION = Stripe.API_VERSION;

/** How long one Stripe call may take in all, retries included (PAYMENTS_STRIPE_TIMEOUT_MS). */
export const DEFAULT_STRIPE_TIMEOUT_MS = 10_000;

/** One `withinStripeBudget` run: the SDK's requests and retries inside it share one budget. */
interface Call {
  startedAt: number;
  /** Aborts every request of the call, the body reads included. */
  abort: AbortController;
  /** Set by the first request, which knows the client's budget. */
  deadline?: ReturnType<typeof setTimeout>;
  /** Ends the call at once when its budget is spent, instead of after the SDK's retries. */
  expire(error: Error): void;
}
const calls = new AsyncLocalStorage<Call>();

/** The budget of a Stripe call ran out: Stripe may still carry the request out. */
class StripeBudgetSpent extends Error {
  constructor(budget: number) {
    super(`Stripe did not answer within ${budget} ms.`);
    // The SDK reports an AbortError as its own timeout.
    this.name = "AbortError";
  }
}

/** `apiBase` (STRIPE_API_BASE) sends every call to another server, such as the local emulator. */
export function stripeFactory(
  apiBase?: string,
  options: { timeoutMs?: number } = {},
): StripeFactory {
  const target = apiBase ? new URL(apiBase) : undefined;
  const budget = options.timeoutMs ?? DEFAULT_STRIPE_TIMEOUT_MS;
  const fetchWithinBudget: typeof fetch = (input, init) => {
    const call = calls.getStore();
    // Outside a call each request has the SDK's own timeout, the budget.
    if (!call) return fetch(input, init);
    const left = call.startedAt + budget - Date.now();
    if (left <= 0) return Promise.reject(new StripeBudgetSpent(budget));
    call.deadline ??= setTimeout(() => call.expire(new StripeBudgetSpent(budget)), left);
    const signals = init?.signal ? [init.signal, call.abort.signal] : [call.abort.signal];
    return fetch(input, { ...init, signal: AbortSignal.any(signals) });
  };
  return (secretKey) =>
    new Stripe(secretKey, {
      httpClient: Stripe.createFetchHttpClient(fetchWithinBudget),
      // POSTs always carry an Idempotency-Key (the SDK adds one when we do not), so retrying is
      // safe; inside `callStripe` every retry draws on the same budget.
      maxNetworkRetries: 2,
      timeout: budget,
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

/**
 * Stripe's own message for a failed call, without anything that could carry a secret. A call
 * whose outcome is unknown (no answer in time, connection lost, Stripe's own 5xx, a same-key
 * request still running) is told apart by `outcomeUnknown`: Stripe may have done it, so its
 * idempotency key must be kept for the retry.
 */
export function stripeFailure(error: unknown, doing: string): PaymentsError {
  if (
    error instanceof StripeBudgetSpent ||
    (error instanceof Stripe.errors.StripeConnectionError && isTimeout(error))
  ) {
    return new PaymentsError(
      504,
      "stripe_timeout",
      `Stripe did not answer in time to ${doing}; retry with the same idempotency key.`,
      { details: { retryable: true }, cause: error },
    );
  }
  if (error instanceof Stripe.errors.StripeError && error.code === "idempotency_key_in_use") {
    return new PaymentsError(
      409,
      "request_in_progress",
      `A request to ${doing} with the same idempotency key is still in progress; retry shortly.`,
      { details: { retryable: true }, headers: { "retry-after": "1" }, cause: error },
    );
  }
  // Stripe's 400 for a key reused with other parameters: nothing was done, as for a checkout
  // session's key reused with another body.
  if (error instanceof Stripe.errors.StripeIdempotencyError) {
    return new PaymentsError(
      409,
      "idempotency_conflict",
      `The idempotency key was already used to ${doing} with other parameters; use a new key ` +
        `for a different request.`,
      { cause: error },
    );
  }
  if (
    error instanceof Stripe.errors.StripeError &&
    !(error instanceof Stripe.errors.StripeConnectionError)
  ) {
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
    details: { retryable: true },
    cause: error,
  });
}

/** True when Stripe may have carried out the failed call: retry it with the same key. */
export function outcomeUnknown(error: PaymentsError): boolean {
  if (error.code === "stripe_timeout" || error.code === "request_in_progress") return true;
  const cause = error.cause;
  if (!(cause instanceof Stripe.errors.StripeError)) return error.code === "stripe_error";
  if (cause instanceof Stripe.errors.StripeConnectionError) return true;
  // 429 was not carried out, but nothing is lost by keeping the key either.
  return cause.statusCode === undefined || cause.statusCode >= 500 || cause.statusCode === 429;
}

function isTimeout(error: InstanceType<typeof Stripe.errors.StripeConnectionError>): boolean {
  return (error.detail as { code?: string } | undefined)?.code === "ETIMEDOUT" ||
    /timeout/i.test(error.message);
}

/**
 * Runs Stripe calls (the SDK's retries included) within one time budget of the client's factory;
 * their errors pass through, a spent budget as one that `stripeFailure` answers with 504.
 */
export async function withinStripeBudget<T>(call: () => Promise<T>): Promise<T> {
  const abort = new AbortController();
  let expire: (error: Error) => void = () => {};
  const expired = new Promise<never>((_, reject) => {
    expire = (error) => {
      abort.abort(error);
      reject(error);
    };
  });
  const context: Call = { startedAt: Date.now(), abort, expire };
  const running = calls.run(context, call);
  // Once the budget is spent nobody waits for the SDK's last retries.
  running.catch(() => {});
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(context.deadline);
  }
}

/** Runs one Stripe call within the time budget; failures become 4xx/5xx (see `stripeFailure`). */
export async function callStripe<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await withinStripeBudget(call);
  } catch (error) {
    throw stripeFailure(error, doing);
  }
}

/** A Stripe client holding the environment's stored secret key. */
export async function stripeFor(deps: Deps, environment: Environment): Promise<Stripe> {
  const [row] = await mapDatabaseErrors(
    deps.sql`select payments.stripe_secret(${environment}, 'secret_key') as key`,
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
