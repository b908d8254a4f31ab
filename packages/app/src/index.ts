import { a } from '@cachelab/cache';
export const b = a + 1;
