-- migrate:up

-- The payments schema: Stripe state mirrored into Postgres, the app's checkout and portal
-- requests, verified webhook events, and the connection to Stripe per environment.
-- Every table carries `environment` so test and live data live side by side.

create schema if not exists payments;
comment on schema payments is 'Stripe payments mirrored into Postgres: catalog, customers, sessions, subscriptions, transactions and verified webhook events.';

grant usage on schema payments to anon, authenticated, service_role;

-- Functions created later in this schema are not executable by everyone unless granted.
alter default privileges in schema payments revoke execute on functions from public;

-- dbmate creates its bookkeeping table before the first migration runs; keep it out of the API.
-- (Under the Supabase CLI the table does not exist: migrations are tracked elsewhere.)
do $$
begin
  if to_regclass('payments.schema_migrations') is not null then
    revoke all on table payments.schema_migrations from anon, authenticated, service_role;
    alter table payments.schema_migrations enable row level security;
  end if;
end;
$$;

create function payments.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function payments.set_updated_at() is 'Trigger function keeping updated_at current on every payments table.';
revoke execute on function payments.set_updated_at() from public;

-- Shared vocabulary, checked on every table that uses it.
create domain payments.environment as text
  check (value in ('test', 'live'));
comment on domain payments.environment is 'Stripe mode of a row: test or live. Both live side by side in one database.';

create domain payments.subject_type as text
  check (value ~ '^[a-z][a-z0-9_]{0,62}$');
comment on domain payments.subject_type is 'Kind of billing subject chosen by the app (user, team, organization, ...): lowercase snake_case.';

--------------------------------------------------------------------------------
-- Connection to Stripe, one row per provider and environment
--------------------------------------------------------------------------------
create table payments.provider_connections (
  id uuid primary key default gen_random_uuid(),
  provider text not null default 'stripe' check (provider = 'stripe'),
  environment payments.environment not null,
  status text not null default 'disconnected'
    check (status in ('disconnected', 'connected', 'error')),
  stripe_account_id text,
  stripe_account_name text,
  stripe_account_email text,
  livemode boolean,
  secret_key_last4 text check (secret_key_last4 is null or length(secret_key_last4) <= 4),
  webhook_endpoint_id text,
  webhook_endpoint_url text,
  last_synced_at timestamptz,
  last_sync_status text check (last_sync_status in ('running', 'succeeded', 'failed')),
  last_sync_error text,
  last_sync_counts jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (provider, environment)
);
comment on table payments.provider_connections is 'The Stripe account connected for each environment, its managed webhook endpoint and the outcome of the last sync. Service role only.';
grant select, insert, update, delete on payments.provider_connections to service_role;
alter table payments.provider_connections enable row level security;
create trigger set_updated_at before update on payments.provider_connections
  for each row execute function payments.set_updated_at();

--------------------------------------------------------------------------------
-- Secrets: Supabase Vault where it exists, otherwise this private table
--------------------------------------------------------------------------------
create table payments.provider_secrets (
  id uuid primary key default gen_random_uuid(),
  provider text not null default 'stripe' check (provider = 'stripe'),
  environment payments.environment not null,
  name text not null check (name in ('secret_key', 'webhook_secret')),
  -- Exactly one of the two holds the secret: the value itself, or the id of a Vault secret.
  value text,
  vault_secret_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (provider, environment, name),
  check ((value is null) <> (vault_secret_id is null))
);
comment on table payments.provider_secrets is 'Stripe secret key and webhook signing secret per environment. No API role may read it; only the functions below, owned by the schema owner, touch it.';
revoke all on payments.provider_secrets from anon, authenticated, service_role;
alter table payments.provider_secrets enable row level security;
create trigger set_updated_at before update on payments.provider_secrets
  for each row execute function payments.set_updated_at();

-- security definer: the connection role writing secrets may differ from the table owner, and
-- Vault's functions are only callable by privileged roles.
create function payments.set_provider_secret(p_environment payments.environment, p_name text, p_value text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_vault_id uuid;
begin
  if p_value is null or p_value = '' then
    raise exception using errcode = '22023', message = 'Secret value must not be empty.',
      hint = 'Use payments.delete_provider_secret to remove a secret.';
  end if;

  if to_regnamespace('vault') is null then
    insert into payments.provider_secrets (environment, name, value)
    values (p_environment, p_name, p_value)
    on conflict (provider, environment, name)
      do update set value = excluded.value, vault_secret_id = null;
    return;
  end if;

  select s.vault_secret_id into v_vault_id
  from payments.provider_secrets s
  where s.provider = 'stripe' and s.environment = p_environment and s.name = p_name;

  if v_vault_id is null then
    execute 'select vault.create_secret($1, $2, $3)'
      into v_vault_id
      using p_value, format('payments_stripe_%s_%s', p_environment, p_name),
        format('Stripe %s for the %s environment (payments schema)', p_name, p_environment);
  else
    execute 'select vault.update_secret($1, $2)' using v_vault_id, p_value;
  end if;

  insert into payments.provider_secrets (environment, name, vault_secret_id)
  values (p_environment, p_name, v_vault_id)
  on conflict (provider, environment, name)
    do update set vault_secret_id = excluded.vault_secret_id, value = null;
end;
$$;
comment on function payments.set_provider_secret(payments.environment, text, text) is 'Stores a Stripe secret for an environment, in Supabase Vault when the vault schema exists.';
revoke execute on function payments.set_provider_secret(payments.environment, text, text) from public;

-- security definer: reads Vault's decrypted view, which API roles cannot.
create function payments.get_provider_secret(p_environment payments.environment, p_name text)
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_row payments.provider_secrets;
  v_value text;
begin
  select * into v_row
  from payments.provider_secrets s
  where s.provider = 'stripe' and s.environment = p_environment and s.name = p_name;

  if v_row.vault_secret_id is null then
    return v_row.value;
  end if;

  execute 'select decrypted_secret from vault.decrypted_secrets where id = $1'
    into v_value using v_row.vault_secret_id;
  return v_value;
end;
$$;
comment on function payments.get_provider_secret(payments.environment, text) is 'Reads a Stripe secret. Not executable by any API role: only the server-side connection role calls it.';
revoke execute on function payments.get_provider_secret(payments.environment, text) from public;

-- security definer: deletes from Vault, which API roles cannot.
create function payments.delete_provider_secret(p_environment payments.environment, p_name text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_vault_id uuid;
begin
  delete from payments.provider_secrets s
  where s.provider = 'stripe' and s.environment = p_environment and s.name = p_name
  returning s.vault_secret_id into v_vault_id;

  if v_vault_id is not null then
    execute 'delete from vault.secrets where id = $1' using v_vault_id;
  end if;
end;
$$;
comment on function payments.delete_provider_secret(payments.environment, text) is 'Removes a Stripe secret, from Vault too.';
revoke execute on function payments.delete_provider_secret(payments.environment, text) from public;

--------------------------------------------------------------------------------
-- Catalog: products and prices
--------------------------------------------------------------------------------
create table payments.stripe_products (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  product_id text not null,
  name text not null,
  description text,
  active boolean not null default true,
  default_price_id text,
  metadata jsonb not null default '{}'::jsonb,
  raw jsonb not null default '{}'::jsonb,
  stripe_created_at timestamptz,
  stripe_updated_at timestamptz not null,
  deleted_at timestamptz,
  archived_at timestamptz,
  last_synced_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (environment, product_id)
);
comment on table payments.stripe_products is 'Mirror of Stripe Products. deleted_at: Stripe deleted it (final). archived_at: gone from Stripe at the last full sync or from a previous account.';
comment on column payments.stripe_products.stripe_updated_at is 'Stripe-side time of the state held here (event created or object updated); older writes are refused.';
grant select on payments.stripe_products to anon, authenticated;
grant select, insert, update, delete on payments.stripe_products to service_role;
alter table payments.stripe_products enable row level security;
create policy "Visitors can read active products" on payments.stripe_products
  for select to anon
  using (active and deleted_at is null and archived_at is null);
create policy "Users can read active products" on payments.stripe_products
  for select to authenticated
  using (active and deleted_at is null and archived_at is null);
create trigger set_updated_at before update on payments.stripe_products
  for each row execute function payments.set_updated_at();

create table payments.stripe_prices (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  price_id text not null,
  product_id text not null,
  active boolean not null default true,
  currency text not null check (currency ~ '^[a-z]{3}$'),
  unit_amount bigint check (unit_amount >= 0),
  type text not null check (type in ('one_time', 'recurring')),
  recurring_interval text check (recurring_interval in ('day', 'week', 'month', 'year')),
  recurring_interval_count integer check (recurring_interval_count > 0),
  lookup_key text,
  nickname text,
  metadata jsonb not null default '{}'::jsonb,
  raw jsonb not null default '{}'::jsonb,
  stripe_created_at timestamptz,
  stripe_updated_at timestamptz not null,
  deleted_at timestamptz,
  archived_at timestamptz,
  last_synced_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (environment, price_id),
  check ((type = 'recurring') = (recurring_interval is not null))
);
comment on table payments.stripe_prices is 'Mirror of Stripe Prices. deleted_at: Stripe deleted it (final). archived_at: gone from Stripe at the last full sync or from a previous account.';
comment on column payments.stripe_prices.stripe_updated_at is 'Stripe-side time of the state held here (event created or sync time); older writes are refused.';
create index stripe_prices_product_idx on payments.stripe_prices (environment, product_id);
create index stripe_prices_lookup_key_idx on payments.stripe_prices (environment, lookup_key)
  where lookup_key is not null;
grant select on payments.stripe_prices to anon, authenticated;
grant select, insert, update, delete on payments.stripe_prices to service_role;
alter table payments.stripe_prices enable row level security;
create policy "Visitors can read active prices" on payments.stripe_prices
  for select to anon
  using (active and deleted_at is null and archived_at is null);
create policy "Users can read active prices" on payments.stripe_prices
  for select to authenticated
  using (active and deleted_at is null and archived_at is null);
create trigger set_updated_at before update on payments.stripe_prices
  for each row execute function payments.set_updated_at();

--------------------------------------------------------------------------------
-- Customers and who they bill for
--------------------------------------------------------------------------------
create table payments.customers (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  customer_id text not null,
  email text,
  name text,
  metadata jsonb not null default '{}'::jsonb,
  raw jsonb not null default '{}'::jsonb,
  deleted boolean not null default false,
  stripe_created_at timestamptz,
  stripe_updated_at timestamptz not null,
  archived_at timestamptz,
  last_synced_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (environment, customer_id)
);
comment on table payments.customers is 'Mirror of Stripe Customers. Service role only: apps read billing state through customer_mappings, subscriptions and transactions.';
create index customers_email_idx on payments.customers (environment, lower(email));
grant select, insert, update, delete on payments.customers to service_role;
alter table payments.customers enable row level security;
create trigger set_updated_at before update on payments.customers
  for each row execute function payments.set_updated_at();

create table payments.customer_mappings (
  id uuid primary key default gen_random_uuid(),
  provider text not null default 'stripe' check (provider = 'stripe'),
  environment payments.environment not null,
  subject_type payments.subject_type not null,
  subject_id text not null check (subject_id <> ''),
  provider_customer_id text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (provider, environment, subject_type, subject_id),
  unique (provider, environment, provider_customer_id)
);
comment on table payments.customer_mappings is 'Which Stripe customer bills which subject (user, team, ...). One customer per subject and one subject per customer, per environment.';
grant select on payments.customer_mappings to authenticated;
grant select, insert, update, delete on payments.customer_mappings to service_role;
alter table payments.customer_mappings enable row level security;
create policy "Users can read their own customer mapping" on payments.customer_mappings
  for select to authenticated
  using (subject_type = 'user' and subject_id = (select auth.uid())::text);
create trigger set_updated_at before update on payments.customer_mappings
  for each row execute function payments.set_updated_at();

--------------------------------------------------------------------------------
-- Checkout and Billing Portal sessions requested by the app
--------------------------------------------------------------------------------
create table payments.stripe_checkout_sessions (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  created_by uuid not null,
  subject_type payments.subject_type not null,
  subject_id text not null check (subject_id <> ''),
  mode text not null check (mode in ('payment', 'subscription')),
  status text not null default 'initialized'
    check (status in ('initialized', 'open', 'completed', 'expired', 'failed')),
  payment_status text check (payment_status in ('paid', 'unpaid', 'no_payment_required')),
  line_items jsonb not null check (jsonb_typeof(line_items) = 'array'),
  success_url text not null,
  cancel_url text not null,
  customer_email text,
  metadata jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
  idempotency_key text check (length(idempotency_key) between 1 and 200),
  request_hash text not null,
  -- Bumped each time a new Stripe session must replace an expired or failed one; part of the
  -- Stripe Idempotency-Key so a retry after a crash reuses the session of the same attempt.
  attempt integer not null default 1 check (attempt > 0),
  checkout_session_id text,
  url text,
  expires_at timestamptz,
  customer_id text,
  payment_intent_id text,
  subscription_id text,
  amount_total bigint,
  currency text,
  completed_at timestamptz,
  last_error text,
  stripe_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (environment, created_by, idempotency_key),
  unique (environment, checkout_session_id)
);
comment on table payments.stripe_checkout_sessions is 'Checkout requests made by the app, one per idempotency key and caller, and the Stripe Checkout Session that serves each.';
comment on column payments.stripe_checkout_sessions.request_hash is 'Hash of the normalised request: the same idempotency key with a different request is refused.';
create index stripe_checkout_sessions_subject_idx
  on payments.stripe_checkout_sessions (environment, subject_type, subject_id);
create index stripe_checkout_sessions_status_idx on payments.stripe_checkout_sessions (status);
grant select on payments.stripe_checkout_sessions to authenticated;
-- Users insert only the request columns; status, Stripe ids, URLs and amounts are the server's, so
-- a user with the schema exposed cannot insert a row that claims to be paid or carries any URL.
grant insert (
  environment, created_by, subject_type, subject_id, mode, line_items, success_url, cancel_url,
  customer_email, metadata, idempotency_key, request_hash
) on payments.stripe_checkout_sessions to authenticated;
grant select, insert, update, delete on payments.stripe_checkout_sessions to service_role;
alter table payments.stripe_checkout_sessions enable row level security;
create policy "Users can read their own checkout sessions" on payments.stripe_checkout_sessions
  for select to authenticated
  using (created_by = (select auth.uid()));
create policy "Users can create checkout sessions for themselves" on payments.stripe_checkout_sessions
  for insert to authenticated
  with check (
    created_by = (select auth.uid())
    and subject_type = 'user'
    and subject_id = (select auth.uid())::text
  );
create trigger set_updated_at before update on payments.stripe_checkout_sessions
  for each row execute function payments.set_updated_at();

create table payments.stripe_customer_portal_sessions (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  created_by uuid not null,
  subject_type payments.subject_type not null,
  subject_id text not null check (subject_id <> ''),
  customer_id text,
  return_url text,
  configuration_id text,
  status text not null default 'initialized' check (status in ('initialized', 'created', 'failed')),
  portal_session_id text,
  url text,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table payments.stripe_customer_portal_sessions is 'Billing Portal sessions opened by the app for a subject that has a Stripe customer.';
create index stripe_customer_portal_sessions_subject_idx
  on payments.stripe_customer_portal_sessions (environment, subject_type, subject_id);
grant select on payments.stripe_customer_portal_sessions to authenticated;
grant insert (
  environment, created_by, subject_type, subject_id, customer_id, return_url, configuration_id
) on payments.stripe_customer_portal_sessions to authenticated;
grant select, insert, update, delete on payments.stripe_customer_portal_sessions to service_role;
alter table payments.stripe_customer_portal_sessions enable row level security;
create policy "Users can read their own portal sessions" on payments.stripe_customer_portal_sessions
  for select to authenticated
  using (created_by = (select auth.uid()));
create policy "Users can create portal sessions for themselves" on payments.stripe_customer_portal_sessions
  for insert to authenticated
  with check (
    created_by = (select auth.uid())
    and subject_type = 'user'
    and subject_id = (select auth.uid())::text
  );
create trigger set_updated_at before update on payments.stripe_customer_portal_sessions
  for each row execute function payments.set_updated_at();

--------------------------------------------------------------------------------
-- Subscriptions
--------------------------------------------------------------------------------
create table payments.stripe_subscriptions (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  subscription_id text not null,
  customer_id text not null,
  subject_type payments.subject_type,
  subject_id text,
  status text not null check (status in (
    'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused'
  )),
  cancel_at_period_end boolean not null default false,
  cancel_at timestamptz,
  canceled_at timestamptz,
  ended_at timestamptz,
  current_period_start timestamptz,
  current_period_end timestamptz,
  trial_start timestamptz,
  trial_end timestamptz,
  latest_invoice_id text,
  metadata jsonb not null default '{}'::jsonb,
  raw jsonb not null default '{}'::jsonb,
  stripe_created_at timestamptz,
  stripe_updated_at timestamptz not null,
  archived_at timestamptz,
  last_synced_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (environment, subscription_id),
  check ((subject_type is null) = (subject_id is null))
);
comment on table payments.stripe_subscriptions is 'Mirror of Stripe Subscriptions with the billing subject they belong to (null until the customer is mapped).';
comment on column payments.stripe_subscriptions.stripe_updated_at is 'Stripe-side time of the state held here (event created or sync time); older writes are refused.';
create index stripe_subscriptions_subject_idx
  on payments.stripe_subscriptions (environment, subject_type, subject_id);
create index stripe_subscriptions_customer_idx on payments.stripe_subscriptions (environment, customer_id);
create index stripe_subscriptions_status_idx on payments.stripe_subscriptions (status);
grant select on payments.stripe_subscriptions to authenticated;
grant select, insert, update, delete on payments.stripe_subscriptions to service_role;
alter table payments.stripe_subscriptions enable row level security;
create policy "Users can read their own subscriptions" on payments.stripe_subscriptions
  for select to authenticated
  using (subject_type = 'user' and subject_id = (select auth.uid())::text);
create trigger set_updated_at before update on payments.stripe_subscriptions
  for each row execute function payments.set_updated_at();

create table payments.stripe_subscription_items (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  subscription_item_id text not null,
  subscription_id text not null,
  price_id text,
  product_id text,
  quantity integer check (quantity >= 0),
  current_period_start timestamptz,
  current_period_end timestamptz,
  metadata jsonb not null default '{}'::jsonb,
  raw jsonb not null default '{}'::jsonb,
  stripe_updated_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (environment, subscription_item_id),
  foreign key (environment, subscription_id)
    references payments.stripe_subscriptions (environment, subscription_id) on delete cascade
);
comment on table payments.stripe_subscription_items is 'Items (price and quantity) of mirrored subscriptions. Period dates live here in current Stripe API versions.';
create index stripe_subscription_items_subscription_idx
  on payments.stripe_subscription_items (environment, subscription_id);
create index stripe_subscription_items_price_idx on payments.stripe_subscription_items (environment, price_id);
grant select on payments.stripe_subscription_items to authenticated;
grant select, insert, update, delete on payments.stripe_subscription_items to service_role;
alter table payments.stripe_subscription_items enable row level security;
-- Visibility follows the parent subscription, including the app's own policies on it.
create policy "Users can read items of subscriptions they can read" on payments.stripe_subscription_items
  for select to authenticated
  using (exists (
    select 1 from payments.stripe_subscriptions s
    where s.environment = stripe_subscription_items.environment
      and s.subscription_id = stripe_subscription_items.subscription_id
  ));
create trigger set_updated_at before update on payments.stripe_subscription_items
  for each row execute function payments.set_updated_at();

--------------------------------------------------------------------------------
-- Verified webhook events
--------------------------------------------------------------------------------
create table payments.webhook_events (
  id uuid primary key default gen_random_uuid(),
  provider text not null default 'stripe' check (provider = 'stripe'),
  environment payments.environment not null,
  provider_event_id text not null,
  event_type text not null,
  livemode boolean not null,
  api_version text,
  object_type text,
  object_id text,
  event_created_at timestamptz not null,
  processing_status text not null default 'pending'
    check (processing_status in ('pending', 'processed', 'failed', 'ignored')),
  attempt_count integer not null default 0 check (attempt_count >= 0),
  last_error text,
  payload jsonb not null,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (provider, environment, provider_event_id)
);
comment on table payments.webhook_events is 'Every verified Stripe webhook event, with its processing outcome. Apps fulfil orders with their own AFTER INSERT OR UPDATE triggers here, on processing_status = ''processed''.';
create index webhook_events_object_idx on payments.webhook_events (environment, object_id);
create index webhook_events_status_idx on payments.webhook_events (processing_status)
  where processing_status in ('pending', 'failed');
create index webhook_events_type_idx on payments.webhook_events (environment, event_type, event_created_at);
grant select, insert, update, delete on payments.webhook_events to service_role;
alter table payments.webhook_events enable row level security;
create trigger set_updated_at before update on payments.webhook_events
  for each row execute function payments.set_updated_at();

--------------------------------------------------------------------------------
-- Money movements, for reporting
--------------------------------------------------------------------------------
create table payments.transactions (
  id uuid primary key default gen_random_uuid(),
  provider text not null default 'stripe' check (provider = 'stripe'),
  environment payments.environment not null,
  type text not null check (type in ('one_time_payment', 'subscription_invoice', 'refund', 'failed_payment')),
  status text not null
    check (status in ('pending', 'succeeded', 'failed', 'refunded', 'partially_refunded')),
  -- The Stripe object this row stands for (pi_, in_ or re_): one row per type and object.
  provider_object_id text not null,
  subject_type payments.subject_type,
  subject_id text,
  customer_id text,
  customer_email text,
  checkout_session_id text,
  payment_intent_id text,
  charge_id text,
  invoice_id text,
  subscription_id text,
  refund_id text,
  amount bigint not null default 0,
  amount_refunded bigint not null default 0 check (amount_refunded >= 0),
  currency text,
  description text,
  paid_at timestamptz,
  failed_at timestamptz,
  refunded_at timestamptz,
  stripe_created_at timestamptz,
  stripe_updated_at timestamptz not null,
  raw jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (provider, environment, type, provider_object_id),
  check ((subject_type is null) = (subject_id is null))
);
comment on table payments.transactions is 'Reporting projection of payments, subscription invoices, failed payments and refunds, with Stripe reference ids. Keep order and entitlement state in app tables.';
create index transactions_subject_idx on payments.transactions (environment, subject_type, subject_id);
create index transactions_customer_idx on payments.transactions (environment, customer_id);
create index transactions_status_idx on payments.transactions (status);
-- A row carries only the Stripe ids of its kind (a refund id only on refunds, ...): these lookup
-- indexes skip the nulls, so an insert maintains only the indexes it can be found by.
create index transactions_checkout_session_idx on payments.transactions (environment, checkout_session_id)
  where checkout_session_id is not null;
create index transactions_payment_intent_idx on payments.transactions (environment, payment_intent_id);
create index transactions_charge_idx on payments.transactions (environment, charge_id)
  where charge_id is not null;
create index transactions_invoice_idx on payments.transactions (environment, invoice_id)
  where invoice_id is not null;
create index transactions_subscription_idx on payments.transactions (environment, subscription_id)
  where subscription_id is not null;
create index transactions_refund_idx on payments.transactions (environment, refund_id)
  where refund_id is not null;
grant select on payments.transactions to authenticated;
grant select, insert, update, delete on payments.transactions to service_role;
alter table payments.transactions enable row level security;
create policy "Users can read their own transactions" on payments.transactions
  for select to authenticated
  using (subject_type = 'user' and subject_id = (select auth.uid())::text);
create trigger set_updated_at before update on payments.transactions
  for each row execute function payments.set_updated_at();

--------------------------------------------------------------------------------
-- Storage of the Stripe payloads
--------------------------------------------------------------------------------
-- Events and mirrored objects are jsonb of a few kB. lz4 compresses them at a ratio like pglz's
-- in a fraction of its CPU time (servers built without lz4 keep the default). Storage `main`
-- keeps the compressed value in the row unless the row would not fit a page: out of line, every
-- insert would also write TOAST chunks and their index entries, and every update rewrite them.
do $$
begin
  alter table payments.webhook_events alter column payload set compression lz4;
  alter table payments.stripe_products alter column raw set compression lz4;
  alter table payments.stripe_prices alter column raw set compression lz4;
  alter table payments.customers alter column raw set compression lz4;
  alter table payments.stripe_subscriptions alter column raw set compression lz4;
  alter table payments.stripe_subscription_items alter column raw set compression lz4;
  alter table payments.transactions alter column raw set compression lz4;
exception
  when feature_not_supported then
    raise notice 'lz4 is not available on this server; jsonb columns keep the default compression.';
end;
$$;
alter table payments.webhook_events alter column payload set storage main;
alter table payments.transactions alter column raw set storage main;
alter table payments.stripe_subscriptions alter column raw set storage main;
alter table payments.stripe_subscription_items alter column raw set storage main;
alter table payments.customers alter column raw set storage main;
alter table payments.stripe_products alter column raw set storage main;
alter table payments.stripe_prices alter column raw set storage main;

-- Catalog rows and subscription items are rewritten by every event about them without changing
-- an indexed column: room on the page lets those updates stay HOT (no index writes).
alter table payments.stripe_products set (fillfactor = 80);
alter table payments.stripe_prices set (fillfactor = 80);
alter table payments.stripe_subscription_items set (fillfactor = 80);

-- migrate:down
