import { createBwrapProvider } from '../../src/providers/bwrap/index.js';
import { testProviderContract } from '../../src/testing/index.js';
import { BWRAP_ENABLED } from '../helpers/backends.js';

testProviderContract({
  createProvider: () => createBwrapProvider(),
  enabled: BWRAP_ENABLED,
  label: 'bwrap',
});
