-- migrate:up

--------------------------------------------------------------------------------
-- Admin list filters with a fixed set of values (status, transaction type) refuse any other
-- value with a 400 naming the field and the allowed values, instead of answering an empty page.
-- The allowed values are read from the columns' check constraints: one list, the table's.
--------------------------------------------------------------------------------

-- The literals of the single-column check constraints on a column, e.g. status in ('a', 'b').
create function payments_private.column_check_values(p_table regclass, p_column name)
returns text[]
language sql stable set search_path = ''
as $$
  select array(
    select replace(m.v[1], '''''', '''')
    from pg_catalog.pg_constraint c
    join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
    cross join lateral regexp_matches(pg_catalog.pg_get_constraintdef(c.oid), '''((?:[^'']|'''')*)''', 'g')
      with ordinality as m(v, n)
    where c.conrelid = p_table and c.contype = 'c' and cardinality(c.conkey) = 1 and a.attname = p_column
    order by c.conname, m.n
  )
$$;
comment on function payments_private.column_check_values(regclass, name) is 'The values a column''s check constraint allows (its quoted literals, in order).';
revoke execute on function payments_private.column_check_values(regclass, name) from public;

create function payments_private.check_list_filter(p_field text, p_table regclass, p_column name, p_value text)
returns void
language plpgsql stable set search_path = ''
as $$
declare
  v_allowed text[];
begin
  if p_value is null then
    return;
  end if;
  v_allowed := payments_private.column_check_values(p_table, p_column);
  if not (p_value = any (v_allowed)) then
    perform payments_private.invalid_request(p_field, format('must be one of %s.', array_to_string(v_allowed, ', ')));
  end if;
end;
$$;
comment on function payments_private.check_list_filter(text, regclass, name, text) is 'PT400 naming the filter and its allowed values (the column''s check constraint) unless the value is one of them or null.';
revoke execute on function payments_private.check_list_filter(text, regclass, name, text) from public;

create or replace function payments.list_webhook_events(
  p_environment text, p_limit integer default null, p_cursor text default null,
  p_status text default null, p_type text default null, p_object_id text default null,
  p_since timestamptz default null)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_limit integer := payments_private.check_list_request(p_environment, p_limit);
  v_where text := format('e.provider = %L and e.environment = %L', 'stripe', p_environment);
  v_page jsonb;
begin
  perform payments_private.check_list_filter('status', 'payments.webhook_events', 'processing_status', p_status);
  v_where := v_where || payments_private.list_filter('e.processing_status', p_status);
  v_where := v_where || payments_private.list_filter('e.event_type', p_type);
  v_where := v_where || payments_private.list_filter('e.object_id', p_object_id);
  if p_since is not null then
    v_where := v_where || format(' and e.received_at >= %L::timestamptz', p_since);
  end if;
  v_page := payments_private.keyset_page('payments.webhook_events', 'e', 'e.received_at', $i$
      jsonb_build_object(
         'eventId', e.provider_event_id, 'type', e.event_type, 'status', e.processing_status,
         'objectType', e.object_type, 'objectId', e.object_id, 'livemode', e.livemode,
         'apiVersion', e.api_version, 'attempts', e.attempt_count, 'lastError', e.last_error,
         'createdAt', e.event_created_at, 'receivedAt', e.received_at, 'processedAt', e.processed_at
       )
    $i$, v_where, p_cursor, v_limit);
  return v_page;
end;
$$;
comment on function payments.list_webhook_events(text, integer, text, text, text, text, timestamptz) is 'One page {data, nextCursor} of received webhook events, newest first, optionally by status, type, object id and received since; without payloads (see get_webhook_event). PT400 for a status the table does not have.';

create or replace function payments.list_transactions(
  p_environment text, p_limit integer default null, p_cursor text default null,
  p_type text default null, p_status text default null, p_subject_type text default null,
  p_subject_id text default null, p_customer_id text default null, p_since timestamptz default null)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_limit integer := payments_private.check_list_request(p_environment, p_limit);
  v_where text := format('t.provider = %L and t.environment = %L', 'stripe', p_environment);
  v_page jsonb;
  v_totals jsonb;
begin
  perform payments_private.check_list_filter('type', 'payments.transactions', 'type', p_type);
  perform payments_private.check_list_filter('status', 'payments.transactions', 'status', p_status);
  v_where := v_where || payments_private.list_filter('t.type', p_type);
  v_where := v_where || payments_private.list_filter('t.status', p_status);
  v_where := v_where || payments_private.list_filter('t.subject_type', p_subject_type);
  v_where := v_where || payments_private.list_filter('t.subject_id', p_subject_id);
  v_where := v_where || payments_private.list_filter('t.customer_id', p_customer_id);
  if p_since is not null then
    v_where := v_where || format(' and coalesce(t.stripe_created_at, t.created_at) >= %L::timestamptz', p_since);
  end if;
  -- Totals describe the whole filtered set, so they come with the first page only.
  if p_cursor is null then
    execute format($q$
      select coalesce(jsonb_agg(jsonb_build_object('currency', currency, 'count', n, 'amount', amount,
                                                    'amountRefunded', refunded) order by currency), '[]'::jsonb)
      from (select t.currency, count(*) as n, sum(t.amount) as amount, sum(t.amount_refunded) as refunded
            from payments.transactions t where %s group by t.currency) s
    $q$, v_where) into v_totals;
  end if;
  v_page := payments_private.keyset_page('payments.transactions', 't', 'coalesce(t.stripe_created_at, t.created_at)', $i$
      jsonb_build_object(
         'id', t.id, 'type', t.type, 'status', t.status, 'objectId', t.provider_object_id,
         'subjectType', t.subject_type, 'subjectId', t.subject_id, 'customerId', t.customer_id,
         'customerEmail', t.customer_email, 'checkoutSessionId', t.checkout_session_id,
         'paymentIntentId', t.payment_intent_id, 'chargeId', t.charge_id, 'invoiceId', t.invoice_id,
         'subscriptionId', t.subscription_id, 'refundId', t.refund_id, 'amount', t.amount,
         'amountRefunded', t.amount_refunded, 'currency', t.currency, 'description', t.description,
         'paidAt', t.paid_at, 'failedAt', t.failed_at, 'refundedAt', t.refunded_at,
         'createdAt', coalesce(t.stripe_created_at, t.created_at)
       )
    $i$, v_where, p_cursor, v_limit);
  if v_totals is not null then
    v_page := v_page || jsonb_build_object('totals', v_totals);
  end if;
  return v_page;
end;
$$;
comment on function payments.list_transactions(text, integer, text, text, text, text, text, text, timestamptz) is 'One page {data, nextCursor} of transactions, newest first, optionally by type, status, subject, customer and created since; the first page also carries totals per currency of the whole filtered set. PT400 for a type or status the table does not have.';

create or replace function payments.list_subscriptions(
  p_environment text, p_limit integer default null, p_cursor text default null,
  p_status text default null)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_limit integer := payments_private.check_list_request(p_environment, p_limit);
  v_where text := format('s.environment = %L', p_environment);
  v_page jsonb;
begin
  perform payments_private.check_list_filter('status', 'payments.stripe_subscriptions', 'status', p_status);
  v_where := v_where || payments_private.list_filter('s.status', p_status);
  v_page := payments_private.keyset_page('payments.stripe_subscriptions', 's', 'coalesce(s.stripe_created_at, s.created_at)', $i$
      jsonb_build_object(
         'subscriptionId', s.subscription_id, 'customerId', s.customer_id,
         'subjectType', s.subject_type, 'subjectId', s.subject_id, 'status', s.status,
         'cancelAtPeriodEnd', s.cancel_at_period_end, 'cancelAt', s.cancel_at,
         'canceledAt', s.canceled_at, 'endedAt', s.ended_at, 'trialEnd', s.trial_end,
         'currentPeriodEnd', coalesce(s.current_period_end, (
           select min(i.current_period_end) from payments.stripe_subscription_items i
           where i.environment = s.environment and i.subscription_id = s.subscription_id)),
         'items', coalesce((
           select jsonb_agg(jsonb_build_object('priceId', i.price_id, 'productId', i.product_id,
                                               'quantity', i.quantity) order by i.subscription_item_id)
           from payments.stripe_subscription_items i
           where i.environment = s.environment and i.subscription_id = s.subscription_id), '[]'::jsonb),
         'metadata', s.metadata, 'archived', s.archived_at is not null,
         'createdAt', coalesce(s.stripe_created_at, s.created_at)
       )
    $i$, v_where, p_cursor, v_limit);
  return v_page;
end;
$$;
comment on function payments.list_subscriptions(text, integer, text, text) is 'One page {data, nextCursor} of mirrored subscriptions with their items, newest first, optionally by status. PT400 for a status the table does not have.';

-- migrate:down
