// A plugin in plain JavaScript; `fetch` goes through `wasi:http`, which the
// host allows only to the destinations of the plugin's `http` grant.

export function add(a, b) {
  return a + b;
}

export async function get(url) {
  try {
    const response = await fetch(url);
    const body = await response.text();
    return `${response.status} ${body.length}`;
  } catch (e) {
    throw `${e}`;
  }
}
