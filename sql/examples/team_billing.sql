-- Team billing: teams are billing subjects {type: 'team', id: <team id>}.
--
-- Owners may open checkout and billing portal sessions for their team and read its customer
-- mapping; every member may read the team's subscriptions (and so their items) and transactions.
-- The payments schema ships only the user-scoped policies; these add the team ones. Policies of
-- one command are OR-ed, so the user policies keep working beside them.

create table public.teams (
  id uuid primary key default gen_random_uuid(),
  name text not null check (name <> ''),
  created_at timestamptz not null default now()
);
comment on table public.teams is 'Example app table: teams that pay for subscriptions.';

create table public.team_members (
  team_id uuid not null references public.teams (id) on delete cascade,
  user_id uuid not null,
  role text not null default 'member' check (role in ('owner', 'member')),
  created_at timestamptz not null default now(),
  primary key (team_id, user_id)
);
comment on table public.team_members is 'Example app table: who belongs to which team, and who owns it.';
create index team_members_user_idx on public.team_members (user_id);

-- security definer: policies on team_members itself call it, and reading team_members through
-- its own RLS from inside its policy would recurse. It reveals only the caller's own membership.
create function public.team_role(p_team_id text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select m.role from public.team_members m
  where m.team_id::text = p_team_id and m.user_id = (select auth.uid())
$$;
comment on function public.team_role(text) is 'The current user''s role in the team (owner or member), or null when they do not belong to it; the team id is given as text, the way payments stores subject ids.';
-- anon and authenticated as well: on Supabase, default privileges grant them EXECUTE on new
-- functions in public directly, not through PUBLIC.
revoke execute on function public.team_role(text) from public, anon, authenticated;
grant execute on function public.team_role(text) to authenticated;

-- On Supabase, default privileges grant the API roles everything on new tables in public: revoke
-- first, so that these grants are the whole truth there as on plain PostgreSQL.
revoke all on public.teams, public.team_members from anon, authenticated;
grant select on public.teams to authenticated;
alter table public.teams enable row level security;
create policy "Members can read their teams" on public.teams
  for select to authenticated
  using (public.team_role(id::text) is not null);

grant select on public.team_members to authenticated;
alter table public.team_members enable row level security;
create policy "Members can read the members of their teams" on public.team_members
  for select to authenticated
  using (public.team_role(team_id::text) is not null);

-- Owners create checkout and portal sessions for their team, in their own name.
create policy "Team owners can create checkout sessions for their teams" on payments.stripe_checkout_sessions
  for insert to authenticated
  with check (
    created_by = (select auth.uid()) and subject_type = 'team' and public.team_role(subject_id) = 'owner'
  );
create policy "Team owners can create portal sessions for their teams" on payments.stripe_customer_portal_sessions
  for insert to authenticated
  with check (
    created_by = (select auth.uid()) and subject_type = 'team' and public.team_role(subject_id) = 'owner'
  );

-- Owners read those sessions (for idempotent retries and INSERT ... RETURNING too), and only they
-- see which Stripe customer bills the team.
create policy "Team owners can read their teams' checkout sessions" on payments.stripe_checkout_sessions
  for select to authenticated
  using (subject_type = 'team' and public.team_role(subject_id) = 'owner');
create policy "Team owners can read their teams' portal sessions" on payments.stripe_customer_portal_sessions
  for select to authenticated
  using (subject_type = 'team' and public.team_role(subject_id) = 'owner');
create policy "Team owners can read their teams' customer mapping" on payments.customer_mappings
  for select to authenticated
  using (subject_type = 'team' and public.team_role(subject_id) = 'owner');

-- Billing state: every member. Items follow through the policy on their subscription.
create policy "Team members can read their teams' subscriptions" on payments.stripe_subscriptions
  for select to authenticated
  using (subject_type = 'team' and public.team_role(subject_id) is not null);
create policy "Team members can read their teams' transactions" on payments.transactions
  for select to authenticated
  using (subject_type = 'team' and public.team_role(subject_id) is not null);
