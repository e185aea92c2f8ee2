-- migrate:up

--------------------------------------------------------------------------------
-- The upserts name the event that holds their object (see 20261130005000_single_payload_storage.sql)
--------------------------------------------------------------------------------
-- As before, except that a row written from an event's own object keeps source_event_id instead
-- of a copy of the object in raw (payments_private.projected_event decides which).

create or replace function payments_private.upsert_customer(p_environment text, p_customer jsonb, p_at timestamptz, p_deleted boolean default false, p_synced_at timestamptz default null)
returns boolean
language plpgsql set search_path = ''
as $$
declare
  v_deleted boolean := p_deleted or coalesce((p_customer ->> 'deleted')::boolean, false);
  v_event text := payments_private.projected_event(p_customer);
  v_id uuid;
begin
  insert into payments.customers as t (
    environment, customer_id, email, name, metadata, raw, source_event_id, deleted, stripe_created_at,
    stripe_updated_at, last_synced_at
  ) values (
    p_environment, p_customer ->> 'id', p_customer ->> 'email', p_customer ->> 'name',
    coalesce(p_customer -> 'metadata', '{}'::jsonb), case when v_event is null then p_customer end, v_event, v_deleted,
    payments_private.stripe_time(p_customer -> 'created'), p_at, p_synced_at
  )
  on conflict (environment, customer_id) do update set
    email = excluded.email, name = excluded.name, metadata = excluded.metadata, raw = excluded.raw,
    source_event_id = excluded.source_event_id,
    deleted = excluded.deleted, stripe_created_at = coalesce(excluded.stripe_created_at, t.stripe_created_at),
    stripe_updated_at = excluded.stripe_updated_at, archived_at = null,
    last_synced_at = coalesce(excluded.last_synced_at, t.last_synced_at)
  where not t.deleted and excluded.stripe_updated_at >= t.stripe_updated_at
  returning t.id into v_id;

  if v_id is null then
    perform payments_private.mark_seen_by_sync('customer', p_environment, p_customer ->> 'id', p_synced_at);
    return false;
  end if;

  if v_deleted then
    -- A deleted customer cannot open a portal or pay again: free the subject for a new one.
    delete from payments.customer_mappings m
    where m.provider = 'stripe' and m.environment = p_environment and m.provider_customer_id = p_customer ->> 'id';
  else
    perform payments_private.attach_customer(p_environment, payments_private.metadata_subject_type(p_customer -> 'metadata'),
      p_customer -> 'metadata' ->> 'payments_subject_id', p_customer ->> 'id');
  end if;
  return true;
end;
$$;
comment on function payments_private.upsert_customer(text, jsonb, timestamptz, boolean, timestamptz) is 'Mirrors a Stripe Customer unless the row holds newer state or was deleted; maps it to the subject in its metadata; a deletion removes its mapping. True when applied.';

create or replace function payments_private.upsert_subscription(p_environment text, p_subscription jsonb, p_at timestamptz, p_event_type text default null, p_synced_at timestamptz default null)
returns boolean
language plpgsql set search_path = ''
as $$
declare
  v_subscription_id text := p_subscription ->> 'id';
  v_customer text := payments_private.stripe_id(p_subscription -> 'customer');
  v_items jsonb := coalesce(p_subscription -> 'items' -> 'data', '[]'::jsonb);
  v_status text := p_subscription ->> 'status';
  v_event text := payments_private.projected_event(p_subscription);
  v_subject_type text;
  v_subject_id text;
  v_id uuid;
  v_inserted boolean;
begin
  v_subject_type := payments_private.metadata_subject_type(p_subscription -> 'metadata');
  v_subject_id := case when v_subject_type is not null then p_subscription -> 'metadata' ->> 'payments_subject_id' end;
  if v_subject_type is not null then
    perform payments_private.attach_customer(p_environment, v_subject_type, v_subject_id, v_customer)
    where not exists (select 1 from payments.customer_mappings m
                      where m.provider = 'stripe' and m.environment = p_environment
                        and m.subject_type = v_subject_type and m.subject_id = v_subject_id);
  else
    select s.subject_type, s.subject_id into v_subject_type, v_subject_id
    from payments_private.subject_of_customer(p_environment, v_customer) s;
  end if;

  if p_event_type = 'customer.subscription.deleted' and v_status not in ('canceled', 'incomplete_expired') then
    v_status := 'canceled';
  end if;

  insert into payments.stripe_subscriptions as t (
    environment, subscription_id, customer_id, subject_type, subject_id, status, cancel_at_period_end,
    cancel_at, canceled_at, ended_at, current_period_start, current_period_end, trial_start, trial_end,
    latest_invoice_id, metadata, raw, source_event_id, stripe_created_at, stripe_updated_at, last_synced_at
  ) values (
    p_environment, v_subscription_id, v_customer, v_subject_type, v_subject_id, v_status,
    coalesce((p_subscription ->> 'cancel_at_period_end')::boolean, false),
    payments_private.stripe_time(p_subscription -> 'cancel_at'), payments_private.stripe_time(p_subscription -> 'canceled_at'),
    payments_private.stripe_time(p_subscription -> 'ended_at'),
    -- API 2025+ keeps the period on each item; older versions on the subscription.
    coalesce(payments_private.stripe_time(p_subscription -> 'current_period_start'),
      (select min(payments_private.stripe_time(i -> 'current_period_start')) from jsonb_array_elements(v_items) i)),
    coalesce(payments_private.stripe_time(p_subscription -> 'current_period_end'),
      (select max(payments_private.stripe_time(i -> 'current_period_end')) from jsonb_array_elements(v_items) i)),
    payments_private.stripe_time(p_subscription -> 'trial_start'), payments_private.stripe_time(p_subscription -> 'trial_end'),
    payments_private.stripe_id(p_subscription -> 'latest_invoice'), coalesce(p_subscription -> 'metadata', '{}'::jsonb),
    case when v_event is null then p_subscription end, v_event,
    payments_private.stripe_time(p_subscription -> 'created'), p_at, p_synced_at
  )
  on conflict (environment, subscription_id) do update set
    customer_id = excluded.customer_id,
    subject_type = coalesce(excluded.subject_type, t.subject_type),
    subject_id = case when excluded.subject_type is not null then excluded.subject_id else t.subject_id end,
    status = excluded.status, cancel_at_period_end = excluded.cancel_at_period_end,
    cancel_at = excluded.cancel_at, canceled_at = excluded.canceled_at, ended_at = excluded.ended_at,
    current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
    trial_start = excluded.trial_start, trial_end = excluded.trial_end,
    latest_invoice_id = excluded.latest_invoice_id, metadata = excluded.metadata, raw = excluded.raw,
    source_event_id = excluded.source_event_id,
    stripe_created_at = coalesce(excluded.stripe_created_at, t.stripe_created_at),
    stripe_updated_at = excluded.stripe_updated_at, archived_at = null,
    last_synced_at = coalesce(excluded.last_synced_at, t.last_synced_at)
  -- Canceled and incomplete_expired are final in Stripe: only another final state may follow.
  where excluded.stripe_updated_at >= t.stripe_updated_at
    and (t.status not in ('canceled', 'incomplete_expired') or excluded.status in ('canceled', 'incomplete_expired'))
  returning t.id, t.xmax = 0 into v_id, v_inserted;

  if v_id is null then
    perform payments_private.mark_seen_by_sync('subscription', p_environment, v_subscription_id, p_synced_at);
    return false;
  end if;

  insert into payments.stripe_subscription_items as t (
    environment, subscription_item_id, subscription_id, price_id, product_id, quantity,
    current_period_start, current_period_end, metadata, raw, source_event_id, stripe_updated_at
  )
  select p_environment, i ->> 'id', v_subscription_id,
    coalesce(payments_private.stripe_id(i -> 'price'), payments_private.stripe_id(i -> 'plan')),
    coalesce(payments_private.stripe_id(i -> 'price' -> 'product'), payments_private.stripe_id(i -> 'plan' -> 'product')),
    (i ->> 'quantity')::integer,
    payments_private.stripe_time(i -> 'current_period_start'), payments_private.stripe_time(i -> 'current_period_end'),
    coalesce(i -> 'metadata', '{}'::jsonb), case when v_event is null then i end, v_event, p_at
  from jsonb_array_elements(v_items) i
  on conflict (environment, subscription_item_id) do update set
    price_id = excluded.price_id, product_id = excluded.product_id, quantity = excluded.quantity,
    current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
    metadata = excluded.metadata, raw = excluded.raw, source_event_id = excluded.source_event_id,
    stripe_updated_at = excluded.stripe_updated_at
  where excluded.stripe_updated_at >= t.stripe_updated_at;

  -- Items gone from the newest state were removed in Stripe (unless the list was cut short). A
  -- subscription seen for the first time (xmax = 0: inserted, not updated) has no older items.
  if not v_inserted and not coalesce((p_subscription -> 'items' ->> 'has_more')::boolean, false) then
    delete from payments.stripe_subscription_items t
    where t.environment = p_environment and t.subscription_id = v_subscription_id
      and t.stripe_updated_at <= p_at
      and not exists (select 1 from jsonb_array_elements(v_items) i where i ->> 'id' = t.subscription_item_id);
  end if;
  return true;
end;
$$;
comment on function payments_private.upsert_subscription(text, jsonb, timestamptz, text, timestamptz) is 'Mirrors a Stripe Subscription and its items unless the row holds newer state or is canceled; the subject comes from its metadata or the customer mapping. True when applied.';

create or replace function payments_private.merge_transaction(
  p_environment text, p_type text, p_status text, p_provider_object_id text,
  p_subject_type text default null, p_subject_id text default null,
  p_customer_id text default null, p_customer_email text default null,
  p_checkout_session_id text default null, p_payment_intent_id text default null,
  p_charge_id text default null, p_invoice_id text default null,
  p_subscription_id text default null, p_refund_id text default null,
  p_amount bigint default null, p_currency text default null, p_description text default null,
  p_paid_at timestamptz default null, p_failed_at timestamptz default null,
  p_refunded_at timestamptz default null, p_stripe_created_at timestamptz default null,
  p_stripe_updated_at timestamptz default null, p_raw jsonb default null)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_event text := payments_private.projected_event(p_raw);
begin
  insert into payments.transactions as t (
    environment, type, status, provider_object_id, subject_type, subject_id, customer_id,
    customer_email, checkout_session_id, payment_intent_id, charge_id, invoice_id, subscription_id,
    refund_id, amount, amount_refunded, currency, description, paid_at, failed_at, refunded_at,
    stripe_created_at, stripe_updated_at, raw, source_event_id
  ) values (
    p_environment, p_type,
    case when p_type in ('one_time_payment', 'subscription_invoice')
      then payments_private.payment_status(p_amount, 0) else p_status end,
    p_provider_object_id,
    case when p_subject_id is not null then p_subject_type end,
    case when p_subject_type is not null then p_subject_id end,
    p_customer_id, p_customer_email, p_checkout_session_id, p_payment_intent_id, p_charge_id, p_invoice_id,
    p_subscription_id, p_refund_id, coalesce(p_amount, 0), 0, lower(p_currency),
    p_description, p_paid_at, p_failed_at, p_refunded_at, p_stripe_created_at, p_stripe_updated_at,
    case when v_event is null then coalesce(p_raw, '{}'::jsonb) end, v_event
  )
  on conflict (provider, environment, type, provider_object_id) do update set
    status = case
      when t.type in ('one_time_payment', 'subscription_invoice') then payments_private.payment_status(
        greatest(t.amount, excluded.amount), greatest(t.amount_refunded, excluded.amount_refunded))
      when excluded.stripe_updated_at >= t.stripe_updated_at then excluded.status
      else t.status
    end,
    subject_type = coalesce(t.subject_type, excluded.subject_type),
    subject_id = case when t.subject_type is null then excluded.subject_id else t.subject_id end,
    customer_id = coalesce(t.customer_id, excluded.customer_id),
    customer_email = coalesce(excluded.customer_email, t.customer_email),
    checkout_session_id = coalesce(t.checkout_session_id, excluded.checkout_session_id),
    payment_intent_id = coalesce(t.payment_intent_id, excluded.payment_intent_id),
    charge_id = coalesce(t.charge_id, excluded.charge_id),
    invoice_id = coalesce(t.invoice_id, excluded.invoice_id),
    subscription_id = coalesce(t.subscription_id, excluded.subscription_id),
    refund_id = coalesce(t.refund_id, excluded.refund_id),
    amount = greatest(t.amount, excluded.amount),
    amount_refunded = greatest(t.amount_refunded, excluded.amount_refunded),
    currency = coalesce(t.currency, excluded.currency),
    description = coalesce(excluded.description, t.description),
    -- least() skips nulls: the first time money moved, whichever event reported it first.
    paid_at = least(t.paid_at, excluded.paid_at),
    failed_at = greatest(t.failed_at, excluded.failed_at),
    refunded_at = greatest(t.refunded_at, excluded.refunded_at),
    stripe_created_at = coalesce(t.stripe_created_at, excluded.stripe_created_at),
    stripe_updated_at = greatest(t.stripe_updated_at, excluded.stripe_updated_at),
    raw = case when excluded.stripe_updated_at >= t.stripe_updated_at then excluded.raw else t.raw end,
    source_event_id = case when excluded.stripe_updated_at >= t.stripe_updated_at
      then excluded.source_event_id else t.source_event_id end;
end;
$$;

-- As 20261130001100_settled_payments.sql; an item's price comes from its object wherever it is kept.
create or replace function payments.has_active_subscription(
  p_subject_type text,
  p_subject_id text,
  p_environment text default 'live',
  p_product_id text default null,
  p_price_id text default null,
  p_lookup_key text default null
)
returns boolean
language plpgsql stable security invoker set search_path = ''
as $$
begin
  return exists (
    select 1
    from payments.stripe_subscriptions s
    where s.subject_type = p_subject_type and s.subject_id = p_subject_id
      and s.status in ('active', 'trialing') and s.archived_at is null
      and s.environment = coalesce(p_environment, 'live')
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
            and (p_lookup_key is null or coalesce(p.lookup_key, payments.stripe_object(i) -> 'price' ->> 'lookup_key') = p_lookup_key)
        )
      )
  );
end;
$$;
comment on function payments.has_active_subscription(text, text, text, text, text, text) is 'True when the subject has an active or trialing, unarchived subscription in the environment (live unless test is asked for by name; null means live), optionally with an item of the given product, price or price lookup_key. Security invoker: the caller''s RLS on stripe_subscriptions applies, so use it in policies for subjects the user may see.';

--------------------------------------------------------------------------------
-- Linking an invoice payment finds the one-time row through its unique key
--------------------------------------------------------------------------------
-- As 20261130001200_invoice_payments.sql, with the provider named: without it the unique key
-- (provider, environment, type, provider_object_id) could not serve the lookup, and every
-- invoice event scanned the whole transactions table.
create or replace function payments_private.link_invoice_payment(p_environment text, p_invoice_id text, p_payment_intent_id text,
  p_charge_id text, p_paid_at timestamptz)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_charge text := p_charge_id;
  v_folded payments.transactions;
begin
  if p_invoice_id is null or p_payment_intent_id is null then
    return;
  end if;
  insert into payments_private.invoice_payments as l (environment, invoice_id, payment_intent_id, charge_id, paid_at)
  values (p_environment, p_invoice_id, p_payment_intent_id, p_charge_id, p_paid_at)
  on conflict (environment, payment_intent_id) do update
  set charge_id = coalesce(l.charge_id, excluded.charge_id), paid_at = least(l.paid_at, excluded.paid_at);

  if not exists (select 1 from payments.transactions t
                 where t.environment = p_environment and t.invoice_id = p_invoice_id
                   and t.type = 'subscription_invoice') then
    return;
  end if;
  delete from payments.transactions t
  where t.provider = 'stripe' and t.environment = p_environment and t.type = 'one_time_payment'
    and t.provider_object_id = p_payment_intent_id and t.invoice_id is null
  returning * into v_folded;
  v_charge := coalesce(v_charge, v_folded.charge_id,
    (select l.charge_id from payments_private.invoice_payments l
     where l.environment = p_environment and l.payment_intent_id = p_payment_intent_id));

  update payments.transactions t
  set payment_intent_id = coalesce(t.payment_intent_id, p_payment_intent_id),
      charge_id = coalesce(t.charge_id, v_charge),
      customer_id = coalesce(t.customer_id, v_folded.customer_id),
      customer_email = coalesce(t.customer_email, v_folded.customer_email),
      paid_at = least(t.paid_at, v_folded.paid_at, p_paid_at)
  where t.environment = p_environment and t.invoice_id = p_invoice_id and t.type = 'subscription_invoice';
  perform payments_private.refresh_refunded_amount(p_environment, p_payment_intent_id, v_charge);
end;
$$;

-- migrate:down
