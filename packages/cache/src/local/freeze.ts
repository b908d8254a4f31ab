const refuse = (name: string) =>
  function frozen(): never {
    throw new TypeError(`Cannot ${name}: a cached value is frozen`);
  };

/** The methods that change a `Map`, `Set` or `Date` in place, which `Object.freeze` cannot stop. */
const MUTATORS = {
  Map: ['set', 'delete', 'clear'],
  Set: ['add', 'delete', 'clear'],
  Date: Object.getOwnPropertyNames(Date.prototype).filter((name) => name.startsWith('set')),
} as const;

/**
 * Freezes `value` and everything reachable from it, once, so that no caller can change what the
 * next hit returns: plain objects, arrays and class instances by `Object.freeze`; a `Map`, `Set` or
 * `Date` also gets its mutating methods replaced by ones that throw a `TypeError`. Typed arrays and
 * `ArrayBuffer`s cannot be frozen and are left as they are. Returns `value`.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  const mutators =
    value instanceof Map
      ? MUTATORS.Map
      : value instanceof Set
        ? MUTATORS.Set
        : value instanceof Date
          ? MUTATORS.Date
          : [];
  for (const name of mutators) {
    Object.defineProperty(value, name, { value: refuse(name), enumerable: false });
  }
  Object.freeze(value);
  if (value instanceof Map) {
    for (const [key, item] of value) {
      deepFreeze(key);
      deepFreeze(item);
    }
  } else if (value instanceof Set) {
    for (const item of value) deepFreeze(item);
  }
  for (const key of Reflect.ownKeys(value)) {
    deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}
