-- migrate:up

--------------------------------------------------------------------------------
-- Catalog: products and prices
--------------------------------------------------------------------------------

-- fillfactor 80: catalog rows are rewritten by every event about them without changing an
-- indexed column; room on the page lets those updates stay HOT (no index writes).
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
) with (fillfactor = 80);
comment on table payments.stripe_products is 'Mirror of Stripe Products. deleted_at: Stripe deleted it (final). archived_at: gone from Stripe at the last full sync or from a previous account.';
comment on column payments.stripe_products.stripe_updated_at is 'Stripe-side time of the state held here (event created or object updated); older writes are refused.';
-- The admin list's order: newest first by Stripe's creation time, keyset-paginated on id.
create index stripe_products_created_idx
  on payments.stripe_products (environment, (coalesce(stripe_created_at, created_at)) desc, id desc);
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
  for each row execute function payments_private.set_updated_at();

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
) with (fillfactor = 80);
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
  for each row execute function payments_private.set_updated_at();

--------------------------------------------------------------------------------
-- Upserts: an older or deleted state never overwrites a newer one
--------------------------------------------------------------------------------

create function payments_private.upsert_product(p_environment text, p_product jsonb, p_at timestamptz, p_deleted boolean default false, p_synced_at timestamptz default null)
returns boolean
language plpgsql set search_path = ''
as $$
declare
  v_deleted boolean := p_deleted or coalesce((p_product ->> 'deleted')::boolean, false);
begin
  insert into payments.stripe_products as t (
    environment, product_id, name, description, active, default_price_id, metadata, raw,
    stripe_created_at, stripe_updated_at, deleted_at, last_synced_at
  ) values (
    p_environment, p_product ->> 'id', coalesce(p_product ->> 'name', ''), p_product ->> 'description',
    not v_deleted and coalesce((p_product ->> 'active')::boolean, true),
    payments_private.stripe_id(p_product -> 'default_price'), coalesce(p_product -> 'metadata', '{}'::jsonb), p_product,
    payments_private.stripe_time(p_product -> 'created'), p_at, case when v_deleted then p_at end, p_synced_at
  )
  on conflict (environment, product_id) do update set
    name = excluded.name, description = excluded.description, active = excluded.active,
    default_price_id = excluded.default_price_id, metadata = excluded.metadata, raw = excluded.raw,
    stripe_created_at = coalesce(excluded.stripe_created_at, t.stripe_created_at),
    stripe_updated_at = excluded.stripe_updated_at, deleted_at = excluded.deleted_at, archived_at = null,
    last_synced_at = coalesce(excluded.last_synced_at, t.last_synced_at)
  where t.deleted_at is null and excluded.stripe_updated_at >= t.stripe_updated_at;
  return found;
end;
$$;
comment on function payments_private.upsert_product(text, jsonb, timestamptz, boolean, timestamptz) is 'Mirrors a Stripe Product unless the row holds newer state or was deleted; true when applied.';

create function payments_private.upsert_price(p_environment text, p_price jsonb, p_at timestamptz, p_deleted boolean default false, p_synced_at timestamptz default null)
returns boolean
language plpgsql set search_path = ''
as $$
declare
  v_deleted boolean := p_deleted or coalesce((p_price ->> 'deleted')::boolean, false);
  v_recurring jsonb := case when jsonb_typeof(p_price -> 'recurring') = 'object' then p_price -> 'recurring' end;
begin
  insert into payments.stripe_prices as t (
    environment, price_id, product_id, active, currency, unit_amount, type, recurring_interval,
    recurring_interval_count, lookup_key, nickname, metadata, raw, stripe_created_at, stripe_updated_at,
    deleted_at, last_synced_at
  ) values (
    p_environment, p_price ->> 'id', payments_private.stripe_id(p_price -> 'product'),
    not v_deleted and coalesce((p_price ->> 'active')::boolean, true),
    lower(p_price ->> 'currency'), (p_price ->> 'unit_amount')::bigint,
    coalesce(p_price ->> 'type', case when v_recurring is null then 'one_time' else 'recurring' end),
    v_recurring ->> 'interval', (v_recurring ->> 'interval_count')::integer,
    p_price ->> 'lookup_key', p_price ->> 'nickname', coalesce(p_price -> 'metadata', '{}'::jsonb), p_price,
    payments_private.stripe_time(p_price -> 'created'), p_at, case when v_deleted then p_at end, p_synced_at
  )
  on conflict (environment, price_id) do update set
    product_id = excluded.product_id, active = excluded.active, currency = excluded.currency,
    unit_amount = excluded.unit_amount, type = excluded.type, recurring_interval = excluded.recurring_interval,
    recurring_interval_count = excluded.recurring_interval_count, lookup_key = excluded.lookup_key,
    nickname = excluded.nickname, metadata = excluded.metadata, raw = excluded.raw,
    stripe_created_at = coalesce(excluded.stripe_created_at, t.stripe_created_at),
    stripe_updated_at = excluded.stripe_updated_at, deleted_at = excluded.deleted_at, archived_at = null,
    last_synced_at = coalesce(excluded.last_synced_at, t.last_synced_at)
  where t.deleted_at is null and excluded.stripe_updated_at >= t.stripe_updated_at;
  return found;
end;
$$;
comment on function payments_private.upsert_price(text, jsonb, timestamptz, boolean, timestamptz) is 'Mirrors a Stripe Price unless the row holds newer state or was deleted; true when applied.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.upsert_product(text, jsonb, timestamptz, boolean, timestamptz),
  payments_private.upsert_price(text, jsonb, timestamptz, boolean, timestamptz)
from public;

-- migrate:down
