/**
 * Safe descriptions of values read from untrusted files, for error messages. A hostile artifact
 * can hold a value nested 10,000 levels deep (String() and JSON.stringify recurse and overflow the
 * stack) or a string of megabytes (a 9 MB error message): nothing here recurses, and every result is
 * bounded.
 */

/** Longest description of one value. */
export const MAX_VALUE_CHARS = 80;
/** Longest message built from untrusted parts (a verdict's detail, an error's message). */
export const MAX_MESSAGE_CHARS = 500;

/** A one-line, bounded, non-recursive description of `v`: `16`, `"abc"`, `an array of 3`, `an object with 2 keys`. */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case "number":
    case "boolean":
    case "bigint":
    case "undefined":
      return String(v);
    case "string":
      return JSON.stringify(truncate(v, MAX_VALUE_CHARS));
    case "object":
      if (v === null) return "null";
      if (Array.isArray(v)) return `an array of ${v.length}`;
      return `an object with ${Object.keys(v).length} key(s)`;
    default:
      return `a ${typeof v}`;
  }
}

/** `text` cut to `max` characters, saying how much was cut. */
export function truncate(text: string, max = MAX_MESSAGE_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** A list of untrusted names, at most `max` of them shown. */
export function describeList(items: readonly string[], max = 5): string {
  const shown = items.slice(0, max).map((s) => truncate(s, MAX_VALUE_CHARS));
  return items.length > max ? `${shown.join(", ")} and ${items.length - max} more` : shown.join(", ");
}

/** The message of anything thrown, bounded: `RangeError: Maximum call stack size exceeded`. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return truncate(`${e.name}: ${e.message}`);
  return `thrown ${describeValue(e)}`;
}
