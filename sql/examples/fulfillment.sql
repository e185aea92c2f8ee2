-- Fulfil orders from verified Stripe webhooks with an app trigger on payments.webhook_events.
--
-- The app creates a pending order, then a checkout session with metadata {order_id: <order id>}.
-- When Stripe reports the payment settled, ingest_stripe_event sets the event's processing_status
-- to 'processed' and this trigger marks the order paid. A duplicate delivery changes no
-- webhook_events row, so the trigger does not fire again; a failing trigger marks the event
-- failed (and undoes the projection) until a later delivery or replay succeeds.
--
-- metadata.order_id is only a claim by whoever created the checkout: the order is paid only when
-- payments.settled_payment(event) says the money arrived and its amount, currency, subject and
-- environment match the order. A payment that does not match leaves the order pending.

create table public.orders (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  description text not null default '',
  amount bigint not null check (amount >= 0),
  currency text not null default 'usd',
  status text not null default 'pending' check (status in ('pending', 'paid')),
  paid_at timestamptz,
  created_at timestamptz not null default now()
);
comment on table public.orders is 'Example app table: an order is paid by the fulfillment trigger on payments.webhook_events.';
grant select, insert on public.orders to authenticated;
alter table public.orders enable row level security;
create policy "Users can read their own orders" on public.orders
  for select to authenticated
  using (user_id = (select auth.uid()));
create policy "Users can create pending orders for themselves" on public.orders
  for insert to authenticated
  with check (user_id = (select auth.uid()) and status = 'pending' and paid_at is null);

-- Which Stripe environments may pay for orders: live only. A deployment that tests the whole loop
-- with test cards (the demo, the end-to-end tests) opts in with
--   insert into public.fulfillment_environments values ('test');
create table public.fulfillment_environments (
  environment text primary key check (environment in ('test', 'live'))
);
comment on table public.fulfillment_environments is 'Example app setting: the Stripe environments whose payments fulfil orders (live unless test is added).';
insert into public.fulfillment_environments values ('live');

-- security definer: webhook events are written by the service role, and orders belong to users;
-- the trigger must update orders whoever inserted the event.
create function public.fulfill_paid_order()
returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
  v_payment record;
begin
  select * into v_payment from payments.settled_payment(new);
  if v_payment.order_id is null then
    return new;
  end if;
  update public.orders o
  set status = 'paid', paid_at = v_payment.settled_at
  where o.id::text = v_payment.order_id
    and o.status = 'pending'
    and o.amount = v_payment.amount
    and lower(o.currency) = v_payment.currency
    and v_payment.subject_type = 'user' and o.user_id::text = v_payment.subject_id
    and v_payment.environment in (select e.environment from public.fulfillment_environments e);
  return new;
end;
$$;
comment on function public.fulfill_paid_order() is 'Example app trigger: marks an order paid when a settled payment matches its amount, currency, owner and an accepted environment.';
revoke execute on function public.fulfill_paid_order() from public;

create trigger fulfill_paid_order_from_webhook
  after insert or update on payments.webhook_events
  for each row execute function public.fulfill_paid_order();
