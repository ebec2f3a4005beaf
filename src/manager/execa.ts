import { execa as execaFromPackage } from 'execa';

/**
 * The process launcher of launch(): execa. The CLI bundle swaps this module for execa-cli.ts
 * (scripts/bundle-cli.mjs).
 */
export const execa = execaFromPackage;
