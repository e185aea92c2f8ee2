-- The gated content example (sql/examples/gated_content.sql): premium articles readable only
-- with an active subscription of the reader or of one of their teams.
begin;
select plan(7);

\ir ../../sql/examples/team_billing.sql
\ir ../../sql/examples/gated_content.sql

insert into public.premium_articles (title, body, required_product_id) values
  ('Any plan', 'For every subscriber.', null),
  ('Pro only', 'For pro subscribers.', 'prod_pro');
insert into public.teams (id, name) values ('7ea70000-0000-0000-0000-000000000001', 'Team T');
insert into public.team_members (team_id, user_id, role) values
  ('7ea70000-0000-0000-0000-000000000001', '44444444-4444-4444-4444-444444444444', 'member');
insert into payments.stripe_subscriptions (environment, subscription_id, customer_id, subject_type, subject_id, status, stripe_updated_at) values
  ('live', 'sub_alice', 'cus_alice', 'user', '11111111-1111-1111-1111-111111111111', 'active', now()),
  ('live', 'sub_bob', 'cus_bob', 'user', '22222222-2222-2222-2222-222222222222', 'canceled', now()),
  ('live', 'sub_team', 'cus_team', 'team', '7ea70000-0000-0000-0000-000000000001', 'trialing', now());
insert into payments.stripe_subscription_items (environment, subscription_item_id, subscription_id, price_id, product_id, stripe_updated_at) values
  ('live', 'si_alice', 'sub_alice', 'price_basic', 'prod_basic', now()),
  ('live', 'si_team', 'sub_team', 'price_pro', 'prod_pro', now());

-- as alice (basic plan)
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select results_eq('select title from public.premium_articles', $$values ('Any plan')$$,
  'A subscriber reads the articles of any plan, not those of another product.');
reset role;

-- as bob (canceled)
select tests.authenticate_as('22222222-2222-2222-2222-222222222222');
select is_empty('select 1 from public.premium_articles', 'A canceled subscriber reads nothing.');
reset role;

-- as dave (member of a team on the pro plan, in trial)
select tests.authenticate_as('44444444-4444-4444-4444-444444444444');
select results_eq('select title from public.premium_articles order by title', $$values ('Any plan'), ('Pro only')$$,
  'A member of a subscribed team reads the articles of the team''s plan.');
reset role;

-- Alice upgrades: the pro item is added to her subscription.
insert into payments.stripe_subscription_items (environment, subscription_item_id, subscription_id, price_id, product_id, stripe_updated_at)
values ('live', 'si_alice_pro', 'sub_alice', 'price_pro', 'prod_pro', now());
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select is((select count(*)::int from public.premium_articles), 2, 'After upgrading, the subscriber reads the pro article too.');
reset role;

-- Alice's subscription is canceled by Stripe.
update payments.stripe_subscriptions set status = 'canceled' where subscription_id = 'sub_alice';
select tests.authenticate_as('11111111-1111-1111-1111-111111111111');
select is_empty('select 1 from public.premium_articles', 'Once canceled, the articles are gone.');
reset role;

-- as anon
set local role anon;
select is_empty('select 1 from public.premium_articles', 'Anon reads no premium article.');
reset role;

-- as the connection owner
select is((select count(*)::int from public.premium_articles), 2, 'The owner, bypassing RLS, sees every article.');

select * from finish();
rollback;
