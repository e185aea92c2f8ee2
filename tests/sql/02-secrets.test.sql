-- Secret storage: the private table on plain Postgres, Supabase Vault where the vault schema exists.
begin;
select plan(11);

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

-- Where the database has no Vault (plain PostgreSQL) the secret sits in the private table; on a
-- Supabase-shaped database Vault is there from the start and this path does not exist.
select to_regnamespace('vault') is null as no_vault \gset
\if :no_vault
select payments_private.set_provider_secret('test', 'webhook_secret', 'whsec_plain');
select is((select value from payments_private.provider_secrets where environment = 'test' and name = 'webhook_secret'), 'whsec_plain',
  'Without Vault the private table holds the secret.');
select payments_private.delete_provider_secret('test', 'webhook_secret');
-- Then the Vault stand-in of the Supabase-shaped test database (it encrypts with pgcrypto).
create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;
\ir ../vendor/supabase/stand-ins/vault.sql
\else
select skip('This database has Vault, so the private-table path does not apply.', 1);
\endif

select payments_private.set_provider_secret('live', 'webhook_secret', 'whsec_one');
select payments_private.set_provider_secret('live', 'webhook_secret', 'whsec_two');
select is((select count(*)::int from vault.secrets where name = 'payments_stripe_live_webhook_secret'), 1,
  'With Vault present the secret is stored in Vault, once.');
select is((select value from payments_private.provider_secrets where environment = 'live' and name = 'webhook_secret'), null,
  'With Vault present the private table holds no secret value.');
select is(payments_private.get_provider_secret('live', 'webhook_secret'), 'whsec_two',
  'The secret is read back from Vault.');
select is_empty($$select 1 from vault.secrets where secret like '%whsec_%'$$,
  'Vault stores the secret through its own functions, encrypted.');
select payments_private.delete_provider_secret('live', 'webhook_secret');
select is_empty('select 1 from vault.secrets', 'Deleting the secret removes it from Vault.');

select * from finish();
rollback;
