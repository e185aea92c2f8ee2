-- Structure of the payments schema: tables, columns, row level security, policies, privileges.
begin;
select plan(126);

select tables_are('payments', array[
  'provider_connections', 'stripe_products', 'stripe_prices',
  'customers', 'customer_mappings', 'stripe_checkout_sessions', 'stripe_customer_portal_sessions',
  'stripe_subscriptions', 'stripe_subscription_items', 'webhook_events', 'transactions'
], 'The payments schema holds exactly the documented tables.');
select tables_are('payments_private', array['schema_migrations', 'provider_secrets', 'invoice_payments', 'sync_runs', 'sync_checkpoints', 'session_attempts'],
  'The private schema holds the secret store, the invoice payment links, the sync checkpoints, the session attempts of the last minute and dbmate''s bookkeeping.');

-- Row level security: a new table without it fails here.
select is_empty($$
  select c.relname::text
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'payments' and c.relkind in ('r', 'p') and not c.relrowsecurity
$$, 'Every table in the payments schema has row level security enabled.');

select is_empty($$
  select c.relname::text
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'payments' and c.relkind in ('r', 'p')
    and obj_description(c.oid, 'pg_class') is null
$$, 'Every payments table has a comment.');

select columns_are('payments', 'provider_connections', array['id', 'provider', 'environment', 'status', 'stripe_account_id', 'stripe_account_name', 'stripe_account_email', 'livemode', 'secret_key_last4', 'webhook_endpoint_id', 'webhook_endpoint_url', 'last_synced_at', 'last_sync_status', 'last_sync_error', 'last_sync_counts', 'created_at', 'updated_at']);
select columns_are('payments_private', 'provider_secrets', array['id', 'provider', 'environment', 'name', 'value', 'vault_secret_id', 'created_at', 'updated_at']);
select columns_are('payments', 'stripe_products', array['id', 'environment', 'product_id', 'name', 'description', 'active', 'default_price_id', 'metadata', 'raw', 'stripe_created_at', 'stripe_updated_at', 'deleted_at', 'archived_at', 'last_synced_at', 'created_at', 'updated_at']);
select columns_are('payments', 'stripe_prices', array['id', 'environment', 'price_id', 'product_id', 'active', 'currency', 'unit_amount', 'type', 'recurring_interval', 'recurring_interval_count', 'lookup_key', 'nickname', 'metadata', 'raw', 'stripe_created_at', 'stripe_updated_at', 'deleted_at', 'archived_at', 'last_synced_at', 'created_at', 'updated_at']);
select columns_are('payments', 'customers', array['id', 'environment', 'customer_id', 'email', 'name', 'metadata', 'raw', 'source_event_id', 'deleted', 'stripe_created_at', 'stripe_updated_at', 'archived_at', 'last_synced_at', 'created_at', 'updated_at']);
select columns_are('payments', 'customer_mappings', array['id', 'provider', 'environment', 'subject_type', 'subject_id', 'provider_customer_id', 'created_at', 'updated_at']);
select columns_are('payments', 'stripe_checkout_sessions', array['id', 'environment', 'created_by', 'subject_type', 'subject_id', 'mode', 'status', 'payment_status', 'line_items', 'success_url', 'cancel_url', 'customer_email', 'metadata', 'idempotency_key', 'request_hash', 'attempt', 'checkout_session_id', 'url', 'expires_at', 'customer_id', 'payment_intent_id', 'subscription_id', 'amount_total', 'currency', 'completed_at', 'last_error', 'stripe_updated_at', 'created_at', 'updated_at']);
select columns_are('payments', 'stripe_customer_portal_sessions', array['id', 'environment', 'created_by', 'subject_type', 'subject_id', 'customer_id', 'return_url', 'configuration_id', 'status', 'portal_session_id', 'url', 'last_error', 'created_at', 'updated_at']);
select columns_are('payments', 'stripe_subscriptions', array['id', 'environment', 'subscription_id', 'customer_id', 'subject_type', 'subject_id', 'status', 'cancel_at_period_end', 'cancel_at', 'canceled_at', 'ended_at', 'current_period_start', 'current_period_end', 'trial_start', 'trial_end', 'latest_invoice_id', 'metadata', 'raw', 'source_event_id', 'stripe_created_at', 'stripe_updated_at', 'archived_at', 'last_synced_at', 'created_at', 'updated_at']);
select columns_are('payments', 'stripe_subscription_items', array['id', 'environment', 'subscription_item_id', 'subscription_id', 'price_id', 'product_id', 'quantity', 'current_period_start', 'current_period_end', 'metadata', 'raw', 'source_event_id', 'stripe_updated_at', 'created_at', 'updated_at']);
select columns_are('payments', 'webhook_events', array['id', 'provider', 'environment', 'provider_event_id', 'event_type', 'livemode', 'api_version', 'object_type', 'object_id', 'event_created_at', 'processing_status', 'attempt_count', 'last_error', 'payload', 'received_at', 'processed_at', 'created_at', 'updated_at', 'received_via']);
select columns_are('payments', 'transactions', array['id', 'provider', 'environment', 'type', 'status', 'provider_object_id', 'subject_type', 'subject_id', 'customer_id', 'customer_email', 'checkout_session_id', 'payment_intent_id', 'charge_id', 'invoice_id', 'subscription_id', 'refund_id', 'amount', 'amount_refunded', 'currency', 'description', 'paid_at', 'failed_at', 'refunded_at', 'stripe_created_at', 'stripe_updated_at', 'raw', 'created_at', 'updated_at', 'source_event_id']);

-- Every table: uuid primary key, environment, timestamps maintained by trigger.
select col_is_pk('payments', t, 'id', format('%s has the uuid primary key id.', t))
from unnest(array['provider_connections', 'stripe_products', 'stripe_prices', 'customers', 'customer_mappings', 'stripe_checkout_sessions', 'stripe_customer_portal_sessions', 'stripe_subscriptions', 'stripe_subscription_items', 'webhook_events', 'transactions']) as t;
select has_trigger('payments', t, 'set_updated_at', format('%s keeps updated_at current.', t))
from unnest(array['provider_connections', 'stripe_products', 'stripe_prices', 'customers', 'customer_mappings', 'stripe_checkout_sessions', 'stripe_customer_portal_sessions', 'stripe_subscriptions', 'stripe_subscription_items', 'webhook_events', 'transactions']) as t;
select col_type_is('payments', t, 'environment', 'payments.environment', format('%s.environment is test or live.', t))
from unnest(array['provider_connections', 'stripe_products', 'stripe_prices', 'customers', 'customer_mappings', 'stripe_checkout_sessions', 'stripe_customer_portal_sessions', 'stripe_subscriptions', 'stripe_subscription_items', 'webhook_events', 'transactions']) as t;

-- Policies: the API roles get only what these name.
select policies_are('payments', 'stripe_products', array['Visitors can read active products', 'Users can read active products']);
select policies_are('payments', 'stripe_prices', array['Visitors can read active prices', 'Users can read active prices']);
select policies_are('payments', 'customer_mappings', array['Users can read their own customer mapping']);
select policies_are('payments', 'stripe_checkout_sessions', array['Users can read their own checkout sessions', 'Users can create checkout sessions for themselves']);
select policies_are('payments', 'stripe_customer_portal_sessions', array['Users can read their own portal sessions', 'Users can create portal sessions for themselves']);
select policies_are('payments', 'stripe_subscriptions', array['Users can read their own subscriptions']);
select policies_are('payments', 'stripe_subscription_items', array['Users can read items of subscriptions they can read']);
select policies_are('payments', 'transactions', array['Users can read their own transactions']);
select policies_are('payments', 'webhook_events', array['Users can read the events holding objects of rows they can read']);
select policies_are('payments', t, array[]::name[], format('%s has no policy: no API role reads it.', t))
from unnest(array['provider_connections', 'customers']) as t;
select policies_are('payments_private', 'provider_secrets', array[]::name[], 'The secret store has no policy.');
select col_is_pk('payments_private', 'provider_secrets', 'id', 'provider_secrets has the uuid primary key id.');
select has_trigger('payments_private', 'provider_secrets', 'set_updated_at', 'provider_secrets keeps updated_at current.');
select col_type_is('payments_private', 'provider_secrets', 'environment', 'payments.environment', 'provider_secrets.environment is test or live.');
select table_privs_are('payments_private', 'provider_secrets', r, array[]::text[], format('%s has no privileges on provider_secrets.', r))
from unnest(array['anon', 'authenticated', 'service_role']) as r;

-- Privilege matrix for the API roles: what anon and authenticated may do on each table; the
-- service role may do everything on every one.
select table_privs_are('payments', t, r, p, format('%s has exactly %s on %s.', r, coalesce(nullif(array_to_string(p, ', '), ''), 'no privileges'), t))
from (values
  ('provider_connections',            array[]::text[],  array[]::text[]),
  ('stripe_products',                 array['SELECT'],  array['SELECT']),
  ('stripe_prices',                   array['SELECT'],  array['SELECT']),
  ('customers',                       array[]::text[],  array[]::text[]),
  ('customer_mappings',               array[]::text[],  array['SELECT']),
  ('stripe_checkout_sessions',        array[]::text[],  array['SELECT']),
  ('stripe_customer_portal_sessions', array[]::text[],  array['SELECT']),
  ('stripe_subscriptions',            array[]::text[],  array['SELECT']),
  ('stripe_subscription_items',       array[]::text[],  array['SELECT']),
  ('webhook_events',                  array[]::text[],  array[]::text[]),
  ('transactions',                    array[]::text[],  array['SELECT'])
) as m(t, anon, authenticated)
cross join lateral (values ('anon', anon), ('authenticated', authenticated),
                           ('service_role', array['SELECT', 'INSERT', 'UPDATE', 'DELETE'])) as g(r, p);

-- Users read the event holding the object of a row they can read (payments.stripe_object), never
-- its processing state.
select column_privs_are('payments', 'webhook_events', c, 'authenticated',
  case when c in ('provider_event_id', 'payload') then array['SELECT'] else array[]::text[] end,
  format('authenticated may %s webhook_events.%s.', case when c in ('provider_event_id', 'payload') then 'read' else 'not read' end, c))
from unnest(array['provider_event_id', 'payload', 'processing_status', 'last_error']) as c;

-- Users insert the request columns of session rows, never their outcome.
select column_privs_are('payments', 'stripe_checkout_sessions', c, 'authenticated',
  case when c in ('environment', 'created_by', 'subject_type', 'subject_id', 'mode', 'line_items',
                  'success_url', 'cancel_url', 'customer_email', 'metadata', 'idempotency_key', 'request_hash')
       then array['INSERT', 'SELECT'] else array['SELECT'] end,
  format('authenticated may %s stripe_checkout_sessions.%s.',
         case when c in ('environment', 'created_by', 'subject_type', 'subject_id', 'mode', 'line_items',
                         'success_url', 'cancel_url', 'customer_email', 'metadata', 'idempotency_key', 'request_hash')
              then 'insert and read' else 'only read' end, c))
from unnest(array['status', 'payment_status', 'checkout_session_id', 'url', 'expires_at', 'amount_total',
                  'mode', 'metadata', 'idempotency_key']) as c;
select column_privs_are('payments', 'stripe_customer_portal_sessions', c, 'authenticated', array['SELECT'],
  format('authenticated may only read stripe_customer_portal_sessions.%s.', c))
from unnest(array['status', 'portal_session_id', 'url', 'last_error']) as c;

-- Secrets are reachable through no API role.
select function_privs_are('payments_private', f, args, r, array[]::text[], format('%s cannot execute payments_private.%s.', r, f))
from (values ('set_provider_secret'), ('get_provider_secret'), ('delete_provider_secret')) as fn(f)
cross join (values ('anon'), ('authenticated'), ('service_role')) as roles(r)
cross join lateral (select case f when 'set_provider_secret' then array['payments.environment', 'text', 'text']
                                  else array['payments.environment', 'text'] end) as a(args);

select * from finish();
rollback;
