-- migrate:up

-- Sync (one Stripe list page at a time, through the same projection code as webhooks),
-- archiving what a full sync no longer sees, and the connection to Stripe per environment.

--------------------------------------------------------------------------------
-- Sync
--------------------------------------------------------------------------------

-- security definer: like ingest_stripe_event, it writes the mirrors through private functions.
create function payments.upsert_stripe_objects(p_environment text, p_object_type text, p_objects jsonb, p_synced_at timestamptz default now())
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  v_object jsonb;
  v_index integer := 0;
  v_at timestamptz;
begin
  perform payments_private.require_environment(p_environment);
  if p_object_type is null or p_object_type not in ('product', 'price', 'customer', 'subscription', 'payment_intent',
                                                     'charge', 'refund', 'invoice', 'checkout.session') then
    perform payments_private.invalid_request('objectType',
      'must be one of product, price, customer, subscription, payment_intent, charge, refund, invoice, checkout.session.');
  end if;
  if p_objects is null or jsonb_typeof(p_objects) <> 'array' then
    perform payments_private.invalid_request('objects', 'must be a JSON array of Stripe objects (one list page).');
  end if;
  if p_synced_at is null then
    perform payments_private.invalid_request('syncedAt', 'must be a timestamp.');
  end if;

  for v_object in select value from jsonb_array_elements(p_objects) loop
    if jsonb_typeof(v_object) <> 'object' or jsonb_typeof(v_object -> 'id') is distinct from 'string'
       or coalesce(v_object ->> 'object', p_object_type) <> p_object_type then
      perform payments_private.invalid_request(format('objects[%s]', v_index), format('must be a Stripe %s object.', p_object_type));
    end if;
    -- The object's own `updated` dates its state when it has one; otherwise the list was read at
    -- about p_synced_at (an event newer than that still wins).
    v_at := least(coalesce(payments_private.stripe_time(v_object -> 'updated'), p_synced_at), p_synced_at);
    case p_object_type
      when 'product' then perform payments_private.upsert_product(p_environment, v_object, v_at, false, p_synced_at);
      when 'price' then perform payments_private.upsert_price(p_environment, v_object, v_at, false, p_synced_at);
      when 'customer' then perform payments_private.upsert_customer(p_environment, v_object, v_at, false, p_synced_at);
      when 'subscription' then perform payments_private.upsert_subscription(p_environment, v_object, v_at, null, p_synced_at);
      when 'payment_intent' then perform payments_private.project_payment_intent(p_environment, v_object, v_at, null);
      when 'invoice' then perform payments_private.project_invoice(p_environment, v_object, v_at, null);
      when 'checkout.session' then perform payments_private.project_checkout_session(p_environment, v_object, v_at, null);
      when 'refund' then perform payments_private.project_refund(p_environment, v_object, v_at);
      when 'charge' then
        if coalesce((v_object ->> 'amount_refunded')::bigint, 0) > 0 then
          perform payments_private.project_charge(p_environment, v_object, v_at);
        end if;
    end case;
    v_index := v_index + 1;
  end loop;
  return v_index;
end;
$$;
comment on function payments.upsert_stripe_objects(text, text, jsonb, timestamptz) is 'Mirrors one list page of Stripe objects (product, price, customer, subscription, payment_intent, charge, refund, invoice, checkout.session) through the webhook projection, marking mirrored rows seen at p_synced_at. Returns the number of objects; PT400 for an unknown type.';
revoke execute on function payments.upsert_stripe_objects(text, text, jsonb, timestamptz) from public;
grant execute on function payments.upsert_stripe_objects(text, text, jsonb, timestamptz) to service_role;

-- The mirrors a full sync lists completely, by Stripe object type: what it does not see is gone
-- from Stripe. One list for marking rows seen, archiving the unseen and switching accounts.
create function payments_private.archivable_mirrors()
returns table (object_type text, table_name text, id_column text)
language sql immutable set search_path = ''
as $$
  values ('product', 'stripe_products', 'product_id'), ('price', 'stripe_prices', 'price_id'),
         ('customer', 'customers', 'customer_id'), ('subscription', 'stripe_subscriptions', 'subscription_id')
$$;
comment on function payments_private.archivable_mirrors() is 'The object types a full sync lists completely (product, price, customer, subscription), with their mirror table and Stripe id column.';
revoke execute on function payments_private.archivable_mirrors() from public;

-- Called by the upserts when they refused an object because the row holds newer state.
create function payments_private.mark_seen_by_sync(p_object_type text, p_environment text, p_id text, p_synced_at timestamptz)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_mirror record;
begin
  if p_synced_at is null then
    return;
  end if;
  select * into v_mirror from payments_private.archivable_mirrors() m where m.object_type = p_object_type;
  -- Seen by sync although the row holds newer state: it still exists in Stripe.
  execute format('update payments.%I t set last_synced_at = $1, archived_at = null where t.environment = $2 and t.%I = $3',
                 v_mirror.table_name, v_mirror.id_column)
    using p_synced_at, p_environment, p_id;
end;
$$;
comment on function payments_private.mark_seen_by_sync(text, text, text, timestamptz) is 'Marks a mirrored row seen by the sync at p_synced_at (and not archived); nothing outside a sync (null p_synced_at).';
revoke execute on function payments_private.mark_seen_by_sync(text, text, text, timestamptz) from public;

-- security definer: updates mirror tables on behalf of the service role's sync.
create function payments.archive_unsynced_stripe_objects(p_environment text, p_object_type text, p_sync_started_at timestamptz)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  v_mirror record;
  v_count integer;
begin
  perform payments_private.require_environment(p_environment);
  select * into v_mirror from payments_private.archivable_mirrors() m where m.object_type = p_object_type;
  if p_sync_started_at is null then
    perform payments_private.invalid_request('syncStartedAt', 'must be a timestamp.');
  end if;
  if v_mirror.table_name is null then
    perform payments_private.invalid_request('objectType', 'must be one of product, price, customer, subscription.');
  end if;
  -- Rows that an event touched after the sync began exist even if no page showed them.
  execute format('update payments.%I t set archived_at = now()
                  where t.environment = $1 and t.archived_at is null
                    and coalesce(t.last_synced_at, ''-infinity'') < $2
                    and t.created_at < $2 and t.stripe_updated_at < $2', v_mirror.table_name)
    using p_environment, p_sync_started_at;
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function payments.archive_unsynced_stripe_objects(text, text, timestamptz) is 'After a completed full sync of one object type, archives (never deletes) the rows that sync did not see. Returns how many were archived.';
revoke execute on function payments.archive_unsynced_stripe_objects(text, text, timestamptz) from public;
grant execute on function payments.archive_unsynced_stripe_objects(text, text, timestamptz) to service_role;

-- security definer: as above.
create function payments.archive_stripe_account_data(p_environment text)
returns void
language plpgsql security definer set search_path = ''
as $$
declare
  v_table text;
begin
  perform payments_private.require_environment(p_environment);
  for v_table in select m.table_name from payments_private.archivable_mirrors() m loop
    execute format('update payments.%I t set archived_at = now() where t.environment = $1 and t.archived_at is null', v_table)
      using p_environment;
  end loop;
  -- Mappings name customers of the previous account: a subject gets a new customer in the new one.
  delete from payments.customer_mappings m where m.provider = 'stripe' and m.environment = p_environment;
end;
$$;
comment on function payments.archive_stripe_account_data(text) is 'When another Stripe account is connected to an environment: archives its catalog, customers and subscriptions and removes its customer mappings, so the two accounts never mix. History (transactions, events, sessions) stays.';
revoke execute on function payments.archive_stripe_account_data(text) from public;
grant execute on function payments.archive_stripe_account_data(text) to service_role;

--------------------------------------------------------------------------------
-- Connection state: every write goes through these functions
--------------------------------------------------------------------------------

-- security definer (every function of this section): service-role entry points that write the
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
    perform payments.archive_stripe_account_data(p_environment);
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
revoke execute on function payments.switch_stripe_account(text, text, text, text, text) from public;
grant execute on function payments.switch_stripe_account(text, text, text, text, text) to service_role;

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
revoke execute on function payments.disconnect_stripe_account(text) from public;
grant execute on function payments.disconnect_stripe_account(text) to service_role;

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
revoke execute on function payments.record_webhook_endpoint(text, text, text, text) from public;
grant execute on function payments.record_webhook_endpoint(text, text, text, text) to service_role;

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
revoke execute on function payments.record_sync_status(text, text, text, jsonb) from public;
grant execute on function payments.record_sync_status(text, text, text, jsonb) to service_role;

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
revoke execute on function payments.stripe_connection_status() from public;
grant execute on function payments.stripe_connection_status() to service_role;

-- migrate:down
