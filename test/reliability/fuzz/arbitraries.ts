import path from 'node:path';
import fc from 'fast-check';

/** Host paths the generated specs pick from, made by the test under one base dir. */
export interface Fixture {
  readonly base: string;
  readonly dirs: readonly string[];
  readonly file: string;
  readonly link: string;
}

export const SPEC_KEYS = [
  'provider',
  'workdir',
  'readOnly',
  'readWrite',
  'deny',
  'network',
  'env',
  'limits',
  'options',
  'labels',
] as const;

/** Strings that break careless code: NUL, quotes, `..`, newlines, unicode, huge and empty. */
export const nastyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('', '\0', '..', '../..', '/', '.', '~', '$HOME', "'", '"', '\n', 'a\0b', ' '),
  fc.constantFrom('x'.repeat(5000), '\u202e', '\ud800', 'é', '-e', '--', 'NaN', '1e309'),
);

/** Any value at all, biased to the ones that trip type checks. */
const junk = fc.oneof(
  nastyString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constantFrom(null, undefined, [], {}),
  fc.anything({ maxDepth: 2 }),
);

const envName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/);
const safeText = fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0'));

/** Field values a valid spec may hold. */
function validFields(fixture: Fixture, provider: string) {
  const dir = fc.constantFrom(...fixture.dirs, fixture.link);
  const anyPath = fc.constantFrom(...fixture.dirs, fixture.file, fixture.link);
  return {
    provider: fc.constant(provider),
    workdir: dir,
    readOnly: fc.array(anyPath, { maxLength: 2 }),
    readWrite: fc.array(anyPath, { maxLength: 2 }),
    deny: fc.array(fc.constantFrom('.env', 'secret', '.git/hooks', '/nonexistent/x'), {
      maxLength: 2,
    }),
    network: fc.constantFrom('none', 'host'),
    env: fc.dictionary(envName, safeText, { maxKeys: 4 }),
    limits: fc.record(
      {
        timeoutMs: fc.oneof(
          fc.integer({ min: 10_000, max: 100_000 }),
          fc.constantFrom(2 ** 31, 30 * 24 * 3600 * 1000),
        ),
        memoryBytes: fc.integer({ min: 4 * 1024 * 1024, max: 2 ** 40 }),
        pids: fc.integer({ min: 1, max: 4096 }),
        cpus: fc.double({ min: 0.01, max: 64, noNaN: true }),
        outputBytes: fc.integer({ min: 1024, max: 2 ** 30 }),
      },
      { requiredKeys: [] },
    ),
    options: fc.constant({}),
    labels: fc.dictionary(safeText, safeText, { maxKeys: 3 }),
  };
}

/** Field values that are wrong in some way for each field. */
function invalidFields(fixture: Fixture) {
  return {
    provider: fc.oneof(fc.constantFrom('', 'nope', 'noop ', 'AUTO'), junk),
    workdir: fc.oneof(
      fc.constantFrom('relative/dir', './a', '', fixture.file, path.join(fixture.base, 'gone')),
      nastyString.map((s) => path.join(fixture.base, s)),
      junk,
    ),
    readOnly: fc.oneof(
      fc.array(fc.oneof(fc.constantFrom('relative', path.join(fixture.base, 'gone')), junk), {
        minLength: 1,
        maxLength: 2,
      }),
      junk,
    ),
    readWrite: fc.oneof(fc.array(junk, { minLength: 1, maxLength: 2 }), junk),
    deny: fc.oneof(fc.array(fc.constantFrom('', 'a\0b'), { minLength: 1 }), junk),
    network: fc.oneof(fc.constantFrom('None', 'bridge', ''), junk),
    env: fc.oneof(
      fc.dictionary(nastyString, safeText, { minKeys: 1, maxKeys: 2 }),
      fc.dictionary(envName, fc.oneof(fc.constant('a\0b'), junk), { minKeys: 1, maxKeys: 2 }),
      junk,
    ),
    limits: fc.oneof(
      fc.record({
        timeoutMs: fc.constantFrom(0, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53),
      }),
      fc.record({ memoryBytes: fc.constantFrom(0, 1024, -5, 1.5) }),
      fc.record({ pids: fc.constantFrom(0, -1, 2.5) }),
      fc.record({ cpus: fc.constantFrom(0, -1, Number.NaN) }),
      fc.record({ outputBytes: fc.constantFrom(0, -1, 0.1) }),
      fc.dictionary(nastyString, junk, { minKeys: 1, maxKeys: 2 }),
      junk,
    ),
    options: fc.oneof(fc.constantFrom(null, 'x', 42, []), junk),
    labels: fc.oneof(fc.dictionary(safeText, junk, { minKeys: 1, maxKeys: 1 }), junk),
  };
}

/**
 * Spec-shaped values: valid ones (a third), valid but for one wrong field, valid plus an
 * unknown key, and anything at all.
 */
export function specInput(fixture: Fixture, provider: string): fc.Arbitrary<unknown> {
  const valid = validFields(fixture, provider);
  const invalid = invalidFields(fixture);
  const validSpec = fc.record(valid, { requiredKeys: ['provider', 'workdir'] });
  const oneWrong = fc
    .tuple(validSpec, fc.constantFrom(...SPEC_KEYS))
    .chain(([spec, key]) => invalid[key].map((value) => ({ ...spec, [key]: value })));
  const extraKey = fc
    .tuple(validSpec, nastyString, junk)
    .filter(([, key]) => !(SPEC_KEYS as readonly string[]).includes(key))
    .map(([spec, key, value]) => ({ ...spec, [key]: value }));
  return fc.oneof(
    { weight: 4, arbitrary: validSpec },
    { weight: 5, arbitrary: oneWrong },
    { weight: 1, arbitrary: extraKey },
    { weight: 1, arbitrary: junk },
  );
}

const validScript = fc.record({
  innerPath: fc.stringMatching(/^[a-z]{1,6}(\/[a-z]{1,6}){0,2}(\.sh)?$/),
  mode: fc.constantFrom(0o755, 0o644, 0o600, 0o700, 0o400),
  contents: fc.oneof(fc.string(), fc.uint8Array({ maxLength: 64 })),
});

const wrongScript = fc.oneof(
  validScript.chain((script) =>
    fc
      .constantFrom(
        '../x',
        '/etc/passwd',
        'a/../../x',
        'a//b',
        './a',
        'a\\b',
        'a\0b',
        '.',
        '',
        'a/',
      )
      .map((innerPath) => ({ ...script, innerPath })),
  ),
  validScript.chain((script) =>
    fc.constantFrom(-1, 0o1777, 1.5, '755', null).map((mode) => ({ ...script, mode })),
  ),
  validScript.chain((script) =>
    fc.constantFrom(42, null, undefined, {}).map((contents) => ({ ...script, contents })),
  ),
  validScript.map((script) => ({ ...script, extra: true })),
  junk,
);

/** Script lists: valid ones (duplicates possible), or with one wrong script among them. */
export const scriptsInput: fc.Arbitrary<unknown[]> = fc.oneof(
  { weight: 3, arbitrary: fc.array(validScript, { maxLength: 4 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.array(validScript, { maxLength: 2 }), wrongScript)
      .map(([scripts, wrong]) => [...scripts, wrong]),
  },
);

/** Command words: usually runnable, sometimes empty, not strings, or with NUL bytes. */
export const commandInput = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(fc.constant<unknown>('true'), fc.array(safeText, { maxLength: 4 })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom<unknown>('', 'a\0b', 42, undefined), fc.constant([])),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constant<unknown>('true'),
      fc.array(fc.oneof(nastyString, junk), { minLength: 1, maxLength: 3 }),
    ),
  },
);

/** `encage run` flag values: valid ones mostly, each sometimes nonsense. */
export function runFlagsInput(fixture: Fixture) {
  const maybe = <T>(good: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: nastyString });
  return fc.record(
    {
      provider: maybe(fc.constantFrom('scriptdir', 'bwrap', 'noop', 'auto')),
      workdir: maybe(fc.constantFrom(...fixture.dirs)),
      ro: fc.array(maybe(fc.constantFrom(fixture.file, ...fixture.dirs)), { maxLength: 2 }),
      rw: fc.array(maybe(fc.constantFrom(...fixture.dirs)), { maxLength: 2 }),
      deny: fc.array(maybe(fc.constantFrom('.env', 'secret')), { maxLength: 2 }),
      network: maybe(fc.constantFrom('none', 'host')),
      env: fc.array(maybe(fc.constantFrom('HOME', 'A=1', 'B=', 'C=a=b', 'NOT_SET_X', '1A=2')), {
        maxLength: 3,
      }),
      timeout: maybe(fc.constantFrom('500ms', '30s', '5m', '1h', '700h', '1.5', '0')),
      memory: maybe(fc.constantFrom('256m', '2g', '4m', '1.5g', '1k', '0')),
      pids: maybe(fc.constantFrom('64', '1', '0', '-1', '99999999999999999999')),
      cpus: maybe(fc.constantFrom('0.5', '2', '0', '1e-9')),
      image: maybe(fc.constantFrom('busybox:latest')),
      runtime: maybe(fc.constantFrom('runc', 'runsc')),
    },
    { requiredKeys: ['ro', 'rw', 'deny', 'env'] },
  );
}

/** Contents of a `--config` file: JSON of a spec, broken JSON, or not JSON at all. */
export function configFileInput(fixture: Fixture) {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: specInput(fixture, 'scriptdir').map((spec) => JSON.stringify(spec) ?? 'null'),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{',
        'null',
        '[]',
        '42',
        '"x"',
        '',
        '{"limits": []}',
        '{"env": null}',
      ),
    },
    { weight: 1, arbitrary: nastyString },
  );
}
