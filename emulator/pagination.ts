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
  const ranked = rankAll(items, rank);

  let window = ranked;
  let fromEnd = false;
  if (startingAfter) {
    const cursor = cursorRank(rank, startingAfter, "starting_after");
    window = ranked.slice(firstWhere(ranked, (rank) => rank > cursor));
  } else if (endingBefore) {
    const cursor = cursorRank(rank, endingBefore, "ending_before");
    window = ranked.slice(0, firstWhere(ranked, (rank) => rank >= cursor));
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

interface Ranked<T> {
  item: T;
  rank: number;
}

/**
 * The items in rank order. Lists come from the store in creation order, which is already
 * sorted (newest first reverses it): checking that costs one pass, where sorting a large
 * account for every page would cost far more.
 */
function rankAll<T extends { id: string }>(items: Iterable<T>, rank: Rank): Ranked<T>[] {
  const ranked: Ranked<T>[] = [];
  let ascending = true;
  let descending = true;
  for (const item of items) {
    const entry = { item, rank: rank(item.id) ?? Infinity };
    const previous = ranked.length > 0 ? ranked[ranked.length - 1].rank : undefined;
    if (previous !== undefined) {
      if (entry.rank < previous) ascending = false;
      if (entry.rank > previous) descending = false;
    }
    ranked.push(entry);
  }
  if (ascending) return ranked;
  if (descending) return ranked.reverse();
  return ranked.sort((a, b) => a.rank - b.rank);
}

/** Index of the first entry whose rank passes `test`, in a list sorted by rank (binary search). */
function firstWhere<T>(ranked: Ranked<T>[], test: (rank: number) => boolean): number {
  let low = 0;
  let high = ranked.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (test(ranked[middle].rank)) high = middle;
    else low = middle + 1;
  }
  return low;
}
