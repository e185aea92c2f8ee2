// npm run bench:sql — webhook ingestion throughput of payments.ingest_stripe_event.
//
// Measures events per second through payments.ingest_stripe_event (record + dedupe + projection +
// status update, one transaction per event, as the webhook route does) on 1 and 4 connections,
// beside a raw `INSERT` of the very same payloads into a plain jsonb table in the same run, and
// prints one JSON line per measurement plus the ratio ingest/raw. The target is a ratio of at
// least 1/3.
//
// The events are distinct and realistic (bench/events.mjs).
//
// Database: a throwaway cluster (scripts/lib/cluster.mjs), or the server of DATABASE_URL, in a
// scratch database `payments_bench_<random>` that is dropped at the end.
// Environment: BENCH_EVENTS (events per round, default 2000), BENCH_ROUNDS (default 5). Each
// connection count runs that many rounds of raw-then-ingest on fresh events; medians are printed.

import { randomBytes } from "node:crypto";
import process from "node:process";
import postgres from "postgres";
import { startCluster } from "../scripts/lib/cluster.mjs";
import { withDatabase } from "../scripts/lib/db_url.mjs";
import { databaseUrlFromEnv, migrate } from "../scripts/lib/migrate.mjs";
import { buildEvents } from "./events.mjs";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = [1, 4];
const ENVIRONMENT = "test";

async function timed(sqls, payloads, run) {
  const chunks = sqls.map(() => []);
  payloads.forEach((p, i) => chunks[i % sqls.length].push(p));
  const start = process.hrtime.bigint();
  await Promise.all(sqls.map(async (sql, i) => {
    for (const payload of chunks[i]) await run(sql, payload);
  }));
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function main() {
  let cluster;
  let serverUrl = databaseUrlFromEnv();
  if (!serverUrl) {
    cluster = await startCluster({ log: (line) => console.error(line) });
    serverUrl = cluster.url;
  }
  const database = `payments_bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${database}`);
  const url = withDatabase(serverUrl, database);
  const pools = [];
  try {
    await migrate(url, { quiet: true });
    const setup = postgres(url, { max: 1, onnotice: () => {} });
    pools.push(setup);
    await setup`create table public.bench_raw (id bigint generated always as identity primary key, payload jsonb not null)`;
    const server = (await setup`select current_setting('server_version') as v`)[0].v;
    console.error(
      `bench:sql: PostgreSQL ${server}, ${ROUNDS} rounds of ${EVENTS} events per measurement`,
    );

    const ingest = (sql, payload) =>
      sql`select payments.ingest_stripe_event(${ENVIRONMENT}, ${payload}::text::jsonb)`;
    const raw = (sql, payload) =>
      sql`insert into public.bench_raw (payload) values (${payload}::text::jsonb)`;

    // Warm up both paths with events of their own, then ANALYZE, as autovacuum would have done on
    // any database in use: plans chosen for empty, never-analyzed tables are not the steady state.
    // The measuring connections are new, so they plan against these statistics.
    const warm = buildEvents(4000);
    await timed([setup], warm, ingest);
    await timed([setup], warm, raw);
    await setup`analyze`;

    for (const connections of CONNECTIONS) {
      const sqls = Array.from(
        { length: connections },
        () => postgres(url, { max: 1, onnotice: () => {} }),
      );
      pools.push(...sqls);
      await Promise.all(sqls.map((sql) => sql`select 1`));
      // Rounds alternate raw and ingest on fresh events, so that a burst of load from elsewhere on
      // the machine hits both alike; the medians are reported.
      const rounds = [];
      for (let round = 0; round < ROUNDS; round++) {
        const payloads = buildEvents(EVENTS);
        const rawSeconds = await timed(sqls, payloads, raw);
        const ingestSeconds = await timed(sqls, payloads, ingest);
        rounds.push({ raw: EVENTS / rawSeconds, ingest: EVENTS / ingestSeconds });
      }
      const [{ failed }] = await setup`
        select count(*) filter (where processing_status not in ('processed', 'ignored'))::int as failed
        from payments.webhook_events`;
      if (failed > 0) throw new Error(`${failed} events did not process; the benchmark is invalid`);
      const median = (values) => {
        const sorted = [...values].sort((a, b) => a - b);
        const mid = Math.floor(sorted.length / 2);
        return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
      };
      for (const measurement of ["raw", "ingest"]) {
        const rates = rounds.map((r) => r[measurement]);
        console.log(JSON.stringify({
          measurement: measurement === "raw" ? "raw_insert" : "ingest_stripe_event",
          connections,
          eventsPerRound: EVENTS,
          rounds: ROUNDS,
          eventsPerSecond: Math.round(median(rates)),
          perRound: rates.map(Math.round),
        }));
      }
      const ratio = median(rounds.map((r) => r.ingest / r.raw));
      console.log(JSON.stringify({
        measurement: "ratio",
        connections,
        ingestOverRaw: Number(ratio.toFixed(3)),
        target: Number((1 / 3).toFixed(3)),
        meetsTarget: ratio >= 1 / 3,
      }));
    }
    // Storage: every table of the schema (the event log, the mirrors, their indexes and TOAST)
    // over the events ingested, beside the raw table holding the very same payloads.
    const [bytes] = await setup`
      select
        (select sum(pg_total_relation_size(c.oid)) from pg_class c
         where c.relnamespace = 'payments'::regnamespace and c.relkind = 'r')::float8
          / (select count(*) from payments.webhook_events) as ingest,
        pg_total_relation_size('public.bench_raw')::float8
          / (select count(*) from public.bench_raw) as raw`;
    for (
      const [measurement, value] of [["raw_insert", bytes.raw], [
        "ingest_stripe_event",
        bytes.ingest,
      ]]
    ) {
      console.log(JSON.stringify({ measurement, bytesPerEvent: Math.round(value) }));
    }
    console.log(JSON.stringify({
      measurement: "bytes_ratio",
      ingestOverRaw: Number((bytes.ingest / bytes.raw).toFixed(3)),
      target: 1,
      meetsTarget: bytes.ingest <= bytes.raw,
    }));
  } finally {
    await Promise.all(pools.map((sql) => sql.end({ timeout: 5 })));
    await admin.unsafe(`drop database if exists ${database} with (force)`).catch(() => {});
    await admin.end({ timeout: 5 });
    cluster?.stop();
  }
}

main().catch((error) => {
  console.error(`bench:sql: ${error.message}`);
  process.exit(1);
});
