-- Session guards: a forged row is never adopted, portal rows carry the mapped customer only,
-- redirect origins follow the deployment's allow-list, and each caller has a cap a minute.
begin;
select plan(15);

\set alice '11111111-1111-1111-1111-111111111111'
\set harmless '{"idempotencyKey":"order-7","mode":"payment","lineItems":[{"priceId":"price_cheap","quantity":1}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}'

insert into payments.customer_mappings (environment, subject_type, subject_id, provider_customer_id) values
  ('test', 'user', '11111111-1111-1111-1111-111111111111', 'cus_alice'),
  ('test', 'user', '22222222-2222-2222-2222-222222222222', 'cus_bob');

-- as alice, forging a row for the key she is about to use with a harmless body
select tests.authenticate_as(:'alice');
-- The hash of the harmless request, which the forged row claims for its own content.
select payments.checkout_request_hash(r) as harmless_hash
from jsonb_populate_record(null::payments.stripe_checkout_sessions,
  '{"mode":"payment","subject_type":"user","subject_id":"11111111-1111-1111-1111-111111111111","line_items":[{"priceId":"price_cheap","quantity":1}],"success_url":"https://app.test/ok","cancel_url":"https://app.test/no","metadata":{}}') r \gset
select lives_ok(format('select tests.insert_checkout_row(%L)', jsonb_build_object(
    'line_items', '[{"priceId":"price_expensive","quantity":9}]'::jsonb, 'success_url', 'https://evil.test/ok',
    'metadata', '{"order_id":"o-big"}'::jsonb, 'idempotency_key', 'order-7', 'request_hash', :'harmless_hash')),
  'A user may still write a checkout row straight into the table.');
select isnt((select request_hash from payments.stripe_checkout_sessions where idempotency_key = 'order-7'), :'harmless_hash',
  'A forged row''s request_hash is recomputed from its own content, not taken from the insert.');
select throws_ok($$select payments.create_checkout_session('test', '{"idempotencyKey":"order-7","mode":"payment","lineItems":[{"priceId":"price_cheap","quantity":1}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')$$,
  'PT409', null, 'A harmless request reusing a forged row''s key is refused, never handed the forged row.');
select throws_ok($$select tests.insert_checkout_row('{"line_items": [{"priceId": "price_cheap", "quantity": 0}], "success_url": "javascript:alert(1)"}')$$,
  'PT400', null, 'A checkout row written straight into the table obeys the request rules.');
select throws_ok($$select tests.insert_checkout_row('{"line_items": [{"priceId": "price_cheap", "quantity": 1}], "metadata": {"payments_subject_id": "22222222-2222-2222-2222-222222222222"}}')$$,
  'PT400', null, 'A checkout row written straight into the table cannot carry the reserved metadata keys.');

-- portal rows
select throws_ok($$
  insert into payments.stripe_customer_portal_sessions (environment, created_by, subject_type, subject_id, customer_id)
  values ('test', '11111111-1111-1111-1111-111111111111', 'user', '11111111-1111-1111-1111-111111111111', 'cus_bob')
$$, '42501', null, 'A user cannot choose the customer of a portal row.');
select is((payments.create_customer_portal_session('test', '{}')).customer_id, 'cus_alice',
  'The portal function still fills the customer from the caller''s mapping.');

-- redirect origins, as the edge function passes the deployment's list
select set_config('payments.redirect_origins', 'https://app.test, https://www.app.test/', true);
select lives_ok($$select payments.validate_session_request('checkout', 'test', '{"mode":"payment","lineItems":[{"priceId":"price_cheap"}],"successUrl":"https://APP.test/ok?x=1","cancelUrl":"https://www.app.test/no"}')$$,
  'URLs on an allowed origin pass, whatever their path and case.');
select throws_like($$select payments.validate_session_request('checkout', 'test', '{"mode":"payment","lineItems":[{"priceId":"price_cheap"}],"successUrl":"https://evil.test/ok","cancelUrl":"https://app.test.evil.test/no"}')$$,
  '2 fields are invalid; first successUrl must be on an allowed origin (https://app.test, https://www.app.test).',
  'successUrl and cancelUrl on other origins are refused by name.');
select throws_ok($$select payments.create_customer_portal_session('test', '{"returnUrl":"http://app.test/billing"}')$$,
  'PT400', 'returnUrl must be on an allowed origin (https://app.test, https://www.app.test).',
  'returnUrl on another origin (even another scheme) is refused.');
select set_config('payments.redirect_origins', '', true);
select lives_ok($$select payments.validate_session_request('portal', 'test', '{"returnUrl":"https://anywhere.test/"}')$$,
  'Without an allow-list any http(s) return URL is accepted.');

-- the cap a minute
select set_config('payments.sessions_per_minute', '3', true);
select lives_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"price_cheap"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')$$,
  'A caller under the cap creates a session.');
select throws_like($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"price_cheap"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')$$,
  'At most 3 checkout and portal sessions a minute may be created per user.',
  'A caller over the cap (portal and checkout rows count together) is refused.');
select set_config('payments.sessions_per_minute', '4', true);
select lives_ok($$select payments.create_checkout_session('test', '{"idempotencyKey":"order-8","mode":"payment","lineItems":[{"priceId":"price_cheap"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')$$,
  'The last session under the cap is created.');
select lives_ok($$select payments.create_checkout_session('test', '{"idempotencyKey":"order-8","mode":"payment","lineItems":[{"priceId":"price_cheap"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')$$,
  'Replaying an idempotency key does not count against the cap.');

select * from finish();
rollback;
