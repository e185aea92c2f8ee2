// Configuration read once from the environment, with Supabase's own variable names as fallbacks.
import { authKeys, canAuthenticate, type JsonWebKeySet } from "./auth.ts";
import { connect } from "./db.ts";
import type { Deps } from "./deps.ts";
import { stripeFactory } from "./stripe.ts";

type Env = { get(name: string): string | undefined };

export function depsFromEnv(env: Env = Deno.env): Deps {
  const databaseUrl = env.get("DATABASE_URL") ?? env.get("SUPABASE_DB_URL");
  const supabaseUrl = env.get("SUPABASE_URL");
  const auth = authKeys({
    secretKeys: namedKeys(env, "SUPABASE_SECRET_KEYS", "SUPABASE_SECRET_KEY"),
    publishableKeys: namedKeys(env, "SUPABASE_PUBLISHABLE_KEYS", "SUPABASE_PUBLISHABLE_KEY"),
    jwks: inlineJwks(env.get("SUPABASE_JWKS")) ?? jwksUrl(env, supabaseUrl),
    legacySecret: env.get("JWT_SECRET") ?? env.get("SUPABASE_JWT_SECRET"),
  });
  const missing = [
    databaseUrl ? null : "DATABASE_URL (or SUPABASE_DB_URL)",
    canAuthenticate(auth)
      ? null
      : "SUPABASE_SECRET_KEYS and SUPABASE_JWKS (or SUPABASE_URL, or the legacy JWT_SECRET)",
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(`The payments function needs ${missing.join(" and ")} to be set.`);
  }
  return {
    sql: connect(databaseUrl!, {
      timeoutMs: milliseconds(env, "PAYMENTS_DATABASE_TIMEOUT_MS"),
    }),
    auth,
    stripe: stripeFactory(env.get("STRIPE_API_BASE"), {
      timeoutMs: milliseconds(env, "PAYMENTS_STRIPE_TIMEOUT_MS"),
    }),
    publicUrl: env.get("PUBLIC_URL") ?? supabaseUrl,
    log: (message) => console.error(`[payments] ${message}`),
    now: () => new Date(),
  };
}

/** A positive whole number of milliseconds, or undefined for the default. */
function milliseconds(env: Env, name: string): number | undefined {
  const text = env.get(name);
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive whole number of milliseconds, not '${text}'.`);
  }
  return value;
}

/** `{"default": "sb_secret_…", ...}` as Supabase provides it, or a single key as `default`. */
function namedKeys(env: Env, plural: string, singular: string): Record<string, string> {
  const dictionary = env.get(plural);
  if (dictionary) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(dictionary);
    } catch {
      throw new Error(`${plural} is not JSON: expected {"default": "..."}.`);
    }
    if (
      !parsed || typeof parsed !== "object" || Array.isArray(parsed) ||
      !Object.values(parsed).every((value) => typeof value === "string" && value !== "")
    ) {
      throw new Error(`${plural} must be a JSON object of key names to keys.`);
    }
    return parsed as Record<string, string>;
  }
  const single = env.get(singular);
  return single ? { default: single } : {};
}

/** `SUPABASE_JWKS` holds the key set inline, as `{"keys": [...]}` or a bare array. */
function inlineJwks(text: string | undefined): JsonWebKeySet | undefined {
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('SUPABASE_JWKS is not JSON: expected {"keys": [...]}.');
  }
  const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys)) throw new Error('SUPABASE_JWKS must be {"keys": [...]}.');
  return { keys };
}

/** Where the project publishes its signing keys, when they are not given inline. */
function jwksUrl(env: Env, supabaseUrl: string | undefined): string | undefined {
  return env.get("SUPABASE_JWKS_URL") ?? env.get("JWT_JWKS_URL") ??
    (supabaseUrl ? `${supabaseUrl.replace(/\/+$/, "")}/auth/v1/.well-known/jwks.json` : undefined);
}
