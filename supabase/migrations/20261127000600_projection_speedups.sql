-- migrate:up

-- Faster projection, measured with bench/sql.mjs (see the benchmark's notes): the changes keep
-- behaviour and only remove work per event.
--   * The subject in Stripe metadata is read by an inlinable scalar expression instead of a
--     set-returning query per event (payments.metadata_subject_type replaces metadata_subject).
--   * subject_of_customer and has_active_subscription become plpgsql: a SQL function that pins
--     search_path cannot be inlined and is planned again on every call; plpgsql keeps its plans
--     (has_active_subscription runs per row inside app policies).
--   * A subscription seen for the first time skips the search for items it no longer has.
--   * ingest_stripe_event checks the environment inline.

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

-- plpgsql rather than sql: a non-inlined SQL function is planned again on every call.
create or replace function payments.subject_of_customer(p_environment text, p_customer_id text, out subject_type text, out subject_id text)
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

create or replace function payments.upsert_customer(p_environment text, p_customer jsonb, p_at timestamptz, p_deleted boolean default false, p_synced_at timestamptz default null)
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

create or replace function payments.upsert_subscription(p_environment text, p_subscription jsonb, p_at timestamptz, p_event_type text default null, p_synced_at timestamptz default null)
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
    perform payments.attach_customer(p_environment, v_subject_type, v_subject_id, v_customer);
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

-- p_event_type null (sync): the session's own status decides.
create or replace function payments.project_checkout_session(p_environment text, p_session jsonb, p_at timestamptz, p_event_type text default null)
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

  perform payments.attach_customer(p_environment, v_subject_type, v_subject_id, v_customer);
  if v_subject_type is null and v_customer is not null then
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
      perform payments.merge_transaction(jsonb_build_object(
        'environment', p_environment, 'type', 'one_time_payment', 'status', 'succeeded',
        'provider_object_id', v_payment_intent, 'subject_type', v_subject_type, 'subject_id', v_subject_id,
        'customer_id', v_customer, 'customer_email', p_session -> 'customer_details' ->> 'email',
        'checkout_session_id', p_session ->> 'id', 'payment_intent_id', v_payment_intent,
        'amount', (p_session ->> 'amount_total')::bigint, 'currency', p_session ->> 'currency',
        'paid_at', p_at, 'stripe_created_at', payments.stripe_time(p_session -> 'created'),
        'stripe_updated_at', p_at, 'raw', p_session));
      perform payments.refresh_refunded_amount(p_environment, v_payment_intent, null);
    elsif p_event_type = 'checkout.session.async_payment_failed' then
      perform payments.merge_transaction(jsonb_build_object(
        'environment', p_environment, 'type', 'failed_payment', 'status', 'failed',
        'provider_object_id', v_payment_intent, 'subject_type', v_subject_type, 'subject_id', v_subject_id,
        'customer_id', v_customer, 'customer_email', p_session -> 'customer_details' ->> 'email',
        'checkout_session_id', p_session ->> 'id', 'payment_intent_id', v_payment_intent,
        'amount', (p_session ->> 'amount_total')::bigint, 'currency', p_session ->> 'currency',
        'description', 'Delayed payment failed.', 'failed_at', p_at,
        'stripe_created_at', payments.stripe_time(p_session -> 'created'), 'stripe_updated_at', p_at,
        'raw', p_session));
    end if;
  end if;
end;
$$;
comment on function payments.project_checkout_session(text, jsonb, timestamptz, text) is 'Completes or expires the checkout row of a Stripe Checkout Session (found by session id or client_reference_id), maps its customer to the subject and records a one-time payment.';
revoke execute on function payments.project_checkout_session(text, jsonb, timestamptz, text) from public;

-- p_event_type null (sync): the payment intent's own status decides.
create or replace function payments.project_payment_intent(p_environment text, p_intent jsonb, p_at timestamptz, p_event_type text default null)
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
    perform payments.attach_customer(p_environment, v_subject_type, v_subject_id, v_customer);
  end if;

  -- API 2025+ payment intents no longer say whether an invoice created them; count one as a
  -- one-time payment only when it is known to be one (older shape with invoice: null, the subject
  -- metadata our checkout sets, or a payment-mode checkout/transaction already referring to it).
  if not (
    (p_intent ? 'invoice')
    or v_subject_type is not null
    or exists (select 1 from payments.transactions t
               where t.environment = p_environment and t.type = 'one_time_payment' and t.provider_object_id = v_id)
    or exists (select 1 from payments.stripe_checkout_sessions s
               where s.environment = p_environment and s.payment_intent_id = v_id and s.mode = 'payment')
  ) then
    return;
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
    perform payments.merge_transaction(jsonb_build_object(
      'environment', p_environment, 'type', 'one_time_payment', 'status', 'succeeded',
      'provider_object_id', v_id, 'subject_type', v_subject_type, 'subject_id', v_subject_id,
      'customer_id', v_customer, 'customer_email', p_intent ->> 'receipt_email',
      'payment_intent_id', v_id, 'charge_id', v_charge,
      'amount', coalesce(nullif((p_intent ->> 'amount_received')::bigint, 0), (p_intent ->> 'amount')::bigint),
      'currency', p_intent ->> 'currency', 'description', p_intent ->> 'description', 'paid_at', p_at,
      'stripe_created_at', payments.stripe_time(p_intent -> 'created'), 'stripe_updated_at', p_at,
      'raw', p_intent));
    perform payments.refresh_refunded_amount(p_environment, v_id, v_charge);
  else
    perform payments.merge_transaction(jsonb_build_object(
      'environment', p_environment, 'type', 'failed_payment', 'status', 'failed',
      'provider_object_id', v_id, 'subject_type', v_subject_type, 'subject_id', v_subject_id,
      'customer_id', v_customer, 'customer_email', p_intent ->> 'receipt_email',
      'payment_intent_id', v_id, 'charge_id', v_charge, 'amount', (p_intent ->> 'amount')::bigint,
      'currency', p_intent ->> 'currency',
      'description', coalesce(p_intent -> 'last_payment_error' ->> 'message', 'Payment failed.'),
      'failed_at', p_at, 'stripe_created_at', payments.stripe_time(p_intent -> 'created'),
      'stripe_updated_at', p_at, 'raw', p_intent));
  end if;
end;
$$;
comment on function payments.project_payment_intent(text, jsonb, timestamptz, text) is 'Records a one-time payment (succeeded) or a failed payment for a PaymentIntent that is not an invoice payment.';
revoke execute on function payments.project_payment_intent(text, jsonb, timestamptz, text) from public;

-- p_event_type null (sync): the invoice's own status decides.
create or replace function payments.project_invoice(p_environment text, p_invoice jsonb, p_at timestamptz, p_event_type text default null)
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
      perform payments.attach_customer(p_environment, v_subject_type, v_subject_id, v_customer);
    end if;
  end if;
  if v_subject_type is null and v_customer is not null then
    select s.subject_type, s.subject_id into v_subject_type, v_subject_id
    from payments.subject_of_customer(p_environment, v_customer) s;
  end if;

  if v_paid then
    -- An invoice outside a subscription is a one-time payment, keyed like its PaymentIntent so
    -- that payment_intent.succeeded lands on the same row.
    perform payments.merge_transaction(jsonb_build_object(
      'environment', p_environment,
      'type', case when v_subscription is null then 'one_time_payment' else 'subscription_invoice' end,
      'status', 'succeeded',
      'provider_object_id', case when v_subscription is null then coalesce(v_payment_intent, v_id) else v_id end,
      'subject_type', v_subject_type, 'subject_id', v_subject_id, 'customer_id', v_customer,
      'customer_email', p_invoice ->> 'customer_email', 'payment_intent_id', v_payment_intent,
      'charge_id', v_charge, 'invoice_id', v_id, 'subscription_id', v_subscription,
      'amount', coalesce((p_invoice ->> 'amount_paid')::bigint, (p_invoice ->> 'total')::bigint),
      'currency', p_invoice ->> 'currency', 'description', p_invoice ->> 'description',
      'paid_at', coalesce(payments.stripe_time(p_invoice -> 'status_transitions' -> 'paid_at'), p_at),
      'stripe_created_at', payments.stripe_time(p_invoice -> 'created'), 'stripe_updated_at', p_at,
      'raw', p_invoice));
    if v_payment_intent is not null or v_charge is not null then
      perform payments.refresh_refunded_amount(p_environment, v_payment_intent, v_charge);
    end if;
  else
    perform payments.merge_transaction(jsonb_build_object(
      'environment', p_environment, 'type', 'failed_payment', 'status', 'failed',
      'provider_object_id', v_id, 'subject_type', v_subject_type, 'subject_id', v_subject_id,
      'customer_id', v_customer, 'customer_email', p_invoice ->> 'customer_email',
      'payment_intent_id', v_payment_intent, 'charge_id', v_charge, 'invoice_id', v_id,
      'subscription_id', v_subscription, 'amount', (p_invoice ->> 'amount_due')::bigint,
      'currency', p_invoice ->> 'currency', 'description', 'Invoice payment failed.', 'failed_at', p_at,
      'stripe_created_at', payments.stripe_time(p_invoice -> 'created'), 'stripe_updated_at', p_at,
      'raw', p_invoice));
  end if;
end;
$$;
comment on function payments.project_invoice(text, jsonb, timestamptz, text) is 'Records a paid subscription invoice (or one-off invoice as a one-time payment) or a failed invoice payment, from either invoice shape.';
revoke execute on function payments.project_invoice(text, jsonb, timestamptz, text) from public;

-- security definer: the projection writes every mirror table through private functions that no
-- API role may execute; this entry point (EXECUTE for service_role only) is the one way in.
create or replace function payments.ingest_stripe_event(p_environment text, p_event jsonb)
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
    v_handled := payments.project_stripe_event(p_environment, p_event);
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

-- security invoker on purpose: the caller's RLS on stripe_subscriptions applies, so a user can
-- only learn about subjects whose subscriptions they may read (their own, or their team's with
-- the app's policies). Called from an app's policy it answers for the current user's view.
-- plpgsql rather than sql: policies call it per row, and a SQL function that cannot be inlined
-- (it pins search_path) would be planned again on every call; plpgsql keeps the plan.
create or replace function payments.has_active_subscription(
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

-- Every caller now uses metadata_subject_type.
drop function payments.metadata_subject(jsonb);

-- migrate:down
