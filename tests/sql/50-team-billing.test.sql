-- The team billing example (sql/examples/team_billing.sql): a user matrix of team owner, team
-- member, outsider, anon and service role over checkout, portal, mappings and billing state.
begin;
select plan(26);

\ir ../../sql/examples/team_billing.sql

-- carol owns team T, dave is a member, alice is an outsider
insert into public.teams (id, name) values ('7ea70000-0000-0000-0000-000000000001', 'Team T');
insert into public.team_members (team_id, user_id, role) values
  ('7ea70000-0000-0000-0000-000000000001', '33333333-3333-3333-3333-333333333333', 'owner'),
  ('7ea70000-0000-0000-0000-000000000001', '44444444-4444-4444-4444-444444444444', 'member');
insert into payments.stripe_subscriptions (environment, subscription_id, customer_id, subject_type, subject_id, status, stripe_updated_at) values
  ('live', 'sub_team', 'cus_team', 'team', '7ea70000-0000-0000-0000-000000000001', 'active', now());
insert into payments.stripe_subscription_items (environment, subscription_item_id, subscription_id, price_id, product_id, stripe_updated_at) values
  ('live', 'si_team', 'sub_team', 'price_team', 'prod_team', now());
insert into payments.transactions (environment, type, status, provider_object_id, subject_type, subject_id, amount, stripe_updated_at) values
  ('test', 'subscription_invoice', 'succeeded', 'in_team', 'team', '7ea70000-0000-0000-0000-000000000001', 5000, now());

\set team_checkout '{"mode":"subscription","subject":{"type":"team","id":"7ea70000-0000-0000-0000-000000000001"},"lineItems":[{"priceId":"price_team"}],"successUrl":"https://app.test/ok","cancelUrl":"https://app.test/no","idempotencyKey":"team:pro"}'
\set team_portal '{"subject":{"type":"team","id":"7ea70000-0000-0000-0000-000000000001"},"returnUrl":"https://app.test/billing"}'

-- as carol (team owner)
select tests.authenticate_as('33333333-3333-3333-3333-333333333333');
select (payments.create_checkout_session('test', :'team_checkout')).id as team_checkout_id \gset
select results_eq(format('select subject_type::text, subject_id from payments.stripe_checkout_sessions where id = %L', :'team_checkout_id'),
  $$values ('team', '7ea70000-0000-0000-0000-000000000001')$$, 'The owner creates a subscription checkout for the team.');
select is((payments.create_checkout_session('test', :'team_checkout')).id, :'team_checkout_id'::uuid,
  'The owner''s retry with the same key returns the same row (the SELECT policy covers it).');
select lives_ok($$select payments.create_checkout_session('test', '{"mode":"payment","lineItems":[{"priceId":"p"}],"successUrl":"https://a.b/","cancelUrl":"https://a.b/"}')$$,
  'The owner can still pay for herself.');
select throws_ok(format('select payments.create_customer_portal_session(%L, %L)', 'test', :'team_portal'), 'PT404', null,
  'The owner gets 404 while the team has no customer.');
reset role;

-- as dave (team member)
select tests.authenticate_as('44444444-4444-4444-4444-444444444444');
select throws_ok(format('select payments.create_checkout_session(%L, %L)', 'test', :'team_checkout'), '42501', null,
  'A member who is not the owner cannot bill the team.');
select results_eq('select subscription_id from payments.stripe_subscriptions', $$values ('sub_team')$$, 'A member reads the team''s subscription.');
select results_eq('select subscription_item_id from payments.stripe_subscription_items', $$values ('si_team')$$, 'A member reads its items.');
select results_eq('select provider_object_id from payments.transactions', $$values ('in_team')$$, 'A member reads the team''s transactions.');
select is_empty('select 1 from payments.stripe_checkout_sessions', 'A member does not see the owner''s checkout sessions.');
select ok(payments.has_active_subscription('team', '7ea70000-0000-0000-0000-000000000001'), 'The team entitlement is visible to a member.');
select results_eq('select name from public.teams', $$values ('Team T')$$, 'A member reads the team.');
select is((select count(*)::int from public.team_members), 2, 'A member reads the team''s members.');
reset role;

-- as the service role: the team's customer is mapped
set local role service_role;
select is(payments.link_customer('test', 'team', '7ea70000-0000-0000-0000-000000000001', 'cus_team'), 'cus_team',
  'The service role maps the team to its customer.');
reset role;

-- as carol again
select tests.authenticate_as('33333333-3333-3333-3333-333333333333');
select is((payments.create_customer_portal_session('test', :'team_portal')).customer_id, 'cus_team',
  'The owner opens the team''s billing portal.');
select results_eq('select provider_customer_id from payments.customer_mappings', $$values ('cus_team')$$,
  'The owner reads the team''s customer mapping.');
reset role;

-- as dave again
select tests.authenticate_as('44444444-4444-4444-4444-444444444444');
select throws_ok(format('select payments.create_customer_portal_session(%L, %L)', 'test', :'team_portal'), '42501', null,
  'A member cannot open the team''s billing portal (42501, not 404).');
select is_empty('select 1 from payments.customer_mappings', 'A member does not see the team''s customer.');
reset role;

-- as alice (outsider)
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select throws_ok(format('select payments.create_checkout_session(%L, %L)', 'test', :'team_checkout'), '42501', null,
  'An outsider cannot bill the team.');
select throws_ok(format('select payments.create_customer_portal_session(%L, %L)', 'test', :'team_portal'), '42501', null,
  'An outsider cannot open the team''s billing portal.');
select is_empty('select 1 from payments.stripe_subscriptions', 'An outsider does not see the team''s subscription.');
select is_empty('select 1 from payments.transactions', 'An outsider does not see the team''s transactions.');
select is_empty('select 1 from public.teams', 'An outsider does not see the team.');
select ok(not payments.has_active_subscription('team', '7ea70000-0000-0000-0000-000000000001'),
  'An outsider learns nothing about the team''s entitlement.');
reset role;

-- as anon
set local role anon;
select throws_ok('select * from public.teams', '42501', null, 'Anon cannot read teams.');
reset role;
select ok(not has_function_privilege('anon', 'public.team_role(text)', 'execute'),
  'Anon cannot call the team membership helper.');

-- as the service role
set local role service_role;
select is((select count(*)::int from payments.stripe_checkout_sessions), 2, 'The service role sees every checkout row.');
reset role;

select * from finish();
rollback;
