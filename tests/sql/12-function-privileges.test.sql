-- Who may execute which payments function, and how each is defined: the API roles get exactly
-- the documented entry points; everything else lives in payments_private, which no API role
-- may even use.
begin;
select plan(15);

create temporary table expected (fn text, role text);
insert into expected values
  ('is_environment(text)', 'authenticated'),
  ('is_environment(text)', 'service_role'),
  ('is_subject_type(text)', 'authenticated'),
  ('is_subject_type(text)', 'service_role'),
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
  ('validate_catalog_request(text,boolean,jsonb)', 'service_role'),
  ('switch_stripe_account(text,text,text,text,text)', 'service_role'),
  ('disconnect_stripe_account(text)', 'service_role'),
  ('record_webhook_endpoint(text,text,text,text)', 'service_role'),
  ('record_sync_status(text,text,text,jsonb)', 'service_role'),
  ('stripe_connection_status()', 'service_role'),
  -- resumable sync (20261201001600_sync.sql)
  ('start_stripe_sync(text,boolean)', 'service_role'),
  ('sync_stripe_page(text,text,jsonb)', 'service_role'),
  ('complete_stripe_sync_type(text,text)', 'service_role'),
  ('finish_stripe_sync(text)', 'service_role'),
  -- the request rules, for the user-side functions (security invoker) and for apps
  ('validate_session_request(text,text,jsonb)', 'authenticated'),
  ('validate_session_request(text,text,jsonb)', 'service_role'),
  -- the request hash of a checkout row and the session cap (20261201000800_checkout_sessions.sql,
  -- 20261201001000_session_attempts.sql)
  ('checkout_request(stripe_checkout_sessions)', 'authenticated'),
  ('checkout_request(stripe_checkout_sessions)', 'service_role'),
  ('checkout_request_hash(stripe_checkout_sessions)', 'authenticated'),
  ('checkout_request_hash(stripe_checkout_sessions)', 'service_role'),
  ('check_session_rate()', 'authenticated'),
  ('check_session_rate()', 'service_role'),
  -- safe fulfilment (20261201001500_entitlements_and_settled_payments.sql)
  ('settled_payment(webhook_events)', 'service_role'),
  -- admin lists (20261201001800_admin_lists.sql, 20261201001900_admin_catalog_lists.sql)
  ('list_webhook_events(text,integer,text,text,text,text,timestamp with time zone)', 'service_role'),
  ('get_webhook_event(text,text)', 'service_role'),
  ('list_transactions(text,integer,text,text,text,text,text,text,timestamp with time zone)', 'service_role'),
  ('list_subscriptions(text,integer,text,text)', 'service_role'),
  ('list_customers(text,integer,text)', 'service_role'),
  ('list_products(text,integer,text,boolean)', 'service_role'),
  ('admin_overview(text,timestamp with time zone)', 'service_role'),
  -- reconciliation, delivery health and retention (issue 14)
  ('unseen_stripe_event_ids(text,text[])', 'service_role'),
  ('webhook_delivery_times(text)', 'service_role'),
  ('prune_webhook_events(interval,text[],text,integer)', 'service_role'),
  -- the object of a mirror row, wherever it is kept (20261201001300_payload_storage.sql)
  ('event_object(text,text)', 'authenticated'),
  ('event_object(text,text)', 'service_role'),
  ('stripe_object(customers)', 'service_role'),
  ('stripe_object(stripe_subscriptions)', 'authenticated'),
  ('stripe_object(stripe_subscriptions)', 'service_role'),
  ('stripe_object(stripe_subscription_items)', 'authenticated'),
  ('stripe_object(stripe_subscription_items)', 'service_role'),
  ('stripe_object(transactions)', 'authenticated'),
  ('stripe_object(transactions)', 'service_role');

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
  where n.nspname in ('payments', 'payments_private') and not coalesce(p.proconfig @> array['search_path=""'], false)
    and p.oid not in ('payments.is_environment(text)'::regprocedure, 'payments.is_subject_type(text)'::regprocedure,
                      'payments_private.stripe_id(jsonb)'::regprocedure, 'payments_private.stripe_time(jsonb)'::regprocedure,
                      'payments_private.metadata_subject_type(jsonb)'::regprocedure,
                      'payments_private.payment_status(bigint,bigint)'::regprocedure,
                      'payments_private.field_error(text,text)'::regprocedure,
                      'payments_private.stripe_event_routes()'::regprocedure)
$$, 'Every function pins an empty search_path, except the inlined one-expression helpers.');
select is_empty($$
  select p.proname from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  where ((n.nspname = 'payments_private' and p.proname in ('stripe_id', 'stripe_time', 'metadata_subject_type', 'payment_status', 'field_error', 'stripe_event_routes'))
         or (n.nspname = 'payments' and p.proname in ('is_environment', 'is_subject_type')))
    and (p.prolang <> (select oid from pg_catalog.pg_language where lanname = 'sql') or p.provolatile <> 'i' or p.prosecdef)
$$, 'The helpers without a search_path are immutable SQL functions running as the caller.');
select set_eq($$
  select p.proname::text from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'payments' and p.prosecdef
$$, array['ingest_stripe_event', 'replay_webhook_event', 'stripe_webhook_event_types', 'upsert_stripe_objects',
          'switch_stripe_account',
          'disconnect_stripe_account', 'record_webhook_endpoint', 'record_sync_status', 'stripe_connection_status',
          'restart_checkout_session', 'record_checkout_session_result', 'record_checkout_session_failure',
          'record_customer_portal_session_result', 'record_customer_portal_session_failure', 'link_customer',
          'validate_session_request', 'validate_catalog_request', 'list_webhook_events', 'get_webhook_event', 'list_transactions',
          'list_subscriptions', 'list_customers', 'list_products', 'admin_overview', 'prune_webhook_events',
          'start_stripe_sync', 'sync_stripe_page', 'complete_stripe_sync_type', 'finish_stripe_sync',
          'check_session_rate'],
  'Only the doors into payments_private are security definer: service-role entry points, the request validator and the session cap.');
select is_empty($$
  select p.oid::regprocedure::text from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'payments' and obj_description(p.oid, 'pg_proc') is null
$$, 'Every payments function has a comment.');
select volatility_is('payments', 'stripe_webhook_event_types', array[]::text[], 'immutable',
  'stripe_webhook_event_types is immutable.');
select volatility_is('payments', 'has_active_subscription', array['text', 'text', 'text', 'text', 'text', 'text'], 'stable',
  'has_active_subscription is stable.');
select isnt_definer('payments', 'has_active_subscription', array['text', 'text', 'text', 'text', 'text', 'text'], 'has_active_subscription is security invoker, so the caller''s RLS applies.');

-- The private schema: no API role may use it, execute its functions or touch its tables. That
-- covers every private helper, the shared ones included: billed_subject (the subject a projected
-- object bills), running_sync_started_at (the running sync, or PT404) and webhook_event_summary
-- (an event as the admin lists show it).
select schema_privs_are('payments_private', r, array[]::text[], format('%s cannot use the payments_private schema.', r))
from unnest(array['anon', 'authenticated', 'service_role']) as r;
select is_empty($$
  select p.oid::regprocedure::text || ' ' || r.role from pg_catalog.pg_proc p
  join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  cross join (values ('anon'), ('authenticated'), ('service_role'), ('public')) as r(role)
  where n.nspname = 'payments_private' and has_function_privilege(r.role, p.oid, 'EXECUTE')
$$, 'No API role (nor PUBLIC) can execute a payments_private function.');
select is_empty($$
  select c.relname || ' ' || r.role from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  cross join (values ('anon'), ('authenticated'), ('service_role')) as r(role)
  where n.nspname = 'payments_private' and c.relkind in ('r', 'v', 'p')
    and has_table_privilege(r.role, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
$$, 'No API role has any privilege on a payments_private table.');

select * from finish();
rollback;
