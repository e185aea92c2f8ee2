/** Stripe list objects and cursor pagination (`limit`, `starting_after`, `ending_before`). */
import { invalidRequest } from "./errors.ts";
import type { ParamReader } from "./params.ts";
import type { Partition } from "./store.ts";

export interface ListObject<T> {
  object: "list";
  data: T[];
  has_more: boolean;
  url: string;
}

/** Orders items in a list; a cursor may name an item the current filters exclude. */
export type Rank = (id: string) => number | undefined;

/** Newest first, Stripe's order for every top-level list. */
export function newestFirst(partition: Partition): Rank {
  return (id) => {
    const position = partition.position(id);
    return position === undefined ? undefined : -position;
  };
}

export function paginate<T extends { id: string }>(
  items: Iterable<T>,
  params: ParamReader,
  url: string,
  rank: Rank,
): ListObject<T> {
  const limit = params.integer("limit", 1, 100) ?? 10;
  const startingAfter = params.nullableString("starting_after");
  const endingBefore = params.nullableString("ending_before");
  if (startingAfter && endingBefore) {
    throw invalidRequest(
      "You may only specify one of these parameters: ending_before, starting_after.",
      "ending_before",
      "parameters_exclusive",
    );
  }
  const ranked = [...items].map((item) => ({ item, rank: rank(item.id) ?? Infinity }))
    .sort((a, b) => a.rank - b.rank);

  let window = ranked;
  let fromEnd = false;
  if (startingAfter) {
    const cursor = cursorRank(rank, startingAfter, "starting_after");
    window = ranked.filter((entry) => entry.rank > cursor);
  } else if (endingBefore) {
    const cursor = cursorRank(rank, endingBefore, "ending_before");
    window = ranked.filter((entry) => entry.rank < cursor);
    // The page just before the cursor is the part of the window closest to it.
    fromEnd = true;
  }
  const page = fromEnd ? window.slice(Math.max(0, window.length - limit)) : window.slice(0, limit);
  return {
    object: "list",
    data: page.map((entry) => entry.item),
    has_more: window.length > limit,
    url,
  };
}

function cursorRank(rank: Rank, id: string, param: string): number {
  const value = rank(id);
  if (value === undefined) {
    throw invalidRequest(`No such object: '${id}'`, param, "resource_missing");
  }
  return value;
}
