// The admin API from the browser. The deployment's URL and secret key live in this tab's
// sessionStorage only, and go nowhere but to that deployment.
//
// Answer shapes: functions/wire.ts (Page, WebhookEventSummary, Transaction, ...).

const CONNECTION = "pgpayments.connection";
const ENVIRONMENT = "pgpayments.environment";

export class ApiError extends Error {
  constructor(message, status, code, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** The project URL (or the function's own URL) → the function's base URL. */
export function functionsBase(url) {
  const parsed = new URL(url);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(`'${url}' is not an http(s) URL.`);
  }
  const trimmed = url.replace(/\/+$/, "");
  return /\/functions\/v1\/[^/]+$/.test(parsed.pathname.replace(/\/+$/, ""))
    ? trimmed
    : `${trimmed}/functions/v1/payments`;
}

/** {apiUrl, secretKey} of this tab, or null before the operator connects. */
export function connection() {
  try {
    return JSON.parse(sessionStorage.getItem(CONNECTION) ?? "null");
  } catch {
    return null;
  }
}

export function saveConnection(apiUrl, secretKey) {
  sessionStorage.setItem(CONNECTION, JSON.stringify({ apiUrl: functionsBase(apiUrl), secretKey }));
}

export function forgetConnection() {
  sessionStorage.removeItem(CONNECTION);
}

export function environment() {
  return sessionStorage.getItem(ENVIRONMENT) === "live" ? "live" : "test";
}

export function setEnvironment(value) {
  sessionStorage.setItem(ENVIRONMENT, value === "live" ? "live" : "test");
}

/**
 * One call to the admin API. Resolves to the parsed JSON (or the Response when `stream`), throws
 * ApiError with the server's message for every answer that is not 2xx. `idempotencyKey` goes as
 * the Idempotency-Key header of a create.
 */
export async function call(method, path, { body, query, stream = false, idempotencyKey } = {}) {
  const current = connection();
  if (!current) throw new ApiError("Not connected to a deployment.", 0, "not_connected");
  const url = new URL(`${current.apiUrl}${path}`);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${current.secretKey}`,
        apikey: current.secretKey,
        accept: stream ? "application/x-ndjson" : "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(`Cannot reach ${new URL(current.apiUrl).origin}.`, 0, "unreachable");
  }
  if (stream && response.ok) return response;
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const error = json?.error;
    throw new ApiError(
      error?.message ?? `${method} ${path} answered HTTP ${response.status}.`,
      response.status,
      error?.code,
      json,
    );
  }
  if (json === undefined) {
    throw new ApiError(`${method} ${path} did not answer JSON.`, 0, "bad_json");
  }
  return json;
}

/** The path of an environment's route: env("/webhook-events") → /stripe/test/webhook-events */
export function env(path) {
  return `/stripe/${environment()}${path}`;
}

/** Yields each JSON line of a streamed answer as it arrives. */
export async function* ndjson(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) yield JSON.parse(line);
    }
  }
  if (buffer.trim()) yield JSON.parse(buffer);
}
