-- Supabase-compatible API roles for plain PostgreSQL.
--
-- On Supabase these roles already exist and this file changes nothing. On plain PostgreSQL it
-- creates them the way Supabase defines them and grants them to the connecting role, so that
-- migrations can grant to them and tests can `set role authenticated`.
-- Idempotent: every step checks first.

do $$
declare
  api_role record;
begin
  for api_role in
    select *
    from (values
      ('anon', false),
      ('authenticated', false),
      ('service_role', true)
    ) as r (name, bypass_rls)
  loop
    if not exists (select 1 from pg_catalog.pg_roles where rolname = api_role.name) then
      execute format(
        'create role %I nologin noinherit%s',
        api_role.name,
        case when api_role.bypass_rls then ' bypassrls' else '' end
      );
    end if;
    if not pg_catalog.pg_has_role(current_user, api_role.name, 'member') then
      execute format('grant %I to %I', api_role.name, current_user);
    end if;
  end loop;
end
$$;
