-- migrate:up

-- Sync lists invoice payments before PaymentIntents: under API 2025+ a PaymentIntent does not say
-- which invoice it paid, and without the link a subscription's payment would be counted again as
-- a one-time payment (see 20261130001200_invoice_payments.sql).

-- security definer: like ingest_stripe_event, it writes the mirrors through private functions.
create or replace function payments.upsert_stripe_objects(p_environment text, p_object_type text, p_objects jsonb, p_synced_at timestamptz default now())
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  v_object jsonb;
  v_index integer := 0;
  v_at timestamptz;
begin
  perform payments_private.require_environment(p_environment);
  if p_object_type is null or p_object_type not in ('product', 'price', 'customer', 'subscription', 'invoice_payment',
                                                     'payment_intent', 'charge', 'refund', 'invoice', 'checkout.session') then
    perform payments_private.invalid_request('objectType',
      'must be one of product, price, customer, subscription, invoice_payment, payment_intent, charge, refund, invoice, checkout.session.');
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
    case p_object_type
      when 'product' then perform payments_private.upsert_product(p_environment, v_object, v_at, false, p_synced_at);
      when 'price' then perform payments_private.upsert_price(p_environment, v_object, v_at, false, p_synced_at);
      when 'customer' then perform payments_private.upsert_customer(p_environment, v_object, v_at, false, p_synced_at);
      when 'subscription' then perform payments_private.upsert_subscription(p_environment, v_object, v_at, null, p_synced_at);
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
    v_index := v_index + 1;
  end loop;
  return v_index;
end;
$$;
comment on function payments.upsert_stripe_objects(text, text, jsonb, timestamptz) is 'Mirrors one list page of Stripe objects (product, price, customer, subscription, payment_intent, charge, refund, invoice, checkout.session) through the webhook projection, marking mirrored rows seen at p_synced_at. Returns the number of objects; PT400 for an unknown type.';
comment on function payments.upsert_stripe_objects(text, text, jsonb, timestamptz) is 'Mirrors one list page of Stripe objects (product, price, customer, subscription, invoice_payment, payment_intent, charge, refund, invoice, checkout.session) through the webhook projection, marking mirrored rows seen at p_synced_at. Returns the number of objects; PT400 for an unknown type.';

-- migrate:down
