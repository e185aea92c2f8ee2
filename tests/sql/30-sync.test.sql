-- Sync: list pages upserted through the projection, archiving what a full sync did not see, and
-- switching to another Stripe account.
begin;
select plan(22);

select tests.fixture('current') as current \gset
create temporary table fx as select :'current'::jsonb as f;
grant select on fx to service_role;

-- A product known from an old event that Stripe no longer lists.
select payments.ingest_stripe_event('test', jsonb_build_object('id', 'evt_gone', 'type', 'product.created', 'created', 1600000000,
  'livemode', false, 'data', jsonb_build_object('object', (select f -> 'product' || '{"id":"prod_gone","name":"Gone"}' from fx))));
-- A product whose newest state came from an event after the object's `updated`.
select payments.ingest_stripe_event('test', jsonb_build_object('id', 'evt_newer', 'type', 'product.updated', 'created', 1800000000,
  'livemode', false, 'data', jsonb_build_object('object', (select f -> 'product' || '{"name":"Renamed by event"}' from fx))));

select tests.authenticate_as_service_role();
select is(payments.upsert_stripe_objects('test', 'product',
    (select jsonb_build_array(f -> 'product', f -> 'product' || '{"id":"prod_new","name":"New","updated":1700000000}') from fx),
    now() + interval '2 minutes'),
  2, 'A page of products is upserted and counted.');
select results_eq($$select product_id, name, coalesce(last_synced_at = now() + interval '2 minutes', false) from payments.stripe_products order by product_id$$,
  $$values ('prod_QXg1hqf4jFNsqG', 'Renamed by event', true), ('prod_gone', 'Gone', false), ('prod_new', 'New', true)$$,
  'Sync writes what it lists, keeps newer event state, and marks both seen.');
select is(payments.upsert_stripe_objects('test', 'price', (select jsonb_build_array(f -> 'price') from fx), now() + interval '2 minutes'),
  1, 'A page of prices is upserted.');
select is((select stripe_updated_at from payments.stripe_prices), now() + interval '2 minutes',
  'An object without its own timestamp is dated by the sync time.');
select is(payments.upsert_stripe_objects('test', 'customer',
    (select jsonb_build_array(f -> 'customer' || '{"metadata":{"payments_subject_type":"user","payments_subject_id":"u-9"}}') from fx),
    now() + interval '2 minutes'),
  1, 'A page of customers is upserted.');
select is(payments.customer_for_subject('test', 'user', 'u-9'), 'cus_QXg1o8vcGmoR32', 'Synced customers are mapped from their metadata.');
select is(payments.upsert_stripe_objects('test', 'subscription', (select jsonb_build_array(f -> 'subscription') from fx), now() + interval '2 minutes'),
  1, 'A page of subscriptions is upserted.');
select results_eq($$select s.subject_id, count(i.*)::int from payments.stripe_subscriptions s
    join payments.stripe_subscription_items i using (environment, subscription_id) group by s.subject_id$$,
  $$values ('u-9', 1)$$, 'Synced subscriptions get their items and the subject of their customer.');
select is(payments.upsert_stripe_objects('test', 'payment_intent',
    (select jsonb_build_array(f -> 'payment_intent' || '{"status":"succeeded","amount_received":1099,"customer":"cus_QXg1o8vcGmoR32","invoice":null}') from fx),
    now() + interval '2 minutes'),
  1, 'A page of payment intents is accepted.');
select is((select subject_id from payments.transactions where type = 'one_time_payment'), 'u-9', 'Synced payments become transactions.');
select is(payments.upsert_stripe_objects('test', 'refund', (select jsonb_build_array(f -> 'refund' || '{"payment_intent":"pi_1PgafyB7WZ01zgkWSjxsAJo3"}') from fx), now() + interval '2 minutes'),
  1, 'A page of refunds is accepted.');
select is((select amount_refunded from payments.transactions where type = 'one_time_payment'), 100::bigint, 'Synced refunds count on their payment.');
select is(payments.upsert_stripe_objects('test', 'invoice', '[]', now()), 0, 'An empty page is fine.');

select throws_ok($$select payments.upsert_stripe_objects('test', 'coupon', '[]')$$, 'PT400', null, 'An unknown object type is refused.');
select throws_ok($$select payments.upsert_stripe_objects('test', 'product', '{}')$$, 'PT400', null, 'The objects must be a JSON array.');
select throws_ok($$select payments.upsert_stripe_objects('test', 'product', '[{"id":"price_1","object":"price"}]')$$, 'PT400', null,
  'Objects of another type are refused.');

-- The private archiving helpers, called as their owner (the sync and account-switch entry
-- points call them so).
reset role;
-- The full product sync started a minute from now: what it did not see is archived.
select is(payments_private.archive_unsynced_stripe_objects('test', 'product', now() + interval '1 minute'), 1,
  'Archiving after a full sync archives the one product it did not see.');
select results_eq($$select product_id from payments.stripe_products where archived_at is not null$$, $$values ('prod_gone')$$,
  'The product gone from Stripe is archived, not deleted.');
select throws_ok($$select payments_private.archive_unsynced_stripe_objects('test', 'refund', now())$$, 'PT400', null,
  'History is never archived by sync.');

-- Another Stripe account connected to the test environment.
select payments_private.archive_stripe_account_data('test');
select is((select count(*)::int from payments.stripe_products where archived_at is null)
        + (select count(*)::int from payments.stripe_prices where archived_at is null)
        + (select count(*)::int from payments.customers where archived_at is null)
        + (select count(*)::int from payments.stripe_subscriptions where archived_at is null), 0,
  'Switching accounts archives the previous account''s catalog, customers and subscriptions.');
select is_empty($$select 1 from payments.customer_mappings where environment = 'test'$$,
  'Switching accounts removes the mappings to the previous account''s customers.');
reset role;

select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select throws_ok($$select payments.upsert_stripe_objects('test', 'product', '[]')$$, '42501', null, 'Users cannot sync.');
reset role;

select * from finish();
rollback;
