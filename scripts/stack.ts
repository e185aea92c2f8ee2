// The local stack: database (given or throwaway), migrations, the Stripe emulator, and the
// `payments` function served at /functions/v1/payments. Used by `npm start`, the end-to-end
// tests and the benchmarks, so all three run exactly the same parts.
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import type Stripe from "stripe";
import { startEmulator } from "../emulator/server.ts";
import type { JsonWebKeySet } from "../functions/auth.ts";
import { depsFromEnv } from "../functions/config.ts";
import type { Sql } from "../functions/db.ts";
import { createHandler } from "../functions/handler.ts";
import type { Deps } from "../functions/deps.ts";
import { startCluster } from "./lib/cluster.mjs";
import { migrate } from "./lib/migrate.mjs";

/** Supabase's local development JWT secret: tokens made with it only work on local stacks. */
export const LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

/** The local stack's API keys, shaped like a current Supabase project's (local use only). */
export const LOCAL_SECRET_KEY = "sb_secret_local_payments_stack_0000000000";
export const LOCAL_PUBLISHABLE_KEY = "sb_publishable_local_payments_stack_00000";

/** Any well-formed key works on the emulator; this one names the local stack's account. */
export const EMULATOR_SECRET_KEY = "sk_test_localemulator0000000000";

export interface StackOptions {
  /** Use this database instead of starting a throwaway PostgreSQL cluster. */
  databaseUrl?: string;
  /** Keep the cluster's files in this folder and reuse them (ignored with `databaseUrl`). */
  databaseDir?: string;
  /** Keep the Stripe emulator's objects in this file across restarts. */
  emulatorStateFile?: string;
  /** Port of the functions server; 0 picks a free one. */
  port?: number;
  /** Port of the Stripe emulator; 0 picks a free one. */
  emulatorPort?: number;
  /** The legacy HS256 JWT secret; `null` runs the stack with the new keys only. */
  jwtSecret?: string | null;
  /** Secret API keys by name (as `SUPABASE_SECRET_KEYS`); default: one local key. */
  secretKeys?: Record<string, string>;
  /** Publishable API keys by name (as `SUPABASE_PUBLISHABLE_KEYS`); default: one local key. */
  publishableKeys?: Record<string, string>;
  /**
   * The signing keys (as `SUPABASE_JWKS`). A key that carries its private part signs the stack's
   * user tokens; by default a fresh ES256 key is made. Public parts are served at
   * `/auth/v1/.well-known/jwks.json`, as Supabase does.
   */
  jwks?: JsonWebKeySet;
  /** Verify user tokens against the keys published here instead. */
  jwksUrl?: string;
  /**
   * A real Stripe test key: Stripe calls go to Stripe (or to `stripeApiBase`) instead of the
   * emulator, and the webhook endpoint is registered at `publicUrl`.
   */
  stripeSecretKey?: string;
  stripeApiBase?: string;
  /** Where Stripe reaches this stack (a tunnel); defaults to the local URL. */
  publicUrl?: string;
  /** Fast webhook retries for tests. */
  webhookRetryDelaysMs?: number[];
  /**
   * The deployment's settings for the function (`PAYMENTS_USER_ENVIRONMENTS`, ...), as a deployed
   * function reads them from its environment; `npm start` passes its own.
   */
  settings?: Record<string, string | undefined>;
  /** Extra routes (the demo app) served beside the function. */
  extraRoutes?: (request: Request) => Promise<Response | null>;
  log?: (line: string) => void;
}

export interface Stack {
  functionsUrl: string;
  baseUrl: string;
  emulatorUrl: string;
  databaseUrl: string;
  /** The legacy JWT secret, when the stack has one. */
  jwtSecret?: string;
  sql: Sql;
  deps: Deps;
  /** A secret API key: the service role. */
  secretKey: string;
  /** A publishable API key: `anon`. */
  publishableKey: string;
  /** The public signing keys, as `SUPABASE_JWKS` holds them. */
  jwks: JsonWebKeySet;
  /** The legacy JWT-shaped service role and anon keys, when the stack has a JWT secret. */
  serviceRoleKey?: string;
  anonKey?: string;
  /** A user's access token, signed with the stack's asymmetric key (or the legacy secret). */
  userToken(userId: string, email?: string): Promise<string>;
  /** The same user's token signed with the legacy JWT secret, when the stack has one. */
  legacyUserToken?(userId: string, email?: string): Promise<string>;
  /** True when Stripe calls go to the emulator. */
  usesEmulator: boolean;
  /** The Stripe SDK for the stack's account: the emulator, or the account of `stripeSecretKey`. */
  stripe: Stripe;
  /** Stores the stack's key as the test environment's key: validates it, creates the webhook, syncs. */
  connectStripe(): Promise<Response>;
  stop(): Promise<void>;
}

/** A product and one price per entry (recurring when `interval` is set); the price ids, in order. */
export async function createPrices(
  stripe: Stripe,
  productName: string,
  prices: { currency: string; unitAmount: number; interval?: "month" | "year" }[],
): Promise<string[]> {
  const product = await stripe.products.create({ name: productName });
  const ids: string[] = [];
  for (const { currency, unitAmount, interval } of prices) {
    const price = await stripe.prices.create({
      product: product.id,
      currency,
      unit_amount: unitAmount,
      ...(interval ? { recurring: { interval } } : {}),
    });
    ids.push(price.id);
  }
  return ids;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? (() => {});
  const jwtSecret = options.jwtSecret === null ? undefined : options.jwtSecret ?? LOCAL_JWT_SECRET;
  const secretKeys = options.secretKeys ?? { default: LOCAL_SECRET_KEY };
  const publishableKeys = options.publishableKeys ?? { default: LOCAL_PUBLISHABLE_KEY };
  const signing = await signingKeys(options.jwks);
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log(`stopping: ${error instanceof Error ? error.message : error}`);
      }
    }
    cleanups.length = 0;
  };

  try {
    let databaseUrl = options.databaseUrl;
    if (!databaseUrl) {
      log(
        options.databaseDir
          ? `starting the PostgreSQL cluster in ${options.databaseDir} ...`
          : "starting a throwaway PostgreSQL cluster ...",
      );
      const cluster = await startCluster({ dir: options.databaseDir });
      cleanups.push(() => cluster.stop());
      databaseUrl = cluster.url as string;
    }
    await migrate(databaseUrl, { quiet: true });

    const emulator = await listening(
      "the Stripe emulator",
      "STRIPE_EMULATOR_PORT",
      options.emulatorPort,
      () =>
        startEmulator({
          port: options.emulatorPort ?? 0,
          webhookRetryDelaysMs: options.webhookRetryDelaysMs,
          stateFile: options.emulatorStateFile,
        }),
    );
    cleanups.push(() => emulator.stop());

    // Configured exactly as the deployed function is: from Supabase's environment variables.
    const variables: Record<string, string | undefined> = {
      DATABASE_URL: databaseUrl,
      SUPABASE_SECRET_KEYS: JSON.stringify(secretKeys),
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify(publishableKeys),
      SUPABASE_JWKS: options.jwksUrl ? undefined : JSON.stringify(signing.jwks),
      SUPABASE_JWKS_URL: options.jwksUrl,
      JWT_SECRET: jwtSecret,
      STRIPE_API_BASE: options.stripeSecretKey ? options.stripeApiBase : emulator.url,
      ...options.settings,
    };
    const deps: Deps = {
      ...depsFromEnv({ get: (name) => variables[name] }),
      publicUrl: undefined,
      log,
    };
    const sql = deps.sql;
    cleanups.push(() => sql.end({ timeout: 1 }));

    const abort = new AbortController();
    let resolvePort: (port: number) => void;
    const portKnown = new Promise<number>((resolve) => (resolvePort = resolve));
    const handler = createHandler(deps);
    const server = await listening(
      "the functions server",
      "PORT",
      options.port,
      () =>
        Deno.serve({
          port: options.port ?? 0,
          hostname: "127.0.0.1",
          signal: abort.signal,
          onListen: ({ port }) => resolvePort(port),
        }, async (request) => {
          const path = new URL(request.url).pathname;
          if (path === "/functions/v1/payments" || path.startsWith("/functions/v1/payments/")) {
            return await handler(request);
          }
          if (path === "/auth/v1/.well-known/jwks.json") return Response.json(signing.jwks);
          return (await options.extraRoutes?.(request)) ??
            Response.json({ error: { code: "not_found", message: `No route for ${path}.` } }, {
              status: 404,
            });
        }),
    );
    cleanups.push(async () => {
      abort.abort();
      await server.finished;
    });
    const port = await portKnown;
    const baseUrl = `http://127.0.0.1:${port}`;
    deps.publicUrl = options.publicUrl ?? baseUrl;
    const stripeKey = options.stripeSecretKey ?? EMULATOR_SECRET_KEY;

    const legacy = jwtSecret ? legacyTokens(jwtSecret) : undefined;
    const serviceRoleKey = await legacy?.({ role: "service_role", iss: "supabase-local" });
    const anonKey = await legacy?.({ role: "anon", iss: "supabase-local" });
    const userClaims = (userId: string, email?: string) => ({
      sub: userId,
      role: "authenticated",
      aud: "authenticated",
      email,
    });
    const secretKey = Object.values(secretKeys)[0];
    const functionsUrl = `${baseUrl}/functions/v1/payments`;

    return {
      functionsUrl,
      baseUrl,
      emulatorUrl: emulator.url,
      databaseUrl,
      jwtSecret,
      sql,
      deps,
      secretKey,
      publishableKey: Object.values(publishableKeys)[0],
      jwks: signing.jwks,
      serviceRoleKey,
      anonKey,
      userToken: (userId, email) =>
        signing.sign
          ? signing.sign(userClaims(userId, email))
          : legacy!(userClaims(userId, email), "24h"),
      legacyUserToken: legacy && ((userId, email) => legacy(userClaims(userId, email), "24h")),
      usesEmulator: !options.stripeSecretKey,
      stripe: deps.stripe(stripeKey),
      connectStripe: () =>
        fetch(`${functionsUrl}/stripe/test/config`, {
          method: "PUT",
          headers: {
            apikey: secretKey,
            "content-type": "application/json",
          },
          body: JSON.stringify({ secretKey: stripeKey }),
        }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Starts a listener, turning "address in use" into a line that names the port and its variable. */
async function listening<T>(
  what: string,
  variable: string,
  port: number | undefined,
  start: () => T | Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `port ${port} for ${what} is already in use; choose another with ${variable}.`,
      );
    }
    throw error;
  }
}

/** Signs legacy HS256 tokens (service role, anon, users) with the project's JWT secret. */
function legacyTokens(secret: string) {
  const key = new TextEncoder().encode(secret);
  return (claims: Record<string, unknown>, expiresIn = "10y") =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt()
      .setExpirationTime(expiresIn).sign(key);
}

/** A fresh ES256 signing key, private part included, as a JWK. */
export async function newSigningKey(): Promise<JWK> {
  const pair = await generateKeyPair("ES256", { extractable: true });
  const kid = `local-${crypto.randomUUID().slice(0, 8)}`;
  return { ...(await exportJWK(pair.privateKey)), kid, alg: "ES256", use: "sig" };
}

/**
 * The stack's signing keys: the given key set (its first private key signs), or a fresh ES256
 * key. What is published never carries a private part.
 */
async function signingKeys(given?: JsonWebKeySet): Promise<{
  jwks: JsonWebKeySet;
  sign?: (claims: Record<string, unknown>) => Promise<string>;
}> {
  const keys = (given?.keys as JWK[] | undefined) ?? [await newSigningKey()];
  const publicParts = keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest }) =>
    rest
  );
  const privateKey = keys.find((key) => key.d);
  if (!privateKey) return { jwks: { keys: publicParts } };
  const alg = privateKey.alg ?? (privateKey.kty === "RSA" ? "RS256" : "ES256");
  const key = await importJWK(privateKey, alg);
  return {
    jwks: { keys: publicParts },
    sign: (claims) =>
      new SignJWT(claims).setProtectedHeader({ alg, kid: privateKey.kid, typ: "JWT" })
        .setIssuedAt().setExpirationTime("24h").sign(key),
  };
}
