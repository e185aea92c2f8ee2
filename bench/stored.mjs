// Ingest throughput with a large event log: payments.ingest_stripe_event into an empty
// webhook_events beside the same into one holding BENCH_STORED (default 1,000,000) events, in one
// run, and the cost of one retention batch (payments.prune_webhook_events) on the large table.
// Part of `npm run bench:sql`; the target is large/empty >= 0.9.
//
// Two scratch databases (empty and large) on one server; rounds alternate between them on fresh
// events, so load from elsewhere on the machine hits both alike; medians are printed. The large
// table is built with generate_series from realistic payloads (bench/events.mjs), spread over
// the last 180 days with a realistic mix of statuses, then ANALYZEd.
// Environment: BENCH_STORED, BENCH_EVENTS (events per round, default 1000), BENCH_ROUNDS (7).

import { randomBytes } from "node:crypto";
import process from "node:process";
import postgres from "postgres";
import { withDatabase } from "../scripts/lib/db_url.mjs";
import { migrate } from "../scripts/lib/migrate.mjs";
import { buildEvents } from "./events.mjs";
import { benchServer, median } from "./server.mjs";

const STORED = Number(process.env.BENCH_STORED ?? 1_000_000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const TARGET = 0.9;

async function ingestAll(sql, payloads) {
  const start = process.hrtime.bigint();
  for (const payload of payloads) {
    await sql`select payments.ingest_stripe_event('test', ${payload}::text::jsonb)`;
  }
  return payloads.length / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function main() {
  const server = await benchServer();
  const serverUrl = server.url;
  const suffix = randomBytes(4).toString("hex");
  const names = {
    empty: `payments_bench_empty_${suffix}`,
    large: `payments_bench_large_${suffix}`,
  };
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  const pools = [];
  try {
    const sqls = {};
    for (const [kind, name] of Object.entries(names)) {
      await admin.unsafe(`create database ${name}`);
      await migrate(withDatabase(serverUrl, name), { quiet: true });
      sqls[kind] = postgres(withDatabase(serverUrl, name), { max: 1, onnotice: () => {} });
      pools.push(sqls[kind]);
      // The same warm-up on both, so both have statistics and warm caches.
      await ingestAll(sqls[kind], buildEvents(2000));
    }

    const templates = buildEvents(50);
    const started = Date.now();
    console.error(`bench:stored: building ${STORED.toLocaleString("en")} stored events ...`);
    // Mostly processed, some ignored, a few failed and pending, as a live log looks.
    await sqls.large`
      insert into payments.webhook_events (environment, provider_event_id, event_type, livemode,
        api_version, object_type, object_id, event_created_at, payload, processing_status,
        processed_at, attempt_count, received_at)
      select 'test', 'evt_stored_' || g, t.payload ->> 'type', false, t.payload ->> 'api_version',
        t.payload -> 'data' -> 'object' ->> 'object', (t.payload -> 'data' -> 'object' ->> 'id') || '_' || g,
        now() - make_interval(secs => g * (15552000 / ${STORED}::float8)), jsonb_set(t.payload, '{id}', to_jsonb('evt_stored_' || g)),
        case when g % 100 = 0 then 'failed' when g % 997 = 0 then 'pending' when g % 5 = 0 then 'ignored' else 'processed' end,
        now() - make_interval(secs => g * (15552000 / ${STORED}::float8)), 1, now() - make_interval(secs => g * (15552000 / ${STORED}::float8))
      from generate_series(1, ${STORED}) g
      join (select row_number() over () - 1 as n, p::jsonb as payload from unnest(${templates}::text[]) p) t
        on t.n = g % ${templates.length}`;
    await sqls.large`vacuum analyze payments.webhook_events`.catch(async () =>
      await sqls.large`analyze payments.webhook_events`
    );
    const [{ size }] = await sqls.large`
      select pg_size_pretty(pg_total_relation_size('payments.webhook_events')) as size`;
    console.error(
      `bench:stored: built in ${((Date.now() - started) / 1000).toFixed(0)} s (${size})`,
    );

    const rates = { empty: [], large: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // Each database gets events of its own (a repeat would be a cheap duplicate), and the
      // order alternates, so neither side always runs first.
      const order = round % 2 === 0 ? ["empty", "large"] : ["large", "empty"];
      for (const kind of order) rates[kind].push(await ingestAll(sqls[kind], buildEvents(EVENTS)));
    }
    for (const kind of ["empty", "large"]) {
      const [{ stored }] =
        await sqls[kind]`select count(*)::int as stored from payments.webhook_events`;
      console.log(JSON.stringify({
        measurement: "ingest_stripe_event",
        storedEvents: stored,
        connections: 1,
        eventsPerRound: EVENTS,
        rounds: ROUNDS,
        eventsPerSecond: Math.round(median(rates[kind])),
        perRound: rates[kind].map(Math.round),
      }));
    }
    const ratio = median(rates.large.map((rate, i) => rate / rates.empty[i]));
    console.log(JSON.stringify({
      measurement: "ratio",
      largeOverEmpty: Number(ratio.toFixed(3)),
      target: TARGET,
      meetsTarget: ratio >= TARGET,
    }));

    // One retention batch on the large table, as a schedule would run it.
    const start = process.hrtime.bigint();
    const [{ removed }] = await sqls.large`
      select payments.prune_webhook_events(p_environment => 'test') as removed`;
    console.log(JSON.stringify({
      measurement: "prune_webhook_events",
      storedEvents: STORED,
      removed,
      milliseconds: Math.round(Number(process.hrtime.bigint() - start) / 1e6),
    }));
  } finally {
    await Promise.all(pools.map((sql) => sql.end({ timeout: 5 })));
    for (const name of Object.values(names)) {
      await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
    }
    await admin.end({ timeout: 5 });
    await server.stop();
  }
}

main().catch((error) => {
  console.error(`bench:stored: ${error.message}`);
  process.exit(1);
});
