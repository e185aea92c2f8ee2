-- Supabase-compatible `auth.uid()`, `auth.jwt()` and `auth.role()` for plain PostgreSQL.
--
-- They read the JWT claims the way PostgREST and Supabase pass them: the transaction setting
-- `request.jwt.claims` (a JSON object). An existing `auth` schema (Supabase) is left untouched:
-- a function is created only where none of that name exists, and grants are made only on what
-- this file created. After a transaction-local `set_config` the setting reads '' rather than
-- NULL, hence `nullif(..., '')`.

do $$
declare
  claims constant text :=
    $claims$nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb$claims$;
  auth_function record;
begin
  if to_regnamespace('auth') is null then
    create schema auth;
    comment on schema auth is
      'Supabase-compatible auth helpers for plain PostgreSQL (created by sql/compat).';
    grant usage on schema auth to anon, authenticated, service_role;
  end if;

  -- Each function: its name, its type, what it selects from the claims (%s), its comment.
  for auth_function in
    select *
    from (values
      ('jwt', 'jsonb', '%s', 'The JWT claims of the current request, or null.'),
      ('uid', 'uuid', '(%s ->> ''sub'')::uuid',
        'The user id (claim sub) of the current request, or null.'),
      ('role', 'text', '%s ->> ''role''', 'The role claim of the current request, or null.')
    ) as f (name, returns, selects, description)
  loop
    if to_regprocedure(format('auth.%I()', auth_function.name)) is null then
      execute format(
        $fn$create function auth.%I() returns %s language sql stable set search_path = '' as %L$fn$,
        auth_function.name,
        auth_function.returns,
        'select ' || format(auth_function.selects, claims)
      );
      execute format(
        'comment on function auth.%I() is %L',
        auth_function.name,
        auth_function.description
      );
      execute format(
        'grant execute on function auth.%I() to anon, authenticated, service_role',
        auth_function.name
      );
    end if;
  end loop;
end
$$;
