-- migrate:up

-- Faster webhook ingestion, measured with bench/sql.mjs and a per-statement profile: the
-- changes keep behaviour (and every table, column, constraint and policy) and only remove work
-- per event.

-- The Stripe objects and events stored as jsonb are a few kB, and even compressed often just
-- over the 2 kB at which a row's largest values are moved out of line: every such insert then
-- also wrote two TOAST chunks and their index entries, and every update deleted and rewrote
-- them. Storage `main` still compresses these values, but keeps them in the row unless the row
-- would not fit a page. Applies to rows written from now on.
alter table payments.webhook_events alter column payload set storage main;
alter table payments.transactions alter column raw set storage main;
alter table payments.stripe_subscriptions alter column raw set storage main;
alter table payments.stripe_subscription_items alter column raw set storage main;
alter table payments.customers alter column raw set storage main;
alter table payments.stripe_products alter column raw set storage main;
alter table payments.stripe_prices alter column raw set storage main;

-- A transactions row carries only the Stripe ids of its kind (a refund id only on refunds, an
-- invoice id only on invoice payments, ...): the lookup indexes by Stripe id skip the nulls, so
-- that an insert maintains only the indexes it can be found by. Lookups by an id (`= ...`)
-- still use them.
drop index payments.transactions_checkout_session_idx;
create index transactions_checkout_session_idx on payments.transactions (environment, checkout_session_id)
  where checkout_session_id is not null;
drop index payments.transactions_charge_idx;
create index transactions_charge_idx on payments.transactions (environment, charge_id)
  where charge_id is not null;
drop index payments.transactions_invoice_idx;
create index transactions_invoice_idx on payments.transactions (environment, invoice_id)
  where invoice_id is not null;
drop index payments.transactions_subscription_idx;
create index transactions_subscription_idx on payments.transactions (environment, subscription_id)
  where subscription_id is not null;
drop index payments.transactions_refund_idx;
create index transactions_refund_idx on payments.transactions (environment, refund_id)
  where refund_id is not null;

-- Catalog rows and subscription items are rewritten by every event about them without changing
-- an indexed column: room on the page lets those updates stay HOT (no index writes).
alter table payments.stripe_products set (fillfactor = 80);
alter table payments.stripe_prices set (fillfactor = 80);
alter table payments.stripe_subscription_items set (fillfactor = 80);

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

-- migrate:down
