-- Fulfil orders from verified Stripe webhooks with an app trigger on payments.webhook_events.
--
-- A user creates a pending order for a one-time price (price_id, quantity); the app, not the
-- caller, decides what it costs: a trigger copies amount, currency and description from the
-- synced catalog. The app then creates a checkout session for that price with metadata
-- {order_id: <order id>}. When Stripe reports the payment settled, ingest_stripe_event sets the
-- event's processing_status to 'processed' and the fulfillment trigger marks the order paid. A
-- duplicate delivery changes no webhook_events row, so the trigger does not fire again; a failing
-- trigger marks the event failed (and undoes the projection) until a later delivery or replay
-- succeeds.
--
-- metadata.order_id is only a claim by whoever created the checkout: the order is paid only when
-- payments.settled_payment(event) says the money arrived, its amount, currency, subject and
-- environment match the order, and the checkout sold exactly the order's price and quantity.
-- A payment that does not match leaves the order pending.

-- Which Stripe environments orders are priced in and paid from: live only. A deployment that
-- tests the whole loop with test cards (the demo, the end-to-end tests) opts in with
--   insert into public.fulfillment_environments values ('test');
create table public.fulfillment_environments (
  environment text primary key check (environment in ('test', 'live'))
);
comment on table public.fulfillment_environments is 'Example app setting: the Stripe environments whose prices orders use and whose payments fulfil them (live unless test is added).';
insert into public.fulfillment_environments values ('live');
-- Supabase grants every new table in public to anon and authenticated: only the app sets this.
revoke all on public.fulfillment_environments from anon, authenticated;

create table public.orders (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  price_id text not null,
  quantity integer not null default 1 check (quantity between 1 and 100),
  -- Set from the catalog by public.price_order(), whatever the insert says.
  environment text not null,
  description text not null,
  amount bigint not null check (amount >= 0),
  currency text not null,
  status text not null default 'pending' check (status in ('pending', 'paid')),
  paid_at timestamptz,
  created_at timestamptz not null default now()
);
comment on table public.orders is 'Example app table: an order for a one-time price, priced from the catalog on insert and paid by the fulfillment trigger on payments.webhook_events.';
-- Users choose what to buy, never what it costs nor whether it is paid. Supabase grants every new
-- table in public to anon and authenticated, so start from nothing.
revoke all on public.orders from anon, authenticated;
grant select, insert (user_id, price_id, quantity) on public.orders to authenticated;
alter table public.orders enable row level security;
create policy "Users can read their own orders" on public.orders
  for select to authenticated
  using (user_id = (select auth.uid()));
create policy "Users can create orders for themselves" on public.orders
  for insert to authenticated
  with check (user_id = (select auth.uid()));

-- security definer: users may read neither the accepted environments nor every catalog row, and
-- the price must come from the catalog whoever inserts the order.
create function public.price_order()
returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
  v_price record;
begin
  select p.environment::text as environment, p.unit_amount, p.currency, pr.name
  into v_price
  from payments.stripe_prices p
  join payments.stripe_products pr on pr.environment = p.environment and pr.product_id = p.product_id
  where p.price_id = new.price_id and p.type = 'one_time' and p.unit_amount is not null
    and p.active and p.deleted_at is null and p.archived_at is null
    and pr.active and pr.deleted_at is null and pr.archived_at is null
    and p.environment::text in (select e.environment from public.fulfillment_environments e)
  order by p.environment::text = 'live' desc
  limit 1;
  if not found then
    raise exception using errcode = '22023',
      message = format('priceId: no active one-time price "%s" that orders accept.', new.price_id);
  end if;
  new.environment := v_price.environment;
  new.amount := v_price.unit_amount * new.quantity;
  new.currency := v_price.currency;
  new.description := v_price.name || case when new.quantity > 1 then format(' (x%s)', new.quantity) else '' end;
  new.status := 'pending';
  new.paid_at := null;
  return new;
end;
$$;
comment on function public.price_order() is 'Example app trigger: prices a new order from an active one-time price in an accepted environment; refuses (22023) any other price.';
revoke execute on function public.price_order() from public, anon, authenticated;

create trigger price_order before insert on public.orders
  for each row execute function public.price_order();

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
    and o.environment = v_payment.environment
    and o.amount = v_payment.amount
    and o.currency = v_payment.currency
    and v_payment.subject_type = 'user' and o.user_id::text = v_payment.subject_id
    and v_payment.environment in (select e.environment from public.fulfillment_environments e)
    -- The checkout row holds the validated request: it sold this price, in this quantity, only.
    and exists (
      select 1 from payments.stripe_checkout_sessions s
      where s.environment::text = v_payment.environment
        and s.checkout_session_id = v_payment.checkout_session_id
        and s.line_items = jsonb_build_array(jsonb_build_object('priceId', o.price_id, 'quantity', o.quantity))
    );
  return new;
end;
$$;
comment on function public.fulfill_paid_order() is 'Example app trigger: marks an order paid when a settled payment matches its amount, currency, owner, environment and price, in an accepted environment.';
revoke execute on function public.fulfill_paid_order() from public, anon, authenticated;

create trigger fulfill_paid_order_from_webhook
  after insert or update on payments.webhook_events
  for each row execute function public.fulfill_paid_order();
