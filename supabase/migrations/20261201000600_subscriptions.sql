-- migrate:up

--------------------------------------------------------------------------------
-- Subscriptions and their items (each payload stored once, as on payments.customers)
--------------------------------------------------------------------------------
create table payments.stripe_subscriptions (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  subscription_id text not null,
  customer_id text not null,
  subject_type payments.subject_type,
  subject_id text,
  status text not null check (status in (
    'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused'
  )),
  cancel_at_period_end boolean not null default false,
  cancel_at timestamptz,
  canceled_at timestamptz,
  ended_at timestamptz,
  current_period_start timestamptz,
  current_period_end timestamptz,
  trial_start timestamptz,
  trial_end timestamptz,
  latest_invoice_id text,
  metadata jsonb not null default '{}'::jsonb,
  raw jsonb default '{}'::jsonb,
  stripe_created_at timestamptz,
  stripe_updated_at timestamptz not null,
  archived_at timestamptz,
  last_synced_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  source_event_id text,
  unique (environment, subscription_id),
  check ((subject_type is null) = (subject_id is null)),
  constraint stripe_object_kept_once check ((raw is null) = (source_event_id is not null))
);
comment on table payments.stripe_subscriptions is 'Mirror of Stripe Subscriptions with the billing subject they belong to (null until the customer is mapped).';
comment on column payments.stripe_subscriptions.stripe_updated_at is 'Stripe-side time of the state held here (event created or sync time); older writes are refused.';
comment on column payments.stripe_subscriptions.source_event_id is 'The stored event (webhook_events.provider_event_id) whose data.object is this row''s Stripe object; raw is null then. Null when raw holds the object (sync). Read the object with payments.stripe_object(row).';
create index stripe_subscriptions_subject_idx
  on payments.stripe_subscriptions (environment, subject_type, subject_id);
create index stripe_subscriptions_customer_idx on payments.stripe_subscriptions (environment, customer_id);
-- No index on status alone: nothing looks subscriptions up by status without a subject or an
-- environment to narrow them first, and without it a status change (every customer.subscription.
-- updated that activates or cancels one) can stay a HOT update.
-- The admin list's order: newest first by Stripe's creation time, keyset-paginated on id.
create index stripe_subscriptions_created_idx
  on payments.stripe_subscriptions (environment, (coalesce(stripe_created_at, created_at)) desc, id desc);
grant select on payments.stripe_subscriptions to authenticated;
grant select, insert, update, delete on payments.stripe_subscriptions to service_role;
alter table payments.stripe_subscriptions enable row level security;
create policy "Users can read their own subscriptions" on payments.stripe_subscriptions
  for select to authenticated
  using (subject_type = 'user' and subject_id = (select auth.uid())::text);
create trigger set_updated_at before update on payments.stripe_subscriptions
  for each row execute function payments_private.set_updated_at();

-- fillfactor 80: every event about a subscription rewrites its items without changing an indexed
-- column; room on the page keeps those updates HOT.
create table payments.stripe_subscription_items (
  id uuid primary key default gen_random_uuid(),
  environment payments.environment not null,
  subscription_item_id text not null,
  subscription_id text not null,
  price_id text,
  product_id text,
  quantity integer check (quantity >= 0),
  current_period_start timestamptz,
  current_period_end timestamptz,
  metadata jsonb not null default '{}'::jsonb,
  raw jsonb default '{}'::jsonb,
  stripe_updated_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  source_event_id text,
  unique (environment, subscription_item_id),
  foreign key (environment, subscription_id)
    references payments.stripe_subscriptions (environment, subscription_id) on delete cascade,
  constraint stripe_object_kept_once check ((raw is null) = (source_event_id is not null))
) with (fillfactor = 80);
comment on table payments.stripe_subscription_items is 'Items (price and quantity) of mirrored subscriptions. Period dates live here in current Stripe API versions.';
comment on column payments.stripe_subscription_items.source_event_id is 'The stored event (webhook_events.provider_event_id) whose subscription lists this item; raw is null then. Null when raw holds the item (sync). Read it with payments.stripe_object(row).';
create index stripe_subscription_items_subscription_idx
  on payments.stripe_subscription_items (environment, subscription_id);
create index stripe_subscription_items_price_idx on payments.stripe_subscription_items (environment, price_id);
grant select on payments.stripe_subscription_items to authenticated;
grant select, insert, update, delete on payments.stripe_subscription_items to service_role;
alter table payments.stripe_subscription_items enable row level security;
-- Visibility follows the parent subscription, including the app's own policies on it.
create policy "Users can read items of subscriptions they can read" on payments.stripe_subscription_items
  for select to authenticated
  using (exists (
    select 1 from payments.stripe_subscriptions s
    where s.environment = stripe_subscription_items.environment
      and s.subscription_id = stripe_subscription_items.subscription_id
  ));
create trigger set_updated_at before update on payments.stripe_subscription_items
  for each row execute function payments_private.set_updated_at();

--------------------------------------------------------------------------------
-- The projection's side
--------------------------------------------------------------------------------

create function payments_private.upsert_subscription(p_environment text, p_subscription jsonb, p_at timestamptz, p_event_type text default null, p_synced_at timestamptz default null)
returns boolean
language plpgsql set search_path = ''
as $$
declare
  v_subscription_id text := p_subscription ->> 'id';
  v_customer text := payments_private.stripe_id(p_subscription -> 'customer');
  v_items jsonb := coalesce(p_subscription -> 'items' -> 'data', '[]'::jsonb);
  v_status text := p_subscription ->> 'status';
  v_event text := payments_private.projected_event(p_subscription);
  v_subject record;
  v_id uuid;
  v_inserted boolean;
begin
  v_subject := payments_private.billed_subject(p_environment, p_subscription -> 'metadata', v_customer);

  if p_event_type = 'customer.subscription.deleted' and v_status not in ('canceled', 'incomplete_expired') then
    v_status := 'canceled';
  end if;

  insert into payments.stripe_subscriptions as t (
    environment, subscription_id, customer_id, subject_type, subject_id, status, cancel_at_period_end,
    cancel_at, canceled_at, ended_at, current_period_start, current_period_end, trial_start, trial_end,
    latest_invoice_id, metadata, raw, source_event_id, stripe_created_at, stripe_updated_at, last_synced_at
  ) values (
    p_environment, v_subscription_id, v_customer, v_subject.subject_type, v_subject.subject_id, v_status,
    coalesce((p_subscription ->> 'cancel_at_period_end')::boolean, false),
    payments_private.stripe_time(p_subscription -> 'cancel_at'), payments_private.stripe_time(p_subscription -> 'canceled_at'),
    payments_private.stripe_time(p_subscription -> 'ended_at'),
    -- API 2025+ keeps the period on each item; older versions on the subscription.
    coalesce(payments_private.stripe_time(p_subscription -> 'current_period_start'),
      (select min(payments_private.stripe_time(i -> 'current_period_start')) from jsonb_array_elements(v_items) i)),
    coalesce(payments_private.stripe_time(p_subscription -> 'current_period_end'),
      (select max(payments_private.stripe_time(i -> 'current_period_end')) from jsonb_array_elements(v_items) i)),
    payments_private.stripe_time(p_subscription -> 'trial_start'), payments_private.stripe_time(p_subscription -> 'trial_end'),
    payments_private.stripe_id(p_subscription -> 'latest_invoice'), coalesce(p_subscription -> 'metadata', '{}'::jsonb),
    case when v_event is null then p_subscription end, v_event,
    payments_private.stripe_time(p_subscription -> 'created'), p_at, p_synced_at
  )
  on conflict (environment, subscription_id) do update set
    customer_id = excluded.customer_id,
    subject_type = coalesce(excluded.subject_type, t.subject_type),
    subject_id = case when excluded.subject_type is not null then excluded.subject_id else t.subject_id end,
    status = excluded.status, cancel_at_period_end = excluded.cancel_at_period_end,
    cancel_at = excluded.cancel_at, canceled_at = excluded.canceled_at, ended_at = excluded.ended_at,
    current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
    trial_start = excluded.trial_start, trial_end = excluded.trial_end,
    latest_invoice_id = excluded.latest_invoice_id, metadata = excluded.metadata, raw = excluded.raw,
    source_event_id = excluded.source_event_id,
    stripe_created_at = coalesce(excluded.stripe_created_at, t.stripe_created_at),
    stripe_updated_at = excluded.stripe_updated_at, archived_at = null,
    last_synced_at = coalesce(excluded.last_synced_at, t.last_synced_at)
  -- Canceled and incomplete_expired are final in Stripe: only another final state may follow.
  where excluded.stripe_updated_at >= t.stripe_updated_at
    and (t.status not in ('canceled', 'incomplete_expired') or excluded.status in ('canceled', 'incomplete_expired'))
  returning t.id, t.xmax = 0 into v_id, v_inserted;

  if v_id is null then
    return false;
  end if;

  insert into payments.stripe_subscription_items as t (
    environment, subscription_item_id, subscription_id, price_id, product_id, quantity,
    current_period_start, current_period_end, metadata, raw, source_event_id, stripe_updated_at
  )
  select p_environment, i ->> 'id', v_subscription_id,
    coalesce(payments_private.stripe_id(i -> 'price'), payments_private.stripe_id(i -> 'plan')),
    coalesce(payments_private.stripe_id(i -> 'price' -> 'product'), payments_private.stripe_id(i -> 'plan' -> 'product')),
    (i ->> 'quantity')::integer,
    payments_private.stripe_time(i -> 'current_period_start'), payments_private.stripe_time(i -> 'current_period_end'),
    coalesce(i -> 'metadata', '{}'::jsonb), case when v_event is null then i end, v_event, p_at
  from jsonb_array_elements(v_items) i
  on conflict (environment, subscription_item_id) do update set
    price_id = excluded.price_id, product_id = excluded.product_id, quantity = excluded.quantity,
    current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
    metadata = excluded.metadata, raw = excluded.raw, source_event_id = excluded.source_event_id,
    stripe_updated_at = excluded.stripe_updated_at
  where excluded.stripe_updated_at >= t.stripe_updated_at;

  -- Items gone from the newest state were removed in Stripe (unless the list was cut short). A
  -- subscription seen for the first time (xmax = 0: inserted, not updated) has no older items.
  if not v_inserted and not coalesce((p_subscription -> 'items' ->> 'has_more')::boolean, false) then
    delete from payments.stripe_subscription_items t
    where t.environment = p_environment and t.subscription_id = v_subscription_id
      and t.stripe_updated_at <= p_at
      and not exists (select 1 from jsonb_array_elements(v_items) i where i ->> 'id' = t.subscription_item_id);
  end if;
  return true;
end;
$$;
comment on function payments_private.upsert_subscription(text, jsonb, timestamptz, text, timestamptz) is 'Mirrors a Stripe Subscription and its items unless the row holds newer state or is canceled; the subject comes from its metadata or the customer mapping. True when applied.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.upsert_subscription(text, jsonb, timestamptz, text, timestamptz)
from public;

-- migrate:down
