-- migrate:up

-- Verified Stripe webhook events: recorded, deduplicated and projected into the mirror tables in
-- one transaction, with an older event never overwriting newer state.
--
-- Entry points (service role): ingest_stripe_event, replay_webhook_event,
-- stripe_webhook_event_types. Everything else here is private: no API role may execute it.
-- The projection functions also serve sync (next migration), which passes p_synced_at.
--
-- Stale-event gate: each mirrored row keeps stripe_updated_at, the Stripe-side time of the state
-- it holds (the event's `created`, or for sync the object's own `updated`, else the sync time).
-- Upserts apply only when that time is not older; deletions (and canceled subscriptions) are
-- final. transactions rows are merged instead: ids fill in, amounts only grow, and the status of
-- a payment is derived from its amounts, so the order of events does not matter there.

--------------------------------------------------------------------------------
-- Small helpers
--------------------------------------------------------------------------------

-- The billing subject the edge function writes into Stripe metadata (checkout session,
-- subscription_data and payment_intent_data); apps cannot forge these keys (see
-- create_checkout_session). A scalar expression without `set search_path`, so that it is inlined
-- into the plpgsql expressions that call it (see payments.stripe_id).
create function payments.metadata_subject_type(p_metadata jsonb)
returns text
language sql
immutable
parallel safe
as $$
  select case
    when p_metadata ->> 'payments_subject_type' ~ '^[a-z][a-z0-9_]{0,62}$'
     and coalesce(p_metadata ->> 'payments_subject_id', '') <> ''
    then p_metadata ->> 'payments_subject_type'
  end
$$;
comment on function payments.metadata_subject_type(jsonb) is 'The subject type carried in Stripe metadata (payments_subject_type) when the metadata also names a subject id (payments_subject_id), else null.';
revoke execute on function payments.metadata_subject_type(jsonb) from public;

-- Like link_customer, but for projection: never raises and never re-points a mapping. The
-- projections call it only for a subject not yet mapped (`perform ... where not exists`, in the
-- same statement): usually the subject was mapped long ago, and the check costs less than a call.
create function payments.attach_customer(p_environment text, p_subject_type text, p_subject_id text, p_customer_id text)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_customer text;
begin
  if p_customer_id is null or p_subject_type is null or p_subject_id is null
     or p_subject_type !~ '^[a-z][a-z0-9_]{0,62}$' or p_subject_id = '' then
    return null;
  end if;
  -- Most events concern subjects mapped long ago: answer from the index before trying to insert.
  select m.provider_customer_id into v_customer from payments.customer_mappings m
  where m.provider = 'stripe' and m.environment = p_environment
    and m.subject_type = p_subject_type and m.subject_id = p_subject_id;
  if v_customer is not null then
    return v_customer;
  end if;
  -- A deleted customer bills nobody (an older event must not map it again).
  if exists (
    select 1 from payments.customers c
    where c.environment = p_environment and c.customer_id = p_customer_id and c.deleted
  ) then
    return null;
  end if;

  insert into payments.customer_mappings (environment, subject_type, subject_id, provider_customer_id)
  values (p_environment, p_subject_type, p_subject_id, p_customer_id)
  on conflict do nothing
  returning provider_customer_id into v_customer;

  if v_customer is null then
    return (
      select m.provider_customer_id from payments.customer_mappings m
      where m.provider = 'stripe' and m.environment = p_environment
        and m.subject_type = p_subject_type and m.subject_id = p_subject_id
    );
  end if;

  -- Events can arrive before the one that carried the subject: give their rows the subject now.
  update payments.stripe_subscriptions s
  set subject_type = p_subject_type, subject_id = p_subject_id
  where s.environment = p_environment and s.customer_id = p_customer_id and s.subject_type is null;
  update payments.transactions t
  set subject_type = p_subject_type, subject_id = p_subject_id
  where t.environment = p_environment and t.customer_id = p_customer_id and t.subject_type is null;
  return v_customer;
end;
$$;
comment on function payments.attach_customer(text, text, text, text) is 'Maps a subject to a customer for the projection: quietly does nothing when either side is already mapped elsewhere, and fills in the subject of rows projected before the mapping existed.';
revoke execute on function payments.attach_customer(text, text, text, text) from public;

-- plpgsql rather than sql: a non-inlined SQL function is planned again on every call.
create function payments.subject_of_customer(p_environment text, p_customer_id text, out subject_type text, out subject_id text)
language plpgsql
stable
set search_path = ''
as $$
begin
  select m.subject_type, m.subject_id into subject_type, subject_id
  from payments.customer_mappings m
  where m.provider = 'stripe' and m.environment = p_environment and m.provider_customer_id = p_customer_id;
end;
$$;
comment on function payments.subject_of_customer(text, text) is 'The subject a Stripe customer bills, or nulls.';
revoke execute on function payments.subject_of_customer(text, text) from public;

-- Without `set search_path` so that it is inlined (see payments.stripe_id).
create function payments.payment_status(p_amount bigint, p_amount_refunded bigint)
returns text
language sql
immutable
parallel safe
as $$
  select case
    when coalesce(p_amount_refunded, 0) <= 0 then 'succeeded'
    when p_amount_refunded >= coalesce(p_amount, 0) then 'refunded'
    else 'partially_refunded'
  end
$$;
comment on function payments.payment_status(bigint, bigint) is 'Status of a payment row from its amount and the amount refunded so far.';
revoke execute on function payments.payment_status(bigint, bigint) from public;

--------------------------------------------------------------------------------
-- Transactions: merged, not overwritten
--------------------------------------------------------------------------------

-- One parameter per column (callers name them; omitted ones are null): typed values go straight
-- into the insert. Building a jsonb object in the caller and reading it back into a row made each
-- call about a third dearer. A new row's amount_refunded is 0 (refunds raise it later).
-- Several events describe one row (a one-time payment is seen by checkout.session.completed,
-- payment_intent.succeeded and charge.refunded), in any order: ids fill in, amounts only grow,
-- and a payment's status follows from its amounts; refund and failure rows keep the status of
-- the newest event.
create function payments.merge_transaction(
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
language plpgsql
set search_path = ''
as $$
begin
  insert into payments.transactions as t (
    environment, type, status, provider_object_id, subject_type, subject_id, customer_id,
    customer_email, checkout_session_id, payment_intent_id, charge_id, invoice_id, subscription_id,
    refund_id, amount, amount_refunded, currency, description, paid_at, failed_at, refunded_at,
    stripe_created_at, stripe_updated_at, raw
  ) values (
    p_environment, p_type,
    case when p_type in ('one_time_payment', 'subscription_invoice')
      then payments.payment_status(p_amount, 0) else p_status end,
    p_provider_object_id,
    case when p_subject_id is not null then p_subject_type end,
    case when p_subject_type is not null then p_subject_id end,
    p_customer_id, p_customer_email, p_checkout_session_id, p_payment_intent_id, p_charge_id, p_invoice_id,
    p_subscription_id, p_refund_id, coalesce(p_amount, 0), 0, lower(p_currency),
    p_description, p_paid_at, p_failed_at, p_refunded_at, p_stripe_created_at, p_stripe_updated_at,
    coalesce(p_raw, '{}'::jsonb)
  )
  on conflict (provider, environment, type, provider_object_id) do update set
    status = case
      when t.type in ('one_time_payment', 'subscription_invoice') then payments.payment_status(
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
    paid_at = coalesce(t.paid_at, excluded.paid_at),
    failed_at = greatest(t.failed_at, excluded.failed_at),
    refunded_at = greatest(t.refunded_at, excluded.refunded_at),
    stripe_created_at = coalesce(t.stripe_created_at, excluded.stripe_created_at),
    stripe_updated_at = greatest(t.stripe_updated_at, excluded.stripe_updated_at),
    raw = case when excluded.stripe_updated_at >= t.stripe_updated_at then excluded.raw else t.raw end;
end;
$$;
comment on function payments.merge_transaction(text, text, text, text, text, text, text, text, text, text, text, text, text, text, bigint, text, text, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, jsonb) is 'Inserts or merges one transactions row, independent of the order in which events arrive.';
revoke execute on function payments.merge_transaction(text, text, text, text, text, text, text, text, text, text, text, text, text, text, bigint, text, text, timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, jsonb) from public;

-- A refund may be seen before the payment it refunds: whenever either side changes, the payment
-- takes the sum of its succeeded refunds (never less than what Stripe reported on the charge).
create function payments.refresh_refunded_amount(p_environment text, p_payment_intent_id text, p_charge_id text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_has_refund boolean := false;
begin
  -- Nearly every payment has no refund: an index probe per id settles that. Each probe is a
  -- statement of its own, run only with a non-null id: a null argument would be folded into a
  -- cheaper custom plan, and plpgsql would then plan the statement again on every call.
  if p_payment_intent_id is not null then
    v_has_refund := exists (
      select 1 from payments.transactions x
      where x.environment = p_environment and x.payment_intent_id = p_payment_intent_id and x.type = 'refund');
  end if;
  if not v_has_refund and p_charge_id is not null then
    v_has_refund := exists (
      select 1 from payments.transactions x
      where x.environment = p_environment and x.charge_id = p_charge_id and x.type = 'refund');
  end if;
  if not v_has_refund then
    return;
  end if;

  update payments.transactions t
  set amount_refunded = r.total,
      status = payments.payment_status(t.amount, r.total),
      refunded_at = greatest(t.refunded_at, r.last_refunded_at)
  from (
    select coalesce(sum(x.amount), 0)::bigint as total, max(x.refunded_at) as last_refunded_at
    from payments.transactions x
    where x.environment = p_environment and x.type = 'refund' and x.status = 'succeeded'
      and (x.payment_intent_id = p_payment_intent_id or x.charge_id = p_charge_id)
  ) r
  where t.environment = p_environment
    and t.type in ('one_time_payment', 'subscription_invoice')
    and (t.payment_intent_id = p_payment_intent_id or t.charge_id = p_charge_id)
    and r.total > t.amount_refunded;
end;
$$;
comment on function payments.refresh_refunded_amount(text, text, text) is 'Raises a payment''s amount_refunded (and status) to the sum of its succeeded refund rows.';
revoke execute on function payments.refresh_refunded_amount(text, text, text) from public;

--------------------------------------------------------------------------------
-- Catalog
--------------------------------------------------------------------------------

create function payments.upsert_product(p_environment text, p_product jsonb, p_at timestamptz, p_deleted boolean default false, p_synced_at timestamptz default null)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_deleted boolean := p_deleted or coalesce((p_product ->> 'deleted')::boolean, false);
  v_id uuid;
begin
  insert into payments.stripe_products as t (
    environment, product_id, name, description, active, default_price_id, metadata, raw,
    stripe_created_at, stripe_updated_at, deleted_at, last_synced_at
  ) values (
    p_environment, p_product ->> 'id', coalesce(p_product ->> 'name', ''), p_product ->> 'description',
    not v_deleted and coalesce((p_product ->> 'active')::boolean, true),
    payments.stripe_id(p_product -> 'default_price'), coalesce(p_product -> 'metadata', '{}'::jsonb), p_product,
    payments.stripe_time(p_product -> 'created'), p_at, case when v_deleted then p_at end, p_synced_at
  )
  on conflict (environment, product_id) do update set
    name = excluded.name, description = excluded.description, active = excluded.active,
    default_price_id = excluded.default_price_id, metadata = excluded.metadata, raw = excluded.raw,
    stripe_created_at = coalesce(excluded.stripe_created_at, t.stripe_created_at),
    stripe_updated_at = excluded.stripe_updated_at, deleted_at = excluded.deleted_at, archived_at = null,
    last_synced_at = coalesce(excluded.last_synced_at, t.last_synced_at)
  where t.deleted_at is null and excluded.stripe_updated_at >= t.stripe_updated_at
  returning t.id into v_id;

  if v_id is null and p_synced_at is not null then
    -- Seen by sync although the row holds newer state: it still exists in Stripe.
    update payments.stripe_products t set last_synced_at = p_synced_at, archived_at = null
    where t.environment = p_environment and t.product_id = p_product ->> 'id';
  end if;
  return v_id is not null;
end;
$$;
comment on function payments.upsert_product(text, jsonb, timestamptz, boolean, timestamptz) is 'Mirrors a Stripe Product unless the row holds newer state or was deleted; true when applied.';
revoke execute on function payments.upsert_product(text, jsonb, timestamptz, boolean, timestamptz) from public;

create function payments.upsert_price(p_environment text, p_price jsonb, p_at timestamptz, p_deleted boolean default false, p_synced_at timestamptz default null)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_deleted boolean := p_deleted or coalesce((p_price ->> 'deleted')::boolean, false);
  v_recurring jsonb := case when jsonb_typeof(p_price -> 'recurring') = 'object' then p_price -> 'recurring' end;
  v_id uuid;
begin
  insert into payments.stripe_prices as t (
    environment, price_id, product_id, active, currency, unit_amount, type, recurring_interval,
    recurring_interval_count, lookup_key, nickname, metadata, raw, stripe_created_at, stripe_updated_at,
    deleted_at, last_synced_at
  ) values (
    p_environment, p_price ->> 'id', payments.stripe_id(p_price -> 'product'),
    not v_deleted and coalesce((p_price ->> 'active')::boolean, true),
    lower(p_price ->> 'currency'), (p_price ->> 'unit_amount')::bigint,
    coalesce(p_price ->> 'type', case when v_recurring is null then 'one_time' else 'recurring' end),
    v_recurring ->> 'interval', (v_recurring ->> 'interval_count')::integer,
    p_price ->> 'lookup_key', p_price ->> 'nickname', coalesce(p_price -> 'metadata', '{}'::jsonb), p_price,
    payments.stripe_time(p_price -> 'created'), p_at, case when v_deleted then p_at end, p_synced_at
  )
  on conflict (environment, price_id) do update set
    product_id = excluded.product_id, active = excluded.active, currency = excluded.currency,
    unit_amount = excluded.unit_amount, type = excluded.type, recurring_interval = excluded.recurring_interval,
    recurring_interval_count = excluded.recurring_interval_count, lookup_key = excluded.lookup_key,
    nickname = excluded.nickname, metadata = excluded.metadata, raw = excluded.raw,
    stripe_created_at = coalesce(excluded.stripe_created_at, t.stripe_created_at),
    stripe_updated_at = excluded.stripe_updated_at, deleted_at = excluded.deleted_at, archived_at = null,
    last_synced_at = coalesce(excluded.last_synced_at, t.last_synced_at)
  where t.deleted_at is null and excluded.stripe_updated_at >= t.stripe_updated_at
  returning t.id into v_id;

  if v_id is null and p_synced_at is not null then
    update payments.stripe_prices t set last_synced_at = p_synced_at, archived_at = null
    where t.environment = p_environment and t.price_id = p_price ->> 'id';
  end if;
  return v_id is not null;
end;
$$;
comment on function payments.upsert_price(text, jsonb, timestamptz, boolean, timestamptz) is 'Mirrors a Stripe Price unless the row holds newer state or was deleted; true when applied.';
revoke execute on function payments.upsert_price(text, jsonb, timestamptz, boolean, timestamptz) from public;

--------------------------------------------------------------------------------
-- Customers
--------------------------------------------------------------------------------

create function payments.upsert_customer(p_environment text, p_customer jsonb, p_at timestamptz, p_deleted boolean default false, p_synced_at timestamptz default null)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_deleted boolean := p_deleted or coalesce((p_customer ->> 'deleted')::boolean, false);
  v_id uuid;
begin
  insert into payments.customers as t (
    environment, customer_id, email, name, metadata, raw, deleted, stripe_created_at, stripe_updated_at, last_synced_at
  ) values (
    p_environment, p_customer ->> 'id', p_customer ->> 'email', p_customer ->> 'name',
    coalesce(p_customer -> 'metadata', '{}'::jsonb), p_customer, v_deleted,
    payments.stripe_time(p_customer -> 'created'), p_at, p_synced_at
  )
  on conflict (environment, customer_id) do update set
    email = excluded.email, name = excluded.name, metadata = excluded.metadata, raw = excluded.raw,
    deleted = excluded.deleted, stripe_created_at = coalesce(excluded.stripe_created_at, t.stripe_created_at),
    stripe_updated_at = excluded.stripe_updated_at, archived_at = null,
    last_synced_at = coalesce(excluded.last_synced_at, t.last_synced_at)
  where not t.deleted and excluded.stripe_updated_at >= t.stripe_updated_at
  returning t.id into v_id;

  if v_id is null then
    if p_synced_at is not null then
      update payments.customers t set last_synced_at = p_synced_at, archived_at = null
      where t.environment = p_environment and t.customer_id = p_customer ->> 'id';
    end if;
    return false;
  end if;

  if v_deleted then
    -- A deleted customer cannot open a portal or pay again: free the subject for a new one.
    delete from payments.customer_mappings m
    where m.provider = 'stripe' and m.environment = p_environment and m.provider_customer_id = p_customer ->> 'id';
  else
    perform payments.attach_customer(p_environment, payments.metadata_subject_type(p_customer -> 'metadata'),
      p_customer -> 'metadata' ->> 'payments_subject_id', p_customer ->> 'id');
  end if;
  return true;
end;
$$;
comment on function payments.upsert_customer(text, jsonb, timestamptz, boolean, timestamptz) is 'Mirrors a Stripe Customer unless the row holds newer state or was deleted; maps it to the subject in its metadata; a deletion removes its mapping. True when applied.';
revoke execute on function payments.upsert_customer(text, jsonb, timestamptz, boolean, timestamptz) from public;

--------------------------------------------------------------------------------
-- Subscriptions and their items
--------------------------------------------------------------------------------

create function payments.upsert_subscription(p_environment text, p_subscription jsonb, p_at timestamptz, p_event_type text default null, p_synced_at timestamptz default null)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_subscription_id text := p_subscription ->> 'id';
  v_customer text := payments.stripe_id(p_subscription -> 'customer');
  v_items jsonb := coalesce(p_subscription -> 'items' -> 'data', '[]'::jsonb);
  v_status text := p_subscription ->> 'status';
  v_subject_type text;
  v_subject_id text;
  v_id uuid;
  v_inserted boolean;
begin
  v_subject_type := payments.metadata_subject_type(p_subscription -> 'metadata');
  v_subject_id := case when v_subject_type is not null then p_subscription -> 'metadata' ->> 'payments_subject_id' end;
  if v_subject_type is not null then
    perform payments.attach_customer(p_environment, v_subject_type, v_subject_id, v_customer)
    where not exists (select 1 from payments.customer_mappings m
                      where m.provider = 'stripe' and m.environment = p_environment
                        and m.subject_type = v_subject_type and m.subject_id = v_subject_id);
  else
    select s.subject_type, s.subject_id into v_subject_type, v_subject_id
    from payments.subject_of_customer(p_environment, v_customer) s;
  end if;

  if p_event_type = 'customer.subscription.deleted' and v_status not in ('canceled', 'incomplete_expired') then
    v_status := 'canceled';
  end if;

  insert into payments.stripe_subscriptions as t (
    environment, subscription_id, customer_id, subject_type, subject_id, status, cancel_at_period_end,
    cancel_at, canceled_at, ended_at, current_period_start, current_period_end, trial_start, trial_end,
    latest_invoice_id, metadata, raw, stripe_created_at, stripe_updated_at, last_synced_at
  ) values (
    p_environment, v_subscription_id, v_customer, v_subject_type, v_subject_id, v_status,
    coalesce((p_subscription ->> 'cancel_at_period_end')::boolean, false),
    payments.stripe_time(p_subscription -> 'cancel_at'), payments.stripe_time(p_subscription -> 'canceled_at'),
    payments.stripe_time(p_subscription -> 'ended_at'),
    -- API 2025+ keeps the period on each item; older versions on the subscription.
    coalesce(payments.stripe_time(p_subscription -> 'current_period_start'),
      (select min(payments.stripe_time(i -> 'current_period_start')) from jsonb_array_elements(v_items) i)),
    coalesce(payments.stripe_time(p_subscription -> 'current_period_end'),
      (select max(payments.stripe_time(i -> 'current_period_end')) from jsonb_array_elements(v_items) i)),
    payments.stripe_time(p_subscription -> 'trial_start'), payments.stripe_time(p_subscription -> 'trial_end'),
    payments.stripe_id(p_subscription -> 'latest_invoice'), coalesce(p_subscription -> 'metadata', '{}'::jsonb),
    p_subscription, payments.stripe_time(p_subscription -> 'created'), p_at, p_synced_at
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
    stripe_created_at = coalesce(excluded.stripe_created_at, t.stripe_created_at),
    stripe_updated_at = excluded.stripe_updated_at, archived_at = null,
    last_synced_at = coalesce(excluded.last_synced_at, t.last_synced_at)
  -- Canceled and incomplete_expired are final in Stripe: only another final state may follow.
  where excluded.stripe_updated_at >= t.stripe_updated_at
    and (t.status not in ('canceled', 'incomplete_expired') or excluded.status in ('canceled', 'incomplete_expired'))
  returning t.id, t.xmax = 0 into v_id, v_inserted;

  if v_id is null then
    if p_synced_at is not null then
      update payments.stripe_subscriptions t set last_synced_at = p_synced_at, archived_at = null
      where t.environment = p_environment and t.subscription_id = v_subscription_id;
    end if;
    return false;
  end if;

  insert into payments.stripe_subscription_items as t (
    environment, subscription_item_id, subscription_id, price_id, product_id, quantity,
    current_period_start, current_period_end, metadata, raw, stripe_updated_at
  )
  select p_environment, i ->> 'id', v_subscription_id,
    coalesce(payments.stripe_id(i -> 'price'), payments.stripe_id(i -> 'plan')),
    coalesce(payments.stripe_id(i -> 'price' -> 'product'), payments.stripe_id(i -> 'plan' -> 'product')),
    (i ->> 'quantity')::integer,
    payments.stripe_time(i -> 'current_period_start'), payments.stripe_time(i -> 'current_period_end'),
    coalesce(i -> 'metadata', '{}'::jsonb), i, p_at
  from jsonb_array_elements(v_items) i
  on conflict (environment, subscription_item_id) do update set
    price_id = excluded.price_id, product_id = excluded.product_id, quantity = excluded.quantity,
    current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
    metadata = excluded.metadata, raw = excluded.raw, stripe_updated_at = excluded.stripe_updated_at
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
comment on function payments.upsert_subscription(text, jsonb, timestamptz, text, timestamptz) is 'Mirrors a Stripe Subscription and its items unless the row holds newer state or is canceled; the subject comes from its metadata or the customer mapping. True when applied.';
revoke execute on function payments.upsert_subscription(text, jsonb, timestamptz, text, timestamptz) from public;

--------------------------------------------------------------------------------
-- Checkout sessions
--------------------------------------------------------------------------------

-- p_event_type null (sync): the session's own status decides.
create function payments.project_checkout_session(p_environment text, p_session jsonb, p_at timestamptz, p_event_type text default null)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_row payments.stripe_checkout_sessions;
  v_reference text := p_session ->> 'client_reference_id';
  v_attempt text := p_session -> 'metadata' ->> 'payments_attempt';
  v_customer text := payments.stripe_id(p_session -> 'customer');
  v_payment_intent text := payments.stripe_id(p_session -> 'payment_intent');
  v_subscription text := payments.stripe_id(p_session -> 'subscription');
  v_payment_status text := p_session ->> 'payment_status';
  v_status text;
  v_mode text;
  v_subject_type text;
  v_subject_id text;
begin
  v_status := case
    when p_event_type in ('checkout.session.completed', 'checkout.session.async_payment_succeeded',
                          'checkout.session.async_payment_failed') then 'completed'
    when p_event_type = 'checkout.session.expired' then 'expired'
    when p_event_type is null and p_session ->> 'status' = 'complete' then 'completed'
    when p_event_type is null and p_session ->> 'status' = 'expired' then 'expired'
  end;
  if v_status is null then
    return;
  end if;
  if v_payment_status not in ('paid', 'unpaid', 'no_payment_required') then
    v_payment_status := null;
  end if;

  select * into v_row from payments.stripe_checkout_sessions s
  where s.environment = p_environment and s.checkout_session_id = p_session ->> 'id'
  for update;
  -- The webhook may beat record_checkout_session_result: find the row by client_reference_id,
  -- but only while it waits for its session (a recorded, different session id means this event
  -- is about an earlier attempt).
  if v_row.id is null and v_reference ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into v_row from payments.stripe_checkout_sessions s
    where s.id = v_reference::uuid and s.environment = p_environment and s.checkout_session_id is null
      and (v_attempt is null or v_attempt = s.attempt::text)
    for update;
  end if;

  if v_row.id is not null then
    update payments.stripe_checkout_sessions s
    set status = v_status,
        payment_status = coalesce(v_payment_status, s.payment_status),
        checkout_session_id = coalesce(s.checkout_session_id, p_session ->> 'id'),
        customer_id = coalesce(v_customer, s.customer_id),
        payment_intent_id = coalesce(v_payment_intent, s.payment_intent_id),
        subscription_id = coalesce(v_subscription, s.subscription_id),
        amount_total = coalesce((p_session ->> 'amount_total')::bigint, s.amount_total),
        currency = coalesce(lower(p_session ->> 'currency'), s.currency),
        completed_at = case when v_status = 'completed' then coalesce(s.completed_at, p_at) else s.completed_at end,
        stripe_updated_at = p_at
    where s.id = v_row.id
      and (s.stripe_updated_at is null or p_at >= s.stripe_updated_at)
      and not (s.status = 'completed' and v_status = 'expired');
    v_subject_type := v_row.subject_type;
    v_subject_id := v_row.subject_id;
  else
    v_subject_type := payments.metadata_subject_type(p_session -> 'metadata');
    v_subject_id := case when v_subject_type is not null then p_session -> 'metadata' ->> 'payments_subject_id' end;
  end if;

  if v_status <> 'completed' then
    return;
  end if;

  if v_subject_type is not null then
    perform payments.attach_customer(p_environment, v_subject_type, v_subject_id, v_customer)
    where not exists (select 1 from payments.customer_mappings m
                      where m.provider = 'stripe' and m.environment = p_environment
                        and m.subject_type = v_subject_type and m.subject_id = v_subject_id);
  elsif v_customer is not null then
    select s.subject_type, s.subject_id into v_subject_type, v_subject_id
    from payments.subject_of_customer(p_environment, v_customer) s;
  end if;

  v_mode := coalesce(p_session ->> 'mode', v_row.mode);
  if v_mode = 'subscription' and v_subscription is not null and v_subject_type is not null then
    update payments.stripe_subscriptions s
    set subject_type = v_subject_type, subject_id = v_subject_id
    where s.environment = p_environment and s.subscription_id = v_subscription and s.subject_type is null;
  elsif v_mode = 'payment' and v_payment_intent is not null then
    if v_payment_status = 'paid' then
      perform payments.merge_transaction(
        p_environment => p_environment, p_type => 'one_time_payment', p_status => 'succeeded',
        p_provider_object_id => v_payment_intent, p_subject_type => v_subject_type,
        p_subject_id => v_subject_id, p_customer_id => v_customer,
        p_customer_email => p_session -> 'customer_details' ->> 'email',
        p_checkout_session_id => p_session ->> 'id', p_payment_intent_id => v_payment_intent,
        p_amount => (p_session ->> 'amount_total')::bigint, p_currency => p_session ->> 'currency',
        p_paid_at => p_at, p_stripe_created_at => payments.stripe_time(p_session -> 'created'),
        p_stripe_updated_at => p_at, p_raw => p_session);
      perform payments.refresh_refunded_amount(p_environment, v_payment_intent, null);
    elsif p_event_type = 'checkout.session.async_payment_failed' then
      perform payments.merge_transaction(
        p_environment => p_environment, p_type => 'failed_payment', p_status => 'failed',
        p_provider_object_id => v_payment_intent, p_subject_type => v_subject_type,
        p_subject_id => v_subject_id, p_customer_id => v_customer,
        p_customer_email => p_session -> 'customer_details' ->> 'email',
        p_checkout_session_id => p_session ->> 'id', p_payment_intent_id => v_payment_intent,
        p_amount => (p_session ->> 'amount_total')::bigint, p_currency => p_session ->> 'currency',
        p_description => 'Delayed payment failed.', p_failed_at => p_at,
        p_stripe_created_at => payments.stripe_time(p_session -> 'created'), p_stripe_updated_at => p_at,
        p_raw => p_session);
    end if;
  end if;
end;
$$;
comment on function payments.project_checkout_session(text, jsonb, timestamptz, text) is 'Completes or expires the checkout row of a Stripe Checkout Session (found by session id or client_reference_id), maps its customer to the subject and records a one-time payment.';
revoke execute on function payments.project_checkout_session(text, jsonb, timestamptz, text) from public;

--------------------------------------------------------------------------------
-- Payments, invoices, refunds
--------------------------------------------------------------------------------

-- p_event_type null (sync): the payment intent's own status decides.
create function payments.project_payment_intent(p_environment text, p_intent jsonb, p_at timestamptz, p_event_type text default null)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_id text := p_intent ->> 'id';
  v_customer text := payments.stripe_id(p_intent -> 'customer');
  v_charge text := payments.stripe_id(p_intent -> 'latest_charge');
  v_succeeded boolean := coalesce(p_event_type = 'payment_intent.succeeded',
                                  p_intent ->> 'status' = 'succeeded');
  v_subject_type text;
  v_subject_id text;
begin
  -- Invoice payments are reported by invoice events (older API versions name the invoice here).
  if payments.stripe_id(p_intent -> 'invoice') is not null then
    return;
  end if;
  if not v_succeeded and p_event_type is distinct from 'payment_intent.payment_failed' then
    return;
  end if;

  v_subject_type := payments.metadata_subject_type(p_intent -> 'metadata');
  v_subject_id := case when v_subject_type is not null then p_intent -> 'metadata' ->> 'payments_subject_id' end;
  if v_subject_type is not null then
    perform payments.attach_customer(p_environment, v_subject_type, v_subject_id, v_customer)
    where not exists (select 1 from payments.customer_mappings m
                      where m.provider = 'stripe' and m.environment = p_environment
                        and m.subject_type = v_subject_type and m.subject_id = v_subject_id);
  end if;

  -- API 2025+ payment intents no longer say whether an invoice created them; count one as a
  -- one-time payment only when it is known to be one (older shape with invoice: null, the subject
  -- metadata our checkout sets, or a payment-mode checkout/transaction already referring to it).
  -- The lookups run only when the payload does not settle it: as one expression with them, the
  -- statement got a custom plan (planned again) on every call.
  if not (p_intent ? 'invoice') and v_subject_type is null then
    if not exists (select 1 from payments.transactions t
                   where t.environment = p_environment and t.type = 'one_time_payment' and t.provider_object_id = v_id)
       and not exists (select 1 from payments.stripe_checkout_sessions s
                       where s.environment = p_environment and s.payment_intent_id = v_id and s.mode = 'payment') then
      return;
    end if;
  end if;
  if exists (select 1 from payments.transactions t
             where t.environment = p_environment and t.type = 'subscription_invoice' and t.payment_intent_id = v_id) then
    return;
  end if;

  if v_subject_type is null and v_customer is not null then
    select s.subject_type, s.subject_id into v_subject_type, v_subject_id
    from payments.subject_of_customer(p_environment, v_customer) s;
  end if;

  if v_succeeded then
    perform payments.merge_transaction(
      p_environment => p_environment, p_type => 'one_time_payment', p_status => 'succeeded',
      p_provider_object_id => v_id, p_subject_type => v_subject_type, p_subject_id => v_subject_id,
      p_customer_id => v_customer, p_customer_email => p_intent ->> 'receipt_email',
      p_payment_intent_id => v_id, p_charge_id => v_charge,
      p_amount => coalesce(nullif((p_intent ->> 'amount_received')::bigint, 0), (p_intent ->> 'amount')::bigint),
      p_currency => p_intent ->> 'currency', p_description => p_intent ->> 'description', p_paid_at => p_at,
      p_stripe_created_at => payments.stripe_time(p_intent -> 'created'), p_stripe_updated_at => p_at,
      p_raw => p_intent);
    perform payments.refresh_refunded_amount(p_environment, v_id, v_charge);
  else
    perform payments.merge_transaction(
      p_environment => p_environment, p_type => 'failed_payment', p_status => 'failed',
      p_provider_object_id => v_id, p_subject_type => v_subject_type, p_subject_id => v_subject_id,
      p_customer_id => v_customer, p_customer_email => p_intent ->> 'receipt_email',
      p_payment_intent_id => v_id, p_charge_id => v_charge, p_amount => (p_intent ->> 'amount')::bigint,
      p_currency => p_intent ->> 'currency',
      p_description => coalesce(p_intent -> 'last_payment_error' ->> 'message', 'Payment failed.'),
      p_failed_at => p_at, p_stripe_created_at => payments.stripe_time(p_intent -> 'created'),
      p_stripe_updated_at => p_at, p_raw => p_intent);
  end if;
end;
$$;
comment on function payments.project_payment_intent(text, jsonb, timestamptz, text) is 'Records a one-time payment (succeeded) or a failed payment for a PaymentIntent that is not an invoice payment.';
revoke execute on function payments.project_payment_intent(text, jsonb, timestamptz, text) from public;

-- p_event_type null (sync): the invoice's own status decides.
create function payments.project_invoice(p_environment text, p_invoice jsonb, p_at timestamptz, p_event_type text default null)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_id text := p_invoice ->> 'id';
  v_customer text := payments.stripe_id(p_invoice -> 'customer');
  v_subscription text;
  v_payment_intent text;
  v_charge text;
  v_subject_type text;
  v_subject_id text;
  v_paid boolean := coalesce(p_event_type = 'invoice.paid', p_invoice ->> 'status' = 'paid');
  v_metadata jsonb;
begin
  if not v_paid and p_event_type is distinct from 'invoice.payment_failed' then
    return;
  end if;

  -- Older API versions: invoice.subscription, invoice.payment_intent, invoice.charge.
  -- API 2025+: invoice.parent.subscription_details.subscription and invoice.payments.
  v_subscription := coalesce(
    payments.stripe_id(p_invoice -> 'subscription'),
    payments.stripe_id(p_invoice -> 'parent' -> 'subscription_details' -> 'subscription'));
  select payments.stripe_id(p -> 'payment' -> 'payment_intent'), payments.stripe_id(p -> 'payment' -> 'charge')
    into v_payment_intent, v_charge
  from jsonb_array_elements(case when jsonb_typeof(p_invoice -> 'payments' -> 'data') = 'array'
                                 then p_invoice -> 'payments' -> 'data' else '[]'::jsonb end) p
  order by (p ->> 'status' = 'paid') desc, (p ->> 'is_default')::boolean desc nulls last
  limit 1;
  v_payment_intent := coalesce(payments.stripe_id(p_invoice -> 'payment_intent'), v_payment_intent);
  v_charge := coalesce(payments.stripe_id(p_invoice -> 'charge'), v_charge);

  if v_subscription is not null then
    select s.subject_type, s.subject_id into v_subject_type, v_subject_id
    from payments.stripe_subscriptions s
    where s.environment = p_environment and s.subscription_id = v_subscription;
  end if;
  if v_subject_type is null then
    v_metadata := coalesce(p_invoice -> 'parent' -> 'subscription_details' -> 'metadata',
                           p_invoice -> 'subscription_details' -> 'metadata');
    v_subject_type := payments.metadata_subject_type(v_metadata);
    v_subject_id := case when v_subject_type is not null then v_metadata ->> 'payments_subject_id' end;
    if v_subject_type is not null then
      perform payments.attach_customer(p_environment, v_subject_type, v_subject_id, v_customer)
      where not exists (select 1 from payments.customer_mappings m
                        where m.provider = 'stripe' and m.environment = p_environment
                          and m.subject_type = v_subject_type and m.subject_id = v_subject_id);
    end if;
  end if;
  if v_subject_type is null and v_customer is not null then
    select s.subject_type, s.subject_id into v_subject_type, v_subject_id
    from payments.subject_of_customer(p_environment, v_customer) s;
  end if;

  if v_paid then
    -- An invoice outside a subscription is a one-time payment, keyed like its PaymentIntent so
    -- that payment_intent.succeeded lands on the same row.
    perform payments.merge_transaction(
      p_environment => p_environment,
      p_type => case when v_subscription is null then 'one_time_payment' else 'subscription_invoice' end,
      p_status => 'succeeded',
      p_provider_object_id => case when v_subscription is null then coalesce(v_payment_intent, v_id) else v_id end,
      p_subject_type => v_subject_type, p_subject_id => v_subject_id, p_customer_id => v_customer,
      p_customer_email => p_invoice ->> 'customer_email', p_payment_intent_id => v_payment_intent,
      p_charge_id => v_charge, p_invoice_id => v_id, p_subscription_id => v_subscription,
      p_amount => coalesce((p_invoice ->> 'amount_paid')::bigint, (p_invoice ->> 'total')::bigint),
      p_currency => p_invoice ->> 'currency', p_description => p_invoice ->> 'description',
      p_paid_at => coalesce(payments.stripe_time(p_invoice -> 'status_transitions' -> 'paid_at'), p_at),
      p_stripe_created_at => payments.stripe_time(p_invoice -> 'created'), p_stripe_updated_at => p_at,
      p_raw => p_invoice);
    if v_payment_intent is not null or v_charge is not null then
      perform payments.refresh_refunded_amount(p_environment, v_payment_intent, v_charge);
    end if;
  else
    perform payments.merge_transaction(
      p_environment => p_environment, p_type => 'failed_payment', p_status => 'failed',
      p_provider_object_id => v_id, p_subject_type => v_subject_type, p_subject_id => v_subject_id,
      p_customer_id => v_customer, p_customer_email => p_invoice ->> 'customer_email',
      p_payment_intent_id => v_payment_intent, p_charge_id => v_charge, p_invoice_id => v_id,
      p_subscription_id => v_subscription, p_amount => (p_invoice ->> 'amount_due')::bigint,
      p_currency => p_invoice ->> 'currency', p_description => 'Invoice payment failed.', p_failed_at => p_at,
      p_stripe_created_at => payments.stripe_time(p_invoice -> 'created'), p_stripe_updated_at => p_at,
      p_raw => p_invoice);
  end if;
end;
$$;
comment on function payments.project_invoice(text, jsonb, timestamptz, text) is 'Records a paid subscription invoice (or one-off invoice as a one-time payment) or a failed invoice payment, from either invoice shape.';
revoke execute on function payments.project_invoice(text, jsonb, timestamptz, text) from public;

create function payments.project_refund(p_environment text, p_refund jsonb, p_at timestamptz, p_charge_id text default null, p_payment_intent_id text default null)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_payment_intent text := coalesce(payments.stripe_id(p_refund -> 'payment_intent'), p_payment_intent_id);
  v_charge text := coalesce(payments.stripe_id(p_refund -> 'charge'), p_charge_id);
  v_payment payments.transactions;
  v_status text;
begin
  select * into v_payment from payments.transactions t
  where t.environment = p_environment and t.type in ('one_time_payment', 'subscription_invoice')
    and (t.payment_intent_id = v_payment_intent or t.charge_id = v_charge)
  limit 1;

  v_status := case p_refund ->> 'status'
    when 'succeeded' then 'succeeded'
    when 'failed' then 'failed'
    when 'canceled' then 'failed'
    else 'pending'
  end;
  if v_payment.id is null and payments.stripe_id(p_refund -> 'customer') is not null then
    select s.subject_type, s.subject_id into v_payment.subject_type, v_payment.subject_id
    from payments.subject_of_customer(p_environment, payments.stripe_id(p_refund -> 'customer')) s;
  end if;

  perform payments.merge_transaction(
    p_environment => p_environment, p_type => 'refund', p_status => v_status,
    p_provider_object_id => p_refund ->> 'id', p_refund_id => p_refund ->> 'id',
    p_subject_type => v_payment.subject_type, p_subject_id => v_payment.subject_id,
    p_customer_id => coalesce(payments.stripe_id(p_refund -> 'customer'), v_payment.customer_id),
    p_customer_email => v_payment.customer_email, p_checkout_session_id => v_payment.checkout_session_id,
    p_payment_intent_id => coalesce(v_payment_intent, v_payment.payment_intent_id),
    p_charge_id => coalesce(v_charge, v_payment.charge_id), p_invoice_id => v_payment.invoice_id,
    p_subscription_id => v_payment.subscription_id, p_amount => (p_refund ->> 'amount')::bigint,
    p_currency => p_refund ->> 'currency', p_description => p_refund ->> 'reason',
    p_refunded_at => case when v_status = 'succeeded' then payments.stripe_time(p_refund -> 'created') end,
    p_failed_at => case when v_status = 'failed' then p_at end,
    p_stripe_created_at => payments.stripe_time(p_refund -> 'created'), p_stripe_updated_at => p_at,
    p_raw => p_refund);
  perform payments.refresh_refunded_amount(p_environment,
    coalesce(v_payment_intent, v_payment.payment_intent_id), coalesce(v_charge, v_payment.charge_id));
end;
$$;
comment on function payments.project_refund(text, jsonb, timestamptz, text, text) is 'Records a refund row and keeps amount_refunded and status right on the payment it refunds.';
revoke execute on function payments.project_refund(text, jsonb, timestamptz, text, text) from public;

create function payments.project_charge(p_environment text, p_charge jsonb, p_at timestamptz)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_charge text := p_charge ->> 'id';
  v_payment_intent text := payments.stripe_id(p_charge -> 'payment_intent');
  v_refunded bigint := coalesce((p_charge ->> 'amount_refunded')::bigint, 0);
  v_refund jsonb;
begin
  -- The refunds list is only present when Stripe includes it (older API versions, or expanded).
  if jsonb_typeof(p_charge -> 'refunds' -> 'data') = 'array' then
    for v_refund in select value from jsonb_array_elements(p_charge -> 'refunds' -> 'data') loop
      perform payments.project_refund(p_environment, v_refund, p_at, v_charge, v_payment_intent);
    end loop;
  end if;

  update payments.transactions t
  set charge_id = coalesce(t.charge_id, v_charge),
      payment_intent_id = coalesce(t.payment_intent_id, v_payment_intent),
      amount_refunded = greatest(t.amount_refunded, v_refunded),
      status = payments.payment_status(t.amount, greatest(t.amount_refunded, v_refunded)),
      refunded_at = case when v_refunded > t.amount_refunded then p_at else t.refunded_at end,
      stripe_updated_at = greatest(t.stripe_updated_at, p_at)
  where t.environment = p_environment and t.type in ('one_time_payment', 'subscription_invoice')
    and (t.payment_intent_id = v_payment_intent or t.charge_id = v_charge);
end;
$$;
comment on function payments.project_charge(text, jsonb, timestamptz) is 'Applies a refunded charge: its refunds and the amount refunded on the payment it belongs to.';
revoke execute on function payments.project_charge(text, jsonb, timestamptz) from public;

--------------------------------------------------------------------------------
-- Events
--------------------------------------------------------------------------------

create function payments.stripe_webhook_event_types()
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select array[
    'checkout.session.completed', 'checkout.session.async_payment_succeeded',
    'checkout.session.async_payment_failed', 'checkout.session.expired',
    'customer.created', 'customer.updated', 'customer.deleted',
    'customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted',
    'customer.subscription.paused', 'customer.subscription.resumed',
    'invoice.paid', 'invoice.payment_failed',
    'payment_intent.succeeded', 'payment_intent.payment_failed',
    'charge.refunded',
    'refund.created', 'refund.updated', 'refund.failed',
    'product.created', 'product.updated', 'product.deleted',
    'price.created', 'price.updated', 'price.deleted'
  ]::text[]
$$;
comment on function payments.stripe_webhook_event_types() is 'The Stripe event types the projection handles: exactly the ones to enable on the managed webhook endpoint.';
revoke execute on function payments.stripe_webhook_event_types() from public;
grant execute on function payments.stripe_webhook_event_types() to service_role;

-- True when the event type is projected, false when it is not handled (ignored).
create function payments.project_stripe_event(p_environment text, p_event jsonb)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_type text := p_event ->> 'type';
  v_object jsonb := p_event -> 'data' -> 'object';
  v_at timestamptz := payments.stripe_time(p_event -> 'created');
begin
  case
    when v_type in ('checkout.session.completed',
      'checkout.session.async_payment_succeeded', 'checkout.session.async_payment_failed', 'checkout.session.expired') then
      perform payments.project_checkout_session(p_environment, v_object, v_at, v_type);
    when v_type in ('customer.created', 'customer.updated', 'customer.deleted') then
      perform payments.upsert_customer(p_environment, v_object, v_at, v_type = 'customer.deleted');
    when v_type in ('customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted',
                    'customer.subscription.paused', 'customer.subscription.resumed') then
      perform payments.upsert_subscription(p_environment, v_object, v_at, v_type);
    when v_type in ('invoice.paid', 'invoice.payment_failed') then
      perform payments.project_invoice(p_environment, v_object, v_at, v_type);
    when v_type in ('payment_intent.succeeded', 'payment_intent.payment_failed') then
      perform payments.project_payment_intent(p_environment, v_object, v_at, v_type);
    when v_type = 'charge.refunded' then
      perform payments.project_charge(p_environment, v_object, v_at);
    when v_type in ('refund.created', 'refund.updated', 'refund.failed') then
      perform payments.project_refund(p_environment, v_object, v_at);
    when v_type in ('product.created', 'product.updated', 'product.deleted') then
      perform payments.upsert_product(p_environment, v_object, v_at, v_type = 'product.deleted');
    when v_type in ('price.created', 'price.updated', 'price.deleted') then
      perform payments.upsert_price(p_environment, v_object, v_at, v_type = 'price.deleted');
    else
      return false;
  end case;
  return true;
end;
$$;
comment on function payments.project_stripe_event(text, jsonb) is 'Projects one Stripe event into the mirror tables; false for event types it does not handle.';
revoke execute on function payments.project_stripe_event(text, jsonb) from public;

-- Locks the stored event, projects it once and records the outcome. The projection and the
-- status update (which fires the app's triggers on webhook_events) share one subtransaction: if
-- either raises, both are undone and the event is kept as failed with the error.
create function payments.process_webhook_event(p_id uuid)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_event payments.webhook_events;
  v_handled boolean;
  v_error text;
begin
  -- Concurrent deliveries of one event queue here; the later one then sees it processed.
  select * into v_event from payments.webhook_events e where e.id = p_id for update;
  if v_event.processing_status in ('processed', 'ignored') then
    -- No write at all, so the app's triggers do not fire a second time.
    return jsonb_build_object('eventId', v_event.provider_event_id, 'status', 'duplicate', 'error', null);
  end if;

  begin
    v_handled := payments.project_stripe_event(v_event.environment, v_event.payload);
    update payments.webhook_events e
    set processing_status = case when v_handled then 'processed' else 'ignored' end,
        processed_at = now(), attempt_count = e.attempt_count + 1, last_error = null
    where e.id = p_id;
  exception when others then
    v_error := sqlerrm;
    update payments.webhook_events e
    set processing_status = 'failed', attempt_count = e.attempt_count + 1, last_error = v_error
    where e.id = p_id;
    -- Not re-raised: the failed row must persist; the caller answers 5xx so Stripe retries.
    return jsonb_build_object('eventId', v_event.provider_event_id, 'status', 'failed', 'error', v_error);
  end;
  return jsonb_build_object('eventId', v_event.provider_event_id,
    'status', case when v_handled then 'processed' else 'ignored' end, 'error', null);
end;
$$;
comment on function payments.process_webhook_event(uuid) is 'Projects a stored webhook event once (locked), setting processed, ignored or failed.';
revoke execute on function payments.process_webhook_event(uuid) from public;

-- security definer: the projection writes every mirror table through private functions that no
-- API role may execute; this entry point (EXECUTE for service_role only) is the one way in.
create function payments.ingest_stripe_event(p_environment text, p_event jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid;
  v_handled boolean;
  v_status text;
  v_error text;
  v_type text;
  v_object jsonb;
  v_at timestamptz;
begin
  if p_environment is null or p_environment not in ('test', 'live') then
    perform payments.invalid_request('environment', 'must be test or live.');
  end if;
  if p_event is null or jsonb_typeof(p_event) <> 'object' then
    perform payments.invalid_request('event', 'must be a Stripe event object.');
  end if;
  if jsonb_typeof(p_event -> 'id') is distinct from 'string' or length(p_event ->> 'id') not between 1 and 255 then
    perform payments.invalid_request('event.id', 'must be a Stripe event id.');
  end if;
  if jsonb_typeof(p_event -> 'type') is distinct from 'string' or p_event ->> 'type' = '' then
    perform payments.invalid_request('event.type', 'must be a Stripe event type.');
  end if;
  if jsonb_typeof(p_event -> 'created') is distinct from 'number' then
    perform payments.invalid_request('event.created', 'must be a unix timestamp.');
  end if;
  if jsonb_typeof(p_event -> 'data' -> 'object') is distinct from 'object' then
    perform payments.invalid_request('event.data.object', 'must be the Stripe object of the event.');
  end if;
  if jsonb_typeof(p_event -> 'livemode') is distinct from 'boolean'
     or (p_event ->> 'livemode')::boolean <> (p_environment = 'live') then
    perform payments.invalid_request('event.livemode',
      format('must be %s for the %s environment.', (p_environment = 'live')::text, p_environment));
  end if;

  -- A stored event (a redelivery, or one that failed before) goes through the locked path.
  select e.id into v_id from payments.webhook_events e
  where e.provider = 'stripe' and e.environment = p_environment and e.provider_event_id = p_event ->> 'id';
  if v_id is not null then
    return payments.process_webhook_event(v_id);
  end if;

  -- A first delivery is projected first and then recorded already processed: one write to
  -- webhook_events instead of an insert and an update, and the app's AFTER INSERT triggers see
  -- it processed. Projection and insert share a subtransaction, so a raising app trigger undoes
  -- the projection too. If a concurrent delivery of the same event recorded it first, the insert
  -- waits for it and conflicts: this projection is undone and the stored event decides.
  begin
    -- project_stripe_event's dispatch, inlined: one plpgsql frame less per event.
    v_type := p_event ->> 'type';
    v_object := p_event -> 'data' -> 'object';
    v_at := payments.stripe_time(p_event -> 'created');
    v_handled := true;
    case
      when v_type in ('checkout.session.completed',
        'checkout.session.async_payment_succeeded', 'checkout.session.async_payment_failed', 'checkout.session.expired') then
        perform payments.project_checkout_session(p_environment, v_object, v_at, v_type);
      when v_type in ('customer.created', 'customer.updated', 'customer.deleted') then
        perform payments.upsert_customer(p_environment, v_object, v_at, v_type = 'customer.deleted');
      when v_type in ('customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted',
                      'customer.subscription.paused', 'customer.subscription.resumed') then
        perform payments.upsert_subscription(p_environment, v_object, v_at, v_type);
      when v_type in ('invoice.paid', 'invoice.payment_failed') then
        perform payments.project_invoice(p_environment, v_object, v_at, v_type);
      when v_type in ('payment_intent.succeeded', 'payment_intent.payment_failed') then
        perform payments.project_payment_intent(p_environment, v_object, v_at, v_type);
      when v_type = 'charge.refunded' then
        perform payments.project_charge(p_environment, v_object, v_at);
      when v_type in ('refund.created', 'refund.updated', 'refund.failed') then
        perform payments.project_refund(p_environment, v_object, v_at);
      when v_type in ('product.created', 'product.updated', 'product.deleted') then
        perform payments.upsert_product(p_environment, v_object, v_at, v_type = 'product.deleted');
      when v_type in ('price.created', 'price.updated', 'price.deleted') then
        perform payments.upsert_price(p_environment, v_object, v_at, v_type = 'price.deleted');
      else
        v_handled := false;
    end case;
    v_status := case when v_handled then 'processed' else 'ignored' end;
    insert into payments.webhook_events (
      environment, provider_event_id, event_type, livemode, api_version, object_type, object_id,
      event_created_at, payload, processing_status, processed_at, attempt_count
    ) values (
      p_environment, p_event ->> 'id', p_event ->> 'type', (p_event ->> 'livemode')::boolean,
      p_event ->> 'api_version', p_event -> 'data' -> 'object' ->> 'object', p_event -> 'data' -> 'object' ->> 'id',
      payments.stripe_time(p_event -> 'created'), p_event, v_status, now(), 1
    )
    on conflict (provider, environment, provider_event_id) do nothing
    returning id into v_id;
    if v_id is null then
      raise exception using errcode = 'PTDUP', message = 'The event was recorded concurrently.';
    end if;
    return jsonb_build_object('eventId', p_event ->> 'id', 'status', v_status, 'error', null);
  exception
    when sqlstate 'PTDUP' then
      v_error := null;
    when others then
      v_error := sqlerrm;
  end;

  if v_error is not null then
    -- Kept as failed (not re-raised): the caller answers 5xx and Stripe's retry processes it.
    insert into payments.webhook_events (
      environment, provider_event_id, event_type, livemode, api_version, object_type, object_id,
      event_created_at, payload, processing_status, attempt_count, last_error
    ) values (
      p_environment, p_event ->> 'id', p_event ->> 'type', (p_event ->> 'livemode')::boolean,
      p_event ->> 'api_version', p_event -> 'data' -> 'object' ->> 'object', p_event -> 'data' -> 'object' ->> 'id',
      payments.stripe_time(p_event -> 'created'), p_event, 'failed', 1, v_error
    )
    on conflict (provider, environment, provider_event_id) do nothing
    returning id into v_id;
    if v_id is not null then
      return jsonb_build_object('eventId', p_event ->> 'id', 'status', 'failed', 'error', v_error);
    end if;
  end if;

  select e.id into v_id from payments.webhook_events e
  where e.provider = 'stripe' and e.environment = p_environment and e.provider_event_id = p_event ->> 'id';
  return payments.process_webhook_event(v_id);
end;
$$;
comment on function payments.ingest_stripe_event(text, jsonb) is 'Records a verified Stripe event and projects it once: {eventId, status: processed|ignored|duplicate|failed, error}. PT400 (nothing written) for a malformed event or a livemode that disagrees with the environment. A failed event is kept with its error; a later delivery or replay processes it.';
revoke execute on function payments.ingest_stripe_event(text, jsonb) from public;
grant execute on function payments.ingest_stripe_event(text, jsonb) to service_role;

-- security definer: as ingest_stripe_event.
create function payments.replay_webhook_event(p_environment text, p_event_id text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid;
begin
  perform payments.require_environment(p_environment);
  select e.id into v_id from payments.webhook_events e
  where e.provider = 'stripe' and e.environment = p_environment and e.provider_event_id = p_event_id;
  if v_id is null then
    raise exception using errcode = 'PT404',
      message = format('Webhook event %s not found in %s.', p_event_id, p_environment),
      hint = 'Only events already received can be replayed.';
  end if;
  return payments.process_webhook_event(v_id);
end;
$$;
comment on function payments.replay_webhook_event(text, text) is 'Reprocesses a stored pending or failed event (processed or ignored ones answer duplicate): same result shape as ingest_stripe_event; PT404 for an unknown event.';
revoke execute on function payments.replay_webhook_event(text, text) from public;
grant execute on function payments.replay_webhook_event(text, text) to service_role;

-- migrate:down
