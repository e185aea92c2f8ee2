-- Secret storage: the private table on plain Postgres, Supabase Vault where the vault schema exists.
begin;
select plan(9);

select payments_private.set_provider_secret('test', 'secret_key', 'sk_test_one');
select payments_private.set_provider_secret('test', 'secret_key', 'sk_test_two');
select is(payments_private.get_provider_secret('test', 'secret_key'), 'sk_test_two',
  'Setting a secret twice keeps the newest value.');
select is(payments_private.get_provider_secret('live', 'secret_key'), null,
  'Environments keep separate secrets.');
select throws_ok($$select payments_private.set_provider_secret('test', 'secret_key', '')$$, '22023', null,
  'An empty secret is refused.');
select throws_ok($$select payments_private.set_provider_secret('test', 'password', 'x')$$, '23514', null,
  'Only the known secret names are stored.');
select payments_private.delete_provider_secret('test', 'secret_key');
select is(payments_private.get_provider_secret('test', 'secret_key'), null, 'A deleted secret is gone.');

-- A stand-in with the interface of Supabase Vault (the supabase_vault extension is not
-- installable on plain Postgres): create_secret, update_secret, secrets, decrypted_secrets.
create schema vault;
create table vault.secrets (id uuid primary key default gen_random_uuid(), name text unique, description text, secret text);
create view vault.decrypted_secrets as select id, name, description, secret as decrypted_secret from vault.secrets;
create function vault.create_secret(new_secret text, new_name text default null, new_description text default '')
returns uuid language sql as $$
  insert into vault.secrets (name, description, secret) values (new_name, new_description, new_secret) returning id
$$;
create function vault.update_secret(secret_id uuid, new_secret text default null)
returns void language sql as $$ update vault.secrets set secret = new_secret where id = secret_id $$;

select payments_private.set_provider_secret('live', 'webhook_secret', 'whsec_one');
select payments_private.set_provider_secret('live', 'webhook_secret', 'whsec_two');
select is((select count(*)::int from vault.secrets where name = 'payments_stripe_live_webhook_secret'), 1,
  'With Vault present the secret is stored in Vault, once.');
select is((select value from payments_private.provider_secrets where environment = 'live' and name = 'webhook_secret'), null,
  'With Vault present the private table holds no secret value.');
select is(payments_private.get_provider_secret('live', 'webhook_secret'), 'whsec_two',
  'The secret is read back from Vault.');
select payments_private.delete_provider_secret('live', 'webhook_secret');
select is_empty('select 1 from vault.secrets', 'Deleting the secret removes it from Vault.');

select * from finish();
rollback;
