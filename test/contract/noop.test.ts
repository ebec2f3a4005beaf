import { createNoopProvider } from '../../src/providers/noop/index.js';
import { testProviderContract } from '../../src/testing/index.js';

testProviderContract({ createProvider: () => createNoopProvider() });
