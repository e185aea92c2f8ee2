// The local stack: database (given or throwaway), migrations, the Stripe emulator, and the
// `payments` function served at /functions/v1/payments. Used by `npm start`, the end-to-end
// tests and the benchmarks, so all three run exactly the same parts.
import { SignJWT } from "jose";
import type Stripe from "stripe";
import { startEmulator } from "../emulator/server.ts";
import { jwtKeys } from "../functions/auth.ts";
import { connect, type Sql } from "../functions/db.ts";
import { createHandler } from "../functions/handler.ts";
import type { Deps } from "../functions/deps.ts";
import { stripeFactory } from "../functions/stripe.ts";
import { startCluster } from "./lib/cluster.mjs";
import { migrate } from "./lib/migrate.mjs";

/** Supabase's local development JWT secret: tokens made with it only work on local stacks. */
export const LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

/** Any well-formed key works on the emulator; this one names the local stack's account. */
export const EMULATOR_SECRET_KEY = "sk_test_localemulator0000000000";

export interface StackOptions {
  /** Use this database instead of starting a throwaway PostgreSQL cluster. */
  databaseUrl?: string;
  /** Port of the functions server; 0 picks a free one. */
  port?: number;
  /** Port of the Stripe emulator; 0 picks a free one. */
  emulatorPort?: number;
  jwtSecret?: string;
  /** Also accept asymmetric tokens signed with the keys published here. */
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
  /** Extra routes (the demo app) served beside the function. */
  extraRoutes?: (request: Request) => Promise<Response | null>;
  log?: (line: string) => void;
}

export interface Stack {
  functionsUrl: string;
  baseUrl: string;
  emulatorUrl: string;
  databaseUrl: string;
  jwtSecret: string;
  sql: Sql;
  deps: Deps;
  serviceRoleKey: string;
  anonKey: string;
  userToken(userId: string, email?: string): Promise<string>;
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
  const jwtSecret = options.jwtSecret ?? LOCAL_JWT_SECRET;
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
      log("starting a throwaway PostgreSQL cluster ...");
      const cluster = await startCluster();
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
        }),
    );
    cleanups.push(() => emulator.stop());

    const sql = connect(databaseUrl);
    cleanups.push(() => sql.end({ timeout: 1 }));

    const abort = new AbortController();
    let resolvePort: (port: number) => void;
    const portKnown = new Promise<number>((resolve) => (resolvePort = resolve));
    const deps: Deps = {
      sql,
      jwt: jwtKeys({ secret: jwtSecret, jwksUrl: options.jwksUrl }),
      stripe: stripeFactory(options.stripeSecretKey ? options.stripeApiBase : emulator.url),
      publicUrl: undefined,
      log,
      now: () => new Date(),
    };
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
    const secretKey = options.stripeSecretKey ?? EMULATOR_SECRET_KEY;

    const key = new TextEncoder().encode(jwtSecret);
    const sign = (claims: Record<string, unknown>, expiresIn = "10y") =>
      new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt()
        .setExpirationTime(expiresIn).sign(key);
    const serviceRoleKey = await sign({ role: "service_role", iss: "supabase-local" });
    const anonKey = await sign({ role: "anon", iss: "supabase-local" });
    const functionsUrl = `${baseUrl}/functions/v1/payments`;

    return {
      functionsUrl,
      baseUrl,
      emulatorUrl: emulator.url,
      databaseUrl,
      jwtSecret,
      sql,
      deps,
      serviceRoleKey,
      anonKey,
      userToken: (userId, email) =>
        sign({ sub: userId, role: "authenticated", aud: "authenticated", email }, "24h"),
      usesEmulator: !options.stripeSecretKey,
      stripe: deps.stripe(secretKey),
      connectStripe: () =>
        fetch(`${functionsUrl}/stripe/test/config`, {
          method: "PUT",
          headers: {
            authorization: `Bearer ${serviceRoleKey}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({ secretKey }),
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
