-- Row level security as the API roles see it: anon, two users, and the service role.
begin;
select plan(30);

-- Fixtures, written as the migration owner.
insert into payments.stripe_products (environment, product_id, name, active, stripe_updated_at) values
  ('test', 'prod_active', 'Active', true, now()),
  ('test', 'prod_inactive', 'Inactive', false, now()),
  ('test', 'prod_archived', 'Archived', true, now());
update payments.stripe_products set archived_at = now() where product_id = 'prod_archived';
insert into payments.stripe_prices (environment, price_id, product_id, active, currency, unit_amount, type, stripe_updated_at) values
  ('test', 'price_active', 'prod_active', true, 'usd', 1000, 'one_time', now()),
  ('test', 'price_inactive', 'prod_active', false, 'usd', 2000, 'one_time', now());
insert into payments.customer_mappings (environment, subject_type, subject_id, provider_customer_id) values
  ('test', 'user', '11111111-1111-1111-1111-111111111111', 'cus_alice'),
  ('test', 'user', '22222222-2222-2222-2222-222222222222', 'cus_bob');
insert into payments.stripe_checkout_sessions
  (environment, created_by, subject_type, subject_id, mode, line_items, success_url, cancel_url, request_hash)
values
  ('test', '22222222-2222-2222-2222-222222222222', 'user', '22222222-2222-2222-2222-222222222222',
   'payment', '[{"priceId": "price_active", "quantity": 1}]', 'https://app.test/ok', 'https://app.test/no', 'h');
insert into payments.stripe_subscriptions (environment, subscription_id, customer_id, subject_type, subject_id, status, stripe_updated_at) values
  ('test', 'sub_alice', 'cus_alice', 'user', '11111111-1111-1111-1111-111111111111', 'active', now()),
  ('test', 'sub_bob', 'cus_bob', 'user', '22222222-2222-2222-2222-222222222222', 'active', now());
insert into payments.stripe_subscription_items (environment, subscription_item_id, subscription_id, price_id, stripe_updated_at) values
  ('test', 'si_alice', 'sub_alice', 'price_active', now()),
  ('test', 'si_bob', 'sub_bob', 'price_active', now());
insert into payments.transactions (environment, type, status, provider_object_id, subject_type, subject_id, amount, stripe_updated_at) values
  ('test', 'one_time_payment', 'succeeded', 'pi_alice', 'user', '11111111-1111-1111-1111-111111111111', 1000, now()),
  ('test', 'one_time_payment', 'succeeded', 'pi_bob', 'user', '22222222-2222-2222-2222-222222222222', 1000, now());
insert into payments.webhook_events (environment, provider_event_id, event_type, livemode, event_created_at, payload)
  values ('test', 'evt_1', 'customer.created', false, now(), '{}');
select payments_private.set_provider_secret('test', 'secret_key', 'sk_test_secret');

-- as anon
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);
select results_eq('select product_id from payments.stripe_products', $$values ('prod_active')$$,
  'Anon sees only active, unarchived products.');
select results_eq('select price_id from payments.stripe_prices', $$values ('price_active')$$,
  'Anon sees only active prices.');
select throws_ok('select * from payments.stripe_checkout_sessions', '42501', null,
  'Anon cannot read checkout sessions.');
select throws_ok('select * from payments.customer_mappings', '42501', null,
  'Anon cannot read customer mappings.');
select throws_ok('select * from payments.webhook_events', '42501', null,
  'Anon cannot read webhook events.');
reset role;

-- as alice
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select lives_ok('select tests.insert_checkout_row()', 'Alice can create a checkout session for herself.');
select throws_ok(format('select tests.insert_checkout_row(%L)', refused_row), '42501', null, description)
from (values
  ('{"subject_id": "22222222-2222-2222-2222-222222222222"}',
   'Alice cannot create a checkout session billed to Bob.'),
  ('{"created_by": "22222222-2222-2222-2222-222222222222", "subject_id": "22222222-2222-2222-2222-222222222222"}',
   'Alice cannot create a checkout session in Bob''s name.'),
  ('{"subject_type": "team", "subject_id": "team-1", "mode": "subscription"}',
   'Without app policies, Alice cannot bill a team.'),
  ('{"request_hash": "h2", "status": "completed", "payment_status": "paid", "url": "https://evil.test"}',
   'Alice cannot insert a checkout session that claims to be paid.')
) as refused (refused_row, description);
select results_eq('select subject_id from payments.stripe_checkout_sessions',
  $$values ('11111111-1111-1111-1111-111111111111')$$, 'Alice sees only her own checkout sessions.');
select throws_ok('update payments.stripe_checkout_sessions set status = ''completed''', '42501', null,
  'Alice cannot mark her checkout session completed.');
select lives_ok($$
  insert into payments.stripe_customer_portal_sessions (environment, created_by, subject_type, subject_id)
  values ('test', '11111111-1111-1111-1111-111111111111', 'user', '11111111-1111-1111-1111-111111111111')
$$, 'Alice can create a portal session for herself.');
select throws_ok($$
  insert into payments.stripe_customer_portal_sessions (environment, created_by, subject_type, subject_id)
  values ('test', '11111111-1111-1111-1111-111111111111', 'user', '22222222-2222-2222-2222-222222222222')
$$, '42501', null, 'Alice cannot open Bob''s billing portal.');
select results_eq('select provider_customer_id from payments.customer_mappings', $$values ('cus_alice')$$,
  'Alice sees only her own customer mapping.');
select results_eq('select subscription_id from payments.stripe_subscriptions', $$values ('sub_alice')$$,
  'Alice sees only her own subscription.');
select results_eq('select subscription_item_id from payments.stripe_subscription_items', $$values ('si_alice')$$,
  'Alice sees only the items of her own subscription.');
select results_eq('select provider_object_id from payments.transactions', $$values ('pi_alice')$$,
  'Alice sees only her own transactions.');
select throws_ok('select * from payments.customers', '42501', null, 'Users cannot read the customer mirror.');
select throws_ok('select * from payments.provider_connections', '42501', null, 'Users cannot read provider connections.');
select throws_ok($$select payments_private.get_provider_secret('test', 'secret_key')$$, '42501', null,
  'Users cannot read the Stripe secret key.');
select throws_ok($$select payments.stripe_secret('test', 'secret_key')$$, '42501', null,
  'Users cannot read the Stripe secret key through the edge function''s door either.');
reset role;

-- as bob
select tests.authenticate_as('22222222-2222-2222-2222-222222222222');
select results_eq('select subject_id from payments.stripe_checkout_sessions',
  $$values ('22222222-2222-2222-2222-222222222222')$$, 'Bob sees only his own checkout sessions, not Alice''s.');
reset role;

-- as the service role
select tests.authenticate_as_service_role();
select is((select count(*)::int from payments.webhook_events), 1, 'The service role reads webhook events.');
select throws_ok('select * from payments_private.provider_secrets', '42501', null,
  'Even the service role cannot read the secret table.');
select throws_ok($$select payments.stripe_secret('test', 'secret_key')$$, '42501', null,
  'Nor the secret key, which the Data API would otherwise hand to any service-role caller.');
reset role;

-- as the connection owner (the edge function's server side)
select is(payments_private.get_provider_secret('test', 'secret_key'), 'sk_test_secret',
  'The server side reads back the stored secret.');
select is(payments.stripe_secret('test', 'secret_key'), 'sk_test_secret',
  'The edge function reads it through payments.stripe_secret.');
select throws_ok($$select payments.stripe_secret('test', 'password')$$, 'PT400', 'name must be secret_key or webhook_secret.',
  'Only the two Stripe secrets can be read.');
select throws_ok($$select payments.stripe_secret('prod', 'secret_key')$$, 'PT400', null, 'An unknown environment is refused.');

select * from finish();
rollback;
