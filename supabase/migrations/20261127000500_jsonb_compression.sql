-- migrate:up

-- Every event and every mirrored Stripe object is stored as jsonb large enough to be compressed
-- on write. lz4 compresses at a similar ratio in a fraction of pglz's CPU time, which is most of
-- what ingesting a webhook costs beyond the SQL itself. Existing values stay as they are; only
-- new writes use lz4. Servers built without lz4 keep the default.

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

-- migrate:down
