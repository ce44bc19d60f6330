/** Bad input the store detected (unknown filter field, bad token); the API renders it as a 400 naming the field. */
export class StoreInputError extends Error {
  override readonly name = 'StoreInputError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** A uniqueness rule was broken (e.g. a shortname already used by this user). */
export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
