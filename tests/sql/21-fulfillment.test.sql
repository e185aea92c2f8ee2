-- The seed's fulfillment trigger (sql/examples/fulfillment_seed.sql, copied unchanged): an order is
-- paid once under ten deliveries of its checkout.session.completed event; a failing app trigger
-- marks the event failed and undoes the projection, and a replay then fulfils it once.
begin;
select plan(20);

-- The orders table comes with the safe trigger, which fulfils live payments only: the orders
-- below, paid by test-mode events, are paid by the seed's trigger alone.
\ir ../../sql/examples/fulfillment.sql
\ir ../../sql/examples/fulfillment_seed.sql

select tests.fixture('current') as current \gset
create temporary table fx as select :'current'::jsonb as current;

-- Every time the app's trigger sees a processed checkout.session.completed event, it logs it;
-- then, while public.fulfillment_switch says broken, it fails, as an app whose warehouse is down.
create table public.fulfillment_log (provider_event_id text, op text);
create table public.fulfillment_switch (broken boolean not null);
insert into public.fulfillment_switch values (false);
create function public.log_fulfillment() returns trigger language plpgsql as $$
begin
  if new.event_type = 'checkout.session.completed' and new.processing_status = 'processed' then
    insert into public.fulfillment_log values (new.provider_event_id, tg_op);
    if (select broken from public.fulfillment_switch) then
      raise exception 'warehouse is offline';
    end if;
  end if;
  return new;
end;
$$;
create trigger log_fulfillment after insert or update on payments.webhook_events
  for each row execute function public.log_fulfillment();

-- Two orders of alice's, priced by the example's trigger from the catalog.
insert into payments.stripe_products (environment, product_id, name, stripe_updated_at) values ('live', 'prod_poster', 'Poster', now());
insert into payments.stripe_prices (environment, price_id, product_id, currency, unit_amount, type, stripe_updated_at) values
  ('live', 'price_poster', 'prod_poster', 'usd', 1099, 'one_time', now()),
  ('live', 'price_postcard', 'prod_poster', 'usd', 500, 'one_time', now());
insert into public.orders (id, user_id, price_id) values
  ('0000000a-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 'price_poster'),
  ('0000000a-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', 'price_postcard');

-- as alice: the checkout
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select (payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"price_1PgafmB7WZ01zgkW6dKueIc5"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no","metadata":{"order_id":"0000000a-0000-0000-0000-000000000001"},"idempotencyKey":"order:1"}')).id as checkout_id \gset
reset role;

-- The completed session as Stripe sends it: our row id as client_reference_id, subject metadata.
create temporary table completed as
select jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(fx.current -> 'checkout.session',
  '{status}', '"complete"'), '{payment_status}', '"paid"'), '{amount_total}', '1099'), '{currency}', '"usd"'),
  '{customer}', '"cus_alice"'), '{client_reference_id}', to_jsonb(:'checkout_id'::text)),
  '{metadata}', '{"order_id":"0000000a-0000-0000-0000-000000000001","payments_subject_type":"user","payments_subject_id":"11111111-1111-1111-1111-111111111111"}') as session
from fx;
grant select on completed to service_role;

-- as the service role: ten deliveries of the same event
set local role service_role;
create temporary table results as
select n, payments.ingest_stripe_event('test', tests.stripe_event('evt_completed', 'checkout.session.completed', 1700000000,
  (select session from completed))) ->> 'status' as status
from generate_series(1, 10) n;
reset role;

select results_eq('select status, count(*)::int from results group by status order by status',
  $$values ('duplicate', 9), ('processed', 1)$$, 'Ten deliveries: processed once, nine duplicates.');
select is((select count(*)::int from public.fulfillment_log), 1, 'App triggers saw the processed event exactly once.');
select results_eq($$select status, paid_at is not null from public.orders where id = '0000000a-0000-0000-0000-000000000001'$$,
  $$values ('paid', true)$$, 'The seed''s trigger marked the order paid.');
select is((select status from public.orders where id = '0000000a-0000-0000-0000-000000000002'), 'pending',
  'Other orders stay pending.');
select results_eq(format($$select status, payment_status, checkout_session_id, customer_id, payment_intent_id, amount_total from payments.stripe_checkout_sessions where id = %L$$, :'checkout_id'),
  $$values ('completed', 'paid', 'cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY', 'cus_alice', 'pi_1PgafyB7WZ01zgkWSjxsAJo3', 1099::bigint)$$,
  'The checkout row found by client_reference_id is completed with the Stripe ids.');
select is((select count(*)::int from payments.transactions where type = 'one_time_payment'), 1,
  'One transaction row for the payment.');
select is((select provider_customer_id from payments.customer_mappings where subject_id = '11111111-1111-1111-1111-111111111111'), 'cus_alice',
  'The customer is mapped to the subject.');
select is((select attempt_count from payments.webhook_events where provider_event_id = 'evt_completed'), 1,
  'Duplicates did not touch the stored event.');

-- A failing app trigger: the event fails, the projection is undone, nothing is fulfilled.
update public.fulfillment_switch set broken = true;

update completed set session = jsonb_set(jsonb_set(jsonb_set(jsonb_set(session,
  '{id}', '"cs_test_second"'), '{client_reference_id}', 'null'), '{payment_intent}', '"pi_second"'),
  '{metadata,order_id}', '"0000000a-0000-0000-0000-000000000002"');
set local role service_role;
select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_second', 'checkout.session.completed', 1700000100, (select session from completed))),
  '{"eventId":"evt_second","status":"failed","error":"warehouse is offline"}'::jsonb,
  'An app trigger that raises makes the event fail with its error.');
reset role;
select results_eq($$select processing_status, last_error, attempt_count from payments.webhook_events where provider_event_id = 'evt_second'$$,
  $$values ('failed', 'warehouse is offline', 1)$$, 'The failed event persists with the error.');
select is((select status from public.orders where id = '0000000a-0000-0000-0000-000000000002'), 'pending',
  'The order is not fulfilled while the trigger fails.');
select is_empty($$select 1 from payments.transactions where provider_object_id = 'pi_second'$$,
  'The projection of the failed event was undone with it.');
select is((select count(*)::int from public.fulfillment_log), 1, 'The failed attempt left no trace in the app''s log.');

set local role service_role;
select is(payments.replay_webhook_event('test', 'evt_second') ->> 'status', 'failed', 'A replay while the trigger still fails fails again.');
reset role;
update public.fulfillment_switch set broken = false;
set local role service_role;
select is(payments.replay_webhook_event('test', 'evt_second'), '{"eventId":"evt_second","status":"processed","error":null}'::jsonb,
  'Once the trigger works, a replay processes the event.');
select is(payments.replay_webhook_event('test', 'evt_second') ->> 'status', 'duplicate', 'A second replay is a duplicate.');
select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_second', 'checkout.session.completed', 1700000100, (select session from completed))) ->> 'status',
  'duplicate', 'A late redelivery by Stripe is a duplicate too.');
reset role;
select results_eq($$select status, paid_at is not null from public.orders where id = '0000000a-0000-0000-0000-000000000002'$$,
  $$values ('paid', true)$$, 'The replay fulfilled the order.');
select is((select count(*)::int from public.fulfillment_log where provider_event_id = 'evt_second'), 1,
  'The replayed event was fulfilled exactly once.');
select results_eq($$select processing_status, attempt_count, last_error from payments.webhook_events where provider_event_id = 'evt_second'$$,
  $$values ('processed', 3, null::text)$$, 'The event records three attempts and no error.');

select * from finish();
rollback;
