-- migrate:up

--------------------------------------------------------------------------------
-- The per-user cap counts Stripe session attempts, not rows: a new checkout or portal row, and
-- every restart of a failed or expired checkout row (each makes a new Stripe session), is one
-- attempt. Counting rows let a caller retry one failing idempotency key without limit.
--------------------------------------------------------------------------------

create table payments_private.session_attempts (
  user_id uuid not null,
  attempted_at timestamptz not null default pg_catalog.statement_timestamp()
);
comment on table payments_private.session_attempts is 'One row per Stripe session attempt of a user in the last minute (older rows are pruned as the user makes new ones): what payments.sessions_per_minute caps.';
create index session_attempts_user_idx on payments_private.session_attempts (user_id, attempted_at);
-- No API role reaches payments_private; RLS without policies keeps it closed even if one did.
alter table payments_private.session_attempts enable row level security;

-- The advisory lock makes one user's concurrent attempts, on any instance, count one after another.
create function payments_private.guard_session_attempts(p_user uuid, p_new_attempt boolean)
returns void
language plpgsql volatile set search_path = ''
as $$
declare
  v_limit integer := coalesce(nullif(current_setting('payments.sessions_per_minute', true), '')::integer, 20);
  v_window_start timestamptz := pg_catalog.statement_timestamp() - interval '1 minute';
  v_count integer;
  v_oldest timestamptz;
  v_retry integer;
begin
  if p_user is null or v_limit <= 0 then
    return;
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('payments.sessions:' || p_user::text, 0));
  -- Attempts that left the window are never counted again: the table stays as small as the cap.
  delete from payments_private.session_attempts a
  where a.user_id = p_user and a.attempted_at <= v_window_start;
  if p_new_attempt then
    insert into payments_private.session_attempts (user_id) values (p_user);
  end if;
  select count(*), min(a.attempted_at) into v_count, v_oldest
  from payments_private.session_attempts a
  where a.user_id = p_user;
  if v_count > v_limit then
    v_retry := greatest(1, ceil(extract(epoch from v_oldest + interval '1 minute' - pg_catalog.statement_timestamp()))::integer);
    -- Raising undoes the attempt's row, restart or insert: a refused attempt does not count.
    raise exception using errcode = 'PT429',
      message = format('At most %s checkout and portal sessions a minute may be created per user.', v_limit),
      detail = jsonb_build_object('retryAfter', v_retry)::text,
      hint = format('Retry after %s seconds.', v_retry);
  end if;
end;
$$;
comment on function payments_private.guard_session_attempts(uuid, boolean) is 'Counts a new Stripe session attempt of a user (when p_new_attempt) and raises PT429 (DETAIL {"retryAfter": seconds}) when the user made more than payments.sessions_per_minute (default 20; 0 turns the cap off) in the last minute.';
revoke execute on function payments_private.guard_session_attempts(uuid, boolean) from public;

-- security definer: it writes payments_private.session_attempts, which the inserting role (a
-- user, through create_checkout_session or straight into the table) cannot reach. After insert,
-- so a replayed idempotency key (on conflict do nothing) is not an attempt.
create function payments_private.count_session_row()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform payments_private.guard_session_attempts(new.created_by, true);
  return null;
end;
$$;
comment on function payments_private.count_session_row() is 'After insert on the checkout and portal session tables: a new row is a Stripe session attempt of its creator, refused over the cap.';
revoke execute on function payments_private.count_session_row() from public;
create trigger count_session_attempt after insert on payments.stripe_checkout_sessions
  for each row execute function payments_private.count_session_row();
create trigger count_session_attempt after insert on payments.stripe_customer_portal_sessions
  for each row execute function payments_private.count_session_row();

-- security definer: it reads payments_private.session_attempts for the calling user only.
create or replace function payments.check_session_rate()
returns void
language plpgsql volatile security definer set search_path = ''
as $$
begin
  perform payments_private.guard_session_attempts((select auth.uid()), false);
end;
$$;
comment on function payments.check_session_rate() is 'PT429 (DETAIL {"retryAfter": seconds}) when the calling user made more than payments.sessions_per_minute (default 20; 0 turns the cap off) Stripe session attempts in the last minute: new checkout and portal rows and restarts of failed or expired checkout rows.';

-- security definer: a service-role entry point that reaches the private row-lock helper and the
-- attempt count; EXECUTE is granted to service_role only.
create or replace function payments.restart_checkout_session(p_id uuid)
returns payments.stripe_checkout_sessions
language plpgsql security definer set search_path = ''
as $$
declare
  v_row payments.stripe_checkout_sessions;
begin
  -- Locked: two concurrent retries bump the attempt once.
  v_row := payments_private.lock_checkout_session(p_id);
  -- The only place that decides whether a row's Stripe session may be handed out: a session
  -- lapsing within a minute is replaced too, since a buyer needs time to pay.
  if v_row.status in ('expired', 'failed')
     or (v_row.status = 'open' and v_row.expires_at <= now() + interval '1 minute') then
    update payments.stripe_checkout_sessions s
    set status = 'initialized', attempt = s.attempt + 1, checkout_session_id = null, url = null,
        expires_at = null, last_error = null, payment_status = null
    where s.id = p_id
    returning * into v_row;
    -- A new attempt makes a new Stripe session: it counts toward its creator's cap.
    perform payments_private.guard_session_attempts(v_row.created_by, true);
  end if;
  return v_row;
end;
$$;
comment on function payments.restart_checkout_session(uuid) is 'Decides whether a checkout row''s Stripe session can be handed out: an expired, failed or lapsing (within a minute) row is readied for a new Stripe session (status initialized, next attempt, counted toward the creator''s cap: PT429 over it, leaving the row unchanged); any other row is returned unchanged. Reads payments.sessions_per_minute.';

-- migrate:down
