-- migrate:up

--------------------------------------------------------------------------------
-- Session requests: unknown fields are refused by name (a misspelled successURL or a
-- lineItems[].price_data must not pass silently), and the Billing Portal configuration is the
-- deployment's choice (payments.portal_configurations, set by the edge function from
-- PAYMENTS_PORTAL_CONFIGURATIONS), not the user's.
--------------------------------------------------------------------------------

-- The one list of the fields each session request (and its nested objects) may carry.
create function payments_private.unknown_field_errors(p_session text, p_request jsonb)
returns jsonb
language sql immutable set search_path = ''
as $$
  with known(path, object, fields) as (
    values
      ('', case when p_session = 'checkout' then p_request end,
       array['mode', 'subject', 'lineItems', 'successUrl', 'cancelUrl', 'customerEmail', 'metadata', 'idempotencyKey']),
      ('', case when p_session = 'portal' then p_request end,
       array['subject', 'returnUrl', 'configurationId']),
      ('subject.', p_request -> 'subject', array['type', 'id'])
    union all
    select format('lineItems[%s].', i.n - 1), i.item, array['priceId', 'quantity']
    from jsonb_array_elements(case when p_session = 'checkout' and jsonb_typeof(p_request -> 'lineItems') = 'array'
                                   then p_request -> 'lineItems' end) with ordinality as i(item, n)
  )
  select coalesce(jsonb_agg(jsonb_build_object('field', k.path || f.key,
           'message', format('is not a field of this request; use %s.', array_to_string(k.fields, ', ')))
           order by k.path, f.key), '[]'::jsonb)
  from known k
  cross join lateral jsonb_object_keys(case when jsonb_typeof(k.object) = 'object' then k.object end) as f(key)
  where not (f.key = any (k.fields))
$$;
comment on function payments_private.unknown_field_errors(text, jsonb) is 'A {field, message} for every field of a checkout or portal request (top level, subject, line items) that the request does not define.';
revoke execute on function payments_private.unknown_field_errors(text, jsonb) from public;

-- security definer: the request rules live in payments_private, which API roles cannot use;
-- this function (it reads no table, only the deployment's settings) is their one door, for the
-- user-side session functions (security invoker) and for apps that check a request before sending it.
create or replace function payments.validate_session_request(p_session text, p_environment text, p_request jsonb)
returns void
language plpgsql stable security definer set search_path = ''
as $$
begin
  perform payments_private.require_environment(p_environment);
  perform payments_private.raise_invalid(case p_session
    when 'checkout' then payments_private.unknown_field_errors('checkout', p_request)
                         || payments_private.checkout_request_errors(p_request)
    when 'portal' then payments_private.unknown_field_errors('portal', p_request)
                       || payments_private.portal_request_errors(p_request)
    else payments_private.field_error('session', 'must be checkout or portal.')
  end);
end;
$$;
comment on function payments.validate_session_request(text, text, jsonb) is 'Checks a checkout or portal (p_session) request: PT400 for an unknown environment, else PT400 listing every invalid or unknown field (DETAIL: JSON list of {field, message}), including redirect URLs outside payments.redirect_origins when that setting is set and a configurationId outside payments.portal_configurations; nothing for a valid request.';

-- Stable: it reads payments.redirect_origins (through url_errors) and payments.portal_configurations.
create or replace function payments_private.portal_request_errors(p_request jsonb)
returns jsonb
language plpgsql stable set search_path = ''
as $$
declare
  v_allowed text[] := array(
    select c
    from regexp_split_to_table(coalesce(current_setting('payments.portal_configurations', true), ''), '[,\s]+') c
    where c <> ''
  );
  v_configuration jsonb := p_request -> 'configurationId';
begin
  if jsonb_typeof(p_request) is distinct from 'object' then
    return payments_private.field_error('request', 'must be a JSON object.');
  end if;
  return payments_private.subject_errors(p_request -> 'subject', false)
    || payments_private.url_errors(p_request -> 'returnUrl', 'returnUrl', false)
    || case
         when coalesce(jsonb_typeof(v_configuration), 'null') = 'null' then '[]'::jsonb
         when jsonb_typeof(v_configuration) <> 'string' or (v_configuration #>> '{}') !~ '^bpc_[A-Za-z0-9]+$'
           then payments_private.field_error('configurationId', 'must be a Billing Portal configuration id (bpc_...).')
         -- A configuration decides what a customer may change (plans, quantities, cancellation):
         -- that is the deployment's decision, so users choose only among the ones it allows.
         when cardinality(v_allowed) = 0
           then payments_private.field_error('configurationId',
             'is not accepted from users on this deployment (PAYMENTS_PORTAL_CONFIGURATIONS is not set).')
         when not ((v_configuration #>> '{}') = any (v_allowed))
           then payments_private.field_error('configurationId',
             format('must be one of the allowed configurations (%s).', array_to_string(v_allowed, ', ')))
         else '[]'::jsonb
       end;
end;
$$;
comment on function payments_private.portal_request_errors(jsonb) is 'Every problem of a billing portal request as a list of {field, message}; empty when the request is valid. A configurationId must be one of payments.portal_configurations (none when unset).';

-- migrate:down
