/** Stripe's error shape and the few ways the emulator raises it. */

export type StripeErrorType =
  | "api_error"
  | "card_error"
  | "idempotency_error"
  | "invalid_request_error";

export class StripeError extends Error {
  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    message: string,
    readonly code?: string,
    readonly param?: string,
    /** More of Stripe's error fields: `decline_code`, `payment_intent`, ... */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "StripeError";
  }

  toJSON(): { error: Record<string, unknown> } {
    const error: Record<string, unknown> = {
      type: this.type,
      message: this.message,
      ...this.extra,
    };
    if (this.code) {
      error.code = this.code;
      error.doc_url = `https://stripe.com/docs/error-codes/${this.code.replaceAll("_", "-")}`;
    }
    if (this.param) error.param = this.param;
    return { error };
  }
}

export function invalidRequest(message: string, param?: string, code?: string): StripeError {
  return new StripeError(400, "invalid_request_error", message, code, param);
}

export function missingParam(param: string): StripeError {
  return invalidRequest(`Missing required param: ${param}.`, param, "parameter_missing");
}

export function noSuch(kind: string, id: string, param = "id"): StripeError {
  return new StripeError(
    404,
    "invalid_request_error",
    `No such ${kind}: '${id}'`,
    "resource_missing",
    param,
  );
}

/** `value` when the table had it; Stripe's 404 for the `kind` with `id` otherwise. */
export function orNoSuch<T>(value: T | undefined, kind: string, id: string, param = "id"): T {
  if (value === undefined) throw noSuch(kind, id, param);
  return value;
}
