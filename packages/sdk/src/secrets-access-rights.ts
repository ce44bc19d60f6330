/**
 * Which secrets a task or pool may read (Python: `qarnot.secrets.SecretsAccessRights`), by exact key or by prefix.
 */
export class SecretsAccessRights {
  /** Keys granted one by one. */
  readonly bySecret: string[];
  /** Key prefixes granted. */
  readonly byPrefix: string[];

  constructor(options: { bySecret?: readonly string[]; byPrefix?: readonly string[] } = {}) {
    this.bySecret = [...(options.bySecret ?? [])];
    this.byPrefix = [...(options.byPrefix ?? [])];
  }

  /** Grants one secret; returns `this` for chaining. */
  addSecretByKey(key: string): this {
    if (!this.bySecret.includes(key)) this.bySecret.push(key);
    return this;
  }
  /** Grants several secrets. */
  addSecretsByKeys(keys: Iterable<string>): this {
    for (const k of keys) this.addSecretByKey(k);
    return this;
  }
  /** Grants every secret under a prefix. */
  addSecretByPrefix(prefix: string): this {
    if (!this.byPrefix.includes(prefix)) this.byPrefix.push(prefix);
    return this;
  }
  /** Grants several prefixes. */
  addSecretsByPrefixes(prefixes: Iterable<string>): this {
    for (const p of prefixes) this.addSecretByPrefix(p);
    return this;
  }
  /** True when nothing is granted (then the field is not sent). */
  get isEmpty(): boolean {
    return this.bySecret.length === 0 && this.byPrefix.length === 0;
  }
  /** Wire form: both lists always present. */
  toJson(): { bySecret: { key: string }[]; byPrefix: { prefix: string }[] } {
    return { bySecret: this.bySecret.map((key) => ({ key })), byPrefix: this.byPrefix.map((prefix) => ({ prefix })) };
  }
  /** Reads the wire form; null or missing lists read as empty. */
  static fromJson(json: unknown): SecretsAccessRights {
    const j = (typeof json === 'object' && json !== null ? json : {}) as {
      bySecret?: { key?: string }[] | null;
      byPrefix?: { prefix?: string }[] | null;
    };
    return new SecretsAccessRights({
      bySecret: (j.bySecret ?? []).map((s) => s.key ?? '').filter((k) => k !== ''),
      byPrefix: (j.byPrefix ?? []).map((p) => p.prefix ?? ''),
    });
  }
}
