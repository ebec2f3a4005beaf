import * as z from 'zod/mini';
import english from 'zod/v4/locales/en.js';

const PARSE_CONTEXT = {
  // English messages whatever locale the application set for its own schemas.
  error: english().localeError,
  // zod compiles a fast path per object schema on first use; a spec is parsed once or twice.
  jitless: true,
};

/** An optional string that, when given, is not empty (a name, a path, an image). */
export function optionalNonEmpty() {
  return z.optional(z.string().check(z.minLength(1)));
}

/**
 * Validates with any zod 4 schema (classic or mini), in English, without zod's compiled fast
 * path, which costs more to build than it saves on a handful of parses.
 */
export function safeParse<T extends z.core.$ZodType>(
  schema: T,
  value: unknown,
): z.core.util.SafeParseResult<z.output<T>> {
  return z.safeParse(schema, value, PARSE_CONTEXT);
}

/** Formats the first zod issue as `spec.<field>: <message>`. */
export function describeIssue(
  error: z.core.$ZodError,
  prefix: string,
): { field: string; message: string } {
  const issue = error.issues[0];
  const field = [prefix, ...(issue?.path ?? []).map(String)].join('.');
  let message = issue?.message ?? 'invalid';
  if (issue?.code === 'invalid_key') message = issue.issues[0]?.message ?? message;
  if (issue?.code === 'unrecognized_keys')
    message = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove them`;
  return { field, message };
}
