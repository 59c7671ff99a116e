import { z } from 'zod';

/**
 * A list whose entries are identified by one key field, like `x-kubernetes-list-type: map` on the
 * API server: duplicate keys are rejected here too, so a parsed list is usable as a map.
 */
export function keyedList<T extends z.ZodObject, K extends keyof z.output<T> & string>(
  item: T,
  key: K,
  options: { readonly description: string; readonly maxItems?: number },
) {
  const list = options.maxItems === undefined ? z.array(item) : z.array(item).max(options.maxItems);
  return list
    .superRefine((entries, ctx) => {
      const seen = new Set<unknown>();
      for (const [i, entry] of entries.entries()) {
        const value = (entry as Record<string, unknown>)[key];
        if (seen.has(value)) {
          ctx.addIssue({
            code: 'custom',
            path: [i, key],
            message: `duplicate ${key} ${JSON.stringify(value)}`,
          });
        }
        seen.add(value);
      }
    })
    .meta({
      description: options.description,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': [key],
    });
}
