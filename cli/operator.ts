// The operator verbs: events list|show|tail, products list|create, prices create,
// transactions list. They read the admin lists and call the catalog routes; a table on a
// terminal, the API's JSON with --json.
import type {
  Environment,
  Page,
  Price,
  Product,
  TransactionPage,
  WebhookEventDetail,
  WebhookEventSummary,
} from "../functions/wire.ts";
import { type Api, readJson, send } from "./api.ts";
import { type Filters, type OperatorCommand, UsageError } from "./args.ts";
import { table } from "./format.ts";

export interface OperatorIo {
  out: (line: string) => void;
  /** Colour and live output only when stdout is a terminal. */
  terminal: boolean;
  sleep?: (ms: number) => Promise<void>;
  /** Stops `events tail`; never resolves by default (Ctrl-C ends the program). */
  stopped?: () => boolean;
}

const COLOURS: Record<string, string> = {
  processed: "32",
  succeeded: "32",
  active: "32",
  failed: "31",
  pending: "33",
  ignored: "90",
};

function paint(io: OperatorIo, text: string, status: string): string {
  const code = COLOURS[status];
  return io.terminal && code ? `\x1b[${code}m${text}\x1b[0m` : text;
}

function money(amount: number | null, currency: string | null): string {
  if (amount === null) return "-";
  return `${(currency ?? "").toUpperCase()} ${(amount / 100).toFixed(2)}`.trim();
}

function when(value: string | null): string {
  return value ? new Date(value).toISOString().slice(0, 19).replace("T", " ") : "-";
}

function integer(filters: Filters, name: "limit" | "unitAmount", flag: string): number | undefined {
  const value = filters[name];
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new UsageError(`${flag} must be a whole number (got '${value}').`);
  }
  return Number(value);
}

/** A create retried with the same --idempotency-key answers the object the first one made. */
function idempotency(filters: Filters): Record<string, string> {
  return filters.idempotencyKey === undefined ? {} : { "idempotency-key": filters.idempotencyKey };
}

function query(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** Processing time seen from Stripe: from the event's creation to its processing. */
function duration(event: WebhookEventSummary): string {
  if (!event.processedAt) return "-";
  const ms = Date.parse(event.processedAt) - Date.parse(event.createdAt);
  return ms < 1000 ? `${Math.max(0, ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function eventRows(io: OperatorIo, events: WebhookEventSummary[]): string[][] {
  return events.map((event) => [
    when(event.receivedAt),
    event.type,
    paint(io, event.status, event.status),
    String(event.attempts),
    event.eventId,
    event.lastError ? event.lastError.slice(0, 60) : "",
  ]);
}

function more(page: { nextCursor: string | null }): string | undefined {
  return page.nextCursor
    ? "(more: raise --limit, or use --json and pass nextCursor as cursor)"
    : undefined;
}

export async function runOperator(
  command: OperatorCommand,
  environment: Environment,
  filters: Filters,
  json: boolean,
  api: Api,
  io: OperatorIo,
): Promise<void> {
  const print = (value: unknown) => io.out(JSON.stringify(value, null, 2));
  const base = `/stripe/${environment}`;
  switch (command.name) {
    case "events list": {
      const page = await readJson<Page<WebhookEventSummary>>(
        await send(
          api,
          "GET",
          `${base}/webhook-events${
            query({
              status: filters.status,
              type: filters.type,
              since: filters.since,
              limit: integer(filters, "limit", "--limit"),
            })
          }`,
        ),
      );
      if (json) return print(page);
      if (page.data.length === 0) return io.out(`${environment}: no webhook events match.`);
      io.out(
        table([
          ["received", "type", "status", "attempts", "event", "error"],
          ...eventRows(io, page.data),
        ]),
      );
      const hint = more(page);
      if (hint) io.out(hint);
      return;
    }
    case "events show": {
      const { event } = await readJson<{ event: WebhookEventDetail }>(
        await send(api, "GET", `${base}/webhook-events/${encodeURIComponent(command.eventId)}`),
      );
      if (json) return print({ event });
      io.out(table([
        ["event", event.eventId],
        ["type", event.type],
        ["status", paint(io, event.status, event.status)],
        ["object", event.objectId ? `${event.objectType} ${event.objectId}` : "-"],
        ["created", when(event.createdAt)],
        ["received", when(event.receivedAt)],
        ["processed", when(event.processedAt)],
        ["attempts", String(event.attempts)],
        ["error", event.lastError ?? "-"],
      ]));
      io.out("");
      io.out(JSON.stringify(event.payload, null, 2));
      return;
    }
    case "events tail":
      return await tail(api, base, environment, filters, json, io);
    case "products list": {
      const page = await readJson<Page<Product>>(
        await send(
          api,
          "GET",
          `${base}/products${query({ limit: integer(filters, "limit", "--limit") })}`,
        ),
      );
      if (json) return print(page);
      if (page.data.length === 0) return io.out(`${environment}: no products yet.`);
      const rows: string[][] = [["product", "name", "status", "price", "amount", "lookup key"]];
      for (const product of page.data) {
        const state = product.active && !product.archived ? "active" : "archived";
        const prices = product.prices ?? [];
        rows.push([
          product.productId,
          product.name,
          paint(io, state, state),
          ...priceCells(prices[0]),
        ]);
        for (const price of prices.slice(1)) rows.push(["", "", "", ...priceCells(price)]);
      }
      io.out(table(rows));
      const hint = more(page);
      if (hint) io.out(hint);
      return;
    }
    case "products create": {
      if (!filters.name) throw new UsageError("products create needs --name.");
      const body = await readJson<{ product: Product }>(
        await send(api, "POST", `${base}/products`, {
          body: {
            name: filters.name,
            ...(filters.description ? { description: filters.description } : {}),
          },
          headers: idempotency(filters),
        }),
      );
      if (json) return print(body);
      return io.out(
        `${environment}: created product ${body.product.productId} (${body.product.name})`,
      );
    }
    case "prices create": {
      const missing = ["product", "currency", "unitAmount"].filter((name) =>
        filters[name as keyof Filters] === undefined
      );
      if (missing.length > 0) {
        throw new UsageError(
          `prices create needs ${
            missing.map((name) => name === "unitAmount" ? "--unit-amount" : `--${name}`).join(", ")
          }.`,
        );
      }
      const body = await readJson<{ price: Price }>(
        await send(api, "POST", `${base}/prices`, {
          body: {
            productId: filters.product,
            currency: filters.currency,
            unitAmount: integer(filters, "unitAmount", "--unit-amount"),
            ...(filters.interval
              ? { recurring: { interval: filters.interval, intervalCount: 1 } }
              : {}),
            ...(filters.lookupKey ? { lookupKey: filters.lookupKey } : {}),
          },
          headers: idempotency(filters),
        }),
      );
      if (json) return print(body);
      return io.out(
        `${environment}: created price ${body.price.priceId} (${
          priceCells(body.price)[1]
        }) for ${body.price.productId}`,
      );
    }
    case "transactions list": {
      const page = await readJson<TransactionPage>(
        await send(
          api,
          "GET",
          `${base}/transactions${
            query({
              status: filters.status,
              type: filters.type,
              customerId: filters.customer,
              since: filters.since,
              limit: integer(filters, "limit", "--limit"),
            })
          }`,
        ),
      );
      if (json) return print(page);
      if (page.data.length === 0) return io.out(`${environment}: no transactions match.`);
      io.out(table([
        ["created", "type", "status", "amount", "refunded", "object", "customer", "subject"],
        ...page.data.map((t) => [
          when(t.createdAt),
          t.type,
          paint(io, t.status, t.status),
          money(t.amount, t.currency),
          t.amountRefunded ? money(t.amountRefunded, t.currency) : "-",
          t.objectId,
          t.customerId ?? "-",
          t.subjectType ? `${t.subjectType} ${t.subjectId}` : "-",
        ]),
      ]));
      for (const total of page.totals ?? []) {
        io.out(
          `total ${(total.currency ?? "").toUpperCase()}: ${total.count} transactions, ${
            money(total.amount - total.amountRefunded, total.currency)
          } net of ${money(total.amountRefunded, total.currency)} refunded`,
        );
      }
      const hint = more(page);
      if (hint) io.out(hint);
      return;
    }
  }
}

function priceCells(price: Price | undefined): string[] {
  if (!price) return ["-", "-", "-"];
  const every = price.recurring
    ? ` / ${
      price.recurring.intervalCount > 1 ? `${price.recurring.intervalCount} ` : ""
    }${price.recurring.interval}`
    : " once";
  return [
    `${price.priceId}${price.active ? "" : " (archived)"}`,
    `${money(price.unitAmount, price.currency)}${every}`,
    price.lookupKey ?? "-",
  ];
}

/**
 * Polls the list for events received since the newest one seen, as `stripe listen` shows
 * deliveries. Events received in the same microsecond as the last one shown are told apart by id.
 */
async function tail(
  api: Api,
  base: string,
  environment: Environment,
  filters: Filters,
  json: boolean,
  io: OperatorIo,
): Promise<void> {
  const sleep = io.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const stopped = io.stopped ?? (() => false);
  const list = async (since?: string, cursor?: string) =>
    await readJson<Page<WebhookEventSummary>>(
      await send(
        api,
        "GET",
        `${base}/webhook-events${query({ type: filters.type, since, cursor, limit: 100 })}`,
      ),
    );
  // Start from the newest stored event, by the server's clock rather than this machine's.
  const [newest] = (await list()).data;
  let since = newest?.receivedAt;
  let seen = new Set(newest ? [newest.eventId] : []);
  if (!json) {
    io.out(
      `${environment}: waiting for webhook events${
        filters.type ? ` of type ${filters.type}` : ""
      } (Ctrl-C stops) ...`,
    );
  }
  while (!stopped()) {
    const fresh: WebhookEventSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await list(since, cursor);
      fresh.push(...page.data.filter((event) => !seen.has(event.eventId)));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    fresh.reverse(); // oldest first, as they arrived
    for (const event of fresh) {
      if (json) io.out(JSON.stringify(event));
      else {
        io.out(
          [
            when(event.receivedAt),
            event.type.padEnd(36),
            paint(io, event.status.padEnd(9), event.status),
            duration(event).padStart(8),
            event.eventId,
            event.lastError ? `  ${event.lastError.slice(0, 80)}` : "",
          ].join("  ").trimEnd(),
        );
      }
    }
    if (fresh.length > 0) {
      const latest = fresh[fresh.length - 1].receivedAt;
      const atLatest = fresh.filter((event) => event.receivedAt === latest).map((e) => e.eventId);
      seen = new Set(latest === since ? [...seen, ...atLatest] : atLatest);
      since = latest;
    }
    await sleep(1000);
  }
}
