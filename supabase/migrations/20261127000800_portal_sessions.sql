-- migrate:up

-- Billing Portal sessions opened by the app for a subject that has a Stripe customer: the
-- request rules, the row RLS guards, and recording what Stripe answered.

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
grant insert (
  environment, created_by, subject_type, subject_id, customer_id, return_url, configuration_id
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

--------------------------------------------------------------------------------
-- The request
--------------------------------------------------------------------------------

create function payments_private.portal_request_errors(p_request jsonb)
returns jsonb
language plpgsql immutable set search_path = ''
as $$
begin
  if jsonb_typeof(p_request) is distinct from 'object' then
    return payments_private.field_error('request', 'must be a JSON object.');
  end if;
  return payments_private.subject_errors(p_request -> 'subject', false)
    || payments_private.url_errors(p_request -> 'returnUrl', 'returnUrl', false)
    || case when coalesce(jsonb_typeof(p_request -> 'configurationId'), 'null') <> 'null'
              and (jsonb_typeof(p_request -> 'configurationId') <> 'string'
                   or (p_request ->> 'configurationId') !~ '^bpc_[A-Za-z0-9]+$')
         then payments_private.field_error('configurationId', 'must be a Billing Portal configuration id (bpc_...).')
         else '[]'::jsonb end;
end;
$$;
comment on function payments_private.portal_request_errors(jsonb) is 'Every problem of a billing portal request as a list of {field, message}; empty when the request is valid.';
revoke execute on function payments_private.portal_request_errors(jsonb) from public;

--------------------------------------------------------------------------------
-- Billing Portal sessions
--------------------------------------------------------------------------------

-- security invoker: the INSERT policy decides the subject and the customer mapping is looked up
-- through the caller's SELECT policies, so nothing about other subjects leaks.
create function payments.create_customer_portal_session(p_environment text, p_request jsonb)
returns payments.stripe_customer_portal_sessions
language plpgsql security invoker set search_path = ''
as $$
declare
  v_uid uuid := (select auth.uid());
  v_subject_type text;
  v_subject_id text;
  v_customer text;
  v_row payments.stripe_customer_portal_sessions;
begin
  if v_uid is null then
    raise exception using errcode = '42501', message = 'An authenticated user is required to open a billing portal.',
      hint = 'Call with a user JWT.';
  end if;
  p_request := coalesce(p_request, '{}'::jsonb);
  perform payments.validate_session_request('portal', p_environment, p_request);
  v_subject_type := coalesce(p_request -> 'subject' ->> 'type', 'user');
  v_subject_id := coalesce(p_request -> 'subject' ->> 'id', v_uid::text);

  -- Read as the caller: a subject whose mapping the caller cannot see has no customer for them.
  select m.provider_customer_id into v_customer
  from payments.customer_mappings m
  where m.provider = 'stripe' and m.environment = p_environment
    and m.subject_type = v_subject_type and m.subject_id = v_subject_id;

  -- Insert before judging the mapping, so a refused subject gives 42501, never PT404.
  insert into payments.stripe_customer_portal_sessions
    (environment, created_by, subject_type, subject_id, customer_id, return_url, configuration_id)
  values (p_environment, v_uid, v_subject_type, v_subject_id, v_customer,
          p_request ->> 'returnUrl', p_request ->> 'configurationId')
  returning * into v_row;

  if v_customer is null then
    -- Raising undoes the insert: nothing stays written.
    raise exception using errcode = 'PT404',
      message = format('No Stripe customer bills subject %s %s in %s.', v_subject_type, v_subject_id, p_environment),
      hint = 'The subject needs a completed checkout (or a linked customer) before it can open the billing portal.';
  end if;
  return v_row;
end;
$$;
comment on function payments.create_customer_portal_session(text, jsonb) is 'Creates the portal row of the calling user for a subject (default: the user) with its Stripe customer (security invoker: RLS decides). 42501 refused subject, PT404 no customer mapping visible to the caller, PT400 invalid request.';
revoke execute on function payments.create_customer_portal_session(text, jsonb) from public;
grant execute on function payments.create_customer_portal_session(text, jsonb) to authenticated, service_role;

-- security definer (both record_* functions): service-role entry points that reach private
-- helpers; EXECUTE is granted to service_role only.
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
  update payments.stripe_customer_portal_sessions s
  set status = 'created', portal_session_id = p_session ->> 'id', url = p_session ->> 'url',
      customer_id = coalesce(payments_private.stripe_id(p_session -> 'customer'), s.customer_id), last_error = null
  where s.id = p_id
  returning * into v_row;
  if v_row.id is null then
    perform payments_private.raise_not_found('Portal session', p_id, 'payments.stripe_customer_portal_sessions');
  end if;
  return v_row;
end;
$$;
comment on function payments.record_customer_portal_session_result(uuid, jsonb) is 'Records the Stripe Billing Portal session (id, url) created for a portal row.';
revoke execute on function payments.record_customer_portal_session_result(uuid, jsonb) from public;
grant execute on function payments.record_customer_portal_session_result(uuid, jsonb) to service_role;

create function payments.record_customer_portal_session_failure(p_id uuid, p_error text)
returns payments.stripe_customer_portal_sessions
language plpgsql security definer set search_path = ''
as $$
declare
  v_row payments.stripe_customer_portal_sessions;
begin
  update payments.stripe_customer_portal_sessions s
  set status = 'failed', last_error = coalesce(p_error, 'Unknown error.')
  where s.id = p_id and s.status <> 'created'
  returning * into v_row;
  if v_row.id is null then
    select * into v_row from payments.stripe_customer_portal_sessions s where s.id = p_id;
  end if;
  if v_row.id is null then
    perform payments_private.raise_not_found('Portal session', p_id, 'payments.stripe_customer_portal_sessions');
  end if;
  return v_row;
end;
$$;
comment on function payments.record_customer_portal_session_failure(uuid, text) is 'Marks a portal row failed with the Stripe error (a created row stays created).';
revoke execute on function payments.record_customer_portal_session_failure(uuid, text) from public;
grant execute on function payments.record_customer_portal_session_failure(uuid, text) to service_role;

-- migrate:down
