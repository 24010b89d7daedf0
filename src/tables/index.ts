/**
 * Public surface of src/tables: fixed-capacity typed-array tables sized from a device profile
 * (targets/*.json), a timer wheel for lifetimes, and a snapshot format. See docs/tables.md.
 */
export * from './status';
export { HashIndex, LOAD_FACTOR, mix32, mix2 } from './hash-index';
export { TimerWheel } from './timer-wheel';
export type { ExpireFn } from './timer-wheel';
export * from './binding-table';
export * from './visitor-table';
export * from './proxy-map';
export * from './address-pool';
export * from './profile';
export * from './snapshot';
export * from './create';
