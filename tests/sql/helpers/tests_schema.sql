-- Helpers shared by every pgTAP file, in the spirit of supabase-test-helpers. The runner
-- (scripts/test.mjs) loads this file once after the migrations and then the Stripe fixtures
-- (tests/fixtures/stripe/*.json) into tests.stripe_fixtures, so no test file reads a path and
-- the files run from any working directory:
--
--   select tests.fixture('current') as current \gset        -- the fixture as :'current'
--   select tests.authenticate_as('1111...');                 -- act as a user, as PostgREST would
--   select tests.authenticate_as_service_role();
--   select tests.ingest('evt_1', 'product.created', 1700000000, :'current'::jsonb -> 'product');
--   select tests.insert_checkout_row('{"subject_id": "2222..."}');  -- a row a client writes itself

create schema if not exists tests;
comment on schema tests is 'pgTAP helpers; exists only in test databases.';
grant usage on schema tests to anon, authenticated, service_role;

create table tests.stripe_fixtures (
  api text primary key,
  objects jsonb not null
);
comment on table tests.stripe_fixtures is 'Stripe example objects per API shape (current, api-2023-08-16), keyed by object type.';
grant select on tests.stripe_fixtures to anon, authenticated, service_role;

create function tests.fixture(p_api text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select f.objects from tests.stripe_fixtures f where f.api = p_api
$$;

-- Acting as an API role is what the edge function and PostgREST do: the role and the JWT claims,
-- both local to the transaction.
create function tests.authenticate_as(p_user uuid)
returns void
language sql
set search_path = ''
as $$
  select set_config('role', 'authenticated', true),
         set_config('request.jwt.claims', jsonb_build_object('sub', p_user, 'role', 'authenticated')::text, true);
$$;

create function tests.authenticate_as_service_role()
returns void
language sql
set search_path = ''
as $$
  select set_config('role', 'service_role', true),
         set_config('request.jwt.claims', '{"role":"service_role"}', true);
$$;

-- A Stripe event around an object, shaped as Stripe delivers it.
create function tests.stripe_event(
  p_id text, p_type text, p_created bigint, p_object jsonb, p_livemode boolean default false,
  p_api_version text default '2026-07-29.dahlia')
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object('id', p_id, 'object', 'event', 'api_version', p_api_version, 'created', p_created,
    'livemode', p_livemode, 'pending_webhooks', 1, 'request', jsonb_build_object('id', null, 'idempotency_key', null),
    'type', p_type, 'data', jsonb_build_object('object', p_object))
$$;

-- Ingests a test-mode event and answers its status (processed, ignored, duplicate, failed).
create function tests.ingest(
  p_id text, p_type text, p_created bigint, p_object jsonb, p_api_version text default '2026-07-29.dahlia')
returns text
language sql
set search_path = ''
as $$
  select payments.ingest_stripe_event('test',
    tests.stripe_event(p_id, p_type, p_created, p_object, false, p_api_version)) ->> 'status'
$$;

-- A checkout row written straight into the table with the current role's grants, as a client that
-- skips the edge function could: p_row's keys are the columns written, over a one-item payment
-- request of the calling user for itself, so that a test names only what it varies.
create function tests.insert_checkout_row(p_row jsonb default '{}')
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_user text := current_setting('request.jwt.claims', true)::jsonb ->> 'sub';
  v_row jsonb := jsonb_build_object('environment', 'test', 'created_by', v_user, 'subject_type', 'user',
    'subject_id', v_user, 'mode', 'payment', 'line_items', '[{"priceId":"price_active","quantity":1}]'::jsonb,
    'success_url', 'https://app.test/ok', 'cancel_url', 'https://app.test/no', 'request_hash', 'h') || p_row;
  v_columns text := (select string_agg(quote_ident(c), ', ') from jsonb_object_keys(v_row) c);
begin
  execute format('insert into payments.stripe_checkout_sessions (%s) select %s from jsonb_populate_record(null::payments.stripe_checkout_sessions, $1)',
    v_columns, v_columns) using v_row;
end;
$$;
