/**
 * Whether tests of a backend should run. Where the backend is required (CI=true, or the
 * backend named in ENCAGE_REQUIRE), a missing backend must fail the run instead of skipping:
 * this returns true then, so the tests run and fail loudly.
 */
export function requireBackend(name: string, available: boolean): boolean {
  const required =
    process.env.CI === 'true' || (process.env.ENCAGE_REQUIRE ?? '').split(',').includes(name);
  return available || required;
}
