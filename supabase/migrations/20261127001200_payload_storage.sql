-- migrate:up

--------------------------------------------------------------------------------
-- Storage of the Stripe payloads
--------------------------------------------------------------------------------
-- Events and mirrored objects are jsonb of a few kB. lz4 compresses them at a ratio like pglz's
-- in a fraction of its CPU time (servers built without lz4 keep the default). Storage `main`
-- keeps the compressed value in the row unless the row would not fit a page: out of line, every
-- insert would also write TOAST chunks and their index entries, and every update rewrite them.
do $$
begin
  alter table payments.webhook_events alter column payload set compression lz4;
  alter table payments.stripe_products alter column raw set compression lz4;
  alter table payments.stripe_prices alter column raw set compression lz4;
  alter table payments.customers alter column raw set compression lz4;
  alter table payments.stripe_subscriptions alter column raw set compression lz4;
  alter table payments.stripe_subscription_items alter column raw set compression lz4;
  alter table payments.transactions alter column raw set compression lz4;
exception
  when feature_not_supported then
    raise notice 'lz4 is not available on this server; jsonb columns keep the default compression.';
end;
$$;
alter table payments.webhook_events alter column payload set storage main;
alter table payments.transactions alter column raw set storage main;
alter table payments.stripe_subscriptions alter column raw set storage main;
alter table payments.stripe_subscription_items alter column raw set storage main;
alter table payments.customers alter column raw set storage main;
alter table payments.stripe_products alter column raw set storage main;
alter table payments.stripe_prices alter column raw set storage main;

-- Catalog rows and subscription items are rewritten by every event about them without changing
-- an indexed column: room on the page lets those updates stay HOT (no index writes).
alter table payments.stripe_products set (fillfactor = 80);
alter table payments.stripe_prices set (fillfactor = 80);
alter table payments.stripe_subscription_items set (fillfactor = 80);

-- migrate:down
