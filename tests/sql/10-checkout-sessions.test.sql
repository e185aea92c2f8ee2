-- Checkout rows: validation, idempotency per caller, RLS on the subject, and the service-side
-- functions that record Stripe's answer and restart lapsed sessions.
begin;
select plan(49);

\set alice '11111111-1111-1111-1111-111111111111'
\set bob '22222222-2222-2222-2222-222222222222'
\set payment '{"mode":"payment","lineItems":[{"priceId":"price_a","quantity":2},{"priceId":"price_b"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}'
\set keyed '{"idempotencyKey":"order-1","mode":"payment","lineItems":[{"priceId":"price_a","quantity":1}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no","metadata":{"order_id":"o1"}}'
\set keyed_reordered '{"metadata":{"order_id":"o1"},"cancelUrl":"https://app.test/no","successUrl":"https://app.test/ok","lineItems":[{"quantity":1,"priceId":"price_a"}],"mode":"payment","idempotencyKey":"order-1"}'
\set keyed_other '{"idempotencyKey":"order-1","mode":"payment","lineItems":[{"priceId":"price_a","quantity":3}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no","metadata":{"order_id":"o1"}}'

create temporary table ids (name text primary key, id uuid);
grant select, insert on ids to authenticated, service_role;

-- as alice
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');

insert into ids select 'plain', (payments.create_checkout_session('test', :'payment')).id;
select results_eq(
  $$select created_by::text, subject_type::text, subject_id, mode, status, attempt, environment::text
    from payments.stripe_checkout_sessions where id = (select id from ids where name = 'plain')$$,
  $$values ('11111111-1111-1111-1111-111111111111', 'user', '11111111-1111-1111-1111-111111111111', 'payment', 'initialized', 1, 'test')$$,
  'A payment checkout without a subject bills the calling user and starts initialized.');
select is((select line_items from payments.stripe_checkout_sessions where id = (select id from ids where name = 'plain')),
  '[{"priceId":"price_a","quantity":2},{"priceId":"price_b","quantity":1}]'::jsonb,
  'Line items are stored normalised, with quantity 1 by default.');
select matches((select request_hash from payments.stripe_checkout_sessions where id = (select id from ids where name = 'plain')),
  '^[0-9a-f]{64}$', 'The request hash is a SHA-256 hex digest.');
select isnt((payments.create_checkout_session('test', :'payment')).id, (select id from ids where name = 'plain'),
  'Without an idempotency key every call creates a new row.');

insert into ids select 'keyed', (payments.create_checkout_session('test', :'keyed')).id;
select is((payments.create_checkout_session('test', :'keyed_reordered')).id, (select id from ids where name = 'keyed'),
  'The same key with the same request, written differently, returns the same row.');
select throws_ok($$select payments.create_checkout_session('test', '{"idempotencyKey":"order-1","mode":"payment","lineItems":[{"priceId":"price_a","quantity":3}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no","metadata":{"order_id":"o1"}}')$$,
  'PT409', null, 'The same key with a different request is an idempotency conflict.');
select is((payments.create_checkout_session('live', :'keyed')).environment::text, 'live',
  'Idempotency keys are scoped per environment.');
select is((select count(*)::int from payments.stripe_checkout_sessions where idempotency_key = 'order-1'), 2,
  'One row per key and environment.');

-- validation
select throws_ok($$select payments.create_checkout_session('prod', '{}')$$, 'PT400', 'environment must be test or live.',
  'An unknown environment is refused, naming the field.');
select throws_ok($$select payments.create_checkout_session('test', '[]')$$, 'PT400', null, 'A request must be an object.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"setup","lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  'PT400', 'mode must be payment or subscription.', 'Only payment and subscription modes are accepted.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"subscription","lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  'PT400', 'subject is required for subscription mode.', 'A subscription checkout needs a subject.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  'PT400', 'lineItems must be an array of 1 to 100 items.', 'At least one line item is required.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"p","quantity":0}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  'PT400', 'lineItems[0].quantity must be an integer from 1 to 999.', 'A quantity of 0 is refused.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"p","quantity":1.5}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  'PT400', 'lineItems[0].quantity must be an integer from 1 to 999.', 'A fractional quantity is refused.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"p","quantity":"2"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  'PT400', 'lineItems[0].quantity must be an integer from 1 to 999.', 'A quantity given as a string is refused.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"quantity":1}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  'PT400', 'lineItems[0].priceId must be a Stripe price id.', 'A line item needs a price id.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"p"}],"successUrl":"javascript:alert(1)","cancelUrl":"https://a.b/"}')$$,
  'PT400', 'successUrl must be an http(s) URL of at most 2048 characters.', 'The success URL must be http(s).');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/"}')$$,
  'PT400', 'cancelUrl is required.', 'The cancel URL is required.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/","customerEmail":"nobody"}')$$,
  'PT400', 'customerEmail must be an email address.', 'The customer email must look like an email address.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/","metadata":{"n":1}}')$$,
  'PT400', null, 'Metadata values must be strings.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/","metadata":{"payments_subject_id":"x"}}')$$,
  'PT400', 'metadata.payments_subject_id uses the reserved prefix payments_.', 'Apps cannot forge the subject metadata keys.');
select throws_ok(format($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/","idempotencyKey":"%s"}')$$, repeat('k', 201)),
  'PT400', 'idempotencyKey must be a string of 1 to 200 characters.', 'Idempotency keys are at most 200 characters.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","subject":{"type":"Team","id":"x"},"lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  'PT400', null, 'Subject types are lowercase snake_case.');

-- RLS decides the subject
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","subject":{"type":"user","id":"22222222-2222-2222-2222-222222222222"},"lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  '42501', null, 'Alice cannot bill Bob.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"subscription","subject":{"type":"team","id":"team-1"},"lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  '42501', null, 'Without app policies Alice cannot bill a team.');
select throws_ok($$select payments.restart_checkout_session(gen_random_uuid())$$, '42501', null,
  'Users cannot restart checkout sessions.');
select throws_ok($$select payments.record_checkout_session_result(gen_random_uuid(), '{"id":"cs_x"}')$$, '42501', null,
  'Users cannot record Stripe results.');
select throws_ok($$select payments.record_checkout_session_failure(gen_random_uuid(), 'x')$$, '42501', null,
  'Users cannot record Stripe failures.');
reset role;

-- Every problem of a request is reported at once, field by field, in DETAIL.
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"subscription","lineItems":[{"priceId":"price_1","quantity":0}],"successUrl":"javascript:alert(1)","metadata":{"payments_subject_id":"x"}}')$$,
  'PT400', '5 fields are invalid; first subject is required for subscription mode.', 'All invalid fields are counted in the message.');
create temporary table invalid_fields (fields jsonb);
grant insert on invalid_fields to authenticated;
do $$
begin
  perform payments.validate_session_request('checkout', 'test', '{"mode":"subscription","lineItems":[{"priceId":"price_1","quantity":0}],"successUrl":"javascript:alert(1)","metadata":{"payments_subject_id":"x"}}');
exception when sqlstate 'PT400' then
  declare v_detail text;
  begin
    get stacked diagnostics v_detail = pg_exception_detail;
    insert into invalid_fields values (v_detail::jsonb);
  end;
end;
$$;
select is((select array_agg(f ->> 'field' order by f ->> 'field') from invalid_fields, jsonb_array_elements(fields) f),
  array['cancelUrl', 'lineItems[0].quantity', 'metadata.payments_subject_id', 'subject', 'successUrl'],
  'DETAIL lists each invalid field once.');
select lives_ok($$select payments.validate_session_request('portal', 'test', '{"returnUrl":"https://app.test/"}')$$,
  'A valid request passes the validator.');

-- as bob
select tests.authenticate_as('22222222-2222-2222-2222-222222222222');
select isnt((payments.create_checkout_session('test', :'keyed_other')).id, (select id from ids where name = 'keyed'),
  'Idempotency keys are per caller: Bob''s order-1 is not Alice''s.');
reset role;

-- as a caller without a user
set local role authenticated;
select set_config('request.jwt.claims', '{"role":"authenticated"}', true);
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  '42501', null, 'A caller without a user id cannot create checkout sessions.');
reset role;

-- as anon
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);
select throws_ok($$select payments.create_checkout_session('test', '{}')$$, '42501', null,
  'Anon cannot execute create_checkout_session.');
reset role;

-- as the service role (the edge function after calling Stripe)
select tests.authenticate_as_service_role();
select results_eq(
  format($$select status, checkout_session_id, url, customer_id, expires_at > now()
    from payments.record_checkout_session_result(%L, '{"id":"cs_1","url":"https://checkout.stripe.test/cs_1","expires_at":4102444800,"customer":"cus_1","status":"open"}')$$,
    (select id from ids where name = 'keyed')),
  $$values ('open', 'cs_1', 'https://checkout.stripe.test/cs_1', 'cus_1', true)$$,
  'Recording the Stripe session opens the row with its id, url, customer and expiry.');
select is((payments.restart_checkout_session((select id from ids where name = 'keyed'))).attempt, 1,
  'An open, unexpired session is not restarted.');
reset role;

-- as alice, retrying
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select results_eq($$select status, url from payments.create_checkout_session('test', '{"idempotencyKey":"order-1","mode":"payment","lineItems":[{"priceId":"price_a","quantity":1}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no","metadata":{"order_id":"o1"}}')$$,
  $$values ('open', 'https://checkout.stripe.test/cs_1')$$,
  'A retry with the same key returns the open session as it is.');
reset role;

select tests.authenticate_as_service_role();
select payments.record_checkout_session_result((select id from ids where name = 'keyed'),
  '{"id":"cs_1","url":"https://checkout.stripe.test/cs_1","expires_at":946684800}');
select results_eq(format($$select status, attempt, checkout_session_id, url, expires_at from payments.restart_checkout_session(%L)$$, (select id from ids where name = 'keyed')),
  $$values ('initialized', 2, null::text, null::text, null::timestamptz)$$,
  'An open session past its expiry restarts as the next attempt with the Stripe fields cleared.');
select is((payments.restart_checkout_session((select id from ids where name = 'keyed'))).attempt, 2,
  'Restarting twice bumps the attempt once.');
select results_eq(format($$select status, last_error from payments.record_checkout_session_failure(%L, 'card_declined')$$, (select id from ids where name = 'keyed')),
  $$values ('failed', 'card_declined')$$, 'A Stripe failure marks the row failed with the error.');
select results_eq(format($$select status, attempt, last_error from payments.restart_checkout_session(%L)$$, (select id from ids where name = 'keyed')),
  $$values ('initialized', 3, null::text)$$, 'A failed row restarts as the next attempt.');
select throws_ok($$select payments.restart_checkout_session('00000000-0000-0000-0000-000000000000')$$, 'PT404',
  'Checkout session 00000000-0000-0000-0000-000000000000 not found.',
  'Restarting an unknown row is not found.');
select throws_ok($$select payments.record_checkout_session_result('00000000-0000-0000-0000-000000000000', '{"id":"cs_x"}')$$, 'PT404',
  'Checkout session 00000000-0000-0000-0000-000000000000 not found.',
  'Recording a result for an unknown row is not found.');
select throws_ok($$select payments.record_checkout_session_failure('00000000-0000-0000-0000-000000000000', 'x')$$, 'PT404',
  'Checkout session 00000000-0000-0000-0000-000000000000 not found.',
  'Recording a failure for an unknown row is not found.');
select throws_ok(format($$select payments.record_checkout_session_result(%L, '{"url":"https://checkout.stripe.test/cs_x"}')$$, (select id from ids where name = 'keyed')),
  'PT400', 'session.id must be the id of a Stripe Checkout Session.', 'A result without the Stripe session id is refused.');
reset role;

-- A webhook completed or expired the row before the result was recorded.
update payments.stripe_checkout_sessions set status = 'completed' where id = (select id from ids where name = 'plain');
set local role service_role;
select results_eq(format($$select status, checkout_session_id from payments.record_checkout_session_result(%L, '{"id":"cs_2","url":"https://checkout.stripe.test/cs_2","expires_at":4102444800}')$$, (select id from ids where name = 'plain')),
  $$values ('completed', 'cs_2')$$, 'A late result never regresses a completed row, but fills in its session id.');
select is((payments.record_checkout_session_failure((select id from ids where name = 'plain'), 'late')).status, 'completed',
  'A late failure never marks a completed row failed.');
select is((payments.restart_checkout_session((select id from ids where name = 'plain'))).status, 'completed',
  'A completed row is never restarted.');
reset role;

select * from finish();
rollback;
