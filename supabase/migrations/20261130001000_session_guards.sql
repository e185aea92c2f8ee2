-- migrate:up

--------------------------------------------------------------------------------
-- Session guards: rows hold only validated requests, redirect origins, a per-caller cap.
-- The deployment's settings reach SQL as transaction-local settings the edge function sets
-- (payments.redirect_origins, payments.sessions_per_minute); unset, no origin list applies and
-- the cap is 20 sessions a minute.
--------------------------------------------------------------------------------

-- The origin of an http(s) URL as browsers compare it: scheme and host[:port], lowercased.
create function payments_private.url_origin(p_url text)
returns text
language sql immutable parallel safe set search_path = ''
as $$
  select lower(substring(p_url from '^(https?://[^/?#\s]+)'))
$$;
comment on function payments_private.url_origin(text) is 'The origin (scheme://host[:port], lowercased) of an http(s) URL, or null.';
revoke execute on function payments_private.url_origin(text) from public;

-- Stable, not immutable: it reads payments.redirect_origins (comma- or space-separated origins).
create or replace function payments_private.url_errors(p_value jsonb, p_field text, p_required boolean)
returns jsonb
language plpgsql stable set search_path = ''
as $$
declare
  v_allowed text[] := array(
    select rtrim(lower(o), '/')
    from regexp_split_to_table(coalesce(current_setting('payments.redirect_origins', true), ''), '[,\s]+') o
    where o <> ''
  );
begin
  if p_value is null or jsonb_typeof(p_value) = 'null' then
    return case when p_required then payments_private.field_error(p_field, 'is required.') else '[]'::jsonb end;
  end if;
  if jsonb_typeof(p_value) <> 'string' or (p_value #>> '{}') !~ '^https?://[^\s/?#]+[^\s]*$'
     or length(p_value #>> '{}') > 2048 then
    return payments_private.field_error(p_field, 'must be an http(s) URL of at most 2048 characters.');
  end if;
  if cardinality(v_allowed) > 0
     and not (payments_private.url_origin(p_value #>> '{}') = any (v_allowed)) then
    -- Like Supabase Auth's redirect URLs: a session must not send the buyer to another site.
    return payments_private.field_error(p_field,
      format('must be on an allowed origin (%s).', array_to_string(v_allowed, ', ')));
  end if;
  return '[]'::jsonb;
end;
$$;
comment on function payments_private.url_errors(jsonb, text, boolean) is 'Problems of an http(s) URL field of a request (empty when it is valid or omitted and not required); when payments.redirect_origins is set, the URL must be on one of its origins.';

alter function payments_private.checkout_request_errors(jsonb) stable;
alter function payments_private.portal_request_errors(jsonb) stable;
alter function payments.validate_session_request(text, text, jsonb) stable;
comment on function payments.validate_session_request(text, text, jsonb) is 'Checks a checkout or portal (p_session) request: PT400 for an unknown environment, else PT400 listing every invalid field (DETAIL: JSON list of {field, message}), including redirect URLs outside payments.redirect_origins when that setting is set; nothing for a valid request.';

--------------------------------------------------------------------------------
-- Checkout rows hold only what was validated
--------------------------------------------------------------------------------

-- jsonb prints keys in a fixed order, so equal requests hash equally however they were written.
create function payments.checkout_request_hash(p_row payments.stripe_checkout_sessions)
returns text
language sql immutable set search_path = ''
as $$
  select encode(sha256(convert_to(jsonb_build_object(
    'mode', p_row.mode,
    'subject', jsonb_build_object('type', p_row.subject_type, 'id', p_row.subject_id),
    'lineItems', p_row.line_items,
    'successUrl', p_row.success_url,
    'cancelUrl', p_row.cancel_url,
    'customerEmail', p_row.customer_email,
    'metadata', p_row.metadata
  )::text, 'UTF8')), 'hex')
$$;
comment on function payments.checkout_request_hash(payments.stripe_checkout_sessions) is 'Hash of the request a checkout row holds (mode, subject, line items, URLs, email, metadata): the one definition of "the same request" for an idempotency key.';
revoke execute on function payments.checkout_request_hash(payments.stripe_checkout_sessions) from public;
grant execute on function payments.checkout_request_hash(payments.stripe_checkout_sessions) to authenticated, service_role;

-- security definer: the request rules live in payments_private, which the inserting role (a user
-- with the schema exposed) cannot use. A row written straight into the table gets the same rules
-- as one made by create_checkout_session, and its hash always describes its own content, so a
-- forged row can never be adopted by a harmless request that reuses its idempotency key.
create function payments_private.check_checkout_row()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform payments_private.raise_invalid(payments_private.checkout_request_errors(jsonb_build_object(
    'mode', new.mode,
    'subject', jsonb_build_object('type', new.subject_type, 'id', new.subject_id),
    'lineItems', new.line_items,
    'successUrl', new.success_url,
    'cancelUrl', new.cancel_url,
    'customerEmail', new.customer_email,
    'metadata', new.metadata,
    'idempotencyKey', new.idempotency_key
  )));
  new.request_hash := payments.checkout_request_hash(new);
  return new;
end;
$$;
comment on function payments_private.check_checkout_row() is 'Before insert on stripe_checkout_sessions: applies the checkout request rules to the row and computes its request_hash from its content.';
revoke execute on function payments_private.check_checkout_row() from public;
create trigger check_checkout_row before insert on payments.stripe_checkout_sessions
  for each row execute function payments_private.check_checkout_row();

--------------------------------------------------------------------------------
-- Portal rows: the customer is always the subject's mapping
--------------------------------------------------------------------------------

revoke insert (customer_id) on payments.stripe_customer_portal_sessions from authenticated;

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
revoke execute on function payments_private.set_portal_customer() from public;
create trigger set_portal_customer before insert on payments.stripe_customer_portal_sessions
  for each row execute function payments_private.set_portal_customer();

--------------------------------------------------------------------------------
-- The per-caller cap
--------------------------------------------------------------------------------

-- security invoker: it counts the caller's own rows, which their SELECT policies show them.
-- Called right after a new row is inserted, so replays of an idempotency key never count; the
-- advisory lock makes one caller's concurrent requests count one after another.
create function payments.check_session_rate()
returns void
language plpgsql volatile security invoker set search_path = ''
as $$
declare
  v_uid uuid := (select auth.uid());
  v_limit integer := coalesce(nullif(current_setting('payments.sessions_per_minute', true), '')::integer, 20);
  v_count integer;
  v_oldest timestamptz;
  v_retry integer;
begin
  if v_uid is null or v_limit <= 0 then
    return;
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('payments.sessions:' || v_uid::text, 0));
  select count(*), min(created_at) into v_count, v_oldest
  from (
    select s.created_at from payments.stripe_checkout_sessions s
    where s.created_by = v_uid and s.created_at > pg_catalog.statement_timestamp() - interval '1 minute'
    union all
    select p.created_at from payments.stripe_customer_portal_sessions p
    where p.created_by = v_uid and p.created_at > pg_catalog.statement_timestamp() - interval '1 minute'
  ) recent;
  if v_count > v_limit then
    v_retry := greatest(1, ceil(extract(epoch from v_oldest + interval '1 minute' - pg_catalog.statement_timestamp()))::integer);
    raise exception using errcode = 'PT429',
      message = format('At most %s checkout and portal sessions a minute may be created per user.', v_limit),
      detail = jsonb_build_object('retryAfter', v_retry)::text,
      hint = format('Retry after %s seconds.', v_retry);
  end if;
end;
$$;
comment on function payments.check_session_rate() is 'PT429 (DETAIL {"retryAfter": seconds}) when the calling user created more than payments.sessions_per_minute (default 20; 0 turns the cap off) checkout and portal sessions in the last minute, counting the row just inserted.';
revoke execute on function payments.check_session_rate() from public;
grant execute on function payments.check_session_rate() to authenticated, service_role;

--------------------------------------------------------------------------------
-- The session functions, with the guards
--------------------------------------------------------------------------------

-- security invoker: the caller's INSERT and SELECT policies decide which subjects they may bill;
-- a refused subject surfaces as 42501 from the INSERT.
create or replace function payments.create_checkout_session(p_environment text, p_request jsonb)
returns payments.stripe_checkout_sessions
language plpgsql security invoker set search_path = ''
as $$
declare
  v_uid uuid := (select auth.uid());
  v_items jsonb;
  v_new payments.stripe_checkout_sessions;
  v_row payments.stripe_checkout_sessions;
begin
  if v_uid is null then
    raise exception using errcode = '42501', message = 'An authenticated user is required to create a checkout session.',
      hint = 'Call with a user JWT.';
  end if;
  perform payments.validate_session_request('checkout', p_environment, p_request);

  select jsonb_agg(jsonb_build_object('priceId', i ->> 'priceId', 'quantity', coalesce((i ->> 'quantity')::integer, 1)))
  into v_items
  from jsonb_array_elements(p_request -> 'lineItems') i;
  v_new.environment := p_environment;
  v_new.created_by := v_uid;
  v_new.subject_type := coalesce(p_request -> 'subject' ->> 'type', 'user');
  v_new.subject_id := coalesce(p_request -> 'subject' ->> 'id', v_uid::text);
  v_new.mode := p_request ->> 'mode';
  v_new.line_items := v_items;
  v_new.success_url := p_request ->> 'successUrl';
  v_new.cancel_url := p_request ->> 'cancelUrl';
  v_new.customer_email := p_request ->> 'customerEmail';
  v_new.metadata := coalesce(nullif(p_request -> 'metadata', 'null'::jsonb), '{}'::jsonb);
  v_new.idempotency_key := p_request ->> 'idempotencyKey';

  -- Concurrent calls with one key: the unique key lets exactly one insert win, the others read it.
  -- The row's trigger computes request_hash from what is inserted.
  insert into payments.stripe_checkout_sessions as s (
    environment, created_by, subject_type, subject_id, mode, line_items, success_url, cancel_url,
    customer_email, metadata, idempotency_key, request_hash
  ) values (
    v_new.environment, v_new.created_by, v_new.subject_type, v_new.subject_id, v_new.mode, v_new.line_items,
    v_new.success_url, v_new.cancel_url, v_new.customer_email, v_new.metadata, v_new.idempotency_key, ''
  )
  on conflict (environment, created_by, idempotency_key) do nothing
  returning * into v_row;

  if v_row.id is not null then
    perform payments.check_session_rate();
    return v_row;
  end if;

  select * into v_row
  from payments.stripe_checkout_sessions s
  where s.environment = p_environment and s.created_by = v_uid and s.idempotency_key = v_new.idempotency_key;

  if v_row.id is null then
    -- The row exists but the caller's SELECT policies hide it.
    raise exception using errcode = '42501',
      message = 'The checkout session for this idempotency key is not readable by the caller.',
      hint = 'Add a SELECT policy matching the INSERT policy for this subject.';
  end if;
  if v_row.request_hash <> payments.checkout_request_hash(v_new) then
    raise exception using errcode = 'PT409',
      message = format('idempotencyKey %s was already used with a different request.', v_new.idempotency_key),
      hint = 'Use a new idempotency key for a different request.';
  end if;
  return v_row;
end;
$$;
comment on function payments.create_checkout_session(text, jsonb) is 'Creates, or returns for the same idempotency key and request, the checkout row of the calling user (security invoker: RLS decides the subject). Status initialized: create the Stripe session; any other status: call restart_checkout_session, which decides whether the row''s session can be handed out. PT400 invalid request (every field at once), PT409 key reused with another request, PT429 too many new sessions a minute, 42501 refused.';

-- security invoker: the INSERT policy decides the subject, and the row's trigger looks the
-- customer up through the caller's SELECT policies, so nothing about other subjects leaks.
create or replace function payments.create_customer_portal_session(p_environment text, p_request jsonb)
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

-- migrate:down
