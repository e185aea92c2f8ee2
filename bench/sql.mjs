// npm run bench:sql — webhook ingestion throughput and storage of payments.ingest_stripe_event.
//
// Measures events per second through payments.ingest_stripe_event (record + dedupe + projection +
// status update, one transaction per event, as the webhook route does) on 1 and 8 connections,
// beside a raw `INSERT` of the very same payloads into a plain jsonb table in the same run, and
// prints one JSON line per measurement plus the ratio ingest/raw (target: at least 0.6). Then the
// bytes stored per event, every table of the schema included (the event log, the mirrors, their
// indexes and TOAST), beside those of the raw table (target: at most 1).
//
// With BENCH_BASELINE=<git ref> (e.g. main) the same rounds also ingest into a second database
// migrated from that ref's migrations, so a change is measured against its baseline in one run:
// those lines carry `"schema": "<ref>"`.
//
// The events are distinct and realistic (bench/events.mjs).
//
// Database: a throwaway cluster (scripts/lib/cluster.mjs), or the server of DATABASE_URL, in
// scratch databases `payments_bench_<random>` that are dropped at the end.
// Environment: BENCH_EVENTS (events per round, default 2000), BENCH_ROUNDS (default 5),
// BENCH_BASELINE. Each connection count runs that many rounds of raw-then-ingest on fresh events;
// medians are printed.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import postgres from "postgres";
import { withDatabase } from "../scripts/lib/db_url.mjs";
import { migrate, ROOT } from "../scripts/lib/migrate.mjs";
import { buildEvents } from "./events.mjs";
import { benchServer, median } from "./server.mjs";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BASELINE = process.env.BENCH_BASELINE;
const CONNECTIONS = [1, 8];
const ENVIRONMENT = "test";
const TARGET = 0.6;

async function timed(sqls, payloads, run) {
  const chunks = sqls.map(() => []);
  payloads.forEach((p, i) => chunks[i % sqls.length].push(p));
  const start = process.hrtime.bigint();
  await Promise.all(sqls.map(async (sql, i) => {
    for (const payload of chunks[i]) await run(sql, payload);
  }));
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * CPU seconds a server backend has used (user + system), from /proc: the load of other processes
 * on a shared machine stretches wall time, not this. Null when the server is not local.
 */
function backendCpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** The migrations (and compat layer) of a git ref, checked out into a temporary folder. */
function checkoutMigrations(ref) {
  const dir = mkdtempSync(join(tmpdir(), "pgpayments-baseline-"));
  const archive = execFileSync("git", ["archive", ref, "supabase/migrations", "sql/compat"], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  // migrate() runs dbmate from the root's node_modules.
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** The median server CPU per event of a measurement, when it could be read. */
function cpuMicros(rounds, key) {
  const values = rounds.map((r) => r.cpu[key]).filter((v) => v !== undefined);
  return values.length ? { serverCpuMicrosPerEvent: Math.round(median(values)) } : {};
}

async function main() {
  const server = await benchServer();
  const serverUrl = server.url;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  const schemas = [{ name: "this", root: ROOT }];
  if (BASELINE) schemas.push({ name: BASELINE, root: checkoutMigrations(BASELINE) });
  const pools = [];
  try {
    for (const schema of schemas) {
      const database = `payments_bench_${randomBytes(4).toString("hex")}`;
      await admin.unsafe(`create database ${database}`);
      schema.database = database;
      schema.url = withDatabase(serverUrl, database);
      await migrate(schema.url, { quiet: true, root: schema.root });
      schema.setup = postgres(schema.url, { max: 1, onnotice: () => {} });
      pools.push(schema.setup);
    }
    const [main] = schemas;
    await main
      .setup`create table public.bench_raw (id bigint generated always as identity primary key, payload jsonb not null)`;
    const server = (await main.setup`select current_setting('server_version') as v`)[0].v;
    console.error(
      `bench:sql: PostgreSQL ${server}, ${ROUNDS} rounds of ${EVENTS} events per measurement` +
        (BASELINE ? `, beside the schema of ${BASELINE}` : ""),
    );

    const ingest = (sql, payload) =>
      sql`select payments.ingest_stripe_event(${ENVIRONMENT}, ${payload}::text::jsonb)`;
    const raw = (sql, payload) =>
      sql`insert into public.bench_raw (payload) values (${payload}::text::jsonb)`;

    // Warm up every path with events of its own, then ANALYZE, as autovacuum would have done on
    // any database in use: plans chosen for empty, never-analyzed tables are not the steady state.
    // The measuring connections are new, so they plan against these statistics.
    const warm = buildEvents(4000);
    for (const schema of schemas) {
      await timed([schema.setup], warm, ingest);
      await schema.setup`analyze`;
    }
    await timed([main.setup], warm, raw);
    await main.setup`analyze`;

    for (const connections of CONNECTIONS) {
      for (const schema of schemas) {
        schema.sqls = Array.from(
          { length: connections },
          () => postgres(schema.url, { max: 1, onnotice: () => {} }),
        );
        pools.push(...schema.sqls);
        schema.pids = await Promise.all(
          schema.sqls.map(async (sql) => (await sql`select pg_backend_pid() as pid`)[0].pid),
        );
      }
      // Rounds alternate raw and ingest on fresh events, so that a burst of load from elsewhere on
      // the machine hits all alike; the medians are reported.
      const rounds = [];
      for (let round = 0; round < ROUNDS; round++) {
        const payloads = buildEvents(EVENTS);
        const rates = {}, cpu = {};
        const measure = async (key, schema, run) => {
          const before = schema.pids.map(backendCpuSeconds);
          rates[key] = EVENTS / await timed(schema.sqls, payloads, run);
          const after = schema.pids.map(backendCpuSeconds);
          if (!before.includes(null) && !after.includes(null)) {
            cpu[key] = after.reduce((sum, t, i) => sum + t - before[i], 0) * 1e6 / EVENTS;
          }
        };
        await measure("raw", main, raw);
        for (const schema of schemas) await measure(schema.name, schema, ingest);
        rounds.push({ ...rates, cpu });
      }
      for (const schema of schemas) {
        const [{ failed }] = await schema.setup`
          select count(*) filter (where processing_status not in ('processed', 'ignored'))::int as failed
          from payments.webhook_events`;
        if (failed > 0) {
          throw new Error(`${failed} events did not process; the benchmark is invalid`);
        }
      }
      const rawRates = rounds.map((r) => r.raw);
      console.log(JSON.stringify({
        measurement: "raw_insert",
        connections,
        eventsPerRound: EVENTS,
        rounds: ROUNDS,
        eventsPerSecond: Math.round(median(rawRates)),
        perRound: rawRates.map(Math.round),
        ...cpuMicros(rounds, "raw"),
      }));
      for (const schema of schemas) {
        const rates = rounds.map((r) => r[schema.name]);
        const label = schema === main ? {} : { schema: schema.name };
        console.log(JSON.stringify({
          measurement: "ingest_stripe_event",
          ...label,
          connections,
          eventsPerRound: EVENTS,
          rounds: ROUNDS,
          eventsPerSecond: Math.round(median(rates)),
          perRound: rates.map(Math.round),
          ...cpuMicros(rounds, schema.name),
        }));
        const ratio = median(rounds.map((r) => r[schema.name] / r.raw));
        console.log(JSON.stringify({
          measurement: "ratio",
          ...label,
          connections,
          ingestOverRaw: Number(ratio.toFixed(3)),
          target: TARGET,
          meetsTarget: ratio >= TARGET,
        }));
      }
    }

    // Storage: every table of the schema (the event log, the mirrors, their indexes and TOAST)
    // over the events ingested, beside the raw table holding the very same payloads.
    const [{ raw: rawBytes }] = await main.setup`
      select pg_total_relation_size('public.bench_raw')::float8 / (select count(*) from public.bench_raw) as raw`;
    console.log(JSON.stringify({ measurement: "raw_insert", bytesPerEvent: Math.round(rawBytes) }));
    for (const schema of schemas) {
      const [{ ingest: bytes }] = await schema.setup`
        select (select sum(pg_total_relation_size(c.oid)) from pg_class c
                where c.relnamespace in ('payments'::regnamespace, 'payments_private'::regnamespace)
                  and c.relkind = 'r')::float8
          / (select count(*) from payments.webhook_events) as ingest`;
      const label = schema === main ? {} : { schema: schema.name };
      console.log(
        JSON.stringify({
          measurement: "ingest_stripe_event",
          ...label,
          bytesPerEvent: Math.round(bytes),
        }),
      );
      console.log(JSON.stringify({
        measurement: "bytes_ratio",
        ...label,
        ingestOverRaw: Number((bytes / rawBytes).toFixed(3)),
        target: 1,
        meetsTarget: bytes <= rawBytes,
      }));
    }
  } finally {
    await Promise.all(pools.map((sql) => sql.end({ timeout: 5 })));
    for (const schema of schemas) {
      if (schema.database) {
        await admin.unsafe(`drop database if exists ${schema.database} with (force)`).catch(
          () => {},
        );
      }
      if (schema.root !== ROOT) rmSync(schema.root, { recursive: true, force: true });
    }
    await admin.end({ timeout: 5 });
    await server.stop();
  }
}

main().catch((error) => {
  console.error(`bench:sql: ${error.message}`);
  process.exit(1);
});
