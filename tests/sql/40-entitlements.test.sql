-- has_active_subscription: status, product, price and lookup_key filters, environment, archived
-- rows, and the caller's RLS (security invoker).
begin;
select plan(18);

insert into payments.stripe_prices (environment, price_id, product_id, active, currency, unit_amount, type, recurring_interval, lookup_key, stripe_updated_at) values
  ('live', 'price_pro', 'prod_pro', true, 'usd', 2000, 'recurring', 'month', 'pro_monthly', now()),
  ('live', 'price_old', 'prod_pro', false, 'usd', 1500, 'recurring', 'month', 'pro_legacy', now());
insert into payments.stripe_subscriptions (environment, subscription_id, customer_id, subject_type, subject_id, status, stripe_updated_at) values
  ('live', 'sub_alice', 'cus_alice', 'user', '11111111-1111-1111-1111-111111111111', 'active', now()),
  ('live', 'sub_alice_legacy', 'cus_alice', 'user', '11111111-1111-1111-1111-111111111111', 'trialing', now()),
  ('live', 'sub_bob', 'cus_bob', 'user', '22222222-2222-2222-2222-222222222222', 'past_due', now()),
  ('live', 'sub_bob_live', 'cus_bob_live', 'user', '22222222-2222-2222-2222-222222222222', 'canceled', now()),
  ('test', 'sub_dave_test', 'cus_dave', 'user', '44444444-4444-4444-4444-444444444444', 'active', now()),
  ('live', 'sub_carol', 'cus_carol', 'user', '33333333-3333-3333-3333-333333333333', 'active', now());
update payments.stripe_subscriptions set archived_at = now() where subscription_id = 'sub_carol';
insert into payments.stripe_subscription_items (environment, subscription_item_id, subscription_id, price_id, product_id, raw, stripe_updated_at) values
  ('live', 'si_alice', 'sub_alice', 'price_pro', 'prod_pro', '{}', now()),
  ('live', 'si_alice_legacy', 'sub_alice_legacy', 'price_old', 'prod_pro', '{"price":{"lookup_key":"pro_legacy"}}', now());

-- as the service role
set local role service_role;
select ok(payments.has_active_subscription('user', '11111111-1111-1111-1111-111111111111'), 'An active subscription counts.');
select ok(not payments.has_active_subscription('user', '22222222-2222-2222-2222-222222222222'), 'Past due and canceled subscriptions do not count.');
select ok(not payments.has_active_subscription('user', '33333333-3333-3333-3333-333333333333'), 'An archived subscription does not count.');
select ok(payments.has_active_subscription('user', '11111111-1111-1111-1111-111111111111', 'live'), 'The environment filter matches.');
select ok(not payments.has_active_subscription('user', '11111111-1111-1111-1111-111111111111', 'test'), 'The other environment does not count.');
select ok(not payments.has_active_subscription('user', '44444444-4444-4444-4444-444444444444'),
  'A test-mode subscription never counts unless test is asked for.');
select ok(payments.has_active_subscription('user', '44444444-4444-4444-4444-444444444444', 'test'),
  'Asked for test explicitly, a test-mode subscription counts.');
select ok(payments.has_active_subscription('user', '11111111-1111-1111-1111-111111111111', null, 'prod_pro'), 'The product filter matches an item.');
select ok(not payments.has_active_subscription('user', '11111111-1111-1111-1111-111111111111', null, 'prod_team'), 'Another product does not match.');
select ok(payments.has_active_subscription('user', '11111111-1111-1111-1111-111111111111', null, null, 'price_pro'), 'The price filter matches an item.');
select ok(payments.has_active_subscription('user', '11111111-1111-1111-1111-111111111111', p_lookup_key => 'pro_monthly'), 'The lookup_key filter matches through the price.');
select ok(not payments.has_active_subscription('user', '11111111-1111-1111-1111-111111111111', p_lookup_key => 'enterprise'), 'An unknown lookup_key does not match.');
reset role;

-- as alice
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select ok(payments.has_active_subscription('user', '11111111-1111-1111-1111-111111111111'), 'Alice sees her own entitlement.');
select ok(payments.has_active_subscription('user', '11111111-1111-1111-1111-111111111111', p_lookup_key => 'pro_legacy'),
  'A trialing subscription on a deactivated price still matches its lookup_key through the item.');
select ok(not payments.has_active_subscription('user', '33333333-3333-3333-3333-333333333333', 'live'),
  'Alice learns nothing about subscriptions she cannot read.');
reset role;

-- as carol, whose only subscription Alice could not see anyway; RLS hides it from Alice, not from her
update payments.stripe_subscriptions set archived_at = null where subscription_id = 'sub_carol';
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select ok(not payments.has_active_subscription('user', '33333333-3333-3333-3333-333333333333'),
  'RLS applies: Alice cannot see Carol''s active subscription.');
select set_config('request.jwt.claims', '{"sub":"33333333-3333-3333-3333-333333333333","role":"authenticated"}', true);
select ok(payments.has_active_subscription('user', '33333333-3333-3333-3333-333333333333'), 'Carol sees her own.');
reset role;

-- as anon
set local role anon;
select throws_ok($$select payments.has_active_subscription('user', 'x')$$, '42501', null, 'Anon cannot execute has_active_subscription.');
reset role;

select * from finish();
rollback;
