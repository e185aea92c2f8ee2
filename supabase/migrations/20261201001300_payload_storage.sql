-- migrate:up

--------------------------------------------------------------------------------
-- Each payload stored once: reading the object of a row
--------------------------------------------------------------------------------
-- A customer, subscription (with its items) or transaction row written by an event names the
-- event (source_event_id) and keeps raw null, instead of a copy of the event's object next to the
-- same object in webhook_events.payload. Rows written by sync have no event and keep the object
-- in raw. Products and prices keep raw: there is one row per catalog object, not per event, and
-- visitors read them.

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

-- Security invoker: the caller reads the event under their own privileges and RLS (see the
-- policy above), so a user gets only what `select payload from payments.webhook_events` gives
-- them. The one lookup of a stored event's object, for every stripe_object overload.
create function payments.event_object(p_environment text, p_event_id text)
returns jsonb
language sql stable set search_path = ''
as $$
  select e.payload -> 'data' -> 'object' from payments.webhook_events e
  where e.provider = 'stripe' and e.environment = p_environment and e.provider_event_id = p_event_id
$$;
comment on function payments.event_object(text, text) is 'The data.object of a stored Stripe event, read under the caller''s RLS (null when the event is unknown or hidden).';

-- Security invoker, like event_object. A row whose event was removed by hand (retention first
-- copies the object into raw) gives null.
create function payments.stripe_object(p_row payments.customers)
returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(p_row.raw, payments.event_object(p_row.environment, p_row.source_event_id))
$$;
comment on function payments.stripe_object(payments.customers) is 'The Stripe Customer of a row: raw, or the object of the event the row names (source_event_id).';

create function payments.stripe_object(p_row payments.stripe_subscriptions)
returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(p_row.raw, payments.event_object(p_row.environment, p_row.source_event_id))
$$;
comment on function payments.stripe_object(payments.stripe_subscriptions) is 'The Stripe Subscription of a row: raw, or the object of the event the row names (source_event_id).';

create function payments.stripe_object(p_row payments.stripe_subscription_items)
returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(p_row.raw, (
    select i from jsonb_array_elements(
      payments.event_object(p_row.environment, p_row.source_event_id) -> 'items' -> 'data') i
    where i ->> 'id' = p_row.subscription_item_id))
$$;
comment on function payments.stripe_object(payments.stripe_subscription_items) is 'The Stripe subscription item of a row: raw, or the item in the subscription of the event the row names (source_event_id).';

create function payments.stripe_object(p_row payments.transactions)
returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(p_row.raw, payments.event_object(p_row.environment, p_row.source_event_id))
$$;
comment on function payments.stripe_object(payments.transactions) is 'The newest Stripe object of a transaction row (Checkout Session, PaymentIntent, Invoice or Refund): raw, or the object of the event the row names (source_event_id).';

--------------------------------------------------------------------------------
-- Storage of the Stripe payloads
--------------------------------------------------------------------------------
-- Events and mirrored objects are jsonb of a few kB. lz4 compresses them at a ratio like pglz's
-- in a fraction of its CPU time (servers built without lz4 keep the default). Storage `main`
-- keeps the compressed value in the row unless the row would not fit a page: out of line, every
-- insert would also write TOAST chunks and their index entries, and every update rewrite them.
-- (PostgreSQL 15 has no STORAGE clause in CREATE TABLE, and lz4 may be missing: hence ALTER.)
do $$
begin
  alter table payments.webhook_events alter column payload set compression lz4;
  alter table payments.stripe_products alter column raw set compression lz4;
  alter table payments.stripe_prices alter column raw set compression lz4;
  alter table payments.customers alter column raw set compression lz4;
  alter table payments.stripe_subscriptions alter column raw set compression lz4;
  alter table payments.stripe_subscription_items alter column raw set compression lz4;
  alter table payments.transactions alter column raw set compression lz4;
exception
  when feature_not_supported then
    raise notice 'lz4 is not available on this server; jsonb columns keep the default compression.';
end;
$$;
alter table payments.webhook_events alter column payload set storage main;
alter table payments.transactions alter column raw set storage main;
alter table payments.stripe_subscriptions alter column raw set storage main;
alter table payments.stripe_subscription_items alter column raw set storage main;
alter table payments.customers alter column raw set storage main;
alter table payments.stripe_products alter column raw set storage main;
alter table payments.stripe_prices alter column raw set storage main;

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments.event_object(text, text),
  payments.stripe_object(payments.customers),
  payments.stripe_object(payments.stripe_subscriptions),
  payments.stripe_object(payments.stripe_subscription_items),
  payments.stripe_object(payments.transactions)
from public;
grant execute on function
  payments.event_object(text, text),
  payments.stripe_object(payments.stripe_subscriptions),
  payments.stripe_object(payments.stripe_subscription_items),
  payments.stripe_object(payments.transactions)
to authenticated, service_role;
grant execute on function
  payments.stripe_object(payments.customers)
to service_role;

-- migrate:down
