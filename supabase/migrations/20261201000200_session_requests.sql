-- migrate:up

--------------------------------------------------------------------------------
-- Session requests: the one statement of the checkout and portal request rules. The edge
-- function only parses JSON; every problem of a request is reported at once, field by field.
-- The deployment's settings reach SQL as transaction-local settings the edge function sets:
-- payments.redirect_origins (the origins a redirect URL may use; unset, any) and
-- payments.portal_configurations (the Billing Portal configurations users may choose; unset,
-- none), from PAYMENTS_PORTAL_CONFIGURATIONS.
--------------------------------------------------------------------------------

-- The subject a request bills, {type, id}; omitted, it is the calling user (when allowed).
create function payments_private.subject_errors(p_subject jsonb, p_required boolean)
returns jsonb
language plpgsql immutable set search_path = ''
as $$
declare
  v_errors jsonb := '[]'::jsonb;
begin
  if p_subject is null or jsonb_typeof(p_subject) = 'null' then
    if p_required then
      return payments_private.field_error('subject', 'is required for subscription mode.');
    end if;
    return v_errors;
  end if;
  if jsonb_typeof(p_subject) <> 'object' then
    return payments_private.field_error('subject', 'must be an object {type, id}.');
  end if;
  if jsonb_typeof(p_subject -> 'type') is distinct from 'string'
     or not payments.is_subject_type(p_subject ->> 'type') then
    v_errors := v_errors || payments_private.field_error('subject.type',
      'must be a lowercase snake_case name such as user or team.');
  end if;
  if jsonb_typeof(p_subject -> 'id') is distinct from 'string'
     or length(p_subject ->> 'id') not between 1 and 255 then
    v_errors := v_errors || payments_private.field_error('subject.id',
      'must be a non-empty string of at most 255 characters.');
  end if;
  return v_errors;
end;
$$;
comment on function payments_private.subject_errors(jsonb, boolean) is 'Problems of a request''s subject {type, id} (empty when it is valid or omitted and not required).';

-- The origin of an http(s) URL as browsers compare it: scheme and host[:port], lowercased.
create function payments_private.url_origin(p_url text)
returns text
language sql immutable parallel safe set search_path = ''
as $$
  select lower(substring(p_url from '^(https?://[^/?#\s]+)'))
$$;
comment on function payments_private.url_origin(text) is 'The origin (scheme://host[:port], lowercased) of an http(s) URL, or null.';

-- Stable, not immutable: it reads payments.redirect_origins (comma- or space-separated origins).
create function payments_private.url_errors(p_value jsonb, p_field text, p_required boolean)
returns jsonb
language plpgsql stable set search_path = ''
as $$
declare
  v_allowed text[] := array(
    select rtrim(lower(o), '/')
    from regexp_split_to_table(coalesce(current_setting('payments.redirect_origins', true), ''), '[,\s]+') o
    where o <> ''
  );
begin
  if p_value is null or jsonb_typeof(p_value) = 'null' then
    return case when p_required then payments_private.field_error(p_field, 'is required.') else '[]'::jsonb end;
  end if;
  if jsonb_typeof(p_value) <> 'string' or (p_value #>> '{}') !~ '^https?://[^\s/?#]+[^\s]*$'
     or length(p_value #>> '{}') > 2048 then
    return payments_private.field_error(p_field, 'must be an http(s) URL of at most 2048 characters.');
  end if;
  if cardinality(v_allowed) > 0
     and not (payments_private.url_origin(p_value #>> '{}') = any (v_allowed)) then
    -- Like Supabase Auth's redirect URLs: a session must not send the buyer to another site.
    return payments_private.field_error(p_field,
      format('must be on an allowed origin (%s).', array_to_string(v_allowed, ', ')));
  end if;
  return '[]'::jsonb;
end;
$$;
comment on function payments_private.url_errors(jsonb, text, boolean) is 'Problems of an http(s) URL field of a request (empty when it is valid or omitted and not required); when payments.redirect_origins is set, the URL must be on one of its origins.';

-- The one list of the fields each session request (and its nested objects) may carry: unknown
-- fields are refused by name, so a misspelled successURL or a lineItems[].price_data cannot pass
-- silently.
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

-- Stripe's own limits are checked here so the Stripe call cannot fail on them later. p_request
-- is an object (validate_session_request refuses any other first). Stable: it reads
-- payments.redirect_origins (through url_errors).
create function payments_private.checkout_request_errors(p_request jsonb)
returns jsonb
language plpgsql stable set search_path = ''
as $$
declare
  v_errors jsonb := '[]'::jsonb;
  v_mode text := p_request ->> 'mode';
  v_item jsonb;
  v_index integer := 0;
  v_quantity jsonb;
begin
  if jsonb_typeof(p_request -> 'mode') is distinct from 'string' or v_mode not in ('payment', 'subscription') then
    v_errors := v_errors || payments_private.field_error('mode', 'must be payment or subscription.');
  end if;
  v_errors := v_errors || payments_private.subject_errors(p_request -> 'subject', v_mode = 'subscription');

  if jsonb_typeof(p_request -> 'lineItems') is distinct from 'array'
     or jsonb_array_length(p_request -> 'lineItems') not between 1 and 100 then
    v_errors := v_errors || payments_private.field_error('lineItems', 'must be an array of 1 to 100 items.');
  else
    for v_item in select value from jsonb_array_elements(p_request -> 'lineItems') loop
      if jsonb_typeof(v_item) <> 'object' then
        v_errors := v_errors || payments_private.field_error(format('lineItems[%s]', v_index),
          'must be an object {priceId, quantity}.');
      else
        if jsonb_typeof(v_item -> 'priceId') is distinct from 'string'
           or (v_item ->> 'priceId') !~ '^[A-Za-z0-9_]{1,255}$' then
          v_errors := v_errors || payments_private.field_error(format('lineItems[%s].priceId', v_index),
            'must be a Stripe price id.');
        end if;
        v_quantity := coalesce(v_item -> 'quantity', '1'::jsonb);
        -- Nested tests: SQL does not promise to short-circuit, and the cast needs a number.
        if jsonb_typeof(v_quantity) <> 'number' then
          v_errors := v_errors || payments_private.field_error(format('lineItems[%s].quantity', v_index),
            'must be an integer from 1 to 999.');
        elsif (v_quantity #>> '{}')::numeric not between 1 and 999
              or (v_quantity #>> '{}')::numeric <> trunc((v_quantity #>> '{}')::numeric) then
          v_errors := v_errors || payments_private.field_error(format('lineItems[%s].quantity', v_index),
            'must be an integer from 1 to 999.');
        end if;
      end if;
      v_index := v_index + 1;
    end loop;
  end if;

  v_errors := v_errors || payments_private.url_errors(p_request -> 'successUrl', 'successUrl', true)
    || payments_private.url_errors(p_request -> 'cancelUrl', 'cancelUrl', true);

  if coalesce(jsonb_typeof(p_request -> 'customerEmail'), 'null') <> 'null'
     and (jsonb_typeof(p_request -> 'customerEmail') <> 'string'
          or (p_request ->> 'customerEmail') !~ '^[^@\s]+@[^@\s]+$' or length(p_request ->> 'customerEmail') > 512) then
    v_errors := v_errors || payments_private.field_error('customerEmail', 'must be an email address.');
  end if;

  -- The edge function adds 3 keys: payments_subject_type, payments_subject_id, payments_attempt.
  v_errors := v_errors || payments_private.metadata_errors('metadata', p_request -> 'metadata', 3);

  if coalesce(jsonb_typeof(p_request -> 'idempotencyKey'), 'null') <> 'null'
     and (jsonb_typeof(p_request -> 'idempotencyKey') <> 'string'
          or length(p_request ->> 'idempotencyKey') not between 1 and 200) then
    v_errors := v_errors || payments_private.field_error('idempotencyKey', 'must be a string of 1 to 200 characters.');
  end if;
  return v_errors;
end;
$$;
comment on function payments_private.checkout_request_errors(jsonb) is 'Every problem of a checkout request as a list of {field, message}; empty when the request is valid.';

-- p_request is an object, as for checkout_request_errors. Stable: it reads
-- payments.redirect_origins (through url_errors) and payments.portal_configurations.
create function payments_private.portal_request_errors(p_request jsonb)
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

-- security definer: the request rules live in payments_private, which API roles cannot use;
-- this function (it reads no table, only the deployment's settings) is their one door, for the
-- user-side session functions (security invoker) and for apps that check a request before sending it.
create function payments.validate_session_request(p_session text, p_environment text, p_request jsonb)
returns void
language plpgsql stable security definer set search_path = ''
as $$
begin
  perform payments_private.require_environment(p_environment);
  perform payments_private.raise_invalid(case
    when p_session is null or p_session not in ('checkout', 'portal')
      then payments_private.field_error('session', 'must be checkout or portal.')
    when jsonb_typeof(p_request) is distinct from 'object'
      then payments_private.field_error('request', 'must be a JSON object.')
    else payments_private.unknown_field_errors(p_session, p_request)
      || case p_session
           when 'checkout' then payments_private.checkout_request_errors(p_request)
           else payments_private.portal_request_errors(p_request)
         end
  end);
end;
$$;
comment on function payments.validate_session_request(text, text, jsonb) is 'Checks a checkout or portal (p_session) request: PT400 for an unknown environment, else PT400 listing every invalid or unknown field (DETAIL: JSON list of {field, message}), including redirect URLs outside payments.redirect_origins when that setting is set and a configurationId outside payments.portal_configurations; nothing for a valid request.';

--------------------------------------------------------------------------------
-- Who may execute these functions: no one through PUBLIC, and the API roles only what is granted
--------------------------------------------------------------------------------
revoke execute on function
  payments_private.subject_errors(jsonb, boolean),
  payments_private.url_origin(text),
  payments_private.url_errors(jsonb, text, boolean),
  payments_private.unknown_field_errors(text, jsonb),
  payments_private.checkout_request_errors(jsonb),
  payments_private.portal_request_errors(jsonb),
  payments.validate_session_request(text, text, jsonb)
from public;
grant execute on function
  payments.validate_session_request(text, text, jsonb)
to authenticated, service_role;

-- migrate:down
