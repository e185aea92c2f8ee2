// The client SDK's own declarations. mod.ts types index.js with them in this repository; the
// packed package ships them in one self-contained index.d.ts, which scripts/client_types.ts
// writes from this file and functions/wire.ts when the package is packed.
import type {
  CheckoutSessionParams,
  CheckoutSessionResponse,
  CustomerPortalSessionParams,
  CustomerPortalSessionResponse,
  Environment,
} from "../functions/wire.ts";

/** Every call resolves to this; it never throws for HTTP or network errors. */
export type PaymentsResult<T> =
  | { data: T; error: null }
  | { data: null; error: PaymentsError };

/** Per-call options passed through to `functions.invoke`. */
export interface RequestOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export interface PaymentsClientOptions {
  /** The deployed edge function's name; defaults to `payments`. */
  functionName?: string;
}

/**
 * The part of a `SupabaseClient` this SDK uses. Any client from `createClient` fits; its
 * session (or the `Authorization` header it was given) is the caller's identity.
 */
export interface SupabaseClientLike {
  functions: {
    invoke(
      functionName: string,
      options?: {
        method?: "POST" | "GET" | "PUT" | "PATCH" | "DELETE";
        body?: unknown;
        headers?: Record<string, string>;
        signal?: AbortSignal;
      },
    ): Promise<{ data: unknown; error: unknown }>;
  };
}

/**
 * The server's answer to a failed call, or a network failure.
 * - `statusCode`: the HTTP status (400, 401, 403, 404, 409, 502, 503, ...); 0 when no answer
 *   arrived (`code` is then `network_error`).
 * - `code`: the server's error code (`validation_failed`, `unauthorized`, `forbidden`,
 *   `not_found`, `idempotency_conflict`, `stripe_error`, ...).
 * - `details`: the server's details, such as `{ fields: [{ field, message }] }`.
 */
export declare class PaymentsError extends Error {
  constructor(
    message: string,
    init: { statusCode: number; code: string; details?: unknown; cause?: unknown },
  );
  readonly name: "PaymentsError";
  readonly statusCode: number;
  readonly code: string;
  readonly details: unknown;
}

export interface PaymentsClient {
  stripe: {
    /** `POST /stripe/{environment}/checkout-sessions`, as the signed-in user (RLS decides). */
    createCheckoutSession(
      environment: Environment,
      params: CheckoutSessionParams,
      request?: RequestOptions,
    ): Promise<PaymentsResult<CheckoutSessionResponse>>;
    /** `POST /stripe/{environment}/customer-portal-sessions`; 404 when the subject has no customer. */
    createCustomerPortalSession(
      environment: Environment,
      params: CustomerPortalSessionParams,
      request?: RequestOptions,
    ): Promise<PaymentsResult<CustomerPortalSessionResponse>>;
  };
}

export declare function createPaymentsClient(
  supabase: SupabaseClientLike,
  options?: PaymentsClientOptions,
): PaymentsClient;
