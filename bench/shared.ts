/** Constants both sides of the benchmark agree on. */
export const SECRET = 'bench-secret-bench-secret-bench-secret';
export const CHANNEL = 'bench:room';
