/** HTTP responses: JSON bodies, Stripe errors, HTML pages and redirects. */
import { StripeError } from "./errors.ts";

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  const text = typeof body === "string" ? body : JSON.stringify(body, null, 2);
  return new Response(text, {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** Maps any thrown value to Stripe's error shape; unexpected errors become a 500 `api_error`. */
export function toStripeError(error: unknown): StripeError {
  if (error instanceof StripeError) return error;
  console.error("Stripe emulator: unexpected error", error);
  return new StripeError(500, "api_error", "An unexpected error occurred in the Stripe emulator.");
}

export function htmlResponse(status: number, html: string): Response {
  return new Response(html, {
    status,
    headers: { "content-type": "text/html; charset=utf-8" },
  });
}

/** 303 See Other: after a form POST the browser follows with a GET. */
export function redirect(location: string): Response {
  return new Response(null, { status: 303, headers: { location } });
}
