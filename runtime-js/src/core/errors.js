/** The one error type the runtime throws for a bundle it cannot use. */

/**
 * A bundle is missing, malformed, tampered with, or from an incompatible edgeft version.
 * The message names the bundle, the file or field, and what to do about it.
 */
export class BundleError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BundleError';
  }
}
