-- migrate:up

-- Two schemas. `payments` is the contract: the tables and views apps read (through RLS) and the
-- functions apps and the edge function call. `payments_private` holds everything else --
-- validators, projection helpers, upserts, the secret store, row-lock helpers -- and no API role
-- may use it: an app that exposes `payments` through its API exposes nothing of the internals.
-- Every table carries `environment` so test and live data live side by side.

create schema if not exists payments;
comment on schema payments is 'Stripe payments mirrored into Postgres: catalog, customers, sessions, subscriptions, transactions and verified webhook events.';
grant usage on schema payments to anon, authenticated, service_role;
-- PostgreSQL lets PUBLIC execute every new function, and a per-schema default privilege cannot
-- take that back: each function revokes it and grants EXECUTE to the roles that need it.

-- `if not exists`: dbmate may have created it first, for its bookkeeping table.
create schema if not exists payments_private;
comment on schema payments_private is 'Internals of the payments schema. No API role may use it; the payments functions reach it as its owner.';
revoke all on schema payments_private from public;

-- dbmate keeps its bookkeeping table here (see scripts/lib/migrate.mjs); the Supabase CLI tracks
-- migrations elsewhere, so the table may not exist.
do $$
begin
  if to_regclass('payments_private.schema_migrations') is not null then
    revoke all on table payments_private.schema_migrations from anon, authenticated, service_role;
  end if;
end;
$$;

create function payments_private.set_updated_at()
returns trigger
language plpgsql set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function payments_private.set_updated_at() is 'Trigger function keeping updated_at current on every payments table.';

-- Shared vocabulary, checked on every table that uses it. Each rule is one function, which the
-- domain and the request validators both call; plain SQL without `set search_path`, so that it is
-- inlined where it is used (see payments_private.stripe_id). In payments, executable by the roles
-- that write rows: a domain's check runs with the privileges of whoever writes the row.
create function payments.is_environment(p_value text)
returns boolean
language sql immutable parallel safe
as $$
  select p_value in ('test', 'live')
$$;
comment on function payments.is_environment(text) is 'Whether a name is a Stripe mode this schema keeps: test or live.';

create function payments.is_subject_type(p_value text)
returns boolean
language sql immutable parallel safe
as $$
  select p_value ~ '^[a-z][a-z0-9_]{0,62}$'
$$;
comment on function payments.is_subject_type(text) is 'Whether a name is a billing subject type: lowercase snake_case, at most 63 characters.';

create domain payments.environment as text
  check (payments.is_environment(value));
comment on domain payments.environment is 'Stripe mode of a row: test or live. Both live side by side in one database.';

create domain payments.subject_type as text
  check (payments.is_subject_type(value));
comment on domain payments.subject_type is 'Kind of billing subject chosen by the app (user, team, organization, ...): lowercase snake_case.';

--------------------------------------------------------------------------------
-- Request errors: every problem of a request is reported at once, field by field
--------------------------------------------------------------------------------

-- A list of {field, message}: the `details.fields` of the function's 400 answer.
create function payments_private.field_error(p_field text, p_message text)
returns jsonb
language sql immutable parallel safe
as $$
  select jsonb_build_array(jsonb_build_object('field', p_field, 'message', p_message))
$$;
comment on function payments_private.field_error(text, text) is 'One request problem as a one-element list of {field, message}.';

-- Stripe metadata, wherever a request carries some (checkout, catalog): Stripe's limits (50 keys,
-- keys of 1 to 40 characters, string values of at most 500), so the Stripe call cannot fail on
-- them later, and no brackets in keys, which Stripe's form encoding would read as nesting.
-- p_reserved: keys the edge function adds under the prefix payments_, which the request may then
-- neither use nor crowd out.
create function payments_private.metadata_errors(p_field text, p_metadata jsonb, p_reserved integer default 0)
returns jsonb
language plpgsql immutable set search_path = ''
as $$
declare
  v_errors jsonb := '[]'::jsonb;
  v_key text;
  v_value jsonb;
begin
  if coalesce(jsonb_typeof(p_metadata), 'null') = 'null' then
    return v_errors;
  elsif jsonb_typeof(p_metadata) <> 'object' then
    return payments_private.field_error(p_field, 'must be an object of strings.');
  end if;
  if (select count(*) from jsonb_object_keys(p_metadata)) > 50 - p_reserved then
    v_errors := v_errors || payments_private.field_error(p_field, case when p_reserved = 0
      then 'may hold at most 50 keys.'
      else format('may hold at most %s keys (Stripe allows 50; %s are reserved).', 50 - p_reserved, p_reserved) end);
  end if;
  for v_key, v_value in select key, value from jsonb_each(p_metadata) loop
    if length(v_key) not between 1 and 40 or v_key ~ '[][]' then
      v_errors := v_errors || payments_private.field_error(format('%s.%s', p_field, v_key),
        'must be under a key of 1 to 40 characters without brackets.');
    elsif p_reserved > 0 and v_key like 'payments\_%' then
      -- The edge function writes the billing subject under these keys and the projection trusts
      -- them to map customers: an app must not be able to forge them.
      v_errors := v_errors || payments_private.field_error(format('%s.%s', p_field, v_key),
        'uses the reserved prefix payments_.');
    elsif jsonb_typeof(v_value) <> 'string' or length(v_value #>> '{}') > 500 then
      v_errors := v_errors || payments_private.field_error(format('%s.%s', p_field, v_key),
        'must be a string of at most 500 characters.');
    end if;
  end loop;
  return v_errors;
end;
$$;
comment on function payments_private.metadata_errors(text, jsonb, integer) is 'Problems of a request''s Stripe metadata (null or absent is fine): Stripe''s limits, no brackets in keys, and with p_reserved > 0 at most 50 - p_reserved keys, none under the prefix payments_.';

-- The list travels in DETAIL as JSON, so the edge function answers with every field at once.
create function payments_private.raise_invalid(p_errors jsonb)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_count integer := coalesce(jsonb_array_length(p_errors), 0);
begin
  if v_count = 0 then
    return;
  end if;
  raise exception using errcode = 'PT400',
    message = case when v_count = 1
      then format('%s %s', p_errors -> 0 ->> 'field', p_errors -> 0 ->> 'message')
      else format('%s fields are invalid; first %s %s', v_count, p_errors -> 0 ->> 'field', p_errors -> 0 ->> 'message')
    end,
    detail = p_errors::text,
    hint = 'Correct the named fields of the request.';
end;
$$;
comment on function payments_private.raise_invalid(jsonb) is 'Raises PT400 listing every {field, message} of the request (DETAIL holds the list as JSON); does nothing for an empty list.';

create function payments_private.invalid_request(p_field text, p_message text)
returns void
language plpgsql set search_path = ''
as $$
begin
  perform payments_private.raise_invalid(payments_private.field_error(p_field, p_message));
end;
$$;
comment on function payments_private.invalid_request(text, text) is 'Raises PT400 (invalid request) with a message naming the field.';

create function payments_private.require_environment(p_environment text)
returns text
language plpgsql immutable set search_path = ''
as $$
begin
  if not coalesce(payments.is_environment(p_environment), false) then
    perform payments_private.invalid_request('environment', 'must be test or live.');
  end if;
  return p_environment;
end;
$$;
comment on function payments_private.require_environment(text) is 'Checks an environment name (test or live), raising PT400 otherwise.';

create function payments_private.raise_not_found(p_what text, p_id uuid, p_table text)
returns void
language plpgsql set search_path = ''
as $$
begin
  raise exception using errcode = 'PT404', message = format('%s %s not found.', p_what, p_id),
    hint = format('Pass the id of a %s row.', p_table);
end;
$$;
comment on function payments_private.raise_not_found(text, uuid, text) is 'Raises PT404 for a row id that names no row.';

--------------------------------------------------------------------------------
-- Reading Stripe objects
--------------------------------------------------------------------------------

-- Stripe objects reference others either by id or, when expanded, as the object.
-- No `set search_path` on this and the other one-expression helpers: a SET clause keeps the
-- planner from inlining them, and the projection calls them dozens of times per event. They
-- reference nothing but pg_catalog, which is always searched first.
create function payments_private.stripe_id(p_value jsonb)
returns text
language sql immutable parallel safe
as $$
  select case jsonb_typeof(p_value)
    when 'string' then p_value #>> '{}'
    when 'object' then p_value ->> 'id'
  end
$$;
comment on function payments_private.stripe_id(jsonb) is 'The id of a Stripe reference, whether given as an id or as an expanded object.';

create function payments_private.stripe_time(p_value jsonb)
returns timestamptz
language sql immutable parallel safe
as $$
  select case when jsonb_typeof(p_value) = 'number' then to_timestamp((p_value #>> '{}')::double precision) end
$$;
comment on function payments_private.stripe_time(jsonb) is 'A Stripe unix timestamp as timestamptz (null when absent).';

-- The billing subject the edge function writes into Stripe metadata (checkout session,
-- subscription_data and payment_intent_data); apps cannot forge these keys (see
-- checkout_request_errors). A scalar expression without `set search_path`, so that it is inlined
-- into the plpgsql expressions that call it (see payments_private.stripe_id).
create function payments_private.metadata_subject_type(p_metadata jsonb)
returns text
language sql immutable parallel safe
as $$
  select case
    when payments.is_subject_type(p_metadata ->> 'payments_subject_type')
     and coalesce(p_metadata ->> 'payments_subject_id', '') <> ''
    then p_metadata ->> 'payments_subject_type'
  end
$$;
comment on function payments_private.metadata_subject_type(jsonb) is 'The subject type carried in Stripe metadata (payments_subject_type) when the metadata also names a subject id (payments_subject_id), else null.';

-- Without `set search_path` so that it is inlined (see payments_private.stripe_id).
create function payments_private.payment_status(p_amount bigint, p_amount_refunded bigint)
returns text
language sql immutable parallel safe
as $$
  select case
    when coalesce(p_amount_refunded, 0) <= 0 then 'succeeded'
    when p_amount_refunded >= coalesce(p_amount, 0) then 'refunded'
    else 'partially_refunded'
  end
$$;
comment on function payments_private.payment_status(bigint, bigint) is 'Status of a payment row from its amount and the amount refunded so far.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.set_updated_at(),
  payments.is_environment(text),
  payments.is_subject_type(text),
  payments_private.field_error(text, text),
  payments_private.raise_invalid(jsonb),
  payments_private.metadata_errors(text, jsonb, integer),
  payments_private.invalid_request(text, text),
  payments_private.require_environment(text),
  payments_private.raise_not_found(text, uuid, text),
  payments_private.stripe_id(jsonb),
  payments_private.stripe_time(jsonb),
  payments_private.metadata_subject_type(jsonb),
  payments_private.payment_status(bigint, bigint)
from public;
grant execute on function
  payments.is_environment(text),
  payments.is_subject_type(text)
to authenticated, service_role;

-- migrate:down
