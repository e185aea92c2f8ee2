// Configuration read once from the environment, with Supabase's own variable names as fallbacks.
import { authKeys, canAuthenticate, type JsonWebKeySet } from "./auth.ts";
import { connect } from "./db.ts";
import type { Deps, SessionGuards } from "./deps.ts";
import { stripeFactory } from "./stripe.ts";
import type { Environment } from "./wire.ts";

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
    sessionGuards: sessionGuardsFromEnv(env),
  };
}

/** Today's behaviour: both environments, any origin, 20 sessions a minute. */
export const DEFAULT_SESSION_GUARDS: SessionGuards = {
  userEnvironments: ["test", "live"],
  redirectOrigins: [],
  sessionsPerMinute: 20,
  portalConfigurations: [],
};

/**
 * PAYMENTS_USER_ENVIRONMENTS (`live`, or `test,live`), PAYMENTS_REDIRECT_ORIGINS (origins, like
 * Supabase Auth's site URL and additional redirect URLs), PAYMENTS_SESSIONS_PER_MINUTE and
 * PAYMENTS_PORTAL_CONFIGURATIONS (the Billing Portal configurations users may choose).
 */
export function sessionGuardsFromEnv(env: Env): SessionGuards {
  const list = (name: string) =>
    (env.get(name) ?? "").split(/[\s,]+/).filter((item) => item !== "");
  const environments = list("PAYMENTS_USER_ENVIRONMENTS");
  const unknown = environments.filter((item) => item !== "test" && item !== "live");
  if (unknown.length > 0) {
    throw new Error(`PAYMENTS_USER_ENVIRONMENTS must list test and/or live, not ${unknown[0]}.`);
  }
  const origins = list("PAYMENTS_REDIRECT_ORIGINS").map((origin) => {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new Error(`PAYMENTS_REDIRECT_ORIGINS holds ${origin}, which is not a URL.`);
    }
    if (
      !/^https?:$/.test(url.protocol) || url.origin !== origin.replace(/\/+$/, "").toLowerCase()
    ) {
      throw new Error(
        `PAYMENTS_REDIRECT_ORIGINS holds ${origin}: give origins only, such as https://app.example.com.`,
      );
    }
    return url.origin;
  });
  const perMinute = env.get("PAYMENTS_SESSIONS_PER_MINUTE");
  if (perMinute !== undefined && !/^\d{1,6}$/.test(perMinute)) {
    throw new Error("PAYMENTS_SESSIONS_PER_MINUTE must be a whole number (0 turns the cap off).");
  }
  const configurations = list("PAYMENTS_PORTAL_CONFIGURATIONS");
  const notConfiguration = configurations.find((id) => !/^bpc_[A-Za-z0-9]+$/.test(id));
  if (notConfiguration !== undefined) {
    throw new Error(
      `PAYMENTS_PORTAL_CONFIGURATIONS holds ${notConfiguration}, which is not a Billing Portal configuration id (bpc_...).`,
    );
  }
  return {
    userEnvironments: environments.length > 0
      ? [...new Set(environments)] as Environment[]
      : DEFAULT_SESSION_GUARDS.userEnvironments,
    redirectOrigins: origins,
    sessionsPerMinute: perMinute === undefined
      ? DEFAULT_SESSION_GUARDS.sessionsPerMinute
      : Number(perMinute),
    portalConfigurations: [...new Set(configurations)],
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
