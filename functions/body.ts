// Request bodies: parsed as JSON objects here; what their fields may hold is decided by the
// database (payments.validate_session_request, which the session functions call).
import { PaymentsError } from "./errors.ts";

export async function readJson(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new PaymentsError(400, "invalid_request", "The request body is not valid JSON.");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new PaymentsError(400, "invalid_request", "The request body must be a JSON object.");
  }
  // PostgreSQL text cannot hold NUL; refuse it here rather than fail later in the database.
  if (containsNul(body)) {
    throw new PaymentsError(
      400,
      "invalid_request",
      "The request body must not contain NUL (\\u0000) characters.",
    );
  }
  return body as Record<string, unknown>;
}

function containsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\0");
  if (typeof value !== "object" || value === null) return false;
  return Object.entries(value).some(([key, entry]) => key.includes("\0") || containsNul(entry));
}
