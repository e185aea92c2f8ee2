// Database access: short transactions, run as the calling user (RLS applies) or as the server.
import postgres from "postgres";
import type { Claims } from "./auth.ts";
import { type FieldError, PaymentsError } from "./errors.ts";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

export function connect(url: string, options: { max?: number } = {}): Sql {
  return postgres(url, {
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
}

/**
 * Runs `fn` in a transaction as the user: the same role and claims PostgREST would set, so the
 * app's RLS policies decide exactly as they do for its own queries.
 */
export function asUser<T>(sql: Sql, claims: Claims, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return mapDatabaseErrors(sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true),
                    set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
    return await fn(tx);
  }) as Promise<T>);
}

const CONNECTION_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin shutdown
  "57P03", // cannot connect now
  "53300", // too many connections
]);

/**
 * Awaits a database call (run as the connection's own role unless inside `asUser`), turning the
 * SQLSTATEs the payments functions raise into HTTP errors; other errors pass through.
 */
export async function mapDatabaseErrors<T>(run: Promise<T>): Promise<T> {
  try {
    return await run;
  } catch (error) {
    throw toPaymentsError(error);
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
