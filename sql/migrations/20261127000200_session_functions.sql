-- migrate:up

-- Checkout and Billing Portal rows, created as the calling user so that RLS decides who may bill
-- which subject, and the service-side functions that record what Stripe answered.
--
-- Errors the edge function maps to HTTP: PT400 invalid request (400), PT404 not found (404),
-- PT409 idempotency conflict (409); RLS refusals stay 42501 (403).

--------------------------------------------------------------------------------
-- Request validation shared by the user-side functions
--------------------------------------------------------------------------------

-- Raises PT400 naming the field; plain helper so messages stay uniform.
create function payments.invalid_request(p_field text, p_message text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  raise exception using errcode = 'PT400', message = format('%s %s', p_field, p_message),
    hint = 'Correct the named field of the request.';
end;
$$;
comment on function payments.invalid_request(text, text) is 'Raises PT400 (invalid request) with a message naming the field.';
revoke execute on function payments.invalid_request(text, text) from public;
grant execute on function payments.invalid_request(text, text) to authenticated, service_role;

-- The subject a request bills: {type, id}, defaulting to the calling user when allowed.
create function payments.request_subject(p_request jsonb, p_required boolean)
returns table (subject_type text, subject_id text)
language plpgsql
stable
set search_path = ''
as $$
declare
  v_subject jsonb := p_request -> 'subject';
begin
  if v_subject is null or jsonb_typeof(v_subject) = 'null' then
    if p_required then
      perform payments.invalid_request('subject', 'is required for subscription mode.');
    end if;
    return query select 'user'::text, (select auth.uid())::text;
    return;
  end if;
  if jsonb_typeof(v_subject) <> 'object' then
    perform payments.invalid_request('subject', 'must be an object {type, id}.');
  end if;
  if jsonb_typeof(v_subject -> 'type') is distinct from 'string'
     or (v_subject ->> 'type') !~ '^[a-z][a-z0-9_]{0,62}$' then
    perform payments.invalid_request('subject.type', 'must be a lowercase snake_case name such as user or team.');
  end if;
  if jsonb_typeof(v_subject -> 'id') is distinct from 'string'
     or length(v_subject ->> 'id') not between 1 and 255 then
    perform payments.invalid_request('subject.id', 'must be a non-empty string of at most 255 characters.');
  end if;
  return query select v_subject ->> 'type', v_subject ->> 'id';
end;
$$;
comment on function payments.request_subject(jsonb, boolean) is 'The billing subject of a request ({type, id}), the calling user when omitted and not required.';
revoke execute on function payments.request_subject(jsonb, boolean) from public;
grant execute on function payments.request_subject(jsonb, boolean) to authenticated, service_role;

create function payments.require_url(p_request jsonb, p_field text, p_required boolean)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_request -> p_field is null or jsonb_typeof(p_request -> p_field) = 'null' then
    if p_required then
      perform payments.invalid_request(p_field, 'is required.');
    end if;
    return null;
  end if;
  if jsonb_typeof(p_request -> p_field) <> 'string'
     or (p_request ->> p_field) !~ '^https?://[^\s]+$'
     or length(p_request ->> p_field) > 2048 then
    perform payments.invalid_request(p_field, 'must be an http(s) URL of at most 2048 characters.');
  end if;
  return p_request ->> p_field;
end;
$$;
comment on function payments.require_url(jsonb, text, boolean) is 'Reads an http(s) URL field of a request, raising PT400 naming the field when it is malformed.';
revoke execute on function payments.require_url(jsonb, text, boolean) from public;
grant execute on function payments.require_url(jsonb, text, boolean) to authenticated, service_role;

create function payments.require_environment(p_environment text)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_environment is null or p_environment not in ('test', 'live') then
    perform payments.invalid_request('environment', 'must be test or live.');
  end if;
  return p_environment;
end;
$$;
comment on function payments.require_environment(text) is 'Checks an environment name (test or live), raising PT400 otherwise.';
revoke execute on function payments.require_environment(text) from public;
grant execute on function payments.require_environment(text) to authenticated, service_role;

--------------------------------------------------------------------------------
-- Checkout sessions
--------------------------------------------------------------------------------

-- security invoker: the caller's INSERT and SELECT policies decide which subjects they may bill;
-- a refused subject surfaces as 42501 from the INSERT.
create function payments.create_checkout_session(p_environment text, p_request jsonb)
returns payments.stripe_checkout_sessions
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_uid uuid := (select auth.uid());
  v_mode text;
  v_subject_type text;
  v_subject_id text;
  v_items jsonb := '[]'::jsonb;
  v_item jsonb;
  v_index integer := 0;
  v_quantity numeric;
  v_email text;
  v_metadata jsonb := '{}'::jsonb;
  v_key text;
  v_value jsonb;
  v_idempotency_key text;
  v_normalised jsonb;
  v_hash text;
  v_row payments.stripe_checkout_sessions;
begin
  if v_uid is null then
    raise exception using errcode = '42501', message = 'An authenticated user is required to create a checkout session.',
      hint = 'Call with a user JWT.';
  end if;
  perform payments.require_environment(p_environment);
  if p_request is null or jsonb_typeof(p_request) <> 'object' then
    perform payments.invalid_request('request', 'must be a JSON object.');
  end if;

  v_mode := p_request ->> 'mode';
  if jsonb_typeof(p_request -> 'mode') is distinct from 'string' or v_mode not in ('payment', 'subscription') then
    perform payments.invalid_request('mode', 'must be payment or subscription.');
  end if;

  select s.subject_type, s.subject_id into v_subject_type, v_subject_id
  from payments.request_subject(p_request, v_mode = 'subscription') s;

  if jsonb_typeof(p_request -> 'lineItems') is distinct from 'array'
     or jsonb_array_length(p_request -> 'lineItems') not between 1 and 100 then
    perform payments.invalid_request('lineItems', 'must be an array of 1 to 100 items.');
  end if;
  for v_item in select value from jsonb_array_elements(p_request -> 'lineItems') loop
    if jsonb_typeof(v_item) <> 'object' then
      perform payments.invalid_request(format('lineItems[%s]', v_index), 'must be an object {priceId, quantity}.');
    end if;
    if jsonb_typeof(v_item -> 'priceId') is distinct from 'string'
       or length(v_item ->> 'priceId') not between 1 and 255 then
      perform payments.invalid_request(format('lineItems[%s].priceId', v_index), 'must be a Stripe price id.');
    end if;
    -- Nested tests: SQL does not promise to short-circuit, and the cast needs a number.
    v_quantity := null;
    if v_item -> 'quantity' is null then
      v_quantity := 1;
    elsif jsonb_typeof(v_item -> 'quantity') = 'number' then
      v_quantity := (v_item ->> 'quantity')::numeric;
    end if;
    if v_quantity is null or v_quantity not between 1 and 999 or v_quantity <> trunc(v_quantity) then
      perform payments.invalid_request(format('lineItems[%s].quantity', v_index), 'must be an integer from 1 to 999.');
    end if;
    v_items := v_items || jsonb_build_array(jsonb_build_object(
      'priceId', v_item ->> 'priceId', 'quantity', v_quantity::integer));
    v_index := v_index + 1;
  end loop;

  if p_request -> 'customerEmail' is not null and jsonb_typeof(p_request -> 'customerEmail') <> 'null' then
    v_email := p_request ->> 'customerEmail';
    if jsonb_typeof(p_request -> 'customerEmail') <> 'string'
       or v_email !~ '^[^@\s]+@[^@\s]+$' or length(v_email) > 512 then
      perform payments.invalid_request('customerEmail', 'must be an email address.');
    end if;
  end if;

  if p_request -> 'metadata' is not null and jsonb_typeof(p_request -> 'metadata') <> 'null' then
    if jsonb_typeof(p_request -> 'metadata') <> 'object' then
      perform payments.invalid_request('metadata', 'must be an object of strings.');
    end if;
    -- Stripe's own limits, checked here so the Stripe call cannot fail on them later: 50 keys,
    -- of which the edge function adds 3 (payments_subject_type, payments_subject_id, payments_attempt).
    if (select count(*) from jsonb_object_keys(p_request -> 'metadata')) > 47 then
      perform payments.invalid_request('metadata', 'may hold at most 47 keys (Stripe allows 50; 3 are reserved).');
    end if;
    for v_key, v_value in select key, value from jsonb_each(p_request -> 'metadata') loop
      if jsonb_typeof(v_value) <> 'string' or length(v_value #>> '{}') > 500 or length(v_key) not between 1 and 40 then
        perform payments.invalid_request(format('metadata.%s', v_key), 'must be a string of at most 500 characters under a key of 1 to 40 characters.');
      end if;
      -- The edge function writes the billing subject under these keys and the projection trusts
      -- them to map customers: an app must not be able to forge them.
      if v_key like 'payments\_%' then
        perform payments.invalid_request(format('metadata.%s', v_key), 'uses the reserved prefix payments_.');
      end if;
    end loop;
    v_metadata := p_request -> 'metadata';
  end if;

  if p_request -> 'idempotencyKey' is not null and jsonb_typeof(p_request -> 'idempotencyKey') <> 'null' then
    v_idempotency_key := p_request ->> 'idempotencyKey';
    if jsonb_typeof(p_request -> 'idempotencyKey') <> 'string' or length(v_idempotency_key) not between 1 and 200 then
      perform payments.invalid_request('idempotencyKey', 'must be a string of 1 to 200 characters.');
    end if;
  end if;

  -- jsonb prints keys in a fixed order, so equal requests hash equally however they were written.
  v_normalised := jsonb_build_object(
    'mode', v_mode,
    'subject', jsonb_build_object('type', v_subject_type, 'id', v_subject_id),
    'lineItems', v_items,
    'successUrl', payments.require_url(p_request, 'successUrl', true),
    'cancelUrl', payments.require_url(p_request, 'cancelUrl', true),
    'customerEmail', v_email,
    'metadata', v_metadata
  );
  v_hash := encode(sha256(convert_to(v_normalised::text, 'UTF8')), 'hex');

  -- Concurrent calls with one key: the unique key lets exactly one insert win, the others read it.
  insert into payments.stripe_checkout_sessions as s (
    environment, created_by, subject_type, subject_id, mode, line_items, success_url, cancel_url,
    customer_email, metadata, idempotency_key, request_hash
  ) values (
    p_environment, v_uid, v_subject_type, v_subject_id, v_mode, v_items,
    v_normalised ->> 'successUrl', v_normalised ->> 'cancelUrl', v_email, v_metadata, v_idempotency_key, v_hash
  )
  on conflict (environment, created_by, idempotency_key) do nothing
  returning * into v_row;

  if v_row.id is not null then
    return v_row;
  end if;

  select * into v_row
  from payments.stripe_checkout_sessions s
  where s.environment = p_environment and s.created_by = v_uid and s.idempotency_key = v_idempotency_key;

  if v_row.id is null then
    -- The row exists but the caller's SELECT policies hide it.
    raise exception using errcode = '42501',
      message = 'The checkout session for this idempotency key is not readable by the caller.',
      hint = 'Add a SELECT policy matching the INSERT policy for this subject.';
  end if;
  if v_row.request_hash <> v_hash then
    raise exception using errcode = 'PT409',
      message = format('idempotencyKey %s was already used with a different request.', v_idempotency_key),
      hint = 'Use a new idempotency key for a different request.';
  end if;
  return v_row;
end;
$$;
comment on function payments.create_checkout_session(text, jsonb) is 'Creates, or returns for the same idempotency key and request, the checkout row of the calling user (security invoker: RLS decides the subject). Status initialized: create the Stripe session; open (unexpired) or completed: hand it out; expired, failed or open past expires_at: call restart_checkout_session. PT400 invalid request, PT409 key reused with another request, 42501 refused.';
revoke execute on function payments.create_checkout_session(text, jsonb) from public;
grant execute on function payments.create_checkout_session(text, jsonb) to authenticated, service_role;

create function payments.restart_checkout_session(p_id uuid)
returns payments.stripe_checkout_sessions
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_row payments.stripe_checkout_sessions;
begin
  -- The row lock makes two concurrent retries bump the attempt once.
  select * into v_row from payments.stripe_checkout_sessions s where s.id = p_id for update;
  if v_row.id is null then
    raise exception using errcode = 'PT404', message = format('Checkout session %s not found.', p_id),
      hint = 'Pass the id of a payments.stripe_checkout_sessions row.';
  end if;
  -- A session lapsing within a minute is replaced too: a buyer needs time to pay (the edge
  -- function hands out open sessions only with the same margin).
  if v_row.status in ('expired', 'failed')
     or (v_row.status = 'open' and v_row.expires_at <= now() + interval '1 minute') then
    update payments.stripe_checkout_sessions s
    set status = 'initialized', attempt = s.attempt + 1, checkout_session_id = null, url = null,
        expires_at = null, last_error = null, payment_status = null
    where s.id = p_id
    returning * into v_row;
  end if;
  return v_row;
end;
$$;
comment on function payments.restart_checkout_session(uuid) is 'Readies an expired, failed or lapsing (within a minute) checkout row for a new Stripe session (next attempt); any other row is returned unchanged.';
revoke execute on function payments.restart_checkout_session(uuid) from public;
grant execute on function payments.restart_checkout_session(uuid) to service_role;

-- Stripe objects reference others either by id or, when expanded, as the object.
-- No `set search_path` on this and the other one-expression helpers: a SET clause keeps the
-- planner from inlining them, and the projection calls them dozens of times per event. They
-- reference nothing but pg_catalog, which is always searched first.
create function payments.stripe_id(p_value jsonb)
returns text
language sql
immutable
parallel safe
as $$
  select case jsonb_typeof(p_value)
    when 'string' then p_value #>> '{}'
    when 'object' then p_value ->> 'id'
  end
$$;
comment on function payments.stripe_id(jsonb) is 'The id of a Stripe reference, whether given as an id or as an expanded object.';
revoke execute on function payments.stripe_id(jsonb) from public;
grant execute on function payments.stripe_id(jsonb) to service_role;

create function payments.stripe_time(p_value jsonb)
returns timestamptz
language sql
immutable
parallel safe
as $$
  select case when jsonb_typeof(p_value) = 'number' then to_timestamp((p_value #>> '{}')::double precision) end
$$;
comment on function payments.stripe_time(jsonb) is 'A Stripe unix timestamp as timestamptz (null when absent).';
revoke execute on function payments.stripe_time(jsonb) from public;
grant execute on function payments.stripe_time(jsonb) to service_role;

-- The function's 201 answer reports the session's total and currency as soon as Stripe has
-- created it, not only after the completion webhook.
create function payments.record_checkout_session_result(p_id uuid, p_session jsonb)
returns payments.stripe_checkout_sessions
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_row payments.stripe_checkout_sessions;
  v_amount bigint := (p_session ->> 'amount_total')::bigint;
  v_currency text := lower(p_session ->> 'currency');
begin
  if p_session is null or jsonb_typeof(p_session -> 'id') is distinct from 'string' then
    perform payments.invalid_request('session.id', 'must be the id of a Stripe Checkout Session.');
  end if;
  select * into v_row from payments.stripe_checkout_sessions s where s.id = p_id for update;
  if v_row.id is null then
    raise exception using errcode = 'PT404', message = format('Checkout session %s not found.', p_id),
      hint = 'Pass the id of a payments.stripe_checkout_sessions row.';
  end if;

  if v_row.status in ('completed', 'expired') then
    -- A webhook got here first and holds newer state: only fill in what it did not know.
    update payments.stripe_checkout_sessions s
    set checkout_session_id = coalesce(s.checkout_session_id, p_session ->> 'id'),
        url = coalesce(s.url, p_session ->> 'url'),
        expires_at = coalesce(s.expires_at, payments.stripe_time(p_session -> 'expires_at')),
        customer_id = coalesce(s.customer_id, payments.stripe_id(p_session -> 'customer')),
        amount_total = coalesce(s.amount_total, v_amount),
        currency = coalesce(s.currency, v_currency)
    where s.id = p_id
    returning * into v_row;
  else
    update payments.stripe_checkout_sessions s
    set checkout_session_id = p_session ->> 'id',
        url = p_session ->> 'url',
        expires_at = payments.stripe_time(p_session -> 'expires_at'),
        customer_id = coalesce(payments.stripe_id(p_session -> 'customer'), s.customer_id),
        amount_total = coalesce(v_amount, s.amount_total),
        currency = coalesce(v_currency, s.currency),
        payment_status = coalesce(p_session ->> 'payment_status', s.payment_status),
        status = case when p_session ->> 'status' = 'expired' then 'expired' else 'open' end,
        last_error = null
    where s.id = p_id
    returning * into v_row;
  end if;
  return v_row;
end;
$$;
comment on function payments.record_checkout_session_result(uuid, jsonb) is 'Records the Stripe Checkout Session created for a row (id, url, expiry, customer, total, currency, payment status) and marks it open, without undoing a completion or expiry a webhook already recorded.';
revoke execute on function payments.record_checkout_session_result(uuid, jsonb) from public;
grant execute on function payments.record_checkout_session_result(uuid, jsonb) to service_role;

create function payments.record_checkout_session_failure(p_id uuid, p_error text)
returns payments.stripe_checkout_sessions
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_row payments.stripe_checkout_sessions;
begin
  select * into v_row from payments.stripe_checkout_sessions s where s.id = p_id for update;
  if v_row.id is null then
    raise exception using errcode = 'PT404', message = format('Checkout session %s not found.', p_id),
      hint = 'Pass the id of a payments.stripe_checkout_sessions row.';
  end if;
  if v_row.status <> 'completed' then
    update payments.stripe_checkout_sessions s
    set status = 'failed', last_error = coalesce(p_error, 'Unknown error.')
    where s.id = p_id
    returning * into v_row;
  end if;
  return v_row;
end;
$$;
comment on function payments.record_checkout_session_failure(uuid, text) is 'Marks a checkout row failed with the Stripe error (a completed row stays completed).';
revoke execute on function payments.record_checkout_session_failure(uuid, text) from public;
grant execute on function payments.record_checkout_session_failure(uuid, text) to service_role;

--------------------------------------------------------------------------------
-- Customer mappings
--------------------------------------------------------------------------------

create function payments.customer_for_subject(p_environment text, p_subject_type text, p_subject_id text)
returns text
language sql
stable
security invoker
set search_path = ''
as $$
  select m.provider_customer_id
  from payments.customer_mappings m
  where m.provider = 'stripe' and m.environment = p_environment
    and m.subject_type = p_subject_type and m.subject_id = p_subject_id
$$;
comment on function payments.customer_for_subject(text, text, text) is 'The Stripe customer id that bills a subject, or null.';
revoke execute on function payments.customer_for_subject(text, text, text) from public;
grant execute on function payments.customer_for_subject(text, text, text) to service_role;

create function payments.link_customer(p_environment text, p_subject_type text, p_subject_id text, p_customer_id text)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_customer text;
begin
  perform payments.require_environment(p_environment);
  if p_subject_type is null or p_subject_type !~ '^[a-z][a-z0-9_]{0,62}$' then
    perform payments.invalid_request('subjectType', 'must be a lowercase snake_case name such as user or team.');
  end if;
  if p_subject_id is null or p_subject_id = '' then
    perform payments.invalid_request('subjectId', 'must not be empty.');
  end if;
  if p_customer_id is null or p_customer_id !~ '^cus_' then
    perform payments.invalid_request('customerId', 'must be a Stripe customer id (cus_...).');
  end if;

  insert into payments.customer_mappings (environment, subject_type, subject_id, provider_customer_id)
  values (p_environment, p_subject_type, p_subject_id, p_customer_id)
  on conflict do nothing
  returning provider_customer_id into v_customer;
  if v_customer is not null then
    return v_customer;
  end if;

  -- A subject keeps its first customer: never re-point it.
  v_customer := payments.customer_for_subject(p_environment, p_subject_type, p_subject_id);
  if v_customer is not null then
    return v_customer;
  end if;
  raise exception using errcode = 'PT409',
    message = format('customerId %s already bills another subject.', p_customer_id),
    hint = 'A Stripe customer bills one subject per environment.';
end;
$$;
comment on function payments.link_customer(text, text, text, text) is 'Maps a subject to a Stripe customer and returns the customer that bills the subject: an existing mapping wins and is never re-pointed; PT409 when the customer already bills another subject.';
revoke execute on function payments.link_customer(text, text, text, text) from public;
grant execute on function payments.link_customer(text, text, text, text) to service_role;

--------------------------------------------------------------------------------
-- Billing Portal sessions
--------------------------------------------------------------------------------

-- security invoker: the INSERT policy decides the subject and the customer mapping is looked up
-- through the caller's SELECT policies, so nothing about other subjects leaks.
create function payments.create_customer_portal_session(p_environment text, p_request jsonb)
returns payments.stripe_customer_portal_sessions
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_uid uuid := (select auth.uid());
  v_subject_type text;
  v_subject_id text;
  v_configuration_id text;
  v_customer text;
  v_row payments.stripe_customer_portal_sessions;
begin
  if v_uid is null then
    raise exception using errcode = '42501', message = 'An authenticated user is required to open a billing portal.',
      hint = 'Call with a user JWT.';
  end if;
  perform payments.require_environment(p_environment);
  if p_request is null then
    p_request := '{}'::jsonb;
  elsif jsonb_typeof(p_request) <> 'object' then
    perform payments.invalid_request('request', 'must be a JSON object.');
  end if;

  select s.subject_type, s.subject_id into v_subject_type, v_subject_id
  from payments.request_subject(p_request, false) s;

  if p_request -> 'configurationId' is not null and jsonb_typeof(p_request -> 'configurationId') <> 'null' then
    if jsonb_typeof(p_request -> 'configurationId') <> 'string' or (p_request ->> 'configurationId') !~ '^bpc_' then
      perform payments.invalid_request('configurationId', 'must be a Billing Portal configuration id (bpc_...).');
    end if;
    v_configuration_id := p_request ->> 'configurationId';
  end if;

  -- Read as the caller: a subject whose mapping the caller cannot see has no customer for them.
  select m.provider_customer_id into v_customer
  from payments.customer_mappings m
  where m.provider = 'stripe' and m.environment = p_environment
    and m.subject_type = v_subject_type and m.subject_id = v_subject_id;

  -- Insert before judging the mapping, so a refused subject gives 42501, never PT404.
  insert into payments.stripe_customer_portal_sessions
    (environment, created_by, subject_type, subject_id, customer_id, return_url, configuration_id)
  values (p_environment, v_uid, v_subject_type, v_subject_id, v_customer,
          payments.require_url(p_request, 'returnUrl', false), v_configuration_id)
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

create function payments.record_customer_portal_session_result(p_id uuid, p_session jsonb)
returns payments.stripe_customer_portal_sessions
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_row payments.stripe_customer_portal_sessions;
begin
  if p_session is null or jsonb_typeof(p_session -> 'id') is distinct from 'string' then
    perform payments.invalid_request('session.id', 'must be the id of a Stripe Billing Portal session.');
  end if;
  update payments.stripe_customer_portal_sessions s
  set status = 'created', portal_session_id = p_session ->> 'id', url = p_session ->> 'url',
      customer_id = coalesce(payments.stripe_id(p_session -> 'customer'), s.customer_id), last_error = null
  where s.id = p_id
  returning * into v_row;
  if v_row.id is null then
    raise exception using errcode = 'PT404', message = format('Portal session %s not found.', p_id),
      hint = 'Pass the id of a payments.stripe_customer_portal_sessions row.';
  end if;
  return v_row;
end;
$$;
comment on function payments.record_customer_portal_session_result(uuid, jsonb) is 'Records the Stripe Billing Portal session (id, url) created for a portal row.';
revoke execute on function payments.record_customer_portal_session_result(uuid, jsonb) from public;
grant execute on function payments.record_customer_portal_session_result(uuid, jsonb) to service_role;

create function payments.record_customer_portal_session_failure(p_id uuid, p_error text)
returns payments.stripe_customer_portal_sessions
language plpgsql
security invoker
set search_path = ''
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
    raise exception using errcode = 'PT404', message = format('Portal session %s not found.', p_id),
      hint = 'Pass the id of a payments.stripe_customer_portal_sessions row.';
  end if;
  return v_row;
end;
$$;
comment on function payments.record_customer_portal_session_failure(uuid, text) is 'Marks a portal row failed with the Stripe error (a created row stays created).';
revoke execute on function payments.record_customer_portal_session_failure(uuid, text) from public;
grant execute on function payments.record_customer_portal_session_failure(uuid, text) to service_role;

-- migrate:down
