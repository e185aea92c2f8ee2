-- migrate:up

--------------------------------------------------------------------------------
-- Checkout sessions requested by the app: the row RLS guards, the rules every row obeys, and
-- the decision to reuse the Stripe session a row holds or make a new one
--------------------------------------------------------------------------------
create table payments.stripe_checkout_sessions (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  created_by uuid not null,
  subject_type payments.subject_type not null,
  subject_id text not null check (subject_id <> ''),
  mode text not null check (mode in ('payment', 'subscription')),
  status text not null default 'initialized'
    check (status in ('initialized', 'open', 'completed', 'expired', 'failed')),
  payment_status text check (payment_status in ('paid', 'unpaid', 'no_payment_required')),
  line_items jsonb not null check (jsonb_typeof(line_items) = 'array'),
  success_url text not null,
  cancel_url text not null,
  customer_email text,
  metadata jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
  idempotency_key text check (length(idempotency_key) between 1 and 200),
  request_hash text not null,
  -- Bumped each time a new Stripe session must replace an expired or failed one; part of the
  -- Stripe Idempotency-Key so a retry after a crash reuses the session of the same attempt.
  attempt integer not null default 1 check (attempt > 0),
  checkout_session_id text,
  url text,
  expires_at timestamptz,
  customer_id text,
  payment_intent_id text,
  subscription_id text,
  amount_total bigint,
  currency text,
  completed_at timestamptz,
  last_error text,
  stripe_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (environment, created_by, idempotency_key),
  unique (environment, checkout_session_id)
);
comment on table payments.stripe_checkout_sessions is 'Checkout requests made by the app, one per idempotency key and caller, and the Stripe Checkout Session that serves each.';
comment on column payments.stripe_checkout_sessions.request_hash is 'Hash of the normalised request: the same idempotency key with a different request is refused.';
create index stripe_checkout_sessions_subject_idx
  on payments.stripe_checkout_sessions (environment, subject_type, subject_id);
create index stripe_checkout_sessions_status_idx on payments.stripe_checkout_sessions (status);
grant select on payments.stripe_checkout_sessions to authenticated;
-- Users insert only the request columns; status, Stripe ids, URLs and amounts are the server's, so
-- a user with the schema exposed cannot insert a row that claims to be paid or carries any URL.
grant insert (
  environment, created_by, subject_type, subject_id, mode, line_items, success_url, cancel_url,
  customer_email, metadata, idempotency_key, request_hash
) on payments.stripe_checkout_sessions to authenticated;
grant select, insert, update, delete on payments.stripe_checkout_sessions to service_role;
alter table payments.stripe_checkout_sessions enable row level security;
create policy "Users can read their own checkout sessions" on payments.stripe_checkout_sessions
  for select to authenticated
  using (created_by = (select auth.uid()));
create policy "Users can create checkout sessions for themselves" on payments.stripe_checkout_sessions
  for insert to authenticated
  with check (
    created_by = (select auth.uid())
    and subject_type = 'user'
    and subject_id = (select auth.uid())::text
  );
create trigger set_updated_at before update on payments.stripe_checkout_sessions
  for each row execute function payments_private.set_updated_at();

-- jsonb prints keys in a fixed order, so equal requests hash equally however they were written.
create function payments.checkout_request(p_row payments.stripe_checkout_sessions)
returns jsonb
language sql immutable set search_path = ''
as $$
  select jsonb_build_object(
    'mode', p_row.mode,
    'subject', jsonb_build_object('type', p_row.subject_type, 'id', p_row.subject_id),
    'lineItems', p_row.line_items,
    'successUrl', p_row.success_url,
    'cancelUrl', p_row.cancel_url,
    'customerEmail', p_row.customer_email,
    'metadata', p_row.metadata
  )
$$;
comment on function payments.checkout_request(payments.stripe_checkout_sessions) is 'The request a checkout row holds, in the HTTP body''s names (mode, subject, lineItems, URLs, customerEmail, metadata): what the request rules check and the request hash covers.';

create function payments.checkout_request_hash(p_row payments.stripe_checkout_sessions)
returns text
language sql immutable set search_path = ''
as $$
  select encode(sha256(convert_to(payments.checkout_request(p_row)::text, 'UTF8')), 'hex')
$$;
comment on function payments.checkout_request_hash(payments.stripe_checkout_sessions) is 'Hash of the request a checkout row holds (mode, subject, line items, URLs, email, metadata): the one definition of "the same request" for an idempotency key.';

-- security definer: the request rules live in payments_private, which the inserting role (a user
-- with the schema exposed) cannot use. A row written straight into the table gets the same rules
-- as one made by create_checkout_session, and its hash always describes its own content, so a
-- forged row can never be adopted by a harmless request that reuses its idempotency key.
create function payments_private.check_checkout_row()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform payments_private.raise_invalid(payments_private.checkout_request_errors(
    payments.checkout_request(new) || jsonb_build_object('idempotencyKey', new.idempotency_key)));
  new.request_hash := payments.checkout_request_hash(new);
  return new;
end;
$$;
comment on function payments_private.check_checkout_row() is 'Before insert on stripe_checkout_sessions: applies the checkout request rules to the row and computes its request_hash from its content.';
create trigger check_checkout_row before insert on payments.stripe_checkout_sessions
  for each row execute function payments_private.check_checkout_row();

--------------------------------------------------------------------------------
-- Checkout sessions
--------------------------------------------------------------------------------

-- security invoker: the caller's INSERT and SELECT policies decide which subjects they may bill;
-- a refused subject surfaces as 42501 from the INSERT.
create function payments.create_checkout_session(p_environment text, p_request jsonb)
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

--------------------------------------------------------------------------------
-- Session rows, checkout and portal alike: the row lock every service-side write takes, and the
-- recording of a failed Stripe call. Polymorphic over the two session tables: p_row is a row (or
-- a typed null) of the table, whose type names the table and is the type returned.
--------------------------------------------------------------------------------

-- The row lock makes concurrent retries and webhooks about one row take turns.
create function payments_private.lock_session(p_row anyelement, p_id uuid, p_what text)
returns anyelement
language plpgsql set search_path = ''
as $$
begin
  execute format('select * from %s s where s.id = $1 for update', pg_typeof(p_row)) into p_row using p_id;
  if p_row.id is null then
    perform payments_private.raise_not_found(p_what, p_id, pg_typeof(p_row)::text);
  end if;
  return p_row;
end;
$$;
comment on function payments_private.lock_session(anyelement, uuid, text) is 'Locks the session row p_id of p_row''s table (checkout or portal) for update and returns it; PT404 naming p_what when there is none.';

-- A Stripe error must not undo what Stripe already confirmed (a completed checkout, a created
-- portal session), whichever answer reaches the row first.
create function payments_private.record_session_failure(p_locked anyelement, p_error text, p_kept_status text)
returns anyelement
language plpgsql set search_path = ''
as $$
begin
  if p_locked.status <> p_kept_status then
    execute format('update %s s set status = ''failed'', last_error = $2 where s.id = $1 returning s.*', pg_typeof(p_locked))
      into p_locked using p_locked.id, coalesce(p_error, 'Unknown error.');
  end if;
  return p_locked;
end;
$$;
comment on function payments_private.record_session_failure(anyelement, text, text) is 'Marks a locked session row (checkout or portal) failed with the Stripe error, unless its status is p_kept_status; returns the row.';

-- security definer (here and in the record_* functions below): service-role entry points that
-- reach the private session-row helpers (and here the attempt count); EXECUTE is granted to
-- service_role only.
create function payments.restart_checkout_session(p_id uuid)
returns payments.stripe_checkout_sessions
language plpgsql security definer set search_path = ''
as $$
declare
  v_row payments.stripe_checkout_sessions;
begin
  -- Locked: two concurrent retries bump the attempt once.
  v_row := payments_private.lock_session(null::payments.stripe_checkout_sessions, p_id, 'Checkout session');
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

-- The function's 201 answer reports the session's total and currency as soon as Stripe has
-- created it, not only after the completion webhook.
create function payments.record_checkout_session_result(p_id uuid, p_session jsonb)
returns payments.stripe_checkout_sessions
language plpgsql security definer set search_path = ''
as $$
declare
  v_row payments.stripe_checkout_sessions;
  v_amount bigint := (p_session ->> 'amount_total')::bigint;
  v_currency text := lower(p_session ->> 'currency');
begin
  if p_session is null or jsonb_typeof(p_session -> 'id') is distinct from 'string' then
    perform payments_private.invalid_request('session.id', 'must be the id of a Stripe Checkout Session.');
  end if;
  v_row := payments_private.lock_session(null::payments.stripe_checkout_sessions, p_id, 'Checkout session');

  if v_row.status in ('completed', 'expired') then
    -- A webhook got here first and holds newer state: only fill in what it did not know.
    update payments.stripe_checkout_sessions s
    set checkout_session_id = coalesce(s.checkout_session_id, p_session ->> 'id'),
        url = coalesce(s.url, p_session ->> 'url'),
        expires_at = coalesce(s.expires_at, payments_private.stripe_time(p_session -> 'expires_at')),
        customer_id = coalesce(s.customer_id, payments_private.stripe_id(p_session -> 'customer')),
        amount_total = coalesce(s.amount_total, v_amount),
        currency = coalesce(s.currency, v_currency)
    where s.id = p_id
    returning * into v_row;
  else
    update payments.stripe_checkout_sessions s
    set checkout_session_id = p_session ->> 'id',
        url = p_session ->> 'url',
        expires_at = payments_private.stripe_time(p_session -> 'expires_at'),
        customer_id = coalesce(payments_private.stripe_id(p_session -> 'customer'), s.customer_id),
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

create function payments.record_checkout_session_failure(p_id uuid, p_error text)
returns payments.stripe_checkout_sessions
language sql security definer set search_path = ''
as $$
  select payments_private.record_session_failure(
    payments_private.lock_session(null::payments.stripe_checkout_sessions, p_id, 'Checkout session'), p_error, 'completed')
$$;
comment on function payments.record_checkout_session_failure(uuid, text) is 'Marks a checkout row failed with the Stripe error (a completed row stays completed).';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments.checkout_request(payments.stripe_checkout_sessions),
  payments.checkout_request_hash(payments.stripe_checkout_sessions),
  payments_private.check_checkout_row(),
  payments.create_checkout_session(text, jsonb),
  payments_private.lock_session(anyelement, uuid, text),
  payments_private.record_session_failure(anyelement, text, text),
  payments.restart_checkout_session(uuid),
  payments.record_checkout_session_result(uuid, jsonb),
  payments.record_checkout_session_failure(uuid, text)
from public;
grant execute on function
  payments.checkout_request(payments.stripe_checkout_sessions),
  payments.checkout_request_hash(payments.stripe_checkout_sessions),
  payments.create_checkout_session(text, jsonb)
to authenticated, service_role;
grant execute on function
  payments.restart_checkout_session(uuid),
  payments.record_checkout_session_result(uuid, jsonb),
  payments.record_checkout_session_failure(uuid, text)
to service_role;

-- migrate:down
