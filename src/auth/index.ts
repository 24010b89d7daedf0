/** Authentication and replay protection for Mobile IP messages. */
export * from './algorithms';
export * from './security-association';
export * as authenticator from './authenticator';
export * from './replay';
