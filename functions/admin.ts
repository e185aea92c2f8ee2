// Service-role routes: connect a Stripe key, manage the webhook endpoint, sync, replay, status.
import { authenticate } from "./auth.ts";
import { readJson } from "./body.ts";
import { DEFAULT_SESSION_GUARDS } from "./config.ts";
import { mapDatabaseErrors } from "./db.ts";
import type { Deps, OperatorRoute } from "./deps.ts";
import { errorAnswer, json, PaymentsError } from "./errors.ts";
import {
  callStripe,
  checkSecretKey,
  type Environment,
  type Stripe,
  STRIPE_API_VERSION,
  stripeFor,
  withinStripeBudget,
} from "./stripe.ts";
import { deliveryHealth } from "./reconcile.ts";
import { syncAccount } from "./sync.ts";
import type {
  ConfigRemovedResponse,
  ConfigResponse,
  ReplayResponse,
  StatusResponse,
  SyncProgress,
  SyncRequest,
  SyncResponse,
  WebhookEndpointResponse,
  WebhookState,
} from "./wire.ts";

const MANAGED_BY = "payments-postgres";

export async function getStatus(deps: Deps, request: Request): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const rows = await mapDatabaseErrors(deps.sql`select * from payments.stripe_connection_status()`);
  const environments = {} as StatusResponse["environments"];
  // Both environments' Stripe reads at once: status waits for the slower, not the sum.
  const deliveries = await Promise.all(
    rows.map((row) =>
      row.has_key ? deliveryHealth(deps, row.environment, row.webhook_endpoint_id) : null
    ),
  );
  for (const [index, row] of rows.entries()) {
    environments[row.environment as Environment] = {
      configured: row.has_key,
      status: row.status ?? "disconnected",
      secretKeyLast4: row.secret_key_last4,
      account: row.stripe_account_id
        ? {
          id: row.stripe_account_id,
          name: row.stripe_account_name,
          email: row.stripe_account_email,
          livemode: row.livemode,
        }
        : null,
      webhook: {
        endpointId: row.webhook_endpoint_id,
        url: row.webhook_endpoint_url,
        signingSecretStored: row.has_webhook_secret,
      },
      lastSync: {
        at: row.last_synced_at?.toISOString() ?? null,
        status: row.last_sync_status,
        error: row.last_sync_error,
        counts: row.last_sync_counts ?? {},
      },
      counts: {
        products: row.products,
        prices: row.prices,
        customers: row.customers,
        subscriptions: row.subscriptions,
        transactions: row.transactions,
        webhookEvents: row.webhook_events,
      },
      delivery: deliveries[index],
    };
  }
  return json(
    200,
    { environments, warnings: warnings(deps, environments) } satisfies StatusResponse,
  );
}

function warnings(deps: Deps, environments: StatusResponse["environments"]): string[] {
  const guards = deps.sessionGuards ?? DEFAULT_SESSION_GUARDS;
  const found: string[] = [];
  if (environments.live?.configured && guards.userEnvironments.includes("test")) {
    found.push(
      "A live key is configured and user routes still accept test: any signed-in user can pay with a test card. Set PAYMENTS_USER_ENVIRONMENTS=live.",
    );
  }
  if (environments.live?.configured && guards.redirectOrigins.length === 0) {
    found.push(
      "A live key is configured and redirect URLs may point to any origin. Set PAYMENTS_REDIRECT_ORIGINS.",
    );
  }
  return found;
}

export const putConfig: OperatorRoute = async (deps, request, environment) => {
  const body = await readJson(request);
  const secretKey = checkSecretKey(environment, body.secretKey);
  const stripe = deps.stripe(secretKey);

  let account: Stripe.Account;
  try {
    account = await withinStripeBudget(() => stripe.accounts.retrieveCurrent());
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 401 || status === 403) {
      throw new PaymentsError(400, "invalid_secret_key", "Stripe refused this secret key.", {
        details: { fields: [{ field: "secretKey", message: "was refused by Stripe" }] },
      });
    }
    throw new PaymentsError(
      502,
      "stripe_error",
      "Stripe could not be reached to validate the key.",
      { cause: error },
    );
  }

  const previous = await connectionOf(deps, environment);
  if (previous?.stripe_account_id && previous.stripe_account_id !== account.id) {
    // The previous account would keep sending events that no longer verify: remove its endpoint
    // with its own key, before the switch replaces that key.
    await removeWebhookEndpoint(deps, environment);
  }
  // One transaction: the key, the account, and (for another account) archiving the previous
  // account's rows so that accounts never mix.
  const [{ accountChanged }] = await mapDatabaseErrors(deps.sql`
    select payments.switch_stripe_account(${environment}, ${secretKey}, ${account.id}, ${
    account.business_profile?.name ?? account.settings?.dashboard?.display_name ?? null
  }, ${account.email ?? null}) as "accountChanged"`);

  // The key is stored either way: a webhook Stripe cannot create (say, a URL it cannot reach)
  // is reported and can be repaired later with POST /stripe/{environment}/webhook.
  let webhook: WebhookState;
  try {
    webhook = await ensureWebhookEndpoint(deps, stripe, environment);
  } catch (error) {
    if (!(error instanceof PaymentsError) || error.code !== "stripe_error") throw error;
    webhook = { status: "failed", reason: error.message };
  }
  const sync = await collect(syncAccount(deps, stripe, environment));
  return json(
    200,
    {
      environment,
      account: { id: account.id, accountChanged },
      secretKeyLast4: secretKey.slice(-4),
      webhook,
      sync,
    } satisfies ConfigResponse,
  );
};

export const deleteConfig: OperatorRoute = async (deps, _request, environment) => {
  const webhookRemoved = await removeWebhookEndpoint(deps, environment);
  const [{ removed }] = await mapDatabaseErrors(
    deps.sql`select payments.disconnect_stripe_account(${environment}) as removed`,
  );
  // Removing what is not there is not an error (the call is idempotent); `removed` tells which.
  return json(200, { environment, removed, webhookRemoved } satisfies ConfigRemovedResponse);
};

export const repairWebhook: OperatorRoute = async (deps, _request, environment) => {
  const stripe = await stripeFor(deps, environment);
  return json(
    200,
    {
      environment,
      webhook: await ensureWebhookEndpoint(deps, stripe, environment),
    } satisfies WebhookEndpointResponse,
  );
};

export const sync: OperatorRoute = async (deps, request, environment) => {
  const body = await readJson(request) as SyncRequest;
  const query = new URL(request.url).searchParams.get("resume");
  if (body.resume !== undefined && typeof body.resume !== "boolean") {
    throw new PaymentsError(400, "validation_failed", "resume: must be true or false.", {
      details: { fields: [{ field: "resume", message: "must be true or false" }] },
    });
  }
  const resume = body.resume ?? (query === "true" || query === "1");
  const stripe = await stripeFor(deps, environment);
  const progress = syncAccount(deps, stripe, environment, { resume });
  if (!(request.headers.get("accept") ?? "").includes("application/x-ndjson")) {
    return json(200, { environment, sync: await collect(progress) } satisfies SyncResponse);
  }
  // Streamed as one JSON line per page, so a CLI can show progress while a large account syncs.
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await progress.next();
        if (next.done) return controller.close();
        controller.enqueue(encoder.encode(JSON.stringify(next.value) + "\n"));
      } catch (error) {
        // The status line is long gone: the error travels as the last line, worded (and logged)
        // as the one error mapping would answer it.
        const { code, message } = errorAnswer(error, deps.log).body.error;
        const failure: SyncProgress = { type: "error", code, message };
        controller.enqueue(encoder.encode(JSON.stringify(failure) + "\n"));
        controller.close();
      }
    },
  });
  return new Response(stream, { status: 200, headers: { "content-type": "application/x-ndjson" } });
};

export const replayEvent: OperatorRoute = async (deps, _request, environment, eventId) => {
  const [{ result }] = await mapDatabaseErrors(deps.sql`
    select payments.replay_webhook_event(${environment}, ${eventId}) as result`);
  if (result.status === "failed") {
    throw new PaymentsError(500, "event_failed", `Event ${eventId} failed again: ${result.error}`, {
      details: result,
    });
  }
  return json(200, { event: result } satisfies ReplayResponse);
};

interface Connection {
  stripe_account_id: string | null;
  webhook_endpoint_id: string | null;
}

/** The environment's connection row (writes go through the payments connection functions). */
async function connectionOf(deps: Deps, environment: Environment): Promise<Connection | undefined> {
  const [row] = await mapDatabaseErrors(deps.sql<Connection[]>`
    select stripe_account_id, webhook_endpoint_id from payments.provider_connections
    where provider = 'stripe' and environment = ${environment}`);
  return row;
}

/** Deletes the managed endpoint with the stored key; best effort, as the key may be revoked. */
async function removeWebhookEndpoint(deps: Deps, environment: Environment): Promise<boolean> {
  const connection = await connectionOf(deps, environment);
  if (!connection?.webhook_endpoint_id) return false;
  try {
    const stripe = await stripeFor(deps, environment);
    const id = connection.webhook_endpoint_id;
    await withinStripeBudget(() => stripe.webhookEndpoints.del(id));
    return true;
  } catch (error) {
    deps.log(
      `could not delete webhook endpoint ${connection.webhook_endpoint_id}: ${
        error instanceof Error ? error.message : error
      }`,
    );
    return false;
  }
}

/** Creates the managed endpoint, or repairs it when its URL, events or secret drifted. */
async function ensureWebhookEndpoint(
  deps: Deps,
  stripe: Stripe,
  environment: Environment,
): Promise<WebhookState> {
  if (!deps.publicUrl) {
    return {
      status: "skipped",
      reason: "PUBLIC_URL is not set, so Stripe cannot reach the webhook.",
    };
  }
  const url = `${
    deps.publicUrl.replace(/\/+$/, "")
  }/functions/v1/payments/webhooks/stripe/${environment}`;
  const [[{ types }], connection, [secret]] = await Promise.all([
    mapDatabaseErrors(deps.sql`select payments.stripe_webhook_event_types() as types`),
    connectionOf(deps, environment),
    mapDatabaseErrors(
      deps.sql`
        select payments.stripe_secret(${environment}, 'webhook_secret') is not null as stored`,
    ),
  ]);
  const wanted = [...(types as string[])].sort();

  // Endpoints we manage for this environment, found by metadata in case our record was lost.
  const managed: Stripe.WebhookEndpoint[] = [];
  await withinStripeBudget(async () => {
    for await (const endpoint of stripe.webhookEndpoints.list({ limit: 100 })) {
      if (
        endpoint.metadata?.managed_by === MANAGED_BY &&
        endpoint.metadata?.environment === environment
      ) {
        managed.push(endpoint);
      }
    }
  });
  const keep = managed.find((endpoint) =>
    endpoint.id === connection?.webhook_endpoint_id && endpoint.url === url &&
    endpoint.status === "enabled" &&
    JSON.stringify([...endpoint.enabled_events].sort()) === JSON.stringify(wanted) && secret?.stored
  );

  for (const endpoint of managed) {
    if (endpoint !== keep) {
      await callStripe(
        "delete a stale webhook endpoint",
        () => stripe.webhookEndpoints.del(endpoint.id),
      );
    }
  }
  let endpoint = keep;
  if (!endpoint) {
    endpoint = await callStripe(
      "create the webhook endpoint",
      () =>
        stripe.webhookEndpoints.create({
          url,
          enabled_events: wanted as Stripe.WebhookEndpointCreateParams.EnabledEvent[],
          api_version: STRIPE_API_VERSION as Stripe.WebhookEndpointCreateParams.ApiVersion,
          description: `payments-postgres (${environment})`,
          metadata: { managed_by: MANAGED_BY, environment },
        }),
    );
  }
  // A new endpoint's signing secret is stored with it; a kept one keeps the stored secret.
  await mapDatabaseErrors(deps.sql`
    select payments.record_webhook_endpoint(${environment}, ${endpoint.id}, ${url}, ${
    keep ? null : endpoint.secret!
  })`);
  return { status: "configured", endpointId: endpoint.id, url, created: !keep };
}

async function collect(progress: AsyncGenerator<SyncProgress>): Promise<SyncProgress | undefined> {
  let last: SyncProgress | undefined;
  for await (const step of progress) last = step;
  return last;
}
