// Request bodies: read within a size cap and parsed as JSON objects here; what their fields may
// hold is decided by the database (payments.validate_session_request, which the session
// functions call).
import { PaymentsError } from "./errors.ts";

/** User and admin requests are small JSON objects; 64 KiB leaves ample room. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Deeper than any request needs, and far within what PostgreSQL's jsonb parser accepts. */
const MAX_JSON_DEPTH = 32;

export async function readJson(request: Request): Promise<Record<string, unknown>> {
  const text = await readCapped(request, MAX_BODY_BYTES);
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
  checkValues(body, 1);
  return body as Record<string, unknown>;
}

/**
 * What PostgreSQL cannot store refused here, rather than failing later in the database: NUL in
 * text, a lone UTF-16 surrogate (`"\ud800"` is valid JSON, but not Unicode), deep nesting.
 */
function checkValues(value: unknown, depth: number): void {
  if (typeof value === "string") return checkText(value);
  if (typeof value !== "object" || value === null) return;
  if (depth > MAX_JSON_DEPTH) {
    throw new PaymentsError(
      400,
      "invalid_request",
      `The request body is nested more than ${MAX_JSON_DEPTH} levels deep.`,
    );
  }
  for (const [key, entry] of Object.entries(value)) {
    checkText(key);
    checkValues(entry, depth + 1);
  }
}

function checkText(text: string): void {
  if (text.includes("\0")) {
    throw new PaymentsError(
      400,
      "invalid_request",
      "The request body must not contain NUL (\\u0000) characters.",
    );
  }
  if (!text.isWellFormed()) {
    throw new PaymentsError(
      400,
      "invalid_request",
      "The request body must not contain lone UTF-16 surrogates (such as \\ud800).",
    );
  }
}

/**
 * The raw body, read no further than `limit` bytes: a declared length over it is refused
 * before reading, and a chunked body that declares none is cut off at the limit.
 */
export async function readCapped(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

function tooLarge(limit: number): PaymentsError {
  const size = limit >= 1024 * 1024 ? `${limit / (1024 * 1024)} MiB` : `${limit / 1024} KiB`;
  return new PaymentsError(413, "payload_too_large", `Request bodies are limited to ${size}.`);
}
