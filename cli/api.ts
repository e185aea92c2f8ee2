// The admin HTTP API as the CLI sees it: one request helper that turns every failure into a
// single readable line, and never puts the service role key into a message.

/** A failure to report as one line (`pgpayments: <message>`) with exit code 1. */
export class CliError extends Error {
  constructor(message: string, readonly body?: unknown) {
    super(message);
    this.name = "CliError";
  }
}

export interface Api {
  /** What the user gave as the project URL, for messages. */
  origin: string;
  /** `${origin}/functions/v1/<function>` */
  base: string;
  serviceRoleKey: string;
}

export function apiFrom(url: string, serviceRoleKey: string, functionName: string): Api {
  let parsed: URL;
  try {
    parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("scheme");
  } catch {
    throw new CliError(`'${url}' is not an http(s) URL.`);
  }
  const origin = url.replace(/\/+$/, "");
  // A URL that already points at the function is accepted as it is.
  const base = /\/functions\/v1\/[^/]+$/.test(parsed.pathname.replace(/\/+$/, ""))
    ? origin
    : `${origin}/functions/v1/${functionName}`;
  return { origin, base, serviceRoleKey };
}

/** Sends one request; resolves only for 2xx answers, throws CliError for everything else. */
export async function send(
  api: Api,
  method: string,
  path: string,
  options: { body?: unknown; accept?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${api.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${api.serviceRoleKey}`,
        apikey: api.serviceRoleKey,
        accept: options.accept ?? "application/json",
        ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch (error) {
    throw new CliError(`cannot reach ${api.origin} (${reason(error)}). Is the stack running?`);
  }
  if (response.ok) return response;

  const text = await response.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const answer = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (answer && typeof answer.message === "string") {
    const code = typeof answer.code === "string" ? `, ${answer.code}` : "";
    const hint = response.status === 401 || (response.status === 403 && answer.code === "forbidden")
      ? " Check --secret-key or SUPABASE_SECRET_KEY."
      : "";
    const message = oneLine(answer.message).replace(/\.$/, "");
    throw new CliError(`${message} (HTTP ${response.status}${code}).${hint}`, body);
  }
  throw new CliError(
    `${api.base}${path} answered HTTP ${response.status}${
      text ? `: ${oneLine(text).slice(0, 120)}` : ""
    } (is this the payments function?)`,
    body,
  );
}

/** Parses a 2xx JSON answer. */
export async function readJson<T>(response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CliError(
      `the server answered with something that is not JSON: ${oneLine(text).slice(0, 120)}`,
    );
  }
}

/** Yields each non-empty line of an NDJSON body as it arrives. */
export async function* ndjsonLines(response: Response): AsyncGenerator<string> {
  if (!response.body) return;
  let buffer = "";
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (true) {
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new CliError(`the connection broke during the request (${reason(error)}).`);
      }
      if (chunk.done) break;
      buffer += chunk.value;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) yield line;
      }
    }
    if (buffer.trim()) yield buffer.trim();
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** A short reason for a network failure: "connection refused", "host not found", ... */
export function reason(error: unknown): string {
  const message = error instanceof Error
    ? `${error.message} ${error.cause instanceof Error ? error.cause.message : ""}`
    : String(error);
  if (/connection refused|ECONNREFUSED/i.test(message)) return "connection refused";
  if (/dns|lookup|name or service not known|ENOTFOUND|failed to resolve/i.test(message)) {
    return "host not found";
  }
  if (/timed? ?out/i.test(message)) return "timed out";
  if (/reset|ECONNRESET/i.test(message)) return "connection reset";
  if (/certificate|tls|ssl/i.test(message)) return "TLS failed";
  return oneLine(message).slice(0, 120);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
