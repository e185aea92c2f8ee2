// A local stack per test file, in a database of its own so files cannot see each other's rows.
import postgres from "postgres";
import { createHandler } from "../../functions/handler.ts";
import { type Stack, type StackOptions, startStack } from "../../scripts/stack.ts";

export type { Stack };

/**
 * Under `npm test`, TEST_ADMIN_DATABASE_URL points at the test server: a fresh database is
 * created there and dropped afterwards. Run alone (`deno test`), a throwaway cluster is started.
 */
export async function withStack(
  options: StackOptions,
  fn: (stack: Stack) => Promise<void>,
): Promise<void> {
  const admin = Deno.env.get("TEST_ADMIN_DATABASE_URL");
  let databaseUrl: string | undefined;
  let drop = async () => {};
  if (admin) {
    const name = `payments_t_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const server = postgres(admin, { max: 1, onnotice: () => {} });
    await server.unsafe(`create database ${name}`);
    const url = new URL(admin);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    drop = async () => {
      await server.unsafe(`drop database if exists ${name} with (force)`);
      await server.end();
    };
  }
  let stack: Stack | undefined;
  try {
    stack = await startStack({
      webhookRetryDelaysMs: [50, 100],
      // Unexpected errors inside the function reach the test output, not a void.
      log: (line) => console.error(`[stack] ${line}`),
      ...options,
      databaseUrl,
    });
    await fn(stack);
  } finally {
    await stack?.stop();
    await drop();
  }
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Calls the function over HTTP and returns status and parsed JSON body. */
export async function call(
  stack: Pick<Stack, "functionsUrl">,
  method: string,
  path: string,
  options: CallOptions = {},
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${stack.functionsUrl}${path}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
    body: options.body === undefined
      ? undefined
      : typeof options.body === "string"
      ? options.body
      : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body };
}

/** How many rows `table` (schema-qualified: "payments.webhook_events") holds. */
export async function rowCount(stack: Pick<Stack, "sql">, table: string): Promise<number> {
  const [{ count }] = await stack.sql`select count(*)::int as count from ${stack.sql(table)}`;
  return count;
}

/**
 * POSTs to the stack's handler a body of `chunks` times `chunk` that declares no length, and
 * answers the status and how many chunks the handler pulled before it answered.
 */
export async function postStreamed(
  stack: Stack,
  path: string,
  headers: Record<string, string>,
  chunk: Uint8Array,
  chunks: number,
): Promise<{ status: number; pulled: number }> {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled++ < chunks) controller.enqueue(chunk);
      else controller.close();
    },
  });
  const response = await createHandler(stack.deps)(
    new Request(`${stack.functionsUrl}${path}`, { method: "POST", headers, body }),
  );
  await response.body?.cancel();
  return { status: response.status, pulled };
}

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false | null>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value !== undefined && value !== false && value !== null) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
