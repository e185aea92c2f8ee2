-- Supabase-compatible `auth.uid()`, `auth.jwt()` and `auth.role()` for plain PostgreSQL.
--
-- They read the JWT claims the way PostgREST and Supabase pass them: the transaction setting
-- `request.jwt.claims` (a JSON object). An existing `auth` schema (Supabase) is left untouched:
-- a function is created only where none of that name exists, and grants are made only on what
-- this file created. After a transaction-local `set_config` the setting reads '' rather than
-- NULL, hence `nullif(..., '')`.

do $$
begin
  if to_regnamespace('auth') is null then
    create schema auth;
    comment on schema auth is
      'Supabase-compatible auth helpers for plain PostgreSQL (created by sql/compat).';
    grant usage on schema auth to anon, authenticated, service_role;
  end if;

  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt()
    returns jsonb
    language sql
    stable
    set search_path = ''
    as $fn$
      select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb
    $fn$;
    comment on function auth.jwt() is 'The JWT claims of the current request, or null.';
    grant execute on function auth.jwt() to anon, authenticated, service_role;
  end if;

  if to_regprocedure('auth.uid()') is null then
    create function auth.uid()
    returns uuid
    language sql
    stable
    set search_path = ''
    as $fn$
      select (
        nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
      )::uuid
    $fn$;
    comment on function auth.uid() is 'The user id (claim sub) of the current request, or null.';
    grant execute on function auth.uid() to anon, authenticated, service_role;
  end if;

  if to_regprocedure('auth.role()') is null then
    create function auth.role()
    returns text
    language sql
    stable
    set search_path = ''
    as $fn$
      select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
    $fn$;
    comment on function auth.role() is 'The role claim of the current request, or null.';
    grant execute on function auth.role() to anon, authenticated, service_role;
  end if;
end
$$;
