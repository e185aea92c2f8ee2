-- migrate:up

-- Resumable sync. A run remembers when it started (archiving and the history window depend on
-- it) and, per Stripe object type, the last id it wrote: an interrupted sync continues after its
-- last page instead of listing the whole account again. Each page and its checkpoint are written
-- in one transaction, so a checkpoint never names a page that was not stored.

create table payments_private.sync_runs (
  environment payments.environment primary key,
  started_at timestamptz not null default now(),
  finished_at timestamptz
);
comment on table payments_private.sync_runs is 'The latest sync per environment: when it started and, once every object type is done, when it finished.';
alter table payments_private.sync_runs enable row level security;

create table payments_private.sync_checkpoints (
  environment payments.environment not null references payments_private.sync_runs (environment) on delete cascade,
  object_type text not null,
  cursor text,
  total integer not null default 0,
  completed boolean not null default false,
  updated_at timestamptz not null default now(),
  primary key (environment, object_type)
);
comment on table payments_private.sync_checkpoints is 'Per object type of the running sync: the id of the last object written (the next page starts after it), how many were written, and whether the type is done (listed and archived).';
alter table payments_private.sync_checkpoints enable row level security;

-- security definer (every function below): service-role entry points that write the private
-- sync state; EXECUTE is granted to service_role only.

create function payments.start_stripe_sync(p_environment text, p_resume boolean default false)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  v_run payments_private.sync_runs;
begin
  perform payments_private.require_environment(p_environment);
  select * into v_run from payments_private.sync_runs r where r.environment = p_environment::payments.environment for update;
  if coalesce(p_resume, false) and v_run.environment is not null and v_run.finished_at is null then
    return jsonb_build_object(
      'startedAt', v_run.started_at,
      'resumed', true,
      'checkpoints', coalesce((
        select jsonb_object_agg(c.object_type, jsonb_build_object('cursor', c.cursor, 'total', c.total, 'completed', c.completed))
        from payments_private.sync_checkpoints c where c.environment = v_run.environment), '{}'));
  end if;
  delete from payments_private.sync_runs r where r.environment = p_environment::payments.environment;
  insert into payments_private.sync_runs (environment) values (p_environment::payments.environment)
  returning * into v_run;
  return jsonb_build_object('startedAt', v_run.started_at, 'resumed', false, 'checkpoints', '{}'::jsonb);
end;
$$;
comment on function payments.start_stripe_sync(text, boolean) is 'Starts a sync of an environment, or with p_resume continues its unfinished one. Returns {startedAt, resumed, checkpoints: {objectType: {cursor, total, completed}}}.';
revoke execute on function payments.start_stripe_sync(text, boolean) from public;
grant execute on function payments.start_stripe_sync(text, boolean) to service_role;

-- The run's own start time dates every page, so a resumed run archives exactly what a run
-- without interruption would.
create function payments.sync_stripe_page(p_environment text, p_object_type text, p_objects jsonb)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  v_started timestamptz;
  v_count integer;
  v_total integer;
begin
  perform payments_private.require_environment(p_environment);
  select r.started_at into v_started from payments_private.sync_runs r
  where r.environment = p_environment::payments.environment and r.finished_at is null;
  if v_started is null then
    raise exception using errcode = 'PT404', message = format('No sync is running for the %s environment.', p_environment),
      hint = 'Start one with payments.start_stripe_sync.';
  end if;
  v_count := payments.upsert_stripe_objects(p_environment, p_object_type, p_objects, v_started);
  insert into payments_private.sync_checkpoints as c (environment, object_type, cursor, total)
  values (p_environment::payments.environment, p_object_type, p_objects -> -1 ->> 'id', v_count)
  on conflict (environment, object_type) do update set
    cursor = coalesce(excluded.cursor, c.cursor), total = c.total + excluded.total, updated_at = now()
  returning c.total into v_total;
  return v_total;
end;
$$;
comment on function payments.sync_stripe_page(text, text, jsonb) is 'Mirrors one list page for the running sync and moves its checkpoint to the page''s last object, in one transaction. Returns the total written for the type; PT404 when no sync is running.';
revoke execute on function payments.sync_stripe_page(text, text, jsonb) from public;
grant execute on function payments.sync_stripe_page(text, text, jsonb) to service_role;

-- Archiving and marking the type done share a transaction: a resumed run never skips archiving.
create function payments.complete_stripe_sync_type(p_environment text, p_object_type text)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  v_started timestamptz;
  v_archived integer;
begin
  perform payments_private.require_environment(p_environment);
  select r.started_at into v_started from payments_private.sync_runs r
  where r.environment = p_environment::payments.environment and r.finished_at is null;
  if v_started is null then
    raise exception using errcode = 'PT404', message = format('No sync is running for the %s environment.', p_environment),
      hint = 'Start one with payments.start_stripe_sync.';
  end if;
  if exists (select from payments_private.archivable_mirrors() m where m.object_type = p_object_type) then
    v_archived := payments.archive_unsynced_stripe_objects(p_environment, p_object_type, v_started);
  end if;
  insert into payments_private.sync_checkpoints as c (environment, object_type, completed)
  values (p_environment::payments.environment, p_object_type, true)
  on conflict (environment, object_type) do update set completed = true, updated_at = now();
  return v_archived;
end;
$$;
comment on function payments.complete_stripe_sync_type(text, text) is 'Marks one object type of the running sync done, archiving first what the sync did not see when the type is listed completely. Returns how many rows were archived, null for a type that is not listed completely (history).';
revoke execute on function payments.complete_stripe_sync_type(text, text) from public;
grant execute on function payments.complete_stripe_sync_type(text, text) to service_role;

create function payments.finish_stripe_sync(p_environment text)
returns void
language plpgsql security definer set search_path = ''
as $$
begin
  perform payments_private.require_environment(p_environment);
  update payments_private.sync_runs r set finished_at = now()
  where r.environment = p_environment::payments.environment and r.finished_at is null;
end;
$$;
comment on function payments.finish_stripe_sync(text) is 'Marks the running sync of an environment finished: a later resume starts a new one.';
revoke execute on function payments.finish_stripe_sync(text) from public;
grant execute on function payments.finish_stripe_sync(text) to service_role;

-- migrate:down
