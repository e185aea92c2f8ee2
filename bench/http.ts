// npm run bench — the function over HTTP, beside baselines measured in the same run.
//
// 1. Webhook deliveries per second through POST /webhooks/stripe/test (signature check, then
//    payments.ingest_stripe_event), with 1 and 16 concurrent senders in a worker thread playing
//    Stripe, and p50/p99 latency —
//    beside a raw INSERT of the same payloads into a plain jsonb table over as many connections.
// 2. Checkout-session creation p50/p99 through the function with the emulator answering, beside
//    the emulator's own time for the same Stripe call made directly with the SDK; the difference
//    is the function's overhead (auth, validation, the RLS-checked row, recording the result).
//
// 3. The admin lists over a 10,000-event table, every page over HTTP beside a plain indexed
//    query for the same page (bench/lists.ts).
// 4. Where a webhook's time goes at 16 senders (bench/webhook_profile.ts); webhook throughput
//    with one function process and with four against the same database; sync of a seeded
//    account by a function in its own process, beside a raw batch insert, with its peak RSS
//    (bench/scale.ts).
//
// Prints one JSON line per measurement. Environment: BENCH_EVENTS (default 2000),
// BENCH_CHECKOUTS (default 300), BENCH_SYNC=full for the 100,000-customer account (default a
// fifth of it), DATABASE_URL (else a throwaway cluster).
import postgres from "postgres";
import { createPrices, startStack } from "../scripts/stack.ts";
import { paymentRequest } from "../tests/support/checkout.ts";
import { signPayload } from "../tests/support/webhooks.ts";
import { buildEvents } from "./events.mjs";
import { benchLists } from "./lists.ts";
import { benchInstances, benchSync, type SyncCounts } from "./scale.ts";
import { profileWebhook } from "./webhook_profile.ts";
import { timed } from "./timed.ts";
import type { SendJob, SendResult } from "./webhook_senders.ts";

const EVENTS = Number(Deno.env.get("BENCH_EVENTS") ?? 2000);
const CHECKOUTS = Number(Deno.env.get("BENCH_CHECKOUTS") ?? 300);
const SECRET = "whsec_benchmark_secret";
const SENDERS = [1, 16];
const FULL_SYNC: SyncCounts = {
  customers: 100_000,
  subscriptions: 50_000,
  invoices: 100_000,
  payments: 100_000,
};
const SYNC = Deno.env.get("BENCH_SYNC") === "full" ? FULL_SYNC : Object.fromEntries(
  Object.entries(FULL_SYNC).map(([name, n]) => [name, n / 5]),
) as unknown as SyncCounts;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return { p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)) };
}

function sendFromWorker(job: SendJob): Promise<SendResult> {
  const worker = new Worker(new URL("./webhook_senders.ts", import.meta.url), { type: "module" });
  return new Promise<SendResult>((resolve, reject) => {
    worker.onmessage = (message: MessageEvent<SendResult>) => {
      worker.terminate();
      if (message.data.error) reject(new Error(message.data.error));
      else resolve(message.data);
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message));
    };
    worker.postMessage(job);
  });
}

// The function with its own connection pool (functions/db.ts), as deployed.
const stack = await startStack({ databaseUrl: Deno.env.get("DATABASE_URL") });
try {
  const machine = `${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`;
  console.error(
    `bench: ${machine}; ${EVENTS} events per webhook measurement, ${CHECKOUTS} checkouts`,
  );
  await stack.sql`select payments_private.set_provider_secret('test', 'webhook_secret', ${SECRET})`;
  await stack
    .sql`create table public.bench_raw (id bigint generated always as identity primary key, payload jsonb not null)`;

  const url = `${stack.functionsUrl}/webhooks/stripe/test`;
  for (const senders of SENDERS) {
    const payloads = buildEvents(EVENTS);
    const timestamp = Math.floor(Date.now() / 1000);
    const signed = await Promise.all(payloads.map(async (payload) => ({
      payload,
      signature: await signPayload(payload, SECRET, timestamp),
    })));

    const pool = postgres(stack.databaseUrl, { max: senders, onnotice: () => {} });
    const raw = await timed(payloads, senders, async (payload) => {
      await pool`insert into public.bench_raw (payload) values (${payload}::jsonb)`;
    });
    await pool.end();

    const webhook = await sendFromWorker({ url, senders, deliveries: signed });
    const rawRate = Math.round(EVENTS / raw.seconds);
    const webhookRate = Math.round(EVENTS / webhook.seconds);
    console.log(
      JSON.stringify({
        measurement: "raw_insert",
        senders,
        eventsPerSecond: rawRate,
        ...summary(raw.latencies),
      }),
    );
    const latency = summary(webhook.latencies);
    console.log(JSON.stringify({
      measurement: "webhook_http",
      senders,
      eventsPerSecond: webhookRate,
      ...latency,
      ratioToRawInsert: Math.round((webhookRate / rawRate) * 100) / 100,
      p99RatioToRawInsert: Math.round((latency.p99Ms / summary(raw.latencies).p99Ms) * 100) / 100,
    }));
    if (senders === 16) {
      const stages = await profileWebhook(stack, SECRET, EVENTS, senders);
      console.log(JSON.stringify({
        measurement: "webhook_profile",
        senders,
        microsecondsPerEvent: {
          ...stages,
          httpTotalUs: Math.round(1e6 / webhookRate),
          rawInsertUs: Math.round(1e6 / rawRate),
        },
      }));
    }
  }

  const signerSend = (job: SendJob) => sendFromWorker(job);
  await benchInstances(stack, signerSend, SECRET, EVENTS, 16);

  const connected = await stack.connectStripe();
  if (!connected.ok) throw new Error(`connecting the emulator failed: ${await connected.text()}`);
  const stripe = stack.stripe;
  const [price] = await createPrices(stripe, "Benchmark", [{ currency: "usd", unitAmount: 100 }]);
  const customer = await stripe.customers.create({ email: "bench@example.com" });
  const indexes = Array.from({ length: CHECKOUTS }, (_, i) => i);
  // One user per checkout: a single user would meet the per-user cap on new sessions (20 a minute).
  const tokens = await Promise.all(indexes.map(() => stack.userToken(crypto.randomUUID())));

  const direct = await timed(indexes, 1, async () => {
    await stripe.checkout.sessions.create({
      mode: "payment",
      customer: customer.id,
      line_items: [{ price, quantity: 1 }],
      success_url: "https://bench.example/ok",
      cancel_url: "https://bench.example/cancel",
    });
  });
  const viaFunction = await timed(indexes, 1, async (i) => {
    const response = await fetch(`${stack.functionsUrl}/stripe/test/checkout-sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens[i]}`, "content-type": "application/json" },
      body: JSON.stringify(paymentRequest(price, {
        successUrl: "https://bench.example/ok",
        cancelUrl: "https://bench.example/cancel",
        idempotencyKey: `bench-${i}`,
      })),
    });
    if (response.status !== 201) {
      throw new Error(`checkout answered ${response.status}: ${await response.text()}`);
    }
    await response.body?.cancel();
  });
  const emulatorOnly = summary(direct.latencies);
  const total = summary(viaFunction.latencies);
  console.log(
    JSON.stringify({
      measurement: "emulator_checkout_create",
      requests: CHECKOUTS,
      ...emulatorOnly,
    }),
  );
  console.log(JSON.stringify({
    measurement: "function_checkout_create",
    requests: CHECKOUTS,
    ...total,
    overheadP50Ms: Math.round((total.p50Ms - emulatorOnly.p50Ms) * 100) / 100,
  }));

  await benchLists(stack, summary);
  await benchSync(stack, SYNC);
} finally {
  await stack.stop();
}
