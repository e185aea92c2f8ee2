-- Who may execute which payments function, and how each is defined: the API roles get exactly
-- the documented entry points; everything else (the projection) is private.
begin;
select plan(10);

create temporary table expected (fn text, role text);
insert into expected values
  ('create_checkout_session(text,jsonb)', 'authenticated'),
  ('create_checkout_session(text,jsonb)', 'service_role'),
  ('create_customer_portal_session(text,jsonb)', 'authenticated'),
  ('create_customer_portal_session(text,jsonb)', 'service_role'),
  ('has_active_subscription(text,text,text,text,text,text)', 'authenticated'),
  ('has_active_subscription(text,text,text,text,text,text)', 'service_role'),
  ('restart_checkout_session(uuid)', 'service_role'),
  ('record_checkout_session_result(uuid,jsonb)', 'service_role'),
  ('record_checkout_session_failure(uuid,text)', 'service_role'),
  ('record_customer_portal_session_result(uuid,jsonb)', 'service_role'),
  ('record_customer_portal_session_failure(uuid,text)', 'service_role'),
  ('customer_for_subject(text,text,text)', 'service_role'),
  ('link_customer(text,text,text,text)', 'service_role'),
  ('ingest_stripe_event(text,jsonb)', 'service_role'),
  ('replay_webhook_event(text,text)', 'service_role'),
  ('stripe_webhook_event_types()', 'service_role'),
  ('upsert_stripe_objects(text,text,jsonb,timestamp with time zone)', 'service_role'),
  ('archive_unsynced_stripe_objects(text,text,timestamp with time zone)', 'service_role'),
  ('archive_stripe_account_data(text)', 'service_role'),
  -- admin lists (20261130000100_admin_lists.sql)
  ('list_webhook_events(text,integer,text,text,text,text,timestamp with time zone)', 'service_role'),
  ('get_webhook_event(text,text)', 'service_role'),
  ('list_transactions(text,integer,text,text,text,text,text,text,timestamp with time zone)', 'service_role'),
  ('list_subscriptions(text,integer,text,text)', 'service_role'),
  ('list_customers(text,integer,text)', 'service_role'),
  ('list_products(text,integer,text,boolean)', 'service_role'),
  ('admin_overview(text,timestamp with time zone)', 'service_role'),
  ('encode_list_cursor(timestamp with time zone,uuid)', 'service_role'),
  ('decode_list_cursor(text)', 'service_role'),
  ('check_list_request(text,integer)', 'service_role'),
  -- validation helpers the user-side functions (security invoker) call as the caller
  ('invalid_request(text,text)', 'authenticated'),
  ('invalid_request(text,text)', 'service_role'),
  ('request_subject(jsonb,boolean)', 'authenticated'),
  ('request_subject(jsonb,boolean)', 'service_role'),
  ('require_url(jsonb,text,boolean)', 'authenticated'),
  ('require_url(jsonb,text,boolean)', 'service_role'),
  ('require_environment(text)', 'authenticated'),
  ('require_environment(text)', 'service_role'),
  ('stripe_id(jsonb)', 'service_role'),
  ('stripe_time(jsonb)', 'service_role');

create temporary view actual as
select replace(p.oid::regprocedure::text, 'payments.', '') as fn, r.role
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
cross join (values ('anon'), ('authenticated'), ('service_role')) as r(role)
where n.nspname = 'payments' and has_function_privilege(r.role, p.oid, 'EXECUTE');

select set_eq('select fn, role from actual', 'select fn, role from expected',
  'The API roles can execute exactly the documented payments functions.');
select is_empty($$select 1 from actual where role = 'anon'$$, 'Anon can execute no payments function.');
select is_empty($$
  select p.oid::regprocedure::text from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'payments' and has_function_privilege('public', p.oid, 'EXECUTE')
$$, 'PUBLIC can execute no payments function.');
select is_empty($$
  select p.oid::regprocedure::text from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'payments' and not coalesce(p.proconfig @> array['search_path=""'], false)
    and p.proname not in ('stripe_id', 'stripe_time', 'metadata_subject_type', 'payment_status')
$$, 'Every payments function pins an empty search_path, except the inlined one-expression helpers.');
select is_empty($$
  select p.proname from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'payments' and p.proname in ('stripe_id', 'stripe_time', 'metadata_subject_type', 'payment_status')
    and (p.prolang <> (select oid from pg_catalog.pg_language where lanname = 'sql') or p.provolatile <> 'i' or p.prosecdef)
$$, 'The helpers without a search_path are immutable SQL functions running as the caller.');
select set_eq($$
  select p.proname::text from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'payments' and p.prosecdef
$$, array['set_provider_secret', 'get_provider_secret', 'delete_provider_secret', 'ingest_stripe_event',
          'replay_webhook_event', 'upsert_stripe_objects', 'archive_unsynced_stripe_objects', 'archive_stripe_account_data'],
  'Only the secret functions and the service-role entry points into the projection are security definer.');
select is_empty($$
  select p.oid::regprocedure::text from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'payments' and obj_description(p.oid, 'pg_proc') is null
$$, 'Every payments function has a comment.');
select volatility_is('payments', 'stripe_webhook_event_types', array[]::text[], 'immutable',
  'stripe_webhook_event_types is immutable.');
select volatility_is('payments', 'has_active_subscription', array['text', 'text', 'text', 'text', 'text', 'text'], 'stable',
  'has_active_subscription is stable.');
select isnt_definer('payments', 'has_active_subscription', array['text', 'text', 'text', 'text', 'text', 'text'], 'has_active_subscription is security invoker, so the caller''s RLS applies.');

select * from finish();
rollback;
