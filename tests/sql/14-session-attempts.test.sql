-- The per-user cap counts Stripe session attempts: retrying one failing idempotency key restarts
-- a Stripe attempt each time and counts; a replay that hands back the open session does not.
begin;
select plan(10);

\set alice '11111111-1111-1111-1111-111111111111'
\set request '{"idempotencyKey":"retry-me","mode":"payment","lineItems":[{"priceId":"price_unknown"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}'

select set_config('payments.sessions_per_minute', '3', true);

-- as alice, the first attempt of a request Stripe will refuse
select tests.authenticate_as(:'alice');
create temporary table checkout on commit drop as
  select id from payments.create_checkout_session('test', :'request');
grant select on checkout to service_role;

-- as the edge function (service role): Stripe refused, the caller retries the same key
select tests.authenticate_as_service_role();
select payments.record_checkout_session_failure((select id from checkout), 'No such price: price_unknown');
select is((payments.restart_checkout_session((select id from checkout))).attempt, 2,
  'Retrying a failed checkout restarts it as a second attempt under the cap.');
select payments.record_checkout_session_failure((select id from checkout), 'No such price: price_unknown');
select is((payments.restart_checkout_session((select id from checkout))).attempt, 3,
  'The third attempt is the last under a cap of 3.');
select payments.record_checkout_session_failure((select id from checkout), 'No such price: price_unknown');
select throws_ok($$select payments.restart_checkout_session((select id from checkout))$$,
  'PT429', 'At most 3 checkout and portal sessions a minute may be created per user.',
  'Restarting a failed checkout over the cap is refused: each restart is a new Stripe session attempt.');
select results_eq($$select status, attempt from payments.stripe_checkout_sessions where id = (select id from checkout)$$,
  $$values ('failed'::text, 3)$$,
  'A refused restart leaves the row as it was: no new attempt, no new Stripe session.');

-- an open session handed back again is a replay, not an attempt
select payments.record_checkout_session_result((select id from checkout),
  jsonb_build_object('id', 'cs_test_open', 'url', 'https://checkout.test/cs_test_open', 'status', 'open',
                     'expires_at', extract(epoch from now() + interval '1 day')::bigint));
select is((payments.restart_checkout_session((select id from checkout))).status, 'open',
  'At the cap, the open session of the row is still handed back.');
select tests.authenticate_as(:'alice');
select is((payments.create_checkout_session('test', :'request')).checkout_session_id, 'cs_test_open',
  'At the cap, replaying the idempotency key of an open session still answers.');
select throws_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"price_other"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')$$,
  'PT429', null, 'Restarts and new rows count together: a new checkout at the cap is refused.');
select throws_ok($$select tests.insert_checkout_row('{"line_items": [{"priceId": "price_other", "quantity": 1}], "request_hash": ""}')$$,
  'PT429', null, 'A row written straight into the table is an attempt too, refused at the cap.');

-- other users and a deployment without a cap
select tests.authenticate_as('22222222-2222-2222-2222-222222222222');
select lives_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"price_other"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')$$,
  'The cap is per user: another user is not affected.');
select tests.authenticate_as(:'alice');
select set_config('payments.sessions_per_minute', '0', true);
select lives_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"price_other"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no"}')$$,
  'A cap of 0 turns it off.');

select * from finish();
rollback;
