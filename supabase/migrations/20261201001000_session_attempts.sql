-- migrate:up

--------------------------------------------------------------------------------
-- The per-user cap on Stripe session attempts: a new checkout or portal row, and every restart
-- of a failed or expired checkout row (each makes a new Stripe session), is one attempt. Counting
-- attempts rather than rows keeps a caller from retrying one failing idempotency key without
-- limit. The cap is the transaction-local setting payments.sessions_per_minute, which the edge
-- function sets (unset: 20 a minute; 0 turns it off).
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
create trigger count_session_attempt after insert on payments.stripe_checkout_sessions
  for each row execute function payments_private.count_session_row();
create trigger count_session_attempt after insert on payments.stripe_customer_portal_sessions
  for each row execute function payments_private.count_session_row();

-- security definer: it reads payments_private.session_attempts for the calling user only.
create function payments.check_session_rate()
returns void
language plpgsql volatile security definer set search_path = ''
as $$
begin
  perform payments_private.guard_session_attempts((select auth.uid()), false);
end;
$$;
comment on function payments.check_session_rate() is 'PT429 (DETAIL {"retryAfter": seconds}) when the calling user made more than payments.sessions_per_minute (default 20; 0 turns the cap off) Stripe session attempts in the last minute: new checkout and portal rows and restarts of failed or expired checkout rows.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.guard_session_attempts(uuid, boolean),
  payments_private.count_session_row(),
  payments.check_session_rate()
from public;
grant execute on function
  payments.check_session_rate()
to authenticated, service_role;

-- migrate:down
