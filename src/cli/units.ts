import { EncageError } from '../errors.js';

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_BYTES: Record<string, number> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

function invalid(option: string, value: string, example: string): EncageError {
  return new EncageError(
    'INVALID_ARGUMENT',
    `${option}: "${value}" is not valid. Use e.g. ${example}.`,
    { path: option },
  );
}

/** Parses `500ms`, `30s`, `5m`, `1h`; a bare number is seconds, as timeout(1) reads it. */
export function parseDuration(value: string, option = '--timeout'): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw invalid(option, value, '500ms, 30s, 5m');
  const ms = Math.round(Number(match[1]) * (DURATION_MS[match[2] ?? 's'] ?? 1));
  if (ms <= 0) throw invalid(option, value, '500ms, 30s, 5m');
  return ms;
}

/** Parses `256m`, `2g`, `512k`, `1048576` (binary multiples, optional `b`/`ib`). */
export function parseSize(value: string, option = '--memory'): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(value.trim());
  if (!match) throw invalid(option, value, '256m, 2g');
  const bytes = Math.floor(Number(match[1]) * (SIZE_BYTES[(match[2] ?? '').toLowerCase()] ?? 1));
  if (bytes <= 0) throw invalid(option, value, '256m, 2g');
  return bytes;
}

/** Parses a positive integer (`--pids`). */
export function parsePositiveInt(value: string, option: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) throw invalid(option, value, '64');
  return Number(value);
}

/** Parses a positive number (`--cpus 1.5`). */
export function parsePositiveNumber(value: string, option: string): number {
  const number = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || number <= 0) throw invalid(option, value, '0.5, 2');
  return number;
}
