-- migrate:up

--------------------------------------------------------------------------------
-- Customers and who they bill for
--------------------------------------------------------------------------------

-- Each payload is stored once. A row written from an event's own object names that event
-- (source_event_id, a provider_event_id of payments.webhook_events) and keeps raw null; a row
-- written by sync has no event and keeps the object in raw. payments.stripe_object(row) reads the
-- object either way. The same holds for subscriptions, their items and transactions.
create table payments.customers (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  customer_id text not null,
  email text,
  name text,
  metadata jsonb not null default '{}'::jsonb,
  raw jsonb default '{}'::jsonb,
  deleted boolean not null default false,
  stripe_created_at timestamptz,
  stripe_updated_at timestamptz not null,
  archived_at timestamptz,
  last_synced_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  source_event_id text,
  unique (environment, customer_id),
  -- Each object is kept in exactly one place: the row's raw or the event it names.
  constraint stripe_object_kept_once check ((raw is null) = (source_event_id is not null))
);
comment on table payments.customers is 'Mirror of Stripe Customers. Service role only: apps read billing state through customer_mappings, subscriptions and transactions.';
comment on column payments.customers.source_event_id is 'The stored event (webhook_events.provider_event_id) whose data.object is this row''s Stripe object; raw is null then. Null when raw holds the object (sync). Read the object with payments.stripe_object(row).';
create index customers_email_idx on payments.customers (environment, lower(email));
-- The admin list's order: newest first by Stripe's creation time, keyset-paginated on id.
create index customers_created_idx
  on payments.customers (environment, (coalesce(stripe_created_at, created_at)) desc, id desc);
grant select, insert, update, delete on payments.customers to service_role;
alter table payments.customers enable row level security;
create trigger set_updated_at before update on payments.customers
  for each row execute function payments_private.set_updated_at();

create table payments.customer_mappings (
  id uuid primary key default gen_random_uuid(),
  provider text not null default 'stripe' check (provider = 'stripe'),
  environment payments.environment not null,
  subject_type payments.subject_type not null,
  subject_id text not null check (subject_id <> ''),
  provider_customer_id text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (provider, environment, subject_type, subject_id),
  unique (provider, environment, provider_customer_id)
);
comment on table payments.customer_mappings is 'Which Stripe customer bills which subject (user, team, ...). One customer per subject and one subject per customer, per environment.';
grant select on payments.customer_mappings to authenticated;
grant select, insert, update, delete on payments.customer_mappings to service_role;
alter table payments.customer_mappings enable row level security;
create policy "Users can read their own customer mapping" on payments.customer_mappings
  for select to authenticated
  using (subject_type = 'user' and subject_id = (select auth.uid())::text);
create trigger set_updated_at before update on payments.customer_mappings
  for each row execute function payments_private.set_updated_at();

--------------------------------------------------------------------------------
-- The projection's side
--------------------------------------------------------------------------------

-- A row written from an event's own object names the event (payments_private.projected_event
-- decides) instead of keeping a copy of the object in raw.
create function payments_private.upsert_customer(p_environment text, p_customer jsonb, p_at timestamptz, p_deleted boolean default false, p_synced_at timestamptz default null)
returns boolean
language plpgsql set search_path = ''
as $$
declare
  v_deleted boolean := p_deleted or coalesce((p_customer ->> 'deleted')::boolean, false);
  v_event text := payments_private.projected_event(p_customer);
begin
  insert into payments.customers as t (
    environment, customer_id, email, name, metadata, raw, source_event_id, deleted, stripe_created_at,
    stripe_updated_at, last_synced_at
  ) values (
    p_environment, p_customer ->> 'id', p_customer ->> 'email', p_customer ->> 'name',
    coalesce(p_customer -> 'metadata', '{}'::jsonb), case when v_event is null then p_customer end, v_event, v_deleted,
    payments_private.stripe_time(p_customer -> 'created'), p_at, p_synced_at
  )
  on conflict (environment, customer_id) do update set
    email = excluded.email, name = excluded.name, metadata = excluded.metadata, raw = excluded.raw,
    source_event_id = excluded.source_event_id,
    deleted = excluded.deleted, stripe_created_at = coalesce(excluded.stripe_created_at, t.stripe_created_at),
    stripe_updated_at = excluded.stripe_updated_at, archived_at = null,
    last_synced_at = coalesce(excluded.last_synced_at, t.last_synced_at)
  where not t.deleted and excluded.stripe_updated_at >= t.stripe_updated_at;
  if not found then
    return false;
  end if;

  if v_deleted then
    -- A deleted customer cannot open a portal or pay again: free the subject for a new one.
    delete from payments.customer_mappings m
    where m.provider = 'stripe' and m.environment = p_environment and m.provider_customer_id = p_customer ->> 'id';
  else
    perform payments_private.attach_customer(p_environment, payments_private.metadata_subject_type(p_customer -> 'metadata'),
      p_customer -> 'metadata' ->> 'payments_subject_id', p_customer ->> 'id');
  end if;
  return true;
end;
$$;
comment on function payments_private.upsert_customer(text, jsonb, timestamptz, boolean, timestamptz) is 'Mirrors a Stripe Customer unless the row holds newer state or was deleted; maps it to the subject in its metadata; a deletion removes its mapping. True when applied.';

-- Like link_customer, but for projection: never raises and never re-points a mapping.
create function payments_private.attach_customer(p_environment text, p_subject_type text, p_subject_id text, p_customer_id text)
returns text
language plpgsql set search_path = ''
as $$
declare
  v_customer text;
begin
  if p_customer_id is null or p_subject_type is null or p_subject_id is null
     or not payments.is_subject_type(p_subject_type) or p_subject_id = '' then
    return null;
  end if;
  -- Most events concern subjects mapped long ago: answer from the index before trying to insert.
  select m.provider_customer_id into v_customer from payments.customer_mappings m
  where m.provider = 'stripe' and m.environment = p_environment
    and m.subject_type = p_subject_type and m.subject_id = p_subject_id;
  if v_customer is not null then
    return v_customer;
  end if;
  -- A deleted customer bills nobody (an older event must not map it again).
  if exists (
    select 1 from payments.customers c
    where c.environment = p_environment and c.customer_id = p_customer_id and c.deleted
  ) then
    return null;
  end if;

  insert into payments.customer_mappings (environment, subject_type, subject_id, provider_customer_id)
  values (p_environment, p_subject_type, p_subject_id, p_customer_id)
  on conflict do nothing
  returning provider_customer_id into v_customer;

  if v_customer is null then
    -- Either side was mapped meanwhile: the subject keeps the customer it has, if any.
    return payments.customer_for_subject(p_environment, p_subject_type, p_subject_id);
  end if;

  -- Events can arrive before the one that carried the subject: give their subscriptions the
  -- subject now (transactions take it from the mapping's fill_subject_of_customer trigger).
  update payments.stripe_subscriptions s
  set subject_type = p_subject_type, subject_id = p_subject_id
  where s.environment = p_environment and s.customer_id = p_customer_id and s.subject_type is null;
  return v_customer;
end;
$$;
comment on function payments_private.attach_customer(text, text, text, text) is 'Maps a subject to a customer for the projection: quietly does nothing when either side is already mapped elsewhere, and fills in the subject of rows projected before the mapping existed.';

-- The subject an object being projected bills: the subject its metadata names (the payments_ keys
-- the edge function writes), mapped to its customer if that subject is not mapped yet; else the
-- subject its customer is mapped to; else nulls. Every projection reads the subject here. The
-- mapping check shares the statement that calls attach_customer: usually the subject was mapped
-- long ago, and the check costs less than a call. plpgsql rather than sql: a non-inlined SQL
-- function is planned again on every call. Callers assign it to a record (`v := billed_subject(...)`)
-- rather than select from it: a plain expression skips the executor and its function scan.
create function payments_private.billed_subject(p_environment text, p_metadata jsonb, p_customer_id text,
  out subject_type text, out subject_id text)
language plpgsql set search_path = ''
as $$
declare
  v_type text := payments_private.metadata_subject_type(p_metadata);
  v_id text := p_metadata ->> 'payments_subject_id';
begin
  if v_type is not null then
    perform payments_private.attach_customer(p_environment, v_type, v_id, p_customer_id)
    where not exists (select 1 from payments.customer_mappings m
                      where m.provider = 'stripe' and m.environment = p_environment
                        and m.subject_type = v_type and m.subject_id = v_id);
    subject_type := v_type;
    subject_id := v_id;
  elsif p_customer_id is not null then
    select m.subject_type, m.subject_id into subject_type, subject_id
    from payments.customer_mappings m
    where m.provider = 'stripe' and m.environment = p_environment and m.provider_customer_id = p_customer_id;
  end if;
end;
$$;
comment on function payments_private.billed_subject(text, jsonb, text) is 'The subject a projected object bills: the one its metadata names (mapping it to the customer when the subject is not mapped yet), else the subject its customer is mapped to, else nulls.';

--------------------------------------------------------------------------------
-- Customer mappings
--------------------------------------------------------------------------------

create function payments.customer_for_subject(p_environment text, p_subject_type text, p_subject_id text)
returns text
language sql stable security invoker set search_path = ''
as $$
  select m.provider_customer_id
  from payments.customer_mappings m
  where m.provider = 'stripe' and m.environment = p_environment
    and m.subject_type = p_subject_type and m.subject_id = p_subject_id
$$;
comment on function payments.customer_for_subject(text, text, text) is 'The Stripe customer id that bills a subject, or null.';

-- security definer: a service-role entry point that reaches the private validators; EXECUTE is
-- granted to service_role only.
create function payments.link_customer(p_environment text, p_subject_type text, p_subject_id text, p_customer_id text)
returns text
language plpgsql security definer set search_path = ''
as $$
declare
  v_customer text;
begin
  perform payments_private.require_environment(p_environment);
  if not coalesce(payments.is_subject_type(p_subject_type), false) then
    perform payments_private.invalid_request('subjectType', 'must be a lowercase snake_case name such as user or team.');
  end if;
  if p_subject_id is null or p_subject_id = '' then
    perform payments_private.invalid_request('subjectId', 'must not be empty.');
  end if;
  if p_customer_id is null or p_customer_id !~ '^cus_' then
    perform payments_private.invalid_request('customerId', 'must be a Stripe customer id (cus_...).');
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

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.upsert_customer(text, jsonb, timestamptz, boolean, timestamptz),
  payments_private.attach_customer(text, text, text, text),
  payments_private.billed_subject(text, jsonb, text),
  payments.customer_for_subject(text, text, text),
  payments.link_customer(text, text, text, text)
from public;
grant execute on function
  payments.customer_for_subject(text, text, text),
  payments.link_customer(text, text, text, text)
to service_role;

-- migrate:down
