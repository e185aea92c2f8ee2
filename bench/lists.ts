// The admin lists over a 10,000-event table, page by page through the function over HTTP, beside
// the same keyset page as one plain indexed query (no function, no JSON building) in the same
// run. Walking every page also checks that each row comes exactly once.
//
// The rows go to the `live` environment, which the other benchmarks leave empty, so the list
// covers exactly ROWS events (realistic payloads from bench/events.mjs) and ROWS transactions.
import type { Stack } from "../scripts/stack.ts";
import { buildEvents } from "./events.mjs";
import { timed } from "./timed.ts";

const ROWS = Number(Deno.env.get("BENCH_LIST_ROWS") ?? 10_000);
const REPEATS = Number(Deno.env.get("BENCH_LIST_REPEATS") ?? 200);
const BUDGET_MS = 50;

type Summary = { p50Ms: number; p99Ms: number };

export async function benchLists(stack: Stack, summary: (latencies: number[]) => Summary) {
  await fill(stack);
  const token = stack.secretKey;
  const get = async (path: string) => {
    const response = await fetch(`${stack.functionsUrl}/stripe/live${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (response.status !== 200) {
      throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
    }
    return await response.json();
  };
  const report = (measurement: string, latencies: number[], extra: Record<string, unknown>) => {
    const figures = summary(latencies);
    console.log(JSON.stringify({
      measurement,
      rows: ROWS,
      pages: latencies.length,
      ...figures,
      ...extra,
      underBudget: figures.p99Ms < BUDGET_MS,
    }));
  };

  for (const [list, key, baseline] of LISTS) {
    // Every page of 100, newest first: each row exactly once.
    const seen = new Set<string>();
    let cursor: string | null = null;
    const walk: number[] = [];
    do {
      const began = performance.now();
      const page: { data: Record<string, string>[]; nextCursor: string | null } = await get(
        `/${list}?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      walk.push(performance.now() - began);
      for (const row of page.data) seen.add(row[key]);
      cursor = page.nextCursor;
    } while (cursor);
    if (seen.size !== ROWS) {
      throw new Error(`paging ${list} yielded ${seen.size} distinct rows of ${ROWS}`);
    }
    report(`${list}_http_every_page`, walk, { limit: 100, distinctRows: seen.size });

    // The same pages as one plain indexed keyset query each, straight to the database.
    let after: { at: Date; id: string } | null = null;
    const plain: number[] = [];
    let plainRows = 0;
    do {
      const began = performance.now();
      const rows: { at: Date; id: string }[] = await baseline(stack, after);
      plain.push(performance.now() - began);
      plainRows += rows.length;
      after = rows.length === 100 ? rows[rows.length - 1] : null;
    } while (after);
    report(`${list}_plain_indexed_query`, plain, { limit: 100, rowsRead: plainRows });
  }

  // The pages an operator opens most: the first page, failed events, one type.
  const first = await timed(Array.from({ length: REPEATS }), 1, async () => {
    await get("/webhook-events");
  });
  report("webhook-events_http_first_page", first.latencies, { limit: 25 });
  const failed = await timed(Array.from({ length: REPEATS }), 1, async () => {
    await get("/webhook-events?status=failed&limit=100");
  });
  report("webhook-events_http_failed_first", failed.latencies, { limit: 100 });
  const byType = await timed(Array.from({ length: REPEATS }), 1, async () => {
    await get("/webhook-events?type=invoice.paid&limit=100");
  });
  report("webhook-events_http_by_type", byType.latencies, { limit: 100 });
}

const LISTS: [
  string,
  string,
  (stack: Stack, after: { at: Date; id: string } | null) => Promise<{ at: Date; id: string }[]>,
][] = [
  [
    "webhook-events",
    "eventId",
    (stack, after) =>
      after
        ? stack.sql`
          select received_at as at, id, provider_event_id, event_type, processing_status
          from payments.webhook_events
          where environment = 'live' and (received_at, id) < (${after.at}, ${after.id})
          order by received_at desc, id desc limit 100`
        : stack.sql`
          select received_at as at, id, provider_event_id, event_type, processing_status
          from payments.webhook_events
          where environment = 'live'
          order by received_at desc, id desc limit 100`,
  ],
  [
    "transactions",
    "id",
    (stack, after) =>
      after
        ? stack.sql`
          select coalesce(stripe_created_at, created_at) as at, id, type, status, amount, currency
          from payments.transactions
          where environment = 'live'
            and (coalesce(stripe_created_at, created_at), id) < (${after.at}, ${after.id})
          order by coalesce(stripe_created_at, created_at) desc, id desc limit 100`
        : stack.sql`
          select coalesce(stripe_created_at, created_at) as at, id, type, status, amount, currency
          from payments.transactions
          where environment = 'live'
          order by coalesce(stripe_created_at, created_at) desc, id desc limit 100`,
  ],
];

/**
 * ROWS live events with realistic payloads, one every 10 ms of received time (every 20th failed,
 * every 7th ignored), and ROWS transactions; then ANALYZE, as autovacuum would.
 */
async function fill(stack: Stack): Promise<void> {
  const payloads: string[] = buildEvents(ROWS);
  for (let start = 0; start < ROWS; start += 1000) {
    const batch = payloads.slice(start, start + 1000).map((payload) => JSON.parse(payload));
    await stack.sql`
      insert into payments.webhook_events (environment, provider_event_id, event_type, livemode,
        object_type, object_id, event_created_at, processing_status, attempt_count, last_error,
        payload, received_at, processed_at)
      select 'live', e ->> 'id', e ->> 'type', true, e -> 'data' -> 'object' ->> 'object',
             e -> 'data' -> 'object' ->> 'id', to_timestamp((e ->> 'created')::bigint),
             case when (${start}::int + n) % 20 = 0 then 'failed'
                  when (${start}::int + n) % 7 = 0 then 'ignored' else 'processed' end,
             1, case when (${start}::int + n) % 20 = 0 then 'example failure' end, e,
             now() - ((${ROWS}::int - ${start}::int - n) * interval '10 milliseconds'), now()
      from jsonb_array_elements(${stack.sql.json(batch)}) with ordinality as t(e, n)`;
  }
  await stack.sql`
    insert into payments.transactions (environment, type, status, provider_object_id, amount,
      currency, customer_id, stripe_created_at, stripe_updated_at)
    select 'live', case when i % 3 = 0 then 'subscription_invoice' else 'one_time_payment' end,
           case when i % 25 = 0 then 'failed' else 'succeeded' end, format('pi_bench_%s', i),
           100 * (i % 50 + 1), case when i % 4 = 0 then 'eur' else 'usd' end,
           format('cus_bench_%s', i % 500), now() - i * interval '1 minute', now()
    from generate_series(1, ${ROWS}::int) as i`;
  await stack.sql`analyze payments.webhook_events`;
  await stack.sql`analyze payments.transactions`;
}
