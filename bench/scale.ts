// Scale figures for `npm run bench`, each beside a baseline from the same run:
// - webhook deliveries at 16 senders to one function process, then spread over four processes
//   against the same database;
// - sync of a seeded account (POST /_emulator/seed) by a function in its own process: objects/s
//   beside a raw batch insert of the same objects, and the process's peak RSS for a small and a
//   ten times larger account (flat memory means the two peaks match).
import { HISTORY_DAYS, listers } from "../functions/sync.ts";
import Stripe from "stripe";
import { startInstances } from "../scripts/instances.ts";
import type { Stack } from "../scripts/stack.ts";
import { buildEvents } from "./events.mjs";
import type { SendJob, SendResult } from "./webhook_senders.ts";

const crypto = Stripe.createSubtleCryptoProvider();
const MB = 1024 * 1024;

export type Send = (job: SendJob) => Promise<SendResult>;

async function signAll(payloads: string[], secret: string, stripe: Stripe) {
  const timestamp = Math.floor(Date.now() / 1000);
  return await Promise.all(payloads.map(async (payload) => ({
    payload,
    signature: await stripe.webhooks.generateTestHeaderStringAsync({
      payload,
      secret,
      timestamp,
      cryptoProvider: crypto,
    }),
  })));
}

export async function benchInstances(
  stack: Stack,
  send: Send,
  secret: string,
  events: number,
  senders: number,
): Promise<void> {
  const running = await startInstances(stack, 4);
  try {
    const urls = running.instances.map((instance) =>
      `${instance.functionsUrl}/webhooks/stripe/test`
    );
    const rates: Record<number, number> = {};
    for (const count of [1, 4]) {
      const deliveries = await signAll(buildEvents(events), secret, stack.stripe);
      const result = await send({ url: urls.slice(0, count), senders, deliveries });
      rates[count] = Math.round(events / result.seconds);
      const sorted = [...result.latencies].sort((a, b) => a - b);
      console.log(JSON.stringify({
        measurement: "webhook_http_instances",
        instances: count,
        senders,
        eventsPerSecond: rates[count],
        p99Ms: Math.round(sorted[Math.floor(sorted.length * 0.99)] * 100) / 100,
        ...(count === 4
          ? { ratioToOneInstance: Math.round((rates[4] / rates[1]) * 100) / 100 }
          : {}),
      }));
    }
  } finally {
    await running.stop();
  }
}

export interface SyncCounts {
  customers: number;
  subscriptions: number;
  invoices: number;
  payments: number;
}

async function seed(stack: Stack, counts: SyncCounts): Promise<void> {
  const response = await fetch(`${stack.emulatorUrl}/_emulator/seed`, {
    method: "POST",
    body: JSON.stringify({ ...counts, api_key: "sk_test_localemulator0000000000" }),
  });
  if (!response.ok) throw new Error(`seeding failed: ${await response.text()}`);
  await response.body?.cancel();
}

// V8 grows its heap lazily while memory is free (uncapped, a 70,000-object sync peaked near
// 250 MB with most of it garbage). A capped heap, as an edge runtime's memory limit imposes,
// shows what the sync needs: a leak would end it with an out-of-memory error.
const HEAP_CAP = "--v8-flags=--max-old-space-size=64";

/** One sync by a fresh function process: objects written, seconds, and the process's peak RSS. */
async function syncInOwnProcess(stack: Stack) {
  const running = await startInstances(stack, 1, { denoFlags: [HEAP_CAP] });
  try {
    const [instance] = running.instances;
    const idleRss = await instance.peakRss();
    const started = performance.now();
    const response = await fetch(`${instance.functionsUrl}/stripe/test/sync`, {
      method: "POST",
      headers: { apikey: stack.secretKey },
    });
    const body = await response.json();
    const seconds = (performance.now() - started) / 1000;
    if (response.status !== 200 || body.sync?.type !== "done") {
      throw new Error(`sync failed: ${JSON.stringify(body)}`);
    }
    const objects = Object.values(body.sync.counts as Record<string, number>)
      .reduce((sum, n) => sum + n, 0);
    return { objects, seconds, idleRss, peakRss: await instance.peakRss() };
  } finally {
    await running.stop();
  }
}

/** The same lists the sync reads, each page inserted raw; listing and inserting timed apart. */
async function rawBatchInsert(stack: Stack) {
  await stack.sql`drop table if exists public.bench_sync_raw`;
  await stack
    .sql`create table public.bench_sync_raw (id bigint generated always as identity primary key, object_type text not null, payload jsonb not null)`;
  const since = Math.floor(Date.now() / 1000) - HISTORY_DAYS * 86_400;
  const lists = Object.entries(listers(stack.stripe, since));
  let objects = 0;
  let listSeconds = 0;
  let insertSeconds = 0;
  for (const [type, list] of lists) {
    let after: string | undefined;
    for (;;) {
      let began = performance.now();
      const page = await list(after);
      listSeconds += (performance.now() - began) / 1000;
      if (page.data.length > 0) {
        began = performance.now();
        await stack.sql`insert into public.bench_sync_raw (object_type, payload)
          select ${type}, value from jsonb_array_elements(${
          JSON.stringify(page.data)
        }::text::jsonb)`;
        insertSeconds += (performance.now() - began) / 1000;
      }
      objects += page.data.length;
      if (!page.has_more || page.data.length === 0) break;
      after = page.data[page.data.length - 1].id;
    }
  }
  return { objects, listSeconds, insertSeconds };
}

export async function benchSync(stack: Stack, full: SyncCounts): Promise<void> {
  const tenth = Object.fromEntries(
    Object.entries(full).map(([name, n]) => [name, Math.max(1, Math.round(n / 10))]),
  ) as unknown as SyncCounts;
  await seed(stack, tenth);
  const small = await syncInOwnProcess(stack);
  await seed(
    stack,
    Object.fromEntries(
      Object.entries(full).map(([name, n]) => [name, n - tenth[name as keyof SyncCounts]]),
    ) as unknown as SyncCounts,
  );
  const large = await syncInOwnProcess(stack);
  const raw = await rawBatchInsert(stack);
  if (raw.objects !== large.objects) {
    throw new Error(`the raw baseline listed ${raw.objects} objects, the sync ${large.objects}`);
  }
  const syncRate = Math.round(large.objects / large.seconds);
  const rawRate = Math.round(raw.objects / raw.insertSeconds);
  console.log(JSON.stringify({
    measurement: "raw_batch_insert",
    objects: raw.objects,
    objectsPerSecond: rawRate,
    listingOnlyObjectsPerSecond: Math.round(raw.objects / raw.listSeconds),
  }));
  console.log(JSON.stringify({
    measurement: "sync",
    objects: large.objects,
    objectsPerSecond: syncRate,
    ratioToRawBatchInsert: Math.round((syncRate / rawRate) * 100) / 100,
    peakRssMb: Math.round(large.peakRss / MB),
    idleRssMb: Math.round(large.idleRss / MB),
    heapCap: HEAP_CAP,
    peakRssMbAtTenthOfTheAccount: Math.round(small.peakRss / MB),
    objectsAtTenthOfTheAccount: small.objects,
  }));
}
