-- migrate:up

--------------------------------------------------------------------------------
-- Entitlements
--------------------------------------------------------------------------------

-- security invoker on purpose: the caller's RLS on stripe_subscriptions applies, so a user can
-- only learn about subjects whose subscriptions they may read (their own, or their team's with
-- the app's policies). Called from an app's policy it answers for the current user's view.
-- plpgsql rather than sql: policies call it per row, and a SQL function that cannot be inlined
-- (it pins search_path) would be planned again on every call; plpgsql keeps the plan.
create function payments.has_active_subscription(
  p_subject_type text,
  p_subject_id text,
  p_environment text default null,
  p_product_id text default null,
  p_price_id text default null,
  p_lookup_key text default null
)
returns boolean
language plpgsql stable security invoker set search_path = ''
as $$
begin
  return exists (
    select 1
    from payments.stripe_subscriptions s
    where s.subject_type = p_subject_type and s.subject_id = p_subject_id
      and s.status in ('active', 'trialing') and s.archived_at is null
      and (p_environment is null or s.environment = p_environment)
      and (
        (p_product_id is null and p_price_id is null and p_lookup_key is null)
        or exists (
          select 1
          from payments.stripe_subscription_items i
          left join payments.stripe_prices p on p.environment = i.environment and p.price_id = i.price_id
          where i.environment = s.environment and i.subscription_id = s.subscription_id
            and (p_product_id is null or i.product_id = p_product_id)
            and (p_price_id is null or i.price_id = p_price_id)
            -- A deactivated price is hidden from users; the item keeps the price it was sold at.
            and (p_lookup_key is null or coalesce(p.lookup_key, i.raw -> 'price' ->> 'lookup_key') = p_lookup_key)
        )
      )
  );
end;
$$;
comment on function payments.has_active_subscription(text, text, text, text, text, text) is 'True when the subject has an active or trialing, unarchived subscription (optionally in one environment and with an item of the given product, price or price lookup_key). Security invoker: the caller''s RLS on stripe_subscriptions applies, so use it in policies for subjects the user may see.';
revoke execute on function payments.has_active_subscription(text, text, text, text, text, text) from public;
grant execute on function payments.has_active_subscription(text, text, text, text, text, text) to authenticated, service_role;

-- migrate:down
