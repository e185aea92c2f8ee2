-- migrate:up

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
  for each row execute function payments_private.set_updated_at();

--------------------------------------------------------------------------------
-- Secrets: Supabase Vault where it exists, otherwise this private table
--------------------------------------------------------------------------------
create table payments_private.provider_secrets (
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
comment on table payments_private.provider_secrets is 'Stripe secret key and webhook signing secret per environment. No API role may read it; only the functions below, owned by the schema owner, touch it.';
revoke all on payments_private.provider_secrets from anon, authenticated, service_role;
alter table payments_private.provider_secrets enable row level security;
create trigger set_updated_at before update on payments_private.provider_secrets
  for each row execute function payments_private.set_updated_at();

-- security definer: the connection role writing secrets may differ from the table owner, and
-- Vault's functions are only callable by privileged roles.
create function payments_private.set_provider_secret(p_environment payments.environment, p_name text, p_value text)
returns void
language plpgsql security definer set search_path = ''
as $$
declare
  v_vault_id uuid;
begin
  if p_value is null or p_value = '' then
    raise exception using errcode = '22023', message = 'Secret value must not be empty.',
      hint = 'Use payments_private.delete_provider_secret to remove a secret.';
  end if;

  if to_regnamespace('vault') is not null then
    select s.vault_secret_id into v_vault_id
    from payments_private.provider_secrets s
    where s.provider = 'stripe' and s.environment = p_environment and s.name = p_name;

    if v_vault_id is null then
      execute 'select vault.create_secret($1, $2, $3)'
        into v_vault_id
        using p_value, format('payments_stripe_%s_%s', p_environment, p_name),
          format('Stripe %s for the %s environment (payments schema)', p_name, p_environment);
    else
      execute 'select vault.update_secret($1, $2)' using v_vault_id, p_value;
    end if;
  end if;

  -- The row holds the value itself only where there is no Vault secret to point to.
  insert into payments_private.provider_secrets (environment, name, value, vault_secret_id)
  values (p_environment, p_name, case when v_vault_id is null then p_value end, v_vault_id)
  on conflict (provider, environment, name)
    do update set value = excluded.value, vault_secret_id = excluded.vault_secret_id;
end;
$$;
comment on function payments_private.set_provider_secret(payments.environment, text, text) is 'Stores a Stripe secret for an environment, in Supabase Vault when the vault schema exists.';

-- security definer: reads Vault's decrypted view, which API roles cannot.
create function payments_private.get_provider_secret(p_environment payments.environment, p_name text)
returns text
language plpgsql stable security definer set search_path = ''
as $$
declare
  v_row payments_private.provider_secrets;
  v_value text;
begin
  select * into v_row
  from payments_private.provider_secrets s
  where s.provider = 'stripe' and s.environment = p_environment and s.name = p_name;

  if v_row.vault_secret_id is null then
    return v_row.value;
  end if;

  execute 'select decrypted_secret from vault.decrypted_secrets where id = $1'
    into v_value using v_row.vault_secret_id;
  return v_value;
end;
$$;
comment on function payments_private.get_provider_secret(payments.environment, text) is 'Reads a Stripe secret. Not executable by any API role: only the server-side connection role calls it.';

-- The one door the edge function reads its Stripe secrets through. No API role may execute it
-- (not even service_role, which could otherwise read the key through the Data API): only the
-- function's own database connection, the schema's owner, calls it.
create function payments.stripe_secret(p_environment text, p_name text)
returns text
language plpgsql stable set search_path = ''
as $$
begin
  if p_name is null or p_name not in ('secret_key', 'webhook_secret') then
    perform payments_private.invalid_request('name', 'must be secret_key or webhook_secret.');
  end if;
  return payments_private.get_provider_secret(payments_private.require_environment(p_environment)::payments.environment, p_name);
end;
$$;
comment on function payments.stripe_secret(text, text) is 'The stored Stripe secret key (secret_key) or webhook signing secret (webhook_secret) of an environment, or null. For the edge function''s own connection only: no API role may execute it.';

-- security definer: deletes from Vault, which API roles cannot.
create function payments_private.delete_provider_secret(p_environment payments.environment, p_name text)
returns void
language plpgsql security definer set search_path = ''
as $$
declare
  v_vault_id uuid;
begin
  delete from payments_private.provider_secrets s
  where s.provider = 'stripe' and s.environment = p_environment and s.name = p_name
  returning s.vault_secret_id into v_vault_id;

  if v_vault_id is not null then
    execute 'delete from vault.secrets where id = $1' using v_vault_id;
  end if;
end;
$$;
comment on function payments_private.delete_provider_secret(payments.environment, text) is 'Removes a Stripe secret, from Vault too.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.set_provider_secret(payments.environment, text, text),
  payments_private.get_provider_secret(payments.environment, text),
  payments_private.delete_provider_secret(payments.environment, text),
  payments.stripe_secret(text, text)
from public;

-- migrate:down
