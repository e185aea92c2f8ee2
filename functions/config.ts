// Configuration read once from the environment, with Supabase's own variable names as fallbacks.
import { jwtKeys } from "./auth.ts";
import { connect } from "./db.ts";
import type { Deps } from "./deps.ts";
import { stripeFactory } from "./stripe.ts";

export function depsFromEnv(env: { get(name: string): string | undefined } = Deno.env): Deps {
  const databaseUrl = env.get("DATABASE_URL") ?? env.get("SUPABASE_DB_URL");
  const jwtSecret = env.get("JWT_SECRET") ?? env.get("SUPABASE_JWT_SECRET");
  const supabaseUrl = env.get("SUPABASE_URL");
  // Supabase publishes the project's signing keys here; asymmetric tokens are checked against them.
  const jwksUrl = env.get("JWT_JWKS_URL") ??
    (supabaseUrl ? `${supabaseUrl.replace(/\/+$/, "")}/auth/v1/.well-known/jwks.json` : undefined);
  const missing = [
    databaseUrl ? null : "DATABASE_URL (or SUPABASE_DB_URL)",
    jwtSecret || jwksUrl ? null : "JWT_SECRET (or SUPABASE_JWT_SECRET, or JWT_JWKS_URL)",
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(`The payments function needs ${missing.join(" and ")} to be set.`);
  }
  return {
    sql: connect(databaseUrl!),
    jwt: jwtKeys({ secret: jwtSecret, jwksUrl }),
    stripe: stripeFactory(env.get("STRIPE_API_BASE")),
    publicUrl: env.get("PUBLIC_URL") ?? supabaseUrl,
    log: (message) => console.error(`[payments] ${message}`),
    now: () => new Date(),
  };
}
