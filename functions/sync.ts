// Mirror a Stripe account into Postgres, one list page at a time: each page goes straight to
// payments.upsert_stripe_objects, so memory stays flat however large the account is.
import { mapDatabaseErrors } from "./db.ts";
import type { Deps } from "./deps.ts";
import { DEFAULT_RECONCILE_SINCE, parseSince, reconcileEvents } from "./reconcile.ts";
import { callStripe, type Environment, type Stripe } from "./stripe.ts";
import type { SyncObjectType, SyncProgress } from "./wire.ts";

export type { SyncProgress };

const PAGE_SIZE = 100;
// Payment history reaches back this far; the catalog, customers and subscriptions are complete.
export const HISTORY_DAYS = 90;

interface ListPage {
  data: { id: string }[];
  has_more: boolean;
}

/** The Stripe lists a sync reads, in its order; the sync benchmark reads the very same ones. */
export function listers(stripe: Stripe, since: number) {
  return {
    product: (after?: string) => stripe.products.list({ limit: PAGE_SIZE, starting_after: after }),
    price: (after?: string) => stripe.prices.list({ limit: PAGE_SIZE, starting_after: after }),
    customer: (after?: string) =>
      stripe.customers.list({ limit: PAGE_SIZE, starting_after: after }),
    subscription: (after?: string) =>
      stripe.subscriptions.list({ limit: PAGE_SIZE, starting_after: after, status: "all" }),
    // Before PaymentIntents: under API 2025+ only the invoice payment says a PaymentIntent paid
    // an invoice, and the projection must know that when it meets the PaymentIntent.
    invoice_payment: (after?: string) =>
      stripe.invoicePayments.list({
        limit: PAGE_SIZE,
        starting_after: after,
        status: "paid",
        created: { gte: since },
      }),
    payment_intent: (after?: string) =>
      stripe.paymentIntents.list({
        limit: PAGE_SIZE,
        starting_after: after,
        created: { gte: since },
      }),
    refund: (after?: string) =>
      stripe.refunds.list({ limit: PAGE_SIZE, starting_after: after, created: { gte: since } }),
  } satisfies Record<SyncObjectType, (after?: string) => Promise<ListPage>>;
}

export interface SyncOptions {
  /** Continue the unfinished sync after its last stored page instead of starting over. */
  resume?: boolean;
}

interface SyncStart {
  startedAt: string;
  resumed: boolean;
  checkpoints: Partial<
    Record<SyncObjectType, { cursor: string | null; total: number; completed: boolean }>
  >;
}

export async function* syncAccount(
  deps: Deps,
  stripe: Stripe,
  environment: Environment,
  options: SyncOptions = {},
): AsyncGenerator<SyncProgress> {
  // The run's start comes from the database's clock (archiving compares it with times the
  // database wrote) and is kept there, so a resumed run lists the same history window.
  const [{ run }] = await mapDatabaseErrors(
    deps.sql`select payments.start_stripe_sync(${environment}, ${options.resume ?? false}) as run`,
  );
  const { startedAt, resumed, checkpoints } = run as SyncStart;
  if (resumed) yield { type: "resumed", startedAt };
  await recordSync(deps, environment, "running", null, {});
  const counts: Record<string, number> = {};
  const archived: Record<string, number> = {};
  const since = Math.floor(new Date(startedAt).getTime() / 1000) - HISTORY_DAYS * 86_400;
  try {
    for (
      const [object, list] of Object.entries(listers(stripe, since)) as [
        SyncObjectType,
        (after?: string) => Promise<ListPage>,
      ][]
    ) {
      const checkpoint = checkpoints[object];
      counts[object] = checkpoint?.total ?? 0;
      if (checkpoint?.completed) continue;
      // The next page is requested while this one is written: Stripe's time and the database's
      // overlap, and memory still holds at most two pages.
      const fetchPage = (after: string | undefined) => {
        const request = callStripe(`list ${object}s`, () => list(after));
        request.catch(() => {}); // awaited below; this only keeps an abandoned one quiet
        return request;
      };
      let next = fetchPage(checkpoint?.cursor ?? undefined);
      for (let page = 1;; page++) {
        const result = await next;
        const more = result.has_more && result.data.length > 0;
        if (more) next = fetchPage(result.data[result.data.length - 1].id);
        if (result.data.length > 0) {
          // The page and its checkpoint in one transaction: a resume starts after this page.
          const [{ total }] = await mapDatabaseErrors(deps.sql`
            select payments.sync_stripe_page(${environment}, ${object}, ${
            deps.sql.json(result.data as never)
          }) as total`);
          counts[object] = total;
        }
        yield { type: "page", object, page, count: result.data.length, total: counts[object] };
        if (!more) break;
      }
      const [{ count }] = await mapDatabaseErrors(deps.sql`
        select payments.complete_stripe_sync_type(${environment}, ${object}) as count`);
      // Null for history types: a window, not a complete listing, so it archives nothing.
      if (count !== null) archived[object] = count;
      if (count > 0) yield { type: "archived", object, count };
    }
    // After the objects, the events Stripe could not deliver in its retry window.
    const reconciled = await reconcileEvents(
      deps,
      stripe,
      environment,
      parseSince(DEFAULT_RECONCILE_SINCE, deps.now()),
    );
    yield {
      type: "reconciled",
      seen: reconciled.seen,
      new: reconciled.new,
      failed: reconciled.failed,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await recordSync(deps, environment, "failed", message, counts);
    throw error;
  }
  await mapDatabaseErrors(deps.sql`select payments.finish_stripe_sync(${environment})`);
  await recordSync(deps, environment, "succeeded", null, counts);
  yield { type: "done", counts, archived };
}

async function recordSync(
  deps: Deps,
  environment: Environment,
  status: "running" | "succeeded" | "failed",
  error: string | null,
  counts: Record<string, number>,
): Promise<void> {
  await mapDatabaseErrors(deps.sql`
    select payments.record_sync_status(${environment}, ${status}, ${error}, ${
    deps.sql.json(counts)
  })`);
}
