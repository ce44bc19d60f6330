/** The S3 error codes the gateway answers with, and their HTTP statuses (one table, as AWS documents them). */
export const s3ErrorStatus = {
  AccessDenied: 403,
  BadDigest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  ExpiredToken: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  QuotaExceeded: 403,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  TooManyBuckets: 400,
  XAmzContentSHA256Mismatch: 400,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
} as const;

export type S3ErrorCode = keyof typeof s3ErrorStatus;

/** An error the gateway renders as an S3 XML error body; any other throw becomes a bare InternalError. */
export class S3Error extends Error {
  override readonly name = 'S3Error';
  readonly status: number;
  constructor(
    readonly code: S3ErrorCode,
    message: string,
    options?: { cause?: unknown; extra?: Record<string, string> },
  ) {
    super(message, options);
    this.status = s3ErrorStatus[code];
    this.extra = options?.extra ?? {};
  }
  /** Extra elements for the XML body (e.g. `Key`, `BucketName`, `UploadId`). */
  readonly extra: Record<string, string>;
}

export function isS3Error(e: unknown): e is S3Error {
  return e instanceof Error && e.name === 'S3Error' && typeof (e as S3Error).code === 'string';
}
