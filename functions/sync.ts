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
const HISTORY_DAYS = 90;

interface ListPage {
  data: { id: string }[];
  has_more: boolean;
}

function listers(stripe: Stripe, since: number) {
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

// Complete listings, so what they miss is gone from Stripe; history is a window and archives nothing.
const ARCHIVABLE: SyncObjectType[] = ["product", "price", "customer", "subscription"];

export async function* syncAccount(
  deps: Deps,
  stripe: Stripe,
  environment: Environment,
): AsyncGenerator<SyncProgress> {
  // The database's clock, not deps.now(): archiving compares it with times the database wrote.
  const [{ started }] = await mapDatabaseErrors(deps.sql`select now() as started`);
  await recordSync(deps, environment, "running", null, {});
  const counts: Record<string, number> = {};
  const archived: Record<string, number> = {};
  const since = Math.floor(deps.now().getTime() / 1000) - HISTORY_DAYS * 86_400;
  try {
    for (
      const [object, list] of Object.entries(listers(stripe, since)) as [
        SyncObjectType,
        (after?: string) => Promise<ListPage>,
      ][]
    ) {
      counts[object] = 0;
      let after: string | undefined;
      for (let page = 1;; page++) {
        const result = await callStripe(`list ${object}s`, () => list(after));
        if (result.data.length > 0) {
          await mapDatabaseErrors(deps.sql`
            select payments.upsert_stripe_objects(${environment}, ${object}, ${
            deps.sql.json(result.data as never)
          }, ${started})`);
        }
        counts[object] += result.data.length;
        yield { type: "page", object, page, count: result.data.length, total: counts[object] };
        if (!result.has_more || result.data.length === 0) break;
        after = result.data[result.data.length - 1].id;
      }
      if (ARCHIVABLE.includes(object)) {
        const [{ count }] = await mapDatabaseErrors(deps.sql`
          select payments.archive_unsynced_stripe_objects(${environment}, ${object}, ${started}) as count`);
        archived[object] = count;
        if (count > 0) yield { type: "archived", object, count };
      }
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
