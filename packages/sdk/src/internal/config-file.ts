import { readFileSync } from 'node:fs';

/** The Python SDK's INI configuration: `[cluster] url, timeout, unsafe`, `[client] token` (alias `auth`), `[storage] url, unsafe`. */
export interface ConfigFileValues {
  clusterUrl?: string;
  clusterTimeout?: number;
  clusterUnsafe?: boolean;
  clientToken?: string;
  storageUrl?: string;
  storageUnsafe?: boolean;
}

/** Parses INI text into sections of key → value (keys lower-cased, `;`/`#` comments). */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = (header[1] as string).trim().toLowerCase();
      continue;
    }
    const eq = line.search(/[=:]/);
    if (eq < 0) continue;
    (out[section] ??= {})[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** Reads the INI file at `file`. */
export function readConfigFile(file: string): ConfigFileValues {
  const ini = parseIni(readFileSync(file, 'utf8'));
  const values: ConfigFileValues = {};
  const cluster = ini['cluster'] ?? {};
  const client = ini['client'] ?? {};
  const storage = ini['storage'] ?? {};
  if (cluster['url']) values.clusterUrl = cluster['url'];
  if (cluster['timeout']) values.clusterTimeout = Number(cluster['timeout']);
  if (cluster['unsafe']) values.clusterUnsafe = isTrue(cluster['unsafe']);
  const token = client['token'] ?? client['auth'];
  if (token) values.clientToken = token;
  if (storage['url']) values.storageUrl = storage['url'];
  if (storage['unsafe']) values.storageUnsafe = isTrue(storage['unsafe']);
  return values;
}

/** `true`, `True`, `1` (and `yes`) are true, as the Python SDK reads `QARNOT_CLUSTER_UNSAFE`. */
export function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['true', '1', 'yes'].includes(value.trim().toLowerCase());
}
