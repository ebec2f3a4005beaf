export { HOSTILE_ARGS, testProviderContract, type ContractOptions } from './contract.js';
export { requireBackend } from './require-backend.js';
