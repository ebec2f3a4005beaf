import { createScriptdirProvider } from '../../src/providers/scriptdir/index.js';
import { testProviderContract } from '../../src/testing/index.js';

testProviderContract({ createProvider: () => createScriptdirProvider() });
