-- migrate:up

-- Billing Portal sessions opened by the app for a subject that has a Stripe customer: the row RLS
-- guards, the customer (always the subject's mapping), and recording what Stripe answered.

create table payments.stripe_customer_portal_sessions (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  created_by uuid not null,
  subject_type payments.subject_type not null,
  subject_id text not null check (subject_id <> ''),
  customer_id text,
  return_url text,
  configuration_id text,
  status text not null default 'initialized' check (status in ('initialized', 'created', 'failed')),
  portal_session_id text,
  url text,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table payments.stripe_customer_portal_sessions is 'Billing Portal sessions opened by the app for a subject that has a Stripe customer.';
create index stripe_customer_portal_sessions_subject_idx
  on payments.stripe_customer_portal_sessions (environment, subject_type, subject_id);
grant select on payments.stripe_customer_portal_sessions to authenticated;
-- Not customer_id: the row's trigger sets it.
grant insert (
  environment, created_by, subject_type, subject_id, return_url, configuration_id
) on payments.stripe_customer_portal_sessions to authenticated;
grant select, insert, update, delete on payments.stripe_customer_portal_sessions to service_role;
alter table payments.stripe_customer_portal_sessions enable row level security;
create policy "Users can read their own portal sessions" on payments.stripe_customer_portal_sessions
  for select to authenticated
  using (created_by = (select auth.uid()));
create policy "Users can create portal sessions for themselves" on payments.stripe_customer_portal_sessions
  for insert to authenticated
  with check (
    created_by = (select auth.uid())
    and subject_type = 'user'
    and subject_id = (select auth.uid())::text
  );
create trigger set_updated_at before update on payments.stripe_customer_portal_sessions
  for each row execute function payments_private.set_updated_at();

-- security invoker on purpose: the mapping is read through the inserting role's RLS, so a user
-- gets a customer only for a subject whose mapping they may see.
create function payments_private.set_portal_customer()
returns trigger
language plpgsql security invoker set search_path = ''
as $$
begin
  select m.provider_customer_id into new.customer_id
  from payments.customer_mappings m
  where m.provider = 'stripe' and m.environment = new.environment
    and m.subject_type = new.subject_type and m.subject_id = new.subject_id;
  return new;
end;
$$;
comment on function payments_private.set_portal_customer() is 'Before insert on stripe_customer_portal_sessions: the customer is the subject''s mapping visible to the inserting role, never a value the inserter chose.';
create trigger set_portal_customer before insert on payments.stripe_customer_portal_sessions
  for each row execute function payments_private.set_portal_customer();

--------------------------------------------------------------------------------
-- Billing Portal sessions
--------------------------------------------------------------------------------

-- security invoker: the INSERT policy decides the subject, and the row's trigger looks the
-- customer up through the caller's SELECT policies, so nothing about other subjects leaks.
create function payments.create_customer_portal_session(p_environment text, p_request jsonb)
returns payments.stripe_customer_portal_sessions
language plpgsql security invoker set search_path = ''
as $$
declare
  v_uid uuid := (select auth.uid());
  v_row payments.stripe_customer_portal_sessions;
begin
  if v_uid is null then
    raise exception using errcode = '42501', message = 'An authenticated user is required to open a billing portal.',
      hint = 'Call with a user JWT.';
  end if;
  p_request := coalesce(p_request, '{}'::jsonb);
  perform payments.validate_session_request('portal', p_environment, p_request);

  -- Insert before judging the mapping, so a refused subject gives 42501, never PT404.
  insert into payments.stripe_customer_portal_sessions
    (environment, created_by, subject_type, subject_id, return_url, configuration_id)
  values (p_environment, v_uid, coalesce(p_request -> 'subject' ->> 'type', 'user'),
          coalesce(p_request -> 'subject' ->> 'id', v_uid::text),
          p_request ->> 'returnUrl', p_request ->> 'configurationId')
  returning * into v_row;

  if v_row.customer_id is null then
    -- Raising undoes the insert: nothing stays written.
    raise exception using errcode = 'PT404',
      message = format('No Stripe customer bills subject %s %s in %s.', v_row.subject_type, v_row.subject_id, p_environment),
      hint = 'The subject needs a completed checkout (or a linked customer) before it can open the billing portal.';
  end if;
  perform payments.check_session_rate();
  return v_row;
end;
$$;
comment on function payments.create_customer_portal_session(text, jsonb) is 'Creates the portal row of the calling user for a subject (default: the user) with its Stripe customer (security invoker: RLS decides). 42501 refused subject, PT404 no customer mapping visible to the caller, PT400 invalid request, PT429 too many new sessions a minute.';

-- security definer (both record_* functions): service-role entry points that reach the private
-- session-row helpers; EXECUTE is granted to service_role only.
create function payments.record_customer_portal_session_result(p_id uuid, p_session jsonb)
returns payments.stripe_customer_portal_sessions
language plpgsql security definer set search_path = ''
as $$
declare
  v_row payments.stripe_customer_portal_sessions;
begin
  if p_session is null or jsonb_typeof(p_session -> 'id') is distinct from 'string' then
    perform payments_private.invalid_request('session.id', 'must be the id of a Stripe Billing Portal session.');
  end if;
  perform payments_private.lock_session(null::payments.stripe_customer_portal_sessions, p_id, 'Portal session');
  update payments.stripe_customer_portal_sessions s
  set status = 'created', portal_session_id = p_session ->> 'id', url = p_session ->> 'url',
      customer_id = coalesce(payments_private.stripe_id(p_session -> 'customer'), s.customer_id), last_error = null
  where s.id = p_id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function payments.record_customer_portal_session_result(uuid, jsonb) is 'Records the Stripe Billing Portal session (id, url) created for a portal row.';

create function payments.record_customer_portal_session_failure(p_id uuid, p_error text)
returns payments.stripe_customer_portal_sessions
language sql security definer set search_path = ''
as $$
  select payments_private.record_session_failure(
    payments_private.lock_session(null::payments.stripe_customer_portal_sessions, p_id, 'Portal session'), p_error, 'created')
$$;
comment on function payments.record_customer_portal_session_failure(uuid, text) is 'Marks a portal row failed with the Stripe error (a created row stays created).';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.set_portal_customer(),
  payments.create_customer_portal_session(text, jsonb),
  payments.record_customer_portal_session_result(uuid, jsonb),
  payments.record_customer_portal_session_failure(uuid, text)
from public;
grant execute on function
  payments.create_customer_portal_session(text, jsonb)
to authenticated, service_role;
grant execute on function
  payments.record_customer_portal_session_result(uuid, jsonb),
  payments.record_customer_portal_session_failure(uuid, text)
to service_role;

-- migrate:down
