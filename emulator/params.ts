/**
 * Typed reading of decoded form parameters, and the check that refuses parameters an endpoint
 * does not accept. Every failure is a Stripe-shaped 400 that names the parameter in bracket
 * notation (`line_items[0][price]`), as Stripe does.
 */
import type Stripe from "stripe";
import { invalidRequest, missingParam } from "./errors.ts";
import type { FormObject, FormValue } from "./form.ts";

/**
 * The parameters one endpoint accepts; anything else is `parameter_unknown`, as in Stripe.
 * Each endpoint declares one next to its handler, taken from Stripe's API reference (the 2023
 * OpenAPI spec and the pinned SDK's `*Params` types).
 */
export interface ParamSpec {
  /** Read by the handler: acted on, stored or echoed. Free-form hashes such as `metadata` too. */
  readonly read?: readonly string[];
  /**
   * Hashes the handler reads key by key, checked with their own spec; `{ each: spec }` for an
   * array of hashes (`line_items[0][price]`).
   */
  readonly nested?: Readonly<Record<string, ParamSpec | { readonly each: ParamSpec }>>;
  /**
   * Accepted by the real API but not emulated: the emulator drops them unread, whatever they
   * hold (a hash listed here is not checked inside).
   */
  readonly ignored?: readonly string[];
}

/** Cursor pagination, accepted by every list endpoint. */
export const PAGINATION = ["limit", "starting_after", "ending_before"] as const;

/**
 * Refuses the first parameter `spec` does not name, with Stripe's `parameter_unknown` error.
 * `expand` is accepted by every endpoint.
 */
export function checkParams(values: FormObject, spec: ParamSpec, prefix = ""): void {
  for (const [key, value] of Object.entries(values)) {
    const name = prefix ? `${prefix}[${key}]` : key;
    if (!prefix && key === "expand") continue;
    if (spec.read?.includes(key) || spec.ignored?.includes(key)) continue;
    const nested = spec.nested?.[key];
    if (!nested) {
      throw invalidRequest(`Received unknown parameter: ${name}`, name, "parameter_unknown");
    }
    // "" unsets a hash; any other string is the reader's type error to report.
    if (typeof value === "string") continue;
    if ("each" in nested) {
      for (const [index, item] of Object.entries(value)) {
        if (typeof item !== "string") checkParams(item, nested.each, `${name}[${index}]`);
      }
    } else {
      checkParams(value, nested, name);
    }
  }
}

const METADATA_KEY_LIMIT = 40;
const METADATA_VALUE_LIMIT = 500;
const METADATA_KEYS_LIMIT = 50;

export class ParamReader {
  constructor(readonly values: FormObject, private readonly prefix = "") {}

  name(key: string): string {
    return this.prefix ? `${this.prefix}[${key}]` : key;
  }

  has(key: string): boolean {
    return this.values[key] !== undefined;
  }

  string(key: string): string | undefined {
    const value = this.values[key];
    if (value === undefined) return undefined;
    if (typeof value !== "string") {
      throw invalidRequest(`Invalid string: ${this.name(key)} must be a string.`, this.name(key));
    }
    return value;
  }

  requireString(key: string): string {
    const value = this.string(key);
    if (value === undefined) throw missingParam(this.name(key));
    if (value === "") throw emptyValue(this.name(key));
    return value;
  }

  /** Stripe treats an empty string as "unset this field". */
  nullableString(key: string): string | null | undefined {
    const value = this.string(key);
    return value === "" ? null : value;
  }

  integer(key: string, min = -Infinity, max = Infinity): number | undefined {
    const value = this.string(key);
    if (value === undefined) return undefined;
    const number = Number(value);
    if (value === "" || !Number.isInteger(number)) {
      throw invalidRequest(
        `Invalid integer: ${value}`,
        this.name(key),
        "parameter_invalid_integer",
      );
    }
    if (number < min || number > max) {
      const range = max === Infinity ? `at least ${min}` : `between ${min} and ${max}`;
      throw invalidRequest(
        `Invalid ${this.name(key)}: must be ${range}`,
        this.name(key),
        "parameter_invalid_integer",
      );
    }
    return number;
  }

  requireInteger(key: string, min = -Infinity, max = Infinity): number {
    const value = this.integer(key, min, max);
    if (value === undefined) throw missingParam(this.name(key));
    return value;
  }

  boolean(key: string): boolean | undefined {
    const value = this.string(key);
    if (value === undefined) return undefined;
    if (value === "true") return true;
    if (value === "false") return false;
    throw invalidRequest(`Invalid boolean: ${value}`, this.name(key));
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T | undefined {
    const value = this.string(key);
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      throw invalidRequest(
        `Invalid ${this.name(key)}: must be one of ${allowed.join(", ")}`,
        this.name(key),
      );
    }
    return value as T;
  }

  object(key: string): ParamReader | undefined {
    const value = this.values[key];
    if (value === undefined || value === "") return undefined;
    if (typeof value === "string") {
      throw invalidRequest(`Invalid object: ${this.name(key)} must be a hash.`, this.name(key));
    }
    return new ParamReader(value, this.name(key));
  }

  /** Arrays arrive as `key[0]=...&key[1]=...`; a lone empty string means an empty array. */
  list(key: string): FormValue[] | undefined {
    const value = this.values[key];
    if (value === undefined) return undefined;
    if (value === "") return [];
    if (typeof value === "string") {
      throw invalidRequest(`Invalid array: ${this.name(key)} must be an array.`, this.name(key));
    }
    const indexes = Object.keys(value);
    if (!indexes.every((index) => /^\d+$/.test(index))) {
      throw invalidRequest(`Invalid array: ${this.name(key)} must be an array.`, this.name(key));
    }
    return indexes.sort((a, b) => Number(a) - Number(b)).map((index) => value[index]);
  }

  strings(key: string): string[] | undefined {
    return this.list(key)?.map((item, index) => {
      if (typeof item !== "string") {
        throw invalidRequest(`Invalid string in ${this.name(key)}.`, `${this.name(key)}[${index}]`);
      }
      return item;
    });
  }

  objects(key: string): ParamReader[] | undefined {
    return this.list(key)?.map((item, index) => {
      const name = `${this.name(key)}[${index}]`;
      if (typeof item === "string") throw invalidRequest(`Invalid hash: ${name}.`, name);
      return new ParamReader(item, name);
    });
  }

  /**
   * Reads `metadata` and merges it into `current`: a key set to "" is removed, and
   * `metadata=""` clears everything, as in Stripe.
   */
  metadata(current: Stripe.Metadata = {}, key = "metadata"): Stripe.Metadata | undefined {
    const value = this.values[key];
    if (value === undefined) return undefined;
    if (value === "") return {};
    if (typeof value === "string") {
      throw invalidRequest(`Invalid hash: ${this.name(key)} must be a hash.`, this.name(key));
    }
    const merged: Stripe.Metadata = { ...current };
    for (const [name, entry] of Object.entries(value)) {
      const param = `${this.name(key)}[${name}]`;
      if (typeof entry !== "string") throw invalidRequest(`Invalid metadata value.`, param);
      if (name.length > METADATA_KEY_LIMIT) {
        throw invalidRequest(
          `Metadata keys can have up to ${METADATA_KEY_LIMIT} characters.`,
          param,
        );
      }
      if (entry.length > METADATA_VALUE_LIMIT) {
        throw invalidRequest(
          `Metadata values can have up to ${METADATA_VALUE_LIMIT} characters.`,
          param,
        );
      }
      if (entry === "") delete merged[name];
      else merged[name] = entry;
    }
    if (Object.keys(merged).length > METADATA_KEYS_LIMIT) {
      throw invalidRequest(
        `Metadata can have up to ${METADATA_KEYS_LIMIT} keys.`,
        this.name(key),
      );
    }
    return merged;
  }

  expand(): string[] {
    return this.strings("expand") ?? [];
  }
}

function emptyValue(param: string) {
  return invalidRequest(
    `You passed an empty string for '${param}'. We assume empty values are an attempt to unset a ` +
      `parameter; however '${param}' cannot be unset. You should remove '${param}' from your ` +
      `request or supply a non-empty value.`,
    param,
    "parameter_invalid_empty",
  );
}
