// Types of the payments client SDK (implementation: index.js).

/** A Stripe environment; both live side by side in one database. */
export type Environment = "test" | "live";

/** The app-owned billing owner: a user, team, workspace, organization, tenant or group. */
export interface Subject {
  /** Lowercase snake_case, such as `user` or `team`. */
  type: string;
  id: string;
}

export interface CheckoutLineItem {
  /** A Stripe price id (`price_...`). */
  priceId: string;
  /** 1 to 999; defaults to 1. */
  quantity?: number;
}

export interface CheckoutSessionParams {
  mode: "payment" | "subscription";
  /** Required for subscriptions; defaults to `{ type: 'user', id: <caller> }` otherwise. */
  subject?: Subject;
  lineItems: CheckoutLineItem[];
  successUrl: string;
  cancelUrl: string;
  customerEmail?: string | null;
  /** Copied to the Checkout Session (and its payment or subscription). */
  metadata?: Record<string, string>;
  /** Unique per environment and caller; a retry with the same key returns the same session. */
  idempotencyKey?: string | null;
}

export interface CheckoutSession {
  /** The row id in `payments.stripe_checkout_sessions`. */
  id: string;
  /** Stripe's `cs_...` id, once Stripe created the session. */
  checkoutSessionId: string | null;
  /** The hosted Checkout page; null unless the session is open. */
  url: string | null;
  status: "initialized" | "open" | "completed" | "expired" | "failed";
  paymentStatus: string | null;
  mode: "payment" | "subscription";
  subject: Subject;
  customerId: string | null;
  amountTotal: number | null;
  currency: string | null;
  expiresAt: string | null;
  idempotencyKey: string | null;
  createdAt: string;
}

export interface CustomerPortalSessionParams {
  /** Defaults to `{ type: 'user', id: <caller> }`. */
  subject?: Subject;
  returnUrl?: string;
  /** A Billing Portal configuration (`bpc_...`). */
  configurationId?: string;
}

export interface CustomerPortalSession {
  id: string;
  portalSessionId: string | null;
  url: string | null;
  status: "initialized" | "created" | "failed";
  subject: Subject;
  customerId: string;
  returnUrl: string | null;
  createdAt: string;
}

export interface CheckoutSessionResponse {
  checkoutSession: CheckoutSession;
}

export interface CustomerPortalSessionResponse {
  customerPortalSession: CustomerPortalSession;
}

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
