// What people read: the status table, sync progress lines and one-line summaries.
import type {
  Environment,
  EnvironmentStatus,
  ReconcileResponse,
  StatusResponse,
  SyncProgress,
  WebhookState,
} from "../functions/wire.ts";

const NONE = "-";

export function statusTable(environments: Partial<StatusResponse["environments"]>): string {
  const names = Object.keys(environments) as Environment[];
  const columns = names.map((name) => environments[name]!);
  const row = (label: string, value: (env: EnvironmentStatus) => string) => [
    label,
    ...columns.map(value),
  ];
  const connected = (env: EnvironmentStatus, value: string) => env.configured ? value : NONE;
  return table([
    ["", ...names],
    row("status", (env) => env.status),
    row("secret key", (env) => env.secretKeyLast4 ? `...${env.secretKeyLast4}` : NONE),
    row(
      "account",
      (env) =>
        env.account ? `${env.account.id}${env.account.name ? ` (${env.account.name})` : ""}` : NONE,
    ),
    row(
      "webhook",
      (env) =>
        env.webhook.endpointId
          ? `${env.webhook.endpointId}${
            env.webhook.signingSecretStored ? "" : " (no signing secret)"
          }`
          : connected(env, "not configured"),
    ),
    row("webhook url", (env) => env.webhook.url ?? NONE),
    row(
      "last sync",
      (env) =>
        env.lastSync.at
          ? `${env.lastSync.at.replace("T", " ").replace(/\.\d+Z$/, "Z")} ${
            env.lastSync.status ?? ""
          }`
            .trim()
          : connected(env, "never"),
    ),
    ...(columns.some((env) => env.lastSync.error)
      ? [row("sync error", (env) => env.lastSync.error ?? NONE)]
      : []),
    row("products", (env) => String(env.counts.products)),
    row("prices", (env) => String(env.counts.prices)),
    row("customers", (env) => String(env.counts.customers)),
    row("subscriptions", (env) => String(env.counts.subscriptions)),
    row("transactions", (env) => String(env.counts.transactions)),
    row("webhook events", (env) => eventCounts(env.counts.webhookEvents)),
    row("endpoint", (env) => env.delivery?.endpointStatus ?? NONE),
    row("last delivery", (env) => time(env.delivery?.lastDeliveryAt) ?? NONE),
    row("last reconcile", (env) => time(env.delivery?.lastReconciledAt) ?? NONE),
    row(
      "not delivered",
      (env) =>
        env.delivery
          ? env.delivery.pendingNotStored === null
            ? `unknown (${env.delivery.error})`
            : String(env.delivery.pendingNotStored)
          : NONE,
    ),
  ]);
}

function time(iso: string | null | undefined): string | undefined {
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : undefined;
}

export function reconcileSummary(result: ReconcileResponse): string {
  const failures = result.failures.map((failure) =>
    `\n  ${failure.eventId} ${failure.type}: ${failure.error ?? "failed"}`
  ).join("");
  return `reconciled ${plural(result.listed, "event")} since ${time(result.since)}: ` +
    `${result.seen} already stored, ${result.new} new, ${result.failed} failed${failures}`;
}

function eventCounts(counts: Record<string, number>): string {
  const order = ["processed", "pending", "failed", "ignored"];
  const entries = Object.entries(counts).filter(([, n]) => n > 0)
    .sort(([a], [b]) => rank(order, a) - rank(order, b));
  return entries.length ? entries.map(([status, n]) => `${n} ${status}`).join(", ") : "0";
}

function rank(order: string[], value: string): number {
  const index = order.indexOf(value);
  return index < 0 ? order.length : index;
}

/** Left-aligned columns separated by two spaces; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row.map((cell, column) => column === row.length - 1 ? cell : cell.padEnd(widths[column]))
      .join("  ").trimEnd()
  ).join("\n");
}

/** One progress line per event of the sync stream; `undefined` for the final `done`. */
export function progressLine(step: SyncProgress): string | undefined {
  switch (step.type) {
    case "page":
      return `${step.object.padEnd(14)}  page ${String(step.page).padStart(3)}  +${
        String(step.count).padStart(3)
      }  (${step.total} total)`;
    case "archived":
      return `${step.object.padEnd(14)}  archived ${step.count} gone from Stripe`;
    case "reconciled":
      return `${
        "events".padEnd(14)
      }  ${step.seen} already stored, ${step.new} new, ${step.failed} failed`;
    case "resumed":
      return `resuming the sync started at ${step.startedAt} from its checkpoints`;
    default:
      return undefined;
  }
}

export function syncSummary(
  done: { counts: Record<string, number>; archived?: Record<string, number> },
): string {
  const counts = Object.entries(done.counts).map(([object, n]) => plural(n, object)).join(", ");
  const archived = Object.entries(done.archived ?? {}).filter(([, n]) => n > 0)
    .map(([object, n]) => plural(n, object));
  return `synced ${counts || "nothing"}${
    archived.length ? `; archived ${archived.join(", ")}` : ""
  }`;
}

function plural(n: number, object: string): string {
  const noun = object.replaceAll("_", " ");
  return `${n} ${n === 1 ? noun : `${noun}s`}`;
}

/** The line for a configured endpoint, or undefined when it could not be configured. */
export function webhookLine(environment: Environment, webhook: WebhookState): string | undefined {
  if (webhook.status !== "configured") return undefined;
  return `${environment}: webhook endpoint ${webhook.endpointId} ${
    webhook.created ? "created" : "already up to date"
  } -> ${webhook.url}`;
}

/** Why the endpoint could not be configured, and how to try again. */
export function webhookFailure(environment: Environment, webhook: WebhookState): string {
  const reason = webhook.status === "configured" ? "" : webhook.reason.replace(/\.$/, "");
  return `${environment}: the webhook endpoint could not be configured: ${reason}. ` +
    `Fix that, then run: payments stripe webhooks configure --environment ${environment}`;
}
