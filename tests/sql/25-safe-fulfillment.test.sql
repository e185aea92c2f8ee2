-- The safe fulfillment example (sql/examples/fulfillment.sql) over payments.settled_payment: an
-- order is paid only by a settled payment of its amount, currency and owner, in an accepted
-- environment; the attacks the seed's trigger let through leave it pending.
begin;
select plan(13);

\ir ../../sql/examples/fulfillment.sql

select tests.fixture('current') as current \gset
create temporary table fx as select :'current'::jsonb as current;
grant select on fx to service_role;

insert into public.orders (id, user_id, amount, currency) values
  ('0000000b-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', 1900, 'usd'),
  ('0000000b-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', 1900, 'usd'),
  ('0000000b-0000-0000-0000-000000000003', '11111111-1111-1111-1111-111111111111', 1900, 'usd');

-- A Checkout Session as Stripe sends it for an order, with the subject the edge function wrote.
create function pg_temp.session(p_id text, p_order text, p_amount bigint, p_currency text, p_subject text, p_payment_status text)
returns jsonb language sql as $$
  select (select current -> 'checkout.session' from fx) || jsonb_build_object(
    'id', p_id, 'status', 'complete', 'payment_status', p_payment_status, 'amount_total', p_amount,
    'currency', p_currency, 'customer', 'cus_' || p_subject, 'client_reference_id', null,
    'payment_intent', 'pi_' || p_id,
    'metadata', jsonb_build_object('order_id', p_order, 'payments_subject_type', 'user', 'payments_subject_id', p_subject))
$$;
create function pg_temp.deliver(p_environment text, p_event text, p_type text, p_session jsonb)
returns text language sql as $$
  select payments.ingest_stripe_event(p_environment,
    tests.stripe_event(p_event, p_type, 1700000000, p_session, p_environment = 'live')) ->> 'status'
$$;
-- security definer: the service role delivering events cannot read the app's orders.
create function pg_temp.order_status(p_order text) returns text language sql security definer as $$
  select status from public.orders where id = p_order::uuid
$$;

\set alice '11111111-1111-1111-1111-111111111111'
\set bob '22222222-2222-2222-2222-222222222222'
\set o1 '0000000b-0000-0000-0000-000000000001'
\set o2 '0000000b-0000-0000-0000-000000000002'
\set o3 '0000000b-0000-0000-0000-000000000003'

-- as the service role, delivering events
select tests.authenticate_as_service_role();
select is(pg_temp.deliver('live', 'evt_cheap', 'checkout.session.completed', pg_temp.session('cs_cheap', :'o1', 50, 'usd', :'alice', 'paid')),
  'processed', 'A checkout for a cheaper price carrying the order''s id is processed.');
select is(pg_temp.order_status(:'o1'), 'pending', 'An order is never paid for less than its amount.');
select is(pg_temp.deliver('live', 'evt_yen', 'checkout.session.completed', pg_temp.session('cs_yen', :'o1', 1900, 'jpy', :'alice', 'paid')),
  'processed', 'A payment of the same number in another currency is processed.');
select is(pg_temp.order_status(:'o1'), 'pending', 'An order is never paid in another currency.');
select is(pg_temp.deliver('live', 'evt_bob', 'checkout.session.completed', pg_temp.session('cs_bob', :'o1', 1900, 'usd', :'bob', 'paid')),
  'processed', 'Another user''s payment naming the order is processed.');
select is(pg_temp.order_status(:'o1'), 'pending', 'An order is never paid by a payment billed to someone else.');
select is(pg_temp.deliver('test', 'evt_test', 'checkout.session.completed', pg_temp.session('cs_test', :'o1', 1900, 'usd', :'alice', 'paid')),
  'processed', 'A test-mode payment for the order is processed.');
select is(pg_temp.order_status(:'o1'), 'pending', 'An order is never paid in test mode unless the app opts in.');

select pg_temp.deliver('live', 'evt_unpaid', 'checkout.session.completed', pg_temp.session('cs_async', :'o2', 1900, 'usd', :'alice', 'unpaid'));
select is(pg_temp.order_status(:'o2'), 'pending', 'A completed checkout whose payment has not settled does not pay the order.');
select pg_temp.deliver('live', 'evt_settled', 'checkout.session.async_payment_succeeded', pg_temp.session('cs_async', :'o2', 1900, 'usd', :'alice', 'paid'));
select is(pg_temp.order_status(:'o2'), 'paid', 'The asynchronous payment pays the order when it settles.');

select pg_temp.deliver('live', 'evt_paid', 'checkout.session.completed', pg_temp.session('cs_paid', :'o1', 1900, 'usd', :'alice', 'paid'));
select is(pg_temp.order_status(:'o1'), 'paid', 'A live payment of the order''s amount, currency and owner pays it.');

select results_eq($$select p.order_id, p.amount, p.currency, p.subject_type, p.subject_id, p.environment, p.checkout_session_id, p.payment_intent_id
  from payments.webhook_events e, payments.settled_payment(e) p where e.provider_event_id = 'evt_paid'$$,
  $$values ('0000000b-0000-0000-0000-000000000001', 1900::bigint, 'usd', 'user', '11111111-1111-1111-1111-111111111111', 'live', 'cs_paid', 'pi_cs_paid')$$,
  'settled_payment reports the order reference, amount, currency, subject and environment of a settled payment.');
reset role;

insert into public.fulfillment_environments values ('test');
select tests.authenticate_as_service_role();
select pg_temp.deliver('test', 'evt_test_ok', 'checkout.session.completed', pg_temp.session('cs_test_ok', :'o3', 1900, 'usd', :'alice', 'paid'));
select is(pg_temp.order_status(:'o3'), 'paid', 'With test opted in, a test-mode payment pays the order.');
reset role;

select * from finish();
rollback;
