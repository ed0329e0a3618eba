/** A JSON object (not an array, not null): what a schema or an answer object is. */
export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
