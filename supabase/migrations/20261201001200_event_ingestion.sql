-- migrate:up

--------------------------------------------------------------------------------
-- Verified webhook events
--------------------------------------------------------------------------------

-- received_via: events read back from Stripe's event log (reconciliation) go through
-- payments.ingest_stripe_event like a webhook; the row remembers which way it came, so the time
-- of the last verified delivery stays visible when reconciliation fills the gaps. The reconciler
-- sets payments.received_via = 'reconcile' around its ingest calls, so the one ingestion function
-- serves both paths unchanged.
create table payments.webhook_events (
  id uuid primary key default gen_random_uuid(),
  provider text not null default 'stripe' check (provider = 'stripe'),
  environment payments.environment not null,
  provider_event_id text not null,
  event_type text not null,
  livemode boolean not null,
  api_version text,
  object_type text,
  object_id text,
  event_created_at timestamptz not null,
  processing_status text not null default 'pending'
    check (processing_status in ('pending', 'processed', 'failed', 'ignored')),
  attempt_count integer not null default 0 check (attempt_count >= 0),
  last_error text,
  payload jsonb not null,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  received_via text not null default coalesce(nullif(current_setting('payments.received_via', true), ''), 'webhook')
    constraint webhook_events_received_via_check check (received_via in ('webhook', 'reconcile')),
  unique (provider, environment, provider_event_id)
);
comment on table payments.webhook_events is 'Every verified Stripe webhook event, with its processing outcome. Apps fulfil orders with their own AFTER INSERT OR UPDATE triggers here, on processing_status = ''processed''.';
comment on column payments.webhook_events.received_via is 'webhook: a verified delivery; reconcile: read back from Stripe''s event log (POST /stripe/{environment}/reconcile).';
create index webhook_events_object_idx on payments.webhook_events (environment, object_id);
-- The admin list's orders, newest received first. Failed and pending events are few: a partial
-- index finds them at once.
create index webhook_events_received_idx
  on payments.webhook_events (environment, received_at desc, id desc);
create index webhook_events_unsettled_received_idx
  on payments.webhook_events (environment, processing_status, received_at desc, id desc)
  where processing_status in ('pending', 'failed');
create index webhook_events_type_received_idx
  on payments.webhook_events (environment, event_type, received_at desc, id desc);
grant select, insert, update, delete on payments.webhook_events to service_role;
alter table payments.webhook_events enable row level security;
create trigger set_updated_at before update on payments.webhook_events
  for each row execute function payments_private.set_updated_at();

--------------------------------------------------------------------------------
-- The event router: which projection each handled event type runs
--------------------------------------------------------------------------------

-- The one list of handled event types, each with the projection it runs. The webhook endpoint
-- subscribes to exactly these (stripe_webhook_event_types reads them here) and
-- project_stripe_event dispatches on them. A constant without `set search_path`, so that the
-- planner inlines it and the dispatcher's lookup costs a key search, not a query.
create function payments_private.stripe_event_routes()
returns jsonb
language sql immutable parallel safe
as $$
  select '{
    "checkout.session.completed": "checkout_session",
    "checkout.session.async_payment_succeeded": "checkout_session",
    "checkout.session.async_payment_failed": "checkout_session",
    "checkout.session.expired": "checkout_session",
    "customer.created": "customer",
    "customer.updated": "customer",
    "customer.deleted": "customer",
    "customer.subscription.created": "subscription",
    "customer.subscription.updated": "subscription",
    "customer.subscription.deleted": "subscription",
    "customer.subscription.paused": "subscription",
    "customer.subscription.resumed": "subscription",
    "invoice.paid": "invoice",
    "invoice.payment_failed": "invoice",
    "invoice_payment.paid": "invoice_payment",
    "payment_intent.succeeded": "payment_intent",
    "payment_intent.payment_failed": "payment_intent",
    "charge.refunded": "charge",
    "refund.created": "refund",
    "refund.updated": "refund",
    "refund.failed": "refund",
    "product.created": "product",
    "product.updated": "product",
    "product.deleted": "product",
    "price.created": "price",
    "price.updated": "price",
    "price.deleted": "price"
  }'::jsonb
$$;
comment on function payments_private.stripe_event_routes() is 'The Stripe event types the projection handles, each mapped to the projection it runs. Every other type is recorded as ignored.';

-- security definer: reads the private routes for the service role.
create function payments.stripe_webhook_event_types()
returns text[]
language sql immutable security definer set search_path = ''
as $$
  select coalesce(array_agg(r.event_type order by r.event_type), '{}')
  from jsonb_object_keys(payments_private.stripe_event_routes()) as r(event_type)
$$;
comment on function payments.stripe_webhook_event_types() is 'The Stripe event types the projection handles (from its routes): exactly the ones to enable on the managed webhook endpoint.';

-- The event being projected, named for the upserts without threading it through every
-- projection function: project_stripe_event sets payments.projected_event and
-- payments.projected_object (transaction-local) around one projection. An upsert points its row
-- at the event only for the event's own object; a nested one (a refund inside a charge) and every
-- sync page keep their object in raw.
create function payments_private.projected_event(p_object jsonb)
returns text
language plpgsql stable set search_path = ''
as $$
begin
  -- PL/pgSQL, not SQL: a SQL function with a pinned search_path is not inlined, and running it
  -- cost about ten times as much per call.
  return case when p_object ->> 'id' = current_setting('payments.projected_object', true)
    then nullif(current_setting('payments.projected_event', true), '') end;
end;
$$;
comment on function payments_private.projected_event(jsonb) is 'The Stripe id of the event being projected when p_object is that event''s data.object; null otherwise (sync, nested objects).';

-- The one dispatcher, for first deliveries and replays alike. True when the event type is
-- projected, false when it is not handled (ignored).
create function payments_private.project_stripe_event(p_environment text, p_event jsonb)
returns boolean
language plpgsql set search_path = ''
as $$
declare
  v_type text := p_event ->> 'type';
  v_object jsonb := p_event -> 'data' -> 'object';
  v_at timestamptz := payments_private.stripe_time(p_event -> 'created');
  v_projection text := payments_private.stripe_event_routes() ->> (p_event ->> 'type');
  v_setting text;
begin
  if v_projection is null then
    return false;
  end if;
  -- Reset below; a raising projection rolls the settings back with its subtransaction. Set by
  -- assignment rather than PERFORM: a plain expression skips the executor, on every event.
  v_setting := set_config('payments.projected_event', p_event ->> 'id', true);
  v_setting := set_config('payments.projected_object', v_object ->> 'id', true);
  case v_projection
    when 'checkout_session' then
      perform payments_private.project_checkout_session(p_environment, v_object, v_at, v_type);
    when 'customer' then
      perform payments_private.upsert_customer(p_environment, v_object, v_at, v_type = 'customer.deleted');
    when 'subscription' then
      perform payments_private.upsert_subscription(p_environment, v_object, v_at, v_type);
    when 'invoice' then
      perform payments_private.project_invoice(p_environment, v_object, v_at, v_type);
    when 'invoice_payment' then
      perform payments_private.project_invoice_payment(p_environment, v_object, v_at);
    when 'payment_intent' then
      perform payments_private.project_payment_intent(p_environment, v_object, v_at, v_type);
    when 'charge' then
      perform payments_private.project_charge(p_environment, v_object, v_at);
    when 'refund' then
      perform payments_private.project_refund(p_environment, v_object, v_at);
    when 'product' then
      perform payments_private.upsert_product(p_environment, v_object, v_at, v_type = 'product.deleted');
    when 'price' then
      perform payments_private.upsert_price(p_environment, v_object, v_at, v_type = 'price.deleted');
  end case;
  v_setting := set_config('payments.projected_event', '', true);
  v_setting := set_config('payments.projected_object', '', true);
  return true;
end;
$$;
comment on function payments_private.project_stripe_event(text, jsonb) is 'Projects one Stripe event into the mirror tables through the route of its type, the rows naming the event that holds their object; false for types without a route.';

--------------------------------------------------------------------------------
-- Ingestion and replay
--------------------------------------------------------------------------------

-- The one mapping of a Stripe event onto its webhook_events row, recorded with the outcome of its
-- first attempt. False when the event is stored already (a concurrent delivery recorded it first).
create function payments_private.record_webhook_event(p_environment text, p_event jsonb, p_status text, p_error text)
returns boolean
language plpgsql set search_path = ''
as $$
begin
  insert into payments.webhook_events (
    environment, provider_event_id, event_type, livemode, api_version, object_type, object_id,
    event_created_at, payload, processing_status, processed_at, attempt_count, last_error
  ) values (
    p_environment, p_event ->> 'id', p_event ->> 'type', (p_event ->> 'livemode')::boolean,
    p_event ->> 'api_version', p_event -> 'data' -> 'object' ->> 'object', p_event -> 'data' -> 'object' ->> 'id',
    payments_private.stripe_time(p_event -> 'created'), p_event, p_status,
    case when p_status <> 'failed' then now() end, 1, p_error
  )
  on conflict (provider, environment, provider_event_id) do nothing;
  return found;
end;
$$;
comment on function payments_private.record_webhook_event(text, jsonb, text, text) is 'Stores a Stripe event in webhook_events with the status (and error) of its first attempt; false when the event was already stored.';

-- Locks the stored event, projects it once and records the outcome. The projection and the
-- status update (which fires the app's triggers on webhook_events) share one subtransaction: if
-- either raises, both are undone and the event is kept as failed with the error. Null when the
-- environment holds no event of that id: every caller (a redelivery, a replay) looks it up here.
create function payments_private.process_webhook_event(p_environment text, p_event_id text)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  v_event payments.webhook_events;
  v_handled boolean;
  v_error text;
begin
  -- Concurrent deliveries of one event queue here; the later one then sees it processed.
  select * into v_event from payments.webhook_events e
  where e.provider = 'stripe' and e.environment = p_environment and e.provider_event_id = p_event_id
  for update;
  if v_event.id is null then
    return null;
  end if;
  if v_event.processing_status in ('processed', 'ignored') then
    -- No write at all, so the app's triggers do not fire a second time.
    return jsonb_build_object('eventId', v_event.provider_event_id, 'status', 'duplicate', 'error', null);
  end if;

  begin
    v_handled := payments_private.project_stripe_event(v_event.environment, v_event.payload);
    update payments.webhook_events e
    set processing_status = case when v_handled then 'processed' else 'ignored' end,
        processed_at = now(), attempt_count = e.attempt_count + 1, last_error = null
    where e.id = v_event.id;
  exception when others then
    v_error := sqlerrm;
    update payments.webhook_events e
    set processing_status = 'failed', attempt_count = e.attempt_count + 1, last_error = v_error
    where e.id = v_event.id;
    -- Not re-raised: the failed row must persist; the caller answers 5xx so Stripe retries.
    return jsonb_build_object('eventId', v_event.provider_event_id, 'status', 'failed', 'error', v_error);
  end;
  return jsonb_build_object('eventId', v_event.provider_event_id,
    'status', case when v_handled then 'processed' else 'ignored' end, 'error', null);
end;
$$;
comment on function payments_private.process_webhook_event(text, text) is 'Projects a stored webhook event once (locked), setting processed, ignored or failed; null when no such event is stored.';

-- security definer: the projection writes every mirror table through private functions that no
-- API role may execute; this entry point (EXECUTE for service_role only) is the one way in.
create function payments.ingest_stripe_event(p_environment text, p_event jsonb)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  -- An assignment, not PERFORM: a plain expression skips the executor, once per event.
  v_environment text := payments_private.require_environment(p_environment);
  v_result jsonb;
  v_status text;
  v_error text;
begin
  if p_event is null or jsonb_typeof(p_event) <> 'object' then
    perform payments_private.invalid_request('event', 'must be a Stripe event object.');
  end if;
  if jsonb_typeof(p_event -> 'id') is distinct from 'string' or length(p_event ->> 'id') not between 1 and 255 then
    perform payments_private.invalid_request('event.id', 'must be a Stripe event id.');
  end if;
  if jsonb_typeof(p_event -> 'type') is distinct from 'string' or p_event ->> 'type' = '' then
    perform payments_private.invalid_request('event.type', 'must be a Stripe event type.');
  end if;
  if jsonb_typeof(p_event -> 'created') is distinct from 'number' then
    perform payments_private.invalid_request('event.created', 'must be a unix timestamp.');
  end if;
  if jsonb_typeof(p_event -> 'data' -> 'object') is distinct from 'object' then
    perform payments_private.invalid_request('event.data.object', 'must be the Stripe object of the event.');
  end if;
  if jsonb_typeof(p_event -> 'livemode') is distinct from 'boolean'
     or (p_event ->> 'livemode')::boolean <> (p_environment = 'live') then
    perform payments_private.invalid_request('event.livemode',
      format('must be %s for the %s environment.', (p_environment = 'live')::text, p_environment));
  end if;

  -- A stored event (a redelivery, or one that failed before) goes through the locked path. Nearly
  -- every delivery is a first one: an index probe settles that without the call and its row lock.
  if exists (select 1 from payments.webhook_events e
             where e.provider = 'stripe' and e.environment = v_environment and e.provider_event_id = p_event ->> 'id') then
    v_result := payments_private.process_webhook_event(v_environment, p_event ->> 'id');
    if v_result is not null then
      return v_result;
    end if;
  end if;

  -- A first delivery is projected first and then recorded already processed: one write to
  -- webhook_events instead of an insert and an update, and the app's AFTER INSERT triggers see
  -- it processed. Projection and insert share a subtransaction, so a raising app trigger undoes
  -- the projection too. If a concurrent delivery of the same event recorded it first, the insert
  -- waits for it and conflicts: this projection is undone and the stored event decides.
  begin
    v_status := case when payments_private.project_stripe_event(p_environment, p_event) then 'processed' else 'ignored' end;
    if not payments_private.record_webhook_event(p_environment, p_event, v_status, null) then
      raise exception using errcode = 'PTDUP', message = 'The event was recorded concurrently.';
    end if;
    return jsonb_build_object('eventId', p_event ->> 'id', 'status', v_status, 'error', null);
  exception
    when sqlstate 'PTDUP' then
      v_error := null;
    when others then
      v_error := sqlerrm;
  end;

  -- Kept as failed (not re-raised): the caller answers 5xx and Stripe's retry processes it.
  if v_error is not null and payments_private.record_webhook_event(p_environment, p_event, 'failed', v_error) then
    return jsonb_build_object('eventId', p_event ->> 'id', 'status', 'failed', 'error', v_error);
  end if;
  return payments_private.process_webhook_event(p_environment, p_event ->> 'id');
end;
$$;
comment on function payments.ingest_stripe_event(text, jsonb) is 'Records a verified Stripe event and projects it once: {eventId, status: processed|ignored|duplicate|failed, error}. PT400 (nothing written) for a malformed event or a livemode that disagrees with the environment. A failed event is kept with its error; a later delivery or replay processes it.';

-- security definer: as ingest_stripe_event.
create function payments.replay_webhook_event(p_environment text, p_event_id text)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  v_result jsonb := payments_private.process_webhook_event(payments_private.require_environment(p_environment), p_event_id);
begin
  if v_result is null then
    raise exception using errcode = 'PT404',
      message = format('Webhook event %s not found in %s.', p_event_id, p_environment),
      hint = 'Only events already received can be replayed.';
  end if;
  return v_result;
end;
$$;
comment on function payments.replay_webhook_event(text, text) is 'Reprocesses a stored pending or failed event (processed or ignored ones answer duplicate): same result shape as ingest_stripe_event; PT404 for an unknown event.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.stripe_event_routes(),
  payments.stripe_webhook_event_types(),
  payments_private.projected_event(jsonb),
  payments_private.project_stripe_event(text, jsonb),
  payments_private.record_webhook_event(text, jsonb, text, text),
  payments_private.process_webhook_event(text, text),
  payments.ingest_stripe_event(text, jsonb),
  payments.replay_webhook_event(text, text)
from public;
grant execute on function
  payments.stripe_webhook_event_types(),
  payments.ingest_stripe_event(text, jsonb),
  payments.replay_webhook_event(text, text)
to service_role;

-- migrate:down
