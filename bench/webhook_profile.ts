// Where a webhook's time goes, stage by stage, over the same kind of signed deliveries the HTTP
// measurement sends: the signature check, JSON parsing (the route leaves it to PostgreSQL now),
// the secret lookup (a query, or the instance's short cache), and the database work itself
// (payments.ingest_stripe_event at the same concurrency). What HTTP costs is the rest.
import postgres from "postgres";
import Stripe from "stripe";
import type { Stack } from "../scripts/stack.ts";
import { buildEvents } from "./events.mjs";
import { timed } from "./timed.ts";

const crypto = Stripe.createSubtleCryptoProvider();
const stripe = new Stripe("sk_test_profile", { httpClient: Stripe.createFetchHttpClient() });

export interface Stages {
  signatureUs: number;
  parseUs: number;
  secretLookupUs: number;
  secretCachedUs: number;
  databaseUs: number;
}

/** Microseconds of wall time per event for each stage, `senders` at a time where it waits on I/O. */
export async function profileWebhook(
  stack: Stack,
  secret: string,
  count: number,
  senders: number,
): Promise<Stages> {
  const payloads = buildEvents(count) as string[];
  const timestamp = Math.floor(Date.now() / 1000);
  const signed = await Promise.all(payloads.map(async (payload) => ({
    payload,
    header: await stripe.webhooks.generateTestHeaderStringAsync({
      payload,
      secret,
      timestamp,
      cryptoProvider: crypto,
    }),
  })));
  const perEvent = (seconds: number) => Math.round((seconds * 1e6) / count);

  // CPU work on one thread: concurrency would only interleave it.
  const signature = await timed(signed, 1, async ({ payload, header }) => {
    const ok = await stripe.webhooks.signature!.verifyHeaderAsync(
      payload,
      header,
      secret,
      300,
      crypto,
    );
    if (!ok) throw new Error("a benchmark signature did not verify");
  });
  const parse = await timed(payloads, 1, (payload) => {
    JSON.stringify(JSON.parse(payload));
    return Promise.resolve();
  });

  const pool = postgres(stack.databaseUrl, { max: senders, onnotice: () => {} });
  try {
    const lookup = await timed(payloads, senders, async () => {
      await pool`select payments_private.get_provider_secret('test', 'webhook_secret') as secret`;
    });
    const cache = new Map<string, { value: string; expires: number }>();
    cache.set("test", { value: secret, expires: performance.now() + 60_000 });
    const cached = await timed(payloads, 1, () => {
      const entry = cache.get("test");
      if (!entry || entry.expires < performance.now()) throw new Error("cache miss");
      return Promise.resolve();
    });
    const database = await timed(payloads, senders, async (payload) => {
      await pool`select payments.ingest_stripe_event('test', e) from (select ${payload}::text::jsonb as e) as r`;
    });
    return {
      signatureUs: perEvent(signature.seconds),
      parseUs: perEvent(parse.seconds),
      secretLookupUs: perEvent(lookup.seconds),
      secretCachedUs: perEvent(cached.seconds),
      databaseUs: perEvent(database.seconds),
    };
  } finally {
    await pool.end();
  }
}
