-- migrate:up

--------------------------------------------------------------------------------
-- Each payload stored once (issue 14, item 4)
--------------------------------------------------------------------------------
-- A customer, subscription (with its items) or transaction row written by an event used to keep a
-- copy of the event's object in `raw`, next to the same object in webhook_events.payload: every
-- payload was stored twice. These rows now name the event instead (source_event_id, a Stripe
-- event id of webhook_events) and keep raw null; payments.stripe_object(row) returns the object
-- either way. Rows written by sync have no event and keep the object in raw. Products and prices
-- keep raw: there is one row per catalog object, not per event, and visitors read them.
alter table payments.customers
  add column source_event_id text,
  alter column raw drop not null;
alter table payments.stripe_subscriptions
  add column source_event_id text,
  alter column raw drop not null;
alter table payments.stripe_subscription_items
  add column source_event_id text,
  alter column raw drop not null;
alter table payments.transactions
  add column source_event_id text,
  alter column raw drop not null;
-- Each object is kept in exactly one place: the row's raw or the event it names.
alter table payments.customers add constraint stripe_object_kept_once check ((raw is null) = (source_event_id is not null));
alter table payments.stripe_subscriptions add constraint stripe_object_kept_once check ((raw is null) = (source_event_id is not null));
alter table payments.stripe_subscription_items add constraint stripe_object_kept_once check ((raw is null) = (source_event_id is not null));
alter table payments.transactions add constraint stripe_object_kept_once check ((raw is null) = (source_event_id is not null));
comment on column payments.customers.source_event_id is 'The stored event (webhook_events.provider_event_id) whose data.object is this row''s Stripe object; raw is null then. Null when raw holds the object (sync). Read the object with payments.stripe_object(row).';
comment on column payments.stripe_subscriptions.source_event_id is 'The stored event (webhook_events.provider_event_id) whose data.object is this row''s Stripe object; raw is null then. Null when raw holds the object (sync). Read the object with payments.stripe_object(row).';
comment on column payments.stripe_subscription_items.source_event_id is 'The stored event (webhook_events.provider_event_id) whose subscription lists this item; raw is null then. Null when raw holds the item (sync). Read it with payments.stripe_object(row).';
comment on column payments.transactions.source_event_id is 'The stored event (webhook_events.provider_event_id) whose data.object is this row''s newest Stripe object; raw is null then. Null when raw holds the object (sync, or an object nested in another event''s). Read it with payments.stripe_object(row).';

-- Users read the object of a row they can read through the event that holds it: exactly the
-- events their readable subscriptions, items and transactions name (the app's own policies on
-- those tables included, since the subqueries run under them). Only the columns that lookup
-- needs; the processing state and errors stay with the service role.
grant select (provider, environment, provider_event_id, object_id, payload) on payments.webhook_events to authenticated;
create policy "Users can read the events holding objects of rows they can read" on payments.webhook_events
  for select to authenticated
  using (
    exists (select 1 from payments.stripe_subscriptions m
            where m.environment = webhook_events.environment and m.subscription_id = webhook_events.object_id
              and m.source_event_id = webhook_events.provider_event_id)
    or exists (select 1 from payments.stripe_subscription_items m
               where m.environment = webhook_events.environment and m.subscription_id = webhook_events.object_id
                 and m.source_event_id = webhook_events.provider_event_id)
    or exists (select 1 from payments.transactions m
               where m.environment = webhook_events.environment
                 and m.source_event_id = webhook_events.provider_event_id
                 and webhook_events.object_id in (m.provider_object_id, m.checkout_session_id, m.payment_intent_id,
                                                  m.invoice_id, m.refund_id))
  );


--------------------------------------------------------------------------------
-- Which event a projection writes from
--------------------------------------------------------------------------------

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
revoke execute on function payments_private.projected_event(jsonb) from public;

create or replace function payments_private.project_stripe_event(p_environment text, p_event jsonb)
returns boolean
language plpgsql set search_path = ''
as $$
declare
  v_type text := p_event ->> 'type';
  v_object jsonb := p_event -> 'data' -> 'object';
  v_at timestamptz := payments_private.stripe_time(p_event -> 'created');
  v_projection text := payments_private.stripe_event_routes() ->> (p_event ->> 'type');
begin
  if v_projection is null then
    return false;
  end if;
  -- Reset below; a raising projection rolls the settings back with its subtransaction.
  perform set_config('payments.projected_event', p_event ->> 'id', true),
    set_config('payments.projected_object', v_object ->> 'id', true);
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
  perform set_config('payments.projected_event', '', true), set_config('payments.projected_object', '', true);
  return true;
end;
$$;
comment on function payments_private.project_stripe_event(text, jsonb) is 'Projects one Stripe event into the mirror tables through the route of its type, the rows naming the event that holds their object; false for types without a route.';


--------------------------------------------------------------------------------
-- Reading the object of a row
--------------------------------------------------------------------------------

-- Security invoker: the caller reads the row and the event under their own privileges and RLS
-- (see the policy on webhook_events above). A row whose event was removed by hand (retention
-- first copies the object into raw) gives null.
create function payments.stripe_object(p_row payments.customers)
returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(p_row.raw, (
    select e.payload -> 'data' -> 'object' from payments.webhook_events e
    where e.provider = 'stripe' and e.environment = p_row.environment
      and e.provider_event_id = p_row.source_event_id))
$$;
comment on function payments.stripe_object(payments.customers) is 'The Stripe Customer of a row: raw, or the object of the event the row names (source_event_id).';
revoke execute on function payments.stripe_object(payments.customers) from public;
grant execute on function payments.stripe_object(payments.customers) to service_role;

create function payments.stripe_object(p_row payments.stripe_subscriptions)
returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(p_row.raw, (
    select e.payload -> 'data' -> 'object' from payments.webhook_events e
    where e.provider = 'stripe' and e.environment = p_row.environment
      and e.provider_event_id = p_row.source_event_id))
$$;
comment on function payments.stripe_object(payments.stripe_subscriptions) is 'The Stripe Subscription of a row: raw, or the object of the event the row names (source_event_id).';
revoke execute on function payments.stripe_object(payments.stripe_subscriptions) from public;
grant execute on function payments.stripe_object(payments.stripe_subscriptions) to authenticated, service_role;

create function payments.stripe_object(p_row payments.stripe_subscription_items)
returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(p_row.raw, (
    select i from payments.webhook_events e,
      jsonb_array_elements(e.payload -> 'data' -> 'object' -> 'items' -> 'data') i
    where e.provider = 'stripe' and e.environment = p_row.environment
      and e.provider_event_id = p_row.source_event_id and i ->> 'id' = p_row.subscription_item_id))
$$;
comment on function payments.stripe_object(payments.stripe_subscription_items) is 'The Stripe subscription item of a row: raw, or the item in the subscription of the event the row names (source_event_id).';
revoke execute on function payments.stripe_object(payments.stripe_subscription_items) from public;
grant execute on function payments.stripe_object(payments.stripe_subscription_items) to authenticated, service_role;

create function payments.stripe_object(p_row payments.transactions)
returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(p_row.raw, (
    select e.payload -> 'data' -> 'object' from payments.webhook_events e
    where e.provider = 'stripe' and e.environment = p_row.environment
      and e.provider_event_id = p_row.source_event_id))
$$;
comment on function payments.stripe_object(payments.transactions) is 'The newest Stripe object of a transaction row (Checkout Session, PaymentIntent, Invoice or Refund): raw, or the object of the event the row names (source_event_id).';
revoke execute on function payments.stripe_object(payments.transactions) from public;
grant execute on function payments.stripe_object(payments.transactions) to authenticated, service_role;


--------------------------------------------------------------------------------
-- Retention keeps the objects of the rows
--------------------------------------------------------------------------------

-- As 20261130004200_webhook_event_retention.sql, and before removing a batch the rows that name
-- one of its events take their object into raw: an object outlives the event that brought it.
create or replace function payments.prune_webhook_events(
  p_older_than interval default interval '90 days',
  p_statuses text[] default array['processed', 'ignored'],
  p_environment text default null,
  p_batch_size integer default 10000
)
returns integer
language plpgsql volatile security definer set search_path = ''
as $$
declare
  v_cutoff timestamptz := now() - p_older_than;
  v_ids uuid[];
begin
  if p_environment is not null then
    perform payments_private.require_environment(p_environment);
  end if;
  -- Stripe resends an event, and its event log (which reconciliation reads) keeps it, for 30
  -- days: an event removed sooner would be stored again as new and fulfilled twice.
  if p_older_than is null or p_older_than < interval '30 days' then
    perform payments_private.invalid_request('older_than',
      'must be at least 30 days, the time Stripe can still resend an event.');
  end if;
  -- Failed and pending events are work still to do: they are never removed.
  if p_statuses is null or cardinality(p_statuses) = 0
     or not p_statuses <@ array['processed', 'ignored'] then
    perform payments_private.invalid_request('statuses',
      'must list only processed and ignored (failed and pending events are never removed).');
  end if;
  if p_batch_size is null or p_batch_size not between 1 and 1000000 then
    perform payments_private.invalid_request('batch_size', 'must be between 1 and 1000000.');
  end if;

  -- One bounded batch per call keeps each transaction short; the schedule calls again while a
  -- call removes a whole batch.
  select array_agg(o.id) into v_ids from (
    select o.id from payments.webhook_events o
    where (p_environment is null or o.environment = p_environment)
      and o.processing_status = any (p_statuses)
      and o.received_at < v_cutoff
      and o.event_created_at < now() - interval '30 days'
    limit p_batch_size
    for update skip locked) o;
  if v_ids is null then
    return 0;
  end if;

  -- One statement, one pass over the batch; each mirror is joined on its index on the object id,
  -- which the event records.
  with batch as (
    select e.id, e.environment, e.provider_event_id, e.object_type, e.object_id, e.payload -> 'data' -> 'object' as object
    from payments.webhook_events e where e.id = any (v_ids)
  ), customers as (
    update payments.customers m set raw = b.object, source_event_id = null
    from batch b
    where b.object_type = 'customer' and m.environment = b.environment and m.customer_id = b.object_id
      and m.source_event_id = b.provider_event_id
  ), subscriptions as (
    update payments.stripe_subscriptions m set raw = b.object, source_event_id = null
    from batch b
    where b.object_type = 'subscription' and m.environment = b.environment and m.subscription_id = b.object_id
      and m.source_event_id = b.provider_event_id
  ), items as (
    update payments.stripe_subscription_items m set raw = i, source_event_id = null
    from batch b, jsonb_array_elements(b.object -> 'items' -> 'data') i
    where b.object_type = 'subscription' and m.environment = b.environment and m.subscription_id = b.object_id
      and m.source_event_id = b.provider_event_id and i ->> 'id' = m.subscription_item_id
  ), transactions as (
    update payments.transactions m set raw = b.object, source_event_id = null
    from batch b
    where b.object_type in ('checkout.session', 'payment_intent', 'invoice', 'refund')
      and m.environment = b.environment and m.source_event_id = b.provider_event_id
      and b.object_id in (m.provider_object_id, m.checkout_session_id, m.payment_intent_id, m.invoice_id, m.refund_id)
  )
  delete from payments.webhook_events e where e.id = any (v_ids);
  return cardinality(v_ids);
end;
$$;
comment on function payments.prune_webhook_events(interval, text[], text, integer) is 'Retention: removes up to batch_size processed or ignored events received more than older_than ago (default 90 days, at least 30, and never an event Stripe created in the last 30 days); failed and pending events stay, and rows naming a removed event keep its object in raw. Returns how many it removed; PT400 for a policy that would break dedupe.';

-- migrate:down
