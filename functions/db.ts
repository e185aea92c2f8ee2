// Database access: short transactions, run as the calling user (RLS applies) or as the server.
import postgres from "postgres";
import type { Claims } from "./auth.ts";
import { type FieldError, PaymentsError } from "./errors.ts";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

/** How long one database call may take before the caller gets 503 (PAYMENTS_DATABASE_TIMEOUT_MS). */
export const DEFAULT_DATABASE_TIMEOUT_MS = 4_000;

/** The pool behind a `connect()` handle: its time bound, and a way to replace a wedged pool. */
interface Pool {
  timeoutMs: number;
  recycle(): void;
}

// Queries (and handles) remember their pool, so that `mapDatabaseErrors(sql`...`)` can bound the
// call and heal the pool without every caller passing it along.
const pools = new WeakMap<object, Pool>();

/**
 * A database handle that heals itself. postgres.js 3.4.9 can leave queries unsettled when the
 * server dies, and its pool keeps waiting on them after the server is back; so a call that times
 * out or loses its connection swaps in a fresh pool (at most once a second) and lets the old one
 * drain.
 */
export function connect(url: string, options: { max?: number; timeoutMs?: number } = {}): Sql {
  survivePostgresWriteAfterClose();
  const open = () =>
    postgres(url, {
      // Prepared statements save a parse and plan per query, but Supabase's transaction pooler
      // (port 6543) cannot keep them across transactions.
      prepare: new URL(url).port !== "6543",
      // Small per instance: Supabase runs many instances, and each connection is a database process.
      max: options.max ?? 4,
      // Connections are cheap to re-open; idle ones would pin database slots across many instances.
      idle_timeout: 20,
      connect_timeout: 5,
      onnotice: () => {},
      connection: { application_name: "payments-function" },
    });
  let current = open();
  let openedAt = Date.now();
  const pool: Pool = {
    timeoutMs: options.timeoutMs ?? DEFAULT_DATABASE_TIMEOUT_MS,
    recycle() {
      if (Date.now() - openedAt < 1_000) return;
      const old = current;
      current = open();
      openedAt = Date.now();
      // Queries still running on a live server get a few seconds to finish.
      old.end({ timeout: 5 }).catch(() => {});
    },
  };
  const sql = new Proxy(() => {}, {
    apply(_target, _this, args) {
      const query = Reflect.apply(current as never, undefined, args);
      if (typeof query === "object" && query !== null) pools.set(query, pool);
      return query;
    },
    get(_target, property) {
      const value = Reflect.get(current, property, current);
      return typeof value === "function" ? value.bind(current) : value;
    },
  }) as unknown as Sql;
  pools.set(sql, pool);
  return sql;
}

let surviving = false;

/**
 * postgres.js 3.4.9 can schedule a write on a connection whose socket closes before the write
 * runs (seen when the server dies under load); the TypeError it throws from that timer would end
 * the whole function. The query it belonged to is bounded by `mapDatabaseErrors` like any other.
 */
function survivePostgresWriteAfterClose(): void {
  if (surviving) return;
  surviving = true;
  globalThis.addEventListener("error", (event) => {
    const { message = "", stack = "" } = (event.error ?? {}) as {
      message?: string;
      stack?: string;
    };
    if (
      event.error instanceof TypeError && message.includes("reading 'write'") &&
      /\bnextWrite\b/.test(stack) && /postgres\b.*connection\.js/.test(stack)
    ) {
      event.preventDefault();
    }
  });
}

/**
 * Runs `fn` in a transaction as the user: the same role and claims PostgREST would set, so the
 * app's RLS policies decide exactly as they do for its own queries.
 */
export function asUser<T>(sql: Sql, claims: Claims, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return mapDatabaseErrors(
    sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true),
                    set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
      return await fn(tx);
    }) as Promise<T>,
    { pool: pools.get(sql) },
  );
}

/** Runs `fn` in a transaction as the connection's own role, bounded like any other call. */
export function inTransaction<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return mapDatabaseErrors(sql.begin(fn) as Promise<T>, { pool: pools.get(sql) });
}

const DATABASE_TIMEOUT = "DATABASE_TIMEOUT";

const CONNECTION_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "EPIPE",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  DATABASE_TIMEOUT,
  "08000", // connection exception
  "08001", // could not establish a connection
  "08003", // connection does not exist
  "08004", // server rejected the connection
  "08006", // connection failure
  "57P01", // admin shutdown
  "57P02", // crash shutdown
  "57P03", // cannot connect now
  "57P05", // idle session timeout
  "53300", // too many connections
]);

/**
 * Awaits a database call (run as the connection's own role unless inside `asUser`), bounded in
 * time, turning the SQLSTATEs the payments functions raise into HTTP errors; other errors pass
 * through. A call that outlives its bound, or loses its connection, answers 503.
 */
export async function mapDatabaseErrors<T>(
  run: Promise<T>,
  options: { timeoutMs?: number; pool?: Pool } = {},
): Promise<T> {
  const pool = options.pool ?? pools.get(run);
  const timeoutMs = options.timeoutMs ?? pool?.timeoutMs ?? DEFAULT_DATABASE_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: DATABASE_TIMEOUT }),
      );
    }, timeoutMs);
  });
  // An abandoned call may still fail later; nobody is listening by then.
  run.catch(() => {});
  try {
    return await Promise.race([run, timeout]);
  } catch (error) {
    const mapped = toPaymentsError(error);
    if (mapped instanceof PaymentsError && mapped.code === "database_unavailable") pool?.recycle();
    throw mapped;
  } finally {
    clearTimeout(timer);
  }
}

export function toPaymentsError(error: unknown): unknown {
  if (error instanceof PaymentsError) return error;
  const code = (error as { code?: string })?.code;
  const message = (error as { message?: string })?.message ?? "";
  const details = (error as { hint?: string })?.hint
    ? { hint: (error as { hint: string }).hint }
    : undefined;
  switch (code) {
    case "PT400":
    case "22023":
    case "22P02": // invalid text representation, such as a lone surrogate in JSON
    case "22P05": // untranslatable character, such as NUL in text
    case "22021": { // invalid byte sequence
      // The request rules list every invalid field in DETAIL (see payments_private.raise_invalid).
      const fields = fieldErrors((error as { detail?: string }).detail);
      return new PaymentsError(400, "validation_failed", message, {
        details: fields ? { fields, ...details } : details,
        cause: error,
      });
    }
    case "42501":
      return new PaymentsError(
        403,
        "forbidden",
        "Row level security refused this request for the given subject.",
        { cause: error },
      );
    case "PT404":
      return new PaymentsError(404, "not_found", message, { details, cause: error });
    case "PT409":
      return new PaymentsError(409, "idempotency_conflict", message, { details, cause: error });
    case "PT429": { // payments.check_session_rate: DETAIL is {"retryAfter": seconds}
      const retryAfter = Number(retryAfterSeconds((error as { detail?: string }).detail) ?? 60);
      return new PaymentsError(429, "rate_limited", message, {
        details: { retryAfter },
        headers: { "retry-after": String(retryAfter) },
        cause: error,
      });
    }
  }
  if (code && CONNECTION_ERRORS.has(code)) {
    return new PaymentsError(503, "database_unavailable", "The database is not reachable.", {
      cause: error,
    });
  }
  return error;
}

function retryAfterSeconds(detail: string | undefined): number | undefined {
  try {
    const seconds = JSON.parse(detail ?? "null")?.retryAfter;
    return Number.isInteger(seconds) && seconds > 0 ? seconds : undefined;
  } catch {
    return undefined;
  }
}

function fieldErrors(detail: string | undefined): FieldError[] | undefined {
  if (!detail) return undefined;
  try {
    const parsed = JSON.parse(detail);
    return Array.isArray(parsed) ? parsed as FieldError[] : undefined;
  } catch {
    return undefined;
  }
}
