// Service-role routes: connect a Stripe key, manage the webhook endpoint, sync, replay, status.
import { authenticate } from "./auth.ts";
import { asServer } from "./db.ts";
import type { Deps } from "./deps.ts";
import { json, PaymentsError } from "./errors.ts";
import {
  callStripe,
  checkSecretKey,
  type Environment,
  type Stripe,
  STRIPE_API_VERSION,
  stripeFor,
} from "./stripe.ts";
import { syncAccount } from "./sync.ts";
import { readJson } from "./validate.ts";
import type {
  ConfigRemovedResponse,
  ConfigResponse,
  ReplayResponse,
  StatusResponse,
  SyncProgress,
  SyncResponse,
  WebhookEndpointResponse,
  WebhookState,
} from "./wire.ts";

const MANAGED_BY = "payments-postgres";

export async function getStatus(deps: Deps, request: Request): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const rows = await asServer(deps.sql`
    select e.environment,
           c.status, c.stripe_account_id, c.stripe_account_name, c.stripe_account_email, c.livemode,
           c.secret_key_last4, c.webhook_endpoint_id, c.webhook_endpoint_url,
           c.last_synced_at, c.last_sync_error, c.last_sync_counts,
           -- A sync cut off by the runtime's time limit never reports back: call it interrupted.
           case when c.last_sync_status = 'running' and c.updated_at < now() - interval '15 minutes'
                then 'interrupted' else c.last_sync_status end as last_sync_status,
           (select count(*) from payments.provider_secrets s where s.environment = e.environment and s.name = 'secret_key')::int as has_key,
           (select count(*) from payments.provider_secrets s where s.environment = e.environment and s.name = 'webhook_secret')::int as has_webhook_secret,
           (select count(*) from payments.stripe_products p where p.environment = e.environment and p.archived_at is null and p.deleted_at is null)::int as products,
           (select count(*) from payments.stripe_prices p where p.environment = e.environment and p.archived_at is null and p.deleted_at is null)::int as prices,
           (select count(*) from payments.customers p where p.environment = e.environment and p.archived_at is null and not p.deleted)::int as customers,
           (select count(*) from payments.stripe_subscriptions p where p.environment = e.environment and p.archived_at is null)::int as subscriptions,
           (select count(*) from payments.transactions p where p.environment = e.environment)::int as transactions,
           (select coalesce(jsonb_object_agg(w.processing_status, w.n), '{}') from (
              select processing_status, count(*) as n from payments.webhook_events w
              where w.environment = e.environment group by processing_status) w) as webhook_events
    from (values ('test'), ('live')) as e(environment)
    left join payments.provider_connections c on c.environment = e.environment and c.provider = 'stripe'
    order by e.environment`);
  const environments = {} as StatusResponse["environments"];
  for (const row of rows) {
    environments[row.environment as Environment] = {
      configured: row.has_key > 0,
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
        signingSecretStored: row.has_webhook_secret > 0,
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
    };
  }
  return json(200, { environments } satisfies StatusResponse);
}

export async function putConfig(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const body = await readJson(request);
  const secretKey = checkSecretKey(environment, body.secretKey);
  const stripe = deps.stripe(secretKey);

  let account: Stripe.Account;
  try {
    account = await stripe.accounts.retrieveCurrent();
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

  const [previous] = await asServer(deps.sql`
    select stripe_account_id from payments.provider_connections
    where provider = 'stripe' and environment = ${environment}`);
  const accountChanged = Boolean(previous?.stripe_account_id) &&
    previous.stripe_account_id !== account.id;
  if (accountChanged) {
    // The previous account would keep sending events that no longer verify: remove its endpoint.
    await removeWebhookEndpoint(deps, environment);
    // Rows of the previous account are archived and its customer mappings dropped: accounts never mix.
    await asServer(deps.sql`select payments.archive_stripe_account_data(${environment})`);
    await asServer(deps.sql`
      update payments.provider_connections set webhook_endpoint_id = null, webhook_endpoint_url = null
      where provider = 'stripe' and environment = ${environment}`);
    await asServer(
      deps.sql`select payments.delete_provider_secret(${environment}, 'webhook_secret')`,
    );
  }

  await asServer(deps.sql.begin(async (tx) => {
    await tx`select payments.set_provider_secret(${environment}, 'secret_key', ${secretKey})`;
    await tx`
      insert into payments.provider_connections
        (environment, status, stripe_account_id, stripe_account_name, stripe_account_email, livemode, secret_key_last4)
      values (${environment}, 'connected', ${account.id},
              ${
      account.business_profile?.name ?? account.settings?.dashboard?.display_name ?? null
    },
              ${account.email ?? null}, ${environment === "live"}, ${secretKey.slice(-4)})
      on conflict (provider, environment) do update set
        status = excluded.status, stripe_account_id = excluded.stripe_account_id,
        stripe_account_name = excluded.stripe_account_name, stripe_account_email = excluded.stripe_account_email,
        livemode = excluded.livemode, secret_key_last4 = excluded.secret_key_last4`;
  }));

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
}

export async function deleteConfig(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const webhookRemoved = await removeWebhookEndpoint(deps, environment);
  const removed = await asServer(deps.sql.begin(async (tx) => {
    const [{ stored }] = await tx`
      select exists (select 1 from payments.provider_secrets
                     where environment = ${environment} and name = 'secret_key') as stored`;
    await tx`select payments.delete_provider_secret(${environment}, 'secret_key')`;
    await tx`select payments.delete_provider_secret(${environment}, 'webhook_secret')`;
    await tx`
      update payments.provider_connections set status = 'disconnected', secret_key_last4 = null,
        webhook_endpoint_id = null, webhook_endpoint_url = null
      where provider = 'stripe' and environment = ${environment}`;
    return stored as boolean;
  }));
  // Removing what is not there is not an error (the call is idempotent); `removed` tells which.
  return json(200, { environment, removed, webhookRemoved } satisfies ConfigRemovedResponse);
}

export async function repairWebhook(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const stripe = await stripeFor(deps, environment);
  return json(
    200,
    {
      environment,
      webhook: await ensureWebhookEndpoint(deps, stripe, environment),
    } satisfies WebhookEndpointResponse,
  );
}

export async function sync(
  deps: Deps,
  request: Request,
  environment: Environment,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const stripe = await stripeFor(deps, environment);
  const progress = syncAccount(deps, stripe, environment);
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
        const failure: SyncProgress = {
          type: "error",
          code: error instanceof PaymentsError ? error.code : "internal_error",
          message: error instanceof PaymentsError ? error.message : "Sync failed.",
        };
        controller.enqueue(encoder.encode(JSON.stringify(failure) + "\n"));
        controller.close();
      }
    },
  });
  return new Response(stream, { status: 200, headers: { "content-type": "application/x-ndjson" } });
}

export async function replayEvent(
  deps: Deps,
  request: Request,
  environment: Environment,
  eventId: string,
): Promise<Response> {
  await authenticate(request, deps.auth, "service_role");
  const [{ result }] = await asServer(deps.sql`
    select payments.replay_webhook_event(${environment}, ${eventId}) as result`);
  if (result.status === "failed") {
    return json(500, {
      error: {
        code: "event_failed",
        message: `Event ${eventId} failed again: ${result.error}`,
        details: result,
      },
    });
  }
  return json(200, { event: result } satisfies ReplayResponse);
}

/** Deletes the managed endpoint with the stored key; best effort, as the key may be revoked. */
async function removeWebhookEndpoint(deps: Deps, environment: Environment): Promise<boolean> {
  const [connection] = await asServer(deps.sql`
    select webhook_endpoint_id from payments.provider_connections
    where provider = 'stripe' and environment = ${environment}`);
  if (!connection?.webhook_endpoint_id) return false;
  try {
    const stripe = await stripeFor(deps, environment);
    await stripe.webhookEndpoints.del(connection.webhook_endpoint_id);
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
  const [[{ types }], [connection], [secret]] = await Promise.all([
    asServer(deps.sql`select payments.stripe_webhook_event_types() as types`),
    asServer(deps.sql`
      select webhook_endpoint_id from payments.provider_connections
      where provider = 'stripe' and environment = ${environment}`),
    asServer(
      deps
        .sql`select payments.get_provider_secret(${environment}, 'webhook_secret') is not null as stored`,
    ),
  ]);
  const wanted = [...(types as string[])].sort();

  // Endpoints we manage for this environment, found by metadata in case our record was lost.
  const managed: Stripe.WebhookEndpoint[] = [];
  for await (const endpoint of stripe.webhookEndpoints.list({ limit: 100 })) {
    if (
      endpoint.metadata?.managed_by === MANAGED_BY && endpoint.metadata?.environment === environment
    ) {
      managed.push(endpoint);
    }
  }
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
    await asServer(
      deps.sql`select payments.set_provider_secret(${environment}, 'webhook_secret', ${endpoint
        .secret!})`,
    );
  }
  await asServer(deps.sql`
    insert into payments.provider_connections (environment, webhook_endpoint_id, webhook_endpoint_url)
    values (${environment}, ${endpoint.id}, ${url})
    on conflict (provider, environment) do update set
      webhook_endpoint_id = excluded.webhook_endpoint_id, webhook_endpoint_url = excluded.webhook_endpoint_url`);
  return { status: "configured", endpointId: endpoint.id, url, created: !keep };
}

async function collect(progress: AsyncGenerator<SyncProgress>): Promise<SyncProgress | undefined> {
  let last: SyncProgress | undefined;
  for await (const step of progress) last = step;
  return last;
}
