/**
 * What went wrong, in the domain's words: the request cannot be acted on, names nothing that exists, is too large,
 * conflicts with the state of what it names (cancelling a crawl that has completed), or a dependency is unavailable. The core knows nothing of HTTP; the handlers map each kind to a status in one place
 * (functions/handlers/http.ts). `code` is the contract's UPPER_SNAKE error code.
 */
export type DomainErrorKind = 'invalid' | 'not-found' | 'too-large' | 'conflict' | 'unavailable';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (code: string, message: string, details?: Record<string, unknown>) => new DomainError('invalid', code, message, details);
export const notFound = (code: string, message: string) => new DomainError('not-found', code, message);
export const tooLarge = (code: string, message: string) => new DomainError('too-large', code, message);
export const conflict = (code: string, message: string) => new DomainError('conflict', code, message);
export const unavailable = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError('unavailable', code, message, details);
