-- Fulfil orders from verified Stripe webhooks with an app trigger on payments.webhook_events.
--
-- The app creates a pending order, then a checkout session with metadata {order_id: <order id>}.
-- When Stripe reports the session completed, ingest_stripe_event sets the event's
-- processing_status to 'processed' and this trigger marks the order paid. A duplicate delivery
-- changes no webhook_events row, so the trigger does not fire again; a failing trigger marks the
-- event failed (and undoes the projection) until a later delivery or replay succeeds.

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

-- The trigger below is the seed's example, copied unchanged.
CREATE OR REPLACE FUNCTION public.fulfill_stripe_order()
RETURNS TRIGGER AS $$
BEGIN
  IF NEW.provider = 'stripe'
     AND NEW.event_type = 'checkout.session.completed'
     AND NEW.processing_status = 'processed'
     AND (NEW.payload -> 'data' -> 'object' -> 'metadata' ->> 'order_id') IS NOT NULL THEN
    UPDATE public.orders
    SET status = 'paid',
        paid_at = COALESCE(NEW.processed_at, NOW())
    WHERE id::text = NEW.payload -> 'data' -> 'object' -> 'metadata' ->> 'order_id'
      AND status = 'pending';
  END IF;

  RETURN NEW;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER;

CREATE TRIGGER fulfill_stripe_order_from_webhook
  AFTER INSERT OR UPDATE ON payments.webhook_events
  FOR EACH ROW
  EXECUTE FUNCTION public.fulfill_stripe_order();
