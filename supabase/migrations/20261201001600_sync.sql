-- migrate:up

-- Sync: one Stripe list page at a time, through the same projection code as webhooks; archiving
-- what a full sync no longer sees; and resuming an interrupted sync where it stopped.

--------------------------------------------------------------------------------
-- Pages of Stripe objects
--------------------------------------------------------------------------------

-- security definer: like ingest_stripe_event, it writes the mirrors through private functions.
-- Sync lists invoice payments before PaymentIntents: under API 2025+ a PaymentIntent does not say
-- which invoice it paid, and without the link (payments_private.link_invoice_payment) a
-- subscription's payment would be counted again as a one-time payment.
create function payments.upsert_stripe_objects(p_environment text, p_object_type text, p_objects jsonb, p_synced_at timestamptz default now())
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  -- The types the case below mirrors, in the order the message names them.
  v_types constant text[] := array['product', 'price', 'customer', 'subscription', 'invoice_payment',
                                   'payment_intent', 'charge', 'refund', 'invoice', 'checkout.session'];
  v_object jsonb;
  v_index integer := 0;
  v_at timestamptz;
  v_applied boolean;
begin
  perform payments_private.require_environment(p_environment);
  if p_object_type is null or not (p_object_type = any (v_types)) then
    perform payments_private.invalid_request('objectType', format('must be one of %s.', array_to_string(v_types, ', ')));
  end if;
  if p_objects is null or jsonb_typeof(p_objects) <> 'array' then
    perform payments_private.invalid_request('objects', 'must be a JSON array of Stripe objects (one list page).');
  end if;
  if p_synced_at is null then
    perform payments_private.invalid_request('syncedAt', 'must be a timestamp.');
  end if;

  for v_object in select value from jsonb_array_elements(p_objects) loop
    if jsonb_typeof(v_object) <> 'object' or jsonb_typeof(v_object -> 'id') is distinct from 'string'
       or coalesce(v_object ->> 'object', p_object_type) <> p_object_type then
      perform payments_private.invalid_request(format('objects[%s]', v_index), format('must be a Stripe %s object.', p_object_type));
    end if;
    -- The object's own `updated` dates its state when it has one; otherwise the list was read at
    -- about p_synced_at (an event newer than that still wins).
    v_at := least(coalesce(payments_private.stripe_time(v_object -> 'updated'), p_synced_at), p_synced_at);
    v_applied := null;
    case p_object_type
      when 'product' then v_applied := payments_private.upsert_product(p_environment, v_object, v_at, false, p_synced_at);
      when 'price' then v_applied := payments_private.upsert_price(p_environment, v_object, v_at, false, p_synced_at);
      when 'customer' then v_applied := payments_private.upsert_customer(p_environment, v_object, v_at, false, p_synced_at);
      when 'subscription' then v_applied := payments_private.upsert_subscription(p_environment, v_object, v_at, null, p_synced_at);
      when 'invoice_payment' then perform payments_private.project_invoice_payment(p_environment, v_object, v_at);
      when 'payment_intent' then perform payments_private.project_payment_intent(p_environment, v_object, v_at, null);
      when 'invoice' then perform payments_private.project_invoice(p_environment, v_object, v_at, null);
      when 'checkout.session' then perform payments_private.project_checkout_session(p_environment, v_object, v_at, null);
      when 'refund' then perform payments_private.project_refund(p_environment, v_object, v_at);
      when 'charge' then
        if coalesce((v_object ->> 'amount_refunded')::bigint, 0) > 0 then
          perform payments_private.project_charge(p_environment, v_object, v_at);
        end if;
    end case;
    -- Refused because the row holds newer state: the object still exists in Stripe.
    if not v_applied then
      perform payments_private.mark_seen_by_sync(p_object_type, p_environment, v_object ->> 'id', p_synced_at);
    end if;
    v_index := v_index + 1;
  end loop;
  return v_index;
end;
$$;
comment on function payments.upsert_stripe_objects(text, text, jsonb, timestamptz) is 'Mirrors one list page of Stripe objects (product, price, customer, subscription, invoice_payment, payment_intent, charge, refund, invoice, checkout.session) through the webhook projection, marking mirrored rows seen at p_synced_at. Returns the number of objects; PT400 for an unknown type.';

-- The mirrors a full sync lists completely, by Stripe object type: what it does not see is gone
-- from Stripe. One list for marking rows seen, archiving the unseen and switching accounts.
create function payments_private.archivable_mirrors()
returns table (object_type text, table_name text, id_column text)
language sql immutable set search_path = ''
as $$
  values ('product', 'stripe_products', 'product_id'), ('price', 'stripe_prices', 'price_id'),
         ('customer', 'customers', 'customer_id'), ('subscription', 'stripe_subscriptions', 'subscription_id')
$$;
comment on function payments_private.archivable_mirrors() is 'The object types a full sync lists completely (product, price, customer, subscription), with their mirror table and Stripe id column.';

-- Called by upsert_stripe_objects when an upsert refused an object of the page.
create function payments_private.mark_seen_by_sync(p_object_type text, p_environment text, p_id text, p_synced_at timestamptz)
returns void
language plpgsql set search_path = ''
as $$
declare
  v_mirror record;
begin
  select * into v_mirror from payments_private.archivable_mirrors() m where m.object_type = p_object_type;
  -- Seen by sync although the row holds newer state: it still exists in Stripe.
  execute format('update payments.%I t set last_synced_at = $1, archived_at = null where t.environment = $2 and t.%I = $3',
                 v_mirror.table_name, v_mirror.id_column)
    using p_synced_at, p_environment, p_id;
end;
$$;
comment on function payments_private.mark_seen_by_sync(text, text, text, timestamptz) is 'Marks a mirrored row seen by the sync at p_synced_at (and not archived).';

-- Runs inside the service-role entry points (complete_stripe_sync_type, switch_stripe_account).
create function payments_private.archive_unsynced_stripe_objects(p_environment text, p_object_type text, p_sync_started_at timestamptz)
returns integer
language plpgsql set search_path = ''
as $$
declare
  v_mirror record;
  v_count integer;
begin
  perform payments_private.require_environment(p_environment);
  select * into v_mirror from payments_private.archivable_mirrors() m where m.object_type = p_object_type;
  if p_sync_started_at is null then
    perform payments_private.invalid_request('syncStartedAt', 'must be a timestamp.');
  end if;
  if v_mirror.table_name is null then
    perform payments_private.invalid_request('objectType', 'must be one of product, price, customer, subscription.');
  end if;
  -- Rows that an event touched after the sync began exist even if no page showed them.
  execute format('update payments.%I t set archived_at = now()
                  where t.environment = $1 and t.archived_at is null
                    and coalesce(t.last_synced_at, ''-infinity'') < $2
                    and t.created_at < $2 and t.stripe_updated_at < $2', v_mirror.table_name)
    using p_environment, p_sync_started_at;
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function payments_private.archive_unsynced_stripe_objects(text, text, timestamptz) is 'After a completed full sync of one object type, archives (never deletes) the rows that sync did not see. Returns how many were archived.';

-- The previous account's rows are archived as a sync of the new
-- account archives what it did not see (which checks the environment first): one that started at
-- 'infinity' has seen none of them.
create function payments_private.archive_stripe_account_data(p_environment text)
returns void
language sql set search_path = ''
as $$
  select payments_private.archive_unsynced_stripe_objects(p_environment, m.object_type, 'infinity')
  from payments_private.archivable_mirrors() m;
  -- Mappings name customers of the previous account: a subject gets a new customer in the new one.
  delete from payments.customer_mappings m where m.provider = 'stripe' and m.environment = p_environment;
$$;
comment on function payments_private.archive_stripe_account_data(text) is 'When another Stripe account is connected to an environment: archives its catalog, customers and subscriptions and removes its customer mappings, so the two accounts never mix. History (transactions, events, sessions) stays.';

--------------------------------------------------------------------------------
-- Resumable sync
--------------------------------------------------------------------------------

-- A run remembers when it started (archiving and the history window depend on it) and, per
-- Stripe object type, the last id it wrote: an interrupted sync continues after its last page
-- instead of listing the whole account again. Each page and its checkpoint are written in one
-- transaction, so a checkpoint never names a page that was not stored.

create table payments_private.sync_runs (
  environment payments.environment primary key,
  started_at timestamptz not null default now(),
  finished_at timestamptz
);
comment on table payments_private.sync_runs is 'The latest sync per environment: when it started and, once every object type is done, when it finished.';
alter table payments_private.sync_runs enable row level security;

create table payments_private.sync_checkpoints (
  environment payments.environment not null references payments_private.sync_runs (environment) on delete cascade,
  object_type text not null,
  cursor text,
  total integer not null default 0,
  completed boolean not null default false,
  updated_at timestamptz not null default now(),
  primary key (environment, object_type)
);
comment on table payments_private.sync_checkpoints is 'Per object type of the running sync: the id of the last object written (the next page starts after it), how many were written, and whether the type is done (listed and archived).';
alter table payments_private.sync_checkpoints enable row level security;

-- Pages and completed types belong to the running sync: the time it started, or PT404.
create function payments_private.running_sync_started_at(p_environment text)
returns timestamptz
language plpgsql stable set search_path = ''
as $$
declare
  v_started timestamptz;
begin
  perform payments_private.require_environment(p_environment);
  select r.started_at into v_started from payments_private.sync_runs r
  where r.environment = p_environment::payments.environment and r.finished_at is null;
  if v_started is null then
    raise exception using errcode = 'PT404', message = format('No sync is running for the %s environment.', p_environment),
      hint = 'Start one with payments.start_stripe_sync.';
  end if;
  return v_started;
end;
$$;
comment on function payments_private.running_sync_started_at(text) is 'When the running sync of an environment started; PT400 for an unknown environment, PT404 when no sync is running.';

-- A page moves its type's checkpoint past its last object and adds what it wrote; completing the
-- type marks it done. One upsert for both, so the row's rules (a page without objects keeps the
-- cursor, done stays done) have one owner.
create function payments_private.save_sync_checkpoint(
  p_environment text, p_object_type text, p_cursor text, p_written integer, p_completed boolean)
returns integer
language sql set search_path = ''
as $$
  insert into payments_private.sync_checkpoints as c (environment, object_type, cursor, total, completed)
  values (p_environment::payments.environment, p_object_type, p_cursor, p_written, p_completed)
  on conflict (environment, object_type) do update set
    cursor = coalesce(excluded.cursor, c.cursor), total = c.total + excluded.total,
    completed = c.completed or excluded.completed, updated_at = now()
  returning c.total
$$;
comment on function payments_private.save_sync_checkpoint(text, text, text, integer, boolean) is 'Writes the running sync''s checkpoint of one object type: the cursor (kept when null), the total plus what was written, done once marked done. Returns the total.';

-- security definer (every function below): service-role entry points that write the private sync
-- state; EXECUTE is granted to service_role only.

create function payments.start_stripe_sync(p_environment text, p_resume boolean default false)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  v_run payments_private.sync_runs;
begin
  perform payments_private.require_environment(p_environment);
  select * into v_run from payments_private.sync_runs r where r.environment = p_environment::payments.environment for update;
  if coalesce(p_resume, false) and v_run.environment is not null and v_run.finished_at is null then
    return jsonb_build_object(
      'startedAt', v_run.started_at,
      'resumed', true,
      'checkpoints', coalesce((
        select jsonb_object_agg(c.object_type, jsonb_build_object('cursor', c.cursor, 'total', c.total, 'completed', c.completed))
        from payments_private.sync_checkpoints c where c.environment = v_run.environment), '{}'));
  end if;
  delete from payments_private.sync_runs r where r.environment = p_environment::payments.environment;
  insert into payments_private.sync_runs (environment) values (p_environment::payments.environment)
  returning * into v_run;
  return jsonb_build_object('startedAt', v_run.started_at, 'resumed', false, 'checkpoints', '{}'::jsonb);
end;
$$;
comment on function payments.start_stripe_sync(text, boolean) is 'Starts a sync of an environment, or with p_resume continues its unfinished one. Returns {startedAt, resumed, checkpoints: {objectType: {cursor, total, completed}}}.';

-- The run's own start time dates every page, so a resumed run archives exactly what a run
-- without interruption would.
create function payments.sync_stripe_page(p_environment text, p_object_type text, p_objects jsonb)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  v_count integer := payments.upsert_stripe_objects(p_environment, p_object_type, p_objects,
                                                    payments_private.running_sync_started_at(p_environment));
begin
  return payments_private.save_sync_checkpoint(p_environment, p_object_type, p_objects -> -1 ->> 'id', v_count, false);
end;
$$;
comment on function payments.sync_stripe_page(text, text, jsonb) is 'Mirrors one list page for the running sync and moves its checkpoint to the page''s last object, in one transaction. Returns the total written for the type; PT404 when no sync is running.';

-- Archiving and marking the type done share a transaction: a resumed run never skips archiving.
create function payments.complete_stripe_sync_type(p_environment text, p_object_type text)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  v_started timestamptz := payments_private.running_sync_started_at(p_environment);
  v_archived integer;
begin
  if exists (select from payments_private.archivable_mirrors() m where m.object_type = p_object_type) then
    v_archived := payments_private.archive_unsynced_stripe_objects(p_environment, p_object_type, v_started);
  end if;
  perform payments_private.save_sync_checkpoint(p_environment, p_object_type, null, 0, true);
  return v_archived;
end;
$$;
comment on function payments.complete_stripe_sync_type(text, text) is 'Marks one object type of the running sync done, archiving first what the sync did not see when the type is listed completely. Returns how many rows were archived, null for a type that is not listed completely (history).';

create function payments.finish_stripe_sync(p_environment text)
returns void
language plpgsql security definer set search_path = ''
as $$
begin
  perform payments_private.require_environment(p_environment);
  update payments_private.sync_runs r set finished_at = now()
  where r.environment = p_environment::payments.environment and r.finished_at is null;
end;
$$;
comment on function payments.finish_stripe_sync(text) is 'Marks the running sync of an environment finished: a later resume starts a new one.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments.upsert_stripe_objects(text, text, jsonb, timestamptz),
  payments_private.archivable_mirrors(),
  payments_private.mark_seen_by_sync(text, text, text, timestamptz),
  payments_private.archive_unsynced_stripe_objects(text, text, timestamptz),
  payments_private.archive_stripe_account_data(text),
  payments_private.running_sync_started_at(text),
  payments_private.save_sync_checkpoint(text, text, text, integer, boolean),
  payments.start_stripe_sync(text, boolean),
  payments.sync_stripe_page(text, text, jsonb),
  payments.complete_stripe_sync_type(text, text),
  payments.finish_stripe_sync(text)
from public;
grant execute on function
  payments.upsert_stripe_objects(text, text, jsonb, timestamptz),
  payments.start_stripe_sync(text, boolean),
  payments.sync_stripe_page(text, text, jsonb),
  payments.complete_stripe_sync_type(text, text),
  payments.finish_stripe_sync(text)
to service_role;

-- migrate:down
