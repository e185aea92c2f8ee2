-- The safe fulfillment example (sql/examples/fulfillment.sql) over payments.settled_payment: an
-- order costs what the catalog says, not what its buyer writes, and is paid only by a settled
-- checkout of its price, amount, currency and owner, in an accepted environment; the attacks the
-- seed's trigger let through leave it pending.
begin;
select plan(29);

\ir ../../sql/examples/fulfillment.sql

select tests.fixture('current') as current \gset
create temporary table fx as select :'current'::jsonb as current;
grant select on fx to service_role;

\set alice '11111111-1111-1111-1111-111111111111'
\set bob '22222222-2222-2222-2222-222222222222'

-- The synced catalog: Pro at 19.00, a sticker at 0.50, a lifetime licence at 1900.00, a seat
-- pack that also costs 19.00, a test-mode price and an archived one.
insert into payments.stripe_products (environment, product_id, name, stripe_updated_at) values
  ('live', 'prod_pro', 'Pro', now()), ('live', 'prod_sticker', 'Sticker', now()),
  ('live', 'prod_lifetime', 'Pro - lifetime licence (x100 seats)', now()),
  ('live', 'prod_seats', 'Seat pack', now()), ('test', 'prod_pro', 'Pro', now());
insert into payments.stripe_prices (environment, price_id, product_id, currency, unit_amount, type, active, stripe_updated_at) values
  ('live', 'price_pro', 'prod_pro', 'usd', 1900, 'one_time', true, now()),
  ('live', 'price_sticker', 'prod_sticker', 'usd', 50, 'one_time', true, now()),
  ('live', 'price_lifetime', 'prod_lifetime', 'usd', 190000, 'one_time', true, now()),
  ('live', 'price_seats', 'prod_seats', 'usd', 1900, 'one_time', true, now()),
  ('live', 'price_old', 'prod_pro', 'usd', 900, 'one_time', false, now()),
  ('test', 'price_pro_test', 'prod_pro', 'usd', 1900, 'one_time', true, now());

-- A Checkout Session as Stripe sends it for an order, with the subject the edge function wrote.
create function pg_temp.session(p_id text, p_order text, p_amount bigint, p_currency text, p_subject text, p_payment_status text)
returns jsonb language sql as $$
  select (select current -> 'checkout.session' from fx) || jsonb_build_object(
    'id', p_id, 'status', 'complete', 'payment_status', p_payment_status, 'amount_total', p_amount,
    'currency', p_currency, 'customer', 'cus_' || p_subject, 'client_reference_id', null,
    'payment_intent', 'pi_' || p_id,
    'metadata', jsonb_build_object('order_id', p_order, 'payments_subject_type', 'user', 'payments_subject_id', p_subject))
$$;
-- The checkout row the edge function stored for that session: the validated request.
create function pg_temp.checkout(p_id text, p_environment text, p_user uuid, p_price text, p_quantity integer, p_order text)
returns void language sql as $$
  insert into payments.stripe_checkout_sessions (environment, created_by, subject_type, subject_id, mode,
    line_items, success_url, cancel_url, metadata, request_hash, checkout_session_id, status)
  values (p_environment::payments.environment, p_user, 'user', p_user::text, 'payment',
    jsonb_build_array(jsonb_build_object('priceId', p_price, 'quantity', p_quantity)),
    'https://app.test/ok', 'https://app.test/no', jsonb_build_object('order_id', p_order), '', p_id, 'open')
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

-- as alice: the price is the catalog's, never the buyer's
select tests.authenticate_as(:'alice');
select throws_ok(format($$insert into public.orders (user_id, price_id, description, amount, currency) values (%L, 'price_sticker', 'Pro - lifetime licence (x100 seats)', 190000, 'usd')$$, :'alice'),
  '42501', null, 'A user cannot write the amount, currency or description of an order.');
select throws_ok(format($$insert into public.orders (user_id, price_id, status) values (%L, 'price_pro', 'paid')$$, :'alice'),
  '42501', null, 'A user cannot write the status of an order.');
select throws_ok(format($$insert into public.orders (user_id, price_id) values (%L, 'price_nope')$$, :'alice'),
  '22023', 'priceId: no active one-time price "price_nope" that orders accept.', 'An unknown price is refused.');
select throws_ok(format($$insert into public.orders (user_id, price_id) values (%L, 'price_old')$$, :'alice'),
  '22023', null, 'An inactive price is refused.');
select throws_ok(format($$insert into public.orders (user_id, price_id) values (%L, 'price_pro_test')$$, :'alice'),
  '22023', null, 'A test-mode price is refused while the app accepts live only.');
select throws_ok($$insert into public.fulfillment_environments values ('test')$$,
  '42501', null, 'A user cannot make the app accept test-mode payments.');
select throws_ok(format($$insert into public.orders (user_id, price_id) values (%L, 'price_pro')$$, :'bob'),
  '42501', null, 'A user cannot create an order for someone else.');

insert into public.orders (user_id, price_id) values (:'alice', 'price_pro') returning id as o1 \gset
insert into public.orders (user_id, price_id) values (:'alice', 'price_pro') returning id as o2 \gset
insert into public.orders (user_id, price_id) values (:'alice', 'price_lifetime') returning id as o3 \gset
insert into public.orders (user_id, price_id, quantity) values (:'alice', 'price_pro', 2) returning id as o4 \gset
insert into public.orders (user_id, price_id) values (:'alice', 'price_seats') returning id as o5 \gset
select results_eq(format($$select description, amount, currency, environment, status, paid_at from public.orders where id in (%L, %L, %L) order by amount$$, :'o1', :'o4', :'o3'),
  $$values ('Pro', 1900::bigint, 'usd', 'live', 'pending', null::timestamptz), ('Pro (x2)', 3800, 'usd', 'live', 'pending', null),
           ('Pro - lifetime licence (x100 seats)', 190000, 'usd', 'live', 'pending', null)$$,
  'An order is priced from the catalog: description, amount, currency and environment of its price and quantity.');
reset role;

-- The checkouts the edge function stored, each carrying an order's id.
select pg_temp.checkout('cs_cheap', 'live', :'alice', 'price_sticker', 1, :'o1');
select pg_temp.checkout('cs_yen', 'live', :'alice', 'price_pro', 1, :'o1');
select pg_temp.checkout('cs_bob', 'live', :'bob', 'price_pro', 1, :'o1');
select pg_temp.checkout('cs_test', 'test', :'alice', 'price_pro', 1, :'o1');
select pg_temp.checkout('cs_lifetime', 'live', :'alice', 'price_pro', 1, :'o3');
select pg_temp.checkout('cs_one_of_two', 'live', :'alice', 'price_pro', 1, :'o4');
select pg_temp.checkout('cs_seats', 'live', :'alice', 'price_pro', 1, :'o5');
select pg_temp.checkout('cs_async', 'live', :'alice', 'price_pro', 1, :'o2');
select pg_temp.checkout('cs_paid', 'live', :'alice', 'price_pro', 1, :'o1');

-- as the service role, delivering events
select tests.authenticate_as_service_role();
-- Each attack: a paid checkout.session.completed (event evt_<name>, session cs_<name>) naming an
-- order, processed as an event and leaving the order pending.
select unnest(array[
    is(pg_temp.deliver(environment, 'evt_' || name, 'checkout.session.completed',
         pg_temp.session('cs_' || name, order_id, amount, currency, subject, 'paid')),
       'processed', event_description),
    is(pg_temp.order_status(order_id), 'pending', order_description)])
from (values
  ('live', 'cheap', :'o1', 50, 'usd', :'alice',
   'A checkout for a cheaper price carrying the order''s id is processed.', 'An order is never paid for less than its amount.'),
  ('live', 'yen', :'o1', 1900, 'jpy', :'alice',
   'A payment of the same number in another currency is processed.', 'An order is never paid in another currency.'),
  ('live', 'bob', :'o1', 1900, 'usd', :'bob',
   'Another user''s payment naming the order is processed.', 'An order is never paid by a payment billed to someone else.'),
  ('test', 'test', :'o1', 1900, 'usd', :'alice',
   'A test-mode payment for the order is processed.', 'An order is never paid in test mode unless the app opts in.'),
  ('live', 'unknown', :'o1', 1900, 'usd', :'alice',
   'A payment for a checkout the app never created is processed.', 'An order is never paid by a checkout the app did not create.'),
  ('live', 'lifetime', :'o3', 1900, 'usd', :'alice',
   'A 19.00 checkout naming the lifetime licence order is processed.', 'An order at a price of the buyer''s choosing is never paid by a cheaper checkout.'),
  ('live', 'one_of_two', :'o4', 1900, 'usd', :'alice',
   'A checkout for one of the two items ordered is processed.', 'An order of two is never paid by a checkout of one.'),
  ('live', 'seats', :'o5', 1900, 'usd', :'alice',
   'A checkout for another price of the same amount is processed.', 'An order is never paid by a checkout that sold another price.')
) as attack (environment, name, order_id, amount, currency, subject, event_description, order_description);

select pg_temp.deliver('live', 'evt_unpaid', 'checkout.session.completed', pg_temp.session('cs_async', :'o2', 1900, 'usd', :'alice', 'unpaid'));
select is(pg_temp.order_status(:'o2'), 'pending', 'A completed checkout whose payment has not settled does not pay the order.');
select pg_temp.deliver('live', 'evt_settled', 'checkout.session.async_payment_succeeded', pg_temp.session('cs_async', :'o2', 1900, 'usd', :'alice', 'paid'));
select is(pg_temp.order_status(:'o2'), 'paid', 'The asynchronous payment pays the order when it settles.');

select pg_temp.deliver('live', 'evt_paid', 'checkout.session.completed', pg_temp.session('cs_paid', :'o1', 1900, 'usd', :'alice', 'paid'));
select is(pg_temp.order_status(:'o1'), 'paid', 'A live checkout of the order''s price, amount, currency and owner pays it.');

select results_eq($$select p.order_id, p.amount, p.currency, p.subject_type, p.subject_id, p.environment, p.checkout_session_id, p.payment_intent_id
  from payments.webhook_events e, payments.settled_payment(e) p where e.provider_event_id = 'evt_paid'$$,
  format($$values (%L, 1900::bigint, 'usd', 'user', %L, 'live', 'cs_paid', 'pi_cs_paid')$$, :'o1', :'alice'),
  'settled_payment reports the order reference, amount, currency, subject and environment of a settled payment.');
reset role;

insert into public.fulfillment_environments values ('test');
select tests.authenticate_as(:'alice');
insert into public.orders (user_id, price_id) values (:'alice', 'price_pro_test') returning id as o6 \gset
reset role;
select pg_temp.checkout('cs_test_ok', 'test', :'alice', 'price_pro_test', 1, :'o6');
select tests.authenticate_as_service_role();
select pg_temp.deliver('test', 'evt_test_ok', 'checkout.session.completed', pg_temp.session('cs_test_ok', :'o6', 1900, 'usd', :'alice', 'paid'));
select is(pg_temp.order_status(:'o6'), 'paid', 'With test opted in, a test-mode price can be ordered and a test-mode payment pays it.');
reset role;

select * from finish();
rollback;
