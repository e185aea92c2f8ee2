// One error type for every refusal the function answers with, mapped to the JSON body in one place.
import type { ErrorBody } from "./wire.ts";

export type ErrorCode =
  | "invalid_request"
  | "validation_failed"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "idempotency_conflict"
  | "rate_limited"
  | "payload_too_large"
  | "invalid_signature"
  | "invalid_event"
  | "stripe_not_configured"
  | "webhook_not_configured"
  | "invalid_secret_key"
  | "stripe_error"
  | "stripe_timeout"
  | "request_in_progress"
  | "event_failed"
  | "database_unavailable"
  | "internal_error";

export class PaymentsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;
  /** Response headers the refusal needs, such as Retry-After. */
  readonly headers?: Record<string, string>;

  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    options: { details?: unknown; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "PaymentsError";
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.headers = options.headers;
  }
}

/** A field-level validation problem; several are reported together. */
export interface FieldError {
  field: string;
  message: string;
}

export function validationError(errors: FieldError[]): PaymentsError {
  const first = errors[0];
  const message = errors.length === 1
    ? `${first.field}: ${first.message}`
    : `${errors.length} fields are invalid; first ${first.field}: ${first.message}`;
  return new PaymentsError(400, "validation_failed", message, { details: { fields: errors } });
}

export function json(status: number, body: unknown, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/**
 * The only place errors become responses. Unknown errors are logged by the caller-supplied
 * logger and answered without their text, so no stack trace or secret reaches the caller.
 */
export function errorResponse(error: unknown, log: (message: string) => void): Response {
  const { status, body, headers } = errorAnswer(error, log);
  return json(status, body, headers);
}

/**
 * What errorResponse answers for `error` (and logs, the same way), for an answer that is not a
 * response of its own, such as the error line that ends a streamed sync.
 */
export function errorAnswer(
  error: unknown,
  log: (message: string) => void,
): { status: number; body: ErrorBody; headers?: Record<string, string> } {
  if (error instanceof PaymentsError) {
    const body: ErrorBody["error"] = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    // The caller gets a short message; the operator needs the cause of a server-side failure.
    if (error.status >= 500 && error.cause !== undefined) {
      log(`${error.code}: ${describe(error.cause)}`);
    }
    return { status: error.status, body: { error: body }, headers: error.headers };
  }
  log(`unexpected error: ${describe(error)}`);
  return {
    status: 500,
    body: {
      error: { code: "internal_error", message: "The payments function failed unexpectedly." },
    },
  };
}

/** A cause for the log: its code and message, without URLs that could carry credentials. */
function describe(cause: unknown): string {
  const { code, message } = (cause ?? {}) as { code?: string; message?: string };
  const text = (message ?? String(cause)).replace(/\b[a-z]+:\/\/[^\s]*@/gi, "<url>@");
  return code ? `${text} (${code})` : text;
}
