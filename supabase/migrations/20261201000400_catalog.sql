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
-- Operator requests: the product and price bodies of the catalog routes
--------------------------------------------------------------------------------

-- Every field at once, before anything reaches Stripe: types, lengths and the metadata rule. What
-- Stripe refuses beyond these (an amount over its maximum for a currency) comes back as its own
-- 400. security definer: a service-role entry point that reaches the private request-error
-- helpers.
create function payments.validate_catalog_request(p_kind text, p_creating boolean, p_request jsonb)
returns void
language plpgsql immutable security definer set search_path = ''
as $$
declare
  v_fields text[] := case
    when p_kind = 'product' then array['name', 'description', 'active', 'metadata']
    when p_creating then array['productId', 'currency', 'unitAmount', 'recurring', 'nickname', 'lookupKey', 'active', 'metadata']
    else array['nickname', 'lookupKey', 'active', 'metadata']
  end;
  v_errors jsonb;
  v_text record;
  v_recurring jsonb := p_request -> 'recurring';
  v_count jsonb := p_request -> 'recurring' -> 'intervalCount';
begin
  if p_kind is null or p_kind not in ('product', 'price') or p_creating is null then
    perform payments_private.invalid_request('kind', 'must be product or price, to create or to update.');
  end if;
  if jsonb_typeof(p_request) is distinct from 'object' then
    perform payments_private.invalid_request('body', 'must be a JSON object.');
  end if;

  select coalesce(jsonb_agg(jsonb_build_object('field', f.key, 'message', case
           when p_kind = 'price' and not p_creating
             then 'is not accepted: a price''s product, currency, amount and interval never change (as in Stripe); create a new price and archive this one.'
           else format('is not accepted; a %s takes %s.', p_kind, array_to_string(v_fields, ', '))
         end) order by f.key), '[]'::jsonb)
  into v_errors
  from jsonb_object_keys(p_request) f(key)
  where not (f.key = any (v_fields));
  if not p_creating and p_request = '{}'::jsonb then
    v_errors := v_errors || payments_private.field_error('body', format('must change one of %s.', array_to_string(v_fields, ', ')));
  end if;

  -- Text fields: a string within Stripe's length, or null to clear the ones that may be cleared.
  for v_text in
    select t.field, t.max_length, t.clearable
    from (values ('name', 250, false), ('description', 5000, true), ('nickname', 250, true), ('lookupKey', 200, true))
      as t(field, max_length, clearable)
    where t.field = any (v_fields) and p_request ? t.field
  loop
    if not ((jsonb_typeof(p_request -> v_text.field) = 'string' and length(p_request ->> v_text.field) <= v_text.max_length)
            or (v_text.clearable and jsonb_typeof(p_request -> v_text.field) = 'null')) then
      v_errors := v_errors || payments_private.field_error(v_text.field,
        format('must be a string of at most %s characters%s.', v_text.max_length, case when v_text.clearable then ', or null to clear it' else '' end));
    end if;
  end loop;
  if p_kind = 'product' and ((p_creating and not p_request ? 'name') or p_request ->> 'name' = '') then
    v_errors := v_errors || payments_private.field_error('name', 'is required.');
  end if;
  if p_request ? 'active' and jsonb_typeof(p_request -> 'active') <> 'boolean' then
    v_errors := v_errors || payments_private.field_error('active', 'must be true or false.');
  end if;
  -- Stripe reads an empty metadata parameter as "remove every key": null is refused, not passed on.
  if jsonb_typeof(p_request -> 'metadata') = 'null' then
    v_errors := v_errors || payments_private.field_error('metadata',
      'must be an object of strings (a key set to "" is removed).');
  end if;
  v_errors := v_errors || payments_private.metadata_errors('metadata', p_request -> 'metadata');

  if p_kind = 'price' and p_creating then
    if coalesce(p_request ->> 'productId', '') !~ '^prod_[A-Za-z0-9_]+$' or jsonb_typeof(p_request -> 'productId') <> 'string' then
      v_errors := v_errors || payments_private.field_error('productId', 'must be a Stripe product id (prod_...).');
    end if;
    if coalesce(p_request ->> 'currency', '') !~ '^[A-Za-z]{3}$' or jsonb_typeof(p_request -> 'currency') <> 'string' then
      v_errors := v_errors || payments_private.field_error('currency', 'must be a three-letter ISO currency code.');
    end if;
    if jsonb_typeof(p_request -> 'unitAmount') is distinct from 'number'
       or (p_request ->> 'unitAmount')::numeric not between 0 and 9007199254740991
       or (p_request ->> 'unitAmount')::numeric <> trunc((p_request ->> 'unitAmount')::numeric) then
      v_errors := v_errors || payments_private.field_error('unitAmount',
        'must be a whole number of the currency''s smallest unit (cents), 0 or more.');
    end if;
    if coalesce(jsonb_typeof(v_recurring), 'null') = 'null' then
      null;
    elsif jsonb_typeof(v_recurring) <> 'object' then
      v_errors := v_errors || payments_private.field_error('recurring', 'must be {interval, intervalCount}.');
    elsif jsonb_typeof(v_recurring -> 'interval') is distinct from 'string'
          or v_recurring ->> 'interval' not in ('day', 'week', 'month', 'year') then
      v_errors := v_errors || payments_private.field_error('recurring.interval', 'must be day, week, month or year.');
    elsif v_count is not null
          and (jsonb_typeof(v_count) <> 'number' or (v_count #>> '{}')::numeric not between 1 and 9007199254740991
               or (v_count #>> '{}')::numeric <> trunc((v_count #>> '{}')::numeric)) then
      v_errors := v_errors || payments_private.field_error('recurring.intervalCount', 'must be a whole number, 1 or more.');
    end if;
  end if;
  perform payments_private.raise_invalid(v_errors);
end;
$$;
comment on function payments.validate_catalog_request(text, boolean, jsonb) is 'Checks the body of a product or price (p_kind) create or update (p_creating) of the catalog routes: PT400 listing every invalid or unknown field (DETAIL: JSON list of {field, message}); nothing for a valid body.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.upsert_product(text, jsonb, timestamptz, boolean, timestamptz),
  payments_private.upsert_price(text, jsonb, timestamptz, boolean, timestamptz),
  payments.validate_catalog_request(text, boolean, jsonb)
from public;
grant execute on function
  payments.validate_catalog_request(text, boolean, jsonb)
to service_role;

-- migrate:down
