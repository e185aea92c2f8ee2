-- migrate:up

--------------------------------------------------------------------------------
-- Connection state: every write goes through these functions
--------------------------------------------------------------------------------

-- security definer (every function of this file): service-role entry points that write the
-- private secret store; EXECUTE is granted to service_role only.

-- One transaction: a crash midway can neither mix two accounts' data nor keep the previous
-- account's webhook secret next to the new key.
create function payments.switch_stripe_account(
  p_environment text, p_secret_key text, p_account_id text,
  p_account_name text default null, p_account_email text default null)
returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  v_previous text;
begin
  perform payments_private.require_environment(p_environment);
  if coalesce(p_account_id, '') !~ '^acct_' then
    perform payments_private.invalid_request('accountId', 'must be a Stripe account id (acct_...).');
  end if;
  select c.stripe_account_id into v_previous from payments.provider_connections c
  where c.provider = 'stripe' and c.environment = p_environment
  for update;
  if v_previous is not null and v_previous <> p_account_id then
    perform payments_private.archive_stripe_account_data(p_environment);
    perform payments_private.delete_provider_secret(p_environment::payments.environment, 'webhook_secret');
    update payments.provider_connections c set webhook_endpoint_id = null, webhook_endpoint_url = null
    where c.provider = 'stripe' and c.environment = p_environment;
  end if;
  perform payments_private.set_provider_secret(p_environment::payments.environment, 'secret_key', p_secret_key);
  insert into payments.provider_connections as c
    (environment, status, stripe_account_id, stripe_account_name, stripe_account_email, livemode, secret_key_last4)
  values (p_environment, 'connected', p_account_id, p_account_name, p_account_email, p_environment = 'live',
          right(p_secret_key, 4))
  on conflict (provider, environment) do update set
    status = excluded.status, stripe_account_id = excluded.stripe_account_id,
    stripe_account_name = excluded.stripe_account_name, stripe_account_email = excluded.stripe_account_email,
    livemode = excluded.livemode, secret_key_last4 = excluded.secret_key_last4;
  return v_previous is not null and v_previous <> p_account_id;
end;
$$;
comment on function payments.switch_stripe_account(text, text, text, text, text) is 'Connects a Stripe account to an environment in one transaction: stores its secret key and, when it replaces another account, archives that account''s data and forgets its webhook endpoint and secret. True when the account changed.';

create function payments.disconnect_stripe_account(p_environment text)
returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  v_stored boolean;
begin
  perform payments_private.require_environment(p_environment);
  v_stored := payments_private.get_provider_secret(p_environment::payments.environment, 'secret_key') is not null;
  perform payments_private.delete_provider_secret(p_environment::payments.environment, 'secret_key');
  perform payments_private.delete_provider_secret(p_environment::payments.environment, 'webhook_secret');
  update payments.provider_connections c set status = 'disconnected', secret_key_last4 = null,
    webhook_endpoint_id = null, webhook_endpoint_url = null
  where c.provider = 'stripe' and c.environment = p_environment;
  return v_stored;
end;
$$;
comment on function payments.disconnect_stripe_account(text) is 'Removes an environment''s Stripe key and webhook secret and marks it disconnected; the mirrored data stays. True when a key was stored.';

create function payments.record_webhook_endpoint(
  p_environment text, p_endpoint_id text, p_url text, p_signing_secret text default null)
returns void
language plpgsql security definer set search_path = ''
as $$
begin
  perform payments_private.require_environment(p_environment);
  if p_signing_secret is not null then
    perform payments_private.set_provider_secret(p_environment::payments.environment, 'webhook_secret', p_signing_secret);
  end if;
  insert into payments.provider_connections as c (environment, webhook_endpoint_id, webhook_endpoint_url)
  values (p_environment, p_endpoint_id, p_url)
  on conflict (provider, environment) do update set
    webhook_endpoint_id = excluded.webhook_endpoint_id, webhook_endpoint_url = excluded.webhook_endpoint_url;
end;
$$;
comment on function payments.record_webhook_endpoint(text, text, text, text) is 'Records the managed webhook endpoint of an environment and, for a new endpoint, its signing secret.';

create function payments.record_sync_status(
  p_environment text, p_status text, p_error text default null, p_counts jsonb default '{}')
returns void
language plpgsql security definer set search_path = ''
as $$
begin
  perform payments_private.require_environment(p_environment);
  if p_status is null or p_status not in ('running', 'succeeded', 'failed') then
    perform payments_private.invalid_request('status', 'must be running, succeeded or failed.');
  end if;
  insert into payments.provider_connections as c
    (environment, last_sync_status, last_sync_error, last_sync_counts, last_synced_at)
  values (p_environment, p_status, p_error, coalesce(p_counts, '{}'),
          case when p_status = 'running' then null else now() end)
  on conflict (provider, environment) do update set
    last_sync_status = excluded.last_sync_status,
    last_sync_error = excluded.last_sync_error,
    -- A running sync keeps showing the counts of the last finished one.
    last_sync_counts = case when excluded.last_sync_status = 'running' then c.last_sync_counts else excluded.last_sync_counts end,
    last_synced_at = coalesce(excluded.last_synced_at, c.last_synced_at);
end;
$$;
comment on function payments.record_sync_status(text, text, text, jsonb) is 'Records that a sync of an environment started (running) or finished (succeeded or failed, with its counts).';

-- stable: the status answer reads only.
create function payments.stripe_connection_status()
returns table (
  environment text, status text, stripe_account_id text, stripe_account_name text,
  stripe_account_email text, livemode boolean, secret_key_last4 text, webhook_endpoint_id text,
  webhook_endpoint_url text, last_synced_at timestamptz, last_sync_error text, last_sync_counts jsonb,
  last_sync_status text, has_key boolean, has_webhook_secret boolean, products integer, prices integer,
  customers integer, subscriptions integer, transactions integer, webhook_events jsonb)
language sql stable security definer set search_path = ''
as $$
  select e.environment,
         c.status, c.stripe_account_id, c.stripe_account_name, c.stripe_account_email, c.livemode,
         c.secret_key_last4, c.webhook_endpoint_id, c.webhook_endpoint_url,
         c.last_synced_at, c.last_sync_error, c.last_sync_counts,
         -- A sync cut off by the runtime's time limit never reports back: call it interrupted.
         case when c.last_sync_status = 'running' and c.updated_at < now() - interval '15 minutes'
              then 'interrupted' else c.last_sync_status end,
         exists (select 1 from payments_private.provider_secrets s where s.environment = e.environment and s.name = 'secret_key'),
         exists (select 1 from payments_private.provider_secrets s where s.environment = e.environment and s.name = 'webhook_secret'),
         (select count(*) from payments.stripe_products p where p.environment = e.environment and p.archived_at is null and p.deleted_at is null)::int,
         (select count(*) from payments.stripe_prices p where p.environment = e.environment and p.archived_at is null and p.deleted_at is null)::int,
         (select count(*) from payments.customers p where p.environment = e.environment and p.archived_at is null and not p.deleted)::int,
         (select count(*) from payments.stripe_subscriptions p where p.environment = e.environment and p.archived_at is null)::int,
         (select count(*) from payments.transactions p where p.environment = e.environment)::int,
         (select coalesce(jsonb_object_agg(w.processing_status, w.n), '{}') from (
            select w.processing_status, count(*) as n from payments.webhook_events w
            where w.environment = e.environment group by w.processing_status) w)
  from (values ('test'), ('live')) as e(environment)
  left join payments.provider_connections c on c.environment = e.environment and c.provider = 'stripe'
  order by e.environment
$$;
comment on function payments.stripe_connection_status() is 'Per environment: the connected account, key and webhook state, the last sync and row counts (what GET /stripe/status answers).';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments.switch_stripe_account(text, text, text, text, text),
  payments.disconnect_stripe_account(text),
  payments.record_webhook_endpoint(text, text, text, text),
  payments.record_sync_status(text, text, text, jsonb),
  payments.stripe_connection_status()
from public;
grant execute on function
  payments.switch_stripe_account(text, text, text, text, text),
  payments.disconnect_stripe_account(text),
  payments.record_webhook_endpoint(text, text, text, text),
  payments.record_sync_status(text, text, text, jsonb),
  payments.stripe_connection_status()
to service_role;

-- migrate:down
