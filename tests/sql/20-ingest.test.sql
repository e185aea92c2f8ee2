-- ingest_stripe_event and replay_webhook_event: validation, dedupe, ignored types, failures that
-- persist and are retried, and who may call them.
begin;
select plan(35);

select tests.fixture('current') as current \gset
create temporary table fx as select :'current'::jsonb as current;
grant select on fx to service_role;

-- as the service role (the edge function's webhook route)
select tests.authenticate_as_service_role();

select throws_ok($$select payments.ingest_stripe_event('test', '{"type":"product.created","created":1,"livemode":false,"data":{"object":{}}}')$$,
  'PT400', 'event.id must be a Stripe event id.', 'An event without an id is refused, naming the field.');
select throws_ok($$select payments.ingest_stripe_event('test', '{"id":"evt_x","created":1,"livemode":false,"data":{"object":{}}}')$$,
  'PT400', 'event.type must be a Stripe event type.', 'An event without a type is refused.');
select throws_ok($$select payments.ingest_stripe_event('test', '{"id":"evt_x","type":"product.created","livemode":false,"data":{"object":{}}}')$$,
  'PT400', 'event.created must be a unix timestamp.', 'An event without created is refused.');
select throws_ok($$select payments.ingest_stripe_event('test', '{"id":"evt_x","type":"product.created","created":1,"livemode":false,"data":{}}')$$,
  'PT400', 'event.data.object must be the Stripe object of the event.', 'An event without data.object is refused.');
select throws_ok($$select payments.ingest_stripe_event('test', tests.stripe_event('evt_live', 'product.created', 1, (select current -> 'product' from fx), true))$$,
  'PT400', 'event.livemode must be false for the test environment.', 'A live event is refused on the test environment.');
select throws_ok($$select payments.ingest_stripe_event('live', tests.stripe_event('evt_test', 'product.created', 1, (select current -> 'product' from fx), false))$$,
  'PT400', 'event.livemode must be true for the live environment.', 'A test event is refused on the live environment.');
select throws_ok($$select payments.ingest_stripe_event('sandbox', tests.stripe_event('evt_x', 'product.created', 1, '{}'))$$,
  'PT400', 'environment must be test or live.', 'An unknown environment is refused.');
select is_empty('select 1 from payments.webhook_events', 'Refused events write nothing.');

select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_product', 'product.created', 1700000000, (select current -> 'product' from fx))),
  '{"eventId":"evt_product","status":"processed","error":null}'::jsonb, 'A handled event is processed.');
select results_eq($$select processing_status, attempt_count, last_error, processed_at is not null, object_type, object_id, event_created_at
    from payments.webhook_events where provider_event_id = 'evt_product'$$,
  $$values ('processed', 1, null::text, true, 'product', 'prod_QXg1hqf4jFNsqG', to_timestamp(1700000000))$$,
  'The stored event records its outcome, object and time.');
select is((select name from payments.stripe_products where product_id = 'prod_QXg1hqf4jFNsqG'), 'T-shirt',
  'The event is projected in the same call.');

select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_product', 'product.created', 1700000000, (select current -> 'product' from fx))),
  '{"eventId":"evt_product","status":"duplicate","error":null}'::jsonb, 'A second delivery is a duplicate.');
select is((select attempt_count from payments.webhook_events where provider_event_id = 'evt_product'), 1,
  'A duplicate delivery does not touch the stored event.');
select is(payments.ingest_stripe_event('live', tests.stripe_event('evt_product', 'product.created', 1700000000, (select current -> 'product' from fx), true)) ->> 'status',
  'processed', 'The same event id in the other environment is a different event.');

select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_plan', 'plan.created', 1700000000, (select current -> 'event' -> 'data' -> 'object' from fx))),
  '{"eventId":"evt_plan","status":"ignored","error":null}'::jsonb, 'An event type the projection does not handle is ignored.');
select results_eq($$select processing_status, attempt_count, processed_at is not null from payments.webhook_events where provider_event_id = 'evt_plan'$$,
  $$values ('ignored', 1, true)$$, 'An ignored event is stored and marked handled.');
select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_plan', 'plan.created', 1700000000, (select current -> 'event' -> 'data' -> 'object' from fx))) ->> 'status',
  'duplicate', 'An ignored event delivered again is a duplicate.');

-- A projection that fails keeps the event as failed, with the error, and writes nothing else.
select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_bad_price', 'price.created', 1700000000,
    (select jsonb_set(current -> 'price', '{currency}', '"dollars"') from fx))) ->> 'status',
  'failed', 'An event whose projection raises reports failed.');
select results_eq($$select processing_status, attempt_count, last_error like '%stripe_prices_currency_check%', processed_at
    from payments.webhook_events where provider_event_id = 'evt_bad_price'$$,
  $$values ('failed', 1, true, null::timestamptz)$$, 'The failed event is kept with the error text.');
select is_empty($$select 1 from payments.stripe_prices$$, 'A failed projection leaves nothing half-written.');
select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_bad_price', 'price.created', 1700000000,
    (select jsonb_set(current -> 'price', '{currency}', '"dollars"') from fx))) ->> 'status',
  'failed', 'A failed event is processed again when delivered again (and fails again here).');
select is((select attempt_count from payments.webhook_events where provider_event_id = 'evt_bad_price'), 2,
  'Every processing attempt is counted.');
reset role;

-- A transient failure: a guard trigger refuses prices until it is removed.
create function pg_temp.refuse_prices() returns trigger language plpgsql as $$
begin
  raise exception 'prices are read-only right now';
end;
$$;
create trigger refuse_prices before insert on payments.stripe_prices for each row execute function pg_temp.refuse_prices();
set local role service_role;
select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_price', 'price.created', 1700000000, (select current -> 'price' from fx))),
  '{"eventId":"evt_price","status":"failed","error":"prices are read-only right now"}'::jsonb,
  'The failure is reported with the error text.');
reset role;
drop trigger refuse_prices on payments.stripe_prices;
set local role service_role;
select is(payments.ingest_stripe_event('test', tests.stripe_event('evt_price', 'price.created', 1700000000, (select current -> 'price' from fx))) ->> 'status',
  'processed', 'A later delivery of a failed event processes it.');
select results_eq($$select processing_status, attempt_count, last_error from payments.webhook_events where provider_event_id = 'evt_price'$$,
  $$values ('processed', 2, null::text)$$, 'Success clears the last error and counts the attempt.');
select is((select count(*)::int from payments.stripe_prices), 1, 'The price is mirrored once.');

-- Replay
select throws_ok($$select payments.replay_webhook_event('test', 'evt_unknown')$$, 'PT404', null,
  'Replaying an unknown event is not found.');
select is(payments.replay_webhook_event('test', 'evt_price'), '{"eventId":"evt_price","status":"duplicate","error":null}'::jsonb,
  'Replaying a processed event is a duplicate: it is never projected twice.');
reset role;
insert into payments.webhook_events (environment, provider_event_id, event_type, livemode, event_created_at, payload)
values ('test', 'evt_pending', 'product.updated', false, to_timestamp(1700000100),
        tests.stripe_event('evt_pending', 'product.updated', 1700000100, (select jsonb_set(current -> 'product', '{name}', '"Hoodie"') from fx)));
set local role service_role;
select is(payments.replay_webhook_event('test', 'evt_pending') ->> 'status', 'processed',
  'Replaying a pending event (left by a crash) processes it.');
select is((select name from payments.stripe_products where environment = 'test'), 'Hoodie',
  'The replayed event is projected.');

select ok(cardinality(payments.stripe_webhook_event_types()) > 0, 'The router hands out the types it handles.');
-- The handled types come from the router itself: each one, built around the fixture of its
-- object, is projected (a type listed without a projection would come back ignored).
select is_empty($$
  select e.type || ': ' || coalesce(tests.ingest(format('evt_route_%s', e.n), e.type, 1800000000 + e.n,
           tests.fixture('current') -> case
             when e.type like 'checkout.session.%' then 'checkout.session'
             when e.type like 'customer.subscription.%' then 'subscription'
             else split_part(e.type, '.', 1) end), 'no status')
  from unnest(payments.stripe_webhook_event_types()) with ordinality as e(type, n)
  except
  select e.type || ': processed' from unnest(payments.stripe_webhook_event_types()) as e(type)
$$, 'Every handled event type, built from a fixture of its object, is processed: none is ignored.');
reset role;

-- as a user and as anon
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select throws_ok($$select payments.ingest_stripe_event('test', '{}')$$, '42501', null, 'Users cannot ingest events.');
select throws_ok($$select payments.replay_webhook_event('test', 'evt_price')$$, '42501', null, 'Users cannot replay events.');
reset role;
set local role anon;
select throws_ok($$select payments.ingest_stripe_event('test', '{}')$$, '42501', null, 'Anon cannot ingest events.');
reset role;

select * from finish();
rollback;
