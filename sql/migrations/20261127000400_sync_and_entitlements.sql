-- migrate:up

-- Sync (one Stripe list page at a time, through the same projection code as webhooks),
-- archiving what a full sync no longer sees, switching Stripe accounts, and the entitlement
-- helper apps call from their own RLS policies.

--------------------------------------------------------------------------------
-- Sync
--------------------------------------------------------------------------------

-- security definer: like ingest_stripe_event, it writes the mirrors through private functions.
create function payments.upsert_stripe_objects(p_environment text, p_object_type text, p_objects jsonb, p_synced_at timestamptz default now())
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_object jsonb;
  v_index integer := 0;
  v_at timestamptz;
begin
  perform payments.require_environment(p_environment);
  if p_object_type is null or p_object_type not in ('product', 'price', 'customer', 'subscription', 'payment_intent',
                                                     'charge', 'refund', 'invoice', 'checkout.session') then
    perform payments.invalid_request('objectType',
      'must be one of product, price, customer, subscription, payment_intent, charge, refund, invoice, checkout.session.');
  end if;
  if p_objects is null or jsonb_typeof(p_objects) <> 'array' then
    perform payments.invalid_request('objects', 'must be a JSON array of Stripe objects (one list page).');
  end if;
  if p_synced_at is null then
    perform payments.invalid_request('syncedAt', 'must be a timestamp.');
  end if;

  for v_object in select value from jsonb_array_elements(p_objects) loop
    if jsonb_typeof(v_object) <> 'object' or jsonb_typeof(v_object -> 'id') is distinct from 'string'
       or coalesce(v_object ->> 'object', p_object_type) <> p_object_type then
      perform payments.invalid_request(format('objects[%s]', v_index), format('must be a Stripe %s object.', p_object_type));
    end if;
    -- The object's own `updated` dates its state when it has one; otherwise the list was read at
    -- about p_synced_at (an event newer than that still wins).
    v_at := least(coalesce(payments.stripe_time(v_object -> 'updated'), p_synced_at), p_synced_at);
    case p_object_type
      when 'product' then perform payments.upsert_product(p_environment, v_object, v_at, false, p_synced_at);
      when 'price' then perform payments.upsert_price(p_environment, v_object, v_at, false, p_synced_at);
      when 'customer' then perform payments.upsert_customer(p_environment, v_object, v_at, false, p_synced_at);
      when 'subscription' then perform payments.upsert_subscription(p_environment, v_object, v_at, null, p_synced_at);
      when 'payment_intent' then perform payments.project_payment_intent(p_environment, v_object, v_at, null);
      when 'invoice' then perform payments.project_invoice(p_environment, v_object, v_at, null);
      when 'checkout.session' then perform payments.project_checkout_session(p_environment, v_object, v_at, null);
      when 'refund' then perform payments.project_refund(p_environment, v_object, v_at);
      when 'charge' then
        if coalesce((v_object ->> 'amount_refunded')::bigint, 0) > 0 then
          perform payments.project_charge(p_environment, v_object, v_at);
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

-- security definer: updates mirror tables on behalf of the service role's sync.
create function payments.archive_unsynced_stripe_objects(p_environment text, p_object_type text, p_sync_started_at timestamptz)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_count integer;
begin
  perform payments.require_environment(p_environment);
  if p_sync_started_at is null then
    perform payments.invalid_request('syncStartedAt', 'must be a timestamp.');
  end if;
  -- Rows that an event touched after the sync began exist even if no page showed them.
  case p_object_type
    when 'product' then
      update payments.stripe_products t set archived_at = now()
      where t.environment = p_environment and t.archived_at is null
        and coalesce(t.last_synced_at, '-infinity') < p_sync_started_at
        and t.created_at < p_sync_started_at and t.stripe_updated_at < p_sync_started_at;
    when 'price' then
      update payments.stripe_prices t set archived_at = now()
      where t.environment = p_environment and t.archived_at is null
        and coalesce(t.last_synced_at, '-infinity') < p_sync_started_at
        and t.created_at < p_sync_started_at and t.stripe_updated_at < p_sync_started_at;
    when 'customer' then
      update payments.customers t set archived_at = now()
      where t.environment = p_environment and t.archived_at is null
        and coalesce(t.last_synced_at, '-infinity') < p_sync_started_at
        and t.created_at < p_sync_started_at and t.stripe_updated_at < p_sync_started_at;
    when 'subscription' then
      update payments.stripe_subscriptions t set archived_at = now()
      where t.environment = p_environment and t.archived_at is null
        and coalesce(t.last_synced_at, '-infinity') < p_sync_started_at
        and t.created_at < p_sync_started_at and t.stripe_updated_at < p_sync_started_at;
    else
      perform payments.invalid_request('objectType', 'must be one of product, price, customer, subscription.');
  end case;
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
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform payments.require_environment(p_environment);
  update payments.stripe_products t set archived_at = now() where t.environment = p_environment and t.archived_at is null;
  update payments.stripe_prices t set archived_at = now() where t.environment = p_environment and t.archived_at is null;
  update payments.customers t set archived_at = now() where t.environment = p_environment and t.archived_at is null;
  update payments.stripe_subscriptions t set archived_at = now() where t.environment = p_environment and t.archived_at is null;
  -- Mappings name customers of the previous account: a subject gets a new customer in the new one.
  delete from payments.customer_mappings m where m.provider = 'stripe' and m.environment = p_environment;
end;
$$;
comment on function payments.archive_stripe_account_data(text) is 'When another Stripe account is connected to an environment: archives its catalog, customers and subscriptions and removes its customer mappings, so the two accounts never mix. History (transactions, events, sessions) stays.';
revoke execute on function payments.archive_stripe_account_data(text) from public;
grant execute on function payments.archive_stripe_account_data(text) to service_role;

--------------------------------------------------------------------------------
-- Entitlements
--------------------------------------------------------------------------------

-- security invoker on purpose: the caller's RLS on stripe_subscriptions applies, so a user can
-- only learn about subjects whose subscriptions they may read (their own, or their team's with
-- the app's policies). Called from an app's policy it answers for the current user's view.
-- plpgsql rather than sql: policies call it per row, and a SQL function that cannot be inlined
-- (it pins search_path) would be planned again on every call; plpgsql keeps the plan.
create function payments.has_active_subscription(
  p_subject_type text,
  p_subject_id text,
  p_environment text default null,
  p_product_id text default null,
  p_price_id text default null,
  p_lookup_key text default null
)
returns boolean
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  return exists (
    select 1
    from payments.stripe_subscriptions s
    where s.subject_type = p_subject_type and s.subject_id = p_subject_id
      and s.status in ('active', 'trialing') and s.archived_at is null
      and (p_environment is null or s.environment = p_environment)
      and (
        (p_product_id is null and p_price_id is null and p_lookup_key is null)
        or exists (
          select 1
          from payments.stripe_subscription_items i
          left join payments.stripe_prices p on p.environment = i.environment and p.price_id = i.price_id
          where i.environment = s.environment and i.subscription_id = s.subscription_id
            and (p_product_id is null or i.product_id = p_product_id)
            and (p_price_id is null or i.price_id = p_price_id)
            -- A deactivated price is hidden from users; the item keeps the price it was sold at.
            and (p_lookup_key is null or coalesce(p.lookup_key, i.raw -> 'price' ->> 'lookup_key') = p_lookup_key)
        )
      )
  );
end;
$$;
comment on function payments.has_active_subscription(text, text, text, text, text, text) is 'True when the subject has an active or trialing, unarchived subscription (optionally in one environment and with an item of the given product, price or price lookup_key). Security invoker: the caller''s RLS on stripe_subscriptions applies, so use it in policies for subjects the user may see.';
revoke execute on function payments.has_active_subscription(text, text, text, text, text, text) from public;
grant execute on function payments.has_active_subscription(text, text, text, text, text, text) to authenticated, service_role;

-- migrate:down
