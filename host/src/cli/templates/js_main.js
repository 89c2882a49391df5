// The `__NAME__` plugin: each function exported here is a node callers reach
// as `__NAME__/FUNCTION`; its signature is declared in wit/world.wit (WIT
// names are kebab-case, JavaScript's camelCase).
//
// Build and check it with `warden build`, serve it while you edit with
// `warden dev`.

export function hello(name) {
  return `Hello, ${name}!`;
}

export function add(a, b) {
  return a + b;
}
